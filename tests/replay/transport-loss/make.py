#!/usr/bin/python3
"""
A loss burst.  One connection carries 64 syslog lines, each with one email
or IPv4 address, in 65 segments: every boundary between two segments cuts
an address.  The first segment is lost before the server's host; the 64
after it arrive within a few milliseconds, then the first comes again
(fast retransmit).  The server's kernel would queue the 64 out of order
and hand the application the whole stream once the first arrives: so
must the engine, which holds them for the gap (doc/design.md §5, loss
bursts wait for their gap) and then decides the stream whole.  Lines
alternate between an IPv4 address and an email; the cuts fall at
every kind of place (local part, domain, octets).  The 64th boundary,
where 64 segments are held in order, cuts an email in its local part.

No expected.pcap: make.py writes stream.json (the client's stream, where
each address lies and what its action makes of it) for check.py.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow, mask  # noqa: E402

CLIENT, SERVER, PSEUDO = "192.0.2.55", "198.51.100.14", "192.0.2.0"
N = 64						# lines, cut addresses, late segments
BURST_US = 100					# between the late segments


def truncate24(ip):
    """ipv4 truncate 24 on text: the host octet's digits become 0."""
    head, host = ip.rsplit(".", 1)
    return head + "." + "0" * len(host)


case = Case()
case.original(CLIENT)
stream, spans, cuts = "", [], []
for i in range(N):
    if i % 2 == 0:
        ident = "10.%d.%d.%d" % (i, (i * 7) % 200 + 20, 100 + i)
        line = "<38>1 2026-12-07T12:00:%02dZ gw sshd - - - from %s closed\n"
        seen = truncate24(ident)
    else:
        ident = "user%d@host%d.example.org" % (i, i)
        line = "<38>1 2026-12-07T12:00:%02dZ gw imapd - - - login <%s> ok\n"
        seen = mask(ident)
    line = line % (i % 60, ident)
    start = len(stream) + line.index(ident)
    spans.append((start, start + len(ident), seen))
    cuts.append(start + 1 + (i * 5) % (len(ident) - 1))
    stream += line
    case.original(ident)
redacted = list(stream)
for a, e, seen in spans:
    redacted[a:e] = seen
redacted = "".join(redacted)
bounds = [0] + cuts + [len(stream)]
segments = [(stream[a:b].encode(), redacted[a:b].encode())
            for a, b in zip(bounds, bounds[1:])]
assert len(segments) == N + 1

c = TcpFlow(case, client=CLIENT, cport=53001, server=SERVER, sport=601,
            pseudo=PSEUDO)
c.handshake()
first = c.cseq
c.send(*segments[0])				# lost on the way
case.tick = lambda us=BURST_US: Case.tick(case, us)
for payload, seen in segments[1:]:
    c.c(payload, seen)
end = c.cseq
c.cseq = first
c.c(*segments[0])				# sent again
c.cseq = end
del case.tick
c.s(flags="A")					# the server has it all
c.close()
case.write(expected=False)

with open(os.path.join(case.outdir, "stream.json"), "w") as f:
    json.dump({"stream": stream, "spans": spans, "segments": len(segments),
               "port": 601, "pseudo": PSEUDO}, f)
