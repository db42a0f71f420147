#!/bin/bash
# run.sh — `nfredact dry-run` and `nfredact keygen` from the outside: every
# link type the dry-run reads, reassembly, the report (text and JSON),
# originals kept out of its output, the residual check and exit codes.
# The captures come from mkpcaps.py, made afresh in a temporary directory.
#
# usage: tests/dryrun/run.sh        (B= build directory, default build)
set -u

here=$(cd "$(dirname "$0")" && pwd)
B=${B:-build}
NFREDACT=${NFREDACT:-$B/nfredact}
case $NFREDACT in /*) ;; *) NFREDACT=$PWD/$NFREDACT ;; esac
PY=/usr/bin/python3

if [ ! -x "$NFREDACT" ]; then
	echo "dryrun: $NFREDACT not built"
	exit 77
fi
if ! "$PY" -c "import scapy" 2>/dev/null; then
	echo "dryrun: scapy missing"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dryrun.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
"$PY" "$here/mkpcaps.py" "$tmp" || { echo "dryrun: mkpcaps.py failed"; exit 1; }

cat >"$tmp/policy.conf" <<'POLICY'
service mqtt {
	listen tcp 1883
	address ipv4 truncate 24
	address ipv6 truncate 48
	redact email mask
	redact phone mask
}
POLICY
sed 's/^}/\ton-error accept\n}/' "$tmp/policy.conf" >"$tmp/accept.conf"
printf 'service broken {\n\tlisten tcp 99999\n\tredact nothing mask\n}\n' >"$tmp/bad.conf"

ORIGINALS=(alice@example.org +442079460958 192.0.2.55 2001:db8:1:2::55)
passed=0 failed=0

ok() { echo "ok   $1"; passed=$((passed + 1)); }
not_ok() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# dry POLICY PCAP [ARGS...]: run, leaving $tmp/out, $tmp/err, $rc
dry() {
	local pol=$1 pcap=$2
	shift 2
	"$NFREDACT" dry-run "$tmp/$pol" "$tmp/$pcap" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# the report line "LABEL: N" (first one)
field() {
	sed -n "s/^$1: \([0-9]*\).*/\1/p" "$tmp/out" | head -n1
}

leaks_originals() {
	local o
	for o in "${ORIGINALS[@]}"; do
		grep -qF -- "$o" "$tmp/out" "$tmp/err" && return 0
	done
	return 1
}

# capture NAME PCAP LINKTYPE READ NOT_IP WRITTEN [vlan]
capture() {
	local name=$1 pcap=$2 lt=$3 read=$4 notip=$5 written=$6 vlan=${7:-}
	local why

	dry policy.conf "$pcap" -w "$tmp/$pcap.out"
	if [ "$rc" -ne 0 ]; then
		not_ok "$name" "exit $rc: $(head -n1 "$tmp/err")"; return
	fi
	if [ "$(tail -n1 "$tmp/out")" != "residual identifiers: 0" ]; then
		not_ok "$name" "last line \"$(tail -n1 "$tmp/out")\""; return
	fi
	if [ "$(field 'packets read')" != "$read" ] || [ "$(field 'not IP')" != "$notip" ]; then
		not_ok "$name" "read $(field 'packets read'), not IP $(field 'not IP'); expected $read, $notip"; return
	fi
	if ! grep -qx "  packets in 3, out 2; changed 5, dropped 0, malformed 0, on-error accepted 0" "$tmp/out"; then
		not_ok "$name" "service counters: $(grep -m1 'packets in' "$tmp/out")"; return
	fi
	if ! grep -qx "  detectors: email 1, phone 1" "$tmp/out"; then
		not_ok "$name" "detector counts"; return
	fi
	if leaks_originals; then
		not_ok "$name" "an original identifier or address in the tool's output"; return
	fi
	if ! why=$("$PY" "$here/checkout.py" "$tmp/$pcap.out" "$lt" "$written" $vlan); then
		not_ok "$name" "output pcap: $why"; return
	fi
	dry policy.conf "$pcap" --json --quiet
	if [ "$rc" -ne 0 ] || ! "$PY" -m json.tool "$tmp/out" >/dev/null 2>&1; then
		not_ok "$name" "--json: exit $rc or not JSON"; return
	fi
	if ! "$PY" - "$tmp/out" "$read" <<'CHECK'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["packets_read"] == int(sys.argv[2]), r["packets_read"]
svc = r["services"][0]
assert svc["name"] == "mqtt" and svc["packets_in"] == 3 and svc["packets_out"] == 2, svc
assert svc["detectors"] == {"email": 1, "phone": 1}, svc["detectors"]
assert r["residual"]["identifiers"] == 0, r["residual"]
assert "originals" not in r
CHECK
	then
		not_ok "$name" "JSON report content"; return
	fi
	if leaks_originals; then
		not_ok "$name" "an original in the JSON report"; return
	fi
	ok "$name"
}

