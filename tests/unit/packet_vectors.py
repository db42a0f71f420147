#!/usr/bin/python3
# Reference packets for test_packet.c and test_csum.c, with checksums
# computed by scapy (independently of policy/csum.c).
# Usage: tests/unit/packet_vectors.py > tests/unit/packet_vectors.h
from scapy.all import (IP, IPv6, TCP, UDP, ICMP, ICMPv6EchoRequest,
                       ICMPv6ND_NS, ICMPv6PacketTooBig, ICMPv6DestUnreach,
                       ICMPv6TimeExceeded, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrRouting,
                       IPv6ExtHdrFragment, IPOption_RR, IPOption_NOP,
                       raw, Raw)

C4, S4 = "198.51.100.7", "192.0.2.10"
C6, S6 = "2001:db8:1:2::7", "2001:db8:ffff::10"
TOPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (12345, 0)),
         ("NOP", None), ("WScale", 7)]

def v4tcp(pl=b"hello, world\n"):
    return IP(src=C4, dst=S4, id=1) / TCP(sport=40000, dport=1883, seq=1000,
              ack=2000, flags="PA", options=TOPTS) / pl

def v4udp(pl=b"<13>user: x@example.org"):
    return IP(src=C4, dst=S4, id=2) / UDP(sport=40001, dport=514) / pl

def v6tcp(pl=b"CONNECT alice\n"):
    return IPv6(src=C6, dst=S6) / TCP(sport=40002, dport=1883, seq=7,
               ack=9, flags="A", options=TOPTS) / pl

def v6udp(pl=b"syslog line!"):
    return IPv6(src=C6, dst=S6) / UDP(sport=40003, dport=514) / pl

pkts = {
    # IPv4 with options (IHL 9), TCP with options, payload
    "v4_tcp_opts": IP(src=C4, dst=S4, id=1,
                      options=[IPOption_RR(routers=["10.0.0.1", "10.0.0.2"]),
                               IPOption_NOP()]) /
                   TCP(sport=40000, dport=1883, seq=1000, ack=2000,
                       flags="PA", options=TOPTS) / b"hello, world\n",
    "v4_udp": v4udp(),                      # odd payload length
    "v4_udp_nocsum": IP(src=C4, dst=S4) / UDP(sport=5, dport=514, chksum=0) /
                     b"no checksum",
    "v4_icmp_echo": IP(src=C4, dst=S4) / ICMP(type=8, id=3, seq=4) / b"ping!",
    # ICMP errors quoting TCP/UDP: short (header + 8 bytes), long (all)
    "v4_icmp_err_tcp_short": IP(src="203.0.113.1", dst=C4) /
                             ICMP(type=3, code=4, nexthopmtu=1400) /
                             raw(v4tcp())[:20 + 8],
    "v4_icmp_err_tcp_long": IP(src="203.0.113.1", dst=C4) /
                            ICMP(type=11, code=0) / raw(v4tcp()),
    "v4_icmp_err_udp_short": IP(src="203.0.113.1", dst=C4) /
                             ICMP(type=3, code=3) / raw(v4udp())[:28],
    "v4_icmp_err_udp_long": IP(src="203.0.113.1", dst=C4) /
                            ICMP(type=12, code=0) / raw(v4udp()),
    # IPv6 hop-by-hop + destination options + atomic fragment + UDP
    "v6_udp_ext": IPv6(src=C6, dst=S6) / IPv6ExtHdrHopByHop() /
                  IPv6ExtHdrDestOpt() / IPv6ExtHdrFragment(offset=0, m=0, id=9) /
                  UDP(sport=40003, dport=514) / b"syslog line!",
    # IPv6 hop-by-hop + routing + destination options + TCP with options
    "v6_tcp_ext": IPv6(src=C6, dst=S6) / IPv6ExtHdrHopByHop() /
                  IPv6ExtHdrRouting(addresses=["2001:db8::99"],
                                    segleft=0) /
                  IPv6ExtHdrDestOpt() / TCP(sport=40002, dport=1883, seq=7,
                  ack=9, flags="A", options=TOPTS) / b"CONNECT alice\n",
    "v6_udp": v6udp(),
    "v6_icmp_echo": IPv6(src=C6, dst=S6) / ICMPv6EchoRequest(id=1, seq=2) /
                    b"abc",
    "v6_nd_ns": IPv6(src=C6, dst="ff02::1:ff00:10", hlim=255) /
                ICMPv6ND_NS(tgt=S6),
    "v6_icmp_err_tcp_long": IPv6(src="2001:db8:9::1", dst=C6) /
                            ICMPv6PacketTooBig(mtu=1280) / raw(v6tcp()),
    # quote: IPv6 header + 4 bytes of TCP (ports, no checksum)
    "v6_icmp_err_tcp_short": IPv6(src="2001:db8:9::1", dst=C6) /
                             ICMPv6DestUnreach(code=1) / raw(v6tcp())[:44],
    # quoted packet with an extension header before UDP
    "v6_icmp_err_udp_ext": IPv6(src="2001:db8:9::1", dst=C6) /
                           ICMPv6TimeExceeded() /
                           raw(IPv6(src=C6, dst=S6) / IPv6ExtHdrDestOpt() /
                               UDP(sport=40003, dport=514) / b"xyz"),
}

# Fragments of one UDP datagram (first, middle, last), both families.
big4 = IP(src=C4, dst=S4, id=77) / UDP(sport=40001, dport=514) / (b"A" * 40)
b4 = raw(big4)[20:]
pkts["v4_frag_first"] = IP(src=C4, dst=S4, id=77, proto=17, flags="MF",
                           frag=0) / Raw(b4[:16])
pkts["v4_frag_middle"] = IP(src=C4, dst=S4, id=77, proto=17, flags="MF",
                            frag=2) / Raw(b4[16:32])
pkts["v4_frag_last"] = IP(src=C4, dst=S4, id=77, proto=17, frag=4) / \
                       Raw(b4[32:])
big6 = IPv6(src=C6, dst=S6) / UDP(sport=40003, dport=514) / (b"B" * 40)
b6 = raw(big6)[40:]
def frag6(off, m, chunk):
    return IPv6(src=C6, dst=S6) / IPv6ExtHdrFragment(nh=17, offset=off, m=m,
                                                     id=78) / Raw(chunk)
pkts["v6_frag_first"] = frag6(0, 1, b6[:16])
pkts["v6_frag_middle"] = frag6(2, 1, b6[16:32])
pkts["v6_frag_last"] = frag6(4, 0, b6[32:])

print("/* Generated by tests/unit/packet_vectors.py: do not edit. */")
print("#include <stdint.h>")
for name, pk in pkts.items():
    b = raw(pk)
    print("static const uint8_t %s[%d] = {" % (name, len(b)))
    for i in range(0, len(b), 12):
        print("\t" + " ".join("0x%02x," % x for x in b[i:i + 12]))
    print("};")
