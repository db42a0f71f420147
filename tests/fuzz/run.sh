#!/bin/bash
# Run one libFuzzer target: replay its saved reproducers (tests/fuzz/
# replay.sh: those of findings not fixed yet, named in KNOWN, do not
# stop it), then fuzz it.
# Usage: tests/fuzz/run.sh BINARY NAME SECONDS [JOBS]
# Exit status: 0, or 1 when a reproducer or the fuzzing run crashed.
set -u
bin=$1 name=$2 secs=$3 jobs=${4:-1}
here=$(dirname "$0")
work=build-fuzz/corpus/$name
art=build-fuzz/artifacts/$name/
mkdir -p "$work" "$art"

# A crash-free run must not be taken for a leak-free one.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ -d "$here/regress/$name" ]; then
	echo "  REPLAY  $name"
	if ! "$here/replay.sh" "$bin" "$here/regress/$name"; then
		echo "FAIL $name: a saved reproducer fails"
		exit 1
	fi
fi

dict=()
[ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
seeds=()
[ -d "$here/corpus/$name" ] && seeds=("$here/corpus/$name")

echo "  FUZZ    $name for ${secs}s"
log=build-fuzz/$name.log
if [ "$jobs" -gt 1 ]; then
	par=(-jobs="$jobs" -workers="$jobs")
else
	par=()
fi
"$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$art" \
	"${dict[@]}" "${par[@]}" "$work" "${seeds[@]}" >"$log" 2>&1
rc=$?
grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$log" |
	sed "s/^/          /"
if [ $rc -ne 0 ]; then
	grep -E 'ERROR|SUMMARY|invariant|Test unit written' "$log" | head -n 20
	echo "FAIL $name (log: $log; inputs in $art)"
	exit 1
fi
echo "  OK      $name: $(ls "$work" | wc -l) inputs in the working corpus"
