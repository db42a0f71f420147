/*
 * parent.h — nfredactd's privileged parent: it keeps the queue rules in
 * place (owning nfredact's nf_tables tables and watching them), opens key
 * files for the daemon, speaks to systemd, forwards signals, and never
 * removes the rules.
 */
#ifndef NFREDACT_PARENT_H
#define NFREDACT_PARENT_H

#include <stdbool.h>
#include <sys/types.h>

#include "keeper.h"

struct privsep_shared;

struct keyclock;

struct parent {
	pid_t child;
	int sfd;		/* signalfd: TERM, INT, HUP, CHLD */
	int broker;		/* SOCK_SEQPACKET to the daemon */
	struct keeper keeper;	/* the queue rules */
	const char *policy;	/* NULL: the built-in policy */
	const char *control;	/* the control socket, unlinked at exit */
	uid_t uid;		/* the daemon's user (may own the key) */
	struct privsep_shared *shared;
	struct keyclock *keys;	/* the ratchet clock (inactive: static key) */
};

/**
 * parent_run() - serve until the daemon is gone, then exit with its
 * status.  The rules stay, whatever happened.
 */
void parent_run(struct parent *p) __attribute__((noreturn));

#endif
