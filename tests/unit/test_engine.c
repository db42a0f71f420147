/*
 * test_engine.c — engine_process() on hand-built packets: both
 * directions, every address mode, payload actions, PROXY headers, ICMP
 * errors, fail-closed paths, message framing.  Checksums are verified
 * with the naive reference sum of enginefx.h, independent of csum.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "enginefx.h"
#include "flow.h"
#include "policy.h"

#define NOW (1700000000ull * 1000000000ull)

static void src_text(const struct pk *k, char *out)
{
	if (k->b[0] >> 4 == 4)
		inet_ntop(AF_INET, k->b + 12, out, 64);
	else
		inet_ntop(AF_INET6, k->b + 8, out, 64);
}

static void dst_text(const struct pk *k, char *out)
{
	if (k->b[0] >> 4 == 4)
		inet_ntop(AF_INET, k->b + 16, out, 64);
	else
		inet_ntop(AF_INET6, k->b + 24, out, 64);
}

static uint16_t sport_of(const struct pk *k)
{
	uint32_t l3 = k->b[0] >> 4 == 4 ? (k->b[0] & 0xfu) * 4 : 40;

	return (uint16_t)(k->b[l3] << 8 | k->b[l3 + 1]);
}

static uint16_t dport_of(const struct pk *k)
{
	uint32_t l3 = k->b[0] >> 4 == 4 ? (k->b[0] & 0xfu) * 4 : 40;

	return (uint16_t)(k->b[l3 + 2] << 8 | k->b[l3 + 3]);
}

static enum engine_verdict run(struct fx *f, struct pk *k, enum engine_dir dir,
			       unsigned flags, struct engine_result *res)
{
	struct engine_result r;

	struct engine_result *rp = res ? res : &r;
	struct engine_release rel;

	engine_process(f->rs, f->ft, f->w, k->b, k->len, dir, NOW, flags, 7, rp);
	assert_false(engine_next_release(f->w, &rel));
	if (rp->verdict == ENGINE_HOLD) {
		/* these tests look at one packet: its stream ends with it */
		engine_release_all(f->rs, f->ft, f->w);
		assert_true(engine_next_release(f->w, &rel));
		assert_int_equal(rel.cookie, 7);
		assert_int_equal(rel.service, rp->service);
		assert_true(rel.len <= k->len);
		memcpy(k->b, rel.data, rel.len);
		rp->verdict = rel.verdict;
		rp->len = rel.len;
		assert_false(engine_next_release(f->w, &rel));
	}
	return rp->verdict;
}

static const char *mqtt_policy =
	"service mqtt {\n"
	"\tlisten tcp 1883\n"
	"\tqueue 0\n"
	"\taddress ipv4 truncate 24\n"
	"\taddress ipv6 truncate 48\n"
	"\tredact email mask\n"
	"\tredact ipv4 truncate 24\n"
	"\tredact phone mask\n"
	"}\n";

/* ---- tests --------------------------------------------------------------- */

static void test_inbound_truncate_and_mask(void **state)
{
	struct fx *f = fx_new(mqtt_policy);
	const char *msg = "id=alice@example.org from 192.0.2.55 tel +15551234567";
	struct engine_result res;
	struct pk k;
	char a[64];

	build(&k, IPPROTO_TCP, "198.51.100.77", 40000, "203.0.113.10", 1883,
	      0x18, 5000, msg, (uint32_t)strlen(msg));
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_MODIFIED);
	assert_int_equal(res.dir, ENGINE_DIR_IN);
	assert_int_equal(res.service, 0);
	src_text(&k, a);
	assert_string_equal(a, "198.51.100.0");
	assert_int_equal(sport_of(&k), 40000);
	assert_memory_equal(payload_of(&k),
			    "id=xxxxx@xxxxxxx.xxx from 192.0.2.00 tel +00000000000",
			    strlen(msg));
	assert_true(ref_verify(k.b));
	fx_free(f);
}

static void test_reply_translated_back(void **state)
{
	struct fx *f = fx_new(mqtt_policy);
	struct pk k;
	char a[64];

	build(&k, IPPROTO_TCP, "198.51.100.77", 40000, "203.0.113.10", 1883,
	      0x02, 5000, "", 0);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, NULL), ENGINE_MODIFIED);
	build(&k, IPPROTO_TCP, "203.0.113.10", 1883, "198.51.100.0", 40000,
	      0x12, 9000, "", 0);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, NULL), ENGINE_MODIFIED);
	dst_text(&k, a);
	assert_string_equal(a, "198.51.100.77");
	assert_int_equal(dport_of(&k), 40000);
	assert_true(ref_verify(k.b));
	/* The server's payload is not redacted. */
	build(&k, IPPROTO_TCP, "203.0.113.10", 1883, "198.51.100.0", 40000,
	      0x18, 9001, "bob@example.org", 15);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, NULL), ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), "bob@example.org", 15);
	fx_free(f);
}

static void test_port_clash_gets_new_port(void **state)
{
	struct fx *f = fx_new(mqtt_policy);
	struct pk k1, k2, r;
	char a[64];
	uint16_t p2;

	build(&k1, IPPROTO_TCP, "198.51.100.5", 40000, "203.0.113.10", 1883,
	      0x02, 1, "", 0);
	build(&k2, IPPROTO_TCP, "198.51.100.6", 40000, "203.0.113.10", 1883,
	      0x02, 1, "", 0);
	run(f, &k1, ENGINE_DIR_AUTO, 0, NULL);
	run(f, &k2, ENGINE_DIR_AUTO, 0, NULL);
	src_text(&k2, a);
	assert_string_equal(a, "198.51.100.0");
	p2 = sport_of(&k2);
	assert_int_not_equal(p2, 40000);
	assert_int_equal(sport_of(&k1), 40000);
	assert_true(ref_verify(k2.b));

	build(&r, IPPROTO_TCP, "203.0.113.10", 1883, "198.51.100.0", p2, 0x12, 7,
	      "", 0);
	run(f, &r, ENGINE_DIR_AUTO, 0, NULL);
	dst_text(&r, a);
	assert_string_equal(a, "198.51.100.6");
	assert_int_equal(dport_of(&r), 40000);
	build(&r, IPPROTO_TCP, "203.0.113.10", 1883, "198.51.100.0", 40000, 0x12,
	      7, "", 0);
	run(f, &r, ENGINE_DIR_AUTO, 0, NULL);
	dst_text(&r, a);
	assert_string_equal(a, "198.51.100.5");
	fx_free(f);
}

static void test_not_covered_untouched(void **state)
{
	struct fx *f = fx_new(mqtt_policy);
	struct engine_result res;
	struct pk k, orig;

	build(&k, IPPROTO_TCP, "198.51.100.77", 40000, "203.0.113.10", 80, 0x18,
	      1, "alice@example.org", 17);
	orig = k;
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_ACCEPT);
	assert_int_equal(res.service, -1);
	assert_memory_equal(k.b, orig.b, k.len);
	fx_free(f);
}

static void test_malformed_dropped_or_accepted(void **state)
{
	struct fx *f = fx_new(mqtt_policy);
	struct fx *g = fx_new("service m {\n\tlisten tcp 1883\n\tredact email mask\n"
			      "\ton-error accept\n}\n");
	struct engine_result res;
	struct pk k, orig;

	build(&k, IPPROTO_TCP, "198.51.100.77", 40000, "203.0.113.10", 1883, 0x18,
	      1, "alice@example.org", 17);
	k.b[k.len - 17 - 20 + 12] = 15 << 4;	/* data offset past the end */
	orig = k;
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_DROP);
	assert_int_equal(res.reason, ENGINE_R_MALFORMED);
	assert_int_equal(res.service, 0);
	assert_int_equal(engine_worker_stats(f->w, 0)->malformed, 1);
	assert_int_equal(run(g, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_ACCEPT);
	assert_memory_equal(k.b, orig.b, k.len);
	assert_int_equal(engine_worker_stats(g->w, 0)->on_error_accepted, 1);
	/* Garbage that is no IP at all. */
	memset(k.b, 0xff, 40);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_DROP);
	fx_free(f);
	fx_free(g);
}

static void test_truncated_capture_dropped(void **state)
{
	struct fx *f = fx_new(mqtt_policy);
	struct engine_result res;
	struct pk k;

	build(&k, IPPROTO_TCP, "198.51.100.77", 40000, "203.0.113.10", 1883, 0x18,
	      1, "alice@example.org", 17);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, ENGINE_F_TRUNCATED, &res),
			 ENGINE_DROP);
	assert_int_equal(res.reason, ENGINE_R_TRUNCATED);
	fx_free(f);
}

/* A reply with a wrong checksum stays detectably wrong once translated. */
static void test_checksum_not_laundered(void **state)
{
	struct fx *f = fx_new(mqtt_policy);
	struct pk k;
	uint8_t pseudo[4];

	build(&k, IPPROTO_TCP, "198.51.100.77", 40000, "203.0.113.10", 1883, 0x02,
	      1, "", 0);
	assert_int_equal(run(f, &k, ENGINE_DIR_IN, 0, NULL), ENGINE_MODIFIED);
	memcpy(pseudo, k.b + 12, 4);
	build(&k, IPPROTO_TCP, "203.0.113.10", 1883, "198.51.100.0", 40000, 0x18,
	      1, "hello", 5);
	memcpy(k.b + 16, pseudo, 4);
	set_ip_csum(k.b);
	set_l4_csum(k.b);
	k.b[20 + 16] ^= 0x5a;	/* corrupt the TCP checksum */
	assert_int_equal(run(f, &k, ENGINE_DIR_OUT, 0, NULL), ENGINE_MODIFIED);
	assert_false(ref_verify(k.b));
	fx_free(f);
}

static void test_checksum_not_ready_recomputed(void **state)
{
	struct fx *f = fx_new(mqtt_policy);
	struct pk k;

	build(&k, IPPROTO_TCP, "198.51.100.77", 40000, "203.0.113.10", 1883, 0x18,
	      1, "alice@example.org", 17);
	put16(k.b + 20 + 16, 0x1234);	/* a partial sum, as the stack leaves it */
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, ENGINE_F_CSUM_NOT_READY, NULL),
			 ENGINE_MODIFIED);
	assert_true(ref_verify(k.b));
	fx_free(f);
}

static void test_ipv6_and_v4mapped(void **state)
{
	struct fx *f = fx_new(mqtt_policy);
	const char *msg = "peer 2001:db8:1:2:3:4:5:6";
	struct pk k;
	char a[64];

	build(&k, IPPROTO_TCP, "2001:db8:aa:bb::55", 40000, "2001:db8:ff::1", 1883,
	      0x18, 1, msg, (uint32_t)strlen(msg));
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, NULL), ENGINE_MODIFIED);
	src_text(&k, a);
	assert_string_equal(a, "2001:db8:aa::");
	assert_true(ref_verify(k.b));

	build(&k, IPPROTO_TCP, "::ffff:198.51.100.77", 40001, "2001:db8:ff::1", 1883,
	      0x18, 1, "x", 1);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, NULL), ENGINE_MODIFIED);
	src_text(&k, a);
	assert_string_equal(a, "::ffff:198.51.100.0");
	assert_true(ref_verify(k.b));
	fx_free(f);
}

static void test_map_mode(void **state)
{
	struct fx *f = fx_new("service s {\n\tlisten udp 514\n"
			      "\taddress ipv4 map 100.64.0.0/10\n}\n");
	struct pk k, r;
	char a[64], pseudo[64];
	uint8_t v4[4];

	build(&k, IPPROTO_UDP, "10.1.2.3", 5000, "203.0.113.10", 514, 0, 0,
	      "hello", 5);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, NULL), ENGINE_MODIFIED);
	src_text(&k, pseudo);
	inet_pton(AF_INET, pseudo, v4);
	assert_int_equal(v4[0], 100);
	assert_int_equal(v4[1] & 0xc0, 64);
	assert_true(ref_verify(k.b));
	/* the same client keeps its pseudonym on another flow */
	build(&k, IPPROTO_UDP, "10.1.2.3", 5001, "203.0.113.10", 514, 0, 0, "x", 1);
	run(f, &k, ENGINE_DIR_AUTO, 0, NULL);
	src_text(&k, a);
	assert_string_equal(a, pseudo);
	build(&r, IPPROTO_UDP, "203.0.113.10", 514, pseudo, 5000, 0, 0, "ok", 2);
	assert_int_equal(run(f, &r, ENGINE_DIR_AUTO, 0, NULL), ENGINE_MODIFIED);
	dst_text(&r, a);
	assert_string_equal(a, "10.1.2.3");
	assert_true(ref_verify(r.b));
	/* a reply to an unknown pseudonym in the range goes nowhere */
	build(&r, IPPROTO_UDP, "203.0.113.10", 514, "100.64.0.99", 5000, 0, 0,
	      "ok", 2);
	assert_int_equal(run(f, &r, ENGINE_DIR_AUTO, 0, NULL), ENGINE_DROP);
	fx_free(f);
}

