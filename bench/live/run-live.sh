#!/bin/bash
# run-live.sh — the live benchmark: the same UDP and TCP request/response
# traffic (bench/live/rr) between two network namespaces
#   (a) with no queue, (b) through accept-all (one verdict per packet),
#   (c) through nfredactd with bench/live/live.policy,
# LIVE_RUNS rounds with the modes interleaved, medians reported; then
# the latency that stream hold-back adds to interactive TCP, with and
# without an identifier cut at the end of each request (a against c);
# then memory per tracked flow (the table alone, and the daemon's RSS
# growth).
#
# Usage: run-live.sh BUILD_DIR LIVE_BUILD_DIR   (root; `make bench-live`)
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
UDP_PORT=7001
TCP_PORT=7002
. tests/e2e/lib.sh

[ "$(id -u)" = 0 ] || { echo "bench-live: needs root (network namespaces)" >&2; exit 1; }
for f in "$NFREDACTD" "$NFREDACT" "$LB/rr" "$LB/accept-all" "$LB/flowmem"; do
	[ -x "$f" ] || { echo "bench-live: $f not built" >&2; exit 1; }
done
for t in ip ss nft; do
	command -v "$t" >/dev/null || { echo "bench-live: $t missing" >&2; exit 1; }
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
remove_rules() {
	ns_in_s "$NFREDACT" ruleset "$POLICY" --remove >"$work/remove.out" 2>&1 &&
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
		ns_in_s "$NFREDACT" ruleset "$POLICY" --dev "$VETH_S" --apply \
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
		NFREDACTD_QUEUES="0 1" nfredactd_start "$work" "$POLICY" ||
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

# ---- hold-back latency ---------------------------------------------------

# Interactive TCP, one request in flight: requests that end in "\r\n"
# (a clean tail: nothing to wait for) against requests that end in a
# digit (it may begin an address) or in the middle of an e-mail address:
# nfredactd holds those back until the hold time passes (the rest never
# comes: the client waits for the echo).
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

# ---- memory per tracked flow --------------------------------------------

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
