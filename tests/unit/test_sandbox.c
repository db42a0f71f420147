/*
 * test_sandbox.c — the seccomp filters and capability narrowing of
 * filter/sandbox.c.  Each case runs in a forked child, since a filter
 * cannot be taken off again: the child applies it, tries calls, and
 * reports through its exit status (0: as designed, N: check N failed)
 * or dies of SIGSYS where the design says it must.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../filter/sandbox.c"

typedef int (*child_fn)(void);

/* Run @fn in a child; its wait status. */
static int in_child(child_fn fn)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_exit0(int status)
{
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("child check %d failed", WEXITSTATUS(status));
}

static void assert_sigsys(int status)
{
	if (!WIFSIGNALED(status))
		fail_msg("child exited with %d, not killed", WEXITSTATUS(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static int daemon_apply(void)
{
	return sandbox_daemon_apply() == 0;
}

static void *thread_main(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

/* What the daemon does after the drop must go on working. */
static int child_allowed(void)
{
	char buf[16];
	pthread_t t;
	int fd, v = 0;
	void *p;

	if (!daemon_apply())
		return 1;
	if (getpid() <= 0)
		return 2;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 0 || close(fd) < 0)
		return 3;
	/* the key loader holds the key's directory */
	fd = open("/tmp", O_RDONLY | O_CLOEXEC | O_PATH | O_DIRECTORY);
	if (fd < 0 || close(fd) < 0)
		return 7;
	/* a thread starts although clone3 says ENOSYS */
	if (pthread_create(&t, NULL, thread_main, &v) != 0 ||
	    pthread_join(t, NULL) != 0 || v != 42)
		return 4;
	/* PCRE2's JIT maps code writable and executable */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || munmap(p, 4096) < 0)
		return 5;
	if (write(STDERR_FILENO, "", 0) < 0)
		return 6;
	return 0;
}

static void test_daemon_allowed(void **state)
{
	assert_exit0(in_child(child_allowed));
}

/* Opens for writing and unlink fail with EACCES, ioctl with ENOTTY. */
static int child_refused(void)
{
	if (!daemon_apply())
		return 1;
	errno = 0;
	if (open("/dev/null", O_WRONLY) >= 0 || errno != EACCES)
		return 2;
	errno = 0;
	if (openat(AT_FDCWD, "/dev/null", O_RDWR) >= 0 || errno != EACCES)
		return 3;
	errno = 0;
	if (open("/tmp/nfredact-sandbox-test", O_RDONLY | O_CREAT, 0600) >= 0 ||
	    errno != EACCES)
		return 4;
	errno = 0;
	if (open("/tmp", O_TMPFILE | O_RDWR, 0600) >= 0 || errno != EACCES)
		return 7;
	errno = 0;
	if (unlink("/nonexistent-nfredact") == 0 || errno != EACCES)
		return 5;
	errno = 0;
	if (isatty(STDIN_FILENO) || errno != ENOTTY)
		return 6;
	return 0;
}

static void test_daemon_refused(void **state)
{
	assert_exit0(in_child(child_refused));
}

static int child_socket(void)
{
	if (!daemon_apply())
		return 1;
	(void)socket(AF_INET, SOCK_DGRAM, 0);
	return 2;
}

static int child_execve(void)
{
	char *const argv[] = { "true", NULL };

	if (!daemon_apply())
		return 1;
	execv("/bin/true", argv);
	return 2;
}

static int child_ptrace(void)
{
	if (!daemon_apply())
		return 1;
	(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 2;
}

static int child_fork(void)
{
	pid_t pid;

	if (!daemon_apply())
		return 1;
	pid = fork();
	if (pid == 0)
		_exit(0);
	return 2;
}

static int child_socketpair(void)
{
	int sv[2];

	if (!daemon_apply())
		return 1;
	(void)socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	return 2;
}

static void test_daemon_kills(void **state)
{
	assert_sigsys(in_child(child_socket));
	assert_sigsys(in_child(child_execve));
	assert_sigsys(in_child(child_socketpair));
#ifndef SANDBOX_SANITIZER
	assert_sigsys(in_child(child_ptrace));
	assert_sigsys(in_child(child_fork));
#else
	/* the sanitizers' runtime needs them (sandbox.c) */
	assert_int_equal(in_child(child_ptrace), 2 << 8);
	assert_int_equal(in_child(child_fork), 2 << 8);
#endif
}

/* A thread's forbidden call takes the whole process (TSYNC, KILL_PROCESS). */
static void *thread_socket(void *arg)
{
	(void)socket(AF_INET6, SOCK_STREAM, 0);
	return arg;
}

static int child_thread_kills(void)
{
	pthread_t t;

	if (!daemon_apply())
		return 1;
	if (pthread_create(&t, NULL, thread_socket, NULL) != 0)
		return 2;
	pthread_join(t, NULL);
	return 3;
}

/* Threads started before the filter get it too. */
static volatile int go;

static void *thread_waits(void *arg)
{
	while (!go)
		usleep(1000);
	(void)socket(AF_INET, SOCK_DGRAM, 0);
	return arg;
}

static int child_tsync(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, thread_waits, NULL) != 0)
		return 2;
	if (!daemon_apply())
		return 1;
	go = 1;
	pthread_join(t, NULL);
	return 3;
}

static void test_daemon_threads(void **state)
{
	assert_sigsys(in_child(child_thread_kills));
	assert_sigsys(in_child(child_tsync));
}

static int child_log_mode(void)
{
	int fd;

	setenv(SANDBOX_ENV, "log", 1);
	if (!sandbox_logging() || !daemon_apply())
		return 1;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return 2;
	/* explicit refusals stay refusals */
	errno = 0;
	if (open("/dev/null", O_WRONLY) >= 0 || errno != EACCES)
		return 3;
	return 0;
}

static int child_bad_mode(void)
{
	setenv(SANDBOX_ENV, "off", 1);
	if (sandbox_daemon_apply() != -EINVAL)
		return 1;
	/* nothing was loaded */
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0 ? 0 : 2;
}

static void test_daemon_modes(void **state)
{
	if (seccomp_api_get() < 3)
		skip();	/* no SECCOMP_RET_LOG in this kernel */
	assert_exit0(in_child(child_log_mode));
	assert_exit0(in_child(child_bad_mode));
}

/* The hexadecimal value of "@field:" in /proc/self/status, or -1. */
static long long status_field(const char *field)
{
	char line[256];
	long long v = -1;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtoll(line + n + 1, NULL,
				    strcmp(field, "NoNewPrivs") ? 16 : 10);
			break;
		}
	fclose(f);
	return v;
}

