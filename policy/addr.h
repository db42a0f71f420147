/*
 * addr.h — address modes: truncate, permute, map (doc/design.md §4), and the
 * inverse of permute.  Stateless: the map mode's collision handling and
 * every reverse lookup live in the flow table.
 */
#ifndef NFREDACT_ADDR_H
#define NFREDACT_ADDR_H

#include <stdbool.h>
#include <stdint.h>

#include "key.h"

struct rs_addr_rule;

/**
 * addr_truncate() - keep the first @plen bits of @in (@alen = 4 or 16
 * bytes), zero the rest, into @out (may equal @in).
 */
void addr_truncate(const uint8_t *in, uint8_t *out, unsigned alen, unsigned plen);

/**
 * addr_permute() - keep the first @plen bits, pass the host bits through
 * a keyed bijection.  For an IPv4 host part of at least 2 bits, the
 * all-zeros and all-ones host parts map to themselves and nothing else
 * maps to them (no network or broadcast address is made).
 */
void addr_permute(const uint8_t key[static KEY_LEN], const uint8_t *in,
		  uint8_t *out, unsigned alen, unsigned plen);

/** addr_unpermute() - the inverse of addr_permute() with the same key */
void addr_unpermute(const uint8_t key[static KEY_LEN], const uint8_t *in,
		    uint8_t *out, unsigned alen, unsigned plen);

/**
 * addr_map_candidate() - the @attempt-th keyed pseudonym of @in inside
 * the range @range_addr/@range_plen (attempt 0 first; the flow table
 * tries the next on a collision).  For an IPv4 range of at least /30 the
 * network and broadcast addresses of the range are never returned.
 */
void addr_map_candidate(const uint8_t key[static KEY_LEN], const uint8_t *in,
			unsigned alen, const uint8_t *range_addr,
			unsigned range_plen, unsigned attempt, uint8_t *out);

/**
 * addr_is_v4mapped() - @in (16 bytes) is ::ffff:a.b.c.d
 */
bool addr_is_v4mapped(const uint8_t in[static 16]);

/** addr_in_prefix() - the first @plen bits of @a and @prefix agree */
bool addr_in_prefix(const uint8_t *a, const uint8_t *prefix, unsigned plen);

#endif