capture "ethernet, 802.1Q and 802.1ad" eth-vlan.pcap 1 6 1 6 vlan
capture "linux cooked (SLL)" sll.pcap 113 5 0 5
capture "linux cooked v2 (SLL2), IPv6" sll2.pcap 276 5 0 5
capture "raw IPv4" raw4.pcap 101 5 0 5
capture "raw IPv6 (LINKTYPE_IPV6)" raw6.pcap 229 5 0 5
capture "BSD loopback (NULL)" null.pcap 0 5 0 5
capture "pcapng, Ethernet, IPv6" v6.pcapng 1 5 0 5
capture "ethernet, 802.1Q, client side" eth-vlan-client.pcap 1 5 0 5 vlan
capture "raw IPv4, client side" raw4-client.pcap 101 5 0 5
capture "raw IPv6, client side" raw6-client.pcap 229 5 0 5
# 3 + 4 fragments (reassembled into 1) + 1 + 2 fragments never completed
capture "IPv4 fragments" frag4.pcap 1 10 0 5
capture "IPv6 fragments" frag6.pcap 1 8 0 5

name="fragment counts"
dry policy.conf frag4.pcap
if grep -qx "fragments: 6 seen, 1 datagrams reassembled, 1 incomplete, 0 discarded" "$tmp/out"; then
	ok "$name"
else
	not_ok "$name" "$(grep -m1 '^fragments' "$tmp/out")"
fi

name="--show-original lists originals"
dry policy.conf raw4.pcap --show-original
if [ "$rc" -eq 0 ] && grep -qx "  email alice@example.org -> xxxxx@xxxxxxx.xxx" "$tmp/out" &&
   grep -qx "  phone +442079460958 -> +000000000000" "$tmp/out" &&
   grep -qx "  mqtt 192.0.2.55 -> 192.0.2.0" "$tmp/out"; then
	ok "$name"
else
	not_ok "$name" "exit $rc, or the mappings are missing"
fi

name="--show-original --json"
dry policy.conf raw6.pcap --show-original --json
if [ "$rc" -eq 0 ] && "$PY" - "$tmp/out" <<'CHECK'
import json, sys
r = json.load(open(sys.argv[1]))
o = {e["original"]: e["replacement"] for e in r["originals"]}
assert o == {"alice@example.org": "xxxxx@xxxxxxx.xxx", "+442079460958": "+000000000000"}, o
a = r["client_addresses"]
assert a == [{"service": "mqtt", "original": "2001:db8:1:2::55", "pseudonym": "2001:db8:1::"}], a
CHECK
then
	ok "$name"
else
	not_ok "$name" "exit $rc or wrong content"
fi

name="residual: undecodable packet passes the real address"
dry accept.conf leak.pcap
if [ "$rc" -eq 3 ] && [ "$(tail -n1 "$tmp/out")" = "residual identifiers: 1" ] &&
   grep -qx "residual client addresses: 1" "$tmp/out" && ! leaks_originals; then
	ok "$name"
else
	not_ok "$name" "exit $rc, \"$(tail -n1 "$tmp/out")\""
fi

name="residual: truncated packet passes unredacted"
dry accept.conf leak-trunc.pcap -w "$tmp/trunc.out"
if [ "$rc" -eq 3 ] && grep -qx "residual in payloads: 2" "$tmp/out" &&
   [ "$(tail -n1 "$tmp/out")" = "residual identifiers: 3" ] && ! leaks_originals; then
	ok "$name"
else
	not_ok "$name" "exit $rc, \"$(grep -m1 'residual in' "$tmp/out")\""
