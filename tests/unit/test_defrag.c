/*
 * test_defrag.c — IPv4/IPv6 reassembly of the dry-run (tools/defrag.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../tools/defrag.c"

#define SEC 1000000000ull

static const uint8_t link_a[14] = { 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x08, 0x00 };
static const uint8_t link_b[14] = { 9, 9, 9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 0x08, 0x00 };

static uint8_t payload[4096];
static uint8_t pkt[4096];

static void fill_payload(void)
{
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
}

/* An IPv4 fragment of payload[off, off + n) into pkt; returns its length. */
static uint32_t v4_frag(uint16_t id, uint8_t proto, uint32_t off, uint32_t n,
			bool more)
{
	memset(pkt, 0, 20);
	pkt[0] = 0x45;
	put16(pkt + 2, 20 + n);
	put16(pkt + 4, id);
	put16(pkt + 6, (more ? IPV4_MF : 0) | (off / 8));
	pkt[8] = 64;
	pkt[9] = proto;
	memcpy(pkt + 12, "\xc0\x00\x02\x01", 4);
	memcpy(pkt + 16, "\xc6\x33\x64\x02", 4);
	put16(pkt + 10, ipv4_header_csum(pkt, 20));
	memcpy(pkt + 20, payload + off, n);
	return 20 + n;
}

/* An IPv6 fragment, with a hop-by-hop header before the fragment header
 * when @hbh (part of the unfragmentable part). */
static uint32_t v6_frag(uint32_t id, bool hbh, uint32_t off, uint32_t n,
			bool more)
{
	uint32_t h = 40;

	memset(pkt, 0, 64);
	pkt[0] = 0x60;
	pkt[7] = 64;
	pkt[8] = 0x20; pkt[9] = 0x01; pkt[10] = 0x0d; pkt[11] = 0xb8; pkt[23] = 1;
	pkt[24] = 0x20; pkt[25] = 0x01; pkt[26] = 0x0d; pkt[27] = 0xb8; pkt[39] = 2;
	if (hbh) {
		pkt[6] = NH_HOPOPTS;
		pkt[40] = NH_FRAGMENT;
		pkt[41] = 0;		/* 8 bytes: PadN */
		pkt[42] = 1;
		pkt[43] = 4;
		h = 48;
	} else {
		pkt[6] = NH_FRAGMENT;
	}
	pkt[h] = 17;		/* UDP */
	put16(pkt + h + 2, off | (more ? 1 : 0));
	put16(pkt + h + 4, id >> 16);
	put16(pkt + h + 6, id & 0xffff);
	memcpy(pkt + h + 8, payload + off, n);
	put16(pkt + 4, h + 8 - 40 + n);
	return h + 8 + n;
}

static enum defrag_status add(struct defrag *d, uint32_t len,
			      const uint8_t *link, uint64_t now,
			      struct defrag_out *out)
{
	return defrag_add(d, pkt, len, link, 14, now, out);
}

static void assert_v4_whole(const struct defrag_out *out, const uint8_t *link,
			    uint32_t plen)
{
	const uint8_t *ip = out->frame + out->link_len;

	assert_int_equal(out->link_len, 14);
	assert_memory_equal(out->frame, link, 14);
	assert_int_equal(out->frame_len, 14 + 20 + plen);
	assert_int_equal(get16(ip + 2), 20 + plen);
	assert_int_equal(get16(ip + 6), 0);
	assert_int_equal(ipv4_header_csum(ip, 20), 0);
	assert_memory_equal(ip + 20, payload, plen);
}

static void test_ipv4_in_order(void **state)
{
	struct defrag *d = defrag_new(8);
	struct defrag_out out;

	(void)state;
	assert_non_null(d);
	assert_int_equal(add(d, v4_frag(7, 17, 0, 16, true), link_a, SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v4_frag(7, 17, 16, 16, true), link_b, SEC, &out), DEFRAG_HELD);
	assert_int_equal(defrag_pending(d), 1);
	assert_int_equal(add(d, v4_frag(7, 17, 32, 5, false), link_b, SEC, &out), DEFRAG_DONE);
	assert_v4_whole(&out, link_a, 37);
	assert_int_equal(defrag_pending(d), 0);
	assert_int_equal(defrag_get_stats(d)->fragments, 3);
	assert_int_equal(defrag_get_stats(d)->reassembled, 1);
	defrag_free(d);
}