static void test_permute_mode(void **state)
{
	struct fx *f = fx_new("service s {\n\tlisten tcp 5222\n"
			      "\taddress ipv4 permute 24\n}\n");
	struct pk k, r;
	char a[64], pseudo[64];

	build(&k, IPPROTO_TCP, "198.51.100.77", 40000, "203.0.113.10", 5222, 0x02,
	      1, "", 0);
	run(f, &k, ENGINE_DIR_AUTO, 0, NULL);
	src_text(&k, pseudo);
	assert_memory_equal(pseudo, "198.51.100.", 11);
	build(&r, IPPROTO_TCP, "203.0.113.10", 5222, pseudo, 40000, 0x12, 1, "", 0);
	run(f, &r, ENGINE_DIR_AUTO, 0, NULL);
	dst_text(&r, a);
	assert_string_equal(a, "198.51.100.77");
	fx_free(f);
}

static void test_icmp_error_translated(void **state)
{
	struct fx *f = fx_new("service s {\n\tlisten udp 514\n}\n");
	struct pk k, e;
	char a[64];
	uint8_t *p = e.b;
	uint32_t quote;

	build(&k, IPPROTO_UDP, "198.51.100.77", 5000, "203.0.113.10", 514, 0, 0,
	      "hello", 5);
	run(f, &k, ENGINE_DIR_AUTO, 0, NULL);
	/* The server's port unreachable, quoting what it received. */
	memset(&e, 0, sizeof(e));
	quote = k.len;
	e.len = 20 + 8 + quote;
	p[0] = 0x45;
	put16(p + 2, (uint16_t)e.len);
	p[8] = 64;
	p[9] = IPPROTO_ICMP;
	inet_pton(AF_INET, "203.0.113.10", p + 12);
	memcpy(p + 16, k.b + 12, 4);
	p[20] = 3;
	p[21] = 3;
	memcpy(p + 28, k.b, quote);
	set_ip_csum(p);
	set_l4_csum(p);
	assert_true(ref_verify(p));
	assert_int_equal(run(f, &e, ENGINE_DIR_AUTO, 0, NULL), ENGINE_MODIFIED);
	dst_text(&e, a);
	assert_string_equal(a, "198.51.100.77");
	inet_ntop(AF_INET, p + 28 + 12, a, sizeof(a));
	assert_string_equal(a, "198.51.100.77");
	assert_true(ref_verify(p));
	assert_true(ref_verify(p + 28));
	assert_int_equal(engine_worker_stats(f->w, 0)->icmp_translated, 1);
	fx_free(f);
}

static void test_proxy_v1_and_v2(void **state)
{
	struct fx *f = fx_new("service relay {\n\tlisten tcp 5222\n"
			      "\taddress ipv4 keep\n"
			      "\tredact proxy-protocol truncate 24 48\n"
			      "\tredact ipv4 mask\n}\n");
	const char *v1 = "PROXY TCP4 192.0.2.55 203.0.113.10 56324 5222\r\nhi 192.0.2.1";
	uint8_t v2[16 + 12 + 7 + 3];
	struct pk k;
	char a[64];

	build(&k, IPPROTO_TCP, "10.0.0.2", 40000, "10.0.0.1", 5222, 0x02, 100, "", 0);
	run(f, &k, ENGINE_DIR_AUTO, 0, NULL);
	build(&k, IPPROTO_TCP, "10.0.0.2", 40000, "10.0.0.1", 5222, 0x18, 101, v1,
	      (uint32_t)strlen(v1));
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, NULL), ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k),
			    "PROXY TCP4 192.0.2.00 000.0.000.00 56324 5222\r\nhi 000.0.0.0",
			    strlen(v1));
	src_text(&k, a);
	assert_string_equal(a, "10.0.0.2");
	assert_true(ref_verify(k.b));

	/* v2 with a CRC32c TLV and a NOOP TLV */
	memcpy(v2, "\r\n\r\n\0\r\nQUIT\n", 12);
	v2[12] = 0x21;
	v2[13] = 0x11;
	put16(v2 + 14, 12 + 7 + 3);
	inet_pton(AF_INET, "192.0.2.55", v2 + 16);
	inet_pton(AF_INET, "203.0.113.10", v2 + 20);
	put16(v2 + 24, 56324);
	put16(v2 + 26, 5222);
	v2[28] = 0x03;
	put16(v2 + 29, 4);
	memset(v2 + 31, 0, 4);
	v2[35] = 0x04;
	put16(v2 + 36, 0);
	build(&k, IPPROTO_TCP, "10.0.0.3", 40000, "10.0.0.1", 5222, 0x02, 100, "", 0);
	run(f, &k, ENGINE_DIR_AUTO, 0, NULL);
	build(&k, IPPROTO_TCP, "10.0.0.3", 40000, "10.0.0.1", 5222, 0x18, 101, v2,
	      sizeof(v2));
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, NULL), ENGINE_MODIFIED);
	inet_ntop(AF_INET, payload_of(&k) + 16, a, sizeof(a));
	assert_string_equal(a, "192.0.2.0");
	/* the destination by the ipv4 rule: masked bytes are zero */
	inet_ntop(AF_INET, payload_of(&k) + 20, a, sizeof(a));
	assert_string_equal(a, "0.0.0.0");
	assert_true(payload_of(&k)[31] | payload_of(&k)[32] | payload_of(&k)[33] |
		    payload_of(&k)[34]);
	assert_true(ref_verify(k.b));
	fx_free(f);
}

static void test_allow_pattern(void **state)
{
	struct fx *f = fx_new("service smtp {\n\tlisten tcp 25\n"
			      "\tredact email mask\n"
			      "\tallow pattern \"(?i)RCPT TO:<[^>]*>\"\n}\n");
	const char *cmd = "RCPT TO:<bob@example.org> NOTIFY=carol@example.org";
	struct pk k;

	build(&k, IPPROTO_TCP, "198.51.100.77", 40000, "203.0.113.10", 25, 0x18, 1,
	      cmd, (uint32_t)strlen(cmd));
	run(f, &k, ENGINE_DIR_AUTO, 0, NULL);
	assert_memory_equal(payload_of(&k),
			    "RCPT TO:<bob@example.org> NOTIFY=xxxxx@xxxxxxx.xxx",
			    strlen(cmd));
	assert_true(ref_verify(k.b));
	fx_free(f);
}

static void test_clients_filter(void **state)
{
	struct fx *f = fx_new("service s {\n\tlisten udp 514\n"
			      "\tclients 10.0.0.0/8\n}\n");
	struct engine_result res;
	struct pk k;

	build(&k, IPPROTO_UDP, "192.0.2.9", 5000, "203.0.113.10", 514, 0, 0, "x", 1);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_ACCEPT);
	assert_int_equal(res.reason, ENGINE_R_NOT_COVERED);
	build(&k, IPPROTO_UDP, "10.9.8.7", 5000, "203.0.113.10", 514, 0, 0, "x", 1);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_MODIFIED);
	fx_free(f);
}

static int seen_email;

static void count_cb(void *ctx, enum det_kind det, const uint8_t *t, uint32_t n)
{
	(void)ctx;
	(void)t;
	(void)n;
	if (det == DET_EMAIL)
		seen_email++;
}

static void test_scan_reports_outside_allow(void **state)
{
	struct fx *f = fx_new("service smtp {\n\tlisten tcp 25\n"
			      "\tredact email mask\n"
			      "\tallow pattern \"RCPT TO:<[^>]*>\"\n}\n");
	const char *t = "RCPT TO:<bob@example.org> x carol@example.org";

	seen_email = 0;
	assert_int_equal(engine_scan(f->rs, f->w, 0, (const uint8_t *)t,
				     (uint32_t)strlen(t), count_cb, NULL), 1);
	assert_int_equal(seen_email, 1);
	fx_free(f);
}

static enum engine_verdict seg(struct fx *f, struct pk *k, uint16_t cport,
			       uint8_t flags, uint32_t seq, const char *text,
			       uint64_t now, uint64_t cookie);
#define MS 1000000ull

/* ---- overlapping matches and allow ranges ------------------------------ */

/*
 * One policy's rules, a client message, and what the server must get:
 * the same over UDP, over TCP in one segment, and over TCP cut in two at
 * every offset (doc/design.md §5: overlapping matches are merged, an
 * identifier is exempt only wholly inside one allow match).
 */
struct overlap_case {
	const char *rules, *in, *want;
};

static const struct overlap_case overlap_cases[] = {
	/* an IPv6 zone that runs into an email: the union, masked */
	{ "\tredact ipv6 truncate 48\n\tredact email mask\n",
	  "at fe80::1%alice@example.org .\r\n",
	  "at xx00::0%xxxxx@xxxxxxx.xxx .\r\n" },
	/* a MAC whose last group begins an email's local part */
	{ "\tredact mac token\n\tredact email mask\n",
	  "hw 00:1a:2b:3c:4d:5e.alice@example.org .\r\n",
	  "hw 00:0x:0x:0x:0x:0x.xxxxx@xxxxxxx.xxx .\r\n" },
	/* a user pattern that ends inside an email */
	{ "\tredact pattern \"user=[a-z]+\" token\n\tredact email mask\n",
	  "user=alice@example.org .\r\n",
	  "xxxx=xxxxx@xxxxxxx.xxx .\r\n" },
	/* truncate would keep the literal inside the address: masked */
	{ "\tredact ipv4 truncate 24\n\tredact literal \"192.0.2\" mask\n",
	  "at 192.0.2.55 .\r\n",
	  "at 000.0.0.00 .\r\n" },
	/* an address inside an address: the outer one's rewrite cuts both */
	{ "\tredact ipv6 truncate 48\n\tredact ipv4 truncate 24\n",
	  "mapped ::ffff:192.0.2.55 .\r\n",
	  "mapped ::ffff:192.0.2.00 .\r\n" },
	/* the same span twice: the earlier rule */
	{ "\tredact ipv4 truncate 24\n\tredact literal \"192.0.2.55\" mask\n",
	  "at 192.0.2.55 .\r\n",
	  "at 192.0.2.00 .\r\n" },
	/* a mask over all of the group stands for the address inside it */
	{ "\tredact pattern \"ip=[0-9.]+\" mask\n\tredact ipv4 truncate 24\n",
	  "ip=192.0.2.55 .\r\n",
	  "xx=000.0.0.00 .\r\n" },
	/* an allow match that holds only part of an identifier exempts none */
	{ "\tredact email mask\n\tallow pattern \"(?i)RCPT TO:<bob\"\n",
	  "RCPT TO:<bob@example.org>\r\n",
	  "RCPT TO:<xxx@xxxxxxx.xxx>\r\n" },
	/* wholly inside: exempt; the rest of the line is not */
	{ "\tredact email mask\n\tallow pattern \"(?i)RCPT TO:<[^>\\r\\n]*>\"\n",
	  "RCPT TO:<bob@example.org> NOTIFY=carol@example.org\r\n",
	  "RCPT TO:<bob@example.org> NOTIFY=xxxxx@xxxxxxx.xxx\r\n" },
	/* two allow matches that overlap are not one range */
	{ "\tredact email mask\n\tallow pattern \"<[a-z]+@\"\n"
	  "\tallow pattern \"@[a-z.]+>\"\n",
	  "to <bob@example.org>\r\n",
	  "to <xxx@xxxxxxx.xxx>\r\n" },
	/* an allow pattern that cannot cross a line leaves the next alone */
	{ "\tredact email mask\n\tallow pattern \"(?i)RCPT TO:<[^>\\r\\n]*>\"\n",
	  "RCPT TO:<\r\nMAIL FROM:<alice@example.org>\r\n",
	  "RCPT TO:<\r\nMAIL FROM:<xxxxx@xxxxxxx.xxx>\r\n" },
};

static struct fx *overlap_fx(const struct overlap_case *c)
{
	char policy[512];

	snprintf(policy, sizeof(policy),
		 "service s {\n\tlisten tcp 25\n\tlisten udp 25\n%s}\n", c->rules);
	return fx_new(policy);
}

