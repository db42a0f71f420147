/*
 * test_rewrite.c — the actions: mask, keyed token, truncation of IPv4 and
 * IPv6 text (exact outputs for many forms and prefix lengths) and address
 * text of an exact length.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect.h"
#include "key.h"
#include "policy.h"
#include "rewrite.h"

static uint8_t key_a[KEY_LEN], key_b[KEY_LEN];

static int setup(void **state)
{
	for (unsigned i = 0; i < KEY_LEN; i++) {
		key_a[i] = (uint8_t)(i * 7 + 1);
		key_b[i] = (uint8_t)(i * 7 + 1);
	}
	key_b[31] ^= 1;
	return key_init();
}

static void test_mask(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "alice@example.org", "xxxxx@xxxxxxx.xxx" },
		{ "+1 (555) 123-4567", "+0 (000) 000-0000" },
		{ "192.0.2.55", "000.0.0.00" },
		{ "2001:DB8::1%eth0", "0000:xx0::0%xxx0" },
		{ "Ab9_\xff\x01z", "xx0_\xff\x01x" },
		{ "", "" },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char buf[64];
		size_t n = strlen(cases[k].in);

		memcpy(buf, cases[k].in, n + 1);
		rewrite_mask((uint8_t *)buf, (uint32_t)n);
		assert_string_equal(buf, cases[k].out);
	}
}

/* ---- truncate ------------------------------------------------------- */

struct trunc_case {
	const char *in;
	unsigned p4, p6;
	const char *out;	/* NULL: -EINVAL, unchanged */
};

static const struct trunc_case trunc_cases[] = {
	/* IPv4 */
	{ "192.0.2.55", 24, 48, "192.0.2.00" },
	{ "203.0.113.77", 20, 48, "203.0.112.00" },
	{ "10.1.2.3", 8, 48, "10.0.0.0" },
	{ "10.255.2.3", 12, 48, "10.240.0.0" },
	{ "10.15.2.3", 12, 48, "10.00.0.0" },
	{ "192.168.100.200", 25, 48, "192.168.100.128" },
	{ "192.168.100.100", 25, 48, "192.168.100.000" },
	{ "172.16.255.1", 23, 48, "172.16.254.0" },
	{ "010.001.000.255", 24, 48, "010.001.000.000" },
	{ "1.2.3.4", 32, 48, "1.2.3.4" },
	{ "1.2.3.4", 40, 48, "1.2.3.4" },
	{ "255.255.255.255", 0, 48, "000.000.000.000" },
	{ "255.255.255.255", 1, 48, "128.000.000.000" },
	{ "255.255.255.255", 31, 48, "255.255.255.254" },
	/* IPv6 */
	{ "2001:db8:1:2:3:4:5:6", 24, 48, "2001:db8:1:0:0:0:0:0" },
	{ "2001:db8:abcd:1234::1", 24, 48, "2001:db8:abcd:0000::0" },
	{ "2001:db8:abcd:1234::1", 24, 56, "2001:db8:abcd:1200::0" },
	{ "2001:db8:abcd:12::1", 24, 56, "2001:db8:abcd:00::0" },
	{ "2001:DB8:ABCD:12FF::1", 24, 60, "2001:DB8:ABCD:12F0::0" },
	{ "2001:db8:abcd:12ff::1", 24, 60, "2001:db8:abcd:12f0::0" },
	{ "2001:db8::", 24, 32, "2001:db8::" },
	{ "2001:db8:1::", 24, 16, "2001:000:0::" },
	{ "2001:db8:1::", 24, 20, "2001:000:0::" },
	{ "2001:fdb8:1::", 24, 20, "2001:f000:0::" },
	{ "::1", 24, 48, "::0" },
	{ "fe80::1%eth0", 24, 64, "fe80::0%eth0" },
	{ "fe80::1:2%eth0", 24, 112, "fe80::1:0%eth0" },
	{ "2001:db8::1", 24, 128, "2001:db8::1" },
	{ "2001:db8::1", 24, 0, "0000:000::0" },
	{ "2001:0db8:85a3:0000:0000:8a2e:0370:7334", 24, 48,
	  "2001:0db8:85a3:0000:0000:0000:0000:0000" },
	{ "1:2:3:4:5:6:7::", 24, 100, "1:2:3:4:5:6:0::" },
	/* embedded IPv4: mapped, compatible, NAT64 follow the IPv4 rule */
	{ "::ffff:192.0.2.55", 24, 48, "::ffff:192.0.2.00" },
	{ "::ffff:203.0.113.77", 20, 0, "::ffff:203.0.112.00" },
	{ "::FFFF:10.1.2.3", 8, 48, "::FFFF:10.0.0.0" },
	{ "64:ff9b::198.51.100.7", 24, 16, "64:ff9b::198.51.100.0" },
	{ "::192.0.2.55", 24, 48, "::192.0.2.00" },
	{ "::ffff:c000:0237", 24, 48, "::ffff:c000:0200" },
	/* any other prefix: the IPv6 length over those 32 bits */
	{ "2001:db8::192.0.2.55", 24, 48, "2001:db8::000.0.0.00" },
	{ "2001:db8::192.0.2.55", 24, 112, "2001:db8::192.0.0.00" },
	{ "1:2:3:4:5:6:1.2.3.4", 24, 64, "1:2:3:4:0:0:0.0.0.0" },
	/* no address */
	{ "1.2.3", 24, 48, NULL },
	{ "1.2.3.4 ", 24, 48, NULL },
	{ "256.1.1.1", 24, 48, NULL },
	{ "hello", 24, 48, NULL },
	{ "2001:db8::1::2", 24, 48, NULL },
	{ "[::1]", 24, 48, NULL },
	{ "12345::", 24, 48, NULL },
	{ "::", 24, 48, NULL },
	{ "", 24, 48, NULL },
};

