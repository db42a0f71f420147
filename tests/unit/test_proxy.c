/*
 * test_proxy.c — PROXY protocol headers: proxy_parse() and the walk over
 * their fields on headers built byte by byte, malformed and cut short;
 * the CRC32c against a bitwise reference; and what engine_process()
 * makes of every field (v1 TCP4/TCP6/UNKNOWN, v2 over TCP and UDP,
 * LOCAL, AF_UNSPEC, AF_UNIX, TLVs and SSL sub-TLVs), with exact expected
 * bytes, also when a stream cuts the header at every offset.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "enginefx.h"
#include "flow.h"
#include "policy.h"
#include "proxy.h"

#define NOW (1700000000ull * 1000000000ull)
#define MS 1000000ull

/* ---- a reference CRC32c, bit by bit ------------------------------------ */

static uint32_t ref_crc32c(const uint8_t *b, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= b[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (crc & 1 ? 0x82f63b78u : 0);
	}
	return crc ^ 0xffffffffu;
}

/* ---- PROXY v2 headers, byte by byte ------------------------------------ */

struct hdr {
	uint8_t b[2048];
	uint32_t len;
	uint32_t crc_off;	/* 0: none */
};


static void v2_start(struct hdr *h, uint8_t ver_cmd, uint8_t fam)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->b, "\r\n\r\n\0\r\nQUIT\n", 12);
	h->b[12] = ver_cmd;
	h->b[13] = fam;
	h->len = 16;
}

static void add(struct hdr *h, const void *p, uint32_t n)
{
	memcpy(h->b + h->len, p, n);
	h->len += n;
}

static void add_addr(struct hdr *h, int af, const char *text)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(af, text, a), 1);
	add(h, a, af == AF_INET ? 4 : 16);
}

static void add_port(struct hdr *h, uint16_t port)
{
	put16(h->b + h->len, port);
	h->len += 2;
}

static void add_tlv(struct hdr *h, uint8_t type, const void *v, uint16_t n)
{
	h->b[h->len] = type;
	put16(h->b + h->len + 1, n);
	h->len += 3;
	add(h, v, n);
}

static void add_str_tlv(struct hdr *h, uint8_t type, const char *s)
{
	add_tlv(h, type, s, (uint16_t)strlen(s));
}

/* An SSL TLV: client 0x07, verify 0, then sub-TLVs VERSION and CN. */
static void add_ssl(struct hdr *h, const char *version, const char *cn)
{
	uint8_t v[256];
	uint32_t n = 0, vl = (uint32_t)strlen(version), cl = (uint32_t)strlen(cn);

	v[n++] = 0x07;
	put32(v + n, 0);
	n += 4;
	v[n] = 0x21;
	put16(v + n + 1, (uint16_t)vl);
	memcpy(v + n + 3, version, vl);
	n += 3 + vl;
	v[n] = 0x22;
	put16(v + n + 1, (uint16_t)cl);
	memcpy(v + n + 3, cn, cl);
	n += 3 + cl;
	add_tlv(h, 0x20, v, (uint16_t)n);
}

static void add_crc_tlv(struct hdr *h)
{
	static const uint8_t zero[4];

	add_tlv(h, 0x03, zero, 4);
	h->crc_off = h->len - 4;
}

/* Set the length field and, with a CRC32C TLV, its checksum. */
static void v2_end(struct hdr *h)
{
	put16(h->b + 14, (uint16_t)(h->len - 16));
	if (h->crc_off) {
		put32(h->b + h->crc_off, 0);
		put32(h->b + h->crc_off, ref_crc32c(h->b, h->len));
	}
}

/* The canonical TCP4 header of these tests, with its identifiers. */
static void tcp4_header(struct hdr *h, const char *src, const char *dst,
			const char *cn, const char *uid, const char *netns,
			const char *custom)
{
	v2_start(h, 0x21, 0x11);
	add_addr(h, AF_INET, src);
	add_addr(h, AF_INET, dst);
	add_port(h, 40001);
	add_port(h, 5222);
	add_str_tlv(h, 0x01, "xmpp-client");		/* ALPN */
	add_str_tlv(h, 0x02, "chat.example.net");	/* AUTHORITY */
	add_ssl(h, "TLSv1.3", cn);
	add_str_tlv(h, 0x05, uid);			/* UNIQUE_ID */
	add_str_tlv(h, 0x30, netns);			/* NETNS */
	add_str_tlv(h, 0xe5, custom);			/* a custom type */
	add_tlv(h, 0x04, "\0\0", 2);			/* NOOP */
	add_crc_tlv(h);
	v2_end(h);
}

