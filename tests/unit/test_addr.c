/*
 * test_addr.c — address modes: truncate, the keyed permutation and its
 * inverse (bijective, network/broadcast fixed), map candidates; and the
 * SipHash the permutation and the flow table are built on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "addr.h"
#include "key.h"
#include "siphash.h"

static uint8_t key_a[KEY_LEN], key_b[KEY_LEN];

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void rng_fill(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rng();
}

static int setup(void **state)
{
	for (unsigned i = 0; i < KEY_LEN; i++) {
		key_a[i] = (uint8_t)(i * 13 + 5);
		key_b[i] = (uint8_t)(i * 13 + 5);
	}
	key_b[0] ^= 0x80;
	return key_init();
}

static uint32_t v4(const uint8_t a[4])
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
	       (uint32_t)a[2] << 8 | a[3];
}

static void put_v4(uint8_t a[4], uint32_t x)
{
	a[0] = (uint8_t)(x >> 24);
	a[1] = (uint8_t)(x >> 16);
	a[2] = (uint8_t)(x >> 8);
	a[3] = (uint8_t)x;
}

/* Reference vectors of SipHash-2-4 (key 00..0f, message 00..(8n-1)). */
static void test_siphash_vectors(void **state)
{
	uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
	uint64_t m[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };

	assert_true(sip_hash_words(k0, k1, m, 0, 2, 4) == 0x726fdb47dd0e0e31ULL);
	assert_true(sip_hash_words(k0, k1, m, 1, 2, 4) == 0x93f5f5799a932462ULL);
	assert_true(sip_hash_words(k0, k1, m, 2, 2, 4) == 0x3f2acc7f57c29bdbULL);
}

static void test_truncate(void **state)
{
	uint8_t a[4] = { 198, 51, 100, 77 }, o[4];
	uint8_t b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
			  9, 10, 11, 12, 13, 14, 15, 0xff };
	uint8_t p[16];

	addr_truncate(a, o, 4, 24);
	assert_int_equal(v4(o), 0xc6336400);
	addr_truncate(a, o, 4, 23);
	assert_int_equal(v4(o), 0xc6336400);
	addr_truncate(a, o, 4, 30);
	assert_int_equal(v4(o), 0xc633644c);
	addr_truncate(a, o, 4, 32);
	assert_int_equal(v4(o), 0xc633644d);
	addr_truncate(a, o, 4, 0);
	assert_int_equal(v4(o), 0);
	addr_truncate(a, o, 4, 17);
	assert_int_equal(v4(o), 0xc6330000);

	addr_truncate(b, p, 16, 48);
	assert_memory_equal(p, b, 6);
	for (int i = 6; i < 16; i++)
		assert_int_equal(p[i], 0);
	addr_truncate(b, p, 16, 127);
	assert_memory_equal(p, b, 15);
	assert_int_equal(p[15], 0xfe);
	/* in place */
	addr_truncate(b, b, 16, 36);
	assert_int_equal(b[4], 0x10);
	assert_int_equal(b[5], 0);
}

static void test_prefix_and_mapped(void **state)
{
	uint8_t a[4] = { 10, 1, 2, 3 }, n8[4] = { 10, 0, 0, 0 };
	uint8_t n9[4] = { 10, 128, 0, 0 };
	uint8_t m[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 };
	uint8_t n[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 1, 2, 3, 4 };

	assert_true(addr_in_prefix(a, n8, 8));
	assert_true(addr_in_prefix(a, n8, 0));
	assert_true(addr_in_prefix(a, n8, 15));
	assert_false(addr_in_prefix(a, n8, 16));
	assert_false(addr_in_prefix(a, n9, 9));
	assert_true(addr_in_prefix(a, n9, 8));
	assert_true(addr_is_v4mapped(m));
	assert_false(addr_is_v4mapped(n));
}