/* What the server gets of @in sent in segments cut at @cut (0: one). */
static void tcp_view(struct fx *f, uint16_t cport, const char *in, size_t cut,
		     char *out)
{
	char first[256], second[256];
	size_t len = strlen(in);
	struct engine_release r;
	struct pk k;
	uint64_t t = NOW + cport * 100 * MS;

	assert_true(len < sizeof(first));
	assert_int_equal(seg(f, &k, cport, 0x02, 999, "", t, 1), ENGINE_MODIFIED);
	if (!cut) {
		assert_int_not_equal(seg(f, &k, cport, 0x18, 1000, in, t + MS, 2),
				     ENGINE_HOLD);
		memcpy(out, payload_of(&k), len);
		out[len] = '\0';
		return;
	}
	memcpy(first, in, cut);
	first[cut] = '\0';
	strcpy(second, in + cut);
	if (seg(f, &k, cport, 0x18, 1000, first, t + MS, 2) != ENGINE_HOLD)
		memcpy(out, payload_of(&k), cut);
	assert_int_not_equal(seg(f, &k, cport, 0x18, (uint32_t)(1000 + cut),
				 second, t + 2 * MS, 3), ENGINE_HOLD);
	memcpy(out + cut, payload_of(&k), len - cut);
	out[len] = '\0';
	if (engine_next_release(f->w, &r)) {
		struct pk h;

		assert_int_equal(r.cookie, 2);
		memcpy(h.b, r.data, r.len);
		h.len = r.len;
		memcpy(out, payload_of(&h), cut);
	}
	assert_false(engine_next_release(f->w, &r));
}

static void test_overlaps_merged(void **state)
{
	for (size_t c = 0; c < sizeof(overlap_cases) / sizeof(overlap_cases[0]);
	     c++) {
		const struct overlap_case *oc = &overlap_cases[c];
		struct fx *f = overlap_fx(oc);
		size_t len = strlen(oc->in);
		char out[256];
		struct pk k;

		build(&k, IPPROTO_UDP, "192.0.2.55", 5000, "198.51.100.25", 25,
		      0, 0, oc->in, (uint32_t)len);
		run(f, &k, ENGINE_DIR_AUTO, 0, NULL);
		memcpy(out, payload_of(&k), len);
		out[len] = '\0';
		if (strcmp(out, oc->want))
			fail_msg("case %zu udp: \"%s\", want \"%s\"", c, out,
				 oc->want);
		assert_true(ref_verify(k.b));
		for (size_t cut = 0; cut < len; cut++) {
			tcp_view(f, (uint16_t)(30000 + cut), oc->in, cut, out);
			if (strcmp(out, oc->want))
				fail_msg("case %zu tcp cut %zu: \"%s\", want \"%s\"",
					 c, cut, out, oc->want);
		}
		fx_free(f);
	}
}

/* ---- TCP streams: hold-back ------------------------------------------- */

static const char *smtp_policy =
	"service smtp {\n"
	"\tlisten tcp 25\n"
	"\taddress ipv4 truncate 24\n"
	"\tredact email mask\n"
	"}\n";

/* One client segment of the test connection; Return: the verdict. */
static enum engine_verdict seg(struct fx *f, struct pk *k, uint16_t cport,
			       uint8_t flags, uint32_t seq, const char *text,
			       uint64_t now, uint64_t cookie)
{
	struct engine_result res;

	build(k, IPPROTO_TCP, "192.0.2.55", cport, "198.51.100.25", 25, flags,
	      seq, text, (uint32_t)strlen(text));
	engine_process(f->rs, f->ft, f->w, k->b, k->len, ENGINE_DIR_AUTO, now,
		       0, cookie, &res);
	return res.verdict;
}

/* The next release: its cookie, and its payload must be @want. */
static void released(struct fx *f, uint64_t cookie, const char *want)
{
	struct engine_release r;
	struct pk k;

	assert_true(engine_next_release(f->w, &r));
	assert_int_equal(r.cookie, cookie);
	assert_int_equal(r.service, 0);
	assert_true(r.verdict == ENGINE_MODIFIED);
	assert_true(r.len <= sizeof(k.b));
	memcpy(k.b, r.data, r.len);
	k.len = r.len;
	assert_true(ref_verify(k.b));
	assert_int_equal(r.len, 40 + strlen(want));
	assert_memory_equal(payload_of(&k), want, strlen(want));
	assert_memory_equal(k.b + 12, "\xc0\x00\x02\x00", 4);	/* the pseudonym */
}

static void test_stream_hold_and_release(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	struct pk k;
	struct engine_release r;
	const struct engine_stats *st;

	assert_int_equal(seg(f, &k, 30001, 0x02, 999, "", NOW, 1), ENGINE_MODIFIED);
	assert_int_equal(engine_hold_deadline(f->w), 0);
	/* the tail may be the start of an address: held */
	assert_int_equal(seg(f, &k, 30001, 0x18, 1000, "MAIL FROM:<alice@exa",
			     NOW + MS, 2), ENGINE_HOLD);
	assert_false(engine_next_release(f->w, &r));
	assert_int_equal(engine_hold_deadline(f->w), NOW + 41 * MS);
	/* the rest decides both: the held one is released first */
	assert_int_equal(seg(f, &k, 30001, 0x18, 1020, "mple.org>\r\n",
			     NOW + 2 * MS, 3), ENGINE_MODIFIED);
	released(f, 2, "MAIL FROM:<xxxxx@xxx");
	assert_false(engine_next_release(f->w, &r));
	assert_memory_equal(payload_of(&k), "xxxx.xxx>\r\n", 11);
	assert_true(ref_verify(k.b));
	assert_int_equal(engine_hold_deadline(f->w), 0);

	/* a retransmission with other boundaries carries what the server got */
	assert_int_equal(seg(f, &k, 30001, 0x18, 1011, "alice@example.org>",
			     NOW + 3 * MS, 4), ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), "xxxxx@xxxxxxx.xxx>", 18);
	assert_true(ref_verify(k.b));
	/* ... also when it runs on into new data */
	assert_int_equal(seg(f, &k, 30001, 0x18, 1024, ".org>\r\nDATA\r\n",
			     NOW + 4 * MS, 5), ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), ".xxx>\r\nDATA\r\n", 13);
	/* ordinary lines go at once */
	assert_int_equal(seg(f, &k, 30001, 0x18, 1037, "QUIT\r\n",
			     NOW + 5 * MS, 6), ENGINE_MODIFIED);
	assert_false(engine_next_release(f->w, &r));

	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->holds, 1);
	assert_int_equal(st->hold_released, 1);
	assert_int_equal(st->retrans_patched, 2);
	fx_free(f);
}

static void test_stream_timeout(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	struct pk k;
	struct engine_release r;
	const struct engine_stats *st;

	seg(f, &k, 30002, 0x02, 99, "", NOW, 1);
	assert_int_equal(seg(f, &k, 30002, 0x18, 100, "id alice@example",
			     NOW, 2), ENGINE_HOLD);
	engine_tick(f->rs, f->ft, f->w, NOW + 39 * MS);
	assert_false(engine_next_release(f->w, &r));
	/* an '@' after a local part: masked when the time is up */
	engine_tick(f->rs, f->ft, f->w, NOW + 40 * MS);
	released(f, 2, "id xxxxx@xxxxxxx");
	assert_false(engine_next_release(f->w, &r));

	/* a word is no address yet: it goes as it is */
	seg(f, &k, 30003, 0x02, 99, "", NOW, 3);
	assert_int_equal(seg(f, &k, 30003, 0x18, 100, "hello wor", NOW, 4),
			 ENGINE_HOLD);
	engine_release_all(f->rs, f->ft, f->w);
	released(f, 4, "hello wor");
	assert_int_equal(engine_hold_deadline(f->w), 0);

	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->hold_timeout_masked, 1);
	assert_int_equal(st->hold_timeout_passed, 1);
	fx_free(f);
}

/*
 * At shutdown held segments are dropped, not decided: "+1555" would pass
 * by the timeout rule, and the next reader would see "1234567" alone.
 */
static void test_stream_drop_all_at_stop(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	struct engine_release r;
	const struct engine_stats *st;
	struct pk k;

	seg(f, &k, 30010, 0x02, 99, "", NOW, 1);
	assert_int_equal(seg(f, &k, 30010, 0x18, 100, "call +1555", NOW, 2),
			 ENGINE_HOLD);
	/* out of order, past a gap: held too */
	assert_int_equal(seg(f, &k, 30010, 0x18, 130, "and more", NOW, 3),
			 ENGINE_HOLD);
	engine_drop_all(f->w);
	for (uint64_t c = 2; c <= 3; c++) {
		assert_true(engine_next_release(f->w, &r));
		assert_int_equal(r.cookie, c);
		assert_true(r.verdict == ENGINE_DROP);
	}
	assert_false(engine_next_release(f->w, &r));
	assert_int_equal(engine_hold_deadline(f->w), 0);
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->drops[ENGINE_R_STOPPING], 2);
	assert_int_equal(st->hold_timeout_passed, 0);
	/* nothing is left to decide */
	engine_release_all(f->rs, f->ft, f->w);
	assert_false(engine_next_release(f->w, &r));
	fx_free(f);
}

/*
 * An out-of-order segment whose gap does not fill within the hold time is
 * dropped, never decided alone: "ample.org" alone is no address, and
 * its start may have been released already.  TCP sends it again.
 */
static void test_stream_gap_timeout_drops(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	struct engine_release r;
	const struct engine_stats *st;
	struct pk k;

	seg(f, &k, 30012, 0x02, 99, "", NOW, 1);
	assert_int_equal(seg(f, &k, 30012, 0x18, 110, "ample.org\r\n", NOW, 2),
			 ENGINE_HOLD);
	engine_tick(f->rs, f->ft, f->w, NOW + 40 * MS);
	assert_true(engine_next_release(f->w, &r));
	assert_int_equal(r.cookie, 2);
	assert_true(r.verdict == ENGINE_DROP);
	assert_false(engine_next_release(f->w, &r));
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->drops[ENGINE_R_GAP], 1);
	/* the gap, then the segment again: judged together */
	assert_int_equal(seg(f, &k, 30012, 0x18, 100, "mail bob@e", NOW + 50 * MS, 3),
			 ENGINE_HOLD);
	assert_int_not_equal(seg(f, &k, 30012, 0x18, 110, "ample.org\r\n",
				 NOW + 51 * MS, 4), ENGINE_HOLD);
	released(f, 3, "mail xxx@x");
	fx_free(f);
}

static void test_stream_out_of_order_and_fin(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	struct pk k;
	struct engine_release r;

	seg(f, &k, 30004, 0x02, 99, "", NOW, 1);
	/* the second half first: held until the gap fills */
	assert_int_equal(seg(f, &k, 30004, 0x18, 110, "e.org>\r\n", NOW, 2),
			 ENGINE_HOLD);
	/* a duplicate of it is dropped */
	assert_int_equal(seg(f, &k, 30004, 0x18, 110, "e.org>\r\n", NOW, 3),
			 ENGINE_DROP);
	assert_int_equal(seg(f, &k, 30004, 0x18, 100, "bob@exampl", NOW, 4),
			 ENGINE_HOLD);
	released(f, 4, "xxx@xxxxxx");
	released(f, 2, "x.xxx>\r\n");
	assert_false(engine_next_release(f->w, &r));

	/* a FIN decides what is held before it */
	assert_int_equal(seg(f, &k, 30004, 0x18, 118, "to carol@ex", NOW, 5),
			 ENGINE_HOLD);
	assert_int_not_equal(seg(f, &k, 30004, 0x11, 129, "", NOW, 6), ENGINE_HOLD);
	released(f, 5, "to xxxxx@xx");
	assert_false(engine_next_release(f->w, &r));
	fx_free(f);
}

static void test_stream_reload_keeps_context(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	struct diag_list *dl = NULL;
	struct ruleset *rs2, *old_rs;
	struct engine_worker *w2;
	struct pk k;

	seg(f, &k, 30006, 0x02, 99, "", NOW, 1);
	assert_int_equal(seg(f, &k, 30006, 0x18, 100, "mail alice@exa", NOW, 2),
			 ENGINE_HOLD);
	/* a reload: the old worker decides its holds, the new one adopts
	 * the streams; service indices move in the new policy */
	engine_release_all(f->rs, f->ft, f->w);
	released(f, 2, "mail xxxxx@xxx");
	rs2 = policy_load_string("<reload>", "service other {\n\tlisten udp 9\n}\n"
				 "service smtp {\n\tlisten tcp 25\n"
				 "\taddress ipv4 truncate 24\n"
				 "\tredact email mask\n}\n", f->rs, &dl);
	diag_list_free(dl);
	assert_non_null(rs2);
	w2 = engine_worker_new(rs2, flow_table_capacity(f->ft));
	assert_non_null(w2);
	engine_worker_adopt(w2, f->w);
	engine_worker_free(f->w);
	old_rs = f->rs;
	f->w = w2;
	f->rs = rs2;
	/* the rest of the address still has its beginning as context */
	assert_int_equal(seg(f, &k, 30006, 0x18, 114, "mple.org ok\r\n", NOW, 3),
			 ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), "xxxx.xxx ok\r\n", 13);
	assert_true(ref_verify(k.b));
	assert_int_equal(engine_worker_stats(w2, 1)->detector[DET_EMAIL] > 0, 1);
	policy_free(old_rs);
	fx_free(f);
}

