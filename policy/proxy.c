/*
 * proxy.c — PROXY protocol v1/v2 headers (HAProxy's proxy-protocol.txt):
 * their bounds and a walk over their fields.  The source address is the
 * real client that the relay in front of us speaks for; every other
 * field (the destination, AF_UNIX paths, v1 UNKNOWN text, TLV values
 * such as AUTHORITY, UNIQUE_ID, NETNS and the SSL sub-TLVs, a LOCAL
 * header's body) may carry identifiers too, and the engine scans each
 * as a payload of its own.
 */
#include <errno.h>
#include <string.h>

#include "proxy.h"

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define V1_MAX 107
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_AF_UNSPEC 0x0
#define V2_AF_INET 0x1
#define V2_AF_INET6 0x2
#define V2_AF_UNIX 0x3
#define PP2_TYPE_CRC32C 0x03
#define PP2_TYPE_SSL 0x20
#define PP2_SSL_FIXED 5		/* client (1) and verify (4) */
#define UNIX_PATH 108

static uint32_t rd16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

/*
 * The v1 line buf[0, end): "TCP4 " / "TCP6 " and the source field, as
 * far as the bytes go.  @whole: end is the line's CR.
 */
static int parse_v1_tcp(const uint8_t *buf, uint32_t end, bool whole,
			struct proxy_hdr *h)
{
	uint32_t i;

	if (end < 11)
		return whole ? -EINVAL : -E2BIG;
	if (memcmp(buf + 6, "TCP", 3) || (buf[9] != '4' && buf[9] != '6') ||
	    buf[10] != ' ')
		return -EINVAL;
	h->src_off = 11;
	for (i = 11; i < end && buf[i] != ' '; i++)
		;
	if (i == end)		/* the source field does not end here */
		return whole ? -EINVAL : -E2BIG;
	if (i == 11)
		return -EINVAL;
	h->family = buf[9] - '0';
	h->src_len = i - 11;
	return whole ? 1 : -E2BIG;
}

static int parse_v1(const uint8_t *buf, uint32_t len, struct proxy_hdr *h)
{
	uint32_t lim = len < V1_MAX ? len : V1_MAX;
	uint32_t eol = 0, i;

	for (i = 6; i + 1 < lim; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n') {
			eol = i;
			break;
		}
	h->kind = PROXY_V1;
	if (!eol) {
		if (len >= V1_MAX)
			return -EINVAL;
		/* cut short: describe what there is, for a retransmission */
		h->body_end = len;
		if (parse_v1_tcp(buf, len, false, h) == -EINVAL) {
			h->family = 0;
			h->src_off = h->src_len = 0;
		}
		return -E2BIG;
	}
	h->hdr_len = eol + 2;
	h->body_end = eol;
	if (eol >= 13 && !memcmp(buf + 6, "UNKNOWN", 7))
		return 1;
	return parse_v1_tcp(buf, eol, true, h);
}

/*
 * Whether buf[from, end) is a list of whole TLVs, checked as far as
 * @avail; @crc_off receives a CRC32C value's offset.  @crc_off NULL: an
 * SSL TLV's sub-TLVs, which nest no further and have no CRC32C.
 */
static bool tlvs_ok(const uint8_t *buf, uint32_t from, uint32_t end,
		    uint32_t avail, uint32_t *crc_off)
{
	uint32_t off = from;

	while (off < end) {
		uint32_t tlen, vend;

		if (off + 3 > avail)
			return avail < end;	/* the rest is not here */
		if (off + 3 > end)
			return false;
		tlen = rd16(buf + off + 1);
		vend = off + 3 + tlen;
		if (vend > end)
			return false;
		if (crc_off && buf[off] == PP2_TYPE_CRC32C) {
			if (tlen != 4)
				return false;
			*crc_off = off + 3;
		}
		if (crc_off && buf[off] == PP2_TYPE_SSL) {
			if (tlen < PP2_SSL_FIXED)
				return false;
			if (vend <= avail &&
			    !tlvs_ok(buf, off + 3 + PP2_SSL_FIXED, vend, avail, NULL))
				return false;
		}
		off = vend;
	}
	return true;
}

/* Bytes of the address block of v2 family @fam, or -1 when unknown. */
static int v2_addr_len(uint8_t fam)
{
	switch (fam) {
	case V2_AF_UNSPEC:
		return 0;
	case V2_AF_INET:
		return 12;
	case V2_AF_INET6:
		return 36;
	case V2_AF_UNIX:
		return 2 * UNIX_PATH;
	default:
		return -1;
	}
}

