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
	char *key_path = NULL;

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