/* ---- the proxy module alone -------------------------------------------- */

static void test_crc32c_check_value(void **state)
{
	(void)state;
	assert_int_equal(proxy_crc32c((const uint8_t *)"123456789", 9), 0xe3069283);
	assert_int_equal(ref_crc32c((const uint8_t *)"123456789", 9), 0xe3069283);
}

struct want_field {
	enum proxy_field_kind kind;
	uint32_t len;
	uint8_t tlv;
	const char *text;	/* NULL: binary */
};

static void check_walk(const uint8_t *buf, uint32_t len,
		       const struct proxy_hdr *h, const struct want_field *want,
		       unsigned n_want)
{
	struct proxy_walk w;
	struct proxy_field f;
	unsigned i = 0;

	proxy_walk_init(&w, h, buf, len);
	while (proxy_walk_next(&w, &f)) {
		assert_true(i < n_want);
		assert_int_equal(f.kind, want[i].kind);
		assert_int_equal(f.len, want[i].len);
		assert_int_equal(f.tlv, want[i].tlv);
		assert_true(f.off + f.len <= len);
		if (want[i].text)
			assert_memory_equal(buf + f.off, want[i].text, f.len);
		i++;
	}
	assert_int_equal(i, n_want);
}

static void test_v2_fields(void **state)
{
	struct hdr h;
	struct proxy_hdr ph;
	static const struct want_field want[] = {
		{ PROXY_F_SOURCE, 4, 0, NULL },
		{ PROXY_F_ADDR, 4, 0, NULL },
		{ PROXY_F_TEXT, 11, 0x01, "xmpp-client" },
		{ PROXY_F_TEXT, 16, 0x02, "chat.example.net" },
		{ PROXY_F_TEXT, 7, 0x21, "TLSv1.3" },
		{ PROXY_F_TEXT, 17, 0x22, "alice@example.org" },
		{ PROXY_F_TEXT, 13, 0x05, "id:192.0.2.55" },
		{ PROXY_F_TEXT, 18, 0x30, "ns-bob@example.net" },
		{ PROXY_F_TEXT, 17, 0xe5, "carol@example.com" },
		{ PROXY_F_TEXT, 2, 0x04, NULL },
	};

	(void)state;
	tcp4_header(&h, "192.0.2.55", "198.51.100.10", "alice@example.org",
		    "id:192.0.2.55", "ns-bob@example.net", "carol@example.com");
	assert_int_equal(proxy_parse(h.b, h.len, &ph), 1);
	assert_int_equal(ph.kind, PROXY_V2);
	assert_int_equal(ph.hdr_len, h.len);
	assert_int_equal(ph.family, 4);
	assert_int_equal(ph.src_off, 16);
	assert_int_equal(ph.src_len, 4);
	assert_int_equal(ph.crc_off, h.crc_off);
	assert_int_equal(proxy_crc(h.b, &ph), get32(h.b + h.crc_off));
	check_walk(h.b, h.len, &ph, want, sizeof(want) / sizeof(want[0]));

	/* cut short at every length: only fields that end inside are seen */
	for (uint32_t n = 0; n < h.len; n++) {
		struct proxy_walk w;
		struct proxy_field f;
		unsigned i = 0;
		int rc = proxy_parse(h.b, n, &ph);

		assert_int_equal(rc, n ? -E2BIG : 0);
		proxy_walk_init(&w, &ph, h.b, n);
		while (proxy_walk_next(&w, &f)) {
			assert_true(i < sizeof(want) / sizeof(want[0]));
			assert_int_equal(f.kind, want[i].kind);
			assert_int_equal(f.len, want[i].len);
			assert_true(f.off + f.len <= n);
			i++;
		}
	}
}

static void test_v2_malformed(void **state)
{
	struct hdr h;
	struct proxy_hdr ph;
	uint8_t ssl[8] = { 0x07, 0, 0, 0, 0, 0x22, 0x00, 0x05 };

	(void)state;
	/* an SSL sub-TLV running past its TLV */
	v2_start(&h, 0x21, 0x11);
	add_addr(&h, AF_INET, "192.0.2.55");
	add_addr(&h, AF_INET, "198.51.100.10");
	add_port(&h, 1);
	add_port(&h, 2);
	add_tlv(&h, 0x20, ssl, sizeof(ssl));
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), -EINVAL);

	/* an SSL TLV shorter than its fixed part */
	v2_start(&h, 0x21, 0x11);
	h.len += 12;
	add_tlv(&h, 0x20, ssl, 4);
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), -EINVAL);

	/* two bytes after the last TLV */
	v2_start(&h, 0x21, 0x11);
	h.len += 12;
	add_str_tlv(&h, 0x02, "a");
	add(&h, "\x02\x00", 2);
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), -EINVAL);

	/* a CRC32C TLV of 3 bytes */
	v2_start(&h, 0x21, 0x11);
	h.len += 12;
	add_tlv(&h, 0x03, "\0\0\0", 3);
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), -EINVAL);

	/* a body shorter than its addresses; a reserved family; version 1 */
	v2_start(&h, 0x21, 0x21);
	h.len += 20;
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), -EINVAL);
	v2_start(&h, 0x21, 0x41);
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), -EINVAL);
	v2_start(&h, 0x11, 0x11);
	h.len += 12;
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), -EINVAL);
}

