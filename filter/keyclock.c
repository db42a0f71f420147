/*
 * keyclock.c — the privileged parent's ratchet clock (keyclock.h).
 *
 * With `key FILE` naming a ratchet state, the state on disk must hold
 * the current epoch's key and no earlier one.  The parent (root, the
 * only process that may write the key directory) rewrites the file at
 * each epoch start through key_ratchet_advance(); the daemon moves its
 * own copy in memory by the same derivation (keyring_epoch()), so no key
 * crosses the socket and the daemon needs no write access anywhere.  A
 * reload reads the file only after it has been brought up to date here.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "keyclock.h"
#include "log.h"
#include "policy.h"

static uint64_t unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

static void keyclock_take(struct keyclock *kc,
			  const struct key_ratchet_status *st)
{
	kc->epoch_seconds = st->epoch_seconds;
	kc->start = st->start;
	kc->epoch = st->epoch;
}

/*
 * Once narrowed, the parent is uid 0 without CAP_DAC_OVERRIDE: it can
 * write only where root's own permission bits allow.  Checked at start,
 * while it could still write anywhere, so that the first boundary does
 * not find out.
 */
static int keyclock_dir_writable(const char *key_path, const char **why)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(key_path, '/');
	struct stat st;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == key_path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - key_path),
			 key_path);
	if (stat(dir, &st) < 0) {
		*why = "cannot stat its directory";
		return -errno;
	}
	if ((st.st_uid == 0 && (st.st_mode & S_IWUSR)) ||
	    (st.st_gid == 0 && (st.st_mode & S_IWGRP)))
		return 0;
	*why = "its directory is not writable by root as its owner (the "
	       "privileged process rewrites the state at each epoch start "
	       "without overriding permissions): make it root's, mode 0700";
	return -EACCES;
}

int keyclock_start(struct keyclock *kc, const char *key_path, uid_t uid,
		   uint64_t grace, const char **why)
{
	struct key_ratchet_status st;
	int err;

	memset(kc, 0, sizeof(*kc));
	kc->uid = uid;
	kc->grace = grace;
	*why = NULL;
	if (!key_path)
		return 0;
	err = key_ratchet_status(key_path, &st, why);
	if (err == -EMEDIUMTYPE)
		return 0;	/* a static master key: nothing to move on */
	if (err)
		return err;
	err = keyclock_dir_writable(key_path, why);
	if (err)
		return err;
	err = key_ratchet_advance(key_path, uid, unix_now(), grace, 0, &st, why);
	if (err)
		return err;
	kc->path = strdup(key_path);
	if (!kc->path) {
		*why = "out of memory";
		return -ENOMEM;
	}
	kc->active = true;
	keyclock_take(kc, &st);
	if (st.epoch != st.from)
		log_info("ratchet %s: caught up from epoch %llu to %llu "
			 "(fingerprint %s); the keys between are gone", kc->path,
			 (unsigned long long)st.from,
			 (unsigned long long)st.epoch, st.fingerprint);
	else
		log_info("ratchet %s: epoch %llu (fingerprint %s), %llus epochs",
			 kc->path, (unsigned long long)st.epoch, st.fingerprint,
			 (unsigned long long)st.epoch_seconds);
	return 0;
}

/* A failed rewrite is tried again this long after (ms), not in a loop. */
#define KEYCLOCK_RETRY_MS 5000

static uint64_t unix_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int keyclock_timeout_ms(const struct keyclock *kc)
{
	uint64_t next, now_ms;

	if (!kc->active)
		return -1;
	next = (kc->start + (kc->epoch + 1) * kc->epoch_seconds) * 1000;
	if (next < kc->retry_ms)
		next = kc->retry_ms;
	now_ms = unix_now_ms();
	if (next <= now_ms)
		return 0;
	/* poll() takes an int; a wake-up a day is harmless */
	return next - now_ms > 86400000 ? 86400000 : (int)(next - now_ms + 1);
}

/* Advance the file, refusing to go behind what was written last. */
static int keyclock_advance(struct keyclock *kc, const char **why)
{
	struct key_ratchet_status st;
	int err;

	err = key_ratchet_advance(kc->path, kc->uid, unix_now(), kc->grace,
				  kc->epoch, &st, why);
	if (err)
		return err;
	if (st.epoch != kc->epoch)
		log_info("ratchet %s: epoch %llu began (fingerprint %s); the "
			 "key of epoch %llu is erased from the file", kc->path,
			 (unsigned long long)st.epoch, st.fingerprint,
			 (unsigned long long)st.from);
	keyclock_take(kc, &st);
	return 0;
}

void keyclock_run(struct keyclock *kc)
{
	const char *why = NULL;
	int err;

	if (!kc->active || keyclock_timeout_ms(kc) > 0)
		return;
	err = keyclock_advance(kc, &why);
	if (err) {
		/* the daemon's own copy has moved on in memory, so its
		 * pseudonyms are not affected; the file's is what is late */
		log_warnx("ratchet %s: cannot move on to the new epoch: %s; the "
			  "key of epoch %llu stays on disk until this succeeds "
			  "(tried again in %us)", kc->path,
			  why ? why : strerror(-err),
			  (unsigned long long)kc->epoch, KEYCLOCK_RETRY_MS / 1000);
		kc->retry_ms = unix_now_ms() + KEYCLOCK_RETRY_MS;
	}
}

int keyclock_reload(struct keyclock *kc, const char *key_path,
		    const char **why)
{
	struct key_ratchet_status st;
	int err;

	*why = NULL;
	if (kc->active && !strcmp(kc->path, key_path))
		return keyclock_advance(kc, why);
	/* another file than the one in use: a new ratchet, or a static key */
	err = key_ratchet_status(key_path, &st, why);
	if (err == -EMEDIUMTYPE) {
		*why = NULL;
		return 0;
	}
	if (err)
		return err;
	err = keyclock_dir_writable(key_path, why);
	if (err)
		return err;
	err = key_ratchet_advance(key_path, kc->uid, unix_now(), kc->grace, 0,
				  &st, why);
	if (err)
		return err;
	free(kc->path);
	kc->path = strdup(key_path);
	if (!kc->path) {
		kc->active = false;
		*why = "out of memory";
		return -ENOMEM;
	}
	kc->active = true;
	keyclock_take(kc, &st);
	return 0;
}

void keyclock_free(struct keyclock *kc)
{
	if (!kc)
		return;
	free(kc->path);
	kc->path = NULL;
	kc->active = false;
}
