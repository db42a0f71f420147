#!/usr/bin/python3
"""traffic.py - numbered syslog traffic for tests/e2e/ops.sh, and the
judgement of what the collector received.

  traffic.py send --tag TAG --rate N --duration S --sends FILE
                  --text TEXT STREAM...
      Sends RFC 3164 lines "OPS TAG LABEL SEQ TEXT" to port 514 at N
      messages a second in all, shared evenly by the STREAMs, for S
      seconds (or until the file FILE.stop appears).  A STREAM is
      udp:HOST or tcp:HOST (HOST an IPv4 or IPv6 address); each has its
      own numbering from 0 and its own thread, so a TCP connection that
      stalls holds back only its own messages.  A TCP stream reconnects
      when the connection fails; messages it cannot write are not sent.
      LABEL names the stream without its address: u4, t4, u6, t6.
      Writes to FILE "stream LABEL" for each stream, one line per message
      sent: "LABEL SEQ UNIXTIME", then "end UNIXTIME".  Prints "sent=N".

  traffic.py judge --log FILE --sends FILE --tag TAG --event UNIXTIME
                   [--original TEXT]...
      Reads the collector's lines "RFC3339-TIME | FROMHOST | MSG" and
      prints key=value lines: per stream (s.LABEL.*) and in all, the
      messages sent, received (distinct numbers of TAG), the lines that
      hold an original (unredacted, counted over every line of the log,
      TAG or not), the longest silence at the collector from the event on
      (ms, arrival times as the collector wrote them) and whether the
      stream resumed (a message of it arrived in the last 0.5 s of
      sending); per protocol (udp.*, tcp.*) the longest silence of its
      streams and whether all of them resumed; masked_labels, the lines
      of TAG whose stream label is no stream's (a hold's end masked its
      digit).  Originals are never printed.

Exit: 0, or 2 on bad usage.
"""
import argparse
import datetime
import os
import re
import socket
import sys
import threading
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Stream(threading.Thread):
    def __init__(self, spec, tag, rate, until, stopfile, text):
        super().__init__(daemon=True)
        self.proto, self.host = spec.split(":", 1)
        # a label, not the address: addresses in the text are redacted
        self.label = self.proto[0] + ("6" if ":" in self.host else "4")
        self.tag, self.rate, self.until = tag, rate, until
        self.stopfile, self.text = stopfile, text
        self.sent = []          # (seq, time)
        self.sock = None

    def line(self, seq):
        msg = "OPS %s %s %d %s" % (self.tag, self.label, seq, self.text)
        return ("<14>Dec  7 12:00:00 client ops: %s\n" % msg).encode()

    def connect(self):
        s = socket.socket(family(self.host), socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect((self.host, 514))
        except OSError:
            s.close()
            return None
        s.settimeout(2)
        return s

    def send_one(self, seq):
        data = self.line(seq)
        if self.proto == "udp":
            try:
                self.sock.sendto(data, (self.host, 514))
                return True
            except OSError:
                return False
        if self.sock is None:
            self.sock = self.connect()
            if self.sock is None:
                return False
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.sock.close()
            self.sock = None
            return False

    def run(self):
        if self.proto == "udp":
            self.sock = socket.socket(family(self.host), socket.SOCK_DGRAM)
        t0 = time.time()
        due = 0
        seq = 0
        while True:
            now = time.time()
            if now >= self.until or os.path.exists(self.stopfile):
                break
            want = int((now - t0) * self.rate) + 1
            # after a stall, go on at the rate: no burst of the backlog
            if want - due > self.rate / 10:
                due = want - 1
            while due < want:
                if self.send_one(seq):
                    self.sent.append((seq, time.time()))
                seq += 1
                due += 1
            time.sleep(0.001)
        if self.sock is not None:
            self.sock.close()


def send(a):
    until = time.time() + a.duration
    per = a.rate / len(a.streams)
    streams = [Stream(s, a.tag, per, until, a.sends + ".stop", a.text)
               for s in a.streams]
    for s in streams:
        s.start()
    for s in streams:
        s.join()
    total = 0
    with open(a.sends, "w") as f:
        for s in streams:
            f.write("stream %s\n" % s.label)
            for seq, t in s.sent:
                f.write("%s %d %.6f\n" % (s.label, seq, t))
            total += len(s.sent)
        f.write("end %.6f\n" % time.time())
    print("sent=%d" % total)
    return 0


LINE = re.compile(r"^(\S+) \| (\S*) \| (.*)$")


def arrival(stamp):
    return datetime.datetime.fromisoformat(stamp).timestamp()


def judge(a):
    sent, last_sent, end = {}, {}, None
    with open(a.sends) as f:
        for row in f:
            parts = row.split()
            if parts[0] == "end":
                end = float(parts[1])
                continue
            if parts[0] == "stream":
                sent.setdefault(parts[1], 0)
                continue
            sent.setdefault(parts[0], 0)
            sent[parts[0]] += 1
            last_sent[parts[0]] = float(parts[2])
    mine = re.compile(r"OPS %s (\S+) (\d+) " % re.escape(a.tag))
    got, arrivals, unredacted, lines = {}, {}, 0, 0
    with open(a.log, errors="replace") as f:
        for row in f:
            lines += 1
            if any(o in row for o in a.original):
                unredacted += 1
            m = LINE.match(row.rstrip("\n"))
            if not m:
                continue
            k = mine.search(m.group(3))
            if not k:
                continue
            stream = k.group(1)
            got.setdefault(stream, set()).add(int(k.group(2)))
            arrivals.setdefault(stream, []).append(arrival(m.group(1)))
    if end is None:
        end = max(last_sent.values(), default=a.event)
    out = {"sent": sum(sent.values()), "unredacted": unredacted,
           "log_lines": lines}
    received = 0
    worst, resumed_all = 0.0, True
    by_proto, stopped = {}, set()
    # a label no stream has: a line whose label a hold's end masked
    # ("t4" cut off at a segment's end reads as a number's start)
    out["masked_labels"] = sum(len(v) for k, v in got.items() if k not in sent)
    for stream in sorted(sent):
        times = sorted(arrivals.get(stream, []))
        n = len(got.get(stream, ()))
        received += n
        # from the event (or the last arrival before it) to each arrival
        silence, prev = 0.0, None
        for t in times:
            if t >= a.event:
                base = a.event if prev is None else max(prev, a.event)
                silence = max(silence, t - base)
            prev = t
        # the stream's last message came well before sending ended
        tail_from = max(prev, a.event) if prev is not None else a.event
        resumed = prev is not None and prev >= min(end, last_sent.get(
            stream, end)) - 0.5 and prev >= a.event
        if not resumed:
            silence = max(silence, end - tail_from)
            resumed_all = False
        worst = max(worst, silence)
        proto = "udp" if stream[0] == "u" else "tcp"
        by_proto[proto] = max(by_proto.get(proto, 0.0), silence)
        if not resumed:
            stopped.add(proto)
        p = "s.%s." % stream
        out[p + "sent"] = sent.get(stream, 0)
        out[p + "received"] = n
        out[p + "silence_ms"] = int(silence * 1000)
        out[p + "resumed"] = "yes" if resumed else "no"
    out["received"] = received
    out["silence_ms"] = int(worst * 1000)
    for proto, silence in sorted(by_proto.items()):
        out[proto + ".silence_ms"] = int(silence * 1000)
        out[proto + ".resumed"] = "no" if proto in stopped else "yes"
    out["resumed"] = "yes" if resumed_all else "no"
    for k, v in out.items():
        print("%s=%s" % (k, v))
    return 0


def main():
    p = argparse.ArgumentParser(description="numbered syslog traffic")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--tag", required=True)
    s.add_argument("--rate", type=float, default=1000)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--sends", required=True)
    s.add_argument("--text", required=True)
    s.add_argument("streams", nargs="+")
    j = sub.add_parser("judge")
    j.add_argument("--log", required=True)
    j.add_argument("--sends", required=True)
    j.add_argument("--tag", required=True)
    j.add_argument("--event", type=float, required=True)
    j.add_argument("--original", action="append", default=[])
    a = p.parse_args()
    for spec in getattr(a, "streams", []):
        if not re.match(r"^(udp|tcp):[0-9a-fA-F.:]+$", spec):
            p.error("bad stream %r" % spec)
    return send(a) if a.cmd == "send" else judge(a)


if __name__ == "__main__":
    sys.exit(main())
