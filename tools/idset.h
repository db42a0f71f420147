/*
 * idset.h — a set of byte strings with a value each, for the dry-run's
 * residual check: the identifiers seen in the input (and what they became),
 * the client addresses the engine rewrote (and their pseudonyms).
 *
 * Memory grows by doubling up to a fixed limit, so inserting allocates
 * only now and then, never per packet; past the limit inserts fail and are
 * counted, and the report says the check was partial.
 */
#ifndef NFREDACT_IDSET_H
#define NFREDACT_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idset;

struct idset_entry {
	uint64_t hash;
	uint32_t key_off, key_len;
	uint32_t val_off, val_len;
	uint8_t tag;		/* the caller's: detector, family ... */
	bool has_val;
};

/**
 * idset_new() - an empty set holding at most @max_bytes of strings
 * Return: the set (idset_free()) or NULL.
 */
struct idset *idset_new(size_t max_bytes);

/** idset_free() - free; NULL is fine */
void idset_free(struct idset *s);

/**
 * idset_find() - the entry whose key is @key[0, @len), or NULL
 */
const struct idset_entry *idset_find(const struct idset *s, const uint8_t *key,
				     uint32_t len);

/**
 * idset_insert() - add @key with @tag and value @val (may be NULL) unless
 * present; an existing entry is left as it is.
 * @added: set to whether the key was new (may be NULL)
 * Return: 0, or -ENOMEM (limit reached or allocation failed: counted in
 * idset_overflow()).
 */
int idset_insert(struct idset *s, const uint8_t *key, uint32_t len, uint8_t tag,
		 const uint8_t *val, uint32_t val_len, bool *added);

/**
 * idset_hash() - the hash of @key[0, @len) that the *_hashed() variants
 * take, so that a caller can prefetch several look-ups before doing them
 */
uint64_t idset_hash(const uint8_t *key, uint32_t len);

/** idset_prefetch() - start loading what a look-up of hash @h reads first */
void idset_prefetch(const struct idset *s, uint64_t h);

/** idset_find_hashed() - idset_find() with @h = idset_hash(@key, @len) */
const struct idset_entry *idset_find_hashed(const struct idset *s, uint64_t h,
					    const uint8_t *key, uint32_t len);

/** idset_insert_hashed() - idset_insert() with @h = idset_hash(@key, @len) */
int idset_insert_hashed(struct idset *s, uint64_t h, const uint8_t *key,
			uint32_t len, uint8_t tag, const uint8_t *val,
			uint32_t val_len, bool *added);

/** idset_count() - entries held */
uint32_t idset_count(const struct idset *s);

/** idset_overflow() - inserts refused for lack of room */
uint64_t idset_overflow(const struct idset *s);

/** idset_at() - entry @i (0 <= @i < idset_count()), in insertion order */
const struct idset_entry *idset_at(const struct idset *s, uint32_t i);

/** idset_index() - the place of entry @e in insertion order: idset_at()
 * of it gives @e back */
uint32_t idset_index(const struct idset *s, const struct idset_entry *e);

/** idset_bytes() - the string at @off of an entry's key or value */
const uint8_t *idset_bytes(const struct idset *s, uint32_t off);

#endif
