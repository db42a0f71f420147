#!/bin/bash
# ops.sh — end-to-end tests of operational events: nfredactd restarted
# or killed, the firewall flushed or reloaded (nft, iptables-legacy),
# /proc/sys hidden, the flow table flooded, a reload with a root-only
# key, stats asked by an outsider, a symlink planted at the control
# socket, the rules removed while the daemon runs.  Each event happens
# under continuous numbered syslog traffic (UDP and TCP, IPv4 and IPv6)
# that carries the client's address, an email and a phone number, to a
# real rsyslog behind nfredactd.  The collector's own log is the truth:
# no original may reach it during or after the event, and the traffic
# must resume.  Each event runs in namespaces of its own, made and
# deleted by the test.
#
# Exit: 0 all passed, 1 a test failed, 77 skipped (not root, no network
# namespaces, tools or servers missing: `make deps`).  OPS_ONLY="a b"
# runs only the named events; OPS_KEEP=DIR keeps every event's files;
# OPS_PCAP=1 adds a capture of the client's side to them.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
NFREDACTD=${NFREDACTD:-$B/nfredactd}
NFREDACT=${NFREDACT:-$B/nfredact}
E2E=tests/e2e
. "$E2E/lib.sh"

skip() { echo "ops: skipped: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables)"
for tool in ip ss nft iptables-save iptables-legacy iptables-legacy-restore \
	ip6tables-legacy rsyslogd setpriv unshare useradd getent pgrep /usr/bin/python3; do
	command -v "$tool" >/dev/null || skip "$tool not installed (make deps)"
done
for bin in "$NFREDACTD" "$NFREDACT"; do
	if [ ! -x "$bin" ]; then
		echo "ops: $bin not built"
		echo "ops: 0 passed, 1 failed"
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nfredact-ops.XXXXXX")
# other users must reach the control socket (stats by group nfredact)
chmod 0755 "$work"
trap 'ns_cleanup; [ -n "${OPS_KEEP:-}" ] && cp -r "$work/." "$OPS_KEEP/"; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

# rsyslog in the server namespace, UDP and TCP 514, one line a message:
# "ARRIVAL-TIME | FROMHOST-IP | MSG" in DIR/syslog.log
ops_rsyslog_start() {
	local dir=$1
	mkdir -p "$dir/rsyslog"
	cat >"$dir/rsyslog.conf" <<-EOF
	# collector for tests/e2e/ops.sh: all in $dir
	global(workDirectory="$dir/rsyslog" net.enableDNS="off")
	module(load="imudp")
	module(load="imtcp")
	input(type="imudp" port="514")
	input(type="imtcp" port="514")
	template(name="nfredact_ops" type="string"
	         string="%timegenerated:::date-rfc3339% | %fromhost-ip% | %msg%\n")
	*.* action(type="omfile" file="$dir/syslog.log" template="nfredact_ops")
	EOF
	: >"$dir/syslog.log"
	ip netns exec "$NS_S" rsyslogd -n -f "$dir/rsyslog.conf" -i "$dir/rsyslog.pid" \
		>"$dir/rsyslog.out" 2>&1 &
	ns_pid_add $!
	wait_for 10 port_listening "$NS_S" udp 514 &&
		wait_for 10 port_listening "$NS_S" tcp 514
}

ns_setup || skip "cannot create network namespaces"
if ! ops_rsyslog_start "$work/probe"; then
	msg=$(tail -n 1 "$work/probe/rsyslog.out")
	ns_cleanup
	skip "rsyslogd does not start: $msg"
fi
ns_cleanup

# The daemon's default user, and the group that may read stats.
if ! getent passwd nfredact >/dev/null; then
	useradd --system --no-create-home --shell /usr/sbin/nologin \
		--user-group nfredact || skip "cannot create the user nfredact"
fi
NFR_UID=$(id -u nfredact)
NFR_GID=$(getent group nfredact | cut -d: -f3)
[ -n "$NFR_GID" ] || skip "no group nfredact"

# A copy of the tool that an unprivileged user may run.
mkdir -p "$work/bin"
cp "$NFREDACT" "$work/bin/nfredact"
chmod 0755 "$work/bin" "$work/bin/nfredact"

TRAFFIC=$E2E/traffic.py
FLOOD=$E2E/flood.py
RATE=1600		# messages a second, shared by the streams
STREAMS=("udp:$SERVER4" "tcp:$SERVER4" "udp:$SERVER6" "tcp:$SERVER6")

# What the client sends, and what must never reach the collector.
EMAIL=bob@example.org
PHONE=+15551234567
ORIGINALS=("$CLIENT4" "$CLIENT6" "$EMAIL" "$PHONE")
TEXT="call $PHONE from $CLIENT4 mail $EMAIL via $CLIENT6"
CLIENT4_TRUNC=192.0.2.00	# the client's address in text under truncate 24

passed=0 failed=0 EV_FAILED=0
ROWS=()
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); EV_FAILED=$((EV_FAILED + 1)); }

