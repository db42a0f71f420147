/*
 * control.c — the control socket (control.h): a thread accepts one
 * client at a time, reads one request line and writes the counters.
 * Slow clients are cut off by socket timeouts; nothing here touches the
 * packet path except the engine lock, held while counters are added up.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "log.h"
#include "stats.h"

#define CONTROL_POLL_MS		500
#define CONTROL_TIMEOUT_S	2
#define CONTROL_LINE_MAX	128

/* Make the socket's directory 0700 (one level) when it is missing. */
static int make_dir(const char *path, unsigned uid, unsigned gid)
{
	char *copy = strdup(path);
	const char *dir;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (mkdir(dir, 0700) == 0) {
		/* Ours: the daemon user must be able to remove its socket. */
		if (chown(dir, uid, gid) < 0)
			err = -errno;
	} else if (errno != EEXIST) {
		err = -errno;
	}
	free(copy);
	return err;
}

/* A socket file that accepts connections belongs to a running daemon. */
static bool in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return false;
	used = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return used;
}

int control_listen(const char *path, unsigned uid, unsigned gid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	err = make_dir(path, uid, gid);
	if (err)
		return err;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (in_use(&sa))
			return -EADDRINUSE;
		if (unlink(path) < 0)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* No window in which the socket exists with a wider mode. */
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err < 0 || chmod(path, 0600) < 0 || chown(path, uid, gid) < 0 ||
	    listen(fd, 8) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Read up to the newline; the request is one short line. */
static int read_line(int fd, char *line, size_t size)
{
	size_t used = 0;

	while (used < size - 1) {
		ssize_t r = recv(fd, line + used, size - 1 - used, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		used += (size_t)r;
		if (memchr(line, '\n', used))
			break;
	}
	line[used] = '\0';
	return 0;
}

static void serve(struct daemon *d, int fd)
{
	struct timeval tv = { .tv_sec = CONTROL_TIMEOUT_S };
	char line[CONTROL_LINE_MAX];
	struct stats_snapshot snap;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	bool prom;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read_line(fd, line, sizeof(line) - 1) < 0)
		return;
	/* A client that closes without the newline means the same (room left). */
	if (line[0] && !strchr(line, '\n'))
		strcat(line, "\n");
	if (strcmp(line, CONTROL_REQ_STATS) == 0) {
		prom = false;
	} else if (strcmp(line, CONTROL_REQ_PROMETHEUS) == 0) {
		prom = true;
	} else {
		static const char msg[] = "error: unknown request\n";

		(void)write_all(fd, msg, sizeof(msg) - 1);
		return;
	}
	if (daemon_snapshot(d, &snap) < 0)
		return;
	out = open_memstream(&text, &len);
	if (out) {
		(void)stats_render(out, &snap, prom);
		if (fclose(out) == 0)
			(void)write_all(fd, text, len);
	}
	free(text);
	daemon_snapshot_free(&snap);
}

static void *control_main(void *arg)
{
	struct daemon *d = arg;
	struct pollfd pfd = { .fd = d->control_fd, .events = POLLIN };

	while (!atomic_load(&d->stop)) {
		int r = poll(&pfd, 1, CONTROL_POLL_MS), c;

		if (r <= 0)
			continue;
		c = accept4(d->control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve(d, c);
		close(c);
	}
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
