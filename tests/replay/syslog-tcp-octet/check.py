#!/usr/bin/python3
"""
The collector's byte stream in out.pcap must still parse as octet-counted
frames, each starting with "<PRI>1 ", and there must be three of them.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import read_pcap  # noqa: E402
from scapy.all import Ether, TCP  # noqa: E402
import re  # noqa: E402

_, records = read_pcap(os.path.join(sys.argv[1], "out.pcap"))
segments = {}
for _, data, _ in records:
    p = Ether(data)
    if TCP in p and p[TCP].dport == 6514 and len(p[TCP].payload):
        segments[p[TCP].seq] = bytes(p[TCP].payload)
stream = b"".join(segments[s] for s in sorted(segments))

frames = []
while stream:
    m = re.match(rb"([1-9][0-9]*) ", stream)
    if not m:
        sys.exit("stream does not start with a frame length: %r" % stream[:12])
    n = int(m.group(1))
    body = stream[m.end():m.end() + n]
    if len(body) != n or not re.match(rb"<[0-9]{1,3}>1 ", body):
        sys.exit("frame %d: length %d does not frame a message" % (len(frames) + 1, n))
    frames.append(body)
    stream = stream[m.end() + n:]
if len(frames) != 3:
    sys.exit("%d frames, expected 3" % len(frames))