static void test_truncate(void **state)
{
	for (size_t k = 0; k < sizeof(trunc_cases) / sizeof(trunc_cases[0]); k++) {
		const struct trunc_case *c = &trunc_cases[k];
		size_t n = strlen(c->in);
		uint8_t *b = malloc(n + 1);	/* exact size for ASan */
		int rc;

		assert_non_null(b);
		memcpy(b, c->in, n + 1);
		rc = rewrite_truncate_text(b, (uint32_t)n, c->p4, c->p6);
		if (!c->out) {
			if (rc != -EINVAL)
				fail_msg("case %zu \"%s\": rc %d", k, c->in, rc);
			assert_memory_equal(b, c->in, n);
		} else {
			if (rc != 0 || memcmp(b, c->out, n) || strlen(c->out) != n)
				fail_msg("case %zu \"%s\" /%u /%u: got \"%.*s\" rc %d, want \"%s\"",
					 k, c->in, c->p4, c->p6, (int)n, b, rc,
					 c->out);
		}
		free(b);
	}
}

/* ---- address text --------------------------------------------------- */

static void addr_text_is(int fam, const char *addr_text, uint32_t len,
			 const char *want)
{
	uint8_t a[16], out[64];
	int rc;

	assert_int_equal(detect_ip_text((const uint8_t *)addr_text,
					(uint32_t)strlen(addr_text), a), fam);
	memset(out, '#', sizeof(out));
	rc = rewrite_address_text(out, len, fam, a);
	if (!want) {
		if (rc != -ENOSPC)
			fail_msg("%s in %u: rc %d, want -ENOSPC", addr_text, len, rc);
		return;
	}
	if (rc || memcmp(out, want, len) || strlen(want) != len || out[len] != '#')
		fail_msg("%s in %u: got \"%.*s\" rc %d, want \"%s\"", addr_text,
			 len, (int)len, out, rc, want);
}

