#!/bin/bash
# tests/tools/run.sh — the operator tools through the binary: nfredact
# ruleset (printing the nf_tables tables; as root also --apply, --hold
# and --remove in a fresh network namespace, next to iptables-nft,
# nft's own and, when present, iptables-legacy rules), kcheck on sample
# configurations, stats against a stand-in control socket, the man
# pages, ratchet states (keygen --ratchet, key status/advance/export, the
# dry-run of current, later and erased epochs), and make install/uninstall
# into a staging dir.
# Exit 0 when every check passed; the last line is the tally.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
NFR=$PWD/$B/nfredact
EXAMPLE=$PWD/examples/policy.conf

pass=0 fail=0
tmp=$(mktemp -d /tmp/nfredact-tools.XXXXXX)
namespaces=()
server_pid=

cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "  ok   $1"; }
bad() { fail=$((fail + 1)); echo "  FAIL $1"; }
# expect DESCRIPTION COMMAND...: the command must succeed
expect() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
# status WANT DESCRIPTION COMMAND...: the command's exit status must be WANT
status() {
	local want=$1 d=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$d"; else bad "$d (exit $rc, want $want)"; sed 's/^/       /' "$tmp/err" | head -5; fi
}
has() { grep -qF -- "$2" "$1"; }
hasnt() { ! grep -qF -- "$2" "$1"; }

[ -x "$NFR" ] || { echo "tools: $NFR not built"; echo "tools: 0 passed, 1 failed"; exit 1; }

# ---- ruleset: printing ---------------------------------------------------
echo "ruleset (printing)"
# chain NAME FILE: the lines of chain NAME in a printed table
chain() { sed -n "/^\tchain $1 {/,/^\t}/p" "$2"; }
status 0 "default policy renders" "$NFR" ruleset
cp "$tmp/out" "$tmp/default"
expect "default: IPv4 table" grep -qx 'table ip nfredact {' "$tmp/default"
expect "default: IPv6 table" grep -qx 'table ip6 nfredact {' "$tmp/default"
expect "default: every TCP packet inbound, no port match" \
	grep -q "^$(printf '\t\t')meta l4proto tcp queue num 0 " <(chain inbound "$tmp/default")
expect "default: UDP outbound, to the outbound queue 1" \
	grep -q "^$(printf '\t\t')meta l4proto udp queue num 1 " <(chain outbound "$tmp/default")
expect "default: inbound rules only to queue 0" \
	bash -c "! sed -n '/^\tchain inbound {/,/^\t}/p' '$tmp/default' | grep -q 'queue num [^0]'"
expect "default: outbound rules only to queue 1" \
	bash -c "! sed -n '/^\tchain outbound {/,/^\t}/p' '$tmp/default' | grep -q 'queue num [^1]'"
expect "default: the queue layout in a comment" \
	grep -qx '# outbound queues: 1' "$tmp/default"
expect "default: no port match" bash -c "! grep -qE 'dport|sport' '$tmp/default'"
expect "default: no replies chain without --forward" hasnt "$tmp/default" "chain replies"
expect "inbound: prerouting at priority -300 (before conntrack)" \
	has "$tmp/default" "type filter hook prerouting priority -300; policy accept;"
expect "outbound: output at priority -150 (after conntrack)" \
	has "$tmp/default" "type filter hook output priority -150; policy accept;"
expect "conntrack comment line" grep -q '^# .*conntrack.*$' "$tmp/default"
expect "no iptables left in the text" bash -c "! grep -qiE 'iptables|NFREDACT-|COMMIT|-j NFQUEUE' '$tmp/default'"

status 0 "example policy renders with --dev" "$NFR" ruleset "$EXAMPLE" --dev eth9
cp "$tmp/out" "$tmp/example"
expect "map range gets a route" has "$tmp/example" "ip route replace 100.64.0.0/10 dev eth9"
expect "truncate: a comment, no route" grep -q "^# service mqtt: IPv4 truncate 24: .*no route needed" "$tmp/example"
expect "IPv4 clients in IPv4 rules" has "$tmp/example" "ip saddr 10.0.0.0/8 udp dport 514 queue num 1 comment \"service syslog\""
expect "IPv6 clients in IPv6 rules" has "$tmp/example" "ip6 saddr 2001:db8::/32 tcp dport 514 queue num 1 comment \"service syslog\""
expect "one rule per port, no multiport" \
	test "$(grep -cE 'tcp dport (1883|8883) queue num 0 comment "service mqtt"$' "$tmp/example")" -eq 4
