#!/usr/bin/python3
"""
SIP over TCP with header rules for Via, Contact and From, and HTTP with
one for X-Forwarded-For, on one connection.  A REGISTER carries Via in
compact form (v) and long form with a folded continuation line (HTAB)
that holds received=, From as f, Contact as m; To (t) and Subject have
no rule and stay.  An HTTP request folds X-Forwarded-For over two lines
(SP) and repeats it.  Addresses are truncated to /24, From's masked.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402

case = Case()
case.original("192.0.2.20", "192.0.2.25", "192.0.2.26", "192.0.2.21",
              "192.0.2.23", "192.0.2.60", "198.51.100.7", "198.51.100.8")
case.real_clients("203.0.113.43")

c = TcpFlow(case, client="203.0.113.43", cport=33000,
            server="198.51.100.80", sport=5060, pseudo="203.0.113.0")
c.handshake()
c.c(b"REGISTER sip:example.org SIP/2.0\r\n"
    b"v: SIP/2.0/TCP 192.0.2.20;branch=z9hG4bK1\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.25;branch=z9hG4bK2\r\n"
    b"\t;received=192.0.2.26\r\n"
    b"f: <sip:alice@192.0.2.21>;tag=1\r\n"
    b"t: <sip:alice@192.0.2.98>\r\n"
    b"m: <sip:alice@192.0.2.23>\r\n"
    b"Subject: 192.0.2.99\r\n"
    b"l: 0\r\n"
    b"\r\n",
    b"REGISTER sip:example.org SIP/2.0\r\n"
    b"v: SIP/2.0/TCP 192.0.2.00;branch=z9hG4bK1\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.00;branch=z9hG4bK2\r\n"
    b"\t;received=192.0.2.00\r\n"
    b"f: <sip:alice@000.0.0.00>;tag=1\r\n"
    b"t: <sip:alice@192.0.2.98>\r\n"
    b"m: <sip:alice@192.0.2.00>\r\n"
    b"Subject: 192.0.2.99\r\n"
    b"l: 0\r\n"
    b"\r\n")
c.s(b"SIP/2.0 200 OK\r\nl: 0\r\n\r\n")
c.c(b"GET /status HTTP/1.1\r\n"
    b"Host: app.example.net\r\n"
    b"X-Forwarded-For: 192.0.2.60,\r\n"
    b" 198.51.100.7\r\n"
    b"X-Forwarded-For: 198.51.100.8\r\n"
    b"\r\n",
    b"GET /status HTTP/1.1\r\n"
    b"Host: app.example.net\r\n"
    b"X-Forwarded-For: 192.0.2.00,\r\n"
    b" 198.51.100.0\r\n"
    b"X-Forwarded-For: 198.51.100.0\r\n"
    b"\r\n")
c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
c.close()
case.write()