# count_leaks FILE...: how many originals occur in the files (a number,
# never which: test output is tool output too)
count_leaks() {
	local o n=0
	for o in "${ORIGINALS[@]}"; do
		grep -qF -- "$o" "$@" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}

# ---- one event: namespaces, collector, policy, daemon, traffic --------

# write_policy FILE [IPV4_ACTION [EXTRA_TOP [EXTRA_SERVICE]]]: the syslog
# service on UDP and TCP 514, queue 0; client addresses truncated,
# identifiers masked (IP literals by IPV4_ACTION, default mask)
write_policy() {
	cat >"$1" <<-EOF
	# written by tests/e2e/ops.sh
	${3:-}
	service syslog {
		listen udp 514
		listen tcp 514
		queue 0
		address ipv4 truncate 24
		address ipv6 truncate 48
		redact email mask
		redact phone mask
		redact ipv4 ${2:-mask}
		redact ipv6 mask
		${4:-}
	}
	EOF
	chmod 0644 "$1"
}

# ev_begin NAME: a fresh pair of namespaces with a collector, and the
# event's directory $EV (policy.conf written with the defaults).
# Return: 1 when the setup failed (already reported).
ev_begin() {
	EV_NAME=$1
	EV=$work/$1
	EV_FAILED=0
	EV_TAG="$1-$$"
	EV_T=""
	EV_RESUME_EXPECTED=1
	D_PID="" D_CHILD=""
	OPS_WRAP=()
	echo "-- $1"
	mkdir -p "$EV/srv" "$EV/run"
	chmod 0755 "$EV" "$EV/run"
	: >"$EV/nfredactd.err"
	write_policy "$EV/policy.conf"
	if ! ns_setup; then
		fail "$1/setup" "cannot create the namespaces"
		ns_cleanup
		return 1
	fi
	# OPS_PCAP=1: what the client sent, in $EV/client.pcap (with OPS_KEEP)
	if [ -n "${OPS_PCAP:-}" ] && command -v tcpdump >/dev/null; then
		ip netns exec "$NS_C" tcpdump -i "$VETH_C" -U -s 0 -w "$EV/client.pcap" \
			port 514 >/dev/null 2>&1 &
		ns_pid_add $!
	fi
	if ! ops_rsyslog_start "$EV/srv"; then
		fail "$1/setup" "rsyslogd does not start: $(tail -n 1 "$EV/srv/rsyslog.out")"
		ns_cleanup
		return 1
	fi
	return 0
}

# ctl_path: the event's control socket
ctl_path() { echo "$EV/run/control.sock"; }

