/*
 * nfredact.c — the nfredact(8) command: dispatch to the subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{ "check", cmd_check, "check POLICY" },
	{ "dry-run", cmd_dryrun,
	  "dry-run POLICY IN.pcap [-w OUT.pcap] [--json] [--show-original] [--quiet]" },
	{ "ruleset", cmd_ruleset,
	  "ruleset [POLICY] [--dev IFACE] [--family 4|6] [--apply | --remove]" },
	{ "kcheck", cmd_kcheck, "kcheck" },
	{ "keygen", cmd_keygen, "keygen FILE" },
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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "nfredact: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
