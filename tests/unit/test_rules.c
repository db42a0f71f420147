/*
 * test_rules.c — the queue rules (filter/rules.c, filter/nftrules.c):
 * the plan a policy makes (rules per family and chain, client prefixes,
 * ports and ranges, inbound and outbound queues, bypass, ICMP errors,
 * --forward), the digest of the queue layout, its nft text, the routes,
 * and — as root, in a network namespace of its own — the tables in the
 * kernel: owned, persistent, checked and deleted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../filter/rules.c"
#include "../../filter/nftrules.c"
#include "ruleset.h"

static struct ruleset *load(const char *text)
{
	struct diag_list *dl = NULL;
	struct ruleset *rs = policy_load_string("t.conf", text, NULL, &dl);

	if (!rs)
		diag_list_print(stderr, dl);
	diag_list_free(dl);
	assert_non_null(rs);
	return rs;
}

static void build(const struct ruleset *rs, const struct rules_opts *o,
		  struct rules_plan *p)
{
	assert_int_equal(rules_plan_build(rs, o, p), 0);
}

static char *render(const struct rules_plan *p, int family)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(rules_plan_render(p, family, f), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The body of chain @name in rendered @text, up to its closing brace;
 * the caller frees it.  NULL when the chain is not there. */
static char *chain_text(const char *text, const char *name)
{
	char head[64];
	const char *start, *end;

	snprintf(head, sizeof(head), "\tchain %s {\n", name);
	start = strstr(text, head);
	if (!start)
		return NULL;
	end = strstr(start, "\n\t}\n");
	assert_non_null(end);
	return strndup(start, (size_t)(end - start) + 1);
}

static unsigned fam_index(int family)
{
	return family == 4 ? 0 : 1;
}

/* The rules of @family in @chain. */
static unsigned in_chain(const struct rules_plan *p, int family, int chain)
{
	unsigned n = 0, fi = fam_index(family);

	for (unsigned i = 0; i < p->n[fi]; i++)
		n += p->rule[fi][i].chain == chain;
	return n;
}

static void src_text(const struct rules_rule *r, int family, char *buf,
		     size_t len)
{
	FILE *f = fmemopen(buf, len, "w");

	assert_non_null(f);
	print_prefix(f, family, r->src, r->src_plen);
	fclose(f);
}

/*
 * The port rules of @family in @chain for @proto and ports @lo-@hi with
 * source prefix @src (NULL: none).  Their queue range must be @qlo-@qhi.
 */
static unsigned port_rules(const struct rules_plan *p, int family, int chain,
			   uint8_t proto, uint16_t lo, uint16_t hi,
			   const char *src, uint16_t qlo, uint16_t qhi)
{
	unsigned n = 0, fi = fam_index(family);

	for (unsigned i = 0; i < p->n[fi]; i++) {
		const struct rules_rule *r = &p->rule[fi][i];
		char buf[64];

		if (r->chain != chain || r->proto != proto || r->icmp_type >= 0 ||
		    r->port_lo != lo || r->port_hi != hi || r->has_src != !!src)
			continue;
		if (src) {
			src_text(r, family, buf, sizeof(buf));
			if (strcmp(buf, src))
				continue;
		}
		assert_int_equal(r->queue_lo, qlo);
		assert_int_equal(r->queue_hi, qhi);
		assert_false(r->related);
		n++;
	}
	return n;
}

/* The ICMP rules of @family in @chain for @type; each must be related
 * exactly when @related, carry no prefix and go to queue @q. */
static unsigned icmp_rules(const struct rules_plan *p, int family, int chain,
			   int type, bool related, uint16_t q)
{
	unsigned n = 0, fi = fam_index(family);

	for (unsigned i = 0; i < p->n[fi]; i++) {
		const struct rules_rule *r = &p->rule[fi][i];

		if (r->chain != chain || r->icmp_type != type)
			continue;
		assert_int_equal(r->proto, family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
		assert_int_equal(r->related, related);
		assert_false(r->has_src);
		assert_int_equal(r->queue_lo, q);
		assert_int_equal(r->queue_hi, q);
		assert_string_equal(r->service, "");
		n++;
	}
	return n;
}

static const char policy_text[] =
	"service mqtt {\n"
	"\tlisten tcp 1883, 8883\n"
	"\tqueue 0\n"
	"}\n"
	"service syslog {\n"
	"\tlisten udp 514\n"
	"\tlisten tcp 514\n"
	"\tqueue 1-3\n"
	"\tclients 10.0.0.0/8, 172.16.0.0/12, 2001:db8::/32\n"
	"\taddress ipv4 map 100.64.0.0/10\n"
	"\taddress ipv6 map fd00:1:2:3::/64\n"
	"}\n"
	"service v4only {\n"
	"\tlisten tcp 7000-7010\n"
	"\tqueue 5\n"
	"\tclients 192.0.2.0/24\n"
	"}\n";

static void test_plan_ipv4(void **state)
{
	struct ruleset *rs = load(policy_text);
	struct rules_plan p;

	(void)state;
	build(rs, NULL, &p);
	assert_false(p.forward);
	/* mqtt 2 ports; syslog 2 prefixes x 2 protocols; v4only 1; ICMP 4 */
	assert_int_equal(in_chain(&p, 4, RULES_INBOUND), 2 + 4 + 1 + 4);
	/* outbound rules have no prefix: syslog 2 protocols */
	assert_int_equal(in_chain(&p, 4, RULES_OUTBOUND), 2 + 2 + 1 + 4);
	assert_int_equal(in_chain(&p, 4, RULES_REPLIES), 0);
	assert_int_equal(p.n[0], 11 + 9);

	/* one rule per port: no multiport */
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_TCP, 1883, 1883, NULL, 0, 0), 1);
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_TCP, 8883, 8883, NULL, 0, 0), 1);
	/* the inbound block is 0-5: outbound queues are 6 higher */
	assert_int_equal(port_rules(&p, 4, RULES_OUTBOUND, IPPROTO_TCP, 1883, 1883, NULL, 6, 6), 1);
	/* one inbound rule per IPv4 client prefix and protocol */
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_UDP, 514, 514, "10.0.0.0/8", 1, 3), 1);
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_TCP, 514, 514, "10.0.0.0/8", 1, 3), 1);
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_UDP, 514, 514, "172.16.0.0/12", 1, 3), 1);
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_TCP, 514, 514, "172.16.0.0/12", 1, 3), 1);
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_UDP, 514, 514, NULL, 1, 3), 0);
	assert_int_equal(port_rules(&p, 4, RULES_OUTBOUND, IPPROTO_UDP, 514, 514, NULL, 7, 9), 1);
	assert_int_equal(port_rules(&p, 4, RULES_OUTBOUND, IPPROTO_TCP, 514, 514, NULL, 7, 9), 1);
	/* a range is one rule */
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_TCP, 7000, 7010, "192.0.2.0/24", 5, 5), 1);
	assert_int_equal(port_rules(&p, 4, RULES_OUTBOUND, IPPROTO_TCP, 7000, 7010, NULL, 11, 11), 1);

	for (unsigned i = 0; i < p.n[0]; i++) {
		const struct rules_rule *r = &p.rule[0][i];

		assert_false(r->bypass);
		/* never a client prefix on outbound rules */
		if (r->chain != RULES_INBOUND)
			assert_false(r->has_src);
		if (r->icmp_type < 0)
			assert_true(r->service[0]);
	}
	/* ICMP errors to the first service's queues, related outbound only */
	for (int type = 0; type < 256; type++) {
		unsigned want = type == 3 || type == 4 || type == 11 || type == 12;

		assert_int_equal(icmp_rules(&p, 4, RULES_INBOUND, type, false, 0), want);
		assert_int_equal(icmp_rules(&p, 4, RULES_OUTBOUND, type, true, 6), want);
	}
	rules_plan_free(&p);
	assert_null(p.rule[0]);
	assert_int_equal(p.n[0], 0);
	policy_free(rs);
}