static int parse_v2(const uint8_t *buf, uint32_t len, struct proxy_hdr *h)
{
	uint32_t body, avail, crc_off = 0;
	int alen;

	h->kind = PROXY_V2;
	if (len < 16)
		return -E2BIG;
	if ((buf[12] & 0xf0) != 0x20)
		return -EINVAL;
	body = rd16(buf + 14);
	h->hdr_len = 16 + body;
	h->body_end = h->hdr_len;
	h->cmd = buf[12] & 0x0f;
	h->fam = buf[13] >> 4;
	avail = h->hdr_len < len ? h->hdr_len : len;
	alen = v2_addr_len(h->fam);
	if (h->cmd == V2_CMD_PROXY && h->fam != V2_AF_UNSPEC) {
		if (alen < 0 || body < (uint32_t)alen)
			return -EINVAL;
		if (h->fam != V2_AF_UNIX) {
			h->family = h->fam == V2_AF_INET ? 4 : 6;
			h->src_off = 16;
			h->src_len = h->family == 4 ? 4 : 16;
		}
		if (!tlvs_ok(buf, 16 + (uint32_t)alen, h->hdr_len, avail, &crc_off))
			return -EINVAL;
		h->crc_off = crc_off;
		return h->hdr_len <= len ? 1 : -E2BIG;
	}
	if (h->cmd != V2_CMD_PROXY && h->cmd != V2_CMD_LOCAL)
		return -EINVAL;
	/*
	 * LOCAL (the relay's own connection) and AF_UNSPEC carry no client
	 * address; receivers skip their body.  Read as addresses and TLVs
	 * when it is that, else as one opaque field.
	 */
	if (h->hdr_len > len) {
		h->opaque = true;
		return -E2BIG;
	}
	h->opaque = alen < 0 || body < (uint32_t)alen ||
		    !tlvs_ok(buf, 16 + (uint32_t)alen, h->hdr_len, h->hdr_len,
			     &crc_off);
	if (!h->opaque)
		h->crc_off = crc_off;
	return 1;
}

int proxy_parse(const uint8_t *buf, uint32_t len, struct proxy_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (len >= 6 && !memcmp(buf, "PROXY ", 6))
		return parse_v1(buf, len, h);
	if (len >= 1 && buf[0] == v2_sig[0]) {
		uint32_t n = len < 12 ? len : 12;

		if (memcmp(buf, v2_sig, n))
			return 0;
		return parse_v2(buf, len, h);
	}
	return 0;
}

/* ---- the fields ------------------------------------------------------- */

void proxy_walk_init(struct proxy_walk *w, const struct proxy_hdr *h,
		     const uint8_t *buf, uint32_t len)
{
	uint32_t end = h->kind == PROXY_V1 ? h->body_end : h->hdr_len;

	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->h = h;
	w->end = end < len ? end : len;
	if (h->kind == PROXY_V1)
		w->pos = h->src_off ? h->src_off + h->src_len : 0;
	else if (h->kind == PROXY_V2 && !h->opaque &&
		 v2_addr_len(h->fam) >= 0)
		w->pos = 16 + (uint32_t)v2_addr_len(h->fam);
}

static bool field(struct proxy_field *f, enum proxy_field_kind kind,
		  uint32_t off, uint32_t len, int family, uint8_t tlv)
{
	*f = (struct proxy_field){ .kind = kind, .off = off, .len = len,
				   .family = family, .tlv = tlv };
	return true;
}

static bool walk_v1(struct proxy_walk *w, struct proxy_field *f)
{
	const struct proxy_hdr *h = w->h;
	bool whole = h->hdr_len != 0;
	uint32_t s, e;

	if (!h->src_off) {
		/* UNKNOWN: whatever follows the word is one text */
		if (w->step++ || !whole || h->body_end <= 13)
			return false;
		return field(f, PROXY_F_TEXT, 13, h->body_end - 13, 0, 0);
	}
	if (!w->step++ && h->src_len)
		return field(f, PROXY_F_SOURCE, h->src_off, h->src_len,
			     h->family, 0);
	if (!h->src_len)
		return false;
	for (s = w->pos; s < w->end && w->buf[s] == ' '; s++)
		;
	for (e = s; e < w->end && w->buf[e] != ' '; e++)
		;
	/* a field that the bytes there are do not end is left alone */
	if (e == s || (e == w->end && !whole))
		return false;
	w->pos = e;
	return field(f, PROXY_F_TEXT, s, e - s, 0, 0);
}

