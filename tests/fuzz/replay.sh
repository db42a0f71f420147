#!/bin/bash
# Replay saved inputs through a fuzz target, each in a process of its own.
# Usage: tests/fuzz/replay.sh BINARY INPUT_OR_DIR...
#
# BINARY is a libFuzzer target (build-fuzz/fuzz_*) or a replay program
# ($B/tests/fuzz_*-replay).  A directory's KNOWN file names inputs, one
# a line with what they show after the name ('#' starts a comment), that
# reproduce a finding not fixed yet: they run and are reported, and do
# not fail the replay.  The fix takes the line out.
# Exit status: 0, or 1 when any other input fails.
set -u
bin=$1
shift
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
n=0 bad=0 known=0

known_names() {
	[ -f "$1" ] && awk '!/^[[:space:]]*#/ && NF { print $1 }' "$1"
}

for arg; do
	if [ -d "$arg" ]; then
		files=("$arg"/*)
		kf=$arg/KNOWN
	else
		files=("$arg")
		kf=$(dirname "$arg")/KNOWN
	fi
	kn=$(known_names "$kf")
	for f in "${files[@]}"; do
		base=$(basename "$f")
		[ -f "$f" ] && [ "$base" != KNOWN ] || continue
		n=$((n + 1))
		is_known=false
		grep -qxF -- "$base" <<<"$kn" && is_known=true
		# a known hang need not hold make check up long
		timeout "$($is_known && echo 10 || echo 300)" "$bin" "$f" \
			>"$log" 2>&1
		rc=$?
		[ $rc -eq 124 ] && echo "timed out: a hang" >>"$log"
		if [ $rc -eq 0 ]; then
			$is_known &&
				echo "  known finding does not fail in this build:" \
				     "$f (once it passes with SANITIZE=1 too," \
				     "take it out of $kf)"
			continue
		fi
		if $is_known; then
			known=$((known + 1))
			echo "  known finding, not fixed yet: $f"
			grep -m 3 -E 'runtime error|ERROR: AddressSanitizer|invariant failed|timed out' "$log" |
				sed 's/^/    /'
			continue
		fi
		bad=$((bad + 1))
		echo "FAIL $f"
		grep -E 'runtime error|ERROR|invariant failed|SUMMARY|timed out' "$log" |
			head -n 10
		tail -n 30 "$log"
	done
done
echo "  $(basename "$bin"): $n inputs replayed, $bad failing," \
     "$known known finding(s) failing"
[ "$bad" -eq 0 ]
