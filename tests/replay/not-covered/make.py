#!/usr/bin/python3
"""
Traffic no service covers, from the same clients the services know: an
HTTP exchange on TCP 80 carrying an email and an address, a DNS query on
UDP 53, a ping and its reply, TCP to 1884 (next to the service port), UDP
to 1883 (the service's port, the other protocol), TCP over IPv6 to 8080.
All of it must come out byte for byte as it went in.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow, ether, IP, IPv6, TCP, UDP, Raw  # noqa: E402
from scapy.all import DNS, DNSQR, ICMP  # noqa: E402

CLIENT, SERVER = "192.0.2.55", "198.51.100.10"
case = Case()
case.original(CLIENT, "2001:db8:1:2::55", "alice@example.org", "192.0.2.77")

# The flow helper with the client as its own "pseudonym": nothing changes.
web = TcpFlow(case, client=CLIENT, cport=45000, server=SERVER, sport=80,
              pseudo=CLIENT)
web.handshake()
web.c(b"POST /signup HTTP/1.1\r\nHost: www.example.net\r\n"
      b"X-Forwarded-For: 192.0.2.77\r\nContent-Length: 23\r\n\r\n"
      b"email=alice@example.org")
web.s(b"HTTP/1.1 204 No Content\r\n\r\n")
web.close()

case.same(ether(True) / IP(src=CLIENT, dst=SERVER, id=0x0d05) /
          UDP(sport=45053, dport=53) /
          DNS(id=0x1234, rd=1, qd=DNSQR(qname="mail.example.org")))
case.same(ether(True) / IP(src=CLIENT, dst=SERVER, id=0x0e01) /
          ICMP(type=8, id=99, seq=1) / Raw(b"alice@example.org"))
case.same(ether(False) / IP(src=SERVER, dst=CLIENT, id=0x0e02) /
          ICMP(type=0, id=99, seq=1) / Raw(b"alice@example.org"))
case.same(ether(True) / IP(src=CLIENT, dst=SERVER, id=0x0f01) /
          TCP(sport=45001, dport=1884, flags="S", seq=42))
case.same(ether(True) / IP(src=CLIENT, dst=SERVER, id=0x0f02) /
          UDP(sport=45002, dport=1883) / Raw(b"from alice@example.org"))

v6 = TcpFlow(case, client="2001:db8:1:2::55", cport=45003,
             server="2001:db8:ffff::10", sport=8080,
             pseudo="2001:db8:1:2::55")
v6.handshake()
v6.c(b"GET /?who=alice@example.org HTTP/1.1\r\nHost: [2001:db8:ffff::10]\r\n\r\n")
v6.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
v6.close()
case.write()
