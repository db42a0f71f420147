#!/usr/bin/env python3
"""
real.py — real log lines (tests/recall/real/*.log, see SOURCES) through
`nfredact dry-run`, measured against refmark.py, a reference that does not
use nfredact's detectors.

The lines are sent by a syslog client 192.0.2.1 to a collector
198.51.100.1 three ways, in one capture: one UDP datagram per line (port
514); one TCP stream with a newline after each line (RFC 6587
non-transparent framing, port 514), cut into 1448-byte segments
wherever the cut falls; and one TCP stream with octet counting (RFC 6587
§3.4.1, port 601), cut the same way.  The policy masks every built-in
detector.  For each identifier class of the reference the script prints
recall: identifiers whose every byte that masking changes was masked,
out of all.  Bytes changed outside the reference's identifiers are
reported too (phone numbers are not in the reference; they show there).

    tests/recall/real.py [--nfredact build/nfredact] [-v] tests/recall/real

Exit: 0 when the dry-run ran and every byte reached the output (recall
below 100% is reported, not a failure), 1 otherwise, 77 when nfredact is
missing.
"""

import argparse
import glob
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refmark  # noqa: E402

RULES = """	address ipv4 keep
	address ipv6 keep
	redact ipv4 mask
	redact ipv6 mask
	redact email mask
	redact phone mask
	redact mac mask
"""
# RFC 6587 octet counting on 601: these lines carry no <PRI>, which
# `auto` looks for, so the framing is named
POLICY = ("service syslog {\n\tlisten udp 514\n\tlisten tcp 514\n" + RULES +
          "}\nservice syslog-octet {\n\tlisten tcp 601\n\tframe octet\n" +
          RULES + "}\n")

CLIENT = bytes([192, 0, 2, 1])
SERVER = bytes([198, 51, 100, 1])
MSS = 1448
T0 = 1700000000 * 1000000


def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ipv4(proto, src, dst, l4):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0x4242, 0,
                      64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + l4


def udp(src, dst, sport, dport, payload):
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(u))
    c = csum(pseudo + u) or 0xffff
    return ipv4(17, src, dst, u[:6] + struct.pack("!H", c) + u[8:])


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    t = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                    65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(t))
    c = csum(pseudo + t)
    return ipv4(6, src, dst, t[:16] + struct.pack("!H", c) + t[18:])


def ether(ip):
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + \
        b"\x08\x00" + ip


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(packets):
            ts = T0 + i * 1000
            f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000,
                                len(p), len(p)))
            f.write(p)


