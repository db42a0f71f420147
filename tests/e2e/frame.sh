#!/bin/bash
# frame.sh — end-to-end tests of message boundaries: a real MQTT broker
# (mosquitto) in a server network namespace behind nfredactd, an MQTT
# client (bench/live/lat, which writes every packet in one segment) in a
# client namespace.  The client connects with an e-mail address as its
# client id and another as its username, subscribes to a filter with an
# address in it, and publishes with QoS 1 to a topic with an address in
# it a payload with a phone number and an IPv4 literal that ends in a
# digit.  A subscriber on the broker's own host (not behind nfredactd)
# receives topics and payloads as the broker delivers them.
#
# Asserted separately: no original reaches the broker's log or the
# subscriber; the redacted forms do (the messages arrived); a segment
# that ends exactly where an MQTT packet ends is not held (the service's
# hold counter stays 0 through CONNECT, SUBSCRIBE and PUBLISH, and
# CONNECT -> CONNACK takes far less than the hold time); a PUBLISH whose
# payload is cut inside an e-mail address, its two segments 5 ms apart,
# still reaches the broker redacted; nfredactd's output holds no original.
#
# Exit: 0 all passed, 1 a test failed, 77 skipped (not root, no network
# namespaces, mosquitto not installed: `make deps`).  FRAME_KEEP=DIR keeps
# the files of the run.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
NFREDACTD=${NFREDACTD:-$B/nfredactd}
NFREDACT=${NFREDACT:-$B/nfredact}
LAT=${LAT:-$B/bench/live/lat}
E2E=tests/e2e
. "$E2E/lib.sh"

