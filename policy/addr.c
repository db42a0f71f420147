/*
 * addr.c — the address modes of doc/design.md §4: truncate, the keyed
 * permutation of host bits (and its inverse), and the candidates of the
 * map mode.  Stateless and allocation-free: called per packet.
 *
 * The permutation is a Feistel network over exactly the n = alen*8 - plen
 * host bits (unbalanced halves when n is odd), so any prefix length from
 * /0 to /128 gives a bijection of its own subnet.  Its round function is
 * SipHash-2-4 under a per-call round key drawn from key_prf(): one
 * BLAKE2b per address instead of one per round keeps it cheap enough for
 * the hot path while every bit still depends on the epoch key.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "key.h"
#include "siphash.h"

/* key_prf() domain separators of this file */
#define ADDR_DOM_PERMUTE	0xa1
#define ADDR_DOM_MAP		0xa2

#define ADDR_FEISTEL_ROUNDS	10	/* even: both halves mixed as often */

/* A host part of up to 128 bits, most significant word first. */
struct u128 {
	uint64_t hi, lo;
};

struct feistel {
	uint64_t k0, k1;	/* SipHash round key */
	unsigned a, b;		/* bits of the left (high) and right half */
	uint64_t tweak;		/* plen, alen, width: part of every round */
};

static uint64_t mask64(unsigned bits)
{
	return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

static struct u128 u128_load(const uint8_t *in, unsigned alen)
{
	struct u128 v = { 0, 0 };
	unsigned i;

	if (alen == 4) {
		for (i = 0; i < 4; i++)
			v.lo = v.lo << 8 | in[i];
		return v;
	}
	for (i = 0; i < 8; i++)
		v.hi = v.hi << 8 | in[i];
	for (i = 8; i < 16; i++)
		v.lo = v.lo << 8 | in[i];
	return v;
}

static void u128_store(struct u128 v, uint8_t *out, unsigned alen)
{
	int i;

	if (alen == 4) {
		for (i = 3; i >= 0; i--, v.lo >>= 8)
			out[i] = (uint8_t)v.lo;
		return;
	}
	for (i = 15; i >= 8; i--, v.lo >>= 8)
		out[i] = (uint8_t)v.lo;
	for (i = 7; i >= 0; i--, v.hi >>= 8)
		out[i] = (uint8_t)v.hi;
}

/* The low @bits bits set. */
static struct u128 u128_mask(unsigned bits)
{
	struct u128 m;

	if (bits >= 128)
		return (struct u128){ UINT64_MAX, UINT64_MAX };
	if (bits >= 64) {
		m.hi = mask64(bits - 64);
		m.lo = UINT64_MAX;
	} else {
		m.hi = 0;
		m.lo = mask64(bits);
	}
	return m;
}

static unsigned addr_bits(unsigned alen)
{
	return alen == 4 ? 32 : 128;
}

/**
 * addr_truncate() - keep the first @plen bits of an address, zero the rest.
 * @in: the address, @alen bytes, network order
 * @out: the result, @alen bytes; may be @in
 * @alen: 4 or 16
 * @plen: bits kept; at least @alen*8 keeps all
 */
void addr_truncate(const uint8_t *in, uint8_t *out, unsigned alen, unsigned plen)
{
	unsigned i, full = plen / 8;

	for (i = 0; i < alen; i++) {
		if (i < full)
			out[i] = in[i];
		else if (i == full && plen % 8)
			out[i] = in[i] & (uint8_t)(0xff << (8 - plen % 8));
		else
			out[i] = 0;
	}
}

/**
 * addr_in_prefix() - the first @plen bits of @a and @prefix agree.
 * @a: an address
 * @prefix: the prefix, at least (@plen + 7) / 8 bytes
 * @plen: bits compared (0: always true)
 */
bool addr_in_prefix(const uint8_t *a, const uint8_t *prefix, unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;

	if (memcmp(a, prefix, full))
		return false;
	if (!rest)
		return true;
	return ((a[full] ^ prefix[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/**
 * addr_is_v4mapped() - @in is an IPv4-mapped IPv6 address ::ffff:a.b.c.d.
 */
bool addr_is_v4mapped(const uint8_t in[static 16])
{
	static const uint8_t prefix[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	return memcmp(in, prefix, sizeof(prefix)) == 0;
}

static void feistel_init(struct feistel *fs, const uint8_t key[static KEY_LEN],
			 unsigned alen, unsigned plen, unsigned n)
{
	uint8_t in[2] = { (uint8_t)alen, (uint8_t)plen };
	uint8_t rk[16];

	key_prf(key, ADDR_DOM_PERMUTE, in, sizeof(in), rk, sizeof(rk));
	memcpy(&fs->k0, rk, 8);
	memcpy(&fs->k1, rk + 8, 8);
	key_wipe(rk, sizeof(rk));
	fs->b = n / 2;
	fs->a = n - fs->b;
	fs->tweak = (uint64_t)plen << 8 | (uint64_t)alen << 16 |
		    (uint64_t)n << 24;
}

static void feistel_wipe(struct feistel *fs)
{
	key_wipe(fs, sizeof(*fs));
}

static uint64_t feistel_f(const struct feistel *fs, unsigned round,
			  uint64_t half)
{
	uint64_t m[2] = { fs->tweak | round, half };

	return sip_hash_words(fs->k0, fs->k1, m, 2, 2, 4);
}

/* Split host bits @h (n = a + b bits) into the left and right half. */
static void feistel_split(const struct feistel *fs, struct u128 h,
			  uint64_t *l, uint64_t *r)
{
	unsigned b = fs->b;

	*r = h.lo & mask64(b);
	if (b == 0)
		*l = h.lo;
	else if (b == 64)
		*l = h.hi;
	else
		*l = (h.lo >> b) | (h.hi << (64 - b));
	*l &= mask64(fs->a);
}

static struct u128 feistel_join(const struct feistel *fs, uint64_t l, uint64_t r)
{
	unsigned b = fs->b;
	struct u128 h;

	if (b == 0) {
		h.hi = 0;
		h.lo = l;
	} else if (b == 64) {
		h.hi = l;
		h.lo = r;
	} else {
		h.lo = r | (l << b);
		h.hi = l >> (64 - b);
	}
	return h;
}

/* Each round changes one half by a function of the other: invertible. */
static struct u128 feistel_forward(const struct feistel *fs, struct u128 h)
{
	uint64_t l, r, ma = mask64(fs->a), mb = mask64(fs->b);
	unsigned i;

	feistel_split(fs, h, &l, &r);
	for (i = 0; i < ADDR_FEISTEL_ROUNDS; i++) {
		if (i % 2 == 0)
			l ^= feistel_f(fs, i, r) & ma;
		else
			r ^= feistel_f(fs, i, l) & mb;
	}
	return feistel_join(fs, l, r);
}

static struct u128 feistel_backward(const struct feistel *fs, struct u128 h)
{
	uint64_t l, r, ma = mask64(fs->a), mb = mask64(fs->b);
	unsigned i;

	feistel_split(fs, h, &l, &r);
	for (i = ADDR_FEISTEL_ROUNDS; i-- > 0;) {
		if (i % 2 == 0)
			l ^= feistel_f(fs, i, r) & ma;
		else
			r ^= feistel_f(fs, i, l) & mb;
	}
	return feistel_join(fs, l, r);
}

static bool u128_eq(struct u128 x, struct u128 y)
{
	return x.hi == y.hi && x.lo == y.lo;
}

static bool u128_is_zero(struct u128 x)
{
	return (x.hi | x.lo) == 0;
}

/*
 * The shared body of permute and unpermute.  For IPv4 with n >= 2 host
 * bits, the permutation of all n-bit values is restricted to
 * [1, 2^n - 2] by cycle walking: only two values lie outside, so a walk
 * takes at most three steps.
 */
static void addr_permute_dir(const uint8_t key[static KEY_LEN],
			     const uint8_t *in, uint8_t *out, unsigned alen,
			     unsigned plen, bool inverse)
{
	unsigned bits = addr_bits(alen), n;
	struct u128 v, m, h, all_ones;
	struct feistel fs;
	bool walk;

	if (plen >= bits) {
		memmove(out, in, alen);
		return;
	}
	n = bits - plen;
	v = u128_load(in, alen);
	m = u128_mask(n);
	h = (struct u128){ v.hi & m.hi, v.lo & m.lo };
	all_ones = m;
	walk = alen == 4 && n >= 2;
	if (walk && (u128_is_zero(h) || u128_eq(h, all_ones))) {
		memmove(out, in, alen);
		return;
	}
	feistel_init(&fs, key, alen, plen, n);
	do
		h = inverse ? feistel_backward(&fs, h) : feistel_forward(&fs, h);
	while (walk && (u128_is_zero(h) || u128_eq(h, all_ones)));
	feistel_wipe(&fs);
	v.hi = (v.hi & ~m.hi) | h.hi;
	v.lo = (v.lo & ~m.lo) | h.lo;
	u128_store(v, out, alen);
}

/**
 * addr_permute() - keep the first @plen bits, pass the host bits through
 * a keyed bijection.
 * @key: the epoch key
 * @in: the address, @alen bytes
 * @out: the result, @alen bytes; may be @in
 * @alen: 4 or 16
 * @plen: prefix kept (a host part of 0 bits is the identity)
 *
 * For an IPv4 host part of at least 2 bits the all-zeros and all-ones host
 * parts map to themselves and nothing else maps to them.  Allocates
 * nothing.
 */
void addr_permute(const uint8_t key[static KEY_LEN], const uint8_t *in,
		  uint8_t *out, unsigned alen, unsigned plen)
{
	addr_permute_dir(key, in, out, alen, plen, false);
}

/**
 * addr_unpermute() - the inverse of addr_permute() with the same @key,
 * @alen and @plen.
 */
void addr_unpermute(const uint8_t key[static KEY_LEN], const uint8_t *in,
		    uint8_t *out, unsigned alen, unsigned plen)
{
	addr_permute_dir(key, in, out, alen, plen, true);
}

/**
 * addr_map_candidate() - the @attempt-th keyed pseudonym of @in inside a
 * range.
 * @key: the epoch key
 * @in: the client address, @alen bytes
 * @alen: 4 or 16 (the range is of the same family)
 * @range_addr: the range, @alen bytes
 * @range_plen: its prefix length
 * @attempt: 0 first; the flow table asks for the next on a collision
 * @out: the pseudonym, @alen bytes; may be @in
 *
 * The host bits are a keyed hash of (attempt, family, address).  For an
 * IPv4 range with at least 2 host bits they are drawn from [1, 2^n - 2],
 * so the range's network and broadcast addresses are never returned.
 */
void addr_map_candidate(const uint8_t key[static KEY_LEN], const uint8_t *in,
			unsigned alen, const uint8_t *range_addr,
			unsigned range_plen, unsigned attempt, uint8_t *out)
{
	unsigned bits = addr_bits(alen), n;
	uint8_t msg[4 + 1 + 16], digest[16];
	struct u128 v, m, h;
	uint64_t span;

	if (range_plen >= bits) {
		memmove(out, range_addr, alen);
		return;
	}
	n = bits - range_plen;
	msg[0] = (uint8_t)attempt;
	msg[1] = (uint8_t)(attempt >> 8);
	msg[2] = (uint8_t)(attempt >> 16);
	msg[3] = (uint8_t)(attempt >> 24);
	msg[4] = alen == 4 ? 4 : 6;
	memcpy(msg + 5, in, alen);
	key_prf(key, ADDR_DOM_MAP, msg, 5 + alen, digest, sizeof(digest));
	h = u128_load(digest, 16);
	m = u128_mask(n);
	if (alen == 4 && n >= 2) {
		/* n <= 32: the bias of a 64-bit value mod < 2^32 is < 2^-32 */
		span = (UINT64_C(1) << n) - 2;
		h.hi = 0;
		h.lo = 1 + h.lo % span;
	} else {
		h.hi &= m.hi;
		h.lo &= m.lo;
	}
	v = u128_load(range_addr, alen);
	v.hi = (v.hi & ~m.hi) | h.hi;
	v.lo = (v.lo & ~m.lo) | h.lo;
	u128_store(v, out, alen);
	key_wipe(digest, sizeof(digest));
}