expect "outbound rules to the outbound queues" \
	test "$(grep -cE 'tcp sport (1883|8883) queue num 2 comment "service mqtt"$' "$tmp/example")" -eq 4
expect "ICMP errors to the first service's queue" grep -qx "$(printf '\t\t')icmp type 12 queue num 0" "$tmp/example"
expect "outbound ICMPv6 errors, related only, to its outbound queue" \
	grep -qx "$(printf '\t\t')ct state related icmpv6 type 2 queue num 2" <(chain outbound "$tmp/example")
expect "inbound ICMP errors without conntrack state" bash -c "! sed -n '/^\tchain inbound {/,/^\t}/p' '$tmp/example' | grep -q 'ct state'"
expect "never bypass" hasnt "$tmp/example" "bypass"
expect "never neighbour discovery or echo" bash -c "! grep -E 'icmpv6 type (12[89]|13[3-7]) ' '$tmp/example'"
expect "no client prefix on outbound rules" bash -c "! sed -n '/^\tchain outbound {/,/^\t}/p' '$tmp/example' | grep -q saddr"

status 0 "--family 4" "$NFR" ruleset "$EXAMPLE" --family 4
expect "--family 4: no IPv6, no routes" bash -c "! grep -qE 'table ip6|^ip |2001:db8' '$tmp/out'"
expect "--family 4: one table, two chains" \
	test "$(grep -c '^table ip nfredact {$' "$tmp/out")-$(grep -c "^$(printf '\t')chain " "$tmp/out")" = 1-2
status 0 "--forward" "$NFR" ruleset "$EXAMPLE" --forward --family 6
expect "--forward: replies at prerouting, priority -150" \
	has <(chain replies "$tmp/out") "type filter hook prerouting priority -150; policy accept;"
expect "--forward: replies are the outbound rules" \
	diff <(chain outbound "$tmp/out" | tail -n +3) <(chain replies "$tmp/out" | tail -n +3)
status 2 "--apply with --remove is a usage error" "$NFR" ruleset "$EXAMPLE" --apply --remove
status 2 "--family 5 is a usage error" "$NFR" ruleset "$EXAMPLE" --family 5
status 2 "--hold without --apply is a usage error" "$NFR" ruleset "$EXAMPLE" --hold
printf 'service x {\n\tlisten tcp 70000\n}\n' >"$tmp/bad.conf"
status 1 "a bad policy fails" "$NFR" ruleset "$tmp/bad.conf"
expect "and says where" has "$tmp/err" "bad.conf:2:"
status 1 "an interface name with a blank is refused" "$NFR" ruleset "$EXAMPLE" --dev "eth0 x"

# ---- ruleset: --apply / --remove in network namespaces --------------------
# listed: what nft lists, in the terms the printed text uses (nft 1.0.6
# names priorities and ICMP types, and prints the persist flag as an
# empty word); printed: the printed tables without comments and routes
nft_terms() {
	sed -e '/^#/d' -e '/^[[:space:]]*$/d' -e '/^ip /d' -e '/^\tflags/d' \
	    -e 's/priority raw;/priority -300;/' -e 's/priority mangle;/priority -150;/' \
	    -e 's/icmp type destination-unreachable /icmp type 3 /' \
	    -e 's/icmp type source-quench /icmp type 4 /' \
	    -e 's/icmp type time-exceeded /icmp type 11 /' \
	    -e 's/icmp type parameter-problem /icmp type 12 /' \
	    -e 's/icmpv6 type destination-unreachable /icmpv6 type 1 /' \
	    -e 's/icmpv6 type packet-too-big /icmpv6 type 2 /' \
	    -e 's/icmpv6 type time-exceeded /icmpv6 type 3 /' \
	    -e 's/icmpv6 type parameter-problem /icmpv6 type 4 /' \
	    -e 's/\(saddr [0-9.]*\)\/32 /\1 /' -e 's/\(saddr [0-9a-f:]*\)\/128 /\1 /'
}
# snapshot NS: the namespace's whole ruleset and routes (nft's warning
# about the compat target goes to stderr)
snapshot() {
	ip netns exec "$1" sh -c 'nft list ruleset 2>/dev/null; ip -4 route; ip -6 route'
}
# legacy_snapshot NS: the iptables-legacy rules, without counters
legacy_snapshot() {
	ip netns exec "$1" sh -c 'iptables-legacy-save; ip6tables-legacy-save' |
		grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
}
# tables NS: the tables of ours nft lists, one a line
tables() { ip netns exec "$1" nft list tables 2>/dev/null | grep ' nfredact$'; }

