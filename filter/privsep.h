/*
 * privsep.h — what nfredactd's two processes say to each other.
 *
 * The privileged parent (root, narrowed to what rule restoration and key
 * opening need) and the unprivileged daemon share a SOCK_SEQPACKET pair
 * and one shared page:
 *   daemon → parent  "K<path>"  open this key file (a reload); the parent
 *                               opens it only when it is the key that the
 *                               policy file names now, checks it, and
 *                               answers with the descriptor or a reason
 *                    "R"        the queues are bound and served (READY)
 *                    "W"        every worker is alive (watchdog)
 *   shared page                 the parent's view of the queue rules,
 *                               which the daemon's stats show
 */
#ifndef NFREDACT_PRIVSEP_H
#define NFREDACT_PRIVSEP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PRIVSEP_MSG_MAX		4200	/* "K" and a path */
#define PRIVSEP_WHY_MAX		120

struct privsep_shared {
	atomic_uint rules_managed;	/* 1: the parent installs and watches */
	atomic_uint rules_present;	/* 1: the last check found them */
	atomic_uint_least64_t rules_restored;	/* times put back */
	atomic_uint_least64_t rules_checks;	/* checks made */
};

/**
 * privsep_shared_new() - a zeroed page shared with the processes forked
 * after it.  Return: the page or NULL with errno set.
 */
struct privsep_shared *privsep_shared_new(void);

/**
 * privsep_key_open() - the daemon's key opener (a key_open_fn): ask the
 * parent over the socket *@ctx (an int) for @path.
 * @why: on failure a reason (static storage; valid until the next call)
 * Return: an open descriptor, or -errno.
 */
int privsep_key_open(const char *path, const char **why, void *ctx);

/**
 * privsep_tell() - send the one-letter message @what ('R' or 'W').
 * Return: 0 or -errno.
 */
int privsep_tell(int fd, char what);

/**
 * privsep_serve_key() - the parent's side of a "K" request: open @path if
 * it is the key that @policy names now (any other path is refused), with
 * the key-file checks; the daemon's user @uid may own it.  Answers on @fd.
 * @prepare: if not NULL, called with the path once it is known to be the
 *           policy's key and before it is opened (the ratchet clock brings
 *           a ratchet state up to date); an error is sent as a refusal
 * Return: 0 when an answer was sent (a refusal too), -errno otherwise.
 */
int privsep_serve_key(int fd, const char *policy, const char *path,
		      uid_t uid,
		      int (*prepare)(const char *path, const char **why,
				     void *ctx),
		      void *ctx);

#endif
