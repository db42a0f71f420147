#!/usr/bin/python3
"""
stream.py — every-offset stream test of one replay case (doc/design.md §10).

usage: stream.py CASE_DIR WORK NFREDACT [SEED]

The case's own capture is run through `nfredact dry-run` once: the
client→server byte stream of each of its TCP connections, and what the
server got of it (reassembled from the output), are the reference.  Then
every such conversation is sent again over many connections, one per
variant, all in one capture and one dry-run:

  cut-K     two segments, cut at byte K, for every K
  split-N   seeded random multi-way splits
  dup-N     a random split with every segment sent twice
  rexmit-N  a random split, then the whole stream again in other cuts
  reord-N   a random split with neighbouring segments swapped

For every variant the server-side stream (reassembled from OUT.pcap by
sequence number; every copy of a byte must be the same) must equal the
reference, and no identifier of the case's originals.txt that the
reference does not contain may appear in it.
"""
import os
import random
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from replaylib import T0_US, read_pcap, write_pcap  # noqa: E402

MAC_C = bytes.fromhex("020000000001")
MAC_S = bytes.fromhex("020000000002")
N_RANDOM = 12			# per kind and conversation
FIRST_PORT = 20000


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def parse(frame):
    """(family, src, dst, sport, dport, seq, flags, payload) or None."""
    et = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if et == 0x0800 and ip[9] == 6:
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        fam, src, dst, l4 = 4, ip[12:16], ip[16:20], ip[ihl:tot]
    elif et == 0x86dd and ip[6] == 6:
        plen = struct.unpack("!H", ip[4:6])[0]
        fam, src, dst, l4 = 6, ip[8:24], ip[24:40], ip[40:40 + plen]
    else:
        return None
    sport, dport, seq = struct.unpack("!HHI", l4[:8])
    doff = (l4[12] >> 4) * 4
    return fam, src, dst, sport, dport, seq, l4[13], bytes(l4[doff:])


def build(fam, src, dst, sport, dport, seq, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags,
                      64240, 0, 0) + payload
    if fam == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
    c = csum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    if fam == 4:
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000,
                          64, 6, 0, src, dst)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        return MAC_S + MAC_C + b"\x08\x00" + hdr + tcp
    hdr = struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, 64, src, dst)
    return MAC_S + MAC_C + b"\x86\xdd" + hdr + tcp


class Differ(Exception):
    pass


def streams(path, inbound_port):
    """{(src, dst, sport, dport): (fam, isn, {offset: payload})} of the
    segments to @inbound_port; every copy of an offset must agree."""
    out = {}
    for _, frame, _ in read_pcap(path)[1]:
        p = parse(frame)
        if not p or p[4] != inbound_port:
            continue
        fam, src, dst, sport, dport, seq, flags, payload = p
        key = (src, dst, sport, dport)
        if flags & 0x02:
            out[key] = (fam, seq, {})
            continue
        if key not in out or not payload:
            continue
        segs = out[key][2]
        off = (seq - out[key][1] - 1) & 0xffffffff
        segs.setdefault(off, []).append(payload)
    return out


def assemble(segs, port=None):
    """The stream of {offset: [payload...]}, and whether it has no hole;
    Differ when two copies of a byte differ."""
    size = max((o + len(p) for o, ps in segs.items() for p in ps), default=0)
    buf = bytearray(size)
    have = bytearray(size)
    for o, ps in sorted(segs.items()):
        for p in ps:
            for k, byte in enumerate(p):
                if have[o + k] and buf[o + k] != byte:
                    raise Differ(port, o + k)
            buf[o:o + len(p)] = p
            have[o:o + len(p)] = b"\1" * len(p)
    return bytes(buf), all(have)


def cuts(rng, n, k):
    return sorted(rng.sample(range(1, n), min(k, n - 1)))


def split(data, at):
    edges = [0] + list(at) + [len(data)]
    return [(edges[i], data[edges[i]:edges[i + 1]])
            for i in range(len(edges) - 1)]


def variants(data, rng):
    n = len(data)
    for k in range(1, n):
        yield "cut-%d" % k, split(data, [k])
    for i in range(N_RANDOM):
        yield "split-%d" % i, split(data, cuts(rng, n, rng.randint(2, 12)))
    for i in range(N_RANDOM):
        segs = split(data, cuts(rng, n, rng.randint(1, 8)))
        yield "dup-%d" % i, [s for s in segs for _ in (0, 1)]
    for i in range(N_RANDOM):
        yield "rexmit-%d" % i, (split(data, cuts(rng, n, rng.randint(1, 8))) +
                                split(data, cuts(rng, n, rng.randint(1, 8))))
    for i in range(N_RANDOM):
        segs = split(data, cuts(rng, n, rng.randint(2, 10)))
        j = rng.randrange(len(segs) - 1)
        segs[j], segs[j + 1] = segs[j + 1], segs[j]
        yield "reord-%d" % i, segs


