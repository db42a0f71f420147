#!/usr/bin/python3
"""Instructions per packet of checksum verification, from callgrind runs
of csum-bench (bench/run-csum.sh), next to the engine's own figure.

Usage: csum-summary.py ENGINE.out SLICE_PACKETS NAME=CSUM.out:PACKETS...

ENGINE.out is the callgrind run of the dry-run with bench.policy on the
slice of SLICE_PACKETS packets; each NAME=CSUM.out:PACKETS a callgrind run
of csum-bench whose round had PACKETS packets.  Prints, for each case,
csum_l4_verify()'s inclusive instructions per packet and their ratio to
engine_process()'s per packet of the slice.
"""
import importlib.util
import os
import sys


def load_annotate():
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "callgrind_summary", os.path.join(here, "callgrind-summary.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.annotate


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    annotate = load_annotate()
    engine_out, nslice = sys.argv[1], int(sys.argv[2])
    _, incl = annotate(engine_out, True)
    engine = incl.get("engine_process", 0) / nslice
    print(f"  {'csum_l4_verify() on':44s} {'Ir/packet':>10s} {'/ engine':>9s}")
    for arg in sys.argv[3:]:
        name, rest = arg.split("=", 1)
        path, npk = rest.rsplit(":", 1)
        _, cincl = annotate(path, True)
        ir = cincl.get("csum_l4_verify", 0) / int(npk)
        ratio = f"{100.0 * ir / engine:8.1f}%" if engine else "       -"
        print(f"  {name:44s} {ir:10.0f} {ratio}")
    print(f"  {'engine_process (bench.policy, slice)':44s} {engine:10.0f}")
    print("  (/ engine: share of engine_process's instructions per packet"
          " of the slice)")


if __name__ == "__main__":
    main()
