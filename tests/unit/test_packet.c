/*
 * test_packet.c — the packet decoder on reference packets made by
 * packet_vectors.py, on every truncation of them, on mangled lengths and
 * on random bytes.  Buffers are heap copies of exactly the decoded length,
 * so an over-read shows under ASan (make SANITIZE=1).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "packet.h"
#include "csum.h"
#include "packet_vectors.h"

struct vec {
	const char *name;
	const uint8_t *bytes;
	uint32_t len;
};

#define VEC(x) { #x, x, sizeof(x) }

static const struct vec vectors[] = {
	VEC(v4_tcp_opts), VEC(v4_udp), VEC(v4_udp_nocsum), VEC(v4_icmp_echo),
	VEC(v4_icmp_err_tcp_short), VEC(v4_icmp_err_tcp_long),
	VEC(v4_icmp_err_udp_short), VEC(v4_icmp_err_udp_long),
	VEC(v6_udp_ext), VEC(v6_tcp_ext), VEC(v6_udp), VEC(v6_icmp_echo),
	VEC(v6_nd_ns), VEC(v6_icmp_err_tcp_long), VEC(v6_icmp_err_tcp_short),
	VEC(v6_icmp_err_udp_ext),
	VEC(v4_frag_first), VEC(v4_frag_middle), VEC(v4_frag_last),
	VEC(v6_frag_first), VEC(v6_frag_middle), VEC(v6_frag_last),
};
#define N_VECTORS (sizeof(vectors) / sizeof(vectors[0]))

static uint64_t rng_state;

static uint32_t rng(void)
{
	/* xorshift64*: reproducible across libcs, unlike rand() */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static uint8_t *dup_exact(const uint8_t *src, uint32_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	assert_non_null(b);
	if (len)
		memcpy(b, src, len);
	return b;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* Set the IP length fields so that the packet is exactly @len bytes. */
static void set_ip_len(uint8_t *b, uint32_t len)
{
	if ((b[0] >> 4) == 4)
		put16(b + 2, (uint16_t)len);
	else
		put16(b + 4, (uint16_t)(len - 40));
}

/*
 * Whatever the decoder says OK or FRAGMENT to must describe a view inside
 * the buffer; the checksum code is run on it too, so that ASan sees any
 * bad offset the decoder hands on.
 */
static void check_view(struct packet *p, enum pkt_status st, uint32_t buflen)
{
	if (st == PKT_MALFORMED)
		return;
	assert_true(st == PKT_OK || st == PKT_FRAGMENT);
	assert_true(p->family == 4 || p->family == 6);
	assert_int_equal(p->addr_len, p->family == 4 ? 4 : 16);
	assert_true(p->len <= buflen);
	assert_int_equal(p->len, pkt_ip_len(p));
	assert_true(p->daddr_off + p->addr_len <= p->len);
	assert_true(p->l4_off >= (p->family == 4 ? 20u : 40u));
	assert_int_equal(p->l4_off + p->l4_len, p->len);
	assert_int_equal(st == PKT_FRAGMENT, p->is_fragment);
	if (st == PKT_OK && (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP)) {
		assert_true(p->payload_off >= p->l4_off + 8);
		assert_true(p->payload_off + p->payload_len <= p->len);
	}
	if (p->icmp_error) {
		const struct pkt_inner *in = &p->inner;

		assert_true(in->l3_off >= p->l4_off + 8);
		assert_int_equal(in->family, p->family);
		assert_true(in->daddr_off + (in->family == 4 ? 4 : 16) <= p->len);
		assert_true(in->l4_off <= p->len);
		if (in->have_ports)
			assert_true(in->l4_off && in->l4_off + 4 <= p->len);
		if (in->have_l4_csum)
			assert_true(in->l4_off + (in->proto == IPPROTO_TCP ? 18 : 8)
				    <= p->len);
	}
	(void)csum_l4_verify(p);
	(void)csum_ipv4_header_verify(p);
	if (st == PKT_OK)
		(void)csum_l4_full(p);
}

static enum pkt_status decode_copy(const uint8_t *src, uint32_t len,
				   struct packet *p, uint8_t **owned)
{
	*owned = dup_exact(src, len);
	return pkt_decode(p, *owned, len);
}

static void test_ipv4_tcp_options(void **state)
{
	struct packet p;
	uint8_t *b;

	assert_int_equal(decode_copy(v4_tcp_opts, sizeof(v4_tcp_opts), &p, &b),
			 PKT_OK);
	assert_int_equal(p.family, 4);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.l4_off, 32);		/* IHL 8: RR option + NOP */
	assert_int_equal(p.len, sizeof(v4_tcp_opts));
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 1883);
	assert_int_equal(p.tcp_seq, 1000);
	assert_int_equal(p.tcp_ack, 2000);
	assert_int_equal(p.tcp_flags, 0x18);
	assert_int_equal(p.payload_off, 32 + 20 + 20);	/* 20 bytes of options */
	assert_int_equal(p.payload_len, 13);
	assert_memory_equal(pkt_payload(&p), "hello, world\n", 13);
	assert_memory_equal(pkt_saddr(&p), "\xc6\x33\x64\x07", 4);
	assert_memory_equal(pkt_daddr(&p), "\xc0\x00\x02\x0a", 4);
	assert_false(p.is_fragment);
	assert_false(p.icmp_error);
	assert_int_equal(pkt_ip_len(&p), 85);
	free(b);
}

