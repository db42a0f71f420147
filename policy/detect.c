/*
 * detect.c — identifier detectors (doc/design.md §5).
 *
 * The built-in detectors (ipv4, ipv6, email, phone, mac) share one pass
 * over the buffer: a byte table marks the anchor bytes ('@', '+', '.',
 * ':', '-') and only there does a detector run its precise check,
 * extending left and right from the anchor.  Literals use memmem,
 * patterns one PCRE2 pass each, header rules one memchr pass over the
 * lines.  Every candidate goes into one array that is then sorted;
 * overlapping matches are all kept, for the engine to merge
 * (doc/design.md §5).  Nothing allocates after detect_scratch_new().
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "detect.h"
#include "ruleset.h"

/* Candidates a scan may collect before duplicates are removed. */
#define CAND_CAP (2 * DETECT_MAX_MATCHES)

enum {
	CH_DIGIT = 1 << 0,
	CH_HEX = 1 << 1,
	CH_ALPHA = 1 << 2,
	CH_ATEXT = 1 << 3,	/* RFC 5322 atext (no '.'), but for '=' */
	CH_LABEL = 1 << 4,	/* domain label: letters, digits, '-' */
	CH_WORD = 1 << 5,	/* letters, digits, '_' */
	CH_ZONE = 1 << 6,	/* IPv6 zone id */
};

#define CH_DEC (CH_DIGIT | CH_HEX | CH_ATEXT | CH_LABEL | CH_WORD | CH_ZONE)
#define CH_HEXL (CH_HEX | CH_ALPHA | CH_ATEXT | CH_LABEL | CH_WORD | CH_ZONE)
#define CH_LET (CH_ALPHA | CH_ATEXT | CH_LABEL | CH_WORD | CH_ZONE)

static const uint8_t ch[256] = {
	['0' ... '9'] = CH_DEC,
	['A' ... 'F'] = CH_HEXL, ['a' ... 'f'] = CH_HEXL,
	['G' ... 'Z'] = CH_LET, ['g' ... 'z'] = CH_LET,
	['_'] = CH_ATEXT | CH_WORD | CH_ZONE,
	['-'] = CH_ATEXT | CH_LABEL | CH_ZONE,
	['.'] = CH_ZONE,
	['~'] = CH_ATEXT | CH_ZONE,
	['!'] = CH_ATEXT, ['#'] = CH_ATEXT, ['$'] = CH_ATEXT,
	['%'] = CH_ATEXT, ['&'] = CH_ATEXT, ['\''] = CH_ATEXT,
	/*
	 * '=' is atext in RFC 5322, but in logs and protocols it is the
	 * key=value separator (user=, from=, NOTIFY=, ?email=): the local
	 * part does not extend over it, so the key stays readable.
	 */
	['*'] = CH_ATEXT, ['+'] = CH_ATEXT, ['/'] = CH_ATEXT,
	['?'] = CH_ATEXT, ['^'] = CH_ATEXT,
	['`'] = CH_ATEXT, ['{'] = CH_ATEXT, ['|'] = CH_ATEXT,
	['}'] = CH_ATEXT,
};

#define BIT(d) (1u << (d))
#define BUILTIN_MASK (BIT(DET_IPV4) | BIT(DET_IPV6) | BIT(DET_EMAIL) | \
		      BIT(DET_PHONE) | BIT(DET_MAC))

/* Which built-in detectors may start their check at a byte. */
static const uint8_t anchor[256] = {
	['@'] = BIT(DET_EMAIL),
	['+'] = BIT(DET_PHONE),
	['.'] = BIT(DET_IPV4) | BIT(DET_MAC),
	[':'] = BIT(DET_IPV6) | BIT(DET_MAC),
	['-'] = BIT(DET_IPV4) | BIT(DET_MAC),	/* IPv4: `hostnames` only */
};

struct detect_scratch {
	pcre2_match_data *md;
	struct detect_match *cand;	/* CAND_CAP */
	struct detect_match *tmp;	/* merge sort */
	uint32_t n;
	bool overflow;
	struct detect_range *ranges;	/* DETECT_MAX_MATCHES */
	struct detect_range *rtmp;
};

/*
 * How the built-in detectors read, from the service's rules: what
 * detect_scan() passes down to them.  All false: the detectors as the
 * single detect_*() functions and header rules run them.
 */
struct scan_opts {
	bool v4_hostnames;	/* `redact ipv4 ... hostnames` */
	bool email_relaxed;	/* `redact email ... relaxed` */
};

static const struct scan_opts default_opts;

static inline bool is_digit(uint8_t c) { return ch[c] & CH_DIGIT; }
static inline bool is_hex(uint8_t c) { return ch[c] & CH_HEX; }
static inline bool is_alpha(uint8_t c) { return ch[c] & CH_ALPHA; }
static inline bool is_alnum(uint8_t c) { return ch[c] & (CH_DIGIT | CH_ALPHA); }
static inline bool is_word(uint8_t c) { return ch[c] & CH_WORD; }
static inline bool is_atext(uint8_t c) { return ch[c] & CH_ATEXT; }
static inline bool is_label(uint8_t c) { return ch[c] & CH_LABEL; }

