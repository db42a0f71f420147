/*
 * csum.h — the internet checksum (RFC 1071), incremental updates
 * (RFC 1624) and the L4 checksums of IPv4/IPv6 packets.
 */
#ifndef NFREDACT_CSUM_H
#define NFREDACT_CSUM_H

#include <stddef.h>
#include <stdint.h>

struct packet;

/** csum_partial() - one's complement sum of @len bytes, folded to 32 bits,
 * added to @sum.  Byte order: as in memory (network order). */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum);

/** csum_fold() - fold a 32-bit sum and complement it */
uint16_t csum_fold(uint32_t sum);

/**
 * csum_replace() - RFC 1624 eqn. 3 update of a checksum field (network
 * order, as stored) for a change of @len bytes from @old to @new.  Any
 * @len works (odd ones too, anywhere in the summed data); @odd_offset says
 * the changed bytes start at an odd offset in the summed data (they are
 * then shifted by one byte).
 * Return: the new checksum field value (network order, as stored).
 */
uint16_t csum_replace(uint16_t check, const void *old, const void *new,
		      size_t len, int odd_offset);

/** csum_ipv4_header() - set the IPv4 header checksum of @p */
void csum_ipv4_header(struct packet *p);

/**
 * csum_l4_full() - recompute the TCP/UDP/ICMP/ICMPv6 checksum of @p from
 * scratch (pseudo-header included where the protocol has one).  A UDP
 * checksum that computes to 0 is stored as 0xFFFF; an IPv4 UDP checksum
 * of 0 (none) is left at 0.
 * Return: 0, or -EINVAL when @p has no complete L4 header.
 */
int csum_l4_full(struct packet *p);

/**
 * csum_l4_verify() - true when the L4 checksum of @p is correct, as Linux
 * receiving @p would find it: TCP over the IP length, UDP over the UDP
 * length, pseudo-header included; an IPv4 UDP checksum of 0 (none) counts
 * as correct, an IPv6 one as wrong (Linux drops it unless the socket set
 * UDP_NO_CHECK6_RX).  False too for fragments and packets with no complete
 * TCP/UDP/ICMP/ICMPv6 header, and for a checksum the kernel left partial
 * (ENGINE_F_CSUM_NOT_READY): the field then holds the pseudo-header sum.
 * Reads @p only.  Cost: `make bench-csum`.
 */
_Bool csum_l4_verify(const struct packet *p);

/**
 * csum_l4_update() - incremental (RFC 1624) fix of the L4 checksum of @p
 * after the @len bytes at offset @off (from the IP header) were rewritten
 * in place; @old holds the bytes that stood there before.  Address bytes
 * count through the pseudo-header, L4 bytes at their parity, other IP
 * header bytes not at all.  UDP rules as in csum_l4_full().  The IPv4
 * header checksum is not touched.
 * Return: 0, or -EINVAL when @p has no L4 checksum we know, or the span
 * straddles regions or covers the checksum field.
 */
int csum_l4_update(struct packet *p, uint32_t off, const void *old,
		   size_t len);

/** csum_ipv4_header_verify() - true when the IPv4 header checksum is right
 * (false for IPv6, which has none) */
_Bool csum_ipv4_header_verify(const struct packet *p);

#endif
