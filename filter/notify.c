/*
 * notify.c — sd_notify(3) by hand (notify.h): the protocol is one
 * datagram to the socket in $NOTIFY_SOCKET, so a dependency on
 * libsystemd buys nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

#define NOTIFY_STATUS_MAX	256

int notify_send(const char *state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len, salen;
	ssize_t n;
	int fd, err = 0;

	if (!path || !*path)
		return 0;
	if (path[0] != '/' && path[0] != '@')
		return -EAFNOSUPPORT;
	len = strlen(path);
	if (len > sizeof(sa.sun_path) ||
	    (path[0] == '/' && len == sizeof(sa.sun_path)))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len);
	/* An abstract name has no terminating NUL: its length counts. */
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = offsetof(struct sockaddr_un, sun_path) + len +
		(path[0] == '/' ? 1 : 0);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do
		n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
			   (const struct sockaddr *)&sa, (socklen_t)salen);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

int notify_ready(void)
{
	return notify_send("READY=1");
}

int notify_stopping(void)
{
	return notify_send("STOPPING=1");
}

int notify_watchdog(void)
{
	return notify_send("WATCHDOG=1");
}

int notify_status(const char *fmt, ...)
{
	char buf[sizeof("STATUS=") - 1 + NOTIFY_STATUS_MAX];
	const size_t pre = sizeof("STATUS=") - 1;
	va_list ap;
	char *nl;

	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	memcpy(buf, "STATUS=", pre);
	va_start(ap, fmt);
	(void)vsnprintf(buf + pre, sizeof(buf) - pre, fmt, ap);
	va_end(ap);
	/* One assignment: a newline in the text must not start another. */
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	return notify_send(buf);
}

/* @s as a decimal number: digits only, no sign, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

bool notify_watchdog_interval(uint64_t *usec)
{
	const char *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;

	if (!parse_u64(getenv("WATCHDOG_USEC"), &v) || v == 0)
		return false;
	/* Meant for another process (one we forked, or that forked us). */
	if (pid && (!parse_u64(pid, &p) || p != (uint64_t)getpid()))
		return false;
	*usec = v;
	return true;
}
