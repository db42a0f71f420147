#!/bin/bash
# run.sh — end-to-end tests: a real MQTT broker (mosquitto) and a real
# syslog collector (rsyslog) in a server network namespace behind
# nfredactd, clients in a second namespace, IPv4 and IPv6.  Every
# assertion is on what the servers wrote themselves.
#
# Exit: 0 all passed, 1 a test failed, 77 skipped (not root, no network
# namespaces, servers not installed: `make deps`).  E2E_KEEP=FILE keeps a
# copy of the daemon's stderr.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
NFREDACTD=${NFREDACTD:-$B/nfredactd}
NFREDACT=${NFREDACT:-$B/nfredact}
E2E=tests/e2e
. "$E2E/lib.sh"

skip() { echo "e2e: skipped: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nf_tables)"
for tool in ip ss nft mosquitto mosquitto_pub \
	mosquitto_sub rsyslogd logger; do
	command -v "$tool" >/dev/null || skip "$tool not installed (make deps)"
done
for bin in "$NFREDACTD" "$NFREDACT"; do
	if [ ! -x "$bin" ]; then
		echo "e2e: $bin not built"
		echo "e2e: 0 passed, 1 failed"
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nfredact-e2e.XXXXXX")
srv=$work/srv		# everything the servers write
mkdir -p "$srv"
trap 'ns_cleanup; [ -n "${E2E_KEEP:-}" ] && cp "$work/nfredactd.err" "$E2E_KEEP"; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

ns_setup || skip "cannot create network namespaces"
mosquitto_start "$srv" || skip "mosquitto does not start: $(tail -n 3 "$srv/mosquitto.out")"
rsyslog_start "$srv" || skip "rsyslogd does not start: $(tail -n 3 "$srv/rsyslog.out")"

# What clients send, and what must never reach a server.
EMAIL_ID=alice@example.org
EMAIL=bob@example.org
PHONE=+15551234567
ORIGINALS=("$CLIENT4" "$CLIENT6" "$EMAIL_ID" "$EMAIL" "$PHONE")
# ... and what the policies make of them
EMAIL_ID_MASKED=xxxxx@xxxxxxx.xxx
EMAIL_MASKED=xxx@xxxxxxx.xxx
PHONE_MASKED=+00000000000
CLIENT4_MASKED=000.0.0.00
CLIENT4_TRUNC=192.0.2.00
PSEUDO4=192.0.2.0
PSEUDO6=2001:db8:1::

message() { echo "$1 call $PHONE from $CLIENT4 mail $EMAIL via $CLIENT6"; }

passed=0 failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# leaked FILE...: print the originals found (fixed strings), exit 0 if any
leaked() {
	local o found=1
	for o in "${ORIGINALS[@]}"; do
		if grep -qF -- "$o" "$@" 2>/dev/null; then
			echo "$o"
			found=0
		fi
	done
	return $found
}

# log_mark: remember where the servers' logs end; log_new: what they
# wrote since, in $work/new.log (each test judges only its own traffic)
log_mark() {
	MARK_MQ=$(stat -c %s "$srv/mosquitto.log")
	MARK_SL=$(stat -c %s "$srv/syslog.log")
}
log_new() {
	{ tail -c +$((MARK_MQ + 1)) "$srv/mosquitto.log"
	  tail -c +$((MARK_SL + 1)) "$srv/syslog.log"; } >"$work/new.log"
	echo "$work/new.log"
}

# Leaks are reported by how many originals, never which: test output is
# tool output too.
count_leaks() { leaked "$@" | wc -l; }

cp "$E2E/policy-mask.conf" "$work/policy.conf"
# inbound queues 0 and 1 (the services'), outbound 2 and 3 after them
NFREDACTD_QUEUES="0 1 2 3"
if ! nfredactd_start "$work" "$work/policy.conf" -v; then
	echo "e2e: nfredactd did not come up:"
	tail -n 5 "$work/nfredactd.err" | sed 's/^/    /'
	echo "e2e: 0 passed, 1 failed"
	exit 1
fi

# ---- MQTT: a subscriber and a publisher whose client id is an email ------

mqtt_case() {
	local fam=$1 host=$2 pseudo_re=$3 name="mqtt-ipv$1"
	local sub_out=$work/sub$fam.out topic=e2e/ipv$fam
	log_mark
	ip netns exec "$NS_C" mosquitto_sub -h "$host" -i "sub$fam" -t "$topic" -C 1 -W 10 \
		>"$sub_out" 2>&1 &
	local sub_pid=$!
	ns_pid_add "$sub_pid"
	if ! wait_for 10 grep -q "Sending SUBACK to sub$fam" "$srv/mosquitto.log"; then
		fail "$name" "the subscriber never got its SUBACK"
		return
	fi
	local msg
	msg=$(message "mqtt$fam")
	if ! ns_in_c timeout 10 mosquitto_pub -h "$host" -i "$EMAIL_ID" \
		-t "$topic" -q 1 -m "$msg" >"$work/pub$fam.out" 2>&1; then
		fail "$name" "mosquitto_pub failed: $(head -n 1 "$work/pub$fam.out")"
		return
	fi
	wait "$sub_pid" 2>/dev/null
	local n
	n=$(count_leaks "$(log_new)" "$sub_out")
	if [ "$n" -ne 0 ]; then
		fail "$name" "$n original identifier(s) reached the broker"
	elif ! grep -q "^mqtt$fam call $PHONE_MASKED from $CLIENT4_MASKED mail $EMAIL_MASKED via " "$sub_out"; then
		fail "$name" "the subscriber did not receive the redacted message: $(head -c 200 "$sub_out")"
	elif ! grep -Eq "New connection from $pseudo_re:[0-9]+ on port 1883" "$srv/mosquitto.log"; then
		fail "$name" "the broker did not log the pseudonym"
	elif ! grep -Eq "New client connected from $pseudo_re:[0-9]+ as $EMAIL_ID_MASKED " "$srv/mosquitto.log"; then
		fail "$name" "the broker did not log the masked client id"
	else
		pass "$name"
	fi
}

mqtt_case 4 "$SERVER4" "${PSEUDO4//./\\.}"
mqtt_case 6 "$SERVER6" "$PSEUDO6"

# ---- syslog: logger over UDP and TCP ----------------------------------

# syslog_send MARK HOST PROTO(-d|-T): one message tagged MARK
syslog_send() {
	ns_in_c timeout 5 logger -n "$2" -P 514 "$3" -t e2e "$(message "$1")"
}

# syslog_line MARK: the collector's line for MARK (waits up to 5 s)
syslog_line() {
	wait_for 5 grep -q -- "$1 call" "$srv/syslog.log" || return 1
	grep -- "$1 call" "$srv/syslog.log" | tail -n 1
}

syslog_case() {
	local fam=$1 proto=$2 host=$3 pseudo=$4 name="syslog-$2-ipv$1"
	local mark="syslog-$proto$fam-$$" flag=-d line
	[ "$proto" = tcp ] && flag=-T
	log_mark
	if ! syslog_send "$mark" "$host" "$flag"; then
		fail "$name" "logger failed"
		return
	fi
	if ! line=$(syslog_line "$mark"); then
		fail "$name" "the message never reached the collector's file"
		return
	fi
	local n
	n=$(count_leaks "$(log_new)")
	if [ "$n" -ne 0 ]; then
		fail "$name" "$n original identifier(s) reached the collector"
	elif [ "${line%% | *}" != "$pseudo" ]; then
		fail "$name" "fromhost-ip is not the pseudonym $pseudo"
	elif [[ "$line" != *"$mark call $PHONE_MASKED from $CLIENT4_MASKED mail $EMAIL_MASKED via "* ]]; then
		fail "$name" "the message is not the masked one: $line"
	else
		pass "$name"
	fi
}

syslog_case 4 udp "$SERVER4" "$PSEUDO4"
syslog_case 6 udp "$SERVER6" "$PSEUDO6"
syslog_case 4 tcp "$SERVER4" "$PSEUDO4"
syslog_case 6 tcp "$SERVER6" "$PSEUDO6"

# ---- direction: from the queue, not from the ports ----------------------
# A client datagram from port 53 to port 514: the syslog service listens
# on both (policy-mask.conf), and a guess from the ports would take the
# lower one for the server's and pass the datagram as a reply, with the
# real address and payload.  It comes through the inbound chain, so
# nfredactd tells the engine it is inbound.
direction_case() {
	local fam=$1 host=$2 pseudo=$3 name="direction-udp-from-53-ipv$1"
	local mark="dir$fam-$$" line n
	log_mark
	if ! ns_in_c timeout 5 python3 -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(("", 53))
s.sendto(sys.argv[2].encode(), (sys.argv[1], 514))
' "$host" "<13>e2e: $(message "$mark")" 2>"$work/dir.err"; then
		fail "$name" "the client failed: $(head -n 1 "$work/dir.err")"
		return
	fi
	if ! line=$(syslog_line "$mark"); then
		fail "$name" "the message never reached the collector's file"
		return
	fi
	n=$(count_leaks "$(log_new)")
	if [ "$n" -ne 0 ]; then
		fail "$name" "$n original identifier(s) reached the collector"
	elif [ "${line%% | *}" != "$pseudo" ]; then
		fail "$name" "fromhost-ip is not the pseudonym $pseudo"
	elif [[ "$line" != *"$mark call $PHONE_MASKED from $CLIENT4_MASKED mail $EMAIL_MASKED via "* ]]; then
		fail "$name" "the message is not the masked one: $line"
	else
		pass "$name"
	fi
}

direction_case 4 "$SERVER4" "$PSEUDO4"
direction_case 6 "$SERVER6" "$PSEUDO6"

# ---- stream: identifiers written one byte per segment ------------------

# The client sends each byte in its own segment (TCP_NODELAY, GAP ms
# apart, well inside the policy's hold time): every identifier is cut at
# every byte, and a segment whose tail may begin one is held until the
# bytes after it decide it.
SLOW=$E2E/slowwrite.py
GAP_MS=2
HOLD_MS=300	# the hold time of policy-mask.conf

# stat_value NAME: a counter from nfredact stats (0 when absent)
stat_value() {
	"$NFREDACT" stats --control "$work/control.sock" 2>/dev/null |
		awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

# slow_run ARGS...: slowwrite.py ARGS in the client namespace, again (up
# to 3 runs) when the client stalled for half the hold time or more: a
# stalled client meets the timeout rule, which is not what the stream
# cases check.  Marks the logs before each run.  Return: its status.
slow_run() {
	local try gap rc
	for try in 1 2 3; do
		log_mark
		ns_in_c timeout 20 python3 "$SLOW" "$@" >"$work/slow.out" 2>&1
		rc=$?
		gap=$(sed -n 's/^max_gap_ms=//p' "$work/slow.out")
		[ $rc -ne 0 ] && return $rc
		awk -v g="${gap:-999}" -v h=$HOLD_MS 'BEGIN { exit !(g < h / 2) }' &&
			return 0
		echo "     (the client stalled for $gap ms: once more)"
	done
	return 0
}

stream_syslog_case() {
	local fam=$1 host=$2 pseudo=$3 name="stream-syslog-ipv$1"
	local mark="stream$1-$$" line n
	if ! slow_run syslog "$host" 514 $GAP_MS "$(message "$mark")"; then
		fail "$name" "the client failed: $(head -n 1 "$work/slow.out")"
		return
	fi
	if ! line=$(syslog_line "$mark"); then
		fail "$name" "the message never reached the collector's file"
		return
	fi
	n=$(count_leaks "$(log_new)")
	if [ "$n" -ne 0 ]; then
		fail "$name" "$n original identifier(s) reached the collector"
	elif [ "${line%% | *}" != "$pseudo" ]; then
		fail "$name" "fromhost-ip is not the pseudonym $pseudo"
	elif [[ "$line" != *"$mark call $PHONE_MASKED from $CLIENT4_MASKED mail $EMAIL_MASKED via "* ]]; then
		fail "$name" "the message is not the masked one: $line"
	else
		pass "$name"
	fi
}

mqtt_masked_logged() { grep -q "as $EMAIL_ID_MASKED " "$(log_new)"; }

stream_mqtt_case() {
	local name=stream-mqtt-clientid n
	if ! slow_run mqtt "$SERVER4" 1883 $GAP_MS "$EMAIL_ID"; then
		fail "$name" "the session failed: $(head -n 1 "$work/slow.out")"
		return
	fi
	wait_for 5 mqtt_masked_logged
	n=$(count_leaks "$(log_new)")
	if [ "$n" -ne 0 ]; then
		fail "$name" "$n original identifier(s) reached the broker"
	elif ! grep -Eq "New client connected from ${PSEUDO4//./\\.}:[0-9]+ as $EMAIL_ID_MASKED " "$work/new.log"; then
		fail "$name" "the broker did not log the masked client id"
	else
		pass "$name"
	fi
}

# Slower than the hold time: after "alice@" and after "192.0.2." the
# client waits 4 hold times, so those held tails are decided by the
# timeout rule: an '@' after a plausible local part, and a dotted run of
# digits, already look like identifiers and are masked.
stream_timeout_case() {
	local name=stream-hold-timeout mark="slow-$$" line msg n before
	local local_part=${EMAIL_ID%%@*}@ prefix4=${CLIENT4%.*}.
	before=$(stat_value service.syslog.hold_timeout_masked)
	if ! slow_run syslog "$SERVER4" 514 $GAP_MS \
		"$mark from $CLIENT4 mail $EMAIL_ID end" \
		"$local_part" $((4 * HOLD_MS)) "$prefix4" $((4 * HOLD_MS)); then
		fail "$name" "the client failed: $(head -n 1 "$work/slow.out")"
		return
	fi
	if ! wait_for 5 grep -q -- "$mark from" "$srv/syslog.log"; then
		fail "$name" "the message never reached the collector's file"
		return
	fi
	line=$(grep -- "$mark from" "$srv/syslog.log" | tail -n 1)
	msg=${line#* | }	# fromhost-ip is the pseudonym, a /24 prefix
	n=$(count_leaks "$(log_new)")
	if [ "$n" -ne 0 ]; then
		fail "$name" "$n original identifier(s) reached the collector"
	elif [[ "$msg" == *"$local_part"* ]]; then
		fail "$name" "the local part and '@' held at the timeout went unmasked"
	elif [[ "$msg" == *"$prefix4"* ]]; then
		fail "$name" "the address prefix held at the timeout went unmasked"
	elif [[ "$msg" != *"$mark from "*" mail "*"@"*" end"* ]]; then
		fail "$name" "the message is not whole: $msg"
	elif [ "$(stat_value service.syslog.hold_timeout_masked)" -le "$before" ]; then
		fail "$name" "no hold ended by the timeout rule (hold_timeout_masked)"
	else
		pass "$name"
	fi
}

stream_syslog_case 4 "$SERVER4" "$PSEUDO4"
stream_syslog_case 6 "$SERVER6" "$PSEUDO6"
stream_mqtt_case
stream_timeout_case

# ---- nothing the servers wrote, nothing nfredact said, has an original -

n=$(find "$srv" -type f -exec grep -lF -e "$CLIENT4" -e "$CLIENT6" -e "$EMAIL_ID" \
	-e "$EMAIL" -e "$PHONE" {} + 2>/dev/null | wc -l)
if [ "$n" -ne 0 ]; then
	fail server-files "$n file(s) the servers wrote hold an original"
else
	pass server-files
fi

"$NFREDACT" stats --control "$work/control.sock" >"$work/stats.txt" 2>&1
rc_text=$?
"$NFREDACT" stats --prometheus --control "$work/control.sock" >"$work/stats.prom" 2>&1
rc_prom=$?
n=$(count_leaks "$work/nfredactd.err" "$work/stats.txt" "$work/stats.prom")
if [ "$n" -ne 0 ]; then
	fail daemon-output "$n original identifier(s) in nfredactd's stderr or stats"
elif [ "$rc_text" -ne 0 ] || [ "$rc_prom" -ne 0 ]; then
	fail daemon-output "nfredact stats failed: $(head -n 1 "$work/stats.txt")"
elif ! grep -Eq '^[a-z_]+[a-z_0-9]* [1-9][0-9]*$' "$work/stats.txt"; then
	fail daemon-output "stats show no non-zero counter after traffic"
elif ! grep -Eq '^# (TYPE|HELP) ' "$work/stats.prom"; then
	fail daemon-output "the Prometheus output has no TYPE/HELP lines"
else
	pass daemon-output
fi

# ---- reload under traffic: mask -> truncate, then a bad policy ----------

# A sender in the client namespace: one UDP syslog message every 20 ms,
# numbered, until the stop file appears.
traffic_start() {
	rm -f "$work/traffic.stop"
	(
		i=0
		while [ ! -e "$work/traffic.stop" ] && [ $i -lt 1000 ]; do
			syslog_send "reload-$$-$i" "$SERVER4" -d
			i=$((i + 1))
			sleep 0.02
		done
	) &
	TRAFFIC_PID=$!
	ns_pid_add "$TRAFFIC_PID"
}
traffic_stop() { touch "$work/traffic.stop"; wait "$TRAFFIC_PID" 2>/dev/null; }

log_mark
traffic_start
wait_for 5 grep -q "reload-$$-.* call .* from $CLIENT4_MASKED " "$srv/syslog.log"
cp "$E2E/policy-truncate.conf" "$work/policy.conf"
kill -HUP "$NFREDACTD_PID" 2>/dev/null
if wait_for 5 grep -q "reload-$$-.* call .* from $CLIENT4_TRUNC mail " "$srv/syslog.log"; then
	traffic_stop
	n=$(count_leaks "$(log_new)")
	if [ "$n" -ne 0 ]; then
		fail reload-good "$n original identifier(s) reached the collector around the reload"
	elif ! kill -0 "$NFREDACTD_PID" 2>/dev/null; then
		fail reload-good "nfredactd exited"
	else
		pass reload-good
	fi
else
	traffic_stop
	fail reload-good "IP literals still masked 5 s after SIGHUP with the truncate policy"
fi

# ---- reload while segments are held back --------------------------------

# A TCP client writes one byte per segment while the policy is reloaded
# twice.  First it pauses after "alice@", which stays held (hold 3s in
# policy-truncate.conf): the reload must decide it at once, by the timeout
# rule (an '@' after a plausible local part is masked).  The second reload
# comes while bytes flow.  A held packet that nobody verdicts stays in the
# kernel's queue for good: the queue must end empty, and the session must
# go on.  Not asserted: that an identifier cut at the very moment of a
# reload is redacted whole (the stream context before a held tail lives in
# the retired engine worker).
queue1_idle() {
	"$NFREDACT" stats --control "$work/control.sock" 2>/dev/null |
		awk '$1 == "queue.1.waiting" || $1 == "queue.1.held" { s += $2; n++ }
		     END { exit !(n == 2 && s == 0) }'
}
queue1_holds() { [ "$(stat_value queue.1.held)" -gt 0 ]; }
# letters only: digits cut by a reload may be masked by the timeout rule
mark="reload-held-$(tr 0-9 a-j <<<"$$")"
local_part=${EMAIL_ID%%@*}@
text="$mark-a mail $EMAIL_ID"
for i in b c d e f; do text+=" from $CLIENT4 $mark-$i mail $EMAIL_ID"; done
reloads_before=$(stat_value reloads)
log_mark
ns_in_c timeout 30 python3 "$SLOW" syslog "$SERVER4" 514 $GAP_MS "$text end" \
	"$mark-a mail $local_part" 2000 >"$work/slow.out" 2>&1 &
slow_pid=$!
ns_pid_add "$slow_pid"
wait_for 10 grep -q "^pause after" "$work/slow.out"
held_in_pause=0
queue1_holds && held_in_pause=1
kill -HUP "$NFREDACTD_PID" 2>/dev/null
# well inside the 2 s pause and the 3 s hold time
wait_for 1 queue1_idle
idle_after_reload=$?
wait_for 10 queue1_holds
kill -HUP "$NFREDACTD_PID" 2>/dev/null
wait "$slow_pid"
slow_rc=$?
if [ "$slow_rc" -ne 0 ]; then
	fail reload-held "the client failed: $(head -n 1 "$work/slow.out")"
elif [ "$held_in_pause" -ne 1 ]; then
	fail reload-held "nothing was held while the client paused after the '@'"
elif [ "$idle_after_reload" -ne 0 ]; then
	fail reload-held "the reload left the held segments waiting"
elif ! wait_for 5 grep -q -- "$mark-f mail .* end" "$srv/syslog.log"; then
	fail reload-held "the message never reached the collector's file whole"
elif line=$(grep -- "$mark-f mail" "$srv/syslog.log" | tail -n 1) &&
	[[ "${line#* | }" == *"$mark-a mail $local_part"* ]]; then
	fail reload-held "the local part and '@' held at the reload went unmasked"
elif [ "$(stat_value reloads)" -ne $((reloads_before + 2)) ]; then
	fail reload-held "the two reloads did not both take effect"
elif ! wait_for 3 queue1_idle; then
	fail reload-held "packets stay in the kernel's queue without a verdict"
else
	pass reload-held
fi

cp "$E2E/policy-bad.conf" "$work/policy.conf"
kill -HUP "$NFREDACTD_PID" 2>/dev/null
if ! wait_for 5 grep -q "policy.conf:8:24" "$work/nfredactd.err"; then
	fail reload-bad "no file:line:col diagnostic on stderr after SIGHUP with a bad policy"
elif ! kill -0 "$NFREDACTD_PID" 2>/dev/null; then
	fail reload-bad "nfredactd exited on a bad policy"
else
	mark="after-bad-$$"
	log_mark
	syslog_send "$mark" "$SERVER4" -d
	if ! line=$(syslog_line "$mark"); then
		fail reload-bad "traffic stopped after the bad reload"
	elif [[ "$line" != "$PSEUDO4 | "*"$mark call $PHONE_MASKED from $CLIENT4_TRUNC mail $EMAIL_MASKED via "* ]]; then
		fail reload-bad "the old (truncate) policy is not the one applied: $line"
	elif [ "$(count_leaks "$(log_new)")" -ne 0 ]; then
		fail reload-bad "an original reached the collector"
	else
		pass reload-bad
	fi
fi
# the stats and stderr check again, now with reloads behind
if [ "$(count_leaks "$work/nfredactd.err")" -ne 0 ]; then
	fail daemon-output-reload "an original identifier in nfredactd's stderr after the reloads"
else
	pass daemon-output-reload
fi

# ---- fail closed: the daemon dies, its rules stay, nothing gets through -

# closed_case NAME: nothing a client sends over IPv4 and IPv6, UDP and
# TCP, reaches a server while the rules are in place and no daemon runs
closed_case() {
	local name=$1 mark="$1-$$" n pub_rc
	log_mark
	syslog_send "$mark-4" "$SERVER4" -d
	syslog_send "$mark-6" "$SERVER6" -d
	ns_in_c timeout 3 mosquitto_pub -h "$SERVER4" -i "$EMAIL_ID" -t e2e/closed \
		-m "$(message "$mark-mqtt")" >/dev/null 2>&1
	pub_rc=$?
	sleep 0.5	# the UDP messages would have arrived by now
	n=$(count_leaks "$(log_new)")
	if [ "$n" -ne 0 ]; then
		fail "$name" "$n original identifier(s) got through without the daemon"
	elif grep -q "$mark" "$work/new.log"; then
		fail "$name" "traffic reached the servers without the daemon"
	elif [ "$pub_rc" -eq 0 ]; then
		fail "$name" "an MQTT session succeeded without the daemon"
	else
		pass "$name"
	fi
}

# open_case NAME: with the rules removed, traffic flows again, untouched
open_case() {
	local name=$1
	ns_in_c timeout 5 logger -n "$SERVER4" -P 514 -d -t e2e "$1-$$ nothing secret"
	if wait_for 5 grep -q "$1-$$ nothing secret" "$srv/syslog.log"; then
		pass "$name"
	else
		fail "$name" "traffic does not flow after the rules are removed"
	fi
}

# remove_case NAME: nfredact ruleset --remove takes both tables away
remove_case() {
	if ! ns_in_s "$NFREDACT" ruleset "$work/policy.conf" --dev "$VETH_S" --remove \
		>"$work/remove.out" 2>&1; then
		fail "$1" "nfredact ruleset --remove failed: $(head -n 1 "$work/remove.out")"
		return 1
	elif ! rules_absent; then
		fail "$1" "a table of nfredact's remains"
		return 1
	fi
	return 0
}

cp "$E2E/policy-truncate.conf" "$work/policy.conf"
# the process that serves the queues dies; a watching parent must not
# take the rules away after a crash
kill -KILL "$NFREDACTD_SERVER" 2>/dev/null
wait_for 5 proc_gone "$NFREDACTD_SERVER"
wait_for 5 proc_gone "$NFREDACTD_PID"
if ! proc_gone "$NFREDACTD_PID"; then
	fail fail-closed "nfredactd did not end with the process that serves its queues"
elif ! rules_present; then
	fail fail-closed "the rules vanished with the daemon"
else
	closed_case fail-closed
fi

# then the operator removes the rules, and the path is open again
remove_case ruleset-remove && open_case ruleset-remove

# ---- a clean stop: the rules stay too ------------------------------------

# SIGTERM is a stop like any other for the rules: the tables outlive the
# daemon (persistent; no longer owned), covered traffic waits for a
# reader, and the operator's --remove opens the path.
log_mark
if ! nfredactd_start "$work" "$work/policy.conf"; then
	fail clean-stop "nfredactd did not come up again: $(tail -n 1 "$work/nfredactd.err")"
else
	mark="restarted-$$"
	syslog_send "$mark" "$SERVER4" -d
	if ! line=$(syslog_line "$mark"); then
		fail clean-stop "traffic does not flow through the restarted daemon"
	elif [ "$(count_leaks "$(log_new)")" -ne 0 ]; then
		fail clean-stop "an original reached the collector through the restarted daemon"
	else
		kill -TERM "$NFREDACTD_PID"
		if ! wait_for 5 proc_gone "$NFREDACTD_PID" ||
			! wait_for 5 proc_gone "$NFREDACTD_SERVER"; then
			fail clean-stop "nfredactd did not stop on SIGTERM"
		elif ! rules_present; then
			fail clean-stop "the rules were removed by a clean stop"
		else
			closed_case clean-stop
		fi
	fi
fi
remove_case clean-stop-remove && open_case clean-stop-remove

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