static void test_stream_retransmission_after_ack(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	struct engine_result res;
	const char *line = "MAIL FROM:<bob@example.org>\r\n";
	uint32_t n = (uint32_t)strlen(line);
	struct pk k, ack;

	seg(f, &k, 30007, 0x02, 99, "", NOW, 1);
	assert_int_equal(seg(f, &k, 30007, 0x18, 100, line, NOW, 2),
			 ENGINE_MODIFIED);
	/* the server acknowledges it all; the ACK is lost on its way */
	build(&ack, IPPROTO_TCP, "198.51.100.25", 25, "192.0.2.0", 30007, 0x10,
	      5000, "", 0);
	put32(ack.b + 20 + 8, 100 + n);
	set_l4_csum(ack.b);
	engine_process(f->rs, f->ft, f->w, ack.b, ack.len, ENGINE_DIR_AUTO, NOW,
		       0, 3, &res);
	/* the next command's address makes the record forget the first */
	assert_int_equal(seg(f, &k, 30007, 0x18, 100 + n,
			     "RCPT TO:<carol@example.org>\r\n", NOW, 4),
			 ENGINE_MODIFIED);
	/* the client sends the first again: it must reach the server (which
	 * discards it and acknowledges again), and reveal nothing */
	assert_int_equal(seg(f, &k, 30007, 0x18, 100, line, NOW + 300 * MS, 5),
			 ENGINE_MODIFIED);
	assert_null(memmem(payload_of(&k), n, "bob", 3));
	assert_null(memmem(payload_of(&k), n, "example", 7));
	assert_true(ref_verify(k.b));
	fx_free(f);
}

static void test_stream_hold_zero(void **state)
{
	struct fx *f = fx_new("service smtp {\n\tlisten tcp 25\n\thold 0\n"
			      "\tredact email mask\n}\n");
	struct pk k;
	struct engine_release r;

	seg(f, &k, 30005, 0x02, 99, "", NOW, 1);
	assert_int_not_equal(seg(f, &k, 30005, 0x18, 100, "MAIL FROM:<alice@exa",
				 NOW, 2), ENGINE_HOLD);
	assert_false(engine_next_release(f->w, &r));
	assert_int_equal(engine_hold_deadline(f->w), 0);
	fx_free(f);
}

/* ---- bounds: fail closed, whatever on-error says ---------------------- */

static const char *smtp_accept_policy =
	"service smtp {\n"
	"\tlisten tcp 25\n"
	"\taddress ipv4 truncate 24\n"
	"\tredact email mask\n"
	"\ton-error accept\n"
	"}\n";

/* Every drop is counted under its reason. */
static void assert_drops_add_up(const struct engine_stats *st)
{
	uint64_t sum = 0;

	for (unsigned r = 0; r < ENGINE_R__COUNT; r++)
		sum += st->drops[r];
	assert_int_equal(sum, st->dropped);
}

static void test_on_error_accept_reasons(void **state)
{
	/* the packet itself cannot be decoded or rewritten */
	assert_true(engine_reason_may_accept(ENGINE_R_MALFORMED));
	assert_true(engine_reason_may_accept(ENGINE_R_FRAGMENT));
	assert_true(engine_reason_may_accept(ENGINE_R_TRUNCATED));
	assert_true(engine_reason_may_accept(ENGINE_R_UNSUPPORTED));
	/* a bound on the engine's state, or no state for the packet */
	assert_false(engine_reason_may_accept(ENGINE_R_TABLE_FULL));
	assert_false(engine_reason_may_accept(ENGINE_R_SCAN_LIMIT));
	assert_false(engine_reason_may_accept(ENGINE_R_NO_FLOW));
	assert_false(engine_reason_may_accept(ENGINE_R_NO_PORT));
	assert_false(engine_reason_may_accept(ENGINE_R_HOLD_FULL));
	assert_false(engine_reason_may_accept(ENGINE_R_OOO_FULL));
	assert_false(engine_reason_may_accept(ENGINE_R_EVICTED));
	assert_false(engine_reason_may_accept(ENGINE_R_DUPLICATE));
	assert_false(engine_reason_may_accept(ENGINE_R_NONE));
	assert_false(engine_reason_may_accept(ENGINE_R_NOT_COVERED));
	for (unsigned r = 0; r < ENGINE_R__COUNT; r++)
		assert_string_not_equal(engine_reason_name((enum engine_reason)r), "?");
	assert_string_equal(engine_reason_name(ENGINE_R_TABLE_FULL), "table-full");
	assert_string_equal(engine_reason_name(ENGINE_R_HOLD_FULL), "hold-full");
}

static void test_table_full_drops_despite_on_error_accept(void **state)
{
	struct fx *f = fx_new("service m {\n\tlisten udp 1883\n"
			      "\tredact email mask\n\ton-error accept\n}\n");
	const struct engine_stats *st;
	struct engine_result res;
	struct pk k;

	flow_table_free(f->ft);
	f->ft = flow_table_new(4);
	assert_non_null(f->ft);
	for (uint16_t port = 40000; port < 40004; port++) {
		build(&k, IPPROTO_UDP, "198.51.100.77", port, "203.0.113.10", 1883,
		      0, 0, "alice@example.org", 17);
		assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res),
				 ENGINE_MODIFIED);
	}
	/* a new flow: the table is full, and its real address must not pass */
	build(&k, IPPROTO_UDP, "198.51.100.78", 40000, "203.0.113.10", 1883, 0, 0,
	      "alice@example.org", 17);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_DROP);
	assert_int_equal(res.reason, ENGINE_R_TABLE_FULL);
	assert_int_equal(res.service, 0);
	/* the flows it has go on */
	build(&k, IPPROTO_UDP, "198.51.100.77", 40001, "203.0.113.10", 1883, 0, 0,
	      "alice@example.org", 17);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), "xxxxx@xxxxxxx.xxx", 17);

	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->reasons[ENGINE_R_TABLE_FULL], 1);
	assert_int_equal(st->drops[ENGINE_R_TABLE_FULL], 1);
	assert_int_equal(st->dropped, 1);
	assert_int_equal(st->on_error_accepted, 0);
	assert_drops_add_up(st);
	fx_free(f);
}

static void test_no_flow_drops_despite_on_error_accept(void **state)
{
	struct fx *f = fx_new("service s {\n\tlisten udp 514\n"
			      "\taddress ipv4 map 100.64.0.0/10\n"
			      "\ton-error accept\n}\n");
	struct engine_result res;
	struct pk r;

	build(&r, IPPROTO_UDP, "203.0.113.10", 514, "100.64.0.99", 5000, 0, 0,
	      "ok", 2);
	assert_int_equal(run(f, &r, ENGINE_DIR_AUTO, 0, &res), ENGINE_DROP);
	assert_int_equal(res.reason, ENGINE_R_NO_FLOW);
	assert_int_equal(engine_worker_stats(f->w, 0)->drops[ENGINE_R_NO_FLOW], 1);
	fx_free(f);
}

/*
 * A stream picked up mid-connection (after a restart): bytes from before
 * the first one this worker saw have no record.  They pass masked, never
 * as they are; dropped, the client would send them again for ever while
 * a server still missing them waits.
 */
static void test_retransmission_without_record_masked(void **state)
{
	struct fx *f = fx_new(smtp_accept_policy);
	const struct engine_stats *st;
	struct engine_result res;
	struct pk k;

	/* picked up mid-stream: nothing before seq 1000 is recorded */
	assert_int_equal(seg(f, &k, 30020, 0x18, 1000, "QUIT\r\n", NOW, 1),
			 ENGINE_MODIFIED);
	/* bytes from before, never seen: they must not pass as they are */
	build(&k, IPPROTO_TCP, "192.0.2.55", 30020, "198.51.100.25", 25, 0x18,
	      900, "MAIL FROM:<alice@example.org>\r\n", 31);
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_MODIFIED);
	assert_int_equal(res.reason, ENGINE_R_NONE);
	assert_memory_equal(payload_of(&k), "xxxx xxxx:<xxxxx@xxxxxxx.xxx>\r\n", 31);
	assert_true(ref_verify(k.b));
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->retrans_no_record, 1);
	assert_int_equal(st->dropped, 0);
	fx_free(f);
}

/*
 * More rewritten spans than the record keeps, none acknowledged: a
 * retransmission of the first bytes has no record of what the server was
 * given.  It passes masked; dropped, the client would send it again for
 * ever while a server still missing it waits.  Later bytes still get
 * their recorded rewrite.
 */
static void test_retransmission_record_full_masked(void **state)
{
	struct fx *f = fx_new(smtp_accept_policy);
	const struct engine_stats *st;
	char line[64], want[64];
	uint32_t seq = 1000, at[40];
	struct pk k;

	assert_int_equal(seg(f, &k, 30021, 0x02, 999, "", NOW, 1), ENGINE_MODIFIED);
	for (int i = 0; i < 40; i++) {
		/* spans of unequal lengths: forgetting one shifts the rest */
		int n = snprintf(line, sizeof(line), "RCPT TO:<u%.*s%02d@example.org>\r\n",
				 i % 7, "aaaaaaa", i);

		snprintf(want, sizeof(want), "RCPT TO:<x%.*s00@xxxxxxx.xxx>\r\n",
			 i % 7, "xxxxxxx");
		at[i] = seq;
		assert_int_equal(seg(f, &k, 30021, 0x18, seq, line, NOW + (uint64_t)i * MS,
				     (uint64_t)i + 2), ENGINE_MODIFIED);
		assert_memory_equal(payload_of(&k), want, (size_t)n);
		seq += (uint32_t)n;
	}
	/* the first line again: its rewrite is forgotten */
	assert_int_equal(seg(f, &k, 30021, 0x18, 1000, "RCPT TO:<u00@example.org>\r\n",
			     NOW + 50 * MS, 50), ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), "xxxx xx:<x00@xxxxxxx.xxx>\r\n", 27);
	assert_true(ref_verify(k.b));
	/* later lines again, from their middle: what the server got */
	for (int i = 33; i < 40; i++) {
		int n = snprintf(line, sizeof(line), "%.*s%02d@example.org>\r\n",
				 i % 7, "aaaaaaa", i);

		snprintf(want, sizeof(want), "%.*s00@xxxxxxx.xxx>\r\n", i % 7,
			 "xxxxxxx");
		assert_int_equal(seg(f, &k, 30021, 0x18, at[i] + 10, line,
				     NOW + 51 * MS, (uint64_t)i + 60), ENGINE_MODIFIED);
		assert_memory_equal(payload_of(&k), want, (size_t)n);
		assert_true(ref_verify(k.b));
	}
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->retrans_no_record, 1);
	assert_int_equal(st->retrans_patched, 7);
	assert_int_equal(st->dropped, 0);
	fx_free(f);
}

/*
 * Picked up after a restart, a stream begins at the first segment seen:
 * here an old retransmission the server already has.  The server's ACK
 * says where the stream really is; the client never sends the bytes
 * between again.  Its next segment goes on in order instead of waiting
 * for them until it is dropped as `gap`, for ever.
 */
static void test_stream_resumes_from_server_ack(void **state)
{
	struct fx *f = fx_new(smtp_accept_policy);
	const struct engine_stats *st;
	struct engine_result res;
	struct pk k;

	/* the first seen: a retransmission of bytes 1000..1027 */
	assert_int_equal(seg(f, &k, 30022, 0x18, 1000, "RCPT TO:<u00@example.org>\r\n",
			     NOW, 1), ENGINE_MODIFIED);
	/* the server acknowledges 5000: an earlier reader passed the rest */
	build(&k, IPPROTO_TCP, "198.51.100.25", 25, "192.0.2.0", 30022, 0x10, 7000,
	      "", 0);
	put32(k.b + 28, 5000);
	set_l4_csum(k.b);
	engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_OUT, NOW + MS, 0, 0,
		       &res);
	assert_int_equal(res.verdict, ENGINE_MODIFIED);
	/* the client's next new bytes: in order, scanned, not held */
	assert_int_equal(seg(f, &k, 30022, 0x18, 5000, "RCPT TO:<bob@example.org>\r\n",
			     NOW + 2 * MS, 2), ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), "RCPT TO:<xxx@xxxxxxx.xxx>\r\n", 27);
	/* bytes before the ACK that still come pass masked */
	assert_int_equal(seg(f, &k, 30022, 0x18, 4000, "RCPT TO:<u01@example.org>\r\n",
			     NOW + 3 * MS, 3), ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), "xxxx xx:<x00@xxxxxxx.xxx>\r\n", 27);
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->ack_resumed, 1);
	assert_int_equal(st->out_of_order, 0);
	assert_int_equal(st->dropped, 0);
	fx_free(f);
}

/*
 * Picked up after a restart, before any ACK from the server: a segment
 * ahead of the first one seen may follow bytes the server already has,
 * which the client never sends again.  It is not held (the server, hearing
 * nothing, would never tell), but passes masked; the server's ACK for it
 * tells where the stream is, and what follows is read in order again.
 */
