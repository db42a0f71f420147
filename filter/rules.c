/*
 * rules.c — the queue rules and routes a policy needs (doc/design.md §3):
 * turn a policy into a rules plan (plain data, no key), render it in nft
 * syntax, install it as nfredact's own nf_tables tables (nftrules.c), and
 * add or remove the routes of the pseudonym ranges.
 *
 * Everything of ours lives in `table ip nfredact` and `table ip6
 * nfredact`, so removal never has to guess which rules are ours, and a
 * ruleset flush by another program never meets them half-installed.
 * External programs (ip) run through fork/exec with an argv, never a shell.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "nftrules.h"
#include "policy.h"
#include "rules.h"

/* one rule per port range; a policy with more is a mistake */
#define RULES_MAX	16384
#define ROUTES_MAX	(2 * 256)

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
	uint16_t queue_lo, queue_hi;	/* inbound: the `queue` statement */
	uint16_t out_lo, out_hi;	/* outbound and replies */
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
	v->queue_lo = qlo;
	v->queue_hi = qhi;
	if (policy_service_queues_out(rs, svc, &qlo, &qhi) < 0) {
		svc_view_free(v);
		return -ERANGE;
	}
	v->out_lo = qlo;
	v->out_hi = qhi;
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

/* ---- the plan ------------------------------------------------------------ */

struct plan_builder {
	struct rules_plan *p;
	unsigned cap[2];
	int err;
};

static void plan_push(struct plan_builder *b, unsigned fi,
		      const struct rules_rule *r)
{
	struct rules_plan *p = b->p;

	if (b->err)
		return;
	if (p->n[fi] == RULES_MAX) {
		b->err = -E2BIG;
		return;
	}
	if (p->n[fi] == b->cap[fi]) {
		unsigned cap = b->cap[fi] ? 2 * b->cap[fi] : 32;
		struct rules_rule *v = realloc(p->rule[fi], cap * sizeof(*v));

		if (!v) {
			b->err = -ENOMEM;
			return;
		}
		p->rule[fi] = v;
		b->cap[fi] = cap;
	}
	p->rule[fi][p->n[fi]++] = *r;
}

/*
 * The port rules of one service, protocol and chain: one rule per client
 * prefix and port range.  A protocol whose ranges cover every port gets
 * no port match at all (the default policy).
 */
static void plan_ports(struct plan_builder *b, unsigned fi,
		       const struct svc_view *v, const struct rules_rule *tmpl,
		       uint8_t proto)
{
	bool inbound = tmpl->chain == RULES_INBOUND;
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
		struct rules_rule r = *tmpl;

		r.proto = proto;
		if (inbound && v->n_clients) {
			r.has_src = true;
			r.src_plen = (uint8_t)v->clients[s].plen;
			memcpy(r.src, v->clients[s].addr, sizeof(r.src));
		}
		if (full) {
			plan_push(b, fi, &r);
			continue;
		}
		for (unsigned i = 0; i < v->n_ports; i++) {
			if (v->ports[i].proto != proto)
				continue;
			r.port_lo = v->ports[i].lo;
			r.port_hi = v->ports[i].hi;
			plan_push(b, fi, &r);
		}
	}
}

/*
 * ICMP errors about our flows (IPv4 3, 4, 11, 12; ICMPv6 1-4), never
 * neighbour discovery, to @tmpl's queues.  Outbound and replies only when
 * conntrack relates them; inbound, before conntrack, by type.
 */
static void plan_icmp(struct plan_builder *b, unsigned fi,
		      const struct rules_rule *tmpl)
{
	static const uint8_t types4[] = { 3, 4, 11, 12 };
	static const uint8_t types6[] = { 1, 2, 3, 4 };

	for (unsigned i = 0; i < 4; i++) {
		struct rules_rule r = *tmpl;

		r.proto = fi == 0 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		r.icmp_type = fi == 0 ? types4[i] : types6[i];
		r.related = tmpl->chain != RULES_INBOUND;
		r.service[0] = '\0';
		plan_push(b, fi, &r);
	}
}

/**
 * rules_plan_build() - see rules.h.
 */
int rules_plan_build(const struct ruleset *rs, const struct rules_opts *o,
		     struct rules_plan *p)
{
	struct plan_builder b = { .p = p };
	unsigned n = policy_service_count(rs);