# tables_present [ip|ip6]...: nfredact's nf_tables tables exist in the
# server namespace (default: both)
tables_present() {
	local fam
	[ $# -gt 0 ] || set -- ip ip6
	for fam; do
		ns_in_s nft list table "$fam" nfredact >/dev/null 2>&1 || return 1
	done
	return 0
}

# d_ready: the queues are bound (0 inbound, 1 outbound), table ip
# nfredact is in, the control socket answers (the ip6 table is the
# checks' business)
d_ready() {
	queue_bound "$NS_S" 0 && queue_bound "$NS_S" 1 && tables_present ip &&
		"$NFREDACT" stats --control "$(ctl_path)" >/dev/null 2>&1
}

# ops_start [ARGS...]: nfredactd in the server namespace, OPS_WRAP (an
# argv prefix) before it, stderr appended to $EV/nfredactd.err.
# Sets D_PID (the process started) and D_CHILD (its child, the server).
# Return: 0 serving, 1 it exited, 2 not serving after 10 s.
ops_start() {
	local i
	ip netns exec "$NS_S" "${OPS_WRAP[@]}" "$NFREDACTD" -c "$EV/policy.conf" \
		--install-rules --control "$(ctl_path)" "$@" \
		2>>"$EV/nfredactd.err" >/dev/null &
	D_PID=$!
	D_CHILD=""
	ns_pid_add "$D_PID"
	for ((i = 0; i < 200; i++)); do
		if d_ready; then
			D_CHILD=$(pgrep -P "$D_PID" | head -n 1)
			[ -n "$D_CHILD" ] && ns_pid_add "$D_CHILD"
			return 0
		fi
		if proc_gone "$D_PID"; then
			wait "$D_PID" 2>/dev/null
			pid_forget "$D_PID"
			return 1
		fi
		sleep 0.05
	done
	return 2
}

# ops_stop: SIGTERM to the process started; both it and its child must
# be gone within 5 s.  Return: 1 when one had to be killed.
ops_stop() {
	local rc=0 i
	[ -n "$D_PID" ] || return 0
	kill -TERM "$D_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		proc_gone "$D_PID" && { [ -z "$D_CHILD" ] || proc_gone "$D_CHILD"; } && break
		sleep 0.05
	done
	if ! proc_gone "$D_PID" || { [ -n "$D_CHILD" ] && ! proc_gone "$D_CHILD"; }; then
		rc=1
		ns_kill "$D_PID" KILL
		[ -n "$D_CHILD" ] && ns_kill "$D_CHILD" KILL
	fi
	wait "$D_PID" 2>/dev/null
	pid_forget "$D_PID"
	[ -n "$D_CHILD" ] && pid_forget "$D_CHILD"
	D_PID="" D_CHILD=""
	return $rc
}

now() { date +%s.%N; }

# pid_forget PID: PID is gone; cleanup must not signal whatever gets it next
pid_forget() {
	local p keep=()
	for p in "${NS_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	NS_PIDS=("${keep[@]}")
}

# traffic_start SECONDS [STREAM...]: numbered messages from the client
# namespace (default streams: $STREAMS) for SECONDS
traffic_start() {
	local secs=$1
	shift
	[ $# -gt 0 ] || set -- "${STREAMS[@]}"
	rm -f "$EV/sends" "$EV/sends.stop"
	ip netns exec "$NS_C" "$TRAFFIC" send --tag "$EV_TAG" --rate "$RATE" \
		--duration "$secs" --sends "$EV/sends" --text "$TEXT" "$@" \
		>"$EV/traffic.out" 2>&1 &
	TRAFFIC_PID=$!
	ns_pid_add "$TRAFFIC_PID"
}

# traffic_flowing: a numbered message of this event reached the collector
traffic_flowing() { grep -q "OPS $EV_TAG " "$EV/srv/syslog.log"; }

traffic_wait() {
	wait "$TRAFFIC_PID" 2>/dev/null
	pid_forget "$TRAFFIC_PID"
	sleep 0.5	# what is in flight reaches the collector's file
}

# judge: what the collector got, into $EV/judge.out; jv KEY reads it
judge() {
	local o args=()
	for o in "${ORIGINALS[@]}"; do args+=(--original "$o"); done
	"$TRAFFIC" judge --log "$EV/srv/syslog.log" --sends "$EV/sends" \
		--tag "$EV_TAG" --event "${EV_T:-0}" "${args[@]}" >"$EV/judge.out" 2>&1
}
jv() { sed -n "s/^$1=//p" "$EV/judge.out"; }

# stats_save: text and Prometheus stats, as root, into $EV
stats_save() {
	"$NFREDACT" stats --control "$(ctl_path)" >"$EV/stats.txt" 2>&1
	"$NFREDACT" stats --prometheus --control "$(ctl_path)" >"$EV/stats.prom" 2>&1
}

# ev_traffic_checks: the collector's log judged for the event
ev_traffic_checks() {
	local n
	judge
	n=$(jv unredacted)
	if [ -z "$n" ]; then
		fail "$EV_NAME/no-original" "judging failed: $(head -n 1 "$EV/judge.out")"
		return
	fi
	if [ "$n" -ne 0 ]; then
		fail "$EV_NAME/no-original" "$n line(s) with an original reached the collector"
	else
		pass "$EV_NAME/no-original"
	fi
	if [ "$EV_RESUME_EXPECTED" = 1 ]; then
		if [ "$(jv received)" -eq 0 ]; then
			fail "$EV_NAME/resumed" "no message reached the collector"
		elif [ "$(jv resumed)" != yes ]; then
			fail "$EV_NAME/resumed" "traffic did not resume: $(grep -E '^s\..*resumed=no' "$EV/judge.out" |
				sed 's/^s\.\([a-z0-9]*\)\..*/\1/' | tr '\n' ' ')stopped"
			# what the judge and the daemon saw, for the record
			sed -n 's/^s\.\(.*\)/     \1/p' "$EV/judge.out"
			stats_save
			grep -E '^service\.[^ ]*\.(reason\.|drop\.|hold|retrans|out_of_order|ack_resumed)[^ ]* [1-9]' \
				"$EV/stats.txt" | sed 's/^/     /'
		else
			pass "$EV_NAME/resumed"
		fi
	fi
}

# ev_end: stats, stop (the tables stay), `ruleset --remove` (they go),
# nfredactd's own output checked, namespaces deleted, a summary row
ev_end() {
	local n rc resumed
	if [ -n "$D_PID" ] && ! proc_gone "$D_PID"; then
		stats_save
		if ! ops_stop; then
			fail "$EV_NAME/stop" "SIGTERM did not stop nfredactd and its child within 5 s"
		fi
		if tables_present; then
			pass "$EV_NAME/tables-kept-at-stop"
		else
			fail "$EV_NAME/tables-kept-at-stop" "table ip/ip6 nfredact gone after SIGTERM"
		fi
	fi
	ns_in_s "$NFREDACT" ruleset "$EV/policy.conf" --remove >"$EV/remove.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$EV_NAME/ruleset-remove" "exit $rc: $(head -n 1 "$EV/remove.out")"
	elif ns_in_s nft list tables 2>/dev/null | grep -q ' nfredact$'; then
		fail "$EV_NAME/ruleset-remove" "a table nfredact remains"
	elif ns_in_s iptables-save 2>/dev/null | grep -q NFQUEUE ||
		ns_in_s ip6tables-save 2>/dev/null | grep -q NFQUEUE; then
		fail "$EV_NAME/ruleset-remove" "NFQUEUE rules remain"
	else
		pass "$EV_NAME/ruleset-remove"
	fi
	n=$(count_leaks "$EV/nfredactd.err" "$EV/stats.txt" "$EV/stats.prom" \
		"$EV/remove.out" "$EV/traffic.out")
	if [ "$n" -ne 0 ]; then
		fail "$EV_NAME/own-output" "$n original(s) in nfredactd's stderr, stats or tool output"
	else
		pass "$EV_NAME/own-output"
	fi
	ns_cleanup
	ROWS+=("$(printf '%-20s %6s %10s %8s %12s %12s  %s' "$EV_NAME" "$(jv sent)" \
		"$(jv unredacted)" "$(jv received)" "$(gap udp)" "$(gap tcp)" \
		"$([ "$EV_FAILED" -eq 0 ] && echo ok || echo "FAIL ($EV_FAILED)")")")
}

# gap PROTO: the longest silence of PROTO's streams at the collector from
# the event on, for the summary
gap() {
	local ms
	ms=$(jv "$1.silence_ms")
	if [ -z "$ms" ]; then
		echo -
	elif [ "$(jv "$1.resumed")" = yes ]; then
		echo "$ms ms"
	elif [ "$EV_RESUME_EXPECTED" = 1 ]; then
		echo "never"
	else
		echo "blocked"
	fi
}

# ev_start_daemon [ARGS...]: start, or report why not.  Return: 0 serving.
ev_start_daemon() {
	local rc
	ops_start "$@"
	rc=$?
	case $rc in
	0) return 0 ;;
	1) fail "$EV_NAME/start" "nfredactd exited: $(tail -n 1 "$EV/nfredactd.err")" ;;
	*) fail "$EV_NAME/start" "nfredactd not serving after 10 s: $(tail -n 1 "$EV/nfredactd.err")" ;;
	esac
	return 1
}

