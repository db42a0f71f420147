#!/bin/bash
# Policy language tests: every line of cases.txt through `nfredact check`,
# the doc/design.md §6 examples, and the whole-output cases in files/.
#
# cases.txt: `policy text (\n for newlines) ; ok|error ; expected` where
# expected is the first diagnostic line (an ok case may name a warning),
# with the policy file shown as <input>.  Key files referenced by a case
# (key.ok, key.short, key.open) are made by this script next to the policy.
#
# Env: B (build dir, default build), NFREDACT (the binary, default $B/nfredact).
# Exit: 0 all passed, 1 a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-build}
bin=${NFREDACT:-$B/nfredact}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
if [ ! -x "$bin" ]; then
	echo "policy: $bin not built" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 32 /dev/urandom >"$tmp/key.ok" && chmod 600 "$tmp/key.ok"
head -c 31 /dev/urandom >"$tmp/key.short" && chmod 600 "$tmp/key.short"
head -c 32 /dev/urandom >"$tmp/key.open" && chmod 644 "$tmp/key.open"
"$bin" keygen --ratchet "$tmp/key.ratchet" --epoch 1h >/dev/null

passed=0 failed=0
fail() {
	failed=$((failed + 1))
	printf 'FAIL %s\n' "$1"
	shift
	printf '     %s\n' "$@"
}

# run_check FILE: sets rc, out, err (path of FILE shown as <input>)
run_check() {
	"$bin" check "$1" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	# the static-key note is checked on its own, below
	note=$(grep '^note: ' "$tmp/out")
	out=$(grep -v '^note: ' "$tmp/out")
	err=$(sed "s|$1|<input>|g" "$tmp/err")
}

lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	case $line in '' | '#'*) continue ;; esac
	text=${line%% ; *}
	rest=${line#* ; }
	want=${rest%% ; *}
	expect=${rest#* ; }
	[ "$expect" = "$rest" ] && expect=
	printf '%s\n' "${text//\\n/$'\n'}" >"$tmp/input.conf"
	run_check "$tmp/input.conf"
	first=$(printf '%s\n' "$err" | head -n 1)
	name="cases.txt:$lineno"
	case $want in
	ok)
		if [ "$rc" -ne 0 ] || [ "$out" != "policy OK" ]; then
			fail "$name: want ok, got rc $rc" "$first"
		elif [ -n "$expect" ] && [ "$first" != "$expect" ]; then
			fail "$name: warning differs" "want: $expect" "got:  $first"
		elif [ -z "$expect" ] && [ -n "$err" ]; then
			fail "$name: unexpected diagnostics" "$first"
		else
			passed=$((passed + 1))
		fi
		;;
	error)
		if [ "$rc" -ne 1 ] || [ -n "$out" ]; then
			fail "$name: want error, got rc $rc" "$out"
		elif [ "$first" != "$expect" ]; then
			fail "$name: diagnostic differs" "want: $expect" "got:  $first"
		else
			passed=$((passed + 1))
		fi
		;;
	*)
		fail "$name: bad case line (want ok or error)"
		;;
	esac
done <"$here/cases.txt"

# The doc/design.md §6 examples, verbatim; the full one points at a real key file.
for f in "$here"/examples/design-*.conf; do
	run_check "$f"
	if [ "$rc" -eq 0 ] && [ "$out" = "policy OK" ] && [ -z "$err" ]; then
		passed=$((passed + 1))
	else
		fail "examples/${f##*/}: not accepted" "$err"
	fi
done
sed "s|^key /etc/nfredact/key |key $tmp/key.ok |" "$here/examples/design.conf" >"$tmp/design.conf"
if cmp -s "$tmp/design.conf" "$here/examples/design.conf"; then
	fail "examples/design.conf: key line not found"
else
	run_check "$tmp/design.conf"
	if [ "$rc" -eq 0 ] && [ "$out" = "policy OK" ] && [ -z "$err" ]; then
		passed=$((passed + 1))
	else
		fail "examples/design.conf: not accepted" "$err"
	fi
fi
# As written, without the key file, its only error is the key file's.
if [ ! -e /etc/nfredact/key ]; then
	run_check "$here/examples/design.conf"
	if [ "$rc" -eq 1 ] && [ "$(grep -c ': error: ' <<<"$err")" -eq 1 ] &&
	   grep -q '^<input>:2:5: error: key file "/etc/nfredact/key": ' <<<"$err"; then
		passed=$((passed + 1))
	else
		fail "examples/design.conf without key: want one key error" "$err"
	fi
fi

# A static key is accepted with a note that old pseudonyms stay
# recomputable; a ratchet state gets none.
printf 'key key.ok\nservice a {\n listen tcp 1\n}\n' >"$tmp/static.conf"
run_check "$tmp/static.conf"
if [ "$rc" -eq 0 ] && [ "$out" = "policy OK" ] &&
   grep -q 'static master key: whoever holds it can recompute the pseudonyms and tokens of every epoch, past ones included' <<<"$note"; then
	passed=$((passed + 1))
else
	fail "static key: want policy OK and the note" "$out" "$note"
fi
printf 'key key.ratchet\nkey-grace 2s\nservice a {\n listen tcp 1\n}\n' >"$tmp/ratchet.conf"
run_check "$tmp/ratchet.conf"
if [ "$rc" -eq 0 ] && [ "$out" = "policy OK" ] && [ -z "$note" ] && [ -z "$err" ]; then
	passed=$((passed + 1))
else
	fail "ratchet state: want policy OK without a note" "$out" "$note" "$err"
fi

# files/NAME.conf: stderr must equal files/NAME.expected exactly (all
# diagnostics with source lines and carets); NAME.rc holds the exit code,
# NAME.args (optional) more arguments for check, and NAME.originals
# (optional) strings of the policy, one a line, that must not appear in
# the output (diagnostics show literals, client prefixes and comments
# masked unless --show-original).
for f in "$here"/files/*.conf; do
	n=${f%.conf}
	args=()
	[ -f "$n.args" ] && read -r -a args <"$n.args"
	(cd "$here/files" && "$bin" check "${args[@]}" "${f##*/}" >"$tmp/out" 2>"$tmp/err")
	rc=$?
	leaked=
	if [ -f "$n.originals" ]; then
		while IFS= read -r o; do
			[ -n "$o" ] && grep -qF -- "$o" "$tmp/out" "$tmp/err" && leaked+="$o "
		done <"$n.originals"
	fi
	if [ "$rc" -ne "$(cat "$n.rc")" ]; then
		fail "files/${f##*/}: exit $rc, want $(cat "$n.rc")"
	elif ! diff -u "$n.expected" "$tmp/err" >"$tmp/diff"; then
		fail "files/${f##*/}: output differs" "$(cat "$tmp/diff")"
	elif [ -n "$leaked" ]; then
		fail "files/${f##*/}: originals in the output: $leaked"
	else
		passed=$((passed + 1))
	fi
done

echo "policy cases: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
