#!/usr/bin/env python3
"""
mkfp.py — write tests/recall/fp-corpus.txt, the false-positive corpus:
the hand-written prose of fp-prose.txt, then lines of things that are no
identifier of the five kinds, in the formats programs print them:
timestamps, durations, dates, version strings, hashes, UUIDs, sizes,
counters, percentages and signed numbers.  Seeded: the same file each run.

    tests/recall/mkfp.py tests/recall
"""

import hashlib
import random
import sys
import uuid


def lines(rnd):
    out = []
    for _ in range(30):
        h, m, s = rnd.randrange(24), rnd.randrange(60), rnd.randrange(60)
        us = rnd.randrange(1000000)
        d, mo, y = rnd.randrange(1, 29), rnd.randrange(1, 13), rnd.randrange(2015, 2031)
        out.append("%02d:%02d:%02d.%06d job %d finished" % (h, m, s, us, rnd.randrange(1000)))
        out.append("%02d.%02d.%02d.%06d INFO step %d done" % (h, m, s, us, rnd.randrange(100)))
        out.append("%04d-%02d-%02dT%02d:%02d:%02d.%03d+%02d:00 worker started" %
                   (y, mo, d, h, m, s, us // 1000, rnd.randrange(13)))
        out.append("took %d.%03d s (%d.%d%% of budget)" %
                   (rnd.randrange(100), rnd.randrange(1000), rnd.randrange(100), rnd.randrange(10)))
        out.append("%02d.%02d.%04d %02d:%02d Termin bestätigt" % (d, mo, y, h, m))
        out.append("release %d.%d.%d-%s built on %d/%d/%d" %
                   (rnd.randrange(10), rnd.randrange(40), rnd.randrange(200),
                    rnd.choice(["rc1", "beta2", "alpha", "dev"]), mo, d, y))
        out.append("sha256 %s" % hashlib.sha256(rnd.randbytes(16)).hexdigest())
        out.append("object %s stored" % hashlib.sha1(rnd.randbytes(16)).hexdigest())
        out.append("trace-id %s span %s" % (uuid.UUID(bytes=rnd.randbytes(16), version=4),
                                             rnd.randbytes(8).hex()))
        out.append("mem %d.%dGi used, %d.%dGi free, swap %dMi" %
                   (rnd.randrange(64), rnd.randrange(10), rnd.randrange(64),
                    rnd.randrange(10), rnd.randrange(4096)))
        out.append("uptime %d days, %d:%02d, load average: %d.%02d, %d.%02d, %d.%02d" %
                   (rnd.randrange(400), h, m, rnd.randrange(8), rnd.randrange(100),
                    rnd.randrange(8), rnd.randrange(100), rnd.randrange(8), rnd.randrange(100)))
        out.append("[%d.%06d] eth0: link up, %d Mbps, full duplex" %
                   (rnd.randrange(100000), us, rnd.choice([100, 1000, 2500, 10000])))
        out.append("delta +%d.%d%% since %04d-%02d-%02d, %+d items" %
                   (rnd.randrange(100), rnd.randrange(10), y, mo, d, rnd.randrange(-500, 500)))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mkfp.py DIR")
    d = sys.argv[1]
    rnd = random.Random(20261207)
    with open(d + "/fp-prose.txt", encoding="utf-8") as f:
        prose = f.read()
    with open(d + "/fp-corpus.txt", "w", encoding="utf-8") as f:
        f.write(prose)
        for line in lines(rnd):
            f.write(line + "\n")


if __name__ == "__main__":
    main()
