#!/usr/bin/python3
"""
addrcheck.py — the output of a case shows no real client address: not in
any IP header, either direction, nor in the header an ICMP error quotes.

usage: addrcheck.py OUT.pcap CLIENTS.txt   (one address a line)
Exit 0, or 1 with the first packet that shows one (the address itself is
not printed).
"""

import ipaddress
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replaylib import read_pcap  # noqa: E402
from scapy.all import IP, IPv6, Ether, IPerror, IPerror6  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: addrcheck.py OUT.pcap CLIENTS.txt")
    with open(sys.argv[2]) as f:
        real = {ipaddress.ip_address(x.strip()) for x in f if x.strip()}
    if not real:
        return 0
    for n, (_, data, _) in enumerate(read_pcap(sys.argv[1])[1], 1):
        p = Ether(data)
        for layer in (IP, IPv6, IPerror, IPerror6):
            if layer not in p:
                continue
            h = p[layer]
            where = "quoted" if layer in (IPerror, IPerror6) else "IP"
            for name in ("src", "dst"):
                if ipaddress.ip_address(getattr(h, name)) in real:
                    print("packet %d: a real client address as the %s %s"
                          % (n, where, name))
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
