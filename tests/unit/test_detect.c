/*
 * test_detect.c — the identifier detectors: each built-in detector on
 * tables of tricky positives and negatives, the combined scan (overlap
 * resolution, literals, patterns, headers, overflow) and allow ranges.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pcre2.h>

#include "detect.h"
#include "ruleset.h"

typedef bool (*detector_fn)(const uint8_t *, uint32_t, uint32_t,
			    uint32_t *, uint32_t *);

/* One case: the input and the texts of the expected matches, in order. */
struct det_case {
	const char *in;
	const char *want[4];
};

static uint8_t *dup_exact(const char *s, size_t n)
{
	/* an exact-size heap copy, so that ASan sees any read past the end */
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

static void run_cases(detector_fn fn, const struct det_case *c, size_t n)
{
	for (size_t k = 0; k < n; k++, c++) {
		size_t len = strlen(c->in);
		uint8_t *b = dup_exact(c->in, len);
		uint32_t from = 0, s, e;
		unsigned got = 0;

		while (fn(b, (uint32_t)len, from, &s, &e)) {
			const char *w = c->want[got];
			const uint8_t *at;

			if (!w) {
				fail_msg("case %zu \"%s\": unexpected match \"%.*s\"",
					 k, c->in, (int)(e - s), b + s);
			}
			at = memmem(b + from, len - from, w, strlen(w));
			if (!at || (uint32_t)(at - b) != s ||
			    e - s != strlen(w)) {
				fail_msg("case %zu \"%s\": match \"%.*s\" at %u, want \"%s\"",
					 k, c->in, (int)(e - s), b + s, s, w);
			}
			assert_true(e > s && e <= len && s >= from);
			from = e;
			got++;
		}
		if (c->want[got])
			fail_msg("case %zu \"%s\": missing \"%s\"", k, c->in,
				 c->want[got]);
		free(b);
	}
}

#define RUN(fn, cases) run_cases(fn, cases, sizeof(cases) / sizeof(cases[0]))

static void test_ipv4(void **state)
{
	static const struct det_case cases[] = {
		{ "1.2.3.4", { "1.2.3.4" } },
		{ "host 192.168.1.1:8080 up", { "192.168.1.1" } },
		{ "010.001.000.255", { "010.001.000.255" } },
		{ "255.255.255.255", { "255.255.255.255" } },
		{ "1.2.3.04", { "1.2.3.04" } },
		{ "a 1.2.3.4, 5.6.7.8;", { "1.2.3.4", "5.6.7.8" } },
		{ "1.2.3.4,5.6.7.8", { "1.2.3.4", "5.6.7.8" } },
		{ "1.2.3.4 1.2.3.4", { "1.2.3.4", "1.2.3.4" } },
		{ "for=192.0.2.60;by=[203.0.113.43]", { "192.0.2.60", "203.0.113.43" } },
		{ "end 1.2.3.4.", { "1.2.3.4" } },
		{ "1.2.3.4.example", { "1.2.3.4" } },
		{ "x.1.2.3.4", { "1.2.3.4" } },
		{ "::ffff:10.0.0.1", { "10.0.0.1" } },
		{ "ip=10.0.0.1\r\n", { "10.0.0.1" } },
		{ "\x01\xff""1.2.3.4\x80", { "1.2.3.4" } },
		/* negatives */
		{ "256.1.1.1", { NULL } },
		{ "311.2.3.4", { NULL } },
		{ "version 1.2.3", { NULL } },
		{ "0001.2.3.4", { NULL } },
		{ "1..2.3.4", { NULL } },
		{ "1.2.3.", { NULL } },
		{ ".", { NULL } },
		{ "", { NULL } },
	};

	RUN(detect_ipv4, cases);
}

static void test_ipv6(void **state)
{
	static const struct det_case cases[] = {
		{ "2001:db8:0:0:1:0:0:1", { "2001:db8:0:0:1:0:0:1" } },
		{ "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
		  { "2001:0db8:85a3:0000:0000:8a2e:0370:7334" } },
		{ "to 2001:db8::1, next", { "2001:db8::1" } },
		{ "::1", { "::1" } },
		{ "fe80::", { "fe80::" } },
		{ "a fe80:: b", { "fe80::" } },
		{ "1:2:3:4:5:6:7::", { "1:2:3:4:5:6:7::" } },
		{ "::2:3:4:5:6:7:8", { "::2:3:4:5:6:7:8" } },
		{ "::ffff:192.0.2.1", { "::ffff:192.0.2.1" } },
		{ "64:ff9b::192.0.2.1", { "64:ff9b::192.0.2.1" } },
		{ "2001:db8::192.0.2.1", { "2001:db8::192.0.2.1" } },
		{ "1:2:3:4:5:6:1.2.3.4", { "1:2:3:4:5:6:1.2.3.4" } },
		{ "::1.2.3.4", { "::1.2.3.4" } },
		{ "fe80::1%eth0 up", { "fe80::1%eth0" } },
		{ "fe80::1%eth0.", { "fe80::1%eth0" } },
		{ "[2001:db8::1]:443", { "2001:db8::1" } },
		{ "for=\"[2001:db8:cafe::17]:4711\"", { "2001:db8:cafe::17" } },
		{ "2001:DB8::ABCD", { "2001:DB8::ABCD" } },
		{ "fe80::1 fe80::2", { "fe80::1", "fe80::2" } },
		{ "::1,::2", { "::1", "::2" } },
		{ "ends 2001:db8::1.", { "2001:db8::1" } },
		{ "\xfe\x01" "2001:db8::7\x00", { "2001:db8::7" } },
		/* negatives */
		{ "00:1a:2b:3c:4d:5e", { NULL } },
		{ "at 12:34:56 ok", { NULL } },
		{ "::", { NULL } },
		{ "a :: b", { NULL } },
		{ "std::vector<int>", { NULL } },
		{ "Foo::Bar", { NULL } },
		{ "1::2::3", { NULL } },
		{ "1:2:3:4:5:6:7", { NULL } },
		{ "1.2001:db8::1", { NULL } },
		{ "2001:db8::1:", { NULL } },
		{ "::ffff:1.2.3", { NULL } },
		{ "1:2:3:4:5:6:7:1.2.3.4", { NULL } },
		{ "::ffff:256.1.1.1", { NULL } },
		{ ":1:2:3:4:5:6:7:8", { NULL } },
		{ "", { NULL } },
	};

	RUN(detect_ipv6, cases);
}

static void test_email(void **state)
{
	static const struct det_case cases[] = {
		{ "alice@example.org", { "alice@example.org" } },
		{ "Mail: <bob.smith+tag@mail.example.co.uk>.",
		  { "bob.smith+tag@mail.example.co.uk" } },
		{ "x!#$%&'*+-/?^_`{|}~@example.com",
		  { "x!#$%&'*+-/?^_`{|}~@example.com" } },
		/* '=' separates a key from the address */
		{ "id=alice@example.org", { "alice@example.org" } },
		{ "NOTIFY=carol@example.org", { "carol@example.org" } },
		{ "to user@[192.0.2.1] now", { "user@[192.0.2.1]" } },
		{ "user@[IPv6:2001:db8::1]", { "user@[IPv6:2001:db8::1]" } },
		{ "xa@b.cox", { "xa@b.cox" } },
		{ ".john@example.com", { "john@example.com" } },
		{ "a..b@example.com", { "b@example.com" } },
		{ "a@example.com-", { "a@example.com" } },
		{ "a@example.com.", { "a@example.com" } },
		{ "a@b@c.com", { "b@c.com" } },
		{ "a@mail.example.123", { "a@mail.example" } },
		{ "a@x.org,b@y.org", { "a@x.org", "b@y.org" } },
		{ "a@x-y.org", { "a@x-y.org" } },
		{ "xxxxx@xxxxxxx.xxx", { "xxxxx@xxxxxxx.xxx" } },
		{ "\x80\x01u@ex.io\xff", { "u@ex.io" } },
		/* a binary field right after the address (MQTT: '0' = PUBLISH) */
		{ "\x11" "alice@example.org0" "\x1c", { "alice@example.org" } },
		{ "a@example.org42", { "a@example.org" } },
		/* negatives */
		{ "a@b", { NULL } },
		{ "a@b.c", { NULL } },
		{ "a@b.c0m", { NULL } },
		{ "root@localhost", { NULL } },
		{ "john.@example.com", { NULL } },
		{ "@example.com", { NULL } },
		{ "a@-example.com", { NULL } },
		{ "a@example-.com", { NULL } },
		{ "a@.example.com", { NULL } },
		{ "a@[1.2.3.4", { NULL } },
		{ "a@[1.2.3]", { NULL } },
		{ "@", { NULL } },
		{ "", { NULL } },
	};

	RUN(detect_email, cases);
}

static void test_phone(void **state)
{
	static const struct det_case cases[] = {
		{ "+15551234567", { "+15551234567" } },
		{ "call +1 (555) 123-4567 now", { "+1 (555) 123-4567" } },
		{ "+44 20 7946 0958", { "+44 20 7946 0958" } },
		{ "+49-30-1234567", { "+49-30-1234567" } },
		{ "+33.1.23.45.67.89", { "+33.1.23.45.67.89" } },
		{ "+1 555.123.4567", { "+1 555.123.4567" } },
		{ "+1(555)1234567", { "+1(555)1234567" } },
		{ "(+44) 20 7946 0958", { "+44) 20 7946 0958" } },
		{ "+12345678", { "+12345678" } },
		{ "+123456789012345", { "+123456789012345" } },
		{ "+15551234567.", { "+15551234567" } },
		{ "+15551234567-", { "+15551234567" } },
		{ "tel:+15551234567;x", { "+15551234567" } },
		{ "+15551234567,+15557654321", { "+15551234567", "+15557654321" } },
		{ "\xff+4930123456\x00", { "+4930123456" } },
		/* a following digit group is taken in while 15 digits allow */
		{ "+4930123456 00", { "+4930123456 00" } },
		/* negatives */
		{ "+1234567", { NULL } },
		{ "+1234567890123456", { NULL } },
		{ "+1 555 123 4567 8901 2", { "+1 555 123 4567 8901" } },	/* ends before the group past 15 */
		{ "+15551234567 12345", { "+15551234567" } },	/* ends before the group past 15 */
		{ "1+15551234567", { NULL } },
		{ "+1  555  1234567", { NULL } },
		{ "+ 15551234567", { NULL } },
		{ "+1--5551234567", { NULL } },
		{ "+", { NULL } },
		{ "", { NULL } },
	};

	RUN(detect_phone, cases);
}

static void test_mac(void **state)
{
	static const struct det_case cases[] = {
		{ "00:1A:2b:3c:4d:5e", { "00:1A:2b:3c:4d:5e" } },
		{ "00-1a-2b-3c-4d-5e", { "00-1a-2b-3c-4d-5e" } },
		{ "001a.2b3c.4d5e", { "001a.2b3c.4d5e" } },
		{ "mac=00:1a:2b:3c:4d:5e,", { "00:1a:2b:3c:4d:5e" } },
		{ "00:1a:2b:3c:4d:5e.", { "00:1a:2b:3c:4d:5e" } },
		{ "00:1a:2b:3c:4d:5e 00-1a-2b-3c-4d-5f",
		  { "00:1a:2b:3c:4d:5e", "00-1a-2b-3c-4d-5f" } },
		/* negatives */
		{ "00:1a:2b:3c:4d:5e:6f", { NULL } },
		{ "00:1a:2b-3c:4d:5e", { NULL } },
		{ "00:1a:2b:3c:4d", { NULL } },
		{ "fe80::00:1a:2b:3c:4d:5e", { NULL } },
		{ "001a.2b3c.4d5e.1234", { NULL } },
		{ "001a.2b3c.4d5", { NULL } },
		{ "00:1g:2b:3c:4d:5e", { NULL } },
		{ "", { NULL } },
	};

	RUN(detect_mac, cases);
}

static void test_from_offset(void **state)
{
	const uint8_t *b = (const uint8_t *)"1.2.3.4 5.6.7.8";
	uint32_t s, e;

	assert_true(detect_ipv4(b, 15, 0, &s, &e));
	assert_int_equal(s, 0);
	assert_true(detect_ipv4(b, 15, 1, &s, &e));
	assert_int_equal(s, 8);
	assert_int_equal(e, 15);
	assert_false(detect_ipv4(b, 15, 9, &s, &e));
	/* the length bounds the scan: the text past it is not seen */
	assert_false(detect_ipv4(b, 6, 0, &s, &e));
}

static void test_ip_text(void **state)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff,
		192, 0, 2, 1 };
	uint8_t a[16];

	assert_int_equal(detect_ip_text((const uint8_t *)"192.0.2.1", 9, a), 4);
	assert_memory_equal(a, "\xc0\x00\x02\x01", 4);
	assert_int_equal(detect_ip_text((const uint8_t *)"010.0.2.1", 9, a), 4);
	assert_int_equal(a[0], 10);
	assert_int_equal(detect_ip_text((const uint8_t *)"2001:db8::1", 11, a), 6);
	assert_memory_equal(a, v6, 16);
	assert_int_equal(detect_ip_text((const uint8_t *)"2001:DB8::1%eth0", 16, a), 6);
	assert_memory_equal(a, v6, 16);
	assert_int_equal(detect_ip_text((const uint8_t *)"::ffff:192.0.2.1", 16, a), 6);
	assert_memory_equal(a, mapped, 16);
	assert_int_equal(detect_ip_text((const uint8_t *)"1.2.3", 5, a), 0);
	assert_int_equal(detect_ip_text((const uint8_t *)"1.2.3.4x", 8, a), 0);
	assert_int_equal(detect_ip_text((const uint8_t *)"::", 2, a), 0);
	assert_int_equal(detect_ip_text((const uint8_t *)"1:2:3", 5, a), 0);
}

