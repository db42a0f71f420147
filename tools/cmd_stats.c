/*
 * cmd_stats.c — `nfredact stats`: ask the running daemon for its counters
 * over the control socket (filter/control.h) and copy the answer out.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../filter/control.h"
#include "commands.h"

#define STATS_USAGE "usage: nfredact stats [--prometheus] [--control PATH]\n"

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/**
 * cmd_stats() - the stats subcommand
 * @argc: argument count, argv[0] is "stats"
 * @argv: arguments
 *
 * Return: exit status: 0 the answer was copied to stdout, 1 the daemon
 * could not be reached or the answer failed (reason on stderr), 2 usage.
 */
int cmd_stats(int argc, char **argv)
{
	const char *path = CONTROL_PATH_DEFAULT;
	const char *req = CONTROL_REQ_STATS;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[16384];
	size_t total = 0;
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
			path, strerror(err),
			err == ENOENT || err == ECONNREFUSED ?
			" (is nfredactd running?)" : "");
		close(fd);
		return 1;
	}
	rc = write_all(fd, req, strlen(req));
	while (!rc) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = -errno;
		if (r <= 0)
			break;
		total += (size_t)r;
		if (fwrite(buf, 1, (size_t)r, stdout) != (size_t)r)
			rc = -EIO;
	}
	close(fd);
	if (fflush(stdout) && !rc)
		rc = -EIO;
	if (rc < 0) {
		fprintf(stderr, "nfredact stats: %s: %s\n", path, strerror(-rc));
		return 1;
	}
	if (!total) {
		fprintf(stderr, "nfredact stats: %s: the daemon sent no answer\n",
			path);
		return 1;
	}
	return 0;
}
