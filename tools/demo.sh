#!/bin/bash
# demo.sh — the built-in demo: client sessions of an MQTT broker, an SMTP
# relay and a syslog collector, run through nfredact's engine.  For each
# message a client sends, it shows what the server receives without and
# with nfredact in front, then the dry-run report.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
work=$(mktemp -d "${TMPDIR:-/tmp}/nfredact-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

show_case() {
	local name=$1 port=$2 title=$3
	mkdir -p "$work/$name"
	/usr/bin/python3 "tests/replay/$name/make.py" "$work/$name" >/dev/null
	cp "tests/replay/$name/policy.conf" "$work/$name/"
	echo "=== $title (port $port) ==="
	sed -n '/^service/,/^}/p' "$work/$name/policy.conf" | sed 's/^/    /'
	echo
	"$B/nfredact" dry-run "$work/$name/policy.conf" "$work/$name/input.pcap" \
		-w "$work/$name/out.pcap" > "$work/$name/report.txt" || true
	/usr/bin/python3 tools/demo-show.py "$work/$name/input.pcap" \
		"$work/$name/out.pcap" "$port"
	tail -n 1 "$work/$name/report.txt" | sed 's/^/  /'
	echo
}

show_case mqtt-email-clientid 1883 "MQTT broker"
show_case smtp 25 "SMTP relay"
show_case syslog-udp 514 "syslog collector"
