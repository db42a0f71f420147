/*
 * rules.h — the packet-filter rules and routes a policy needs (DESIGN.md
 * §3): iptables-restore input for IPv4 and IPv6, `ip route` commands for
 * the pseudonym ranges, and installing / removing exactly those.
 * Shared by nfredactd (--install-rules) and nfredact (ruleset).
 */
#ifndef NFREDACT_RULES_H
#define NFREDACT_RULES_H

#include <stdbool.h>
#include <stdio.h>

struct ruleset;

struct rules_opts {
	const char *dev;	/* client-facing interface for routes; NULL:
				 * the interface of the default route */
	bool fail_open;		/* --queue-bypass (policy option; warned) */
	bool forward;		/* a relay forwarding to a backend: replies
				 * are also translated at mangle PREROUTING,
				 * before routing */
};

/**
 * rules_render() - write iptables-restore input for @family (4 or 6)
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
 * rules_apply() - install the rules and routes (iptables-restore --noflush,
 * ip route replace), replacing an earlier installation of ours.
 * Return: 0 or -errno; on failure nothing of ours stays installed.
 */
int rules_apply(const struct ruleset *rs, const struct rules_opts *o);

/**
 * rules_remove() - remove exactly what rules_apply() installed for @rs
 * (our chains and the jumps to them, our routes).  Return: 0 or -errno.
 */
int rules_remove(const struct ruleset *rs, const struct rules_opts *o);

#endif
