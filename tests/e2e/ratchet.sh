#!/bin/bash
# ratchet.sh — nfredactd with a ratchet state (forward secrecy) in front of
# a real syslog collector (rsyslog), with 8-second epochs, across two epoch
# boundaries under traffic: the collector sees a new pseudonym each epoch,
# a TCP connection that spans the boundaries keeps one pseudonym and keeps
# working, the state file on disk holds only the current key (dry-run
# reproduces the current epoch's pseudonym from it) and nothing left on
# disk reproduces the first epoch's pseudonym.  Then a restart after
# downtime catches up, and a SIGHUP with a rolled-back state is refused.
#
# Exit: 0 all passed, 1 a test failed, 77 skipped (not root, no network
# namespaces, rsyslog not installed).
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
NFREDACTD=${NFREDACTD:-$B/nfredactd}
NFREDACT=${NFREDACT:-$B/nfredact}
case $NFREDACT in /*) ;; *) NFREDACT=$PWD/$NFREDACT ;; esac
E2E=tests/e2e
. "$E2E/lib.sh"
EPOCH=8

skip() { echo "ratchet: skipped: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nf_tables)"
for tool in ip ss nft rsyslogd python3; do
	command -v "$tool" >/dev/null || skip "$tool not installed (make deps)"
done
for bin in "$NFREDACTD" "$NFREDACT"; do
	[ -x "$bin" ] || { echo "ratchet: $bin not built"; echo "ratchet: 0 passed, 1 failed"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nfredact-ratchet.XXXXXX")
chmod 700 "$work"
srv=$work/srv keys=$work/keys
mkdir -p "$srv" && mkdir -m 700 "$keys"
trap 'ns_cleanup; [ -n "${RATCHET_KEEP:-}" ] || rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

passed=0 failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; shift; printf '     %s\n' "$@"; failed=$((failed + 1)); }
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }

ns_setup || skip "cannot create network namespaces"
rsyslog_start "$srv" || skip "rsyslogd does not start: $(tail -n 3 "$srv/rsyslog.out")"

# Start the epochs a little after the next boundary of a whole minute's
# grid is far enough away: the state begins at the epoch that is current.
"$NFREDACT" keygen --ratchet "$keys/state" --epoch ${EPOCH}s >"$work/keygen" ||
	{ fail "keygen --ratchet"; echo "ratchet: $passed passed, $failed failed"; exit 1; }
first_key=$(od -An -tx1 -j40 -N32 "$keys/state" | tr -d ' \n')
first_epoch=$(sed -n 's/^ratchet state .*: epoch \([0-9]*\) .*/\1/p' "$work/keygen")
cat >"$keys/policy.conf" <<'POLICY'
key state
key-grace 1s
service syslog {
	listen udp 514
	listen tcp 514
	queue 0
	address ipv4 map 100.64.0.0/10
}
POLICY
"$NFREDACT" check "$keys/policy.conf" >"$work/check" 2>&1
check "check: a ratchet policy passes without the static-key note" \
	bash -c "grep -qx 'policy OK' '$work/check' && ! grep -q '^note:' '$work/check'"

nfredactd_start "$work" "$keys/policy.conf" ||
	{ fail "nfredactd starts" "$(tail -n 5 "$work/nfredactd.err")"; echo "ratchet: $passed passed, $failed failed"; exit 1; }

# Traffic for three epochs: a datagram every 0.4 s from a fresh socket
# (a new flow each time, tagged with the epoch it was sent in), and one
# TCP connection that sends a line every 0.4 s all along.
cat >"$work/client.py" <<'PY'
import socket, sys, time
# from the epoch it starts in, two boundaries and 2 s into the third epoch
epoch = int(sys.argv[1])
tcp = socket.create_connection(("192.0.2.1", 514))
e0 = int(time.time()) // epoch
until = (e0 + 2) * epoch + 2
n = 0
while time.time() < until:
    e = int(time.time()) // epoch
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"<13>nfrtest: udp epoch=%d n=%d" % (e, n), ("192.0.2.1", 514))
    u.close()
    tcp.sendall(b"<13>nfrtest: tcp epoch=%d n=%d\n" % (e, n))
    n += 1
    time.sleep(0.4)
tcp.close()
print(n, e0)
PY
ip netns exec "$NS_C" python3 "$work/client.py" "$EPOCH" >"$work/sent" 2>"$work/client.err"
read -r sent start_epoch <"$work/sent"
last_epoch=$(( $(date +%s) / EPOCH ))

# SIGHUP: the reload reads the state brought up to date, never an older
# one; then the daemon stops before the next boundary, so that the state
# on disk is the last epoch the collector saw.
kill -HUP "$NFREDACTD_PID"
wait_for 2 grep -q 'reload: policy .* in effect' "$work/nfredactd.err"
check "SIGHUP reloads the ratchet policy" grep -q 'reload: policy .* in effect' "$work/nfredactd.err"
check "the daemon is still serving" kill -0 "$NFREDACTD_SERVER"
ns_kill "$NFREDACTD_PID"
sleep 0.5

# what the collector saw: "FROMHOST-IP | MSG"
awk -F' [|] ' '/ udp epoch=/ { match($2, /epoch=[0-9]+/); print substr($2, RSTART + 6, RLENGTH - 6), $1 }' "$srv/syslog.log" | sort -u >"$work/udp"
awk -F' [|] ' '/ tcp epoch=/ { print $1 }' "$srv/syslog.log" | sort -u >"$work/tcp"
check "traffic went for $((last_epoch - start_epoch + 1)) epochs (two boundaries)" \
	test $((last_epoch - start_epoch)) -ge 2
