/*
 * privdrop.h — give up root after the queues are bound: keep only
 * CAP_NET_ADMIN, which every nfnetlink message (verdicts too) needs.
 */
#ifndef NFREDACT_PRIVDROP_H
#define NFREDACT_PRIVDROP_H

#include <stdbool.h>
#include <sys/types.h>

struct privdrop_user {
	bool keep_root;		/* --user root or --user '' */
	uid_t uid;
	gid_t gid;
};

/* The daemon's own system user and group, made by `make install`. */
#define PRIVDROP_USER "nfredact"

/**
 * privdrop_lookup() - resolve @user (NULL: PRIVDROP_USER; "" or "root":
 * stay root) before anything is dropped.  There is no fallback: a
 * missing user is an error, for the caller to report (create it with
 * `make install`, or name another with --user).
 * Return: 0, or -ENOENT when there is no such user, -errno.
 */
int privdrop_lookup(const char *user, struct privdrop_user *u);

/**
 * privdrop_apply() - switch to @u: no supplementary groups, its gid and
 * uid, CAP_NET_ADMIN alone kept (bounding set reduced too), no new
 * privileges.  Call before any thread is started: capabilities are per
 * thread.
 * Return: 0 or -errno (the process must not continue then).
 */
int privdrop_apply(const struct privdrop_user *u);

#endif