static void test_plan_ipv6(void **state)
{
	struct ruleset *rs = load(policy_text);
	struct rules_plan p;

	(void)state;
	build(rs, NULL, &p);
	/* mqtt 2; syslog 1 prefix x 2 protocols; v4only none (its clients
	 * are all IPv4); ICMPv6 4 */
	assert_int_equal(in_chain(&p, 6, RULES_INBOUND), 2 + 2 + 4);
	assert_int_equal(in_chain(&p, 6, RULES_OUTBOUND), 2 + 2 + 4);
	assert_int_equal(p.n[1], 16);
	assert_int_equal(port_rules(&p, 6, RULES_INBOUND, IPPROTO_TCP, 514, 514, "2001:db8::/32", 1, 3), 1);
	assert_int_equal(port_rules(&p, 6, RULES_INBOUND, IPPROTO_UDP, 514, 514, "2001:db8::/32", 1, 3), 1);
	assert_int_equal(port_rules(&p, 6, RULES_INBOUND, IPPROTO_TCP, 7000, 7010, NULL, 5, 5), 0);
	assert_int_equal(port_rules(&p, 6, RULES_OUTBOUND, IPPROTO_TCP, 7000, 7010, NULL, 11, 11), 0);
	assert_int_equal(port_rules(&p, 6, RULES_OUTBOUND, IPPROTO_TCP, 8883, 8883, NULL, 6, 6), 1);
	for (int type = 0; type < 256; type++) {
		unsigned want = type >= 1 && type <= 4;

		/* never neighbour discovery (133-137) or echo (128, 129) */
		assert_int_equal(icmp_rules(&p, 6, RULES_INBOUND, type, false, 0), want);
		assert_int_equal(icmp_rules(&p, 6, RULES_OUTBOUND, type, true, 6), want);
	}
	rules_plan_free(&p);
	policy_free(rs);
}

/* The ICMP rules follow the first service that covers the family: its
 * inbound queue inbound, its outbound queue outbound (block 7-8: +2). */
static void test_plan_icmp_queue_per_family(void **state)
{
	struct ruleset *rs = load("service a {\n\tlisten tcp 25\n\tqueue 7\n"
				  "\tclients 192.0.2.0/24\n}\n"
				  "service b {\n\tlisten tcp 26\n\tqueue 8\n}\n");
	struct rules_plan p;

	(void)state;
	build(rs, NULL, &p);
	assert_int_equal(icmp_rules(&p, 4, RULES_INBOUND, 3, false, 7), 1);
	assert_int_equal(icmp_rules(&p, 4, RULES_OUTBOUND, 3, true, 9), 1);
	assert_int_equal(icmp_rules(&p, 6, RULES_INBOUND, 1, false, 8), 1);
	assert_int_equal(icmp_rules(&p, 6, RULES_OUTBOUND, 1, true, 10), 1);
	rules_plan_free(&p);
	policy_free(rs);
}

static void test_plan_full_range(void **state)
{
	struct ruleset *def = policy_default(NULL);
	struct ruleset *rs = load("service a {\n\tlisten tcp 1-65535\n"
				  "\tlisten udp 53, 1-65535\n}\n");
	struct rules_plan p;

	(void)state;
	assert_non_null(def);
	build(def, NULL, &p);
	for (int family = 4; family <= 6; family += 2) {
		for (int c = RULES_INBOUND; c <= RULES_OUTBOUND; c++) {
			uint16_t q = c == RULES_INBOUND ? 0 : 1;

			/* every TCP and UDP packet: no port match */
			assert_int_equal(port_rules(&p, family, c, IPPROTO_TCP, 0, 0, NULL, q, q), 1);
			assert_int_equal(port_rules(&p, family, c, IPPROTO_UDP, 0, 0, NULL, q, q), 1);
			assert_int_equal(in_chain(&p, family, c), 2 + 4);
		}
	}
	rules_plan_free(&p);

	/* a range covering every port makes the other ranges moot */
	build(rs, NULL, &p);
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_TCP, 0, 0, NULL, 0, 0), 1);
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_UDP, 0, 0, NULL, 0, 0), 1);
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_UDP, 53, 53, NULL, 0, 0), 0);
	assert_int_equal(in_chain(&p, 4, RULES_INBOUND), 2 + 4);
	rules_plan_free(&p);
	policy_free(rs);
	policy_free(def);
}