def read_pcap(path):
    with open(path, "rb") as f:
        blob = f.read()
    endian = "<" if struct.unpack("<I", blob[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    off, out = 24, []
    while off + 16 <= len(blob):
        _, _, caplen, _ = struct.unpack(endian + "IIII", blob[off:off + 16])
        out.append(blob[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return out


def tcp_stream(sport, dport, data):
    """SYN, SYN-ACK, ACK, then @data in MSS segments."""
    isn, sisn = 1000, 50000
    pk = [tcp(CLIENT, SERVER, sport, dport, isn, 0, 0x02),
          tcp(SERVER, CLIENT, dport, sport, sisn, isn + 1, 0x12),
          tcp(CLIENT, SERVER, sport, dport, isn + 1, sisn + 1, 0x10)]
    for off in range(0, len(data), MSS):
        pk.append(tcp(CLIENT, SERVER, sport, dport, isn + 1 + off, sisn + 1,
                      0x18, data[off:off + MSS]))
        # the collector acknowledges what it got
        pk.append(tcp(SERVER, CLIENT, dport, sport, sisn + 1,
                      isn + 1 + min(off + MSS, len(data)), 0x10))
    return pk, isn + 1


def masked(b):
    if 0x30 <= b <= 0x39:
        return 0x30
    if 0x41 <= b <= 0x5a or 0x61 <= b <= 0x7a:
        return 0x78
    return b


class Tally:
    def __init__(self):
        self.ids = {}
        self.full = {}
        self.other_runs = 0
        self.samples = []
        self.missing = 0

    def judge(self, data, out, verbose, where, refs=None):
        """@refs: the reference's identifiers in @data (found in @data
        itself when None)."""
        if out is None or len(out) != len(data):
            self.missing += 1
            return
        if refs is None:
            refs = refmark.find(data)
        inside = bytearray(len(data))
        for s, e, k in refs:
            for i in range(s, e):
                inside[i] = 1
            # "::ffff:" before an embedded IPv4 address says nothing of
            # the client: the address is the dotted quad
            if k == "ipv6" and data[s:s + 7].lower() == b"::ffff:" and \
               b"." in data[s:e]:
                s += 7
            self.ids[k] = self.ids.get(k, 0) + 1
            ok = all(out[i] == masked(data[i]) for i in range(s, e))
            self.full[k] = self.full.get(k, 0) + ok
            if not ok and verbose:
                print("  missed %s %s: %r -> %r" % (where, k, data[s:e], out[s:e]))
        i = 0
        while i < len(data):
            if out[i] != data[i] and not inside[i]:
                j = i
                while j < len(data) and out[j] != data[j] and not inside[j]:
                    j += 1
                self.other_runs += 1
                if verbose or len(self.samples) < 5:
                    self.samples.append(data[max(0, i - 12):j + 12])
                i = j
            else:
                i += 1

    def report(self, name):
        parts = []
        for k in ("ipv4", "ipv6", "email", "mac"):
            n = self.ids.get(k, 0)
            if n:
                parts.append("%s %d/%d %.1f%%" % (k, self.full[k], n,
                                                   100.0 * self.full[k] / n))
        print("  %-10s %s; changed outside the reference: %d run(s)%s" %
              (name, ", ".join(parts) or "no identifiers",
               self.other_runs,
               "; MISSING OUTPUT %d" % self.missing if self.missing else ""))
        for s in self.samples[:5]:
            print("      e.g. ...%s..." % s.decode("utf-8", "replace"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nfredact", default=os.environ.get("B", "build") + "/nfredact")
    ap.add_argument("-v", action="store_true")
    ap.add_argument("dir")
    a = ap.parse_args()
    if not os.access(a.nfredact, os.X_OK):
        print("real: %s not built" % a.nfredact)
        return 77
    lines = []
    for p in sorted(glob.glob(os.path.join(a.dir, "*.log"))):
        with open(p, "rb") as f:
            lines += [ln.rstrip(b"\r\n") for ln in f if ln.strip()]
    if len(lines) > 40000:
        print("real: more than 40000 lines; one UDP port each does not fit")
        return 1
    nl = b"".join(ln + b"\n" for ln in lines)
    octet = b"".join(b"%d %s" % (len(ln), ln) for ln in lines)
    # the reference reads each line alone, as the framing delimits it
    nl_refs, oc_refs, o1, o2 = [], [], 0, 0
    oc_counts = []
    for ln in lines:
        oc_counts.append((o2, o2 + len(b"%d" % len(ln))))
        o2 += len(b"%d " % len(ln))
        for s, e, k in refmark.find(ln):
            nl_refs.append((o1 + s, o1 + e, k))
            oc_refs.append((o2 + s, o2 + e, k))
        o1 += len(ln) + 1
        o2 += len(ln)

    # each datagram from a port of its own: the output is matched by port
    packets = [ether(udp(CLIENT, SERVER, 20000 + i, 514, ln))
               for i, ln in enumerate(lines)]
    pk, nl_isn = tcp_stream(60000, 514, nl)
    packets += [ether(p) for p in pk]
    pk, oc_isn = tcp_stream(60001, 601, octet)
    packets += [ether(p) for p in pk]

    with tempfile.TemporaryDirectory() as tmp:
        pol, inp, outp = (os.path.join(tmp, n) for n in
                          ("policy.conf", "in.pcap", "out.pcap"))
        with open(pol, "w") as f:
            f.write(POLICY)
        write_pcap(inp, packets)
        r = subprocess.run([a.nfredact, "dry-run", pol, inp, "-w", outp],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode not in (0, 3) or not os.path.exists(outp):
            print("real: dry-run failed (%d):\n%s" % (r.returncode,
                                                     r.stdout.decode()))
            return 1
        out = read_pcap(outp)

    udp_out, streams = {}, {514: {}, 601: {}}
    for frame in out:
        ip = frame[14:]
        if len(ip) < 20 or ip[9] not in (6, 17) or ip[12:16] != CLIENT:
            continue
        ihl = (ip[0] & 15) * 4
        l4 = ip[ihl:]
        sport, dport = struct.unpack("!HH", l4[0:4])
        if ip[9] == 17:
            udp_out[sport - 20000] = l4[8:]
        elif dport in streams:
            seq = struct.unpack("!I", l4[4:8])[0]
            payload = l4[(l4[12] >> 4) * 4:]
            if payload:
                streams[dport][seq] = payload

    def assemble(segs, isn, n):
        buf = bytearray(n)
        have = 0
        for seq, p in segs.items():
            off = seq - isn
            buf[off:off + len(p)] = p
            have += len(p)
        return bytes(buf) if have == n else None

    print("real log lines: %d lines, %d bytes, from %d files in %s "
          "(SOURCES)" % (len(lines), len(nl),
                         len(glob.glob(os.path.join(a.dir, "*.log"))), a.dir))
    t_udp = Tally()
    for i, ln in enumerate(lines):
        t_udp.judge(ln, udp_out.get(i), a.v, "udp")
    t_nl, t_oc = Tally(), Tally()
    t_nl.judge(nl, assemble(streams[514], nl_isn, len(nl)), a.v, "tcp",
               nl_refs)
    oc_out = assemble(streams[601], oc_isn, len(octet))
    t_oc.judge(octet, oc_out, a.v, "tcp-octet", oc_refs)
    t_udp.report("udp")
    t_nl.report("tcp")
    t_oc.report("tcp-octet")
    if oc_out is not None:
        broken = sum(oc_out[s:e] != octet[s:e] for s, e in oc_counts)
        print("  tcp-octet  frame lengths changed: %d of %d frames" %
              (broken, len(oc_counts)))
    else:
        broken = 1
    # the framing bytes are never rewritten (a changed length breaks the
    # collector's framing)
    return 1 if t_udp.missing or t_nl.missing or t_oc.missing or broken else 0


if __name__ == "__main__":
    sys.exit(main())
