/*
 * rewrite.c — the actions on a detected identifier (doc/design.md §5): mask,
 * keyed token, address truncation and address text, all in place and
 * keeping the length, so TCP byte counts and app-level length fields
 * stay valid.  Nothing here allocates.
 */
#include <errno.h>
#include <string.h>

#include "detect.h"
#include "policy.h"
#include "rewrite.h"

/* Token positions derived per key_prf() call (2 bytes each). */
#define TOKEN_CHUNK 256
/* key_prf() domain of the per-chunk expansion of long tokens (| det). */
#define TOKEN_DOM_CHUNK 0x80

static inline bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static inline bool is_upper(uint8_t c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_lower(uint8_t c) { return c >= 'a' && c <= 'z'; }

/*
 * The UTF-8 multi-byte character at p[0], well-formed (RFC 3629 table 3)
 * as far as @avail bytes reach: a character the end of the text cuts
 * short counts with the bytes it has (a held stream tail may end so).
 * Return: its length in the text, 0 when p[0] starts none (binary).
 */
static unsigned utf8_len(const uint8_t *p, uint32_t avail)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	unsigned n;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n)
		n = avail;
	for (unsigned k = 1; k < n; k++) {
		if (p[k] < lo || p[k] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

static inline bool is_hex(uint8_t c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static inline unsigned hex_val(uint8_t c)
{
	return is_digit(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/*
 * A percent escape at p[0] (URLs, form data): "%HH", or "%25HH" escaped
 * twice.  Return: its length, 0 when there is none; *v the byte it
 * stands for.
 */
static unsigned pct_escape(const uint8_t *p, uint32_t avail, uint8_t *v)
{
	if (avail < 3 || p[0] != '%' || !is_hex(p[1]) || !is_hex(p[2]))
		return 0;
	*v = (uint8_t)(hex_val(p[1]) << 4 | hex_val(p[2]));
	if (*v == '%' && avail >= 5 && is_hex(p[3]) && is_hex(p[4])) {
		*v = (uint8_t)(hex_val(p[3]) << 4 | hex_val(p[4]));
		return 5;
	}
	return 3;
}

/* ASCII punctuation and space: what stays under mask and token. */
static inline bool is_punct(uint8_t c)
{
	return c >= 0x20 && c < 0x7f && !is_digit(c) && !is_upper(c) &&
	       !is_lower(c);
}

/*
 * The escape of @n bytes at p[0] now stands for @c: its last two hex
 * digits are rewritten ("%40" and "%2540" keep their '%' and "25").
 */
static void pct_put(uint8_t *p, unsigned n, uint8_t c)
{
	static const char hex[] = "0123456789abcdef";

	p[n - 2] = (uint8_t)hex[c >> 4];
	p[n - 1] = (uint8_t)hex[c & 15];
}

/**
 * rewrite_mask() - letters become 'x', digits '0', each byte of a UTF-8
 * character 'x' (plain ASCII, the byte length kept), every other byte
 * stays.  A percent escape (%HH, %25HH) of punctuation stays, as the
 * character would (alice%40example.org: xxxxx%40xxxxxxx.xxx); any other
 * escape becomes one of 'x' (%78), never an invalid escape or a NUL.
 * @p:   the identifier, rewritten in place
 * @len: its length
 */
void rewrite_mask(uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint8_t c = p[i], v;
		unsigned n;

		if ((n = pct_escape(p + i, len - i, &v))) {
			if (!is_punct(v))
				pct_put(p + i, n, 'x');
			i += n - 1;
		} else if (is_digit(c)) {
			p[i] = '0';
		} else if (is_upper(c) || is_lower(c)) {
			p[i] = 'x';
		} else if ((n = utf8_len(p + i, len - i))) {
			memset(p + i, 'x', n);
			i += n - 1;
		}
	}
}

/*
 * Replace the letters and digits of p[0, n) from 16-bit values @r.  The
 * modulo bias of 2^16 mod 10 or 26 is below 1e-4: not worth a rejection
 * loop here.  @keep_first_digit: the phone's country zone.
 */
static void token_apply(uint8_t *p, uint32_t n, uint32_t avail,
			const uint8_t *r, bool *keep_first_digit,
			bool *after_plus, unsigned *u8_left, unsigned *skip)
{
	for (uint32_t i = 0; i < n; i++) {
		unsigned v = (unsigned)r[2 * i] << 8 | r[2 * i + 1], u;
		uint8_t c = p[i], e;

		/* the rest of an escape rewritten whole, maybe in the chunk before */
		if (*skip) {
			(*skip)--;
			continue;
		}
		if ((u = pct_escape(p + i, avail - i, &e))) {
			/* punctuation stays; anything else: an escaped letter */
			if (!is_punct(e))
				pct_put(p + i, u, (uint8_t)('a' + v % 26));
			*skip = u - 1;
			continue;
		}
		/* each byte of a UTF-8 character: a lower-case letter */
		if (*u8_left) {
			(*u8_left)--;
			p[i] = (uint8_t)('a' + v % 26);
			continue;
		}
		if ((u = utf8_len(p + i, avail - i))) {
			*u8_left = u - 1;
			p[i] = (uint8_t)('a' + v % 26);
			continue;
		}

		if (*keep_first_digit) {
			if (c == '+') {
				*after_plus = true;
				continue;
			}
			if (is_digit(c) && *after_plus) {
				*keep_first_digit = false;
				continue;
			}
		}
		if (is_digit(c))
			p[i] = (uint8_t)('0' + v % 10);
		else if (is_upper(c))
			p[i] = (uint8_t)('A' + v % 26);
		else if (is_lower(c))
			p[i] = (uint8_t)('a' + v % 26);
	}
}

/**
 * rewrite_token() - keyed, same-length, same-class replacement
 * @key: the epoch key
 * @det: the detector (enum det_kind): separates the token spaces
 * @p:   the identifier, rewritten in place
 * @len: its length
 *
 * Letters keep their case, digits stay digits, each byte of a UTF-8
 * character becomes a lower-case ASCII letter, everything else stays.  A
 * percent escape of punctuation stays; any other escape becomes the
 * escape of a lower-case letter.
 * A phone number (DET_PHONE) keeps its '+' and the first digit after it.
 * Equal inputs give equal tokens under one key.
 */
void rewrite_token(const uint8_t key[static KEY_LEN], uint8_t det,
		   uint8_t *p, uint32_t len)
{
	uint8_t r[2 * TOKEN_CHUNK];
	uint8_t seed[KEY_LEN + 4];
	bool keep = det == DET_PHONE, after_plus = false;
	/* a UTF-8 character or an escape runs on into the next chunk */
	unsigned u8_left = 0, skip = 0;

	if (len <= TOKEN_CHUNK) {
		key_prf(key, det, p, len, r, 2 * (size_t)len);
		token_apply(p, len, len, r, &keep, &after_plus, &u8_left, &skip);
		key_wipe(r, sizeof(r));
		return;
	}
	/*
	 * Longer than one chunk: the chunks are rewritten in place one after
	 * the other, so first condense the whole original into a seed and
	 * expand that with a chunk counter.
	 */
	key_prf(key, det, p, len, seed, KEY_LEN);
	for (uint32_t off = 0, ctr = 0; off < len; off += TOKEN_CHUNK, ctr++) {
		uint32_t n = len - off < TOKEN_CHUNK ? len - off : TOKEN_CHUNK;

		seed[KEY_LEN] = (uint8_t)ctr;
		seed[KEY_LEN + 1] = (uint8_t)(ctr >> 8);
		seed[KEY_LEN + 2] = (uint8_t)(ctr >> 16);
		seed[KEY_LEN + 3] = (uint8_t)(ctr >> 24);
		key_prf(key, (uint8_t)(TOKEN_DOM_CHUNK | det), seed, sizeof(seed),
			r, 2 * (size_t)n);
		token_apply(p + off, n, len - off, r, &keep, &after_plus,
			    &u8_left, &skip);
	}
	key_wipe(seed, sizeof(seed));
	key_wipe(r, sizeof(r));
}

/* Bits of a field at bit offset @off, @width wide, kept by /@plen. */
static unsigned kept_bits(unsigned plen, unsigned off, unsigned width)
{
	if (plen <= off)
		return 0;
	return plen - off >= width ? width : plen - off;
}

/* Write @v right-aligned, zero-padded, in exactly @n decimal digits. */
static void put_dec(uint8_t *p, unsigned n, unsigned v)
{
	while (n--) {
		p[n] = (uint8_t)('0' + v % 10);
		v /= 10;
	}
}

/* Truncate the dotted quad at p[0, len) (validated) to /@plen. */
static void trunc_dotted(uint8_t *p, uint32_t len, unsigned plen)
{
	uint32_t i = 0;

	for (unsigned k = 0; k < 4; k++) {
		uint32_t s = i;
		unsigned v = 0, keep = kept_bits(plen, 8 * k, 8);

		while (i < len && is_digit(p[i]))
			v = v * 10 + (p[i++] - '0');
		if (keep < 8)
			put_dec(p + s, i - s, v & (0xffu << (8 - keep)) & 0xff);
		i++;	/* the '.' */
	}
}

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* Rewrite the hex group p[0, n) to its value masked to @keep of 16 bits. */
static void trunc_group(uint8_t *p, uint32_t n, unsigned keep)
{
	const char *digits = hex_lower;
	unsigned v = 0;

	if (keep >= 16)
		return;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (c >= 'A' && c <= 'F')
			digits = hex_upper;
		v = v << 4 | (c <= '9' ? (unsigned)(c - '0') :
			      (unsigned)((c | 0x20) - 'a' + 10));
	}
	v &= (0xffffu << (16 - keep)) & 0xffff;
	while (n--) {
		p[n] = (uint8_t)digits[v & 15];
		v >>= 4;
	}
}

static bool is_v4_special(const uint8_t a[16], bool dotted)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t compat[12] = { 0 };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	/* IPv4-mapped addresses follow the IPv4 rule in any notation */
	if (!memcmp(a, mapped, 12))
		return true;
	return dotted && (!memcmp(a, compat, 12) || !memcmp(a, nat64, 12));
}

/* Truncate the IPv6 text p[0, len) (validated; zone excluded). */
static void trunc_v6(uint8_t *p, uint32_t len, const uint8_t a[16],
		     unsigned plen4, unsigned plen6)
{
	uint32_t fs[8], fl[8];	/* field starts and lengths, in text order */
	unsigned nf = 0, dc = 8, gi;
	bool dotted = memchr(p, '.', len) != NULL;
	bool special = is_v4_special(a, dotted);
	unsigned plen_lo = special ? 96 + plen4 : plen6;	/* bits 96..127 */
	uint32_t i = 0;

	while (i < len && nf < 8) {
		uint32_t s = i;

		if (p[i] == ':') {
			/* only "::" leaves a ':' at a field start */
			dc = nf;
			i += (i == 0) ? 2 : 1;
			if (i >= len)
				break;
			continue;
		}
		while (i < len && p[i] != ':')
			i++;
		fs[nf] = s;
		fl[nf] = i - s;
		nf++;
		if (i < len)
			i++;
	}
	/* fields after "::" are counted from the end */
	for (unsigned f = 0; f < nf; f++) {
		unsigned units = 1, plen;

		if (f == nf - 1 && dotted)
			units = 2;
		if (f < dc) {
			gi = f;
		} else {
			unsigned after = 0;

			for (unsigned g = f; g < nf; g++)
				after += (g == nf - 1 && dotted) ? 2 : 1;
			gi = 8 - after;
		}
		if (units == 2) {
			trunc_dotted(p + fs[f], fl[f],
				     kept_bits(plen_lo, 96, 32));
			continue;
		}
		plen = gi >= 6 ? plen_lo : (special ? 128 : plen6);
		trunc_group(p + fs[f], fl[f], kept_bits(plen, 16 * gi, 16));
	}
}

/**
 * rewrite_truncate_text() - zero the host part of an address text in place
 * @p:     the address text (IPv4 dotted quad or IPv6, an optional %zone;
 *         no brackets, no port)
 * @len:   its length
 * @plen4: IPv4 prefix kept (also for IPv4-mapped, IPv4-compatible and
 *         NAT64 64:ff9b::/96 addresses written with a dotted tail)
 * @plen6: IPv6 prefix kept
 *
 * Every character position stays: zeroed fields keep their digit count,
 * a partly kept field gets its masked value in as many digits.
 * Return: 0, or -EINVAL when the text is no address (left unchanged).
 */
int rewrite_truncate_text(uint8_t *p, uint32_t len, unsigned plen4,
			  unsigned plen6)
{
	uint8_t a[16];
	uint32_t n = len;
	int fam = detect_ip_text(p, len, a);

	if (plen4 > 32)
		plen4 = 32;
	if (plen6 > 128)
		plen6 = 128;
	if (fam == 4) {
		trunc_dotted(p, len, plen4);
		return 0;
	}
	if (fam != 6)
		return -EINVAL;
	for (uint32_t i = 0; i < len; i++) {
		if (p[i] == '%') {
			n = i;	/* the zone stays as it is */
			break;
		}
	}
	trunc_v6(p, n, a, plen4, plen6);
	return 0;
}

static unsigned dec_digits(unsigned v)
{
	return v >= 100 ? 3 : v >= 10 ? 2 : 1;
}

static int v4_text(uint8_t *p, uint32_t len, const uint8_t a[4])
{
	unsigned width[4], total = 3, pad;

	for (unsigned k = 0; k < 4; k++) {
		width[k] = dec_digits(a[k]);
		total += width[k];
	}
	if (len < total || len > 15)
		return -ENOSPC;
	pad = len - total;
	/*
	 * inet_aton() reads a leading zero as octal: pad octets below 8
	 * first (the same in both readings), then the others.
	 */
	for (unsigned pass = 0; pass < 2 && pad; pass++) {
		for (int k = 3; k >= 0 && pad; k--) {
			if (pass == 0 && a[k] >= 8)
				continue;
			while (width[k] < 3 && pad) {
				width[k]++;
				pad--;
			}
		}
	}
	for (unsigned k = 0, o = 0; k < 4; k++) {
		put_dec(p + o, width[k], a[k]);
		o += width[k];
		if (k < 3)
			p[o++] = '.';
	}
	return 0;
}

static unsigned hex_digits(unsigned v)
{
	return v > 0xfff ? 4 : v > 0xff ? 3 : v > 0xf ? 2 : 1;
}

/* Shortest and longest text with the zero groups [zi, zj) as "::". */
static void v6_span(const unsigned dig[8], unsigned zi, unsigned zj,
		    unsigned *min, unsigned *max)
{
	unsigned shown = 0, sum = 0, seps;

	for (unsigned k = 0; k < 8; k++) {
		if (k >= zi && k < zj)
			continue;
		shown++;
		sum += dig[k];
	}
	if (zi == zj)
		seps = 7;
	else
		seps = 2 + (zi ? zi - 1 : 0) + (zj < 8 ? 8 - zj - 1 : 0);
	*min = sum + seps;
	*max = 4 * shown + seps;
}

static void v6_write(uint8_t *p, uint32_t len, const uint16_t g[8],
		     const unsigned dig[8], unsigned zi, unsigned zj,
		     unsigned min)
{
	unsigned pad = len - min, o = 0;

	for (unsigned k = 0; k < 8; k++) {
		unsigned w, v = g[k];

		if (k >= zi && k < zj) {
			if (k == zi) {
				p[o++] = ':';
				p[o++] = ':';
			}
			continue;
		}
		/* after "::" the group needs no separator of its own */
		if (k && !(k == zj && zi < zj))
			p[o++] = ':';
		w = dig[k];
		while (w < 4 && pad) {
			w++;
			pad--;
		}
		for (unsigned d = w; d--;) {
			p[o + d] = (uint8_t)hex_lower[v & 15];
			v >>= 4;
		}
		o += w;
	}
}

static int v6_text(uint8_t *p, uint32_t len, const uint8_t a[16])
{
	uint16_t g[8];
	unsigned dig[8], best_i = 0, best_j = 0, min, max;

	for (unsigned k = 0; k < 8; k++) {
		g[k] = (uint16_t)(a[2 * k] << 8 | a[2 * k + 1]);
		dig[k] = hex_digits(g[k]);
	}
	/* RFC 5952: the first longest run of two or more zero groups */
	for (unsigned k = 0; k < 8;) {
		unsigned j = k;

		while (j < 8 && !g[j])
			j++;
		if (j - k >= 2 && j - k > best_j - best_i) {
			best_i = k;
			best_j = j;
		}
		k = j > k ? j : k + 1;
	}
	v6_span(dig, best_i, best_j, &min, &max);
	if (len >= min && len <= max)
		goto write;
	/* then without "::", then every other zero run */
	best_i = best_j = 0;
	v6_span(dig, 0, 0, &min, &max);
	if (len >= min && len <= max)
		goto write;
	/* longer runs first: the text stays close to the canonical form */
	for (unsigned run = 8; run >= 1; run--) {
		for (unsigned i = 0; i + run <= 8; i++) {
			unsigned j = i;

			while (j < i + run && !g[j])
				j++;
			if (j < i + run)
				continue;
			v6_span(dig, i, j, &min, &max);
			if (len >= min && len <= max) {
				best_i = i;
				best_j = j;
				goto write;
			}
		}
	}
	return -ENOSPC;
write:
	v6_write(p, len, g, dig, best_i, best_j, min);
	return 0;
}

/**
 * rewrite_address_text() - write an address as text into exactly @len bytes
 * @p:      where to write (@len bytes, all of them written on success)
 * @len:    the length of the text it replaces
 * @family: 4 or 6
 * @addr:   the address, network order (IPv4 in the first 4 bytes)
 *
 * Shorter forms are padded with leading zeros inside octets or groups
 * (IPv6 may also leave a zero run uncompressed).
 * Return: 0, -ENOSPC when @len cannot hold it, -EINVAL for another family.
 */
int rewrite_address_text(uint8_t *p, uint32_t len, int family,
			 const uint8_t addr[static 16])
{
	if (family == 4)
		return v4_text(p, len, addr);
	if (family == 6)
		return v6_text(p, len, addr);
	return -EINVAL;
}
