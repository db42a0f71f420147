#!/bin/bash
# run.sh — the every-offset stream suite (doc/design.md §10): the TCP
# conversations of the replay cases below, cut at every byte offset and
# at random, with duplicated, retransmitted and reordered segments; the
# server must get the same bytes as from the unsplit conversation.
#
# usage: tests/replay/stream/run.sh [CASE...]   (B= build directory)
set -u

here=$(cd "$(dirname "$0")" && pwd)
B=${B:-build}
NFREDACT=${NFREDACT:-$B/nfredact}
case $NFREDACT in /*) ;; *) NFREDACT=$PWD/$NFREDACT ;; esac
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

if [ ! -x "$NFREDACT" ]; then
	echo "stream: $NFREDACT not built"
	exit 77
fi
if [ $# -gt 0 ]; then
	cases=("$@")
else
	cases=(smtp smtp-intl mqtt-email-clientid mqtt-frame syslog-tcp-octet http-xff http-frame proxy-v1 proxy-fields sip-headers)
fi

passed=0 failed=0
for name in "${cases[@]}"; do
	work=$(mktemp -d "${TMPDIR:-/tmp}/stream-$name.XXXXXX") || exit 1
	if out=$("$PY" "$here/stream.py" "$here/../$name" "$work" "$NFREDACT" 2>&1); then
		printf 'ok   %s\n' "$(tail -n1 <<<"$out")"
		passed=$((passed + 1))
		[ "${KEEP:-0}" = 1 ] || rm -rf "$work"
	else
		printf 'FAIL %s: %s (see %s)\n' "$name" "$(tail -n1 <<<"$out")" "$work"
		failed=$((failed + 1))
	fi
done
echo "stream: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
