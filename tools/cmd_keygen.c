/*
 * cmd_keygen.c — `nfredact keygen FILE`: write a new random master key.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "policy.h"

/**
 * cmd_keygen() - create the key file named by argv[1] (mode 0600; an
 * existing file is never overwritten).
 * @argc: argument count, argv[0] is "keygen"
 * @argv: arguments
 *
 * Return: exit status: 0 written, 1 failure (reason on stderr), 2 usage.
 */
int cmd_keygen(int argc, char **argv)
{
	int err;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs("usage: nfredact keygen FILE\n", stdout);
		return 0;
	}
	/* an option is never taken for a file name (./-name is one) */
	if (argc != 2 || argv[1][0] == '\0' || argv[1][0] == '-') {
		fprintf(stderr, "usage: nfredact keygen FILE\n");
		return 2;
	}
	err = policy_keygen(argv[1]);
	if (err < 0) {
		fprintf(stderr, "nfredact keygen: %s: %s\n", argv[1],
			strerror(-err));
		return 1;
	}
	return 0;
}
