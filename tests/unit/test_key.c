/*
 * test_key.c — master key files, epoch key derivation and erasure, the
 * keyed PRF.
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
#include <unistd.h>

#include <cmocka.h>

#include "key.h"
#include "policy.h"

static char tmpdir[PATH_MAX / 2];

static int setup_dir(void **state)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_key.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	return key_init();
}

static int teardown_dir(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

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
	a = keyring_load(path, 86400);
	b = keyring_load(path, 3600);
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

static void test_file_check(void **state)
{
	char path[PATH_MAX];
	const char *why;

	path_in_tmp(path, sizeof(path), "missing.key");
	why = NULL;
	assert_int_equal(key_file_check(path, &why), -ENOENT);
	assert_non_null(why);

	path_in_tmp(path, sizeof(path), "short.key");
	make_file(path, 31, 0600);
	why = NULL;
	assert_int_equal(key_file_check(path, &why), -EINVAL);
	assert_non_null(why);
	assert_null(keyring_load(path, 0));
	assert_int_equal(errno, EINVAL);

	path_in_tmp(path, sizeof(path), "long.key");
	make_file(path, 33, 0600);
	assert_int_equal(key_file_check(path, &why), -EINVAL);
	assert_null(keyring_load(path, 0));

	path_in_tmp(path, sizeof(path), "group.key");
	make_file(path, 32, 0640);
	why = NULL;
	assert_int_equal(key_file_check(path, &why), -EPERM);
	assert_string_equal(why, "readable or writable by group or others");
	assert_null(keyring_load(path, 0));
	assert_int_equal(errno, EPERM);

	path_in_tmp(path, sizeof(path), "other.key");
	make_file(path, 32, 0604);
	assert_int_equal(key_file_check(path, &why), -EPERM);

	path_in_tmp(path, sizeof(path), "exec.key");
	make_file(path, 32, 0610);
	assert_int_equal(key_file_check(path, &why), -EPERM);

	path_in_tmp(path, sizeof(path), "dir.key");
	assert_int_equal(mkdir(path, 0700), 0);
	why = NULL;
	assert_int_equal(key_file_check(path, &why), -EINVAL);
	assert_string_equal(why, "not a regular file");
	assert_null(keyring_load(path, 0));

	path_in_tmp(path, sizeof(path), "good.key");
	make_file(path, 32, 0600);
	why = "untouched";
	assert_int_equal(key_file_check(path, &why), 0);
	make_file(path, 32, 0400);
	assert_int_equal(key_file_check(path, &why), 0);
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

	a = keyring_load(path, 0);
	assert_non_null(a);
	memcpy(first, keyring_epoch_key(a, 0), KEY_LEN);

	/* refuses to overwrite: the key stays the same */
	assert_int_equal(policy_keygen(path), -EEXIST);
	assert_int_equal(key_write_new(path), -EEXIST);
	b = keyring_load(path, 0);
	assert_non_null(b);
	memcpy(again, keyring_epoch_key(b, 0), KEY_LEN);
	assert_memory_equal(first, again, KEY_LEN);

	/* two new keys differ */
	path_in_tmp(path, sizeof(path), "new2.key");
	assert_int_equal(key_write_new(path), 0);
	keyring_free(b);
	b = keyring_load(path, 0);
	assert_non_null(b);
	assert_memory_not_equal(first, keyring_epoch_key(b, 0), KEY_LEN);
	keyring_free(a);
	keyring_free(b);

	path_in_tmp(path, sizeof(path), "nodir/x.key");
	assert_int_equal(key_write_new(path), -ENOENT);
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
		cmocka_unit_test(test_file_check),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