static inline unsigned hexval(uint8_t c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* ---- IPv4 ------------------------------------------------------------ */

/* A dotted quad exactly at @p (no boundary checks). */
static bool ipv4_parse(const uint8_t *b, uint32_t len, uint32_t p,
		       uint32_t *end, uint8_t *out)
{
	for (unsigned k = 0; k < 4; k++) {
		unsigned v = 0, n = 0;

		if (k) {
			if (p >= len || b[p] != '.')
				return false;
			p++;
		}
		while (p < len && is_digit(b[p])) {
			if (++n > 3)
				return false;
			v = v * 10 + (b[p] - '0');
			p++;
		}
		if (!n || v > 255)
			return false;
		if (out)
			out[k] = (uint8_t)v;
	}
	*end = p;
	return true;
}

/*
 * What may come before an address: anything that cannot continue it.
 * A digit would lengthen the first number and "9." make the run longer
 * than four numbers; a letter cannot continue a dotted quad, so a length
 * byte ('A' for 65), "v" or "ip" glued to the front is a neighbour.
 */
static bool ipv4_left_ok(const uint8_t *b, uint32_t s)
{
	if (s == 0)
		return true;
	if (is_digit(b[s - 1]))
		return false;
	return !(b[s - 1] == '.' && s >= 2 && is_digit(b[s - 2]));
}

/* The number of decimal digits at @p, at most @max + 1. */
static uint32_t dec_run(const uint8_t *b, uint32_t len, uint32_t p,
			uint32_t max, unsigned *val)
{
	uint32_t n = 0;
	unsigned v = 0;

	while (p + n < len && is_digit(b[p + n]) && n <= max) {
		if (n < 9)
			v = v * 10 + (b[p + n] - '0');
		n++;
	}
	*val = v;
	return n;
}

/*
 * The first three numbers of a quad at @p, each 0-255 and followed by
 * @sep: the position after the third separator, or 0.
 */
static uint32_t ipv4_head(const uint8_t *b, uint32_t len, uint32_t p,
			  uint8_t sep, unsigned g[3], uint32_t w[3])
{
	for (unsigned k = 0; k < 3; k++) {
		uint32_t n = dec_run(b, len, p, 3, &g[k]);

		if (!n || n > 3 || g[k] > 255 || p + n >= len ||
		    b[p + n] != sep)
			return 0;
		w[k] = n;
		p += n + 1;
	}
	return p;
}

/*
 * Microseconds or milliseconds after a time of day with dots, as DB2 and
 * some loggers print it: 22.46.53.485059.
 */
static bool time_like(const unsigned g[3], const uint32_t w[3], uint32_t run)
{
	return g[0] <= 23 && w[1] == 2 && g[1] <= 59 && w[2] == 2 &&
	       g[2] <= 60 && (run == 3 || run == 6);
}

/*
 * @i is a '.'; the address would start at the digit run before it.
 *
 * The fourth number may run on in digits: "192.0.2.552" is the address
 * 192.0.2.55 with a byte after it (a protobuf tag, the length of the
 * next octet-counted syslog frame).  The address is then the longest
 * valid prefix of that run, unless the run is longer than 8 digits or
 * the quad reads as a time with fractions of a second (22.46.53.485059).
 * A fifth number of 1-5 digits (at most 65535) is a port as tcpdump and
 * SOCKS logs print it: 10.0.0.1.57178, but not five pairs of digits
 * from a 0 (06.12.34.56.78, a French phone number).  Six numbers or more
 * are no address (OIDs, versions).  Stream or not, the rule is the same.
 */
static bool ipv4_try(const uint8_t *b, uint32_t len, uint32_t i,
		     uint32_t *s, uint32_t *e)
{
	uint32_t st, p, run, w[3];
	unsigned g[3], v, pv;

	if (i == 0 || !is_digit(b[i - 1]))
		return false;
	st = i - 1;
	while (st > 0 && is_digit(b[st - 1]) && i - st < 4)
		st--;
	if (!ipv4_left_ok(b, st))
		return false;
	p = ipv4_head(b, len, st, '.', g, w);
	if (!p)
		return false;
	run = dec_run(b, len, p, 8, &v);
	if (!run || run > 8)
		return false;
	*s = st;
	*e = p + run;
	if (run > 3 || v > 255) {
		unsigned o = 0;
		uint32_t k = 0;

		if (time_like(g, w, run))
			return false;
		while (k < 3 && o * 10 + (unsigned)(b[p + k] - '0') <= 255)
			o = o * 10 + (unsigned)(b[p + k++] - '0');
		*e = p + k;
	}
	p += run;
	if (p + 1 < len && b[p] == '.' && is_digit(b[p + 1])) {
		/* a port; a number on after the run is no address */
		uint32_t n = dec_run(b, len, p + 1, 5, &pv);

		if (*e != p || n > 5 || pv > 65535)
			return false;
		/* five pairs from a 0: a phone number as France writes it */
		if (b[st] == '0' && w[0] == 2 && w[1] == 2 && w[2] == 2 &&
		    run == 2 && n == 2)
			return false;
		p += 1 + n;
		if (p + 1 < len && b[p] == '.' && is_digit(b[p + 1]))
			return false;
	}
	return true;
}

/*
 * `hostnames`: a quad written with dashes in a host name, as ISPs and
 * clouds name their hosts (82-68-222-194.dsl.example.net,
 * ip-10-0-0-1.ec2.internal).  @i is a '-'.  A host name around it is
 * required: letters and '-' before, or '.' or '-' and a letter after.
 */
static bool ipv4_dashed_try(const uint8_t *b, uint32_t len, uint32_t i,
			    uint32_t *s, uint32_t *e)
{
	uint32_t st, p, n, w[3];
	unsigned g[3], v;
	bool named;

	if (i == 0 || !is_digit(b[i - 1]))
		return false;
	st = i - 1;
	while (st > 0 && is_digit(b[st - 1]) && i - st < 4)
		st--;
	if (st > 0 && is_digit(b[st - 1]))
		return false;
	/* a label before: "ip-", "ec2-"; a number before: a longer run */
	named = st >= 2 && b[st - 1] == '-' && is_alnum(b[st - 2]);
	if (named) {
		uint32_t w0 = st - 1;

		while (w0 > 0 && is_digit(b[w0 - 1]))
			w0--;
		if (w0 < st - 1 && (w0 == 0 || !is_alpha(b[w0 - 1])))
			return false;
	}
	p = ipv4_head(b, len, st, '-', g, w);
	if (!p)
		return false;
	n = dec_run(b, len, p, 3, &v);
	if (!n || n > 3 || v > 255)
		return false;
	p += n;
	if (p + 1 < len && b[p] == '-' && is_digit(b[p + 1]))
		return false;
	if (!named && !(p + 1 < len && (b[p] == '.' || b[p] == '-') &&
			is_alpha(b[p + 1])))
		return false;
	*s = st;
	*e = p;
	return true;
}

/*
 * `hostnames`: a dotted quad followed by ".label" is part of a host name
 * (host-82.68.222.194.example.net, 194.222.68.82.in-addr.arpa) whose
 * octets may be in either order: the match takes the dot after it, so
 * that the text is no address on its own and truncate masks it whole.
 */
static void ipv4_hostname_dot(const uint8_t *b, uint32_t len, uint32_t *e)
{
	if (*e + 1 < len && b[*e] == '.' && is_alpha(b[*e + 1]))
		(*e)++;
}

/* ---- IPv6 ------------------------------------------------------------ */

/* The last point of an IPv6 parse where the text so far is an address. */
struct v6_mark {
	uint32_t end;
	unsigned ng;
	int dc;
	bool ok;
};

static inline void v6_mark(struct v6_mark *k, uint32_t p, unsigned ng, int dc)
{
	if (dc >= 0 ? ng <= 7 : ng == 8)
		*k = (struct v6_mark){ .end = p, .ng = ng, .dc = dc, .ok = true };
}

/* b[p, h) (five digits) after a single ':' reads as a port. */
static bool v6_port_like(const uint8_t *b, uint32_t p, uint32_t h)
{
	unsigned v = 0;

	if (p < 2 || b[p - 1] != ':' || b[p - 2] == ':')
		return false;
	for (uint32_t k = p; k < h; k++) {
		if (!is_digit(b[k]))
			return false;
		v = v * 10 + (b[k] - '0');
	}
	return v <= 65535;
}

/*
 * An IPv6 address at @p, no boundary checks; the zone is not part of it.
 * Greedy, and the longest prefix of the text that is an address: so
 * "2001:db8::1:54321" ends before the port and "1:2:3:4:5:6:7:8:443"
 * after the eighth group.  A last group of five or six hex digits with
 * no ':' or '.' after them ends after its first four: the others are
 * bytes glued to the address (a tag, a length).
 */
static bool ipv6_parse(const uint8_t *b, uint32_t len, uint32_t p,
		       uint32_t *end, uint8_t *out)
{
	struct v6_mark k = { 0 };
	uint16_t g[8];
	unsigned ng = 0;
	int dc = -1;

	if (p + 1 < len && b[p] == ':' && b[p + 1] == ':') {
		dc = 0;
		p += 2;
		v6_mark(&k, p, ng, dc);
		if (p >= len || !is_hex(b[p]))
			goto done;
	}
	for (;;) {
		uint32_t d = p, h;
		unsigned v = 0;

		while (d < len && is_digit(b[d]) && d - p < 4)
			d++;
		if (d < len && b[d] == '.' && (dc >= 0 ? ng <= 5 : ng == 6)) {
			uint8_t v4[4];
			uint32_t e4;

			if (ipv4_parse(b, len, p, &e4, v4)) {
				g[ng++] = (uint16_t)(v4[0] << 8 | v4[1]);
				g[ng++] = (uint16_t)(v4[2] << 8 | v4[3]);
				v6_mark(&k, e4, ng, dc);
				break;
			}
		}
		for (h = p; h < len && is_hex(b[h]) && h - p < 7; h++)
			;
		if (h == p || ng == 8)
			break;
		if (h - p > 4) {
			if (h - p > 6 || (h < len && (b[h] == ':' || b[h] == '.' ||
						      is_hex(b[h]))) ||
			    v6_port_like(b, p, h))
				break;
			h = p + 4;	/* glued bytes after the last group */
		}
		for (; p < h; p++)
			v = v << 4 | hexval(b[p]);
		g[ng++] = (uint16_t)v;
		v6_mark(&k, p, ng, dc);
		if (p < len && is_hex(b[p]))
			break;
		if (p + 1 < len && b[p] == ':' && b[p + 1] == ':') {
			if (dc >= 0)
				break;
			dc = (int)ng;
			v6_mark(&k, p + 2, ng, dc);
			p += 2;
			if (p >= len || !is_hex(b[p]))
				break;
			continue;
		}
		if (p + 1 < len && b[p] == ':' && is_hex(b[p + 1])) {
			p++;
			continue;
		}
		break;
	}
done:
	if (!k.ok || (k.dc == 0 && k.ng == 0))
		return false;	/* a bare "::" says nothing */
	if (out) {
		unsigned gap = 8 - k.ng, o = 0;

		for (unsigned x = 0; x < 8; x++) {
			uint16_t v;

			if (k.dc >= 0 && x >= (unsigned)k.dc &&
			    x < (unsigned)k.dc + gap)
				v = 0;
			else
				v = g[o++];
			out[2 * x] = (uint8_t)(v >> 8);
			out[2 * x + 1] = (uint8_t)v;
		}
	}
	*end = k.end;
	return true;
}

/* @n (1-5) decimal digits at @p, at most 65535: a port.  Return n or 0. */
static uint32_t port_at(const uint8_t *b, uint32_t len, uint32_t p)
{
	uint32_t n = 0;
	unsigned v = 0;

	while (p + n < len && is_digit(b[p + n]) && n < 6)
		v = v * 10 + (b[p + n++] - '0');
	return n && n <= 5 && v <= 65535 ? n : 0;
}

static bool has_digit(const uint8_t *b, uint32_t s, uint32_t e)
{
	for (; s < e; s++)
		if (is_digit(b[s]))
			return true;
	return false;
}

static bool has_dcolon(const uint8_t *b, uint32_t s, uint32_t e)
{
	for (; s + 1 < e; s++)
		if (b[s] == ':' && b[s + 1] == ':')
			return true;
	return false;
}

/*
 * @i is a ':'; the address is in the [hex:] run around it.
 *
 * Where it starts: at the run's start when nothing that could continue
 * it comes before.  A first group of five or six hex digits has glued
 * bytes in front ("A2001:db8::1" with a length byte 'A'): the group is
 * its last four.  After a letter, a group of three or four hex digits
 * follows a glued byte ("x2001:db8::1"); one or two are the end of a
 * word with a ':' after it ("src:", "en0:", "IPv6:"), and the address
 * starts after that ':' ("Foo::Bar" is a scope, no address).
 *
 * Where it ends: a ':' and a port after it ("2001:db8::1234:58430")
 * make the match the whole run when the address has a "::" (the port
 * could be its last group), the address alone after eight groups; a '.'
 * and a port as tcpdump prints it ("2001:db8::1.443") ends it; so does
 * a letter glued after it when it has a decimal digit ("fe80::1x").
 */
static bool ipv6_try(const uint8_t *b, uint32_t len, uint32_t i,
		     uint32_t *s, uint32_t *e, uint32_t *skip)
{
	uint32_t st = i, run = i, end, p, g;

	/* "Host: x", "\"k\":\"v\"": no hex digit or colon on either side */
	if (!(i > 0 && (is_hex(b[i - 1]) || b[i - 1] == ':')) &&
	    !(i + 1 < len && (is_hex(b[i + 1]) || b[i + 1] == ':'))) {
		*skip = i + 1;
		return false;
	}
	while (st > 0 && (is_hex(b[st - 1]) || b[st - 1] == ':'))
		st--;
	while (run < len && (is_hex(b[run]) || b[run] == ':' || b[run] == '.'))
		run++;
	/* no address can start inside this run: skip its other colons */
	*skip = run;
	if (st > 0 && b[st - 1] == '.')
		return false;
	for (g = st; g < len && is_hex(b[g]); g++)
		;
	p = st;
	if (g - st > 4) {
		if (g - st > 6)
			return false;
		p = g - 4;
	} else if (st > 0 && is_word(b[st - 1]) && g - st < 3) {
		if (g >= len || b[g] != ':' || (g + 1 < len && b[g + 1] == ':'))
			return false;
		p = g + 1;
	}
	if (!ipv6_parse(b, len, p, &end, NULL))
		return false;
	if (end + 1 < len && b[end] == '%' && is_alnum(b[end + 1])) {
		uint32_t zs = end + 2;

		end = zs;
		while (end < len && (ch[b[end]] & CH_ZONE))
			end++;
		/* "fe80::1%eth0." ends a sentence, not the zone */
		while (end > zs && (b[end - 1] == '.' || b[end - 1] == '-'))
			end--;
	}
	if (end < len) {
		uint8_t c = b[end];
		uint32_t n, q;

		if (is_hex(c)) {
			/* glued after a full last group (ipv6_parse) */
			if (!is_hex(b[end - 1]))
				return false;
		} else if (c == ':' || (c == '.' && end + 1 < len &&
					is_digit(b[end + 1]))) {
			n = port_at(b, len, end + 1);
			q = end + 1 + n;
			/* tcpdump ends "dst.port:" with a colon */
			if (!n || (q < len && (is_word(b[q]) ||
					       (b[q] == ':' && c == ':') ||
					       (b[q] == '.' && q + 1 < len &&
						is_digit(b[q + 1])))))
				return false;
			if (c == ':' && has_dcolon(b, p, end))
				end = q;
		} else if (is_word(c) && !has_digit(b, p, end)) {
			return false;
		}
	}
	*s = p;
	*e = end;
	if (end > *skip)
		*skip = end;
	return true;
}

/* ---- MAC ------------------------------------------------------------- */

/*
 * @i is the first separator.  Groups are two hex digits (':', '-'), one
 * or two with ':' as macOS prints them (0:1a:2b:3c:4d:5e), or four
 * (Cisco 001a.2b3c.4d5e).  Bytes glued to either end (a length byte, a
 * tag: "A00:1a:2b:3c:4d:5e") are neighbours, up to two of them, even
 * hex ones: a group cannot take them.  A separator and a hex digit on
 * either side make a longer run, which is no MAC.
 */
static bool mac_try(const uint8_t *b, uint32_t len, uint32_t i,
		    uint32_t *s, uint32_t *e)
{
	uint8_t sep = b[i];
	uint32_t st, end, k, h = 0, wide = sep == '.' ? 4 : 2;

	while (h < i && h <= wide + 2 && is_hex(b[i - h - 1]))
		h++;
	if (h > wide + 2 || h == 0 || (h < wide && sep != ':'))
		return false;
	if (i - h > 0 && (b[i - h - 1] == sep || b[i - h - 1] == '.'))
		return false;
	st = h < wide ? i - h : i - wide;
	if (sep == '.') {
		end = st + 14;
		if (end > len)
			return false;
		for (k = 0; k < 14; k++) {
			bool dot = k == 4 || k == 9;

			if (dot ? b[st + k] != '.' : !is_hex(b[st + k]))
				return false;
		}
	} else {
		end = st;
		for (k = 0; k < 6; k++) {
			uint32_t n = 0;

			if (k) {
				if (end >= len || b[end] != sep)
					return false;
				end++;
			}
			while (end + n < len && is_hex(b[end + n]) && n < 2)
				n++;
			if (!n || (n < 2 && sep != ':'))
				return false;
			end += n;
			if (k < 5 && end < len && is_hex(b[end]))
				return false;
		}
	}
	if (end < len && is_hex(b[end])) {
		uint32_t r = end;

		while (r < len && is_hex(b[r]) && r - end <= 2)
			r++;
		if (r - end > 2 || (r < len && (b[r] == sep || b[r] == '.')))
			return false;
	} else if (end + 1 < len && b[end] == sep && is_hex(b[end + 1])) {
		return false;
	}
	*s = st;
	*e = end;
	return true;
}

/* ---- email ----------------------------------------------------------- */

/* RFC 5321 4.5.3.1.1: a local part has at most 64 octets */
#define QUOTED_MAX 64

/*
 * Non-ASCII characters count as letters of an address (RFC 6531) unless
 * they are punctuation, symbols or spaces that prose puts next to an
 * address: C1 controls, Latin-1 punctuation and NBSP, × and ÷, general
 * punctuation and the symbol blocks up to U+2BFF (quotes, dashes,
 * arrows), supplemental and CJK punctuation (、。「」), fullwidth
 * punctuation (＠ ＜ ＞), the BOM, specials, emoji and tags.
 */
static bool u8_wordlike(uint32_t cp)
{
	return !(cp < 0xc0 || cp == 0xd7 || cp == 0xf7 ||
		 (cp >= 0x2000 && cp <= 0x2bff) ||
		 (cp >= 0x2e00 && cp <= 0x2e7f) ||
		 (cp >= 0x3000 && cp <= 0x303f) ||
		 (cp >= 0xfe10 && cp <= 0xfe1f) ||
		 (cp >= 0xfe30 && cp <= 0xfe6f) || cp == 0xfeff ||
		 (cp >= 0xff00 && cp <= 0xff0f) ||
		 (cp >= 0xff1a && cp <= 0xff20) ||
		 (cp >= 0xff3b && cp <= 0xff40) ||
		 (cp >= 0xff5b && cp <= 0xff65) ||
		 (cp >= 0xfff0 && cp <= 0xffff) ||
		 (cp >= 0x1f000 && cp <= 0x1fbff) ||
		 (cp >= 0xe0000 && cp <= 0xe007f));
}

/*
 * The well-formed UTF-8 multi-byte character at b[p] (RFC 3629: no
 * overlong forms, no surrogates, at most U+10FFFF).
 * Return: its length (2 to 4) with *cp set, or 0.
 */
static unsigned u8_char(const uint8_t *b, uint32_t len, uint32_t p,
			uint32_t *cp)
{
	uint8_t c = b[p];
	uint32_t v, min;
	unsigned n;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		n = 2, v = c & 0x1f, min = 0x80;
	} else if (c < 0xf0) {
		n = 3, v = c & 0x0f, min = 0x800;
	} else {
		n = 4, v = c & 0x07, min = 0x10000;
	}
	if (len - p < n)
		return 0;
	for (unsigned k = 1; k < n; k++) {
		if ((b[p + k] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (b[p + k] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/* Length of the letter-like UTF-8 character at b[p], or 0. */
static unsigned u8_word_at(const uint8_t *b, uint32_t len, uint32_t p)
{
	uint32_t cp;
	unsigned n = u8_char(b, len, p, &cp);

	return n && u8_wordlike(cp) ? n : 0;
}

/* Length of the letter-like UTF-8 character that ends at b[q], or 0. */
static unsigned u8_word_before(const uint8_t *b, uint32_t q)
{
	for (unsigned n = 2; n <= 4 && n <= q; n++)
		if (b[q - n] >= 0xc2)
			return u8_word_at(b, q, q - n) == n ? n : 0;
	return 0;
}

/* Length of the local-part character (atext or UTF-8) ending at b[q]. */
static unsigned local_before(const uint8_t *b, uint32_t q)
{
	if (!q)
		return 0;
	if (is_atext(b[q - 1]))
		return 1;
	return b[q - 1] >= 0x80 ? u8_word_before(b, q) : 0;
}

/* Length of the domain-label character (letter, digit, '-', UTF-8) at b[p]. */
static unsigned label_at(const uint8_t *b, uint32_t len, uint32_t p)
{
	if (p >= len)
		return 0;
	if (is_label(b[p]))
		return 1;
	return b[p] >= 0x80 ? u8_word_at(b, len, p) : 0;
}

/* Length of the letter (ASCII or UTF-8) at b[p], or 0. */
static unsigned letter_at(const uint8_t *b, uint32_t len, uint32_t p)
{
	if (p >= len)
		return 0;
	if (is_alpha(b[p]))
		return 1;
	return b[p] >= 0x80 ? u8_word_at(b, len, p) : 0;
}

/* Backslashes right before b[q] (down to @lo): odd means b[q] is escaped. */
static uint32_t backslashes(const uint8_t *b, uint32_t lo, uint32_t q)
{
	uint32_t k = q;

	while (k > lo && b[k - 1] == '\\')
		k--;
	return q - k;
}

/*
 * A quoted local part (RFC 5321 Quoted-string, RFC 6531 UTF-8) whose
 * closing quote is b[at - 1]: the nearest unescaped quote before it
 * opens it; 1 to 64 bytes of qtext, quoted pairs or UTF-8 between.
 */
static bool quoted_local(const uint8_t *b, uint32_t at, uint32_t *s)
{
	uint32_t close = at - 1, open, k;
	uint32_t lo = close > QUOTED_MAX + 1 ? close - QUOTED_MAX - 1 : 0;

	if (backslashes(b, lo, close) & 1)
		return false;
	for (open = close; open > lo; open--)
		if (b[open - 1] == '"' && !(backslashes(b, lo, open - 1) & 1))
			break;
	if (open == lo || open == close)
		return false;
	for (k = open; k < close;) {
		uint32_t cp;
		unsigned n;

		if (b[k] == '\\' && k + 1 < close && b[k + 1] >= 0x20 &&
		    b[k + 1] < 0x7f)
			k += 2;
		else if (b[k] >= 0x20 && b[k] < 0x7f && b[k] != '"' &&
			 b[k] != '\\')
			k++;
		else if (b[k] >= 0x80 && (n = u8_char(b, close, k, &cp)))
			k += n;
		else
			return false;
	}
	*s = open - 1;
	return true;
}

/*
 * The local part before the '@' (or its encoding) at b[at], starting at
 * b[lo] at the earliest.
 */
static bool email_local(const uint8_t *b, uint32_t lo, uint32_t at,
			uint32_t *s)
{
	uint32_t q = at, n;

	if (at && b[at - 1] == '"')
		return quoted_local(b, at, s);
	for (;;) {
		if (q > lo && (n = local_before(b, q)) && q - n >= lo) {
			q -= n;
		} else if (q > lo + 1 && q < at && b[q - 1] == '.' &&
			   local_before(b, q - 1)) {
			q--;	/* a dot only between two local characters */
		} else {
			break;
		}
	}
	if (q == at)
		return false;
	*s = q;
	return true;
}

static bool domain_literal(const uint8_t *b, uint32_t len, uint32_t p,
			   uint32_t *e)
{
	uint32_t end;

	/* p is just after '[' */
	if (p + 5 <= len && (b[p] | 0x20) == 'i' && (b[p + 1] | 0x20) == 'p' &&
	    (b[p + 2] | 0x20) == 'v' && b[p + 3] == '6' && b[p + 4] == ':') {
		if (!ipv6_parse(b, len, p + 5, &end, NULL))
			return false;
	} else if (!ipv4_parse(b, len, p, &end, NULL)) {
		return false;
	}
	if (end >= len || b[end] != ']')
		return false;
	*e = end + 1;
	return true;
}

/*
 * A top-level label: two or more letters (ASCII or UTF-8, RFC 6531), or
 * an A-label (xn--, RFC 5890) as IDN TLDs are written in ASCII.
 */
static bool tld_ok(const uint8_t *b, uint32_t ls, uint32_t le)
{
	unsigned chars = 0, n;

	for (uint32_t k = ls; k < le; k += n, chars++)
		if (!(n = letter_at(b, le, k)))
			return false;
	return chars >= 2;
}

/*
 * An A-label at b[ls, le): where its ASCII part ends (trailing hyphens
 * off), or 0.  Not the whole label: cut short, xn--p1ai-1ä is xn--p1ai,
 * and what a TCP segment scanned alone finds must lie inside what the
 * whole stream finds.
 */
static uint32_t alabel_end(const uint8_t *b, uint32_t ls, uint32_t le)
{
	uint32_t k = ls + 4;

	if (le - ls <= 4 || (b[ls] | 0x20) != 'x' || (b[ls + 1] | 0x20) != 'n' ||
	    b[ls + 2] != '-' || b[ls + 3] != '-')
		return 0;
	while (k < le && (is_alnum(b[k]) || b[k] == '-'))
		k++;
	while (b[k - 1] == '-')
		k--;
	return k > ls + 4 ? k : 0;
}

/*
 * Letters (at least two) then a digit or a hyphen at b[ls, le): where the
 * letters end.  Cut short after its letters, such a label is a TLD: taking
 * them here too keeps what a TCP segment scanned alone finds inside what
 * the whole stream finds.
 */
static uint32_t letters_then_other(const uint8_t *b, uint32_t ls, uint32_t le)
{
	uint32_t a = ls;
	unsigned chars = 0, n;

	while (a < le && (n = letter_at(b, le, a))) {
		a += n;
		chars++;
	}
	return chars >= 2 && a < le && (is_digit(b[a]) || b[a] == '-') ? a : 0;
}

/* b[s, e) is @w (lower case), ignoring case; @prefix: or a start of it. */
static bool ascii_ieq(const uint8_t *b, uint32_t s, uint32_t e, const char *w,
		      bool prefix)
{
	size_t n = strlen(w);

	if (e - s > n || (!prefix && e - s != n))
		return false;
	for (size_t k = 0; k < e - s; k++)
		if ((b[s + k] | 0x20) != w[k])
			return false;
	return true;
}

/*
 * An image's scale suffix, not a domain: icon@2x.png, logo@1.5x (the
 * asset names of high-density displays).  With an extension it must be
 * an image's, so that user@2x.com stays an address; at the end of the
 * buffer (@len) the start of one will do, since a TCP segment scanned
 * alone may end in icon@2x.pn.
 */
static bool image_scale(const uint8_t *b, uint32_t len, uint32_t d,
			uint32_t e)
{
	static const char *const ext[] = {
		"png", "jpg", "jpeg", "gif", "webp", "svg", "avif", "bmp",
		"ico", "tif", "tiff", "heic", NULL
	};
	uint32_t p = d;

	while (p < e && is_digit(b[p]))
		p++;
	if (p == d)
		return false;
	if (p + 1 < e && b[p] == '.' && is_digit(b[p + 1]))
		for (p++; p < e && is_digit(b[p]); p++)
			;
	if (p >= e || (b[p] | 0x20) != 'x')
		return false;
	if (++p == e)
		return true;
	if (b[p] != '.')
		return false;
	for (unsigned k = 0; ext[k]; k++)
		if (ascii_ieq(b, p + 1, e, ext[k], e == len))
			return true;
	return false;
}

/*
 * The domain from b[p]: an address literal, or dot-separated labels of
 * letters, digits, hyphens and UTF-8 letters ending in a top-level label.
 * @relaxed: a domain without a valid top-level label counts too, up to
 * its last label with a lower-case or non-ASCII letter (user@localhost,
 * root@mailhost; not the symbol version foo@GOT).
 * Return: 1 for a domain, 2 for one only @relaxed takes, 0 for none.
 */
static int email_domain(const uint8_t *b, uint32_t len, uint32_t p,
			bool relaxed, uint32_t *e)
{
	uint32_t d = p, best = 0, lettered = 0, nlabels = 0, a;
	unsigned n;

	if (p < len && b[p] == '[')
		return domain_literal(b, len, p + 1, e);
	for (;;) {
		uint32_t ls = p, le;
		bool letter = false;

		if (p >= len || b[p] == '-' || !label_at(b, len, p))
			break;
		while ((n = label_at(b, len, p))) {
			letter = letter || n > 1 || (b[p] >= 'a' && b[p] <= 'z');
			p += n;
		}
		le = p;
		while (b[le - 1] == '-')
			le--;
		nlabels++;
		if (letter)
			lettered = le;
		if (nlabels >= 2 && tld_ok(b, ls, le))
			best = le;
		else if (nlabels >= 2 && (a = alabel_end(b, ls, le)))
			best = a;
		else if (nlabels >= 2 && (a = letters_then_other(b, ls, le)) &&
			 a > best)
			/*
			 * Letters then a digit: in a binary protocol the next
			 * field follows the address directly ("example.org"
			 * then the bytes '0' 'D'): the letters are the TLD,
			 * unless more labels follow (imap.opus1.com).
			 */
			best = a;
		if (le != p)
			break;	/* trailing hyphens end the domain */
		if (p + 1 < len && b[p] == '.' && b[p + 1] != '-' &&
		    label_at(b, len, p + 1)) {
			p++;
			continue;
		}
		break;
	}
	if (best && !image_scale(b, len, d, best)) {
		*e = best;
		return 1;
	}
	if (best || !relaxed || !lettered || image_scale(b, len, d, lettered))
		return 0;
	*e = lettered;
	return 2;
}

/* A letter, a digit or a UTF-8 character in b[s, e). */
static bool has_alnum(const uint8_t *b, uint32_t s, uint32_t e)
{
	for (uint32_t k = s; k < e; k++)
		if (is_alnum(b[k]) || b[k] >= 0x80)
			return true;
	return false;
}

/* The address around the '@' (or its encoding) at b[at, ae). */
static bool email_at(const uint8_t *b, uint32_t len, uint32_t lo, uint32_t at,
		     uint32_t ae, bool relaxed, uint32_t *s, uint32_t *e)
{
	int dom;

	if (!email_local(b, lo, at, s))
		return false;
	dom = email_domain(b, len, ae, relaxed, e);
	/* relaxed: a local part of punctuation alone is markup (``@union) */
	return dom == 1 || (dom == 2 && has_alnum(b, *s, at));
}

/* @i is an '@': the local part extends left, the domain right. */
static bool email_try(const uint8_t *b, uint32_t len, uint32_t i,
		      bool relaxed, uint32_t *s, uint32_t *e)
{
	return email_at(b, len, 0, i, i + 1, relaxed, s, e);
}

/* The longest local part before a percent-encoded '@' (3 x 64: encoded). */
#define PCT_LOCAL_MAX 192

/* b[0, n) is a proper start of "%40" or "%2540". */
static bool pct_at_start(const uint8_t *b, uint32_t n)
{
	return (n < 3 && !memcmp(b, "%40", n)) ||
	       (n < 5 && !memcmp(b, "%2540", n));
}

/* The end of a percent-encoded '@' at b[i] ("%40", "%2540"), or 0. */
static uint32_t pct_at_end(const uint8_t *b, uint32_t len, uint32_t i)
{
	if (i + 3 <= len && b[i + 1] == '4' && b[i + 2] == '0')
		return i + 3;
	if (i + 5 <= len && b[i + 1] == '2' && b[i + 2] == '5' &&
	    b[i + 3] == '4' && b[i + 4] == '0')
		return i + 5;
	return 0;
}

/* ---- phone ----------------------------------------------------------- */

static inline bool phone_sep(uint8_t c)
{
	return c == ' ' || c == '-' || c == '.';
}

/* @i is a '+'. */
static bool phone_try(const uint8_t *b, uint32_t len, uint32_t i,
		      uint32_t *s, uint32_t *e)
{
	uint32_t q = i + 1, last = 0;
	unsigned ndig = 0, kept = 0;
	/* "(+44) 20 ..." closes a parenthesis opened before the '+' */
	bool open = i > 0 && b[i - 1] == '(';

	/* after a digit it is a sum; a letter is a neighbour ("phone+1...") */
	if (i > 0 && is_digit(b[i - 1]))
		return false;
	if (q >= len || !is_digit(b[q]))
		return false;
	for (;;) {
		uint32_t r;

		while (q < len && is_digit(b[q])) {
			ndig++;
			q++;
		}
		/*
		 * A group that would pass 15 digits is not part of the number:
		 * the number ends before it ("+15551234567 12345").  A single
		 * run of more than 15 digits is no phone number.
		 */
		if (ndig > 15)
			break;
		last = q;
		kept = ndig;
		r = q;
		if (r < len && b[r] == ')' && open) {
			open = false;
			r++;
			if (r < len && phone_sep(b[r]))
				r++;
		} else if (r < len && phone_sep(b[r])) {
			r++;
			if (r < len && b[r] == '(' && !open) {
				open = true;
				r++;
			}
		} else if (r < len && b[r] == '(' && !open) {
			open = true;
			r++;
		}
		if (r == q || r >= len || !is_digit(b[r]))
			break;
		q = r;
	}
	if (kept < 8)
		return false;
	*s = i;
	*e = last;
	return true;
}

/* ---- the shared pass ------------------------------------------------- */

/* always inlined: @det is then a constant and the switch disappears */
static inline __attribute__((always_inline)) bool
try_det(unsigned det, const struct scan_opts *o, const uint8_t *b,
	uint32_t len, uint32_t i, uint32_t *s, uint32_t *e, uint32_t *skip)
{
	*skip = 0;
	switch (det) {
	case DET_IPV4:
		if (b[i] == '-')
			return o->v4_hostnames &&
			       ipv4_dashed_try(b, len, i, s, e);
		if (!ipv4_try(b, len, i, s, e))
			return false;
		if (o->v4_hostnames)
			ipv4_hostname_dot(b, len, e);
		return true;
	case DET_IPV6:
		return ipv6_try(b, len, i, s, e, skip);
	case DET_EMAIL:
		return email_try(b, len, i, o->email_relaxed, s, e);
	case DET_PHONE:
		return phone_try(b, len, i, s, e);
	case DET_MAC:
		return mac_try(b, len, i, s, e);
	}
	return false;
}

static void cand_add(struct detect_scratch *sc, uint32_t s, uint32_t e,
		     unsigned rule, unsigned det)
{
	if (sc->n >= CAND_CAP) {
		sc->overflow = true;
		return;
	}
	sc->cand[sc->n++] = (struct detect_match){
		.start = s, .end = e, .rule = (uint16_t)rule, .det = (uint8_t)det,
	};
}

struct pass {
	struct detect_scratch *sc;
	const struct scan_opts *opts;
	const uint8_t *b;
	uint32_t len;
	unsigned mask;
	const uint16_t *rule_of;
	unsigned det_as;
	uint32_t base;
	uint32_t last_end[DET_MAC + 1], skip_to[DET_MAC + 1];
};

/* The neighbours an identifier of @det needs around its anchor @i. */
static inline __attribute__((always_inline)) bool
anchor_plausible(unsigned det, const uint8_t *b, uint32_t len, uint32_t i)
{
	bool next = i + 1 < len;

	switch (det) {
	case DET_IPV4:
		return i > 0 && next && is_digit(b[i - 1]) && is_digit(b[i + 1]);
	case DET_IPV6:
		return (i > 0 && (is_hex(b[i - 1]) || b[i - 1] == ':')) ||
		       (next && (is_hex(b[i + 1]) || b[i + 1] == ':'));
	case DET_EMAIL:
		/* a local part before: atext, UTF-8 or a closing quote */
		return i > 0 && next && (is_atext(b[i - 1]) || b[i - 1] >= 0x80 ||
					 b[i - 1] == '"');
	case DET_PHONE:
		return next && is_digit(b[i + 1]);
	case DET_MAC:
		/*
		 * The anchor is a MAC's first separator: 01:23:45:... has the
		 * next one three bytes on, 0123.4567.89ab five; an IPv6 group
		 * or a number with a dot seldom does.
		 */
		if (b[i] == '.')
			return i > 3 && i + 5 < len && b[i + 5] == '.' &&
			       is_hex(b[i - 1]) && is_hex(b[i - 2]) &&
			       is_hex(b[i - 3]) && is_hex(b[i - 4]) &&
			       is_hex(b[i + 1]);
		if (b[i] == ':')	/* macOS drops leading zeros: 0:1a:... */
			return i > 0 && i + 2 < len && is_hex(b[i - 1]) &&
			       is_hex(b[i + 1]) &&
			       (b[i + 2] == ':' || (i + 3 < len &&
						    is_hex(b[i + 2]) &&
						    b[i + 3] == ':'));
		return i > 1 && i + 3 < len && b[i + 3] == b[i] &&
		       is_hex(b[i - 1]) && is_hex(b[i - 2]) &&
		       is_hex(b[i + 1]) && is_hex(b[i + 2]);
	}
	return false;
}

/* Detector @det (a constant once inlined) at anchor @i. */
static inline __attribute__((always_inline)) void
pass_try(struct pass *ps, unsigned det, uint32_t i)
{
	uint32_t s, e, skip;

	if (!(ps->mask & BIT(det)) || i < ps->skip_to[det] ||
	    !anchor_plausible(det, ps->b, ps->len, i))
		return;
	/*
	 * A match that starts inside the previous one of its kind is a
	 * run-on of it, except for an email: an atext byte glues two
	 * addresses (`alice@example.org/dave@example.org`), and the second,
	 * whose local part takes the first's domain in, is kept to overlap
	 * it (the engine rewrites the union).
	 */
	if (try_det(det, ps->opts, ps->b, ps->len, i, &s, &e, &skip) &&
	    (s >= ps->last_end[det] ||
	     (det == DET_EMAIL && e > ps->last_end[det]))) {
		cand_add(ps->sc, ps->base + s, ps->base + e, ps->rule_of[det],
			 ps->det_as < DET__COUNT ? ps->det_as : det);
		ps->last_end[det] = e;
		ps->skip_to[det] = e;
	}
	if (skip > ps->skip_to[det])
		ps->skip_to[det] = skip;
}

/* The detectors of anchor byte b[i] (see anchor[]), in detector order. */
static inline void pass_at(struct pass *ps, uint32_t i)
{
	switch (ps->b[i]) {
	case '.':
		pass_try(ps, DET_IPV4, i);
		pass_try(ps, DET_MAC, i);
		break;
	case ':':
		pass_try(ps, DET_IPV6, i);
		pass_try(ps, DET_MAC, i);
		break;
	case '@':
		pass_try(ps, DET_EMAIL, i);
		break;
	case '+':
		pass_try(ps, DET_PHONE, i);
		break;
	case '-':
		if (ps->opts->v4_hostnames)
			pass_try(ps, DET_IPV4, i);
		pass_try(ps, DET_MAC, i);
		break;
	}
}

#ifdef __SSE2__
/* Bit k set when p[k] is an anchor byte of any detector. */
static inline uint32_t anchor_bits16(const uint8_t *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_or_si128(
		_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')),
			     _mm_cmpeq_epi8(v, _mm_set1_epi8(':'))),
		_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')),
					  _mm_cmpeq_epi8(v, _mm_set1_epi8('@'))),
			     _mm_cmpeq_epi8(v, _mm_set1_epi8('+'))));

	return (uint32_t)_mm_movemask_epi8(m);
}
#endif

/*
 * One pass of the detectors in @mask, reading as @o says, over b[0, len).
 * Positions are reported + @base; @det_as (when < DET__COUNT) replaces
 * the detector kind in the matches (header rules).
 */
static void builtin_pass(struct detect_scratch *sc, const struct scan_opts *o,
			 const uint8_t *b, uint32_t len, unsigned mask,
			 const uint16_t *rule_of, unsigned det_as, uint32_t base)
{
	struct pass ps = {
		.sc = sc, .opts = o, .b = b, .len = len, .mask = mask,
		.rule_of = rule_of, .det_as = det_as, .base = base,
	};
	uint32_t i = 0;

#ifdef __SSE2__
	/* 16 bytes at a time: most bytes of text are no anchor at all */
	for (; len - i >= 16; i += 16) {
		uint32_t bits = anchor_bits16(b + i);

		while (bits) {
			pass_at(&ps, i + (uint32_t)__builtin_ctz(bits));
			bits &= bits - 1;
		}
	}
#endif
	for (; i < len; i++)
		if (anchor[b[i]] & mask)
			pass_at(&ps, i);
}

static bool first_match(unsigned det, const uint8_t *b, uint32_t len,
			uint32_t from, uint32_t *start, uint32_t *end)
{
	uint32_t skip_to = from;

	for (uint32_t i = from; i < len; i++) {
		uint32_t s, e, skip;

		if (!(anchor[b[i]] & BIT(det)) || i < skip_to)
			continue;
		if (try_det(det, &default_opts, b, len, i, &s, &e, &skip) &&
		    s >= from) {
			*start = s;
			*end = e;
			return true;
		}
		if (skip > skip_to)
			skip_to = skip;
	}
	return false;
}

/**
 * detect_ipv4() - the leftmost IPv4 dotted quad in @buf[@from, @len)
 * @buf:   the bytes (those before @from count as context)
 * @len:   their number
 * @from:  where the match may start at the earliest
 * @start: receives the match start
 * @end:   receives the match end (exclusive)
 *
 * Return: true when there is a match.
 */
bool detect_ipv4(const uint8_t *buf, uint32_t len, uint32_t from,
		 uint32_t *start, uint32_t *end)
{
	return first_match(DET_IPV4, buf, len, from, start, end);
}

/**
 * detect_ipv6() - the leftmost IPv6 address (with its zone, without
 * brackets or port) in @buf[@from, @len)
 * @buf:   the bytes (those before @from count as context)
 * @len:   their number
 * @from:  where the match may start at the earliest
 * @start: receives the match start
 * @end:   receives the match end (exclusive)
 *
 * Return: true when there is a match.
 */
bool detect_ipv6(const uint8_t *buf, uint32_t len, uint32_t from,
		 uint32_t *start, uint32_t *end)
{
	return first_match(DET_IPV6, buf, len, from, start, end);
}

/**
 * detect_email() - the leftmost email address in @buf[@from, @len)
 * @buf:   the bytes (those before @from count as context)
 * @len:   their number
 * @from:  where the match may start at the earliest
 * @start: receives the match start
 * @end:   receives the match end (exclusive)
 *
 * Return: true when there is a match.
 */
bool detect_email(const uint8_t *buf, uint32_t len, uint32_t from,
		  uint32_t *start, uint32_t *end)
{
	return first_match(DET_EMAIL, buf, len, from, start, end);
}

/**
 * detect_phone() - the leftmost E.164 phone number in @buf[@from, @len)
 * @buf:   the bytes (those before @from count as context)
 * @len:   their number
 * @from:  where the match may start at the earliest
 * @start: receives the match start
 * @end:   receives the match end (exclusive)
 *
 * Return: true when there is a match.
 */
bool detect_phone(const uint8_t *buf, uint32_t len, uint32_t from,
		  uint32_t *start, uint32_t *end)
{
	return first_match(DET_PHONE, buf, len, from, start, end);
}

/**
 * detect_mac() - the leftmost MAC address in @buf[@from, @len)
 * @buf:   the bytes (those before @from count as context)
 * @len:   their number
 * @from:  where the match may start at the earliest
 * @start: receives the match start
 * @end:   receives the match end (exclusive)
 *
 * Return: true when there is a match.
 */
bool detect_mac(const uint8_t *buf, uint32_t len, uint32_t from,
		uint32_t *start, uint32_t *end)
{
	return first_match(DET_MAC, buf, len, from, start, end);
}

/**
 * detect_ip_text() - parse an address text as a detector matched it
 * @buf:  the text: a dotted quad, or IPv6 with an optional %zone
 * @len:  its length
 * @addr: receives the address, network order (IPv4 in the first 4 bytes,
 *        the rest zero); all zero when it is no address
 *
 * Return: 4, 6, or 0 when the text is no address.
 */
int detect_ip_text(const uint8_t *buf, uint32_t len, uint8_t addr[static 16])
{
	uint32_t end;

	memset(addr, 0, 16);
	if (memchr(buf, ':', len)) {
		if (!ipv6_parse(buf, len, 0, &end, addr))
			goto bad;
		if (end == len || (buf[end] == '%' && end + 1 < len))
			return 6;
	} else if (ipv4_parse(buf, len, 0, &end, addr) && end == len) {
		return 4;
	}
bad:
	memset(addr, 0, 16);
	return 0;
}

/* ---- literals, patterns, headers -------------------------------------- */

/* Literals up to this long are searched with find_literal()'s filter. */
#define LITERAL_FILTER_MAX 32

/*
 * The first occurrence of @lit (@n >= 1 bytes) in @buf[@from, @len), or
 * NULL.  Sixteen candidate positions at a time are kept only where the
 * first and the last byte of the literal both match: in text, few are.
 * Each candidate costs at most @n bytes of comparing, so a long literal
 * goes to memmem(), which is linear whatever the payload.
 */
static const uint8_t *find_literal(const uint8_t *buf, uint32_t len,
				   uint32_t from, const uint8_t *lit, uint32_t n)
{
	uint32_t p = from;

#ifdef __SSE2__
	if (n > LITERAL_FILTER_MAX)
		return memmem(buf + p, len - p, lit, n);
	__m128i first = _mm_set1_epi8((char)lit[0]);
	__m128i last = _mm_set1_epi8((char)lit[n - 1]);

	for (; len - p >= n + 15; p += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(buf + p));
		__m128i z = _mm_loadu_si128((const __m128i *)(const void *)
					    (buf + p + n - 1));
		uint32_t bits = (uint32_t)_mm_movemask_epi8(
			_mm_and_si128(_mm_cmpeq_epi8(a, first),
				      _mm_cmpeq_epi8(z, last)));

		while (bits) {
			uint32_t at = p + (uint32_t)__builtin_ctz(bits);

			if (!memcmp(buf + at + 1, lit + 1, n - 1))
				return buf + at;
			bits &= bits - 1;
		}
	}
	/* the last few positions: memmem() costs more to start */
	for (; len - p >= n; p++)
		if (buf[p] == lit[0] && !memcmp(buf + p + 1, lit + 1, n - 1))
			return buf + p;
	return NULL;
#else
	return memmem(buf + p, len - p, lit, n);
#endif
}

static void scan_literal(struct detect_scratch *sc, const struct rs_redact *rd,
			 unsigned rule, const uint8_t *buf, uint32_t len)
{
	uint32_t n = rd->literal_len, p = 0;

	if (!n)
		return;
	while (len - p >= n) {
		const uint8_t *hit = find_literal(buf, len, p, rd->literal, n);

		if (!hit)
			break;
		p = (uint32_t)(hit - buf);
		cand_add(sc, p, p + n, rule, DET_LITERAL);
		p += n;
	}
}

/*
 * Every non-overlapping match of @re; @emit is called per match.
 * Return: 0 or -EIO.
 */
static int pattern_each(struct detect_scratch *sc, const pcre2_code *re,
			const uint8_t *buf, uint32_t len,
			void (*emit)(struct detect_scratch *, uint32_t, uint32_t,
				     unsigned),
			unsigned rule)
{
	size_t jit = 0;
	uint32_t opts = 0;
	PCRE2_SIZE off = 0;
	bool use_jit;

	/* pcre2_jit_match() skips the UTF validity check: only without UTF */
	pcre2_pattern_info(re, PCRE2_INFO_JITSIZE, &jit);
	pcre2_pattern_info(re, PCRE2_INFO_ALLOPTIONS, &opts);
	use_jit = jit && !(opts & PCRE2_UTF);
	while (off <= len) {
		PCRE2_SIZE *ov;
		int rc;

		if (use_jit)
			rc = pcre2_jit_match(re, buf, len, off, 0, sc->md, NULL);
		else
			rc = pcre2_match(re, buf, len, off, 0, sc->md, NULL);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0)
			return -EIO;
		ov = pcre2_get_ovector_pointer(sc->md);
		if (ov[1] <= ov[0]) {
			/* empty (or \K-reversed) match: step over one byte */
			off = (ov[0] > ov[1] ? ov[0] : ov[1]) + 1;
			continue;
		}
		emit(sc, (uint32_t)ov[0], (uint32_t)ov[1], rule);
		off = ov[1];
	}
	return 0;
}

