#!/bin/bash
# many.sh — 20,000 concurrent TCP clients over a lossy, reordering link:
# a real rsyslog (imtcp) in a server network namespace behind nfredactd,
# the clients in a second namespace, from several source addresses.  Each
# connection stays open from the first connection to the last close and
# sends a few syslog lines, each with a unique IPv4 address, email and
# phone number, every identifier cut twice across TCP segments
# (TCP_NODELAY, a pause between pieces).  So 20,000 TCP streams have
# state in nfredactd at once, with segments lost, sent again and
# overtaken on the way.  The collectors' own files are the truth.
#
# Checks: every connection made and open at once (clients); no original
# in the collectors' files, whole (no-original) or in part, a byte of an
# identifier left at its place (no-fragment); nearly every line arrived
# (delivered: TCP sends again what the link or nfredactd dropped); no
# byte the client never sent (intact); the identifiers really cut
# across segments in a capture of one client address (split); no packet
# left without a verdict in the kernel's queue once traffic ends
# (verdicts); no original in nfredactd's stderr or stats (own-output).
#
# Loss and reordering come from `tc qdisc ... netem` on both ends of the
# veth; on a kernel without sch_netem, from tests/e2e/impair.py, a queue
# reader in the client namespace doing the same (MANY_IMPAIR=auto, the
# default; netem, nfqueue or none force one).  The collector takes as
# many sessions as the open-files limit allows: with a hard limit below
# the connections, the sessions are shared by several rsyslogd on
# consecutive ports, all behind the same nfredactd.
#
# Settings (environment): MANY_CONNS (20000), MANY_LINES per connection
# (3), MANY_SOURCES client addresses (10), MANY_LOSS percent (2),
# MANY_REORDER percent of packets held back (10) by MANY_DELAY_MS (50),
# MANY_SPREAD seconds over which the lines go out (30), MANY_GAP_MS
# between the pieces of a line ("5 20"), MANY_HOLD_MS in the policy
# (2000) and MANY_HOLD_END (mask; pass lets the start of an identifier
# through when a hold ends without its rest), MANY_MIN_RECEIVED percent of lines that must arrive (99),
# MANY_KEEP=DIR keeps the files (the collector's logs hold only redacted
# lines unless a test fails; the capture and originals.txt hold originals).
#
# Prints counts, never an original.  Exit: 0 passed, 1 a check failed,
# 77 skipped (not root, no network namespaces, tools missing: make deps).
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
NFREDACTD=${NFREDACTD:-$B/nfredactd}
NFREDACT=${NFREDACT:-$B/nfredact}
E2E=tests/e2e
. "$E2E/lib.sh"
MANY=$E2E/many.py
IMPAIR=$E2E/impair.py

