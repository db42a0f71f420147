/*
 * csum.c — the internet checksum: RFC 1071 sums, RFC 1624 incremental
 * updates, and the IPv4 header and TCP/UDP/ICMP/ICMPv6 checksums of a
 * decoded packet.
 *
 * Sums are kept in memory byte order (native loads, as Linux does): one's
 * complement addition commutes with byte swapping, so a folded sum stored
 * with a plain 16-bit store lands in network order on any host, and the
 * per-word byte swaps are saved.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "csum.h"
#include "packet.h"

static inline uint16_t fold16(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static inline uint16_t swab16(uint16_t v)
{
	return (uint16_t)(v << 8 | v >> 8);
}

/*
 * One's complement sum of @len bytes at @b (any alignment) added to @acc:
 * the native 64-bit words are added with the carries out of bit 63
 * counted apart, since each stands for 2^64, which is 1 in one's
 * complement arithmetic modulo 2^64 - 1 (and so modulo 2^32 - 1 and
 * 2^16 - 1, which divide it).  The compare after each add compiles to the
 * carry flag (add, adc); two accumulators keep two chains in flight.
 * An odd last byte is summed as if followed by a zero.
 * Return: the sum, its carries added back: zero only when all is zero.
 */
static inline uint64_t sum_words(const uint8_t *b, size_t len, uint64_t acc)
{
	uint64_t acc2 = 0, carry = 0, carry2 = 0;
	uint64_t w0, w1, w2, w3;
	uint32_t w32;
	uint16_t w16;

	while (len >= 32) {
		memcpy(&w0, b, 8);
		memcpy(&w1, b + 8, 8);
		memcpy(&w2, b + 16, 8);
		memcpy(&w3, b + 24, 8);
		acc += w0;
		carry += acc < w0;
		acc2 += w1;
		carry2 += acc2 < w1;
		acc += w2;
		carry += acc < w2;
		acc2 += w3;
		carry2 += acc2 < w3;
		b += 32;
		len -= 32;
	}
	while (len >= 8) {
		memcpy(&w0, b, 8);
		acc += w0;
		carry += acc < w0;
		b += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&w32, b, 4);
		acc2 += w32;
		carry2 += acc2 < w32;
		b += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, b, 2);
		acc += w16;
		carry += acc < w16;
		b += 2;
		len -= 2;
	}
	if (len) {
		/* the lone byte is the first of its 16-bit word, in memory */
		w16 = 0;
		memcpy(&w16, b, 1);
		acc += w16;
		carry += acc < w16;
	}
	acc += acc2;
	carry += acc < acc2;
	carry += carry2;
	acc += carry;
	if (acc < carry)
		acc++;
	return acc;
}

/* a 64-bit sum folded to 32 bits, end-around carries kept */
static inline uint32_t fold32(uint64_t acc)
{
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

/**
 * csum_partial() - one's complement sum of @len bytes at @buf, added to @sum
 * @buf: bytes, any alignment
 * @len: byte count; an odd last byte is summed as if followed by a zero
 * @sum: running sum to add to (0 to start)
 *
 * Return: the sum folded to 32 bits, in memory byte order: csum_fold() of
 * it, stored with a 16-bit store, is the checksum in network order.
 */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	return fold32(sum_words(buf, len, sum));
}

/**
 * csum_fold() - fold a 32-bit sum to 16 bits and complement it
 * @sum: from csum_partial()
 *
 * Return: the checksum field value, in memory byte order.
 */
uint16_t csum_fold(uint32_t sum)
{
	return (uint16_t)~fold16(sum);
}

/**
 * csum_replace() - RFC 1624 eqn. 3 update: HC' = ~(~HC + ~m + m')
 * @check:      checksum field as stored
 * @old:        the bytes before the change
 * @new:        the bytes after the change
 * @len:        bytes changed (any length: each byte's weight depends only
 *              on the parity of its offset)
 * @odd_offset: non-zero when the change starts at an odd offset of the
 *              summed data
 *
 * Return: the new checksum field value, as stored.
 */