static void test_picked_up_ahead_passes_masked(void **state)
{
	struct fx *f = fx_new(smtp_accept_policy);
	const struct engine_stats *st;
	struct engine_result res;
	struct pk k;

	assert_int_equal(seg(f, &k, 30023, 0x18, 1000, "RCPT TO:<u00@example.org>\r\n",
			     NOW, 1), ENGINE_MODIFIED);
	/* ahead of the stream, no ACK seen: masked, at once */
	assert_int_equal(seg(f, &k, 30023, 0x18, 5000, "RCPT TO:<u01@example.org>\r\n",
			     NOW + MS, 2), ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), "xxxx xx:<x00@xxxxxxx.xxx>\r\n", 27);
	assert_true(ref_verify(k.b));
	/* the server took it: its ACK */
	build(&k, IPPROTO_TCP, "198.51.100.25", 25, "192.0.2.0", 30023, 0x10, 7000,
	      "", 0);
	put32(k.b + 28, 5027);
	set_l4_csum(k.b);
	engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_OUT, NOW + 2 * MS,
		       0, 0, &res);
	/* what follows is read in order: a held tail, as in any stream */
	assert_int_equal(seg(f, &k, 30023, 0x18, 5027, "RCPT TO:<bob@exa",
			     NOW + 3 * MS, 3), ENGINE_HOLD);
	assert_int_equal(seg(f, &k, 30023, 0x18, 5043, "mple.org>\r\n",
			     NOW + 4 * MS, 4), ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), "xxxx.xxx>\r\n", 11);
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->retrans_no_record, 1);
	assert_int_equal(st->ack_resumed, 1);
	assert_int_equal(st->dropped, 0);
	fx_free(f);
}

static void test_malformed_still_accepted_on_error(void **state)
{
	struct fx *f = fx_new(smtp_accept_policy);
	const struct engine_stats *st;
	struct engine_result res;
	struct pk k, orig;

	build(&k, IPPROTO_TCP, "192.0.2.55", 30021, "198.51.100.25", 25, 0x18,
	      1, "alice@example.org", 17);
	k.b[20 + 12] = 15 << 4;		/* data offset past the end */
	orig = k;
	assert_int_equal(run(f, &k, ENGINE_DIR_AUTO, 0, &res), ENGINE_ACCEPT);
	assert_int_equal(res.reason, ENGINE_R_MALFORMED);
	assert_memory_equal(k.b, orig.b, k.len);
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->on_error_accepted, 1);
	assert_int_equal(st->reasons[ENGINE_R_MALFORMED], 1);
	assert_int_equal(st->drops[ENGINE_R_MALFORMED], 0);
	assert_int_equal(st->dropped, 0);
	fx_free(f);
}

/* A 10000-byte segment of the test connection whose tail may begin an
 * identifier (a run of letters): held. */
static enum engine_verdict big_seg(struct fx *f, uint16_t cport, uint32_t seq,
				   char fill, uint32_t len, uint64_t cookie,
				   struct engine_result *res)
{
	static char text[10000];
	struct pk k;

	memset(text, fill, len);
	build(&k, IPPROTO_TCP, "192.0.2.55", cport, "198.51.100.25", 25, 0x18,
	      seq, text, len);
	engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_AUTO, NOW, 0,
		       cookie, res);
	return res->verdict;
}

static void test_hold_pool_full_drops(void **state)
{
	struct fx *f = fx_new(smtp_accept_policy);
	const struct engine_stats *st;
	struct engine_result res;
	struct engine_release r;
	unsigned held = 0, i;

	/* each flow holds a segment until the worker's pool is full */
	for (i = 0; i < 1000; i++) {
		if (big_seg(f, (uint16_t)(20000 + i), 1000, 'a', 10000, i,
			    &res) != ENGINE_HOLD)
			break;
		held++;
		while (engine_next_release(f->w, &r))	/* stream slots shared */
			held--;
	}
	assert_true(i < 1000);
	assert_int_equal(res.verdict, ENGINE_DROP);
	assert_int_equal(res.reason, ENGINE_R_HOLD_FULL);
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->hold_pool_full, 1);
	assert_int_equal(st->drops[ENGINE_R_HOLD_FULL], 1);
	assert_int_equal(st->on_error_accepted, 0);
	assert_true(held > 100);

	/* a flow whose segment was dropped goes on when it comes again */
	engine_release_all(f->rs, f->ft, f->w);
	while (engine_next_release(f->w, &r))
		held--;
	assert_int_equal(held, 0);
	assert_int_equal(big_seg(f, (uint16_t)(20000 + i), 1000, 'a', 10000, i,
				 &res), ENGINE_HOLD);
	engine_release_all(f->rs, f->ft, f->w);
	assert_true(engine_next_release(f->w, &r));
	assert_int_equal(r.cookie, i);
	assert_drops_add_up(st);
	fx_free(f);
}

static void test_out_of_order_bounds(void **state)
{
	struct fx *f = fx_new(smtp_accept_policy);
	const struct engine_stats *st;
	struct engine_result res;
	struct engine_release r;
	uint32_t seq = 100;
	unsigned n_rel = 0;
	/* the pool of a 1024-flow table is 4 MiB: a flow holds an eighth */
	unsigned n_ooo = (4u << 20) / 8 / 9000;
	struct pk k;

	seg(f, &k, 30022, 0x02, 99, "", NOW, 1);
	/* held in order: their tails may begin an identifier */
	for (unsigned i = 0; i < 3; i++, seq += 9000)
		assert_int_equal(big_seg(f, 30022, seq, 'a', 9000, 10 + i, &res),
				 ENGINE_HOLD);
	/* ahead of a gap of 100 bytes, up to the flow's bound in bytes ... */
	for (unsigned i = 0; i < n_ooo; i++)
		assert_int_equal(big_seg(f, 30022, seq + 100 + i * 9000u, 'a',
					 9000, 20 + i, &res), ENGINE_HOLD);
	/* ... and no more: dropped, although the service accepts on error */
	assert_int_equal(big_seg(f, 30022, seq + 100 + n_ooo * 9000u, 'a', 9000,
				 20 + n_ooo, &res), ENGINE_DROP);
	assert_int_equal(res.reason, ENGINE_R_OOO_FULL);
	/* the gap fills: the held ones join in windows a stream can hold */
	assert_int_equal(big_seg(f, 30022, seq, 'b', 100, 30, &res), ENGINE_HOLD);
	while (engine_next_release(f->w, &r))
		n_rel++;
	engine_release_all(f->rs, f->ft, f->w);
	while (engine_next_release(f->w, &r)) {
		assert_int_not_equal(r.verdict, ENGINE_DROP);
		n_rel++;
	}
	assert_int_equal(n_rel, 3 + n_ooo + 1);
	st = engine_worker_stats(f->w, 0);
	assert_true(st->hold_bound_hit >= 2);
	assert_int_equal(st->drops[ENGINE_R_OOO_FULL], 1);
	assert_int_equal(st->dropped, 1);
	assert_int_equal(st->on_error_accepted, 0);
	fx_free(f);
}

static void test_duplicate_drop_counted(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	const struct engine_stats *st;
	struct pk k;

	seg(f, &k, 30023, 0x02, 99, "", NOW, 1);
	assert_int_equal(seg(f, &k, 30023, 0x18, 110, "e.org>\r\n", NOW, 2),
			 ENGINE_HOLD);
	assert_int_equal(seg(f, &k, 30023, 0x18, 110, "e.org>\r\n", NOW, 3),
			 ENGINE_DROP);
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->drops[ENGINE_R_DUPLICATE], 1);
	assert_int_equal(st->reasons[ENGINE_R_DUPLICATE], 1);
	assert_drops_add_up(st);
	engine_release_all(f->rs, f->ft, f->w);
	fx_free(f);
}

/*
 * Slot pressure: 100,000 flows each hold the start of an address at
 * once; none takes another's stream over, and each address is whole
 * when its end comes ("192.0" + ".2.<n>" never passes as two halves).
 */
#define PRESSURE_FLOWS 100000u

static void pressure_seg(struct fx *f, unsigned i, uint32_t seq,
			 const char *text, uint64_t cookie,
			 struct engine_result *res)
{
	char client[32];
	struct pk k;

	snprintf(client, sizeof(client), "10.%u.%u.%u", i >> 16 & 0xff,
		 i >> 8 & 0xff, i & 0xff);
	build(&k, IPPROTO_TCP, client, 4000, "198.51.100.25", 25, 0x18, seq,
	      text, (uint32_t)strlen(text));
	engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_IN, NOW, 0,
		       cookie, res);
}

static void test_stream_slot_pressure(void **state)
{
	struct fx *f = fx_new("service smtp {\n\tlisten tcp 25\n"
			      "\tredact ipv4 mask\n}\n");
	const struct engine_stats *st;
	struct engine_result res;
	struct engine_release r;
	unsigned i, whole = 0;

	flow_table_free(f->ft);
	engine_worker_free(f->w);
	f->ft = flow_table_new(1u << 17);
	assert_non_null(f->ft);
	f->w = engine_worker_new(f->rs, flow_table_capacity(f->ft));
	assert_non_null(f->w);
	for (i = 0; i < PRESSURE_FLOWS; i++) {
		pressure_seg(f, i, 100, "from 192.0", 2 * (uint64_t)i, &res);
		assert_int_equal(res.verdict, ENGINE_HOLD);
		assert_false(engine_next_release(f->w, &r));
	}
	for (i = 0; i < PRESSURE_FLOWS; i++) {
		struct pk k;

		pressure_seg(f, i, 110, ".2.55 ok\r\n", 2 * (uint64_t)i + 1, &res);
		assert_int_equal(res.verdict, ENGINE_MODIFIED);
		assert_true(engine_next_release(f->w, &r));
		assert_int_equal(r.cookie, 2 * (uint64_t)i);
		memcpy(k.b, r.data, r.len);
		k.len = r.len;
		/* the held half is masked with the rest: nothing of it passed */
		assert_memory_equal(payload_of(&k), "from ", 5);
		assert_memory_not_equal(payload_of(&k) + 5, "192.0", 5);
		whole++;
	}
	assert_int_equal(whole, PRESSURE_FLOWS);
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->dropped, 0);
	assert_int_equal(st->detector[DET_IPV4], PRESSURE_FLOWS);
	fx_free(f);
}

/*
 * A reload that renumbers the services: a flow without stream state
 * (only its SYN was seen) takes the index of its service in the new
 * policy before its stream counts or holds anything.
 */
static void test_reload_flow_takes_new_service_index(void **state)
{
	struct fx *f = fx_new("service u1 {\n\tlisten udp 9\n}\n"
			      "service u2 {\n\tlisten udp 10\n}\n"
			      "service smtp {\n\tlisten tcp 25\n"
			      "\taddress ipv4 truncate 24\n"
			      "\tredact email mask\n}\n");
	struct diag_list *dl = NULL;
	struct engine_worker *w2;
	struct ruleset *rs2;
	struct pk k;

	seg(f, &k, 30025, 0x02, 99, "", NOW, 1);
	rs2 = policy_load_string("<reload>", smtp_policy, f->rs, &dl);
	diag_list_free(dl);
	assert_non_null(rs2);
	w2 = engine_worker_new(rs2, flow_table_capacity(f->ft));
	assert_non_null(w2);
	engine_release_all(f->rs, f->ft, f->w);
	engine_worker_adopt(w2, f->w);
	engine_worker_free(f->w);
	policy_free(f->rs);
	f->w = w2;
	f->rs = rs2;
	assert_int_equal(seg(f, &k, 30025, 0x18, 100, "MAIL FROM:<alice@exa",
			     NOW, 2), ENGINE_HOLD);
	assert_int_equal(seg(f, &k, 30025, 0x18, 120, "mple.org>\r\n", NOW, 3),
			 ENGINE_MODIFIED);
	released(f, 2, "MAIL FROM:<xxxxx@xxx");
	assert_int_equal(engine_worker_stats(w2, 0)->holds, 1);
	assert_int_equal(engine_worker_stats(w2, 0)->hold_released, 1);
	fx_free(f);
}

/*
 * A client segment whose checksum is wrong is discarded by the server's
 * kernel: dropped, even under on-error accept (a capture on the server's
 * host would read it), and it teaches the stream nothing: the same bytes
 * sent again with a right checksum are scanned in full.  Unless the
 * kernel says it verified the checksum.
 */
