/*
 * rules.c — the iptables rules and routes a policy needs (DESIGN.md §3):
 * render them as iptables-restore input and `ip route` commands, install
 * them, and remove exactly what was installed.
 *
 * Everything of ours lives in two chains per family, NFREDACT-IN in table
 * raw (jumped to from PREROUTING) and NFREDACT-OUT in table mangle (jumped
 * to from OUTPUT), so removal never has to guess which rules are ours.
 * External programs run through fork/exec with an argv, never a shell.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"
#include "rules.h"

#define CHAIN_IN	"NFREDACT-IN"
#define CHAIN_OUT	"NFREDACT-OUT"
#define JUMP_COMMENT	"nfredact"
/* multiport counts a port as one entry and a range as two, 15 at most */
#define MULTIPORT_MAX	15
#define ROUTES_MAX	(2 * 256)
#define QTARGET_LEN	64

struct route {
	int family;
	uint8_t addr[16];
	unsigned plen;
};

/* What one service contributes to one family's rules. */
struct svc_view {
	struct policy_ports *ports;
	unsigned n_ports;
	struct policy_prefix *clients;	/* of this family only */
	unsigned n_clients;		/* 0: every client */
	char target[QTARGET_LEN];	/* "NFQUEUE --queue-num 0" */
};

static void svc_view_free(struct svc_view *v)
{
	free(v->ports);
	free(v->clients);
	memset(v, 0, sizeof(*v));
}

/*
 * Fill @v for service @svc and @family.  Return 1 when the service has
 * rules in this family, 0 when it has none (its clients are all of the
 * other family), -errno on failure.
 */
static int svc_view_get(const struct ruleset *rs, const struct rules_opts *o,
			unsigned svc, int family, struct svc_view *v)
{
	unsigned n_all, n_fam = 0;
	struct policy_prefix *all = NULL;
	uint16_t qlo, qhi;

	memset(v, 0, sizeof(*v));
	n_all = policy_service_clients(rs, svc, NULL, 0);
	if (n_all) {
		all = calloc(n_all, sizeof(*all));
		v->clients = calloc(n_all, sizeof(*v->clients));
		if (!all || !v->clients)
			goto nomem;
		policy_service_clients(rs, svc, all, n_all);
		for (unsigned i = 0; i < n_all; i++)
			if (all[i].family == family)
				v->clients[n_fam++] = all[i];
		free(all);
		all = NULL;
		if (!n_fam) {
			svc_view_free(v);
			return 0;
		}
		v->n_clients = n_fam;
	}
	v->n_ports = policy_service_ports(rs, svc, NULL, 0);
	if (v->n_ports) {
		v->ports = calloc(v->n_ports, sizeof(*v->ports));
		if (!v->ports)
			goto nomem;
		policy_service_ports(rs, svc, v->ports, v->n_ports);
	}
	policy_service_queues(rs, svc, &qlo, &qhi);
	if (qlo == qhi)
		snprintf(v->target, sizeof(v->target), "NFQUEUE --queue-num %u",
			 qlo);
	else
		snprintf(v->target, sizeof(v->target),
			 "NFQUEUE --queue-balance %u:%u", qlo, qhi);
	if (o && o->fail_open)
		strcat(v->target, " --queue-bypass");
	return 1;
nomem:
	free(all);
	svc_view_free(v);
	return -ENOMEM;
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

static void print_prefix(FILE *out, int family, const uint8_t addr[16],
			 unsigned plen)
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t net[16] = { 0 };
	unsigned bytes = family == 4 ? 4 : 16;

	/* print the network address, whatever host bits the policy wrote */
	for (unsigned i = 0; i < bytes; i++) {
		unsigned bits = plen > i * 8 ? plen - i * 8 : 0;

		if (bits >= 8)
			net[i] = addr[i];
		else if (bits)
			net[i] = addr[i] & (uint8_t)(0xff << (8 - bits));
	}
	inet_ntop(family == 4 ? AF_INET : AF_INET6, net, buf, sizeof(buf));
	fprintf(out, "%s/%u", buf, plen);
}