uint16_t csum_replace(uint16_t check, const void *old, const void *new,
		      size_t len, int odd_offset)
{
	uint16_t m = fold16(csum_partial(old, len, 0));
	uint16_t m2 = fold16(csum_partial(new, len, 0));
	uint32_t sum;

	/* shifting data by one byte swaps the bytes of its sum */
	if (odd_offset) {
		m = swab16(m);
		m2 = swab16(m2);
	}
	sum = (uint32_t)(uint16_t)~check + (uint16_t)~m + m2;
	return csum_fold(sum);
}

static inline uint32_t ipv4_hlen(const struct packet *p)
{
	return (uint32_t)(p->data[0] & 0x0f) * 4;
}

/**
 * csum_ipv4_header() - recompute and store the IPv4 header checksum of @p
 * @p: decoded IPv4 packet (nothing is done for other families)
 */
void csum_ipv4_header(struct packet *p)
{
	uint32_t hl;
	uint16_t c;

	if (p->family != 4 || p->len < 20)
		return;
	hl = ipv4_hlen(p);
	if (hl < 20 || hl > p->len)
		return;
	p->data[10] = 0;
	p->data[11] = 0;
	c = csum_fold(csum_partial(p->data, hl, 0));
	memcpy(p->data + 10, &c, 2);
}

/**
 * csum_ipv4_header_verify() - check the IPv4 header checksum of @p
 * @p: decoded packet
 *
 * Return: true when @p is IPv4 and its header sums to zero; false
 * otherwise (IPv6 has no header checksum to be right).
 */
bool csum_ipv4_header_verify(const struct packet *p)
{
	uint32_t hl;

	if (p->family != 4 || p->len < 20)
		return false;
	hl = ipv4_hlen(p);
	if (hl < 20 || hl > p->len)
		return false;
	return csum_fold(csum_partial(p->data, hl, 0)) == 0;
}

/*
 * Where @p's L4 checksum field is and how many L4 bytes it covers, and
 * whether a pseudo-header is part of it.  Return: field offset in the L4
 * header, or -EINVAL when @p has no complete L4 header with a checksum.
 */
static int l4_layout(const struct packet *p, uint32_t *covered, bool *pseudo)
{
	if (p->is_fragment || !p->l4_off || p->l4_off > p->len ||
	    p->l4_len > p->len - p->l4_off)
		return -EINVAL;
	*covered = p->l4_len;
	*pseudo = true;
	switch (p->proto) {
	case IPPROTO_TCP:
		if (p->l4_len < 20)
			return -EINVAL;
		return 16;
	case IPPROTO_UDP:
		if (p->l4_len < 8 || p->payload_off != p->l4_off + 8 ||
		    p->payload_len > p->l4_len - 8)
			return -EINVAL;
		/* the UDP length, not the IP length, bounds the datagram */
		*covered = 8 + p->payload_len;
		return 6;
	case IPPROTO_ICMP:
		if (p->family != 4 || p->l4_len < 4)
			return -EINVAL;
		*pseudo = false;
		return 2;
	case IPPROTO_ICMPV6:
		if (p->family != 6 || p->l4_len < 4)
			return -EINVAL;
		return 2;
	default:
		return -EINVAL;
	}
}

/* Sum of the L4 bytes plus, where the protocol has one, the pseudo-header. */
static uint32_t l4_sum(const struct packet *p, uint32_t covered, bool pseudo)
{
	const uint8_t *a = p->data + p->saddr_off;
	uint64_t acc = 0, carry = 0, w;

	if (pseudo) {
		/*
		 * The IPv6 pseudo-header has a 32-bit length and a 24-bit
		 * zero pad before next header; both collapse to these 16-bit
		 * words because covered < 2^16 (no jumbograms).
		 */
		acc = (uint64_t)htons((uint16_t)covered) + htons(p->proto);
		/* saddr and daddr are adjacent in both IPv4 and IPv6
		 * headers: 8 or 32 bytes, whole 64-bit words */
		for (uint32_t i = 0; i < 2u * p->addr_len; i += 8) {
			memcpy(&w, a + i, 8);
			acc += w;
			carry += acc < w;
		}
		acc += carry;
		if (acc < carry)	/* its end-around carry */
			acc++;
	}
	return fold32(sum_words(p->data + p->l4_off, covered, acc));
}