# ev_traffic_then SECONDS: traffic for SECONDS; returns once it reaches
# the collector (and half a second more), with EV_T unset
ev_traffic_then() {
	traffic_start "$1"
	if ! wait_for 5 traffic_flowing; then
		fail "$EV_NAME/baseline" "no message reached the collector before the event"
	fi
	sleep 0.5
}

# ---- 1. restart: SIGTERM and start again, at once and after 2 s ---------

ev_restart() {
	local name=$1 pause=$2 secs=$3
	ev_begin "$name" || return
	if ev_start_daemon; then
		ev_traffic_then "$secs"
		EV_T=$(now)
		ops_stop || fail "$name/stop" "SIGTERM did not stop nfredactd and its child within 5 s"
		[ "$pause" = 0 ] || sleep "$pause"
		ev_start_daemon
		traffic_wait
		ev_traffic_checks
	fi
	ev_end
}

# ---- 1b. crash: the queue reader killed, then the whole tree -----------

# Neither stop may let an original through; the tables stay, and a start
# after each replaces the stale control socket.
ev_crash() {
	local who
	ev_begin crash || return
	if ev_start_daemon; then
		ev_traffic_then 6
		EV_T=$(now)
		for who in child all; do
			if [ -z "$D_CHILD" ]; then
				fail crash/kill-$who "no child process to kill"
				break
			fi
			if [ $who = child ]; then
				kill -KILL "$D_CHILD"
			else
				kill -KILL "$D_PID" "$D_CHILD"
			fi
			wait_for 5 proc_gone "$D_CHILD"
			wait_for 5 proc_gone "$D_PID"
			wait "$D_PID" 2>/dev/null
			pid_forget "$D_PID"
			pid_forget "$D_CHILD"
			D_PID="" D_CHILD=""
			if tables_present; then
				pass crash/tables-kept-$who
			else
				fail crash/tables-kept-$who "table ip/ip6 nfredact gone after SIGKILL ($who)"
			fi
			sleep 0.3
			ev_start_daemon || break
			sleep 0.7
		done
		traffic_wait
		ev_traffic_checks
	fi
	ev_end
}

