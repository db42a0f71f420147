#!/bin/bash
# run-engine.sh — the engine benchmark behind `make bench`.
#
# On one generated capture (bench/gen-capture.c): nfredact dry-run with
# every detector on (bench/bench.policy), tcprewrite rewriting every
# packet's addresses with checksum fixes, and pktanon hashing every
# address (bench/pktanon-profile.xml); each writes its output pcap to
# the same disk.  The three run interleaved BENCH_RUNS times; the median
# wall time gives packets/s.  Then callgrind counts instructions per
# packet of the dry-run on a small slice, for a stable breakdown.
#
# Usage: bench/run-engine.sh NFREDACT CAPTURE SLICE OUTDIR
# Environment: BENCH_RUNS (3), BENCH_CALLGRIND (1), BENCH_KEEP (0: delete
# the output pcaps at the end)
#
# The dry-run runs the engine on one thread and its residual check (the
# report's scan of what went in and what came out) on a second one;
# tcprewrite and pktanon use one.  The table shows wall time and CPU time,
# so both comparisons can be read.
set -eu

nfredact=$1 capture=$2 slice=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
runs=${BENCH_RUNS:-3}
mkdir -p "$out"

for tool in tcprewrite pktanon valgrind callgrind_annotate; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench: $tool is missing; run 'make deps-extra'" >&2
		exit 1
	fi
done

count_packets() {
	# pcap record headers walked with od would be slow; the generator
	# prints the count, and capinfos is not always there: count with python
	/usr/bin/python3 - "$1" <<'EOF'
import struct, sys
n = 0
with open(sys.argv[1], "rb") as f:
    hdr = f.read(24)
    end = "<" if hdr[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    while True:
        h = f.read(16)
        if len(h) < 16:
            break
        f.seek(struct.unpack(end + "IIII", h)[2], 1)
        n += 1
print(n)
EOF
}

npk=$(count_packets "$capture")
nslice=$(count_packets "$slice")
size_mb=$(( $(stat -c %s "$capture") / 1048576 ))

# ---- wall-clock runs ---------------------------------------------------

run_nfredact() {
	local rc=0

	# exit status 3 (residual identifiers) is a result, not a failure:
	# without a key file the key is random, and a token may then equal
	# another identifier of the capture by chance; the report says so
	"$nfredact" dry-run "$here/bench.policy" "$capture" \
		-w "$out/out-nfredact.pcap" --quiet >"$out/report-nfredact.txt" || rc=$?
	[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]
}
run_tcprewrite() {
	# --seed rewrites the source and destination of every IPv4/IPv6
	# packet; --fixcsum recomputes the checksums
	tcprewrite --infile="$capture" --outfile="$out/out-tcprewrite.pcap" \
		--seed=42 --fixcsum >/dev/null 2>&1
}
run_pktanon() {
	pktanon -q -s 65535 -c "$here/pktanon-profile.xml" "$capture" \
		"$out/out-pktanon.pcap" >/dev/null 2>&1
}

calc() {
	awk "BEGIN { print ($1) }"
}

TIMEFORMAT='%3R %3U %3S'
declare -A wall cpu
tools=(nfredact tcprewrite pktanon)
echo "engine benchmark: $npk packets, $size_mb MiB ($capture), $runs runs each, interleaved"
for ((i = 1; i <= runs; i++)); do
	for t in "${tools[@]}"; do
		if ! { time "run_$t" ; } 2>"$out/time.$t.$i"; then
			echo "bench: $t failed (run $i)" >&2
			cat "$out/time.$t.$i" >&2
			exit 1
		fi
		read -r r u s <"$out/time.$t.$i"
		wall[$t]+="$r "
		cpu[$t]+="$(calc "$u + $s") "
		printf '  run %d %-10s %8.3f s\n' "$i" "$t" "$r"
	done
done

median() {
	tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
printf '%-11s %10s %12s %12s %12s\n' tool "median s" "packets/s" "cpu s" "pkts/cpu-s"
declare -A pps
for t in "${tools[@]}"; do
	m=$(median "${wall[$t]}")
	c=$(median "${cpu[$t]}")
	pps[$t]=$(calc "int($npk / $m)")
	printf '%-11s %10.3f %12d %12.3f %12d\n' "$t" "$m" "${pps[$t]}" "$c" \
		"$(calc "int($npk / $c)")"
done
echo
r1=$(calc "sprintf(\"%.2f\", ${pps[nfredact]} / ${pps[tcprewrite]})")
r2=$(calc "sprintf(\"%.2f\", ${pps[nfredact]} / ${pps[pktanon]})")
goal=$(calc "$r1 >= 3")
printf 'ratio nfredact/tcprewrite  %6s   (goal >= 3: %s)\n' "$r1" \
	"$([ "$goal" = 1 ] && echo met || echo NOT met)"
printf 'ratio nfredact/pktanon     %6s\n' "$r2"
echo "(nfredact: 2 threads, engine and residual check; tcprewrite, pktanon: 1)"
printf 'nfredact report, last run: %s\n' \
	"$(tail -n1 "$out/report-nfredact.txt")"

if [ "${BENCH_KEEP:-0}" != 1 ]; then
	rm -f "$out"/out-nfredact.pcap "$out"/out-tcprewrite.pcap "$out"/out-pktanon.pcap
fi

[ "${BENCH_CALLGRIND:-1}" = 1 ] || exit 0

# ---- instructions per packet -------------------------------------------

# A policy that covers no packet of the capture: pcap I/O and the tool's
# own work only, the floor under the other two.
printf 'service none {\n\tlisten udp 9\n}\n' >"$out/bench-none.policy"

echo
echo "instructions per packet (callgrind, $nslice-packet slice $slice)"
for p in "$here/bench.policy" "$here/bench-noredact.policy" "$out/bench-none.policy"; do
	name=$(basename "$p" .policy)
	valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$name.out" \
		"$nfredact" dry-run "$p" "$slice" -w /dev/null --quiet \
		>/dev/null 2>"$out/callgrind.$name.log" || {
		echo "bench: callgrind run with $name failed" >&2
		tail "$out/callgrind.$name.log" >&2
		exit 1
	}
done
# the other two tools on the same slice, for an instruction-count ratio
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.tcprewrite.out" \
	tcprewrite --infile="$slice" --outfile="$out/slice-tcprewrite.pcap" \
	--seed=42 --fixcsum >/dev/null 2>&1
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.pktanon.out" \
	pktanon -q -s 65535 -c "$here/pktanon-profile.xml" "$slice" \
	"$out/slice-pktanon.pcap" >/dev/null 2>&1
rm -f "$out/slice-tcprewrite.pcap" "$out/slice-pktanon.pcap"
/usr/bin/python3 "$here/callgrind-summary.py" "$nslice" \
	"$out/callgrind.bench.out" "$out/callgrind.bench-noredact.out" \
	"$out/callgrind.bench-none.out" "$out/callgrind.tcprewrite.out" \
	"$out/callgrind.pktanon.out"