static void test_v2_local_unspec_unix(void **state)
{
	struct hdr h;
	struct proxy_hdr ph;
	char path[108];
	static const struct want_field local_tlvs[] = {
		{ PROXY_F_TEXT, 17, 0x05, "frank@example.org" },
	};
	static const struct want_field opaque[] = {
		{ PROXY_F_TEXT, 19, 0, "x grace@example.org" },
	};
	static const struct want_field local_inet[] = {
		{ PROXY_F_ADDR, 4, 0, NULL },
		{ PROXY_F_ADDR, 4, 0, NULL },
	};
	static const struct want_field unix_paths[] = {
		{ PROXY_F_TEXT, 108, 0, NULL },
		{ PROXY_F_TEXT, 108, 0, NULL },
		{ PROXY_F_TEXT, 5, 0x02, "local" },
	};

	(void)state;
	/* LOCAL, AF_UNSPEC, a TLV list */
	v2_start(&h, 0x20, 0x00);
	add_str_tlv(&h, 0x05, "frank@example.org");
	add_crc_tlv(&h);
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), 1);
	assert_int_equal(ph.family, 0);
	assert_false(ph.opaque);
	assert_int_equal(ph.crc_off, h.crc_off);
	check_walk(h.b, h.len, &ph, local_tlvs, 1);

	/* LOCAL whose body is no TLV list: one opaque field */
	v2_start(&h, 0x20, 0x00);
	add(&h, "x grace@example.org", 19);
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), 1);
	assert_true(ph.opaque);
	assert_int_equal(ph.crc_off, 0);
	check_walk(h.b, h.len, &ph, opaque, 1);

	/* PROXY with AF_UNSPEC: the same */
	h.b[12] = 0x21;
	assert_int_equal(proxy_parse(h.b, h.len, &ph), 1);
	assert_true(ph.opaque);
	check_walk(h.b, h.len, &ph, opaque, 1);

	/* LOCAL with the relay's own IPv4 addresses: neither is a client's */
	v2_start(&h, 0x20, 0x11);
	add_addr(&h, AF_INET, "10.0.0.1");
	add_addr(&h, AF_INET, "10.0.0.2");
	add_port(&h, 1);
	add_port(&h, 2);
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), 1);
	assert_int_equal(ph.family, 0);
	check_walk(h.b, h.len, &ph, local_inet, 2);

	/* AF_UNIX over a stream: the paths are text */
	v2_start(&h, 0x21, 0x31);
	memset(path, 0, sizeof(path));
	strcpy(path, "/run/heidi@example.org.sock");
	add(&h, path, sizeof(path));
	add(&h, path, sizeof(path));
	add_str_tlv(&h, 0x02, "local");
	v2_end(&h);
	assert_int_equal(proxy_parse(h.b, h.len, &ph), 1);
	assert_int_equal(ph.family, 0);
	check_walk(h.b, h.len, &ph, unix_paths, 3);
}

