/*
 * test_csum.c — internet checksums against a byte-at-a-time reference,
 * the RFC 1071 example and packets whose checksums scapy computed
 * (packet_vectors.py); incremental updates against full recomputation
 * over thousands of random changes at odd and even offsets; verification
 * of TCP and UDP over IPv4 and IPv6 at every length up to 2000 and with
 * every single bit flipped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "packet.h"
#include "csum.h"
#include "packet_vectors.h"

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* The obvious RFC 1071 sum: big-endian 16-bit words, end-around carry. */
static uint32_t ref_add(const uint8_t *b, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* A 16-bit value as csum.c stores it, read back as a big-endian number. */
static uint16_t as_be(uint16_t stored)
{
	uint8_t b[2];

	memcpy(b, &stored, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void test_rfc1071_example(void **state)
{
	/* RFC 1071 §3: the sum of these bytes is ddf2 */
	static const uint8_t ex[8] = { 0x00, 0x01, 0xf2, 0x03,
				       0xf4, 0xf5, 0xf6, 0xf7 };
	uint8_t shifted[9];

	assert_int_equal(as_be((uint16_t)~csum_fold(csum_partial(ex, 8, 0))),
			 0xddf2);
	assert_int_equal(as_be(csum_fold(csum_partial(ex, 8, 0))), 0x220d);
	/* the same bytes at an odd address */
	memcpy(shifted + 1, ex, 8);
	assert_int_equal(as_be(csum_fold(csum_partial(shifted + 1, 8, 0))),
			 0x220d);
	/* summing in two pieces split at an even length */
	assert_int_equal(as_be(csum_fold(csum_partial(ex + 4, 4,
						      csum_partial(ex, 4, 0)))),
			 0x220d);
	/* nothing summed: checksum of zero */
	assert_int_equal(csum_fold(csum_partial(ex, 0, 0)), 0xffff);
}

static void test_partial_lengths_and_alignment(void **state)
{
	uint8_t buf[320];

	rng_state = 1071;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rng();
	for (size_t align = 0; align < 16; align++) {
		for (size_t len = 0; len <= 300; len++) {
			uint16_t want = (uint16_t)~ref_fold(ref_add(buf + align,
								    len, 0));
			uint16_t got = as_be(csum_fold(csum_partial(buf + align,
								    len, 0)));

			assert_int_equal(got, want);
		}
	}
	/* a running sum carried in */
	for (size_t k = 0; k <= 300; k += 2) {
		uint32_t first = csum_partial(buf, k, 0);

		assert_int_equal(as_be(csum_fold(csum_partial(buf + k, 300 - k,
							      first))),
				 (uint16_t)~ref_fold(ref_add(buf, 300, 0)));
	}
}

static void test_partial_large(void **state)
{
	size_t n = 65535;
	uint8_t *b = malloc(n + 1);

	assert_non_null(b);
	/* all ones: every add carries */
	memset(b, 0xff, n + 1);
	for (size_t len = n - 8; len <= n; len++)
		assert_int_equal(as_be(csum_fold(csum_partial(b + 1, len, 0))),
				 (uint16_t)~ref_fold(ref_add(b + 1, len, 0)));
	rng_state = 65535;
	for (size_t i = 0; i <= n; i++)
		b[i] = (uint8_t)rng();
	/* a carried-in sum whose bytes read the same in either order */
	assert_int_equal(as_be(csum_fold(csum_partial(b, n, 0xfefefefeu))),
			 (uint16_t)~ref_fold(ref_add(b, n, 0) +
					     ref_fold(0xfefefefeu)));
	free(b);
}

struct ref_pkt {
	const char *name;
	const uint8_t *bytes;
	uint32_t len;
	uint8_t proto;
	uint32_t field;		/* offset of the L4 checksum field */
};

static const struct ref_pkt checked[] = {
	{ "v4_tcp_opts", v4_tcp_opts, sizeof(v4_tcp_opts), IPPROTO_TCP, 32 + 16 },
	{ "v4_udp", v4_udp, sizeof(v4_udp), IPPROTO_UDP, 20 + 6 },
	{ "v4_icmp_echo", v4_icmp_echo, sizeof(v4_icmp_echo), IPPROTO_ICMP, 22 },
	{ "v4_icmp_err_tcp_short", v4_icmp_err_tcp_short,
	  sizeof(v4_icmp_err_tcp_short), IPPROTO_ICMP, 22 },
	{ "v4_icmp_err_udp_long", v4_icmp_err_udp_long,
	  sizeof(v4_icmp_err_udp_long), IPPROTO_ICMP, 22 },
	{ "v6_udp_ext", v6_udp_ext, sizeof(v6_udp_ext), IPPROTO_UDP, 64 + 6 },
	{ "v6_tcp_ext", v6_tcp_ext, sizeof(v6_tcp_ext), IPPROTO_TCP, 80 + 16 },
	{ "v6_udp", v6_udp, sizeof(v6_udp), IPPROTO_UDP, 40 + 6 },
	{ "v6_icmp_echo", v6_icmp_echo, sizeof(v6_icmp_echo), IPPROTO_ICMPV6, 42 },
	{ "v6_nd_ns", v6_nd_ns, sizeof(v6_nd_ns), IPPROTO_ICMPV6, 42 },
	{ "v6_icmp_err_tcp_long", v6_icmp_err_tcp_long,
	  sizeof(v6_icmp_err_tcp_long), IPPROTO_ICMPV6, 42 },
	{ "v6_icmp_err_udp_ext", v6_icmp_err_udp_ext,
	  sizeof(v6_icmp_err_udp_ext), IPPROTO_ICMPV6, 42 },
};
#define N_CHECKED (sizeof(checked) / sizeof(checked[0]))

static uint8_t *decode_dup(const struct ref_pkt *r, struct packet *p)
{
	uint8_t *b = malloc(r->len);

	assert_non_null(b);
	memcpy(b, r->bytes, r->len);
	assert_int_equal(pkt_decode(p, b, r->len), PKT_OK);
	assert_int_equal(p->proto, r->proto);
	return b;
}

static void test_reference_packets(void **state)
{
	struct packet p;

	for (size_t i = 0; i < N_CHECKED; i++) {
		const struct ref_pkt *r = &checked[i];
		uint8_t *b = decode_dup(r, &p);

		assert_true(csum_l4_verify(&p));
		assert_int_equal(csum_ipv4_header_verify(&p), p.family == 4);
		/* recomputing from a wrong value gives scapy's bytes back */
		b[r->field] ^= 0x5a;
		b[r->field + 1] ^= 0xa5;
		assert_false(csum_l4_verify(&p));
		assert_int_equal(csum_l4_full(&p), 0);
		assert_memory_equal(b, r->bytes, r->len);
		if (p.family == 4) {
			b[10] = 0x12;
			b[11] = 0x34;
			assert_false(csum_ipv4_header_verify(&p));
			csum_ipv4_header(&p);
			assert_memory_equal(b, r->bytes, r->len);
		}
		/* any flipped bit of the covered bytes is seen */
		for (uint32_t at = p.l4_off; at < p.len; at += 7) {
			b[at] ^= 0x10;
			assert_false(csum_l4_verify(&p));
			b[at] ^= 0x10;
		}
		if (r->proto != IPPROTO_ICMP) {
			b[p.saddr_off + 1] ^= 1;	/* the pseudo-header */
			assert_false(csum_l4_verify(&p));
			b[p.saddr_off + 1] ^= 1;
		} else {
			b[p.saddr_off + 1] ^= 1;	/* ICMPv4 has none */
			assert_true(csum_l4_verify(&p));
			b[p.saddr_off + 1] ^= 1;
		}
		assert_true(csum_l4_verify(&p));
		free(b);
	}
}

static void test_ipv4_options_header(void **state)
{
	uint8_t b[sizeof(v4_tcp_opts)];
	struct packet p;

	/* a 32-byte header: the options are summed too */
	memcpy(b, v4_tcp_opts, sizeof(b));
	assert_int_equal(pkt_decode(&p, b, sizeof(b)), PKT_OK);
	assert_true(csum_ipv4_header_verify(&p));
	b[25] ^= 1;				/* inside the RR option */
	assert_false(csum_ipv4_header_verify(&p));
	csum_ipv4_header(&p);
	assert_true(csum_ipv4_header_verify(&p));
	assert_int_equal(rd16(b + 10),
			 (uint16_t)~ref_fold(ref_add(b, 32, 0) - rd16(b + 10)));
}

static void test_udp_no_checksum(void **state)
{
	uint8_t b[sizeof(v4_udp_nocsum)];
	uint8_t b6[sizeof(v6_udp)];
	struct packet p;
	uint8_t old[2];

	memcpy(b, v4_udp_nocsum, sizeof(b));
	assert_int_equal(pkt_decode(&p, b, sizeof(b)), PKT_OK);
	assert_true(csum_l4_verify(&p));
	assert_int_equal(csum_l4_full(&p), 0);
	assert_int_equal(rd16(b + 26), 0);
	memcpy(old, b + 30, 2);
	b[30] = 'X';
	b[31] = 'Y';
	assert_int_equal(csum_l4_update(&p, 30, old, 2), 0);
	assert_int_equal(rd16(b + 26), 0);
	assert_true(csum_l4_verify(&p));

	/* IPv6 has no such thing: 0 is wrong, and gets computed */
	memcpy(b6, v6_udp, sizeof(b6));
	b6[46] = b6[47] = 0;
	assert_int_equal(pkt_decode(&p, b6, sizeof(b6)), PKT_OK);
	assert_false(csum_l4_verify(&p));
	assert_int_equal(csum_l4_full(&p), 0);
	assert_memory_equal(b6, v6_udp, sizeof(b6));
}

/*
 * Make the two payload bytes at @at such that the UDP checksum computes to
 * zero, using only the reference sum.
 */
static void force_zero_sum(uint8_t *b, const struct packet *p, uint32_t at)
{
	uint32_t ulen = p->payload_off + p->payload_len - p->l4_off;
	uint32_t sum;
	uint16_t word;

	b[at] = b[at + 1] = 0;
	b[p->l4_off + 6] = b[p->l4_off + 7] = 0;
	sum = ref_add(b + p->saddr_off, 2u * p->addr_len, 0);
	sum += IPPROTO_UDP + ulen;
	sum = ref_add(b + p->l4_off, ulen, sum);
	word = (uint16_t)(0xffff - ref_fold(sum));
	b[at] = (uint8_t)(word >> 8);
	b[at + 1] = (uint8_t)word;
	assert_int_equal(ref_fold(ref_add(b + p->l4_off, ulen, 0) +
				  ref_add(b + p->saddr_off, 2u * p->addr_len, 0) +
				  IPPROTO_UDP + ulen), 0xffff);
}

static void test_udp_zero_is_ffff(void **state)
{
	static const struct ref_pkt *udp[] = { &checked[1], &checked[7] };

	for (size_t i = 0; i < 2; i++) {
		struct packet p;
		uint8_t *b = decode_dup(udp[i], &p);
		uint32_t at = p.payload_off;	/* even offset within UDP */
		uint8_t old[2];

		/* full recompute (a field of 0 would mean "none" in IPv4) */
		force_zero_sum(b, &p, at);
		b[p.l4_off + 6] = 0x12;
		assert_int_equal(csum_l4_full(&p), 0);
		assert_int_equal(rd16(b + p.l4_off + 6), 0xffff);
		assert_true(csum_l4_verify(&p));
		free(b);

		/* incremental, from the valid original */
		b = decode_dup(udp[i], &p);
		force_zero_sum(b, &p, at);
		memcpy(old, udp[i]->bytes + at, 2);
		memcpy(b + p.l4_off + 6, udp[i]->bytes + p.l4_off + 6, 2);
		assert_true(memcmp(old, b + at, 2) != 0);
		assert_false(csum_l4_verify(&p));
		assert_int_equal(csum_l4_update(&p, at, old, 2), 0);
		assert_int_equal(rd16(b + p.l4_off + 6), 0xffff);
		assert_true(csum_l4_verify(&p));
		free(b);
	}
}

/* csum_replace() on bare buffers: random spans, any parity and length. */
static void test_replace_random(void **state)
{
	uint8_t buf[256], before[256];
	unsigned zero_data = 0;

	rng_state = 1624;
	for (int iter = 0; iter < 50000; iter++) {
		size_t n = 1 + rng() % 256;
		size_t off = rng() % n;
		size_t len = 1 + rng() % (n - off);
		uint16_t check, want, got;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rng();
		/* sometimes long runs of 0x00 / 0xff, where carries go wrong */
		if (iter % 5 == 0)
			memset(buf + off, iter % 10 ? 0xff : 0, len);
		check = csum_fold(csum_partial(buf, n, 0));
		memcpy(before, buf + off, len);
		for (size_t i = 0; i < len; i++)
			buf[off + i] = (uint8_t)rng();
		if (iter % 7 == 0)
			memset(buf + off, iter % 14 ? 0xff : 0, len);
		want = csum_fold(csum_partial(buf, n, 0));
		got = csum_replace(check, before, buf + off, len, (int)(off & 1));
		if (got != want) {
			/*
			 * One's complement has two zeros: data that is all
			 * zero sums to +0 in full, -0 incrementally.  No
			 * packet is all zero (the pseudo-header has a proto).
			 */
			assert_int_equal(got ^ want, 0xffff);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(buf[i], 0);
			zero_data++;
		}
	}
}

/*
 * csum_l4_update() on real packets: random rewrites of the addresses
 * and of the L4 bytes (never the checksum field), checked against full
 * recomputation and against verification.
 */
static void test_l4_update_random(void **state)
{
	uint8_t old[64];
	unsigned addr_changes = 0, odd_changes = 0;

	rng_state = 0xc5c5;
	for (int iter = 0; iter < 20000; iter++) {
		const struct ref_pkt *r = &checked[rng() % N_CHECKED];
		struct packet p, q;
		uint8_t *b = decode_dup(r, &p);
		uint8_t *full = malloc(r->len);
		uint32_t off, len, cover;

		assert_non_null(full);
		if (rng() % 3 == 0) {
			cover = 2u * p.addr_len;
			off = p.saddr_off + rng() % cover;
			len = 1 + rng() % (p.saddr_off + cover - off);
			addr_changes++;
		} else {
			do {
				cover = p.len - p.l4_off;
				off = p.l4_off + rng() % cover;
				len = 1 + rng() % (p.len - off);
				if (len > sizeof(old))
					len = sizeof(old);
			} while (off < r->field + 2 && off + len > r->field);
			odd_changes += (off - p.l4_off) & 1;
		}
		memcpy(old, b + off, len);
		for (uint32_t i = 0; i < len; i++)
			b[off + i] = (uint8_t)rng();
		assert_int_equal(csum_l4_update(&p, off, old, len), 0);
		assert_true(csum_l4_verify(&p));

		/*
		 * The same view on a copy: the random bytes may have hit a
		 * length field, which the view (like the engine's) predates.
		 */
		memcpy(full, b, r->len);
		q = p;
		q.data = full;
		assert_int_equal(csum_l4_full(&q), 0);
		assert_memory_equal(b, full, r->len);
		if (r->proto == IPPROTO_ICMP && off < p.l4_off)
			assert_memory_equal(b + r->field, r->bytes + r->field, 2);
		free(full);
		free(b);
	}
	assert_true(addr_changes > 1000);
	assert_true(odd_changes > 1000);
}

static void test_l4_update_edges(void **state)
{
	struct packet p;
	uint8_t *b = decode_dup(&checked[0], &p);	/* v4 TCP */
	uint8_t old[4];

	/* TTL is in no L4 checksum */
	old[0] = b[8];
	b[8]--;
	assert_int_equal(csum_l4_update(&p, 8, old, 1), 0);
	assert_memory_equal(b + 48, v4_tcp_opts + 48, 2);
	assert_true(csum_l4_verify(&p));
	b[8]++;
	/* a span over the checksum field, or across daddr and options */
	assert_int_equal(csum_l4_update(&p, 32 + 15, old, 2), -EINVAL);
	assert_int_equal(csum_l4_update(&p, 32 + 17, old, 1), -EINVAL);
	assert_int_equal(csum_l4_update(&p, 18, old, 4), -EINVAL);
	assert_int_equal(csum_l4_update(&p, p.len - 1, old, 2), -EINVAL);
	assert_int_equal(csum_l4_update(&p, 10, old, 0), 0);
	assert_memory_equal(b, v4_tcp_opts, sizeof(v4_tcp_opts));
	free(b);

	/* fragments and opaque protocols have no L4 checksum we can do */
	uint8_t fb[sizeof(v6_frag_first)];

	memcpy(fb, v6_frag_first, sizeof(fb));
	assert_int_equal(pkt_decode(&p, fb, sizeof(fb)), PKT_FRAGMENT);
	assert_int_equal(csum_l4_full(&p), -EINVAL);
	assert_false(csum_l4_verify(&p));
	assert_int_equal(csum_l4_update(&p, 8, old, 2), -EINVAL);
	assert_false(csum_ipv4_header_verify(&p));

	uint8_t eb[sizeof(v4_udp)];

	memcpy(eb, v4_udp, sizeof(eb));
	eb[9] = IPPROTO_ESP;
	assert_int_equal(pkt_decode(&p, eb, sizeof(eb)), PKT_OK);
	assert_int_equal(csum_l4_full(&p), -EINVAL);
	assert_memory_equal(eb + 20, v4_udp + 20, sizeof(eb) - 20);
}

/* The UDP length, not the IP length, bounds what the checksum covers. */
static void test_udp_short_of_ip_length(void **state)
{
	uint8_t b[sizeof(v4_udp) + 3];
	struct packet p;

	memcpy(b, v4_udp, sizeof(v4_udp));
	memset(b + sizeof(v4_udp), 0xab, 3);
	b[2] = 0;
	b[3] = (uint8_t)sizeof(b);		/* IP length covers the junk */
	assert_int_equal(pkt_decode(&p, b, sizeof(b)), PKT_OK);
	assert_int_equal(p.payload_len, sizeof(v4_udp) - 28);
	assert_true(csum_l4_verify(&p));
	b[sizeof(b) - 1] ^= 0xff;		/* outside the datagram */
	assert_true(csum_l4_verify(&p));
	assert_int_equal(csum_l4_full(&p), 0);
	assert_memory_equal(b + 20, v4_udp + 20, sizeof(v4_udp) - 20);
}

/*
 * Pseudo-header words added to a 32-bit partial sum of the segment and
 * the addresses near 2^32 must not lose a carry (as they once did).
 * Search (deterministically) for payloads that bring it there and
 * compare with the reference sum.
 */
static void test_pseudo_header_carry(void **state)
{
	uint8_t b[40 + 8 + 1024];
	unsigned found = 0;

	rng_state = 0xca77;
	memcpy(b, v6_udp, 48);
	b[4] = (uint8_t)((sizeof(b) - 40) >> 8);
	b[5] = (uint8_t)(sizeof(b) - 40);
	b[44] = b[4];
	b[45] = b[5];
	for (int iter = 0; iter < 2000000 && found < 3; iter++) {
		struct packet p;
		uint32_t sum, ref;
		uint16_t want;

		for (size_t i = 48; i < sizeof(b); i += 4) {
			uint32_t r = rng();

			memcpy(b + i, &r, 4);
		}
		b[46] = b[47] = 0;
		/* the segment's sum, then the addresses' */
		sum = csum_partial(b + 8, 32,
				   csum_partial(b + 40, sizeof(b) - 40, 0));
		if (sum < 0xfffe0000u)
			continue;
		found++;
		ref = ref_add(b + 8, 32, IPPROTO_UDP + (uint32_t)(sizeof(b) - 40));
		ref = ref_add(b + 40, sizeof(b) - 40, ref);
		want = (uint16_t)~ref_fold(ref);
		if (want == 0)
			want = 0xffff;
		assert_int_equal(pkt_decode(&p, b, sizeof(b)), PKT_OK);
		assert_int_equal(csum_l4_full(&p), 0);
		assert_int_equal(rd16(b + 46), want);
	}
	assert_true(found > 0);
}

/* Every length up to 2000 at every alignment of a 64-bit word. */
static void test_partial_every_length(void **state)
{
	static uint8_t buf[2000 + 8];

	for (int fill = 0; fill < 3; fill++) {
		rng_state = 2000 + (uint64_t)fill;
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = fill == 0 ? (uint8_t)rng() :
				 fill == 1 ? 0xff : (rng() & 1 ? 0xff : 0xfe);
		for (size_t align = 0; align < 8; align++) {
			for (size_t len = 0; len <= 2000; len++) {
				/* its bytes read the same in either order */
				uint32_t carried = fill == 1 ? 0xffffffffu :
					(rng() & 0xff) * 0x01010101u;
				uint16_t want = (uint16_t)~ref_fold(
					ref_add(buf + align, len, 0) +
					ref_fold(carried));
				uint16_t got = as_be(csum_fold(
					csum_partial(buf + align, len, carried)));

				assert_int_equal(got, want);
			}
		}
	}
}

/*
 * Set the TCP or UDP checksum of the packet at @b, with a 20- or 40-byte
 * IP header, from the reference sum.
 */
static void ref_set_l4(uint8_t *b, int family, uint8_t proto)
{
	uint32_t hl = family == 4 ? 20 : 40, alen = family == 4 ? 4 : 16;
	uint32_t saddr = family == 4 ? 12 : 8;
	uint32_t l4len = family == 4 ? rd16(b + 2) - hl : rd16(b + 4);
	uint32_t field = hl + (proto == IPPROTO_TCP ? 16 : 6), sum;
	uint16_t c;

	b[field] = b[field + 1] = 0;
	sum = ref_add(b + saddr, 2 * alen, proto + l4len);
	c = (uint16_t)~ref_fold(ref_add(b + hl, l4len, sum));
	if (c == 0 && proto == IPPROTO_UDP)
		c = 0xffff;
	b[field] = (uint8_t)(c >> 8);
	b[field + 1] = (uint8_t)c;
}

/*
 * A TCP or UDP packet made here, its checksum set with the reference sum:
 * IPv4 (20-byte header) or IPv6 (40), a 20-byte TCP header or an 8-byte
 * UDP one, @paylen random payload bytes.  Return: its length.
 */
static uint32_t make_l4(uint8_t *b, int family, uint8_t proto,
			uint32_t paylen)
{
	static const uint8_t s4[4] = { 198, 51, 100, 7 }, d4[4] = { 192, 0, 2, 10 };
	static const uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2,
					0, 0, 0, 0, 0, 0, 0, 7 };
	static const uint8_t d6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0,
					0, 0, 0, 0, 0, 0, 0, 0x10 };
	uint32_t hl = family == 4 ? 20 : 40;
	uint32_t l4len = (proto == IPPROTO_TCP ? 20 : 8) + paylen;
	uint8_t *l4 = b + hl;
	uint16_t c;

	memset(b, 0, hl + l4len);
	if (family == 4) {
		b[0] = 0x45;
		b[2] = (uint8_t)((hl + l4len) >> 8);
		b[3] = (uint8_t)(hl + l4len);
		b[6] = 0x40;			/* DF */
		b[8] = 64;
		b[9] = proto;
		memcpy(b + 12, s4, 4);
		memcpy(b + 16, d4, 4);
		c = (uint16_t)~ref_fold(ref_add(b, 20, 0));
		b[10] = (uint8_t)(c >> 8);
		b[11] = (uint8_t)c;
	} else {
		b[0] = 0x60;
		b[4] = (uint8_t)(l4len >> 8);
		b[5] = (uint8_t)l4len;
		b[6] = proto;
		b[7] = 64;
		memcpy(b + 8, s6, 16);
		memcpy(b + 24, d6, 16);
	}
	l4[0] = 0x9c;				/* ports 40000 -> 1883 */
	l4[1] = 0x40;
	l4[2] = 0x07;
	l4[3] = 0x5b;
	if (proto == IPPROTO_TCP) {
		for (int i = 4; i < 12; i++)
			l4[i] = (uint8_t)rng();	/* seq, ack */
		l4[12] = 5 << 4;
		l4[13] = 0x18;			/* PSH ACK */
		l4[14] = 0xfa;
	} else {
		l4[4] = (uint8_t)(l4len >> 8);
		l4[5] = (uint8_t)l4len;
	}
	for (uint32_t i = l4len - paylen; i < l4len; i++)
		l4[i] = (uint8_t)rng();
	ref_set_l4(b, family, proto);
	return hl + l4len;
}

/*
 * TCP and UDP over IPv4 and IPv6, every payload length from 0 to 2000,
 * odd and even, at odd and even addresses: csum_l4_verify() agrees with
 * the reference sum, and sees a flipped bit anywhere in the segment.
 */
static void test_l4_verify_every_length(void **state)
{
	static uint8_t buf[1 + 40 + 20 + 2000];
	static const uint8_t protos[2] = { IPPROTO_TCP, IPPROTO_UDP };

	rng_state = 0x1500;
	for (int family = 4; family <= 6; family += 2) {
		for (int k = 0; k < 2; k++) {
			for (uint32_t n = 0; n <= 2000; n++) {
				uint8_t *b = buf + (n & 1);
				uint32_t len = make_l4(b, family, protos[k], n);
				struct packet p;
				uint32_t at;

				assert_int_equal(pkt_decode(&p, b, len), PKT_OK);
				assert_int_equal(p.proto, protos[k]);
				assert_true(csum_l4_verify(&p));
				at = p.l4_off + rng() % (len - p.l4_off);
				b[at] ^= (uint8_t)(1u << (rng() % 8));
				assert_false(csum_l4_verify(&p));
			}
		}
	}
}

/*
 * A 1500-byte TCP segment and a 1000-byte UDP datagram over IPv4 and IPv6:
 * each single bit flipped in the addresses (the pseudo-header) or in the
 * L4 bytes, checksum field included, is seen; the IP header's other bytes
 * are in no L4 checksum.
 */
static void test_l4_verify_every_bit(void **state)
{
	static uint8_t b[1500];
	static const struct {
		int family;
		uint8_t proto;
		uint32_t len;
	} cases[] = {
		{ 4, IPPROTO_TCP, 1500 }, { 6, IPPROTO_TCP, 1500 },
		{ 4, IPPROTO_UDP, 1001 }, { 6, IPPROTO_UDP, 1001 },
	};

	rng_state = 0xb17;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t hl = cases[i].family == 4 ? 20 : 40;
		uint32_t paylen = cases[i].len - hl -
				  (cases[i].proto == IPPROTO_TCP ? 20 : 8);
		uint32_t len = make_l4(b, cases[i].family, cases[i].proto, paylen);
		uint32_t addr_end;
		struct packet p;

		assert_int_equal(len, cases[i].len);
		assert_int_equal(pkt_decode(&p, b, len), PKT_OK);
		assert_true(csum_l4_verify(&p));
		addr_end = p.saddr_off + 2u * p.addr_len;
		for (uint32_t at = 0; at < len; at++) {
			for (int bit = 0; bit < 8; bit++) {
				b[at] ^= (uint8_t)(1u << bit);
				if (at >= p.l4_off ||
				    (at >= p.saddr_off && at < addr_end))
					assert_false(csum_l4_verify(&p));
				else
					assert_true(csum_l4_verify(&p));
				b[at] ^= (uint8_t)(1u << bit);
			}
		}
		assert_true(csum_l4_verify(&p));
	}
}

