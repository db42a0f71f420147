#!/bin/bash
# run-live.sh — the live benchmark: the same UDP and TCP request/response
# traffic (bench/live/rr) between two network namespaces
#   (a) with no queue, (b) through accept-all (one verdict per packet),
#   (c) through nfredactd with bench/live/live.policy,
# LIVE_RUNS rounds with the modes interleaved, medians reported; then
# the latency that stream hold-back adds to interactive TCP, with and
# without an identifier cut at the end of each request (a against c);
# then memory per tracked flow (the table alone, and the daemon's RSS
# growth); then the latency of real application operations (MQTT
# CONNECT and QoS 1 PUBLISH against mosquitto, HTTP POST against nginx,
# spoken by bench/live/lat) with no queue and through nfredactd with
# bench/live/mqtt.policy, and the segments nfredactd held for them.
#
# Usage: run-live.sh BUILD_DIR LIVE_BUILD_DIR   (root; `make bench-live`)
# LIVE_ONLY="rr hold flows latency" runs only the parts named (default:
# all); LIVE_LAT_N operations of each kind per round (default 100).
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
LB=${2:-$B/bench/live}
SECS=${LIVE_SECONDS:-3}
RUNS=${LIVE_RUNS:-3}
HOLD_SECS=${LIVE_HOLD_SECONDS:-2}
FLOWS=${LIVE_FLOWS:-50000}
TABLE=${LIVE_TABLE:-1000000}
NFREDACTD=$B/nfredactd
NFREDACT=$B/nfredact
POLICY=bench/live/live.policy
LAT_POLICY=bench/live/mqtt.policy
LAT_N=${LIVE_LAT_N:-100}
MQTT_PORT=1883
HTTP_PORT=8080
UDP_PORT=7001
TCP_PORT=7002
. tests/e2e/lib.sh

[ "$(id -u)" = 0 ] || { echo "bench-live: needs root (network namespaces)" >&2; exit 1; }
for f in "$NFREDACTD" "$NFREDACT" "$LB/rr" "$LB/accept-all" "$LB/flowmem" "$LB/lat"; do
	[ -x "$f" ] || { echo "bench-live: $f not built" >&2; exit 1; }
done
for t in ip ss nft; do
	command -v "$t" >/dev/null || { echo "bench-live: $t missing" >&2; exit 1; }
done

# part NAME: LIVE_ONLY is unset or names NAME
LIVE_ONLY=${LIVE_ONLY:-}
part() { [ -z "$LIVE_ONLY" ] || [[ " ${LIVE_ONLY//,/ } " == *" $1 "* ]]; }
for p in ${LIVE_ONLY//,/ }; do
	case $p in
	rr | hold | flows | latency) ;;
	*) echo "bench-live: LIVE_ONLY: no part '$p' (rr hold flows latency)" >&2; exit 2 ;;
	esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nfredact-live.XXXXXX")
trap 'ns_cleanup; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

ns_setup || { echo "bench-live: cannot create network namespaces" >&2; exit 1; }
ip netns exec "$NS_S" "$LB/rr" server udp $UDP_PORT & ns_pid_add $!
ip netns exec "$NS_S" "$LB/rr" server tcp $TCP_PORT & ns_pid_add $!
wait_for 5 port_listening "$NS_S" udp $UDP_PORT &&
	wait_for 5 port_listening "$NS_S" tcp $TCP_PORT ||
	{ echo "bench-live: rr servers did not start" >&2; exit 1; }

# Rules for (b): the ones nfredactd installs for the same policy, so (b)
# and (c) queue exactly the same packets.  Neither accept-all nor
# nfredactd takes them away when it stops (fail closed): the operator's
# `nfredact ruleset --remove` does, before the next mode.
# MODE_POLICY: the policy of modes b and c (and of the rules they leave)
MODE_POLICY=$POLICY
remove_rules() {
	ns_in_s "$NFREDACT" ruleset "$MODE_POLICY" --remove >"$work/remove.out" 2>&1 &&
		rules_absent ||
		{ echo "bench-live: the queue rules cannot be removed:" >&2
		  cat "$work/remove.out" >&2; return 1; }
}