skip() { echo "many: skipped: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nf_tables)"
for tool in ip ss nft tc rsyslogd /usr/bin/python3; do
	command -v "$tool" >/dev/null || skip "$tool not installed (make deps)"
done
for bin in "$NFREDACTD" "$NFREDACT"; do
	if [ ! -x "$bin" ]; then
		echo "many: $bin not built"
		echo "many: 0 passed, 1 failed"
		exit 1
	fi
done

CONNS=${MANY_CONNS:-20000}
LINES=${MANY_LINES:-3}
NSRC=${MANY_SOURCES:-10}
LOSS=${MANY_LOSS:-2}
REORDER=${MANY_REORDER:-10}
DELAY_MS=${MANY_DELAY_MS:-50}
SPREAD=${MANY_SPREAD:-30}
read -r GAP_MIN GAP_MAX <<<"${MANY_GAP_MS:-5 20}"
HOLD_MS=${MANY_HOLD_MS:-2000}
MIN_RECEIVED=${MANY_MIN_RECEIVED:-99}
IMPAIR_MODE=${MANY_IMPAIR:-auto}
PORT0=514
TAG="r$$"

T_BEGIN=$(date +%s.%N)
elapsed() { awk -v a="$T_BEGIN" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

work=$(mktemp -d "${TMPDIR:-/tmp}/nfredact-many.XXXXXX")
trap 'ns_cleanup; [ -n "${MANY_KEEP:-}" ] && cp -r "$work/." "$MANY_KEEP/"; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

# ---- limits: open files for the sessions --------------------------------

# The collector needs a descriptor per session, the client one per
# connection.  Raise the limit as far as the hard limit goes (it takes
# CAP_SYS_RESOURCE to raise that); what one process cannot hold is shared
# by several.
want=$((CONNS + 1024))
ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=$want
PER_COLLECTOR=$((NOFILE - 256))
[ "$PER_COLLECTOR" -ge 100 ] || skip "open files limit $NOFILE: too low for the collector"
COLLECTORS=$(((CONNS + PER_COLLECTOR - 1) / PER_COLLECTOR))
SESSIONS=$(((CONNS + COLLECTORS - 1) / COLLECTORS + 100))
PER_WORKER=$((NOFILE - 64))
[ "$PER_WORKER" -gt 5000 ] && PER_WORKER=5000
WORKERS=$(((CONNS + PER_WORKER - 1) / PER_WORKER))
[ "$WORKERS" -lt 2 ] && WORKERS=2
PORTS=$PORT0
for ((k = 1; k < COLLECTORS; k++)); do PORTS+=",$((PORT0 + k))"; done
PORT_LAST=$((PORT0 + COLLECTORS - 1))
SOURCES=""
for ((k = 1; k <= NSRC; k++)); do SOURCES+="${SOURCES:+,}198.18.$k.2"; done

# ---- namespaces, addresses ----------------------------------------------

ns_setup || skip "cannot create network namespaces"
for ((k = 1; k <= NSRC; k++)); do
	ip -n "$NS_C" addr add "198.18.$k.2/32" dev "$VETH_C" ||
		skip "cannot add client addresses"
done
# the pseudonyms 198.18.K.0 (truncate 24) are reached through the client
ip -n "$NS_S" route add 198.18.0.0/16 via "$CLIENT4" dev "$VETH_S" ||
	skip "cannot add the route to the client addresses"
ns_in_s sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
	>/dev/null 2>&1

# ---- collectors -----------------------------------------------------------

# many_rsyslog_start PORT: rsyslogd in the server namespace on TCP PORT,
# up to $SESSIONS sessions, "FROMHOST-IP | MSG" lines in syslog-PORT.log
many_rsyslog_start() {
	local port=$1 dir=$work/srv
	mkdir -p "$dir/rsyslog-$port"
	cat >"$dir/rsyslog-$port.conf" <<-EOF
	# collector for tests/e2e/many.sh: all in $dir
	global(workDirectory="$dir/rsyslog-$port" net.enableDNS="off")
	module(load="imtcp" maxSessions="$SESSIONS")
	input(type="imtcp" port="$port")
	template(name="nfredact_many" type="string" string="%fromhost-ip% | %msg%\n")
	*.* action(type="omfile" file="$dir/syslog-$port.log" template="nfredact_many")
	EOF
	: >"$dir/syslog-$port.log"
	ip netns exec "$NS_S" rsyslogd -n -f "$dir/rsyslog-$port.conf" \
		-i "$dir/rsyslog-$port.pid" >"$dir/rsyslog-$port.out" 2>&1 &
	ns_pid_add $!
	wait_for 10 port_listening "$NS_S" tcp "$port"
}

LOGS=()
for ((k = 0; k < COLLECTORS; k++)); do
	port=$((PORT0 + k))
	many_rsyslog_start "$port" ||
		skip "rsyslogd does not start: $(tail -n 1 "$work/srv/rsyslog-$port.out")"
	LOGS+=("$work/srv/syslog-$port.log")
done

# ---- nfredactd ------------------------------------------------------------

listen=$PORT0
[ "$COLLECTORS" -gt 1 ] && listen="$PORT0-$PORT_LAST"
cat >"$work/policy.conf" <<-EOF
# written by tests/e2e/many.sh
service syslog {
	listen tcp $listen
	queue 0
	address ipv4 truncate 24
	address ipv6 truncate 48
	redact ipv4 mask
	redact email mask
	redact phone mask
	on-error drop
	# longer than a piece of a line waits for the next one; a hold
	# that ends without the bytes that decide it (a loss whose
	# retransmission comes later, a client that waits for the ACK of
	# held bytes) masks the undecided tail: lines here are never
	# complete before their end
	hold ${HOLD_MS}ms ${MANY_HOLD_END:-mask}
}
EOF
if ! nfredactd_start "$work" "$work/policy.conf" --max-flows 262144 --queue-maxlen 16384; then
	echo "many: nfredactd did not come up:"
	tail -n 5 "$work/nfredactd.err" | sed 's/^/    /'
	echo "many: 0 passed, 1 failed"
	exit 1
fi

# stat_value NAME: a counter from nfredact stats (0 when absent)
stat_value() {
	"$NFREDACT" stats --control "$work/control.sock" 2>/dev/null |
		awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

# ---- loss and reordering on the link --------------------------------------

impair_netem() {
	local args=(limit 200000 loss "$LOSS%" delay "${DELAY_MS}ms" reorder "$((100 - REORDER))%")
	ns_in_c tc qdisc add dev "$VETH_C" root netem "${args[@]}" 2>"$work/tc.err" &&
		ns_in_s tc qdisc add dev "$VETH_S" root netem "${args[@]}" 2>>"$work/tc.err"
}

impair_nfqueue() {
	local pid
	command -v iptables >/dev/null || return 1
	ns_in_c iptables -t mangle -A POSTROUTING -o "$VETH_C" -p tcp \
		--dport "$PORT0:$PORT_LAST" -j NFQUEUE --queue-num 0 2>"$work/iptables.err" &&
	ns_in_c iptables -t mangle -A PREROUTING -i "$VETH_C" -p tcp \
		--sport "$PORT0:$PORT_LAST" -j NFQUEUE --queue-num 0 2>>"$work/iptables.err" ||
		return 1
	ip netns exec "$NS_C" nice -n 10 "$IMPAIR" 0 "$LOSS" "$REORDER" "$DELAY_MS" \
		>"$work/impair.out" 2>&1 &
	pid=$!
	ns_pid_add "$pid"
	IMPAIR_PID=$pid
	wait_for 10 grep -q '^impair: bound' "$work/impair.out"
}

IMPAIR_PID=""
what="loss $LOSS%, $REORDER% of packets held back ${DELAY_MS} ms, both directions"
case $IMPAIR_MODE in
auto | netem)
	if impair_netem; then
		IMPAIR_HOW="tc netem on both veth ends ($what)"
	elif [ "$IMPAIR_MODE" = netem ]; then
		skip "tc netem refused: $(head -n 1 "$work/tc.err")"
	elif impair_nfqueue; then
		IMPAIR_HOW="impair.py in the client namespace, the kernel has no sch_netem ($what)"
	else
		skip "neither tc netem ($(head -n 1 "$work/tc.err")) nor a queue reader for loss"
	fi
	;;
nfqueue)
	impair_nfqueue || skip "cannot queue the client's packets: $(head -n 1 "$work/iptables.err")"
	IMPAIR_HOW="impair.py in the client namespace ($what)"
	;;
none) IMPAIR_HOW="none" ;;
*) echo "many: MANY_IMPAIR=$IMPAIR_MODE: auto, netem, nfqueue or none"; exit 2 ;;
esac

