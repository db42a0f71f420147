/*
 * test_key.c — master key files (the checks on the file and its
 * directory, the opener hook), epoch key derivation and erasure, the
 * keyed PRF.  Cases that chown need root and are skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "key.h"
#include "keydir.h"
#include "policy.h"

/* A file of @len bytes with mode @mode (after umask, fixed by chmod). */
static void make_file(const char *path, size_t len, mode_t mode)
{
	uint8_t buf[64];
	int fd;

	assert_true(len <= sizeof(buf));
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_kdf_deterministic(void **state)
{
	char path[PATH_MAX];
	struct keyring *a, *b;
	uint8_t k5a[KEY_LEN], k5b[KEY_LEN], k6[KEY_LEN];

	path_in_tmp(path, sizeof(path), "kdf.key");
	make_file(path, KEY_LEN, 0600);
	a = keyring_load(path, 86400, NULL);
	b = keyring_load(path, 3600, NULL);
	assert_non_null(a);
	assert_non_null(b);
	memcpy(k5a, keyring_epoch_key(a, 5), KEY_LEN);
	memcpy(k6, keyring_epoch_key(a, 6), KEY_LEN);
	memcpy(k5b, keyring_epoch_key(b, 5), KEY_LEN);
	/* same master and epoch: same key, whatever the epoch length */
	assert_memory_equal(k5a, k5b, KEY_LEN);
	assert_memory_not_equal(k5a, k6, KEY_LEN);
	/* cached: asking again gives the same bytes */
	assert_memory_equal(keyring_epoch_key(a, 6), k6, KEY_LEN);
	assert_memory_equal(keyring_epoch_key(a, 5), k5a, KEY_LEN);
	keyring_free(a);
	keyring_free(b);
}

static void test_random_and_clone(void **state)
{
	struct keyring *a = keyring_random(60), *b = keyring_random(60);
	struct keyring *c;
	uint8_t ka[KEY_LEN];

	assert_non_null(a);
	assert_non_null(b);
	memcpy(ka, keyring_epoch_key(a, 1), KEY_LEN);
	assert_memory_not_equal(ka, keyring_epoch_key(b, 1), KEY_LEN);
	c = keyring_clone(a, 0);
	assert_non_null(c);
	assert_memory_equal(ka, keyring_epoch_key(c, 1), KEY_LEN);
	assert_int_equal(keyring_epoch(c, 1234567), 0);
	keyring_free(a);
	keyring_free(b);
	keyring_free(c);
	keyring_free(NULL);
}

static void test_epoch_number(void **state)
{
	struct keyring *kr = keyring_random(86400);

	assert_non_null(kr);
	assert_int_equal(keyring_epoch(kr, 0), 0);
	assert_int_equal(keyring_epoch(kr, 86399), 0);
	assert_int_equal(keyring_epoch(kr, 86400), 1);
	assert_int_equal(keyring_epoch(kr, 1700000000), 1700000000 / 86400);
	keyring_free(kr);
}

/*
 * The cache must never hold the key of an epoch older than the previous
 * one: after moving to epoch 12, the memory that held epoch 10's key is
 * wiped (checked through the pointer, which stays inside the keyring).
 */
static void test_epoch_erasure(void **state)
{
	struct keyring *kr = keyring_random(1);
	const uint8_t *p10, *p11, *p12;
	uint8_t k10[KEY_LEN], k11[KEY_LEN], zero[KEY_LEN] = { 0 };

	assert_non_null(kr);
	p10 = keyring_epoch_key(kr, 10);
	memcpy(k10, p10, KEY_LEN);
	p11 = keyring_epoch_key(kr, 11);
	memcpy(k11, p11, KEY_LEN);
	assert_memory_equal(p10, k10, KEY_LEN);	/* previous epoch kept */
	p12 = keyring_epoch_key(kr, 12);
	assert_memory_not_equal(k10, zero, KEY_LEN);
	/* epoch 10's memory was wiped (and may now hold epoch 12's key) */
	assert_memory_not_equal(p10, k10, KEY_LEN);
	assert_memory_equal(p11, k11, KEY_LEN);	/* epoch 11 kept */
	assert_memory_not_equal(p12, zero, KEY_LEN);
	/* an old epoch can be derived again but does not stay */
	{
		const uint8_t *old = keyring_epoch_key(kr, 10);

		assert_memory_equal(old, k10, KEY_LEN);
		assert_true(old != p12 && old != p11);
		(void)keyring_epoch_key(kr, 12);
		assert_memory_equal(old, zero, KEY_LEN);
		(void)keyring_epoch_key(kr, 13);
		assert_memory_not_equal(p11, k11, KEY_LEN);
		assert_memory_not_equal(p12, zero, KEY_LEN);
	}
	keyring_free(kr);
}

static void test_prf(void **state)
{
	uint8_t key[KEY_LEN], key2[KEY_LEN];
	uint8_t a[200], b[200], c[64];
	const char in[] = "198.51.100.7";

	memset(key, 0x11, sizeof(key));
	memset(key2, 0x11, sizeof(key2));
	key2[31] ^= 1;
	key_prf(key, 1, in, strlen(in), a, 32);
	key_prf(key, 1, in, strlen(in), b, 32);
	assert_memory_equal(a, b, 32);
	key_prf(key, 2, in, strlen(in), b, 32);	/* domain separation */
	assert_memory_not_equal(a, b, 32);
	key_prf(key2, 1, in, strlen(in), b, 32);	/* keyed */
	assert_memory_not_equal(a, b, 32);
	key_prf(key, 1, in, strlen(in) - 1, b, 32);	/* input */
	assert_memory_not_equal(a, b, 32);

	/* short outputs: deterministic, any length */
	memset(c, 0, sizeof(c));
	key_prf(key, 1, in, strlen(in), c, 3);
	key_prf(key, 1, in, strlen(in), b, 3);
	assert_memory_equal(c, b, 3);
	assert_int_equal(c[3], 0);	/* nothing written past outlen */

	/* long outputs: counter mode, deterministic, blocks differ */
	memset(a, 0xaa, sizeof(a));
	key_prf(key, 1, in, strlen(in), a, 150);
	key_prf(key, 1, in, strlen(in), b, 150);
	assert_memory_equal(a, b, 150);
	assert_memory_not_equal(a, a + 64, 64);
	assert_int_equal(a[150], 0xaa);
	/* a long output is a prefix of a longer one */
	key_prf(key, 1, in, strlen(in), b, 200);
	assert_memory_equal(a, b, 150);
}

#define OTHER_UID ((uid_t)65534)
#define OTHER_GID ((gid_t)65534)
#define SECRET "SECRETSECRETSECRETSECRETSECRET!!"	/* 32 bytes */

/* A file holding @len bytes of SECRET (repeated), mode @mode. */
static void make_secret_file(const char *path, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(write(fd, &SECRET[i % 32], 1), 1);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static bool is_root(void)
{
	return geteuid() == 0;
}

/* Every way of opening a key file agrees: rc, and the same reason. */
static void expect_key(const char *path, uid_t allowed, int rc,
		       const char *reason)
{
	const char *why = "untouched";
	struct keyring *kr;
	int fd;

	key_set_allowed_uid(allowed);
	assert_int_equal(key_file_check(path, &why), rc);
	if (rc) {
		assert_non_null(why);
		assert_string_equal(why, reason);
		assert_null(strstr(why, "SECRET"));
	}
	why = NULL;
	fd = key_file_open(path, allowed, &why);
	if (rc) {
		assert_int_equal(fd, rc);
		assert_string_equal(why, reason);
	} else {
		assert_true(fd >= 0);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}
	why = NULL;
	kr = keyring_load(path, 0, &why);
	if (rc) {
		assert_null(kr);
		assert_int_equal(errno, -rc);
		assert_string_equal(why, reason);
	} else {
		assert_non_null(kr);
		keyring_free(kr);
	}
	key_set_allowed_uid(KEY_UID_NONE);
}

enum file_kind { F_FILE, F_MISSING, F_DIR, F_FIFO, F_SYMLINK };

static const struct file_case {
	const char *name;
	enum file_kind kind;
	size_t len;
	mode_t mode;
	uid_t owner;		/* KEY_UID_NONE: the test's own */
	uid_t allowed;
	int rc;
	const char *why;
} file_cases[] = {
	{ "good.key", F_FILE, 32, 0600, KEY_UID_NONE, KEY_UID_NONE, 0, NULL },
	{ "ro.key", F_FILE, 32, 0400, KEY_UID_NONE, KEY_UID_NONE, 0, NULL },
	{ "missing.key", F_MISSING, 0, 0, KEY_UID_NONE, KEY_UID_NONE,
	  -ENOENT, "no such file" },
	{ "short.key", F_FILE, 31, 0600, KEY_UID_NONE, KEY_UID_NONE,
	  -EINVAL, "not exactly 32 bytes long, nor a ratchet state" },
	{ "long.key", F_FILE, 33, 0600, KEY_UID_NONE, KEY_UID_NONE,
	  -EINVAL, "not exactly 32 bytes long, nor a ratchet state" },
	{ "empty.key", F_FILE, 0, 0600, KEY_UID_NONE, KEY_UID_NONE,
	  -EINVAL, "not exactly 32 bytes long, nor a ratchet state" },
	{ "g.key", F_FILE, 32, 0640, KEY_UID_NONE, KEY_UID_NONE,
	  -EPERM, "readable or writable by group or others (chmod 600)" },
	{ "o.key", F_FILE, 32, 0604, KEY_UID_NONE, KEY_UID_NONE,
	  -EPERM, "readable or writable by group or others (chmod 600)" },
	{ "gw.key", F_FILE, 32, 0660, KEY_UID_NONE, KEY_UID_NONE,
	  -EPERM, "readable or writable by group or others (chmod 600)" },
	{ "gx.key", F_FILE, 32, 0610, KEY_UID_NONE, KEY_UID_NONE,
	  -EPERM, "executable by group or others (chmod 600)" },
	{ "ox.key", F_FILE, 32, 0601, KEY_UID_NONE, KEY_UID_NONE,
	  -EPERM, "executable by group or others (chmod 600)" },
	{ "dir.key", F_DIR, 0, 0700, KEY_UID_NONE, KEY_UID_NONE,
	  -EINVAL, "not a regular file" },
	{ "fifo.key", F_FIFO, 0, 0600, KEY_UID_NONE, KEY_UID_NONE,
	  -EINVAL, "not a regular file" },
	{ "link.key", F_SYMLINK, 32, 0600, KEY_UID_NONE, KEY_UID_NONE,
	  -ELOOP, "is a symbolic link" },
	{ "theirs.key", F_FILE, 32, 0600, OTHER_UID, KEY_UID_NONE,
	  -EPERM, "owned by another user (chown root)" },
	{ "daemon.key", F_FILE, 32, 0600, OTHER_UID, OTHER_UID, 0, NULL },
	{ "daemon-open.key", F_FILE, 32, 0640, OTHER_UID, OTHER_UID,
	  -EPERM, "readable or writable by group or others (chmod 600)" },
};

static void test_file_cases(void **state)
{
	char path[PATH_MAX], target[PATH_MAX + 8];

	for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
		const struct file_case *c = &file_cases[i];

		if (c->owner != KEY_UID_NONE && !is_root()) {
			print_message("skipped %s: chown needs root\n", c->name);
			continue;
		}
		path_in_tmp(path, sizeof(path), c->name);
		switch (c->kind) {
		case F_FILE:
			make_secret_file(path, c->len, c->mode);
			break;
		case F_MISSING:
			break;
		case F_DIR:
			assert_int_equal(mkdir(path, c->mode), 0);
			break;
		case F_FIFO:
			assert_int_equal(mkfifo(path, c->mode), 0);
			break;
		case F_SYMLINK:
			/* to a key that is fine in itself */
			snprintf(target, sizeof(target), "%s.target", path);
			make_secret_file(target, c->len, c->mode);
			assert_int_equal(symlink(target, path), 0);
			break;
		}
		if (c->owner != KEY_UID_NONE)
			assert_int_equal(chown(path, c->owner, (gid_t)-1), 0);
		print_message("case %s\n", c->name);
		expect_key(path, c->allowed, c->rc, c->why);
	}
}

static const struct dir_case {
	const char *name;
	mode_t mode;
	uid_t owner;		/* KEY_UID_NONE: the test's own */
	gid_t group;		/* (gid_t)-1: as made */
	uid_t allowed;
	int rc;
	const char *why;
} dir_cases[] = {
	{ "d700", 0700, KEY_UID_NONE, (gid_t)-1, KEY_UID_NONE, 0, NULL },
	{ "d755", 0755, KEY_UID_NONE, (gid_t)-1, KEY_UID_NONE, 0, NULL },
	{ "d777", 0777, KEY_UID_NONE, (gid_t)-1, KEY_UID_NONE,
	  -EPERM, "in a directory writable by others" },
	{ "d1777", 01777, KEY_UID_NONE, (gid_t)-1, KEY_UID_NONE,
	  -EPERM, "in a directory writable by others" },
	{ "d703", 0703, KEY_UID_NONE, (gid_t)-1, KEY_UID_NONE,
	  -EPERM, "in a directory writable by others" },
	{ "d770-root", 0770, KEY_UID_NONE, 0, KEY_UID_NONE, 0, NULL },
	{ "d770-other", 0770, KEY_UID_NONE, OTHER_GID, KEY_UID_NONE,
	  -EPERM, "in a directory writable by a group other than root's" },
	{ "d750-other", 0750, KEY_UID_NONE, OTHER_GID, KEY_UID_NONE, 0, NULL },
	{ "d700-theirs", 0700, OTHER_UID, (gid_t)-1, KEY_UID_NONE,
	  -EPERM, "in a directory owned by another user" },
	{ "d700-daemon", 0700, OTHER_UID, (gid_t)-1, OTHER_UID, 0, NULL },
	{ "d777-daemon", 0777, OTHER_UID, (gid_t)-1, OTHER_UID,
	  -EPERM, "in a directory writable by others" },
};

static void test_dir_cases(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 8];

	for (size_t i = 0; i < sizeof(dir_cases) / sizeof(dir_cases[0]); i++) {
		const struct dir_case *c = &dir_cases[i];

		if ((c->owner != KEY_UID_NONE || c->group != (gid_t)-1) &&
		    !is_root()) {
			print_message("skipped %s: chown needs root\n", c->name);
			continue;
		}
		path_in_tmp(dir, sizeof(dir), c->name);
		assert_int_equal(mkdir(dir, 0700), 0);
		snprintf(path, sizeof(path), "%s/k", dir);
		make_secret_file(path, 32, 0600);
		assert_int_equal(chown(dir, c->owner, c->group), 0);
		assert_int_equal(chmod(dir, c->mode), 0);
		print_message("case %s\n", c->name);
		expect_key(path, c->allowed, c->rc, c->why);
	}
}