/*
 * The queueing rules of one service, protocol and direction: one rule per
 * client prefix and multiport chunk.  A protocol whose ranges cover every
 * port gets no port match at all (the default policy).
 */
static void print_port_rules(FILE *out, const struct svc_view *v, int family,
			     uint8_t proto, bool inbound)
{
	const char *chain = inbound ? CHAIN_IN : CHAIN_OUT;
	const char *dir = inbound ? "--dports" : "--sports";
	unsigned n_src = inbound && v->n_clients ? v->n_clients : 1;
	bool any = false, full = false;

	for (unsigned i = 0; i < v->n_ports; i++) {
		if (v->ports[i].proto != proto)
			continue;
		any = true;
		if (v->ports[i].lo <= 1 && v->ports[i].hi == 65535)
			full = true;
	}
	if (!any)
		return;
	for (unsigned s = 0; s < n_src; s++) {
		unsigned i = 0;

		do {
			unsigned used = 0;

			fprintf(out, "-A %s", chain);
			if (inbound && v->n_clients) {
				fputs(" -s ", out);
				print_prefix(out, family, v->clients[s].addr,
					     v->clients[s].plen);
			}
			fprintf(out, " -p %s", proto_name(proto));
			if (!full) {
				fprintf(out, " -m multiport %s ", dir);
				for (; i < v->n_ports; i++) {
					const struct policy_ports *p = &v->ports[i];
					unsigned cost = p->lo == p->hi ? 1 : 2;

					if (p->proto != proto)
						continue;
					if (used + cost > MULTIPORT_MAX)
						break;
					if (used)
						fputc(',', out);
					if (p->lo == p->hi)
						fprintf(out, "%u", p->lo);
					else
						fprintf(out, "%u:%u", p->lo, p->hi);
					used += cost;
				}
			}
			fprintf(out, " -j %s\n", v->target);
		} while (!full && i < v->n_ports);
	}
}

static void print_icmp_rules(FILE *out, const char *target, int family,
			     bool inbound)
{
	static const unsigned types4[] = { 3, 4, 11, 12 };
	static const unsigned types6[] = { 1, 2, 3, 4 };
	const unsigned *types = family == 4 ? types4 : types6;
	const char *chain = inbound ? CHAIN_IN : CHAIN_OUT;
	const char *ct = inbound ? "" : " -m conntrack --ctstate RELATED";

	for (unsigned i = 0; i < 4; i++) {
		if (family == 4)
			fprintf(out, "-A %s -p icmp%s -m icmp --icmp-type %u -j %s\n",
				chain, ct, types[i], target);
		else
			fprintf(out, "-A %s -p ipv6-icmp%s -m icmp6 --icmpv6-type %u -j %s\n",
				chain, ct, types[i], target);
	}
}

static bool is_word_end(char c)
{
	return c == '\0' || c == ' ' || c == '\n';
}

/*
 * Print "-D ..." for every rule of table @table in the iptables-save
 * output @saved that jumps to @chain, and report whether @chain exists.
 * Return: the number of such jumps.
 */
static unsigned saved_jumps(const char *saved, const char *table,
			    const char *chain, FILE *out, bool *chain_exists)
{
	size_t clen = strlen(chain);
	bool in_table = false;
	unsigned n = 0;

	*chain_exists = false;
	for (const char *l = saved; l && *l;) {
		const char *eol = strchr(l, '\n');
		size_t len = eol ? (size_t)(eol - l) : strlen(l);

		if (*l == '*')
			in_table = len - 1 == strlen(table) &&
				   !memcmp(l + 1, table, len - 1);
		else if (in_table && *l == ':' && len > clen + 1 &&
			 !memcmp(l + 1, chain, clen) && l[clen + 1] == ' ')
			*chain_exists = true;
		else if (in_table && len > 3 && !memcmp(l, "-A ", 3)) {
			for (const char *p = l; p + 4 + clen <= l + len; p++) {
				if ((memcmp(p, " -j ", 4) && memcmp(p, " -g ", 4)) ||
				    memcmp(p + 4, chain, clen) ||
				    !is_word_end(p[4 + clen]))
					continue;
				if (out)
					fprintf(out, "-D %.*s\n", (int)(len - 3), l + 3);
				n++;
				break;
			}
		}
		l = eol ? eol + 1 : l + len;
	}
	return n;
}

