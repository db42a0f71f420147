#!/bin/bash
# tests/tools/run.sh — the operator tools through the binary: nfredact
# ruleset (printing; as root also --apply/--remove in fresh network
# namespaces, with iptables-nft and, when present, iptables-legacy),
# kcheck on sample configurations, stats against a stand-in control
# socket, the man pages, and make install/uninstall into a staging dir.
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
status 0 "default policy renders" "$NFR" ruleset
cp "$tmp/out" "$tmp/default"
expect "default: every TCP packet, no port match" has "$tmp/default" "-A NFREDACT-IN -p tcp -j NFQUEUE --queue-num 0"
expect "default: UDP outbound" has "$tmp/default" "-A NFREDACT-OUT -p udp -j NFQUEUE --queue-num 0"
expect "default: no multiport" hasnt "$tmp/default" "multiport"
expect "IPv6 section has its header line" has "$tmp/default" "# ip6tables-restore"
expect "conntrack comment line" grep -q '^# .*conntrack.*$' "$tmp/default"

status 0 "example policy renders with --dev" "$NFR" ruleset "$EXAMPLE" --dev eth9
cp "$tmp/out" "$tmp/example"
expect "map range gets a route" has "$tmp/example" "ip route replace 100.64.0.0/10 dev eth9"
expect "truncate: a comment, no route" grep -q "^# service mqtt: IPv4 truncate 24: .*no route needed" "$tmp/example"
expect "IPv4 clients in IPv4 rules" has "$tmp/example" "-A NFREDACT-IN -s 10.0.0.0/8 -p udp -m multiport --dports 514 -j NFQUEUE --queue-num 1"
expect "IPv6 clients in IPv6 rules" has "$tmp/example" "-A NFREDACT-IN -s 2001:db8::/32 -p tcp -m multiport --dports 514 -j NFQUEUE --queue-num 1"
expect "ICMP errors to the first service's queue" has "$tmp/example" "-A NFREDACT-IN -p icmp -m icmp --icmp-type 12 -j NFQUEUE --queue-num 0"
expect "outbound ICMPv6 errors, related only" has "$tmp/example" "-A NFREDACT-OUT -p ipv6-icmp -m conntrack --ctstate RELATED -m icmp6 --icmpv6-type 2 -j NFQUEUE --queue-num 0"
expect "never --queue-bypass" hasnt "$tmp/example" "queue-bypass"
expect "never neighbour discovery or echo" bash -c "! grep -E -- '--icmpv6-type (12[89]|13[3-7])' '$tmp/example'"
expect "no -s on outbound rules" bash -c "! grep -q -- '^-A NFREDACT-OUT -s' '$tmp/example'"

status 0 "--family 4" "$NFR" ruleset "$EXAMPLE" --family 4
expect "--family 4: no IPv6, no routes" bash -c "! grep -qE 'ip6tables|^ip |2001:db8' '$tmp/out'"
expect "--family 4: both tables" test "$(grep -c '^COMMIT$' "$tmp/out")" -eq 2
status 2 "--apply with --remove is a usage error" "$NFR" ruleset "$EXAMPLE" --apply --remove
status 2 "--family 5 is a usage error" "$NFR" ruleset "$EXAMPLE" --family 5
printf 'service x {\n\tlisten tcp 70000\n}\n' >"$tmp/bad.conf"
status 1 "a bad policy fails" "$NFR" ruleset "$tmp/bad.conf"
expect "and says where" has "$tmp/err" "bad.conf:2:"
status 1 "an interface name with a blank is refused" "$NFR" ruleset "$EXAMPLE" --dev "eth0 x"

# ---- ruleset: --apply / --remove in network namespaces --------------------
# snapshot NS: the namespace's rules and routes, without timestamps and
# counters, with the iptables variant of the suite's PATH
snapshot() {
	env ${snap_path:+PATH=$snap_path:$PATH} ip netns exec "$1" sh -c 'iptables-save; ip6tables-save; ip -4 route; ip -6 route' |
		grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
}