static void test_bad_checksum_dropped(void **state)
{
	struct fx *f = fx_new(smtp_accept_policy);
	struct engine_result res;
	struct pk k;

	seg(f, &k, 30030, 0x02, 99, "", NOW, 1);
	build(&k, IPPROTO_TCP, "192.0.2.55", 30030, "198.51.100.25", 25, 0x18,
	      100, "RCPT TO:<bob@example.org>\r\n", 27);
	k.b[20 + 16] ^= 0x5a;
	assert_int_equal(run(f, &k, ENGINE_DIR_IN, 0, &res), ENGINE_DROP);
	assert_int_equal(res.reason, ENGINE_R_BAD_CSUM);
	/* the retransmission carries other bytes over the same range */
	build(&k, IPPROTO_TCP, "192.0.2.55", 30030, "198.51.100.25", 25, 0x18,
	      100, "MAIL FROM:<alice@example.org>\r\n", 31);
	assert_int_equal(run(f, &k, ENGINE_DIR_IN, 0, &res), ENGINE_MODIFIED);
	assert_null(memmem(payload_of(&k), 31, "alice@example.org", 17));
	assert_true(ref_verify(k.b));
	/* verified by the kernel: not looked at again */
	build(&k, IPPROTO_TCP, "192.0.2.55", 30030, "198.51.100.25", 25, 0x18,
	      131, "x\r\n", 3);
	k.b[20 + 16] ^= 0x5a;
	assert_int_equal(run(f, &k, ENGINE_DIR_IN, ENGINE_F_CSUM_VERIFIED, &res),
			 ENGINE_MODIFIED);
	assert_int_equal(engine_worker_stats(f->w, 0)->drops[ENGINE_R_BAD_CSUM], 1);
	assert_int_equal(engine_worker_stats(f->w, 0)->on_error_accepted, 0);
	fx_free(f);
}

/* ---- transport truth: what the server's kernel takes ------------------- */

/* One client segment of 192.0.2.55:@cport, direction known. */
static enum engine_verdict cseg(struct fx *f, struct pk *k, uint16_t cport,
				uint8_t flags, uint32_t seq, const void *text,
				uint32_t len, uint64_t cookie)
{
	struct engine_result res;

	build(k, IPPROTO_TCP, "192.0.2.55", cport, "198.51.100.25", 25, flags,
	      seq, text, len);
	engine_process(f->rs, f->ft, f->w, k->b, k->len, ENGINE_DIR_IN, NOW, 0,
		       cookie, &res);
	return res.verdict;
}

/* The stream as the server reads it: every packet, released or passed. */
struct rx {
	char buf[200000];
	uint32_t base;		/* stream position of buf[0] */
	uint32_t hi;		/* bytes known */
};

static void rx_put(struct rx *x, const struct pk *k)
{
	uint32_t seq = get32(k->b + 20 + 4), ihl = 20, doff = (k->b[20 + 12] >> 4) * 4u;
	uint32_t plen = k->len - ihl - doff;

	assert_true(seq - x->base + plen <= sizeof(x->buf));
	memcpy(x->buf + (seq - x->base), k->b + ihl + doff, plen);
	if (seq - x->base + plen > x->hi)
		x->hi = seq - x->base + plen;
}

static void rx_drain(struct fx *f, struct rx *x)
{
	struct engine_release r;
	struct pk k;

	while (engine_next_release(f->w, &r)) {
		assert_int_not_equal(r.verdict, ENGINE_DROP);
		memcpy(k.b, r.data, r.len);
		k.len = r.len;
		assert_true(ref_verify(k.b));
		rx_put(x, &k);
	}
}

/*
 * A loss burst of 64 segments: the first segment is lost, the next 64
 * come, then the first again.  Every segment ends inside an address that
 * the next one finishes; none is decided alone, and the stream the
 * server reads holds no address.
 */
static void test_loss_burst_64(void **state)
{
	struct fx *f = fx_new("service smtp {\n\tlisten tcp 25\n"
			      "\tredact email mask\n}\n");
	static struct rx x;
	static char text[65 * 1000 + 1];
	struct pk k;
	uint32_t seq = 100;

	/*
	 * "... alice" | "@example.org ..." at every 1000-byte boundary: a
	 * tail that does not yet look like an identifier, the worst cut
	 */
	for (unsigned i = 0; i < 65; i++) {
		char *t = text + i * 1000;

		memset(t, 'z', 1000);
		memcpy(t, "@example.org ", 13);
		t[500] = '\n';
		if (i < 64)	/* the stream's last bytes begin nothing */
			memcpy(t + 1000 - 6, " alice", 6);
	}
	memset(&x, 0, sizeof(x));
	x.base = seq;
	assert_int_equal(cseg(f, &k, 30040, 0x02, seq - 1, "", 0, 0), ENGINE_MODIFIED);
	for (unsigned i = 1; i < 65; i++) {
		enum engine_verdict v = cseg(f, &k, 30040, 0x18, seq + i * 1000,
					     text + i * 1000, 1000, i);

		assert_int_equal(v, ENGINE_HOLD);
		rx_drain(f, &x);
	}
	assert_int_not_equal(cseg(f, &k, 30040, 0x18, seq, text, 1000, 100),
			     ENGINE_DROP);
	if (k.len > 40)
		rx_put(&x, &k);
	rx_drain(f, &x);
	engine_release_all(f->rs, f->ft, f->w);
	rx_drain(f, &x);
	assert_int_equal(x.hi, 65 * 1000);
	assert_null(memmem(x.buf, x.hi, "alice", 5));
	/* only the first "@example.org" had no start before it */
	assert_null(memmem(x.buf + 13, x.hi - 13, "example.org", 11));
	assert_int_equal(engine_worker_stats(f->w, 0)->dropped, 0);
	fx_free(f);
}

/*
 * RFC 5961 as Linux takes it: a reset ends the connection only at
 * exactly the next byte.  One elsewhere in the window changes nothing:
 * the held tail waits for its end, and the flow stays established.
 */
static void test_rst_in_window_only(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	struct pk k;
	static struct rx x;

	memset(&x, 0, sizeof(x));
	x.base = 100;
	cseg(f, &k, 30041, 0x02, 99, "", 0, 0);
	assert_int_equal(cseg(f, &k, 30041, 0x18, 100, "RCPT TO:<alice@exa", 18, 1),
			 ENGINE_HOLD);
	/* a reset 5 bytes ahead: Linux answers it with a challenge ACK */
	assert_int_not_equal(cseg(f, &k, 30041, 0x14, 123, "", 0, 2), ENGINE_DROP);
	rx_drain(f, &x);
	assert_int_equal(x.hi, 0);	/* nothing was decided by it */
	assert_int_equal(cseg(f, &k, 30041, 0x18, 118, "mple.org>\r\n", 11, 3),
			 ENGINE_MODIFIED);
	rx_put(&x, &k);
	rx_drain(f, &x);
	assert_int_equal(x.hi, 29);
	assert_null(memmem(x.buf, x.hi, "alice", 5));
	assert_int_equal(engine_worker_stats(f->w, 0)->not_delivered, 1);
	/* a reset's data is never delivered: masked */
	assert_int_not_equal(cseg(f, &k, 30041, 0x14, 129, "bob@example.org", 15, 4),
			     ENGINE_DROP);
	assert_null(memmem(payload_of(&k), 15, "bob@", 4));
	fx_free(f);
}

/*
 * A SYN inside an established connection is answered with a challenge
 * ACK and discarded: it neither restarts the stream (the held tail is
 * judged with its end) nor delivers data (masked).
 */
static void test_syn_mid_stream_ignored(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	struct engine_result res;
	static struct rx x;
	struct pk k;

	memset(&x, 0, sizeof(x));
	x.base = 100;
	cseg(f, &k, 30042, 0x02, 99, "", 0, 0);
	/* the server's SYN-ACK: established */
	build(&k, IPPROTO_TCP, "198.51.100.25", 25, "192.0.2.0", 30042, 0x12, 5000,
	      "", 0);
	engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_OUT, NOW, 0, 0,
		       &res);
	assert_int_equal(cseg(f, &k, 30042, 0x18, 100, "RCPT TO:<alice@exa", 18, 1),
			 ENGINE_HOLD);
	assert_int_not_equal(cseg(f, &k, 30042, 0x02, 7777, "carol@example.org",
				  17, 2), ENGINE_DROP);
	assert_null(memmem(payload_of(&k), 17, "carol@", 6));
	rx_drain(f, &x);
	assert_int_equal(x.hi, 0);
	assert_int_equal(cseg(f, &k, 30042, 0x18, 118, "mple.org>\r\n", 11, 3),
			 ENGINE_MODIFIED);
	rx_put(&x, &k);
	rx_drain(f, &x);
	assert_int_equal(x.hi, 29);
	assert_null(memmem(x.buf, x.hi, "alice", 5));
	fx_free(f);
}

/* Data on a SYN (TCP Fast Open) is the stream's first bytes: scanned. */
static void test_syn_data_scanned(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	static struct rx x;
	struct pk k;

	memset(&x, 0, sizeof(x));
	x.base = 100;
	assert_int_equal(cseg(f, &k, 30043, 0x02, 99, "MAIL FROM:<alice@example.org>\r\n",
			      31, 1), ENGINE_MODIFIED);
	assert_null(memmem(payload_of(&k), 31, "alice@", 6));
	/* and the stream goes on after it */
	assert_int_equal(cseg(f, &k, 30043, 0x18, 131, "RCPT TO:<bob@exa", 16, 2),
			 ENGINE_HOLD);
	assert_int_equal(cseg(f, &k, 30043, 0x18, 147, "mple.org>\r\n", 11, 3),
			 ENGINE_MODIFIED);
	rx_put(&x, &k);
	rx_drain(f, &x);
	assert_null(memmem(x.buf + 31, 16, "bob@", 4));
	fx_free(f);
}

/* Data without ACK is discarded by Linux: dropped, and teaches nothing. */
static void test_data_without_ack_dropped(void **state)
{
	struct fx *f = fx_new(smtp_accept_policy);
	struct engine_result res;
	struct pk k;

	cseg(f, &k, 30044, 0x02, 99, "", 0, 0);
	build(&k, IPPROTO_TCP, "192.0.2.55", 30044, "198.51.100.25", 25, 0x08, 100,
	      "RCPT TO:<x@y.org>\r\n", 19);
	assert_int_equal(run(f, &k, ENGINE_DIR_IN, 0, &res), ENGINE_DROP);
	assert_int_equal(res.reason, ENGINE_R_DISCARDED);
	/* the same range with other bytes is scanned in full */
	assert_int_equal(cseg(f, &k, 30044, 0x18, 100, "MAIL FROM:<alice@example.org>\r\n",
			      31, 1), ENGINE_MODIFIED);
	assert_null(memmem(payload_of(&k), 31, "alice@", 6));
	fx_free(f);
}

/*
 * A first copy the receiver may have refused for a reason the engine
 * does not check (an old timestamp, an ACK of unsent data) is recorded
 * as delivered; the bytes sent again over its range are scanned anew, so
 * that other bytes there never pass unjudged.
 */
static void test_retransmission_rescanned(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	static const char a[] = "NOOP xxxxxxxxxxxxxxxxxxxxxxxx\r\n";
	static const char b[] = "MAIL FROM:<alice@example.org>\r\n";
	struct pk k;

	assert_int_equal(sizeof(a), sizeof(b));
	cseg(f, &k, 30046, 0x02, 99, "", 0, 0);
	assert_int_not_equal(cseg(f, &k, 30046, 0x18, 100, a, sizeof(a) - 1, 1),
			     ENGINE_DROP);
	assert_int_equal(cseg(f, &k, 30046, 0x18, 100, b, sizeof(b) - 1, 2),
			 ENGINE_MODIFIED);
	assert_null(memmem(payload_of(&k), sizeof(b) - 1, "alice@", 6));
	assert_true(ref_verify(k.b));
	fx_free(f);
}

/*
 * The client sends a held segment again: it waits for its ACK (a window
 * of one after a loss) and will send nothing new, so the hold ends now,
 * its undecided tail masked whole, instead of at the hold time by the
 * timeout rule (which would pass "alice"); the rest of the address is
 * redacted from the context when it comes.
 */
static void test_stalled_hold_released_masked(void **state)
{
	struct fx *f = fx_new("service smtp {\n\tlisten tcp 25\n"
			      "\thold 40ms mask\n\tredact email mask\n}\n");
	static struct rx x;
	struct pk k;

	memset(&x, 0, sizeof(x));
	x.base = 100;
	cseg(f, &k, 30047, 0x02, 99, "", 0, 0);
	assert_int_equal(cseg(f, &k, 30047, 0x18, 100, "RCPT TO:<alice", 14, 1),
			 ENGINE_HOLD);
	/* a copy the network made at once changes nothing */
	assert_int_equal(cseg(f, &k, 30047, 0x18, 100, "RCPT TO:<alice", 14, 2),
			 ENGINE_DROP);
	rx_drain(f, &x);
	assert_int_equal(x.hi, 0);
	/* the client's retransmission, 200 ms on */
	build(&k, IPPROTO_TCP, "192.0.2.55", 30047, "198.51.100.25", 25, 0x18,
	      100, "RCPT TO:<alice", 14);
	{
		struct engine_result res;

		engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_IN,
			       NOW + 200 * MS, 0, 4, &res);
		assert_int_equal(res.verdict, ENGINE_DROP);
	}
	rx_drain(f, &x);
	assert_int_equal(x.hi, 14);
	assert_int_equal(cseg(f, &k, 30047, 0x18, 114, "@example.org>\r\n", 15, 3),
			 ENGINE_MODIFIED);
	rx_put(&x, &k);
	assert_null(memmem(x.buf, x.hi, "alice", 5));
	assert_null(memmem(x.buf, x.hi, "example", 7));
	assert_int_equal(engine_worker_stats(f->w, 0)->hold_stalled, 1);
	fx_free(f);
}