/* Paths: the directory is the last one named, links above it are fine. */
static void test_key_paths(void **state)
{
	char dir[PATH_MAX], link[PATH_MAX], path[PATH_MAX + 8];
	char longpath[PATH_MAX + 64];
	int cwd;

	path_in_tmp(dir, sizeof(dir), "real");
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/k", dir);
	make_secret_file(path, 32, 0600);
	path_in_tmp(link, sizeof(link), "via-link");
	assert_int_equal(symlink(dir, link), 0);
	snprintf(path, sizeof(path), "%s/k", link);
	expect_key(path, KEY_UID_NONE, 0, NULL);

	/* a symbolic link to a directory others may write: its target counts */
	path_in_tmp(dir, sizeof(dir), "open");
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/k", dir);
	make_secret_file(path, 32, 0600);
	assert_int_equal(chmod(dir, 0777), 0);
	path_in_tmp(link, sizeof(link), "to-open");
	assert_int_equal(symlink(dir, link), 0);
	snprintf(path, sizeof(path), "%s/k", link);
	expect_key(path, KEY_UID_NONE, -EPERM,
		   "in a directory writable by others");

	/* a name without a slash: the current directory is checked */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(cwd >= 0);
	assert_int_equal(chdir(dir), 0);
	expect_key("k", KEY_UID_NONE, -EPERM,
		   "in a directory writable by others");
	assert_int_equal(chmod(".", 0700), 0);
	expect_key("k", KEY_UID_NONE, 0, NULL);
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);

	path_in_tmp(path, sizeof(path), "nodir/k");
	expect_key(path, KEY_UID_NONE, -ENOENT, "no such directory");
	path_in_tmp(path, sizeof(path), "real/k/x");
	expect_key(path, KEY_UID_NONE, -ENOTDIR,
		   "a component of the path is not a directory");
	path_in_tmp(path, sizeof(path), "real/");
	expect_key(path, KEY_UID_NONE, -EINVAL, "not a regular file");
	expect_key("", KEY_UID_NONE, -EINVAL, "no key file name");
	memset(longpath, 'a', sizeof(longpath) - 3);
	memcpy(longpath + sizeof(longpath) - 3, "/k", 3);
	expect_key(longpath, KEY_UID_NONE, -ENAMETOOLONG, "path too long");
}

