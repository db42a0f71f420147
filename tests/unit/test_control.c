/*
 * test_control.c — the control socket (filter/control.c): what
 * control_open() and control_unlink() do to links, files and unsafe
 * directories at the socket's path, the socket's mode and group, many
 * idle clients beside a real request, and who is answered (SO_PEERCRED,
 * SO_PEERGROUPS).  The counters come from a stand-in daemon_snapshot().
 * Needs root (ownership, setuid children); skipped otherwise.
 */
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "../../filter/control.c"
#include "../../filter/log.c"
#include "../../filter/stats.c"

#define NOBODY		65534
#define TEST_GID	4242	/* a gid no account has: the control group */
#define IDLE_CLIENTS	20

/* ---- a stand-in for daemon.c ---------------------------------------- */

static unsigned snapshots;

int daemon_snapshot(struct daemon *d, struct stats_snapshot *s)
{
	(void)d;
	memset(s, 0, sizeof(*s));
	s->uptime_s = 42;
	snapshots++;
	return 0;
}

void daemon_snapshot_free(struct stats_snapshot *s)
{
	memset(s, 0, sizeof(*s));
}

/* ---- fixture: a fresh directory tree under /tmp --------------------- */

struct fixture {
	char base[64];		/* mkdtemp, root's, 0755 */
	char dir[96];		/* base/run: the socket's directory */
	char path[128];		/* base/run/control.sock */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->base, "/tmp/nfredact-control.XXXXXX");
	if (!mkdtemp(f->base) || chmod(f->base, 0755) < 0) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/run", f->base);
	snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
	control_group_name = "nfredact-test-no-such-group";
	*state = f;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	control_group_name = CONTROL_GROUP;
	return 0;
}

static void need_root(void)
{
	if (geteuid() != 0)
		skip();
}

/* A socket file nothing listens on, as a crashed daemon leaves it. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

static int client_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Send @req and read the answer until end of file, for at most
 * @limit_ms, as nfredact stats does.
 * Return: its length, or -errno (-ETIMEDOUT).
 */
static ssize_t ask(const char *path, const char *req, char *buf, size_t size,
		   int limit_ms)
{
	uint64_t end = now_ms() + (uint64_t)limit_ms;
	size_t got = 0;
	int fd = client_connect(path);

	if (fd < 0)
		return fd;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 && errno != EPIPE) {
		int err = -errno;

		close(fd);
		return err;
	}
	/* Without a newline, the end of file ends the request. */
	if (!strchr(req, '\n'))
		(void)shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t r;

		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0) {
			close(fd);
			return -ETIMEDOUT;
		}
		r = recv(fd, buf + got, size - 1 - got, 0);
		/* A reset after the answer still leaves the answer. */
		if (r <= 0 || got + (size_t)r >= size - 1) {
			if (r > 0)
				got += (size_t)r;
			break;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	return (ssize_t)got;
}

/*
 * In a child with the given credentials, ask for the stats.
 * Return: 0 counters came, 1 CONTROL_ERR_AUTH came, 2 the connection
 * itself failed, 3 anything else.
 */
