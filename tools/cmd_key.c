/*
 * cmd_key.c — `nfredact key status|export|advance`: look at, copy and
 * move on a ratchet state.  No command here prints a key byte.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "keytime.h"
#include "policy.h"

#define KEY_USAGE \
	"usage: nfredact key status FILE [--at TIME]\n" \
	"       nfredact key export FILE OUT [--at TIME]\n" \
	"       nfredact key advance FILE [--at TIME]\n"

static void print_status(const char *path, const struct key_ratchet_status *st,
			 uint64_t now)
{
	uint64_t clock_epoch = now < st->start ? 0 :
			       (now - st->start) / st->epoch_seconds;
	char span[80], start[32];

	printf("ratchet state %s\n", path);
	printf("  format version: %u\n", st->version);
	printf("  epoch length: %llus\n", (unsigned long long)st->epoch_seconds);
	printf("  start: %s\n", keytime_format(st->start, start, sizeof(start)));
	printf("  epoch: %llu (%s)\n", (unsigned long long)st->epoch,
	       keytime_span(st, st->epoch, span, sizeof(span)));
	printf("  fingerprint: %s\n", st->fingerprint);
	if (clock_epoch > st->epoch)
		printf("  behind the clock by %llu epoch%s (the daemon, or "
		       "nfredact key advance, moves it on)\n",
		       (unsigned long long)(clock_epoch - st->epoch),
		       clock_epoch - st->epoch == 1 ? "" : "s");
	else if (clock_epoch < st->epoch)
		printf("  ahead of the clock: its epoch has not begun\n");
	printf("  earlier epochs: erased (not computable from this file)\n");
}

static int fail(const char *cmd, const char *path, int err, const char *why)
{
	if (err == -EMEDIUMTYPE)
		fprintf(stderr, "nfredact key %s: %s: a static 32-byte master "
			"key, not a ratchet state: every epoch's pseudonyms and "
			"tokens stay recomputable with it\n", cmd, path);
	else
		fprintf(stderr, "nfredact key %s: %s: %s\n", cmd, path,
			why ? why : strerror(-err));
	return 1;
}

/**
 * cmd_key() - the key subcommands
 * @argc: argument count, argv[0] is "key"
 * @argv: "key", the subcommand, its arguments
 *
 * status: what the state holds (version, epoch length, epoch and its
 * span, fingerprint), as stored.  export: the state moved on to the
 * current epoch, into a new file OUT, for another relay; FILE is not
 * changed.  advance: move FILE on to the current epoch in place, as the
 * daemon does.  --at TIME takes another time than now.
 * Return: 0, 1 failure (reason on stderr), 2 usage.
 */
int cmd_key(int argc, char **argv)
{
	const char *args[2] = { NULL, NULL }, *why = NULL, *sub;
	struct key_ratchet_status st;
	uint64_t now = (uint64_t)time(NULL);
	unsigned n = 0;
	int err;

	if (argc < 2) {
		fputs(KEY_USAGE, stderr);
		return 2;
	}
	sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(KEY_USAGE, stdout);
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--at") && i + 1 < argc) {
			if (keytime_parse(argv[++i], &now) < 0) {
				fprintf(stderr, "nfredact key: --at %s: Unix "
					"seconds or YYYY-MM-DDTHH:MM:SSZ\n",
					argv[i]);
				return 2;
			}
		} else if (argv[i][0] && argv[i][0] != '-' && n < 2) {
			args[n++] = argv[i];
		} else {
			fputs(KEY_USAGE, stderr);
			return 2;
		}
	}
	if (!strcmp(sub, "status") && n == 1) {
		err = key_ratchet_status(args[0], &st, &why);
		if (err)
			return fail(sub, args[0], err, why);
		print_status(args[0], &st, now);
		return 0;
	}
	if (!strcmp(sub, "export") && n == 2) {
		err = key_ratchet_export(args[0], args[1], now, &st, &why);
		if (err)
			return fail(sub, err == -EEXIST ? args[1] : args[0], err,
				    why);
		printf("exported epoch %llu of %s to %s (fingerprint %s)\n",
		       (unsigned long long)st.epoch, args[0], args[1],
		       st.fingerprint);
		return 0;
	}
	if (!strcmp(sub, "advance") && n == 1) {
		err = key_ratchet_advance(args[0], KEY_UID_NONE, now,
					  KEY_GRACE_DEFAULT, 0, &st, &why);
		if (err)
			return fail(sub, args[0], err, why);
		if (st.from == st.epoch)
			printf("%s: epoch %llu is current (fingerprint %s)\n",
			       args[0], (unsigned long long)st.epoch,
			       st.fingerprint);
		else
			printf("%s: moved on from epoch %llu to %llu "
			       "(fingerprint %s); the earlier keys are erased\n",
			       args[0], (unsigned long long)st.from,
			       (unsigned long long)st.epoch, st.fingerprint);
		return 0;
	}
	fputs(KEY_USAGE, stderr);
	return 2;
}