static void test_ipv4_udp_and_padding(void **state)
{
	uint8_t buf[sizeof(v4_udp) + 6];
	struct packet p;

	memcpy(buf, v4_udp, sizeof(v4_udp));
	memset(buf + sizeof(v4_udp), 0xee, 6);	/* Ethernet padding */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_int_equal(p.len, sizeof(v4_udp));
	assert_int_equal(p.l4_len, sizeof(v4_udp) - 20);
	assert_int_equal(p.sport, 40001);
	assert_int_equal(p.dport, 514);
	assert_int_equal(p.payload_off, 28);
	assert_int_equal(p.payload_len, 23);
	assert_true(csum_l4_verify(&p));
}

static void test_udp_length_field(void **state)
{
	uint8_t buf[sizeof(v4_udp)];
	struct packet p;

	/* UDP length longer than the IP payload */
	memcpy(buf, v4_udp, sizeof(buf));
	put16(buf + 24, (uint16_t)(sizeof(buf) - 20 + 1));
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* below the UDP header */
	put16(buf + 24, 7);
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* shorter than the IP payload: the datagram ends where UDP says */
	put16(buf + 24, 8 + 5);
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_int_equal(p.payload_len, 5);
	assert_int_equal(p.l4_len, sizeof(buf) - 20);
	/* exactly the header */
	put16(buf + 24, 8);
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_int_equal(p.payload_len, 0);

	uint8_t b6[sizeof(v6_udp)];

	memcpy(b6, v6_udp, sizeof(b6));
	put16(b6 + 44, (uint16_t)(sizeof(b6) - 40 + 2));
	assert_int_equal(pkt_decode(&p, b6, sizeof(b6)), PKT_MALFORMED);
}

static void test_ipv4_header_checks(void **state)
{
	uint8_t buf[sizeof(v4_udp)];
	struct packet p;

	memcpy(buf, v4_udp, sizeof(buf));
	buf[0] = 0x44;				/* IHL 4 */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	buf[0] = 0x55;				/* version 5 */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	buf[0] = 0x4f;				/* IHL 15: 60 > total 51 */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	memcpy(buf, v4_udp, sizeof(buf));
	put16(buf + 2, 19);			/* total < header */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	put16(buf + 2, sizeof(buf) + 1);	/* total > bytes we have */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	memcpy(buf, v4_udp, sizeof(buf));
	buf[9] = 132;				/* SCTP: opaque, still OK */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_int_equal(p.proto, 132);
	assert_int_equal(p.sport, 0);
	assert_int_equal(pkt_decode(&p, buf, 0), PKT_MALFORMED);
}

static void test_tcp_data_offset(void **state)
{
	uint8_t buf[sizeof(v4_tcp_opts)];
	struct packet p;

	memcpy(buf, v4_tcp_opts, sizeof(buf));
	buf[32 + 12] = 4 << 4;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* 15 words = 60 bytes > the 53 L4 bytes */
	buf[32 + 12] = 15 << 4;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* options reaching the end exactly: no payload */
	memcpy(buf, v4_tcp_opts, sizeof(buf));
	set_ip_len(buf, 32 + 40);
	assert_int_equal(pkt_decode(&p, buf, 32 + 40), PKT_OK);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.payload_off, 72);
}