static void emit_pattern(struct detect_scratch *sc, uint32_t s, uint32_t e,
			 unsigned rule)
{
	cand_add(sc, s, e, rule, DET_PATTERN);
}

static void emit_range(struct detect_scratch *sc, uint32_t s, uint32_t e,
		       unsigned rule)
{
	if (sc->n >= DETECT_MAX_MATCHES) {
		sc->overflow = true;
		return;
	}
	sc->ranges[sc->n++] = (struct detect_range){ .start = s, .end = e };
}

static inline uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

/*
 * SIP's compact header names (RFC 3261 §7.3.3 and the RFCs that add to
 * it): a policy that names either form of a header means both.  HTTP
 * has none.
 */
static const struct compact_name {
	const char *name;
	char compact;
} compact_names[] = {
	{ "Accept-Contact", 'a' },	/* RFC 3841 */
	{ "Allow-Events", 'u' },	/* RFC 6665 */
	{ "Call-ID", 'i' },
	{ "Contact", 'm' },
	{ "Content-Encoding", 'e' },
	{ "Content-Length", 'l' },
	{ "Content-Type", 'c' },
	{ "Event", 'o' },		/* RFC 6665 */
	{ "From", 'f' },
	{ "Identity", 'y' },		/* RFC 8224 */
	{ "Refer-To", 'r' },		/* RFC 3515 */
	{ "Referred-By", 'b' },		/* RFC 3892 */
	{ "Reject-Contact", 'j' },	/* RFC 3841 */
	{ "Request-Disposition", 'd' },	/* RFC 3841 */
	{ "Session-Expires", 'x' },	/* RFC 4028 */
	{ "Subject", 's' },
	{ "Supported", 'k' },
	{ "To", 't' },
	{ "Via", 'v' },
};