fi

name="capture sides: replies to the real client rewritten, and translated back"
dry policy.conf raw4-client.pcap
if [ "$rc" -eq 0 ] && grep -qx "flows by capture side: client 1, server 0" "$tmp/out" &&
   grep -qx "rewritten to the server's view: 2 (translated back as captured 2, otherwise 0, dropped 0)" "$tmp/out" &&
   grep -qx "direction: in 3, out 2, undecided 0 (taken as in)" "$tmp/out"; then
	dry policy.conf raw4.pcap
	if [ "$rc" -eq 0 ] && grep -qx "flows by capture side: client 0, server 1" "$tmp/out" &&
	   grep -qx "rewritten to the server's view: 0 (translated back as captured 0, otherwise 0, dropped 0)" "$tmp/out"; then
		ok "$name"
	else
		not_ok "$name" "server side: exit $rc, $(grep -m1 '^flows by' "$tmp/out")"
	fi
else
	not_ok "$name" "client side: exit $rc, $(grep -m1 '^flows by' "$tmp/out"); $(grep -m1 '^rewritten' "$tmp/out")"
fi

name="residual: a reply to the real client before its flow is caught"
dry policy.conf midflow-client.pcap -w "$tmp/midflow.out"
if [ "$rc" -eq 3 ] && grep -qx "residual client addresses: 1" "$tmp/out" &&
   grep -qx "residual in payloads: 0" "$tmp/out" &&
   [ "$(tail -n1 "$tmp/out")" = "residual identifiers: 1" ] && ! leaks_originals; then
	ok "$name"
else
	not_ok "$name" "exit $rc, \"$(grep -m1 'residual client' "$tmp/out")\""
fi

name="residual: an ICMP error quoting the real client is caught"
dry policy.conf quote-client.pcap -w "$tmp/quote.out"
if [ "$rc" -eq 3 ] && grep -qx "residual client addresses: 2" "$tmp/out" &&
   [ "$(tail -n1 "$tmp/out")" = "residual identifiers: 2" ] && ! leaks_originals; then
	ok "$name"
else
	not_ok "$name" "exit $rc, \"$(grep -m1 'residual client' "$tmp/out")\""
fi

# A permuted pseudonym may be another client's real address: the output
# shows it as the first client's pseudonym, which is no leak.  The second
# client takes the first one's pseudonym as its address, learnt with a key
# made here (another key when the first client is its own pseudonym).
name="residual: a pseudonym that is another client's address is no leak"
for try in 1 2 3 4 5; do
	rm -f "$tmp/pkey"
	"$NFREDACT" keygen "$tmp/pkey" 2>"$tmp/err" || break
	printf 'key pkey\nservice mqtt {\n\tlisten tcp 1883\n\taddress ipv4 permute 24\n\tredact email mask\n\tredact phone mask\n}\n' \
		>"$tmp/permute.conf"
	dry permute.conf raw4-client.pcap --show-original
	pseudo=$(sed -n 's/^  mqtt 192\.0\.2\.55 -> \(192\.0\.2\.[0-9]*\)$/\1/p' "$tmp/out")
	[ -n "$pseudo" ] && [ "$pseudo" != 192.0.2.55 ] && break
done
if [ -z "$pseudo" ] || [ "$pseudo" = 192.0.2.55 ]; then
	not_ok "$name" "no pseudonym learnt"
elif ! "$PY" - "$tmp/permute.pcap" "$pseudo" <<'MAKE'
import sys
from scapy.all import IP, TCP, Raw, wrpcap
s = "198.51.100.10"
pkts = []
for c, cport in (("192.0.2.55", 40001), (sys.argv[2], 40002)):
    pkts += [IP(src=c, dst=s) / TCP(sport=cport, dport=1883, flags="S", seq=1000),
             IP(src=s, dst=c) / TCP(sport=1883, dport=cport, flags="SA", seq=5000, ack=1001),
             IP(src=c, dst=s) / TCP(sport=cport, dport=1883, flags="PA", seq=1001, ack=5001) / Raw(b"hello\r\n"),
             IP(src=s, dst=c) / TCP(sport=1883, dport=cport, flags="PA", seq=5001, ack=1008) / Raw(b"ok\r\n")]