# ---- 2. the ruleset flushed: `nft flush ruleset`, a Debian nftables.conf -

ev_nft_flush() {
	local del4 del6
	ev_begin nft-flush || return
	# Debian's /etc/nftables.conf, as `systemctl reload nftables` loads it
	cat >"$EV/nftables.conf" <<-'EOF'
	#!/usr/sbin/nft -f

	flush ruleset

	table inet filter {
		chain input {
			type filter hook input priority filter;
		}
		chain forward {
			type filter hook forward priority filter;
		}
		chain output {
			type filter hook output priority filter;
		}
	}
	EOF
	if ev_start_daemon; then
		ev_traffic_then 4
		EV_T=$(now)
		ns_in_s nft flush ruleset 2>"$EV/nft.err" ||
			fail nft-flush/flush "nft flush ruleset failed: $(head -n 1 "$EV/nft.err")"
		sleep 1
		ns_in_s nft -f "$EV/nftables.conf" 2>"$EV/nft.err" ||
			fail nft-flush/nftables.conf "nft -f failed: $(head -n 1 "$EV/nft.err")"
		sleep 0.5
		# someone deletes the tables by name: refused (they are owned),
		# or restored at once and counted
		ns_in_s nft delete table ip nfredact 2>"$EV/nft-delete.err"
		del4=$?
		ns_in_s nft delete table ip6 nfredact 2>>"$EV/nft-delete.err"
		del6=$?
		sleep 0.3
		ev_tables_in_place
		traffic_wait
		ev_traffic_checks
		ev_rules_metrics
		if [ $del4 -eq 0 ] || [ $del6 -eq 0 ]; then
			echo "     (nft delete table succeeded: restoration expected)"
			if ! grep -Eq '^nfredact_rules_restored_total(\{[^}]*\})? [1-9][0-9]*$' "$EV/stats.prom"; then
				fail nft-flush/restored "the tables were deleted, and no restoration counted"
			elif ! grep -q restored "$EV/nfredactd.err"; then
				fail nft-flush/restored "the tables were deleted, and no 'restored' line logged"
			else
				pass nft-flush/restored
			fi
		else
			echo "     (nft delete table refused: $(head -n 1 "$EV/nft-delete.err" | head -c 100))"
		fi
	fi
	ev_end
}

# the tables and their chains are in place (nft list ruleset shows them)
ev_tables_in_place() {
	ns_in_s nft list ruleset >"$EV/ruleset.txt" 2>&1
	if ! tables_present; then
		fail "$EV_NAME/tables-in-place" "table ip/ip6 nfredact missing after the event"
	elif ! grep -q '^table ip nfredact' "$EV/ruleset.txt" ||
		! grep -q '^table ip6 nfredact' "$EV/ruleset.txt" ||
		[ "$(grep -c '^[[:space:]]*chain ' "$EV/ruleset.txt")" -lt 2 ]; then
		fail "$EV_NAME/tables-in-place" "nft list ruleset does not show the tables' chains"
	else
		pass "$EV_NAME/tables-in-place"
	fi
}

# nfredact_rules_present is 1; restorations are counted
ev_rules_metrics() {
	stats_save
	if ! grep -Eq '^nfredact_rules_present(\{[^}]*\})? 1$' "$EV/stats.prom"; then
		fail "$EV_NAME/rules-metrics" "nfredact_rules_present is not 1"
	elif ! grep -Eq '^nfredact_rules_restored_total(\{[^}]*\})? [0-9]+$' "$EV/stats.prom"; then
		fail "$EV_NAME/rules-metrics" "no nfredact_rules_restored_total"
	else
		pass "$EV_NAME/rules-metrics"
	fi
}

# ---- 3. the host firewall managed with iptables-legacy ------------------