/* Exhaustive check of an IPv4 permutation of plen (n <= 16 host bits). */
static void check_v4_exhaustive(const uint8_t *key, uint32_t base, unsigned plen)
{
	unsigned n = 32 - plen;
	uint32_t count = UINT32_C(1) << n, hostmask = count - 1;
	uint8_t *seen = calloc(count, 1);
	uint32_t moved = 0;
	uint8_t in[4], out[4], back[4];

	assert_non_null(seen);
	for (uint32_t h = 0; h < count; h++) {
		put_v4(in, base | h);
		addr_permute(key, in, out, 4, plen);
		assert_int_equal(v4(out) & ~hostmask, base);	/* prefix kept */
		assert_int_equal(seen[v4(out) & hostmask], 0);	/* injective */
		seen[v4(out) & hostmask] = 1;
		if (v4(out) != v4(in))
			moved++;
		addr_unpermute(key, out, back, 4, plen);
		assert_int_equal(v4(back), v4(in));
		if (n >= 2 && (h == 0 || h == hostmask))
			assert_int_equal(v4(out), v4(in));
		if (n >= 2 && h != 0 && h != hostmask) {
			assert_int_not_equal(v4(out) & hostmask, 0);
			assert_int_not_equal(v4(out) & hostmask, hostmask);
		}
	}
	/* a keyed permutation of more than a handful of values moves most */
	if (n >= 4)
		assert_true(moved > count / 2);
	free(seen);
}

static void test_permute_v4(void **state)
{
	check_v4_exhaustive(key_a, 0xc6336400, 24);
	check_v4_exhaustive(key_b, 0xc6336400, 24);
	check_v4_exhaustive(key_a, 0xc6320000, 16);
	check_v4_exhaustive(key_a, 0x0a000000, 23);
	check_v4_exhaustive(key_a, 0x0a000004, 30);
	check_v4_exhaustive(key_a, 0x0a000006, 31);
	check_v4_exhaustive(key_a, 0x0a000007, 32);
	check_v4_exhaustive(key_a, 0x0a000000, 19);
}

static void test_permute_v4_keyed(void **state)
{
	uint8_t in[4], oa[4], ob[4], o2[4];
	unsigned differ = 0;

	for (uint32_t h = 1; h < 255; h++) {
		put_v4(in, 0xc0000200 | h);
		addr_permute(key_a, in, oa, 4, 24);
		addr_permute(key_b, in, ob, 4, 24);
		addr_permute(key_a, in, o2, 4, 24);
		assert_int_equal(v4(oa), v4(o2));	/* deterministic */
		if (v4(oa) != v4(ob))
			differ++;
	}
	assert_true(differ > 200);
	/* the prefix length is part of the permutation: /24 and /25 differ
	 * on the addresses both keep inside 192.0.2.0/25 */
	differ = 0;
	for (uint32_t h = 1; h < 127; h++) {
		put_v4(in, 0xc0000200 | h);
		addr_permute(key_a, in, oa, 4, 24);
		addr_permute(key_a, in, ob, 4, 25);
		if (v4(oa) != v4(ob))
			differ++;
	}
	assert_true(differ > 100);
	/* in place */
	put_v4(in, 0xc0000231);
	addr_permute(key_a, in, oa, 4, 24);
	addr_permute(key_a, in, in, 4, 24);
	assert_int_equal(v4(in), v4(oa));
}

static void check_v6_roundtrip(unsigned plen, unsigned rounds)
{
	uint8_t in[16], out[16], back[16], trunc_in[16], trunc_out[16];
	unsigned moved = 0;

	for (unsigned i = 0; i < rounds; i++) {
		rng_fill(in, 16);
		addr_permute(key_a, in, out, 16, plen);
		addr_truncate(in, trunc_in, 16, plen);
		addr_truncate(out, trunc_out, 16, plen);
		assert_memory_equal(trunc_in, trunc_out, 16);
		if (memcmp(in, out, 16))
			moved++;
		addr_unpermute(key_a, out, back, 16, plen);
		assert_memory_equal(back, in, 16);
	}
	if (plen <= 120)
		assert_true(moved > rounds * 9 / 10);
}

static void test_permute_v6(void **state)
{
	static const unsigned plens[] = { 0, 1, 23, 48, 63, 64, 65, 96, 127, 128 };

	for (unsigned i = 0; i < sizeof(plens) / sizeof(plens[0]); i++)
		check_v6_roundtrip(plens[i], 2000);
}

/* A /120 IPv6 subnet: all 256 values, bijective (no fixed points rule). */
static void test_permute_v6_exhaustive(void **state)
{
	uint8_t in[16], out[16];
	uint8_t seen[256] = { 0 };

	memset(in, 0x20, 16);
	for (unsigned h = 0; h < 256; h++) {
		in[15] = (uint8_t)h;
		addr_permute(key_a, in, out, 16, 120);
		assert_memory_equal(out, in, 15);
		assert_int_equal(seen[out[15]], 0);
		seen[out[15]] = 1;
	}
	/* /127: a 1-bit host part, both values taken */
	in[15] = 0x10;
	addr_permute(key_a, in, out, 16, 127);
	in[15] = 0x11;
	addr_permute(key_a, in, in, 16, 127);
	assert_int_not_equal(out[15], in[15]);
	assert_int_equal(out[15] & 0xfe, 0x10);
	assert_int_equal(in[15] & 0xfe, 0x10);
}

