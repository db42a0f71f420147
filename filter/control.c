/*
 * control.c — the control socket (control.h).  control_open() makes it
 * in a root-owned directory held open, so no link planted by the
 * daemon's unprivileged user is ever followed; the control thread serves
 * many clients from one poll() loop on non-blocking sockets, each with a
 * deadline, so an idle client holds one slot and nothing else.  Peers
 * other than root and members of CONTROL_GROUP are refused.  Nothing
 * here touches the packet path except the engine lock, held while
 * counters are added up.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "log.h"
#include "stats.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS		59	/* Linux 4.13 */
#endif

#define CONTROL_DIR_MODE	0755
#define CONTROL_BACKLOG		32
#define CONTROL_MAX_CONN	16	/* clients served at once */
#define CONTROL_DEADLINE_MS	2000	/* accept to close, answered or not */
#define CONTROL_POLL_MS		500	/* how soon d->stop is noticed */
#define CONTROL_BACKOFF_MS	100	/* accept failed: out of resources */
#define CONTROL_LINE_MAX	128
#define CONTROL_PEER_GROUPS	64	/* on the stack; more are malloc'd */

/* The group whose members may ask; a variable so tests can name another. */
static const char *control_group_name = CONTROL_GROUP;
/* Looked up by control_open(), before the privilege drop. */
static bool control_have_gid;
static gid_t control_gid;

/* Split @path into a copy of its directory and its last component. */
static int split_path(const char *path, char **dir, const char **name)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		*dir = strdup(".");
		*name = path;
	} else if (slash == path) {
		*dir = strdup("/");
		*name = slash + 1;
	} else {
		*dir = strndup(path, (size_t)(slash - path));
		*name = slash + 1;
	}
	if (!*dir)
		return -ENOMEM;
	if (!**name || !strcmp(*name, ".") || !strcmp(*name, "..")) {
		free(*dir);
		*dir = NULL;
		return -EINVAL;
	}
	return 0;
}

/*
 * Open the socket's directory without following a link in its last
 * component (made 0755 first when @create and it is missing), and accept
 * it only if no one but root (or we) can change what is in it.
 */
static int dir_open(const char *dir, bool create)
{
	struct stat st;
	mode_t old;
	int dfd, err;

	if (create) {
		old = umask(0777 & ~CONTROL_DIR_MODE);
		err = mkdir(dir, CONTROL_DIR_MODE) < 0 && errno != EEXIST ?
		      -errno : 0;
		umask(old);
		if (err)
			return err;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		err = -errno;
		if (err != -ELOOP && err != -ENOTDIR)
			return err;
		/* Which it was, for the message only: nothing is opened. */
		if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)) {
			log_warnx("control socket directory %s: a symbolic "
				  "link; it must be a real directory", dir);
			return -EPERM;
		}
		log_warnx("control socket directory %s: not a directory", dir);
		return err;
	}
	if (fstat(dfd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		log_warnx("control socket directory %s: owned by uid %u, not "
			  "root", dir, (unsigned)st.st_uid);
		err = -EPERM;
		goto fail;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_warnx("control socket directory %s: mode %04o: writable by "
			  "group or others", dir,
			  (unsigned)(st.st_mode & 07777));
		err = -EPERM;
		goto fail;
	}
	return dfd;
fail:
	close(dfd);
	return err;
}

/*
 * @name in the directory open as @dfd, as a path for bind() and
 * connect(): /proc/self/fd/N leads to that very directory, whatever has
 * been renamed or planted along @path since it was opened.
 */
static int at_path(struct sockaddr_un *sa, int dfd, const char *name)
{
	int n;

	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s",
		     dfd, name);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

/* A socket file that accepts connections belongs to a running daemon. */
static bool in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return false;
	/* EAGAIN: its backlog is full, so someone listens. */
	used = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
	       errno == EAGAIN;
	close(fd);
	return used;
}

/*
 * Remove what is at @name in @dfd only if it is a socket nothing accepts
 * on: a symbolic link or a regular file is someone else's and stays.
 */