# ---- a capture sample of the client's segments -------------------------

# The first data segments of one client address: are the identifiers
# really cut across segments?
CAPTURE=""
if command -v tcpdump >/dev/null; then
	ip netns exec "$NS_C" tcpdump -i "$VETH_C" -Z root -U -s 256 -c 3000 \
		-w "$work/sample.pcap" \
		"tcp dst portrange $PORT0-$PORT_LAST and src host 198.18.1.2 and tcp[tcpflags] & tcp-push != 0" \
		>"$work/tcpdump.out" 2>&1 &
	ns_pid_add $!
	CAPTURE=$work/sample.pcap
	wait_for 5 grep -q 'listening on' "$work/tcpdump.out"
fi

# ---- the clients ----------------------------------------------------------

ports_text="port $PORT0"
[ "$COLLECTORS" -gt 1 ] && ports_text="ports $PORT0-$PORT_LAST"
echo "many: $CONNS connections from $NSRC addresses, $LINES lines each," \
	"to $COLLECTORS rsyslogd on $ports_text"
echo "many: open files limit $NOFILE: $SESSIONS sessions a collector, $WORKERS client processes"
echo "many: impairment: $IMPAIR_HOW"

# The test's own programs run niced: on a small machine the daemon and
# the collectors under test come first.
PHASE=$work/phase
: >"$PHASE"
ip netns exec "$NS_C" nice -n 10 "$MANY" send --server "$SERVER4" --ports "$PORTS" \
	--sources "$SOURCES" --conns "$CONNS" --lines "$LINES" --tag "$TAG" \
	--phase "$PHASE" --workers "$WORKERS" --spread "$SPREAD" \
	--gap "$GAP_MIN" "$GAP_MAX" >"$work/send.out" 2>"$work/send.err" &
