/*
 * test_frame.c — the message framers (policy/frame*.c) on messages laid
 * out as their specifications write them: MQTT 3.1.1 and 5 packets
 * (OASIS), HTTP/1.1 requests (RFC 9112), SIP over TCP (RFC 3261),
 * SMTP and IMAP command lines, octet-counted syslog (RFC 6587).
 *
 * Each stream is fed whole, cut in two at every offset, cut at random
 * places, and one byte at a time: the runs, joined, must be the ones
 * expected, byte for byte (tests/fuzz/frame_check.h writes them as "S4
 * F6e": a STRUCT run of 4 bytes, then a FIELD run of 6 a message ends
 * with), and the final state the same.  Then what must make a framer
 * fall back (lengths past their limits, smuggling shapes, protocol
 * switches, garbage) and the recognition of each framing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "frame.h"
#include "../fuzz/frame_check.h"

/* ---- feeding ------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* @n bytes as calls of the lengths in @cuts (then the rest). */
static void feed_cut(struct fc_rec *r, struct frame_state *fs,
		     enum frame_kind kind, const uint8_t *in, uint32_t n,
		     const uint32_t *cuts, unsigned ncuts)
{
	uint32_t at = 0;

	fc_init(r, n);
	frame_init(fs, kind);
	for (unsigned i = 0; i < ncuts; i++) {
		uint32_t l = cuts[i] < n - at ? cuts[i] : n - at;

		fc_feed(r, fs, in + at, l);
		at += l;
	}
	fc_feed(r, fs, in + at, n - at);
	assert_int_equal(r->bad, 0);
}

/* A feed cut otherwise reports the same runs and ends in the same state. */
static void same_as(const struct fc_rec *whole, const struct frame_state *w,
		    const struct fc_rec *r, const struct frame_state *fs,
		    bool is_auto)
{
	assert_true(fc_same(whole, r, is_auto));
	assert_int_equal(fs->kind, w->kind);
	assert_int_equal(fs->error, w->error);
	assert_int_equal(fs->msg_pos, w->msg_pos);
	if (!is_auto)
		assert_memory_equal(fs, w, sizeof(*fs));
}

/*
 * check_stream() - @n bytes read as @kind give the runs @runs, and leave
 * the framing @after with @err and @msg_pos, however they are cut.
 */
static void check_stream(enum frame_kind kind, const void *bytes, size_t n,
			 const char *runs, enum frame_kind after,
			 enum frame_error err, uint32_t msg_pos)
{
	const uint8_t *in = bytes;
	struct frame_state w, fs;
	struct fc_rec whole, r;
	bool is_auto = kind == FRAME_AUTO;
	static char got[1 << 16];
	uint32_t cuts[8];

	feed_cut(&whole, &w, kind, in, (uint32_t)n, NULL, 0);
	fc_runs(&whole, got, sizeof(got));
	assert_string_equal(got, runs);
	assert_string_equal(frame_kind_name(w.kind), frame_kind_name(after));
	assert_string_equal(frame_error_name(w.error), frame_error_name(err));
	assert_int_equal(w.msg_pos, msg_pos);
	assert_int_equal(frame_at_boundary(&w),
			 after != FRAME_NONE && after != FRAME_AUTO &&
			 msg_pos == 0);

	/* every offset; of a long stream, every offset near its ends */
	for (uint32_t c = 0; c <= n; c += n <= 4096 || c < 2048 ||
	     c + 2048 > n ? 1 : 97) {
		cuts[0] = c;
		feed_cut(&r, &fs, kind, in, (uint32_t)n, cuts, 1);
		same_as(&whole, &w, &r, &fs, is_auto);
		fc_free(&r);
	}
	for (int t = 0; t < 200; t++) {
		unsigned k = 1 + rng() % 8;

		for (unsigned i = 0; i < k; i++)
			cuts[i] = rng() % (rng() % 2 ? 4 : (uint32_t)n + 1);
		feed_cut(&r, &fs, kind, in, (uint32_t)n, cuts, k);
		same_as(&whole, &w, &r, &fs, is_auto);
		fc_free(&r);
	}
	fc_init(&r, (uint32_t)n);
	frame_init(&fs, kind);
	for (uint32_t i = 0; i < n; i++)
		fc_feed(&r, &fs, in + i, 1);
	assert_int_equal(r.bad, 0);
	same_as(&whole, &w, &r, &fs, is_auto);
	fc_free(&r);
	fc_free(&whole);
}

#define CHECK_TEXT(kind, text, runs, after, err, pos) \
	check_stream(kind, text, sizeof(text) - 1, runs, after, err, pos)

