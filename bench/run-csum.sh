#!/bin/bash
# run-csum.sh — what verifying TCP/UDP checksums (csum_l4_verify()) costs
# per packet, next to the engine: the checksum part of `make bench`, and
# `make bench-csum` alone.
#
# Timed: nfredact dry-run with bench/bench.policy on the capture, and
# bench/csum-bench verifying made 1500- and 100-byte TCP segments (IPv4,
# IPv6) and the TCP/UDP packets of the slice, run interleaved BENCH_RUNS
# times in this one session (times vary from minute to minute; their
# ratio less).  Then callgrind counts instructions per packet of the
# verification, and of engine_process() on the slice.
#
# Usage: bench/run-csum.sh NFREDACT CSUM_BENCH CAPTURE SLICE OUTDIR
# Environment: BENCH_RUNS (3), BENCH_CALLGRIND (1)
set -eu

nfredact=$1 csum_bench=$2 capture=$3 slice=$4 out=$5
here=$(cd "$(dirname "$0")" && pwd)
runs=${BENCH_RUNS:-3}
cases=(v4-tcp-1500 v4-tcp-100 v6-tcp-1500 v6-tcp-100)
mkdir -p "$out"

calc() {
	awk "BEGIN { print ($1) }"
}
median() {
	tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# field NAME of the csum-bench output line of case CASE
field() {
	awk -v c="$1" -v f="$2" '$1 == c {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$3"
}

npk=$(/usr/bin/python3 - "$capture" <<'EOF'
import struct, sys
n = 0
with open(sys.argv[1], "rb") as f:
    end = "<" if f.read(24)[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    while True:
        h = f.read(16)
        if len(h) < 16:
            break
        f.seek(struct.unpack(end + "IIII", h)[2], 1)
        n += 1
print(n)
EOF
)
slice_name=$(basename "$slice")
all=("${cases[@]}" "$slice_name")

# ---- wall-clock runs ---------------------------------------------------

TIMEFORMAT='%3R'
echo
echo "checksum verification: csum_l4_verify(), $runs runs interleaved with nfredact dry-run ($npk packets)"
declare -A pps
dry=
for ((i = 1; i <= runs; i++)); do
	rc=0
	{ time "$nfredact" dry-run "$here/bench.policy" "$capture" \
		-w "$out/out-csum-dryrun.pcap" --quiet >/dev/null ; } \
		2>"$out/time.csum-dryrun.$i" || rc=$?
	# 3: residual identifiers by chance of a random key (run-engine.sh)
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
		echo "bench: nfredact dry-run failed (run $i)" >&2
		cat "$out/time.csum-dryrun.$i" >&2
		exit 1
	fi
	r=$(tail -n1 "$out/time.csum-dryrun.$i")
	dry+="$r "
	"$csum_bench" "${cases[@]}" "$slice" >"$out/csum-bench.$i.txt"
	printf '  run %d %-12s %8.3f s' "$i" dry-run "$r"
	for c in "${all[@]}"; do
		v=$(field "$c" packets/s "$out/csum-bench.$i.txt")
		pps[$c]+="$v "
	done
	printf '   verify %s %s pkt/s, %s %s pkt/s\n' "${cases[0]}" \
		"$(field "${cases[0]}" packets/s "$out/csum-bench.$i.txt")" \
		"$slice_name" "$(field "$slice_name" packets/s "$out/csum-bench.$i.txt")"
done
rm -f "$out/out-csum-dryrun.pcap"

m=$(median "$dry")
dry_pps=$(calc "int($npk / $m)")
echo
printf '  %-28s %12s %12s %10s\n' "verified" "packets/s" "ns/packet" "/ dry-run"
for c in "${all[@]}"; do
	p=$(median "${pps[$c]}")
	printf '  %-28s %12d %12.1f %9.1f%%\n' "$c" "$p" "$(calc "1e9 / $p")" \
		"$(calc "100 * $dry_pps / $p")"
done
printf '  %-28s %12d %12.1f\n' "nfredact dry-run (whole)" "$dry_pps" "$(calc "1e9 / $dry_pps")"
echo "  (/ dry-run: the verification's time per packet over the dry-run's;"
echo "   $slice_name: per packet of the slice, its TCP and UDP ones verified)"

[ "${BENCH_CALLGRIND:-1}" = 1 ] || exit 0

# ---- instructions per packet -------------------------------------------

if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
	echo "bench: valgrind is missing; run 'make deps-extra'" >&2
	exit 1
fi
echo
echo "instructions per packet (callgrind)"
args=()
for c in "${all[@]}"; do
	if [ "$c" = "$slice_name" ]; then
		set -- -n 1 -r 1 "$slice"
	else
		set -- -n 10000 -r 1 "$c"
	fi
	valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.csum.$c.out" \
		"$csum_bench" "$@" >"$out/csum-bench.callgrind.$c.txt" \
		2>"$out/callgrind.csum.$c.log" || {
		echo "bench: callgrind run of csum-bench $c failed" >&2
		tail "$out/callgrind.csum.$c.log" >&2
		exit 1
	}
	args+=("$c=$out/callgrind.csum.$c.out:$(field "$c" packets "$out/csum-bench.callgrind.$c.txt")")
done
# the engine's figure on the slice: run-engine.sh's run when there is a
# fresh one
engine_out=$out/callgrind.bench.out
if ! [ -s "$engine_out" ] || [ "$engine_out" -ot "$nfredact" ] ||
   [ "$engine_out" -ot "$slice" ]; then
	engine_out=$out/callgrind.csum-engine.out
	valgrind --tool=callgrind --callgrind-out-file="$engine_out" \
		"$nfredact" dry-run "$here/bench.policy" "$slice" -w /dev/null --quiet \
		>/dev/null 2>"$out/callgrind.csum-engine.log" || {
		echo "bench: callgrind run of the dry-run failed" >&2
		tail "$out/callgrind.csum-engine.log" >&2
		exit 1
	}
fi
nslice=$(field "$slice_name" packets "$out/csum-bench.callgrind.$slice_name.txt")
/usr/bin/python3 "$here/csum-summary.py" "$engine_out" "$nslice" "${args[@]}"
