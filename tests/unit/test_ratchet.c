/*
 * test_ratchet.c — ratchet states (policy/key.c): derivation vectors,
 * hashing forward after downtime, the refusal of corrupt, rolled-back,
 * future and badly protected states, the atomic rewrite, erasure of the
 * old keys from memory and from the file, and a reload that would go
 * back.
 *
 * The vectors below were computed apart from key.c, with Python's
 * hashlib (BLAKE2b keyed with the key over the label's ASCII bytes):
 *   K0 = 00 01 02 .. 1f
 *   K1 = blake2b(b"ratchet", key=K0, digest_size=32), K2 likewise from K1
 *   We = blake2b(b"epoch", key=Ke, digest_size=32)
 *   fingerprint(Ke) = blake2b(b"fingerprint", key=Ke, digest_size=16)[:8]
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
#include <sodium.h>

#include "key.h"
#include "keydir.h"
#include "policy.h"

static const uint8_t vec_k1[KEY_LEN] = {
	0xdb, 0x3f, 0xe2, 0x37, 0xb6, 0x5d, 0xcb, 0x6d, 0xfe, 0x38, 0xa2, 0x70,
	0x89, 0xaa, 0x82, 0x9b, 0x01, 0x5e, 0x93, 0x78, 0xe4, 0x7f, 0x59, 0xc1,
	0x4f, 0x80, 0x20, 0x24, 0xd5, 0x36, 0x54, 0x73,
};
static const uint8_t vec_k2[KEY_LEN] = {
	0xa2, 0x5d, 0x18, 0x21, 0xf3, 0x1f, 0xbb, 0x36, 0xb7, 0xd1, 0x17, 0x6a,
	0x88, 0x6c, 0x8e, 0xaa, 0xcc, 0xfb, 0xa2, 0x7d, 0x74, 0x10, 0x88, 0x28,
	0x26, 0xb2, 0xa8, 0x03, 0x72, 0xfa, 0x78, 0xd9,
};
static const uint8_t vec_w0[KEY_LEN] = {
	0xe7, 0x5f, 0xd6, 0x91, 0xc8, 0xc5, 0x6d, 0x83, 0x04, 0xa9, 0x5d, 0xb6,
	0x86, 0x41, 0xe6, 0x39, 0x0b, 0x94, 0x22, 0x5b, 0xad, 0x65, 0xaf, 0xd3,
	0x36, 0x3e, 0x4b, 0xa3, 0x87, 0x81, 0x51, 0xd7,
};
static const uint8_t vec_w1[KEY_LEN] = {
	0x1d, 0x5d, 0x5c, 0xf0, 0x93, 0x9a, 0x3e, 0xda, 0x51, 0x9f, 0x5e, 0xd0,
	0x31, 0x0a, 0x63, 0x4d, 0xe8, 0xe9, 0x4c, 0x55, 0x32, 0x17, 0x4b, 0xd9,
	0xc9, 0x07, 0x09, 0xd7, 0x63, 0x53, 0xbe, 0xed,
};
static const uint8_t vec_w2[KEY_LEN] = {
	0x73, 0xdf, 0x99, 0x07, 0x02, 0x06, 0xef, 0x0e, 0x3a, 0xe5, 0xfd, 0xf7,
	0x7a, 0x3a, 0x3e, 0x04, 0x1e, 0x23, 0xcd, 0xd7, 0x15, 0x3a, 0xe8, 0x2b,
	0xfa, 0x8a, 0xa6, 0xd6, 0x5c, 0x17, 0xb8, 0x9e,
};
#define VEC_FPR0 "4645ad8f61c5c786"
#define VEC_FPR2 "e0e6cb47539d9f7f"

#define LEN	3600			/* epoch length of the test states */
#define START	UINT64_C(1700000000)	/* their epoch 0 */
#define AT(e, s) (START + (uint64_t)(e) * LEN + (s))

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * The state file as the format says (policy/key.c), made here and not
 * by key.c: magic, version, epoch length, start, epoch, key, checksum.
 */
