#!/usr/bin/python3
"""
A healthy MQTT connection with broken packets in between, each with one
fault: IPv4 header length below 5 and beyond the datagram, TCP data offset
below 5 and beyond the segment, an IPv4 total length longer than the
frame, an IPv6 payload length longer than the frame, UDP lengths longer
than the datagram.  All are dropped -- except the one for the service with
`on-error accept`, which passes as it came -- and the connection carries
on as if they had never been.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow, ether, IP, IPv6, TCP, UDP, Raw  # noqa: E402

CLIENT, SERVER, PSEUDO = "192.0.2.55", "198.51.100.10", "192.0.2.0"
CLIENT6, SERVER6 = "2001:db8:1:2::55", "2001:db8:ffff::10"

case = Case()
case.original(CLIENT, CLIENT6, "alice@example.org")

c = TcpFlow(case, client=CLIENT, cport=40001, server=SERVER, sport=1883,
            pseudo=PSEUDO)
c.handshake()


def seg(**tcp):
    """A segment of the connection (next sequence number), to break."""
    return TCP(sport=40001, dport=1883, flags="PA", seq=c.cseq, ack=c.sseq,
               **tcp)


hello = Raw(b"hello from alice@example.org")
v4 = dict(src=CLIENT, dst=SERVER, id=0x0bad)

case.drop(ether(True) / IP(ihl=4, **v4) / seg() / hello)		# IHL < 5
case.drop(ether(True) / IP(ihl=15, **v4) / seg())			# IHL beyond the datagram
case.drop(ether(True) / IP(**v4) / seg(dataofs=3) / hello)		# data offset < 5
case.drop(ether(True) / IP(**v4) / seg(dataofs=15) / Raw(b"x" * 8))	# data offset beyond it
case.drop(ether(True) / IP(len=400, **v4) / seg() / hello)		# total length > frame
case.drop(ether(True) / IPv6(src=CLIENT6, dst=SERVER6, plen=300) /	# payload length > frame
          TCP(sport=40009, dport=1883, flags="S"))
case.drop(ether(True) / IP(**v4) / UDP(sport=40514, dport=514, len=600) /
          Raw(b"<34>1 - - - - - - alice@example.org"))			# UDP length > datagram
case.same(ether(True) / IP(**v4) / UDP(sport=40515, dport=5514, len=600) /
          Raw(b"<34>1 - - - - - - alice@example.org"))			# same, on-error accept

c.c(b"hello from alice@example.org",
    b"hello from xxxxx@xxxxxxx.xxx")
c.s(flags="A")
c.close()
case.write()