/* The runs of @n bytes fed as the calls @cuts (recognition's view). */
static void check_cut_runs(enum frame_kind kind, const char *text,
			   const uint32_t *cuts, unsigned ncuts,
			   const char *runs)
{
	struct frame_state fs;
	struct fc_rec r;
	char got[4096];

	feed_cut(&r, &fs, kind, (const uint8_t *)text,
		 (uint32_t)strlen(text), cuts, ncuts);
	fc_runs(&r, got, sizeof(got));
	assert_string_equal(got, runs);
	fc_free(&r);
}

/* ---- MQTT packets ------------------------------------------------------- */

struct pkt {
	uint8_t b[4096];
	size_t n;
};

static void put(struct pkt *p, const void *b, size_t n)
{
	assert_true(p->n + n <= sizeof(p->b));
	memcpy(p->b + p->n, b, n);
	p->n += n;
}

static void put8(struct pkt *p, uint8_t v)
{
	put(p, &v, 1);
}

static void put16(struct pkt *p, uint16_t v)
{
	put8(p, (uint8_t)(v >> 8));
	put8(p, (uint8_t)v);
}

static void put_str(struct pkt *p, const char *s)
{
	put16(p, (uint16_t)strlen(s));
	put(p, s, strlen(s));
}

static void put_varint(struct pkt *p, uint32_t v)
{
	do {
		uint8_t b = v & 0x7f;

		v >>= 7;
		put8(p, (uint8_t)(b | (v ? 0x80 : 0)));
	} while (v);
}

/* A packet: @first, its Remaining Length, @body. */
static void put_packet(struct pkt *p, uint8_t first, const struct pkt *body)
{
	put8(p, first);
	put_varint(p, (uint32_t)body->n);
	put(p, body->b, body->n);
}

/* CONNECT with a will, a user name and a password (v3.1.1 §3.1) */
static void mqtt_connect(struct pkt *p, bool v5)
{
	struct pkt b = { .n = 0 };

	put_str(&b, "MQTT");
	put8(&b, v5 ? 5 : 4);
	put8(&b, 0xce);		/* user, password, will QoS 1, will, clean */
	put16(&b, 60);
	if (v5) {
		put_varint(&b, 5);
		put(&b, "\x11\x00\x00\x00\x0a", 5);	/* session expiry */
	}
	put_str(&b, "dev-42");
	if (v5) {
		put_varint(&b, 5);
		put(&b, "\x18\x00\x00\x00\x05", 5);	/* will delay */
	}
	put_str(&b, "last/will");
	put_str(&b, "gone");
	put_str(&b, "bob@example.org");
	put_str(&b, "hunter2");
	put_packet(p, 0x10, &b);
}

static void test_mqtt311_session(void **state)
{
	struct pkt p = { .n = 0 }, b;

	mqtt_connect(&p, false);
	/* PUBLISH QoS 0: topic, payload */
	b.n = 0;
	put_str(&b, "users/alice@example.com");
	put(&b, "call +44 20 7946 0958", 21);
	put_packet(&p, 0x30, &b);
	/* PUBLISH QoS 1, retained: topic, packet id, payload */
	b.n = 0;
	put_str(&b, "t/1");
	put16(&b, 1);
	put(&b, "qos1", 4);
	put_packet(&p, 0x33, &b);
	/* SUBSCRIBE: packet id, two filters with their options */
	b.n = 0;
	put16(&b, 2);
	put_str(&b, "a/#");
	put8(&b, 1);
	put_str(&b, "users/+/mail");
	put8(&b, 2);
	put_packet(&p, 0x82, &b);
	/* UNSUBSCRIBE */
	b.n = 0;
	put16(&b, 3);
	put_str(&b, "a/#");
	put_packet(&p, 0xa2, &b);
	put(&p, "\x40\x02\x00\x01", 4);		/* PUBACK */
	put(&p, "\xc0\x00", 2);			/* PINGREQ */
	put(&p, "\xe0\x00", 2);			/* DISCONNECT */

	check_stream(FRAME_MQTT, p.b, p.n,
		     "S4 F4 S6 F6 S2 F9 S2 F4 S2 F15 S2 F7e "
		     "S4 F23 F21e "
		     "S4 F3 S2 F4e "
		     "S6 F3 S3 F12 S1e "
		     "S6 F3e "
		     "S4e S2e S2e",
		     FRAME_MQTT, FRAME_E_NONE, 0);
	/* recognised, framed the same from the first byte */
	check_stream(FRAME_AUTO, p.b, p.n,
		     "S4 F4 S6 F6 S2 F9 S2 F4 S2 F15 S2 F7e "
		     "S4 F23 F21e "
		     "S4 F3 S2 F4e "
		     "S6 F3 S3 F12 S1e "
		     "S6 F3e "
		     "S4e S2e S2e",
		     FRAME_MQTT, FRAME_E_NONE, 0);
}

