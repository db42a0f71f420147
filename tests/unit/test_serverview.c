/*
 * test_serverview.c — replies and ICMP errors captured on the client's
 * side, rewritten to the server's view (tools/serverview.c): the fields
 * change, and every checksum, updated incrementally, equals a full
 * recomputation; a packet cut short by the capture gets the same bytes as
 * the whole one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "../../tools/serverview.c"

static const uint8_t client4[4] = { 192, 0, 2, 55 };
static const uint8_t pseudo4[4] = { 192, 0, 2, 0 };
static const uint8_t server4[4] = { 198, 51, 100, 10 };
static const uint8_t client6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2,
				     0, 0, 0, 0, 0, 0, 0, 0x55 };
static const uint8_t pseudo6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 };
static const uint8_t server6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0,
				     0, 0, 0, 0, 0, 0, 0, 0x10 };

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* An IPv4 header of @total bytes from @src to @dst, checksum set. */
static uint32_t ip4(uint8_t *b, uint8_t proto, uint32_t total,
		    const uint8_t *src, const uint8_t *dst)
{
	struct packet p;

	memset(b, 0, 20);
	b[0] = 0x45;
	put16(b + 2, (uint16_t)total);
	put16(b + 4, 0x1234);
	b[8] = 64;
	b[9] = proto;
	memcpy(b + 12, src, 4);
	memcpy(b + 16, dst, 4);
	memset(&p, 0, sizeof(p));
	p.data = b;
	p.len = 20;
	p.family = 4;
	csum_ipv4_header(&p);
	return 20;
}

static uint32_t ip6(uint8_t *b, uint8_t proto, uint32_t payload,
		    const uint8_t *src, const uint8_t *dst)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	put16(b + 4, (uint16_t)payload);
	b[6] = proto;
	b[7] = 64;
	memcpy(b + 8, src, 16);
	memcpy(b + 24, dst, 16);
	return 40;
}

/* A TCP (or UDP) header and payload at @b, checksum left 0. */
static uint32_t l4(uint8_t *b, uint8_t proto, uint16_t sport, uint16_t dport,
		   uint32_t payload)
{
	uint32_t hl = proto == IPPROTO_TCP ? 20 : 8;

	memset(b, 0, hl);
	put16(b, sport);
	put16(b + 2, dport);
	if (proto == IPPROTO_TCP) {
		put16(b + 4, 0x0102);
		b[12] = 5 << 4;
		b[13] = 0x18;
		put16(b + 14, 502);
	} else {
		put16(b + 4, (uint16_t)(hl + payload));
	}
	for (uint32_t i = 0; i < payload; i++)
		b[hl + i] = (uint8_t)(i * 13 + 1);
	return hl + payload;
}

/* Decode @b and set its L4 checksum (and IPv4 header checksum). */
static void finish(uint8_t *b, uint32_t len)
{
	struct packet p;

	assert_int_equal(pkt_decode(&p, b, len), PKT_OK);
	assert_int_equal(csum_l4_full(&p), 0);
	if (p.family == 4)
		csum_ipv4_header(&p);
}

static void assert_sums_right(uint8_t *b, uint32_t len)
{
	struct packet p;

	assert_int_equal(pkt_decode(&p, b, len), PKT_OK);
	assert_true(csum_l4_verify(&p));
	if (p.family == 4)
		assert_true(csum_ipv4_header_verify(&p));
}

static uint32_t reply4(uint8_t *b, uint8_t proto, uint32_t payload)
{
	uint32_t n = 20 + l4(b + 20, proto, 1883, 40001, payload);

	ip4(b, proto, n, server4, client4);
	finish(b, n);
	return n;
}

static void test_reply_tcp4(void **state)
{
	uint8_t b[200];
	uint32_t n = reply4(b, IPPROTO_TCP, 37);
	struct packet p;

	assert_int_equal(pkt_decode(&p, b, n), PKT_OK);
	assert_true(sv_reply_to_pseudonym(b, &p, pseudo4, 40123));
	assert_memory_equal(b + 16, pseudo4, 4);
	assert_int_equal(b[22] << 8 | b[23], 40123);
	assert_sums_right(b, n);
	/* the same again changes nothing */
	assert_int_equal(pkt_decode(&p, b, n), PKT_OK);
	assert_false(sv_reply_to_pseudonym(b, &p, pseudo4, 40123));
}

static void test_reply_udp4(void **state)
{
	uint8_t b[200];
	uint32_t n = reply4(b, IPPROTO_UDP, 21);
	struct packet p;

	assert_int_equal(pkt_decode(&p, b, n), PKT_OK);
	assert_true(sv_reply_to_pseudonym(b, &p, pseudo4, 40001));
	assert_sums_right(b, n);

	/* an IPv4 UDP datagram without a checksum stays without one */
	n = reply4(b, IPPROTO_UDP, 21);
	b[26] = b[27] = 0;
	assert_int_equal(pkt_decode(&p, b, n), PKT_OK);
	assert_true(sv_reply_to_pseudonym(b, &p, pseudo4, 40001));
	assert_int_equal(b[26] | b[27], 0);
	assert_true(csum_ipv4_header_verify(&p));
}

static void test_reply_tcp6(void **state)
{
	uint8_t b[200];
	uint32_t n = 40 + l4(b + 40, IPPROTO_TCP, 1883, 40001, 50);
	struct packet p;

	ip6(b, IPPROTO_TCP, n - 40, server6, client6);
	finish(b, n);
	assert_int_equal(pkt_decode(&p, b, n), PKT_OK);
	assert_true(sv_reply_to_pseudonym(b, &p, pseudo6, 40001));
	assert_memory_equal(b + 24, pseudo6, 16);
	assert_sums_right(b, n);
}