skip() { echo "frame: skipped: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nf_tables)"
for tool in ip ss nft mosquitto mosquitto_sub; do
	command -v "$tool" >/dev/null || skip "$tool not installed (make deps)"
done
for bin in "$NFREDACTD" "$NFREDACT" "$LAT"; do
	if [ ! -x "$bin" ]; then
		echo "frame: $bin not built"
		echo "frame: 0 passed, 1 failed"
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nfredact-frame.XXXXXX")
srv=$work/srv		# everything the broker and the subscriber write
mkdir -p "$srv"
trap 'ns_cleanup; [ -n "${FRAME_KEEP:-}" ] && cp -r "$work/." "$FRAME_KEEP/"; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

# the subscriber's port: on the broker's host, covered by no service
LOCAL_PORT=1884
ns_setup || skip "cannot create network namespaces"
mosquitto_start "$srv" $LOCAL_PORT || skip "mosquitto does not start: $(tail -n 3 "$srv/mosquitto.out")"

# What the client sends, and what must never reach the broker ...
CLIENT_ID=alice@example.org
USERNAME=bob@example.org
TOPIC_EMAIL=dave@example.org
FILTER_EMAIL=erin@example.org
CUT_EMAIL=frank@example.org
PHONE=+15551234567
IPV4=198.51.100.7
ORIGINALS=("$CLIENT4" "$CLIENT6" "$CLIENT_ID" "$USERNAME" "$TOPIC_EMAIL"
	"$FILTER_EMAIL" "$CUT_EMAIL" "$PHONE" "$IPV4")
TOPIC=sensors/$TOPIC_EMAIL/temp
FILTER=alerts/$FILTER_EMAIL/#
PAYLOAD="phone $PHONE from $IPV4 temp=21.5"
CUT_TOPIC=sensors/cut
CUT_BEFORE="cut mail "
CUT_PAYLOAD="$CUT_BEFORE$CUT_EMAIL temp=21.5"
CUT_AT=$((${#CUT_BEFORE} + 8))	# the first segment ends "cut mail frank@ex"
# ... and what policy-frame.conf makes of them
CLIENT_ID_MASKED=xxxxx@xxxxxxx.xxx
USERNAME_MASKED=xxx@xxxxxxx.xxx
# ('/' may be part of a local part: "sensors/dave" is one)
TOPIC_MASKED=xxxxxxx/xxxx@xxxxxxx.xxx/temp
FILTER_MASKED=xxxxxx/xxxx@xxxxxxx.xxx/#
PAYLOAD_MASKED="phone +00000000000 from 000.00.000.0 temp=21.5"
CUT_PAYLOAD_MASKED="cut mail xxxxx@xxxxxxx.xxx temp=21.5"
PSEUDO4=192.0.2.0
CONNECT_BOUND_US=20000	# the hold time is 300 ms; unheld, it takes < 1 ms

passed=0 failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# Leaks are reported by how many originals, never which: test output is
# tool output too.
count_leaks() {
	local o n=0
	for o in "${ORIGINALS[@]}"; do
		grep -qF -- "$o" "$@" 2>/dev/null && n=$((n + 1))
	done
	echo $n
}

# stat_value NAME: a counter from nfredact stats (0 when absent)
stat_value() {
	"$NFREDACT" stats --control "$work/control.sock" 2>/dev/null |
		awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

# field NAME LINE: the value of NAME=... in a report line of lat
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# fast LINE: the median of LINE is under the bound on an unheld exchange
fast() {
	awk -v v="$(field p50_us "$1")" -v b=$CONNECT_BOUND_US \
		'BEGIN { exit !(v != "" && v + 0 < b) }'
}

cp "$E2E/policy-frame.conf" "$work/policy.conf"
if ! nfredactd_start "$work" "$work/policy.conf" -v; then
	echo "frame: nfredactd did not come up:"
	tail -n 5 "$work/nfredactd.err" | sed 's/^/    /'
	echo "frame: 0 passed, 1 failed"
	exit 1
fi

# The subscriber: on the broker's host, on a port no service covers, so
# it sees what the broker delivers and its own traffic meets no queue.
ip netns exec "$NS_S" mosquitto_sub -h 127.0.0.1 -p $LOCAL_PORT -i frame-sub -t "#" -q 1 -v \
	>"$srv/sub.out" 2>"$work/sub.err" &
ns_pid_add $!
if ! wait_for 10 grep -q "Sending SUBACK to frame-sub" "$srv/mosquitto.log"; then
	echo "frame: the subscriber never got its SUBACK: $(head -n 1 "$work/sub.err")"
	echo "frame: $passed passed, 1 failed"
	exit 1
fi

# ---- the session: CONNECT, SUBSCRIBE, PUBLISH, each one segment ---------

holds0=$(stat_value service.mqtt.holds)
connect_line=$(ns_in_c "$LAT" connect "$SERVER4" 1883 -n 5 -i "$CLIENT_ID" \
	-u "$USERNAME" 2>"$work/lat.err")
connect_rc=$?
holds1=$(stat_value service.mqtt.holds)
publish_line=$(ns_in_c "$LAT" publish "$SERVER4" 1883 -n 3 -i "$CLIENT_ID" \
	-u "$USERNAME" -s "$FILTER" -t "$TOPIC" -m "$PAYLOAD" 2>>"$work/lat.err")
publish_rc=$?
holds2=$(stat_value service.mqtt.holds)
echo "     $connect_line"
echo "     $publish_line"
echo "     service.mqtt.holds: $holds0 before, $holds1 after CONNECT x5, $holds2 after PUBLISH x3"

if [ $connect_rc -ne 0 ] || [ $publish_rc -ne 0 ]; then
	fail session "the client failed: $(grep -m 1 . "$work/lat.err")"
fi
wait_for 5 grep -qF "$TOPIC_MASKED " "$srv/sub.out"

# (a) no original in what the broker wrote or delivered
n=$(count_leaks "$srv/mosquitto.log")
if [ "$n" -ne 0 ]; then
	fail no-original-broker-log "$n original identifier(s) in the broker's log"
else
	pass no-original-broker-log
fi
n=$(count_leaks "$srv/sub.out")
if [ "$n" -ne 0 ]; then
	fail no-original-subscriber "$n original identifier(s) reached the subscriber"
else
	pass no-original-subscriber
fi

# (b) the redacted forms did arrive
if grep -Eq "New client connected from ${PSEUDO4//./\\.}:[0-9]+ as $CLIENT_ID_MASKED .*u'$USERNAME_MASKED'" \
	"$srv/mosquitto.log"; then
	pass redacted-connect
else
	fail redacted-connect "the broker did not log the masked client id and username from the pseudonym"
fi
if grep -qF "	$FILTER_MASKED (QoS 1)" "$srv/mosquitto.log"; then
	pass redacted-subscribe
else
	fail redacted-subscribe "the broker did not log the masked topic filter"
fi
if grep -qxF "$TOPIC_MASKED $PAYLOAD_MASKED" "$srv/sub.out"; then
	pass redacted-publish
else
	fail redacted-publish "the subscriber did not receive the masked topic and payload: $(head -c 200 "$srv/sub.out")"
fi

# (c) a segment that ends where a packet ends is not held
if [ "$holds1" -ne "$holds0" ]; then
	fail no-hold-connect "$((holds1 - holds0)) segment(s) held for 5 CONNECTs that end on a packet boundary"
else
	pass no-hold-connect
fi
if [ "$holds2" -ne "$holds1" ]; then
	fail no-hold-publish "$((holds2 - holds1)) segment(s) held for CONNECT, SUBSCRIBE and 3 PUBLISHes that end on a packet boundary"
else
	pass no-hold-publish
fi
if fast "$connect_line"; then
	pass connect-latency
else
	fail connect-latency "CONNECT -> CONNACK p50 $(field p50_us "$connect_line") us, not under $CONNECT_BOUND_US us"
fi
if fast "$publish_line"; then
	pass publish-latency
else
	fail publish-latency "PUBLISH -> PUBACK p50 $(field p50_us "$publish_line") us, not under $CONNECT_BOUND_US us"
fi

# ---- a PUBLISH cut inside an address: held, and redacted whole ----------

mark=$(stat -c %s "$srv/mosquitto.log")
cut_line=$(ns_in_c "$LAT" publish "$SERVER4" 1883 -n 1 -i "$CLIENT_ID" \
	-u "$USERNAME" -t "$CUT_TOPIC" -m "$CUT_PAYLOAD" -c $CUT_AT -g 5 \
	2>"$work/lat.err")
cut_rc=$?
holds3=$(stat_value service.mqtt.holds)
echo "     $cut_line"
echo "     service.mqtt.holds: $holds3 after the cut PUBLISH"
wait_for 5 grep -q "^$CUT_TOPIC " "$srv/sub.out"
tail -c +$((mark + 1)) "$srv/mosquitto.log" >"$work/cut.log"
grep "^$CUT_TOPIC " "$srv/sub.out" >"$work/cut.sub"
n=$(count_leaks "$work/cut.log" "$work/cut.sub")
if [ $cut_rc -ne 0 ]; then
	fail cut-publish "the client failed: $(grep -m 1 . "$work/lat.err")"
elif [ "$n" -ne 0 ]; then
	fail cut-publish "$n original identifier(s) reached the broker"
elif ! grep -qxF "$CUT_TOPIC $CUT_PAYLOAD_MASKED" "$work/cut.sub"; then
	fail cut-publish "the subscriber did not receive the masked payload: $(head -c 200 "$work/cut.sub")"
else
	pass cut-publish
fi

# ---- (d) nothing nfredact said, nothing the broker wrote, has an original

"$NFREDACT" stats --control "$work/control.sock" >"$work/stats.txt" 2>&1
n=$(count_leaks "$work/nfredactd.err" "$work/nfredactd.out" "$work/stats.txt")
if [ "$n" -ne 0 ]; then
	fail daemon-output "$n original identifier(s) in nfredactd's output or stats"
elif ! [ -s "$work/nfredactd.err" ]; then
	fail daemon-output "nfredactd -v said nothing: its output was not captured"
else
	pass daemon-output
fi
n=$(find "$srv" -type f -exec grep -lF -e "$CLIENT4" -e "$CLIENT_ID" -e "$USERNAME" \
	-e "$TOPIC_EMAIL" -e "$FILTER_EMAIL" -e "$CUT_EMAIL" -e "$PHONE" -e "$IPV4" \
	{} + 2>/dev/null | wc -l)
if [ "$n" -ne 0 ]; then
	fail server-files "$n file(s) the broker and the subscriber wrote hold an original"
else
	pass server-files
fi

echo "frame: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