/* ---- the combined scan ---------------------------------------------- */

static struct ruleset rs_fixture;	/* big: static */

static pcre2_code *compile_re(const char *pat, bool jit)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
				       0, &err, &off, NULL);

	assert_non_null(re);
	if (jit)
		assert_int_equal(pcre2_jit_compile(re, PCRE2_JIT_COMPLETE), 0);
	return re;
}

static struct detect_scratch *scratch(void)
{
	struct detect_scratch *s;

	rs_fixture.max_capture = 4;
	s = detect_scratch_new(&rs_fixture);
	assert_non_null(s);
	return s;
}

static struct rs_service svc_of(struct rs_redact *r, unsigned n)
{
	struct rs_service svc = { .redact = r, .n_redact = n };

	for (unsigned k = 0; k < n; k++)
		svc.det_mask |= 1u << r[k].det;
	return svc;
}

static int scan_str(const struct rs_service *svc, struct detect_scratch *s,
		    const char *text, unsigned flags,
		    const struct detect_match **m)
{
	return detect_scan(svc, s, (const uint8_t *)text, (uint32_t)strlen(text),
			   flags, m);
}

#define assert_match(m, s_, e_, rule_, det_) do {		\
	assert_int_equal((m).start, (s_));			\
	assert_int_equal((m).end, (e_));			\
	assert_int_equal((m).rule, (rule_));			\
	assert_int_equal((m).det, (det_));			\
} while (0)

static void test_scan_overlaps(void **state)
{
	struct detect_scratch *s = scratch();
	struct rs_redact r[] = {
		{ .det = DET_IPV4 }, { .det = DET_IPV6 }, { .det = DET_EMAIL },
		{ .det = DET_PHONE }, { .det = DET_MAC },
	};
	struct rs_service svc = svc_of(r, 5);
	const struct detect_match *m;
	const char *t;

	/*
	 * Overlapping matches are all kept, sorted by start, the longer
	 * first: the engine merges them.  The IPv6 address starts first and
	 * contains the IPv4 one.
	 */
	t = "src ::ffff:192.0.2.1 end";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
	assert_match(m[0], 4, 20, 1, DET_IPV6);
	assert_match(m[1], 11, 20, 0, DET_IPV4);

	/* equal start: the longer email first, then the IPv4 local part */
	t = "1.2.3.4@example.com";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
	assert_match(m[0], 0, 19, 2, DET_EMAIL);
	assert_match(m[1], 0, 7, 0, DET_IPV4);

	/* a phone as local part */
	t = "+15551234567@example.com";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
	assert_match(m[0], 0, 24, 2, DET_EMAIL);
	assert_match(m[1], 0, 12, 3, DET_PHONE);

	/* an IPv6 zone that runs into an email: neither is dropped */
	t = "fe80::1%alice@example.org";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
	assert_match(m[0], 0, 13, 1, DET_IPV6);
	assert_match(m[1], 6, 25, 2, DET_EMAIL);

	/* a MAC whose last group begins an email's local part */
	t = "00:1a:2b:3c:4d:5e.alice@example.org";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
	assert_match(m[0], 0, 17, 4, DET_MAC);
	assert_match(m[1], 15, 35, 2, DET_EMAIL);

	/* every kind at once, sorted, adjacent matches kept apart */
	t = "a@b.io 10.0.0.1 +4930123456,00:1a:2b:3c:4d:5e fe80::1,1.1.1.1";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 6);
	assert_match(m[0], 0, 6, 2, DET_EMAIL);
	assert_match(m[1], 7, 15, 0, DET_IPV4);
	assert_match(m[2], 16, 27, 3, DET_PHONE);
	assert_match(m[3], 28, 45, 4, DET_MAC);
	assert_match(m[4], 46, 53, 1, DET_IPV6);
	assert_match(m[5], 54, 61, 0, DET_IPV4);

	/* email domain literals, and the addresses inside them */
	t = "x@[IPv6:2001:db8::1] y@[1.2.3.4]";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 4);
	assert_match(m[0], 0, 20, 2, DET_EMAIL);
	assert_match(m[1], 8, 19, 1, DET_IPV6);
	assert_match(m[2], 21, 32, 2, DET_EMAIL);
	assert_match(m[3], 24, 31, 0, DET_IPV4);

	/*
	 * Two addresses glued by an atext byte (an MQTT topic): the second
	 * one's local part takes the first's domain in, and it is kept,
	 * overlapping the first, so that the union is rewritten.
	 */
	t = "u/alice@example.org/devices/bob@example.org";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
	assert_match(m[0], 0, 19, 2, DET_EMAIL);
	assert_match(m[1], 8, 43, 2, DET_EMAIL);
	t = "alice@example.org/dave@example.org,eve@example.org";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 3);
	assert_match(m[0], 0, 17, 2, DET_EMAIL);
	assert_match(m[1], 6, 34, 2, DET_EMAIL);
	assert_match(m[2], 35, 50, 2, DET_EMAIL);

	assert_int_equal(scan_str(&svc, s, "", DETECT_LINE_START, &m), 0);
	detect_scratch_free(s);
}

static void test_scan_rule_order(void **state)
{
	struct detect_scratch *s = scratch();
	struct rs_redact r[] = {
		{ .det = DET_LITERAL, .literal = (const uint8_t *)"alice@example.org",
		  .literal_len = 17 },
		{ .det = DET_EMAIL },
		{ .det = DET_LITERAL, .literal = (const uint8_t *)"xalice",
		  .literal_len = 6 },
	};
	struct rs_service svc = svc_of(r, 2);
	const struct detect_match *m;

	/* equal span: both, the earlier rule first */
	assert_int_equal(scan_str(&svc, s, "to alice@example.org", DETECT_LINE_START, &m), 2);
	assert_match(m[0], 3, 20, 0, DET_LITERAL);
	assert_match(m[1], 3, 20, 1, DET_EMAIL);
	svc = svc_of(r + 1, 1);
	assert_int_equal(scan_str(&svc, s, "to alice@example.org", DETECT_LINE_START, &m), 1);
	assert_match(m[0], 3, 20, 0, DET_EMAIL);

	/* at the same start the longer one first, whatever the rule order */
	svc = svc_of(r + 1, 2);
	assert_int_equal(scan_str(&svc, s, "(xalice@example.org", DETECT_LINE_START, &m), 2);
	assert_match(m[0], 1, 19, 0, DET_EMAIL);
	assert_match(m[1], 1, 7, 1, DET_LITERAL);
	assert_int_equal(scan_str(&svc, s, "+xalice@example.org", DETECT_LINE_START, &m), 2);
	assert_match(m[0], 0, 19, 0, DET_EMAIL);
	assert_match(m[1], 1, 7, 1, DET_LITERAL);
	/* the leftmost first even when shorter; the longer one is kept */
	r[2].literal = (const uint8_t *)"(xa";
	r[2].literal_len = 3;
	assert_int_equal(scan_str(&svc, s, "(xalice@example.org", DETECT_LINE_START, &m), 2);
	assert_match(m[0], 0, 3, 1, DET_LITERAL);
	assert_match(m[1], 1, 19, 0, DET_EMAIL);
	detect_scratch_free(s);
}

