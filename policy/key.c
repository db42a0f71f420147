/*
 * key.c — the master key, the per-epoch keys derived from it, the keyed
 * PRF every pseudonym and token is made with, and key files.
 *
 * This is the only file that touches libsodium.  Every secret lives in
 * sodium_malloc'd memory (guard pages, locked when the system allows) and
 * is wiped before it is released.  Epoch keys are cached so that the per
 * packet lookup is a few compares; a key of an epoch older than the one
 * before the newest is wiped as soon as it is no longer asked for, so an
 * expired epoch cannot be linked to addresses from this process's memory
 * (doc/design.md §7).
 *
 * Key files are opened in one place, key_file_open(): the file and its
 * directory are checked (type, size, owner, mode) and the checks on the
 * file are made again on the descriptor.  A caller that cannot open the
 * file itself (a daemon without root) sets an opener that hands over a
 * descriptor; what a descriptor shows is then checked here again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "key.h"
#include "policy.h"

#define KEY_KDF_CONTEXT "nfredact"	/* exactly crypto_kdf_CONTEXTBYTES */
#define KEY_CACHE_SLOTS 4

_Static_assert(sizeof(KEY_KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES,
	       "KDF context must be exactly 8 bytes");
_Static_assert(KEY_LEN == crypto_kdf_KEYBYTES, "master key length");
_Static_assert(KEY_LEN <= crypto_generichash_KEYBYTES_MAX, "PRF key length");

struct key_slot {
	uint64_t epoch;
	bool valid;
};

struct keyring {
	uint64_t epoch_seconds;
	uint64_t newest;		/* newest epoch asked for */
	bool have_newest;
	struct key_slot slot[KEY_CACHE_SLOTS];
	/* master key, then one KEY_LEN block per slot (sodium_malloc) */
	uint8_t *secret;
};

static uint8_t *keyring_master(const struct keyring *kr)
{
	return kr->secret;
}

static uint8_t *keyring_slot_key(const struct keyring *kr, unsigned i)
{
	return kr->secret + KEY_LEN * (i + 1);
}

static size_t keyring_secret_len(void)
{
	return KEY_LEN * (KEY_CACHE_SLOTS + 1);
}

/**
 * key_init() - initialise libsodium once per process.
 *
 * Safe to call more than once.
 * Return: 0 or -EIO when libsodium cannot be initialised.
 */
int key_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

/**
 * key_wipe() - erase a secret buffer so that the compiler cannot elide it.
 * @buf: the buffer (NULL is fine when @len is 0)
 * @len: its length
 */
void key_wipe(void *buf, size_t len)
{
	if (buf && len)
		sodium_memzero(buf, len);
}

/* An empty keyring: secret memory allocated and zeroed, no key yet. */
static struct keyring *keyring_alloc(uint64_t epoch_seconds)
{
	struct keyring *kr;

	if (key_init() < 0) {
		errno = EIO;
		return NULL;
	}
	kr = calloc(1, sizeof(*kr));
	if (!kr)
		return NULL;
	kr->secret = sodium_malloc(keyring_secret_len());
	if (!kr->secret) {
		free(kr);
		errno = ENOMEM;
		return NULL;
	}
	/* sodium_malloc already tries to lock; a failure must not be fatal
	 * (RLIMIT_MEMLOCK is small in containers), so the result is ignored. */
	(void)sodium_mlock(kr->secret, keyring_secret_len());
	sodium_memzero(kr->secret, keyring_secret_len());
	kr->epoch_seconds = epoch_seconds;
	return kr;
}

/**
 * keyring_free() - wipe every key of @kr and free it.
 * @kr: the keyring; NULL is fine
 */
void keyring_free(struct keyring *kr)
{
	if (!kr)
		return;
	if (kr->secret) {
		sodium_memzero(kr->secret, keyring_secret_len());
		sodium_free(kr->secret);	/* also wipes, and unlocks */
	}
	sodium_memzero(kr, sizeof(*kr));
	free(kr);
}

/*
 * Key files.  Who may own a key file (and its directory): root, the
 * caller's effective user, and one allowed user (the daemon's).  The
 * opener, when set, replaces key_file_open() for the policy loader.
 */
static uid_t key_allowed_uid = KEY_UID_NONE;
static key_open_fn key_opener;
static void *key_opener_ctx;

/**
 * key_set_allowed_uid() - see policy.h
 * @uid: the allowed user, or KEY_UID_NONE
 */
void key_set_allowed_uid(uid_t uid)
{
	key_allowed_uid = uid;
}

/**
 * keyring_set_opener() - see policy.h
 * @fn: the opener, or NULL for key_file_open()
 * @ctx: passed to @fn
 */
void keyring_set_opener(key_open_fn fn, void *ctx)
{
	key_opener = fn;
	key_opener_ctx = fn ? ctx : NULL;
}

static bool key_owner_ok(uid_t owner, uid_t allowed_uid)
{
	return owner == 0 || owner == geteuid() ||
	       (allowed_uid != KEY_UID_NONE && owner == allowed_uid);
}

/*
 * Why a key file is refused, from a stat of it: what can be seen through
 * a descriptor whoever opened it.  The messages never carry any byte of
 * the key.
 */
static int key_stat_check(const struct stat *st, const char **why)
{
	if (S_ISLNK(st->st_mode)) {
		*why = "is a symbolic link";
		return -ELOOP;
	}
	if (!S_ISREG(st->st_mode)) {
		*why = "not a regular file";
		return -EINVAL;
	}
	if (st->st_size != KEY_LEN) {
		*why = "not exactly 32 bytes long";
		return -EINVAL;
	}
	if (st->st_mode & 066) {
		*why = "readable or writable by group or others (chmod 600)";
		return -EPERM;
	}
	if (st->st_mode & 011) {
		*why = "executable by group or others (chmod 600)";
		return -EPERM;
	}
	return 0;
}

/* key_stat_check(), and who owns the file: only with its path known. */
static int key_stat_check_owner(const struct stat *st, uid_t allowed_uid,
				const char **why)
{
	int err = key_stat_check(st, why);

	if (err)
		return err;
	if (!key_owner_ok(st->st_uid, allowed_uid)) {
		*why = "owned by another user (chown root)";
		return -EPERM;
	}
	return 0;
}

/*
 * Whoever can write to the directory can rename the key away and put
 * another file in its place.  A group-writable directory is accepted
 * only when the group is root's (gid 0): its members are administrators
 * by convention, and a umask of 002 makes such directories; any other
 * group would let users who are not root replace the key.
 */
static int key_dir_stat_check(const struct stat *st, uid_t allowed_uid,
			      const char **why)
{
	if (!key_owner_ok(st->st_uid, allowed_uid)) {
		*why = "in a directory owned by another user";
		return -EPERM;
	}
	if (st->st_mode & S_IWOTH) {
		*why = "in a directory writable by others";
		return -EPERM;
	}
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0) {
		*why = "in a directory writable by a group other than root's";
		return -EPERM;
	}
	return 0;
}