static int ask_as(const char *path, uid_t uid, gid_t gid,
		  const gid_t *groups, size_t n_groups)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[8192];
		ssize_t n;

		if (setgroups(n_groups, groups) < 0 || setgid(gid) < 0 ||
		    setuid(uid) < 0)
			_exit(4);
		n = ask(path, CONTROL_REQ_STATS, buf, sizeof(buf), 1500);
		if (n < 0)
			_exit(2);
		if (!strcmp(buf, CONTROL_ERR_AUTH))
			_exit(1);
		_exit(strstr(buf, "uptime_seconds 42\n") ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The name of some group other than root's, or NULL. */
static char *other_group(void)
{
	struct group *gr;
	char *name = NULL;

	setgrent();
	while ((gr = getgrent()) && !name)
		if (gr->gr_gid != 0)
			name = strdup(gr->gr_name);
	endgrent();
	return name;
}

static void start(struct daemon *d, int fd)
{
	memset(d, 0, sizeof(*d));
	d->control_fd = fd;
	assert_int_equal(control_start(d), 0);
}

static void stop(struct daemon *d)
{
	atomic_store(&d->stop, true);
	control_join(d);
	close(d->control_fd);
}

/* ---- the socket's path ---------------------------------------------- */

/* A link at the path to root's file: refused, and the file untouched. */
static void test_symlink_at_path(void **state)
{
	struct fixture *f = *state;
	char target[128], sock[128], *grp;
	struct stat before, after, st;
	int fd;

	need_root();
	/* With a group to give, a followed link would change the target's. */
	grp = other_group();
	if (grp)
		control_group_name = grp;
	assert_int_equal(mkdir(f->dir, 0755), 0);
	snprintf(target, sizeof(target), "%s/shadow", f->base);
	fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret\n", 7), 7);
	close(fd);
	assert_int_equal(stat(target, &before), 0);
	assert_int_equal(symlink(target, f->path), 0);

	assert_int_equal(control_open(f->path), -EEXIST);
	assert_int_equal(stat(target, &after), 0);
	assert_int_equal(after.st_uid, before.st_uid);
	assert_int_equal(after.st_gid, before.st_gid);
	assert_int_equal(after.st_mode, before.st_mode);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(control_unlink(f->path), -ENOTSOCK);
	assert_int_equal(lstat(f->path, &st), 0);

	/* A link to a stale socket is still a link: left alone. */
	assert_int_equal(unlink(f->path), 0);
	snprintf(sock, sizeof(sock), "%s/elsewhere.sock", f->base);
	make_stale_socket(sock);
	assert_int_equal(symlink(sock, f->path), 0);
	assert_int_equal(control_open(f->path), -EEXIST);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(stat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	/* A regular file too. */
	assert_int_equal(unlink(f->path), 0);
	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(control_open(f->path), -EEXIST);
	assert_int_equal(control_unlink(f->path), -ENOTSOCK);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	free(grp);
}

/* A stale socket is replaced, a live one is not; the mode and group. */
static void test_socket_replaced(void **state)
{
	struct fixture *f = *state;
	struct group *gr;
	struct stat st;
	char *grp;
	int fd;

	need_root();
	/* Missing directory: made 0755, root's. */
	fd = control_open(f->path);
	assert_true(fd >= 0);
	assert_int_equal(lstat(f->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_uid, 0);
	/* No such group: root's alone. */
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, 0);

	/* Someone accepts on it: it stays. */
	assert_int_equal(control_open(f->path), -EADDRINUSE);
	assert_int_equal(control_unlink(f->path), -EADDRINUSE);
	assert_int_equal(lstat(f->path, &st), 0);
	close(fd);

	/* Stale now: replaced, with the group's mode when there is one. */
	grp = other_group();
	if (grp)
		control_group_name = grp;
	fd = control_open(f->path);
	assert_true(fd >= 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_uid, 0);
	if (grp) {
		gr = getgrnam(grp);
		assert_non_null(gr);
		assert_int_equal(st.st_mode & 07777, 0660);
		assert_int_equal(st.st_gid, gr->gr_gid);
	}
	close(fd);

	assert_int_equal(control_unlink(f->path), 0);
	assert_int_equal(lstat(f->path, &st), -1);
	assert_int_equal(control_unlink(f->path), 0);

	make_stale_socket(f->path);
	fd = control_open(f->path);
	assert_true(fd >= 0);
	close(fd);
	free(grp);
}

/* Directories another user could change are refused. */
static void test_unsafe_directory(void **state)
{
	struct fixture *f = *state;
	char real[128];
	struct stat st;

	need_root();
	assert_int_equal(mkdir(f->dir, 0755), 0);
	assert_int_equal(chown(f->dir, NOBODY, NOBODY), 0);
	assert_int_equal(control_open(f->path), -EPERM);
	assert_int_equal(lstat(f->path, &st), -1);
	/* Still the other user's: nothing was given to root or changed. */
	assert_int_equal(lstat(f->dir, &st), 0);
	assert_int_equal(st.st_uid, NOBODY);
	assert_int_equal(st.st_mode & 07777, 0755);

	assert_int_equal(chown(f->dir, 0, 0), 0);
	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_int_equal(control_open(f->path), -EPERM);
	assert_int_equal(chmod(f->dir, 01777), 0);
	assert_int_equal(control_open(f->path), -EPERM);
	assert_int_equal(chmod(f->dir, 0775), 0);
	assert_int_equal(control_open(f->path), -EPERM);
	assert_int_equal(control_unlink(f->path), -EPERM);
	assert_int_equal(lstat(f->path, &st), -1);

	/* The directory a link to a good one: refused too. */
	assert_int_equal(rmdir(f->dir), 0);
	snprintf(real, sizeof(real), "%s/real", f->base);
	assert_int_equal(mkdir(real, 0755), 0);
	assert_int_equal(symlink(real, f->dir), 0);
	assert_int_equal(control_open(f->path), -EPERM);
	assert_int_equal(lstat(f->dir, &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	/* Not a directory. */
	assert_int_equal(unlink(f->dir), 0);
	assert_int_equal(close(open(f->dir, O_WRONLY | O_CREAT, 0600)), 0);
	assert_int_equal(control_open(f->path), -ENOTDIR);

	assert_int_equal(control_open(f->dir), -EEXIST);
	assert_int_equal(control_open("/tmp/"), -EINVAL);
}

/* ---- serving -------------------------------------------------------- */

/* Idle clients cost a slot each; a real request is still answered. */
static void test_idle_clients(void **state)
{
	struct fixture *f = *state;
	int idle[IDLE_CLIENTS];
	struct daemon d;
	char buf[8192];
	uint64_t t0, took;
	ssize_t n;

	need_root();
	start(&d, control_open(f->path));
	for (int i = 0; i < IDLE_CLIENTS; i++) {
		idle[i] = client_connect(f->path);
		assert_true(idle[i] >= 0);
	}
	t0 = now_ms();
	n = ask(f->path, CONTROL_REQ_STATS, buf, sizeof(buf), 1500);
	took = now_ms() - t0;
	assert_true(n > 0);
	assert_non_null(strstr(buf, "uptime_seconds 42\n"));
	assert_true(took < 1500);
	/* 21 clients, 16 slots: the 5 oldest idle ones were closed. */
	assert_non_null(strstr(buf, "control.dropped 5\n"));
	assert_non_null(strstr(buf, "control.refused 0\n"));

	n = ask(f->path, CONTROL_REQ_PROMETHEUS, buf, sizeof(buf), 1500);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "nfredact_control_dropped_total 5\n"));
	n = ask(f->path, "help\n", buf, sizeof(buf), 1500);
	assert_string_equal(buf, "error: unknown request\n");
	/* No newline before the client's end of file: the same request. */
	n = ask(f->path, "stats", buf, sizeof(buf), 1500);
	assert_non_null(strstr(buf, "uptime_seconds 42\n"));

	/* The idle ones are cut off at their deadline, not left hanging. */
	for (int i = 0; i < IDLE_CLIENTS; i++) {
		struct pollfd p = { .fd = idle[i], .events = POLLIN };

		assert_int_equal(poll(&p, 1, CONTROL_DEADLINE_MS + 1000), 1);
		assert_true(recv(idle[i], buf, sizeof(buf), MSG_DONTWAIT) <= 0);
		close(idle[i]);
	}
	stop(&d);
	assert_true(d.control_dropped >= IDLE_CLIENTS);
}

/* Root and the group are answered; anyone else is refused and counted. */
static void test_peer_credentials(void **state)
{
	struct fixture *f = *state;
	const gid_t member[] = { 100, TEST_GID }, other[] = { 100 };
	struct daemon d;
	char buf[8192];
	ssize_t n;
	int fd;

	need_root();
	fd = control_open(f->path);
	assert_true(fd >= 0);
	/* Let the file mode admit anyone: only the peer check is left. */
	assert_int_equal(chmod(f->path, 0666), 0);
	control_have_gid = true;
	control_gid = TEST_GID;
	start(&d, fd);

	assert_int_equal(ask_as(f->path, NOBODY, NOBODY, NULL, 0), 1);
	assert_int_equal(ask_as(f->path, NOBODY, NOBODY, other, 1), 1);
	assert_int_equal(ask_as(f->path, 0, 0, NULL, 0), 0);
	assert_int_equal(ask_as(f->path, NOBODY, TEST_GID, NULL, 0), 0);
	assert_int_equal(ask_as(f->path, NOBODY, NOBODY, member, 2), 0);
	n = ask(f->path, CONTROL_REQ_STATS, buf, sizeof(buf), 1500);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "control.refused 2\n"));

	/* No group: root alone. */
	control_have_gid = false;
	assert_int_equal(ask_as(f->path, NOBODY, TEST_GID, NULL, 0), 1);
	assert_int_equal(ask_as(f->path, NOBODY, NOBODY, member, 2), 1);
	assert_int_equal(ask_as(f->path, 0, 0, NULL, 0), 0);
	stop(&d);
	assert_int_equal(d.control_refused, 4);
	assert_int_equal(d.control_dropped, 0);

	/* With the mode control_open() gave it, the file system refuses. */
	fd = control_open(f->path);
	assert_true(fd >= 0);
	start(&d, fd);
	assert_int_equal(ask_as(f->path, NOBODY, NOBODY, NULL, 0), 2);
	assert_int_equal(ask_as(f->path, 0, 0, NULL, 0), 0);
	stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_symlink_at_path, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_socket_replaced, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_directory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_idle_clients, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_credentials, setup,
						teardown),
	};

	log_init("test_control", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