static void test_scan_literal_pattern(void **state)
{
	struct detect_scratch *s = scratch();
	pcre2_code *imei = compile_re("imei=[0-9]{15}", true);
	pcre2_code *empty = compile_re("x*", false);
	pcre2_code *bad = compile_re("(a+)+$", false);
	struct rs_redact r[] = {
		{ .det = DET_LITERAL, .literal = (const uint8_t *)"aa", .literal_len = 2 },
		{ .det = DET_PATTERN, .re = imei },
		{ .det = DET_PATTERN, .re = empty },
		{ .det = DET_PROXY },
	};
	struct rs_service svc = svc_of(r, 4);
	const struct detect_match *m;
	const char *t;

	/* literals: non-overlapping, left to right */
	svc = svc_of(r, 1);
	assert_int_equal(scan_str(&svc, s, "aaaaa", DETECT_LINE_START, &m), 2);
	assert_match(m[0], 0, 2, 0, DET_LITERAL);
	assert_match(m[1], 2, 4, 0, DET_LITERAL);

	svc = svc_of(r, 4);
	t = "imei=123456789012345 xx imei=1234 x";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 3);
	assert_match(m[0], 0, 20, 1, DET_PATTERN);
	assert_match(m[1], 21, 23, 2, DET_PATTERN);
	assert_match(m[2], 34, 35, 2, DET_PATTERN);

	/* a PCRE2 failure other than no-match is an error, not a pass */
	{
		static char boom[20001];
		struct rs_redact rb = { .det = DET_PATTERN, .re = bad };
		struct rs_service sb = svc_of(&rb, 1);

		memset(boom, 'a', sizeof(boom) - 2);
		boom[sizeof(boom) - 2] = 'b';
		assert_int_equal(scan_str(&sb, s, boom, DETECT_LINE_START, &m), -EIO);
	}
	pcre2_code_free(imei);
	pcre2_code_free(empty);
	pcre2_code_free(bad);
	detect_scratch_free(s);
}

static void test_scan_header(void **state)
{
	struct detect_scratch *s = scratch();
	struct rs_redact r[] = {
		{ .det = DET_EMAIL },
		{ .det = DET_HEADER, .header = "Forwarded", .header_len = 9 },
		{ .det = DET_HEADER, .header = "X-Forwarded-For", .header_len = 15 },
	};
	struct rs_service svc = svc_of(r, 3);
	const struct detect_match *m;
	const char *t;

	t = "GET / HTTP/1.1\r\n"
	    "Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, "
	    "for=\"[2001:db8:cafe::17]:4711\"\r\n"
	    "Host: 198.51.100.1\r\n\r\n";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 3);
	assert_match(m[0], 31, 41, 1, DET_HEADER);
	assert_match(m[1], 56, 68, 1, DET_HEADER);
	assert_memory_equal(t + m[2].start, "2001:db8:cafe::17", 17);
	assert_int_equal(m[2].end - m[2].start, 17);
	assert_int_equal(m[2].rule, 1);

	/* case-insensitive name, spaces before ':', no space after */
	t = "x-forwarded-for :10.1.2.3,2001:db8::1\nX-Forwarded-For:2001:db8::2\n";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 3);
	assert_match(m[0], 17, 25, 2, DET_HEADER);
	assert_match(m[1], 26, 37, 2, DET_HEADER);
	assert_match(m[2], 54, 65, 2, DET_HEADER);

	/* not at a line start: the first line is the tail of another */
	t = "Forwarded: for=1.2.3.4\nForwarded: for=5.6.7.8\n";
	assert_int_equal(scan_str(&svc, s, t, 0, &m), 1);
	assert_match(m[0], 38, 45, 1, DET_HEADER);
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);

	/* other headers and the body are not header values */
	t = "Forwarded-By: 1.2.3.4\r\nXForwarded: 1.2.3.4\r\nBody 1.2.3.4 a@b.io";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 1);
	assert_int_equal(m[0].det, DET_EMAIL);
	detect_scratch_free(s);
}

static void test_scan_overflow(void **state)
{
	struct detect_scratch *s = scratch();
	struct rs_redact r = { .det = DET_LITERAL, .literal = (const uint8_t *)"a",
			       .literal_len = 1 };
	struct rs_service svc = svc_of(&r, 1);
	const struct detect_match *m;
	uint32_t n = DETECT_MAX_MATCHES + 1;
	uint8_t *b = malloc(n);

	assert_non_null(b);
	memset(b, 'a', n);
	assert_int_equal(detect_scan(&svc, s, b, n, DETECT_LINE_START, &m), -ENOSPC);
	assert_int_equal(detect_scan(&svc, s, b, n - 1, DETECT_LINE_START, &m),
			 DETECT_MAX_MATCHES);
	/* many more candidates than the scratch holds */
	b = realloc(b, 4 * n);
	assert_non_null(b);
	memset(b, 'a', 4 * n);
	assert_int_equal(detect_scan(&svc, s, b, 4 * n, DETECT_LINE_START, &m), -ENOSPC);
	free(b);
	detect_scratch_free(s);
}

/* Binary junk around identifiers, and every truncation of a mixed text. */
static void test_scan_junk(void **state)
{
	struct detect_scratch *s = scratch();
	struct rs_redact r[] = {
		{ .det = DET_IPV4 }, { .det = DET_IPV6 }, { .det = DET_EMAIL },
		{ .det = DET_PHONE }, { .det = DET_MAC },
	};
	struct rs_service svc = svc_of(r, 5);
	const struct detect_match *m;
	static const char mixed[] =
		"<134>Oct 11 22:14:15 host app[42]: login bob@example.com from "
		"2001:db8::1%eth0 via 192.0.2.7:5222 mac 00:1a:2b:3c:4d:5e tel "
		"+44 20 7946 0958 std::map 1.2.3 ::ffff:10.0.0.1";
	uint8_t junk[4096];
	uint32_t x = 12345;
	int n;

	for (size_t k = 0; k < sizeof(junk); k++) {
		x = x * 1103515245u + 12345u;
		/* control bytes and high bytes: no identifier can form */
		junk[k] = (uint8_t)((x >> 16) & 0x1f) | ((x >> 8) & 0x80);
	}
	memcpy(junk + 1000, "a.b@example.net", 15);
	memcpy(junk + 4096 - 7, "1.2.3.4", 7);
	n = detect_scan(&svc, s, junk, sizeof(junk), 0, &m);
	assert_int_equal(n, 2);
	assert_match(m[0], 1000, 1015, 2, DET_EMAIL);
	assert_match(m[1], 4089, 4096, 0, DET_IPV4);

	n = detect_scan(&svc, s, (const uint8_t *)mixed, sizeof(mixed) - 1, DETECT_LINE_START, &m);
	assert_int_equal(n, 7);
	assert_int_equal(m[0].det, DET_EMAIL);
	assert_int_equal(m[1].det, DET_IPV6);
	assert_int_equal(m[1].end - m[1].start, 16);
	assert_int_equal(m[2].det, DET_IPV4);
	assert_int_equal(m[3].det, DET_MAC);
	assert_int_equal(m[4].det, DET_PHONE);
	assert_int_equal(m[5].det, DET_IPV6);
	/* the IPv4 address inside ::ffff:10.0.0.1, kept with it */
	assert_int_equal(m[6].det, DET_IPV4);
	assert_true(m[6].start > m[5].start && m[6].end == m[5].end);

	for (uint32_t len = 0; len < sizeof(mixed); len++) {
		uint8_t *b = dup_exact(mixed, len);

		n = detect_scan(&svc, s, b, len, DETECT_LINE_START, &m);
		assert_true(n >= 0 && n <= 7);
		for (int k = 0; k < n; k++) {
			assert_true(m[k].end <= len && m[k].start < m[k].end);
			/* sorted: by start, the longer first */
			if (k)
				assert_true(m[k].start > m[k - 1].start ||
					    (m[k].start == m[k - 1].start &&
					     m[k].end <= m[k - 1].end));
		}
		free(b);
	}
	detect_scratch_free(s);
}

/* The one-pass scan finds what the single detectors find, one by one. */
static void test_scan_matches_single(void **state)
{
	static const detector_fn fn[] = {
		detect_ipv4, detect_ipv6, detect_email, detect_phone, detect_mac,
	};
	static const char text[] =
		"a@b.io 1.2.3.4:80 [::1]:53 +15551234567;00-11-22-33-44-55 "
		"x@y.z fe80::1%lo0 010.0.0.1 001a.2b3c.4d5e 9.9.9.9.9 a@b@c.de";
	struct detect_scratch *s = scratch();
	const struct detect_match *m;
	uint32_t len = sizeof(text) - 1;

	for (unsigned d = DET_IPV4; d <= DET_MAC; d++) {
		struct rs_redact r = { .det = (enum det_kind)d };
		struct rs_service svc = svc_of(&r, 1);
		uint32_t from = 0, st, e;
		int n = detect_scan(&svc, s, (const uint8_t *)text, len, DETECT_LINE_START, &m);
		int k = 0;

		while (fn[d]((const uint8_t *)text, len, from, &st, &e)) {
			assert_true(k < n);
			assert_int_equal(m[k].start, st);
			assert_int_equal(m[k].end, e);
			k++;
			from = e;
		}
		assert_int_equal(k, n);
		assert_true(n >= 1);
	}
	detect_scratch_free(s);
}

static void test_allow(void **state)
{
	struct detect_scratch *s = scratch();
	pcre2_code *re[3] = {
		compile_re("(?i)RCPT TO:<[^>]*>", true),
		compile_re("<[^>]*>", false),
		compile_re("z*", true),
	};
	struct rs_service svc = { .allow = re, .n_allow = 3 };
	const struct detect_range *a;
	const char *t = "MAIL FROM:<a@b.io>\r\nrcpt to:<c@d.io>\r\nDATA";
	int n;

	n = detect_allow(&svc, s, (const uint8_t *)t, (uint32_t)strlen(t), &a);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].start, 10);
	assert_int_equal(a[0].end, 18);
	/* "rcpt to:<c@d.io>" and "<c@d.io>" overlap: merged */
	assert_int_equal(a[1].start, 20);
	assert_int_equal(a[1].end, 36);

	svc.n_allow = 0;
	assert_int_equal(detect_allow(&svc, s, (const uint8_t *)t, 5, &a), 0);
	for (int k = 0; k < 3; k++)
		pcre2_code_free(re[k]);
	detect_scratch_free(s);
}

/* Allow matches that overlap stay apart: an identifier across both is
 * inside neither (doc/design.md §5). */
static void test_allow_not_merged(void **state)
{
	struct detect_scratch *s = scratch();
	pcre2_code *re[2] = {
		compile_re("<[a-z]+@", false),
		compile_re("@[a-z.]+>", false),
	};
	struct rs_service svc = { .allow = re, .n_allow = 2 };
	const struct detect_range *a;
	const char *t = "to <bob@example.org> <x@y.io>";
	int n, pos;

	n = detect_allow(&svc, s, (const uint8_t *)t, (uint32_t)strlen(t), &a);
	assert_int_equal(n, 4);
	assert_int_equal(a[0].start, 3);
	assert_int_equal(a[0].end, 8);
	assert_int_equal(a[1].start, 7);
	assert_int_equal(a[1].end, 20);
	assert_int_equal(a[2].start, 21);
	assert_int_equal(a[3].start, 23);

	/* the email [4, 19) lies across both: not covered */
	pos = 0;
	assert_false(detect_range_covers(a, n, &pos, 4, 19));
	/* wholly inside one of them: covered */
	pos = 0;
	assert_true(detect_range_covers(a, n, &pos, 4, 7));
	assert_true(detect_range_covers(a, n, &pos, 8, 19));
	assert_false(detect_range_covers(a, n, &pos, 8, 21));
	assert_false(detect_range_covers(a, n, &pos, 20, 21));
	assert_true(detect_range_covers(a, n, &pos, 24, 28));
	/* no range at all, or the span before the first */
	pos = 0;
	assert_false(detect_range_covers(a, 0, &pos, 0, 1));
	assert_false(detect_range_covers(a, n, &pos, 0, 2));
	for (int k = 0; k < 2; k++)
		pcre2_code_free(re[k]);
	detect_scratch_free(s);
}

