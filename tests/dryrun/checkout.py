#!/usr/bin/python3
"""
checkout.py — check a pcap written by `nfredact dry-run -w`: its link
type, its packet count, and the server's view of the test conversation
(tests/dryrun/mkpcaps.py): packets to the server come from the pseudonym
and carry the masked identifiers only, replies go to the pseudonym as the
server sent them (whichever side the capture was taken on), no IP header
shows the real client, checksums are right, VLAN tags are kept.

usage: checkout.py OUT.pcap LINKTYPE PACKETS [vlan]
Prints the first problem and exits 1, or exits 0.
"""
import struct
import sys

from scapy.all import IP, IPv6, TCP, raw

PSEUDO = {"192.0.2.0", "2001:db8:1::"}
REAL = {"192.0.2.55", "2001:db8:1:2::55"}
ORIGINALS = [b"alice@example.org", b"+442079460958"]
MASKED = b"client xxxxx@xxxxxxx.xxx tel +000000000000"


def records(path):
    data = open(path, "rb").read()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        sys.exit("unexpected pcap magic %#x" % magic)
    off, out = 24, []
    while off < len(data):
        _, _, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return linktype, out


def ip_offset(linktype, fr):
    if linktype == 1:
        off, tags = 12, 0
        while fr[off:off + 2] in (b"\x81\x00", b"\x88\xa8"):
            off, tags = off + 4, tags + 1
        return off + 2, tags, fr[off:off + 2]
    return {113: 16, 276: 20, 101: 0, 12: 0, 228: 0, 229: 0, 0: 4}[linktype], 0, None


def fail(msg):
    print(msg)
    sys.exit(1)


def main():
    path, want_lt, want_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    vlan = len(sys.argv) > 4 and sys.argv[4] == "vlan"
    linktype, frames = records(path)
    if linktype != want_lt:
        fail("link type %d, expected %d" % (linktype, want_lt))
    if len(frames) != want_n:
        fail("%d packets, expected %d" % (len(frames), want_n))
    masked = 0
    for i, fr in enumerate(frames):
        for o in ORIGINALS:
            if o in fr:
                fail("packet %d holds an original identifier" % (i + 1))
        off, tags, etype = ip_offset(linktype, fr)
        if etype == b"\x08\x06":
            continue
        if vlan and tags == 0:
            fail("packet %d lost its VLAN tag" % (i + 1))
        pkt = IP(fr[off:]) if fr[off] >> 4 == 4 else IPv6(fr[off:])
        if TCP not in pkt:
            fail("packet %d: no TCP" % (i + 1))
        if pkt[TCP].dport == 1883 and pkt.src not in PSEUDO:
            fail("packet %d to the server comes from %s" % (i + 1, "an unexpected address"))
        if pkt[TCP].sport == 1883 and pkt.dst not in PSEUDO:
            fail("packet %d from the server not shown to the pseudonym" % (i + 1))
        if pkt.src in REAL or pkt.dst in REAL:
            fail("packet %d shows the real client" % (i + 1))
        again = pkt.__class__(raw(pkt))
        again[TCP].chksum = None
        if IP in again:
            again[IP].chksum = None
        again = again.__class__(raw(again))
        if again[TCP].chksum != pkt[TCP].chksum or (IP in pkt and again[IP].chksum != pkt[IP].chksum):
            fail("packet %d: bad checksum" % (i + 1))
        if MASKED in fr:
            masked += 1
    if masked != 1:
        fail("%d packets hold the masked message, expected 1" % masked)


if __name__ == "__main__":
    main()