CLIENT_PID=$!
ns_pid_add "$CLIENT_PID"

established() {
	ns_in_s ss -Htn state established "( sport >= :$PORT0 and sport <= :$PORT_LAST )" |
		wc -l
}
phase_reached() { grep -q "^$1 " "$PHASE"; }

EST_CONNECTED=- EST_DRAINED=- FLOWS_PEAK=-
if wait_for 180 phase_reached connected; then
	EST_CONNECTED=$(established)
	FLOWS_PEAK=$(stat_value flows.live)
	echo "many: all connected after $(elapsed) s: $EST_CONNECTED established at the collectors"
	if wait_for $((SPREAD + 120)) phase_reached drained; then
		EST_DRAINED=$(established)
		f=$(stat_value flows.live)
		[ "$f" -gt "$FLOWS_PEAK" ] && FLOWS_PEAK=$f
		echo "many: every line sent and acknowledged after $(elapsed) s:" \
			"$EST_DRAINED established at the collectors"
	fi
fi
touch "$PHASE.close"
if wait_for 90 proc_gone "$CLIENT_PID"; then
	wait "$CLIENT_PID"
	client_rc=$?
else
	echo "many: the clients did not finish: stopped"
	ns_kill "$CLIENT_PID"
	client_rc=1
fi

# The collectors have written what they got when their files stop
# growing for 5 s (what the clients closed unacknowledged, their
# kernels still send, with backoff)
count_lines() { cat "${LOGS[@]}" | grep -c "MANY $TAG "; }
prev=-1 same=0
for ((k = 0; k < 90 && same < 5; k++)); do
	now=$(count_lines)
	if [ "$now" = "$prev" ]; then
		same=$((same + 1))
	else
		same=0
	fi
	prev=$now
	sleep 1
done

# Once traffic ends, every packet the daemon was given has its verdict
# but those it holds: none is left in the kernel's queue for good.
unanswered() { echo $(($(stat_value queue.0.waiting) - $(stat_value queue.0.held))); }
settled() { [ "$(unanswered)" -le 16 ]; }
wait_for 20 settled
UNANSWERED=$(unanswered)

"$NFREDACT" stats --control "$work/control.sock" >"$work/stats.txt" 2>&1
# CPU seconds of the process that serves the queue
DAEMON_CPU=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' \
	"/proc/$NFREDACTD_SERVER/stat" 2>/dev/null)
[ -n "$IMPAIR_PID" ] && ns_kill "$IMPAIR_PID"

# ---- judgement ---------------------------------------------------------------