static void test_mqtt5_session(void **state)
{
	struct pkt p = { .n = 0 }, b;

	mqtt_connect(&p, true);
	/* PUBLISH with a user property */
	b.n = 0;
	put_str(&b, "users/alice@example.com");
	put_varint(&b, 28);
	put8(&b, 0x26);
	put_str(&b, "origin");
	put_str(&b, "alice@example.com");
	put(&b, "call +44 20 7946 0958", 21);
	put_packet(&p, 0x30, &b);
	/* PUBLISH QoS 2, no properties */
	b.n = 0;
	put_str(&b, "t/1");
	put16(&b, 7);
	put_varint(&b, 0);
	put(&b, "qos2", 4);
	put_packet(&p, 0x34, &b);
	/* SUBSCRIBE with a subscription identifier */
	b.n = 0;
	put16(&b, 2);
	put_varint(&b, 2);
	put(&b, "\x0b\x07", 2);
	put_str(&b, "a/#");
	put8(&b, 1);
	put_str(&b, "users/+/mail");
	put8(&b, 0x2d);
	put_packet(&p, 0x82, &b);
	/* UNSUBSCRIBE, no properties */
	b.n = 0;
	put16(&b, 3);
	put_varint(&b, 0);
	put_str(&b, "a/#");
	put_packet(&p, 0xa2, &b);
	put(&p, "\x40\x04\x00\x01\x00\x00", 6);	/* PUBACK, reason, props */
	put(&p, "\xe0\x00", 2);			/* DISCONNECT */
	put(&p, "\xf0\x02\x18\x00", 4);		/* AUTH: reason, props */

	check_stream(FRAME_MQTT, p.b, p.n,
		     "S4 F4 S5 F5 S2 F6 S1 F5 S2 F9 S2 F4 S2 F15 S2 F7e "
		     "S4 F23 S1 F28 F21e "
		     "S4 F3 S3 F4e "
		     "S5 F2 S2 F3 S3 F12 S1e "
		     "S7 F3e "
		     "S4 F2e S2e S2 F2e",
		     FRAME_MQTT, FRAME_E_NONE, 0);
}

static void test_mqtt31_and_truncated(void **state)
{
	struct pkt p = { .n = 0 }, b = { .n = 0 };

	/* MQTT 3.1: "MQIsdp", level 3, no flags but clean */
	put_str(&b, "MQIsdp");
	put8(&b, 3);
	put8(&b, 2);
	put16(&b, 10);
	put_str(&b, "c");
	put_packet(&p, 0x10, &b);
	check_stream(FRAME_AUTO, p.b, p.n, "S4 F6 S6 F1e",
		     FRAME_MQTT, FRAME_E_NONE, 0);
	/* the stream ends inside the next packet's topic */
	put(&p, "\x30\x0a\x00\x03top", 7);
	check_stream(FRAME_MQTT, p.b, p.n, "S4 F6 S6 F1e S4 F3",
		     FRAME_MQTT, FRAME_E_NONE, 7);
	/* ... and inside a Remaining Length */
	p.n -= 6;
	put8(&p, 0x80);
	check_stream(FRAME_MQTT, p.b, p.n, "S4 F6 S6 F1e S2",
		     FRAME_MQTT, FRAME_E_NONE, 2);
}

