/*
 * test_notify.c — the systemd notification protocol (filter/notify.c)
 * against a datagram socket of our own, by path and in the abstract
 * namespace; the watchdog variables.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../filter/notify.c"

struct listener {
	int fd;
	char dir[64];
	char name[128];		/* what NOTIFY_SOCKET says */
};

/* A datagram socket bound to a file in a new directory, or abstract. */
static void listen_on(struct listener *l, bool abstract)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	struct timeval tv = { .tv_sec = 2 };

	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	l->dir[0] = '\0';
	if (abstract) {
		snprintf(l->name, sizeof(l->name), "@nfredact-test-notify-%d",
			 (int)getpid());
		memcpy(sa.sun_path, l->name, strlen(l->name));
		sa.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				  strlen(l->name));
	} else {
		strcpy(l->dir, "/tmp/nfredact-notify.XXXXXX");
		assert_non_null(mkdtemp(l->dir));
		snprintf(l->name, sizeof(l->name), "%s/notify", l->dir);
		strcpy(sa.sun_path, l->name);
		len = sizeof(sa);
	}
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				    sizeof(tv)), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", l->name, 1), 0);
}

static void listener_close(struct listener *l)
{
	close(l->fd);
	if (l->dir[0]) {
		unlink(l->name);
		rmdir(l->dir);
	}
	unsetenv("NOTIFY_SOCKET");
}

/* The next datagram, as a string. */
static const char *next_msg(struct listener *l)
{
	static char buf[512];
	ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static void no_msg(struct listener *l)
{
	char c;

	assert_int_equal(recv(l->fd, &c, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void check_messages(bool abstract)
{
	struct listener l;

	listen_on(&l, abstract);
	assert_int_equal(notify_ready(), 0);
	assert_string_equal(next_msg(&l), "READY=1");
	assert_int_equal(notify_watchdog(), 0);
	assert_string_equal(next_msg(&l), "WATCHDOG=1");
	assert_int_equal(notify_status("serving %u queue%s", 2u, "s"), 0);
	assert_string_equal(next_msg(&l), "STATUS=serving 2 queues");
	assert_int_equal(notify_stopping(), 0);
	assert_string_equal(next_msg(&l), "STOPPING=1");
	assert_int_equal(notify_send("STATUS=a\nWATCHDOG=1"), 0);
	assert_string_equal(next_msg(&l), "STATUS=a\nWATCHDOG=1");
	no_msg(&l);
	listener_close(&l);
}

static void test_path(void **state)
{
	check_messages(false);
}

static void test_abstract(void **state)
{
	check_messages(true);
}

/* A status text cannot smuggle in another assignment, nor run long. */
static void test_status_one_line(void **state)
{
	struct listener l;
	char longer[600];
	const char *m;

	listen_on(&l, false);
	assert_int_equal(notify_status("%s", "bad\nREADY=1"), 0);
	assert_string_equal(next_msg(&l), "STATUS=bad");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(notify_status("%s", longer), 0);
	m = next_msg(&l);
	assert_int_equal(strncmp(m, "STATUS=xxx", 10), 0);
	assert_int_equal(strlen(m), strlen("STATUS=") + NOTIFY_STATUS_MAX - 1);
	listener_close(&l);
}

static void test_unset(void **state)
{
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_ready(), 0);
	assert_int_equal(notify_status("x %d", 1), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", "", 1), 0);
	assert_int_equal(notify_watchdog(), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void test_errors(void **state)
{
	char path[200];

	assert_int_equal(setenv("NOTIFY_SOCKET", "vsock:2:1234", 1), 0);
	assert_int_equal(notify_ready(), -EAFNOSUPPORT);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
	assert_int_equal(notify_ready(), -ENAMETOOLONG);
	/* nobody listens there (any more) */
	assert_int_equal(setenv("NOTIFY_SOCKET",
				"/nonexistent-nfredact/notify", 1), 0);
	assert_int_equal(notify_ready(), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_interval(void **state)
{
	char pid[32];
	uint64_t usec = 7;

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_false(notify_watchdog_interval(&usec));
	assert_int_equal(usec, 7);

	setenv("WATCHDOG_USEC", "10000000", 1);
	assert_true(notify_watchdog_interval(&usec));
	assert_int_equal(usec, 10000000);

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	usec = 0;
	assert_true(notify_watchdog_interval(&usec));
	assert_int_equal(usec, 10000000);

	/* for another process: the daemon forked by the parent, say */
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	usec = 7;
	assert_false(notify_watchdog_interval(&usec));
	assert_int_equal(usec, 7);
	setenv("WATCHDOG_PID", "x", 1);
	assert_false(notify_watchdog_interval(&usec));
	unsetenv("WATCHDOG_PID");

	setenv("WATCHDOG_USEC", "0", 1);
	assert_false(notify_watchdog_interval(&usec));
	setenv("WATCHDOG_USEC", "-5", 1);
	assert_false(notify_watchdog_interval(&usec));
	setenv("WATCHDOG_USEC", "12s", 1);
	assert_false(notify_watchdog_interval(&usec));
	setenv("WATCHDOG_USEC", "99999999999999999999999", 1);
	assert_false(notify_watchdog_interval(&usec));
	setenv("WATCHDOG_USEC", "", 1);
	assert_false(notify_watchdog_interval(&usec));
	assert_int_equal(usec, 7);
	unsetenv("WATCHDOG_USEC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_abstract),
		cmocka_unit_test(test_status_one_line),
		cmocka_unit_test(test_unset),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_watchdog_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