static void test_v1_fields(void **state)
{
	const char *tcp4 = "PROXY TCP4 192.0.2.55 198.51.100.10 40001 5222\r\nx";
	const char *unknown = "PROXY UNKNOWN ivan@example.org 1.2.3.4\r\n";
	struct proxy_hdr ph;
	static const struct want_field want4[] = {
		{ PROXY_F_SOURCE, 10, 0, "192.0.2.55" },
		{ PROXY_F_TEXT, 13, 0, "198.51.100.10" },
		{ PROXY_F_TEXT, 5, 0, "40001" },
		{ PROXY_F_TEXT, 4, 0, "5222" },
	};
	static const struct want_field want_unknown[] = {
		{ PROXY_F_TEXT, 25, 0, " ivan@example.org 1.2.3.4" },
	};

	(void)state;
	assert_int_equal(proxy_parse((const uint8_t *)tcp4, (uint32_t)strlen(tcp4),
				     &ph), 1);
	assert_int_equal(ph.hdr_len, strlen(tcp4) - 1);
	check_walk((const uint8_t *)tcp4, (uint32_t)strlen(tcp4), &ph, want4, 4);
	assert_int_equal(proxy_parse((const uint8_t *)unknown,
				     (uint32_t)strlen(unknown), &ph), 1);
	check_walk((const uint8_t *)unknown, (uint32_t)strlen(unknown), &ph,
		   want_unknown, 1);

	/* cut short: the fields that end before the cut */
	for (uint32_t n = 6; n < strlen(tcp4) - 3; n++) {
		unsigned whole = n > 21 ? 1 : 0;	/* the space after it */

		whole += n > 35;
		whole += n > 41;
		assert_int_equal(proxy_parse((const uint8_t *)tcp4, n, &ph), -E2BIG);
		check_walk((const uint8_t *)tcp4, n, &ph, want4, whole);
	}
	for (uint32_t n = 6; n < strlen(unknown); n++) {
		assert_int_equal(proxy_parse((const uint8_t *)unknown, n, &ph),
				 -E2BIG);
		check_walk((const uint8_t *)unknown, n, &ph, want_unknown, 0);
	}
}

/* Whether the CRC32C value at @crc_off is the reference's over @buf. */
static bool crc_ok(const uint8_t *buf, uint32_t len, uint32_t crc_off)
{
	uint8_t copy[2048];

	memcpy(copy, buf, len);
	put32(copy + crc_off, 0);
	return get32(buf + crc_off) == ref_crc32c(copy, len);
}

static void test_crc_kept_wrong(void **state)
{
	struct hdr h;
	struct proxy_hdr ph;
	uint32_t before;

	(void)state;
	tcp4_header(&h, "192.0.2.55", "198.51.100.10", "a", "b", "c", "d");
	assert_int_equal(proxy_parse(h.b, h.len, &ph), 1);
	assert_true(crc_ok(h.b, h.len, h.crc_off));
	/* a right checksum is recomputed */
	before = proxy_crc(h.b, &ph);
	h.b[16] = 0;
	proxy_fix_crc(h.b, &ph, before);
	assert_true(crc_ok(h.b, h.len, h.crc_off));
	/* a wrong one stays wrong by as much */
	put32(h.b + h.crc_off, get32(h.b + h.crc_off) ^ 0x00010000);
	before = proxy_crc(h.b, &ph);
	h.b[17] = 0x77;
	proxy_fix_crc(h.b, &ph, before);
	assert_false(crc_ok(h.b, h.len, h.crc_off));
	assert_int_equal(get32(h.b + h.crc_off) ^ proxy_crc(h.b, &ph), 0x00010000);
}

/* ---- the engine: packets ----------------------------------------------- */

/* A TCP or UDP packet from 10.0.0.5 port @sport to 10.0.0.10 port 5222. */
static void relay_build(struct pk *k, uint8_t proto, uint16_t sport,
			uint8_t flags, uint32_t seq, const void *payload,
			uint32_t plen)
{
	build(k, proto, "10.0.0.5", sport, "10.0.0.10", 5222, flags, seq,
	      payload, plen);
}

static const char *relay_policy =
	"service relay {\n"
	"\tlisten tcp 5222\n"
	"\tlisten udp 5222\n"
	"\taddress ipv4 keep\n"
	"\taddress ipv6 keep\n"
	"\tredact proxy-protocol truncate 24 48\n"
	"\tredact ipv4 mask\n"
	"\tredact ipv6 truncate 32\n"
	"\tredact email mask\n"
	"}\n";

/* The held segments released: their payloads into @out at their place. */
static void drain(struct fx *f, uint32_t isn, uint8_t *out, uint8_t *seen)
{
	struct engine_release rel;

	while (engine_next_release(f->w, &rel)) {
		uint32_t seq = get32(rel.data + 24) - isn;
		uint32_t n = rel.len - 40;

		assert_true(rel.verdict == ENGINE_MODIFIED ||
			    rel.verdict == ENGINE_ACCEPT);
		assert_true(ref_verify(rel.data));
		memcpy(out + seq, payload_at(rel.data), n);
		memset(seen + seq, 1, n);
	}
}

/*
 * A client→server byte stream, cut at @cuts, through the engine on a new
 * connection from @sport: @out receives what the server gets.
 */