static void test_mqtt_malformed(void **state)
{
	struct pkt c = { .n = 0 }, p;

	mqtt_connect(&c, false);

	/* a Remaining Length with a fifth byte */
	p = c;
	put(&p, "\x30\xff\xff\xff\xff\x7f", 6);
	check_stream(FRAME_MQTT, p.b, p.n,
		     "S4 F4 S6 F6 S2 F9 S2 F4 S2 F15 S2 F7e S4 F2",
		     FRAME_NONE, FRAME_E_SYNTAX, 6);
	/* 16 MiB + 1: beyond the limit; 16 MiB is read */
	p = c;
	put(&p, "\x30\x81\x80\x80\x08", 5);
	check_stream(FRAME_MQTT, p.b, p.n,
		     "S4 F4 S6 F6 S2 F9 S2 F4 S2 F15 S2 F7e S4 F1",
		     FRAME_NONE, FRAME_E_LIMIT, 5);
	p = c;
	put(&p, "\x30\x80\x80\x80\x08\x00\x01", 7);
	check_stream(FRAME_MQTT, p.b, p.n,
		     "S4 F4 S6 F6 S2 F9 S2 F4 S2 F15 S2 F7e S7",
		     FRAME_MQTT, FRAME_E_NONE, 7);
	/* a topic whose length runs past the packet */
	p = c;
	put(&p, "\x30\x05\x00\x04topic", 9);
	check_stream(FRAME_MQTT, p.b, p.n,
		     "S4 F4 S6 F6 S2 F9 S2 F4 S2 F15 S2 F7e S4 F5",
		     FRAME_NONE, FRAME_E_SYNTAX, 9);
	/* a client identifier past the CONNECT's end */
	CHECK_TEXT(FRAME_MQTT, "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x09" "ab",
		   "S4 F4 S6 F2", FRAME_NONE, FRAME_E_SYNTAX, 16);
	/* a CONNECT that ends before its client identifier */
	CHECK_TEXT(FRAME_MQTT, "\x10\x0a\x00\x04MQTT\x04\x02\x00\x3cxy",
		   "S4 F4 S4 F2", FRAME_NONE, FRAME_E_SYNTAX, 14);
	/* packet type 0, reserved */
	p = c;
	put(&p, "\x00\x00", 2);
	check_stream(FRAME_MQTT, p.b, p.n,
		     "S4 F4 S6 F6 S2 F9 S2 F4 S2 F15 S2 F7e F2",
		     FRAME_NONE, FRAME_E_SYNTAX, 2);
	/* a first packet that is no CONNECT, a second CONNECT */
	CHECK_TEXT(FRAME_MQTT, "\x30\x05\x00\x01tab", "F7",
		   FRAME_NONE, FRAME_E_SYNTAX, 7);
	p = c;
	put(&p, c.b, c.n);
	check_stream(FRAME_MQTT, p.b, p.n,
		     "S4 F4 S6 F6 S2 F9 S2 F4 S2 F15 S2 F7e F63",
		     FRAME_NONE, FRAME_E_SYNTAX, 63);
	/* a protocol level no version has */
	CHECK_TEXT(FRAME_MQTT, "\x10\x0d\x00\x04MQTT\x07\x02\x00\x3c\x00\x01x",
		   "S4 F4 F7", FRAME_NONE, FRAME_E_SYNTAX, 15);
	/* PUBLISH QoS 3 */
	p = c;
	put(&p, "\x36\x05\x00\x01t\x00\x01", 7);
	check_stream(FRAME_MQTT, p.b, p.n,
		     "S4 F4 S6 F6 S2 F9 S2 F4 S2 F15 S2 F7e F7",
		     FRAME_NONE, FRAME_E_SYNTAX, 7);
}

/* ---- HTTP --------------------------------------------------------------- */

#define POST_CL "POST /api/user?mail=carol@example.net HTTP/1.1\r\n" \
		"Host: api.example.net\r\n" \
		"content-LENGTH: 33\r\n" \
		"Accept: */*\r\n\r\n"			/* 106 */
#define POST_BODY "{\"phone\":\"+1 202 555 0143\",\"x\":1}"	/* 33 */
#define GET_0 "GET / HTTP/1.0\r\n\r\n"			/* 18 */

static void test_http_content_length(void **state)
{
	CHECK_TEXT(FRAME_HTTP, POST_CL POST_BODY GET_0 POST_CL POST_BODY,
		   "H106 F33e H18e H106 F33e", FRAME_HTTP, FRAME_E_NONE, 0);
	/* cut inside the body: not at a boundary */
	CHECK_TEXT(FRAME_HTTP, POST_CL "{\"phone\"",
		   "H106 F8", FRAME_HTTP, FRAME_E_NONE, 114);
	/* bare LF line ends, an empty line before the request, an
	 * obs-fold, whitespace around the length, "n, n" */
	CHECK_TEXT(FRAME_HTTP,
		   "\r\nPUT /x HTTP/1.1\nX-A: 1\n  folded\n"
		   "Content-Length:\t 3 , 3\n\nabc",
		   "S2e H56 F3e", FRAME_HTTP, FRAME_E_NONE, 0);
	CHECK_TEXT(FRAME_AUTO, POST_CL POST_BODY GET_0,
		   "H106 F33e H18e", FRAME_HTTP, FRAME_E_NONE, 0);
}

#define CHUNKED_HDR "PUT /up HTTP/1.1\r\nHost: h\r\n" \
		    "Transfer-Encoding: gzip, Chunked\r\n\r\n"	/* 63 */

static void test_http_chunked(void **state)
{
	/* chunk-size lines (an extension) framing, data fields, trailers */
	CHECK_TEXT(FRAME_HTTP, CHUNKED_HDR
		   "5;ext=\"a b\"\r\nhello\r\n"
		   "1A\r\nmail me: dave@example.com!\r\n"
		   "0\r\nX-Trailer: 192.0.2.33\r\n\r\n"
		   GET_0,
		   "H63 S13 F5 S6 F26 S5 H25e H18e",
		   FRAME_HTTP, FRAME_E_NONE, 0);
	/* no trailers: the final CRLF is framing */
	CHECK_TEXT(FRAME_HTTP, CHUNKED_HDR "3\r\nabc\r\n0\r\n\r\n" GET_0,
		   "H63 S3 F3 S7e H18e", FRAME_HTTP, FRAME_E_NONE, 0);
	/* data not followed by CRLF */
	CHECK_TEXT(FRAME_HTTP, CHUNKED_HDR "3\r\nabcd\r\n",
		   "H63 S3 F3 F3", FRAME_NONE, FRAME_E_SYNTAX, 72);
	/* a chunk of more than 1 GiB */
	CHECK_TEXT(FRAME_HTTP, CHUNKED_HDR "40000001\r\n",
		   "H63 S7 F3", FRAME_NONE, FRAME_E_LIMIT, 73);
}

