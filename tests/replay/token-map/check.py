#!/usr/bin/python3
"""
Property checks for keyed pseudonyms and tokens, which no script can
predict without the key:

pass 1 (the runner's run):
  - nothing dropped; every client packet is its input with only the
    source address and the identifiers changed (rebuilt from the input
    with those two changes, checksums recomputed, it must equal the output
    byte for byte)
  - each client has one pseudonym inside 100.64.0.0/10, not the range's
    network or broadcast address; the two clients have different ones
  - each token has the length and character classes of its original
    ('@', '.', '+' in place), differs from it, and is the same wherever
    the original appears (both connections, both clients); different
    originals give different tokens
  - captured on the client's side (REPLAY_SIDE=client), the capture holds
    the server's replies to the real clients: each must come out to its
    client's pseudonym, otherwise unchanged (the server's view)
pass 2 (run here, on the server's side: the same conversation with the
server's replies sent to the pseudonyms learnt in pass 1):
  - with the same key and epoch the clients get the same pseudonyms again
  - every reply comes out as the server sent it, to the pseudonym
  - the dry-run reports no residual, tshark finds no bad checksum

usage: check.py WORKDIR    (NFREDACT= the tool; WORKDIR holds policy.conf,
                            input.pcap and out.pcap of pass 1)
"""
import ipaddress
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from replaylib import read_pcap  # noqa: E402
from scapy.all import IP, TCP, Ether, Raw, raw  # noqa: E402

CLIENTS = {"192.0.2.55", "198.51.100.7"}
SERVER_PORT = 6667
RANGE = ipaddress.ip_network("100.64.0.0/10")
IDENTIFIERS = [b"alice@example.org", b"bob@example.net", b"+15551234567"]

work = sys.argv[1]
failures = []


def fail(msg):
    failures.append(msg)


def rebuild(data, src=None, dst=None, payload=None):
    p = Ether(data)
    if src:
        p[IP].src = src
    if dst:
        p[IP].dst = dst
    if payload is not None:
        p[TCP].remove_payload()
        if payload:
            p[TCP].add_payload(Raw(payload))
    del p[IP].chksum
    del p[TCP].chksum
    return raw(p)


def same_classes(a, b):
    for x, y in zip(a, b):
        cx, cy = bytes([x]), bytes([y])
        if cx.isdigit() != cy.isdigit() or cx.islower() != cy.islower() \
                or cx.isupper() != cy.isupper() \
                or (not cx.isalnum() and x != y):
            return False
    return len(a) == len(b)


def pairs(in_path, out_path):
    _, ins = read_pcap(in_path)
    _, outs = read_pcap(out_path)
    if len(ins) != len(outs):
        sys.exit("%s: %d packets for %d in" % (out_path, len(outs), len(ins)))
    return [(i[1], o[1]) for i, o in zip(ins, outs)]


# ---- pass 1 -------------------------------------------------------------
pseudonym = {}
tokens = {}
replies = []
for n, (pin, pout) in enumerate(pairs(os.path.join(work, "input.pcap"),
                                      os.path.join(work, "out.pcap")), 1):
    a, b = Ether(pin), Ether(pout)
    if a[TCP].dport != SERVER_PORT:
        replies.append((n, pin, pout))
        continue
    client = a[IP].src
    pseudonym.setdefault(client, set()).add(b[IP].src)
    data_in, data_out = bytes(a[TCP].payload), bytes(b[TCP].payload)
    if len(data_in) != len(data_out):
        fail("packet %d: payload length changed" % n)
        continue
    want = bytearray(data_in)
    for ident in IDENTIFIERS:
        start = data_in.find(ident)
        while start >= 0:
            end = start + len(ident)
            tok = data_out[start:end]
            if tok == ident:
                fail("packet %d: an identifier passed unchanged" % n)
            elif not same_classes(ident, tok):
                fail("packet %d: token %r does not keep the form" % (n, tok))
            tokens.setdefault(ident, set()).add(tok)
            want[start:end] = tok
            start = data_in.find(ident, end)
    if rebuild(pin, src=b[IP].src, payload=bytes(want)) != pout:
        fail("packet %d: changed beyond source address and identifiers" % n)

