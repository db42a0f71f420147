#!/usr/bin/python3
"""
demo-show.py IN.pcap OUT.pcap PORT — print, message by message, what a
server on PORT receives from its clients without nfredact (IN) and with it
(OUT): the client address and the payload as the server's socket gets it.
"""
import sys

from scapy.all import IP, TCP, UDP, IPv6, rdpcap


def messages(path, port):
    out = []
    for p in rdpcap(path):
        ip = p.getlayer(IP) or p.getlayer(IPv6)
        l4 = p.getlayer(TCP) or p.getlayer(UDP)
        if ip is None or l4 is None or l4.dport != port:
            continue
        data = bytes(l4.payload)
        if data:
            out.append((ip.src, data))
    return out


def show(data):
    text = data.decode("latin-1")
    return "".join(c if 32 <= ord(c) < 127 else "." for c in text)


def main():
    before = messages(sys.argv[1], int(sys.argv[3]))
    after = messages(sys.argv[2], int(sys.argv[3]))
    for (src_b, b), (src_a, a) in zip(before, after):
        print("  without: %-15s %s" % (src_b, show(b)[:100]))
        print("  with:    %-15s %s" % (src_a, show(a)[:100]))
        print()


main()