static void stream_through(struct fx *f, uint16_t sport, const uint8_t *data,
			   uint32_t len, const uint32_t *cuts, unsigned n_cuts,
			   uint8_t *out)
{
	const uint32_t isn = 5000;
	struct engine_result res;
	uint8_t seen[4096] = { 0 };
	struct pk k;
	uint64_t now = NOW;

	relay_build(&k, IPPROTO_TCP, sport, 0x02, isn - 1, "", 0);
	engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_IN, now, 0, 0,
		       &res);
	assert_true(res.verdict == ENGINE_MODIFIED || res.verdict == ENGINE_ACCEPT);
	for (unsigned c = 0; c <= n_cuts; c++) {
		uint32_t a = c ? cuts[c - 1] : 0, b = c < n_cuts ? cuts[c] : len;

		relay_build(&k, IPPROTO_TCP, sport, 0x18, isn + a, data + a, b - a);
		now += MS;
		engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_IN, now, 0,
			       1 + c, &res);
		if (res.verdict == ENGINE_MODIFIED || res.verdict == ENGINE_ACCEPT) {
			assert_true(ref_verify(k.b));
			memcpy(out + a, payload_at(k.b), b - a);
			memset(seen + a, 1, b - a);
		} else {
			assert_int_equal(res.verdict, ENGINE_HOLD);
		}
		drain(f, isn, out, seen);
		if (c == n_cuts) {
			engine_release_all(f->rs, f->ft, f->w);
			drain(f, isn, out, seen);
		}
	}
	for (uint32_t i = 0; i < len; i++)
		assert_int_equal(seen[i], 1);
}

/* What the server gets of @data sent whole in one segment. */
static void one_segment(struct fx *f, uint16_t sport, const uint8_t *data,
			uint32_t len, uint8_t *out)
{
	stream_through(f, sport, data, len, NULL, 0, out);
}

static void test_engine_v2_tcp4_every_field(void **state)
{
	struct fx *f = fx_new(relay_policy);
	struct hdr in, want;
	uint8_t msg[2048], out[2048];
	const char *tail = "hi dave@example.org";
	uint32_t n;

	(void)state;
	tcp4_header(&in, "192.0.2.55", "198.51.100.10", "alice@example.org",
		    "id:192.0.2.55", "ns-bob@example.net", "carol@example.com");
	tcp4_header(&want, "192.0.2.0", "0.0.0.0", "xxxxx@xxxxxxx.xxx",
		    "id:000.0.0.00", "xx-xxx@xxxxxxx.xxx", "xxxxx@xxxxxxx.xxx");
	n = in.len;
	memcpy(msg, in.b, n);
	memcpy(msg + n, tail, strlen(tail));
	one_segment(f, 41000, msg, n + (uint32_t)strlen(tail), out);
	assert_memory_equal(out, want.b, want.len);
	assert_memory_equal(out + n, "hi xxxx@xxxxxxx.xxx", strlen(tail));
	/* the CRC32c is the reference's over the new header */
	assert_true(crc_ok(out, want.len, want.crc_off));
	assert_int_not_equal(get32(out + want.crc_off), get32(in.b + in.crc_off));
	fx_free(f);
}

static void test_engine_v2_tcp6(void **state)
{
	struct fx *f = fx_new(relay_policy);
	struct hdr in, want;
	uint8_t out[2048];

	(void)state;
	v2_start(&in, 0x21, 0x21);
	add_addr(&in, AF_INET6, "2001:db8:1:2::55");
	add_addr(&in, AF_INET6, "2001:db8:ffff:1::10");
	add_port(&in, 40002);
	add_port(&in, 5222);
	add_str_tlv(&in, 0x02, "judy@example.org");
	v2_end(&in);
	v2_start(&want, 0x21, 0x21);
	add_addr(&want, AF_INET6, "2001:db8:1::");
	add_addr(&want, AF_INET6, "2001:db8::");
	add_port(&want, 40002);
	add_port(&want, 5222);
	add_str_tlv(&want, 0x02, "xxxx@xxxxxxx.xxx");
	v2_end(&want);
	one_segment(f, 41001, in.b, in.len, out);
	assert_memory_equal(out, want.b, want.len);
	fx_free(f);
}

