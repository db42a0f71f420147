#!/bin/bash
# Run every test suite the machine allows; print one closing summary line.
# Usage: tests/run-all.sh UNIT_BINARY...   (B= the build directory)
set -u
B=${B:-build}
export B
passed=0 failed=0 skipped=0
failures=()

suite() {
	local name=$1; shift
	echo "== $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		local rc=$?
		if [ "$rc" -eq 77 ]; then
			skipped=$((skipped + 1))
			echo "   (skipped)"
		else
			failed=$((failed + 1))
			failures+=("$name")
		fi
	fi
}

for t in "$@"; do
	suite "unit $(basename "$t")" "$t"
done
for s in tests/fuzz/regress.sh tests/policy/run.sh tests/replay/run.sh tests/replay/stream/run.sh tests/dryrun/run.sh tests/recall/run.sh tests/tools/run.sh tests/e2e/run.sh tests/e2e/ops.sh tests/e2e/many.sh tests/e2e/ratchet.sh tests/e2e/frame.sh; do
	[ -x "$s" ] && suite "${s%/run.sh}" "$s"
done

echo
[ ${#failures[@]} -gt 0 ] && printf 'FAILED: %s\n' "${failures[@]}"
echo "suites: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