static void check_map_range(uint32_t range, unsigned plen, unsigned clients,
			    unsigned attempts)
{
	uint32_t mask = plen ? ~((UINT32_C(1) << (32 - plen)) - 1) : 0;
	uint32_t host = ~mask;
	uint8_t ra[4], in[4], out[4], again[4];

	put_v4(ra, range);
	for (unsigned c = 0; c < clients; c++) {
		put_v4(in, (uint32_t)rng());
		for (unsigned at = 0; at < attempts; at++) {
			addr_map_candidate(key_a, in, 4, ra, plen, at, out);
			assert_int_equal(v4(out) & mask, range & mask);
			if (32 - plen >= 2) {
				assert_int_not_equal(v4(out) & host, 0);
				assert_int_not_equal(v4(out) & host, host);
			}
			addr_map_candidate(key_a, in, 4, ra, plen, at, again);
			assert_int_equal(v4(out), v4(again));
		}
	}
}

static void test_map_candidate(void **state)
{
	uint8_t ra[4] = { 100, 64, 0, 0 }, in[4] = { 203, 0, 113, 9 };
	uint8_t c0[4], c1[4], cb[4], in2[4] = { 203, 0, 113, 10 }, c2[4];
	uint8_t r6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 1 }, i6[16], o6[16];
	unsigned seen[4] = { 0 };

	check_map_range(0x64400000, 10, 200, 8);
	check_map_range(0xc0a80000, 24, 200, 8);
	check_map_range(0xc0a80008, 29, 200, 16);
	check_map_range(0xc0a80004, 30, 200, 16);
	check_map_range(0xc0a80006, 31, 50, 4);
	check_map_range(0xc0a80007, 32, 10, 4);

	addr_map_candidate(key_a, in, 4, ra, 10, 0, c0);
	addr_map_candidate(key_a, in, 4, ra, 10, 1, c1);
	addr_map_candidate(key_b, in, 4, ra, 10, 0, cb);
	addr_map_candidate(key_a, in2, 4, ra, 10, 0, c2);
	assert_int_not_equal(v4(c0), v4(c1));	/* attempts differ */
	assert_int_not_equal(v4(c0), v4(cb));	/* keyed */
	assert_int_not_equal(v4(c0), v4(c2));	/* per client */

	/* a /30 range: both usable addresses come up over the attempts */
	put_v4(ra, 0xc0a80004);
	for (unsigned at = 0; at < 64; at++) {
		addr_map_candidate(key_a, in, 4, ra, 30, at, c0);
		seen[v4(c0) & 3]++;
	}
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[3], 0);
	assert_true(seen[1] > 0 && seen[2] > 0);

	/* IPv6: inside the /64 */
	for (unsigned i = 0; i < 100; i++) {
		rng_fill(i6, 16);
		addr_map_candidate(key_a, i6, 16, r6, 64, i % 3, o6);
		assert_true(addr_in_prefix(o6, r6, 64));
	}
}

static double bench_ns(unsigned alen, unsigned plen, unsigned iters)
{
	uint8_t a[16];
	struct timespec t0, t1;

	memset(a, 0x42, sizeof(a));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < iters; i++) {
		a[alen - 1] = (uint8_t)i;
		addr_permute(key_a, a, a, alen, plen);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		(double)(t1.tv_nsec - t0.tv_nsec)) / iters;
}

/* Informational: the per-packet cost of the permutation. */
static void test_permute_speed(void **state)
{
	double v4ns = bench_ns(4, 24, 200000);
	double v6ns = bench_ns(16, 48, 200000);

	printf("addr_permute: IPv4 /24 %.0f ns, IPv6 /48 %.0f ns\n", v4ns, v6ns);
	assert_true(v4ns > 0 && v6ns > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_prefix_and_mapped),
		cmocka_unit_test(test_permute_v4),
		cmocka_unit_test(test_permute_v4_keyed),
		cmocka_unit_test(test_permute_v6),
		cmocka_unit_test(test_permute_v6_exhaustive),
		cmocka_unit_test(test_map_candidate),
		cmocka_unit_test(test_permute_speed),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
