#!/usr/bin/python3
"""
ICMP errors about translated flows, sent by the server host.  On the
server's side they are captured to the pseudonym, quoting what the server
got; on the client's side to the real client, the quoted source restored
to the real client too.  Either way the output holds them as the server
sent them, the pseudonym inside and out, inner and outer checksums right
(on the client's side the engine must translate them back to what was
captured).

  - a SIP OPTIONS over UDP/IPv4, and the host's port unreachable
  - the same over UDP/IPv6, and the ICMPv6 port unreachable
  - a TCP segment too big for the host's next hop, and its
    fragmentation-needed error quoting only the first 8 bytes of TCP
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow, ether, udp_pair, IP, Raw, raw  # noqa: E402
from scapy.all import ICMP, ICMPv6DestUnreach, IPv6  # noqa: E402

V4, V4_PSEUDO, V4_SERVER = "192.0.2.55", "192.0.2.0", "198.51.100.10"
V6, V6_PSEUDO, V6_SERVER = "2001:db8:1:2::55", "2001:db8:1::", "2001:db8:ffff::10"

OPTIONS = (b"OPTIONS sip:alice@example.org SIP/2.0\r\n"
           b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
OPTIONS_SEEN = (b"OPTIONS sip:xxxxx@xxxxxxx.xxx SIP/2.0\r\n"
                b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")

case = Case()
case.original(V4, V6, "alice@example.org", "bob@example.net")
case.real_clients(V4, V6)


def ip_of(pkt):
    """The IP packet inside an Ethernet frame, as bytes."""
    return raw(pkt.payload)


# UDP/IPv4, then port unreachable quoting the whole datagram as received.
dgram_in, dgram_seen = udp_pair(V4, 40000, V4_SERVER, 5060, V4_PSEUDO,
                                OPTIONS, OPTIONS_SEEN, ipid=0x6001)
case.packet(dgram_in, dgram_seen)
dgram_back = udp_pair(V4, 40000, V4_SERVER, 5060, V4, OPTIONS_SEEN,
                      ipid=0x6001)[0]
case.reply(
    ether(False) / IP(src=V4_SERVER, dst=V4_PSEUDO, id=0x7001) /
    ICMP(type=3, code=3) / Raw(ip_of(dgram_seen)),
    ether(False) / IP(src=V4_SERVER, dst=V4, id=0x7001) /
    ICMP(type=3, code=3) / Raw(ip_of(dgram_back)))

# UDP/IPv6, then ICMPv6 port unreachable.
dgram_in, dgram_seen = udp_pair(V6, 40001, V6_SERVER, 5060, V6_PSEUDO,
                                OPTIONS, OPTIONS_SEEN)
case.packet(dgram_in, dgram_seen)
dgram_back = udp_pair(V6, 40001, V6_SERVER, 5060, V6, OPTIONS_SEEN)[0]
case.reply(
    ether(False) / IPv6(src=V6_SERVER, dst=V6_PSEUDO) /
    ICMPv6DestUnreach(code=4) / Raw(ip_of(dgram_seen)),
    ether(False) / IPv6(src=V6_SERVER, dst=V6) /
    ICMPv6DestUnreach(code=4) / Raw(ip_of(dgram_back)))

# TCP/IPv4: a large segment, then fragmentation needed (next-hop MTU 576)
# quoting the IP header and 8 bytes of TCP: ports and sequence number.
c = TcpFlow(case, client=V4, cport=40002, server=V4_SERVER, sport=5060,
            pseudo=V4_PSEUDO)
c.handshake()
pad = b"X-Pad: " + b"p" * 900 + b"\r\n\r\n"
invite = b"INVITE sip:bob@example.net SIP/2.0\r\n" + pad
seg_in, seg_seen = c.send(invite, b"INVITE sip:xxx@xxxxxxx.xxx SIP/2.0\r\n" + pad)
case.packet(seg_in, seg_seen)
quote_seen = ip_of(seg_seen)[:20 + 8]
inner = IP(quote_seen[:20])			# as quoted, source restored
inner.src = V4
del inner.chksum
quote_back = raw(inner) + quote_seen[20:]	# the 8 TCP bytes stay
case.reply(
    ether(False) / IP(src=V4_SERVER, dst=V4_PSEUDO, id=0x7002) /
    ICMP(type=3, code=4, nexthopmtu=576) / Raw(quote_seen),
    ether(False) / IP(src=V4_SERVER, dst=V4, id=0x7002) /
    ICMP(type=3, code=4, nexthopmtu=576) / Raw(quote_back))
case.write()