/*
 * One's complement has two zeros: a TCP checksum that computes to 0
 * verifies stored as 0x0000 or as 0xFFFF, as in Linux (the folded sum of
 * the segment is what is compared).  A UDP checksum of 0 is "none" in
 * IPv4 and wrong in IPv6: Linux drops such a datagram unless the socket
 * allows it (UDP_NO_CHECK6_RX, tunnels), and so it fails here.
 */
static void test_l4_verify_zeros(void **state)
{
	static uint8_t b[40 + 20 + 64];
	struct packet p;
	uint32_t len;
	int family;

	for (family = 4; family <= 6; family += 2) {
		uint32_t found = 0;

		/* search payloads whose checksum computes to 0 */
		rng_state = 0x2e20 + (uint64_t)family;
		for (int iter = 0; iter < 1000000 && found < 2; iter++) {
			uint32_t hl = family == 4 ? 20 : 40;

			len = make_l4(b, family, IPPROTO_TCP, 2 + rng() % 62);
			if (rd16(b + hl + 16) != 0 && rd16(b + hl + 16) != 0xffff)
				continue;
			found++;
			assert_int_equal(pkt_decode(&p, b, len), PKT_OK);
			b[hl + 16] = b[hl + 17] = 0;
			assert_true(csum_l4_verify(&p));
			b[hl + 16] = b[hl + 17] = 0xff;
			assert_true(csum_l4_verify(&p));
		}
		assert_true(found > 0);

		len = make_l4(b, family, IPPROTO_UDP, 33);
		assert_int_equal(pkt_decode(&p, b, len), PKT_OK);
		assert_true(csum_l4_verify(&p));
		b[p.l4_off + 6] = b[p.l4_off + 7] = 0;
		assert_int_equal(csum_l4_verify(&p), family == 4);
		/* no checksum in IPv4: the bytes it would cover are not looked at */
		b[len - 1] ^= 0x20;
		assert_int_equal(csum_l4_verify(&p), family == 4);
	}
}