static int remove_stale(int dfd, const char *name, const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int err;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	err = at_path(&sa, dfd, name);
	if (err)
		return err;
	if (in_use(&sa))
		return -EADDRINUSE;
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	log_debug("control socket %s: removed a stale socket", path);
	return 0;
}

static void lookup_group(void)
{
	struct group *gr;

	errno = 0;
	gr = getgrnam(control_group_name);
	control_have_gid = gr != NULL;
	control_gid = gr ? gr->gr_gid : 0;
	if (!gr)
		log_debug("no group %s%s%s: the control socket answers root "
			  "only", control_group_name, errno ? ": " : "",
			  errno ? strerror(errno) : "");
}

int control_open(const char *path)
{
	struct sockaddr_un sa;
	const char *name;
	char *dir = NULL;
	struct stat st;
	mode_t mode, old;
	int dfd = -1, fd = -1, err;
	bool bound = false;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	err = split_path(path, &dir, &name);
	if (err)
		return err;
	lookup_group();
	mode = control_have_gid ? 0660 : 0600;
	dfd = dir_open(dir, true);
	if (dfd < 0) {
		err = dfd;
		goto out;
	}
	err = remove_stale(dfd, name, path);
	if (err == -ENOTSOCK) {
		log_warnx("control socket %s: something other than a socket is "
			  "there; it is left alone", path);
		err = -EEXIST;
	}
	if (err)
		goto out;
	err = at_path(&sa, dfd, name);
	if (err)
		goto out;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* Born with its final mode: no window in which it is wider. */
	old = umask(0777 & ~mode);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (err)
		goto out;
	bound = true;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISSOCK(st.st_mode)) {
		bound = false;	/* not ours to remove */
		err = -EEXIST;
		goto out;
	}
	if ((st.st_mode & 07777) != mode) {
		/* A default ACL on the directory overrides the umask. */
		log_warnx("control socket %s: created with mode %04o, not %04o "
			  "(a default ACL on its directory?)", path,
			  (unsigned)(st.st_mode & 07777), (unsigned)mode);
		err = -EPERM;
		goto out;
	}
	if (control_have_gid &&
	    fchownat(dfd, name, (uid_t)-1, control_gid,
		     AT_SYMLINK_NOFOLLOW) < 0) {
		err = -errno;
		goto out;
	}
	if (listen(fd, CONTROL_BACKLOG) < 0) {
		err = -errno;
		goto out;
	}
	err = 0;
out:
	if (err) {
		if (bound)
			(void)unlinkat(dfd, name, 0);
		if (fd >= 0)
			close(fd);
		fd = err;
	}
	if (dfd >= 0)
		close(dfd);
	free(dir);
	return fd;
}

int control_unlink(const char *path)
{
	const char *name;
	char *dir = NULL;
	int dfd, err;

	err = split_path(path, &dir, &name);
	if (err)
		return err;
	dfd = dir_open(dir, false);
	if (dfd < 0) {
		err = dfd == -ENOENT ? 0 : dfd;
		goto out;
	}
	err = remove_stale(dfd, name, path);
	close(dfd);
out:
	free(dir);
	return err;
}

/* ---- serving -------------------------------------------------------- */

enum conn_state {
	CONN_FREE,
	CONN_READ,	/* waiting for the request line */
	CONN_WRITE,	/* sending out[out_done..out_len) */
	CONN_DRAIN,	/* answered: reading until the client closes */
};

struct conn {
	enum conn_state state;
	int fd;
	bool refused;
	uint64_t deadline_ms;	/* CLOCK_MONOTONIC */
	size_t in_len;
	char in[CONTROL_LINE_MAX];	/* room for a '\n' and a '\0' */
	const char *out;	/* a constant, or text */
	size_t out_len, out_done;
	char *text;		/* the rendered counters, malloc'd */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Whether the peer is root or in the control group, as the kernel
 * recorded it at connect(): the primary gid, then the supplementary
 * groups (SO_PEERGROUPS; before Linux 4.13 only the primary gid counts).
 */
static bool peer_allowed(int fd)
{
	gid_t small[CONTROL_PEER_GROUPS], *groups = small;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	bool ok = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    len != sizeof(cr))
		return false;
	if (cr.uid == 0)
		return true;
	if (!control_have_gid)
		return false;
	if (cr.gid == control_gid)
		return true;
	len = sizeof(small);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE)
			return false;
		/* len is now the size needed. */
		groups = malloc(len);
		if (!groups)
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t) && !ok; i++)
		ok = groups[i] == control_gid;
	if (groups != small)
		free(groups);
	return ok;
}