/* A key file as the daemon's user would own it: mode 0600, not root's. */
static char other_key[] = "/tmp/nfredact-sandbox-key.XXXXXX";

static int child_parent_caps(void)
{
	const long long want = (long long)SANDBOX_PARENT_CAPS;
	int fd;

	if (sandbox_parent_narrow() != 0)
		return 1;
	/* CAP_DAC_READ_SEARCH reads it; without CAP_DAC_OVERRIDE no writing */
	fd = open(other_key, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 10;
	close(fd);
	errno = 0;
	if (open(other_key, O_WRONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 11;
	if (status_field("CapEff") != want || status_field("CapPrm") != want)
		return 2;
	if (status_field("CapBnd") != want)
		return 3;
	if (status_field("CapInh") != 0 || status_field("CapAmb") != 0)
		return 4;
	if (status_field("NoNewPrivs") != 1)
		return 5;
	/* no way back: CAP_SETUID and CAP_SETPCAP are gone */
	if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
		return 6;
	/* netlink is what it keeps; other families are refused */
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 /* ROUTE */);
	if (fd < 0)
		return 7;
	close(fd);
	errno = 0;
	if (socket(AF_INET, SOCK_DGRAM, 0) >= 0 || errno != EAFNOSUPPORT)
		return 8;
	errno = 0;
	if (socket(AF_PACKET, SOCK_RAW, 0) >= 0 || errno != EAFNOSUPPORT)
		return 9;
	return 0;
}

/* It may still run a program (ip route) as root with what it kept. */
static int child_parent_exec(void)
{
	int status;
	pid_t pid;

	if (sandbox_parent_narrow() != 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd),
			 "grep -q '^CapEff:[[:space:]]*%016llx$' /proc/self/status",
			 (unsigned long long)SANDBOX_PARENT_CAPS);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 3;
	return WEXITSTATUS(status) == 0 ? 0 : 4;
}

static int child_parent_ptrace(void)
{
	if (sandbox_parent_narrow() != 0)
		return 1;
	(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 2;
}

static int child_parent_setuid(void)
{
	if (sandbox_parent_narrow() != 0)
		return 1;
	(void)setuid(65534);
	return 2;
}

static void test_parent_narrow(void **state)
{
	int fd;

	if (prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) != 1 || geteuid() != 0)
		skip();	/* needs root with CAP_SETPCAP */
	fd = mkstemp(other_key);
	assert_true(fd >= 0);
	assert_int_equal(fchown(fd, 65534, 65534), 0);
	assert_int_equal(fchmod(fd, 0600), 0);
	close(fd);
	assert_exit0(in_child(child_parent_caps));
	unlink(other_key);
	assert_exit0(in_child(child_parent_exec));
#ifndef SANDBOX_SANITIZER
	assert_sigsys(in_child(child_parent_ptrace));
#else
	assert_int_equal(in_child(child_parent_ptrace), 2 << 8);
#endif
	assert_sigsys(in_child(child_parent_setuid));
}

int main(void)
{
	/* A child's SIGSYS is expected; no core files for it. */
	const struct rlimit no_core = { 0, 0 };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_allowed),
		cmocka_unit_test(test_daemon_refused),
		cmocka_unit_test(test_daemon_kills),
		cmocka_unit_test(test_daemon_threads),
		cmocka_unit_test(test_daemon_modes),
		cmocka_unit_test(test_parent_narrow),
	};

	(void)setrlimit(RLIMIT_CORE, &no_core);
	unsetenv(SANDBOX_ENV);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