# apply_remove_suite LABEL [PATH-PREFIX]: the whole install/remove story
apply_remove_suite() {
	local label=$1 path=${2:-}
	local ns="nfrtools$$$label"
	local run=(env ${path:+PATH=$path:$PATH} ip netns exec "$ns")
	snap_path=$path

	ip netns add "$ns" || { bad "$label: ip netns add"; return; }
	namespaces+=("$ns")
	ip -n "$ns" link set lo up
	ip -n "$ns" link add v0 type veth peer name v1
	ip -n "$ns" link set v0 up
	ip -n "$ns" link set v1 up
	# unrelated rules in every table we touch, in both families
	"${run[@]}" sh -c '
		for t in iptables ip6tables; do
			$t -t raw -A PREROUTING -p tcp --dport 22 -j ACCEPT &&
			$t -t mangle -A OUTPUT -p udp --sport 53 -j ACCEPT &&
			$t -A INPUT -p tcp --dport 25 -j ACCEPT || exit 1
		done' || { bad "$label: unrelated rules"; return; }
	snapshot "$ns" >"$tmp/$label.before"

	status 0 "$label: --apply" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --apply --dev v0
	snapshot "$ns" >"$tmp/$label.applied"
	expect "$label: our jump first in raw PREROUTING" \
		grep -q -- '^-A PREROUTING -m comment --comment nfredact -j NFREDACT-IN$' "$tmp/$label.applied"
	expect "$label: our jump first in mangle OUTPUT" \
		grep -q -- '^-A OUTPUT -m comment --comment nfredact -j NFREDACT-OUT$' "$tmp/$label.applied"
	expect "$label: queue rules installed" \
		has "$tmp/$label.applied" "-A NFREDACT-IN -p tcp -m multiport --dports 1883,8883 -j NFQUEUE --queue-num 0"
	expect "$label: IPv6 client rule installed" \
		has "$tmp/$label.applied" "-A NFREDACT-IN -s 2001:db8::/32 -p udp -m multiport --dports 514 -j NFQUEUE --queue-num 1"
	expect "$label: conntrack rule installed" has "$tmp/$label.applied" "--ctstate RELATED"
	expect "$label: route installed" grep -q '^100.64.0.0/10 dev v0' "$tmp/$label.applied"
	expect "$label: unrelated rule still there" has "$tmp/$label.applied" "--dport 22 -j ACCEPT"
	expect "$label: one jump per family and chain" \
		test "$(grep -c -- '-j NFREDACT-IN$' "$tmp/$label.applied")" -eq 2

	status 0 "$label: --apply again" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --apply --dev v0
	snapshot "$ns" >"$tmp/$label.again"
	expect "$label: applying twice is applying once" cmp -s "$tmp/$label.applied" "$tmp/$label.again"

	# another policy replaces ours instead of adding to it
	printf 'service smtp {\n\tlisten tcp 25, 587\n\tqueue 4\n}\n' >"$tmp/smtp.conf"
	status 0 "$label: --apply another policy" "${run[@]}" "$NFR" ruleset "$tmp/smtp.conf" --apply --dev v0
	snapshot "$ns" >"$tmp/$label.other"
	expect "$label: the new policy's rules" has "$tmp/$label.other" "--dports 25,587 -j NFQUEUE --queue-num 4"
	expect "$label: the old policy's rules are gone" hasnt "$tmp/$label.other" "1883"
	status 0 "$label: --remove (other policy)" "${run[@]}" "$NFR" ruleset "$tmp/smtp.conf" --remove
	status 0 "$label: --remove (example: its route)" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --remove
	snapshot "$ns" >"$tmp/$label.removed"
	expect "$label: --remove restores the exact state before" diff -u "$tmp/$label.before" "$tmp/$label.removed"
	status 0 "$label: --remove with nothing installed" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --remove

	# a failing step undoes everything: the route's device does not exist
	status 1 "$label: --apply with a missing device fails" "${run[@]}" "$NFR" ruleset "$EXAMPLE" --apply --dev nosuch0
	snapshot "$ns" >"$tmp/$label.failed"
	expect "$label: a failed --apply leaves nothing behind" diff -u "$tmp/$label.before" "$tmp/$label.failed"

	# the --family output is valid iptables-restore input as it stands
	"$NFR" ruleset "$EXAMPLE" --family 6 >"$tmp/$label.v6"
	expect "$label: --family 6 output loads with ip6tables-restore" \
		"${run[@]}" ip6tables-restore --noflush --test "$tmp/$label.v6"

	ip netns del "$ns"
}