MODE_PID=
mode_on() {
	case $1 in
	a)
		# (a) measures the path without a queue: nothing may be left
		rules_absent ||
			{ echo "bench-live: queue rules left from another mode" >&2; return 1; }
		;;
	b)
		ns_in_s "$NFREDACT" ruleset "$MODE_POLICY" --dev "$VETH_S" --apply \
			>"$work/ruleset.out" 2>&1 ||
			{ echo "bench-live: nfredact ruleset --apply failed:" >&2
			  cat "$work/ruleset.out" >&2; return 1; }
		# queue 0 inbound, queue 1 outbound, as nfredactd binds them
		ip netns exec "$NS_S" "$LB/accept-all" 0 1 2>>"$work/accept-all.err" &
		MODE_PID=$!
		ns_pid_add "$MODE_PID"
		wait_for 5 queue_bound "$NS_S" 0 && wait_for 5 queue_bound "$NS_S" 1
		;;
	c)
		NFREDACTD_QUEUES="0 1" nfredactd_start "$work" "$MODE_POLICY" ||
			{ echo "bench-live: nfredactd did not start:" >&2
			  tail -n 5 "$work/nfredactd.err" >&2; return 1; }
		MODE_PID=$NFREDACTD_PID
		;;
	esac
}

mode_off() {
	[ -n "$MODE_PID" ] && ns_kill "$MODE_PID"
	MODE_PID=
	remove_rules || exit 1
}

# cpu_ticks PID: user+system clock ticks of the process (all its threads)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# wakeups PID: context switches of all its threads (a blocked reader
# switches out once per wake-up)
wakeups() {
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}
HZ=$(getconf CLK_TCK)
# the process that reads the queue in mode b or c
reader_pid() {
	case $1 in
	b) echo "$MODE_PID" ;;
	c) echo "$NFREDACTD_SERVER" ;;
	esac
}

# field NAME LINE: the value of NAME=... in an rr report line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }

# ---- throughput and latency, the three modes ---------------------------

live_rr() {
	echo "live benchmark: $RUNS rounds x ${SECS}s per mode and protocol, modes interleaved"
	echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the host shows here)"
	echo "  (a) no queue  (b) accept-all, one verdict per packet  (c) nfredactd, $POLICY"
	echo "  TCP requests end in CRLF (the hold-back of other tails is measured after the table)"
	for ((r = 1; r <= RUNS; r++)); do
		for m in a b c; do
			mode_on $m || exit 1
			for proto in udp tcp; do
				port=$UDP_PORT window=64 endopt=
				# TCP requests end in "\r\n", as lines do: a tail that
				# may begin an identifier is held back (measured below)
				[ $proto = tcp ] && port=$TCP_PORT window=32 endopt="-e crlf"
				# throughput: a full window in flight
				rp=$(reader_pid $m)
				if [ -n "$rp" ]; then
					t0=$(cpu_ticks "$rp") w0=$(wakeups "$rp")
				fi
				line=$(ns_in_c "$LB/rr" client $proto "$SERVER4" $port \
					-w $window -s 128 -t "$SECS" $endopt)
				echo "$line" >>"$work/$m.$proto"
				if [ -n "$rp" ]; then
					# the reader's own cost per packet it passed
					awk -v t=$(($(cpu_ticks "$rp") - t0)) -v hz="$HZ" \
					    -v w=$(($(wakeups "$rp") - w0)) \
					    -v r="$(field replies "$line")" 'BEGIN {
						if (r > 0) printf "%.2f %.3f\n", t * 1e6 / hz / (2 * r), w / (2 * r) }' \
						>>"$work/$m.$proto.reader"
				fi
				printf '  round %d (%s) %s\n' "$r" "$m" "$line"
				# latency: one request in flight, so no queueing in
				# the window hides or inflates the filter's own delay
				line=$(ns_in_c "$LB/rr" client $proto "$SERVER4" $port \
					-w 1 -s 128 -t 1 $endopt)
				echo "$line" >>"$work/$m.$proto.lat"
				printf '  round %d (%s) %s\n' "$r" "$m" "$line"
			done
			mode_off
		done
	done

	echo
	echo "medians; throughput with the window full (UDP 64, TCP 32 connections),"
	echo "latency with one request in flight:"
	printf '%-5s %-28s %12s %12s %10s %10s %8s\n' proto mode "requests/s" "packets/s" p50_us p99_us lost
	declare -A PPS P50 P99 names
	names=([a]="no queue" [b]="accept-all" [c]="nfredactd")
	for proto in udp tcp; do
		for m in a b c; do
			f=$work/$m.$proto
			PPS[$m$proto]=$(while read -r l; do field pps "$l"; done <"$f" | median)
			rps=$(while read -r l; do field rps "$l"; done <"$f" | median)
			P50[$m$proto]=$(while read -r l; do field p50_us "$l"; done <"$f.lat" | median)
			P99[$m$proto]=$(while read -r l; do field p99_us "$l"; done <"$f.lat" | median)
			lost=$(while read -r l; do field lost "$l"; done <"$f" | median)
			printf '%-5s %-28s %12s %12s %10s %10s %8s\n' $proto "(${m}) ${names[$m]}" \
				"$rps" "${PPS[$m$proto]}" "${P50[$m$proto]}" "${P99[$m$proto]}" "$lost"
		done
	done

	echo
	echo "queue reader's own cost per packet (throughput runs; CPU in its"
	echo "system calls includes delivering the accepted packets to the receiver):"
	for proto in udp tcp; do
		for m in b c; do
			f=$work/$m.$proto.reader
			[ -s "$f" ] || continue
			printf '  %-4s (%s) %-11s %6s us CPU  %6s wake-ups\n' $proto $m "${names[$m]}" \
				"$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f2 "$f" | median)"
		done
	done
	echo "  load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

	echo
	for proto in udp tcp; do
		awk -v p=$proto -v a="${PPS[a$proto]}" -v b="${PPS[b$proto]}" -v c="${PPS[c$proto]}" \
		    -v a50="${P50[a$proto]}" -v c50="${P50[c$proto]}" \
		    -v a99="${P99[a$proto]}" -v c99="${P99[c$proto]}" 'BEGIN {
			cb = (b > 0) ? c / b : 0; ca = (a > 0) ? c / a : 0
			printf "%s: c/b = %.2f (goal >= 1.3, %s)  c/a = %.2f (goal >= 0.8, %s)  added latency p50 %+.1f us, p99 %+.1f us\n",
				p, cb, (cb >= 1.3 ? "met" : "not met"), ca, (ca >= 0.8 ? "met" : "not met"),
				c50 - a50, c99 - a99
		}'
	done
}

