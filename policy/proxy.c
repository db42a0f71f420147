/*
 * proxy.c — PROXY protocol v1/v2 header recognition (HAProxy's
 * proxy-protocol.txt).  Only the source address is of interest: it is the
 * real client that the relay in front of us speaks for.
 */
#include <errno.h>
#include <string.h>

#include "proxy.h"

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define V1_MAX 107
#define PP2_TYPE_CRC32C 0x03

static int parse_v1(const uint8_t *buf, uint32_t len, struct proxy_hdr *h)
{
	uint32_t lim = len < V1_MAX ? len : V1_MAX;
	uint32_t eol = 0, i;

	for (i = 6; i + 1 < lim; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n') {
			eol = i;
			break;
		}
	if (!eol)
		return len < V1_MAX ? -E2BIG : -EINVAL;
	h->kind = PROXY_V1;
	h->hdr_len = eol + 2;
	if (eol >= 13 && !memcmp(buf + 6, "UNKNOWN", 7))
		return 1;
	if (eol < 11 || memcmp(buf + 6, "TCP", 3) ||
	    (buf[9] != '4' && buf[9] != '6') || buf[10] != ' ')
		return -EINVAL;
	h->family = buf[9] - '0';
	h->src_off = 11;
	for (i = 11; i < eol && buf[i] != ' '; i++)
		;
	if (i == 11 || i == eol)
		return -EINVAL;
	h->src_len = i - 11;
	return 1;
}

static int parse_v2(const uint8_t *buf, uint32_t len, struct proxy_hdr *h)
{
	uint32_t body, addr_len, off;

	if (len < 16)
		return -E2BIG;
	if ((buf[12] & 0xf0) != 0x20)
		return -EINVAL;
	body = (uint32_t)buf[14] << 8 | buf[15];
	h->kind = PROXY_V2;
	h->hdr_len = 16 + body;
	if ((buf[12] & 0x0f) == 0x0)	/* LOCAL: no addresses */
		return h->hdr_len <= len ? 1 : -E2BIG;
	if ((buf[12] & 0x0f) != 0x1)
		return -EINVAL;
	switch (buf[13] >> 4) {
	case 0x1:
		h->family = 4;
		addr_len = 12;
		break;
	case 0x2:
		h->family = 6;
		addr_len = 36;
		break;
	case 0x0:		/* AF_UNSPEC */
	case 0x3:		/* AF_UNIX: no IP address */
		return h->hdr_len <= len ? 1 : -E2BIG;
	default:
		return -EINVAL;
	}
	if (body < addr_len)
		return -EINVAL;
	if (h->hdr_len > len)
		return -E2BIG;
	h->src_off = 16;
	h->src_len = h->family == 4 ? 4 : 16;
	for (off = 16 + addr_len; off + 3 <= h->hdr_len;) {
		uint32_t tlen = (uint32_t)buf[off + 1] << 8 | buf[off + 2];

		if (off + 3 + tlen > h->hdr_len)
			return -EINVAL;
		if (buf[off] == PP2_TYPE_CRC32C) {
			if (tlen != 4)
				return -EINVAL;
			h->crc_off = off + 3;
		}
		off += 3 + tlen;
	}
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

static uint32_t crc32c_table[256];
static int crc32c_ready;

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc32c_table[i] = c;
	}
	crc32c_ready = 1;
}

uint32_t proxy_crc32c(const uint8_t *buf, uint32_t len)
{
	uint32_t crc = 0xffffffffu;

	if (!crc32c_ready)
		crc32c_init();
	for (uint32_t i = 0; i < len; i++)
		crc = crc32c_table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}

void proxy_fix_crc(uint8_t *buf, const struct proxy_hdr *h)
{
	uint32_t crc;

	if (h->kind != PROXY_V2 || !h->crc_off)
		return;
	memset(buf + h->crc_off, 0, 4);
	crc = proxy_crc32c(buf, h->hdr_len);
	buf[h->crc_off] = crc >> 24;
	buf[h->crc_off + 1] = crc >> 16;
	buf[h->crc_off + 2] = crc >> 8;
	buf[h->crc_off + 3] = crc;
}
