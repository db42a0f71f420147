/*
 * cmd_ruleset.c — `nfredact ruleset`: print, install or remove the
 * nf_tables tables (table ip/ip6 nfredact) and routes a policy needs
 * (filter/rules.c does the work, shared with nfredactd --install-rules).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../filter/rules.h"
#include "commands.h"
#include "policy.h"

#define RULESET_USAGE \
	"usage: nfredact ruleset [POLICY] [--dev IFACE] [--forward] " \
	"[--family 4|6] [--apply | --remove]\n"

/**
 * cmd_ruleset() - the ruleset subcommand
 * @argc: argument count, argv[0] is "ruleset"
 * @argv: arguments
 *
 * Without POLICY the built-in default policy is used, as nfredactd does
 * without -c.  Prints the IPv4 and IPv6 tables in nft syntax and the
 * `ip route` commands; --family prints one family's table only.
 * --apply installs the tables (persistent, replacing an earlier
 * installation in one transaction) and the routes; --remove deletes the
 * tables and the routes.  Both fail while a running nfredactd owns the
 * tables.
 *
 * Return: exit status: 0 done, 1 failure (bad policy, a command failed,
 * no device for a needed route), 2 usage.
 */
int cmd_ruleset(int argc, char **argv)
{
	struct rules_opts opts = { 0 };
	struct diag_list *diags = NULL;
	const char *policy = NULL;
	struct ruleset *rs;
	bool apply = false, remove = false;
	int family = 0, rc, status = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(RULESET_USAGE, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--apply")) {
			apply = true;
		} else if (!strcmp(argv[i], "--remove")) {
			remove = true;
		} else if (!strcmp(argv[i], "--forward")) {
			opts.forward = true;
		} else if (!strcmp(argv[i], "--dev") && i + 1 < argc) {
			opts.dev = argv[++i];
		} else if (!strcmp(argv[i], "--family") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "4"))
				family = 4;
			else if (!strcmp(argv[i], "6"))
				family = 6;
			else
				goto usage;
		} else if (argv[i][0] == '-' || policy || !argv[i][0]) {
			goto usage;
		} else {
			policy = argv[i];
		}
	}
	if (apply && remove)
		goto usage;
	if (family && (apply || remove))
		goto usage;

	rs = policy ? policy_load(policy, NULL, &diags) : policy_default(NULL);
	diag_list_print(stderr, diags);
	diag_list_free(diags);
	if (!rs) {
		if (!policy)
			fprintf(stderr, "nfredact ruleset: out of memory\n");
		return 1;
	}

	if (apply || remove) {
		rc = apply ? rules_apply(rs, &opts) : rules_remove(rs, &opts);
		if (rc < 0) {
			fprintf(stderr, "nfredact ruleset: %s failed: %s%s\n",
				apply ? "--apply" : "--remove", strerror(-rc),
				rc == -ENODEV ? (opts.dev ? " (no such interface)" :
				" (no default route: give --dev IFACE)") :
				rc == -EPERM ? " (a running nfredactd owns the tables)" : "");
			status = 1;
		} else {
			printf("nfredact ruleset: rules %s\n",
			       apply ? "installed" : "removed");
		}
		goto out;
	}

	if (family) {
		rc = rules_render(rs, &opts, family, stdout);
	} else {
		rc = rules_render(rs, &opts, 4, stdout);
		if (!rc) {
			putchar('\n');
			rc = rules_render(rs, &opts, 6, stdout);
		}
		if (!rc) {
			putchar('\n');
			rc = rules_render_routes(rs, &opts, stdout);
		}
	}
	if (fflush(stdout) && !rc)
		rc = -EIO;
	if (rc < 0) {
		fprintf(stderr, "nfredact ruleset: %s%s\n", strerror(-rc),
			rc == -ENODEV ? ": a route needs a device; give --dev IFACE" : "");
		status = 1;
	}
out:
	policy_free(rs);
	return status;
usage:
	fputs(RULESET_USAGE, stderr);
	return 2;
}