static void test_address_text(void **state)
{
	static const uint8_t a[16] = { 1 };

	addr_text_is(4, "192.0.2.1", 9, "192.0.2.1");
	/* octets below 8 are padded first: same value read as octal */
	addr_text_is(4, "192.0.2.1", 10, "192.0.2.01");
	addr_text_is(4, "192.0.2.1", 11, "192.0.2.001");
	addr_text_is(4, "192.0.2.1", 12, "192.0.02.001");
	addr_text_is(4, "192.0.2.1", 14, "192.00.002.001");
	addr_text_is(4, "192.0.2.1", 15, "192.000.002.001");
	addr_text_is(4, "192.0.2.1", 16, NULL);
	addr_text_is(4, "192.0.2.1", 8, NULL);
	addr_text_is(4, "10.20.30.40", 12, "10.20.30.040");
	addr_text_is(4, "10.20.30.40", 15, "010.020.030.040");
	addr_text_is(4, "0.0.0.0", 7, "0.0.0.0");

	addr_text_is(6, "2001:db8::1", 11, "2001:db8::1");
	addr_text_is(6, "2001:db8::1", 12, "2001:0db8::1");
	addr_text_is(6, "2001:db8::1", 15, "2001:0db8::0001");
	addr_text_is(6, "2001:db8::1", 16, "2001:0db8::000:1");
	addr_text_is(6, "2001:db8::1", 39, "2001:0db8:0000:0000:0000:0000:0000:0001");
	addr_text_is(6, "2001:db8::1", 20, "2001:db8:0:0:0:0:0:1");
	addr_text_is(6, "2001:db8::1", 40, NULL);
	addr_text_is(6, "2001:db8::1", 10, NULL);
	{
		/* the unspecified address: no detector text, written anyway */
		static const uint8_t zero[16];
		uint8_t out[4] = "###";

		assert_int_equal(rewrite_address_text(out, 2, 6, zero), 0);
		assert_memory_equal(out, "::#", 3);
		assert_int_equal(rewrite_address_text(out, 3, 6, zero), 0);
		assert_memory_equal(out, "::0", 3);
		assert_int_equal(rewrite_address_text(out, 1, 6, zero), -ENOSPC);
	}
	addr_text_is(6, "1::", 3, "1::");
	addr_text_is(6, "1:0:0:2::", 9, "1:0:0:2::");
	addr_text_is(6, "1:0:0:2::", 12, "0001:0:0:2::");
	addr_text_is(6, "1:0:0:2::", 8, NULL);
	addr_text_is(6, "::ffff:192.0.2.1", 15, "::ffff:c000:201");
	addr_text_is(6, "fe80::1:2:3:4", 13, "fe80::1:2:3:4");
	addr_text_is(6, "1:2:3:4:5:6:7:8", 15, "1:2:3:4:5:6:7:8");
	addr_text_is(6, "1:2:3:4:5:6:7:8", 14, NULL);

	assert_int_equal(rewrite_address_text((uint8_t[8]){ 0 }, 8, 5, a), -EINVAL);
}

/* Every length an address fits in reads back as that address. */
static void test_address_text_roundtrip(void **state)
{
	uint32_t x = 99;

	for (unsigned round = 0; round < 2000; round++) {
		uint8_t a[16] = { 0 }, back[16], out[40];
		int fam = round & 1 ? 6 : 4, ok = 0;

		for (unsigned k = 0; k < (fam == 4 ? 4u : 16u); k++) {
			x = x * 1103515245u + 12345u;
			/* many zero groups so that "::" forms appear */
			a[k] = (x >> 16) % 3 == 0 ? 0 : (uint8_t)(x >> 20);
		}
		for (uint32_t len = 1; len <= 40; len++) {
			uint32_t s, e;

			if (rewrite_address_text(out, len, fam, a))
				continue;
			ok++;
			assert_int_equal(detect_ip_text(out, len, back), fam);
			assert_memory_equal(back, a, fam == 4 ? 4 : 16);
			/* and the detector sees the whole text as one address */
			if (fam == 4)
				assert_true(detect_ipv4(out, len, 0, &s, &e));
			else
				assert_true(detect_ipv6(out, len, 0, &s, &e));
			assert_int_equal(s, 0);
			assert_int_equal(e, len);
		}
		if (ok < 1)
			fail_msg("round %u fam %d: %d lengths", round, fam, ok);
		if (fam == 4)
			assert_int_equal(ok, 15 - 3 - (a[0] >= 10) - (a[0] >= 100) -
					 (a[1] >= 10) - (a[1] >= 100) - (a[2] >= 10) -
					 (a[2] >= 100) - (a[3] >= 10) - (a[3] >= 100) - 3);
	}
}

