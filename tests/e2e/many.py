#!/usr/bin/python3
"""many.py - many concurrent syslog-over-TCP clients for tests/e2e/many.sh,
and the judgement of what the collector received.

  many.py send --server HOST --ports P[,P...] --sources A[,A...]
               --conns N --lines L --tag TAG --phase FILE
               [--workers W] [--spread S] [--gap MIN_MS MAX_MS]
               [--connect-rate R] [--late S] [--drain S]
      Opens N TCP connections (connection i from source address
      sources[i % len(sources)], to port ports[i % len(ports)]), spread
      over W processes, and keeps every one of them open until all have
      sent and drained.  Phases, each written to FILE as a line once all
      processes are through it: "connected", "drained"; then it waits
      for FILE.close to exist (at most 60 s), closes every connection
      and writes "closed".  Between "connected" and "drained", each
      connection writes L LF-framed syslog lines (see LINES), each in
      pieces: every identifier is cut twice inside, each piece is its own
      send() with TCP_NODELAY, MIN_MS..MAX_MS apart, and once TCP has
      sent the piece before (else the two would leave as one segment:
      the piece waits up to 100 ms, and is counted postponed; TCP
      merges what waits behind a loss anyway).  The lines of all
      connections are spread over S seconds, so that all connections
      have streams in progress at once.  LATE seconds after those (30),
      what is left is written at once (forced); then each connection
      has DRAIN seconds (30) for the server to acknowledge every byte.
      Prints key=value figures.

  many.py judge --tag TAG --conns N --lines L --sources A[,A...]
                --originals FILE [--pcap FILE] LOG...
      Reads the collectors' lines "FROMHOST-IP | MSG", writes to FILE
      every original the clients sent (one a line: each line's IPv4
      address, email and phone number, and the clients' own addresses)
      for an independent grep -F -f, and prints key=value figures:
        received          distinct lines of TAG
        leaked_lines      lines of the sent length where a byte of an
                          identifier survived at its place (leaked_ipv4,
                          leaked_email, leaked_phone: identifiers)
        whole_originals   identifiers that arrived unchanged
        other_diff        other bytes that differ (masked beyond an
                          identifier, say)
        garbled           lines of another length than sent: bytes the
                          client never sent (rsyslog writes a NUL as #000);
                          unparsed: lines of TAG whose head is unreadable;
                          garbled_residue: those of both holding a digit
                          1-9 or a letter other than x outside the fixed
                          words, which only an identifier brings
        wrong_fromhost    lines whose client address is not the
                          pseudonym (the client's /24)
      With --pcap (a capture of the client's side), how the streams
      were cut: data segments sent for the first time, those ending
      inside a line, segments sent again, identifiers in the streams
      and those cut by a boundary of a first-time segment.  Originals
      are never printed.

LINES: "<14>Dec  7 12:00:00 client many: MANY TAG cI lJ from IPV4 mail
EMAIL call PHONE end", with I the connection and J the line number, and
unique identifiers made from K = I * L + J, written in digits 1-9 only
(so that no masked digit equals an original one): IPV4 172.1xx.1xx.1xx,
EMAIL NONCE + 7 digits @example.org, PHONE +1555 and 7 digits, compact
for even K, grouped by spaces for odd K.  NONCE: four letters from TAG.

Exit: 0, 1 when something failed (send: a process died), 2 on bad usage.
"""
import argparse
import ctypes
import errno
import fcntl
import hashlib
import heapq
import json
import os
import random
import re
import selectors
import signal
import socket
import struct
import sys
import termios
import time

HEADER = "<14>Dec  7 12:00:00 client many: "


def nonce_of(tag):
    """Four letters from TAG, never an x (the mask's letter)."""
    h = hashlib.sha256(tag.encode()).digest()
    letters = "abcdefghijkmnpqrstuvw"
    return "".join(letters[b % len(letters)] for b in h[:4])


def nines(n, width):
    """n in WIDTH digits 1-9: every digit of an identifier differs from
    the mask's 0, and no partly masked one equals another original."""
    out = ""
    for _ in range(width):
        out = "123456789"[n % 9] + out
        n //= 9
    return out