static void test_engine_v2_udp(void **state)
{
	struct fx *f = fx_new(relay_policy);
	struct hdr in, want;
	struct engine_result res;
	const char *msg = "<13>1 - host app - - - from erin@example.org";
	uint32_t mlen = (uint32_t)strlen(msg);
	struct pk k;

	(void)state;
	/* AF_INET over DGRAM */
	v2_start(&in, 0x21, 0x12);
	add_addr(&in, AF_INET, "192.0.2.77");
	add_addr(&in, AF_INET, "198.51.100.10");
	add_port(&in, 514);
	add_port(&in, 5222);
	add_ssl(&in, "TLSv1.2", "erin@example.org");
	add_crc_tlv(&in);
	v2_end(&in);
	v2_start(&want, 0x21, 0x12);
	add_addr(&want, AF_INET, "192.0.2.0");
	add_addr(&want, AF_INET, "0.0.0.0");
	add_port(&want, 514);
	add_port(&want, 5222);
	add_ssl(&want, "TLSv1.2", "xxxx@xxxxxxx.xxx");
	add_crc_tlv(&want);
	v2_end(&want);
	memcpy(in.b + in.len, msg, mlen);
	relay_build(&k, IPPROTO_UDP, 514, 0, 0, in.b, in.len + mlen);
	engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_IN, NOW, 0, 1,
		       &res);
	assert_int_equal(res.verdict, ENGINE_MODIFIED);
	assert_true(ref_verify(k.b));
	assert_memory_equal(payload_at(k.b), want.b, want.len);
	assert_memory_equal(payload_at(k.b) + want.len,
			    "<13>1 - host app - - - from xxxx@xxxxxxx.xxx", mlen);
	fx_free(f);
}

static void test_engine_v2_local_and_unix(void **state)
{
	struct fx *f = fx_new(relay_policy);
	struct hdr in, want;
	uint8_t out[2048];
	char path[108], masked[108];

	(void)state;
	/* LOCAL with TLVs (a CRC among them) */
	v2_start(&in, 0x20, 0x00);
	add_str_tlv(&in, 0x05, "frank@example.org");
	add_crc_tlv(&in);
	v2_end(&in);
	v2_start(&want, 0x20, 0x00);
	add_str_tlv(&want, 0x05, "xxxxx@xxxxxxx.xxx");
	add_crc_tlv(&want);
	v2_end(&want);
	one_segment(f, 41010, in.b, in.len, out);
	assert_memory_equal(out, want.b, want.len);

	/* LOCAL with an opaque body */
	v2_start(&in, 0x20, 0x00);
	add(&in, "x grace@example.org", 19);
	v2_end(&in);
	memcpy(want.b, in.b, in.len);
	memcpy(want.b + 16, "x xxxxx@xxxxxxx.xxx", 19);
	one_segment(f, 41011, in.b, in.len, out);
	assert_memory_equal(out, want.b, in.len);

	/* LOCAL with the relay's own addresses: the ipv4 rule (mask) */
	v2_start(&in, 0x20, 0x11);
	add_addr(&in, AF_INET, "10.0.0.1");
	add_addr(&in, AF_INET, "10.0.0.2");
	add_port(&in, 1);
	add_port(&in, 2);
	v2_end(&in);
	memcpy(want.b, in.b, in.len);
	memset(want.b + 16, 0, 8);
	one_segment(f, 41012, in.b, in.len, out);
	assert_memory_equal(out, want.b, in.len);

	/* AF_UNIX: the paths are text */
	v2_start(&in, 0x21, 0x31);
	memset(path, 0, sizeof(path));
	strcpy(path, "/run/heidi@example.org.sock");
	add(&in, path, sizeof(path));
	add(&in, path, sizeof(path));
	v2_end(&in);
	memset(masked, 0, sizeof(masked));
	/* '/' is atext: the local part is "/run/heidi" */
	strcpy(masked, "/xxx/xxxxx@xxxxxxx.xxx.xxxx");
	memcpy(want.b, in.b, 16);
	memcpy(want.b + 16, masked, 108);
	memcpy(want.b + 124, masked, 108);
	one_segment(f, 41013, in.b, in.len, out);
	assert_memory_equal(out, want.b, in.len);
	fx_free(f);
}

static void test_engine_v1_forms(void **state)
{
	struct fx *f = fx_new(relay_policy);
	const char *unknown = "PROXY UNKNOWN ivan@example.org 192.0.2.1\r\nhi";
	const char *tcp6 = "PROXY TCP6 2001:db8:1:2::55 2001:db8:ffff:1::10 40001 5222\r\n";
	uint8_t out[256];

	(void)state;
	one_segment(f, 41020, (const uint8_t *)unknown, (uint32_t)strlen(unknown), out);
	assert_memory_equal(out, "PROXY UNKNOWN xxxx@xxxxxxx.xxx 000.0.0.0\r\nhi",
			    strlen(unknown));
	one_segment(f, 41021, (const uint8_t *)tcp6, (uint32_t)strlen(tcp6), out);
	assert_memory_equal(out,
			    "PROXY TCP6 2001:db8:1:0::00 2001:db8:0000:0::00 40001 5222\r\n",
			    strlen(tcp6));
	fx_free(f);
}