echo "ruleset (--apply / --remove)"
if [ "$(id -u)" -ne 0 ] || ! ip netns add "nfrtools$$probe" 2>/dev/null; then
	echo "  skip: needs root and network namespaces"
else
	ip netns del "nfrtools$$probe"
	apply_remove_suite nft
	if command -v iptables-legacy-restore >/dev/null; then
		mkdir -p "$tmp/legacy"
		for t in iptables ip6tables; do
			ln -s "$(command -v $t-legacy-restore)" "$tmp/legacy/$t-restore"
			ln -s "$(command -v $t-legacy-save)" "$tmp/legacy/$t-save"
			ln -s "$(command -v $t-legacy)" "$tmp/legacy/$t"
		done
		apply_remove_suite legacy "$tmp/legacy"
	else
		echo "  skip: no iptables-legacy"
	fi
fi

# ---- kcheck ---------------------------------------------------------------
echo "kcheck"
# every option Kbuild-notes asks for, plus the comment match the jumps use
{
	echo "# sample"
	sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=.*/\1=m/p' Kbuild-notes
	echo "CONFIG_NETFILTER_XT_MATCH_COMMENT=y"
	echo "CONFIG_NFT_COMPAT=y"
} >"$tmp/full.config"
status 0 "complete configuration" "$NFR" kcheck --config "$tmp/full.config"
expect "says OK" has "$tmp/out" "result: OK"
expect "optional NFT_QUEUE missing is fine" grep -q 'CONFIG_NFT_QUEUE .*missing.*fine' "$tmp/out"
grep -v NF_DEFRAG_IPV6 "$tmp/full.config" >"$tmp/nodefrag.config"
echo "# CONFIG_NF_DEFRAG_IPV6 is not set" >>"$tmp/nodefrag.config"
status 1 "NF_DEFRAG_IPV6 missing fails" "$NFR" kcheck --config "$tmp/nodefrag.config"
expect "and says what it means" grep -q 'CONFIG_NF_DEFRAG_IPV6 .*missing.*fragments can pass: FAIL' "$tmp/out"
gzip -c "$tmp/nodefrag.config" >"$tmp/nodefrag.config.gz"
status 1 "gzip configuration read through gzip -dc" "$NFR" kcheck --config "$tmp/nodefrag.config.gz"
expect "same finding from the .gz" grep -q 'CONFIG_NF_DEFRAG_IPV6 .*missing' "$tmp/out"
# NFT_COMPAT matters only when iptables-restore is the nf_tables variant
grep -v NFT_COMPAT "$tmp/full.config" >"$tmp/nocompat.config"
for variant in nf_tables legacy; do
	mkdir "$tmp/kc-$variant"
	printf '#!/bin/sh\necho "iptables-restore v1.8.9 (%s)"\n' "$variant" >"$tmp/kc-$variant/iptables-restore"
	chmod +x "$tmp/kc-$variant/iptables-restore"
done
status 1 "NFT_COMPAT missing fails with iptables-nft" env PATH="$tmp/kc-nf_tables:$PATH" "$NFR" kcheck --config "$tmp/nocompat.config"
expect "and says which variant" has "$tmp/out" "nf_tables variant"
status 0 "NFT_COMPAT missing is fine with iptables-legacy" env PATH="$tmp/kc-legacy:$PATH" "$NFR" kcheck --config "$tmp/nocompat.config"
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
		echo ./usr/bin/nfredact
		echo ./usr/sbin/nfredactd
		echo ./usr/share/man/man5/nfredact.conf.5
		echo ./usr/share/man/man8/nfredact.8
		echo ./usr/share/man/man8/nfredactd.8
	} | sort >"$tmp/wanted"
	expect "install puts exactly the expected files" diff -u "$tmp/wanted" "$tmp/installed"
	status 0 "installed nfredact runs" "$dest/usr/bin/nfredact" check "$dest/etc/nfredact/policy.conf.example"
	make --no-print-directory -s uninstall DESTDIR="$dest" PREFIX=/usr "${make_vars[@]}" >/dev/null 2>&1
	expect "make uninstall removes every file" test -z "$(find "$dest" -type f)"
	expect "make uninstall removes /etc/nfredact" test ! -e "$dest/etc/nfredact"
else
	echo "  skip: $B/nfredactd not built"
fi

echo "tools: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
