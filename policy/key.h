/*
 * key.h — master key, per-epoch keys and keyed functions.  key.c is the
 * only file that touches libsodium; every secret is wiped on release.
 */
#ifndef NFREDACT_KEY_H
#define NFREDACT_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEY_LEN 32

struct keyring;

/**
 * key_init() - initialise libsodium once per process.
 * Return: 0 or -EIO.
 */
int key_init(void);

/**
 * key_file_check() - check a key file without keeping its contents: open
 * it as keyring_load() does (the opener of keyring_set_opener(), else
 * key_file_open() with the allowed user of key_set_allowed_uid(), both in
 * policy.h) and close it again.
 * @why: on failure, a static message naming what is wrong (never a byte
 *       of the key)
 * Return: 0 or -errno (-ENOENT, -ELOOP for a symbolic link, -EINVAL for
 * type or size, -EPERM for owner or mode ...).
 */
int key_file_check(const char *path, const char **why);

/**
 * keyring_load() - a keyring whose master key is read from @path, opened
 * and checked as key_file_check() does.
 * @why: on failure, a static message naming what is wrong (never a byte
 *       of the key); NULL if not wanted
 * Return: keyring (keyring_free()) or NULL with errno set.
 */
struct keyring *keyring_load(const char *path, uint64_t epoch_seconds,
			     const char **why);

/** keyring_random() - a keyring with a fresh random master key in memory */
struct keyring *keyring_random(uint64_t epoch_seconds);

/** keyring_clone() - a copy of @kr with another epoch length (reload) */
struct keyring *keyring_clone(const struct keyring *kr, uint64_t epoch_seconds);

/** keyring_free() - wipe and free; NULL is fine */
void keyring_free(struct keyring *kr);

/**
 * keyring_epoch() - the epoch number of the time @unix_seconds
 * (always 0 when the epoch length is 0).
 */
uint64_t keyring_epoch(struct keyring *kr, uint64_t unix_seconds);

/** keyring_is_ratchet() - @kr holds a ratchet state, not a master key */
bool keyring_is_ratchet(const struct keyring *kr);

/** keyring_set_grace() - seconds a ratchet keeps the previous epoch's key */
void keyring_set_grace(struct keyring *kr, uint64_t seconds);

/** keyring_epoch_seconds() - the epoch length in use (a ratchet's own) */
uint64_t keyring_epoch_seconds(const struct keyring *kr);

/**
 * keyring_epoch_erased() - @epoch's key is gone from a ratchet keyring
 * (older than its oldest epoch, set in *@first); false for a static key
 */
bool keyring_epoch_erased(const struct keyring *kr, uint64_t epoch,
			  uint64_t *first);

/** keyring_epoch_span() - Unix time at which @epoch begins */
uint64_t keyring_epoch_span(const struct keyring *kr, uint64_t epoch);

/** keyring_ratchet_epoch() - the epoch of the current ratchet key */
uint64_t keyring_ratchet_epoch(const struct keyring *kr);

/**
 * keyring_epoch_key() - the key of epoch @epoch, derived from the master
 * key with libsodium's KDF (cached for the most recent epochs).  Keys of
 * epochs older than the one before the newest asked for are wiped.
 * Return: pointer to KEY_LEN bytes, valid until keyring_free() while
 * @epoch is the newest epoch asked for or the one before it (an older
 * epoch's key: only until the next call).
 */
const uint8_t *keyring_epoch_key(struct keyring *kr, uint64_t epoch);

/**
 * key_prf() - keyed pseudo-random function (BLAKE2b): @outlen bytes
 * (any length) from @key, a one-byte @domain separator and @in.
 */
void key_prf(const uint8_t key[static KEY_LEN], uint8_t domain,
	     const void *in, size_t inlen, uint8_t *out, size_t outlen);

/** key_write_new() - write KEY_LEN random bytes to a new file, mode 0600.
 * Return: 0 or -errno (-EEXIST when the file exists). */
int key_write_new(const char *path);

/** key_wipe() - erase a secret buffer */
void key_wipe(void *buf, size_t len);

#endif