ev_iptables_legacy() {
	local fam
	ev_begin iptables-legacy || return
	# a host firewall as iptables-persistent saves it: raw, mangle, filter
	cat >"$EV/rules.v4" <<-'EOF'
	*raw
	:PREROUTING ACCEPT [0:0]
	:OUTPUT ACCEPT [0:0]
	:HOST-RAW - [0:0]
	-A PREROUTING -j HOST-RAW
	-A HOST-RAW -p udp --dport 123 -j ACCEPT
	COMMIT
	*mangle
	:PREROUTING ACCEPT [0:0]
	:INPUT ACCEPT [0:0]
	:FORWARD ACCEPT [0:0]
	:OUTPUT ACCEPT [0:0]
	:POSTROUTING ACCEPT [0:0]
	-A POSTROUTING -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
	COMMIT
	*filter
	:INPUT ACCEPT [0:0]
	:FORWARD DROP [0:0]
	:OUTPUT ACCEPT [0:0]
	-A INPUT -i lo -j ACCEPT
	-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	-A INPUT -p udp --dport 514 -j ACCEPT
	-A INPUT -p tcp --dport 514 -j ACCEPT
	-A INPUT -p icmp -j ACCEPT
	COMMIT
	EOF
	sed -e 's/-p icmp/-p ipv6-icmp/' "$EV/rules.v4" >"$EV/rules.v6"
	if ev_start_daemon; then
		ev_traffic_then 4
		EV_T=$(now)
		ns_in_s iptables-legacy-restore <"$EV/rules.v4" 2>"$EV/legacy.err" &&
		ns_in_s ip6tables-legacy-restore <"$EV/rules.v6" 2>>"$EV/legacy.err" ||
			fail iptables-legacy/restore "iptables-legacy-restore failed: $(head -n 1 "$EV/legacy.err")"
		sleep 0.7
		for fam in iptables-legacy ip6tables-legacy; do
			ns_in_s $fam -t raw -F 2>>"$EV/legacy.err" &&
			ns_in_s $fam -t raw -X 2>>"$EV/legacy.err" ||
				fail iptables-legacy/flush "$fam -t raw -F/-X failed: $(tail -n 1 "$EV/legacy.err")"
		done
		sleep 0.3
		ev_tables_in_place
		traffic_wait
		ev_traffic_checks
		ev_rules_metrics
	fi
	ev_end
}

# ---- 4. /proc/sys hidden from the daemon, IPv6 in use -------------------

ev_proc_sys_hidden() {
	ev_begin proc-sys-hidden || return
	OPS_WRAP=(unshare -m sh -c 'mount -t tmpfs none /proc/sys && exec "$@"' sh)
	if ev_start_daemon; then
		if tables_present ip6; then
			pass proc-sys-hidden/ip6-table
		else
			fail proc-sys-hidden/ip6-table "no table ip6 nfredact though IPv6 is in use"
		fi
		traffic_start 2.5 "udp:$SERVER6" "tcp:$SERVER6" "udp:$SERVER4"
		wait_for 5 traffic_flowing
		EV_T=$(now)
		traffic_wait
		ev_traffic_checks
	fi
	ev_end
}

# ---- 5. the flow table flooded, on-error accept ------------------------

ev_flood() {
	local flows arrived full
	ev_begin flow-flood || return
	write_policy "$EV/policy.conf" mask "" "on-error accept"
	if ev_start_daemon --max-flows 64; then
		ev_traffic_then 4
		EV_T=$(now)
		ip netns exec "$NS_C" "$FLOOD" "$SERVER4" 514 2000 2 "$EV_TAG" "$TEXT" \
			>"$EV/flood.out" 2>&1
		traffic_wait
		ev_traffic_checks
		stats_save
		flows=$(sed -n 's/^flows=//p' "$EV/flood.out")
		arrived=$(grep -c "FLOOD $EV_TAG " "$EV/srv/syslog.log")
		full=$(grep -E '^service\.syslog\.reason\.table-full ' "$EV/stats.txt" | awk '{ print $2 }')
		echo "     flood: ${flows:-0} new flows sent, $arrived arrived, table-full drops ${full:-none}"
		if [ "${full:-0}" -gt 0 ]; then
			pass flow-flood/table-full-counted
		else
			fail flow-flood/table-full-counted "no table-full drops counted"
		fi
	fi
	ev_end
}

# ---- 6. reload with a root-owned 0600 key ------------------------------

