/*
 * cmd_ruleset.c — `nfredact ruleset`: print, install or remove the
 * nf_tables tables (table ip/ip6 nfredact) and routes a policy needs
 * (filter/rules.c does the work, shared with nfredactd --install-rules).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../filter/keeper.h"
#include "../filter/log.h"
#include "../filter/nftrules.h"
#include "../filter/notify.h"
#include "../filter/rules.h"
#include "commands.h"
#include "policy.h"

#define RULESET_USAGE \
	"usage: nfredact ruleset [POLICY] [--dev IFACE] [--forward] " \
	"[--family 4|6] [--apply [--hold] | --remove]\n"

/*
 * The plan of @policy (NULL: the built-in one), and its routes put in
 * place.  The ruleset, key included, is freed before this returns: a
 * process that keeps the rules for long keeps no key.  A route that
 * cannot be added yet (no default route at boot) is only warned about:
 * nfredactd adds the routes again when it starts.
 * Return: 0 or -errno (policy errors were printed).
 */
static int hold_plan(const char *policy, const struct rules_opts *o,
		     struct rules_plan *plan)
{
	struct diag_list *diags = NULL;
	struct ruleset *rs;
	int rc;

	rs = policy ? policy_load(policy, NULL, &diags) : policy_default(NULL);
	diag_list_print(stderr, diags);
	diag_list_free(diags);
	if (!rs)
		return -EINVAL;
	rc = rules_plan_build(rs, o, plan);
	if (!rc) {
		int rrc = rules_apply_routes(rs, o);

		if (rrc) {
			errno = -rrc;
			log_warn("routes for the pseudonym ranges (nfredactd "
				 "adds them when it starts)");
		}
	}
	policy_free(rs);
	return rc;
}

/*
 * --apply --hold: install the tables owned by this process and keep them
 * in place until SIGTERM or SIGINT; the rules stay when it ends.  SIGHUP
 * reads the policy again and replaces the tables in one transaction.
 * Return: exit status.
 */
static int hold_rules(const char *policy, const struct rules_opts *o)
{
	struct keeper k = { .mon = -1, .manage = true };
	sigset_t set;
	int rc, sfd;

	log_init("nfredact ruleset", 0);
	rc = hold_plan(policy, o, &k.plan);
	if (!rc) {
		k.nft = nftr_open();
		if (!k.nft)
			rc = -errno;
	}
	if (!rc)
		rc = rules_install(k.nft, &k.plan, true, &k.v6_skipped);
	if (rc) {
		if (rc != -EINVAL)
			fprintf(stderr, "nfredact ruleset: --apply --hold failed: "
				"%s%s\n", strerror(-rc), rc == -EPERM ?
				" (table nfredact is owned by another process)" : "");
		nftr_close(k.nft);
		rules_plan_free(&k.plan);
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		perror("nfredact ruleset: signalfd");
		return 1;
	}
	log_info("queue rules in place (table ip nfredact%s), owned by this "
		 "process and kept until it is stopped; they stay after it",
		 k.v6_skipped ? "" : " and table ip6 nfredact");
	keeper_start(&k);
	(void)notify_ready();
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = keeper_poll_fd(&k), .events = POLLIN },
		};
		struct signalfd_siginfo si;
		struct rules_plan next;
		int r = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, keeper_timeout_ms(&k));

		if (r < 0 && errno != EINTR)
			break;
		keeper_run(&k, r > 0 && pfd[1].fd >= 0 &&
			       (pfd[1].revents & POLLIN));
		if (r <= 0 || !(pfd[0].revents & POLLIN) ||
		    read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo != SIGHUP)
			break;
		/* a policy with errors leaves the tables as they are */
		if (hold_plan(policy, o, &next)) {
			log_warnx("reload: the policy has errors; the queue "
				  "rules stay as they are");
			continue;
		}
		rc = rules_install(k.nft, &next, true, &k.v6_skipped);
		if (rc) {
			errno = -rc;
			log_warn("reload: installing the new queue rules (the "
				 "old ones are kept)");
			rules_plan_free(&next);
			continue;
		}
		rules_plan_free(&k.plan);
		k.plan = next;
		log_info("reload: queue rules of %s in place",
			 policy ? policy : "the built-in policy");
	}
	(void)notify_stopping();
	log_info("stopping; the queue rules stay installed (restored %llu "
		 "times)", (unsigned long long)k.restored);
	keeper_stop(&k);
	nftr_close(k.nft);
	rules_plan_free(&k.plan);
	close(sfd);
	return 0;
}

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
	bool apply = false, remove = false, hold = false;
	int family = 0, rc, status = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(RULESET_USAGE, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--apply")) {
			apply = true;
		} else if (!strcmp(argv[i], "--hold")) {
			hold = true;
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
	if (hold && !apply)
		goto usage;

	if (hold)
		return hold_rules(policy, &opts);

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
			fprintf(stderr, "nfredact ruleset: %s failed: %s%s%s%s\n",
				apply ? "--apply" : "--remove", strerror(-rc),
				rc == -ENODEV && opts.dev ? ": " : "",
				rc == -ENODEV && opts.dev ? opts.dev : "",
				rc == -ENODEV && !opts.dev ?
				" (no default route: give --dev IFACE)" :
				rc == -EPERM ? " (the tables are owned by a running "
				"nfredactd or ruleset --apply --hold)" : "");
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
