#!/usr/bin/python3
"""
No packet of out.pcap that travels towards the server (to its IPv4 or
IPv6 address) carries a real client address, in binary or as text,
anywhere in its bytes; and out.pcap has exactly one ICMP error towards
the server, the genuine one.
"""
import ipaddress
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import read_pcap  # noqa: E402
from scapy.all import ICMP, IP, Ether, IPv6  # noqa: E402

SERVERS = {"198.51.100.10", "2001:db8:ffff::10"}
CLIENTS = ["192.0.2.55", "2001:db8:1:2::55"]
NEEDLES = [ipaddress.ip_address(a).packed for a in CLIENTS] + \
          [a.encode() for a in CLIENTS]

_, records = read_pcap(os.path.join(sys.argv[1], "out.pcap"))
errors = 0
for i, (_, data, _) in enumerate(records):
    p = Ether(data)
    ip = p[IP] if IP in p else p[IPv6] if IPv6 in p else None
    if ip is None or ip.dst not in SERVERS:
        continue
    if any(n in data for n in NEEDLES):
        sys.exit("packet %d towards the server carries a client address: %s"
                 % (i + 1, p.summary()))
    if ICMP in p or p.haslayer("ICMPv6DestUnreach"):
        errors += 1
if errors != 1:
    sys.exit("%d ICMP errors towards the server, expected 1" % errors)
