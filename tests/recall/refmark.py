#!/usr/bin/env python3
"""
refmark.py — a reference marker of identifiers, independent of nfredact's
detectors: liberal regular expressions find candidates, and Python's
`ipaddress` module decides what an IPv4 or IPv6 address is; email
addresses are RFC 5322 dot-atoms at an ASCII domain of two or more
labels ending in letters; MAC addresses are six two-digit hex groups
with ':' or '-', or Cisco's three dotted groups of four (a netfilter
LOG `MAC=` field of fourteen groups holds two of them).

    refmark.py lint FILE.tsv...    cases where the reference sees an
                                   identifier that is not marked

As a module: find(data: bytes) -> [(start, end, kind)], sorted.
"""

import ipaddress
import re
import sys

HEX = b"0123456789abcdefABCDEF"
ALNUM = re.compile(rb"[A-Za-z0-9_]")

V4_RUN = re.compile(rb"[0-9.]+")
V6_RUN = re.compile(rb"[0-9A-Fa-f:.]+")
MAC_RUN = re.compile(rb"[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})+")
CISCO = re.compile(rb"(?<![0-9A-Za-z.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![0-9A-Za-z]|\.[0-9A-Za-z])")
ATEXT = rb"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
EMAIL = re.compile(rb"(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])" + ATEXT + rb"+(?:\." + ATEXT +
                   rb"+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                   rb"[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9](?![A-Za-z0-9-]|\.[A-Za-z0-9])")


def _v4(text):
    # zero-padded octets ("192.030.0.6") are an address too; ipaddress
    # refuses them for their octal reading, so they are read as decimal
    parts = text.split(b".")
    if any(not p or len(p) > 3 for p in parts):
        return False
    text = b".".join(p.lstrip(b"0") or b"0" for p in parts)
    try:
        ipaddress.IPv4Address(text.decode())
        return True
    except ValueError:
        return False


def _v6(text):
    if b"::" not in text and text.count(b":") < 7:
        return False
    if not any(c in HEX for c in text.replace(b":", b"").replace(b".", b"")):
        return False
    try:
        ipaddress.IPv6Address(text.decode())
        return True
    except ValueError:
        return False


def _boundary(data, s, e):
    """No letter, digit or _ glued on either side."""
    return ((s == 0 or not ALNUM.match(data[s - 1:s])) and
            (e == len(data) or not ALNUM.match(data[e:e + 1])))


def find_ipv4(data):
    out = []
    for m in V4_RUN.finditer(data):
        run, s = m.group(), m.start()
        parts = run.split(b".")
        # a dotted quad, maybe ending a sentence; not 1.2.3.4.5
        if len(parts) == 5 and parts[4] == b"":
            run, parts = run[:-1], parts[:4]
        if len(parts) == 4 and _v4(run) and _boundary(data, s, s + len(run)):
            out.append((s, s + len(run), "ipv4"))
    return out


def find_ipv6(data, taken):
    out = []
    for m in V6_RUN.finditer(data):
        s, e = m.start(), m.end()
        run = data[s:e].rstrip(b".")
        e = s + len(run)
        # "(en0+:2607:...)": a separator colon before the address
        if run[:1] == b":" and run[:2] != b"::":
            s, run = s + 1, run[1:]
            e = s + len(run)
        if run.count(b":") < 2:
            continue
        if any(a <= s < b for a, b, _ in taken):
            continue
        # "eth0:fe80::1": the interface name is not part of it
        if s > 0 and ALNUM.match(data[s - 1:s]) and b":" in run:
            cut = run.index(b":") + 1
            s, run = s + cut, run[cut:]
        cands = [run]
        # "2001:db8::55:50422": a port glued with ':'
        pm = re.search(rb":([0-9]{1,5})$", run)
        if pm:
            cands.append(run[:pm.start()])
        for c in cands:
            e = s + len(c)
            # a zone ("%eth0") may follow; it is not marked
            if _v6(c) and (_boundary(data, s, e) or data[e:e + 1] == b"%"):
                out.append((s, e, "ipv6"))
                break
    return out


def find_mac(data):
    out = []
    for m in MAC_RUN.finditer(data):
        s, e = m.start(), m.end()
        groups = (e - s + 1) // 3
        if not _boundary(data, s, e):
            continue
        if groups == 6:
            out.append((s, e, "mac"))
        elif groups == 14 and m.group(1) == b":":
            out.append((s, s + 17, "mac"))
            out.append((s + 18, s + 35, "mac"))
    for m in CISCO.finditer(data):
        out.append((m.start(), m.end(), "mac"))
    return out


KEY = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*=")


def find_email(data):
    """'=' is atext, but "user=alice@example.org" in a log is a key and
    an address: a local part that starts with a word and '=' loses it."""
    out = []
    for m in EMAIL.finditer(data):
        s = m.start()
        k = KEY.match(data, s)
        if k and k.end() < data.index(b"@", s):
            s = k.end()
        out.append((s, m.end(), "email"))
    return out


def find(data):
    """Every identifier the reference sees in @data, without overlaps."""
    found = find_email(data) + find_mac(data)
    found += find_ipv4(data)
    found += find_ipv6(data, found)
    found.sort(key=lambda t: (t[0], -(t[1] - t[0])))
    out, end = [], -1
    for s, e, k in found:
        if s >= end:
            out.append((s, e, k))
            end = e
        elif k == "ipv4" and out and out[-1][2] == "email":
            continue	# a domain literal inside an email
    return out


# ---- the corpus notation ------------------------------------------------

def decode(text):
    """Marked-up text -> (bytes, want) with want 0 keep, 1 mask, 2 either."""
    out, want, cur, i = bytearray(), [], 0, 0
    t = text.encode()
    while i < len(t):
        two = t[i:i + 2]
        if cur == 0 and two == b"[[":
            cur, i = 1, i + 2
            continue
        if cur == 0 and two == b"{{":
            cur, i = 2, i + 2
            continue
        if (cur == 1 and two == b"]]") or (cur == 2 and two == b"}}"):
            cur, i = 0, i + 2
            continue
        c = t[i]
        if c == 0x5c:
            n = t[i + 1]
            if n == ord("x"):
                c, i = int(t[i + 2:i + 4], 16), i + 4
            else:
                c = {ord("t"): 9, ord("r"): 13, ord("n"): 10,
                     ord("0"): 0}.get(n, n)
                i += 2
        else:
            i += 1
        out.append(c)
        want.append(cur)
    return bytes(out), want


def lint(paths):
    bad = 0
    for p in paths:
        for n, line in enumerate(open(p, encoding="utf-8"), 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            f = line.split("\t")
            data, want = decode(f[2])
            for s, e, k in find(data):
                if not any(want[s:e]):
                    bad += 1
                    print("%s:%d: %s: unmarked %s %r" %
                          (p, n, f[0], k, data[s:e]))
    return bad


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "lint":
        sys.exit(__doc__)
    sys.exit(1 if lint(sys.argv[2:]) else 0)