	memset(p, 0, sizeof(*p));
	p->forward = o && o->forward;
	for (unsigned fi = 0; fi < 2 && !b.err; fi++) {
		int family = fi == 0 ? 4 : 6;
		struct rules_rule icmp[RULES__CHAINS];
		bool have_icmp = false;

		for (unsigned s = 0; s < n && !b.err; s++) {
			struct svc_view v;
			struct rules_rule t = { .icmp_type = -1 };
			int rc = svc_view_get(rs, o, s, family, &v);

			if (rc < 0) {
				b.err = rc;
				break;
			}
			if (!rc)
				continue;
			t.bypass = o && o->fail_open;
			snprintf(t.service, sizeof(t.service), "%s",
				 policy_service_name(rs, s));
			for (int c = 0; c < RULES__CHAINS; c++) {
				/*
				 * The queue says the direction: client→server
				 * packets (inbound chain) go to the service's
				 * inbound queues, everything going back to
				 * clients (outbound, replies) to its
				 * outbound ones.
				 */
				bool in = c == RULES_INBOUND;

				t.chain = (uint8_t)c;
				t.queue_lo = in ? v.queue_lo : v.out_lo;
				t.queue_hi = in ? v.queue_hi : v.out_hi;
				/* ICMP errors go to the first service's
				 * queues: the daemon finds the flow from the
				 * quoted header */
				if (!have_icmp)
					icmp[c] = t;
				if (c == RULES_REPLIES && !p->forward)
					continue;
				plan_ports(&b, fi, &v, &t, IPPROTO_TCP);
				plan_ports(&b, fi, &v, &t, IPPROTO_UDP);
			}
			have_icmp = true;
			svc_view_free(&v);
		}
		for (int c = 0; have_icmp && c < RULES__CHAINS; c++) {
			if (c == RULES_REPLIES && !p->forward)
				continue;
			plan_icmp(&b, fi, &icmp[c]);
		}
	}
	if (b.err)
		rules_plan_free(p);
	return b.err;
}

/**
 * rules_plan_free() - see rules.h.
 */
void rules_plan_free(struct rules_plan *p)
{
	if (!p)
		return;
	free(p->rule[0]);
	free(p->rule[1]);
	memset(p, 0, sizeof(*p));
}

static void render_rule(FILE *out, const struct rules_rule *r, int family)
{
	const char *ip = family == 4 ? "ip" : "ip6";

	fputs("\t\t", out);
	if (r->has_src) {
		fprintf(out, "%s saddr ", ip);
		print_prefix(out, family, r->src, r->src_plen);
		fputc(' ', out);
	}
	if (r->related)
		fputs("ct state related ", out);
	if (r->icmp_type >= 0)
		fprintf(out, "%s type %d ", family == 4 ? "icmp" : "icmpv6",
			r->icmp_type);
	else if (!r->port_lo && !r->port_hi)
		fprintf(out, "meta l4proto %s ", proto_name(r->proto));
	else if (r->port_lo == r->port_hi)
		fprintf(out, "%s %s %u ", proto_name(r->proto),
			r->chain == RULES_INBOUND ? "dport" : "sport", r->port_lo);
	else
		fprintf(out, "%s %s %u-%u ", proto_name(r->proto),
			r->chain == RULES_INBOUND ? "dport" : "sport",
			r->port_lo, r->port_hi);
	fputs("queue ", out);
	if (r->bypass)
		fputs("flags bypass ", out);
	if (r->queue_lo == r->queue_hi)
		fprintf(out, "num %u", r->queue_lo);
	else
		fprintf(out, "num %u-%u", r->queue_lo, r->queue_hi);
	if (r->service[0])
		fprintf(out, " comment \"service %s\"", r->service);
	fputc('\n', out);
}

/*
 * The distinct queue ranges of @family's rules in the inbound chain
 * (@inbound) or in the others, in the order the rules name them, as
 * "0, 1-3, 5".
 */
static void render_queues(FILE *out, const struct rules_plan *p, unsigned fi,
			  bool inbound)
{
	unsigned shown = 0;

	for (unsigned i = 0; i < p->n[fi]; i++) {
		const struct rules_rule *r = &p->rule[fi][i];
		bool seen = false;

		if ((r->chain == RULES_INBOUND) != inbound)
			continue;
		for (unsigned k = 0; k < i && !seen; k++) {
			const struct rules_rule *e = &p->rule[fi][k];

			seen = (e->chain == RULES_INBOUND) == inbound &&
			       e->queue_lo == r->queue_lo &&
			       e->queue_hi == r->queue_hi;
		}
		if (seen)
			continue;
		fputs(shown++ ? ", " : " ", out);
		if (r->queue_lo == r->queue_hi)
			fprintf(out, "%u", r->queue_lo);
		else
			fprintf(out, "%u-%u", r->queue_lo, r->queue_hi);
	}
}