/*
 * detect_tail(): where the candidates that later bytes could complete
 * begin (-1: the tail is clean), and which already look like identifiers.
 */
struct tail_case {
	enum det_kind det;
	const char *in;
	int start, suspect;
};

static void test_tail(void **state)
{
	static const struct tail_case cases[] = {
		{ DET_EMAIL, "MAIL FROM:<alice", 11, -1 },
		{ DET_EMAIL, "MAIL FROM:<alice@exa", 11, 11 },
		{ DET_EMAIL, "MAIL FROM:<alice@example.org", 11, 11 },
		{ DET_EMAIL, "MAIL FROM:<alice@example.org>", -1, -1 },
		{ DET_EMAIL, "QUIT\r\n", -1, -1 },
		{ DET_EMAIL, "x @", 2, -1 },		/* no local part yet */
		{ DET_IPV4, "from 192.0.2", 5, 5 },
		{ DET_IPV4, "from 192.0", 5, -1 },
		{ DET_IPV4, "from 192.0.2.77", 5, 5 },
		{ DET_IPV4, "from 192.0.2.77 ", -1, -1 },
		{ DET_IPV4, "version ", -1, -1 },
		{ DET_PHONE, "call +4420", 5, -1 },
		{ DET_PHONE, "call +44 20 79", 5, 5 },
		{ DET_PHONE, "call +", 5, -1 },
		{ DET_PHONE, "call 442079", -1, -1 },
		{ DET_IPV6, "at 2001:db8:", 3, 3 },
		{ DET_IPV6, "at fe80", 3, -1 },
		{ DET_IPV6, "at fe80 ", -1, -1 },
		{ DET_MAC, "hw 00-1a-2b", 3, 3 },
		{ DET_LITERAL, "the sec", 4, -1 },	/* literal "secret" */
		{ DET_LITERAL, "the secret", -1, -1 },	/* whole: decided */
		{ DET_LITERAL, "the sex", -1, -1 },
		{ DET_HEADER, "GET / HTTP/1.1\r\nX-Forw", 16, -1 },
		{ DET_HEADER, "GET / HTTP/1.1\r\nX-Forwarded-For:", 16, 16 },
		{ DET_HEADER, "GET / HTTP/1.1\r\nX-Forwarded-For: 1.2", 32, 32 },
		/* its line break waits: a continuation line may follow */
		{ DET_HEADER, "GET / HTTP/1.1\r\nX-Forwarded-For: 1.2\r\n", 36, -1 },
		{ DET_HEADER, "GET / HTTP/1.1\r\nHost: a", -1, -1 },
		{ DET_PATTERN, "x imei=3520", 2, 2 },	/* "imei=[0-9]{15}" */
		{ DET_PATTERN, "x imei=352099001761481", -1, -1 },
		{ DET_PATTERN, "x ime", 2, 2 },
		{ DET_PATTERN, "x idle", -1, -1 },
	};
	struct detect_scratch *s = scratch();
	pcre2_code *re = compile_re("imei=[0-9]{15}", false);

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct tail_case *c = &cases[k];
		struct rs_redact rd = {
			.det = c->det, .literal = (const uint8_t *)"secret",
			.literal_len = 6, .re = re, .header = "X-Forwarded-For",
			.header_len = 15,
		};
		struct rs_service svc = { .redact = &rd, .n_redact = 1,
					  .det_mask = 1u << c->det };
		uint32_t len = (uint32_t)strlen(c->in), sus;
		uint8_t *b = dup_exact(c->in, len);
		uint32_t t = detect_tail(&svc, s, b, len, DETECT_LINE_START, &sus);
		uint32_t want = c->start < 0 ? len : (uint32_t)c->start;
		uint32_t want_sus = c->suspect < 0 ? len : (uint32_t)c->suspect;

		if (t != want || sus != want_sus)
			fail_msg("case %zu \"%s\": tail at %u suspect %u, want %u and %u",
				 k, c->in, t, sus, want, want_sus);
		free(b);
	}
	pcre2_code_free(re);
	detect_scratch_free(s);
}

/* detect_tail() on the forms the detectors now read. */
static void test_tail_forms(void **state)
{
	static const struct {
		bool hostnames;
		enum det_kind det;
		const char *in;
		int start, suspect;
	} cases[] = {
		/* the fourth number may still run on, a port or a sixth come */
		{ false, DET_IPV4, "at 192.0.2.55", 3, 3 },
		{ false, DET_IPV4, "at 192.0.2.55.", 3, 3 },
		{ false, DET_IPV4, "at 10.0.0.1.5717", 3, 3 },
		{ false, DET_IPV4, "ts 22.46.53.48505", 3, 3 },
		{ false, DET_IPV4, "A192.0.2", 1, 1 },
		{ false, DET_IPV4, "at 192.0.2.55 ", -1, -1 },
		{ false, DET_IPV4, "ip-10-0-0", 8, -1 },
		{ true, DET_IPV4, "ip-10-0-0", 2, 2 },
		{ true, DET_IPV4, "82-68-222-194.", 0, 0 },
		{ true, DET_IPV4, "82-68-222-194.d", -1, -1 },
		{ true, DET_IPV4, "2026-12", 0, -1 },
		/* a zone under way, a port after the address */
		{ false, DET_IPV6, "at fe80::1%et", 3, 3 },
		{ false, DET_IPV6, "at fe80::1%eth0 ", -1, -1 },
		{ false, DET_IPV6, "src:2001:db8::1:5843", 2, 2 },
		{ false, DET_MAC, "A0:1a:2b", 0, 0 },
		{ false, DET_PHONE, "phone+15551", 5, -1 },
	};
	struct detect_scratch *s = scratch();

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct rs_redact rd = { .det = cases[k].det,
					.hostnames = cases[k].hostnames };
		struct rs_service svc = svc_of(&rd, 1);
		uint32_t len = (uint32_t)strlen(cases[k].in), sus;
		uint8_t *b = dup_exact(cases[k].in, len);
		uint32_t t = detect_tail(&svc, s, b, len, DETECT_LINE_START, &sus);
		uint32_t want = cases[k].start < 0 ? len : (uint32_t)cases[k].start;
		uint32_t want_sus = cases[k].suspect < 0 ? len :
				    (uint32_t)cases[k].suspect;

		if (t != want || sus != want_sus)
			fail_msg("case %zu \"%s\": tail at %u suspect %u, want %u and %u",
				 k, cases[k].in, t, sus, want, want_sus);
		free(b);
	}
	detect_scratch_free(s);
}

/*
 * A scan's reading of the rules stays with that scan: a dotted quad that
 * runs on in digits reads alike every time, and a service's `hostnames`
 * reaches neither the next service's scan nor the single detector.
 */
static void test_scan_modes_stay(void **state)
{
	struct detect_scratch *s = scratch();
	struct rs_redact rd = { .det = DET_IPV4 };
	struct rs_redact rdh = { .det = DET_IPV4, .hostnames = true };
	struct rs_service svc = { .redact = &rd, .n_redact = 1,
				  .det_mask = 1u << DET_IPV4 };
	struct rs_service svch = { .redact = &rdh, .n_redact = 1,
				   .det_mask = 1u << DET_IPV4 };
	const char *t = "closed by 192.0.2.7792 <86>1 and 1.2.3.4.5 at "
			"22.46.53.485059";
	const char *h = "from host-192-0-2-7.example.net";
	const struct detect_match *m;
	uint32_t st, en;

	(void)state;
	for (int k = 0; k < 2; k++) {
		assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
		assert_int_equal(m[0].start, 10);
		assert_int_equal(m[0].end, 20);		/* "192.0.2.77" */
		assert_int_equal(m[1].start, 33);
		assert_int_equal(m[1].end, 40);		/* "1.2.3.4" */
	}
	assert_int_equal(scan_str(&svch, s, h, DETECT_LINE_START, &m), 1);
	assert_int_equal(m[0].start, 10);
	assert_int_equal(scan_str(&svc, s, h, DETECT_LINE_START, &m), 0);
	assert_false(detect_ipv4((const uint8_t *)h, (uint32_t)strlen(h), 0,
				 &st, &en));
	detect_scratch_free(s);
}

/* DETECT_NO_HEADERS: a message body, where no header rule runs. */
static void test_no_headers(void **state)
{
	struct detect_scratch *s = scratch();
	struct rs_redact rd[] = {
		{ .det = DET_HEADER, .header = "X-Forwarded-For", .header_len = 15 },
		{ .det = DET_EMAIL },
	};
	struct rs_service svc = svc_of(rd, 2);
	const char *t = "X-Forwarded-For: 192.0.2.1\r\nTo: bob@example.org\r\n";
	const char *u = "X-Forwarded-For: 192.0";
	uint32_t len = (uint32_t)strlen(u), sus;
	uint8_t *b = dup_exact(u, len);
	const struct detect_match *m;

	(void)state;
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
	assert_match(m[0], 17, 26, 0, DET_HEADER);
	assert_int_equal(scan_str(&svc, s, t,
				  DETECT_LINE_START | DETECT_NO_HEADERS, &m), 1);
	assert_match(m[0], 32, 47, 1, DET_EMAIL);
	assert_int_equal(scan_str(&svc, s, t, DETECT_NO_HEADERS, &m), 1);
	assert_int_equal(m[0].det, DET_EMAIL);

	/* an unterminated header line: held in a header block, not in a body */
	svc = svc_of(rd, 1);
	assert_int_equal(detect_tail(&svc, s, b, len, DETECT_LINE_START, &sus),
			 16);
	assert_int_equal(detect_tail(&svc, s, b, len,
				     DETECT_LINE_START | DETECT_NO_HEADERS,
				     &sus), len);
	assert_int_equal(sus, len);
	free(b);
	detect_scratch_free(s);
}

