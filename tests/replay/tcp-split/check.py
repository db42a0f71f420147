#!/usr/bin/python3
"""
For every connection in out.pcap: each client segment still comes out
(same count as in), every copy of a segment carries the same bytes, and
the bytes assembled by sequence number are the whole stream redacted.
Source addresses are the pseudonym, and so are the replies' destinations
(the server's view, whichever side the capture was taken on).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from replaylib import read_pcap  # noqa: E402
from scapy.all import IP, TCP, Ether  # noqa: E402

SEEN = b"MAIL FROM:<xxxxx@xxxxxxx.xxx>\r\nXCLIENT ADDR=192.0.2.00\r\n"

work = sys.argv[1]
_, ins = read_pcap(os.path.join(work, "input.pcap"))
_, outs = read_pcap(os.path.join(work, "out.pcap"))
if len(ins) != len(outs):
    sys.exit("%d packets out for %d in" % (len(outs), len(ins)))

conns, isn = {}, {}
for _, data, _ in outs:
    p = Ether(data)
    t = p[TCP]
    if t.dport != 25:
        if p[IP].dst != "192.0.2.0":
            sys.exit("a reply to another address than the pseudonym")
        continue
    if p[IP].src != "192.0.2.0":
        sys.exit("port %d: source %s is not the pseudonym" % (t.sport, p[IP].src))
    if "S" in str(t.flags):
        isn[t.sport] = t.seq
    payload = bytes(t.payload)
    if payload:
        segs = conns.setdefault(t.sport, {})
        off = t.seq - isn[t.sport] - 1
        if off in segs and segs[off] != payload:
            sys.exit("port %d: a retransmission differs from the original"
                     % t.sport)
        segs[off] = payload

bad = []
for port, segs in sorted(conns.items()):
    stream = bytearray(len(SEEN))
    for off, payload in segs.items():
        stream[off:off + len(payload)] = payload
    if bytes(stream) != SEEN:
        bad.append(port - 30000)
if len(conns) != len(SEEN) - 1:
    sys.exit("%d connections, expected %d" % (len(conns), len(SEEN) - 1))
if bad:
    sys.exit("wrong server-side stream for cuts at %s" %
             ",".join(str(b) for b in bad))