/**
 * csum_l4_full() - recompute and store the L4 checksum of @p from scratch
 * @p: decoded, non-fragment packet with a TCP, UDP, ICMP (IPv4) or ICMPv6
 *     (IPv6) header
 *
 * A UDP checksum that computes to 0 is stored as 0xFFFF; an IPv4 UDP
 * checksum field of 0 (sender used none) is left at 0.
 * Return: 0, or -EINVAL when @p has no complete L4 header we checksum.
 */
int csum_l4_full(struct packet *p)
{
	uint32_t covered;
	bool pseudo;
	uint8_t *field;
	uint16_t c;
	int at = l4_layout(p, &covered, &pseudo);

	if (at < 0)
		return at;
	field = p->data + p->l4_off + at;
	if (p->proto == IPPROTO_UDP && p->family == 4 &&
	    field[0] == 0 && field[1] == 0)
		return 0;
	field[0] = 0;
	field[1] = 0;
	c = csum_fold(l4_sum(p, covered, pseudo));
	if (c == 0 && p->proto == IPPROTO_UDP)
		c = 0xffff;
	memcpy(field, &c, 2);
	return 0;
}

/**
 * csum_l4_verify() - check the L4 checksum of @p
 * @p: decoded packet
 *
 * Return: true when the checksum is right (an IPv4 UDP checksum of 0, none,
 * counts as right; an IPv6 one is wrong, as for Linux's sockets without
 * UDP_NO_CHECK6_RX); false when it is wrong or @p has no L4 header we
 * checksum.
 */
bool csum_l4_verify(const struct packet *p)
{
	uint32_t covered;
	bool pseudo;
	const uint8_t *field;
	int at = l4_layout(p, &covered, &pseudo);

	if (at < 0)
		return false;
	field = p->data + p->l4_off + at;
	if (p->proto == IPPROTO_UDP && field[0] == 0 && field[1] == 0)
		return p->family == 4;
	return csum_fold(l4_sum(p, covered, pseudo)) == 0;
}

/**
 * csum_l4_update() - fix the L4 checksum of @p after bytes were rewritten
 * @p:   decoded packet whose L4 checksum was valid before the change
 * @off: offset (from the IP header) of the rewritten bytes, which now hold
 *       the new value
 * @old: the @len bytes that stood there before
 * @len: bytes rewritten
 *
 * Changes to the addresses count through the pseudo-header (not for
 * ICMPv4, which has none); changes anywhere in the checksummed L4 bytes
 * count at their parity; other IP header bytes do not enter the L4
 * checksum.  An IPv4 UDP checksum of 0 (none) stays 0, and a UDP result
 * of 0 is stored as 0xFFFF.  The IPv4 header checksum is not touched.
 * Return: 0, or -EINVAL when @p has no L4 checksum we know, or the span
 * straddles regions or covers the checksum field.
 */
int csum_l4_update(struct packet *p, uint32_t off, const void *old,
		   size_t len)
{
	uint32_t covered, addr_end, start;
	bool pseudo;
	uint8_t *field;
	uint16_t c;
	int at = l4_layout(p, &covered, &pseudo);

	if (at < 0)
		return at;
	if (len == 0)
		return 0;
	if (off > p->len || len > p->len - off)
		return -EINVAL;
	field = p->data + p->l4_off + at;
	addr_end = p->saddr_off + 2u * p->addr_len;
	if (off >= p->saddr_off && off + len <= addr_end) {
		if (!pseudo)
			return 0;
		start = off - p->saddr_off;
	} else if (off >= p->l4_off && off + len <= p->l4_off + covered) {
		/* rewriting the field itself is no change we can account */
		if (off < p->l4_off + at + 2 && off + len > p->l4_off + (uint32_t)at)
			return -EINVAL;
		start = off - p->l4_off;
	} else if (off + len <= p->l4_off &&
		   (off >= addr_end || off + len <= p->saddr_off)) {
		return 0;
	} else {
		return -EINVAL;
	}
	if (p->proto == IPPROTO_UDP && p->family == 4 &&
	    field[0] == 0 && field[1] == 0)
		return 0;
	memcpy(&c, field, 2);
	c = csum_replace(c, old, p->data + off, len, start & 1);
	if (c == 0 && p->proto == IPPROTO_UDP)
		c = 0xffff;
	memcpy(field, &c, 2);
	return 0;
}
