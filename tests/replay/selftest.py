#!/usr/bin/python3
"""
selftest.py — a capture for the runner's self-test: the tshark checksum
filter must flag exactly the packets broken here, so that "tshark printed
nothing" means something.

usage: selftest.py OUT.pcap   (prints the number of broken packets)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replaylib import write_pcap, ether, T0_US  # noqa: E402
from scapy.all import IP, IPv6, TCP, UDP, ICMP, ICMPv6EchoRequest, Raw, raw  # noqa: E402

v4 = dict(src="192.0.2.1", dst="198.51.100.1")
v6 = dict(src="2001:db8::1", dst="2001:db8::2")
good = [
    ether(True) / IP(**v4) / UDP(sport=1, dport=514) / Raw(b"ok"),
    ether(True) / IP(**v4) / TCP(sport=1, dport=25, flags="PA") / Raw(b"ok"),
    ether(True) / IP(**v4) / ICMP() / Raw(b"ok"),
    ether(True) / IPv6(**v6) / UDP(sport=1, dport=514) / Raw(b"ok"),
    ether(True) / IPv6(**v6) / ICMPv6EchoRequest() / Raw(b"ok"),
]
broken = [
    ether(True) / IP(chksum=0x1234, **v4) / UDP(sport=1, dport=514) / Raw(b"ok"),
    ether(True) / IP(**v4) / TCP(sport=1, dport=25, flags="PA", chksum=0x1234) / Raw(b"ok"),
    ether(True) / IP(**v4) / UDP(sport=1, dport=514, chksum=0x1234) / Raw(b"ok"),
    ether(True) / IP(**v4) / ICMP(chksum=0x1234) / Raw(b"ok"),
    ether(True) / IPv6(**v6) / UDP(sport=1, dport=514, chksum=0x1234) / Raw(b"ok"),
    ether(True) / IPv6(**v6) / ICMPv6EchoRequest(cksum=0x1234) / Raw(b"ok"),
]
records = []
for i, pkt in enumerate(good + broken):
    data = raw(pkt)
    records.append((T0_US + i * 1000, data, len(data)))
write_pcap(sys.argv[1], records)
print(len(broken))