wrpcap(sys.argv[1], pkts, linktype=101)
MAKE
then
	not_ok "$name" "capture not made"
else
	dry permute.conf permute.pcap -w "$tmp/permute.out"
	if [ "$rc" -eq 0 ] && grep -qx "residual client addresses: 0" "$tmp/out" &&
	   grep -qx "client addresses rewritten: 2" "$tmp/out" &&
	   grep -qx "flows by capture side: client 2, server 0" "$tmp/out" &&
	   "$PY" - "$tmp/permute.out" "$pseudo" <<'CHECK'
import sys
from scapy.all import IP, TCP, rdpcap
# the first client's replies show its pseudonym, the second's address
shown = [p for p in rdpcap(sys.argv[1]) if p[TCP].dport == 40001]
assert len(shown) == 2 and all(p[IP].dst == sys.argv[2] for p in shown)
CHECK
	then
		ok "$name"
	else
		not_ok "$name" "exit $rc, \"$(grep -m1 'residual client' "$tmp/out")\""
	fi
fi

name="residual: the same capture dropped on error is clean"
dry policy.conf leak-trunc.pcap
if [ "$rc" -eq 0 ] && [ "$(tail -n1 "$tmp/out")" = "residual identifiers: 0" ]; then
	ok "$name"
else
	not_ok "$name" "exit $rc"
fi

# A policy that keeps what it claims to redact: the residual check must
# notice, whether the identifier stands alone in a datagram, in one TCP
# segment, in the segment after another one of the same stream, or in a
# retransmission of that segment, alone or with bytes before it.
"$PY" - "$tmp/keep.pcap" <<'MAKE' || { echo "dryrun: keep.pcap not made"; exit 1; }
import sys
from scapy.all import IP, TCP, UDP, Raw, wrpcap
c, s = "198.51.100.7", "192.0.2.1"
line = b"login from 203.0.113.77 ok\r\n"
pkts = [IP(src=c, dst=s) / UDP(sport=40000, dport=514) / Raw(line),
        IP(src=c, dst=s) / TCP(sport=40001, dport=1883, flags="PA", seq=1000) / Raw(b"x" * 20),
        IP(src=c, dst=s) / TCP(sport=40001, dport=1883, flags="PA", seq=1020) / Raw(line),
        IP(src=c, dst=s) / TCP(sport=40001, dport=1883, flags="PA", seq=1020) / Raw(line),
        IP(src=c, dst=s) / TCP(sport=40001, dport=1883, flags="PA", seq=1010) / Raw(b"x" * 10 + line),
        IP(src=c, dst=s) / TCP(sport=40002, dport=1883, flags="PA", seq=5000) / Raw(line)]
wrpcap(sys.argv[1], pkts, linktype=101)
MAKE
for keep in 32 24; do
	printf 'service s {\n\tlisten tcp 1883\n\tlisten udp 514\n\tredact ipv4 truncate %s\n}\n' \
		"$keep" >"$tmp/keep$keep.conf"
done
name="residual: a policy that keeps the address (truncate 32) is caught"
dry keep32.conf keep.pcap -w "$tmp/keep32.out"
if [ "$rc" -eq 3 ] && grep -qx "residual in payloads: 5" "$tmp/out" &&
   [ "$(field 'distinct identifiers in the input')" = 1 ] &&
   ! grep -qF 203.0.113.77 "$tmp/out" "$tmp/err"; then
	ok "$name"
else
	not_ok "$name" "exit $rc, \"$(grep -m1 'residual in' "$tmp/out")\""
fi
name="residual: the same capture truncated to 24 is clean"
dry keep24.conf keep.pcap -w "$tmp/keep24.out"
if [ "$rc" -eq 0 ] && grep -qx "residual in payloads: 0" "$tmp/out" &&
   [ "$(field 'distinct identifiers in the input')" = 1 ]; then
	ok "$name"
else
	not_ok "$name" "exit $rc, \"$(grep -m1 'residual in' "$tmp/out")\""
fi

# expect NAME RC PATTERN COMMAND...: exit status and a stderr line
expect() {
	local name=$1 want=$2 pattern=$3
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$pattern" "$tmp/err"; then
		ok "$name"
	else
		not_ok "$name" "exit $rc (want $want), stderr: $(head -n1 "$tmp/err")"
	fi
}