/* ---- token ---------------------------------------------------------- */

static bool same_classes(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool da = a[i] >= '0' && a[i] <= '9', db = b[i] >= '0' && b[i] <= '9';
		bool ua = a[i] >= 'A' && a[i] <= 'Z', ub = b[i] >= 'A' && b[i] <= 'Z';
		bool la = a[i] >= 'a' && a[i] <= 'z', lb = b[i] >= 'a' && b[i] <= 'z';

		if (da != db || ua != ub || la != lb)
			return false;
		if (!da && !ua && !la && a[i] != b[i])
			return false;
	}
	return true;
}

static void token(const uint8_t *key, uint8_t det, const char *in, char *out)
{
	size_t n = strlen(in);

	memcpy(out, in, n + 1);
	rewrite_token(key, det, (uint8_t *)out, (uint32_t)n);
}

static void test_token_basic(void **state)
{
	static const char *const in[] = {
		"alice@example.org", "Bob.Smith+tag@Mail.Example.CO.uk",
		"+1 (555) 123-4567", "imei=356938035643809", "x", "0", "",
		"\xff\x00", "ABC-def_123",
	};
	char t1[64], t2[64], t3[64], t4[64];

	for (size_t k = 0; k < sizeof(in) / sizeof(in[0]); k++) {
		size_t n = strlen(in[k]);

		token(key_a, DET_EMAIL, in[k], t1);
		token(key_a, DET_EMAIL, in[k], t2);
		assert_int_equal(strlen(t1), n);
		assert_true(same_classes((const uint8_t *)in[k], (const uint8_t *)t1, n));
		assert_memory_equal(t1, t2, n);
	}
	token(key_a, DET_EMAIL, "alice@example.org", t1);
	token(key_b, DET_EMAIL, "alice@example.org", t2);
	token(key_a, DET_PATTERN, "alice@example.org", t3);
	token(key_a, DET_EMAIL, "alice@example.orh", t4);
	assert_string_not_equal(t1, "alice@example.org");
	assert_string_not_equal(t1, t2);	/* another key */
	assert_string_not_equal(t1, t3);	/* another detector */
	/* a one-letter change changes the whole token, not one position */
	assert_true(memcmp(t1, t4, 10) != 0);
	assert_int_equal(t1[5], '@');
	assert_int_equal(t1[13], '.');
}

