#!/usr/bin/python3
"""ratchet-pcap.py OUT.pcap TIME... — one syslog datagram (UDP 514) from
client 10.1.2.3 (or $RATCHET_CLIENT) to server 192.0.2.1 at each Unix
TIME, raw IPv4 (linktype 101), with correct checksums.  No scapy: the
tools suite runs without it."""
import os
import struct
import sys

CLIENT = os.environ.get("RATCHET_CLIENT", "10.1.2.3")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def datagram(src, dst, sport, dport, payload):
    s, d = bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))
    ulen = 8 + len(payload)
    pseudo = s + d + struct.pack("!BBH", 0, 17, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 1, 0, 64, 17, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + udp


with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
    for i, t in enumerate(sys.argv[2:]):
        pkt = datagram(CLIENT, "192.0.2.1", 40000 + i, 514,
                       b"<13>user login ok\n")
        f.write(struct.pack("<IIII", int(t), 0, len(pkt), len(pkt)) + pkt)
