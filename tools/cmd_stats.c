/*
 * cmd_stats.c — `nfredact stats`: ask the running daemon for its counters
 * over the control socket (filter/control.h) and copy the answer out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../filter/control.h"
#include "commands.h"

#define STATS_USAGE "usage: nfredact stats [--prometheus] [--control PATH]\n"
#define STATS_TIMEOUT_S	10	/* the daemon closes a client after 2 s */
#define STATS_WHO "only root and members of group " CONTROL_GROUP \
		  " may read the statistics"

/* Why connect() failed, in the operator's terms; "" when nothing to add. */
static const char *connect_hint(int err)
{
	switch (err) {
	case ENOENT:
		return " (is nfredactd running? --control names its socket)";
	case ECONNREFUSED:
		return " (nfredactd is not running: the socket is left over "
		       "from an earlier run)";
	case EACCES:
	case EPERM:
		return " (" STATS_WHO ")";
	default:
		return "";
	}
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Read until the daemon closes.  A reset after some bytes still leaves
 * them: the daemon may close a refused client before reading its request.
 * Return: 0 or -errno; *@ans (malloc'd, NUL-terminated) and *@len are set
 * either way.
 */
static int read_answer(int fd, char **ans, size_t *len)
{
	size_t cap = 16384, used = 0;
	char *buf = malloc(cap + 1);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (used == cap) {
			char *more = realloc(buf, 2 * cap + 1);

			if (!more) {
				err = -ENOMEM;
				break;
			}
			buf = more;
			cap *= 2;
		}
		r = recv(fd, buf + used, cap - used, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno == EAGAIN || errno == EWOULDBLOCK ?
			      -ETIMEDOUT : -errno;
			if (err == -ECONNRESET && used)
				err = 0;
			break;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	buf[used] = '\0';
	*ans = buf;
	*len = used;
	return err;
}

/**
 * cmd_stats() - the stats subcommand
 * @argc: argument count, argv[0] is "stats"
 * @argv: arguments
 *
 * Return: exit status: 0 the answer was copied to stdout, 1 the daemon
 * could not be reached, refused (not root nor in group nfredact) or the
 * answer failed (reason on stderr), 2 usage.
 */
int cmd_stats(int argc, char **argv)
{
	const char *path = CONTROL_PATH_DEFAULT;
	const char *req = CONTROL_REQ_STATS;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = STATS_TIMEOUT_S };
	char *ans = NULL;
	size_t len = 0;
	int fd, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(STATS_USAGE, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--prometheus")) {
			req = CONTROL_REQ_PROMETHEUS;
		} else if (!strcmp(argv[i], "--control") && i + 1 < argc &&
			   argv[i + 1][0]) {
			path = argv[++i];
		} else {
			fputs(STATS_USAGE, stderr);
			return 2;
		}
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "nfredact stats: %s: %s\n", path,
			strerror(ENAMETOOLONG));
		return 1;
	}
	strcpy(sun.sun_path, path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "nfredact stats: socket: %s\n", strerror(errno));
		return 1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;

		fprintf(stderr, "nfredact stats: cannot connect to %s: %s%s\n",
			path, strerror(err), connect_hint(err));
		close(fd);
		return 1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rc = send_all(fd, req, strlen(req));
	/* A daemon that refuses may close first: its answer says why. */
	if (!rc || rc == -EPIPE || rc == -ECONNRESET) {
		int r = read_answer(fd, &ans, &len);

		if (!rc || !len)
			rc = r;
		else
			rc = 0;
	}
	close(fd);
	if (ans && !strncmp(ans, CONTROL_ERR_AUTH, strlen(CONTROL_ERR_AUTH))) {
		fprintf(stderr, "nfredact stats: %s: not authorised: "
			STATS_WHO "\n", path);
		rc = 1;
	} else if (ans && !strncmp(ans, CONTROL_ERR_PREFIX,
				   strlen(CONTROL_ERR_PREFIX))) {
		fprintf(stderr, "nfredact stats: %s: the daemon answered: %s%s",
			path, ans, len && ans[len - 1] == '\n' ? "" : "\n");
		rc = 1;
	} else if (rc == -ETIMEDOUT) {
		fprintf(stderr, "nfredact stats: %s: no answer within %d s\n",
			path, STATS_TIMEOUT_S);
		rc = 1;
	} else if (rc < 0) {
		fprintf(stderr, "nfredact stats: %s: %s\n", path, strerror(-rc));
		rc = 1;
	} else if (!len) {
		fprintf(stderr, "nfredact stats: %s: the daemon sent no answer\n",
			path);
		rc = 1;
	} else if (fwrite(ans, 1, len, stdout) != len || fflush(stdout)) {
		fprintf(stderr, "nfredact stats: writing the answer: %s\n",
			strerror(errno));
		rc = 1;
	}
	free(ans);
	return rc;
}
