#!/bin/bash
# run.sh — the recall corpus: marked cases through the detectors and the
# engine (recall-runner), the false-positive corpus, and real log lines
# through `nfredact dry-run` (real.py).
#
# usage: tests/recall/run.sh [RUNNER-OPTION...]   (B= build directory)
#   RECALL_STRICT=0   report only: exit 0 whatever fails
# Exit: 0 when no case fails other than those in xfail.txt, 1 otherwise,
# 77 when the runner is not built.
set -u

here=$(cd "$(dirname "$0")" && pwd)
B=${B:-build}
RUNNER=${RUNNER:-$B/tests/recall-runner}

if [ ! -x "$RUNNER" ]; then
	echo "recall: $RUNNER not built (make $B/tests/recall-runner)"
	exit 77
fi
rc=0
"$RUNNER" -x "$here/xfail.txt" -a "$here/ambiguous.tsv" \
	-a "$here/framing-ambiguous.tsv" -p "$here/fp-corpus.txt" "$@" \
	"$here"/cases/*.tsv "$here/framing.tsv" || rc=1
if [ -x "$B/nfredact" ] && [ -x /usr/bin/python3 ]; then
	/usr/bin/python3 "$here/real.py" --nfredact "$B/nfredact" "$here/real" || rc=1
else
	echo "recall: real logs skipped ($B/nfredact or python3 missing)"
fi
[ "${RECALL_STRICT:-1}" = 0 ] && exit 0
exit $rc
