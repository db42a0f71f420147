#!/bin/bash
# relaxed-cost.sh — what `redact email ... relaxed` costs in false
# positives: every replay case's input capture (server side) and any text
# files given go through `nfredact dry-run` twice, with a strict and with a
# relaxed email rule in every service (the case's own email rules replaced,
# one added where it has none), and the email hits are counted.  Text
# files go in as one UDP datagram per line to a service on port 514.
#
# Relaxed finds all strict finds, so the extra hits are what it adds:
# false positives and the relaxed forms proper (user@host), which tell
# apart only by reading them.  Nothing matched is printed, only counts.
#
# usage: tests/replay/relaxed-cost.sh [TEXT...]   (B= build directory)
#
# The figure in README.md was taken on Debian text (it depends on the
# packages installed):
#   cat /usr/share/common-licenses/* >licenses.txt
#   for f in $(ls /usr/share/man/man1/*.1.gz | head -400); do zcat "$f"; done >man1.txt
#   for f in /usr/share/doc/*/README*; do case $f in *.gz) zcat "$f" ;;
#       *) [ -f "$f" ] && cat "$f" ;; esac; done >readmes.txt
#   cat /usr/share/doc/*/copyright | head -c 3000000 >copyright.txt
#   for f in $(ls /usr/share/doc/*/changelog.Debian.gz | head -300); do
#       zcat "$f"; done | head -c 3000000 >changelog.txt
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-build}
NFREDACT=${NFREDACT:-$B/nfredact}
case $NFREDACT in /*) ;; *) NFREDACT=$PWD/$NFREDACT ;; esac
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

[ -x "$NFREDACT" ] || { echo "relaxed-cost: $NFREDACT not built"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/relaxed-cost.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# with_email POLICY OPT: the policy with `redact email mask OPT` first in
# every service instead of its own email rules
with_email() {
	"$PY" - "$1" "$2" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"(?m)^[ \t]*redact[ \t]+email\b[^\n;]*$", "", text)
rule = "\n\tredact email mask %s\n" % sys.argv[2]
print(re.sub(r"(service[ \t]+[^{\s]+[ \t]*\{)", lambda m: m.group(1) + rule, text))
PYEOF
}

# hits JSON: "email hits, distinct email identifiers"
hits() {
	"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(s.get("detectors", {}).get("email", 0) for s in d["services"]),
      d.get("distinct_by_detector", {}).get("email", 0))' "$1"
}

# measure NAME POLICY PCAP [KEY]
tot_s=0 tot_r=0 dist_s=0 dist_r=0
measure() {
	local name=$1 pol=$2 pcap=$3 w=$tmp/$1 s r
	mkdir -p "$w"
	[ -n "${4:-}" ] && cp "$4" "$w/" && chmod 600 "$w/$(basename "$4")"
	with_email "$pol" "" >"$w/strict.conf"
	with_email "$pol" relaxed >"$w/relaxed.conf"
	"$NFREDACT" dry-run "$w/strict.conf" "$pcap" --json >"$w/s.json" 2>/dev/null
	"$NFREDACT" dry-run "$w/relaxed.conf" "$pcap" --json >"$w/r.json" 2>/dev/null
	if ! s=$(hits "$w/s.json" 2>/dev/null) || ! r=$(hits "$w/r.json" 2>/dev/null); then
		printf '%-28s dry-run failed\n' "$name"
		return
	fi
	set -- $s $r
	printf '%-28s strict %5d hits %4d distinct   relaxed %5d hits %4d distinct   extra %d\n' \
		"$name" "$1" "$2" "$3" "$4" $(($3 - $1))
	tot_s=$((tot_s + $1)) tot_r=$((tot_r + $3))
	dist_s=$((dist_s + $2)) dist_r=$((dist_r + $4))
}

for d in "$here"/*/; do
	[ -f "$d/make.py" ] || continue
	name=$(basename "$d")
	mkdir -p "$tmp/$name"
	REPLAY_SIDE=server "$PY" "$d/make.py" "$tmp/$name" >/dev/null 2>&1 ||
		{ printf '%-28s make.py failed\n' "$name"; continue; }
	measure "$name" "$d/policy.conf" "$tmp/$name/input.pcap" \
		"$( [ -f "$d/key.bin" ] && echo "$d/key.bin")"
done

for f in "$@"; do
	name=text-$(basename "$f")
	mkdir -p "$tmp/$name"
	printf 'service text {\n\tlisten udp 514\n}\n' >"$tmp/$name/text.conf"
	"$PY" -c '
import sys
sys.path.insert(0, sys.argv[3])
from replaylib import T0_US, ether, ip_layer, UDP, Raw, raw, write_pcap
recs = []
with open(sys.argv[1], "rb") as f:
    for k, line in enumerate(f):
        for off in range(0, len(line), 1400):
            p = ether(True) / ip_layer("192.0.2.9", "198.51.100.1") / \
                UDP(sport=40000, dport=514) / Raw(line[off:off + 1400])
            recs.append((T0_US + 1000 * len(recs), raw(p), len(raw(p))))
write_pcap(sys.argv[2], recs)' "$f" "$tmp/$name/input.pcap" "$here" ||
		{ printf '%-28s not made\n' "$name"; continue; }
	measure "$name" "$tmp/$name/text.conf" "$tmp/$name/input.pcap"
done
echo "total: strict $tot_s hits ($dist_s distinct), relaxed $tot_r hits ($dist_r distinct), extra $((tot_r - tot_s)) hits, $((dist_r - dist_s)) distinct"