static void test_ipv6_ext_headers(void **state)
{
	struct packet p;
	uint8_t *b;

	/* hop-by-hop (8) + destination options (8) + atomic fragment (8) */
	assert_int_equal(decode_copy(v6_udp_ext, sizeof(v6_udp_ext), &p, &b),
			 PKT_OK);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.l4_off, 40 + 24);
	assert_false(p.is_fragment);
	assert_int_equal(p.sport, 40003);
	assert_int_equal(p.payload_len, 12);
	assert_memory_equal(pkt_payload(&p), "syslog line!", 12);
	assert_int_equal(p.saddr_off, 8);
	assert_int_equal(p.daddr_off, 24);
	free(b);

	/* hop-by-hop (8) + routing (24) + destination options (8) */
	assert_int_equal(decode_copy(v6_tcp_ext, sizeof(v6_tcp_ext), &p, &b),
			 PKT_OK);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.l4_off, 40 + 8 + 24 + 8);
	assert_int_equal(p.tcp_seq, 7);
	assert_int_equal(p.tcp_ack, 9);
	assert_int_equal(p.tcp_flags, 0x10);
	assert_int_equal(p.payload_len, 14);
	free(b);
}

static void test_ipv6_bad_chains(void **state)
{
	uint8_t buf[sizeof(v6_udp_ext)];
	struct packet p;

	/* hop-by-hop anywhere but first */
	memcpy(buf, v6_udp_ext, sizeof(buf));
	buf[48] = IPPROTO_HOPOPTS;	/* next header of the dest. options */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* an extension header longer than the packet */
	memcpy(buf, v6_udp_ext, sizeof(buf));
	buf[49] = 10;			/* dest. options: 88 bytes */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* jumbogram: payload length 0 */
	memcpy(buf, v6_udp_ext, sizeof(buf));
	put16(buf + 4, 0);
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* ESP: protocol known, nothing parsed past it */
	memcpy(buf, v6_udp_ext, sizeof(buf));
	buf[48] = IPPROTO_ESP;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_int_equal(p.proto, IPPROTO_ESP);
	assert_int_equal(p.l4_off, 56);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.payload_len, 0);
	/* no next header */
	buf[48] = 59;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_int_equal(p.proto, 59);
	/* AH in place of the fragment header: 4-byte units, length + 2 */
	memcpy(buf, v6_udp_ext, sizeof(buf));
	buf[48] = IPPROTO_AH;
	buf[57] = 0;			/* (0 + 2) * 4 = 8 bytes */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.l4_off, 64);
	buf[57] = 200;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* the fragment header made non-atomic: a first fragment */
	memcpy(buf, v6_udp_ext, sizeof(buf));
	buf[59] |= 1;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_FRAGMENT);
	assert_true(p.is_fragment);
	assert_int_equal(p.proto, IPPROTO_UDP);
	/* version 7 */
	memcpy(buf, v6_udp_ext, sizeof(buf));
	buf[0] = 0x70;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
}

static void test_fragments(void **state)
{
	static const struct {
		const uint8_t *b;
		uint32_t len;
		uint32_t l4_off;
	} frags[] = {
		{ v4_frag_first, sizeof(v4_frag_first), 20 },
		{ v4_frag_middle, sizeof(v4_frag_middle), 20 },
		{ v4_frag_last, sizeof(v4_frag_last), 20 },
		{ v6_frag_first, sizeof(v6_frag_first), 48 },
		{ v6_frag_middle, sizeof(v6_frag_middle), 48 },
		{ v6_frag_last, sizeof(v6_frag_last), 48 },
	};
	struct packet p;
	uint8_t *b;

	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		assert_int_equal(decode_copy(frags[i].b, frags[i].len, &p, &b),
				 PKT_FRAGMENT);
		assert_true(p.is_fragment);
		assert_int_equal(p.proto, IPPROTO_UDP);
		assert_int_equal(p.l4_off, frags[i].l4_off);
		assert_int_equal(p.l4_len, frags[i].len - frags[i].l4_off);
		assert_int_equal(p.sport, 0);
		assert_int_equal(p.len, frags[i].len);
		assert_int_equal(csum_l4_full(&p), -EINVAL);
		free(b);
	}
	/* DF alone is no fragment */
	uint8_t buf[sizeof(v4_udp)];

	memcpy(buf, v4_udp, sizeof(buf));
	buf[6] = 0x40;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_false(p.is_fragment);
}