/*
 * Bytes beyond a gap show that the client did not pause: when the hold
 * time runs out before the gap fills, the held tail (whose continuation
 * was lost) is masked, not passed by the timeout rule; the segments
 * beyond the gap are dropped (gap) and come again.
 */
static void test_gap_timeout_masks_tail(void **state)
{
	struct fx *f = fx_new("service smtp {\n\tlisten tcp 25\n"
			      "\tredact ipv4 mask\n}\n");
	static struct rx x;
	struct engine_release r;
	struct pk k;

	memset(&x, 0, sizeof(x));
	x.base = 100;
	cseg(f, &k, 30048, 0x02, 99, "", 0, 0);
	assert_int_equal(cseg(f, &k, 30048, 0x18, 100, "from 192.0", 10, 1),
			 ENGINE_HOLD);
	/* ".2.55" lost; what follows it came */
	assert_int_equal(cseg(f, &k, 30048, 0x18, 115, " ok\r\n", 5, 2),
			 ENGINE_HOLD);
	engine_tick(f->rs, f->ft, f->w, NOW + 100 * MS);
	assert_true(engine_next_release(f->w, &r));
	assert_int_equal(r.cookie, 1);
	memcpy(k.b, r.data, r.len);
	k.len = r.len;
	assert_memory_equal(payload_of(&k), "from ", 5);
	assert_memory_not_equal(payload_of(&k) + 5, "192.0", 5);
	assert_true(engine_next_release(f->w, &r));
	assert_int_equal(r.cookie, 2);
	assert_int_equal(r.verdict, ENGINE_DROP);
	assert_int_equal(engine_worker_stats(f->w, 0)->hold_timeout_passed, 0);
	fx_free(f);
}

/* A FIN takes a sequence number: the reset after it is at the next byte. */
static void test_rst_after_fin(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	struct pk k;

	cseg(f, &k, 30049, 0x02, 99, "", 0, 0);
	assert_int_not_equal(cseg(f, &k, 30049, 0x19, 100, "QUIT\r\n", 6, 1),
			     ENGINE_DROP);
	assert_int_not_equal(cseg(f, &k, 30049, 0x14, 107, "", 0, 2), ENGINE_DROP);
	assert_int_equal(engine_worker_stats(f->w, 0)->not_delivered, 0);
	fx_free(f);
}

/*
 * `hold ... mask`: a hold that ends without the bytes that decide it has
 * its undecided tail masked whole; `pass` (the default) keeps the
 * timeout rule, and a held segment sent again waits for the hold time.
 */
static void test_hold_mask_ending(void **state)
{
	for (int l = 0; l < 2; l++) {
		struct fx *f = fx_new(l ? "service smtp {\n\tlisten tcp 25\n"
					  "\thold 500ms mask\n\tredact ipv4 mask\n}\n"
					: "service smtp {\n\tlisten tcp 25\n"
					  "\thold 500ms\n\tredact ipv4 mask\n}\n");
		struct engine_release r;
		struct pk k;

		struct engine_result res;

		cseg(f, &k, 30050, 0x02, 99, "", 0, 0);
		assert_int_equal(cseg(f, &k, 30050, 0x18, 100, "from 192.0", 10, 1),
				 ENGINE_HOLD);
		/* sent again 200 ms on: mask ends the hold now, pass waits */
		build(&k, IPPROTO_TCP, "192.0.2.55", 30050, "198.51.100.25", 25,
		      0x18, 100, "from 192.0", 10);
		engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_IN,
			       NOW + 200 * MS, 0, 2, &res);
		assert_int_equal(res.verdict, ENGINE_DROP);
		if (!l) {
			assert_false(engine_next_release(f->w, &r));
			engine_tick(f->rs, f->ft, f->w, NOW + 600 * MS);
		}
		assert_true(engine_next_release(f->w, &r));
		memcpy(k.b, r.data, r.len);
		k.len = r.len;
		if (l)
			assert_memory_equal(payload_of(&k), "from 000.0", 10);
		else
			assert_memory_equal(payload_of(&k), "from 192.0", 10);
		fx_free(f);
	}
}

/*
 * The urgent byte: Linux takes it out of the stream, so that
 * "alice\0@example.org" with the urgent pointer past "\0" reaches the
 * application as "alice@example.org".  The urgent pointer is cleared:
 * the application reads the byte in line, as it was scanned.
 */
static void test_urgent_pointer_cleared(void **state)
{
	struct fx *f = fx_new(smtp_policy);
	static const char t[] = "MAIL FROM:<alice\0@example.org>\r\n";
	struct pk k;

	cseg(f, &k, 30045, 0x02, 99, "", 0, 0);
	build(&k, IPPROTO_TCP, "192.0.2.55", 30045, "198.51.100.25", 25, 0x38, 100,
	      t, sizeof(t) - 1);
	put16(k.b + 20 + 18, 17);	/* the urgent byte is the '\0' */
	set_l4_csum(k.b);
	assert_int_equal(run(f, &k, ENGINE_DIR_IN, 0, NULL), ENGINE_MODIFIED);
	assert_int_equal(k.b[20 + 13] & 0x20, 0);
	assert_int_equal(get16(k.b + 20 + 18), 0);
	assert_true(ref_verify(k.b));
	assert_int_equal(engine_worker_stats(f->w, 0)->urgent_cleared, 1);
	fx_free(f);
}

/* An ICMP error quoting @quoted, from @src to @dst. */
static void icmp_quoting(struct pk *e, const char *src, const char *dst,
			 const struct pk *quoted)
{
	uint8_t *p = e->b;

	memset(e, 0, sizeof(*e));
	e->len = 20 + 8 + quoted->len;
	p[0] = 0x45;
	put16(p + 2, (uint16_t)e->len);
	p[8] = 64;
	p[9] = IPPROTO_ICMP;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	p[20] = 3;
	p[21] = 3;
	memcpy(p + 28, quoted->b, quoted->len);
	set_ip_csum(p);
	set_l4_csum(p);
}

/*
 * ICMP errors only where they can be true.  Towards the server, an error
 * quoting pseudonym → server (what anyone can forge, the server's
 * operator included) would come out with the real client in it: dropped.
 * From the server's side, one quoting server → real client cannot be
 * either.  The true ones are translated.
 */
static void test_icmp_oracle_refused(void **state)
{
	struct fx *f = fx_new("service s {\n\tlisten udp 514\n"
			      "\taddress ipv4 permute 24\n}\n");
	struct engine_result res;
	struct pk k, e, reply;
	char pseudo[32], a[32];

	build(&k, IPPROTO_UDP, "198.51.100.77", 5000, "203.0.113.10", 514, 0, 0,
	      "hello", 5);
	assert_int_equal(run(f, &k, ENGINE_DIR_IN, 0, NULL), ENGINE_MODIFIED);
	src_text(&k, pseudo);	/* k is now pseudonym → server */
	assert_string_not_equal(pseudo, "198.51.100.77");

	/* forged, towards the server: quotes pseudonym → server */
	icmp_quoting(&e, "192.0.2.99", "203.0.113.10", &k);
	assert_int_equal(run(f, &e, ENGINE_DIR_IN, 0, &res), ENGINE_DROP);
	assert_int_equal(res.reason, ENGINE_R_ICMP_MISMATCH);
	inet_ntop(AF_INET, e.b + 28 + 12, a, sizeof(a));
	assert_string_equal(a, pseudo);
	/* the same without a direction: the outer destination tells */
	icmp_quoting(&e, "192.0.2.99", "203.0.113.10", &k);
	assert_int_equal(run(f, &e, ENGINE_DIR_AUTO, 0, &res), ENGINE_DROP);
	assert_int_equal(res.reason, ENGINE_R_ICMP_MISMATCH);

	/* the server's own error to the pseudonym: translated */
	icmp_quoting(&e, "203.0.113.10", pseudo, &k);
	assert_int_equal(run(f, &e, ENGINE_DIR_OUT, 0, NULL), ENGINE_MODIFIED);
	inet_ntop(AF_INET, e.b + 28 + 12, a, sizeof(a));
	assert_string_equal(a, "198.51.100.77");

	/* a reply server → real client, quoted by an error from the client
	 * side: the pseudonym goes in */
	build(&reply, IPPROTO_UDP, "203.0.113.10", 514, "198.51.100.77", 5000, 0,
	      0, "ok", 2);
	icmp_quoting(&e, "198.51.100.77", "203.0.113.10", &reply);
	assert_int_equal(run(f, &e, ENGINE_DIR_IN, 0, NULL), ENGINE_MODIFIED);
	inet_ntop(AF_INET, e.b + 28 + 16, a, sizeof(a));
	assert_string_equal(a, pseudo);
	/* a relay's own error to its backend about a reply: it hides too */
	icmp_quoting(&e, "192.0.2.1", "203.0.113.10", &reply);
	assert_int_equal(run(f, &e, ENGINE_DIR_OUT, 0, NULL), ENGINE_MODIFIED);
	inet_ntop(AF_INET, e.b + 28 + 16, a, sizeof(a));
	assert_string_equal(a, pseudo);
	/* a backend's error crossing a relay's inbound hook on its way to
	 * the pseudonym: passes as it is, for the replies hook */
	icmp_quoting(&e, "203.0.113.10", pseudo, &k);
	assert_int_equal(run(f, &e, ENGINE_DIR_IN, 0, &res), ENGINE_ACCEPT);
	inet_ntop(AF_INET, e.b + 28 + 12, a, sizeof(a));
	assert_string_equal(a, pseudo);
	assert_int_equal(engine_worker_stats(f->w, 0)->drops[ENGINE_R_ICMP_MISMATCH], 2);
	fx_free(f);
}

/*
 * A client datagram from a port that is another service's: with the
 * direction given (the daemon's queues), it is inbound whatever its
 * ports; without, what cannot be told is redacted as inbound.
 */
static void test_direction_not_from_ports(void **state)
{
	struct fx *f = fx_new("service dns {\n\tlisten udp 53\n}\n"
			      "service syslog {\n\tlisten udp 514\n"
			      "\tredact email mask\n}\n");
	struct engine_result res;
	struct pk k;
	char a[32];

	for (int d = 0; d < 2; d++) {
		build(&k, IPPROTO_UDP, "198.51.100.77", 53, "203.0.113.10", 514, 0,
		      0, "from alice@example.org", 22);
		run(f, &k, d ? ENGINE_DIR_AUTO : ENGINE_DIR_IN, 0, &res);
		assert_int_equal(res.dir, ENGINE_DIR_IN);
		assert_int_equal(res.service, 1);
		assert_null(memmem(payload_of(&k), 22, "alice@", 6));
		src_text(&k, a);
		assert_string_not_equal(a, "198.51.100.77");
	}
	fx_free(f);
}

/* ---- message framing ----------------------------------------------------- */

static const char *frame_policy_fmt =
	"service m {\n"
	"\tlisten tcp 1883, 80\n"
	"\taddress ipv4 truncate 24\n"
	"\tredact email mask\n"
	"\tredact phone mask\n"
	"\tredact ipv4 truncate 24\n"
	"%s"
	"}\n";

static struct fx *frame_fx(const char *frame_line)
{
	char pol[512];

	snprintf(pol, sizeof(pol), frame_policy_fmt, frame_line);
	return fx_new(pol);
}

/* One client segment to @dport carrying @len bytes of @data. */
static enum engine_verdict fseg(struct fx *f, struct pk *k, uint16_t cport,
				uint16_t dport, uint8_t flags, uint32_t seq,
				const void *data, uint32_t len, uint64_t now,
				uint64_t cookie)
{
	struct engine_result res;

	build(k, IPPROTO_TCP, "192.0.2.55", cport, "198.51.100.25", dport, flags,
	      seq, data, len);
	engine_process(f->rs, f->ft, f->w, k->b, k->len, ENGINE_DIR_AUTO, now,
		       0, cookie, &res);
	return res.verdict;
}

