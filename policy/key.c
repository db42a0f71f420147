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
 * A key file is either a static master key (32 bytes: every epoch key
 * is KDF(master, epoch), so whoever holds the file can recompute every
 * old pseudonym) or a ratchet state (KEY_RATCHET_FILE_LEN bytes: the
 * current epoch's ratchet key only; the next is KDF(K_e, "ratchet") and
 * the earlier ones cannot be computed from it).  See "Ratchet" below.
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
	/* ratchet mode: the master slot holds K_cur, slot 0 W_cur, slot 1
	 * W_prev (kept until prev_until only) */
	bool ratchet;
	bool prev_valid;
	uint64_t start;			/* Unix time of epoch 0 */
	uint64_t cur;			/* epoch of K_cur */
	uint64_t first;			/* epoch of the state loaded */
	uint64_t grace;			/* seconds W_prev outlives its epoch */
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
	if (st->st_size != KEY_LEN && st->st_size != KEY_RATCHET_FILE_LEN) {
		*why = "not exactly 32 bytes long, nor a ratchet state";
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

/*
 * Ratchet.  A ratchet state file (KEY_RATCHET_FILE_LEN bytes, all
 * integers little-endian):
 *
 *   0  8  magic "NFRDRTCH"
 *   8  4  format version (1)
 *  12  4  zero
 *  16  8  epoch length in seconds (1 .. KEY_RATCHET_MAX_EPOCH)
 *  24  8  start: Unix time (UTC) at which epoch 0 begins
 *  32  8  e, the epoch whose ratchet key follows
 *  40 32  K_e
 *  72 16  BLAKE2b-128 of bytes 0..71 (corruption, not authenticity)
 *
 * KDF(K, label) is BLAKE2b-256 keyed with K over the label's ASCII bytes.
 * K_{e+1} = KDF(K_e, "ratchet"); the key the engine uses in epoch e is
 * W_e = KDF(K_e, "epoch"), and every use (pseudonym permutation, map
 * candidates, tokens) is a key_prf() of W_e under its own domain byte;
 * the fingerprint is the first 8 bytes of BLAKE2b-128 keyed with K_e over
 * "fingerprint".
 * Nothing computes K_e from K_{e+1}: once K_e and W_e are wiped, epoch
 * e's pseudonyms cannot be made again from anything this file keeps.
 */
#define RATCHET_MAGIC		"NFRDRTCH"
#define RATCHET_LABEL_NEXT	"ratchet"
#define RATCHET_LABEL_EPOCH	"epoch"
#define RATCHET_LABEL_FPR	"fingerprint"
#define RATCHET_OFF_KEY		40
#define RATCHET_OFF_SUM		72
#define RATCHET_SUM_LEN		16

_Static_assert(RATCHET_OFF_SUM + RATCHET_SUM_LEN == KEY_RATCHET_FILE_LEN,
	       "ratchet state layout");

/* What a ratchet state says besides its key. */
struct ratchet_hdr {
	uint32_t version;
	uint64_t epoch_seconds;
	uint64_t start;
	uint64_t epoch;
};

static void le64_put(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void ratchet_kdf(const uint8_t key[static KEY_LEN], const char *label,
			uint8_t *out, size_t outlen)
{
	crypto_generichash(out, outlen, (const uint8_t *)label, strlen(label),
			   key, KEY_LEN);
}

/* K <- KDF(K, "ratchet"), in place; the old K is gone. */
static void ratchet_next(uint8_t key[static KEY_LEN])
{
	uint8_t next[KEY_LEN];

	ratchet_kdf(key, RATCHET_LABEL_NEXT, next, KEY_LEN);
	memcpy(key, next, KEY_LEN);
	sodium_memzero(next, sizeof(next));
}

static uint64_t ratchet_epoch_of(uint64_t start, uint64_t epoch_seconds,
				 uint64_t unix_seconds)
{
	if (unix_seconds < start || epoch_seconds == 0)
		return 0;
	return (unix_seconds - start) / epoch_seconds;
}

static uint64_t ratchet_epoch_start(const struct keyring *kr, uint64_t epoch)
{
	return kr->start + epoch * kr->epoch_seconds;
}

static void ratchet_format(uint8_t buf[static KEY_RATCHET_FILE_LEN],
			   const struct ratchet_hdr *h,
			   const uint8_t key[static KEY_LEN])
{
	memset(buf, 0, KEY_RATCHET_FILE_LEN);
	memcpy(buf, RATCHET_MAGIC, 8);
	buf[8] = (uint8_t)h->version;
	buf[9] = (uint8_t)(h->version >> 8);
	buf[10] = (uint8_t)(h->version >> 16);
	buf[11] = (uint8_t)(h->version >> 24);
	le64_put(buf + 16, h->epoch_seconds);
	le64_put(buf + 24, h->start);
	le64_put(buf + 32, h->epoch);
	memcpy(buf + RATCHET_OFF_KEY, key, KEY_LEN);
	crypto_generichash(buf + RATCHET_OFF_SUM, RATCHET_SUM_LEN, buf,
			   RATCHET_OFF_SUM, NULL, 0);
}

/* Check and take apart a state; @key receives K_e only on success. */
static int ratchet_parse(const uint8_t buf[static KEY_RATCHET_FILE_LEN],
			 struct ratchet_hdr *h, uint8_t key[static KEY_LEN],
			 const char **why)
{
	uint8_t sum[RATCHET_SUM_LEN];

	if (memcmp(buf, RATCHET_MAGIC, 8)) {
		*why = "not a ratchet state (no magic)";
		return -EINVAL;
	}
	crypto_generichash(sum, sizeof(sum), buf, RATCHET_OFF_SUM, NULL, 0);
	if (sodium_memcmp(sum, buf + RATCHET_OFF_SUM, sizeof(sum))) {
		*why = "corrupt ratchet state (checksum mismatch)";
		return -EBADMSG;
	}
	h->version = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 |
		     (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
	if (h->version != KEY_RATCHET_VERSION) {
		*why = "ratchet state of an unknown format version";
		return -EINVAL;
	}
	h->epoch_seconds = le64_get(buf + 16);
	h->start = le64_get(buf + 24);
	h->epoch = le64_get(buf + 32);
	if (h->epoch_seconds == 0 || h->epoch_seconds > KEY_RATCHET_MAX_EPOCH ||
	    h->start > KEY_RATCHET_MAX_TIME ||
	    h->epoch > (KEY_RATCHET_MAX_TIME - h->start) / h->epoch_seconds) {
		*why = "corrupt ratchet state (epoch length, start or number "
		       "out of range)";
		return -EINVAL;
	}
	memcpy(key, buf + RATCHET_OFF_KEY, KEY_LEN);
	return 0;
}

/* Read a whole state from @fd into @buf (secret memory). */
static int ratchet_read(int fd, uint8_t buf[static KEY_RATCHET_FILE_LEN],
			const char **why)
{
	int err = key_read_exact(fd, buf, KEY_RATCHET_FILE_LEN);

	if (err == -EINVAL)
		*why = "ratchet state of the wrong size";
	else if (err)
		*why = "cannot read";
	return err;
}

static void ratchet_prev_wipe(struct keyring *kr)
{
	sodium_memzero(keyring_slot_key(kr, 1), KEY_LEN);
	kr->prev_valid = false;
}

/*
 * Move the keyring's ratchet to epoch @e (> cur): K forward, W_cur and
 * W_prev made again.  Every intermediate key is overwritten in place.
 */
static void ratchet_step_to(struct keyring *kr, uint64_t e)
{
	uint8_t *k = keyring_master(kr);

	while (kr->cur + 1 < e) {
		ratchet_next(k);
		kr->cur++;
	}
	ratchet_kdf(k, RATCHET_LABEL_EPOCH, keyring_slot_key(kr, 1), KEY_LEN);
	ratchet_next(k);
	kr->cur++;
	ratchet_kdf(k, RATCHET_LABEL_EPOCH, keyring_slot_key(kr, 0), KEY_LEN);
	kr->prev_valid = true;
}

static const uint8_t *ratchet_epoch_key(struct keyring *kr, uint64_t epoch)
{
	if (epoch > kr->cur)
		ratchet_step_to(kr, epoch);
	if (epoch + 1 == kr->cur && kr->prev_valid)
		return keyring_slot_key(kr, 1);
	return keyring_slot_key(kr, 0);
}

/* A ratchet keyring at the state's epoch, from a checked state. */
static struct keyring *ratchet_keyring(const struct ratchet_hdr *h,
				       const uint8_t key[static KEY_LEN])
{
	struct keyring *kr = keyring_alloc(h->epoch_seconds);

	if (!kr)
		return NULL;
	kr->ratchet = true;
	kr->start = h->start;
	kr->cur = h->epoch;
	kr->first = h->epoch;
	kr->grace = KEY_GRACE_DEFAULT;
	memcpy(keyring_master(kr), key, KEY_LEN);
	ratchet_kdf(key, RATCHET_LABEL_EPOCH, keyring_slot_key(kr, 0), KEY_LEN);
	return kr;
}

/* keyring_load() of a ratchet state, from its descriptor. */
static int ratchet_load_fd(int fd, struct keyring **out, const char **why)
{
	struct ratchet_hdr h;
	uint8_t *buf;
	int err;

	buf = sodium_malloc(KEY_RATCHET_FILE_LEN + KEY_LEN);
	if (!buf) {
		*why = "out of memory";
		return -ENOMEM;
	}
	err = ratchet_read(fd, buf, why);
	if (!err)
		err = ratchet_parse(buf, &h, buf + KEY_RATCHET_FILE_LEN, why);
	if (!err) {
		*out = ratchet_keyring(&h, buf + KEY_RATCHET_FILE_LEN);
		if (!*out) {
			err = -ENOMEM;
			*why = "out of memory";
		}
	}
	sodium_free(buf);	/* wipes */
	return err;
}

/**
 * keyring_load() - a keyring whose master key or ratchet state is read
 * from @path.
 * @path: key file, opened and checked as key_file_check() does
 * @epoch_seconds: epoch length (0: one epoch forever); a ratchet state
 *                 carries its own, which wins
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
	struct stat st;
	int fd, err;

	if (!why)
		why = &dummy;
	*why = NULL;
	fd = key_obtain(path, why);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		*why = "cannot stat";
		goto out;
	}
	if (st.st_size == KEY_RATCHET_FILE_LEN) {
		err = ratchet_load_fd(fd, &kr, why);
		goto out;
	}
	kr = keyring_alloc(epoch_seconds);
	if (!kr) {
		err = -errno;
		*why = "out of memory";
		goto out;
	}
	err = key_read_exact(fd, keyring_master(kr), KEY_LEN);
	if (err == -EINVAL)
		*why = "not exactly 32 bytes long, nor a ratchet state";
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
 * with the length.  A ratchet keyring is copied as it stands (its epoch
 * length is its state's; nothing it has erased comes back).
 * Return: the keyring (keyring_free()) or NULL with errno set.
 */
struct keyring *keyring_clone(const struct keyring *kr, uint64_t epoch_seconds)
{
	struct keyring *copy;

	if (!kr) {
		errno = EINVAL;
		return NULL;
	}
	if (kr->ratchet)
		epoch_seconds = kr->epoch_seconds;
	copy = keyring_alloc(epoch_seconds);
	if (!copy)
		return NULL;
	memcpy(keyring_master(copy), keyring_master(kr), KEY_LEN);
	if (kr->ratchet) {
		copy->ratchet = true;
		copy->start = kr->start;
		copy->cur = kr->cur;
		copy->first = kr->cur;	/* what was erased stays erased */
		copy->grace = kr->grace;
		copy->prev_valid = kr->prev_valid;
		memcpy(keyring_slot_key(copy, 0), keyring_slot_key(kr, 0),
		       2 * KEY_LEN);
	}
	return copy;
}

/**
 * keyring_epoch() - the epoch number of the time @unix_seconds.
 *
 * With a ratchet state the epochs count from its start time, and this is
 * where the keyring moves on: a time in a later epoch hashes the ratchet
 * forward to it (the older ratchet key is wiped at once), and the
 * previous epoch's key is wiped once the grace after the boundary is
 * over.  Allocates nothing.
 * Return: unix_seconds / epoch length (ratchet: seconds since its start
 * divided by the length, 0 before the start), always 0 when the length
 * is 0.
 */
uint64_t keyring_epoch(struct keyring *kr, uint64_t unix_seconds)
{
	uint64_t e;

	if (!kr || kr->epoch_seconds == 0)
		return 0;
	if (!kr->ratchet)
		return unix_seconds / kr->epoch_seconds;
	e = ratchet_epoch_of(kr->start, kr->epoch_seconds, unix_seconds);
	if (e > kr->cur)
		ratchet_step_to(kr, e);
	if (kr->prev_valid &&
	    unix_seconds >= ratchet_epoch_start(kr, kr->cur) + kr->grace)
		ratchet_prev_wipe(kr);
	return e;
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
 * A ratchet keyring hashes forward to a later @epoch; for the epoch
 * before its current one it has the key only during the grace, and for
 * an older epoch it has none (keyring_epoch_erased() says so): it then
 * answers with the current epoch's key, never an old one.
 *
 * Return: pointer to KEY_LEN bytes owned by @kr.  It stays valid until
 * keyring_free() while @epoch is the newest epoch asked for or the one
 * before it; otherwise only until the next call.  (Ratchet: until the
 * keyring moves to another epoch.)
 */
const uint8_t *keyring_epoch_key(struct keyring *kr, uint64_t epoch)
{
	unsigned i, hit = KEY_CACHE_SLOTS, victim = KEY_CACHE_SLOTS;

	if (kr->ratchet)
		return ratchet_epoch_key(kr, epoch);
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

/*
 * Create @base in @dfd with @len bytes of @buf, mode 0600, O_EXCL, and
 * sync it.  On failure after creation the file is removed.
 */
static int key_create_at(int dfd, const char *base, const uint8_t *buf,
			 size_t len)
{
	int fd, err;

	fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	/* the umask may have taken bits away; never more than 0600 */
	if (fchmod(fd, 0600) < 0) {
		err = -errno;
		goto out_unlink;
	}
	err = key_write_all(fd, buf, len);
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
	return 0;
out_unlink:
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, base, 0);
	return err;
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
	int dfd, err;

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
	randombytes_buf(master, KEY_LEN);
	err = key_create_at(dfd, base, master, KEY_LEN);
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

/* ---- ratchet: keyring queries ------------------------------------------ */

/**
 * keyring_is_ratchet() - @kr was loaded from a ratchet state
 */
bool keyring_is_ratchet(const struct keyring *kr)
{
	return kr && kr->ratchet;
}

/**
 * keyring_set_grace() - how long a ratchet keyring keeps the previous
 * epoch's key after a boundary, in seconds (no effect on a static key)
 */
void keyring_set_grace(struct keyring *kr, uint64_t seconds)
{
	if (kr)
		kr->grace = seconds;
}

/**
 * keyring_epoch_seconds() - the epoch length @kr uses (a ratchet state's
 * own), 0 for one epoch forever
 */
uint64_t keyring_epoch_seconds(const struct keyring *kr)
{
	return kr ? kr->epoch_seconds : 0;
}

/**
 * keyring_epoch_erased() - the key of epoch @epoch is gone for good: a
 * ratchet keyring past it (and past its grace), or loaded from a state
 * that was already later.  Never true for a static key.
 * @first: set to the oldest epoch whose key @kr still has
 */
bool keyring_epoch_erased(const struct keyring *kr, uint64_t epoch,
			  uint64_t *first)
{
	uint64_t oldest;

	if (!kr || !kr->ratchet)
		return false;
	oldest = kr->prev_valid && kr->cur > kr->first ? kr->cur - 1 : kr->cur;
	if (first)
		*first = oldest;
	return epoch < oldest;
}

/**
 * keyring_epoch_span() - Unix time at which epoch @epoch of @kr begins
 * (static key: epoch * length)
 */
uint64_t keyring_epoch_span(const struct keyring *kr, uint64_t epoch)
{
	if (!kr)
		return 0;
	if (kr->ratchet)
		return ratchet_epoch_start(kr, epoch);
	return epoch * kr->epoch_seconds;
}

/**
 * keyring_ratchet_epoch() - the epoch of @kr's current ratchet key (0 for
 * a static key)
 */
uint64_t keyring_ratchet_epoch(const struct keyring *kr)
{
	return kr && kr->ratchet ? kr->cur : 0;
}

/* ---- ratchet: files ----------------------------------------------------- */

/* fsync the directory @dfd (an O_PATH descriptor) stands for. */
static int key_dir_sync(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

/*
 * Replace @base in @dfd with @buf atomically: a temporary file beside it
 * (".BASE.new", mode 0600), fsync, rename over @base, fsync of the
 * directory.  A reader sees the old state or the new one, never a mix;
 * after a crash, the old or the new one.
 */
static int key_replace_at(int dfd, const char *base, const uint8_t *buf,
			  size_t len, const char **why)
{
	char tmp[NAME_MAX + 1];
	int err;

	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.new", base) >= sizeof(tmp)) {
		*why = "file name too long for a temporary file beside it";
		return -ENAMETOOLONG;
	}
	err = key_create_at(dfd, tmp, buf, len);
	if (err == -EEXIST) {
		/* left by a crash between create and rename: ours to remove */
		unlinkat(dfd, tmp, 0);
		err = key_create_at(dfd, tmp, buf, len);
	}
	if (err) {
		*why = "cannot write a temporary file beside it";
		return err;
	}
	if (renameat(dfd, tmp, dfd, base) < 0) {
		err = -errno;
		unlinkat(dfd, tmp, 0);
		*why = "cannot rename the new state into place";
		return err;
	}
	err = key_dir_sync(dfd);
	if (err)
		*why = "cannot sync its directory";
	return err;
}

/* Open, read and check the ratchet state @path; @key gets K_e. */
static int ratchet_file_read(const char *path, uid_t allowed_uid,
			     struct ratchet_hdr *h, uint8_t *buf,
			     uint8_t key[static KEY_LEN], const char **why)
{
	struct stat st;
	int fd, err;

	fd = key_file_open(path, allowed_uid, why);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		*why = "cannot stat";
	} else if (st.st_size != KEY_RATCHET_FILE_LEN) {
		err = -EMEDIUMTYPE;
		*why = "a static 32-byte key, not a ratchet state";
	} else {
		err = ratchet_read(fd, buf, why);
	}
	if (!err)
		err = ratchet_parse(buf, h, key, why);
	close(fd);
	return err;
}

/* A state ahead of the clock by more than @grace cannot be ours. */
static int ratchet_check_clock(const struct ratchet_hdr *h, uint64_t now,
			       uint64_t grace, const char **why)
{
	if (h->epoch > 0 &&
	    h->start + h->epoch * h->epoch_seconds > now + grace) {
		*why = "ratchet state ahead of the clock (its epoch has not "
		       "begun yet): a wrong clock, or a state from elsewhere";
		return -ERANGE;
	}
	return 0;
}

/* Hash @key forward from @h->epoch to the epoch of @now. */
static uint64_t ratchet_forward(struct ratchet_hdr *h,
				uint8_t key[static KEY_LEN], uint64_t now)
{
	uint64_t e = ratchet_epoch_of(h->start, h->epoch_seconds, now);
	uint64_t steps = 0;

	while (h->epoch < e) {
		ratchet_next(key);
		h->epoch++;
		steps++;
	}
	return steps;
}

static void ratchet_fingerprint(const uint8_t key[static KEY_LEN],
				char out[static KEY_FPR_HEX])
{
	uint8_t fpr[crypto_generichash_BYTES_MIN];

	/* BLAKE2b's shortest output is 16 bytes: its first 8 are shown */
	ratchet_kdf(key, RATCHET_LABEL_FPR, fpr, sizeof(fpr));
	sodium_bin2hex(out, KEY_FPR_HEX, fpr, (KEY_FPR_HEX - 1) / 2);
	sodium_memzero(fpr, sizeof(fpr));
}

/* Secret scratch for the file operations: state buffer, then K_e. */
#define RATCHET_SCRATCH (KEY_RATCHET_FILE_LEN + KEY_LEN)

/**
 * key_ratchet_new() - see policy.h
 */
int key_ratchet_new(const char *path, uint64_t epoch_seconds, uint64_t start,
		    uint64_t now, const char **why)
{
	struct ratchet_hdr h = {
		.version = KEY_RATCHET_VERSION, .epoch_seconds = epoch_seconds,
		.start = start,
	};
	const char *dummy, *base = NULL;
	uint8_t *buf;
	int dfd, err;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (epoch_seconds == 0 || epoch_seconds > KEY_RATCHET_MAX_EPOCH ||
	    start > KEY_RATCHET_MAX_TIME) {
		*why = "epoch length or start out of range";
		return -EINVAL;
	}
	err = key_init();
	if (err)
		return err;
	h.epoch = ratchet_epoch_of(start, epoch_seconds, now);
	dfd = key_dir_open(path, key_allowed_uid, &base, why);
	if (dfd < 0)
		return dfd;
	buf = sodium_malloc(RATCHET_SCRATCH);
	if (!buf) {
		close(dfd);
		return -ENOMEM;
	}
	/* a fresh key for the current epoch: no earlier one ever existed */
	randombytes_buf(buf + KEY_RATCHET_FILE_LEN, KEY_LEN);
	ratchet_format(buf, &h, buf + KEY_RATCHET_FILE_LEN);
	err = key_create_at(dfd, base, buf, KEY_RATCHET_FILE_LEN);
	if (err == -EEXIST)
		*why = "exists (an existing key is never replaced)";
	else if (!err)
		err = key_dir_sync(dfd);
	if (err && !*why)
		*why = strerror(-err);
	sodium_free(buf);
	close(dfd);
	return err;
}

/*
 * Read the ratchet state at @path into guarded memory: the file image at
 * *@buf, its key right after.  *@buf is set (and must be sodium_free()d)
 * whenever the return is not -ENOMEM or key_init()'s error.
 */
static int ratchet_open(const char *path, uid_t allowed_uid,
			struct ratchet_hdr *h, uint8_t **buf, const char **why)
{
	int err = key_init();

	*buf = NULL;
	if (err)
		return err;
	*buf = sodium_malloc(RATCHET_SCRATCH);
	if (!*buf)
		return -ENOMEM;
	return ratchet_file_read(path, allowed_uid, h, *buf,
				 *buf + KEY_RATCHET_FILE_LEN, why);
}

/* What `key status` shows of state @h with key @key; never the key. */
static void ratchet_status_fill(struct key_ratchet_status *st,
				const struct ratchet_hdr *h, const uint8_t *key)
{
	st->version = h->version;
	st->epoch_seconds = h->epoch_seconds;
	st->start = h->start;
	st->epoch = h->epoch;
	ratchet_fingerprint(key, st->fingerprint);
}

/**
 * key_ratchet_advance() - see policy.h
 */
int key_ratchet_advance(const char *path, uid_t allowed_uid, uint64_t now,
			uint64_t grace, uint64_t not_before,
			struct key_ratchet_status *st, const char **why)
{
	struct ratchet_hdr h;
	const char *dummy, *base = NULL;
	uint64_t steps;
	uint8_t *buf;
	int dfd, err;

	if (!why)
		why = &dummy;
	*why = NULL;
	err = ratchet_open(path, allowed_uid, &h, &buf, why);
	if (err)
		goto out;
	if (h.epoch < not_before) {
		*why = "ratchet state behind one already in use (rolled back: "
		       "restored from a copy?); refusing an erased epoch";
		err = -ESTALE;
		goto out;
	}
	err = ratchet_check_clock(&h, now, grace, why);
	if (err)
		goto out;
	if (st)
		st->from = h.epoch;
	steps = ratchet_forward(&h, buf + KEY_RATCHET_FILE_LEN, now);
	if (steps) {
		ratchet_format(buf, &h, buf + KEY_RATCHET_FILE_LEN);
		dfd = key_dir_open(path, allowed_uid, &base, why);
		if (dfd < 0) {
			err = dfd;
			goto out;
		}
		err = key_replace_at(dfd, base, buf, KEY_RATCHET_FILE_LEN, why);
		close(dfd);
		if (err)
			goto out;
	}
	if (st)
		ratchet_status_fill(st, &h, buf + KEY_RATCHET_FILE_LEN);
out:
	sodium_free(buf);	/* wipes the old key and the new; NULL is fine */
	return err;
}

/**
 * key_ratchet_status() - see policy.h
 */
int key_ratchet_status(const char *path, struct key_ratchet_status *st,
		       const char **why)
{
	struct ratchet_hdr h;
	const char *dummy;
	uint8_t *buf;
	int err;

	if (!why)
		why = &dummy;
	*why = NULL;
	err = ratchet_open(path, key_allowed_uid, &h, &buf, why);
	if (!err) {
		ratchet_status_fill(st, &h, buf + KEY_RATCHET_FILE_LEN);
		st->from = h.epoch;
	}
	sodium_free(buf);
	return err;
}

/**
 * key_ratchet_export() - see policy.h
 */
int key_ratchet_export(const char *path, const char *out, uint64_t now,
		       struct key_ratchet_status *st, const char **why)
{
	struct ratchet_hdr h;
	const char *dummy, *base = NULL;
	uint8_t *buf;
	int dfd, err;

	if (!why)
		why = &dummy;
	*why = NULL;
	err = ratchet_open(path, key_allowed_uid, &h, &buf, why);
	if (!err)
		err = ratchet_check_clock(&h, now, KEY_GRACE_DEFAULT, why);
	if (err)
		goto out;
	/* never hand out an epoch the clock has left behind */
	st->from = h.epoch;
	ratchet_forward(&h, buf + KEY_RATCHET_FILE_LEN, now);
	ratchet_format(buf, &h, buf + KEY_RATCHET_FILE_LEN);
	dfd = key_dir_open(out, key_allowed_uid, &base, why);
	if (dfd < 0) {
		err = dfd;
		goto out;
	}
	err = key_create_at(dfd, base, buf, KEY_RATCHET_FILE_LEN);
	if (!err)
		err = key_dir_sync(dfd);
	if (err == -EEXIST)
		*why = "exists (an existing key is never replaced)";
	else if (err)
		*why = strerror(-err);
	close(dfd);
	if (!err)
		ratchet_status_fill(st, &h, buf + KEY_RATCHET_FILE_LEN);
out:
	sodium_free(buf);
	return err;
}