def dry_run(nfredact, policy, pcap, out):
    r = subprocess.run([nfredact, "dry-run", policy, pcap, "-w", out],
                       capture_output=True, text=True)
    last = r.stdout.strip().splitlines()[-1:] or [""]
    if r.returncode not in (0, 3) or (last[0] != "residual identifiers: 0" and not os.environ.get("LAX")):
        raise SystemExit("dry-run of %s: exit %d, %r %s" %
                         (os.path.basename(pcap), r.returncode, last[0],
                          r.stderr.strip()[-200:]))


def main():
    case, work, nfredact = sys.argv[1:4]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    rng = random.Random(seed)
    policy = os.path.join(case, "policy.conf")
    orig = os.path.join(work, "orig")
    os.makedirs(orig, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(case, "make.py"), orig],
                   check=True, capture_output=True)
    dry_run(nfredact, policy, os.path.join(orig, "input.pcap"),
            os.path.join(work, "orig-out.pcap"))
    originals = []
    if os.path.exists(os.path.join(orig, "originals.txt")):
        with open(os.path.join(orig, "originals.txt"), "rb") as f:
            originals = [x for x in f.read().split(b"\n") if x]

    # The server port: the destination of the first SYN.
    port = None
    for _, frame, _ in read_pcap(os.path.join(orig, "input.pcap"))[1]:
        p = parse(frame)
        if p and p[6] & 0x12 == 0x02:
            port = p[4]
            break
    if port is None:
        raise SystemExit("no TCP connection in the case")
    ins = streams(os.path.join(orig, "input.pcap"), port)
    outs = streams(os.path.join(work, "orig-out.pcap"), port)

    convs = []
    for (src, dst, sport, dport), (fam, isn, segs) in sorted(ins.items()):
        data, whole = assemble(segs)
        ref = [v for (s2, d2, p2, q2), v in outs.items()
               if d2 == dst and q2 == dport and v[1] == isn]
        if not data or not whole or len(ref) != 1:
            continue
        want, whole = assemble(ref[0][2])
        if not whole or len(want) != len(data):
            raise SystemExit("reference of port %d incomplete" % sport)
        convs.append((fam, src, dst, dport, data, want))
    if not convs:
        raise SystemExit("no conversation to split")

    records, plan, clock, cport = [], {}, T0_US, FIRST_PORT
    for fam, src, dst, dport, data, want in convs:
        for name, segs in variants(data, rng):
            if not name.startswith(os.environ.get("ONLY", "")):
                continue
            isn = rng.randrange(1 << 32)
            plan[cport] = (name, want, len(segs))
            for off, flags, payload in ([(None, 0x02, b"")] +
                                        [(o, 0x18, p) for o, p in segs] +
                                        [(len(data), 0x11, b"")]):
                seq = isn if off is None else (isn + 1 + off) & 0xffffffff
                clock += 1000
                frame = build(fam, src, dst, cport, dport, seq, flags, payload)
                records.append((clock, frame, len(frame)))
            cport += 1
            clock += 100000		# past any hold
    pcap = os.path.join(work, "variants.pcap")
    write_pcap(pcap, records)
    out = os.path.join(work, "variants-out.pcap")
    dry_run(nfredact, policy, pcap, out)

    got = {}
    for (s, d, sport, q), (fam, isn, segs) in streams(out, port).items():
        got[sport] = segs
    bad = []
    for cport, (name, want, _) in plan.items():
        try:
            stream, whole = assemble(got.get(cport, {}), cport)
        except Differ as e:
            bad.append("%s (copies of offset %d differ)" % (name, e.args[1]))
            continue
        if stream != want or not whole:
            if not bad:
                k = next((i for i in range(min(len(stream), len(want)))
                          if stream[i] != want[i]), min(len(stream), len(want)))
                print("%s: first difference at %d%s\n  got  %r\n  want %r"
                      % (name, k, "" if whole else " (holes)",
                         stream[max(0, k - 30):k + 30],
                         want[max(0, k - 30):k + 30]), file=sys.stderr)
            bad.append(name)
            continue
        for ident in originals:
            if ident in stream and ident not in want:
                bad.append(name + " (an identifier survives)")
                break
    print("%s: %d conversations, %d variants, %d packets"
          % (os.path.basename(case), len(convs), len(plan), len(records)))
    if bad:
        raise SystemExit("%d variants differ from the unsplit stream: %s"
                         % (len(bad), ", ".join(bad[:12])))


if __name__ == "__main__":
    main()
