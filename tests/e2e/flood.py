#!/usr/bin/python3
"""flood.py - a flood of new UDP flows for tests/e2e/ops.sh: each
datagram goes out of a socket of its own, so from a source port of its
own, and each is a syslog line "FLOOD TAG N TEXT" with identifiers in
TEXT.  A filter whose flow table is full must drop what does not fit,
never pass it unredacted.

  flood.py HOST PORT RATE SECONDS TAG TEXT

Prints "flows=N" (datagrams sent).  Exit: 0, or 2 on bad usage.
"""
import socket
import sys
import time


def main(argv):
    if len(argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, rate, secs = argv[1], int(argv[2]), float(argv[3]), float(argv[4])
    tag, text = argv[5], argv[6]
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    t0 = time.time()
    n = 0
    while time.time() - t0 < secs:
        want = int((time.time() - t0) * rate) + 1
        while n < want:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            line = "<14>Dec  7 12:00:00 client flood: FLOOD %s %d %s\n" % (tag, n, text)
            try:
                s.sendto(line.encode(), (host, port))
            except OSError:
                pass
            s.close()
            n += 1
        time.sleep(0.001)
    print("flows=%d" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