static void test_plan_one_rule_per_port_range(void **state)
{
	struct ruleset *rs = load(
		"service many {\n"
		"\tlisten tcp 2000,2002,2004,2006,2008,2010,2012,2014,2016,"
		"2018,2020,2022,2024,2026,2028,2030, 3000-3010\n"
		"\tlisten udp 100-101, 200-201\n"
		"\tclients 10.0.0.0/8, 192.168.0.0/16\n"
		"}\n");
	struct rules_plan p;

	(void)state;
	build(rs, NULL, &p);
	/* 16 ports + 1 range + 2 ranges, per client prefix inbound */
	assert_int_equal(in_chain(&p, 4, RULES_INBOUND), 2 * 19 + 4);
	assert_int_equal(in_chain(&p, 4, RULES_OUTBOUND), 19 + 4);
	for (unsigned port = 2000; port <= 2030; port += 2) {
		assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_TCP, port, port, "192.168.0.0/16", 0, 0), 1);
		assert_int_equal(port_rules(&p, 4, RULES_OUTBOUND, IPPROTO_TCP, port, port, NULL, 1, 1), 1);
	}
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_TCP, 3000, 3010, "10.0.0.0/8", 0, 0), 1);
	assert_int_equal(port_rules(&p, 4, RULES_INBOUND, IPPROTO_UDP, 200, 201, "10.0.0.0/8", 0, 0), 1);
	assert_int_equal(port_rules(&p, 4, RULES_OUTBOUND, IPPROTO_UDP, 100, 101, NULL, 1, 1), 1);
	/* no IPv6 client: no IPv6 rules at all, not even ICMPv6 */
	assert_int_equal(p.n[1], 0);
	assert_null(p.rule[1]);
	rules_plan_free(&p);
	policy_free(rs);
}

/* More rules than a family may have is refused, not truncated. */
static void test_plan_too_many_rules(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct ruleset *rs;
	struct rules_plan p;

	(void)state;
	/* 130 prefixes x 128 ports inbound: 16640 rules */
	fputs("service big {\n\tlisten tcp ", f);
	for (unsigned i = 0; i < 128; i++)
		fprintf(f, "%s%u", i ? ", " : "", 2000 + 2 * i);
	fputs("\n\tclients ", f);
	for (unsigned i = 0; i < 130; i++)
		fprintf(f, "%s10.%u.0.0/16", i ? ", " : "", i);
	fputs("\n}\n", f);
	fclose(f);
	rs = load(text);
	assert_int_equal(rules_plan_build(rs, NULL, &p), -E2BIG);
	assert_null(p.rule[0]);
	assert_int_equal(p.n[0], 0);
	free(text);
	policy_free(rs);
}

static void test_plan_fail_open_is_explicit(void **state)
{
	struct ruleset *rs = load("service a {\n\tlisten tcp 25\n}\n");
	struct rules_opts open_ = { .fail_open = true }, closed = { 0 };
	struct rules_plan p, q;
	char *t, *u;

	(void)state;
	build(rs, &open_, &p);
	build(rs, &closed, &q);
	for (unsigned fi = 0; fi < 2; fi++) {
		assert_int_not_equal(p.n[fi], 0);
		for (unsigned i = 0; i < p.n[fi]; i++)
			assert_true(p.rule[fi][i].bypass);
		for (unsigned i = 0; i < q.n[fi]; i++)
			assert_false(q.rule[fi][i].bypass);
	}
	t = render(&p, 4);
	u = render(&q, 4);
	assert_non_null(strstr(t, "\t\ttcp dport 25 queue flags bypass num 0 comment \"service a\"\n"));
	assert_non_null(strstr(t, "\t\ttcp sport 25 queue flags bypass num 1 comment \"service a\"\n"));
	assert_int_equal(count(t, "queue flags bypass num "), p.n[0]);
	assert_null(strstr(u, "bypass"));
	free(t);
	free(u);
	rules_plan_free(&p);
	rules_plan_free(&q);
	policy_free(rs);
}

static void test_plan_forward_adds_replies(void **state)
{
	struct ruleset *rs = load(policy_text);
	struct rules_opts relay = { .forward = true };
	struct rules_plan p, q;

	(void)state;
	build(rs, &relay, &p);
	build(rs, NULL, &q);
	assert_true(p.forward);
	for (int family = 4; family <= 6; family += 2) {
		unsigned fi = fam_index(family);
		const int icmp = family == 4 ? 3 : 1;

		/* replies are the outbound rules again, at prerouting */
		assert_int_equal(in_chain(&p, family, RULES_REPLIES),
				 in_chain(&q, family, RULES_OUTBOUND));
		assert_int_equal(in_chain(&p, family, RULES_INBOUND),
				 in_chain(&q, family, RULES_INBOUND));
		assert_int_equal(in_chain(&p, family, RULES_OUTBOUND),
				 in_chain(&q, family, RULES_OUTBOUND));
		assert_int_equal(p.n[fi], q.n[fi] + in_chain(&q, family, RULES_OUTBOUND));
		/* to the outbound queues, as the outbound chain's */
		assert_int_equal(port_rules(&p, family, RULES_REPLIES, IPPROTO_UDP, 514, 514, NULL, 7, 9), 1);
		assert_int_equal(icmp_rules(&p, family, RULES_REPLIES, icmp, true, 6), 1);
		for (unsigned i = 0; i < p.n[fi]; i++)
			if (p.rule[fi][i].chain == RULES_REPLIES)
				assert_false(p.rule[fi][i].has_src);
	}
	rules_plan_free(&p);
	rules_plan_free(&q);
	policy_free(rs);
}

/*
 * Whether every rule of @p in the inbound chain queues to a range in
 * @in, every other rule to a range in @out (n ranges each, lo and hi),
 * and no queue is in both sets.
 */