/* The names a header rule matches: the policy's and its other form. */
struct header_names {
	const char *name[2];
	uint32_t len[2];
	unsigned n;
};

static void header_names_of(const struct rs_redact *rd, struct header_names *hn)
{
	hn->name[0] = rd->header;
	hn->len[0] = rd->header_len;
	hn->n = rd->header_len ? 1 : 0;
	for (unsigned i = 0; hn->n && i < sizeof(compact_names) /
					   sizeof(compact_names[0]); i++) {
		const struct compact_name *c = &compact_names[i];
		uint32_t k, n = (uint32_t)strlen(c->name);

		if (rd->header_len == 1 && lower((uint8_t)rd->header[0]) ==
					   (uint8_t)c->compact) {
			hn->name[1] = c->name;
			hn->len[1] = n;
			hn->n = 2;
			return;
		}
		if (rd->header_len != n)
			continue;
		for (k = 0; k < n; k++)
			if (lower((uint8_t)rd->header[k]) != lower((uint8_t)c->name[k]))
				break;
		if (k == n) {
			hn->name[1] = &c->compact;
			hn->len[1] = 1;
			hn->n = 2;
			return;
		}
	}
}

/* The value start of header @name at line start @ls, or 0. */
static uint32_t header_value(const uint8_t *buf, uint32_t len, uint32_t ls,
			     const char *name, uint32_t nlen)
{
	uint32_t p = ls + nlen;

	if (!nlen || len - ls < nlen + 1)
		return 0;
	for (uint32_t k = 0; k < nlen; k++)
		if (lower(buf[ls + k]) != lower((uint8_t)name[k]))
			return 0;
	while (p < len && (buf[p] == ' ' || buf[p] == '\t'))
		p++;
	if (p >= len || buf[p] != ':')
		return 0;
	return p + 1;
}

