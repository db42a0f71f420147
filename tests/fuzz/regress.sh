#!/bin/bash
# make check: every fuzz target's saved reproducers (tests/fuzz/regress/)
# and seed corpus (tests/fuzz/corpus/) through its replay program
# ($B/tests/fuzz_*-replay: the project's compiler and flags, sanitizers
# with SANITIZE=1, no libFuzzer).
# Usage: tests/fuzz/regress.sh      (B= the build directory)
set -u
B=${B:-build}
here=$(dirname "$0")
rc=0
for src in "$here"/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin=$B/tests/$name-replay
	if [ ! -x "$bin" ]; then
		echo "FAIL $name: no $bin (make fuzz-replay)"
		rc=1
		continue
	fi
	dirs=()
	for d in "$here/regress/$name" "$here/corpus/$name"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	[ ${#dirs[@]} -gt 0 ] || continue
	"$here/replay.sh" "$bin" "${dirs[@]}" || rc=1
done
exit $rc