apply_remove_suite() {
	local ns="nfrtools$$"
	local run=(ip netns exec "$ns")
	local legacy=
	command -v iptables-legacy-save >/dev/null && legacy=1

	ip netns add "$ns" || { bad "ip netns add"; return; }
	namespaces+=("$ns")
	ip -n "$ns" link set lo up
	ip -n "$ns" link add v0 type veth peer name v1
	ip -n "$ns" link set v0 up
	ip -n "$ns" link set v1 up
	# unrelated rules: iptables (the nf_tables variant), a table of
	# nft's own, and the host's iptables-legacy when it has one
	"${run[@]}" sh -c '
		for t in iptables ip6tables; do
			$t -t raw -A PREROUTING -p tcp --dport 22 -j ACCEPT &&
			$t -t mangle -A OUTPUT -p udp --sport 53 -j ACCEPT &&
			$t -A INPUT -p tcp --dport 25 -j ACCEPT || exit 1
		done
		nft add table inet other &&
		nft add chain inet other c "{ type filter hook prerouting priority -300; }" &&
		nft add rule inet other c tcp dport 2222 counter accept' ||
		{ bad "unrelated rules"; return; }
	if [ -n "$legacy" ]; then
		"${run[@]}" sh -c '
			for t in iptables-legacy ip6tables-legacy; do
				$t -t raw -A PREROUTING -p tcp --dport 23 -j ACCEPT &&
				$t -t mangle -A OUTPUT -p udp --sport 123 -j ACCEPT || exit 1
			done' || { bad "unrelated iptables-legacy rules"; return; }
		legacy_snapshot "$ns" >"$tmp/legacy.before"
	fi
	snapshot "$ns" >"$tmp/before"
	expect "no table of ours to begin with" test -z "$(tables "$ns")"

	status 0 "--apply" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --apply --dev v0
	snapshot "$ns" >"$tmp/applied"
	expect "--apply: both tables listed" \
		test "$(tables "$ns" | tr '\n' ' ')" = "table ip nfredact table ip6 nfredact "
	"${run[@]}" nft list table ip nfredact >"$tmp/listed" 2>/dev/null
	"${run[@]}" nft list table ip6 nfredact >>"$tmp/listed" 2>/dev/null
	"$NFR" ruleset "$EXAMPLE" --dev v0 >"$tmp/printed"
	expect "installed tables are the printed ones" \
		diff -u <(nft_terms <"$tmp/printed") <(nft_terms <"$tmp/listed")
	expect "queue rules installed" has "$tmp/applied" "tcp dport 1883 queue num 0 comment \"service mqtt\""
	expect "IPv6 client rule installed" has "$tmp/applied" "ip6 saddr 2001:db8::/32 udp dport 514 queue num 1"
	expect "conntrack rule installed" has "$tmp/applied" "ct state related icmp"
	expect "route installed" grep -q '^100.64.0.0/10 dev v0' "$tmp/applied"
	expect "unrelated rules still there" \
		diff -u "$tmp/before" <(awk '/^table (ip|ip6) nfredact \{/ { skip = 1 }
			!skip && !/^100\.64\.0\.0\/10 dev v0/ { print }
			skip && /^\}/ { skip = 0 }' "$tmp/applied")
	expect "the tables outlive nfredact (persistent)" test -n "$(tables "$ns")"

	status 0 "--apply again" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --apply --dev v0
	snapshot "$ns" >"$tmp/again"
	expect "applying twice is applying once" cmp -s "$tmp/applied" "$tmp/again"

	# another policy replaces ours instead of adding to it
	printf 'service smtp {\n\tlisten tcp 25, 587\n\tqueue 4\n}\n' >"$tmp/smtp.conf"
	status 0 "--apply another policy" "${run[@]}" "$NFR" ruleset "$tmp/smtp.conf" --apply --dev v0
	snapshot "$ns" >"$tmp/other"
	expect "the new policy's rules" has "$tmp/other" "tcp dport 587 queue num 4"
	expect "the old policy's rules are gone" hasnt "$tmp/other" "1883"
	expect "still one table per family" test "$(tables "$ns" | wc -l)" -eq 2
	# a policy of one family: the other family's table goes
	printf 'service v4 {\n\tlisten tcp 25\n\tclients 192.0.2.0/24\n}\n' >"$tmp/v4.conf"
	status 0 "--apply an IPv4-only policy" "${run[@]}" "$NFR" ruleset "$tmp/v4.conf" --apply --dev v0
	expect "an IPv4-only policy leaves no IPv6 table" \
		test "$(tables "$ns" | tr '\n' ' ')" = "table ip nfredact "
	status 0 "--remove (other policy)" "${run[@]}" "$NFR" ruleset "$tmp/smtp.conf" --remove
	expect "--remove: no table of ours" test -z "$(tables "$ns")"
	expect "--remove leaves the example's route (not its policy)" \
		grep -q '^100.64.0.0/10 dev v0' <(snapshot "$ns")
	status 0 "--remove (example: its route)" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --remove
	snapshot "$ns" >"$tmp/removed"
	expect "--remove restores the exact state before" diff -u "$tmp/before" "$tmp/removed"
	status 0 "--remove with nothing installed" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --remove

	# a route device that does not exist fails before anything changes
	status 1 "--apply with a missing device fails" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --apply --dev nosuch0
	expect "and names the device" has "$tmp/err" "nosuch0"
	snapshot "$ns" >"$tmp/failed"
	expect "a failed --apply leaves nothing behind" diff -u "$tmp/before" "$tmp/failed"

	# held (owned by a running process): nobody else may change them
	"${run[@]}" "$NFR" ruleset "$EXAMPLE" --apply --hold --dev v0 \
		>"$tmp/hold.out" 2>&1 &
	local hold=$!
	local i
	for i in $(seq 100); do
		[ "$(tables "$ns" | wc -l)" -eq 2 ] && break
		sleep 0.05
	done
	expect "--apply --hold installs both tables" test "$(tables "$ns" | wc -l)" -eq 2
	status 1 "--remove while held fails" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --remove
	expect "and says why" has "$tmp/err" "Operation not permitted"
	status 1 "--apply while held fails" "${run[@]}" "$NFR" ruleset "$tmp/smtp.conf" --apply --dev v0
	expect "nft cannot delete a held table" bash -c "! ${run[*]} nft delete table ip nfredact 2>/dev/null"
	"${run[@]}" nft flush ruleset 2>/dev/null
	expect "nft flush ruleset passes held tables by" test "$(tables "$ns" | wc -l)" -eq 2
	expect "... and takes the rest" bash -c "! ${run[*]} nft list tables | grep -q other"
	kill -TERM "$hold" 2>/dev/null
	wait "$hold"
	expect "--hold ends cleanly on SIGTERM" test $? -eq 0
	expect "held tables stay after the holder ends" test "$(tables "$ns" | wc -l)" -eq 2
	status 0 "--remove once the holder is gone" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --remove
	expect "and they are gone" test -z "$(tables "$ns")"

	if [ -n "$legacy" ]; then
		legacy_snapshot "$ns" >"$tmp/legacy.after"
		expect "iptables-legacy rules untouched by --apply and --remove" \
			diff -u "$tmp/legacy.before" "$tmp/legacy.after"
		expect "and they were there to be touched" has "$tmp/legacy.after" "--dport 23 -j ACCEPT"
	else
		echo "  skip: no iptables-legacy"
	fi

	# the printed text is nft syntax: the local nft parses it (the
	# kernel may refuse queue statements when it has no nft_queue;
	# nft before 1.1 does not know the persist flag)
	"$NFR" ruleset "$EXAMPLE" --forward >"$tmp/text.nft"
	sed -i '/^\tflags /d; /^ip /d' "$tmp/text.nft"
	"${run[@]}" nft -c -f "$tmp/text.nft" >"$tmp/nftc.out" 2>&1
	expect "the printed text parses as nft syntax" hasnt "$tmp/nftc.out" "syntax error"
	expect "... and nothing but queue statements is refused" \
		bash -c "! grep '^Error' '$tmp/nftc.out' | grep -v 'Could not process rule: No such file or directory'"

	ip netns del "$ns"
}