/* What the opener hook is told, what it hands back, what happened. */
struct opener {
	const char *target;	/* the file it opens, whatever is asked */
	int flags;
	off_t seek;
	int rc;			/* < 0: fail with this */
	const char *why;
	unsigned calls;
	char asked[PATH_MAX];
	int fd;
};

static int test_opener(const char *path, const char **why, void *ctx)
{
	struct opener *o = ctx;

	o->calls++;
	snprintf(o->asked, sizeof(o->asked), "%s", path);
	if (o->rc < 0) {
		if (o->why)
			*why = o->why;
		return o->rc;
	}
	o->fd = open(o->target, o->flags | O_CLOEXEC);
	if (o->fd < 0)
		return -errno;
	if (o->seek)
		assert_int_equal(lseek(o->fd, o->seek, SEEK_SET), o->seek);
	return o->fd;
}

static int reset_key_settings(void **state)
{
	keyring_set_opener(NULL, NULL);
	key_set_allowed_uid(KEY_UID_NONE);
	return 0;
}

/* The library closed the descriptor it was given. */
static void assert_closed(int fd)
{
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

static void test_opener_used(void **state)
{
	char asked[PATH_MAX], other[PATH_MAX], bad[PATH_MAX];
	struct opener o = { .flags = O_RDONLY };
	uint8_t want[KEY_LEN];
	struct keyring *kr;
	const char *why;

	/* the opener's file, loaded the ordinary way, for comparison */
	path_in_tmp(other, sizeof(other), "opener-other.key");
	make_file(other, KEY_LEN, 0600);
	kr = keyring_load(other, 0, NULL);
	assert_non_null(kr);
	memcpy(want, keyring_epoch_key(kr, 3), KEY_LEN);
	keyring_free(kr);

	/* asked for a file that does not exist, it hands over another one */
	path_in_tmp(asked, sizeof(asked), "opener-absent.key");
	o.target = other;
	keyring_set_opener(test_opener, &o);
	kr = keyring_load(asked, 0, &why);
	assert_non_null(kr);
	assert_memory_equal(keyring_epoch_key(kr, 3), want, KEY_LEN);
	keyring_free(kr);
	assert_int_equal(o.calls, 1);
	assert_string_equal(o.asked, asked);
	assert_closed(o.fd);
	why = "untouched";
	assert_int_equal(key_file_check(asked, &why), 0);
	assert_int_equal(o.calls, 2);
	assert_closed(o.fd);

	/* its descriptor's offset does not matter */
	o.seek = KEY_LEN;
	kr = keyring_load(asked, 0, NULL);
	assert_non_null(kr);
	assert_memory_equal(keyring_epoch_key(kr, 3), want, KEY_LEN);
	keyring_free(kr);
	o.seek = 0;

	/* owner and directory are the opener's to check, not the library's */
	if (is_root()) {
		assert_int_equal(chown(other, OTHER_UID, OTHER_GID), 0);
		assert_int_equal(key_file_check(asked, &why), 0);
	}

	/* what the descriptor shows is checked again */
	path_in_tmp(bad, sizeof(bad), "opener-open.key");
	make_secret_file(bad, KEY_LEN, 0644);
	o.target = bad;
	why = NULL;
	assert_int_equal(key_file_check(asked, &why), -EPERM);
	assert_string_equal(why,
			    "readable or writable by group or others (chmod 600)");
	assert_closed(o.fd);
	why = NULL;
	assert_null(keyring_load(asked, 0, &why));
	assert_int_equal(errno, EPERM);
	assert_string_equal(why,
			    "readable or writable by group or others (chmod 600)");
	assert_closed(o.fd);

	make_secret_file(bad, KEY_LEN - 1, 0600);
	assert_int_equal(key_file_check(asked, &why), -EINVAL);
	assert_string_equal(why, "not exactly 32 bytes long, nor a ratchet state");
	assert_null(keyring_load(asked, 0, &why));
	assert_string_equal(why, "not exactly 32 bytes long, nor a ratchet state");

	o.target = tmpdir;
	o.flags = O_RDONLY | O_DIRECTORY;
	assert_int_equal(key_file_check(asked, &why), -EINVAL);
	assert_string_equal(why, "not a regular file");
	assert_null(keyring_load(asked, 0, &why));
	assert_int_equal(errno, EINVAL);
	assert_closed(o.fd);
}

static void test_opener_refuses(void **state)
{
	struct opener o = { .rc = -EACCES, .why = "refused by the parent" };
	struct keyring *kr;
	const char *why;

	keyring_set_opener(test_opener, &o);
	why = NULL;
	assert_int_equal(key_file_check("/etc/nfredact/key", &why), -EACCES);
	assert_string_equal(why, "refused by the parent");
	why = NULL;
	kr = keyring_load("/etc/nfredact/key", 0, &why);
	assert_null(kr);
	assert_int_equal(errno, EACCES);
	assert_string_equal(why, "refused by the parent");
	assert_string_equal(o.asked, "/etc/nfredact/key");

	/* no reason given: the errno is named */
	o.why = NULL;
	why = NULL;
	assert_int_equal(key_file_check("/etc/nfredact/key", &why), -EACCES);
	assert_string_equal(why, "permission denied");

	/* back to opening files itself */
	keyring_set_opener(NULL, NULL);
	o.calls = 0;
	assert_int_equal(key_file_check("/nonexistent-dir/k", &why), -ENOENT);
	assert_int_equal(o.calls, 0);
}

static bool diags_mention(const struct diag_list *dl, const char *s)
{
	for (size_t i = 0; i < dl->n; i++)
		if (strstr(dl->v[i].msg, s))
			return true;
	return false;
}

/* policy_load*() checks and loads the key through the opener. */
static void test_opener_policy(void **state)
{
	const char *text = "key k.key\nservice a {\n listen tcp 1\n}\n";
	char name[PATH_MAX], other[PATH_MAX];
	struct opener o = { .flags = O_RDONLY };
	struct diag_list *dl = NULL;
	struct ruleset *rs;

	path_in_tmp(name, sizeof(name), "policy.conf");
	path_in_tmp(other, sizeof(other), "policy-other.key");
	make_file(other, KEY_LEN, 0600);
	o.target = other;
	keyring_set_opener(test_opener, &o);
	rs = policy_load_string(name, text, NULL, &dl);
	assert_non_null(rs);
	assert_int_equal(dl->errors, 0);
	assert_int_equal(o.calls, 2);	/* check, then compile */
	path_in_tmp(name, sizeof(name), "k.key");
	assert_string_equal(o.asked, name);
	policy_free(rs);
	diag_list_free(dl);

	o.rc = -EACCES;
	o.why = "refused by the parent";
	path_in_tmp(name, sizeof(name), "policy.conf");
	rs = policy_load_string(name, text, NULL, &dl);
	assert_null(rs);
	assert_true(diags_mention(dl,
				  "key file \"k.key\": refused by the parent"));
	diag_list_free(dl);
}

/* No refusal, wherever it is reported, carries a byte of the key. */
static void test_no_key_bytes(void **state)
{
	static const struct {
		const char *name;
		size_t len;
		mode_t mode, dir_mode;
	} cases[] = {
		{ "s-open", 32, 0644, 0700 },
		{ "s-long", 40, 0600, 0700 },
		{ "s-short", 20, 0600, 0700 },
		{ "s-dir", 32, 0600, 0777 },
	};
	char dir[PATH_MAX], path[PATH_MAX + 8], conf[PATH_MAX + 16];
	struct diag_list *dl;
	const char *why;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path_in_tmp(dir, sizeof(dir), cases[i].name);
		assert_int_equal(mkdir(dir, 0700), 0);
		snprintf(path, sizeof(path), "%s/k", dir);
		snprintf(conf, sizeof(conf), "%s/p.conf", dir);
		make_secret_file(path, cases[i].len, cases[i].mode);
		assert_int_equal(chmod(dir, cases[i].dir_mode), 0);
		why = NULL;
		assert_true(key_file_check(path, &why) < 0);
		assert_null(strstr(why, "SECRET"));
		why = NULL;
		assert_null(keyring_load(path, 0, &why));
		assert_null(strstr(why, "SECRET"));
		dl = NULL;
		assert_null(policy_load_string(conf,
					       "key k\nservice a {\n listen tcp 1\n}\n",
					       NULL, &dl));
		assert_true(dl->errors > 0);
		for (size_t k = 0; k < dl->n; k++) {
			assert_null(strstr(dl->v[k].msg, "SECRET"));
			assert_null(strstr(dl->v[k].msg, "ECRETS"));
		}
		diag_list_free(dl);
	}
}