static void test_ipv4_out_of_order(void **state)
{
	struct defrag *d = defrag_new(8);
	struct defrag_out out;

	(void)state;
	assert_int_equal(add(d, v4_frag(9, 6, 32, 3, false), link_b, SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v4_frag(9, 6, 16, 16, true), link_b, SEC, &out), DEFRAG_HELD);
	/* another datagram in between must not mix in */
	assert_int_equal(add(d, v4_frag(9, 17, 0, 8, true), link_b, SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v4_frag(9, 6, 0, 16, true), link_a, 2 * SEC, &out), DEFRAG_DONE);
	/* link header from the first fragment, not from the last to arrive */
	assert_v4_whole(&out, link_a, 35);
	assert_int_equal(out.frame[14 + 9], 6);
	assert_int_equal(defrag_pending(d), 1);
	defrag_free(d);
}

static void test_ipv4_overlap_discards(void **state)
{
	struct defrag *d = defrag_new(8);
	struct defrag_out out;

	(void)state;
	assert_int_equal(add(d, v4_frag(1, 17, 0, 16, true), link_a, SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v4_frag(1, 17, 8, 16, true), link_a, SEC, &out), DEFRAG_DISCARDED);
	assert_int_equal(defrag_get_stats(d)->overlaps, 1);
	/* the rest of that datagram is swallowed, nothing completes */
	assert_int_equal(add(d, v4_frag(1, 17, 16, 8, false), link_a, SEC, &out), DEFRAG_DISCARDED);
	assert_int_equal(defrag_get_stats(d)->dropped, 1);
	assert_int_equal(defrag_get_stats(d)->reassembled, 0);
	assert_int_equal(defrag_pending(d), 0);
	/* a dead datagram's timeout is not an incomplete one */
	assert_int_equal(add(d, v4_frag(2, 17, 0, 8, true), link_a, 40 * SEC, &out), DEFRAG_HELD);
	assert_int_equal(defrag_get_stats(d)->timed_out, 0);
	defrag_free(d);
}

static void test_ipv4_duplicate_ignored(void **state)
{
	struct defrag *d = defrag_new(8);
	struct defrag_out out;

	(void)state;
	assert_int_equal(add(d, v4_frag(3, 17, 0, 24, true), link_a, SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v4_frag(3, 17, 0, 24, true), link_b, SEC, &out), DEFRAG_HELD);
	assert_int_equal(defrag_get_stats(d)->duplicates, 1);
	assert_int_equal(add(d, v4_frag(3, 17, 24, 9, false), link_b, SEC, &out), DEFRAG_DONE);
	assert_v4_whole(&out, link_a, 33);
	defrag_free(d);
}

static void test_missing_last_times_out(void **state)
{
	struct defrag *d = defrag_new(8);
	struct defrag_out out;

	(void)state;
	assert_int_equal(add(d, v4_frag(4, 17, 0, 16, true), link_a, SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v4_frag(4, 17, 16, 16, true), link_a, 2 * SEC, &out), DEFRAG_HELD);
	assert_int_equal(defrag_pending(d), 1);
	/* 29 s after the first fragment: still waiting */
	assert_int_equal(add(d, v4_frag(5, 17, 0, 8, true), link_a, 30 * SEC, &out), DEFRAG_HELD);
	assert_int_equal(defrag_get_stats(d)->timed_out, 0);
	assert_int_equal(add(d, v4_frag(6, 17, 0, 8, true), link_a, 31 * SEC, &out), DEFRAG_HELD);
	assert_int_equal(defrag_get_stats(d)->timed_out, 1);
	/* the late last fragment starts a new datagram that lacks its head */
	assert_int_equal(add(d, v4_frag(4, 17, 32, 4, false), link_a, 31 * SEC, &out), DEFRAG_HELD);
	assert_int_equal(defrag_pending(d), 3);
	assert_int_equal(defrag_get_stats(d)->reassembled, 0);
	defrag_free(d);
}

static void test_ipv6_fragment_header(void **state)
{
	struct defrag *d = defrag_new(8);
	struct defrag_out out;
	const uint8_t *ip;

	(void)state;
	assert_int_equal(add(d, v6_frag(0x12345678, true, 1200, 100, false), link_b, SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v6_frag(0x12345678, true, 0, 1200, true), link_a, SEC, &out), DEFRAG_DONE);
	ip = out.frame + out.link_len;
	assert_int_equal(out.link_len, 14);
	assert_memory_equal(out.frame, link_a, 14);
	assert_int_equal(out.frame_len, 14 + 48 + 1300);
	/* the fragment header is gone; hop-by-hop now names UDP */
	assert_int_equal(ip[6], NH_HOPOPTS);
	assert_int_equal(ip[40], 17);
	assert_int_equal(get16(ip + 4), 8 + 1300);
	assert_memory_equal(ip + 48, payload, 1300);
	defrag_free(d);
}