echo "ruleset (--apply / --remove)"
if [ "$(id -u)" -ne 0 ] || ! ip netns add "nfrtools$$probe" 2>/dev/null; then
	echo "  skip: needs root and network namespaces"
elif ! command -v nft >/dev/null; then
	ip netns del "nfrtools$$probe"
	echo "  skip: no nft (make deps)"
else
	ip netns del "nfrtools$$probe"
	apply_remove_suite
fi

# ---- kcheck ---------------------------------------------------------------
echo "kcheck"
# every option Kbuild-notes asks for
{
	echo "# sample"
	sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=.*/\1=m/p' Kbuild-notes
} >"$tmp/full.config"
status 0 "complete configuration" "$NFR" kcheck --config "$tmp/full.config"
expect "says OK" has "$tmp/out" "result: OK"
expect "optional NFT_QUEUE missing is fine" grep -q 'CONFIG_NFT_QUEUE .*missing.*fine' "$tmp/out"
expect "no iptables table or xt match asked for" \
	bash -c "! grep -E 'IP6?_NF_(RAW|MANGLE)|XT_MATCH' '$tmp/out'"
grep -v NF_DEFRAG_IPV6 "$tmp/full.config" >"$tmp/nodefrag.config"
echo "# CONFIG_NF_DEFRAG_IPV6 is not set" >>"$tmp/nodefrag.config"
status 1 "NF_DEFRAG_IPV6 missing fails" "$NFR" kcheck --config "$tmp/nodefrag.config"
expect "and says what it means" grep -q 'CONFIG_NF_DEFRAG_IPV6 .*missing.*fragments can pass: FAIL' "$tmp/out"
gzip -c "$tmp/nodefrag.config" >"$tmp/nodefrag.config.gz"
status 1 "gzip configuration read through gzip -dc" "$NFR" kcheck --config "$tmp/nodefrag.config.gz"
expect "same finding from the .gz" grep -q 'CONFIG_NF_DEFRAG_IPV6 .*missing' "$tmp/out"
# the nf_tables pieces are needed whichever iptables the host has
for variant in nf_tables legacy; do
	mkdir "$tmp/kc-$variant"
	printf '#!/bin/sh\necho "iptables-restore v1.8.9 (%s)"\n' "$variant" >"$tmp/kc-$variant/iptables-restore"
	chmod +x "$tmp/kc-$variant/iptables-restore"