/* Folded values, repeated headers, SIP's compact names. */
static void test_scan_header_forms(void **state)
{
	struct detect_scratch *s = scratch();
	struct rs_redact xff[] = {
		{ .det = DET_HEADER, .header = "X-Forwarded-For", .header_len = 15 },
	};
	struct rs_redact sip[] = {
		{ .det = DET_HEADER, .header = "Via", .header_len = 3 },
		{ .det = DET_HEADER, .header = "From", .header_len = 4 },
		{ .det = DET_HEADER, .header = "to", .header_len = 2 },
		{ .det = DET_HEADER, .header = "Contact", .header_len = 7 },
		{ .det = DET_HEADER, .header = "Call-ID", .header_len = 7 },
	};
	struct rs_redact compact[] = {
		{ .det = DET_HEADER, .header = "f", .header_len = 1 },
	};
	struct rs_service svc = svc_of(xff, 1);
	const struct detect_match *m;
	const char *t;

	(void)state;
	/* obs-fold: CRLF or LF, then SP or HTAB, continues the value */
	t = "X-Forwarded-For: 192.0.2.1,\r\n 192.0.2.2,\r\n\t192.0.2.3\r\n"
	    "Host: 192.0.2.4\r\n\r\n";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 3);
	assert_match(m[0], 17, 26, 0, DET_HEADER);
	assert_match(m[1], 30, 39, 0, DET_HEADER);
	assert_match(m[2], 43, 52, 0, DET_HEADER);
	t = "X-Forwarded-For: 10.0.0.1\n  10.0.0.2\nVia: 10.0.0.3\n";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
	assert_match(m[1], 28, 36, 0, DET_HEADER);
	/* another header's continuation; an empty line ends the headers */
	t = "Host: a\r\n 192.0.2.9\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n 5.6.7.8";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 1);
	assert_match(m[0], 38, 45, 0, DET_HEADER);
	/* repeated */
	t = "X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\n";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
	assert_match(m[1], 43, 50, 0, DET_HEADER);

	/* SIP: long and compact names, either way round */
	svc = svc_of(sip, 5);
	t = "INVITE sip:bob@example.org SIP/2.0\r\n"
	    "v: SIP/2.0/UDP 192.0.2.20;branch=z9\r\n"
	    "Via: SIP/2.0/TCP 192.0.2.25\r\n"
	    "f: <sip:alice@192.0.2.21>;tag=1\r\n"
	    "T : <sip:bob@192.0.2.22>\r\n"
	    "m: <sip:alice@192.0.2.23>\r\n"
	    "i: 192.0.2.24\r\n"
	    "fo: 192.0.2.26\r\ns: 192.0.2.27\r\n\r\n";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 6);
	assert_match(m[0], 51, 61, 0, DET_HEADER);
	assert_match(m[1], 90, 100, 0, DET_HEADER);
	assert_match(m[2], 116, 126, 1, DET_HEADER);
	assert_match(m[3], 148, 158, 2, DET_HEADER);
	assert_match(m[4], 175, 185, 3, DET_HEADER);
	assert_match(m[5], 191, 201, 4, DET_HEADER);
	svc = svc_of(compact, 1);
	t = "From: <sip:carol@192.0.2.30>\r\nF :192.0.2.31\r\nFr: 192.0.2.32\r\n";
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 2);
	assert_match(m[0], 17, 27, 0, DET_HEADER);
	assert_match(m[1], 33, 43, 0, DET_HEADER);
	detect_scratch_free(s);
}

/* detect_tail() on folded and compact headers. */
static void test_tail_header_forms(void **state)
{
	static const struct {
		const char *header, *in;
		int start, suspect;
	} cases[] = {
		{ "X-Forwarded-For", "X-Forwarded-For: 1.2.3.4\r\n", 24, -1 },
		{ "X-Forwarded-For", "X-Forwarded-For: 1.2.3.4\n", 24, -1 },
		{ "X-Forwarded-For", "X-Forwarded-For: 1.2.3.4\r\n ", 26, 26 },
		{ "X-Forwarded-For", "X-Forwarded-For: 1.2.3.4\r\n\t5.6", 26, 26 },
		{ "X-Forwarded-For", "X-Forwarded-For: 1\r\n 5.6.7.8\r\n", 28, -1 },
		{ "X-Forwarded-For", "X-Forwarded-For: 1\r\n 2\r\n 3\r\n", 26, -1 },
		{ "X-Forwarded-For", "X-Forwarded-For: 1.2.3.4\r\nHost: a\r\n", -1, -1 },
		{ "X-Forwarded-For", "X-Forwarded-For: 1.2.3.4\r\n\r\n", -1, -1 },
		{ "X-Forwarded-For", "Host: a\r\n 1.2.3.4", -1, -1 },
		{ "X-Forwarded-For", " 1.2.3.4\r\n", -1, -1 },
		{ "From", "INVITE x SIP/2.0\r\nf", 18, -1 },
		{ "From", "INVITE x SIP/2.0\r\nf:", 18, 18 },
		{ "From", "INVITE x SIP/2.0\r\nf: <sip:a@1.2", 20, 20 },
		{ "From", "INVITE x SIP/2.0\r\nFr", 18, -1 },
		{ "From", "INVITE x SIP/2.0\r\nfo", -1, -1 },
		{ "From", "INVITE x SIP/2.0\r\nf: a\r\n", 22, -1 },
		{ "f", "INVITE x SIP/2.0\r\nFrom: <sip:a@1.2", 23, 23 },
		{ "To", "INVITE x SIP/2.0\r\nt: a\r\n\t", 24, 24 },
	};
	struct detect_scratch *s = scratch();

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct rs_redact rd = {
			.det = DET_HEADER, .header = cases[k].header,
			.header_len = (uint32_t)strlen(cases[k].header),
		};
		struct rs_service svc = { .redact = &rd, .n_redact = 1,
					  .det_mask = 1u << DET_HEADER };
		uint32_t len = (uint32_t)strlen(cases[k].in), sus;
		uint8_t *b = dup_exact(cases[k].in, len);
		uint32_t t = detect_tail(&svc, s, b, len, DETECT_LINE_START, &sus);
		uint32_t want = cases[k].start < 0 ? len : (uint32_t)cases[k].start;
		uint32_t want_sus = cases[k].suspect < 0 ? len :
				    (uint32_t)cases[k].suspect;

		if (t != want || sus != want_sus)
			fail_msg("case %zu: tail at %u suspect %u, want %u and %u",
				 k, t, sus, want, want_sus);
		free(b);
	}
	detect_scratch_free(s);
}

/* ---- email as mail systems write it ---------------------------------- */

/* RFC 6531 UTF-8, A-labels, quoted local parts, subaddresses, literals. */
static void test_email_forms(void **state)
{
	static const struct det_case cases[] = {
		{ "to alice@ex\xc3\xa4mple.org.", { "alice@ex\xc3\xa4mple.org" } },
		{ "\xc3\xa5lice@example.org", { "\xc3\xa5lice@example.org" } },
		/* 用户@例子.广告 */
		{ "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a",
		  { "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a" } },
		/* fullwidth colon before, ideographic full stop after */
		{ "\xef\xbc\x9a\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a\xe3\x80\x82",
		  { "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a" } },
		{ "m\xc3\xbcller@b\xc3\xbc" "cher.de", { "m\xc3\xbcller@b\xc3\xbc" "cher.de" } },
		/* a 4-byte character (U+20BB7) in the local part */
		{ "\xf0\xa0\xae\xb7x@example.org", { "\xf0\xa0\xae\xb7x@example.org" } },
		{ "alice@example.xn--p1ai", { "alice@example.xn--p1ai" } },
		{ "alice@xn--exmple-cua.org", { "alice@xn--exmple-cua.org" } },
		{ "alice@EXAMPLE.XN--P1AI;", { "alice@EXAMPLE.XN--P1AI" } },
		{ "From: \"alice smith\"@example.org\r\n",
		  { "\"alice smith\"@example.org" } },
		{ "\"a\\\"b\"@example.org", { "\"a\\\"b\"@example.org" } },
		{ "\"a\\\\\"@example.org", { "\"a\\\\\"@example.org" } },
		{ "say \"hi\" to \"bob\"@example.org", { "\"bob\"@example.org" } },
		{ "\"j\xc3\xb6rg @home\"@example.org", { "\"j\xc3\xb6rg @home\"@example.org" } },
		{ "alice+tag@example.org", { "alice+tag@example.org" } },
		{ "alice-tag@example.org", { "alice-tag@example.org" } },
		{ "C: a@imap.opus1.com\r\n", { "a@imap.opus1.com" } },
		{ "a@mx1.example2.co.uk", { "a@mx1.example2.co.uk" } },
		{ "alice@[192.0.2.1]", { "alice@[192.0.2.1]" } },
		{ "alice@[IPv6:2001:db8::1]>", { "alice@[IPv6:2001:db8::1]" } },
		/* prose around: curly quotes, guillemets, NBSP, an emoji */
		{ "\xe2\x80\x9c" "alice@example.org\xe2\x80\x9d", { "alice@example.org" } },
		{ "\xc2\xab" "alice@example.org\xc2\xbb", { "alice@example.org" } },
		{ "\xc2\xa0" "alice@example.org\xc2\xa0", { "alice@example.org" } },
		{ "\xf0\x9f\x93\xa7" "alice@example.org", { "alice@example.org" } },
		/* an unbalanced quote is no part of the address */
		{ "\"bob@example.org", { "bob@example.org" } },
		/* a scale suffix with another TLD is an address */
		{ "info@2x.com", { "info@2x.com" } },
		/* a last label of letters, then a hyphen: the letters (as cut short) */
		{ "c@example.com-foo", { "c@example.com" } },
		{ "x@b.xn--p1ai-1\xc3\xa4", { "x@b.xn--p1ai-1" } },
		{ "icon@2x.pn ", { "icon@2x.pn" } },
		/* ssh and git remotes look like addresses and are taken as such */
		{ "git@github.com:org/repo.git", { "git@github.com" } },
	};

	RUN(detect_email, cases);
}

static void test_email_negatives(void **state)
{
	static const struct det_case cases[] = {
		{ "user@host", { NULL } },
		{ "root@mailhost:", { NULL } },
		{ "a@b", { NULL } },
		{ "@mention", { NULL } },
		{ "hi @mention.", { NULL } },
		{ "icon@2x.png", { NULL } },
		{ "logo@1.5x.JPG", { NULL } },
		{ "img/icon@3x.webp 3x", { NULL } },
		/* a segment alone may end in the start of an image extension */
		{ "icon@2x.pn", { NULL } },
		{ "icon@2x.we", { NULL } },
		{ "alice%40example.org", { NULL } },	/* relaxed only */
		{ "\"\"@example.org", { NULL } },	/* nothing quoted */
		{ "\"a\\\"@example.org", { NULL } },	/* the quote is escaped */
		{ "\"a\nb\"@example.org", { NULL } },
		{ "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"@example.org",
		  { NULL } },				/* 65 bytes quoted */
		/* broken UTF-8: a stray lead, a stray continuation, overlong, surrogate */
		{ "\xc3@example.org", { NULL } },
		{ "a\xc3\xa4\xa4@example.org", { NULL } },
		{ "\xc0\xaf@example.org", { NULL } },
		{ "\xed\xa0\x80@example.org", { NULL } },
		/* a fullwidth at sign is no '@' */
		{ "alice\xef\xbc\xa0" "example.org", { NULL } },
		{ "a@example.x", { NULL } },
		{ "pkg@1.2.3", { NULL } },
	};

	RUN(detect_email, cases);
}

/* The relaxed email detector through the scan, as a detector_fn. */
static struct detect_scratch *relaxed_scratch;

