/*
 * rules.h — the queue rules and routes a policy needs (doc/design.md §3).
 *
 * The rules live in nf_tables tables of nfredact's own, `table ip
 * nfredact` and `table ip6 nfredact`, built through netlink
 * (filter/nftrules.c).  A policy is first turned into a plan: plain data,
 * no key, which a process may keep after it has freed the ruleset.  The
 * plan is rendered as text (`nfredact ruleset`) or installed.
 * Shared by nfredactd (--install-rules) and nfredact (ruleset).
 */
#ifndef NFREDACT_RULES_H
#define NFREDACT_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ruleset;
struct nftr;

#define RULES_TABLE	"nfredact"

struct rules_opts {
	const char *dev;	/* client-facing interface for routes; NULL:
				 * the interface of the default route */
	bool fail_open;		/* queue bypass (never by default) */
	bool forward;		/* a relay forwarding to a backend: replies
				 * are also translated at prerouting, after
				 * conntrack and before routing */
};

/* The chains of one family's table. */
enum rules_chain {
	RULES_INBOUND,		/* hook prerouting, priority -300 (raw) */
	RULES_OUTBOUND,		/* hook output, priority -150 (mangle) */
	RULES_REPLIES,		/* hook prerouting, priority -150 (--forward) */
	RULES__CHAINS
};

/* One queueing rule. */
struct rules_rule {
	uint8_t chain;		/* enum rules_chain */
	uint8_t proto;		/* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 */
	uint16_t port_lo, port_hi;	/* destination port inbound, source
					 * port outbound; 0-0: any port */
	int16_t icmp_type;	/* -1: no type match */
	bool related;		/* conntrack state RELATED */
	bool has_src;		/* source prefix match (inbound) */
	uint8_t src_plen;
	uint8_t src[16];
	uint16_t queue_lo, queue_hi;	/* inbound chain: inbound queues;
					 * others: outbound queues */
	bool bypass;
	char service[48];	/* for the rule's comment, truncated */
};

/* Everything a policy needs, per family ([0] IPv4, [1] IPv6). */
struct rules_plan {
	struct rules_rule *rule[2];
	unsigned n[2];
	bool forward;
};

/**
 * rules_plan_build() - the rules @rs needs, as plain data
 * @p: filled; release with rules_plan_free()
 *
 * Rules of the inbound chain queue to each service's inbound queues
 * (policy_service_queues()), those of the outbound and replies chains to
 * its outbound queues (policy_service_queues_out()), which lie above
 * every inbound queue: nfredactd knows a packet's direction from the
 * queue it comes from.  ICMP errors follow the first service's queues.
 *
 * Return: 0, -ENOMEM, -E2BIG (too many rules) or -ERANGE (no room for
 * the outbound queues: never for a checked policy).  A family no service
 * covers has no rules.
 */
int rules_plan_build(const struct ruleset *rs, const struct rules_opts *o,
		     struct rules_plan *p);

/** rules_plan_free() - free what rules_plan_build() allocated */
void rules_plan_free(struct rules_plan *p);

/**
 * rules_plan_render() - write @family's table (4 or 6) in nft syntax, as
 * `nft list table` would show it.  Return: 0 or -errno.
 */
int rules_plan_render(const struct rules_plan *p, int family, FILE *out);

/**
 * rules_render() - rules_plan_build() and rules_plan_render() in one.
 * Return: 0 or -errno.
 */
int rules_render(const struct ruleset *rs, const struct rules_opts *o,
		 int family, FILE *out);

/**
 * rules_render_routes() - write the `ip route` commands (one a line) the
 * pseudonym ranges need.  Return: 0 or -errno.
 */
int rules_render_routes(const struct ruleset *rs, const struct rules_opts *o,
			FILE *out);

/**
 * rules_apply() - install the tables (persistent: they outlive this
 * process) and the routes, replacing an earlier installation of ours in
 * one transaction per family.  Fails with -EPERM while a running
 * nfredactd owns the tables.
 * Return: 0 or -errno.
 */
int rules_apply(const struct ruleset *rs, const struct rules_opts *o);

/**
 * rules_apply_routes() - only the routes of rules_apply().
 * Return: 0 or -errno.
 */
int rules_apply_routes(const struct ruleset *rs, const struct rules_opts *o);

/**
 * rules_remove() - remove our tables and the routes of @rs's pseudonym
 * ranges.  Nothing installed is not an error; -EPERM while a running
 * nfredactd owns the tables.  Return: 0 or -errno.
 */
int rules_remove(const struct ruleset *rs, const struct rules_opts *o);

/**
 * rules_install() - install @p through @n: each family's table replaced
 * in one transaction (nftr_install()), the table of a family without
 * rules deleted.  An IPv6 failure is tolerated only when the kernel has
 * no IPv6 address at all (*@v6_skipped then says so).
 * @own: the tables belong to @n's socket while it is open
 * Return: 0 or -errno; what was installed before a failure stays.
 */
int rules_install(struct nftr *n, const struct rules_plan *p, bool own,
		  bool *v6_skipped);

/**
 * rules_ipv6_in_use() - whether any interface of this network namespace
 * has an IPv6 address, asked of the kernel (rtnetlink), not of /proc/sys.
 * Return: 1, 0, or -errno when the kernel cannot be asked.
 */
int rules_ipv6_in_use(void);

#endif