static void assert_split(const struct rules_plan *p, const uint16_t (*in)[2],
			 unsigned n_in, const uint16_t (*out)[2], unsigned n_out)
{
	for (unsigned a = 0; a < n_in; a++)
		for (unsigned b = 0; b < n_out; b++)
			assert_true(in[a][1] < out[b][0] || out[b][1] < in[a][0]);
	for (unsigned fi = 0; fi < 2; fi++) {
		for (unsigned i = 0; i < p->n[fi]; i++) {
			const struct rules_rule *r = &p->rule[fi][i];
			bool inbound = r->chain == RULES_INBOUND, found = false;
			const uint16_t (*set)[2] = inbound ? in : out;
			unsigned n = inbound ? n_in : n_out;

			for (unsigned k = 0; k < n && !found; k++)
				found = r->queue_lo == set[k][0] &&
					r->queue_hi == set[k][1];
			assert_true(found);
		}
	}
}

/*
 * The queue says the direction: the inbound chain queues to the
 * services' own queues, outbound and replies to the outbound ones above
 * them, service by service, with the ICMP errors of each chain.
 */
static void test_plan_queue_split(void **state)
{
	static const uint16_t in[][2] = { { 0, 0 }, { 1, 3 }, { 5, 5 } };
	static const uint16_t out[][2] = { { 6, 6 }, { 7, 9 }, { 11, 11 } };
	static const uint16_t def_in[][2] = { { 0, 0 } };
	static const uint16_t def_out[][2] = { { 1, 1 } };
	struct ruleset *rs = load(policy_text), *def = policy_default(NULL);
	struct rules_opts relay = { .forward = true };
	struct rules_plan p;

	(void)state;
	assert_non_null(def);
	build(rs, NULL, &p);
	assert_split(&p, in, 3, out, 3);
	rules_plan_free(&p);
	build(rs, &relay, &p);
	assert_split(&p, in, 3, out, 3);
	/* the relay's replies chain queues only to outbound queues */
	assert_int_not_equal(in_chain(&p, 4, RULES_REPLIES), 0);
	rules_plan_free(&p);
	build(def, &relay, &p);
	assert_split(&p, def_in, 1, def_out, 1);
	rules_plan_free(&p);

	/* each service's outbound range is its inbound one, 6 higher */
	build(rs, NULL, &p);
	for (unsigned i = 0; i < p.n[0]; i++) {
		const struct rules_rule *r = &p.rule[0][i];

		for (unsigned k = 0; k < p.n[0]; k++) {
			const struct rules_rule *o = &p.rule[0][k];

			if (r->chain != RULES_INBOUND || o->chain == RULES_INBOUND ||
			    strcmp(r->service, o->service))
				continue;
			assert_int_equal(o->queue_lo, r->queue_lo + 6);
			assert_int_equal(o->queue_hi, r->queue_hi + 6);
		}
	}
	rules_plan_free(&p);
	policy_free(def);
	policy_free(rs);
}

/* A policy that did not pass the checker: no room above 65535. */
static void test_plan_no_room(void **state)
{
	struct ruleset *rs = load("service a {\n\tlisten tcp 25\n\tqueue 100\n}\n");
	struct rules_plan p;

	(void)state;
	rs->services[0].queue_lo = 40000;
	rs->services[0].queue_hi = 65535;
	assert_int_equal(rules_plan_build(rs, NULL, &p), -ERANGE);
	assert_null(p.rule[0]);
	assert_int_equal(p.n[0], 0);
	policy_free(rs);
}

/* The digest as the version before the queue layout made it. */
static uint64_t digest_layout1(const struct rules_plan *p, int family)
{
	const unsigned fi = fam_index(family);
	uint64_t h = 0xcbf29ce484222325ull;

	for (unsigned i = 0; i < p->n[fi]; i++) {
		const struct rules_rule *r = &p->rule[fi][i];
		uint8_t b[48];
		size_t n = 0;

		b[n++] = r->chain;
		b[n++] = r->proto;
		memcpy(b + n, &r->port_lo, 2), n += 2;
		memcpy(b + n, &r->port_hi, 2), n += 2;
		memcpy(b + n, &r->icmp_type, 2), n += 2;
		b[n++] = r->related;
		b[n++] = r->has_src;
		b[n++] = r->src_plen;
		memcpy(b + n, r->src, 16), n += 16;
		memcpy(b + n, &r->queue_lo, 2), n += 2;
		memcpy(b + n, &r->queue_hi, 2), n += 2;
		b[n++] = r->bypass;
		for (size_t k = 0; k < n; k++) {
			h ^= b[k];
			h *= 0x100000001b3ull;
		}
	}
	return h;
}

/*
 * Tables of the earlier queue layout are told apart: their digest is
 * none this version makes, neither for their rules (every chain to the
 * service's queue) nor for the very rules of this layout.
 */
static void test_plan_digest_layout(void **state)
{
	struct ruleset *rs = load(policy_text), *def = policy_default(NULL);
	struct rules_plan p, old;

	(void)state;
	assert_non_null(def);
	for (int k = 0; k < 2; k++) {
		build(k ? def : rs, NULL, &p);
		build(k ? def : rs, NULL, &old);
		/* what the earlier version installed: one queue per service */
		for (unsigned fi = 0; fi < 2; fi++)
			for (unsigned i = 0; i < old.n[fi]; i++) {
				struct rules_rule *r = &old.rule[fi][i];

				if (r->chain != RULES_INBOUND) {
					r->queue_lo -= k ? 1 : 6;
					r->queue_hi -= k ? 1 : 6;
				}
			}
		for (int family = 4; family <= 6; family += 2) {
			uint64_t now = plan_digest(&p, family);

			assert_true(now != digest_layout1(&old, family));
			assert_true(now != digest_layout1(&p, family));
			assert_true(now != plan_digest(&old, family));
		}
		rules_plan_free(&p);
		rules_plan_free(&old);
	}
	policy_free(def);
	policy_free(rs);
}

/* ---- the nft text ---------------------------------------------------------- */