static void test_icmp4_errors(void **state)
{
	struct packet p;
	uint8_t *b;

	/* header + 8 bytes of TCP: ports, but not the checksum (at 16) */
	assert_int_equal(decode_copy(v4_icmp_err_tcp_short,
				     sizeof(v4_icmp_err_tcp_short), &p, &b),
			 PKT_OK);
	assert_int_equal(p.proto, IPPROTO_ICMP);
	assert_true(p.icmp_error);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 4);
	assert_int_equal(p.inner.family, 4);
	assert_int_equal(p.inner.proto, IPPROTO_TCP);
	assert_int_equal(p.inner.l3_off, 28);
	assert_int_equal(p.inner.saddr_off, 40);
	assert_int_equal(p.inner.daddr_off, 44);
	assert_int_equal(p.inner.l4_off, 48);
	assert_true(p.inner.have_ports);
	assert_int_equal(p.inner.sport, 40000);
	assert_int_equal(p.inner.dport, 1883);
	assert_false(p.inner.have_l4_csum);
	assert_memory_equal(p.data + p.inner.saddr_off, "\xc6\x33\x64\x07", 4);
	free(b);

	assert_int_equal(decode_copy(v4_icmp_err_tcp_long,
				     sizeof(v4_icmp_err_tcp_long), &p, &b),
			 PKT_OK);
	assert_true(p.icmp_error);
	assert_int_equal(p.icmp_type, 11);
	assert_true(p.inner.have_ports);
	assert_true(p.inner.have_l4_csum);
	free(b);

	/* 8 bytes of UDP hold its checksum */
	assert_int_equal(decode_copy(v4_icmp_err_udp_short,
				     sizeof(v4_icmp_err_udp_short), &p, &b),
			 PKT_OK);
	assert_int_equal(p.inner.proto, IPPROTO_UDP);
	assert_int_equal(p.inner.sport, 40001);
	assert_int_equal(p.inner.dport, 514);
	assert_true(p.inner.have_l4_csum);
	free(b);

	assert_int_equal(decode_copy(v4_icmp_err_udp_long,
				     sizeof(v4_icmp_err_udp_long), &p, &b),
			 PKT_OK);
	assert_int_equal(p.icmp_type, 12);
	assert_true(p.inner.have_l4_csum);
	free(b);

	/* echo is no error */
	assert_int_equal(decode_copy(v4_icmp_echo, sizeof(v4_icmp_echo), &p, &b),
			 PKT_OK);
	assert_false(p.icmp_error);
	assert_int_equal(p.icmp_type, 8);
	assert_int_equal(p.inner.l3_off, 0);
	assert_int_equal(p.payload_len, 5);
	free(b);
}

static void test_icmp4_error_quotes(void **state)
{
	uint8_t buf[sizeof(v4_icmp_err_tcp_long)];
	struct packet p;

	/* quote shorter than header + 8 bytes */
	memcpy(buf, v4_icmp_err_tcp_short, sizeof(v4_icmp_err_tcp_short));
	set_ip_len(buf, sizeof(v4_icmp_err_tcp_short) - 1);
	assert_int_equal(pkt_decode(&p, buf, sizeof(v4_icmp_err_tcp_short) - 1),
			 PKT_MALFORMED);
	/* the quote is not IPv4 */
	memcpy(buf, v4_icmp_err_tcp_long, sizeof(buf));
	buf[28] = 0x65;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* quoted IHL too small */
	buf[28] = 0x44;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* a quoted non-first fragment has no L4 header */
	memcpy(buf, v4_icmp_err_tcp_long, sizeof(buf));
	put16(buf + 28 + 6, 0x0010);
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_true(p.icmp_error);
	assert_int_equal(p.inner.l4_off, 0);
	assert_false(p.inner.have_ports);
	assert_false(p.inner.have_l4_csum);
	/* a quoted first fragment has one */
	put16(buf + 28 + 6, 0x2000);
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_true(p.inner.have_ports);
	/* quote of header + 18 bytes of TCP: the checksum just fits */
	memcpy(buf, v4_icmp_err_tcp_long, sizeof(buf));
	set_ip_len(buf, 28 + 20 + 18);
	assert_int_equal(pkt_decode(&p, buf, 28 + 20 + 18), PKT_OK);
	assert_true(p.inner.have_l4_csum);
	set_ip_len(buf, 28 + 20 + 17);
	assert_int_equal(pkt_decode(&p, buf, 28 + 20 + 17), PKT_OK);
	assert_false(p.inner.have_l4_csum);
	assert_true(p.inner.have_ports);
	/* the whole of a quoted packet shorter than header + 8 bytes */
	memcpy(buf, v4_icmp_err_udp_short, sizeof(v4_icmp_err_udp_short));
	put16(buf + 28 + 2, 20 + 4);		/* it was IP + 4 bytes */
	set_ip_len(buf, 28 + 20 + 4);
	assert_int_equal(pkt_decode(&p, buf, 28 + 20 + 4), PKT_OK);
	assert_true(p.icmp_error);
	assert_true(p.inner.have_ports);
	assert_false(p.inner.have_l4_csum);
	set_ip_len(buf, 28 + 20 + 3);
	assert_int_equal(pkt_decode(&p, buf, 28 + 20 + 3), PKT_MALFORMED);
	/* an ICMPv4 type that is no error is never parsed as one */
	memcpy(buf, v4_icmp_err_tcp_long, sizeof(buf));
	buf[20] = 0;			/* echo reply */
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_false(p.icmp_error);
	/* source quench (4) is */
	buf[20] = 4;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_true(p.icmp_error);
}

