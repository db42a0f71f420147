#!/bin/bash
# demo-live.sh — the live demo: a real MQTT broker (mosquitto) in a
# network namespace, a client in another.  The same session runs twice:
# first straight to the broker, then with nfredactd in front; each time
# the demo shows what the broker wrote in its own log and what a
# subscriber received.  Needs root, mosquitto and mosquitto-clients
# (`make deps`); cleans up everything it started.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
NFREDACTD=$B/nfredactd
NFREDACT=$B/nfredact
. tests/e2e/lib.sh

say_skip() { echo "demo-live: skipped: $*"; exit 0; }
[ "$(id -u)" = 0 ] || say_skip "needs root (network namespaces): sudo make demo"
for t in ip ss nft mosquitto mosquitto_pub mosquitto_sub; do
	command -v "$t" >/dev/null || say_skip "$t not installed (make deps)"
done
for bin in "$NFREDACTD" "$NFREDACT"; do
	[ -x "$bin" ] || { echo "demo-live: $bin not built" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nfredact-demo-live.XXXXXX")
trap 'ns_cleanup; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

ns_setup || { echo "demo-live: cannot create network namespaces" >&2; exit 1; }
mosquitto_start "$work" || { echo "demo-live: mosquitto did not start" >&2; exit 1; }

cat > "$work/policy.conf" <<'EOF'
service mqtt {
	listen tcp 1883
	address ipv4 truncate 24
	address ipv6 truncate 48
	redact email mask
	redact phone token
	redact ipv4 truncate 24
}
EOF

CLIENT_ID=alice@example.org
MESSAGE="call me at +15551234567 or bob@example.org (I am on $CLIENT4)"

# session N: subscribe, publish as $CLIENT_ID, show the broker's new log
# lines and what the subscriber got
session() {
	local n=$1 from
	from=$(wc -l <"$work/mosquitto.log")
	ip netns exec "$NS_C" mosquitto_sub -h "$SERVER4" -i "reader-$n" \
		-t demo/chat -C 1 -W 5 >"$work/sub.$n" 2>&1 &
	local sub=$!
	ns_pid_add "$sub"
	wait_for 5 grep -q "Sending SUBACK to reader-$n" "$work/mosquitto.log"
	ns_in_c timeout 5 mosquitto_pub -h "$SERVER4" -i "$CLIENT_ID" \
		-t demo/chat -m "$MESSAGE" >/dev/null 2>&1
	wait "$sub" 2>/dev/null
	echo "  mosquitto.log:"
	tail -n +$((from + 1)) "$work/mosquitto.log" |
		grep -E "New connection|New client connected|Received PUBLISH" |
		grep -v "reader-$n" | sed -E 's/^[0-9]+: /    /'
	echo "  subscriber received:"
	sed 's/^/    /' "$work/sub.$n"
}

echo "=== live demo: mosquitto on $SERVER4:1883, client $CLIENT4, id $CLIENT_ID"
echo "    publishes: $MESSAGE"
echo
echo "--- WITHOUT nfredact"
session 1
echo
echo "--- WITH nfredactd --install-rules, policy:"
sed 's/^/    /' "$work/policy.conf"
if ! NFREDACTD_QUEUES="0 1" nfredactd_start "$work" "$work/policy.conf"; then
	echo "demo-live: nfredactd did not start:" >&2
	tail -n 5 "$work/nfredactd.err" >&2
	exit 1
fi
session 2
ns_kill "$NFREDACTD_PID"
echo
echo "--- nfredactd stopped: its nf_tables tables stay (nothing covered passes"
echo "    unredacted) until \`nfredact ruleset POLICY --remove\`:"
ns_in_s nft list tables 2>/dev/null | sed 's/^/    /'
ns_in_s "$NFREDACT" ruleset "$work/policy.conf" --remove | sed 's/^/    /'
echo
echo "(namespaces, broker and daemon removed)"
