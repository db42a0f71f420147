/*
 * cmd_keygen.c — `nfredact keygen FILE`: write a new random master key;
 * `nfredact keygen --ratchet FILE [--epoch DURATION] [--start TIME]`:
 * write a new ratchet state (forward secrecy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "keytime.h"
#include "policy.h"

#define KEYGEN_USAGE \
	"usage: nfredact keygen FILE\n" \
	"       nfredact keygen --ratchet FILE [--epoch DURATION] [--start TIME]\n"

/* Default ratchet epoch: a day. */
#define KEYGEN_EPOCH_DEFAULT 86400

static int keygen_ratchet(int argc, char **argv)
{
	uint64_t epoch = KEYGEN_EPOCH_DEFAULT, start = 0;
	const char *path = NULL, *why = NULL;
	struct key_ratchet_status st;
	char span[64];
	int err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ratchet"))
			continue;
		if (!strcmp(argv[i], "--epoch") && i + 1 < argc) {
			if (policy_parse_duration(argv[++i], &epoch, &why) ||
			    epoch == 0 || epoch > KEY_RATCHET_MAX_EPOCH) {
				fprintf(stderr, "nfredact keygen: --epoch %s: %s\n",
					argv[i], why ? why : "1s to 366d");
				return 2;
			}
		} else if (!strcmp(argv[i], "--start") && i + 1 < argc) {
			if (keytime_parse(argv[++i], &start) < 0) {
				fprintf(stderr, "nfredact keygen: --start %s: "
					"Unix seconds or YYYY-MM-DDTHH:MM:SSZ\n",
					argv[i]);
				return 2;
			}
		} else if (argv[i][0] != '-' && argv[i][0] && !path) {
			path = argv[i];
		} else {
			fputs(KEYGEN_USAGE, stderr);
			return 2;
		}
	}
	if (!path) {
		fputs(KEYGEN_USAGE, stderr);
		return 2;
	}
	err = key_ratchet_new(path, epoch, start, (uint64_t)time(NULL), &why);
	if (err < 0) {
		fprintf(stderr, "nfredact keygen: %s: %s\n", path,
			why ? why : strerror(-err));
		return 1;
	}
	err = key_ratchet_status(path, &st, &why);
	if (err < 0) {
		fprintf(stderr, "nfredact keygen: %s: written, but: %s\n", path,
			why ? why : strerror(-err));
		return 1;
	}
	keytime_span(&st, st.epoch, span, sizeof(span));
	printf("ratchet state %s: epoch %llu (%s), fingerprint %s\n", path,
	       (unsigned long long)st.epoch, span, st.fingerprint);
	return 0;
}

/**
 * cmd_keygen() - create the key file or ratchet state named on the
 * command line (mode 0600; an existing file is never overwritten).
 * @argc: argument count, argv[0] is "keygen"
 * @argv: arguments
 *
 * Return: exit status: 0 written, 1 failure (reason on stderr), 2 usage.
 */
int cmd_keygen(int argc, char **argv)
{
	int err;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(KEYGEN_USAGE, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--ratchet"))
			return keygen_ratchet(argc, argv);
	/* an option is never taken for a file name (./-name is one) */
	if (argc != 2 || argv[1][0] == '\0' || argv[1][0] == '-') {
		fputs(KEYGEN_USAGE, stderr);
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