/* The value start of a header of @hn at line start @ls, or 0. */
static uint32_t header_value_any(const uint8_t *buf, uint32_t len, uint32_t ls,
				 const struct header_names *hn)
{
	for (unsigned i = 0; i < hn->n; i++) {
		uint32_t vs = header_value(buf, len, ls, hn->name[i], hn->len[i]);

		if (vs)
			return vs;
	}
	return 0;
}

/* The end of the line that starts at @p (its CR or LF, or @len). */
static uint32_t line_end(const uint8_t *buf, uint32_t len, uint32_t p)
{
	while (p < len && buf[p] != '\r' && buf[p] != '\n')
		p++;
	return p;
}

/*
 * The start of the line after the one ending at @e, when that line is an
 * obs-fold continuation (RFC 7230 §3.2.4, RFC 3261 §7.3.1: it starts with
 * SP or HTAB), else 0.
 */
static uint32_t fold_next(const uint8_t *buf, uint32_t len, uint32_t e)
{
	if (e < len && buf[e] == '\r')
		e++;
	if (e >= len || buf[e] != '\n')
		return 0;
	e++;
	return e < len && (buf[e] == ' ' || buf[e] == '\t') ? e : 0;
}

static void scan_header(struct detect_scratch *sc, const struct rs_redact *rd,
			unsigned rule, const uint8_t *buf, uint32_t len,
			bool at_line_start)
{
	uint16_t rule_of[DET_MAC + 1];
	struct header_names hn;
	uint32_t ls = 0;

	header_names_of(rd, &hn);
	if (!hn.n)
		return;
	for (unsigned d = 0; d <= DET_MAC; d++)
		rule_of[d] = (uint16_t)rule;
	if (!at_line_start) {
		const uint8_t *nl = memchr(buf, '\n', len);

		if (!nl)
			return;
		ls = (uint32_t)(nl - buf) + 1;
	}
	while (ls < len) {
		uint32_t vs = header_value_any(buf, len, ls, &hn);
		const uint8_t *nl;

		/* the value and its continuation lines, each alone: their
		 * ends are boundaries */
		while (vs) {
			uint32_t ve = line_end(buf, len, vs);

			builtin_pass(sc, &default_opts, buf + vs, ve - vs,
				     BIT(DET_IPV4) | BIT(DET_IPV6), rule_of,
				     DET_HEADER, vs);
			ls = ve;
			vs = fold_next(buf, len, ve);
		}
		nl = memchr(buf + ls, '\n', len - ls);
		if (!nl)
			break;
		ls = (uint32_t)(nl - buf) + 1;
	}
}