static bool detect_email_relaxed(const uint8_t *buf, uint32_t len,
				 uint32_t from, uint32_t *start, uint32_t *end)
{
	struct rs_redact rd = { .det = DET_EMAIL, .relaxed = true };
	struct rs_service svc = { .redact = &rd, .n_redact = 1,
				  .det_mask = 1u << DET_EMAIL };
	const struct detect_match *m;
	int n = detect_scan(&svc, relaxed_scratch, buf, len, DETECT_LINE_START, &m);

	for (int k = 0; k < n; k++)
		if (m[k].start >= from) {
			*start = m[k].start;
			*end = m[k].end;
			return true;
		}
	return false;
}

static void test_email_relaxed(void **state)
{
	static const struct det_case cases[] = {
		{ "root@localhost", { "root@localhost" } },
		{ "from=<alice@mailhost>", { "alice@mailhost" } },
		{ "user@host1 ", { "user@host1" } },
		{ "a@b", { "a@b" } },
		{ "a@b.c", { "a@b.c" } },
		{ "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xb8\xbb\xe6\x9c\xba",
		  { "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xb8\xbb\xe6\x9c\xba" } },
		/* what strict finds, relaxed finds the same */
		{ "alice@example.org", { "alice@example.org" } },
		{ "a@example.org42", { "a@example.org" } },
		{ "a@mail.example.123", { "a@mail.example" } },
		/* percent-encoded '@', once or twice */
		{ "GET /?email=alice%40example.org&x=1",
		  { "alice%40example.org" } },
		{ "u=alice%2540example.org", { "alice%2540example.org" } },
		{ "to=alice%2Btag%40example.org", { "alice%2Btag%40example.org" } },
		{ "u=alice%40localhost", { "alice%40localhost" } },
		/* an encoded '@' is no part of a local part, as '@' is not */
		{ "a%40b%40c.org", { "a%40b" } },
		{ "x=a%40b.org&y=c%40d.org", { "a%40b.org", "c%40d.org" } },
		{ "x=alice%40example.org,bob@example.net",
		  { "alice%40example.org", "bob@example.net" } },
		/* negatives */
		{ "a@123", { NULL } },
		{ "icon@2x", { NULL } },
		{ "icon@2x.png", { NULL } },
		{ "@mention", { NULL } },
		{ "50%400", { NULL } },
		{ "%40example.org", { NULL } },
		{ "a%4", { NULL } },
		/* symbol versions, build placeholders, markup: no host names */
		{ "memcpy@GLIBC_2.14 foo@GOT", { NULL } },
		{ "/usr/lib/llvm-@LLVM_VERSION@/bin", { NULL } },
		{ "``@union``", { NULL } },
		{ "'@color'", { NULL } },
		/* but a host name with capitals is one */
		{ "root@Mailhost", { "root@Mailhost" } },
	};
	relaxed_scratch = scratch();
	RUN(detect_email_relaxed, cases);
	detect_scratch_free(relaxed_scratch);
	relaxed_scratch = NULL;
}

/* Each email rule's flag: relaxed forms go to the service's email rule. */
static void test_email_relaxed_scan(void **state)
{
	struct detect_scratch *s = scratch();
	struct rs_redact r[] = {
		{ .det = DET_IPV4 }, { .det = DET_EMAIL, .relaxed = true },
	};
	struct rs_service svc = svc_of(r, 2);
	const struct detect_match *m;
	const char *t = "MAIL FROM:<root@localhost> 10.0.0.1 q=a%40b.io";

	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 3);
	assert_match(m[0], 11, 25, 1, DET_EMAIL);
	assert_match(m[1], 27, 35, 0, DET_IPV4);
	assert_match(m[2], 38, 46, 1, DET_EMAIL);
	r[1].relaxed = false;
	assert_int_equal(scan_str(&svc, s, t, DETECT_LINE_START, &m), 1);
	assert_match(m[0], 27, 35, 0, DET_IPV4);
	detect_scratch_free(s);
}

struct email_tail_case {
	bool relaxed;
	const char *in;
	int start, suspect;
};

static void test_email_tail(void **state)
{
	static const struct email_tail_case cases[] = {
		{ false, "MAIL FROM:<\xc3\xa5li", 11, -1 },
		{ false, "MAIL FROM:<\xc3", 11, -1 },	/* cut inside UTF-8 */
		{ false, "MAIL FROM:<a@ex\xc3", 11, 11 },
		{ false, "MAIL FROM:<\"alice sm", 11, -1 },
		{ false, "MAIL FROM:<\"alice smith\"", 11, -1 },
		{ false, "MAIL FROM:<\"alice smith\"@", 11, 11 },
		{ false, "MAIL FROM:<\"alice smith\"@exa", 11, 11 },
		{ false, "MAIL FROM:<\"a\\", 11, -1 },
		{ false, "MAIL FROM:<\"a\\\"b", 11, -1 },
		{ false, "MAIL FROM:<alice@[", 11, 11 },
		{ false, "MAIL FROM:<alice@[IPv6:2001:db8:", 11, 11 },
		{ false, "MAIL FROM:<alice@[192.0.2.1]>\r\n", -1, -1 },
		{ false, "MAIL FROM:<\"alice smith\"@example.org>\r\n", -1, -1 },
		{ false, "say \"hi\"\r\n", -1, -1 },
		{ false, "x @[", -1, -1 },
		{ false, "q=alice%40exa", 2, -1 },
		{ true, "q=alice%40exa", 2, 2 },
		{ true, "q=alice%2540", 2, 2 },
		{ true, "q=alice%25", 2, -1 },
		{ true, "q=%40exa", 2, -1 },
		{ true, "q=\"a b\"%2", 2, -1 },
		{ true, "q=\"a b\"%40", 2, 2 },
	};
	struct detect_scratch *s = scratch();

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct email_tail_case *c = &cases[k];
		struct rs_redact rd = { .det = DET_EMAIL, .relaxed = c->relaxed };
		struct rs_service svc = { .redact = &rd, .n_redact = 1,
					  .det_mask = 1u << DET_EMAIL };
		uint32_t len = (uint32_t)strlen(c->in), sus;
		uint8_t *b = dup_exact(c->in, len);
		uint32_t t = detect_tail(&svc, s, b, len, DETECT_LINE_START, &sus);
		uint32_t want = c->start < 0 ? len : (uint32_t)c->start;
		uint32_t want_sus = c->suspect < 0 ? len : (uint32_t)c->suspect;

		if (t != want || sus != want_sus)
			fail_msg("case %zu: tail at %u suspect %u, want %u and %u",
				 k, t, sus, want, want_sus);
		free(b);
	}
	detect_scratch_free(s);
}

/* ---- neighbours and printed forms ---------------------------------- */

/*
 * Bytes glued to an identifier: a length byte or tag in front (an MQTT
 * client id of 65 bytes starts with 'A'), a protobuf tag after it.
 */
static void test_binary_neighbours(void **state)
{
	static const struct det_case v4[] = {
		{ "A192.0.2.55", { "192.0.2.55" } },
		{ "\x10" "A192.0.2.55\x02", { "192.0.2.55" } },
		{ "v1.2.3.4", { "1.2.3.4" } },
		{ "ip=10.0.0.1", { "10.0.0.1" } },
		{ "_10.0.0.1_", { "10.0.0.1" } },
		/* a tag byte '2' after the address, not a fourth octet 552 */
		{ "192.0.2.552", { "192.0.2.55" } },
		{ "1.2.3.256", { "1.2.3.25" } },
		{ "\x12" "192.0.2.1" "2\x08", { "192.0.2.12" } },
		/* a digit in front lengthens the first number: no address */
		{ "5192.0.2.55", { NULL } },
		{ "0001.2.3.4", { NULL } },
	};
	static const struct det_case v6[] = {
		{ "A2001:db8::1", { "2001:db8::1" } },
		{ "x2001:db8::1", { "2001:db8::1" } },
		{ "\x41" "fe80::1%eth0\x00", { "fe80::1%eth0" } },
		{ "12345::1", { "2345::1" } },
		{ "2001:db8::12345", { "2001:db8::1234" } },
		{ "2001:db8::1:654321", { "2001:db8::1:6543" } },
		{ "2001:db8::1g", { "2001:db8::1" } },
		{ "2001:db8::1" "\x32\x05", { "2001:db8::12" } },
		/* seven hex digits are no group and no glued pair */
		{ "1234567::1", { NULL } },
		{ "2001:db8::1234567", { NULL } },
	};
	static const struct det_case mac[] = {
		{ "A00:1a:2b:3c:4d:5e", { "00:1a:2b:3c:4d:5e" } },
		{ "x00:1a:2b:3c:4d:5e", { "00:1a:2b:3c:4d:5e" } },
		{ "000:1a:2b:3c:4d:5e", { "00:1a:2b:3c:4d:5e" } },
		{ "00:1a:2b:3c:4d:5ex", { "00:1a:2b:3c:4d:5e" } },
		{ "00:1a:2b:3c:4d:5e2", { "00:1a:2b:3c:4d:5e" } },
		{ "A001a.2b3c.4d5e", { "001a.2b3c.4d5e" } },
		{ "001a.2b3c.4d5eZ", { "001a.2b3c.4d5e" } },
		/* three glued hex digits: a longer hex run */
		{ "abc00:1a:2b:3c:4d:5e", { NULL } },
		{ "00:1a:2b:3c:4d:5e123", { NULL } },
	};
	static const struct det_case phone[] = {
		{ "A+15551234567", { "+15551234567" } },
		{ "a+15551234567", { "+15551234567" } },
		{ "phone+15551234567", { "+15551234567" } },
		{ "\x0c+4930123456\x00", { "+4930123456" } },
		/* a digit before the '+' makes a sum */
		{ "1+15551234567", { NULL } },
		{ "3+4930123456", { NULL } },
	};

	RUN(detect_ipv4, v4);
	RUN(detect_ipv6, v6);
	RUN(detect_mac, mac);
	RUN(detect_phone, phone);
}