ev_reload_key() {
	local n
	ev_begin reload-key || return
	if ! "$NFREDACT" keygen "$EV/key" >"$EV/keygen.out" 2>&1; then
		fail reload-key/keygen "nfredact keygen failed: $(head -n 1 "$EV/keygen.out")"
		ev_end
		return
	fi
	chown root:root "$EV/key"
	chmod 0600 "$EV/key"
	write_policy "$EV/policy.conf" mask "key $EV/key"
	if ev_start_daemon; then
		ev_traffic_then 4
		# the reload makes IP literals truncated: the collector shows when
		# it took effect
		write_policy "$EV/policy.conf" "truncate 24" "key $EV/key"
		EV_T=$(now)
		kill -HUP "$D_PID"
		wait_for 3 grep -q "reload: policy" "$EV/nfredactd.err"
		if grep -q "policy has errors" "$EV/nfredactd.err"; then
			fail reload-key/reload "the reload failed: $(grep -m 1 ': error: ' "$EV/nfredactd.err" | sed 's/.*: error: //')"
		elif ! grep -q "reload: policy" "$EV/nfredactd.err"; then
			fail reload-key/reload "no 'reload: policy' line in nfredactd's stderr"
		elif ! wait_for 3 grep -q "OPS $EV_TAG .* from $CLIENT4_TRUNC mail" "$EV/srv/syslog.log"; then
			fail reload-key/reload "the collector shows no message under the reloaded policy"
		else
			pass reload-key/reload
		fi
		traffic_wait
		ev_traffic_checks
		n=$(stat -c '%U %a' "$EV/key")
		[ "$n" = "root 600" ] || fail reload-key/key-file "the key file is now $n"
	fi
	ev_end
}

# ---- 7. stats for root and group nfredact only --------------------------

ev_stats_access() {
	local rc uid
	ev_begin stats-access || return
	if ev_start_daemon; then
		ev_traffic_then 2.5
		EV_T=$(now)
		uid=$(awk '/^Uid:/ { print $2 }' "/proc/$D_PID/status" 2>/dev/null)
		if [ "$uid" != 0 ]; then
			fail stats-access/process-tree "the process started does not run as root"
		elif [ -z "$D_CHILD" ]; then
			fail stats-access/process-tree "no child process"
		elif uid=$(awk '/^Uid:/ { print $2 }' "/proc/$D_CHILD/status") &&
			[ "$uid" != "$NFR_UID" ]; then
			fail stats-access/process-tree "the child runs as uid $uid, not as nfredact ($NFR_UID)"
		else
			pass stats-access/process-tree
		fi
		"$NFREDACT" stats --control "$(ctl_path)" >"$EV/stats-root.out" 2>&1
		rc=$?
		if [ $rc -ne 0 ] || ! grep -q '^uptime_seconds ' "$EV/stats-root.out"; then
			fail stats-access/root "root's stats failed (exit $rc): $(head -n 1 "$EV/stats-root.out")"
		else
			pass stats-access/root
		fi
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$work/bin/nfredact" stats --control "$(ctl_path)" \
			>"$EV/stats-nobody.out" 2>"$EV/stats-nobody.err"
		rc=$?
		if [ $rc -eq 0 ] || [ -s "$EV/stats-nobody.out" ]; then
			fail stats-access/outsider "an unprivileged user read the stats (exit $rc)"
		elif [ $rc -ne 1 ]; then
			fail stats-access/outsider "exit $rc, not 1"
		elif ! grep -q '^nfredact stats: ' "$EV/stats-nobody.err"; then
			fail stats-access/outsider "exit $rc without an error from nfredact stats: $(head -n 1 "$EV/stats-nobody.err")"
		else
			pass stats-access/outsider
		fi
		# a member of group nfredact: as a supplementary group, or (what
		# SO_PEERCRED shows) as the primary one
		setpriv --reuid=65534 --regid=65534 --groups="$NFR_GID" \
			"$work/bin/nfredact" stats --control "$(ctl_path)" >"$EV/stats-group.out" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			setpriv --reuid=65534 --regid="$NFR_GID" --groups="$NFR_GID" \
				"$work/bin/nfredact" stats --control "$(ctl_path)" >"$EV/stats-group.out" 2>&1
			rc=$?
			[ $rc -eq 0 ] && echo "     (group nfredact admitted as primary group only)"
		fi
		if [ $rc -ne 0 ] || ! grep -q '^uptime_seconds ' "$EV/stats-group.out"; then
			fail stats-access/group "a member of group nfredact cannot read the stats: $(head -n 1 "$EV/stats-group.out")"
		else
			pass stats-access/group
		fi
		traffic_wait
		ev_traffic_checks
	fi
	ev_end
}

# ---- 8. a symlink planted at the control socket's path ------------------