"$MANY" judge --tag "$TAG" --conns "$CONNS" --lines "$LINES" --sources "$SOURCES" \
	--originals "$work/originals.txt" ${CAPTURE:+--pcap "$CAPTURE"} "${LOGS[@]}" \
	>"$work/judge.out" 2>&1
jv() { sed -n "s/^$1=//p" "$work/judge.out" | head -n 1; }
sv() { sed -n "s/^$1=//p" "$work/send.out" | head -n 1; }
st() { awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }' "$work/stats.txt"; }
# lines of the collectors' files holding an original, whole (grep -F)
ORIG_LINES=$(cat "${LOGS[@]}" | grep -cF -f "$work/originals.txt")
OWN_OUTPUT=$(cat "$work/nfredactd.err" "$work/stats.txt" | grep -cF -f "$work/originals.txt")
TOO_MANY=$(cat "$work"/srv/rsyslog-*.out "${LOGS[@]}" | grep -ci 'too many')

planned=$((CONNS * LINES))
received=$(jv received)
pct=$(awk -v r="${received:-0}" -v p="$planned" 'BEGIN { printf "%.2f", p ? 100 * r / p : 0 }')
svc=service.syslog

echo
echo "connections:  $CONNS planned, $(sv connected) connected ($(sv connect_failed) failed," \
	"$(sv connect_retries) attempts again) in $(sv connect_s) s;" \
	"open at once: $(sv open_at_close) at the client, $EST_CONNECTED / $EST_DRAINED" \
	"established at the collectors (connected / all lines sent)"
echo "lines:        $planned planned, $(sv lines_written) sent, $(sv lines_acked) acknowledged," \
	"$received received ($pct%), $(jv duplicates) duplicated;" \
	"collector refusals ('too many'): $TOO_MANY"
echo "pieces:       $(sv pieces) sends, $(sv coalesced) merged behind a full buffer," \
	"$(sv postponed) waited for TCP to send the one before, $(sv forced) written at once when time was up;" \
	"latest $(sv late_max_ms) ms behind plan ($(sv late_over_100ms) over 100 ms);" \
	"longest pause inside a line $(sv gap_max_ms) ms (hold ${HOLD_MS} ms)"
if [ -n "$CAPTURE" ]; then
	echo "capture:      $(jv sample_segments) data segments of one client address sent" \
		"for the first time, $(jv sample_ending_mid_line) ending inside a line," \
		"$(jv sample_retransmitted) sent again; identifiers cut across segments:" \
		"$(jv sample_identifiers_cut) of $(jv sample_identifiers)"
fi
echo "unredacted:   $ORIG_LINES line(s) with a whole original (grep -F of $(wc -l <"$work/originals.txt") originals);" \
	"$(jv leaked_lines) line(s) with a byte of an identifier left in place" \
	"(ipv4 $(jv leaked_ipv4), email $(jv leaked_email), phone $(jv leaked_phone));" \
	"$(jv wrong_fromhost) not from the pseudonym; $(jv other_diff) masked beyond an identifier"
echo "garbled:      $(($(jv garbled) + $(jv unparsed))) line(s) with bytes the client never sent," \
	"$(jv garbled_residue) of them with characters only an identifier has"
echo "nfredactd:    ${DAEMON_CPU:-?} s of CPU; packets in $(st $svc.packets_in), out $(st $svc.packets_out), changed $(st $svc.changed)," \
	"dropped $(st $svc.dropped): $(awk -v p="$svc.drop." 'index($1, p) == 1 && $2 > 0 {
		printf "%s%s %s", n++ ? ", " : "", substr($1, length(p) + 1), $2 }' "$work/stats.txt")"
echo "              flows created $(st $svc.flows_created), live at most $FLOWS_PEAK;" \
	"holds $(st $svc.holds): released $(st $svc.hold_released)," \
	"timeout masked $(st $svc.hold_timeout_masked), timeout passed $(st $svc.hold_timeout_passed)," \
	"flow bound $(st $svc.hold_bound_hit), pool full $(st $svc.hold_pool_full)," \
	"stalled $(st $svc.hold_stalled)"