static const char *key_open_reason(int err)
{
	switch (err) {
	case ENOENT:
		return "no such file";
	case EACCES:
		return "permission denied";
	case ELOOP:
		return "is a symbolic link";
	case ENOTDIR:
		return "a component of the path is not a directory";
	case ENAMETOOLONG:
		return "path too long";
	default:
		return "cannot open";
	}
}

/*
 * Open the directory that holds @path (O_PATH: search only) and check
 * it; *@base is set to the file's name inside it.  Symbolic links on the
 * way to the directory are followed: only the directory itself counts.
 * Return: the directory's descriptor or -errno with *@why set.
 */
static int key_dir_open(const char *path, uid_t allowed_uid,
			const char **base, const char **why)
{
	char dir[PATH_MAX];
	const char *slash;
	struct stat st;
	size_t len;
	int dfd, err;

	if (!path || !*path) {
		*why = "no key file name";
		return -EINVAL;
	}
	len = strlen(path);
	if (path[len - 1] == '/') {
		*why = "not a regular file";
		return -EINVAL;
	}
	slash = strrchr(path, '/');
	if (!slash) {
		strcpy(dir, ".");
		*base = path;
	} else {
		len = slash == path ? 1 : (size_t)(slash - path);
		if (len >= sizeof(dir)) {
			*why = key_open_reason(ENAMETOOLONG);
			return -ENAMETOOLONG;
		}
		memcpy(dir, path, len);
		dir[len] = '\0';
		*base = slash + 1;
	}
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err = errno;
		*why = err == ENOENT ? "no such directory" : key_open_reason(err);
		return -err;
	}
	if (fstat(dfd, &st) < 0) {
		err = -errno;
		*why = "cannot stat its directory";
	} else {
		err = key_dir_stat_check(&st, allowed_uid, why);
	}
	if (err) {
		close(dfd);
		return err;
	}
	return dfd;
}