done
for opt in NF_TABLES NF_TABLES_IPV4 NF_TABLES_IPV6 NFT_COMPAT NETFILTER_XT_TARGET_NFQUEUE NFT_CT NETFILTER_NETLINK_QUEUE; do
	grep -v "^CONFIG_$opt=" "$tmp/full.config" >"$tmp/no-$opt.config"
	for variant in nf_tables legacy; do
		status 1 "$opt missing fails (iptables $variant)" \
			env PATH="$tmp/kc-$variant:$PATH" "$NFR" kcheck --config "$tmp/no-$opt.config"
		expect "... and says so" grep -q "CONFIG_$opt .*missing.*: FAIL" "$tmp/out"
	done
done
status 0 "complete configuration with iptables-legacy" \
	env PATH="$tmp/kc-legacy:$PATH" "$NFR" kcheck --config "$tmp/full.config"
expect "kcheck does not ask iptables" hasnt "$tmp/out" "iptables"
expect "says whether owned tables outlive nfredactd" grep -q '^  owned tables outlive nfredactd  *\(yes\|no\)' "$tmp/out"
status 2 "no configuration file: exit 2" "$NFR" kcheck --config "$tmp/nonexistent"
"$NFR" kcheck >"$tmp/out" 2>"$tmp/err"
rc=$?
case $rc in
0|1) expect "running kernel: a verdict ($rc)" has "$tmp/out" "result:" ;;
2) expect "running kernel: no configuration is said" has "$tmp/err" "no kernel configuration" ;;
*) bad "running kernel: exit $rc" ;;
esac

# ---- stats ----------------------------------------------------------------
echo "stats"
sock=$tmp/control.sock
cat >"$tmp/fake.py" <<'EOF'
import os, socket, sys
path, log = sys.argv[1], sys.argv[2]
answers = {b"stats\n": b"packets.in 12\npackets.out 10\n",
           b"stats prometheus\n": b"# TYPE nfredact_packets_total counter\nnfredact_packets_total{dir=\"in\"} 12\n"}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o600)
s.listen(4)
open(path + ".ready", "w").close()
while True:
    c, _ = s.accept()
    req = b""
    while not req.endswith(b"\n"):
        d = c.recv(64)
        if not d:
            break
        req += d
    with open(log, "ab") as f:
        f.write(req)
    c.sendall(answers.get(req, b"error unknown request\n"))
    c.close()