/*
 * Addresses and L4 bytes of all ones, all zeros, and mixtures: every add
 * of the pseudo-header and of the segment carries, or none does.
 */
static void test_l4_verify_carries(void **state)
{
	static uint8_t b[40 + 20 + 300];
	static const uint8_t protos[2] = { IPPROTO_TCP, IPPROTO_UDP };

	rng_state = 0xffff;
	for (int iter = 0; iter < 4000; iter++) {
		int family = iter & 1 ? 6 : 4;
		uint8_t proto = protos[(iter >> 1) & 1];
		uint32_t len = make_l4(b, family, proto, rng() % 300);
		uint32_t saddr = family == 4 ? 12 : 8;
		uint32_t alen = family == 4 ? 4 : 16;
		int fill = (iter >> 2) % 4;
		uint8_t *copy = malloc(len);
		struct packet p;

		assert_non_null(copy);
		for (uint32_t i = saddr; i < saddr + 2 * alen; i++)
			b[i] = fill == 0 ? 0xff : fill == 1 ? 0 :
			       fill == 2 ? (rng() & 1 ? 0xff : 0xfe) : (uint8_t)rng();
		if (fill != 3)
			for (uint32_t i = (family == 4 ? 20 : 40) +
					  (proto == IPPROTO_TCP ? 20 : 8); i < len; i++)
				b[i] = fill == 1 ? 0 : 0xff;
		ref_set_l4(b, family, proto);
		assert_int_equal(pkt_decode(&p, b, len), PKT_OK);
		assert_true(csum_l4_verify(&p));
		memcpy(copy, b, len);
		assert_int_equal(csum_l4_full(&p), 0);
		assert_memory_equal(b, copy, len);
		free(copy);
	}

	/*
	 * IPv6 addresses that bring the pseudo-header's 64-bit sum to
	 * 2^65 - 1 exactly: ff..ff, then the word that with the length and
	 * next header words (as csum.c adds them: native loads of network
	 * order) makes 2^64, then zeros.  Its end-around carry carries again.
	 */
	for (uint32_t paylen = 0; paylen < 64; paylen++) {
		uint32_t len = make_l4(b, 6, IPPROTO_TCP, paylen);
		uint64_t w = 0;
		struct packet p;
		uint16_t be;

		memset(b + 8, 0xff, 8);
		be = htons((uint16_t)(len - 40));
		w -= be;
		be = htons(IPPROTO_TCP);
		w -= be;
		memcpy(b + 16, &w, 8);
		memset(b + 24, 0, 16);
		ref_set_l4(b, 6, IPPROTO_TCP);
		assert_int_equal(pkt_decode(&p, b, len), PKT_OK);
		assert_true(csum_l4_verify(&p));
	}
}