echo "              out of order $(st $svc.out_of_order); retransmissions patched" \
	"$(st $svc.retrans_patched), dropped $(st $svc.retrans_dropped), no record" \
	"$(st $svc.retrans_no_record); not delivered $(st $svc.not_delivered);" \
	"kernel queue drops $(st queue.0.queue_dropped), user drops $(st queue.0.user_dropped);" \
	"waiting without a verdict after the traffic $UNANSWERED"
if [ -n "$IMPAIR_PID" ]; then
	echo "link:         impair.py $(grep -m 1 '^packets=' "$work/impair.out")"
fi
echo "time:         $(elapsed) s"
echo

passed=0 failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

if [ "$client_rc" -ne 0 ] || [ -z "$(sv connected)" ]; then
	fail many/clients "the client program failed: $(tail -n 1 "$work/send.err")"
elif [ "$(sv connected)" -lt $((CONNS * 99 / 100)) ]; then
	fail many/clients "only $(sv connected) of $CONNS connected"
elif [ "$(sv open_at_close)" -lt "$(sv connected)" ] ||
	[ "$EST_DRAINED" = - ] || [ "$EST_DRAINED" -lt $(($(sv connected) * 99 / 100)) ]; then
	fail many/clients "not all connections stayed open at once"
else
	pass many/clients
fi
if [ -z "$received" ]; then
	fail many/judge "judging failed: $(head -n 1 "$work/judge.out")"
else
	if [ "$ORIG_LINES" -ne 0 ] || [ "$(jv whole_originals)" -ne 0 ] ||
		[ "$(jv wrong_fromhost)" -ne 0 ]; then
		fail many/no-original "$ORIG_LINES line(s) hold a whole original, $(jv wrong_fromhost) a client address that is not the pseudonym"
	else
		pass many/no-original
	fi
	if [ "$(jv leaked_lines)" -ne 0 ]; then
		fail many/no-fragment "$(jv leaked_lines) line(s) kept bytes of an identifier cut across segments"
	else
		pass many/no-fragment
	fi
	if awk -v p="$pct" -v m="$MIN_RECEIVED" 'BEGIN { exit !(p < m) }'; then
		fail many/delivered "$pct% of the lines arrived (at least $MIN_RECEIVED% expected)"
	else
		pass many/delivered
	fi
fi
if [ -n "$received" ]; then
	garbled=$(($(jv garbled) + $(jv unparsed)))
	if [ "$garbled" -ne 0 ]; then
		fail many/intact "$garbled line(s) arrived with bytes the client never sent ($(jv garbled_residue) with characters only an identifier has)"
	else
		pass many/intact
	fi
fi
if [ -n "$CAPTURE" ]; then
	# TCP itself merges the pieces that wait behind a loss or a stall
	# (all are cut when the path is clean): this asks for a real split,
	# not all of it
	ids=$(jv sample_identifiers)
	# what one client address sends (half of it at least), at most 100
	min_ids=$((CONNS * LINES * 3 / NSRC / 2))
	[ "$min_ids" -gt 100 ] && min_ids=100
	if [ "${ids:-0}" -lt "$min_ids" ]; then
		fail many/split "the capture shows ${ids:-0} identifiers"
	elif [ "$(jv sample_identifiers_cut)" -lt $((ids / 4)) ]; then
		fail many/split "only $(jv sample_identifiers_cut) of $ids identifiers in the capture were cut across segments"
	else
		pass many/split
	fi
fi
if [ "$UNANSWERED" -gt 16 ]; then
	fail many/verdicts "$UNANSWERED packets wait in the kernel's queue without a verdict, none held, after traffic ended"
else
	pass many/verdicts
fi
if [ "$OWN_OUTPUT" -ne 0 ]; then
	fail many/own-output "$OWN_OUTPUT line(s) of nfredactd's stderr or stats hold an original"
else
	pass many/own-output
fi

echo "many: $passed passed, $failed failed ($(elapsed) s)"
[ "$failed" -eq 0 ]