EOF
/usr/bin/python3 "$tmp/fake.py" "$sock" "$tmp/requests" &
server_pid=$!
for _ in $(seq 50); do [ -e "$sock.ready" ] && break; sleep 0.1; done
status 0 "stats from the control socket" "$NFR" stats --control "$sock"
expect "answer copied" diff <(printf 'packets.in 12\npackets.out 10\n') "$tmp/out"
status 0 "stats --prometheus" "$NFR" stats --prometheus --control "$sock"
expect "prometheus answer copied" has "$tmp/out" 'nfredact_packets_total{dir="in"} 12'
expect "requests as control.h says" diff <(printf 'stats\nstats prometheus\n') "$tmp/requests"
kill "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=
status 1 "daemon not running (stale socket)" "$NFR" stats --control "$sock"
expect "error names the socket and the reason" grep -q "$sock: Connection refused" "$tmp/err"
expect "stale socket: says the daemon is not running" has "$tmp/err" "nfredactd is not running"
status 1 "daemon not running (no socket)" "$NFR" stats --control "$tmp/none.sock"
expect "error names the socket and the reason" grep -q "$tmp/none.sock: No such file or directory" "$tmp/err"
status 2 "stats usage" "$NFR" stats --bogus

# A daemon that refuses: it answers and closes, maybe before reading the
# request (the client then sees a reset after the answer, or EPIPE).
cat >"$tmp/refuse.py" <<'EOF'
import os, socket, sys
path, answer = sys.argv[1], sys.argv[2].encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o600)
s.listen(4)
open(path + ".ready", "w").close()
while True:
    c, _ = s.accept()
    c.sendall(answer)
    c.close()
EOF
refuse() {
	rm -f "$sock" "$sock.ready"
	/usr/bin/python3 "$tmp/refuse.py" "$sock" "$1" &
	server_pid=$!
	for _ in $(seq 50); do [ -e "$sock.ready" ] && break; sleep 0.1; done
}
refuse $'error: not authorised\n'
for i in 1 2 3 4 5; do
	status 1 "not authorised: exit 1 ($i)" "$NFR" stats --control "$sock"
	expect "not authorised: says who may ($i)" has "$tmp/err" "$sock: not authorised: only root and members of group nfredact"
	expect "not authorised: nothing on stdout ($i)" test ! -s "$tmp/out"
done
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	# The socket is root's, mode 0600 (and its directory 0700).
	status 1 "permission denied as nobody" setpriv --reuid=65534 --regid=65534 --clear-groups "$NFR" stats --control "$sock"
	expect "permission denied: says who may" has "$tmp/err" "Permission denied (only root and members of group nfredact"
fi
kill "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=
refuse $'error: unknown request\n'
status 1 "an error answer: exit 1" "$NFR" stats --control "$sock"
expect "an error answer is shown" has "$tmp/err" "the daemon answered: error: unknown request"
kill "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=

# ---- key ratchet: keygen --ratchet, key status/export/advance, dry-run ----
echo "key ratchet"
kd=$tmp/keys
mkdir -m 700 "$kd"
# srcs PCAP: the source address of each packet of a raw-IPv4 capture
srcs() {
	python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()[24:]
while d:
    n = struct.unpack("<IIII", d[:16])[2]
    print(".".join(map(str, d[16 + 12:16 + 16])))
    d = d[16 + n:]
PY
}
now=$(date +%s)
S=$((now - now % 3600 - 3 * 3600))	# epoch 3 is the current one
status 0 "keygen --ratchet" "$NFR" keygen --ratchet "$kd/a" --epoch 1h --start "$S"
expect "ratchet state: 88 bytes, mode 0600" test "$(stat -c '%s %a' "$kd/a")" = "88 600"
expect "keygen names the epoch and a fingerprint" grep -q "^ratchet state $kd/a: epoch 3 (.*), fingerprint [0-9a-f]\{16\}$" "$tmp/out"
status 1 "keygen --ratchet never replaces a file" "$NFR" keygen --ratchet "$kd/a"
status 2 "keygen --ratchet: a bad epoch is a usage error" "$NFR" keygen --ratchet "$kd/x" --epoch 3
status 0 "key status" "$NFR" key status "$kd/a"
cp "$tmp/out" "$tmp/status"
expect "status: version, length, epoch and its span" \
	bash -c "grep -qx '  format version: 1' '$tmp/status' && grep -qx '  epoch length: 3600s' '$tmp/status' && grep -q '^  epoch: 3 (.* to .*)$' '$tmp/status'"
