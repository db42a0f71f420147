/*
 * proxy.h — PROXY protocol headers (v1 text, v2 binary) at the start of
 * a stream or a datagram: their bounds, the client (source) address
 * field, and a walk over every other field, so that the engine can
 * redact each in place without changing any length (doc/design.md §5).
 */
#ifndef NFREDACT_PROXY_H
#define NFREDACT_PROXY_H

#include <stdbool.h>
#include <stdint.h>

enum proxy_kind { PROXY_NONE, PROXY_V1, PROXY_V2 };

struct proxy_hdr {
	enum proxy_kind kind;
	uint32_t hdr_len;	/* bytes of the whole header (v2: 16 + len);
				 * 0 for a v1 line cut short */
	int family;		/* 4 or 6: the client's IP address is at src;
				 * 0 for UNKNOWN / LOCAL / AF_UNSPEC / AF_UNIX */
	uint32_t src_off;	/* v1: address text; v2: address bytes */
	uint32_t src_len;
	uint32_t crc_off;	/* v2: offset of a CRC32c TLV value, 0 if none */
	/* the layout proxy_walk_next() follows */
	uint32_t body_end;	/* v1: the CR of CRLF (or the bytes there are);
				 * v2: hdr_len */
	uint8_t cmd, fam;	/* v2: command and address family nibbles */
	bool opaque;		/* v2: a LOCAL or AF_UNSPEC body that is no
				 * TLV list: one field */
};

enum proxy_field_kind {
	PROXY_F_SOURCE,		/* the client's address (src_off, src_len) */
	PROXY_F_ADDR,		/* another IP address, 4 or 16 bytes (v2) */
	PROXY_F_TEXT,		/* bytes read as a payload of their own: v1
				 * fields, AF_UNIX paths, TLV values, an
				 * opaque body */
};

struct proxy_field {
	enum proxy_field_kind kind;
	uint32_t off, len;
	int family;		/* PROXY_F_ADDR: 4 or 6 */
	uint8_t tlv;		/* v2: the (sub-)TLV type of a value, else 0 */
};

/* A walk over the fields of a header (or of the bytes there are of it). */
struct proxy_walk {
	const uint8_t *buf;
	const struct proxy_hdr *h;
	uint32_t end;		/* min(header end, bytes there are) */
	uint32_t pos;
	uint32_t sub_end;	/* inside an SSL TLV: end of its sub-TLVs */
	unsigned step;		/* address fields emitted so far */
};

/**
 * proxy_parse() - recognise a PROXY header at the start of @buf
 * @buf: the bytes of a stream's or datagram's start
 * @len: their number
 * @h:   receives the header's layout
 *
 * A v2 header with the PROXY command must be well formed to the last
 * TLV (SSL sub-TLVs included); the body of a LOCAL or AF_UNSPEC header
 * that is no TLV list is one opaque field.
 *
 * Return: 1 with @h filled, 0 when @buf does not start with one, -EINVAL
 * when it starts like one but is malformed (the caller fails closed),
 * -E2BIG when the header continues past @len (@h then describes the
 * part there is, for proxy_walk_init()).
 */
int proxy_parse(const uint8_t *buf, uint32_t len, struct proxy_hdr *h);

/**
 * proxy_walk_init() - start a walk over the fields of @h in @buf
 * @len: bytes of @buf there are; fields that do not end inside them (a
 *       header cut short) are not visited
 */
void proxy_walk_init(struct proxy_walk *w, const struct proxy_hdr *h,
		     const uint8_t *buf, uint32_t len);

/**
 * proxy_walk_next() - the next field of the header, in order
 *
 * v1: the source address (PROXY_F_SOURCE), then every other
 * space-separated field of a TCP4/TCP6 line as text; for UNKNOWN, all
 * that follows the word as one text.  v2: the source and destination
 * addresses (PROXY_F_SOURCE and PROXY_F_ADDR for the PROXY command;
 * both PROXY_F_ADDR for LOCAL), AF_UNIX paths as text, then each TLV
 * value as text, an SSL TLV's sub-TLV values one by one; CRC32C values
 * and the ports are not visited.  Empty values are skipped.
 * Return: true with @f set, false at the end.
 */
bool proxy_walk_next(struct proxy_walk *w, struct proxy_field *f);

/**
 * proxy_crc() - the CRC32c of a whole v2 header in @buf as its CRC32C
 * TLV should carry it (computed with that value taken as zero)
 * Return: the CRC; 0 when @h has no CRC32C TLV.
 */
uint32_t proxy_crc(const uint8_t *buf, const struct proxy_hdr *h);

/**
 * proxy_fix_crc() - update a v2 header's CRC32C TLV after a rewrite
 * @before: proxy_crc() of the header as it came
 *
 * A right checksum is recomputed; a wrong one stays wrong by as much as
 * it was, so a corrupt header stays detectably corrupt.
 */
void proxy_fix_crc(uint8_t *buf, const struct proxy_hdr *h, uint32_t before);

/** proxy_crc32c() - CRC32c (Castagnoli) of @len bytes */
uint32_t proxy_crc32c(const uint8_t *buf, uint32_t len);

#endif