/*
 * A locally sent packet whose checksum the kernel left to the device
 * (CHECKSUM_PARTIAL, NFQA_SKB_CSUMNOTREADY: ENGINE_F_CSUM_NOT_READY) holds
 * only the pseudo-header sum in its field: it does not verify, so it must
 * not be judged by csum_l4_verify().
 */
static void test_l4_verify_partial(void **state)
{
	static uint8_t b[40 + 20 + 100];
	struct packet p;
	uint32_t len, sum;
	uint16_t c;

	rng_state = 0x9a71;
	for (int family = 4; family <= 6; family += 2) {
		len = make_l4(b, family, IPPROTO_TCP, 100);
		assert_int_equal(pkt_decode(&p, b, len), PKT_OK);
		sum = ref_add(b + p.saddr_off, 2u * p.addr_len,
			      IPPROTO_TCP + p.l4_len);
		c = ref_fold(sum);		/* not complemented */
		b[p.l4_off + 16] = (uint8_t)(c >> 8);
		b[p.l4_off + 17] = (uint8_t)c;
		assert_false(csum_l4_verify(&p));
		assert_int_equal(csum_l4_full(&p), 0);
		assert_true(csum_l4_verify(&p));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc1071_example),
		cmocka_unit_test(test_partial_lengths_and_alignment),
		cmocka_unit_test(test_partial_large),
		cmocka_unit_test(test_reference_packets),
		cmocka_unit_test(test_ipv4_options_header),
		cmocka_unit_test(test_udp_no_checksum),
		cmocka_unit_test(test_udp_zero_is_ffff),
		cmocka_unit_test(test_replace_random),
		cmocka_unit_test(test_l4_update_random),
		cmocka_unit_test(test_l4_update_edges),
		cmocka_unit_test(test_udp_short_of_ip_length),
		cmocka_unit_test(test_pseudo_header_carry),
		cmocka_unit_test(test_partial_every_length),
		cmocka_unit_test(test_l4_verify_every_length),
		cmocka_unit_test(test_l4_verify_every_bit),
		cmocka_unit_test(test_l4_verify_zeros),
		cmocka_unit_test(test_l4_verify_carries),
		cmocka_unit_test(test_l4_verify_partial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