static void test_icmp6_errors(void **state)
{
	struct packet p;
	uint8_t *b;

	assert_int_equal(decode_copy(v6_icmp_err_tcp_long,
				     sizeof(v6_icmp_err_tcp_long), &p, &b),
			 PKT_OK);
	assert_int_equal(p.proto, IPPROTO_ICMPV6);
	assert_true(p.icmp_error);
	assert_int_equal(p.icmp_type, 2);
	assert_int_equal(p.inner.family, 6);
	assert_int_equal(p.inner.proto, IPPROTO_TCP);
	assert_int_equal(p.inner.l3_off, 48);
	assert_int_equal(p.inner.saddr_off, 56);
	assert_int_equal(p.inner.daddr_off, 72);
	assert_int_equal(p.inner.l4_off, 88);
	assert_int_equal(p.inner.sport, 40002);
	assert_int_equal(p.inner.dport, 1883);
	assert_true(p.inner.have_l4_csum);
	free(b);

	/* IPv6 header + 4 bytes of TCP */
	assert_int_equal(decode_copy(v6_icmp_err_tcp_short,
				     sizeof(v6_icmp_err_tcp_short), &p, &b),
			 PKT_OK);
	assert_true(p.icmp_error);
	assert_int_equal(p.icmp_type, 1);
	assert_true(p.inner.have_ports);
	assert_int_equal(p.inner.sport, 40002);
	assert_false(p.inner.have_l4_csum);
	free(b);

	/* a destination options header inside the quote */
	assert_int_equal(decode_copy(v6_icmp_err_udp_ext,
				     sizeof(v6_icmp_err_udp_ext), &p, &b),
			 PKT_OK);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.inner.proto, IPPROTO_UDP);
	assert_int_equal(p.inner.l4_off, 48 + 40 + 8);
	assert_int_equal(p.inner.sport, 40003);
	assert_true(p.inner.have_l4_csum);
	free(b);

	/* neighbour discovery and echo are plain messages */
	assert_int_equal(decode_copy(v6_nd_ns, sizeof(v6_nd_ns), &p, &b), PKT_OK);
	assert_int_equal(p.icmp_type, 135);
	assert_false(p.icmp_error);
	free(b);
	assert_int_equal(decode_copy(v6_icmp_echo, sizeof(v6_icmp_echo), &p, &b),
			 PKT_OK);
	assert_int_equal(p.icmp_type, 128);
	assert_false(p.icmp_error);
	free(b);
}

static void test_icmp6_error_quotes(void **state)
{
	uint8_t buf[sizeof(v6_icmp_err_udp_ext)];
	struct packet p;

	/* the quote ends inside the inner extension header: no L4, still OK */
	memcpy(buf, v6_icmp_err_udp_ext, sizeof(buf));
	set_ip_len(buf, 48 + 40 + 4);
	assert_int_equal(pkt_decode(&p, buf, 48 + 40 + 4), PKT_OK);
	assert_true(p.icmp_error);
	assert_int_equal(p.inner.l4_off, 0);
	assert_false(p.inner.have_ports);
	/* less than an IPv6 header quoted */
	set_ip_len(buf, 48 + 39);
	assert_int_equal(pkt_decode(&p, buf, 48 + 39), PKT_MALFORMED);
	/* the quote is not IPv6 */
	memcpy(buf, v6_icmp_err_udp_ext, sizeof(buf));
	buf[48] = 0x45;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_MALFORMED);
	/* quoted fragment: L4 only when it is the first one */
	uint8_t fb[48 + sizeof(v6_frag_middle)];

	memcpy(fb, v6_icmp_err_udp_ext, 48);
	memcpy(fb + 48, v6_frag_middle, sizeof(v6_frag_middle));
	set_ip_len(fb, sizeof(fb));
	assert_int_equal(pkt_decode(&p, fb, sizeof(fb)), PKT_OK);
	assert_true(p.icmp_error);
	assert_int_equal(p.inner.proto, IPPROTO_UDP);
	assert_int_equal(p.inner.l4_off, 0);
	assert_false(p.inner.have_ports);
	/* types 1..4 only */
	memcpy(buf, v6_icmp_err_udp_ext, sizeof(buf));
	buf[40] = 5;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_false(p.icmp_error);
	buf[40] = 4;
	assert_int_equal(pkt_decode(&p, buf, sizeof(buf)), PKT_OK);
	assert_true(p.icmp_error);
}

