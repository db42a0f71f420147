#!/usr/bin/python3
"""
Every packet of input.pcap comes out (same timestamp, sequence number,
flags and payload length); the client's stream in out.pcap, assembled
by sequence number, is complete; outside the addresses it is the
client's stream unchanged; no address of the stream appears in it; and
each address is what its action makes of it, or masked further (a byte
of it is either the action's or the mask's, never the original where
either changes it).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import read_pcap, mask  # noqa: E402
from scapy.all import IP, TCP, Ether  # noqa: E402

work = sys.argv[1]
with open(os.path.join(work, "stream.json")) as f:
    spec = json.load(f)
stream = spec["stream"].encode()
_, ins = read_pcap(os.path.join(work, "input.pcap"))
_, outs = read_pcap(os.path.join(work, "out.pcap"))
ins.sort(key=lambda r: r[0])
outs.sort(key=lambda r: r[0])
if len(ins) != len(outs):
    sys.exit("%d packets out for %d in" % (len(outs), len(ins)))

isn, data, segments = None, {}, 0
for n, ((ti, di, _), (to, do, _)) in enumerate(zip(ins, outs), 1):
    pi, po = Ether(di)[TCP], Ether(do)[TCP]
    if (ti, pi.seq, pi.flags, len(pi.payload)) != \
            (to, po.seq, po.flags, len(po.payload)):
        sys.exit("packet %d: %s for %s" % (n, Ether(do).summary(),
                                          Ether(di).summary()))
    if po.dport != spec["port"]:
        continue
    if Ether(do)[IP].src != spec["pseudo"]:
        sys.exit("packet %d: source %s" % (n, Ether(do)[IP].src))
    if "S" in str(po.flags):
        isn = po.seq
    for k, byte in enumerate(bytes(po.payload)):
        off = po.seq - isn - 1 + k
        if data.setdefault(off, byte) != byte:
            sys.exit("offset %d: two copies differ" % off)
    segments += len(po.payload) > 0
if segments != spec["segments"]:
    sys.exit("%d data segments, expected %d" % (segments, spec["segments"]))
if sorted(data) != list(range(len(stream))):
    sys.exit("the server's stream is not complete: %d of %d bytes"
             % (len(data), len(stream)))
got = bytes(data[k] for k in range(len(stream)))

inside = set()
for a, e, seen in spec["spans"]:
    ident, seen = stream[a:e], seen.encode()
    if ident in got:
        sys.exit("%s reaches the server" % ident.decode())
    masked = mask(ident.decode()).encode()
    for k in range(a, e):
        inside.add(k)
        if got[k] not in (seen[k - a], masked[k - a]):
            sys.exit("%s reaches the server as %s (byte %d in clear)" %
                     (ident.decode(), got[a:e].decode("latin-1"), k - a))
for k in range(len(stream)):
    if k not in inside and got[k] != stream[k]:
        sys.exit("offset %d: %r changed outside any address" % (k, stream[k:k + 8]))
