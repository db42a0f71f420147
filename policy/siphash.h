/*
 * siphash.h — SipHash over whole 64-bit words, for the hot path: the
 * flow table's seeded index hash (SipHash-1-3) and the round function of
 * the address permutation (SipHash-2-4).  Internal to policy/.
 *
 * A message of n words is hashed exactly as the reference SipHash hashes
 * the 8n bytes of those words in little-endian order.
 */
#ifndef NFREDACT_SIPHASH_H
#define NFREDACT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t sip_rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = sip_rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = sip_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = sip_rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = sip_rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = sip_rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = sip_rotl(v[2], 32);
}

/* SipHash-c-d of @n words @m under the 128-bit key @k0, @k1. */
static inline uint64_t sip_hash_words(uint64_t k0, uint64_t k1,
				      const uint64_t *m, size_t n,
				      unsigned crounds, unsigned drounds)
{
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ULL,
		k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL,
		k1 ^ 0x7465646279746573ULL,
	};
	uint64_t last = (uint64_t)(n * 8) << 56;
	unsigned r;
	size_t i;

	for (i = 0; i < n; i++) {
		v[3] ^= m[i];
		for (r = 0; r < crounds; r++)
			sip_round(v);
		v[0] ^= m[i];
	}
	v[3] ^= last;
	for (r = 0; r < crounds; r++)
		sip_round(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	for (r = 0; r < drounds; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

#endif