# no run of the key's bytes, in hex either way, nor the raw bytes
khex=$(od -An -tx1 -j40 -N32 "$kd/a" | tr -d ' \n')
expect "status prints no secret (no 4 key bytes in a row, in hex)" python3 - "$khex" "$tmp/status" <<'PY'
import sys
k, text = sys.argv[1], open(sys.argv[2]).read().lower()
flat = text.replace(" ", "")
ok = all(k[i:i + 8] not in flat for i in range(0, 57, 2))
sys.exit(0 if ok else 1)
PY
expect "status prints no secret (raw bytes)" python3 -c "
import sys
k = open('$kd/a', 'rb').read()[40:72]
t = open('$tmp/status', 'rb').read()
sys.exit(0 if all(k[i:i + 4] not in t for i in range(29)) else 1)"

# two copies moved on separately agree: one step at a time or at once
cp -p "$kd/a" "$kd/b"
status 0 "advance copy a one epoch" "$NFR" key advance "$kd/a" --at $((S + 4 * 3600 + 1))
status 0 "advance copy a another" "$NFR" key advance "$kd/a" --at $((S + 5 * 3600 + 1))
status 0 "advance copy b two epochs at once" "$NFR" key advance "$kd/b" --at $((S + 5 * 3600 + 2))
expect "the two copies are the same state" cmp -s "$kd/a" "$kd/b"
expect "the advanced state no longer holds the first key" \
	bash -c "[ \"\$(od -An -tx1 -j40 -N32 '$kd/a' | tr -d ' \n')\" != '$khex' ]"
status 1 "advance refuses a state ahead of the clock" "$NFR" key advance "$kd/a"
expect "  ... and says so" has "$tmp/err" "ahead of the clock"

# dry-run: the current epoch and later ones in memory; erased ones refused
cp -p "$kd/b" "$kd/b.before"
printf 'key b\nservice syslog {\n\tlisten udp 514\n\taddress ipv4 map 100.64.0.0/10\n}\n' >"$kd/b.conf"
printf 'key c\nservice syslog {\n\tlisten udp 514\n\taddress ipv4 map 100.64.0.0/10\n}\n' >"$kd/c.conf"
python3 tests/tools/ratchet-pcap.py "$kd/later.pcap" $((S + 5 * 3600 + 10)) $((S + 5 * 3600 + 20)) \
	$((S + 6 * 3600 + 10)) $((S + 7 * 3600 + 10))
python3 tests/tools/ratchet-pcap.py "$kd/erased.pcap" $((S + 4 * 3600 + 10))
status 0 "dry-run with a ratchet state: its epoch and later" "$NFR" dry-run "$kd/b.conf" "$kd/later.pcap" -w "$kd/out-b.pcap"
srcs "$kd/out-b.pcap" >"$kd/srcs-b"
expect "one pseudonym per epoch, a new one each epoch" \
	bash -c "[ \$(sed -n 1p '$kd/srcs-b') = \$(sed -n 2p '$kd/srcs-b') ] && [ \$(sort -u '$kd/srcs-b' | wc -l) -eq 3 ] && ! grep -q 10.1.2.3 '$kd/srcs-b'"
expect "dry-run never writes the state" cmp -s "$kd/b" "$kd/b.before"
status 1 "dry-run refuses a capture from an erased epoch" "$NFR" dry-run "$kd/b.conf" "$kd/erased.pcap"
expect "  ... naming the epoch and what the state holds" \
	has "$tmp/err" "packet 1 is in ratchet epoch 4 ("
expect "  ... whose key was erased" has "$tmp/err" "whose key was erased: the ratchet state holds epoch 5 and later only"
# a copy exported from a's state (at epoch 5, by --at) makes the same pseudonyms
status 0 "key export" "$NFR" key export "$kd/a" "$kd/c" --at $((S + 5 * 3600 + 30))
expect "export: mode 0600" test "$(stat -c '%a' "$kd/c")" = 600
status 1 "export never replaces a file" "$NFR" key export "$kd/a" "$kd/c" --at $((S + 5 * 3600 + 30))
status 0 "dry-run with the exported copy" "$NFR" dry-run "$kd/c.conf" "$kd/later.pcap" -w "$kd/out-c.pcap"
srcs "$kd/out-c.pcap" >"$kd/srcs-c"
expect "the exported copy makes the same pseudonyms" cmp -s "$kd/srcs-b" "$kd/srcs-c"