/**
 * key_file_open() - open and check a key file (see policy.h)
 * @path: the key file
 * @allowed_uid: a user besides root and the effective user who may own
 *               the file and its directory, or KEY_UID_NONE
 * @why: on failure, a static message naming what is wrong (never any
 *       byte of the key); NULL if not wanted
 *
 * Return: a descriptor the caller closes, or -errno (see policy.h).
 */
int key_file_open(const char *path, uid_t allowed_uid, const char **why)
{
	const char *dummy, *base = NULL;
	struct stat st;
	int dfd, fd, err;

	if (!why)
		why = &dummy;
	*why = NULL;
	dfd = key_dir_open(path, allowed_uid, &base, why);
	if (dfd < 0)
		return dfd;
	/* stat first: a FIFO or a device is refused without opening it,
	 * a symbolic link or a wrong mode is named as such */
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = -errno;
		*why = err == -ENOENT || err == -EACCES ? key_open_reason(-err) :
							    "cannot stat";
		goto out;
	}
	err = key_stat_check_owner(&st, allowed_uid, why);
	if (err)
		goto out;
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
		    O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		*why = key_open_reason(-err);
		goto out;
	}
	/* the file seen through the descriptor is the one that counts */
	if (fstat(fd, &st) < 0) {
		err = -errno;
		*why = "cannot stat";
	} else {
		err = key_stat_check_owner(&st, allowed_uid, why);
	}
	if (err)
		close(fd);
	else
		err = fd;
out:
	close(dfd);
	return err;
}

/*
 * The descriptor of key file @path: from the opener when one is set
 * (checked again for what a descriptor shows), else key_file_open().
 * Return: fd or -errno with *@why set.
 */
