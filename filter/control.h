/*
 * control.h — the daemon's control socket: a UNIX stream socket owned by
 * root, mode 0660 and group CONTROL_GROUP when that group exists, 0600
 * otherwise, in a directory only root may write.  Only root and members
 * of CONTROL_GROUP are answered; anyone else gets CONTROL_ERR_AUTH.  A
 * client sends one request line and reads the answer until the daemon
 * closes the connection.
 *
 *   "stats\n"             counters as text, one "name value" a line
 *   "stats prometheus\n"  the Prometheus text exposition format
 *
 * An answer that begins with "error: " is a refusal, not counters.
 */
#ifndef NFREDACT_CONTROL_H
#define NFREDACT_CONTROL_H

#define CONTROL_PATH_DEFAULT "/run/nfredact/control.sock"
#define CONTROL_GROUP "nfredact"
#define CONTROL_REQ_STATS "stats\n"
#define CONTROL_REQ_PROMETHEUS "stats prometheus\n"
#define CONTROL_ERR_PREFIX "error: "
#define CONTROL_ERR_AUTH "error: not authorised\n"

/* ---- the daemon's side (filter/control.c) ---------------------------- */

/**
 * control_open() - create and listen on the control socket @path, as root
 * before privileges are dropped, and before any thread is started (the
 * umask is changed for the bind).
 * @path: the socket; its directory is created 0755 when missing (one
 *        level).  An existing directory must be a real directory, not a
 *        symbolic link, owned by root (or the caller's uid) and writable
 *        by no one else.  Only the last component is looked up without
 *        following links; the directory is held open while the socket is
 *        made in it (through /proc/self/fd).
 *
 * The socket is born with its final mode: 0660 with group CONTROL_GROUP
 * when getgrnam() knows that group, else 0600; its owner is the caller.
 * The group's gid is remembered for the checks the control thread makes.
 * A socket file already at @path is replaced when nothing accepts on it;
 * anything else there (a symbolic link, a regular file) is left alone.
 *
 * Return: the listening socket (non-blocking, close-on-exec), or -errno:
 * -EPERM the directory is not safe (why is logged), -ENOTDIR, -EEXIST
 * @path is not a socket, -EADDRINUSE a daemon answers on it,
 * -ENAMETOOLONG, -EINVAL no file name in @path, -ENOMEM.
 */
int control_open(const char *path);

/**
 * control_unlink() - remove the control socket @path if it is one, in a
 * directory control_open() would accept, and nothing accepts on it
 * Return: 0 (removed or already gone), -ENOTSOCK something else is
 * there (left alone), -EADDRINUSE a daemon answers on it, -EPERM the
 * directory is not safe, -errno.
 */
int control_unlink(const char *path);

#endif