static void state_bytes(uint8_t buf[KEY_RATCHET_FILE_LEN], uint32_t version,
			uint64_t epoch, const uint8_t key[KEY_LEN])
{
	memset(buf, 0, KEY_RATCHET_FILE_LEN);
	memcpy(buf, "NFRDRTCH", 8);
	buf[8] = (uint8_t)version;
	put_le64(buf + 16, LEN);
	put_le64(buf + 24, START);
	put_le64(buf + 32, epoch);
	memcpy(buf + 40, key, KEY_LEN);
	crypto_generichash(buf + 72, 16, buf, 72, NULL, 0);
}

static void write_bytes(const char *path, const uint8_t *buf, size_t len,
			mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void write_state(const char *path, uint64_t epoch,
			const uint8_t key[KEY_LEN])
{
	uint8_t buf[KEY_RATCHET_FILE_LEN];

	state_bytes(buf, KEY_RATCHET_VERSION, epoch, key);
	write_bytes(path, buf, sizeof(buf), 0600);
}

static void read_file(const char *path, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, len), (ssize_t)len);
	close(fd);
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle,
		     size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return true;
	return false;
}

static void k0(uint8_t key[KEY_LEN])
{
	for (unsigned i = 0; i < KEY_LEN; i++)
		key[i] = (uint8_t)i;
}

