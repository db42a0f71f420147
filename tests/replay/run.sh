#!/bin/bash
# run.sh — the replay cases (doc/design.md §10): each case's make.py writes an
# input capture and the output the engine must give; `nfredact dry-run`
# runs the input through the engine and this script checks its output,
# its report and its checksums.
#
# Every case runs twice, as captured on the server's side of the relay
# (replies to the pseudonym) and on the client's side (replies to the real
# client, REPLAY_SIDE=client): the output must be the server's view both
# times.
#
# usage: tests/replay/run.sh [CASE...]     (B= build directory, default build)
#        KEEP=1 keeps every case's work directory (failed ones are kept anyway)
#        SIDES="client" runs one side only
set -u

here=$(cd "$(dirname "$0")" && pwd)
B=${B:-build}
NFREDACT=${NFREDACT:-$B/nfredact}
case $NFREDACT in /*) ;; *) NFREDACT=$PWD/$NFREDACT ;; esac
PY=/usr/bin/python3
export NFREDACT
export PYTHONDONTWRITEBYTECODE=1	# keep the source tree clean

# Wireshark's checksum status values: 0 Bad, 1 Good, 2 Unverified.
# "Bad" by name, so a renumbering cannot turn the check into a no-op.
CSUM_FILTER='ip.checksum.status=="Bad" || tcp.checksum.status=="Bad" || udp.checksum.status=="Bad" || icmp.checksum.status=="Bad" || icmpv6.checksum.status=="Bad"'

bad_checksums() {
	tshark -r "$1" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
		-o udp.check_checksum:TRUE -Y "$CSUM_FILTER" 2>/dev/null
}

if [ ! -x "$NFREDACT" ]; then
	echo "replay: $NFREDACT not built"
	exit 77
fi
for tool in tshark "$PY"; do
	if ! command -v "$tool" >/dev/null; then
		echo "replay: $tool missing"
		exit 77
	fi
done

# Self-test: the checksum filter must flag every deliberately broken packet
# and nothing else; otherwise "no bad checksum" below would prove nothing.
selftest() {
	local tmp n_broken n_flagged
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/replay-selftest.XXXXXX") || return 1
	n_broken=$("$PY" "$here/selftest.py" "$tmp/st.pcap") || { rm -rf "$tmp"; return 1; }
	n_flagged=$(bad_checksums "$tmp/st.pcap" | wc -l)
	rm -rf "$tmp"
	if [ "$n_flagged" -ne "$n_broken" ]; then
		echo "FAIL selftest: tshark flagged $n_flagged of $n_broken broken checksums"
		return 1
	fi
	echo "ok   selftest (tshark flags $n_broken of $n_broken broken checksums)"
}

# run_case DIR WORK SIDE: prints the reason and returns 1 on the first failure.
run_case() {
	local dir=$1 work=$2 side=$3 rc last ident f

	cp "$dir/policy.conf" "$work/" || { echo "no policy.conf"; return 1; }
	if [ -f "$dir/key.bin" ]; then
		# git keeps no modes, and the tool rightly refuses a readable key
		cp "$dir/key.bin" "$work/" && chmod 600 "$work/key.bin"
	fi
	export REPLAY_SIDE=$side
	if ! "$PY" "$dir/make.py" "$work" >"$work/make.log" 2>&1; then
		echo "make.py failed: $(tail -n1 "$work/make.log")"
		return 1
	fi

	"$NFREDACT" dry-run "$work/policy.conf" "$work/input.pcap" \
		-w "$work/out.pcap" --json >"$work/json.out" 2>"$work/json.err"
	rc=$?
	[ "$rc" -eq 0 ] || { echo "dry-run --json exited $rc: $(tail -n1 "$work/json.err")"; return 1; }
	"$NFREDACT" dry-run "$work/policy.conf" "$work/input.pcap" \
		-w "$work/out-text.pcap" >"$work/text.out" 2>"$work/text.err"
	rc=$?
	[ "$rc" -eq 0 ] || { echo "dry-run exited $rc: $(tail -n1 "$work/text.err")"; return 1; }

	last=$(tail -n1 "$work/text.out")
	[ "$last" = "residual identifiers: 0" ] || { echo "last report line: \"$last\""; return 1; }
	"$PY" "$here/jsoncheck.py" "$work/json.out" "$dir/counts" >"$work/jsoncheck.log" 2>&1 ||
		{ echo "JSON report: $(tail -n1 "$work/jsoncheck.log")"; return 1; }

	if [ ! -f "$work/expected.pcap" ] && [ ! -f "$dir/check.py" ]; then
		echo "neither expected.pcap nor check.py: nothing to judge by"
		return 1
	fi
	if [ -f "$dir/check.py" ]; then
		"$PY" "$dir/check.py" "$work" >"$work/check.log" 2>&1 ||
			{ echo "check.py: $(tail -n1 "$work/check.log")"; return 1; }
	fi
	if [ -f "$work/expected.pcap" ]; then
		"$PY" "$here/compare.py" "$work/out.pcap" "$work/expected.pcap" \
			>"$work/compare.log" 2>&1 ||
			{ echo "out.pcap: $(head -n1 "$work/compare.log")"; return 1; }
	fi
	"$PY" "$here/compare.py" "$work/out-text.pcap" "$work/out.pcap" \
		>"$work/compare-text.log" 2>&1 ||
		{ echo "--json changed the output: $(head -n1 "$work/compare-text.log")"; return 1; }
	"$PY" "$here/addrcheck.py" "$work/out.pcap" "$work/clients.txt" \
		>"$work/addrcheck.log" 2>&1 ||
		{ echo "out.pcap: $(tail -n1 "$work/addrcheck.log")"; return 1; }

	if [ -n "$(bad_checksums "$work/out.pcap")" ]; then
		echo "bad checksum in out.pcap: $(bad_checksums "$work/out.pcap" | head -n1)"
		return 1
	fi

	if [ -f "$work/originals.txt" ]; then
		while IFS= read -r ident; do
			[ -n "$ident" ] || continue
			for f in json.out json.err text.out text.err; do
				if grep -qF -- "$ident" "$work/$f"; then
					echo "an original identifier appears in the tool's $f"
					return 1
				fi
			done
		done <"$work/originals.txt"
	fi
	return 0
}

passed=0 failed=0 skipped=0
selftest || failed=$((failed + 1))

if [ $# -gt 0 ]; then
	cases=("$@")
else
	cases=()
	for d in "$here"/*/; do
		[ -f "$d/make.py" ] && cases+=("$(basename "$d")")
	done
fi

for name in "${cases[@]}"; do
	dir=$here/${name%/}
	# A case whose PENDING file names a capability the engine lacks is
	# reported, not run (run it by name to see where it stands).
	if [ -f "$dir/PENDING" ] && [ $# -eq 0 ]; then
		printf 'skip %s: %s\n' "${name%/}" "$(head -n1 "$dir/PENDING")"
		skipped=$((skipped + 1))
		continue
	fi
	for side in ${SIDES:-server client}; do
		work=$(mktemp -d "${TMPDIR:-/tmp}/replay-${name%/}-$side.XXXXXX") || exit 1
		if reason=$(run_case "$dir" "$work" "$side"); then
			printf 'ok   %s (%s side)\n' "${name%/}" "$side"
			passed=$((passed + 1))
			[ "${KEEP:-0}" = 1 ] || rm -rf "$work"
		else
			printf 'FAIL %s (%s side): %s (see %s)\n' "${name%/}" "$side" \
				"$reason" "$work"
			failed=$((failed + 1))
		fi
	done
done

echo "replay: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