/*
 * An IPv4-mapped client address in PROXY text follows the IPv4 address
 * rule, as it does in the IP header and in a v2 header's binary field.
 */
static void test_engine_v1_mapped_source(void **state)
{
	struct fx *f = fx_new("service relay {\n\tlisten tcp 5222\n"
			      "\taddress ipv4 truncate 24\n"
			      "\taddress ipv6 keep\n"
			      "\tredact proxy-protocol address\n}\n");
	const char *v1 = "PROXY TCP6 ::ffff:198.51.100.77 2001:db8::10 40001 5222\r\n";
	const char *v6 = "PROXY TCP6 2001:db8:1:2::55 2001:db8::10 40001 5222\r\n";
	struct hdr in;
	uint8_t out[256];

	(void)state;
	one_segment(f, 41040, (const uint8_t *)v1, (uint32_t)strlen(v1), out);
	assert_memory_equal(out,
			    "PROXY TCP6 ::ffff:198.51.100.00 2001:db8::10 40001 5222\r\n",
			    strlen(v1));
	/* other IPv6 addresses: the ipv6 rule (keep) */
	one_segment(f, 41041, (const uint8_t *)v6, (uint32_t)strlen(v6), out);
	assert_memory_equal(out, v6, strlen(v6));
	/* the same address in binary (v2) */
	v2_start(&in, 0x21, 0x21);
	add_addr(&in, AF_INET6, "::ffff:198.51.100.77");
	add_addr(&in, AF_INET6, "2001:db8::10");
	add_port(&in, 40001);
	add_port(&in, 5222);
	v2_end(&in);
	one_segment(f, 41042, in.b, in.len, out);
	assert_memory_equal(out + 16, in.b + 16, 12);
	assert_memory_equal(out + 28, "\xc6\x33\x64\x00", 4);
	fx_free(f);
}

static void test_engine_v2_destination_actions(void **state)
{
	struct fx *t = fx_new("service relay {\n\tlisten tcp 5222\n"
			      "\taddress ipv4 keep\n"
			      "\tredact proxy-protocol truncate 24 48\n"
			      "\tredact ipv4 truncate 16\n}\n");
	struct fx *k = fx_new("service relay {\n\tlisten tcp 5222\n"
			      "\taddress ipv4 keep\n"
			      "\tredact proxy-protocol address\n"
			      "\tredact ipv4 token\n}\n");
	struct fx *none = fx_new("service relay {\n\tlisten tcp 5222\n"
				 "\taddress ipv4 keep\n"
				 "\tredact proxy-protocol truncate 24 48\n}\n");
	struct hdr in, in6;
	uint8_t out[256], out2[256];

	(void)state;
	v2_start(&in, 0x21, 0x11);
	add_addr(&in, AF_INET, "192.0.2.55");
	add_addr(&in, AF_INET, "198.51.100.10");
	add_port(&in, 40001);
	add_port(&in, 5222);
	add_crc_tlv(&in);
	v2_end(&in);

	/* truncate: the ipv4 rule's prefix */
	one_segment(t, 41030, in.b, in.len, out);
	assert_memory_equal(out + 16, "\xc0\x00\x02\x00\xc6\x33\x00\x00", 8);
	assert_true(crc_ok(out, in.len, in.crc_off));

	/* token: keyed, stable, neither the original nor zero */
	one_segment(k, 41031, in.b, in.len, out);
	one_segment(k, 41032, in.b, in.len, out2);
	assert_memory_equal(out + 16, "\xc0\x00\x02\x37", 4);	/* address keep */
	assert_memory_equal(out + 20, out2 + 20, 4);
	assert_memory_not_equal(out + 20, in.b + 20, 4);
	assert_memory_not_equal(out + 20, "\0\0\0\0", 4);
	assert_memory_equal(out + 24, in.b + 24, 4);		/* ports */
	assert_true(crc_ok(out, in.len, in.crc_off));

	/* no ipv4 rule: the destination stays */
	one_segment(none, 41033, in.b, in.len, out);
	assert_memory_equal(out + 20, in.b + 20, 4);

	/* an IPv4-mapped destination follows the ipv4 rule */
	v2_start(&in6, 0x21, 0x21);
	add_addr(&in6, AF_INET6, "2001:db8:1:2::55");
	add_addr(&in6, AF_INET6, "::ffff:198.51.100.10");
	add_port(&in6, 40001);
	add_port(&in6, 5222);
	v2_end(&in6);
	one_segment(t, 41034, in6.b, in6.len, out);
	assert_memory_equal(out + 32, in6.b + 32, 12);
	assert_memory_equal(out + 44, "\xc6\x33\x00\x00", 4);
	fx_free(t);
	fx_free(k);
	fx_free(none);
}