static void test_render_ipv4(void **state)
{
	struct ruleset *rs = load(policy_text);
	struct rules_plan p;
	char *t, *in, *out;

	(void)state;
	build(rs, NULL, &p);
	t = render(&p, 4);
	assert_non_null(strstr(t, "\ntable ip nfredact {\n\tflags owner,persist\n"));
	assert_null(strstr(t, "table ip6"));
	assert_non_null(strstr(t, "xt NFQUEUE target"));
	assert_non_null(strstr(t, "defragmentation"));
	assert_null(strstr(t, "chain replies"));
	assert_int_equal(count(t, "\tchain "), 2);
	assert_non_null(strstr(t, "\n}\n"));

	in = chain_text(t, "inbound");
	out = chain_text(t, "outbound");
	assert_non_null(in);
	assert_non_null(out);
	assert_non_null(strstr(in, "\t\ttype filter hook prerouting priority -300; policy accept;\n"));
	assert_non_null(strstr(out, "\t\ttype filter hook output priority -150; policy accept;\n"));
	assert_non_null(strstr(in, "\t\ttcp dport 1883 queue num 0 comment \"service mqtt\"\n"));
	assert_non_null(strstr(in, "\t\tip saddr 10.0.0.0/8 udp dport 514 queue num 1-3 comment \"service syslog\"\n"));
	assert_non_null(strstr(in, "\t\tip saddr 172.16.0.0/12 tcp dport 514 queue num 1-3 comment \"service syslog\"\n"));
	assert_non_null(strstr(in, "\t\tip saddr 192.0.2.0/24 tcp dport 7000-7010 queue num 5 comment \"service v4only\"\n"));
	assert_non_null(strstr(out, "\t\ttcp sport 1883 queue num 6 comment \"service mqtt\"\n"));
	assert_non_null(strstr(out, "\t\tudp sport 514 queue num 7-9 comment \"service syslog\"\n"));
	assert_non_null(strstr(out, "\t\ttcp sport 7000-7010 queue num 11 comment \"service v4only\"\n"));
	/* the queue layout, in the order the rules name the queues */
	assert_non_null(strstr(t, "\n# inbound queues: 0, 1-3, 5\n# outbound queues: 6, 7-9, 11\n"
			       "table ip nfredact {\n"));
	assert_null(strstr(out, "saddr"));
	assert_null(strstr(out, "dport"));
	assert_null(strstr(in, "sport"));
	assert_null(strstr(t, "2001:db8"));
	for (int type = 0; type < 256; type++) {
		char line_in[64], line_out[80];
		bool want = type == 3 || type == 4 || type == 11 || type == 12;

		snprintf(line_in, sizeof(line_in), "\t\ticmp type %d queue num 0\n", type);
		snprintf(line_out, sizeof(line_out),
			 "\t\tct state related icmp type %d queue num 6\n", type);
		assert_int_equal(strstr(in, line_in) != NULL, want);
		assert_int_equal(strstr(out, line_out) != NULL, want);
	}
	/* one line per rule */
	assert_int_equal(count(in, " queue num "), in_chain(&p, 4, RULES_INBOUND));
	assert_int_equal(count(out, " queue num "), in_chain(&p, 4, RULES_OUTBOUND));
	assert_null(strstr(t, "bypass"));
	free(in);
	free(out);
	free(t);
	rules_plan_free(&p);
	policy_free(rs);
}

static void test_render_ipv6(void **state)
{
	struct ruleset *rs = load(policy_text);
	struct rules_plan p;
	char *t, *in, *out;

	(void)state;
	build(rs, NULL, &p);
	t = render(&p, 6);
	assert_non_null(strstr(t, "\ntable ip6 nfredact {\n"));
	in = chain_text(t, "inbound");
	out = chain_text(t, "outbound");
	assert_non_null(in);
	assert_non_null(out);
	assert_non_null(strstr(in, "\t\tip6 saddr 2001:db8::/32 tcp dport 514 queue num 1-3 comment \"service syslog\"\n"));
	assert_non_null(strstr(out, "\t\ttcp sport 514 queue num 7-9 comment \"service syslog\"\n"));
	/* v4only has no IPv6 rules, but the layout is the policy's */
	assert_non_null(strstr(t, "\n# inbound queues: 0, 1-3\n# outbound queues: 6, 7-9\n"));
	assert_null(strstr(t, "10.0.0.0"));
	assert_null(strstr(t, "7000"));
	assert_null(strstr(t, "icmp type"));
	for (int type = 0; type < 256; type++) {
		char line_in[64], line_out[80];
		bool want = type >= 1 && type <= 4;

		snprintf(line_in, sizeof(line_in), "\t\ticmpv6 type %d queue num 0\n", type);
		snprintf(line_out, sizeof(line_out),
			 "\t\tct state related icmpv6 type %d queue num 6\n", type);
		assert_int_equal(strstr(in, line_in) != NULL, want);
		assert_int_equal(strstr(out, line_out) != NULL, want);
	}
	free(in);
	free(out);
	free(t);
	rules_plan_free(&p);
	policy_free(rs);
}

static void test_render_default_policy(void **state)
{
	struct ruleset *rs = policy_default(NULL);
	struct rules_plan p;
	char *t4, *t6;

	(void)state;
	assert_non_null(rs);
	build(rs, NULL, &p);
	t4 = render(&p, 4);
	t6 = render(&p, 6);
	assert_non_null(strstr(t4, "\t\tmeta l4proto tcp queue num 0 comment \""));
	assert_non_null(strstr(t4, "\t\tmeta l4proto udp queue num 0 comment \""));
	assert_non_null(strstr(t6, "\t\tmeta l4proto tcp queue num 0 comment \""));
	/* queue 0 in, queue 1 out */
	assert_non_null(strstr(t4, "\t\tmeta l4proto tcp queue num 1 comment \""));
	assert_non_null(strstr(t6, "\t\tmeta l4proto udp queue num 1 comment \""));
	assert_non_null(strstr(t4, "\n# inbound queues: 0\n# outbound queues: 1\n"));
	assert_null(strstr(t4, "dport"));
	assert_null(strstr(t4, "sport"));
	assert_null(strstr(t6, "dport"));
	assert_null(strstr(t4, "saddr"));
	assert_int_equal(count(t4, "meta l4proto "), 4);
	assert_non_null(strstr(t6, "\t\ticmpv6 type 2 queue num 0\n"));
	assert_non_null(strstr(t6, "ct state related icmpv6 type 2 queue num 1\n"));
	free(t4);
	free(t6);
	rules_plan_free(&p);
	policy_free(rs);
}

