#!/usr/bin/python3
"""
HTTP/1.1 over TCP/IPv4 from a reverse proxy, two requests on one
connection.  The first carries X-Forwarded-For with two addresses and a
Forwarded header with for= (IPv4 and a bracketed IPv6 with port) and by=;
the second a lower-case x-forwarded-for with an IPv6 address and a header
whose name merely starts with X-Forwarded-For (left alone).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402

case = Case()
case.original("203.0.113.43", "192.0.2.60", "198.51.100.7",
              "2001:db8:cafe::17")
case.real_clients("203.0.113.43")

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

c = TcpFlow(case, client="203.0.113.43", cport=33000,
            server="198.51.100.80", sport=8080, pseudo="203.0.113.0")
c.handshake()
c.c(b"GET /api/v1/status HTTP/1.1\r\n"
    b"Host: app.example.net\r\n"
    b"X-Forwarded-For: 192.0.2.60, 198.51.100.7\r\n"
    b"Forwarded: for=192.0.2.60;proto=https;by=203.0.113.43, "
    b"for=\"[2001:db8:cafe::17]:4711\"\r\n"
    b"User-Agent: curl/8.4.0\r\n"
    b"Accept: */*\r\n"
    b"\r\n",
    b"GET /api/v1/status HTTP/1.1\r\n"
    b"Host: app.example.net\r\n"
    b"X-Forwarded-For: 192.0.2.00, 198.51.100.0\r\n"
    b"Forwarded: for=192.0.2.00;proto=https;by=203.0.113.00, "
    b"for=\"[2001:db8:cafe::00]:4711\"\r\n"
    b"User-Agent: curl/8.4.0\r\n"
    b"Accept: */*\r\n"
    b"\r\n")
c.s(OK)
c.c(b"GET /api/v1/health HTTP/1.1\r\n"
    b"Host: app.example.net\r\n"
    b"x-forwarded-for: 2001:db8:cafe::17\r\n"
    b"X-Forwarded-For-Debug: 192.0.2.61\r\n"
    b"\r\n",
    b"GET /api/v1/health HTTP/1.1\r\n"
    b"Host: app.example.net\r\n"
    b"x-forwarded-for: 2001:db8:cafe::00\r\n"
    b"X-Forwarded-For-Debug: 192.0.2.61\r\n"		# another header
    b"\r\n")
c.s(OK)
c.close()
case.write()