/* ---- ordering -------------------------------------------------------- */

static inline bool match_before(const struct detect_match *a,
				const struct detect_match *b)
{
	if (a->start != b->start)
		return a->start < b->start;
	if (a->end != b->end)
		return a->end > b->end;
	return a->rule < b->rule;
}

/* Bottom-up merge sort: stable, O(n log n), no allocation. */
static void sort_matches(struct detect_match *v, struct detect_match *tmp,
			 uint32_t n)
{
	struct detect_match *src = v, *dst = tmp;

	/* insertion-sort runs of 16 first: the passes are mostly ordered */
	for (uint32_t lo = 0; lo < n; lo += 16) {
		uint32_t hi = lo + 16 < n ? lo + 16 : n;

		for (uint32_t i = lo + 1; i < hi; i++) {
			struct detect_match x = v[i];
			uint32_t j = i;

			while (j > lo && match_before(&x, &v[j - 1])) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = x;
		}
	}
	for (uint32_t w = 16; w < n; w *= 2) {
		for (uint32_t lo = 0; lo < n; lo += 2 * w) {
			uint32_t mid = lo + w < n ? lo + w : n;
			uint32_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			uint32_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi)
				dst[k++] = match_before(&src[j], &src[i]) ?
					   src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		struct detect_match *t = src;

		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

/* ---- API ------------------------------------------------------------- */

/**
 * detect_scratch_new() - per-worker scratch for @rs: candidate and match
 * arrays and PCRE2 match data sized for the largest pattern.
 * @rs: the ruleset whose patterns the scratch serves (NULL: no patterns)
 *
 * Return: the scratch (free with detect_scratch_free()) or NULL when out
 * of memory.
 */
struct detect_scratch *detect_scratch_new(const struct ruleset *rs)
{
	struct detect_scratch *s = calloc(1, sizeof(*s));
	uint32_t ovec = rs && rs->max_capture ? rs->max_capture : 1;

	if (!s)
		return NULL;
	s->md = pcre2_match_data_create(ovec, NULL);
	s->cand = calloc(CAND_CAP, sizeof(*s->cand));
	s->tmp = calloc(CAND_CAP, sizeof(*s->tmp));
	s->ranges = calloc(DETECT_MAX_MATCHES, sizeof(*s->ranges));
	s->rtmp = calloc(DETECT_MAX_MATCHES, sizeof(*s->rtmp));
	if (!s->md || !s->cand || !s->tmp || !s->ranges || !s->rtmp) {
		detect_scratch_free(s);
		return NULL;
	}
	return s;
}

/**
 * detect_scratch_free() - release a scratch from detect_scratch_new()
 * @s: the scratch, or NULL
 */
void detect_scratch_free(struct detect_scratch *s)
{
	if (!s)
		return;
	pcre2_match_data_free(s->md);
	free(s->cand);
	free(s->tmp);
	free(s->ranges);
	free(s->rtmp);
	free(s);
}

/* `redact email ... relaxed`: addresses whose '@' is percent-encoded. */
static void scan_email_pct(struct detect_scratch *sc, const uint8_t *buf,
			   uint32_t len, unsigned rule)
{
	const uint8_t *p = buf;
	uint32_t floor = 0;

	while (len && (p = memchr(p, '%', len - (uint32_t)(p - buf)))) {
		uint32_t i = (uint32_t)(p - buf), ae = pct_at_end(buf, len, i), s, e;
		uint32_t lo = i > PCT_LOCAL_MAX ? i - PCT_LOCAL_MAX : 0;

		p++;
		if (!ae)
			continue;
		/*
		 * '%' and digits are atext, but an encoded '@' is no part of
		 * a local part, as '@' is not: each "%40" walks back to the
		 * one before at most, and many of them cost linear time.
		 */
		if (email_at(buf, len, lo > floor ? lo : floor, i, ae, true, &s, &e))
			cand_add(sc, s, e, rule, DET_EMAIL);
		floor = ae;
	}
}

/**
 * detect_scan() - every identifier of @svc's redact rules in @buf
 * @svc:           the service whose redact rules apply
 * @s:             the worker's scratch
 * @buf:           the bytes to scan
 * @len:           their number
 * @flags:         DETECT_LINE_START: @buf starts at the beginning of a
 *                 line (header rules may match its first line);
 *                 DETECT_NO_HEADERS: header rules are not run (a body)
 * @out:           receives the matches (inside @s, valid until the next
 *                 call on @s), sorted by start (at the same start the
 *                 longer first, at the same span the earlier rule).
 *                 Matches may overlap: every one is kept, so that none
 *                 is lost to another; the same span found twice by one
 *                 rule is reported once
 *
 * proxy-protocol rules are not run here: the engine parses PROXY headers
 * at stream start itself.
 *
 * Return: the number of matches, -ENOSPC when there are more than
 * DETECT_MAX_MATCHES, or -EIO on a PCRE2 matching error.
 */
int detect_scan(const struct rs_service *svc, struct detect_scratch *s,
		const uint8_t *buf, uint32_t len, unsigned flags,
		const struct detect_match **out)
{
	uint16_t rule_of[DET_MAC + 1] = { 0 };
	struct scan_opts o = { 0 };
	unsigned mask = 0;
	uint32_t n, keep;
	int rc;

	s->n = 0;
	s->overflow = false;
	*out = s->cand;
	for (unsigned r = 0; r < svc->n_redact; r++) {
		const struct rs_redact *rd = &svc->redact[r];

		switch (rd->det) {
		case DET_IPV4:
		case DET_IPV6:
		case DET_EMAIL:
		case DET_PHONE:
		case DET_MAC:
			/* the same detector twice: the earlier rule wins anyway */
			if (!(mask & BIT(rd->det))) {
				mask |= BIT(rd->det);
				rule_of[rd->det] = (uint16_t)r;
				if (rd->det == DET_IPV4)
					o.v4_hostnames = rd->hostnames;
				if (rd->det == DET_EMAIL)
					o.email_relaxed = rd->relaxed;
			}
			break;
		case DET_LITERAL:
			scan_literal(s, rd, r, buf, len);
			break;
		case DET_PATTERN:
			if (!rd->re)
				break;
			rc = pattern_each(s, rd->re, buf, len, emit_pattern, r);
			if (rc)
				return rc;
			break;
		case DET_HEADER:
			if (!(flags & DETECT_NO_HEADERS))
				scan_header(s, rd, r, buf, len,
					    flags & DETECT_LINE_START);
			break;
		default:
			break;
		}
	}
	if (mask)
		builtin_pass(s, &o, buf, len, mask, rule_of, DET__COUNT, 0);
	if (o.email_relaxed)
		scan_email_pct(s, buf, len, rule_of[DET_EMAIL]);
	if (s->overflow)
		return -ENOSPC;
	n = s->n;
	sort_matches(s->cand, s->tmp, n);
	keep = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct detect_match *c = &s->cand[i];

		if (keep && c->start == s->cand[keep - 1].start &&
		    c->end == s->cand[keep - 1].end &&
		    c->rule == s->cand[keep - 1].rule)
			continue;
		s->cand[keep++] = *c;
	}
	if (keep > DETECT_MAX_MATCHES)
		return -ENOSPC;
	return (int)keep;
}

static void sort_ranges(struct detect_range *v, struct detect_range *tmp,
			uint32_t n)
{
	struct detect_range *src = v, *dst = tmp;

	for (uint32_t w = 1; w < n; w *= 2) {
		for (uint32_t lo = 0; lo < n; lo += 2 * w) {
			uint32_t mid = lo + w < n ? lo + w : n;
			uint32_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			uint32_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi)
				dst[k++] = src[j].start < src[i].start ?
					   src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		struct detect_range *t = src;

		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

/**
 * detect_allow() - the byte ranges of @buf that @svc's `allow pattern`
 * rules match
 * @svc: the service
 * @s:   the worker's scratch
 * @buf: the bytes to scan
 * @len: their number
 * @out: receives the ranges (inside @s, valid until the next call on @s),
 *       sorted by start, each one match: a match that lies inside an
 *       earlier one is left out, so starts and ends both rise.  Ranges
 *       are never merged: an identifier is exempt only when it lies
 *       wholly inside one match (detect_range_covers())
 *
 * Return: the number of ranges, -ENOSPC when there are more than
 * DETECT_MAX_MATCHES matches, or -EIO on a PCRE2 matching error.
 */
int detect_allow(const struct rs_service *svc, struct detect_scratch *s,
		 const uint8_t *buf, uint32_t len,
		 const struct detect_range **out)
{
	uint32_t n, keep = 0;

	s->n = 0;
	s->overflow = false;
	*out = s->ranges;
	for (unsigned a = 0; a < svc->n_allow; a++) {
		int rc;

		if (!svc->allow[a])
			continue;
		rc = pattern_each(s, svc->allow[a], buf, len, emit_range, a);
		if (rc)
			return rc;
	}
	if (s->overflow)
		return -ENOSPC;
	n = s->n;
	sort_ranges(s->ranges, s->rtmp, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct detect_range *r = &s->ranges[i];

		/* inside the one kept before: it exempts nothing more */
		if (keep && r->end <= s->ranges[keep - 1].end)
			continue;
		/* the same start: the longer one covers all the shorter does */
		if (keep && r->start == s->ranges[keep - 1].start) {
			s->ranges[keep - 1].end = r->end;
			continue;
		}
		s->ranges[keep++] = *r;
	}
	return (int)keep;
}

/**
 * detect_range_covers() - whether [@start, @end) lies wholly inside one
 * of the ranges @r[0, @n) (as detect_allow() gives them: starts and ends
 * both rising)
 * @r:     the ranges
 * @n:     their number
 * @pos:   a cursor, 0 before the first call; calls must come with
 *         starts that never decrease
 * @start: the span's start
 * @end:   its end
 *
 * Return: true when one range holds the whole span.
 */
bool detect_range_covers(const struct detect_range *r, int n, int *pos,
			 uint32_t start, uint32_t end)
{
	/* the last range that starts at or before @start ends furthest */
	while (*pos + 1 < n && r[*pos + 1].start <= start)
		(*pos)++;
	return *pos < n && r[*pos].start <= start && r[*pos].end >= end;
}

/* ---- stream tails ------------------------------------------------------ */

/*
 * The candidates that a later byte could still turn into (or extend as)
 * an identifier.  Each detector looks at the run of its characters that
 * reaches the end of the buffer; runs are capped at the longest text the
 * detector can match, so a long run of letters holds only its end.
 */
struct tail {
	uint32_t start, suspect;
};

static void tail_note(struct tail *t, uint32_t start, bool suspect)
{
	if (start < t->start)
		t->start = start;
	if (suspect && start < t->suspect)
		t->suspect = start;
}

/* Start of the run of bytes satisfying @in that ends at @len, at most @cap long. */
static uint32_t run_start(const uint8_t *b, uint32_t len, uint32_t cap,
			  bool (*in)(uint8_t))
{
	uint32_t s = len;

	while (s > 0 && len - s < cap && in(b[s - 1]))
		s--;
	return s;
}

/* Local part, '@' and domain; any byte >= 0x80 (UTF-8, maybe cut short). */
static bool in_email(uint8_t c)
{
	return is_atext(c) || c == '.' || c == '@' || c >= 0x80;
}

/* What may follow an '@' in a domain or an address literal so far. */
static bool in_domain(uint8_t c)
{
	return is_label(c) || c == '.' || c >= 0x80 || c == '[' || c == ':';
}

static bool in_dotted(uint8_t c)
{
	return is_digit(c) || c == '.';
}

static bool in_hexrun(uint8_t c)
{
	return is_hex(c) || c == ':' || c == '.' || c == '-';
}

static bool in_phone(uint8_t c)
{
	return is_digit(c) || phone_sep(c) || c == '(' || c == ')' || c == '+';
}

/*
 * A quoted local part under way: the nearest unescaped quote before the
 * end, at most QUOTED_MAX bytes of quoted content after it (which may end
 * in a backslash or a UTF-8 character cut short).  Return: true, *q set.
 */
static bool tail_quote(const uint8_t *b, uint32_t len, uint32_t *q)
{
	uint32_t lo = len > QUOTED_MAX + 1 ? len - QUOTED_MAX - 1 : 0;

	for (uint32_t k = len; k > lo; k--) {
		uint8_t c = b[k - 1];

		if (c == '"' && !(backslashes(b, lo, k - 1) & 1)) {
			*q = k - 1;
			return true;
		}
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return false;
}

static void tail_email(struct tail *t, const uint8_t *b, uint32_t len,
		       bool relaxed)
{
	uint32_t s = run_start(b, len, 254, in_email), p, at = 0, ls;

	/* a local part, or a whole address so far, with no quote in it */
	if (s < len)
		tail_note(t, s, false);
	/* inside a quoted local part, or right after its closing quote */
	if (b[len - 1] == '"' && quoted_local(b, len, &ls))
		tail_note(t, ls, false);
	else if (tail_quote(b, len, &p))
		tail_note(t, p, false);
	/* relaxed: a closing quote, then the start of %40 or %2540 */
	for (uint32_t k = len > 5 ? len - 5 : 0; relaxed && k < len; k++)
		if (b[k] == '%' && pct_at_start(b + k, len - k) && k &&
		    b[k - 1] == '"' && quoted_local(b, k, &ls))
			tail_note(t, ls, false);
	/*
	 * An '@' (relaxed: %40, %2540) after a local part, then at most what
	 * can still become a domain or an address literal: an address in
	 * the making.
	 */
	p = run_start(b, len, 254, in_domain);
	if (p > 0 && b[p - 1] == '@') {
		at = p - 1;
	} else if (relaxed) {
		/* the walk stopped at the '%' of %40 or %2540 */
		for (uint32_t k = p > 5 ? p - 5 : 0; k < p; k++)
			if (b[k] == '%' && pct_at_end(b, len, k) > p) {
				at = k;
				p = pct_at_end(b, len, k);
				break;
			}
		if (!at)
			return;
	} else {
		return;
	}
	if (p < len && (b[p] == '.' || b[p] == '-'))
		return;	/* no domain starts so */
	/* bounded as the runs are: a tail check per segment stays cheap */
	if (email_local(b, len > 512 ? len - 512 : 0, at, &ls))
		tail_note(t, ls, true);
}

static bool in_dashed(uint8_t c)
{
	return is_digit(c) || c == '.' || c == '-';
}

/*
 * The dotted run at the end: more digits may change the last number (a
 * run-on, a time) and more dots a port or a longer run; 8 digits of
 * run-on and a port make 32 bytes the most that can matter.  With
 * `hostnames` dashes too, and a '.' that a label may follow.
 */
static void tail_ipv4(struct tail *t, const uint8_t *b, uint32_t len,
		      bool hostnames)
{
	uint32_t s = run_start(b, len, 32, hostnames ? in_dashed : in_dotted);
	uint32_t dots = 0, dashes = 0, digits = 0;

	for (uint32_t k = s; k < len; k++) {
		dots += b[k] == '.';
		dashes += b[k] == '-';
		digits += is_digit(b[k]);
	}
	if (digits)
		tail_note(t, s, dots >= 2 || dashes >= 3);
}

static void tail_hex(struct tail *t, const uint8_t *b, uint32_t len)
{
	uint32_t z = len, s, seps = 0, hex = 0;

	/* a zone under way ("fe80::1%et"): the address before it decides */
	while (z > 0 && len - z < 32 && b[z - 1] != '%' && (ch[b[z - 1]] & CH_ZONE))
		z--;
	if (!(z > 1 && b[z - 1] == '%' && is_hex(b[z - 2])))
		z = len + 1;
	s = run_start(b, z - 1, 64, in_hexrun);
	for (uint32_t k = s; k < z - 1; k++) {
		seps += b[k] == ':' || b[k] == '-';
		hex += is_hex(b[k]);
	}
	if (hex || (seps && s + 1 < len))
		tail_note(t, s, seps >= 2 && hex >= 2);
}

static void tail_phone(struct tail *t, const uint8_t *b, uint32_t len)
{
	uint32_t s = run_start(b, len, 40, in_phone), plus = len, digits = 0;

	for (uint32_t k = len; k > s; k--)
		if (b[k - 1] == '+') {
			plus = k - 1;
			break;
		}
	if (plus == len)
		return;
	for (uint32_t k = plus + 1; k < len; k++)
		digits += is_digit(b[k]);
	if (digits <= 15)
		tail_note(t, plus, digits >= 6);
}

static void tail_literal(struct tail *t, const struct rs_redact *rd,
			 const uint8_t *b, uint32_t len)
{
	uint32_t n = rd->literal_len;

	/* the longest proper prefix of the literal that ends the buffer */
	for (uint32_t k = n ? n - 1 : 0; k > 0; k--)
		if (k <= len && !memcmp(b + len - k, rd->literal, k)) {
			tail_note(t, len - k, false);
			return;
		}
}

static int tail_pattern(struct tail *t, struct detect_scratch *sc,
			const pcre2_code *re, const uint8_t *b, uint32_t len)
{
	PCRE2_SIZE off = 0;

	while (off <= len) {
		PCRE2_SIZE *ov;
		int rc = pcre2_match(re, b, len, off, PCRE2_PARTIAL_HARD, sc->md,
				     NULL);

		if (rc == PCRE2_ERROR_NOMATCH)
			return 0;
		ov = pcre2_get_ovector_pointer(sc->md);
		if (rc == PCRE2_ERROR_PARTIAL) {
			tail_note(t, (uint32_t)ov[0], true);
			return 0;
		}
		if (rc < 0)
			return -EIO;
		off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	return 0;
}

/* The start of the line that ends just before @e (at its CR or LF). */
static uint32_t line_start(const uint8_t *b, uint32_t e)
{
	while (e > 0 && b[e - 1] != '\n')
		e--;
	return e;
}

/*
 * Whether the line at @ls is a header of @hn, or a continuation of one
 * (after obs-fold lines up to a header line that this buffer holds).
 */
static bool header_or_fold(const uint8_t *b, uint32_t len, uint32_t ls,
			   const struct header_names *hn, bool at_line_start)
{
	while (ls < len && (b[ls] == ' ' || b[ls] == '\t')) {
		uint32_t e = ls;

		if (!e)
			return false;	/* its header is not here */
		e--;			/* the LF */
		if (e > 0 && b[e - 1] == '\r')
			e--;
		ls = line_start(b, e);
		if (ls == e)
			return false;	/* an empty line ends the header block */
	}
	return ls < len && (ls || at_line_start) &&
	       header_value_any(b, len, ls, hn) != 0;
}

/* The last line at @ls begins with @name (cut short or whole)? */
static void tail_header_name(struct tail *t, const uint8_t *b, uint32_t len,
			     uint32_t ls, const char *name, uint32_t n)
{
	uint32_t k;

	for (k = 0; k < n && ls + k < len; k++)
		if (lower(b[ls + k]) != lower((uint8_t)name[k]))
			return;
	if (ls + k == len) {
		tail_note(t, ls, false);	/* the name, cut short */
		return;
	}
	k = ls + n;
	while (k < len && (b[k] == ' ' || b[k] == '\t'))
		k++;
	if (k < len && b[k] != ':')
		return;
	/* the value runs on to the end of the line, not yet here */
	tail_note(t, k + 1 < len ? k + 1 : ls, k < len);
}

/*
 * A header line under way at the end of @b, or one a folded line may
 * still continue; a line that starts at @b's start is one only when
 * @at_line_start.
 */
static void tail_header(struct tail *t, const struct rs_redact *rd,
			const uint8_t *b, uint32_t len, bool at_line_start)
{
	struct header_names hn;
	uint32_t ls = line_start(b, len);

	header_names_of(rd, &hn);
	if (!hn.n)
		return;
	if (ls == len) {
		/*
		 * A line ends the buffer: the next may continue it (obs-fold).
		 * After a header's line, its line break waits for the next
		 * byte; masking it changes nothing.
		 */
		uint32_t e = len - 1;

		if (e > 0 && b[e - 1] == '\r')
			e--;
		if (e > 0 && header_or_fold(b, len, line_start(b, e), &hn,
					    at_line_start))
			tail_note(t, e, false);
		return;
	}
	if (b[ls] == ' ' || b[ls] == '\t') {
		/* a continuation line under way */
		if (header_or_fold(b, len, ls, &hn, at_line_start))
			tail_note(t, ls, true);
		return;
	}
	if (!ls && !at_line_start)
		return;
	for (unsigned i = 0; i < hn.n; i++)
		tail_header_name(t, b, len, ls, hn.name[i], hn.len[i]);
}

/**
 * detect_tail() - where the candidate identifiers that the bytes after
 * @buf could still complete or extend begin
 * @svc:     the service whose redact rules apply
 * @s:       the worker's scratch (pattern match data)
 * @buf:     the stream's bytes so far (the end of them)
 * @len:     their number
 * @flags:   as detect_scan()'s: DETECT_LINE_START, @buf starts at the
 *           beginning of a line; DETECT_NO_HEADERS, header rules are not
 *           run (a body: no header line is under way)
 * @suspect: receives the start of the earliest such candidate that
 *           already looks like an identifier (an '@' after a local part,
 *           a '+' and six digits, two dots with digits, two colons or
 *           dashes with hex, a pattern's partial match, a header value
 *           under way), or @len when none does
 *
 * Return: the offset of the earliest candidate, @len when the tail is
 * clean (the bytes can go without waiting for more).
 */
uint32_t detect_tail(const struct rs_service *svc, struct detect_scratch *s,
		     const uint8_t *buf, uint32_t len, unsigned flags,
		     uint32_t *suspect)
{
	struct tail t = { .start = len, .suspect = len };

	for (unsigned r = 0; r < svc->n_redact && len; r++) {
		const struct rs_redact *rd = &svc->redact[r];

		switch (rd->det) {
		case DET_EMAIL:
			tail_email(&t, buf, len, rd->relaxed);
			break;
		case DET_IPV4:
			tail_ipv4(&t, buf, len, rd->hostnames);
			break;
		case DET_IPV6:
		case DET_MAC:
			tail_hex(&t, buf, len);
			tail_ipv4(&t, buf, len, false);	/* embedded IPv4 */
			break;
		case DET_PHONE:
			tail_phone(&t, buf, len);
			break;
		case DET_LITERAL:
			tail_literal(&t, rd, buf, len);
			break;
		case DET_PATTERN:
			if (rd->re && tail_pattern(&t, s, rd->re, buf, len))
				tail_note(&t, 0, true);	/* unknown: hold it all */
			break;
		case DET_HEADER:
			if (!(flags & DETECT_NO_HEADERS))
				tail_header(&t, rd, buf, len,
					    flags & DETECT_LINE_START);
			break;
		default:
			break;
		}
	}
	*suspect = t.suspect;
	return t.start;
}