/**
 * rules_plan_render() - see rules.h.  A family without rules gets a
 * comment saying so and no table.
 */
int rules_plan_render(const struct rules_plan *p, int family, FILE *out)
{
	static const char *const hook[RULES__CHAINS] = {
		[RULES_INBOUND] = "prerouting priority -300",
		[RULES_OUTBOUND] = "output priority -150",
		[RULES_REPLIES] = "prerouting priority -150",
	};
	static const char *const name[RULES__CHAINS] = {
		[RULES_INBOUND] = "inbound", [RULES_OUTBOUND] = "outbound",
		[RULES_REPLIES] = "replies",
	};
	const char *fam = family == 4 ? "IPv4" : "IPv6";
	unsigned fi;

	if (family != 4 && family != 6)
		return -EINVAL;
	fi = family == 4 ? 0 : 1;
	if (!p->n[fi]) {
		fprintf(out, "# no service covers %s clients: no table ip%s %s\n",
			fam, family == 4 ? "" : "6", RULES_TABLE);
		return ferror(out) ? -EIO : 0;
	}
	fprintf(out, "# %s: installed through netlink; the queue statements are the\n"
		"# xt NFQUEUE target (nft_compat), so no nft_queue module is needed.\n"
		"# The conntrack match makes conntrack, and with it %s\n"
		"# defragmentation, active: the queue sees whole datagrams.\n",
		fam, fam);
	/* the queue tells nfredactd the direction (doc/design.md §3) */
	fputs("# Client-to-server packets go to the inbound queues, packets\n"
	      "# to clients to the outbound ones.\n# inbound queues:", out);
	render_queues(out, p, fi, true);
	fputs("\n# outbound queues:", out);
	render_queues(out, p, fi, false);
	fputc('\n', out);
	fprintf(out, "table ip%s %s {\n\tflags owner,persist\n",
		family == 4 ? "" : "6", RULES_TABLE);
	for (int c = 0; c < RULES__CHAINS; c++) {
		bool any = false;

		for (unsigned i = 0; i < p->n[fi] && !any; i++)
			any = p->rule[fi][i].chain == c;
		if (!any)
			continue;
		fprintf(out, "\tchain %s {\n\t\ttype filter hook %s; policy accept;\n",
			name[c], hook[c]);
		for (unsigned i = 0; i < p->n[fi]; i++)
			if (p->rule[fi][i].chain == c)
				render_rule(out, &p->rule[fi][i], family);
		fputs("\t}\n", out);
	}
	fputs("}\n", out);
	return ferror(out) ? -EIO : 0;
}

/**
 * rules_render() - see rules.h.
 */
int rules_render(const struct ruleset *rs, const struct rules_opts *o,
		 int family, FILE *out)
{
	struct rules_plan p;
	int rc;

	if (family != 4 && family != 6)
		return -EINVAL;
	rc = rules_plan_build(rs, o, &p);
	if (rc)
		return rc;
	rc = rules_plan_render(&p, family, out);
	rules_plan_free(&p);
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

	f = fopen(family == 4 ? "/proc/self/net/route" : "/proc/self/net/ipv6_route", "re");
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
	      "# interface, or replies to pseudonyms die before the outbound chain.\n", out);
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

/* ---- running ip ---------------------------------------------------------- */

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
		 * ip should start with the defaults */
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


/* ---- IPv6 in use --------------------------------------------------------- */

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	bool *found = data;

	if (nlh->nlmsg_type == RTM_NEWADDR)
		*found = true;
	return MNL_CB_OK;
}

/**
 * rules_ipv6_in_use() - see rules.h.  Any IPv6 address counts, ::1 too:
 * an interface with one can receive IPv6 traffic.
 */
int rules_ipv6_in_use(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	bool found = false;
	uint32_t seq = (uint32_t)time(NULL), portid;
	int rc = 0;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (len < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		rc = mnl_cb_run(buf, (size_t)len, seq, portid, addr_cb, &found);
		if (rc <= MNL_CB_STOP) {
			/* EAFNOSUPPORT: the kernel runs without IPv6 */
			rc = rc < 0 ? (errno == EAFNOSUPPORT ? 0 : -errno) : 0;
			break;
		}
	}
out:
	mnl_socket_close(nl);
	return rc < 0 ? rc : found;
}