static void test_token_phone(void **state)
{
	static const char *const in[] = {
		"+15551234567", "+44 20 7946 0958", "+1 (555) 123-4567",
		"+33.1.23.45.67.89",
	};
	char t[64], u[64];

	for (size_t k = 0; k < sizeof(in) / sizeof(in[0]); k++) {
		size_t n = strlen(in[k]);

		token(key_a, DET_PHONE, in[k], t);
		assert_true(same_classes((const uint8_t *)in[k], (const uint8_t *)t, n));
		/* the '+' and the country zone digit stay */
		assert_memory_equal(t, in[k], 2);
		assert_memory_not_equal(t + 2, in[k] + 2, n - 2);
		token(key_a, DET_PHONE, in[k], u);
		assert_string_equal(t, u);
	}
	/* other detectors keep no digit */
	token(key_a, DET_PATTERN, "+15551234567", t);
	token(key_a, DET_PATTERN, "+25551234567", u);
	assert_true(t[1] != '1' || u[1] != '2');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_token_distinct(void **state)
{
	enum { N = 1000 };
	static char tok[N][32];

	for (unsigned k = 0; k < N; k++) {
		char in[32];

		snprintf(in, sizeof(in), "user%u@example.com", k);
		token(key_a, DET_EMAIL, in, tok[k]);
		assert_int_equal(strlen(tok[k]), strlen(in));
		assert_true(same_classes((const uint8_t *)in, (const uint8_t *)tok[k],
					 strlen(in)));
	}
	qsort(tok, N, sizeof(tok[0]), cmp_str);
	for (unsigned k = 1; k < N; k++)
		assert_string_not_equal(tok[k - 1], tok[k]);
}

/* Longer than one PRF chunk: still same classes, deterministic, no repeats. */
static void test_token_long(void **state)
{
	enum { LEN = 2000 };
	uint8_t *in = malloc(LEN), *t1 = malloc(LEN), *t2 = malloc(LEN);
	unsigned same = 0;

	assert_true(in && t1 && t2);
	for (unsigned i = 0; i < LEN; i++)
		in[i] = (uint8_t)("aZ5.-"[i % 5]);
	memcpy(t1, in, LEN);
	memcpy(t2, in, LEN);
	rewrite_token(key_a, DET_PATTERN, t1, LEN);
	rewrite_token(key_a, DET_PATTERN, t2, LEN);
	assert_memory_equal(t1, t2, LEN);
	assert_true(same_classes(in, t1, LEN));
	/* chunk i and chunk i+1 differ though their input repeats */
	assert_memory_not_equal(t1, t1 + 1280, 256);
	for (unsigned i = 0; i < LEN; i++)
		same += t1[i] == in[i];
	assert_true(same < LEN / 2);
	/* the last byte changes the first chunk too */
	memcpy(t2, in, LEN);
	t2[LEN - 1] = '6';
	rewrite_token(key_a, DET_PATTERN, t2, LEN);
	assert_memory_not_equal(t1, t2, 64);
	free(in);
	free(t1);
	free(t2);
}

/*
 * UTF-8 in an identifier (RFC 6531 addresses): each byte of a character
 * becomes ASCII, so the text keeps its byte length and stays valid; bytes
 * that start no well-formed character (binary) stay as they are.
 */
static void test_mask_utf8(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "\xc3\xa5lice@ex\xc3\xa4mple.org", "xxxxxx@xxxxxxxx.xxx" },
		{ "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a",
		  "xxxxxx@xxxxxx.xxxxxx" },
		{ "\xf0\xa0\xae\xb7x@a.io", "xxxxx@x.xx" },
		{ "\"j\xc3\xb6rg smith\"@example.org", "\"xxxxx xxxxx\"@xxxxxxx.xxx" },
		/* a character cut short by the end of the text (a held tail) */
		{ "ab\xe4\xbe", "xxxx" },
		/* not UTF-8: overlong, surrogate, stray continuation, 0xff */
		{ "\xc0\xaf\xed\xa0\x80\x80\xff", "\xc0\xaf\xed\xa0\x80\x80\xff" },
		{ "a\xc3(", "x\xc3(" },
	};
	uint8_t key_dummy[KEY_LEN] = { 1 };
	char t[64];

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char buf[64];
		size_t n = strlen(cases[k].in);

		memcpy(buf, cases[k].in, n + 1);
		rewrite_mask((uint8_t *)buf, (uint32_t)n);
		assert_string_equal(buf, cases[k].out);
	}
	/* token: ASCII letters in place of the UTF-8 bytes, the rest classed */
	memcpy(t, "\xe7\x94\xa8@\xc3\xa4.de\xff", 11);
	rewrite_token(key_dummy, DET_EMAIL, (uint8_t *)t, 10);
	for (int i = 0; i < 10; i++) {
		if (i == 3 || i == 6)
			assert_int_equal(t[i], i == 3 ? '@' : '.');
		else if (i == 9)
			assert_int_equal((uint8_t)t[i], 0xff);
		else
			assert_true(t[i] >= 'a' && t[i] <= 'z');
	}
}

