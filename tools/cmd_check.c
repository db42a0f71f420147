/*
 * cmd_check.c — `nfredact check POLICY`: load the policy exactly as the
 * daemon would (same loader, same key checks) and report the result.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "policy.h"

/**
 * cmd_check() - check a policy file
 * @argc: 2
 * @argv: "check", the policy path
 *
 * Prints "policy OK" on stdout, or every diagnostic on stderr.  Warnings
 * are printed in both cases and do not fail the check.
 * Return: exit status 0 (OK), 1 (errors), 2 (usage).
 */
int cmd_check(int argc, char **argv)
{
	struct diag_list *diags = NULL;
	struct ruleset *rs;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: nfredact check POLICY\n");
		return 0;
	}
	if (argc != 2 || argv[1][0] == '\0') {
		fprintf(stderr, "usage: nfredact check POLICY\n");
		return 2;
	}
	rs = policy_load(argv[1], NULL, &diags);
	diag_list_print(stderr, diags);
	diag_list_free(diags);
	if (!rs)
		return 1;
	policy_free(rs);
	printf("policy OK\n");
	return 0;
}