/* ---- installing and removing ------------------------------------------------ */

/**
 * rules_install() - see rules.h.
 */
int rules_install(struct nftr *n, const struct rules_plan *p, bool own,
		  bool *v6_skipped)
{
	*v6_skipped = false;
	for (int family = 4; family <= 6; family += 2) {
		unsigned fi = family == 4 ? 0 : 1;
		int rc = p->n[fi] ? nftr_install(n, p, family, own)
				  : nftr_delete(n, family);

		if (rc && family == 6 && rules_ipv6_in_use() == 0) {
			/* a kernel without IPv6 receives none to cover */
			*v6_skipped = true;
			rc = 0;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/**
 * rules_remove() - see rules.h.  Removes our tables in both families,
 * whatever policy installed them, and the routes of @rs's pseudonym
 * ranges.
 */
int rules_remove(const struct ruleset *rs, const struct rules_opts *o)
{
	struct nftr *n = NULL;
	struct route *r;
	unsigned nr = 0;
	int rc, first = 0;

	r = calloc(ROUTES_MAX, sizeof(*r));
	if (!r)
		return -ENOMEM;
	n = nftr_open();
	if (!n) {
		rc = -errno;
		goto out;
	}
	/* the tables first: while they are owned nothing else is touched */
	for (int family = 4; family <= 6; family += 2) {
		rc = nftr_delete(n, family);
		if (rc == -EPERM)
			goto out;
		if (rc < 0 && !(family == 6 && rules_ipv6_in_use() == 0) &&
		    !first)
			first = rc;
	}
	rc = collect_routes(rs, r, &nr);
	if (rc < 0)
		goto out;
	/* keep going after a failure: remove as much of ours as we can */
	for (unsigned i = 0; i < nr; i++) {
		rc = remove_route(&r[i]);
		if (rc < 0 && !first)
			first = rc;
	}
	rc = first;
out:
	nftr_close(n);
	free(r);
	return rc;
}

/**
 * rules_apply_routes() - see rules.h.  Every device is found before the
 * first route is added.
 */
int rules_apply_routes(const struct ruleset *rs, const struct rules_opts *o)
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
	rc = collect_routes(rs, r, &n);
	for (unsigned i = 0; !rc && i < n; i++)
		rc = route_dev(o, r[i].family, devs[i]);
	for (unsigned i = 0; !rc && i < n; i++)
		rc = route_cmd(&r[i], "replace", devs[i], NULL, false);
out:
	free(devs);
	free(r);
	return rc;
}

/*
 * Whether every route @rs needs has a device that exists now: a mistyped
 * --dev must fail before the tables go in, not after, when covered
 * traffic would already wait for a reader.  Return: 0, -ENODEV or -errno.
 */
static int route_devs_exist(const struct ruleset *rs, const struct rules_opts *o)
{
	struct route *r;
	unsigned n = 0;
	int rc;

	r = calloc(ROUTES_MAX, sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = collect_routes(rs, r, &n);
	for (unsigned i = 0; !rc && i < n; i++) {
		char dev[IFNAMSIZ];

		rc = route_dev(o, r[i].family, dev);
		if (!rc && !if_nametoindex(dev))
			rc = -ENODEV;
	}
	free(r);
	return rc;
}

/**
 * rules_apply() - see rules.h.  The tables are persistent and unowned:
 * they stay when this process ends.  A route device that does not exist
 * fails before anything is changed; a later failure leaves in place what
 * was installed (covered traffic then waits for a reader: fail closed).
 */
int rules_apply(const struct ruleset *rs, const struct rules_opts *o)
{
	struct rules_plan p;
	struct nftr *n;
	bool v6_skipped;
	int rc;

	rc = route_devs_exist(rs, o);
	if (rc)
		return rc;
	rc = rules_plan_build(rs, o, &p);
	if (rc)
		return rc;
	n = nftr_open();
	if (!n) {
		rc = -errno;
		goto out;
	}
	rc = rules_install(n, &p, false, &v6_skipped);
	nftr_close(n);
	if (!rc)
		rc = rules_apply_routes(rs, o);
out:
	rules_plan_free(&p);
	return rc;
}