/*
 * One table's part of the restore input: our chain, the jumps to it (an
 * earlier installation's deleted first), the services' rules, the ICMP
 * errors.  @inbound: raw NFREDACT-IN, from PREROUTING; else mangle
 * NFREDACT-OUT, from OUTPUT — and from PREROUTING too with @forward: a
 * relay's backend answers from the network, and those replies must be
 * translated before routing, so they are routed to the real client.
 */
static void render_chain(FILE *out, const struct ruleset *rs,
			 const struct svc_view *views, const bool *has,
			 unsigned n, int family, const char *icmp_target,
			 const char *saved, bool inbound, bool forward)
{
	const char *table = inbound ? "raw" : "mangle";
	const char *chain = inbound ? CHAIN_IN : CHAIN_OUT;
	bool exists;

	fprintf(out, "*%s\n:%s - [0:0]\n", table, chain);
	if (saved)
		saved_jumps(saved, table, chain, out, &exists);
	fprintf(out, "-I %s 1 -m comment --comment " JUMP_COMMENT " -j %s\n",
		inbound ? "PREROUTING" : "OUTPUT", chain);
	if (forward)
		fprintf(out, "-I PREROUTING 1 -m comment --comment "
			JUMP_COMMENT " -j %s\n", chain);
	for (unsigned s = 0; s < n; s++) {
		if (!has[s])
			continue;
		fprintf(out, "# service %s\n", policy_service_name(rs, s));
		print_port_rules(out, &views[s], family, IPPROTO_TCP, inbound);
		print_port_rules(out, &views[s], family, IPPROTO_UDP, inbound);
	}
	fprintf(out, "# related ICMP%s errors\n", family == 4 ? "" : "v6");
	print_icmp_rules(out, icmp_target, family, inbound);
	fputs("COMMIT\n", out);
}

/*
 * The iptables-restore --noflush input for @family.  With @saved (the
 * current iptables-save output) it first deletes the jumps an earlier
 * installation left; the chain declarations flush our chains, so one
 * restore replaces an installation atomically per table.
 * Return: 0 or -errno; -ENOENT when no service has rules in @family.
 */
static int render_family(const struct ruleset *rs, const struct rules_opts *o,
			 int family, const char *saved, FILE *out)
{
	unsigned n = policy_service_count(rs);
	struct svc_view *views;
	bool *has;
	char icmp_target[QTARGET_LEN] = "";
	const char *tool = family == 4 ? "iptables-restore" : "ip6tables-restore";
	const char *fam = family == 4 ? "IPv4" : "IPv6";
	int rc = 0;

	views = calloc(n ? n : 1, sizeof(*views));
	has = calloc(n ? n : 1, sizeof(*has));
	if (!views || !has) {
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned s = 0; s < n; s++) {
		rc = svc_view_get(rs, o, s, family, &views[s]);
		if (rc < 0)
			goto out;
		has[s] = rc == 1;
		/* ICMP errors go to the first service's queue: the daemon
		 * finds the flow from the quoted header whatever the queue */
		if (has[s] && !icmp_target[0])
			memcpy(icmp_target, views[s].target, sizeof(icmp_target));
	}
	rc = 0;
	fprintf(out, "# %s --noflush (%s)\n", tool, fam);
	if (!icmp_target[0]) {
		fprintf(out, "# no service covers %s clients: no %s rules\n",
			fam, fam);
		rc = -ENOENT;
		goto out;
	}
	fprintf(out, "# The -m conntrack rule in mangle " CHAIN_OUT " makes conntrack,\n"
		"# and with it %s defragmentation, active in this network namespace:\n"
		"# the queue sees whole datagrams, never fragments.\n", fam);

	render_chain(out, rs, views, has, n, family, icmp_target, saved, true,
		     false);
	render_chain(out, rs, views, has, n, family, icmp_target, saved, false,
		     o && o->forward);
out:
	if (views)
		for (unsigned s = 0; s < n; s++)
			svc_view_free(&views[s]);
	free(views);
	free(has);
	return rc;
}

