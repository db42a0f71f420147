/*
 * nfqstat.c — parse /proc/net/netfilter/nfnetlink_queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nfqstat.h"

int nfqstat_parse(const char *text, struct nfqstat *out, unsigned max)
{
	const char *line = text;
	unsigned n = 0;

	while (*line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		struct nfqstat e;
		char buf[256];
		int used = 0;

		if (len == 0 || strspn(line, " \t") == len)
			goto next;
		if (len >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, line, len);
		buf[len] = '\0';
		memset(&e, 0, sizeof(e));
		/* The kernel pads the first column; the last one is always 1. */
		if (sscanf(buf, "%" SCNu32 " %" SCNu32 " %" SCNu32 " %" SCNu32
			   " %" SCNu32 " %" SCNu64 " %" SCNu64 " %" SCNu32
			   " %*u %n", &e.queue, &e.portid, &e.total,
			   &e.copy_mode, &e.copy_range, &e.queue_dropped,
			   &e.user_dropped, &e.id_sequence, &used) < 8 ||
		    used == 0 || buf[used] != '\0')
			return -EINVAL;
		if (n < max)
			out[n++] = e;
next:
		if (!eol)
			break;
		line = eol + 1;
	}
	return (int)n;
}

const struct nfqstat *nfqstat_find(const struct nfqstat *v, unsigned n,
				   uint32_t queue)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i].queue == queue)
			return &v[i];
	return NULL;
}

int nfqstat_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int nfqstat_read(int fd, struct nfqstat *out, unsigned max)
{
	char text[16384];
	size_t used = 0;
	ssize_t r;
	int err = 0;

	while (used < sizeof(text) - 1) {
		r = pread(fd, text + used, sizeof(text) - 1 - used,
			  (off_t)used);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	if (err)
		return err;
	/* A partial last line from a full buffer is dropped, not misparsed. */
	if (used == sizeof(text) - 1) {
		char *nl = memrchr(text, '\n', used);

		used = nl ? (size_t)(nl - text) + 1 : 0;
	}
	text[used] = '\0';
	return nfqstat_parse(text, out, max);
}