# ---- hold-back latency ---------------------------------------------------

# Interactive TCP, one request in flight: requests that end in "\r\n"
# (a clean tail: nothing to wait for) against requests that end in a
# digit (it may begin an address) or in the middle of an e-mail address:
# nfredactd holds those back until the hold time passes (the rest never
# comes: the client waits for the echo).
live_hold() {
	echo
	echo "hold-back latency: TCP, one request in flight, ${HOLD_SECS}s x $RUNS rounds per mode and request end"
	for ((r = 1; r <= RUNS; r++)); do
		for m in a c; do
			mode_on $m || exit 1
			for end in crlf digit split; do
				line=$(ns_in_c "$LB/rr" client tcp "$SERVER4" $TCP_PORT \
					-w 1 -s 128 -t "$HOLD_SECS" -e $end)
				echo "$line" >>"$work/$m.hold.$end"
				printf '  round %d (%s) %-5s %s\n' "$r" "$m" "$end" "$line"
			done
			[ $m = c ] && "$NFREDACT" stats --control "$work/control.sock" \
				>"$work/hold.stats" 2>/dev/null
			mode_off
		done
	done
	echo
	printf '%-50s %10s %10s %14s %14s\n' "request end" p50_us p99_us added_p50_us added_p99_us
	declare -A HP50 HP99
	for end in crlf digit split; do
		for m in a c; do
			f=$work/$m.hold.$end
			HP50[$m$end]=$(while read -r l; do field p50_us "$l"; done <"$f" | median)
			HP99[$m$end]=$(while read -r l; do field p99_us "$l"; done <"$f" | median)
		done
		case $end in
		crlf) desc="CRLF (clean tail)" ;;
		digit) desc="digit ('... fw=2')" ;;
		split) desc="mid-address ('... mail bob@exa')" ;;
		esac
		awk -v d="$desc" -v a50="${HP50[a$end]}" -v c50="${HP50[c$end]}" \
		    -v a99="${HP99[a$end]}" -v c99="${HP99[c$end]}" 'BEGIN {
			printf "%-50s %10s %10s %14s %14s\n", d " (a) no queue", a50, a99, "", ""
			printf "%-50s %10s %10s %+14.1f %+14.1f\n", d " (c) nfredactd", c50, c99,
				c50 - a50, c99 - a99
		}'
	done
	grep -E '^service\.rr-tcp\.hold' "$work/hold.stats" 2>/dev/null |
		sed 's/^/  nfredactd stats, last round: /'
}