/**
 * rules_render() - see rules.h.  A family that no service covers gets a
 * comment saying so and no tables.
 */
int rules_render(const struct ruleset *rs, const struct rules_opts *o,
		 int family, FILE *out)
{
	int rc;

	if (family != 4 && family != 6)
		return -EINVAL;
	rc = render_family(rs, o, family, NULL, out);
	if (rc == -ENOENT)
		rc = 0;
	if (!rc && ferror(out))
		rc = -EIO;
	return rc;
}

static bool dev_name_ok(const char *dev)
{
	size_t len = strlen(dev);

	if (!len || len >= IFNAMSIZ)
		return false;
	for (size_t i = 0; i < len; i++)
		if (dev[i] <= ' ' || dev[i] == '/' || dev[i] == ':' ||
		    (unsigned char)dev[i] >= 0x7f)
			return false;
	return true;
}

/*
 * The interface of the default route of @family, from /proc/net/route or
 * /proc/net/ipv6_route.  Return: 0 or -ENODEV.
 */
static int default_dev(int family, char dev[IFNAMSIZ])
{
	char line[512];
	FILE *f;
	int rc = -ENODEV;

	f = fopen(family == 4 ? "/proc/net/route" : "/proc/net/ipv6_route", "re");
	if (!f)
		return -ENODEV;
	while (rc && fgets(line, sizeof(line), f)) {
		char name[IFNAMSIZ + 1], dst[40], mask[40], plen[8];
		unsigned flags;

		if (family == 4) {
			if (sscanf(line, "%16s %39s %*s %x %*s %*s %*s %39s",
				   name, dst, &flags, mask) != 4)
				continue;
			if (strcmp(dst, "00000000") || strcmp(mask, "00000000") ||
			    !(flags & 0x1))	/* RTF_UP */
				continue;
		} else {
			if (sscanf(line, "%39s %7s %*s %*s %*s %*s %*s %*s %x %16s",
				   dst, plen, &flags, name) != 4)
				continue;
			/* skip the kernel's unreachable default on lo */
			if (strspn(dst, "0") != 32 || strcmp(plen, "00") ||
			    !(flags & 0x1) || (flags & 0x200) || !strcmp(name, "lo"))
				continue;
		}
		if (strlen(name) < IFNAMSIZ) {
			strcpy(dev, name);
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

/* The pseudonym ranges (map mode) the policy needs routes for, deduplicated. */
static int collect_routes(const struct ruleset *rs, struct route *r,
			  unsigned *n_out)
{
	unsigned n = 0;

	for (unsigned s = 0; s < policy_service_count(rs); s++) {
		for (int family = 4; family <= 6; family += 2) {
			struct svc_view v;
			enum addr_mode mode;
			unsigned plen, rplen;
			uint8_t range[16];
			bool dup = false;
			int rc;

			rc = svc_view_get(rs, NULL, s, family, &v);
			if (rc < 0)
				return rc;
			svc_view_free(&v);
			if (!rc)
				continue;
			if (policy_service_address(rs, s, family, &mode, &plen,
						   range, &rplen) < 0 ||
			    mode != ADDR_MAP)
				continue;
			for (unsigned i = 0; i < n; i++)
				dup |= r[i].family == family && r[i].plen == rplen &&
				       !memcmp(r[i].addr, range, 16);
			if (dup)
				continue;
			if (n == ROUTES_MAX)
				return -E2BIG;
			r[n].family = family;
			memcpy(r[n].addr, range, 16);
			r[n].plen = rplen;
			n++;
		}
	}
	*n_out = n;
	return 0;
}

static int route_dev(const struct rules_opts *o, int family, char dev[IFNAMSIZ])
{
	if (o && o->dev) {
		if (!dev_name_ok(o->dev))
			return -EINVAL;
		strcpy(dev, o->dev);
		return 0;
	}
	return default_dev(family, dev);
}

/**
 * rules_render_routes() - see rules.h.  When a route is needed and no
 * device is known (no --dev, no default route of that family), a comment
 * takes the command's place and the return value is -ENODEV.
 */
int rules_render_routes(const struct ruleset *rs, const struct rules_opts *o,
			FILE *out)
{
	static const char *const mode_name[] = {
		[ADDR_KEEP] = "keep", [ADDR_TRUNCATE] = "truncate",
		[ADDR_PERMUTE] = "permute", [ADDR_MAP] = "map",
	};
	struct route *r;
	unsigned n = 0;
	int rc;

	r = calloc(ROUTES_MAX, sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = collect_routes(rs, r, &n);
	if (rc < 0)
		goto out;
	fputs("# ip route: pseudonym ranges must be routed via the client-facing\n"
	      "# interface, or replies to pseudonyms die before mangle OUTPUT.\n", out);
	for (unsigned i = 0; i < n; i++) {
		char dev[IFNAMSIZ];
		int drc = route_dev(o, r[i].family, dev);

		if (drc < 0) {
			fprintf(out, "# no device for ");
			print_prefix(out, r[i].family, r[i].addr, r[i].plen);
			fprintf(out, ": no IPv%d default route; give --dev IFACE\n",
				r[i].family);
			rc = drc;
			continue;
		}
		fprintf(out, "ip %sroute replace ", r[i].family == 6 ? "-6 " : "");
		print_prefix(out, r[i].family, r[i].addr, r[i].plen);
		fprintf(out, " dev %s\n", dev);
	}
	for (unsigned s = 0; s < policy_service_count(rs); s++) {
		for (int family = 4; family <= 6; family += 2) {
			enum addr_mode mode;
			unsigned plen, rplen;
			uint8_t range[16];
			struct svc_view v;

			int vrc = svc_view_get(rs, NULL, s, family, &v);

			if (vrc < 0) {
				rc = vrc;
				goto out;
			}
			svc_view_free(&v);
			if (!vrc)
				continue;
			if (policy_service_address(rs, s, family, &mode, &plen,
						   range, &rplen) < 0 ||
			    mode == ADDR_MAP)
				continue;
			if (mode == ADDR_KEEP)
				fprintf(out, "# service %s: IPv%d keep: the real "
					"address, no route needed\n",
					policy_service_name(rs, s), family);
			else
				fprintf(out, "# service %s: IPv%d %s %u: pseudonyms "
					"stay inside the client's /%u, which is "
					"routed already; no route needed\n",
					policy_service_name(rs, s), family,
					mode_name[mode], plen, plen);
		}
	}
	if (ferror(out) && !rc)
		rc = -EIO;
out:
	free(r);
	return rc;
}

/* ---- running iptables-restore, iptables-save and ip -------------------- */

/*
 * Run @argv (PATH lookup, no shell).  @in (may be NULL) is written to its
 * stdin; with @out its stdout is collected into a NUL-terminated string
 * the caller frees.  @quiet sends its stderr to /dev/null.
 * Return: 0 when it exits 0, -ENOENT when it cannot be run, -EIO when it
 * fails, other -errno on local failure.
 */
static int run_cmd(char *const argv[], const char *in, char **out, bool quiet)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	sigset_t pipe_set, old_set;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int status, rc = 0;
	pid_t pid;

	if (out)
		*out = NULL;
	if ((in && pipe2(pin, O_CLOEXEC) < 0) ||
	    (out && pipe2(pout, O_CLOEXEC) < 0)) {
		rc = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		sigset_t none;

		/* the daemon blocks or ignores signals for its own reasons;
		 * iptables-restore and ip should start with the defaults */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in ? pin[0] : devnull, 0) < 0 ||
		    (out && dup2(pout[1], 1) < 0) ||
		    (quiet && dup2(devnull, 2) < 0))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	/* a child that dies early must give EPIPE here, not kill us */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	if (in) {
		size_t left = strlen(in);

		close(pin[0]);
		pin[0] = -1;
		while (left) {
			ssize_t w = write(pin[1], in, left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = -EIO;
				break;
			}
			in += w;
			left -= (size_t)w;
		}
		close(pin[1]);
		pin[1] = -1;
	}
	if (out) {
		close(pout[1]);
		pout[1] = -1;
		for (;;) {
			ssize_t r;

			if (cap - len < 4096) {
				char *nb = realloc(buf, cap + 65536);

				if (!nb) {
					rc = -ENOMEM;
					break;
				}
				buf = nb;
				cap += 65536;
			}
			r = read(pout[0], buf + len, cap - len - 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			len += (size_t)r;
		}
		close(pout[0]);
		pout[0] = -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	{
		struct timespec zero = { 0, 0 };

		/* drop a SIGPIPE raised while it was blocked */
		while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	if (!rc) {
		if (status == -1 || !WIFEXITED(status))
			rc = -EIO;
		else if (WEXITSTATUS(status) == 127)
			rc = -ENOENT;
		else if (WEXITSTATUS(status))
			rc = -EIO;
	}
	if (out && !rc) {
		if (!buf)
			buf = calloc(1, 1);
		if (!buf)
			rc = -ENOMEM;
		else
			buf[len] = '\0';
		*out = buf;
		buf = NULL;
	}
out:
	free(buf);
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
	}
	return rc;
}

static int save_family(int family, char **saved)
{
	char *argv[] = { family == 4 ? "iptables-save" : "ip6tables-save", NULL };

	return run_cmd(argv, NULL, saved, false);
}

static int restore_family(int family, const char *input)
{
	char *argv[] = { family == 4 ? "iptables-restore" : "ip6tables-restore",
			 "--noflush", NULL };

	return run_cmd(argv, input, NULL, false);
}

/*
 * Whether the kernel runs @family at all: with ipv6.disable=1 there is no
 * IPv6 traffic to cover and ip6tables cannot work, which must not make
 * the IPv4 installation fail.
 */
static bool family_enabled(int family)
{
	return family == 4 || access("/proc/sys/net/ipv6", F_OK) == 0;
}

/* Remove our chains and jumps of @family; nothing installed is fine. */
static int remove_family(int family)
{
	static const struct { const char *table, *chain; } ours[] = {
		{ "raw", CHAIN_IN }, { "mangle", CHAIN_OUT },
	};
	char *saved = NULL, *input = NULL;
	size_t input_len = 0;
	bool any = false;
	FILE *f;
	int rc;

	rc = save_family(family, &saved);
	if (rc < 0)
		return rc;
	f = open_memstream(&input, &input_len);
	if (!f) {
		rc = -errno;
		goto out;
	}
	for (unsigned i = 0; i < 2; i++) {
		bool exists;
		unsigned n = saved_jumps(saved, ours[i].table, ours[i].chain,
					 NULL, &exists);

		if (!n && !exists)
			continue;
		any = true;
		fprintf(f, "*%s\n", ours[i].table);
		saved_jumps(saved, ours[i].table, ours[i].chain, f, &exists);
		if (exists)
			fprintf(f, "-F %s\n-X %s\n", ours[i].chain, ours[i].chain);
		fputs("COMMIT\n", f);
	}
	if (fclose(f)) {
		rc = -EIO;
		goto out;
	}
	if (any)
		rc = restore_family(family, input);
out:
	free(input);
	free(saved);
	return rc;
}

static void prefix_text(const struct route *r, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");

	buf[0] = '\0';
	if (!f)
		return;
	print_prefix(f, r->family, r->addr, r->plen);
	fclose(f);
}

static int route_cmd(const struct route *r, const char *verb, const char *dev,
		     char **out, bool quiet)
{
	char prefix[INET6_ADDRSTRLEN + 8];
	char *argv[10];
	int i = 0;

	prefix_text(r, prefix, sizeof(prefix));
	argv[i++] = "ip";
	argv[i++] = r->family == 6 ? "-6" : "-4";
	argv[i++] = "route";
	argv[i++] = (char *)verb;
	if (!strcmp(verb, "show"))
		argv[i++] = "exact";
	argv[i++] = prefix;
	if (dev) {
		argv[i++] = "dev";
		argv[i++] = (char *)dev;
	}
	argv[i] = NULL;
	return run_cmd(argv, NULL, out, quiet);
}

/* Delete the route of @r when one exists; none is fine. */
static int remove_route(const struct route *r)
{
	char *shown = NULL;
	int rc;

	rc = route_cmd(r, "show", NULL, &shown, true);
	if (rc < 0)
		return rc;
	if (shown[0])
		rc = route_cmd(r, "del", NULL, NULL, false);
	free(shown);
	return rc;
}

/**
 * rules_remove() - see rules.h.  Removes our chains and the jumps to them
 * in both families, whatever policy installed them, and the routes of
 * @rs's pseudonym ranges.  Nothing installed is not an error.
 */
int rules_remove(const struct ruleset *rs, const struct rules_opts *o)
{
	struct route *r;
	unsigned n = 0;
	int rc, first = 0;

	r = calloc(ROUTES_MAX, sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = collect_routes(rs, r, &n);
	if (rc < 0)
		goto out;
	/* keep going after a failure: remove as much of ours as we can */
	for (unsigned i = 0; i < n; i++) {
		rc = remove_route(&r[i]);
		if (rc < 0 && !first)
			first = rc;
	}
	for (int family = 4; family <= 6; family += 2) {
		if (!family_enabled(family))
			continue;
		rc = remove_family(family);
		if (rc < 0 && !first)
			first = rc;
	}
	rc = first;
out:
	free(r);
	return rc;
}

/**
 * rules_apply() - see rules.h.  Each family's rules go in with one
 * iptables-restore --noflush that also replaces an earlier installation of
 * ours, so traffic is never left unqueued in between; then the routes.
 * On any failure everything of ours is removed again.
 */
int rules_apply(const struct ruleset *rs, const struct rules_opts *o)
{
	struct route *r;
	char (*devs)[IFNAMSIZ] = NULL;
	unsigned n = 0;
	int rc;

	r = calloc(ROUTES_MAX, sizeof(*r));
	devs = calloc(ROUTES_MAX, sizeof(*devs));
	if (!r || !devs) {
		rc = -ENOMEM;
		goto out;
	}
	/* everything that can fail without side effects comes first */
	rc = collect_routes(rs, r, &n);
	for (unsigned i = 0; !rc && i < n; i++)
		rc = route_dev(o, r[i].family, devs[i]);
	if (rc < 0)
		goto out;

	for (int family = 4; family <= 6; family += 2) {
		char *saved = NULL, *input = NULL;
		size_t input_len = 0;
		FILE *f;

		if (!family_enabled(family))
			continue;
		rc = save_family(family, &saved);
		if (rc < 0)
			goto undo;
		f = open_memstream(&input, &input_len);
		if (!f) {
			rc = -errno;
			free(saved);
			goto undo;
		}
		rc = render_family(rs, o, family, saved, f);
		if (fclose(f) && !rc)
			rc = -EIO;
		free(saved);
		if (rc == -ENOENT) {
			/* no service in this family: clear an older install */
			free(input);
			rc = remove_family(family);
			if (rc < 0)
				goto undo;
			continue;
		}
		if (!rc)
			rc = restore_family(family, input);
		free(input);
		if (rc < 0)
			goto undo;
	}
	for (unsigned i = 0; i < n; i++) {
		rc = route_cmd(&r[i], "replace", devs[i], NULL, false);
		if (rc < 0)
			goto undo;
	}
	goto out;
undo:
	rules_remove(rs, o);
out:
	free(devs);
	free(r);
	return rc;
}
