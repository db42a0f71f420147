#!/usr/bin/python3
"""Summarise the callgrind runs of bench/run-engine.sh as a table.

Usage: callgrind-summary.py PACKETS FULL.out NOREDACT.out NONE.out \
                             TCPREWRITE.out PKTANON.out

FULL is the dry-run with bench.policy, NOREDACT with address rules only,
NONE with a policy that covers nothing (pcap I/O and the tool itself).
Prints instructions per packet for each, the split of the FULL run into
the engine, the dry-run's own report scanning, pcap I/O and start-up,
and the functions with the most instructions of their own.
"""
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)(?: \[(.*)\])?$")


def annotate(path, inclusive):
    """{function: Ir} from callgrind_annotate.

    Exclusive costs of one function are summed over the files they are
    attributed to (code inlined from headers is listed apart).  Inclusive
    costs are listed once per file and once per object: take the largest.
    """
    args = ["callgrind_annotate", "--threshold=100", "--auto=no"]
    if inclusive:
        args.append("--inclusive=yes")
    text = subprocess.run(args + [path], check=True, capture_output=True,
                          text=True).stdout
    funcs, total = {}, 0
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        where = m.group(2).strip()
        if where == "PROGRAM TOTALS":
            total = ir
            continue
        fn = where.rsplit(":", 1)[-1]
        if inclusive:
            funcs[fn] = max(funcs.get(fn, 0), ir)
        else:
            funcs[fn] = funcs.get(fn, 0) + ir
    return total, funcs


def main():
    npk = int(sys.argv[1])
    full, noredact, none, tcprewrite, pktanon = sys.argv[2:7]
    runs = [("every detector (bench.policy)", full),
            ("address rules only (bench-noredact.policy)", noredact),
            ("nothing covered (I/O floor)", none)]
    totals = {}
    print(f"  {'dry-run with':44s} {'Ir/packet':>10s} {'engine_process':>15s}")
    for label, path in runs:
        total, incl = annotate(path, True)
        totals[path] = (total, incl)
        eng = incl.get("engine_process", 0)
        print(f"  {label:44s} {total / npk:10.0f} {eng / npk:15.0f}")

    others = {}
    for label, path in (("tcprewrite --seed --fixcsum", tcprewrite),
                        ("pktanon (keyed hash of addresses)", pktanon)):
        others[label] = annotate(path, False)[0]
        print(f"  {label:44s} {others[label] / npk:10.0f}")
    # start-up (tables, crypto libraries) is in every figure above; for
    # tools with a heavy start it dominates a short slice, so these rows
    # are no per-packet ratio: the timed runs are
    print("  (whole runs including start-up; compare the timed runs above)")

    total, incl = totals[full]
    parts = [
        ("engine_process (what the daemon runs)", incl.get("engine_process", 0)),
        ("engine_scan (dry-run report: ids in and out)", incl.get("engine_scan", 0)),
        ("pcap_next_ex (read)", incl.get("pcap_next_ex", 0)),
        ("pcap_dump (write)", incl.get("pcap_dump", 0)),
        ("policy_load (start-up, once)", incl.get("policy_load", 0)),
    ]
    print()
    print("  split of the bench.policy run (inclusive)       Ir/packet   share")
    for label, ir in parts:
        print(f"  {label:46s} {ir / npk:10.0f} {100.0 * ir / total:6.1f}%")

    _, excl = annotate(full, False)
    print()
    print("  top functions of the bench.policy run (self)     Ir/packet   share")
    for fn, ir in sorted(excl.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {fn[:46]:46s} {ir / npk:10.0f} {100.0 * ir / total:6.1f}%")


if __name__ == "__main__":
    main()
