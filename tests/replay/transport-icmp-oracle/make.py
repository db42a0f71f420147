#!/usr/bin/python3
"""
ICMP errors as an oracle (doc/design.md §3, ICMP errors).  An error about
a translated flow is translated only from the side it can come from:
one from the server quotes pseudonym → server, one travelling to the
server quotes server → real client.  An error sent towards the server
that quotes pseudonym → server is forged: translated, it would tell its
sender (anyone who can reach the server, its operator included) the
real client behind any pseudonym.  It is dropped (icmp-mismatch).

  - SIP over UDP/IPv4: a forged port unreachable towards the server
    (dropped); the server's own port unreachable to the pseudonym
    (translated back to the client, as in icmp-error); the server's
    reply, then a router's host unreachable about it travelling to the
    server (its quote gets the pseudonym)
  - SIP over UDP/IPv6: a forged ICMPv6 port unreachable towards the
    server (dropped) next to the server's genuine one (translated)
  - SIP over TCP/IPv4: a forged fragmentation needed towards the server
    quoting 8 bytes of a segment as the server got it (dropped)

check.py: no packet towards the server carries a real client address.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import (Case, TcpFlow, ether, udp_pair, IP, UDP, Raw,  # noqa: E402
                       raw)
from scapy.all import ICMP, ICMPv6DestUnreach, IPv6  # noqa: E402

V4, V4_PSEUDO, V4_SERVER = "192.0.2.55", "192.0.2.0", "198.51.100.10"
V6, V6_PSEUDO, V6_SERVER = "2001:db8:1:2::55", "2001:db8:1::", "2001:db8:ffff::10"
ATTACKER, ATTACKER6 = "203.0.113.66", "2001:db8:bad::66"
ROUTER = "203.0.113.1"

OPTIONS = (b"OPTIONS sip:alice@example.org SIP/2.0\r\n"
           b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
OPTIONS_SEEN = (b"OPTIONS sip:xxxxx@xxxxxxx.xxx SIP/2.0\r\n"
                b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
ANSWER = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"

case = Case()
case.original(V4, V6, "alice@example.org")
case.real_clients(V4, V6)


def ip_of(pkt):
    """The IP packet inside an Ethernet frame, as bytes."""
    return raw(pkt.payload)


# UDP/IPv4.
dgram_in, dgram_seen = udp_pair(V4, 40000, V4_SERVER, 5060, V4_PSEUDO,
                                OPTIONS, OPTIONS_SEEN, ipid=0x6001)
case.packet(dgram_in, dgram_seen)
case.drop(ether(True) / IP(src=ATTACKER, dst=V4_SERVER, id=0x6601) /	# forged
          ICMP(type=3, code=3) / Raw(ip_of(dgram_seen)))
dgram_back = udp_pair(V4, 40000, V4_SERVER, 5060, V4, OPTIONS_SEEN,
                      ipid=0x6001)[0]
case.reply(
    ether(False) / IP(src=V4_SERVER, dst=V4_PSEUDO, id=0x7001) /
    ICMP(type=3, code=3) / Raw(ip_of(dgram_seen)),
    ether(False) / IP(src=V4_SERVER, dst=V4, id=0x7001) /
    ICMP(type=3, code=3) / Raw(ip_of(dgram_back)))
answer_sent = (ether(False) / IP(src=V4_SERVER, dst=V4_PSEUDO, id=0x7002) /
               UDP(sport=5060, dport=40000) / Raw(ANSWER))
answer_out = (ether(False) / IP(src=V4_SERVER, dst=V4, id=0x7002) /
              UDP(sport=5060, dport=40000) / Raw(ANSWER))
case.reply(answer_sent, answer_out)
case.packet(					# genuine, towards the server
    ether(True) / IP(src=ROUTER, dst=V4_SERVER, id=0x6602) /
    ICMP(type=3, code=1) / Raw(ip_of(answer_out)),
    ether(True) / IP(src=ROUTER, dst=V4_SERVER, id=0x6602) /
    ICMP(type=3, code=1) / Raw(ip_of(answer_sent)))

# UDP/IPv6.
dgram_in, dgram_seen = udp_pair(V6, 40001, V6_SERVER, 5060, V6_PSEUDO,
                                OPTIONS, OPTIONS_SEEN)
case.packet(dgram_in, dgram_seen)
case.drop(ether(True) / IPv6(src=ATTACKER6, dst=V6_SERVER) /		# forged
          ICMPv6DestUnreach(code=4) / Raw(ip_of(dgram_seen)))
dgram_back = udp_pair(V6, 40001, V6_SERVER, 5060, V6, OPTIONS_SEEN)[0]
case.reply(
    ether(False) / IPv6(src=V6_SERVER, dst=V6_PSEUDO) /
    ICMPv6DestUnreach(code=4) / Raw(ip_of(dgram_seen)),
    ether(False) / IPv6(src=V6_SERVER, dst=V6) /
    ICMPv6DestUnreach(code=4) / Raw(ip_of(dgram_back)))

# TCP/IPv4: a forged fragmentation needed quoting 8 bytes of TCP.
c = TcpFlow(case, client=V4, cport=40002, server=V4_SERVER, sport=5060,
            pseudo=V4_PSEUDO)
c.handshake()
c.c(b"OPTIONS sip:registrar.example.net SIP/2.0\r\nContent-Length: 0\r\n\r\n")
seg_in, seg_seen = c.send(b"REGISTER sip:registrar.example.net SIP/2.0\r\n"
                          b"Content-Length: 0\r\n\r\n")
case.packet(seg_in, seg_seen)
case.drop(ether(True) / IP(src=ATTACKER, dst=V4_SERVER, id=0x6603) /
          ICMP(type=3, code=4, nexthopmtu=576) /
          Raw(ip_of(seg_seen)[:20 + 8]))
c.s(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
c.close()
case.write()