/* Whether a failed socket call is to be retried when poll() says so. */
static bool try_later(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->text);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Closed by us before the answer went out: counted. */
static void conn_drop(struct daemon *d, struct conn *c)
{
	if (!c->refused && c->state != CONN_DRAIN)
		d->control_dropped++;
	conn_close(c);
}

static void conn_reply(struct conn *c, const char *msg)
{
	c->out = msg;
	c->out_len = strlen(msg);
	c->out_done = 0;
	c->state = CONN_WRITE;
}

/* The answer to the request in c->in, rendered into c->text. */
static void conn_answer(struct daemon *d, struct conn *c)
{
	struct stats_snapshot snap;
	size_t len = 0;
	char *nl;
	FILE *out;
	bool prom;
	int err;

	/* A client that closes without the newline means the same. */
	nl = memchr(c->in, '\n', c->in_len);
	if (nl) {
		nl[1] = '\0';
	} else {
		c->in[c->in_len] = '\n';
		c->in[c->in_len + 1] = '\0';
	}
	if (strcmp(c->in, CONTROL_REQ_STATS) == 0) {
		prom = false;
	} else if (strcmp(c->in, CONTROL_REQ_PROMETHEUS) == 0) {
		prom = true;
	} else {
		conn_reply(c, CONTROL_ERR_PREFIX "unknown request\n");
		return;
	}
	if (daemon_snapshot(d, &snap) < 0) {
		conn_reply(c, CONTROL_ERR_PREFIX "out of memory\n");
		return;
	}
	snap.control_refused = d->control_refused;
	snap.control_dropped = d->control_dropped;
	out = open_memstream(&c->text, &len);
	err = out ? stats_render(out, &snap, prom) : -ENOMEM;
	if (out && fclose(out) != 0 && !err)
		err = -ENOMEM;
	daemon_snapshot_free(&snap);
	if (err) {
		free(c->text);
		c->text = NULL;
		conn_reply(c, CONTROL_ERR_PREFIX "out of memory\n");
		return;
	}
	c->out = c->text;
	c->out_len = len;
	c->out_done = 0;
	c->state = CONN_WRITE;
}

/* Send what the socket takes now. Return: false when @c is to be closed. */
static bool conn_write(struct conn *c)
{
	while (c->out_done < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_done,
				 c->out_len - c->out_done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0)
			return try_later(errno);
		c->out_done += (size_t)w;
	}
	free(c->text);
	c->text = NULL;
	c->out = NULL;
	/*
	 * The client reads until end of file.  Closing while its request is
	 * unread would make that a reset, so wait for it to close first.
	 */
	(void)shutdown(c->fd, SHUT_WR);
	c->state = CONN_DRAIN;
	return true;
}

/* Return: false when @c is to be closed. */
static bool conn_read(struct daemon *d, struct conn *c)
{
	size_t room = sizeof(c->in) - 2 - c->in_len;
	ssize_t r = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);

	if (r < 0)
		return try_later(errno);
	if (r == 0 && c->in_len == 0)
		return false;
	c->in_len += (size_t)r;
	if (r > 0 && c->in_len < sizeof(c->in) - 2 &&
	    !memchr(c->in, '\n', c->in_len))
		return true;
	conn_answer(d, c);
	return conn_write(c);
}

/* Return: false when @c is to be closed. */
static bool conn_drain(struct conn *c)
{
	char scratch[256];
	ssize_t r = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);

	if (r < 0)
		return try_later(errno);
	return r > 0;
}

static void conn_step(struct daemon *d, struct conn *c)
{
	bool keep;

	switch (c->state) {
	case CONN_READ:
		keep = conn_read(d, c);
		break;
	case CONN_WRITE:
		keep = conn_write(c);
		break;
	case CONN_DRAIN:
		keep = conn_drain(c);
		break;
	default:
		keep = true;
		break;
	}
	if (!keep)
		conn_close(c);
}