static void test_render_family_without_service(void **state)
{
	struct ruleset *rs = load("service a {\n\tlisten tcp 25\n"
				  "\tclients 2001:db8::/32\n}\n");
	struct rules_plan p;
	char *t4, *t6;

	(void)state;
	build(rs, NULL, &p);
	assert_int_equal(p.n[0], 0);
	assert_int_not_equal(p.n[1], 0);
	t4 = render(&p, 4);
	t6 = render(&p, 6);
	assert_non_null(strstr(t4, "no service covers IPv4 clients"));
	assert_null(strstr(t4, "table ip nfredact {"));
	assert_null(strstr(t4, "chain"));
	assert_non_null(strstr(t6, "table ip6 nfredact {"));
	assert_int_equal(count(t6, "\tchain "), 2);
	assert_int_equal(rules_plan_render(&p, 5, stdout), -EINVAL);
	free(t4);
	free(t6);
	rules_plan_free(&p);
	policy_free(rs);
}

static void test_render_forward(void **state)
{
	struct ruleset *rs = load("service a {\n\tlisten tcp 25\n}\n");
	struct rules_opts relay = { .forward = true };
	struct rules_plan p;
	char *t, *replies, *out;

	(void)state;
	build(rs, &relay, &p);
	t = render(&p, 4);
	replies = chain_text(t, "replies");
	out = chain_text(t, "outbound");
	assert_non_null(replies);
	assert_non_null(out);
	assert_non_null(strstr(replies, "\t\ttype filter hook prerouting priority -150; policy accept;\n"));
	/* the same rules as outbound, after the hook line */
	assert_string_equal(strchr(strchr(replies, '\n') + 1, '\n'),
			    strchr(strchr(out, '\n') + 1, '\n'));
	assert_non_null(strstr(replies, "\t\ttcp sport 25 queue num 1 comment \"service a\"\n"));
	/* inbound, outbound, replies, in that order */
	assert_true(strstr(t, "chain inbound") < strstr(t, "chain outbound"));
	assert_true(strstr(t, "chain outbound") < strstr(t, "chain replies"));
	free(replies);
	free(out);
	free(t);
	rules_plan_free(&p);
	policy_free(rs);
}

/* rules_render() is the plan and the render in one. */
static void test_render_one_step(void **state)
{
	struct ruleset *rs = load(policy_text);
	struct rules_plan p;
	char *a = NULL, *b;
	size_t len = 0;
	FILE *f = open_memstream(&a, &len);

	(void)state;
	assert_int_equal(rules_render(rs, NULL, 6, f), 0);
	assert_int_equal(rules_render(rs, NULL, 5, f), -EINVAL);
	fclose(f);
	build(rs, NULL, &p);
	b = render(&p, 6);
	assert_string_equal(a, b);
	free(a);
	free(b);
	rules_plan_free(&p);
	policy_free(rs);
}

/* ---- routes ------------------------------------------------------------------ */

static void test_routes(void **state)
{
	struct ruleset *rs = load(policy_text);
	struct rules_opts o = { .dev = "eth7" };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	f = open_memstream(&text, &len);
	assert_int_equal(rules_render_routes(rs, &o, f), 0);
	fclose(f);
	assert_int_equal(count(text, "ip route replace 100.64.0.0/10 dev eth7\n"), 1);
	assert_int_equal(count(text, "ip -6 route replace fd00:1:2:3::/64 dev eth7\n"), 1);
	assert_int_equal(count(text, "\nip "), 2);
	assert_non_null(strstr(text, "# service mqtt: IPv4 truncate 24:"));
	/* v4only has no IPv6 rules, so nothing to say about IPv6 routes */
	assert_null(strstr(text, "# service v4only: IPv6"));
	free(text);

	o.dev = "bad dev";
	text = NULL;
	f = open_memstream(&text, &len);
	assert_int_equal(rules_render_routes(rs, &o, f), -EINVAL);
	fclose(f);
	assert_null(strstr(text, "bad dev"));
	free(text);
	policy_free(rs);
}

/* A route device that does not exist fails --apply before any change. */
static void test_route_devs_exist(void **state)
{
	struct ruleset *rs = load(policy_text);
	struct ruleset *nomap = load("service a {\n\tlisten tcp 25\n}\n");
	struct rules_opts o = { .dev = "nfrnosuch0" };

	(void)state;
	assert_int_equal(route_devs_exist(rs, &o), -ENODEV);
	/* no route needed: no device needed */
	assert_int_equal(route_devs_exist(nomap, &o), 0);
	o.dev = "lo";
	assert_int_equal(route_devs_exist(rs, &o), 0);
	o.dev = "bad dev";
	assert_int_equal(route_devs_exist(rs, &o), -EINVAL);
	policy_free(nomap);
	policy_free(rs);
}

static void test_prefix_masked(void **state)
{
	uint8_t a[16] = { 10, 1, 2, 3 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	print_prefix(f, 4, a, 12);
	fputc(' ', f);
	a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8; a[4] = 0xff;
	print_prefix(f, 6, a, 36);
	fclose(f);
	assert_string_equal(text, "10.0.0.0/12 2001:db8:f000::/36");
	free(text);
}

/* ---- the tables in the kernel (root, a network namespace of our own) ------ */

/* In the child: say what failed and exit with the line as the status. */
#define NS_CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: %s\n", __FILE__,	\
				__LINE__, #cond);			\
			fflush(stderr);					\
			_exit(1);					\
		}							\
	} while (0)

#define NS_SKIP	77

/* load() for the child, where a cmocka failure must not run the rest
 * of the suite a second time */
static struct ruleset *ns_load(const char *text)
{
	struct diag_list *dl = NULL;
	struct ruleset *rs = policy_load_string("t.conf", text, NULL, &dl);

	if (!rs)
		diag_list_print(stderr, dl);
	diag_list_free(dl);
	NS_CHECK(rs);
	return rs;
}

static int nft_quiet(const char *args)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "nft %s >/dev/null 2>&1", args);
	return system(cmd);
}

