/*
 * proxy.h — PROXY protocol headers (v1 text, v2 binary) at the start of
 * a stream: find the client (source) address field so the engine can
 * rewrite it in place without changing any length.
 */
#ifndef NFREDACT_PROXY_H
#define NFREDACT_PROXY_H

#include <stdbool.h>
#include <stdint.h>

enum proxy_kind { PROXY_NONE, PROXY_V1, PROXY_V2 };

struct proxy_hdr {
	enum proxy_kind kind;
	uint32_t hdr_len;	/* bytes of the whole header (v2: 16 + len) */
	int family;		/* 4 or 6; 0 for UNKNOWN / LOCAL / AF_UNIX */
	uint32_t src_off;	/* v1: address text; v2: address bytes */
	uint32_t src_len;
	uint32_t crc_off;	/* v2: offset of a CRC32c TLV value, 0 if none */
};

/**
 * proxy_parse() - recognise a PROXY header at the start of @buf
 * Return: 1 with @h filled, 0 when @buf does not start with one, -EINVAL
 * when it starts like one but is malformed or cut short (the caller
 * fails closed), -E2BIG when the header continues past @len.
 */
int proxy_parse(const uint8_t *buf, uint32_t len, struct proxy_hdr *h);

/** proxy_fix_crc() - recompute a v2 header's CRC32c TLV after a rewrite */
void proxy_fix_crc(uint8_t *buf, const struct proxy_hdr *h);

/** proxy_crc32c() - CRC32c (Castagnoli) of @len bytes */
uint32_t proxy_crc32c(const uint8_t *buf, uint32_t len);

#endif