/* Cut short by the capture: the captured bytes are those of the whole. */
static void test_reply_truncated(void **state)
{
	uint8_t whole[400], cut[400], view[400];
	uint32_t n = reply4(whole, IPPROTO_TCP, 300), caplen = 64;
	struct packet p;

	memcpy(cut, whole, caplen);
	assert_int_equal(pkt_decode(&p, whole, n), PKT_OK);
	sv_reply_to_pseudonym(whole, &p, pseudo4, 40999);
	/* the view: lengths cut to what was captured, as the dry-run does */
	memcpy(view, cut, caplen);
	put16(view + 2, (uint16_t)caplen);
	assert_int_equal(pkt_decode(&p, view, caplen), PKT_OK);
	assert_true(sv_reply_to_pseudonym(cut, &p, pseudo4, 40999));
	assert_memory_equal(cut, whole, caplen);
	assert_sums_right(whole, n);
}

/*
 * An ICMP port unreachable to the client quoting its whole UDP datagram
 * (quote checksums right), or only 8 bytes of a TCP segment.
 */
static uint32_t error4(uint8_t *b, uint8_t qproto, bool whole)
{
	uint8_t q[200];
	uint32_t qn = 20 + l4(q + 20, qproto, 40001, 5060, 30), n;
	struct packet p;

	ip4(q, qproto, qn, client4, server4);
	finish(q, qn);
	if (!whole)
		qn = 28;
	memset(b + 20, 0, 8);
	b[20] = 3;
	b[21] = qproto == IPPROTO_TCP ? 4 : 3;
	memcpy(b + 28, q, qn);
	n = 28 + qn;
	ip4(b, IPPROTO_ICMP, n, server4, client4);
	assert_int_equal(pkt_decode(&p, b, n), PKT_OK);
	assert_int_equal(csum_l4_full(&p), 0);
	return n;
}

static void test_error4(void **state)
{
	uint8_t b[300];
	uint32_t n = error4(b, IPPROTO_UDP, true);
	struct packet p, q;

	assert_int_equal(pkt_decode(&p, b, n), PKT_OK);
	assert_true(p.icmp_error);
	assert_true(sv_error_to_pseudonym(b, &p, client4, pseudo4, 40777));
	assert_memory_equal(b + 16, pseudo4, 4);	/* outer destination */
	assert_memory_equal(b + 28 + 12, pseudo4, 4);	/* quoted source */
	assert_int_equal(b[48] << 8 | b[49], 40777);
	assert_sums_right(b, n);
	/* the quote is a packet with right checksums of its own */
	assert_int_equal(pkt_decode(&q, b + 28, n - 28), PKT_OK);
	assert_true(csum_ipv4_header_verify(&q));
	assert_true(csum_l4_verify(&q));

	/* 8 bytes of TCP: ports, no checksum to keep */
	n = error4(b, IPPROTO_TCP, false);
	assert_int_equal(pkt_decode(&p, b, n), PKT_OK);
	assert_true(p.icmp_error);
	assert_false(p.inner.have_l4_csum);
	assert_true(sv_error_to_pseudonym(b, &p, client4, pseudo4, 40001));
	assert_memory_equal(b + 28 + 12, pseudo4, 4);
	assert_sums_right(b, n);
	assert_int_equal(csum_fold(csum_partial(b + 28, 20, 0)), 0);
}

/* An error whose outer destination is not the client keeps it. */
static void test_error4_other_destination(void **state)
{
	uint8_t b[300];
	uint32_t n = error4(b, IPPROTO_UDP, true);
	struct packet p;

	memcpy(b + 16, server4, 4);
	assert_int_equal(pkt_decode(&p, b, n), PKT_OK);
	csum_ipv4_header(&p);
	assert_true(sv_error_to_pseudonym(b, &p, client4, pseudo4, 40001));
	assert_memory_equal(b + 16, server4, 4);
	assert_sums_right(b, n);
}

static void test_error6(void **state)
{
	uint8_t b[400], q[200];
	uint32_t qn = 40 + l4(q + 40, IPPROTO_UDP, 40001, 5060, 30), n;
	struct packet p, pq;

	ip6(q, IPPROTO_UDP, qn - 40, client6, server6);
	finish(q, qn);
	memset(b + 40, 0, 8);
	b[40] = 1;
	b[41] = 4;
	memcpy(b + 48, q, qn);
	n = 48 + qn;
	ip6(b, IPPROTO_ICMPV6, n - 40, server6, client6);
	finish(b, n);
	assert_int_equal(pkt_decode(&p, b, n), PKT_OK);
	assert_true(p.icmp_error);
	assert_true(sv_error_to_pseudonym(b, &p, client6, pseudo6, 40002));
	assert_memory_equal(b + 24, pseudo6, 16);
	assert_memory_equal(b + 48 + 8, pseudo6, 16);
	assert_sums_right(b, n);
	assert_int_equal(pkt_decode(&pq, b + 48, qn), PKT_OK);
	assert_true(csum_l4_verify(&pq));
	assert_int_equal(pq.sport, 40002);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_tcp4),
		cmocka_unit_test(test_reply_udp4),
		cmocka_unit_test(test_reply_tcp6),
		cmocka_unit_test(test_reply_truncated),
		cmocka_unit_test(test_error4),
		cmocka_unit_test(test_error4_other_destination),
		cmocka_unit_test(test_error6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