/* Whether `nft list tables` shows table @table ("ip nfredact"). */
static bool nft_lists(const char *table)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd),
		 "nft list tables 2>/dev/null | grep -qx 'table %s'", table);
	return system(cmd) == 0;
}

/*
 * Flag @family's table dormant, keeping it persistent (nft 1.0.6 knows
 * no persist flag, and the kernel refuses to drop it).  Return: 0 or
 * -errno.
 */
static int make_dormant(struct nftr *n, int family)
{
	struct batch bt;
	int rc;

	rc = batch_init(&bt, 16384);
	if (rc)
		return rc;
	nftnl_batch_begin(batch_cur(&bt), n->seq++);
	batch_next(&bt);
	rc = add_table(n, &bt, family, NFT_MSG_NEWTABLE, true,
		       NFT_TABLE_F_PERSIST | NFT_TABLE_F_DORMANT, NULL);
	if (!rc) {
		nftnl_batch_end(batch_cur(&bt), n->seq++);
		batch_next(&bt);
		rc = batch_talk(n, &bt);
	}
	batch_fini(&bt);
	return rc;
}

static void ns_tables(void)
{
	struct ruleset *rs = ns_load(policy_text);
	struct ruleset *small = ns_load("service a {\n\tlisten tcp 25\n}\n");
	struct rules_plan p, q;
	struct nftr *owner, *other;
	const char *why;

	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		_exit(NS_SKIP);
	}
	if (nft_quiet("--version") != 0) {
		fprintf(stderr, "no nft program\n");
		_exit(NS_SKIP);
	}
	NS_CHECK(rules_plan_build(rs, NULL, &p) == 0);
	NS_CHECK(rules_plan_build(small, NULL, &q) == 0);

	/* a route device that does not exist: nothing is installed */
	NS_CHECK(rules_apply(rs, &(struct rules_opts){ .dev = "nfrnosuch0" }) == -ENODEV);
	NS_CHECK(nft_quiet("list table ip nfredact") != 0);
	NS_CHECK(nft_quiet("list table ip6 nfredact") != 0);

	/* installed and owned, in both families */
	owner = nftr_open();
	other = nftr_open();
	NS_CHECK(owner && other);
	NS_CHECK(nftr_check(owner, &p, 4, true, &why) == 0);
	NS_CHECK(why && !strcmp(why, "the table is gone"));
	NS_CHECK(nftr_install(owner, &p, 4, true) == 0);
	NS_CHECK(nftr_install(owner, &p, 6, true) == 0);
	if (!nftr_persist_supported(owner)) {
		fprintf(stderr, "kernel without persistent tables (6.9+)\n");
		_exit(NS_SKIP);
	}
	NS_CHECK(nftr_check(owner, &p, 4, true, &why) == 1);
	NS_CHECK(nftr_check(owner, &p, 6, true, &why) == 1);
	NS_CHECK(nft_lists("ip nfredact") && nft_lists("ip6 nfredact"));
	/* reinstalling through the owner replaces, and the check counts */
	NS_CHECK(nftr_install(owner, &p, 4, true) == 0);
	NS_CHECK(nftr_check(owner, &p, 4, true, &why) == 1);
	NS_CHECK(nftr_check(owner, &q, 4, true, &why) == 0);
	NS_CHECK(why && !strcmp(why, "it holds the rules of another policy or queue layout"));
	/* as many rules, one port another: still another policy's */
	{
		struct rules_plan moved = p;
		struct rules_rule *copy = calloc(p.n[0], sizeof(*copy));

		NS_CHECK(copy != NULL);
		memcpy(copy, p.rule[0], p.n[0] * sizeof(*copy));
		copy[0].port_lo++;
		copy[0].port_hi++;
		moved.rule[0] = copy;
		NS_CHECK(nftr_check(owner, &moved, 4, true, &why) == 0);
		NS_CHECK(why && !strcmp(why, "it holds the rules of another policy or queue layout"));
		free(copy);
	}

	/* the same rules with every chain on the service's queue, as the
	 * earlier queue layout had them: not this version's tables */
	{
		struct rules_plan old = p;
		struct rules_rule *copy = calloc(p.n[0], sizeof(*copy));

		NS_CHECK(copy != NULL);
		memcpy(copy, p.rule[0], p.n[0] * sizeof(*copy));
		for (unsigned i = 0; i < p.n[0]; i++)
			if (copy[i].chain != RULES_INBOUND) {
				copy[i].queue_lo -= 6;
				copy[i].queue_hi -= 6;
			}
		old.rule[0] = copy;
		NS_CHECK(nftr_install(owner, &old, 4, true) == 0);
		NS_CHECK(nftr_check(owner, &p, 4, true, &why) == 0);
		NS_CHECK(why && !strcmp(why, "it holds the rules of another policy or queue layout"));
		NS_CHECK(nftr_install(owner, &p, 4, true) == 0);
		NS_CHECK(nftr_check(owner, &p, 4, true, &why) == 1);
		free(copy);
	}

	/* nobody else may change or delete them while the owner is open */
	NS_CHECK(nftr_delete(other, 4) == -EPERM);
	NS_CHECK(nftr_delete(other, 6) == -EPERM);
	NS_CHECK(nftr_install(other, &q, 4, false) == -EPERM);
	NS_CHECK(nftr_install(other, &q, 4, true) == -EPERM);
	NS_CHECK(nftr_check(other, &p, 4, false, &why) == 1);
	NS_CHECK(nftr_check(other, &p, 4, true, &why) == 0);
	NS_CHECK(why && !strcmp(why, "the table is no longer ours"));
	NS_CHECK(rules_remove(small, NULL) == -EPERM);
	NS_CHECK(rules_apply(small, NULL) == -EPERM);
	NS_CHECK(nft_quiet("delete table ip nfredact") != 0);
	NS_CHECK(nft_quiet("flush chain ip nfredact inbound") != 0);
	/* a flush of the whole ruleset passes them by */
	NS_CHECK(nft_quiet("add table ip other") == 0);
	NS_CHECK(nft_quiet("flush ruleset") == 0);
	NS_CHECK(!nft_lists("ip other"));
	NS_CHECK(nftr_check(owner, &p, 4, true, &why) == 1);
	NS_CHECK(nftr_check(owner, &p, 6, true, &why) == 1);

	/* the owner goes: the tables stay, unowned */
	nftr_close(owner);
	NS_CHECK(nftr_check(other, &p, 4, false, &why) == 1);
	NS_CHECK(nftr_check(other, &p, 6, false, &why) == 1);
	NS_CHECK(nftr_check(other, &p, 4, true, &why) == 0);

	/* an unowned table is anyone's: a flushed chain is seen */
	NS_CHECK(nft_quiet("flush chain ip nfredact inbound") == 0);
	NS_CHECK(nftr_check(other, &p, 4, false, &why) == 0);
	NS_CHECK(why && !strcmp(why, "its rules were changed"));
	NS_CHECK(nftr_check(other, &p, 6, false, &why) == 1);
	/* so is a rule added in a chain of someone else's */
	NS_CHECK(nftr_install(other, &p, 4, false) == 0);
	NS_CHECK(nftr_check(other, &p, 4, false, &why) == 1);
	NS_CHECK(nft_quiet("add chain ip nfredact extra") == 0);
	NS_CHECK(nft_quiet("add rule ip nfredact extra counter") == 0);
	NS_CHECK(nftr_check(other, &p, 4, false, &why) == 0);
	NS_CHECK(why && !strcmp(why, "its rules were changed"));
	/* and a dormant table */
	NS_CHECK(nftr_install(other, &p, 4, false) == 0);
	NS_CHECK(make_dormant(other, 4) == 0);
	NS_CHECK(nftr_check(other, &p, 4, false, &why) == 0);
	NS_CHECK(why && !strcmp(why, "the table was made dormant"));

	/* another policy replaces the table whole */
	NS_CHECK(nftr_install(other, &q, 4, false) == 0);
	NS_CHECK(nftr_check(other, &q, 4, false, &why) == 1);
	NS_CHECK(nftr_check(other, &p, 4, false, &why) == 0);

	/* deleted by another handle; deleting nothing is fine */
	NS_CHECK(nftr_delete(other, 4) == 0);
	NS_CHECK(nftr_delete(other, 6) == 0);
	NS_CHECK(nftr_check(other, &q, 4, false, &why) == 0);
	NS_CHECK(why && !strcmp(why, "the table is gone"));
	NS_CHECK(!nft_lists("ip nfredact") && !nft_lists("ip6 nfredact"));
	NS_CHECK(nftr_delete(other, 4) == 0);
	NS_CHECK(nftr_delete(other, 5) == -EINVAL);
	NS_CHECK(nftr_install(other, &q, 5, false) == -EINVAL);
	nftr_close(other);
	rules_plan_free(&p);
	rules_plan_free(&q);
	policy_free(small);
	policy_free(rs);
	_exit(0);
}

