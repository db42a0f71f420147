#!/usr/bin/python3
"""
HTTP/1.1 requests on one keep-alive connection, read by their framing:
a POST whose JSON body (Content-Length) holds an email and does not end
in a newline; a chunked POST with an email and an address in its chunks and a
trailer; a GET with X-Forwarded-For; and a POST whose body holds a
line that looks like an X-Forwarded-For header (the header rule stops
at the blank line: a body's line is the email and address detectors'
only).  Two requests share one segment.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402


def post(body, extra=b""):
    return (b"POST /api/v1/events HTTP/1.1\r\nHost: api.example\r\n" + extra +
            b"Content-Type: application/json\r\nContent-Length: " +
            str(len(body)).encode() + b"\r\n\r\n" + body)


def chunked(chunks, trailer=b""):
    out = (b"POST /api/v1/upload HTTP/1.1\r\nHost: api.example\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n")
    for ch in chunks:
        out += b"%x\r\n" % len(ch) + ch + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

case = Case()
case.original("192.0.2.55", "alice@example.org", "bob@example.net",
              "203.0.113.77", "198.51.100.23")
case.real_clients("192.0.2.55")

c = TcpFlow(case, client="192.0.2.55", cport=40021,
            server="198.51.100.10", sport=8080, pseudo="192.0.2.0")
c.handshake()
c.c(post(b'{"user":"alice@example.org","n":42}'),
    post(b'{"user":"xxxxx@xxxxxxx.xxx","n":42}'))
c.s(OK)
c.c(chunked([b'{"to":"bob@example.net",', b'"from":"198.51.100.23"}'],
            b"X-Checksum: 77\r\n"),
    chunked([b'{"to":"xxx@xxxxxxx.xxx",', b'"from":"198.51.100.00"}'],
            b"X-Checksum: 77\r\n"))
c.s(OK)
get = (b"GET /api/v1/me HTTP/1.1\r\nHost: api.example\r\n"
       b"X-Forwarded-For: 203.0.113.77\r\n\r\n")
get_out = (b"GET /api/v1/me HTTP/1.1\r\nHost: api.example\r\n"
           b"X-Forwarded-For: 203.0.113.00\r\n\r\n")
c.c(get + post(b"note\nX-Forwarded-For: v2\n"),
    get_out + post(b"note\nX-Forwarded-For: v2\n"))
c.s(OK + OK)
c.close()
case.write()
