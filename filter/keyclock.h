/*
 * keyclock.h — the privileged parent's ratchet clock: it moves a ratchet
 * state file on at every epoch start (the daemon never writes it).
 */
#ifndef NFREDACT_KEYCLOCK_H
#define NFREDACT_KEYCLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct keyclock {
	bool active;		/* the policy's key is a ratchet state */
	char *path;		/* that state file */
	uid_t uid;		/* the daemon's user, who may own it */
	uint64_t grace;		/* seconds it may be ahead of the clock */
	uint64_t epoch_seconds;
	uint64_t start;
	uint64_t epoch;		/* the newest epoch written or read */
	uint64_t retry_ms;	/* after a failed rewrite: not before (ms) */
};

/**
 * keyclock_start() - if the key file @key_path (NULL: none) is a ratchet
 * state, bring it up to the current epoch (hashing forward after
 * downtime, written atomically) and keep what is needed to move it on.
 * @grace: the policy's key-grace
 * @why: on failure, a static message
 * Return: 0 (also for a static key or none: @kc stays inactive) or -errno
 * from key_ratchet_advance(): the state is corrupt, ahead of the clock,
 * of the wrong mode or owner, or cannot be written.
 */
int keyclock_start(struct keyclock *kc, const char *key_path, uid_t uid,
		   uint64_t grace, const char **why);

/**
 * keyclock_timeout_ms() - milliseconds until the next epoch starts, for
 * poll(); -1 when inactive
 */
int keyclock_timeout_ms(const struct keyclock *kc);

/**
 * keyclock_run() - move the state file on when an epoch has started;
 * logs what it did or why it could not.  Called after every wake-up.
 */
void keyclock_run(struct keyclock *kc);

/**
 * keyclock_reload() - the daemon asks for key @key_path (a reload): if
 * it is a ratchet state, bring it up to date first, so that the daemon
 * reads the current epoch's key and never an older one.  A state behind
 * the one this process wrote last is refused (rolled back).
 * Return: 0 or -errno with *@why set.
 */
int keyclock_reload(struct keyclock *kc, const char *key_path,
		    const char **why);

/** keyclock_free() - release @kc (not the file); NULL is fine */
void keyclock_free(struct keyclock *kc);

#endif