# ---- memory per tracked flow --------------------------------------------

live_flows() {
	echo
	line=$("$LB/flowmem" "$TABLE")
	echo "flow table alone: $line"
	awk -v b="$(field bytes_per_flow " $line")" 'BEGIN {
		printf "  %.1f bytes per flow (goal <= 128, %s)\n", b, (b <= 128 ? "met" : "not met") }'

	vmrss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
	mode_on c || exit 1
	rss0=$(vmrss "$NFREDACTD_SERVER")
	# one UDP flow per source port, from the client address
	line=$(ns_in_c "$LB/rr" flows "$SERVER4" $UDP_PORT -n "$FLOWS" -b 10000)
	rss1=$(vmrss "$NFREDACTD_SERVER")
	echo "nfredactd, $FLOWS real flows: $line"
	awk -v f="$FLOWS" -v r0="$rss0" -v r1="$rss1" 'BEGIN {
		printf "  VmRSS %d KiB -> %d KiB: %.1f bytes per flow (goal <= 128, %s)\n",
			r0, r1, (r1 - r0) * 1024 / f, ((r1 - r0) * 1024 / f <= 128 ? "met" : "not met") }'
	"$NFREDACT" stats --control "$work/control.sock" 2>/dev/null |
		grep -E '^flows\.' | sed 's/^/  stats: /'
	echo "  (RSS growth also counts what the traffic touches besides flows: buffers,"
	echo "   a fixed part that weighs less per flow the more flows there are)"
	mode_off
}

# ---- latency of application operations ----------------------------------

# Real servers and real protocol exchanges, one operation in flight:
# MQTT CONNECT -> CONNACK on a new connection each time (the handshake
# not timed), QoS 1 PUBLISH -> PUBACK on one connection with payloads
# that end in a digit, a letter or a newline, and HTTP POST -> 200 on a
# keep-alive connection (a JSON body with Content-Length, no newline at
# its end).  Every message is one segment, and every one carries an
# e-mail address, a phone number and an IPv4 literal.  nfredactd holds
# a segment whose tail may begin an identifier (a digit, a letter) for
# the hold time, unless it knows the segment ends a message.
LAT_OPS="connect digit letter newline http"

# lat_run OP: one run of bench/live/lat for OP from the client namespace
lat_run() {
	local host=$SERVER4
	case $1 in
	connect) ns_in_c "$LB/lat" connect "$host" $MQTT_PORT -n "$LAT_N" ;;
	digit | letter | newline)
		ns_in_c "$LB/lat" publish "$host" $MQTT_PORT -n "$LAT_N" -e "$1" \
			-i "pub-$1@example.org" ;;
	http) ns_in_c "$LB/lat" http "$host" $HTTP_PORT -n "$LAT_N" ;;
	esac
}

# lat_holds: the holds of the services of mqtt.policy, summed
lat_holds() {
	"$NFREDACT" stats --control "$work/control.sock" 2>/dev/null |
		awk '$1 == "service.mqtt.holds" || $1 == "service.http.holds" { s += $2 }
		     END { print s + 0 }'
}