for client, ps in sorted(pseudonym.items()):
    if len(ps) != 1:
        fail("client has %d pseudonyms" % len(ps))
        continue
    p = ipaddress.ip_address(next(iter(ps)))
    if p not in RANGE or p in (RANGE.network_address, RANGE.broadcast_address):
        fail("pseudonym %s is not a host of %s" % (p, RANGE))
if set(pseudonym) != CLIENTS:
    fail("unexpected sources in the input")
elif len({next(iter(ps)) for ps in pseudonym.values()}) != len(CLIENTS):
    fail("two clients share a pseudonym")
for ident, toks in tokens.items():
    if len(toks) != 1:
        fail("%d different tokens for one identifier" % len(toks))
if set(tokens) != set(IDENTIFIERS):
    fail("not every identifier was seen")
elif len({next(iter(t)) for t in tokens.values()}) != len(IDENTIFIERS):
    fail("two identifiers share a token")
if failures:
    sys.exit("pass 1: " + "; ".join(failures))

learnt = {c: next(iter(ps)) for c, ps in pseudonym.items()}
for n, pin, pout in replies:
    a, b = Ether(pin), Ether(pout)
    if b[IP].dst != learnt.get(a[IP].dst):
        fail("packet %d: a reply not shown to its client's pseudonym" % n)
    elif rebuild(pin, dst=b[IP].dst) != pout:
        fail("packet %d: reply changed beyond its destination" % n)
want = 10 if os.environ.get("REPLAY_SIDE") == "client" else 0
if len(replies) != want:
    fail("%d replies in pass 1, expected %d" % (len(replies), want))
if failures:
    sys.exit("pass 1: " + "; ".join(failures))

# ---- pass 2: replies to the pseudonyms ---------------------------------------
p2 = os.path.join(work, "pass2")
os.makedirs(p2, exist_ok=True)
with open(os.path.join(p2, "pseudonyms.json"), "w") as f:
    json.dump(learnt, f)
subprocess.run([sys.executable, os.path.join(HERE, "make.py"), p2,
                os.path.join(p2, "pseudonyms.json")], check=True,
               env=dict(os.environ, REPLAY_SIDE="server"))
run = subprocess.run([os.environ["NFREDACT"], "dry-run",
                      os.path.join(work, "policy.conf"),
                      os.path.join(p2, "input.pcap"), "-w",
                      os.path.join(p2, "out.pcap")],
                     capture_output=True, text=True)
if run.returncode != 0:
    sys.exit("pass 2: dry-run exited %d" % run.returncode)
if run.stdout.rstrip("\n").split("\n")[-1] != "residual identifiers: 0":
    sys.exit("pass 2: residual identifiers reported")

replies = 0
for n, (pin, pout) in enumerate(pairs(os.path.join(p2, "input.pcap"),
                                      os.path.join(p2, "out.pcap")), 1):
    a, b = Ether(pin), Ether(pout)
    if a[TCP].dport == SERVER_PORT:
        if b[IP].src != learnt.get(a[IP].src):
            fail("packet %d: another pseudonym than in pass 1" % n)
        continue
    replies += 1
    if pin != pout:
        fail("packet %d: a reply not shown as the server sent it" % n)
if replies != 10:
    fail("%d replies, expected 10" % replies)

bad = subprocess.run(
    ["tshark", "-r", os.path.join(p2, "out.pcap"),
     "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
     "-Y", 'ip.checksum.status=="Bad" || tcp.checksum.status=="Bad"'],
    capture_output=True, text=True).stdout
if bad.strip():
    fail("pass 2: bad checksum")
if failures:
    sys.exit("pass 2: " + "; ".join(failures))