/* Ports, prefixes and the other forms logs and tools print. */
static void test_ipv4_forms(void **state)
{
	static const struct det_case cases[] = {
		/* tcpdump and SOCKS: the port after a fifth dot */
		{ "IP 10.0.0.1.57178 > 10.0.0.2.443: Flags",
		  { "10.0.0.1", "10.0.0.2" } },
		{ "1.2.3.4.5", { "1.2.3.4" } },
		{ "1.2.3.4.65535", { "1.2.3.4" } },
		{ "1.2.3.4.https", { "1.2.3.4" } },
		{ "12.34.56.78.90", { "12.34.56.78" } },
		{ "client 1.2.3.4#53", { "1.2.3.4" } },
		{ "[1.2.3.4]:80", { "1.2.3.4" } },
		{ "1.2.3.4/24", { "1.2.3.4" } },
		{ "from=<>,ip=[192.0.2.1]", { "192.0.2.1" } },
		/* a length field glued after the address (octet-counted syslog) */
		{ "by 192.0.2.7792 <86>1", { "192.0.2.77" } },
		{ "by 192.0.2.77123 <86>1", { "192.0.2.77" } },
		{ "1.2.3.4567", { "1.2.3.45" } },
		{ "1.2.3.0004", { "1.2.3.000" } },
		/* version strings of four numbers read as addresses */
		{ "1.2.3.4-beta", { "1.2.3.4" } },
		/* negatives: six numbers, ports out of range, long runs */
		{ "1.2.3.4.5.6", { NULL } },
		{ "1.3.6.1.2.1.1.5.0", { NULL } },
		{ "tel 06.12.34.56.78", { NULL } },
		{ "16.12.34.56.78", { "16.12.34.56" } },
		{ "1.2.3.4.65536", { NULL } },
		{ "1.2.3.4.123456", { NULL } },
		{ "1.2.3.4567.8", { NULL } },
		{ "1.2.3.123456789", { NULL } },
		/* times with fractions of a second */
		{ "22.46.53.485059", { NULL } },
		{ "12:22.46.53.485059", { NULL } },
		{ "2026-12-07-22.46.53.485059", { NULL } },
		{ "22.46.53.485", { NULL } },
		{ "10:30:00", { NULL } },
		{ "10:30:00.123", { NULL } },
		{ "version 1.2.3", { NULL } },
	};

	RUN(detect_ipv4, cases);
}

static void test_ipv6_forms(void **state)
{
	static const struct det_case cases[] = {
		/* a word and ':' before */
		{ "addr:2001:db8:85a3::8a2e:370:7334",
		  { "2001:db8:85a3::8a2e:370:7334" } },
		{ "src:2001:db8::1", { "2001:db8::1" } },
		{ "ipv6:2001:db8::1", { "2001:db8::1" } },
		{ "inet6 addr: fe80::1/64 Scope:Link", { "fe80::1" } },
		{ "v6(en0:2607:f140:6000:8:c6b3:1ff:fecd:467f)",
		  { "2607:f140:6000:8:c6b3:1ff:fecd:467f" } },
		/* SMTP address literal outside an address */
		{ "EHLO [IPv6:2001:DB8::1]", { "2001:DB8::1" } },
		/* ports */
		{ "2001:db8::1:54321", { "2001:db8::1:54321" } },
		{ "from 2001:db8::1234:58430 x", { "2001:db8::1234:58430" } },
		{ "1:2:3:4:5:6:7:8:443", { "1:2:3:4:5:6:7:8" } },
		{ "2001:db8:0:0:0:0:0:1:65535,", { "2001:db8:0:0:0:0:0:1" } },
		{ "1:2:3:4:5:6:7:8:9", { "1:2:3:4:5:6:7:8" } },
		{ "2001:db8::1.443 > 2001:db8::2.53:", { "2001:db8::1", "2001:db8::2" } },
		{ "::ffff:1.2.3.4.5", { "::ffff:1.2.3.4" } },
		{ "[2001:db8::1]:443", { "2001:db8::1" } },
		{ "2001:db8::1#53", { "2001:db8::1" } },
		/* zones, mapped and embedded forms */
		{ "fe80::1%eth0", { "fe80::1%eth0" } },
		{ "fe80::1%25en0 ", { "fe80::1%25en0" } },
		{ "/0:0:0:0:0:0:0:1%0", { "0:0:0:0:0:0:0:1%0" } },
		{ "::ffff:c000:201", { "::ffff:c000:201" } },
		{ "::ffff:0:192.0.2.1", { "::ffff:0:192.0.2.1" } },
		{ "64:ff9b::c000:221", { "64:ff9b::c000:221" } },
		{ "2002:c000:221::1", { "2002:c000:221::1" } },
		{ "::192.0.2.1", { "::192.0.2.1" } },
		/* negatives: scopes, times, hex words, ports that are none */
		{ "std::vector", { NULL } },
		{ "Foo::Bad", { NULL } },
		{ "crate::fe80", { NULL } },
		{ "dead:beef", { NULL } },
		{ "10:30:00", { NULL } },
		{ "12:22:46.485059", { NULL } },
		{ "2001:db8::1:1234567", { NULL } },
		{ "2001:db8::1:443x", { "2001:db8::1:443" } },
		{ "2001:db8::1.2.3", { NULL } },
		{ "1:2:3:4:5:6:7:8::", { NULL } },
		{ "ABC::Decode", { NULL } },
	};

	RUN(detect_ipv6, cases);
}

static void test_mac_forms(void **state)
{
	static const struct det_case cases[] = {
		/* macOS drops leading zeros */
		{ "0:1a:2b:3c:4d:5e", { "0:1a:2b:3c:4d:5e" } },
		{ "? (192.0.2.1) at 0:1a:2b:3:4d:e on en0", { "0:1a:2b:3:4d:e" } },
		{ "ether a:b:c:d:e:f", { "a:b:c:d:e:f" } },
		{ "hw 00:1a:2b:3c:4d:5e,", { "00:1a:2b:3c:4d:5e" } },
		/* negatives */
		{ "0-1a-2b-3c-4d-5e", { NULL } },
		{ "1:2:3:4:5:6:7", { NULL } },
		{ "10:30:00", { NULL } },
		{ "2001:db8:0:1:2:3:4:5", { NULL } },
		{ "0:1a:2b:3c:4d:5e:6f:70", { NULL } },
	};

	RUN(detect_mac, cases);
}

static void test_phone_forms(void **state)
{
	static const struct det_case cases[] = {
		{ "phone+15551234567", { "+15551234567" } },
		{ "tel=+44 20 7946 0958;", { "+44 20 7946 0958" } },
		{ "Tel:+4930123456", { "+4930123456" } },
		/* negatives */
		{ "c++17", { NULL } },
		{ "x+1234567", { NULL } },
	};

	RUN(detect_phone, cases);
}

/* `redact ipv4 ... hostnames`: addresses in host names, through the scan. */
static void test_hostnames(void **state)
{
	static const struct {
		const char *in;
		int n, s0, e0;
	} cases[] = {
		{ "82-68-222-194.dsl.example.net", 1, 0, 13 },
		{ "ip-10-0-0-1.ec2.internal", 1, 3, 11 },
		{ "ec2-54-1-2-3.compute-1.amazonaws.com", 1, 4, 12 },
		{ "host-82-68-222-194 up", 1, 5, 18 },
		{ "82-68-222-194-dyn.example.net", 1, 0, 13 },
		/* dotted in a host name: the dot after it too (order unknown) */
		{ "host-82.68.222.194.example.net", 1, 5, 19 },
		{ "194.222.68.82.in-addr.arpa", 1, 0, 14 },
		/* plain addresses are as without the option */
		{ "from 82.68.222.194 port", 1, 5, 18 },
		{ "82.68.222.194.", 1, 0, 13 },
		/* negatives: no host name around, dates, longer runs */
		{ "82-68-222-194", 0, 0, 0 },
		{ "2026-12-07 10-30-00-12", 0, 0, 0 },
		{ "a-1-2-3-4-5.example", 0, 0, 0 },
		{ "a-1-2-3-256.example", 0, 0, 0 },
		{ "call 555-12-34-56.", 0, 0, 0 },
	};
	struct detect_scratch *s = scratch();
	struct rs_redact on = { .det = DET_IPV4, .hostnames = true };
	struct rs_redact off = { .det = DET_IPV4 };
	struct rs_service svc = svc_of(&on, 1), plain = svc_of(&off, 1);
	const struct detect_match *m;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint32_t len = (uint32_t)strlen(cases[k].in);
		uint8_t *b = dup_exact(cases[k].in, len);
		int n = detect_scan(&svc, s, b, len, DETECT_LINE_START, &m);

		if (n != cases[k].n || (n && (m[0].start != (uint32_t)cases[k].s0 ||
					      m[0].end != (uint32_t)cases[k].e0)))
			fail_msg("case %zu \"%s\": %d matches, first [%u, %u)", k,
				 cases[k].in, n, n > 0 ? m[0].start : 0,
				 n > 0 ? m[0].end : 0);
		free(b);
	}
	/* without the option: no dashed form, and a dotted one alone */
	assert_int_equal(scan_str(&plain, s, "ip-10-0-0-1.ec2.internal", DETECT_LINE_START, &m), 0);
	assert_int_equal(scan_str(&plain, s, "194.222.68.82.in-addr.arpa", DETECT_LINE_START, &m), 1);
	assert_int_equal(m[0].end, 13);
	/* the single detector never applies the option */
	{
		uint32_t st, e;

		assert_false(detect_ipv4((const uint8_t *)"ip-10-0-0-1.x", 13, 0,
					 &st, &e));
	}
	detect_scratch_free(s);
}

/*
 * Wherever a stream is cut, a clean tail means the bytes before the cut,
 * scanned alone, and those after it, scanned alone from a line start
 * (as the engine scans the next segment after a clean tail), give the
 * matches of the whole: no header value is cut unseen.
 */
static void test_tail_header_every_cut(void **state)
{
	struct detect_scratch *s = scratch();
	struct rs_redact r[] = {
		{ .det = DET_HEADER, .header = "X-Forwarded-For", .header_len = 15 },
		{ .det = DET_HEADER, .header = "Via", .header_len = 3 },
		{ .det = DET_HEADER, .header = "From", .header_len = 4 },
		{ .det = DET_HEADER, .header = "Contact", .header_len = 7 },
	};
	struct rs_service svc = svc_of(r, 4);
	const char *msgs[] = {
		"GET / HTTP/1.1\r\nHost: example.net\r\n"
		"X-Forwarded-For: 192.0.2.1,\r\n 192.0.2.2,\r\n\t2001:db8::7\r\n"
		"Accept: */*\r\nX-Forwarded-For: 198.51.100.9\r\n\r\n",
		"REGISTER sip:example.org SIP/2.0\r\n"
		"v: SIP/2.0/TCP 192.0.2.20;branch=z9\r\n"
		"Via: SIP/2.0/TCP 192.0.2.25\r\n\t;received=192.0.2.26\r\n"
		"f: <sip:alice@192.0.2.21>;tag=1\r\n"
		"m: <sip:alice@192.0.2.23>\r\nContent-Length: 0\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		const uint8_t *b = (const uint8_t *)msgs[i];
		uint32_t len = (uint32_t)strlen(msgs[i]);
		struct detect_match whole[64];
		const struct detect_match *m;
		int n = detect_scan(&svc, s, b, len, DETECT_LINE_START, &m), clean = 0;

		assert_true(n > 0 && n <= 64);
		memcpy(whole, m, (size_t)n * sizeof(*m));
		for (uint32_t k = 1; k < len; k++) {
			uint32_t sus;
			int n1, n2, j = 0;

			if (detect_tail(&svc, s, b, k, DETECT_LINE_START, &sus) < k)
				continue;	/* held: decided with what follows */
			clean++;
			n1 = detect_scan(&svc, s, b, k, DETECT_LINE_START, &m);
			for (int q = 0; q < n1; q++, j++) {
				assert_true(j < n);
				assert_int_equal(m[q].start, whole[j].start);
				assert_int_equal(m[q].end, whole[j].end);
			}
			n2 = detect_scan(&svc, s, b + k, len - k, DETECT_LINE_START, &m);
			for (int q = 0; q < n2; q++, j++) {
				assert_true(j < n);
				assert_int_equal(m[q].start + k, whole[j].start);
				assert_int_equal(m[q].end + k, whole[j].end);
			}
			if (j != n)
				fail_msg("message %zu cut at %u: %d of %d matches", i,
					 k, j, n);
		}
		assert_true(clean > 0);
	}
	detect_scratch_free(s);
}