/* Whether @a is the better client to close to make room than @b. */
static bool evict_before(const struct conn *a, const struct conn *b)
{
	bool a_done = a->state == CONN_DRAIN, b_done = b->state == CONN_DRAIN;

	if (a_done != b_done)
		return a_done;
	return a->deadline_ms < b->deadline_ms;
}

/*
 * A slot for a new client: a free one, else one already answered or,
 * failing that, the oldest, which is closed.  Never waits.
 */
static struct conn *conn_slot(struct daemon *d, struct conn *conn)
{
	struct conn *victim = &conn[0];

	for (unsigned i = 0; i < CONTROL_MAX_CONN; i++) {
		if (conn[i].state == CONN_FREE)
			return &conn[i];
		if (evict_before(&conn[i], victim))
			victim = &conn[i];
	}
	conn_drop(d, victim);
	return victim;
}

/* Return: false when accept failed for want of resources: back off. */
static bool accept_some(struct daemon *d, struct conn *conn, uint64_t now)
{
	for (unsigned k = 0; k < CONTROL_MAX_CONN; k++) {
		int fd = accept4(d->control_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ||
			       errno == EINTR || errno == ECONNABORTED;
		c = conn_slot(d, conn);
		c->fd = fd;
		c->deadline_ms = now + CONTROL_DEADLINE_MS;
		if (peer_allowed(fd)) {
			c->state = CONN_READ;
			continue;
		}
		d->control_refused++;
		c->refused = true;
		conn_reply(c, CONTROL_ERR_AUTH);
		if (!conn_write(c))
			conn_close(c);
	}
	return true;
}

static void *control_main(void *arg)
{
	struct daemon *d = arg;
	struct conn conn[CONTROL_MAX_CONN];
	struct pollfd pfd[1 + CONTROL_MAX_CONN];
	unsigned slot[1 + CONTROL_MAX_CONN];
	uint64_t accept_after = 0;

	memset(conn, 0, sizeof(conn));
	for (unsigned i = 0; i < CONTROL_MAX_CONN; i++)
		conn[i].fd = -1;
	while (!atomic_load(&d->stop)) {
		uint64_t now = now_ms();
		int timeout = CONTROL_POLL_MS, r;
		nfds_t n = 1;

		pfd[0].fd = now >= accept_after ? d->control_fd : -1;
		pfd[0].events = POLLIN;
		for (unsigned i = 0; i < CONTROL_MAX_CONN; i++) {
			struct conn *c = &conn[i];

			if (c->state == CONN_FREE)
				continue;
			if (now >= c->deadline_ms) {
				conn_drop(d, c);
				continue;
			}
			if (c->deadline_ms - now < (uint64_t)timeout)
				timeout = (int)(c->deadline_ms - now);
			pfd[n].fd = c->fd;
			pfd[n].events = c->state == CONN_WRITE ? POLLOUT :
								 POLLIN;
			slot[n++] = i;
		}
		if (pfd[0].fd < 0 && accept_after - now < (uint64_t)timeout)
			timeout = (int)(accept_after - now);
		r = poll(pfd, n, timeout);
		if (r <= 0)
			continue;
		for (nfds_t k = 1; k < n; k++)
			if (pfd[k].revents)
				conn_step(d, &conn[slot[k]]);
		if ((pfd[0].revents & POLLIN) &&
		    !accept_some(d, conn, now_ms()))
			accept_after = now_ms() + CONTROL_BACKOFF_MS;
	}
	for (unsigned i = 0; i < CONTROL_MAX_CONN; i++)
		if (conn[i].state != CONN_FREE)
			conn_close(&conn[i]);
	return NULL;
}

int control_start(struct daemon *d)
{
	int err = pthread_create(&d->control_thread, NULL, control_main, d);

	if (err)
		return -err;
	d->control_started = true;
	return 0;
}

void control_join(struct daemon *d)
{
	if (d->control_started)
		pthread_join(d->control_thread, NULL);
	d->control_started = false;
}