static void test_ipv6_keyed_by_id(void **state)
{
	struct defrag *d = defrag_new(8);
	struct defrag_out out;

	(void)state;
	assert_int_equal(add(d, v6_frag(1, false, 0, 64, true), link_a, SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v6_frag(2, false, 64, 10, false), link_a, SEC, &out), DEFRAG_HELD);
	assert_int_equal(defrag_pending(d), 2);
	assert_int_equal(add(d, v6_frag(1, false, 64, 10, false), link_a, SEC, &out), DEFRAG_DONE);
	assert_int_equal(out.frame[14 + 6], 17);
	assert_int_equal(get16(out.frame + 14 + 4), 74);
	defrag_free(d);
}

static void test_too_many_fragments(void **state)
{
	struct defrag *d = defrag_new(8);
	struct defrag_out out;
	unsigned i;

	(void)state;
	for (i = 0; i < DEFRAG_MAX_FRAGS; i++)
		assert_int_equal(add(d, v4_frag(8, 17, i * 8, 8, true), link_a, SEC, &out),
				 DEFRAG_HELD);
	assert_int_equal(add(d, v4_frag(8, 17, i * 8, 8, false), link_a, SEC, &out),
			 DEFRAG_DISCARDED);
	assert_int_equal(defrag_get_stats(d)->too_many, 1);
	assert_int_equal(defrag_pending(d), 0);
	defrag_free(d);
}

static void test_not_fragments(void **state)
{
	struct defrag *d = defrag_new(2);
	struct defrag_out out;
	uint32_t len;

	(void)state;
	assert_int_equal(add(d, v4_frag(10, 17, 0, 40, false), link_a, SEC, &out),
			 DEFRAG_NOT_FRAGMENT);
	/* IPv6 atomic fragment: offset 0, no M flag */
	assert_int_equal(add(d, v6_frag(10, false, 0, 40, false), link_a, SEC, &out),
			 DEFRAG_NOT_FRAGMENT);
	/* a non-final fragment whose length is no multiple of 8 */
	assert_int_equal(add(d, v4_frag(11, 17, 0, 13, true), link_a, SEC, &out),
			 DEFRAG_DISCARDED);
	assert_int_equal(defrag_get_stats(d)->malformed, 1);
	/* a fragment that would end past 64 KiB */
	len = v4_frag(12, 17, 0, 16, false);
	put16(pkt + 6, 8187);	/* 20 + 65496 + 16 = 65532: fits */
	assert_int_equal(defrag_add(d, pkt, len, link_a, 14, SEC, &out), DEFRAG_HELD);
	put16(pkt + 4, 13);
	put16(pkt + 6, 8188);	/* 20 + 65504 + 16 = 65540: does not */
	assert_int_equal(defrag_add(d, pkt, len, link_a, 14, SEC, &out), DEFRAG_DISCARDED);
	assert_int_equal(defrag_get_stats(d)->malformed, 2);
	assert_int_equal(defrag_get_stats(d)->fragments, 3);
	defrag_free(d);
}

static void test_eviction_bounds_memory(void **state)
{
	struct defrag *d = defrag_new(2);
	struct defrag_out out;

	(void)state;
	assert_int_equal(add(d, v4_frag(20, 17, 0, 8, true), link_a, 1 * SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v4_frag(21, 17, 0, 8, true), link_a, 2 * SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v4_frag(22, 17, 0, 8, true), link_a, 3 * SEC, &out), DEFRAG_HELD);
	assert_int_equal(defrag_get_stats(d)->evicted, 1);
	assert_int_equal(defrag_pending(d), 2);
	/* the oldest went: its tail no longer completes anything */
	assert_int_equal(add(d, v4_frag(20, 17, 8, 8, false), link_a, 4 * SEC, &out), DEFRAG_HELD);
	assert_int_equal(add(d, v4_frag(22, 17, 8, 8, false), link_a, 4 * SEC, &out), DEFRAG_DONE);
	assert_v4_whole(&out, link_a, 16);
	defrag_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_in_order),
		cmocka_unit_test(test_ipv4_out_of_order),
		cmocka_unit_test(test_ipv4_overlap_discards),
		cmocka_unit_test(test_ipv4_duplicate_ignored),
		cmocka_unit_test(test_missing_last_times_out),
		cmocka_unit_test(test_ipv6_fragment_header),
		cmocka_unit_test(test_ipv6_keyed_by_id),
		cmocka_unit_test(test_too_many_fragments),
		cmocka_unit_test(test_not_fragments),
		cmocka_unit_test(test_eviction_bounds_memory),
	};

	fill_payload();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