/* Every cut of every vector without fixing lengths is truncated. */
static void test_every_truncation(void **state)
{
	struct packet p;

	for (size_t v = 0; v < N_VECTORS; v++) {
		for (uint32_t len = 0; len < vectors[v].len; len++) {
			uint8_t *b = dup_exact(vectors[v].bytes, len);

			assert_int_equal(pkt_decode(&p, b, len), PKT_MALFORMED);
			free(b);
		}
	}
}

/*
 * Every cut with the IP length fields made to agree: the decoder must
 * either refuse it or describe a view inside the bytes.  Checks a few
 * cuts whose outcome is known.
 */
static void test_every_consistent_truncation(void **state)
{
	struct packet p;
	unsigned ok = 0, malformed = 0;

	for (size_t v = 0; v < N_VECTORS; v++) {
		uint32_t min = (vectors[v].bytes[0] >> 4) == 4 ? 20 : 40;

		for (uint32_t len = min; len <= vectors[v].len; len++) {
			uint8_t *b = dup_exact(vectors[v].bytes, len);
			enum pkt_status st;

			set_ip_len(b, len);
			st = pkt_decode(&p, b, len);
			check_view(&p, st, len);
			if (st == PKT_MALFORMED)
				malformed++;
			else
				ok++;
			free(b);
		}
	}
	/* both outcomes occur: the loop is not vacuous */
	assert_true(ok > 100);
	assert_true(malformed > 100);

	/* a TCP header cut in its options is malformed */
	uint8_t *b = dup_exact(v4_tcp_opts, 32 + 30);

	set_ip_len(b, 32 + 30);
	assert_int_equal(pkt_decode(&p, b, 32 + 30), PKT_MALFORMED);
	free(b);
}

/* Random bytes, and valid packets with random bytes changed. */
static void test_random_bytes(void **state)
{
	struct packet p;
	unsigned decoded = 0;

	rng_state = 0x6e667265646163ULL;
	for (int i = 0; i < 200000; i++) {
		uint32_t len = rng() % 160;
		uint8_t *b = malloc(len ? len : 1);
		enum pkt_status st;

		assert_non_null(b);
		for (uint32_t j = 0; j < len; j++)
			b[j] = (uint8_t)rng();
		if (len && (i & 1))
			b[0] = (uint8_t)((i & 2 ? 0x40 : 0x60) | (b[0] & 0x0f));
		if (len >= 40 && (i & 4))
			set_ip_len(b, len);
		st = pkt_decode(&p, b, len);
		check_view(&p, st, len);
		decoded += st != PKT_MALFORMED;
		free(b);
	}
	assert_true(decoded > 0);

	decoded = 0;
	for (int i = 0; i < 100000; i++) {
		const struct vec *v = &vectors[rng() % N_VECTORS];
		uint8_t *b = dup_exact(v->bytes, v->len);
		int flips = 1 + rng() % 4;
		enum pkt_status st;

		for (int f = 0; f < flips; f++)
			b[rng() % v->len] ^= (uint8_t)(1u << (rng() % 8));
		st = pkt_decode(&p, b, v->len);
		check_view(&p, st, v->len);
		decoded += st != PKT_MALFORMED;
		free(b);
	}
	assert_true(decoded > 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_tcp_options),
		cmocka_unit_test(test_ipv4_udp_and_padding),
		cmocka_unit_test(test_udp_length_field),
		cmocka_unit_test(test_ipv4_header_checks),
		cmocka_unit_test(test_tcp_data_offset),
		cmocka_unit_test(test_ipv6_ext_headers),
		cmocka_unit_test(test_ipv6_bad_chains),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_icmp4_errors),
		cmocka_unit_test(test_icmp4_error_quotes),
		cmocka_unit_test(test_icmp6_errors),
		cmocka_unit_test(test_icmp6_error_quotes),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_every_consistent_truncation),
		cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
