/*
 * cmd_check.c — `nfredact check POLICY`: load the policy exactly as the
 * daemon would (same loader, same key checks) and report the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "policy.h"

/**
 * cmd_check() - check a policy file
 * @argc: 2 or 3
 * @argv: "check", the policy path, optionally --show-original (before or
 *        after it)
 *
 * Prints "policy OK" on stdout, or every diagnostic on stderr.  Warnings
 * are printed in both cases and do not fail the check.  The source lines
 * and messages have string literals, client prefixes and the arguments
 * of literal, pattern and header rules masked unless --show-original.
 * Return: exit status 0 (OK), 1 (errors), 2 (usage).
 */
int cmd_check(int argc, char **argv)
{
	static const char usage[] = "usage: nfredact check [--show-original] POLICY\n";
	struct diag_list *diags = NULL;
	const char *path = NULL;
	unsigned flags = 0;
	struct ruleset *rs;
	char *key_path = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--show-original"))
			flags |= DIAG_PRINT_ORIGINAL;
		else if (!path && argv[i][0] != '\0' &&
			 (argv[i][0] != '-' || !argv[i][1]))
			path = argv[i];
		else
			path = "";
	}
	if (!path || !*path) {
		fputs(usage, stderr);
		return 2;
	}
	rs = policy_load(path, NULL, &diags);
	diag_list_fprint(stderr, diags, flags);
	diag_list_free(diags);
	if (!rs)
		return 1;
	printf("policy OK\n");
	/* a note, not a failure: the operator may want stable pseudonyms */
	if (!policy_key_ratchet(rs) && policy_key_path(argv[1], &key_path) == 0 &&
	    key_path)
		printf("note: key %s is a static master key: whoever holds it "
		       "can recompute the pseudonyms and tokens of every epoch, "
		       "past ones included; a ratchet state (nfredact keygen "
		       "--ratchet) erases each epoch's key when it ends\n",
		       key_path);
	free(key_path);
	policy_free(rs);
	return 0;
}