static void test_http_fall_back(void **state)
{
	/* Content-Length with chunked: the smuggling shape */
	CHECK_TEXT(FRAME_HTTP, "POST / HTTP/1.1\r\nContent-Length: 4\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		   "H66 F5", FRAME_NONE, FRAME_E_SYNTAX, 71);
	/* a coding after chunked, a coding without chunked */
	CHECK_TEXT(FRAME_HTTP, "POST / HTTP/1.1\r\n"
		   "Transfer-Encoding: chunked, gzip\r\n\r\n",
		   "H51 F2", FRAME_NONE, FRAME_E_SYNTAX, 53);
	CHECK_TEXT(FRAME_HTTP, "POST / HTTP/1.1\r\n"
		   "Transfer-Encoding: gzip\r\n\r\n1\r\n",
		   "H44 F3", FRAME_NONE, FRAME_E_SYNTAX, 47);
	/* lengths that disagree; more than 1 GiB; not a number */
	CHECK_TEXT(FRAME_HTTP, "POST / HTTP/1.1\r\nContent-Length: 4\r\n"
		   "Content-Length: 5\r\n\r\n",
		   "H55 F2", FRAME_NONE, FRAME_E_SYNTAX, 57);
	CHECK_TEXT(FRAME_HTTP, "POST / HTTP/1.1\r\n"
		   "Content-Length: 1073741825\r\n\r\n",
		   "H42 F5", FRAME_NONE, FRAME_E_LIMIT, 47);
	CHECK_TEXT(FRAME_HTTP, "POST / HTTP/1.1\r\n"
		   "Content-Length: 1073741824\r\n\r\nab",
		   "H47 F2", FRAME_HTTP, FRAME_E_NONE, 49);
	CHECK_TEXT(FRAME_HTTP, "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		   "H33 F6", FRAME_NONE, FRAME_E_SYNTAX, 39);
	CHECK_TEXT(FRAME_HTTP, "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
		   "H34 F2", FRAME_NONE, FRAME_E_SYNTAX, 36);
	/* request lines that are none */
	CHECK_TEXT(FRAME_HTTP, "GET /\r\n\r\n", "H5 F4",
		   FRAME_NONE, FRAME_E_SYNTAX, 9);
	CHECK_TEXT(FRAME_HTTP, "GET / HTTP/2.0\r\n\r\n", "H15 F3",
		   FRAME_NONE, FRAME_E_SYNTAX, 18);
	CHECK_TEXT(FRAME_HTTP, "G(T / HTTP/1.1\r\n\r\n", "H1 F17",
		   FRAME_NONE, FRAME_E_SYNTAX, 18);
	CHECK_TEXT(FRAME_HTTP, "GET  / HTTP/1.1\r\n\r\n", "H4 F15",
		   FRAME_NONE, FRAME_E_SYNTAX, 19);
	CHECK_TEXT(FRAME_HTTP, "INVITE sip:a@b SIP/2.0\r\n\r\n", "H23 F3",
		   FRAME_NONE, FRAME_E_SYNTAX, 26);
	/* a CR alone, a fold right after the request line, a space
	 * before a colon */
	CHECK_TEXT(FRAME_HTTP, "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
		   "H21 F5", FRAME_NONE, FRAME_E_SYNTAX, 26);
	CHECK_TEXT(FRAME_HTTP, "GET / HTTP/1.1\r\n x\r\n\r\n",
		   "H16 F6", FRAME_NONE, FRAME_E_SYNTAX, 22);
	CHECK_TEXT(FRAME_HTTP, "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
		   "H20 F8", FRAME_NONE, FRAME_E_SYNTAX, 28);
}

static void test_http_limits(void **state)
{
	static char big[70000];
	size_t n;

	/* a header section of more than 64 KiB */
	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'a', 65536 - n);
	memcpy(big + 65536, "\r\n\r\n", 4);
	check_stream(FRAME_HTTP, big, 65540, "H65536 F4",
		     FRAME_NONE, FRAME_E_LIMIT, 65540);
	/* exactly 64 KiB is read */
	memcpy(big + 65532, "\r\n\r\n", 4);
	check_stream(FRAME_HTTP, big, 65536, "H65536e",
		     FRAME_HTTP, FRAME_E_NONE, 0);
}

static void test_http_switch(void **state)
{
	CHECK_TEXT(FRAME_HTTP, "GET /chat HTTP/1.1\r\nHost: h\r\n"
		   "UPGRADE: websocket\r\nConnection: Upgrade\r\n\r\n"
		   "\x81\x85" "abcde",
		   "H72 F7", FRAME_NONE, FRAME_E_SWITCH, 79);
	CHECK_TEXT(FRAME_HTTP, "CONNECT example.com:443 HTTP/1.1\r\n"
		   "Host: example.com:443\r\n\r\n\x16\x03\x01",
		   "H59 F3", FRAME_NONE, FRAME_E_SWITCH, 62);
	CHECK_TEXT(FRAME_AUTO, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00",
		   "H18 F8", FRAME_NONE, FRAME_E_SWITCH, 26);
	/* no switch: Upgrade only as a name */
	CHECK_TEXT(FRAME_HTTP, "GET / HTTP/1.1\r\nUpgraded: no\r\n\r\n",
		   "H32e", FRAME_HTTP, FRAME_E_NONE, 0);
}

/* ---- SIP ---------------------------------------------------------------- */

#define SDP "v=0\r\no=alice 2890844526 2890844526 IN IP4 198.51.100.7\r\n" \
	    "s=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"		/* 91 */
#define INVITE "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" \
	"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n" \
	"Max-Forwards: 70\r\n" \
	"To: Bob <sip:bob@biloxi.example.com>\r\n" \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" \
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" \
	"CSeq: 314159 INVITE\r\n" \
	"Contact: <sip:alice@pc33.atlanta.example.com;transport=tcp>\r\n" \
	"Content-Type: application/sdp\r\n" \
	"Content-Length: 91\r\n\r\n"				/* 411 */

static void test_sip(void **state)
{
	assert_int_equal(strlen(SDP), 91);
	assert_int_equal(strlen(INVITE), 411);
	/* a request with a body, a keep-alive, a response with "l:", a
	 * request without Content-Length, a space before a colon */
	CHECK_TEXT(FRAME_SIP, INVITE SDP "\r\n\r\n"
		   "SIP/2.0 180 Ringing\r\nVia: x\r\nL: 4\r\n\r\nabcd"
		   "ACK sip:bob@b.example SIP/2.0\r\nCSeq : 1 ACK\r\n\r\n",
		   "H411 F91e S4e H37 F4e H47e", FRAME_SIP, FRAME_E_NONE, 0);
	CHECK_TEXT(FRAME_AUTO, INVITE SDP, "H411 F91e",
		   FRAME_SIP, FRAME_E_NONE, 0);
	/* OPTIONS is both HTTP's and SIP's: the version says */
	CHECK_TEXT(FRAME_AUTO, "OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n"
		   "l: 0\r\n\r\n", "H55e", FRAME_SIP, FRAME_E_NONE, 0);
	CHECK_TEXT(FRAME_AUTO, "OPTIONS /chicago/carol/and/more HTTP/1.1\r\n"
		   "Content-Length: 0\r\n\r\n", "H63e",
		   FRAME_HTTP, FRAME_E_NONE, 0);
	CHECK_TEXT(FRAME_AUTO, "SIP/2.0 200 OK\r\n\r\n", "H18e",
		   FRAME_SIP, FRAME_E_NONE, 0);
	/* a keep-alive cut short; chunked; an HTTP version */
	CHECK_TEXT(FRAME_SIP, "\r\n\r", "S3", FRAME_SIP, FRAME_E_NONE, 3);
	CHECK_TEXT(FRAME_SIP, "MESSAGE sip:a@b SIP/2.0\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n1\r\n",
		   "H55 F3", FRAME_NONE, FRAME_E_SYNTAX, 58);
	CHECK_TEXT(FRAME_SIP, "MESSAGE sip:a@b HTTP/1.1\r\n\r\n",
		   "H25 F3", FRAME_NONE, FRAME_E_SYNTAX, 28);
	/* a response status that is no three digits */
	CHECK_TEXT(FRAME_SIP, "SIP/2.0 20 OK\r\n\r\n", "H10 F7",
		   FRAME_NONE, FRAME_E_SYNTAX, 17);
}

/* ---- lines -------------------------------------------------------------- */

#define SMTP "EHLO client.example.org\r\n" \
	     "MAIL FROM:<erin@example.org>\r\n" \
	     "RCPT TO:<STARTTLS@example.com>\r\n" \
	     "DATA\r\n" \
	     "Subject: hi\r\n" \
	     "\r\n" \
	     "call me at +33 1 23 45 67 89\r\n" \
	     ".\r\n"

static void test_line_smtp(void **state)
{
	CHECK_TEXT(FRAME_LINE, SMTP "QUIT\r\n",
		   "F25e F30e F32e F6e F13e F2e F30e F3e F6e",
		   FRAME_LINE, FRAME_E_NONE, 0);
	CHECK_TEXT(FRAME_AUTO, SMTP "QUIT\r\n",
		   "F25e F30e F32e F6e F13e F2e F30e F3e F6e",
		   FRAME_LINE, FRAME_E_NONE, 0);
	/* a line without its LF yet */
	CHECK_TEXT(FRAME_LINE, "EHLO x\r\nMAIL FROM:<a",
		   "F8e F12", FRAME_LINE, FRAME_E_NONE, 12);
	/* a line far longer than the words looked at */
	CHECK_TEXT(FRAME_LINE, "PRIVMSG #chan :" "0123456789012345678901234567890123456789"
		   "STARTTLS\n", "F64e", FRAME_LINE, FRAME_E_NONE, 0);
}

static void test_line_switch(void **state)
{
	CHECK_TEXT(FRAME_LINE, "EHLO x\r\nSTARTTLS\r\n\x16\x03\x01\x02\x00",
		   "F8e F10 F5", FRAME_NONE, FRAME_E_SWITCH, 15);
	CHECK_TEXT(FRAME_LINE, "EHLO x\r\nbdat 12 LAST\r\n\x00" "binary\x00" "data",
		   "F8e F14 F12", FRAME_NONE, FRAME_E_SWITCH, 26);
	CHECK_TEXT(FRAME_AUTO, "a001 CAPABILITY\r\na002 starttls\r\n\x16\x03",
		   "F17e F15 F2", FRAME_NONE, FRAME_E_SWITCH, 17);
	/* binary at a line's start: a NUL, a TLS handshake */
	CHECK_TEXT(FRAME_LINE, "NOOP\r\n\x00\x01hello\n",
		   "F6e F8", FRAME_NONE, FRAME_E_SYNTAX, 8);
	CHECK_TEXT(FRAME_LINE, "\x16\x03\x01\x00\x05hello\n",
		   "F11", FRAME_NONE, FRAME_E_SYNTAX, 11);
}

/* ---- octet counting ----------------------------------------------------- */

#define SYSLOG1 "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - " \
		"ID47 - 'su root' failed for lonvick on /dev/pts/8"	/* 107 */
#define SYSLOG2 "<13>Oct 11 22:14:15 host app: user grace@example.com"	/* 52 */

static void test_octet(void **state)
{
	assert_int_equal(strlen(SYSLOG1), 107);
	assert_int_equal(strlen(SYSLOG2), 52);
	CHECK_TEXT(FRAME_OCTET, "107 " SYSLOG1 "52 " SYSLOG2,
		   "S4 F107e S3 F52e", FRAME_OCTET, FRAME_E_NONE, 0);
	CHECK_TEXT(FRAME_AUTO, "107 " SYSLOG1 "52 " SYSLOG2,
		   "S4 F107e S3 F52e", FRAME_OCTET, FRAME_E_NONE, 0);
	CHECK_TEXT(FRAME_OCTET, "52 " SYSLOG2 "107 <34>1",
		   "S3 F52e S4 F5", FRAME_OCTET, FRAME_E_NONE, 9);
	/* ten digits, a leading zero, no SP, an LF-framed message */
	CHECK_TEXT(FRAME_OCTET, "1234567890 <1>x", "S9 F6",
		   FRAME_NONE, FRAME_E_SYNTAX, 15);
	CHECK_TEXT(FRAME_OCTET, "052 <1>", "F7",
		   FRAME_NONE, FRAME_E_SYNTAX, 7);
	CHECK_TEXT(FRAME_OCTET, "12<1>", "S2 F3",
		   FRAME_NONE, FRAME_E_SYNTAX, 5);
	CHECK_TEXT(FRAME_OCTET, "3 abc<13>x y\n", "S2 F3e F8",
		   FRAME_NONE, FRAME_E_SYNTAX, 8);
	/* more than 1 MiB; 1 MiB is read */
	CHECK_TEXT(FRAME_OCTET, "1048577 <1>", "S7 F4",
		   FRAME_NONE, FRAME_E_LIMIT, 11);
	CHECK_TEXT(FRAME_OCTET, "1048576 <1>", "S8 F3",
		   FRAME_OCTET, FRAME_E_NONE, 11);
}

/* ---- recognition -------------------------------------------------------- */

static void test_auto(void **state)
{
	static const uint32_t three[] = { 3 }, two[] = { 2 };

	/* a request line is a line too: it is HTTP */
	CHECK_TEXT(FRAME_AUTO, "GET / HTTP/1.1\r\n\r\n", "H18e",
		   FRAME_HTTP, FRAME_E_NONE, 0);
	/* a first line with a method but no version: a line */
	CHECK_TEXT(FRAME_AUTO, "GET foo\r\nSET foo bar\r\n", "F9e F13e",
		   FRAME_LINE, FRAME_E_NONE, 0);
	/* a target longer than the bytes recognition keeps */
	CHECK_TEXT(FRAME_AUTO, "GET /0123456789012345678901234567890 HTTP/1.1"
		   "\r\n\r\n", "H49e", FRAME_HTTP, FRAME_E_NONE, 0);
	CHECK_TEXT(FRAME_AUTO, "REGISTER sip:registrar.biloxi.example.com "
		   "SIP/2.0\r\n\r\n", "H53e", FRAME_SIP, FRAME_E_NONE, 0);
	/* syslog without octet counting; IRC */
	CHECK_TEXT(FRAME_AUTO, "<34>Oct 11 22:14:15 mymachine su: failed\n",
		   "F41e", FRAME_LINE, FRAME_E_NONE, 0);
	CHECK_TEXT(FRAME_AUTO, "NICK grace\r\nUSER g 0 * :Grace\r\n",
		   "F12e F19e", FRAME_LINE, FRAME_E_NONE, 0);
	/* UTF-8 text long enough without an LF is a line */
	CHECK_TEXT(FRAME_AUTO, "Grüße aus Köln, schöne Grüße",
		   "F34", FRAME_LINE, FRAME_E_NONE, 34);
	/* undecided: too few bytes */
	CHECK_TEXT(FRAME_AUTO, "GET", "F3", FRAME_AUTO, FRAME_E_NONE, 3);
	CHECK_TEXT(FRAME_AUTO, "\x10\x0c\x00\x04MQ", "F6",
		   FRAME_AUTO, FRAME_E_NONE, 6);
	/* garbage: no framing */
	CHECK_TEXT(FRAME_AUTO, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		   "F11", FRAME_NONE, FRAME_E_UNKNOWN, 11);
	CHECK_TEXT(FRAME_AUTO, "\x10\x0c\x00\x04MQTX\x04\x02\x00\x3c",
		   "F12", FRAME_NONE, FRAME_E_UNKNOWN, 12);
	CHECK_TEXT(FRAME_AUTO, "\xff\xfe text", "F7",
		   FRAME_NONE, FRAME_E_UNKNOWN, 7);
	CHECK_TEXT(FRAME_AUTO, "EHLO x\x01\r\n", "F9",
		   FRAME_NONE, FRAME_E_UNKNOWN, 9);

	/*
	 * Bytes of calls that left recognition undecided were a field;
	 * a field the framer has open goes on from them, anything else
	 * begins at the first byte after them.
	 */
	check_cut_runs(FRAME_AUTO, "GET / HTTP/1.1\r\n\r\n", three, 1,
		       "F3 H15e");
	check_cut_runs(FRAME_AUTO, "EHLO x\r\nQUIT\r\n", two, 1, "F8e F6e");
	check_cut_runs(FRAME_AUTO, "52 " SYSLOG2, two, 1, "F2 S1 F52e");
}

static void test_none_and_names(void **state)
{
	struct frame_state fs;
	uint32_t i;

	CHECK_TEXT(FRAME_NONE, "anything\n at all\n", "F17",
		   FRAME_NONE, FRAME_E_NONE, 17);
	for (i = 0; i < FRAME__COUNT; i++)
		assert_int_equal(frame_kind_of(frame_kind_name(i),
				 (uint32_t)strlen(frame_kind_name(i))), (int)i);
	assert_int_equal(frame_kind_of("mqt", 3), -1);
	assert_int_equal(frame_kind_of("mqtt5", 4), FRAME_MQTT);
	assert_string_equal(frame_error_name(FRAME_E_SWITCH), "switch");
	assert_string_equal(frame_error_name(FRAME_E_UNKNOWN), "unknown");
	/* a stream that has not begun is at a boundary, and one cut in a
	 * line is not, also with no one told of the runs */
	frame_init(&fs, FRAME_LINE);
	assert_true(frame_at_boundary(&fs));
	frame_feed(&fs, (const uint8_t *)"a\nb", 3, NULL, NULL);
	assert_false(frame_at_boundary(&fs));
	assert_int_equal(fs.msg_pos, 1);
	frame_feed(&fs, (const uint8_t *)"\n", 1, NULL, NULL);
	assert_true(frame_at_boundary(&fs));
	frame_init(&fs, FRAME__COUNT);
	assert_int_equal(fs.kind, FRAME_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mqtt311_session),
		cmocka_unit_test(test_mqtt5_session),
		cmocka_unit_test(test_mqtt31_and_truncated),
		cmocka_unit_test(test_mqtt_malformed),
		cmocka_unit_test(test_http_content_length),
		cmocka_unit_test(test_http_chunked),
		cmocka_unit_test(test_http_fall_back),
		cmocka_unit_test(test_http_limits),
		cmocka_unit_test(test_http_switch),
		cmocka_unit_test(test_sip),
		cmocka_unit_test(test_line_smtp),
		cmocka_unit_test(test_line_switch),
		cmocka_unit_test(test_octet),
		cmocka_unit_test(test_auto),
		cmocka_unit_test(test_none_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