def identifiers(k, nonce):
    ip = "172.1%s.1%s.1%s" % (nines(k % 81, 2), nines(k // 81 % 81, 2),
                              nines(k // 6561, 2))
    email = "%s%s@example.org" % (nonce, nines(k, 7))
    digits = nines(k, 7)
    if k % 2 == 0:
        phone = "+1555" + digits
    else:
        phone = "+1 555 %s %s" % (digits[:3], digits[3:])
    return ip, email, phone


def body_parts(tag, i, j, lines, nonce):
    """The message as (text, is_identifier) parts."""
    ip, email, phone = identifiers(i * lines + j, nonce)
    return [("MANY %s c%05d l%d from " % (tag, i, j), False), (ip, True),
            (" mail ", False), (email, True), (" call ", False), (phone, True),
            (" end", False)]


def mask(s):
    return "".join("0" if c.isdigit() else "x" if c.isalpha() else c for c in s)


# ---- send ---------------------------------------------------------------

class Conn:
    __slots__ = ("i", "src", "port", "sock", "attempts", "deadline", "pieces",
                 "next", "outbuf", "dead", "last_sent", "line_of", "lines_done",
                 "registered", "waiting")

    def __init__(self, i, src, port):
        self.i, self.src, self.port = i, src, port
        self.sock = None
        self.attempts = 0
        self.deadline = 0.0
        self.pieces = []        # (due, bytes, line, last piece of its line)
        self.next = 0
        self.outbuf = b""
        self.dead = False
        self.last_sent = None
        self.lines_done = 0
        self.registered = False
        self.waiting = False


def plan(c, a, t0, rng, nonce):
    """c.pieces: the lines of connection c cut inside every identifier,
    with their send times from t0."""
    slot = a.spread / a.lines
    gmin, gmax = a.gap[0] / 1000.0, a.gap[1] / 1000.0
    for j in range(a.lines):
        cuts, pos, text = [], len(HEADER), HEADER
        for part, ident in body_parts(a.tag, c.i, j, a.lines, nonce):
            if ident:
                a1, a2 = sorted(rng.sample(range(1, len(part)), 2))
                cuts += [pos + a1, pos + a2]
            pos += len(part)
            text += part
        data = (text + "\n").encode()
        bounds = [0] + cuts + [len(data)]
        n = len(bounds) - 1
        dur = gmax * (n - 1)
        t = t0 + j * slot + rng.uniform(0, max(0.0, slot - dur))
        for p in range(n):
            c.pieces.append((t, data[bounds[p]:bounds[p + 1]], j, p == n - 1))
            t += rng.uniform(gmin, gmax)


SIOCOUTQNSD = 0x894B


def outq(sock, what=termios.TIOCOUTQ):
    """Bytes not yet acknowledged (or with SIOCOUTQNSD: not yet sent)."""
    b = fcntl.ioctl(sock.fileno(), what, b"\0\0\0\0")
    return struct.unpack("i", b)[0]


class Worker:
    def __init__(self, a, idxs, wid):
        self.a, self.wid = a, wid
        self.sources = a.sources.split(",")
        self.ports = [int(p) for p in a.ports.split(",")]
        self.conns = [Conn(i, self.sources[i % len(self.sources)],
                           self.ports[i % len(self.ports)]) for i in idxs]
        self.sel = selectors.DefaultSelector()
        self.backlog = set()    # connections with bytes send() did not take
        self.f = {"connect_failed": 0, "connect_retries": 0, "send_errors": 0,
                  "pieces": 0, "lines_written": 0, "late_max_ms": 0.0,
                  "late_over_100ms": 0, "gap_max_ms": 0.0, "coalesced": 0,
                  "postponed": 0, "forced": 0}

    # -- connect: at most R new attempts a second and 256 pending
    def start(self, c):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.bind((c.src, 0))
        c.sock, c.attempts = s, c.attempts + 1
        c.deadline = time.monotonic() + 8.0
        err = s.connect_ex((self.a.server, c.port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            c.sock = None
            return False
        self.sel.register(s, selectors.EVENT_WRITE, c)
        return True

    def connect_all(self):
        todo = list(self.conns)
        todo.reverse()
        pending = {}
        rate = self.a.connect_rate / self.a.workers
        t0 = time.monotonic()
        started = 0

        def again(c):
            if c.attempts < 4:
                self.f["connect_retries"] += 1
                todo.append(c)
            else:
                c.dead = True
                self.f["connect_failed"] += 1

        while todo or pending:
            now = time.monotonic()
            while todo and len(pending) < 256 and started < (now - t0) * rate + 1:
                c = todo.pop()
                started += 1
                if self.start(c):
                    pending[c.i] = c
                else:
                    again(c)
            for key, _ in self.sel.select(0.02):
                c = key.data
                self.sel.unregister(c.sock)
                del pending[c.i]
                if c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    c.sock.close()
                    c.sock = None
                    again(c)
            now = time.monotonic()
            for c in [c for c in pending.values() if now > c.deadline]:
                self.sel.unregister(c.sock)
                del pending[c.i]
                c.sock.close()
                c.sock = None
                again(c)

    # -- send
    def write(self, c, data):
        if c.outbuf:
            c.outbuf += data
            self.f["coalesced"] += 1
            return
        try:
            n = c.sock.send(data)
        except BlockingIOError:
            n = 0
        except OSError:
            self.fail(c)
            return
        if n < len(data):
            c.outbuf = data[n:]
            self.sel.register(c.sock, selectors.EVENT_WRITE, c)
            c.registered = True
            self.backlog.add(c)

    def flush(self, c):
        try:
            n = c.sock.send(c.outbuf)
        except BlockingIOError:
            return
        except OSError:
            self.fail(c)
            return
        c.outbuf = c.outbuf[n:]
        if not c.outbuf:
            self.sel.unregister(c.sock)
            c.registered = False
            self.backlog.discard(c)

    def fail(self, c):
        if c.registered:
            self.sel.unregister(c.sock)
            c.registered = False
        c.dead = True
        c.outbuf = b""
        self.backlog.discard(c)
        self.f["send_errors"] += 1

    def send_all(self, t0):
        rng = random.Random("%s-%d" % (self.a.tag, self.wid))
        nonce = nonce_of(self.a.tag)
        heap = []
        for c in self.conns:
            if c.dead:
                continue
            plan(c, self.a, t0, rng, nonce)
            heap.append((c.pieces[0][0], c.i, c))
        heapq.heapify(heap)
        f = self.f
        t_end = t0 + self.a.spread + self.a.late
        while heap or self.backlog:
            now = time.time()
            if now >= t_end:
                break
            while heap and heap[0][0] <= now:
                _, _, c = heapq.heappop(heap)
                if c.dead:
                    continue
                due, data, line, last = c.pieces[c.next]
                if not c.waiting:
                    late = (now - due) * 1000.0
                    f["late_max_ms"] = max(f["late_max_ms"], late)
                    if late > 100:
                        f["late_over_100ms"] += 1
                # a piece behind one TCP has not sent yet would join it
                # in one segment: it waits (up to 100 ms) until the one
                # before has left
                if c.next > 0 and not c.outbuf and now - due < 0.1:
                    try:
                        unsent = outq(c.sock, SIOCOUTQNSD)
                    except OSError:
                        unsent = 0
                    if unsent > 0:
                        if not c.waiting:
                            f["postponed"] += 1
                        c.waiting = True
                        heapq.heappush(heap, (now + 0.01, c.i, c))
                        continue
                c.waiting = False
                if c.last_sent is not None and c.next > 0 and \
                        c.pieces[c.next - 1][2] == line:
                    f["gap_max_ms"] = max(f["gap_max_ms"], (now - c.last_sent) * 1000.0)
                self.write(c, data)
                c.last_sent = time.time()
                f["pieces"] += 1
                if last and not c.dead:
                    c.lines_done += 1
                c.next += 1
                if c.next < len(c.pieces) and not c.dead:
                    heapq.heappush(heap, (c.pieces[c.next][0], c.i, c))
            timeout = 0.05
            if heap:
                timeout = min(timeout, max(0.0, heap[0][0] - time.time()))
            for key, _ in self.sel.select(timeout):
                self.flush(key.data)
        # out of time: what is left goes at once, in one write
        for c in self.conns:
            if c.dead or c.next >= len(c.pieces):
                continue
            rest = c.pieces[c.next:]
            f["forced"] += len(rest)
            self.write(c, b"".join(p[1] for p in rest))
            if not c.dead:
                c.lines_done += sum(1 for p in rest if p[3])
            c.next = len(c.pieces)
        end = time.time() + 5
        while self.backlog and time.time() < end:
            for key, _ in self.sel.select(0.05):
                self.flush(key.data)
        f["lines_written"] = sum(c.lines_done for c in self.conns if not c.dead)

    def drain(self):
        """Wait until the server has acknowledged every byte."""
        deadline = time.monotonic() + self.a.drain
        left = {c for c in self.conns if not c.dead}
        while left and time.monotonic() < deadline:
            for c in list(left):
                try:
                    if outq(c.sock) == 0:
                        left.discard(c)
                except OSError:
                    c.dead = True
                    left.discard(c)
            if left:
                time.sleep(0.1)
        self.f["undrained"] = len(left)
        self.f["lines_acked"] = sum(c.lines_done for c in self.conns
                                    if not c.dead and c not in left)

    def close_all(self):
        self.f["open_at_close"] = sum(1 for c in self.conns if not c.dead)
        self.f["connected"] = sum(1 for c in self.conns if c.sock is not None)
        for c in self.conns:
            if c.sock is not None:
                c.sock.close()


PR_SET_PDEATHSIG = 1


def child(a, idxs, wid, rd, wr, parent):
    # a worker ends with the process that started it
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        return 1
    w = Worker(a, idxs, wid)
    inp = os.fdopen(rd, "r")
    out = os.fdopen(wr, "w")

    def say(s):
        out.write(s + "\n")
        out.flush()

    w.connect_all()
    say("connected")
    t0 = float(inp.readline())
    w.send_all(t0)
    w.drain()
    say("drained")
    inp.readline()
    w.close_all()
    say(json.dumps(w.f))
    return 0


def send(a):
    n_per = (a.conns + a.workers - 1) // a.workers
    kids = []
    parent = os.getpid()

    def on_term(signum, frame):
        for pid, _, _ in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(1)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    for wid in range(a.workers):
        idxs = list(range(wid * n_per, min(a.conns, (wid + 1) * n_per)))
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(to_w)
            os.close(from_r)
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                rc = child(a, idxs, wid, to_r, from_w, parent)
            except Exception as e:     # reported by the parent as a death
                print("many: worker %d: %r" % (wid, e), file=sys.stderr)
                rc = 1
            os._exit(rc)
        os.close(to_r)
        os.close(from_w)
        kids.append((pid, os.fdopen(to_w, "w"), os.fdopen(from_r, "r")))

    def phase(name):
        with open(a.phase, "a") as f:
            f.write("%s %.3f\n" % (name, time.time()))

    def expect(word):
        for _, _, rd in kids:
            got = rd.readline().strip()
            if got != word:
                raise RuntimeError("a worker died before '%s'" % word)

    t_start = time.time()
    figures = {}
    rc = 0
    try:
        expect("connected")
        t_conn = time.time()
        phase("connected")
        t0 = time.time() + 0.5
        for _, wr, _ in kids:
            wr.write("%.6f\n" % t0)
            wr.flush()
        expect("drained")
        t_drained = time.time()
        phase("drained")
        deadline = time.time() + 60
        while not os.path.exists(a.phase + ".close") and time.time() < deadline:
            time.sleep(0.1)
        for _, wr, _ in kids:
            wr.write("close\n")
            wr.flush()
        for _, _, rd in kids:
            f = json.loads(rd.readline())
            for k, v in f.items():
                if k.endswith("_max_ms"):
                    figures[k] = max(figures.get(k, 0.0), v)
                else:
                    figures[k] = figures.get(k, 0) + v
        phase("closed")
        figures["connect_s"] = round(t_conn - t_start, 1)
        figures["send_s"] = round(t_drained - t_conn, 1)
    except (RuntimeError, ValueError) as e:
        print("many: %s" % e, file=sys.stderr)
        rc = 1
    # a worker still waiting for its next step reads the end of input
    for _, wr, _ in kids:
        try:
            wr.close()
        except OSError:
            pass
    for pid, _, _ in kids:
        _, st = os.waitpid(pid, 0)
        if st != 0:
            rc = 1
    figures["conns"] = a.conns
    figures["lines_planned"] = a.conns * a.lines
    for k in sorted(figures):
        v = figures[k]
        print("%s=%s" % (k, ("%.1f" % v) if isinstance(v, float) else v))
    return rc


# ---- judge --------------------------------------------------------------

LOGLINE = re.compile(r"^(\S*) \| (.*)$")
FIXED_WORDS = re.compile(r"\b(?:MANY|from|mail|call|end)\b|\bc\d{5} l\d+\b")


def residue(text, tag):
    """Bytes of TEXT that only an identifier can have brought: digits 1-9
    and letters other than x (the masked forms hold 0 and x only)."""
    text = FIXED_WORDS.sub("", text.replace(tag, ""))
    return sum(1 for c in text if c in "123456789" or (c.isalpha() and c != "x"))


def judge(a):
    nonce = nonce_of(a.tag)
    sources = a.sources.split(",")
    with open(a.originals, "w") as f:
        for i in range(a.conns):
            for j in range(a.lines):
                for o in identifiers(i * a.lines + j, nonce):
                    f.write(o + "\n")
        for s in sources:
            f.write(s + "\n")
    kinds = ["ipv4", "email", "phone"]
    c = {k: 0 for k in ["leaked_lines", "whole_originals", "duplicates", "garbled",
                        "garbled_residue", "unparsed", "other_diff", "wrong_fromhost"] +
         ["leaked_" + k for k in kinds]}
    got = set()
    head = re.compile(r"MANY %s c(\d{5}) l(\d+) " % re.escape(a.tag))
    for path in a.log:
        with open(path, errors="replace") as f:
            for row in f:
                row = row.rstrip("\n")
                at = row.find("MANY %s " % a.tag)
                if at < 0:
                    continue
                msg = row[at:]
                m = LOGLINE.match(row)
                k = head.match(msg)
                if not m or not k or int(k.group(1)) >= a.conns or \
                        int(k.group(2)) >= a.lines:
                    c["unparsed"] += 1
                    if residue(msg, a.tag):
                        c["garbled_residue"] += 1
                    continue
                i, j = int(k.group(1)), int(k.group(2))
                if (i, j) in got:
                    c["duplicates"] += 1
                    continue
                got.add((i, j))
                if m.group(1) != "%s.0" % sources[i % len(sources)].rsplit(".", 1)[0]:
                    c["wrong_fromhost"] += 1
                parts = body_parts(a.tag, i, j, a.lines, nonce)
                if len(msg) != sum(len(p) for p, _ in parts):
                    # bytes the client never sent (rsyslog writes a NUL
                    # as #000): judged by what only an identifier has
                    c["garbled"] += 1
                    if residue(msg[k.end():], a.tag):
                        c["garbled_residue"] += 1
                    continue
                pos, leak, n_ident = 0, False, 0
                for p, ident in parts:
                    r = msg[pos:pos + len(p)]
                    if ident:
                        if r == p:
                            c["whole_originals"] += 1
                        mp = mask(p)
                        if any(r[x] == p[x] != mp[x] for x in range(len(p))):
                            leak = True
                            c["leaked_" + kinds[n_ident]] += 1
                        elif r != mp:
                            c["other_diff"] += 1
                        n_ident += 1
                    elif r != p:
                        c["other_diff"] += 1
                    pos += len(p)
                if leak:
                    c["leaked_lines"] += 1
    c["received"] = len(got)
    c["expected"] = a.conns * a.lines
    c["conns_seen"] = len({i for i, _ in got})
    if a.pcap:
        c.update(capture_figures(a.pcap, nonce))
    for key in sorted(c):
        print("%s=%s" % (key, c[key]))
    return 0


def capture_figures(path, nonce):
    """How the capture's streams were cut: data segments sent for the
    first time, those ending inside a line, segments sent again; and the
    identifiers in the streams, those a first-time segment boundary
    falls inside of (cut)."""
    shapes = re.compile(rb"172\.1[1-9]{2}\.1[1-9]{2}\.1[1-9]{2}|" + nonce.encode() +
                        rb"[1-9]{7}@example\.org|\+1555[1-9]{7}|\+1 555 [1-9]{3} [1-9]{4}")
    out = {"sample_segments": 0, "sample_retransmitted": 0,
           "sample_ending_mid_line": 0, "sample_identifiers": 0,
           "sample_identifiers_cut": 0}
    try:
        f = open(path, "rb")
    except OSError:
        return out
    flows = {}                  # (address, port): [base, top, bytes, cuts]
    with f:
        head = f.read(24)
        if len(head) < 24:
            return out
        endian = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        linktype = struct.unpack(endian + "I", head[20:24])[0]
        l2 = 14 if linktype == 1 else 16 if linktype == 113 else 0
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            incl = struct.unpack(endian + "IIII", rec)[2]
            pkt = f.read(incl)
            if len(pkt) < incl:
                break
            ip = pkt[l2:]
            if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
                continue
            ihl = (ip[0] & 15) * 4
            tcp = ip[ihl:struct.unpack("!H", ip[2:4])[0]]
            if len(tcp) < 20:
                continue
            payload = tcp[(tcp[12] >> 4) * 4:]
            if not payload:
                continue
            seq = struct.unpack("!I", tcp[4:8])[0]
            fl = flows.setdefault((ip[12:16], tcp[0:2]), [seq, 0, {}, set()])
            rel = (seq - fl[0]) & 0xFFFFFFFF
            if rel >= 0x80000000:
                continue
            for n, b in enumerate(payload):
                fl[2].setdefault(rel + n, b)
            if rel < fl[1]:
                out["sample_retransmitted"] += 1
                continue
            fl[1] = rel + len(payload)
            fl[3].update((rel, rel + len(payload)))
            out["sample_segments"] += 1
            if not payload.endswith(b"\n"):
                out["sample_ending_mid_line"] += 1
    for _, _, data, cuts in flows.values():
        at = 0
        while at in data:
            run = bytearray()
            while at in data:
                run.append(data[at])
                at += 1
            start = at - len(run)
            for m in shapes.finditer(bytes(run)):
                out["sample_identifiers"] += 1
                a, b = start + m.start(), start + m.end()
                if any(x in cuts for x in range(a + 1, b)):
                    out["sample_identifiers_cut"] += 1
    return out


def main(argv):
    p = argparse.ArgumentParser(add_help=False)
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("send", add_help=False)
    s.add_argument("--server", required=True)
    s.add_argument("--ports", required=True)
    s.add_argument("--sources", required=True)
    s.add_argument("--conns", type=int, required=True)
    s.add_argument("--lines", type=int, required=True)
    s.add_argument("--tag", required=True)
    s.add_argument("--phase", required=True)
    s.add_argument("--workers", type=int, default=4)
    s.add_argument("--spread", type=float, default=30.0)
    s.add_argument("--gap", type=float, nargs=2, default=[5.0, 20.0])
    s.add_argument("--connect-rate", type=float, default=4000.0)
    s.add_argument("--late", type=float, default=30.0)
    s.add_argument("--drain", type=float, default=30.0)
    j = sub.add_parser("judge", add_help=False)
    j.add_argument("--tag", required=True)
    j.add_argument("--conns", type=int, required=True)
    j.add_argument("--lines", type=int, required=True)
    j.add_argument("--sources", required=True)
    j.add_argument("--originals", required=True)
    j.add_argument("--pcap")
    j.add_argument("log", nargs="+")
    try:
        a = p.parse_args(argv[1:])
    except SystemExit:
        print(__doc__, file=sys.stderr)
        return 2
    if a.cmd == "send":
        if a.conns * a.lines > 531441 or a.conns > 99999:
            print("many: at most 99999 connections, 531441 lines", file=sys.stderr)
            return 2
        return send(a)
    if a.cmd == "judge":
        return judge(a)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