/*
 * The stream's promise for every form: cut anywhere inside the address,
 * the part before the cut is held from the address's start on (so the
 * next segment is scanned with it), and the whole text has the address.
 */
static void test_email_tail_every_cut(void **state)
{
	static const struct { bool relaxed; const char *in, *addr; } cases[] = {
		{ false, "MAIL FROM:<\xc3\xa5lice@ex\xc3\xa4mple.org> SIZE=1\r\n",
		  "\xc3\xa5lice@ex\xc3\xa4mple.org" },
		{ false, "To: \xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a\r\n",
		  "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a" },
		{ false, "To: <\"alice smith\"@example.org>\r\n",
		  "\"alice smith\"@example.org" },
		{ false, "To: \"a\\\"b\"@example.org\r\n", "\"a\\\"b\"@example.org" },
		{ false, "To: \"j\xc3\xb6rg @home\"@example.org\r\n",
		  "\"j\xc3\xb6rg @home\"@example.org" },
		{ false, "a alice@example.xn--p1ai\r\n", "alice@example.xn--p1ai" },
		{ false, "a alice@xn--exmple-cua.org\r\n", "alice@xn--exmple-cua.org" },
		{ false, "a alice+tag@imap.opus1.com\r\n", "alice+tag@imap.opus1.com" },
		{ false, "a alice@[192.0.2.1]\r\n", "alice@[192.0.2.1]" },
		{ false, "a alice@[IPv6:2001:db8::1]\r\n", "alice@[IPv6:2001:db8::1]" },
		{ false, "{\"to\":\"alice@example.org\"}", "alice@example.org" },
		{ true, "a root@localhost\r\n", "root@localhost" },
		{ true, "GET /?e=alice%40example.org HTTP/1.1\r\n",
		  "alice%40example.org" },
		{ true, "GET /?e=alice%2540example.org&x HTTP/1.1\r\n",
		  "alice%2540example.org" },
		{ true, "e=\"a b\"%2540example.org\r\n", "\"a b\"%2540example.org" },
	};
	struct detect_scratch *s = scratch();

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct rs_redact rd = { .det = DET_EMAIL, .relaxed = cases[k].relaxed };
		struct rs_service svc = { .redact = &rd, .n_redact = 1,
					  .det_mask = 1u << DET_EMAIL };
		uint32_t len = (uint32_t)strlen(cases[k].in);
		const char *at = strstr(cases[k].in, cases[k].addr);
		uint32_t as = (uint32_t)(at - cases[k].in);
		uint32_t ae = as + (uint32_t)strlen(cases[k].addr);
		const struct detect_match *m;
		int n;

		assert_non_null(at);
		n = detect_scan(&svc, s, (const uint8_t *)cases[k].in, len, DETECT_LINE_START, &m);
		if (n != 1 || m[0].start != as || m[0].end != ae)
			fail_msg("case %zu: %d matches, first [%u, %u), want [%u, %u)",
				 k, n, n > 0 ? m[0].start : 0, n > 0 ? m[0].end : 0,
				 as, ae);
		for (uint32_t cut = as + 1; cut < ae; cut++) {
			uint8_t *b = dup_exact(cases[k].in, cut);
			uint32_t sus, t = detect_tail(&svc, s, b, cut, DETECT_LINE_START, &sus);

			if (t > as)
				fail_msg("case %zu cut at %u: tail from %u, the address starts at %u",
					 k, cut, t, as);
			free(b);
		}
	}
	detect_scratch_free(s);
}

/*
 * Every cut of a text: what detect_tail() lets go before its offset must
 * be redacted as in the whole text, or a split identifier would leak
 * over TCP.  The matches of the cut text that start before the tail are
 * exactly those of the whole text that do.
 */
static void check_cuts(const struct rs_service *svc, struct detect_scratch *s,
		       const char *text)
{
	uint32_t len = (uint32_t)strlen(text);
	struct detect_match full[64];
	const struct detect_match *m;
	int nf = detect_scan(svc, s, (const uint8_t *)text, len, DETECT_LINE_START, &m);

	assert_true(nf >= 0 && nf <= 64);
	memcpy(full, m, (size_t)nf * sizeof(*m));
	for (uint32_t k = 0; k <= len; k++) {
		uint8_t *b = dup_exact(text, k);
		uint32_t sus, t = detect_tail(svc, s, b, k, DETECT_LINE_START, &sus);
		int n = detect_scan(svc, s, b, k, DETECT_LINE_START, &m), a = 0, c = 0;

		assert_true(n >= 0);
		for (;;) {
			bool in_a = a < n && m[a].start < t;
			bool in_c = c < nf && full[c].start < t;

			if (!in_a && !in_c)
				break;
			if (!in_a || !in_c || m[a].start != full[c].start ||
			    m[a].end != full[c].end)
				fail_msg("\"%s\" cut at %u (tail %u): match %d of %d "
					 "differs from the whole text's", text, k, t,
					 a, n);
			a++;
			c++;
		}
		free(b);
	}
}

static void test_cuts(void **state)
{
	static const char *const texts[] = {
		"A192.0.2.55 and 192.0.2.552 via 10.0.0.1.57178 > x",
		"at 22.46.53.485059 from 1.2.3.4567 to 192.0.2.7792 <86>1 ok",
		"1.2.3.4.5.6 and 1.2.3.4.65536 then 9.9.9.9;",
		"src:2001:db8::1 addr:2001:db8:85a3::8a2e:370:7334 A2001:db8::1 ;",
		"v6(en0:2607:f140:6000:8:c6b3:1ff:fecd:467f) 2001:db8::1234:58430 .",
		"1:2:3:4:5:6:7:8:443 [IPv6:2001:DB8::1] fe80::1%eth0 2001:db8::1.443 >",
		"A00:1a:2b:3c:4d:5e 0:1a:2b:3c:4d:5e 001a.2b3c.4d5e 12:34:56 ok",
		"A+15551234567 phone+15551234567 +44 20 7946 0958 end",
		"82-68-222-194.dsl.example.net ip-10-0-0-1.ec2.internal "
		"194.222.68.82.in-addr.arpa host-82.68.222.194.example.net .",
	};
	struct detect_scratch *s = scratch();
	struct rs_redact r[] = {
		{ .det = DET_IPV4, .hostnames = true }, { .det = DET_IPV6 },
		{ .det = DET_PHONE }, { .det = DET_MAC },
	};
	struct rs_service all = svc_of(r, 4);

	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
		check_cuts(&all, s, texts[k]);
		for (unsigned d = 0; d < 4; d++) {
			struct rs_service one = svc_of(&r[d], 1);

			check_cuts(&one, s, texts[k]);
		}
	}
	r[0].hostnames = false;
	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++)
		check_cuts(&all, s, texts[k]);
	detect_scratch_free(s);
}

/*
 * A held TCP segment is also scanned alone: what the email detector finds
 * in a text cut short must lie inside what it finds in the whole text, or
 * the server would get other bytes for other segment boundaries.
 */
static void test_email_prefix_within_whole(void **state)
{
	static const char *const texts[] = {
		"<img src=\"icon@2x.png\"> logo@1.5x.jpg",
		"a@b.abc-1 c@example.com-foo d@imap.opus1.com",
		"x@b.xn--p1ai-1\xc3\xa4 y@example.xn--p1ai",
		"To: \"alice smith\"@example.org, \"a\\\"b\"@x.org",
		"\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a\xe3\x80\x82",
		"e=alice%40example.org&f=root@localhost foo@GOT ``@union``",
	};
	struct detect_scratch *s = scratch();
	static struct detect_match whole[16];

	for (int rx = 0; rx < 2; rx++)
		for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
			struct rs_redact rd = { .det = DET_EMAIL, .relaxed = rx };
			struct rs_service svc = { .redact = &rd, .n_redact = 1,
						  .det_mask = 1u << DET_EMAIL };
			uint32_t len = (uint32_t)strlen(texts[k]);
			const struct detect_match *m;
			int n = detect_scan(&svc, s, (const uint8_t *)texts[k], len,
					    DETECT_LINE_START, &m);

			assert_true(n >= 0 && n <= 16);
			memcpy(whole, m, (size_t)n * sizeof(*m));
			for (uint32_t cut = 1; cut < len; cut++) {
				uint8_t *b = dup_exact(texts[k], cut);
				int c = detect_scan(&svc, s, b, cut, DETECT_LINE_START, &m);

				for (int i = 0; i < c; i++) {
					bool inside = false;

					for (int j = 0; j < n; j++)
						inside = inside ||
							 (whole[j].start <= m[i].start &&
							  m[i].end <= whole[j].end);
					if (!inside)
						fail_msg("text %zu relaxed %d cut %u: [%u, %u) not inside a match of the whole",
							 k, rx, cut, m[i].start, m[i].end);
				}
				free(b);
			}
		}
	detect_scratch_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_from_offset),
		cmocka_unit_test(test_ip_text),
		cmocka_unit_test(test_scan_overlaps),
		cmocka_unit_test(test_scan_rule_order),
		cmocka_unit_test(test_scan_literal_pattern),
		cmocka_unit_test(test_scan_header),
		cmocka_unit_test(test_scan_overflow),
		cmocka_unit_test(test_scan_junk),
		cmocka_unit_test(test_scan_matches_single),
		cmocka_unit_test(test_allow),
		cmocka_unit_test(test_allow_not_merged),
		cmocka_unit_test(test_tail),
		cmocka_unit_test(test_scan_modes_stay),
		cmocka_unit_test(test_no_headers),
		cmocka_unit_test(test_scan_header_forms),
		cmocka_unit_test(test_tail_header_forms),
		cmocka_unit_test(test_tail_header_every_cut),
		cmocka_unit_test(test_binary_neighbours),
		cmocka_unit_test(test_ipv4_forms),
		cmocka_unit_test(test_ipv6_forms),
		cmocka_unit_test(test_mac_forms),
		cmocka_unit_test(test_phone_forms),
		cmocka_unit_test(test_hostnames),
		cmocka_unit_test(test_cuts),
		cmocka_unit_test(test_tail_forms),
		cmocka_unit_test(test_email_forms),
		cmocka_unit_test(test_email_negatives),
		cmocka_unit_test(test_email_relaxed),
		cmocka_unit_test(test_email_relaxed_scan),
		cmocka_unit_test(test_email_tail),
		cmocka_unit_test(test_email_tail_every_cut),
		cmocka_unit_test(test_email_prefix_within_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
