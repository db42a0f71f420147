/*
 * nfredact.c — the nfredact(8) command: dispatch to the subcommands.
 */
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "../filter/privdrop.h"
#include "commands.h"
#include "policy.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{ "check", cmd_check, "check [--show-original] POLICY" },
	{ "dry-run", cmd_dryrun,
	  "dry-run POLICY IN.pcap [-w OUT.pcap] [--json] [--show-original] [--quiet]" },
	{ "ruleset", cmd_ruleset,
	  "ruleset [POLICY] [--dev IFACE] [--forward] [--family 4|6] "
	  "[--apply [--hold] | --remove]" },
	{ "kcheck", cmd_kcheck, "kcheck [--config FILE]" },
	{ "keygen", cmd_keygen,
	  "keygen FILE | keygen --ratchet FILE [--epoch DURATION] [--start TIME]" },
	{ "key", cmd_key,
	  "key status FILE | key export FILE OUT | key advance FILE  [--at TIME]" },
	{ "stats", cmd_stats, "stats [--prometheus] [--control PATH]" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  nfredact %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	{
		/* a key file may belong to the daemon's user, as nfredactd
		 * accepts it: check, dry-run and ruleset read it too */
		const struct passwd *pw = getpwnam(PRIVDROP_USER);

		if (pw)
			key_set_allowed_uid(pw->pw_uid);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "nfredact: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
