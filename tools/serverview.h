/*
 * serverview.h — the server's view of a packet that a capture on the
 * client's side of the relay shows addressed to the real client: a reply
 * or an ICMP error as the server sent it, to the client's pseudonym and
 * pseudonym port.  The dry-run rewrites such packets before the engine
 * sees them, as the daemon's output hook would get them, and writes them
 * so to OUT.pcap.
 *
 * Only addresses and ports change, in place, and every checksum that
 * covers them is updated incrementally (RFC 1624): the IPv4 header, the
 * TCP/UDP/ICMPv6 pseudo-header, an ICMP error's quoted IPv4 header and
 * quoted TCP/UDP checksum, and the ICMP checksum over the quote.  A packet
 * cut short by the capture is rewritten in what was captured; the
 * checksums still come out right for the whole packet.
 */
#ifndef NFREDACT_SERVERVIEW_H
#define NFREDACT_SERVERVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

/**
 * sv_reply_to_pseudonym() - readdress a server → client TCP or UDP packet
 * to @pseudo, port @pport
 * @ip:     the packet, from its IP header
 * @p:      a decoded view with @ip's offsets (of @ip itself, or of a copy
 *          whose length fields were cut to what was captured)
 * @pseudo: the pseudonym (@p->addr_len bytes)
 * @pport:  the pseudonym port, host order
 * Return: true when a byte changed.
 */
bool sv_reply_to_pseudonym(uint8_t *ip, const struct packet *p,
			   const uint8_t *pseudo, uint16_t pport);

/**
 * sv_error_to_pseudonym() - rewrite an ICMP or ICMPv6 error about a
 * client's packet (@p->inner goes client → server): the quoted source
 * becomes @pseudo and its source port @pport, the outer destination too
 * where it is @client
 * @ip, @p: as for sv_reply_to_pseudonym(); @p->icmp_error must be set
 * Return: true when a byte changed.
 */
bool sv_error_to_pseudonym(uint8_t *ip, const struct packet *p,
			   const uint8_t *client, const uint8_t *pseudo,
			   uint16_t pport);

#endif