/* A plan of thousands of rules goes in as one transaction. */
static void ns_big_plan(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct ruleset *rs;
	struct rules_plan p;
	struct nftr *n;
	const char *why;

	if (unshare(CLONE_NEWNET) < 0)
		_exit(NS_SKIP);
	/* IPv6 prefixes with a partial byte, port ranges, a long name:
	 * the largest rules there are, 2 x 32 x 60 of them inbound */
	fputs("service a_service_name_as_long_as_a_comment_may_hold {\n"
	      "\tqueue 0-7\n\tlisten tcp ", f);
	for (unsigned i = 0; i < 60; i++)
		fprintf(f, "%s%u-%u", i ? ", " : "", 1000 + 2 * i, 1001 + 2 * i);
	fputs("\n\tlisten udp ", f);
	for (unsigned i = 0; i < 60; i++)
		fprintf(f, "%s%u-%u", i ? ", " : "", 1000 + 2 * i, 1001 + 2 * i);
	fputs("\n\tclients ", f);
	for (unsigned i = 0; i < 32; i++)
		fprintf(f, "%s2001:db%c:%x::/36", i ? ", " : "",
			i < 16 ? '8' : '9', (i % 16) * 0x1000);
	fputs("\n}\n", f);
	fclose(f);
	rs = ns_load(text);
	NS_CHECK(rules_plan_build(rs, NULL, &p) == 0);
	NS_CHECK(p.n[1] > 3000);
	n = nftr_open();
	NS_CHECK(n);
	NS_CHECK(nftr_install(n, &p, 6, false) == 0);
	NS_CHECK(nftr_check(n, &p, 6, false, &why) == 1);
	NS_CHECK(nftr_delete(n, 6) == 0);
	nftr_close(n);
	rules_plan_free(&p);
	policy_free(rs);
	free(text);
	_exit(0);
}

static void in_namespace(void (*fn)(void))
{
	int status;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		fn();
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == NS_SKIP)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_tables_owned_persistent(void **state)
{
	(void)state;
	in_namespace(ns_tables);
}

static void test_tables_big_plan(void **state)
{
	(void)state;
	in_namespace(ns_big_plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_ipv4),
		cmocka_unit_test(test_plan_ipv6),
		cmocka_unit_test(test_plan_icmp_queue_per_family),
		cmocka_unit_test(test_plan_full_range),
		cmocka_unit_test(test_plan_one_rule_per_port_range),
		cmocka_unit_test(test_plan_too_many_rules),
		cmocka_unit_test(test_plan_fail_open_is_explicit),
		cmocka_unit_test(test_plan_forward_adds_replies),
		cmocka_unit_test(test_plan_queue_split),
		cmocka_unit_test(test_plan_no_room),
		cmocka_unit_test(test_plan_digest_layout),
		cmocka_unit_test(test_render_ipv4),
		cmocka_unit_test(test_render_ipv6),
		cmocka_unit_test(test_render_default_policy),
		cmocka_unit_test(test_render_family_without_service),
		cmocka_unit_test(test_render_forward),
		cmocka_unit_test(test_render_one_step),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_route_devs_exist),
		cmocka_unit_test(test_prefix_masked),
		cmocka_unit_test(test_tables_owned_persistent),
		cmocka_unit_test(test_tables_big_plan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