check "the client's address never reached the collector" \
	bash -c "! grep -q '$CLIENT4' '$srv/syslog.log'"
check "one pseudonym per epoch for new flows" \
	test "$(cut -d' ' -f1 "$work/udp" | uniq -d | wc -l)" -eq 0
check "a new pseudonym each epoch (3 epochs, 3 pseudonyms)" \
	test "$(cut -d' ' -f2 "$work/udp" | sort -u | wc -l)" -ge 3
check "the TCP connection spanning the boundaries kept one pseudonym" \
	test "$(wc -l <"$work/tcp")" -eq 1
check "  ... and kept working: every line arrived ($sent sent)" \
	test "$(grep -c ' tcp epoch=' "$srv/syslog.log")" -eq "$sent"

# The state on disk: the current epoch, another key than the first.
"$NFREDACT" key status "$keys/state" >"$work/status" 2>&1
disk_epoch=$(sed -n 's/^  epoch: \([0-9]*\) .*/\1/p' "$work/status")
check "the parent rewrote the state: it is at the current epoch" \
	test "${disk_epoch:-0}" -eq "$last_epoch"
check "the daemon logged each boundary" \
	test "$(grep -c 'ratchet .*: epoch [0-9]* began' "$work/nfredactd.err")" -ge 2
check "the first key is nowhere in the key directory" \
	bash -c "! (cat '$keys'/* '$keys'/.[!.]* 2>/dev/null | od -An -tx1 -v | tr -d ' \n' | grep -q '$first_key')"
check "no temporary state file is left" bash -c "! ls -A '$keys' | grep -q '\.new$'"

# dry-run from what is on disk: the current epoch's pseudonym comes out;
# the first epoch's is refused as erased.
cur_pseudo=$(awk -v e="$disk_epoch" '$1 == e { print $2 }' "$work/udp" | head -n 1)
first_pseudo=$(awk -v e="$start_epoch" '$1 == e { print $2 }' "$work/udp" | head -n 1)
cp -p "$keys/state" "$work/state.before"
t_cur=$(( ${disk_epoch:-0} * EPOCH + 1 ))
RATCHET_CLIENT=$CLIENT4 python3 tests/tools/ratchet-pcap.py "$work/cur.pcap" "$t_cur"
RATCHET_CLIENT=$CLIENT4 python3 tests/tools/ratchet-pcap.py "$work/first.pcap" $((start_epoch * EPOCH + 1))
"$NFREDACT" dry-run "$keys/policy.conf" "$work/cur.pcap" --show-original >"$work/dry-cur" 2>&1
check "dry-run from the state on disk reproduces the current epoch's pseudonym ($cur_pseudo)" \
	grep -q "syslog $CLIENT4 -> $cur_pseudo\$" "$work/dry-cur"
"$NFREDACT" dry-run "$keys/policy.conf" "$work/first.pcap" >"$work/dry-first" 2>&1
rc=$?
check "dry-run of the first epoch is refused as erased (exit 1)" test "$rc" -eq 1
check "  ... naming that epoch" grep -q "is in ratchet epoch $start_epoch (.*whose key was erased" "$work/dry-first"
check "  ... and the first epoch's pseudonym ($first_pseudo) appears nowhere" \
	bash -c "[ -n '$first_pseudo' ] && ! grep -q '$first_pseudo' '$work/dry-first'"
check "dry-run never wrote the state" cmp -s "$keys/state" "$work/state.before"
[ "$first_epoch" = "$start_epoch" ] || echo "     (keygen epoch $first_epoch, traffic from $start_epoch)"


# wait_boundary: sleep until 0.5 s into the next epoch
wait_boundary() {
	python3 -c "import time; e = $EPOCH; time.sleep(e - time.time() % e + 0.5)"
}

# A restart after downtime across a boundary hashes the state forward.
wait_boundary
nfredactd_start "$work" "$keys/policy.conf" ||
	fail "nfredactd starts again" "$(tail -n 5 "$work/nfredactd.err")"
now_epoch=$(( $(date +%s) / EPOCH ))
check "a restart after downtime catches up from epoch $disk_epoch" \
	grep -q "ratchet .*: caught up from epoch $disk_epoch to " "$work/nfredactd.err"
"$NFREDACT" key status "$keys/state" >"$work/status2" 2>&1
check "  ... and the state on disk is at the current epoch" \
	grep -q "^  epoch: $now_epoch " "$work/status2"

# A state rolled back to a copy (here one epoch old) is refused at
# SIGHUP, and the running policy stays.  The copy is removed after.
cp -p "$keys/state" "$work/rollback.state"
wait_boundary
"$NFREDACT" key status "$keys/state" >"$work/status3" 2>&1
check "the running daemon's parent moved the state on again" \
	bash -c "! grep -q '^  epoch: $now_epoch ' '$work/status3'"
cp "$work/rollback.state" "$keys/state"
rm -f "$work/rollback.state"
kill -HUP "$NFREDACTD_PID"
wait_for 3 grep -q 'rolled back' "$work/nfredactd.err"
check "SIGHUP with a rolled-back state is refused as such" \
	grep -q 'ratchet state behind one already in use (rolled back' "$work/nfredactd.err"
check "  ... and the daemon keeps serving" kill -0 "$NFREDACTD_SERVER"

echo "ratchet: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