static void test_keygen(void **state)
{
	char path[PATH_MAX];
	uint8_t first[KEY_LEN], again[KEY_LEN];
	struct keyring *a, *b;
	struct stat st;
	const char *why;
	mode_t old = umask(0);	/* keygen must not obey a permissive umask */

	path_in_tmp(path, sizeof(path), "new.key");
	assert_int_equal(policy_keygen(path), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, KEY_LEN);
	assert_int_equal(key_file_check(path, &why), 0);

	a = keyring_load(path, 0, NULL);
	assert_non_null(a);
	memcpy(first, keyring_epoch_key(a, 0), KEY_LEN);

	/* refuses to overwrite: the key stays the same */
	assert_int_equal(policy_keygen(path), -EEXIST);
	assert_int_equal(key_write_new(path), -EEXIST);
	b = keyring_load(path, 0, NULL);
	assert_non_null(b);
	memcpy(again, keyring_epoch_key(b, 0), KEY_LEN);
	assert_memory_equal(first, again, KEY_LEN);

	/* two new keys differ */
	path_in_tmp(path, sizeof(path), "new2.key");
	assert_int_equal(key_write_new(path), 0);
	keyring_free(b);
	b = keyring_load(path, 0, NULL);
	assert_non_null(b);
	assert_memory_not_equal(first, keyring_epoch_key(b, 0), KEY_LEN);
	keyring_free(a);
	keyring_free(b);

	path_in_tmp(path, sizeof(path), "nodir/x.key");
	assert_int_equal(key_write_new(path), -ENOENT);

	/* never through a symbolic link, never where the loader refuses */
	path_in_tmp(path, sizeof(path), "new.key.link");
	assert_int_equal(symlink("new3.key", path), 0);
	assert_int_equal(key_write_new(path), -EEXIST);
	path_in_tmp(path, sizeof(path), "new3.key");
	assert_int_equal(access(path, F_OK), -1);
	path_in_tmp(path, sizeof(path), "keygen-open");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, 0777), 0);
	path_in_tmp(path, sizeof(path), "keygen-open/x.key");
	assert_int_equal(key_write_new(path), -EPERM);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_wipe(void **state)
{
	uint8_t buf[16];

	memset(buf, 0x5a, sizeof(buf));
	key_wipe(buf, 8);
	assert_int_equal(buf[0], 0);
	assert_int_equal(buf[7], 0);
	assert_int_equal(buf[8], 0x5a);
	key_wipe(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kdf_deterministic),
		cmocka_unit_test(test_random_and_clone),
		cmocka_unit_test(test_epoch_number),
		cmocka_unit_test(test_epoch_erasure),
		cmocka_unit_test(test_prf),
		cmocka_unit_test(test_file_cases),
		cmocka_unit_test(test_dir_cases),
		cmocka_unit_test(test_key_paths),
		cmocka_unit_test_teardown(test_opener_used, reset_key_settings),
		cmocka_unit_test_teardown(test_opener_refuses,
					  reset_key_settings),
		cmocka_unit_test_teardown(test_opener_policy, reset_key_settings),
		cmocka_unit_test(test_no_key_bytes),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