/* The header cut across two segments at every offset: the same bytes. */
static void test_engine_stream_every_cut(void **state)
{
	struct fx *f = fx_new(relay_policy);
	struct hdr in;
	const char *v1 = "PROXY UNKNOWN ivan@example.org 192.0.2.1\r\nhi trent@example.org\r\n";
	uint8_t msg[2048], whole[2048], out[2048];
	uint32_t n;
	uint16_t port = 42000;

	(void)state;
	tcp4_header(&in, "192.0.2.55", "198.51.100.10", "alice@example.org",
		    "id:192.0.2.55", "ns-bob@example.net", "carol@example.com");
	memcpy(msg, in.b, in.len);
	memcpy(msg + in.len, "hi dave@example.org\r\n", 21);
	n = in.len + 21;
	one_segment(f, port++, msg, n, whole);
	for (uint32_t c = 1; c < n; c++) {
		memset(out, 0, sizeof(out));
		stream_through(f, port++, msg, n, &c, 1, out);
		assert_memory_equal(out, whole, n);
	}
	n = (uint32_t)strlen(v1);
	one_segment(f, port++, (const uint8_t *)v1, n, whole);
	assert_memory_equal(whole, "PROXY UNKNOWN xxxx@xxxxxxx.xxx 000.0.0.0\r\n"
			    "hi xxxxx@xxxxxxx.xxx\r\n", n);
	for (uint32_t c = 1; c < n; c++) {
		memset(out, 0, sizeof(out));
		stream_through(f, port++, (const uint8_t *)v1, n, &c, 1, out);
		assert_memory_equal(out, whole, n);
	}
	fx_free(f);
}

/* A first segment sent again, holding part of the header: as released. */
static void test_engine_retransmitted_prefix(void **state)
{
	struct fx *f = fx_new(relay_policy);
	struct hdr in;
	struct engine_result res;
	uint8_t out[2048];
	uint32_t cut = 40;
	struct pk k;

	(void)state;
	tcp4_header(&in, "192.0.2.55", "198.51.100.10", "alice@example.org",
		    "id:192.0.2.55", "ns-bob@example.net", "carol@example.com");
	stream_through(f, 43000, in.b, in.len, &cut, 1, out);
	relay_build(&k, IPPROTO_TCP, 43000, 0x18, 5000, in.b, cut);
	engine_process(f->rs, f->ft, f->w, k.b, k.len, ENGINE_DIR_IN, NOW + 10 * MS,
		       0, 9, &res);
	assert_int_equal(res.verdict, ENGINE_MODIFIED);
	assert_true(ref_verify(k.b));
	assert_memory_equal(payload_at(k.b), out, cut);
	fx_free(f);
}

static int reported;

static void count_cb(void *ctx, enum det_kind det, const uint8_t *t, uint32_t n)
{
	(void)ctx;
	(void)det;
	(void)t;
	(void)n;
	reported++;
}

static void test_engine_scan_reads_fields(void **state)
{
	struct fx *f = fx_new(relay_policy);
	struct hdr in;

	(void)state;
	tcp4_header(&in, "192.0.2.55", "198.51.100.10", "alice@example.org",
		    "id:192.0.2.55", "ns-bob@example.net", "carol@example.com");
	reported = 0;
	/* source, destination, CN, the IPv4 in UNIQUE_ID, NETNS, custom */
	assert_int_equal(engine_scan(f->rs, f->w, 0, in.b, in.len, count_cb, NULL), 6);
	assert_int_equal(reported, 6);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_check_value),
		cmocka_unit_test(test_v2_fields),
		cmocka_unit_test(test_v2_malformed),
		cmocka_unit_test(test_v2_local_unspec_unix),
		cmocka_unit_test(test_v1_fields),
		cmocka_unit_test(test_crc_kept_wrong),
		cmocka_unit_test(test_engine_v2_tcp4_every_field),
		cmocka_unit_test(test_engine_v2_tcp6),
		cmocka_unit_test(test_engine_v2_udp),
		cmocka_unit_test(test_engine_v2_local_and_unix),
		cmocka_unit_test(test_engine_v1_forms),
		cmocka_unit_test(test_engine_v1_mapped_source),
		cmocka_unit_test(test_engine_v2_destination_actions),
		cmocka_unit_test(test_engine_stream_every_cut),
		cmocka_unit_test(test_engine_retransmitted_prefix),
		cmocka_unit_test(test_engine_scan_reads_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