/* An MQTT 3.1.1 string: 2-byte length and the bytes; Return: bytes written. */
static size_t mq_str(uint8_t *o, const char *s)
{
	size_t n = strlen(s);

	put16(o, (uint16_t)n);
	memcpy(o + 2, s, n);
	return n + 2;
}

/* CONNECT with @client_id and @user (clean session, keepalive 60). */
static size_t mq_connect(uint8_t *o, const char *client_id, const char *user)
{
	uint8_t v[256];
	size_t n = 0;

	n += mq_str(v + n, "MQTT");
	v[n++] = 4;			/* 3.1.1 */
	v[n++] = 0x82;			/* user name, clean session */
	put16(v + n, 60);
	n += 2;
	n += mq_str(v + n, client_id);
	n += mq_str(v + n, user);
	o[0] = 0x10;
	o[1] = (uint8_t)n;		/* < 128 */
	memcpy(o + 2, v, n);
	return n + 2;
}

/* PUBLISH QoS 1 of @payload to @topic, packet id @id. */
static size_t mq_publish(uint8_t *o, const char *topic, uint16_t id,
			 const char *payload)
{
	size_t n = 2, pl = strlen(payload);

	n += mq_str(o + n, topic);
	put16(o + n, id);
	n += 2;
	memcpy(o + n, payload, pl);
	n += pl;
	o[0] = 0x32;
	o[1] = (uint8_t)(n - 2);	/* < 128 */
	return n;
}

/*
 * A complete MQTT message is never held, whatever its last byte: the
 * CONNECT and a PUBLISH whose payload ends in a digit go at once, with
 * their identifiers masked.  Without framing the PUBLISH is held.
 */
static void test_frame_mqtt_complete_not_held(void **state)
{
	for (int none = 0; none < 2; none++) {
		struct fx *f = frame_fx(none ? "\tframe none\n" : "");
		struct pk k;
		uint8_t m[256];
		uint32_t seq = 100;
		size_t n;
		const struct engine_stats *st;
		const enum engine_verdict want = none ? ENGINE_HOLD : ENGINE_MODIFIED;

		fseg(f, &k, 40001, 1883, 0x02, 99, "", 0, NOW, 1);
		n = mq_connect(m, "alice@example.org", "bob");
		assert_int_equal(fseg(f, &k, 40001, 1883, 0x18, seq, m, (uint32_t)n,
				      NOW, 2), want);
		seq += (uint32_t)n;
		if (!none)
			/* the client id masked, its length and what follows intact */
			assert_memory_equal(payload_of(&k) + 12,
					    "\0\x11xxxxx@xxxxxxx.xxx\0\x03" "bob", 24);
		n = mq_publish(m, "sensors/7", 5, "{\"ip\":\"10.1.2.3\"} t=21.5");
		assert_int_equal(fseg(f, &k, 40001, 1883, 0x18, seq, m, (uint32_t)n,
				      NOW + MS, 3), want);
		if (!none)
			assert_memory_equal(payload_of(&k) + n - 18,
					    "\"10.1.2.0\"} t=21.5", 18);
		else
			engine_release_all(f->rs, f->ft, f->w);
		st = engine_worker_stats(f->w, 0);
		assert_int_equal(st->holds, none ? 2 : 0);
		assert_int_equal(st->framed, none ? 0 : 1);
		assert_int_equal(st->frame_boundary, none ? 0 : 2);
		assert_int_equal(st->frame_fallback, 0);
		fx_free(f);
	}
}

/*
 * A message cut inside a field is held while the field's tail may begin
 * an identifier, and the bytes after it decide both.
 */
static void test_frame_mqtt_cut_field_held(void **state)
{
	struct fx *f = frame_fx("\tframe mqtt\n");
	struct pk k;
	struct engine_release r;
	uint8_t m[256];
	uint32_t seq = 100;
	size_t n, cut;

	fseg(f, &k, 40002, 1883, 0x02, 99, "", 0, NOW, 1);
	n = mq_connect(m, "c1", "u1");
	assert_int_equal(fseg(f, &k, 40002, 1883, 0x18, seq, m, (uint32_t)n, NOW, 2),
			 ENGINE_MODIFIED);
	seq += (uint32_t)n;
	n = mq_publish(m, "t", 9, "from carol@example.org now");
	cut = n - 12;			/* "carol@exa|mple.org now" */
	assert_int_equal(fseg(f, &k, 40002, 1883, 0x18, seq, m,
			      (uint32_t)cut, NOW, 3), ENGINE_HOLD);
	assert_int_equal(fseg(f, &k, 40002, 1883, 0x18, seq + (uint32_t)cut,
			      m + cut, (uint32_t)(n - cut), NOW + MS, 4),
			 ENGINE_MODIFIED);
	assert_memory_equal(payload_of(&k), "xxxx.xxx now", 12);
	assert_true(engine_next_release(f->w, &r));
	assert_int_equal(r.cookie, 3);
	assert_memory_equal(r.data + 40 + cut - 9, "xxxxx@xxx", 9);
	assert_int_equal(engine_worker_stats(f->w, 0)->holds, 1);
	fx_free(f);
}

/*
 * A length byte or a packet id glued to an identifier: the topic's
 * length low byte is 'a' (97 bytes) and the packet id is "g\0"; read as
 * a plain stream, "aalice@..." and "...example.org" would take them in,
 * and masking them would break the message.  Framed, each field is read
 * alone: the identifier is masked, the framing bytes stay.
 */
static void test_frame_glued_bytes_stay(void **state)
{
	for (int none = 0; none < 2; none++) {
		struct fx *f = frame_fx(none ? "\tframe none\n" : "");
		struct pk k;
		uint8_t m[256];
		char topic[98];
		uint32_t seq = 100;
		size_t n;

		memset(topic, 'z', 97);
		topic[97] = 0;
		memcpy(topic, "alice@example.org ", 18);
		memcpy(topic + 97 - 16, " dave@example.or", 16);
		fseg(f, &k, 40003, 1883, 0x02, 99, "", 0, NOW, 1);
		n = mq_connect(m, "c1", "u1");
		fseg(f, &k, 40003, 1883, 0x18, seq, m, (uint32_t)n, NOW, 2);
		engine_release_all(f->rs, f->ft, f->w);
		seq += (uint32_t)n;
		n = mq_publish(m, topic, 0x6700, "ok\n");
		assert_int_equal(m[3], 'a');
		assert_int_equal(fseg(f, &k, 40003, 1883, 0x18, seq, m, (uint32_t)n,
				      NOW, 3), ENGINE_MODIFIED);
		if (none) {
			/* read as a plain stream, the framing bytes are masked */
			assert_int_equal(payload_of(&k)[3], 'x');
			assert_int_equal(payload_of(&k)[4 + 97], 'x');
			fx_free(f);
			continue;
		}
		assert_int_equal(payload_of(&k)[3], 'a');
		assert_memory_equal(payload_of(&k) + 4, "xxxxx@xxxxxxx.xxx ", 18);
		assert_memory_equal(payload_of(&k) + 4 + 97 - 16,
				    " xxxx@xxxxxxx.xx" "g\0" "ok\n", 21);
		fx_free(f);
	}
}

/* An HTTP request whose JSON body does not end in a newline goes at once. */
static void test_frame_http_body_not_held(void **state)
{
	struct fx *f = frame_fx("");
	struct pk k;
	char req[512];
	const char *body = "{\"user\":\"erin@example.org\",\"n\":42}";
	uint32_t seq;
	int n;

	n = snprintf(req, sizeof(req),
		     "POST /api HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	fseg(f, &k, 40004, 80, 0x02, 99, "", 0, NOW, 1);
	assert_int_equal(fseg(f, &k, 40004, 80, 0x18, 100, req, (uint32_t)n, NOW, 2),
			 ENGINE_MODIFIED);
	seq = 100 + (uint32_t)n;
	assert_memory_equal(payload_of(&k) + n - 25, "xxxx@xxxxxxx.xxx\",\"n\":42}", 25);
	assert_int_equal(engine_worker_stats(f->w, 0)->holds, 0);
	/* a second request cut in its body is held */
	n = snprintf(req, sizeof(req),
		     "POST /api HTTP/1.1\r\nContent-Length: 30\r\n\r\n{\"a\":\"x\",\"p\":\"+4420");
	assert_int_equal(fseg(f, &k, 40004, 80, 0x18, seq, req, (uint32_t)n,
			      NOW, 3), ENGINE_HOLD);
	engine_release_all(f->rs, f->ft, f->w);
	fx_free(f);
}

/*
 * A stream that stops parsing as its framing is read as a plain stream
 * from there on, counted: never scanned less (the identifier in the
 * garbage is masked, and a tail that may begin one is held).
 */
static void test_frame_fallback_counted(void **state)
{
	struct fx *f = frame_fx("\tframe mqtt\n");
	struct pk k;
	const char *junk = "HELLO frank@example.org 10.9.8.7";
	const struct engine_stats *st;

	fseg(f, &k, 40005, 1883, 0x02, 99, "", 0, NOW, 1);
	assert_int_equal(fseg(f, &k, 40005, 1883, 0x18, 100, junk,
			      (uint32_t)strlen(junk), NOW, 2), ENGINE_HOLD);
	engine_release_all(f->rs, f->ft, f->w);
	st = engine_worker_stats(f->w, 0);
	assert_int_equal(st->frame_fallback, 1);
	assert_int_equal(st->framed, 1);
	assert_int_equal(st->detector[DET_EMAIL], 1);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inbound_truncate_and_mask),
		cmocka_unit_test(test_reply_translated_back),
		cmocka_unit_test(test_port_clash_gets_new_port),
		cmocka_unit_test(test_not_covered_untouched),
		cmocka_unit_test(test_malformed_dropped_or_accepted),
		cmocka_unit_test(test_truncated_capture_dropped),
		cmocka_unit_test(test_checksum_not_laundered),
		cmocka_unit_test(test_bad_checksum_dropped),
		cmocka_unit_test(test_checksum_not_ready_recomputed),
		cmocka_unit_test(test_ipv6_and_v4mapped),
		cmocka_unit_test(test_map_mode),
		cmocka_unit_test(test_permute_mode),
		cmocka_unit_test(test_icmp_error_translated),
		cmocka_unit_test(test_proxy_v1_and_v2),
		cmocka_unit_test(test_allow_pattern),
		cmocka_unit_test(test_clients_filter),
		cmocka_unit_test(test_scan_reports_outside_allow),
		cmocka_unit_test(test_overlaps_merged),
		cmocka_unit_test(test_stream_hold_and_release),
		cmocka_unit_test(test_stream_timeout),
		cmocka_unit_test(test_stream_drop_all_at_stop),
		cmocka_unit_test(test_stream_gap_timeout_drops),
		cmocka_unit_test(test_stream_out_of_order_and_fin),
		cmocka_unit_test(test_stream_hold_zero),
		cmocka_unit_test(test_stream_reload_keeps_context),
		cmocka_unit_test(test_stream_retransmission_after_ack),
		cmocka_unit_test(test_on_error_accept_reasons),
		cmocka_unit_test(test_table_full_drops_despite_on_error_accept),
		cmocka_unit_test(test_no_flow_drops_despite_on_error_accept),
		cmocka_unit_test(test_retransmission_without_record_masked),
		cmocka_unit_test(test_retransmission_record_full_masked),
		cmocka_unit_test(test_stream_resumes_from_server_ack),
		cmocka_unit_test(test_picked_up_ahead_passes_masked),
		cmocka_unit_test(test_malformed_still_accepted_on_error),
		cmocka_unit_test(test_hold_pool_full_drops),
		cmocka_unit_test(test_out_of_order_bounds),
		cmocka_unit_test(test_duplicate_drop_counted),
		cmocka_unit_test(test_stream_slot_pressure),
		cmocka_unit_test(test_loss_burst_64),
		cmocka_unit_test(test_rst_in_window_only),
		cmocka_unit_test(test_syn_mid_stream_ignored),
		cmocka_unit_test(test_syn_data_scanned),
		cmocka_unit_test(test_data_without_ack_dropped),
		cmocka_unit_test(test_urgent_pointer_cleared),
		cmocka_unit_test(test_gap_timeout_masks_tail),
		cmocka_unit_test(test_hold_mask_ending),
		cmocka_unit_test(test_rst_after_fin),
		cmocka_unit_test(test_stalled_hold_released_masked),
		cmocka_unit_test(test_retransmission_rescanned),
		cmocka_unit_test(test_icmp_oracle_refused),
		cmocka_unit_test(test_direction_not_from_ports),
		cmocka_unit_test(test_reload_flow_takes_new_service_index),
		cmocka_unit_test(test_frame_mqtt_complete_not_held),
		cmocka_unit_test(test_frame_mqtt_cut_field_held),
		cmocka_unit_test(test_frame_glued_bytes_stay),
		cmocka_unit_test(test_frame_http_body_not_held),
		cmocka_unit_test(test_frame_fallback_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