live_latency() {
	local have_mqtt=1 have_http=1 ops="" op m r line h0 h1
	command -v mosquitto >/dev/null || have_mqtt=0
	command -v nginx >/dev/null || have_http=0
	[ $have_mqtt = 1 ] && { mosquitto_start "$work" ||
		{ echo "bench-live: mosquitto does not start:" >&2
		  tail -n 3 "$work/mosquitto.out" >&2; have_mqtt=0; }; }
	[ $have_http = 1 ] && { nginx_start "$work" $HTTP_PORT ||
		{ echo "bench-live: nginx does not start:" >&2
		  tail -n 3 "$work/nginx.err" >&2; have_http=0; }; }
	for op in $LAT_OPS; do
		[ $op = http ] && [ $have_http = 0 ] && continue
		[ $op != http ] && [ $have_mqtt = 0 ] && continue
		ops+=" $op"
	done
	echo
	echo "latency of application operations: $LAT_N per operation x $RUNS rounds, modes interleaved"
	echo "  (a) no queue  (c) nfredactd, $LAT_POLICY (hold time: the default)"
	[ $have_mqtt = 0 ] && echo "  no mosquitto: the MQTT operations are left out (make deps)"
	[ $have_http = 0 ] && echo "  no nginx: the HTTP operation is left out (make deps-extra)"
	[ -n "$ops" ] || return 0
	MODE_POLICY=$LAT_POLICY
	for ((r = 1; r <= RUNS; r++)); do
		for m in a c; do
			mode_on $m || exit 1
			for op in $ops; do
				[ $m = c ] && h0=$(lat_holds)
				if ! line=$(lat_run $op 2>"$work/lat.err"); then
					echo "bench-live: lat $op failed in mode $m: $(head -n 1 "$work/lat.err")" >&2
					exit 1
				fi
				echo "$line" >>"$work/$m.lat.$op"
				if [ $m = c ]; then
					h1=$(lat_holds)
					echo $((h1 - h0)) >>"$work/c.lat.$op.holds"
				fi
				printf '  round %d (%s) %-8s %s\n' "$r" "$m" "$op" "$line"
			done
			[ $m = c ] && "$NFREDACT" stats --control "$work/control.sock" \
				>"$work/lat.stats" 2>/dev/null
			mode_off
		done
	done
	MODE_POLICY=$POLICY

	echo
	echo "medians over the rounds, microseconds; added = (c) - (a); holds: segments"
	echo "nfredactd held per operation (all rounds; a PUBLISH row counts the one"
	echo "CONNECT of its connection too, not timed)"
	printf '%-44s %9s %9s %9s  %9s %9s %9s  %10s %10s %8s\n' operation \
		"(a) p50" "(a) p99" "(a) mean" "(c) p50" "(c) p99" "(c) mean" \
		"added p50" "added p99" holds/op
	for op in $ops; do
		local desc a50 a99 amean c50 c99 cmean holds
		case $op in
		connect) desc="MQTT CONNECT -> CONNACK (new connection)" ;;
		digit) desc="MQTT PUBLISH q1 -> PUBACK, ends '21.5'" ;;
		letter) desc="MQTT PUBLISH q1 -> PUBACK, ends 'unit=C'" ;;
		newline) desc="MQTT PUBLISH q1 -> PUBACK, ends in newline" ;;
		http) desc="HTTP POST -> 200 (keep-alive, JSON body)" ;;
		esac
		a50=$(while read -r l; do field p50_us "$l"; done <"$work/a.lat.$op" | median)
		a99=$(while read -r l; do field p99_us "$l"; done <"$work/a.lat.$op" | median)
		amean=$(while read -r l; do field mean_us "$l"; done <"$work/a.lat.$op" | median)
		c50=$(while read -r l; do field p50_us "$l"; done <"$work/c.lat.$op" | median)
		c99=$(while read -r l; do field p99_us "$l"; done <"$work/c.lat.$op" | median)
		cmean=$(while read -r l; do field mean_us "$l"; done <"$work/c.lat.$op" | median)
		holds=$(awk '{ s += $1 } END { print s + 0 }' "$work/c.lat.$op.holds")
		awk -v d="$desc" -v a50="$a50" -v a99="$a99" -v am="$amean" \
		    -v c50="$c50" -v c99="$c99" -v cm="$cmean" -v h="$holds" \
		    -v n=$((LAT_N * RUNS)) 'BEGIN {
			printf "%-44s %9.1f %9.1f %9.1f  %9.1f %9.1f %9.1f  %+10.1f %+10.1f %8.2f\n",
				d, a50, a99, am, c50, c99, cm, c50 - a50, c99 - a99, h / n
		}'
	done
	grep -E '^service\.(mqtt|http)\.hold' "$work/lat.stats" 2>/dev/null |
		sed 's/^/  nfredactd stats, last round: /'
}

part rr && live_rr
part hold && live_hold
part flows && live_flows
part latency && live_latency
exit 0
