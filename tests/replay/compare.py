#!/usr/bin/python3
"""
compare.py — compare two captures packet by packet: timestamps, captured
bytes and original lengths (not the file headers: snaplen may differ).

usage: compare.py GOT.pcap WANT.pcap
Exit 0 when equal; otherwise 1 and one line saying where they part, then
a few lines of detail on stderr.

A TCP segment with data that the engine held back comes later in GOT
than in the input, with its own timestamp: GOT is put back in timestamp
order first, and only such segments may have moved.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replaylib import read_pcap  # noqa: E402


def describe(data):
    try:
        from scapy.all import Ether
        return Ether(data).summary()
    except Exception as e:  # a summary is a courtesy, never a failure
        return "(undecodable: %s)" % e


def hexwin(data, off, width=16):
    lo = max(0, off - 8)
    return "%04x: %s" % (lo, data[lo:lo + width].hex(" "))


def tcp_data(data):
    """Whether an Ethernet frame is a TCP segment with payload."""
    try:
        from scapy.all import Ether, TCP
        p = Ether(data)
        return TCP in p and len(bytes(p[TCP].payload)) > 0
    except Exception:
        return False


def restore_order(got):
    """@got in timestamp order (stable), or None with a message when
    something other than a held-back TCP data segment moved."""
    latest = None
    for i, (ts, data, _) in enumerate(got):
        if latest is not None and ts < latest and not tcp_data(data):
            print("packet %d: out of timestamp order, and no TCP data segment"
                  % (i + 1))
            return None
        latest = ts if latest is None else max(latest, ts)
    return sorted(got, key=lambda r: r[0])


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compare.py GOT.pcap WANT.pcap")
    got_lt, got = read_pcap(sys.argv[1])
    want_lt, want = read_pcap(sys.argv[2])
    got, want = restore_order(got), restore_order(want)
    if got is None or want is None:
        return 1
    if got_lt != want_lt:
        print("link type %d, expected %d" % (got_lt, want_lt))
        return 1
    for i in range(min(len(got), len(want))):
        gts, gdata, glen = got[i]
        wts, wdata, wlen = want[i]
        where = "packet %d" % (i + 1)
        if gdata != wdata:
            off = next((k for k in range(min(len(gdata), len(wdata)))
                        if gdata[k] != wdata[k]), min(len(gdata), len(wdata)))
            print("%s: bytes differ at offset %d (caplen %d, expected %d)"
                  % (where, off, len(gdata), len(wdata)))
            print("  got:  " + describe(gdata), file=sys.stderr)
            print("  want: " + describe(wdata), file=sys.stderr)
            print("  got  " + hexwin(gdata, off), file=sys.stderr)
            print("  want " + hexwin(wdata, off), file=sys.stderr)
            return 1
        if gts != wts:
            print("%s: timestamp %d ns, expected %d ns" % (where, gts, wts))
            return 1
        if glen != wlen:
            print("%s: original length %d, expected %d" % (where, glen, wlen))
            return 1
    if len(got) != len(want):
        print("%d packets, expected %d" % (len(got), len(want)))
        extra = got[len(want):] or want[len(got):]
        print("  first unmatched: " + describe(extra[0][1]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
