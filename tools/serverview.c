/*
 * serverview.c — replies and ICMP errors captured on the client's side,
 * rewritten to what the server sent (see serverview.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "csum.h"
#include "serverview.h"

/*
 * Update the checksum field at @field for @len bytes changing from @old
 * to @new at parity @odd.  @udp4_none: an IPv4 UDP field of 0 means no
 * checksum and stays 0; @udp: a UDP result of 0 is sent as 0xFFFF.
 */
static void csum_fix(uint8_t *field, const void *old, const void *new,
		     size_t len, int odd, bool udp, bool udp4_none)
{
	uint16_t c;

	memcpy(&c, field, 2);
	if (udp4_none && !c)
		return;
	c = csum_replace(c, old, new, len, odd);
	if (udp && !c)
		c = 0xffff;
	memcpy(field, &c, 2);
}

/* Where a TCP or UDP header at @l4 keeps its checksum, or NULL. */
static uint8_t *l4_check(uint8_t *ip, uint8_t proto, uint32_t l4)
{
	if (proto == IPPROTO_TCP)
		return ip + l4 + 16;
	if (proto == IPPROTO_UDP)
		return ip + l4 + 6;
	return NULL;
}

bool sv_reply_to_pseudonym(uint8_t *ip, const struct packet *p,
			   const uint8_t *pseudo, uint16_t pport)
{
	uint8_t *daddr = ip + p->daddr_off, *port = ip + p->l4_off + 2;
	uint8_t *check = l4_check(ip, p->proto, p->l4_off);
	bool udp = p->proto == IPPROTO_UDP, udp4 = udp && p->family == 4;
	uint16_t be = htons(pport);
	bool changed = false;

	if (!check)
		return false;
	if (memcmp(daddr, pseudo, p->addr_len)) {
		if (p->family == 4)
			csum_fix(ip + 10, daddr, pseudo, 4, 0, false, false);
		csum_fix(check, daddr, pseudo, p->addr_len, 0, udp, udp4);
		memcpy(daddr, pseudo, p->addr_len);
		changed = true;
	}
	if (memcmp(port, &be, 2)) {
		csum_fix(check, port, &be, 2, 0, udp, udp4);
		memcpy(port, &be, 2);
		changed = true;
	}
	return changed;
}

/* Write @len bytes at @at inside an ICMP error's quote, keeping the ICMP
 * (or ICMPv6) checksum, which covers the quote, right. */
static void quote_write(uint8_t *ip, const struct packet *p, uint32_t at,
			const void *new, size_t len)
{
	csum_fix(ip + p->l4_off + 2, ip + at, new, len,
		 (int)((at - p->l4_off) & 1), false, false);
	memcpy(ip + at, new, len);
}

/* Update a checksum field inside the quote for a change of @old to @new. */
static void quote_csum_fix(uint8_t *ip, const struct packet *p, uint32_t field,
			   const void *old, const void *new, size_t len,
			   bool udp, bool udp4_none)
{
	uint8_t v[2];

	memcpy(v, ip + field, 2);
	csum_fix(v, old, new, len, 0, udp, udp4_none);
	quote_write(ip, p, field, v, 2);
}

bool sv_error_to_pseudonym(uint8_t *ip, const struct packet *p,
			   const uint8_t *client, const uint8_t *pseudo,
			   uint16_t pport)
{
	const struct pkt_inner *in = &p->inner;
	unsigned alen = p->addr_len;
	uint32_t isrc = in->saddr_off, icheck = 0;
	uint8_t *odst = ip + p->daddr_off;
	bool udp = in->proto == IPPROTO_UDP, udp4 = udp && in->family == 4;
	bool changed = false;
	uint16_t be = htons(pport);

	if (!p->icmp_error || in->family != p->family)
		return false;
	if (in->have_l4_csum && (in->proto == IPPROTO_TCP || udp))
		icheck = in->l4_off + (udp ? 6 : 16);
	/* the quoted header, with its own checksums */
	if (memcmp(ip + isrc, pseudo, alen)) {
		if (in->family == 4)
			quote_csum_fix(ip, p, in->l3_off + 10, ip + isrc, pseudo,
				       4, false, false);
		if (icheck)
			quote_csum_fix(ip, p, icheck, ip + isrc, pseudo, alen,
				       udp, udp4);
		quote_write(ip, p, isrc, pseudo, alen);
		changed = true;
	}
	if (in->have_ports && memcmp(ip + in->l4_off, &be, 2)) {
		if (icheck)
			quote_csum_fix(ip, p, icheck, ip + in->l4_off, &be, 2,
				       udp, udp4);
		quote_write(ip, p, in->l4_off, &be, 2);
		changed = true;
	}
	/* the outer destination: the IPv4 header, or ICMPv6's pseudo-header */
	if (!memcmp(odst, client, alen) && memcmp(odst, pseudo, alen)) {
		if (p->family == 4)
			csum_fix(ip + 10, odst, pseudo, 4, 0, false, false);
		else
			csum_fix(ip + p->l4_off + 2, odst, pseudo, 16, 0, false,
				 false);
		memcpy(odst, pseudo, alen);
		changed = true;
	}
	return changed;
}