static int key_obtain(const char *path, const char **why)
{
	struct stat st;
	int fd, err;

	if (!key_opener)
		return key_file_open(path, key_allowed_uid, why);
	if (!path || !*path) {
		*why = "no key file name";
		return -EINVAL;
	}
	fd = key_opener(path, why, key_opener_ctx);
	if (fd < 0) {
		if (!*why)
			*why = key_open_reason(-fd);
		return fd;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		*why = "cannot stat";
	} else {
		err = key_stat_check(&st, why);
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/**
 * key_file_check() - check a key file without keeping its contents.
 * @path: the key file
 * @why: on failure, a static message naming what is wrong (never any
 *       byte of the key); NULL if not wanted
 *
 * Opens the file as keyring_load() does: through the opener when one is
 * set (keyring_set_opener()), else with key_file_open() and the allowed
 * user of key_set_allowed_uid().
 * Return: 0 or -errno, as key_file_open() or the opener.
 */
int key_file_check(const char *path, const char **why)
{
	const char *dummy;
	int fd;

	if (!why)
		why = &dummy;
	*why = NULL;
	fd = key_obtain(path, why);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/*
 * Read exactly @len bytes from the start of @fd, and make sure nothing
 * follows.  pread: an opener's descriptor may share its offset.
 */
static int key_read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;
	uint8_t extra;
	ssize_t n;

	while (done < len) {
		n = pread(fd, buf + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EINVAL;
		done += (size_t)n;
	}
	do
		n = pread(fd, &extra, 1, (off_t)len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? 0 : -EINVAL;
}

/**
 * keyring_load() - a keyring whose master key is read from @path.
 * @path: key file, opened and checked as key_file_check() does
 * @epoch_seconds: epoch length (0: one epoch forever)
 * @why: on failure other than memory, a static message naming what is
 *       wrong (never any byte of the key); NULL if not wanted
 *
 * Return: the keyring, to be released with keyring_free(), or NULL with
 * errno set (ENOENT, EACCES, ELOOP, EINVAL, EPERM, ENOMEM, EIO, or what
 * the opener returned).
 */
struct keyring *keyring_load(const char *path, uint64_t epoch_seconds,
			     const char **why)
{
	struct keyring *kr = NULL;
	const char *dummy;
	int fd, err;

	if (!why)
		why = &dummy;
	*why = NULL;
	fd = key_obtain(path, why);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	kr = keyring_alloc(epoch_seconds);
	if (!kr) {
		err = -errno;
		*why = "out of memory";
		goto out;
	}
	err = key_read_exact(fd, keyring_master(kr), KEY_LEN);
	if (err == -EINVAL)
		*why = "not exactly 32 bytes long";	/* changed since fstat */
	else if (err)
		*why = "cannot read";
out:
	close(fd);
	if (err) {
		keyring_free(kr);
		errno = -err;
		return NULL;
	}
	return kr;
}

/**
 * keyring_random() - a keyring with a fresh random master key that lives
 * in memory only.
 * @epoch_seconds: epoch length (0: one epoch forever)
 *
 * Return: the keyring (keyring_free()) or NULL with errno set.
 */
struct keyring *keyring_random(uint64_t epoch_seconds)
{
	struct keyring *kr = keyring_alloc(epoch_seconds);

	if (kr)
		randombytes_buf(keyring_master(kr), KEY_LEN);
	return kr;
}

/**
 * keyring_clone() - a copy of @kr's master key with another epoch length,
 * for a reload.  No epoch key is copied: the epoch numbers change meaning
 * with the length.
 * Return: the keyring (keyring_free()) or NULL with errno set.
 */
struct keyring *keyring_clone(const struct keyring *kr, uint64_t epoch_seconds)
{
	struct keyring *copy;

	if (!kr) {
		errno = EINVAL;
		return NULL;
	}
	copy = keyring_alloc(epoch_seconds);
	if (copy)
		memcpy(keyring_master(copy), keyring_master(kr), KEY_LEN);
	return copy;
}

/**
 * keyring_epoch() - the epoch number of the time @unix_seconds.
 * Return: unix_seconds / epoch length, always 0 when the length is 0.
 */
uint64_t keyring_epoch(const struct keyring *kr, uint64_t unix_seconds)
{
	if (!kr || kr->epoch_seconds == 0)
		return 0;
	return unix_seconds / kr->epoch_seconds;
}

/* An epoch older than the one before the newest must not stay in memory. */
static bool keyring_epoch_expired(const struct keyring *kr, uint64_t epoch)
{
	return kr->have_newest && kr->newest > 0 && epoch < kr->newest - 1;
}

static void keyring_slot_wipe(struct keyring *kr, unsigned i)
{
	sodium_memzero(keyring_slot_key(kr, i), KEY_LEN);
	kr->slot[i].valid = false;
	kr->slot[i].epoch = 0;
}

/**
 * keyring_epoch_key() - the key of epoch @epoch.
 * @kr: the keyring
 * @epoch: epoch number (keyring_epoch())
 *
 * Derived from the master key with libsodium's KDF (subkey id = epoch,
 * context "nfredact") and cached, so that asking again is a few compares
 * and allocates nothing.  Keys of epochs older than the one before the
 * newest epoch asked for are wiped; such an epoch can still be asked for
 * (it is derived again) but its key is wiped at the next call.
 *
 * Return: pointer to KEY_LEN bytes owned by @kr.  It stays valid until
 * keyring_free() while @epoch is the newest epoch asked for or the one
 * before it; otherwise only until the next call.
 */
const uint8_t *keyring_epoch_key(struct keyring *kr, uint64_t epoch)
{
	unsigned i, hit = KEY_CACHE_SLOTS, victim = KEY_CACHE_SLOTS;

	if (!kr->have_newest || epoch > kr->newest) {
		kr->newest = epoch;
		kr->have_newest = true;
	}
	/* every call sweeps, so an old epoch asked for once does not linger */
	for (i = 0; i < KEY_CACHE_SLOTS; i++) {
		if (!kr->slot[i].valid)
			continue;
		if (kr->slot[i].epoch == epoch)
			hit = i;
		else if (keyring_epoch_expired(kr, kr->slot[i].epoch))
			keyring_slot_wipe(kr, i);
	}
	if (hit < KEY_CACHE_SLOTS)
		return keyring_slot_key(kr, hit);
	for (i = 0; i < KEY_CACHE_SLOTS; i++) {
		if (!kr->slot[i].valid) {
			victim = i;
			break;
		}
		if (victim == KEY_CACHE_SLOTS ||
		    kr->slot[i].epoch < kr->slot[victim].epoch)
			victim = i;
	}
	crypto_kdf_derive_from_key(keyring_slot_key(kr, victim), KEY_LEN,
				   epoch, KEY_KDF_CONTEXT, keyring_master(kr));
	kr->slot[victim].epoch = epoch;
	kr->slot[victim].valid = true;
	return keyring_slot_key(kr, victim);
}

/* One BLAKE2b output of @len (16..64) bytes over domain || [ctr] || in. */
static void key_prf_block(const uint8_t key[static KEY_LEN], uint8_t domain,
			  const uint8_t *ctr, size_t ctrlen,
			  const void *in, size_t inlen, uint8_t *out, size_t len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, KEY_LEN, len);
	crypto_generichash_update(&st, &domain, 1);
	if (ctrlen)
		crypto_generichash_update(&st, ctr, ctrlen);
	if (inlen)
		crypto_generichash_update(&st, in, inlen);
	crypto_generichash_final(&st, out, len);
	sodium_memzero(&st, sizeof(st));
}

/**
 * key_prf() - keyed pseudo-random function.
 * @key: KEY_LEN-byte key (an epoch key)
 * @domain: one-byte domain separator, distinct for every use
 * @in: input bytes
 * @inlen: their number
 * @out: @outlen bytes of output
 * @outlen: any length; 0 does nothing
 *
 * Up to 64 bytes: BLAKE2b keyed with @key over @domain || @in, with the
 * output length as BLAKE2b's parameter (shorter than 16 bytes: the first
 * bytes of the 16-byte output).  Longer: counter mode, block i (64 bytes)
 * is BLAKE2b(key, domain || le32(i) || in).  Allocates nothing.
 */
void key_prf(const uint8_t key[static KEY_LEN], uint8_t domain,
	     const void *in, size_t inlen, uint8_t *out, size_t outlen)
{
	uint8_t block[crypto_generichash_BYTES_MAX];
	uint8_t ctr[4];
	uint32_t i;
	size_t n;

	if (outlen == 0)
		return;
	if (outlen < crypto_generichash_BYTES_MIN) {
		key_prf_block(key, domain, NULL, 0, in, inlen, block,
			      crypto_generichash_BYTES_MIN);
		memcpy(out, block, outlen);
		sodium_memzero(block, sizeof(block));
		return;
	}
	if (outlen <= crypto_generichash_BYTES_MAX) {
		key_prf_block(key, domain, NULL, 0, in, inlen, out, outlen);
		return;
	}
	for (i = 0; outlen > 0; i++) {
		n = outlen < sizeof(block) ? outlen : sizeof(block);
		ctr[0] = (uint8_t)i;
		ctr[1] = (uint8_t)(i >> 8);
		ctr[2] = (uint8_t)(i >> 16);
		ctr[3] = (uint8_t)(i >> 24);
		key_prf_block(key, domain, ctr, sizeof(ctr), in, inlen, block,
			      sizeof(block));
		memcpy(out, block, n);
		out += n;
		outlen -= n;
	}
	sodium_memzero(block, sizeof(block));
}

/* Write all of @buf, retrying on EINTR and short writes. */
static int key_write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/**
 * key_write_new() - write KEY_LEN random bytes to a new file, mode 0600.
 * @path: the file; it must not exist (an existing key is never replaced)
 *
 * The directory must pass key_file_open()'s checks (with the allowed
 * user of key_set_allowed_uid()), so that the key made is one the loader
 * accepts; the file is made relative to the directory checked.  The data
 * is on disk (fsync) when this returns 0.  On failure after the file was
 * made, the file is removed.
 * Return: 0 or -errno (-EEXIST when the file exists, -EPERM when the
 * directory is refused, -ENOENT when it does not exist).
 */
int key_write_new(const char *path)
{
	const char *why, *base = NULL;
	uint8_t *master;
	int dfd, fd = -1, err;

	if (!path || !*path)
		return -EINVAL;
	err = key_init();
	if (err)
		return err;
	dfd = key_dir_open(path, key_allowed_uid, &base, &why);
	if (dfd < 0)
		return dfd;
	master = sodium_malloc(KEY_LEN);
	if (!master) {
		close(dfd);
		return -ENOMEM;
	}
	fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* the umask may have taken bits away; never more than 0600 */
	if (fchmod(fd, 0600) < 0) {
		err = -errno;
		goto out_unlink;
	}
	randombytes_buf(master, KEY_LEN);
	err = key_write_all(fd, master, KEY_LEN);
	if (err)
		goto out_unlink;
	if (fsync(fd) < 0) {
		err = -errno;
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = -errno;
		goto out_unlink;
	}
	fd = -1;
	goto out;
out_unlink:
	unlinkat(dfd, base, 0);
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	sodium_free(master);	/* wipes */
	return err;
}

/**
 * policy_keygen() - write a new random master key to @path, mode 0600,
 * refusing to overwrite an existing file.
 * Return: 0 or -errno (-EEXIST when @path exists, -EIO when libsodium
 * cannot be initialised).
 */
int policy_keygen(const char *path)
{
	int err = key_init();

	if (err)
		return err;
	return key_write_new(path);
}