static bool walk_v2_addr(struct proxy_walk *w, struct proxy_field *f)
{
	const struct proxy_hdr *h = w->h;
	uint32_t n;

	if (h->opaque)
		return false;
	switch (h->fam) {
	case V2_AF_INET:
	case V2_AF_INET6:
		n = h->fam == V2_AF_INET ? 4 : 16;
		while (w->step < 2) {
			uint32_t off = 16 + w->step * n;

			if (off + n > w->end)
				return false;
			if (w->step++ == 0 && h->cmd == V2_CMD_PROXY)
				return field(f, PROXY_F_SOURCE, off, n, h->family, 0);
			return field(f, PROXY_F_ADDR, off, n,
				     h->fam == V2_AF_INET ? 4 : 6, 0);
		}
		return false;
	case V2_AF_UNIX:
		while (w->step < 2) {
			uint32_t off = 16 + w->step++ * UNIX_PATH;

			if (off + UNIX_PATH > w->end)
				return false;
			return field(f, PROXY_F_TEXT, off, UNIX_PATH, 0, 0);
		}
		return false;
	default:
		return false;
	}
}

static bool walk_v2(struct proxy_walk *w, struct proxy_field *f)
{
	const struct proxy_hdr *h = w->h;
	const uint8_t *b = w->buf;

	if (h->opaque) {
		if (w->step++ || h->hdr_len > w->end || h->hdr_len <= 16)
			return false;
		return field(f, PROXY_F_TEXT, 16, h->hdr_len - 16, 0, 0);
	}
	if (w->step < 2 && walk_v2_addr(w, f))
		return true;
	w->step = 2;
	for (;;) {
		uint32_t lim, tlen, vend;
		uint8_t type;

		if (w->sub_end && w->pos >= w->sub_end)
			w->sub_end = 0;
		lim = w->sub_end ? w->sub_end : h->hdr_len;
		if (w->pos + 3 > lim || w->pos + 3 > w->end)
			return false;
		type = b[w->pos];
		tlen = rd16(b + w->pos + 1);
		vend = w->pos + 3 + tlen;
		if (vend > lim)
			return false;	/* checked by proxy_parse() */
		if (!w->sub_end && type == PP2_TYPE_SSL &&
		    tlen >= PP2_SSL_FIXED) {
			if (vend > w->end)
				return false;
			/* the client and verify fields are flags, no text */
			w->sub_end = vend;
			w->pos += 3 + PP2_SSL_FIXED;
			continue;
		}
		if (vend > w->end)
			return false;
		w->pos = vend;
		if (!tlen || (!w->sub_end && type == PP2_TYPE_CRC32C))
			continue;
		return field(f, PROXY_F_TEXT, vend - tlen, tlen, 0, type);
	}
}

bool proxy_walk_next(struct proxy_walk *w, struct proxy_field *f)
{
	switch (w->h->kind) {
	case PROXY_V1:
		return walk_v1(w, f);
	case PROXY_V2:
		return walk_v2(w, f);
	default:
		return false;
	}
}

/* ---- CRC32c ------------------------------------------------------------ */

static uint32_t crc32c_table[256];

/* Made before main() (and before any worker thread) starts. */
__attribute__((constructor)) static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc32c_table[i] = c;
	}
}

static uint32_t crc32c_update(uint32_t crc, const uint8_t *buf, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		crc = crc32c_table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

uint32_t proxy_crc32c(const uint8_t *buf, uint32_t len)
{
	return crc32c_update(0xffffffffu, buf, len) ^ 0xffffffffu;
}

uint32_t proxy_crc(const uint8_t *buf, const struct proxy_hdr *h)
{
	static const uint8_t zero[4];
	uint32_t crc;

	if (h->kind != PROXY_V2 || !h->crc_off)
		return 0;
	crc = crc32c_update(0xffffffffu, buf, h->crc_off);
	crc = crc32c_update(crc, zero, 4);
	crc = crc32c_update(crc, buf + h->crc_off + 4,
			    h->hdr_len - h->crc_off - 4);
	return crc ^ 0xffffffffu;
}

void proxy_fix_crc(uint8_t *buf, const struct proxy_hdr *h, uint32_t before)
{
	uint32_t now, v;
	uint8_t *p;

	if (h->kind != PROXY_V2 || !h->crc_off)
		return;
	now = proxy_crc(buf, h);
	if (now == before)
		return;
	p = buf + h->crc_off;
	v = ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	     (uint32_t)p[2] << 8 | p[3]) ^ before ^ now;
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