expect "no arguments" 2 "usage" "$NFREDACT" dry-run
expect "one argument" 2 "usage" "$NFREDACT" dry-run "$tmp/policy.conf"
expect "unknown option" 2 "usage" "$NFREDACT" dry-run "$tmp/policy.conf" "$tmp/raw4.pcap" --frobnicate
expect "-w without a file" 2 "usage" "$NFREDACT" dry-run "$tmp/policy.conf" "$tmp/raw4.pcap" -w
expect "missing capture" 1 "nosuch.pcap: No such file" "$NFREDACT" dry-run "$tmp/policy.conf" "$tmp/nosuch.pcap"
expect "not a capture" 1 "format|magic" "$NFREDACT" dry-run "$tmp/policy.conf" "$tmp/notpcap.pcap"
expect "unsupported link type" 1 "unsupported link type 105" "$NFREDACT" dry-run "$tmp/policy.conf" "$tmp/wifi.pcap"
expect "bad policy" 1 "bad.conf:[0-9]+:[0-9]+: error" "$NFREDACT" dry-run "$tmp/bad.conf" "$tmp/raw4.pcap"
expect "missing policy" 1 "nosuch.conf" "$NFREDACT" dry-run "$tmp/nosuch.conf" "$tmp/raw4.pcap"
expect "unwritable output" 1 "nodir" "$NFREDACT" dry-run "$tmp/policy.conf" "$tmp/raw4.pcap" -w "$tmp/nodir/out.pcap"
expect "policy warnings on stderr" 0 "warning" "$NFREDACT" dry-run "$tmp/accept.conf" "$tmp/raw4.pcap"

# A bad policy's diagnostics show its literals and client prefixes masked,
# as written only with --show-original (check the same).
printf 'service named {\n\tlisten tcp 1883\n\tclients 198.51.100.77/24\n\tredact literal "alice@example.org" mask extra\n}\n' >"$tmp/named.conf"
for cmd in dry-run check; do
	args=("$tmp/named.conf")
	[ "$cmd" = dry-run ] && args+=("$tmp/raw4.pcap")
	name="$cmd: a bad policy's originals masked in its diagnostics"
	"$NFREDACT" "$cmd" "${args[@]}" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qF 'clients 000.00.000.00/24' "$tmp/err" &&
	   grep -qF '"xxxxx@xxxxxxx.xxx"' "$tmp/err" &&
	   ! grep -qE '198\.51|alice|example' "$tmp/out" "$tmp/err"; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, $(grep -m1 -E 'clients|literal' "$tmp/err")"
	fi
	name="$cmd --show-original: the diagnostics as written"
	"$NFREDACT" "$cmd" "${args[@]}" --show-original >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qF 'clients 198.51.100.77/24' "$tmp/err" &&
	   grep -qF '"alice@example.org"' "$tmp/err"; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, $(grep -m1 -E 'clients|literal' "$tmp/err")"
	fi
done

name="keygen"
if "$NFREDACT" keygen "$tmp/key" 2>"$tmp/err" && [ "$(stat -c '%s %a' "$tmp/key")" = "32 600" ]; then
	ok "$name"
else
	not_ok "$name" "$(head -n1 "$tmp/err"), $(stat -c '%s %a' "$tmp/key" 2>&1)"
fi
cp "$tmp/key" "$tmp/key.before"
expect "keygen refuses to overwrite" 1 "key: File exists" "$NFREDACT" keygen "$tmp/key"
if cmp -s "$tmp/key" "$tmp/key.before"; then ok "keygen left the key alone"; else not_ok "keygen left the key alone" "changed"; fi
expect "keygen usage" 2 "usage" "$NFREDACT" keygen
expect "keygen takes no option for a file name" 2 "usage" "$NFREDACT" keygen --force
if (cd "$tmp" && "$NFREDACT" keygen --help >/dev/null) && [ ! -e "$tmp/--help" ]; then
	ok "keygen --help prints the usage and writes no key"
else
	not_ok "keygen --help prints the usage and writes no key" "exit status or a file named --help"
fi
expect "keygen into a missing directory" 1 "No such file" "$NFREDACT" keygen "$tmp/nodir/key"

echo "dryrun: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
