/*
 * idset.c — open-addressing hash set of byte strings (see idset.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"
#include "bigmem.h"

#define EMPTY 0

struct idset {
	struct idset_entry *e;
	uint32_t n, e_cap;	/* e: e_cap entries, bigmem_alloc() */
	uint64_t *index;	/* hash tag << 32 | entry number + 1, or EMPTY */
	uint32_t index_mask;
	uint8_t *arena;		/* arena_cap bytes, bigmem_alloc() */
	size_t arena_len, arena_cap;
	size_t max_bytes;
	uint64_t overflow;
};

/* Move the first @used bytes of @p (@old bytes) into @size new ones. */
static void *big_grow(void *p, size_t used, size_t old, size_t size)
{
	void *np = bigmem_alloc(size);

	if (!np)
		return NULL;
	if (p) {
		memcpy(np, p, used);
		bigmem_free(p, old);
	}
	return np;
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

/* Eight bytes a step: identifiers are short, and nobody picks them to
 * collide here (they come from the operator's own capture). */
uint64_t idset_hash(const uint8_t *p, uint32_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = mix(h ^ w) * 0x9e3779b97f4a7c15ull;
	}
	w = 0;
	memcpy(&w, p, len);
	return mix(h ^ w);
}

struct idset *idset_new(size_t max_bytes)
{
	struct idset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->max_bytes = max_bytes;
	/* large from the start: pages never touched cost nothing, and a big
	 * capture is spared most of the rehashing */
	s->index_mask = (1u << 20) - 1;
	s->index = bigmem_alloc(((size_t)s->index_mask + 1) * sizeof(*s->index));
	if (!s->index) {
		free(s);
		return NULL;
	}
	return s;
}

void idset_free(struct idset *s)
{
	if (!s)
		return;
	bigmem_free(s->e, (size_t)s->e_cap * sizeof(*s->e));
	bigmem_free(s->index, ((size_t)s->index_mask + 1) * sizeof(*s->index));
	bigmem_free(s->arena, s->arena_cap);
	free(s);
}

static uint64_t slot_of(uint64_t h, uint32_t k)
{
	return (h & 0xffffffff00000000ull) | ((uint64_t)k + 1);
}

/* The tag in the slot spares a visit to the entry on most mismatches. */
static bool slot_matches(const struct idset *s, uint64_t slot, uint64_t h,
			 const uint8_t *key, uint32_t len)
{
	const struct idset_entry *e;

	if ((slot ^ h) >> 32)
		return false;
	e = &s->e[(uint32_t)slot - 1];
	return e->hash == h && e->key_len == len &&
	       !memcmp(s->arena + e->key_off, key, len);
}

void idset_prefetch(const struct idset *s, uint64_t h)
{
	__builtin_prefetch(&s->index[(uint32_t)h & s->index_mask]);
}

const struct idset_entry *idset_find(const struct idset *s, const uint8_t *key,
				     uint32_t len)
{
	return idset_find_hashed(s, idset_hash(key, len), key, len);
}

const struct idset_entry *idset_find_hashed(const struct idset *s, uint64_t h,
					    const uint8_t *key, uint32_t len)
{
	for (uint32_t i = (uint32_t)h & s->index_mask;;
	     i = (i + 1) & s->index_mask) {
		uint64_t slot = s->index[i];

		if (slot == EMPTY)
			return NULL;
		if (slot_matches(s, slot, h, key, len))
			return &s->e[(uint32_t)slot - 1];
	}
}

static int grow_index(struct idset *s)
{
	uint32_t mask = s->index_mask * 2 + 1;
	uint64_t *index = bigmem_alloc(((size_t)mask + 1) * sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (uint32_t k = 0; k < s->n; k++) {
		uint32_t i = (uint32_t)s->e[k].hash & mask;

		while (index[i] != EMPTY)
			i = (i + 1) & mask;
		index[i] = slot_of(s->e[k].hash, k);
	}
	bigmem_free(s->index, ((size_t)s->index_mask + 1) * sizeof(*s->index));
	s->index = index;
	s->index_mask = mask;
	return 0;
}

static int reserve(struct idset *s, size_t more)
{
	size_t cap;
	uint8_t *a;

	if (s->arena_len + more <= s->arena_cap)
		return 0;
	if (s->arena_len + more > s->max_bytes)
		return -ENOMEM;
	cap = s->arena_cap ? s->arena_cap : 4096;
	while (cap < s->arena_len + more)
		cap *= 2;
	if (cap > s->max_bytes)
		cap = s->max_bytes;
	a = big_grow(s->arena, s->arena_len, s->arena_cap, cap);
	if (!a)
		return -ENOMEM;
	s->arena = a;
	s->arena_cap = cap;
	return 0;
}

int idset_insert(struct idset *s, const uint8_t *key, uint32_t len, uint8_t tag,
		 const uint8_t *val, uint32_t val_len, bool *added)
{
	return idset_insert_hashed(s, idset_hash(key, len), key, len, tag, val,
				   val_len, added);
}

int idset_insert_hashed(struct idset *s, uint64_t h, const uint8_t *key,
			uint32_t len, uint8_t tag, const uint8_t *val,
			uint32_t val_len, bool *added)
{
	struct idset_entry *e;
	uint32_t i;

	if (added)
		*added = false;
	for (i = (uint32_t)h & s->index_mask; s->index[i] != EMPTY;
	     i = (i + 1) & s->index_mask)
		if (slot_matches(s, s->index[i], h, key, len))
			return 0;

	if (!val)
		val_len = 0;
	if (reserve(s, (size_t)len + val_len) < 0)
		goto full;
	if (s->n == s->e_cap) {
		uint32_t cap = s->e_cap ? s->e_cap * 2 : 256;
		struct idset_entry *ne;

		if ((size_t)cap * sizeof(*ne) > s->max_bytes)
			goto full;
		ne = big_grow(s->e, (size_t)s->n * sizeof(*ne),
			      (size_t)s->e_cap * sizeof(*ne), cap * sizeof(*ne));
		if (!ne)
			goto full;
		s->e = ne;
		s->e_cap = cap;
	}
	e = &s->e[s->n];
	e->hash = h;
	e->tag = tag;
	e->key_off = (uint32_t)s->arena_len;
	e->key_len = len;
	memcpy(s->arena + s->arena_len, key, len);
	s->arena_len += len;
	e->has_val = val != NULL;
	e->val_off = (uint32_t)s->arena_len;
	e->val_len = val_len;
	if (val_len)
		memcpy(s->arena + s->arena_len, val, val_len);
	s->arena_len += val_len;
	s->index[i] = slot_of(h, s->n++);
	if (added)
		*added = true;
	/* keep the load under one half so probes stay short */
	if ((uint64_t)s->n * 2 > s->index_mask && grow_index(s) < 0) {
		s->index[i] = EMPTY;
		s->n--;
		goto full;
	}
	return 0;
full:
	if (added)
		*added = false;
	s->overflow++;
	return -ENOMEM;
}

uint32_t idset_count(const struct idset *s)
{
	return s->n;
}

uint64_t idset_overflow(const struct idset *s)
{
	return s->overflow;
}

const struct idset_entry *idset_at(const struct idset *s, uint32_t i)
{
	return &s->e[i];
}

uint32_t idset_index(const struct idset *s, const struct idset_entry *e)
{
	return (uint32_t)(e - s->e);
}

const uint8_t *idset_bytes(const struct idset *s, uint32_t off)
{
	return s->arena + off;
}
