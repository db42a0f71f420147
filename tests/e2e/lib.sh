# lib.sh — network namespaces, servers and cleanup for the live checks
# (tests/e2e/run.sh, tests/e2e/frame.sh, tools/demo-live.sh,
# bench/live/run-live.sh).
# Sourced, not run.  Everything it starts is recorded and stopped by
# ns_cleanup, which the caller installs as its EXIT trap.
#
# Layout: client namespace $NS_C ── veth ── server namespace $NS_S
#   client 192.0.2.55/24   2001:db8:1::55/64
#   server 192.0.2.1/24    2001:db8:1::1/64

CLIENT4=192.0.2.55
SERVER4=192.0.2.1
CLIENT6=2001:db8:1::55
SERVER6=2001:db8:1::1

NS_C=nfr-c-$$
NS_S=nfr-s-$$
VETH_C=nfrc$$
VETH_S=nfrs$$
NS_PIDS=()
NS_MADE=0

# ns_pid_add PID: stop PID at cleanup
ns_pid_add() { NS_PIDS+=("$1"); }

# ns_kill PID: stop one process we started, wait for it (bounded)
ns_kill() {
	local pid=$1 sig=${2:-TERM} i
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

ns_cleanup() {
	local pid
	for pid in "${NS_PIDS[@]}"; do
		ns_kill "$pid"
	done
	NS_PIDS=()
	if [ "$NS_MADE" = 1 ]; then
		# deleting the namespaces takes the veth pair, the nf_tables
		# tables (persistent or not) and the routes inside them along
		ip netns del "$NS_C" 2>/dev/null
		ip netns del "$NS_S" 2>/dev/null
		NS_MADE=0
	fi
}

# ns_in_c / ns_in_s CMD...: run in the client / server namespace.  Not for
# programs started with &: `ip netns exec` execs, so call it directly and
# $! is the program itself.
ns_in_c() { ip netns exec "$NS_C" "$@"; }
ns_in_s() { ip netns exec "$NS_S" "$@"; }

# ns_setup: both namespaces, the veth pair, IPv4 and IPv6 addresses.
# Return: 0, or 1 when the namespaces cannot be made.
ns_setup() {
	ip netns add "$NS_C" 2>/dev/null || return 1
	NS_MADE=1
	ip netns add "$NS_S" || return 1
	ip link add "$VETH_C" netns "$NS_C" type veth \
		peer name "$VETH_S" netns "$NS_S" || return 1
	local ns
	for ns in "$NS_C" "$NS_S"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
			net.ipv6.conf.default.disable_ipv6=0 >/dev/null 2>&1
		ip -n "$ns" link set lo up || return 1
	done
	ip -n "$NS_C" addr add "$CLIENT4/24" dev "$VETH_C" &&
	ip -n "$NS_S" addr add "$SERVER4/24" dev "$VETH_S" &&
	ip -n "$NS_C" link set "$VETH_C" up &&
	ip -n "$NS_S" link set "$VETH_S" up &&
	ip -n "$NS_C" -6 addr add "$CLIENT6/64" dev "$VETH_C" nodad &&
	ip -n "$NS_S" -6 addr add "$SERVER6/64" dev "$VETH_S" nodad || return 1
	return 0
}

# wait_for SECONDS CMD...: poll CMD every 0.05 s until it succeeds
# Return: 0 when it did, 1 on timeout.
wait_for() {
	local secs=$1 i n
	shift
	n=$((secs * 20))
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# proc_gone PID: PID has exited (a zombie counts as gone)
proc_gone() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# port_listening NS PROTO PORT: a socket listens on PORT in NS
port_listening() {
	local flag=-lnt
	[ "$2" = udp ] && flag=-lnu
	ip netns exec "$1" ss -H $flag "sport = :$3" 2>/dev/null | grep -q .
}

# queue_bound NS NUM: a program has bound netfilter queue NUM in NS
queue_bound() {
	ip netns exec "$1" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
		awk -v q="$2" '$1 == q { found = 1 } END { exit !found }'
}

# mosquitto_start DIR [LOCAL_PORT]: a broker in the server namespace on
# TCP 1883, both families, config and log in DIR (DIR/mosquitto.log);
# with LOCAL_PORT, on 127.0.0.1 LOCAL_PORT too, for a client on the
# broker's host that no service of a policy on 1883 covers
mosquitto_start() {
	local dir=$1 local_port=${2:-}
	cat > "$dir/mosquitto.conf" <<-EOF
	# broker for nfredact's live checks: all in $dir
	user root
	pid_file $dir/mosquitto.pid
	persistence false
	log_dest file $dir/mosquitto.log
	log_type all
	connection_messages true
	log_timestamp true
	listener 1883
	allow_anonymous true
	EOF
	[ -n "$local_port" ] && echo "listener $local_port 127.0.0.1" >>"$dir/mosquitto.conf"
	: > "$dir/mosquitto.log"
	ip netns exec "$NS_S" mosquitto -c "$dir/mosquitto.conf" \
		>"$dir/mosquitto.out" 2>&1 &
	MOSQUITTO_PID=$!
	ns_pid_add "$MOSQUITTO_PID"
	wait_for 10 port_listening "$NS_S" tcp 1883 || return 1
	[ -z "$local_port" ] || wait_for 10 port_listening "$NS_S" tcp "$local_port"
}

# nginx_start DIR PORT: an HTTP server in the server namespace on TCP
# PORT, both families, that answers every request (POST too) with 200
# and "ok" on keep-alive connections; config, logs and temporary files
# in DIR (DIR/nginx.access.log, DIR/nginx.err)
nginx_start() {
	local dir=$1 port=$2 t
	for t in body proxy fastcgi uwsgi scgi; do
		mkdir -p "$dir/nginx-$t"
	done
	cat > "$dir/nginx.conf" <<-EOF
	# HTTP server for nfredact's live checks: all in $dir
	user root;
	worker_processes 1;
	pid $dir/nginx.pid;
	error_log $dir/nginx.err info;
	events { worker_connections 256; }
	http {
		access_log $dir/nginx.access.log;
		client_body_temp_path $dir/nginx-body;
		proxy_temp_path $dir/nginx-proxy;
		fastcgi_temp_path $dir/nginx-fastcgi;
		uwsgi_temp_path $dir/nginx-uwsgi;
		scgi_temp_path $dir/nginx-scgi;
		keepalive_requests 1000000;
		keepalive_timeout 300s;
		server {
			listen $port;
			listen [::]:$port;
			location / { return 200 "ok\n"; }
		}
	}
	EOF
	ip netns exec "$NS_S" nginx -p "$dir" -e "$dir/nginx.err" \
		-c "$dir/nginx.conf" -g 'daemon off;' >"$dir/nginx.out" 2>&1 &
	NGINX_PID=$!
	ns_pid_add "$NGINX_PID"
	wait_for 10 port_listening "$NS_S" tcp "$port"
}

# rsyslog_start DIR: rsyslogd in the server namespace on UDP and TCP 514,
# writing "FROMHOST-IP | MSG" lines to DIR/syslog.log
rsyslog_start() {
	local dir=$1
	mkdir -p "$dir/rsyslog"
	cat > "$dir/rsyslog.conf" <<-EOF
	# collector for nfredact's live checks: all in $dir
	global(workDirectory="$dir/rsyslog" net.enableDNS="off")
	module(load="imudp")
	module(load="imtcp")
	input(type="imudp" port="514")
	input(type="imtcp" port="514")
	template(name="nfredact_check" type="string"
	         string="%fromhost-ip% | %msg%\n")
	*.* action(type="omfile" file="$dir/syslog.log"
	           template="nfredact_check")
	EOF
	: > "$dir/syslog.log"
	ip netns exec "$NS_S" rsyslogd -n -f "$dir/rsyslog.conf" -i "$dir/rsyslog.pid" \
		>"$dir/rsyslog.out" 2>&1 &
	RSYSLOG_PID=$!
	ns_pid_add "$RSYSLOG_PID"
	wait_for 10 port_listening "$NS_S" udp 514 &&
		wait_for 10 port_listening "$NS_S" tcp 514
}

# nfredactd_start DIR POLICY [ARGS...]: the daemon in the server namespace
# with its rules installed; stderr in DIR/nfredactd.err, stdout in
# DIR/nfredactd.out.  Waits until the queues of the policy are bound
# (NFREDACTD_QUEUES, default "0 1": queue 0 inbound, the outbound queue 1
# that follows it).
nfredactd_start() {
	local dir=$1 policy=$2 q
	shift 2
	ip netns exec "$NS_S" "$NFREDACTD" -c "$policy" --install-rules --dev "$VETH_S" \
		--control "$dir/control.sock" --user root "$@" \
		2>>"$dir/nfredactd.err" >>"$dir/nfredactd.out" &
	NFREDACTD_PID=$!
	ns_pid_add "$NFREDACTD_PID"
	for q in ${NFREDACTD_QUEUES:-0 1}; do
		wait_for 10 queue_bound "$NS_S" "$q" || return 1
	done
	# the rules go in before or after the bind: wait for both
	wait_for 10 rules_present || return 1
	# With --install-rules the queues are served by a child, forked once
	# the rules are in; the parent owns the tables, keeps them in place
	# while it runs and never removes them: they stay after any stop
	# (`nfredact ruleset POLICY --remove` takes them away).  The child
	# answers on the control socket, and by then the parent runs no
	# other child: its one child is NFREDACTD_SERVER, the process that
	# reads the queues.
	wait_for 10 "${NFREDACT:-${NFREDACTD%d}}" stats --control "$dir/control.sock" ||
		return 1
	NFREDACTD_SERVER=$(pgrep -P "$NFREDACTD_PID" | head -n 1)
	[ -n "$NFREDACTD_SERVER" ] || NFREDACTD_SERVER=$NFREDACTD_PID
	ns_pid_add "$NFREDACTD_SERVER"
}

# rules_present [ip|ip6]...: nfredact's table of each family (default
# both) is in the server namespace with a queue rule in it
rules_present() {
	local fam
	[ $# -gt 0 ] || set -- ip ip6
	for fam; do
		ns_in_s nft list table "$fam" nfredact 2>/dev/null |
			grep -q ' queue num ' || return 1
	done
}

# rules_absent: no table of nfredact's in the server namespace, in
# either family
rules_absent() {
	! ns_in_s nft list tables 2>/dev/null | grep -q ' nfredact$'
}