static void test_vectors(void **state)
{
	char path[PATH_MAX];
	struct key_ratchet_status st;
	uint8_t key[KEY_LEN], file[KEY_RATCHET_FILE_LEN];
	struct keyring *kr;
	const char *why;

	k0(key);
	path_in_tmp(path, sizeof(path), "vec.state");
	write_state(path, 0, key);
	assert_int_equal(key_ratchet_status(path, &st, &why), 0);
	assert_string_equal(st.fingerprint, VEC_FPR0);
	assert_int_equal(st.epoch, 0);
	assert_int_equal(st.epoch_seconds, LEN);

	kr = keyring_load(path, 0, &why);
	assert_non_null(kr);
	assert_true(keyring_is_ratchet(kr));
	assert_int_equal(keyring_epoch_seconds(kr), LEN);
	assert_int_equal(keyring_epoch(kr, AT(0, 10)), 0);
	assert_memory_equal(keyring_epoch_key(kr, 0), vec_w0, KEY_LEN);
	assert_int_equal(keyring_epoch(kr, AT(1, 0)), 1);
	assert_memory_equal(keyring_epoch_key(kr, 1), vec_w1, KEY_LEN);
	assert_memory_equal(keyring_epoch_key(kr, 2), vec_w2, KEY_LEN);
	keyring_free(kr);

	/* the file moves on by the same derivation, and keeps K_e only */
	assert_int_equal(key_ratchet_advance(path, KEY_UID_NONE, AT(1, 1), 5, 0,
					     &st, &why), 0);
	assert_int_equal(st.from, 0);
	assert_int_equal(st.epoch, 1);
	read_file(path, file, sizeof(file));
	assert_memory_equal(file + 40, vec_k1, KEY_LEN);
	assert_false(contains(file, sizeof(file), key, KEY_LEN));
	assert_int_equal(key_ratchet_advance(path, KEY_UID_NONE, AT(2, 1), 5, 0,
					     &st, &why), 0);
	assert_string_equal(st.fingerprint, VEC_FPR2);
	read_file(path, file, sizeof(file));
	assert_memory_equal(file + 40, vec_k2, KEY_LEN);
	assert_false(contains(file, sizeof(file), vec_k1, KEY_LEN));
	/* no temporary file is left beside it */
	{
		char tmp[PATH_MAX];
		struct stat sb;

		path_in_tmp(tmp, sizeof(tmp), ".vec.state.new");
		assert_int_equal(stat(tmp, &sb), -1);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
}

/* Downtime: one jump of ten epochs is ten steps of one. */
static void test_catch_up(void **state)
{
	char a[PATH_MAX], b[PATH_MAX];
	uint8_t key[KEY_LEN], fa[KEY_RATCHET_FILE_LEN], fb[KEY_RATCHET_FILE_LEN];
	uint8_t w10[KEY_LEN];
	struct key_ratchet_status st;
	struct keyring *kr;
	const char *why;

	k0(key);
	path_in_tmp(a, sizeof(a), "jump.state");
	path_in_tmp(b, sizeof(b), "steps.state");
	write_state(a, 0, key);
	write_state(b, 0, key);

	/* in memory, from epoch 0, before the file moves */
	kr = keyring_load(a, 0, &why);
	assert_non_null(kr);
	assert_int_equal(keyring_epoch(kr, AT(10, 7)), 10);
	memcpy(w10, keyring_epoch_key(kr, 10), KEY_LEN);
	keyring_free(kr);

	assert_int_equal(key_ratchet_advance(a, KEY_UID_NONE, AT(10, 7), 5, 0,
					     &st, &why), 0);
	assert_int_equal(st.from, 0);
	assert_int_equal(st.epoch, 10);
	for (unsigned e = 1; e <= 10; e++)
		assert_int_equal(key_ratchet_advance(b, KEY_UID_NONE, AT(e, 0), 5,
						     e - 1, NULL, &why), 0);
	read_file(a, fa, sizeof(fa));
	read_file(b, fb, sizeof(fb));
	assert_memory_equal(fa, fb, sizeof(fa));

	/* a keyring from the advanced file makes the same epoch key */
	kr = keyring_load(a, 0, &why);
	assert_non_null(kr);
	assert_int_equal(keyring_ratchet_epoch(kr), 10);
	assert_memory_equal(keyring_epoch_key(kr, 10), w10, KEY_LEN);
	keyring_free(kr);

	/* already current: nothing written, same state */
	assert_int_equal(key_ratchet_advance(a, KEY_UID_NONE, AT(10, 100), 5, 10,
					     &st, &why), 0);
	assert_int_equal(st.from, 10);
	read_file(a, fb, sizeof(fb));
	assert_memory_equal(fa, fb, sizeof(fa));
}

static void test_refusals(void **state)
{
	char path[PATH_MAX];
	uint8_t key[KEY_LEN], buf[KEY_RATCHET_FILE_LEN], before[sizeof(buf)];
	struct key_ratchet_status st;
	struct keyring *kr;
	const char *why;

	k0(key);
	path_in_tmp(path, sizeof(path), "bad.state");

	/* a flipped key bit: the checksum says so */
	state_bytes(buf, KEY_RATCHET_VERSION, 3, key);
	buf[45] ^= 1;
	write_bytes(path, buf, sizeof(buf), 0600);
	assert_int_equal(key_ratchet_status(path, &st, &why), -EBADMSG);
	assert_non_null(strstr(why, "corrupt"));
	assert_null(keyring_load(path, 0, &why));
	assert_non_null(strstr(why, "corrupt"));
	assert_int_equal(key_ratchet_advance(path, KEY_UID_NONE, AT(5, 0), 5, 0,
					     NULL, &why), -EBADMSG);
	/* a format this build does not know */
	state_bytes(buf, 2, 3, key);
	write_bytes(path, buf, sizeof(buf), 0600);
	assert_int_equal(key_ratchet_status(path, &st, &why), -EINVAL);
	assert_non_null(strstr(why, "version"));
	/* a wrong magic */
	state_bytes(buf, KEY_RATCHET_VERSION, 3, key);
	buf[0] = 'X';
	write_bytes(path, buf, sizeof(buf), 0600);
	assert_int_equal(key_ratchet_status(path, &st, &why), -EINVAL);
	/* a static key is told apart */
	write_bytes(path, key, KEY_LEN, 0600);
	assert_int_equal(key_ratchet_status(path, &st, &why), -EMEDIUMTYPE);
	/* readable by others */
	state_bytes(buf, KEY_RATCHET_VERSION, 3, key);
	write_bytes(path, buf, sizeof(buf), 0644);
	assert_int_equal(key_ratchet_status(path, &st, &why), -EPERM);
	assert_null(keyring_load(path, 0, &why));
	assert_int_equal(errno, EPERM);

	write_bytes(path, buf, sizeof(buf), 0600);
	memcpy(before, buf, sizeof(buf));
	/* ahead of the clock by more than the grace */
	assert_int_equal(key_ratchet_advance(path, KEY_UID_NONE, AT(2, 0), 5, 0,
					     NULL, &why), -ERANGE);
	assert_non_null(strstr(why, "ahead of the clock"));
	assert_int_equal(key_ratchet_advance(path, KEY_UID_NONE, AT(3, 0) - 6, 5,
					     0, NULL, &why), -ERANGE);
	/* within the grace: accepted, left as it is */
	assert_int_equal(key_ratchet_advance(path, KEY_UID_NONE, AT(3, 0) - 4, 5,
					     0, &st, &why), 0);
	assert_int_equal(st.epoch, 3);
	/* behind an epoch already in use: rolled back */
	assert_int_equal(key_ratchet_advance(path, KEY_UID_NONE, AT(6, 0), 5, 4,
					     NULL, &why), -ESTALE);
	assert_non_null(strstr(why, "rolled back"));
	/* nothing refused was changed */
	read_file(path, buf, sizeof(buf));
	assert_memory_equal(buf, before, sizeof(buf));
	/* a keyring never answers with a key it erased */
	kr = keyring_load(path, 0, &why);
	assert_non_null(kr);
	assert_true(keyring_epoch_erased(kr, 2, NULL));
	assert_false(keyring_epoch_erased(kr, 3, NULL));
	keyring_free(kr);
	/* export refuses to replace a file */
	assert_int_equal(key_ratchet_export(path, path, AT(3, 0), &st, &why),
			 -EEXIST);
}

/*
 * The keyring's secret block is K_cur, then W_cur, then W_prev
 * (key.c): the test reads K_cur just before W_cur's pointer.
 */
static void test_wiping(void **state)
{
	char path[PATH_MAX];
	uint8_t key[KEY_LEN], zero[KEY_LEN] = { 0 };
	const uint8_t *w, *prev;
	struct keyring *kr;
	uint64_t first;
	const char *why;

	k0(key);
	path_in_tmp(path, sizeof(path), "wipe.state");
	write_state(path, 0, key);
	kr = keyring_load(path, 0, &why);
	assert_non_null(kr);
	keyring_set_grace(kr, 5);
	w = keyring_epoch_key(kr, keyring_epoch(kr, AT(0, 1)));
	assert_memory_equal(w - KEY_LEN, key, KEY_LEN);
	prev = w + KEY_LEN;

	/* the boundary: K0 is overwritten by K1 at once, W0 stays 5 s */
	assert_int_equal(keyring_epoch(kr, AT(1, 2)), 1);
	assert_memory_equal(w - KEY_LEN, vec_k1, KEY_LEN);
	assert_memory_equal(w, vec_w1, KEY_LEN);
	assert_memory_equal(prev, vec_w0, KEY_LEN);
	assert_false(keyring_epoch_erased(kr, 0, &first));
	assert_int_equal(first, 0);
	assert_memory_equal(keyring_epoch_key(kr, 0), vec_w0, KEY_LEN);

	/* the grace is over: W0 is wiped, epoch 0 is gone */
	assert_int_equal(keyring_epoch(kr, AT(1, 5)), 1);
	assert_memory_equal(prev, zero, KEY_LEN);
	assert_true(keyring_epoch_erased(kr, 0, &first));
	assert_int_equal(first, 1);
	/* asked for anyway, it answers with the current key, never W0 */
	assert_memory_equal(keyring_epoch_key(kr, 0), vec_w1, KEY_LEN);

	/* downtime of several epochs: nothing between stays */
	assert_int_equal(keyring_epoch(kr, AT(2, 100)), 2);
	assert_memory_equal(w - KEY_LEN, vec_k2, KEY_LEN);
	assert_memory_equal(w, vec_w2, KEY_LEN);
	assert_memory_equal(prev, zero, KEY_LEN);	/* 100 s > grace */
	assert_true(keyring_epoch_erased(kr, 1, NULL));
	keyring_free(kr);
}

/* A reload never takes a state behind the running keyring. */
static void test_reload_rollback(void **state)
{
	char path[PATH_MAX], text[PATH_MAX + 128];
	uint8_t key[KEY_LEN];
	struct diag_list *dl = NULL;
	struct ruleset *old, *rs;
	uint64_t epoch, first, span;

	k0(key);
	path_in_tmp(path, sizeof(path), "reload.state");
	write_state(path, 4, key);
	snprintf(text, sizeof(text), "key %s\nkey-grace 3s\nservice s {\n"
		 " listen udp 514\n address ipv4 map 100.64.0.0/10\n}\n", path);
	old = policy_load_string("reload.conf", text, NULL, &dl);
	assert_non_null(old);
	diag_list_free(dl);
	dl = NULL;
	assert_true(policy_key_ratchet(old));
	assert_int_equal(policy_key_grace(old), 3);
	assert_int_equal(policy_epoch_seconds(old), LEN);
	assert_true(policy_key_erased(old, AT(3, 0), &epoch, &first, &span));
	assert_int_equal(epoch, 3);
	assert_int_equal(first, 4);
	assert_int_equal(span, AT(3, 0));
	assert_false(policy_key_erased(old, AT(4, 0), NULL, NULL, NULL));
	policy_key_tick(old, AT(6, 0));		/* the running key moves on */

	/* the file still says epoch 4: refused, the old policy stays */
	rs = policy_load_string("reload.conf", text, old, &dl);
	assert_null(rs);
	assert_non_null(dl);
	diag_list_free(dl);
	dl = NULL;
	/* brought up to date (as the parent does), it is taken */
	assert_int_equal(key_ratchet_advance(path, KEY_UID_NONE, AT(6, 0), 5, 0,
					     NULL, NULL), 0);
	rs = policy_load_string("reload.conf", text, old, &dl);
	assert_non_null(rs);
	diag_list_free(dl);
	policy_free(rs);
	policy_free(old);
}

static void test_new_state(void **state)
{
	char path[PATH_MAX];
	struct key_ratchet_status st, st2;
	const char *why;
	struct stat sb;

	path_in_tmp(path, sizeof(path), "new.state");
	assert_int_equal(key_ratchet_new(path, LEN, START, AT(7, 30), &why), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, KEY_RATCHET_FILE_LEN);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(key_ratchet_status(path, &st, &why), 0);
	assert_int_equal(st.epoch, 7);
	assert_int_equal(st.start, START);
	assert_int_equal(key_ratchet_new(path, LEN, START, AT(7, 30), &why),
			 -EEXIST);
	assert_int_equal(key_ratchet_new(path, 0, START, AT(7, 30), &why),
			 -EINVAL);
	/* an export for another relay: the current epoch, same key */
	{
		char out[PATH_MAX];

		path_in_tmp(out, sizeof(out), "export.state");
		assert_int_equal(key_ratchet_export(path, out, AT(9, 0), &st,
						    &why), 0);
		assert_int_equal(st.from, 7);
		assert_int_equal(st.epoch, 9);
		assert_int_equal(key_ratchet_advance(path, KEY_UID_NONE,
						     AT(9, 0), 5, 0, &st2,
						     &why), 0);
		assert_string_equal(st.fingerprint, st2.fingerprint);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_catch_up),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_wiping),
		cmocka_unit_test(test_reload_rollback),
		cmocka_unit_test(test_new_state),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