# refusals: corrupt, badly protected, a static key named as a state
cp -p "$kd/b" "$kd/bad"
printf '\xff' | dd of="$kd/bad" bs=1 seek=50 conv=notrunc 2>/dev/null
status 1 "a corrupt state is refused" "$NFR" key status "$kd/bad"
expect "  ... as corrupt" has "$tmp/err" "corrupt ratchet state (checksum mismatch)"
printf 'key bad\nservice s {\n\tlisten udp 514\n}\n' >"$kd/bad.conf"
status 1 "check refuses a policy naming a corrupt state" "$NFR" check "$kd/bad.conf"
cp -p "$kd/b" "$kd/open" && chmod 644 "$kd/open"
status 1 "a state readable by others is refused" "$NFR" key status "$kd/open"
"$NFR" keygen "$kd/static" 2>/dev/null
status 1 "key status of a static key says what it is" "$NFR" key status "$kd/static"
expect "  ... and that old pseudonyms stay recomputable" has "$tmp/err" "stay recomputable"
status 2 "key: usage" "$NFR" key frobnicate "$kd/a"

# ---- man pages, example policy, install ------------------------------------
echo "man pages and install"
for page in man/nfredactd.8 man/nfredact.8 man/nfredact.conf.5; do
	MANWIDTH=80 man --warnings -l "$page" >"$tmp/man.out" 2>"$tmp/man.err"
	expect "$page renders without warnings" test ! -s "$tmp/man.err" -a -s "$tmp/man.out"
done
for cmd in check dry-run ruleset kcheck keygen stats; do
	expect "nfredact(8) documents $cmd" grep -qxF ".B nfredact ${cmd//-/\\-}" man/nfredact.8
done
status 0 "example policy is valid" "$NFR" check "$EXAMPLE"

if [ -x "$B/nfredactd" ]; then
	dest=$tmp/dest
	# the sanitizer build lives in build-san with its own flags
	make_vars=(B="$B")
	[ "$B" = build-san ] && make_vars=(SANITIZE=1)
	make --no-print-directory -s install DESTDIR="$dest" PREFIX=/usr "${make_vars[@]}" >"$tmp/install.out" 2>&1
	expect "make install" test $? -eq 0
	(cd "$dest" && find . -type f | sort) >"$tmp/installed"
	{
		echo ./etc/nfredact/policy.conf.example
		[ -f filter/nfredactd.service ] && echo ./lib/systemd/system/nfredactd.service
		[ -f filter/nfredact-rules.service ] && echo ./lib/systemd/system/nfredact-rules.service
		echo ./usr/bin/nfredact
		echo ./usr/sbin/nfredactd
		echo ./usr/share/man/man5/nfredact.conf.5
		echo ./usr/share/man/man8/nfredact.8
		echo ./usr/share/man/man8/nfredactd.8
	} | sort >"$tmp/wanted"
	expect "install puts exactly the expected files" diff -u "$tmp/wanted" "$tmp/installed"
	if [ -f filter/nfredactd.service ]; then
		expect "installed units run the installed programs" \
			grep -q '^ExecStart=/usr/sbin/nfredactd ' "$dest/lib/systemd/system/nfredactd.service"
		expect "installed rules unit runs the installed tool" \
			grep -q '^ExecStart=/usr/bin/nfredact ruleset ' "$dest/lib/systemd/system/nfredact-rules.service"
		expect "no unit setting names a path under /usr/local" \
			sh -c "! grep -v '^#' '$dest'/lib/systemd/system/*.service | grep -q /usr/local"
	fi
	status 0 "installed nfredact runs" "$dest/usr/bin/nfredact" check "$dest/etc/nfredact/policy.conf.example"
	make --no-print-directory -s uninstall DESTDIR="$dest" PREFIX=/usr "${make_vars[@]}" >/dev/null 2>&1
	expect "make uninstall removes every file" test -z "$(find "$dest" -type f)"
	expect "make uninstall removes /etc/nfredact" test ! -e "$dest/etc/nfredact"
else
	echo "  skip: $B/nfredactd not built"
fi

echo "tools: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