/* A UTF-8 character across the token's PRF chunks is rewritten whole. */
static void test_token_utf8_long(void **state)
{
	enum { LEN = 600 };
	uint8_t *in = malloc(LEN), *t1 = malloc(LEN);

	assert_true(in && t1);
	/* 3-byte characters: 256 is no multiple of 3, so some straddle */
	for (unsigned i = 0; i < LEN; i += 3)
		memcpy(in + i, "\xe4\xbe\x8b", 3);
	memcpy(t1, in, LEN);
	rewrite_token(key_a, DET_EMAIL, t1, LEN);
	for (unsigned i = 0; i < LEN; i++)
		assert_true(t1[i] >= 'a' && t1[i] <= 'z');
	free(in);
	free(t1);
}

/*
 * Percent escapes (a relaxed email's %40): an escaped punctuation mark
 * stays as the mark would, any other escape becomes one of a letter; no
 * invalid escape (%0x) and no NUL (%00) reaches the server's decoder.
 */
static void test_mask_pct(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "alice%40example.org", "xxxxx%40xxxxxxx.xxx" },
		{ "alice%2540example.org", "xxxxx%2540xxxxxxx.xxx" },
		{ "alice%2Btag%40example.org", "xxxxx%2Bxxx%40xxxxxxx.xxx" },
		{ "j%C3%B6rg%40example.org", "x%78%78xx%40xxxxxxx.xxx" },
		{ "a%2541b", "x%2578x" },
		{ "%4", "%0" },			/* no escape: a digit */
		{ "fe80::1%25eth0", "xx00::0%25xxx0" },
		{ "100%", "000%" },
	};
	uint8_t key_dummy[KEY_LEN] = { 2 };
	char t[32];

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char buf[64];
		size_t n = strlen(cases[k].in);

		memcpy(buf, cases[k].in, n + 1);
		rewrite_mask((uint8_t *)buf, (uint32_t)n);
		assert_string_equal(buf, cases[k].out);
	}
	/* token: %40 stays, %C3 becomes the escape of a lower-case letter */
	memcpy(t, "ab%40cd%C3x", 12);
	rewrite_token(key_dummy, DET_EMAIL, (uint8_t *)t, 11);
	assert_memory_equal(t + 2, "%40", 3);
	assert_int_equal(t[7], '%');
	assert_true((t[8] == '6' && t[9] >= '1' && t[9] <= 'f') ||
		    (t[8] == '7' && t[9] >= '0' && t[9] <= 'a'));
}

/* An escape across the token's PRF chunks is rewritten once, whole. */
static void test_token_pct_long(void **state)
{
	enum { LEN = 600 };
	uint8_t *t1 = malloc(LEN);

	assert_non_null(t1);
	/* "%C3" every 3 bytes: 256 is no multiple of 3, so some straddle */
	for (unsigned i = 0; i < LEN; i += 3)
		memcpy(t1 + i, "%C3", 3);
	rewrite_token(key_a, DET_EMAIL, t1, LEN);
	for (unsigned i = 0; i < LEN; i += 3) {
		unsigned v;

		assert_int_equal(t1[i], '%');
		assert_int_equal(sscanf((const char *)t1 + i + 1, "%2x", &v), 1);
		assert_true(v >= 'a' && v <= 'z');
	}
	free(t1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_address_text),
		cmocka_unit_test(test_address_text_roundtrip),
		cmocka_unit_test(test_token_basic),
		cmocka_unit_test(test_token_phone),
		cmocka_unit_test(test_token_distinct),
		cmocka_unit_test(test_token_long),
		cmocka_unit_test(test_mask_utf8),
		cmocka_unit_test(test_token_utf8_long),
		cmocka_unit_test(test_mask_pct),
		cmocka_unit_test(test_token_pct_long),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