ev_symlink() {
	local before after rc
	ev_begin control-symlink || return
	printf 'root-owned file, not for nfredactd\n' >"$EV/target"
	chown root:root "$EV/target"
	chmod 0644 "$EV/target"
	before=$(stat -c '%u:%g %a %s' "$EV/target"; md5sum <"$EV/target")
	ln -s "$EV/target" "$(ctl_path)"
	# the tables of an earlier run are in place: until a daemon serves,
	# covered traffic is blocked
	if ! ns_in_s "$NFREDACT" ruleset "$EV/policy.conf" --apply >"$EV/apply.out" 2>&1; then
		fail control-symlink/apply "nfredact ruleset --apply failed: $(head -n 1 "$EV/apply.out")"
		ev_end
		return
	elif ! tables_present; then
		fail control-symlink/apply "ruleset --apply left no table ip/ip6 nfredact"
	else
		pass control-symlink/apply
	fi
	# a socket directory others may write to is refused
	mkdir -p "$EV/unsafe"
	chmod 0777 "$EV/unsafe"
	ip netns exec "$NS_S" timeout 5 "$NFREDACTD" -c "$EV/policy.conf" --install-rules \
		--control "$EV/unsafe/control.sock" 2>"$EV/unsafe.err" >/dev/null
	rc=$?
	if [ $rc -eq 124 ] || [ $rc -eq 0 ]; then
		fail control-symlink/unsafe-dir "nfredactd served with its socket in a mode 0777 directory"
	elif [ -e "$EV/unsafe/control.sock" ]; then
		fail control-symlink/unsafe-dir "refused, but a socket was left in the 0777 directory"
	else
		pass control-symlink/unsafe-dir
	fi
	traffic_start 3
	sleep 0.5
	EV_T=$(now)
	ops_start
	rc=$?
	after=$(stat -c '%u:%g %a %s' "$EV/target"; md5sum <"$EV/target")
	if [ "$before" != "$after" ]; then
		fail control-symlink/target "the symlink's target changed: $(stat -c '%U:%G %a' "$EV/target")"
	else
		pass control-symlink/target
	fi
	case $rc in
	0)
		if [ -L "$(ctl_path)" ] || [ ! -S "$(ctl_path)" ]; then
			fail control-symlink/socket "serving, but the control path is not a fresh socket"
		else
			pass control-symlink/socket
			echo "     (nfredactd replaced the symlink with its socket)"
		fi
		;;
	1)
		if [ ! -s "$EV/nfredactd.err" ]; then
			fail control-symlink/socket "nfredactd exited without a word"
		else
			pass control-symlink/socket
			echo "     (nfredactd refused: $(tail -n 1 "$EV/nfredactd.err" | sed "s/^[0-9T:.-]*Z //" | head -c 160))"
		fi
		EV_RESUME_EXPECTED=0
		D_PID=""
		;;
	*) fail control-symlink/socket "nfredactd neither serves nor exits" ;;
	esac
	traffic_wait
	ev_traffic_checks
	ev_end
}

# ---- 9. `nfredact ruleset --remove` while nfredactd runs ----------------

ev_remove_running() {
	local rc
	ev_begin remove-while-running || return
	if ev_start_daemon; then
		ev_traffic_then 3
		EV_T=$(now)
		ns_in_s "$NFREDACT" ruleset "$EV/policy.conf" --remove >"$EV/remove-early.out" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			fail remove-while-running/refused "ruleset --remove succeeded while nfredactd runs"
		elif ! tables_present; then
			fail remove-while-running/refused "ruleset --remove failed but the tables are gone"
		else
			pass remove-while-running/refused
		fi
		traffic_wait
		ev_traffic_checks
	fi
	ev_end
}

# ---- run ----------------------------------------------------------------

EVENTS=(restart restart-gap crash nft-flush iptables-legacy proc-sys-hidden flow-flood
	reload-key stats-access control-symlink remove-while-running)
for ev in ${OPS_ONLY:-${EVENTS[@]}}; do
	case $ev in
	restart) ev_restart restart 0 4 ;;
	restart-gap) ev_restart restart-gap 2 7 ;;
	crash) ev_crash ;;
	nft-flush) ev_nft_flush ;;
	iptables-legacy) ev_iptables_legacy ;;
	proc-sys-hidden) ev_proc_sys_hidden ;;
	flow-flood) ev_flood ;;
	reload-key) ev_reload_key ;;
	stats-access) ev_stats_access ;;
	control-symlink) ev_symlink ;;
	remove-while-running) ev_remove_running ;;
	*) echo "ops: unknown event $ev"; failed=$((failed + 1)) ;;
	esac
done

echo
printf '%-20s %6s %10s %8s %12s %12s  %s\n' event sent unredacted received \
	"udp gap" "tcp gap" result
printf '%s\n' "${ROWS[@]}"
echo "(gap: the longest silence of the numbered UDP / TCP streams at the collector"
echo " from the event on, i.e. the time until service resumed; 'blocked': the"
echo " daemon refused to start and the tables kept traffic out, as they should)"
echo "ops: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
