/*
 * packet.c — decode IPv4/IPv6 packets (extension headers, fragments) and
 * their TCP/UDP/ICMP/ICMPv6 headers into a struct packet view.
 *
 * Runs once per packet: no allocation, no copies of packet bytes, and
 * every read is bounds-checked against the lengths the headers declare,
 * which are themselves checked against the bytes the caller has.
 */
#include <string.h>
#include <netinet/in.h>

#include "packet.h"

#define IPV4_MIN_HDR	20u
#define IPV6_HDR	40u
#define TCP_MIN_HDR	20u
#define UDP_HDR		8u
#define ICMP_HDR	8u

#define IP4_MF		0x2000u
#define IP4_OFFMASK	0x1fffu
#define IP6F_OFFMASK	0xfff8u
#define IP6F_MORE	0x0001u

static inline uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

/* Extension headers of the IPv6 chain that we walk; anything else ends it. */
enum ext_step {
	EXT_END,	/* *nh is an upper-layer (or unknown/opaque) protocol */
	EXT_NEXT,	/* skipped one header */
	EXT_FRAG,	/* a non-atomic fragment header */
	EXT_SHORT,	/* the header does not fit in [off, end) */
	EXT_BAD,	/* a header where none may stand */
};

/*
 * One step of the IPv6 extension header walk over d[*off, end).  Shared
 * by the outer packet and the header quoted in an ICMPv6 error, so both
 * agree on what counts as an extension header.
 */
static enum ext_step ipv6_ext_step(const uint8_t *d, uint32_t *off,
				   uint32_t end, uint8_t *nh, uint32_t first)
{
	uint32_t o = *off, hlen;

	switch (*nh) {
	case IPPROTO_HOPOPTS:
		/* RFC 8200 §4.1: hop-by-hop only right after the IPv6 header */
		if (o != first)
			return EXT_BAD;
		/* fall through */
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
		if (end - o < 8)
			return EXT_SHORT;
		hlen = ((uint32_t)d[o + 1] + 1) * 8;
		break;
	case IPPROTO_AH:
		if (end - o < 8)
			return EXT_SHORT;
		hlen = ((uint32_t)d[o + 1] + 2) * 4;
		break;
	case IPPROTO_FRAGMENT:
		if (end - o < 8)
			return EXT_SHORT;
		*nh = d[o];
		*off = o + 8;
		/* RFC 6946: an atomic fragment is an ordinary packet */
		return (rd16(d + o + 2) & (IP6F_OFFMASK | IP6F_MORE)) ?
			EXT_FRAG : EXT_NEXT;
	default:
		return EXT_END;
	}
	if (hlen > end - o)
		return EXT_SHORT;
	*nh = d[o];
	*off = o + hlen;
	return EXT_NEXT;
}

/* Fill p->inner from the IPv4 header an ICMP error quotes at d[q, end). */
static enum pkt_status decode_inner4(struct packet *p, uint32_t q,
				     uint32_t end)
{
	struct pkt_inner *in = &p->inner;
	const uint8_t *d = p->data;
	uint32_t qlen = end - q, hl, tot, need;

	if (qlen < IPV4_MIN_HDR || (d[q] >> 4) != 4)
		return PKT_MALFORMED;
	hl = (uint32_t)(d[q] & 0x0f) * 4;
	tot = rd16(d + q + 2);
	if (hl < IPV4_MIN_HDR || tot < hl)
		return PKT_MALFORMED;
	/*
	 * RFC 792: the quote holds the header and at least 64 bits of data,
	 * or all of a packet that was shorter than that.
	 */
	need = tot < hl + 8 ? tot : hl + 8;
	if (qlen < need)
		return PKT_MALFORMED;
	in->family = 4;
	in->proto = d[q + 9];
	in->l3_off = q;
	in->saddr_off = q + 12;
	in->daddr_off = q + 16;
	/* a non-first fragment quotes no L4 header */
	if (rd16(d + q + 6) & IP4_OFFMASK)
		return PKT_OK;
	in->l4_off = q + hl;
	return PKT_OK;
}

/* Fill p->inner from the IPv6 header an ICMPv6 error quotes at d[q, end). */
static enum pkt_status decode_inner6(struct packet *p, uint32_t q,
				     uint32_t end)
{
	struct pkt_inner *in = &p->inner;
	const uint8_t *d = p->data;
	uint32_t off = q + IPV6_HDR;
	uint8_t nh;
	enum ext_step st;

	if (end - q < IPV6_HDR || (d[q] >> 4) != 6)
		return PKT_MALFORMED;
	in->family = 6;
	in->l3_off = q;
	in->saddr_off = q + 8;
	in->daddr_off = q + 24;
	nh = d[q + 6];
	/*
	 * The quote is cut to fit the minimum MTU, so running out of quote
	 * inside the chain is normal: the inner L4 header is then absent.
	 */
	while ((st = ipv6_ext_step(d, &off, end, &nh, q + IPV6_HDR)) == EXT_NEXT)
		;
	in->proto = nh;
	if (st == EXT_BAD)
		return PKT_MALFORMED;
	if (st == EXT_END)
		in->l4_off = off;
	return PKT_OK;
}

/* Ports and checksum reach of the quoted L4 header, once it is located. */
static void inner_l4(struct pkt_inner *in, const uint8_t *d, uint32_t end)
{
	uint32_t avail;

	if (!in->l4_off || (in->proto != IPPROTO_TCP && in->proto != IPPROTO_UDP))
		return;
	avail = end - in->l4_off;
	if (avail >= 4) {
		in->sport = rd16(d + in->l4_off);
		in->dport = rd16(d + in->l4_off + 2);
		in->have_ports = true;
	}
	in->have_l4_csum = avail >= (in->proto == IPPROTO_TCP ? 18u : 8u);
}

static enum pkt_status decode_icmp(struct packet *p, bool v6)
{
	const uint8_t *d = p->data;
	uint32_t l4 = p->l4_off, end = p->len;
	enum pkt_status st;
	uint8_t type;

	if (p->l4_len < ICMP_HDR)
		return PKT_MALFORMED;
	type = d[l4];
	p->icmp_type = type;
	p->icmp_code = d[l4 + 1];
	p->payload_off = l4 + ICMP_HDR;
	p->payload_len = p->l4_len - ICMP_HDR;
	if (v6) {
		/* 1..4: unreachable, too big, time exceeded, parameter problem */
		if (type < 1 || type > 4)
			return PKT_OK;
		st = decode_inner6(p, l4 + ICMP_HDR, end);
	} else {
		/* unreachable, source quench, time exceeded, parameter problem */
		if (type != 3 && type != 4 && type != 11 && type != 12)
			return PKT_OK;
		st = decode_inner4(p, l4 + ICMP_HDR, end);
	}
	if (st != PKT_OK)
		return st;
	inner_l4(&p->inner, d, end);
	p->icmp_error = true;
	return PKT_OK;
}

static enum pkt_status decode_l4(struct packet *p)
{
	const uint8_t *d = p->data;
	uint32_t l4 = p->l4_off, hl, ulen;

	switch (p->proto) {
	case IPPROTO_TCP:
		if (p->l4_len < TCP_MIN_HDR)
			return PKT_MALFORMED;
		hl = (uint32_t)(d[l4 + 12] >> 4) * 4;
		if (hl < TCP_MIN_HDR || hl > p->l4_len)
			return PKT_MALFORMED;
		p->sport = rd16(d + l4);
		p->dport = rd16(d + l4 + 2);
		p->tcp_seq = rd32(d + l4 + 4);
		p->tcp_ack = rd32(d + l4 + 8);
		p->tcp_flags = d[l4 + 13];
		p->payload_off = l4 + hl;
		p->payload_len = p->l4_len - hl;
		return PKT_OK;
	case IPPROTO_UDP:
		if (p->l4_len < UDP_HDR)
			return PKT_MALFORMED;
		ulen = rd16(d + l4 + 4);
		if (ulen < UDP_HDR || ulen > p->l4_len)
			return PKT_MALFORMED;
		p->sport = rd16(d + l4);
		p->dport = rd16(d + l4 + 2);
		p->payload_off = l4 + UDP_HDR;
		p->payload_len = ulen - UDP_HDR;
		return PKT_OK;
	case IPPROTO_ICMP:
		return p->family == 4 ? decode_icmp(p, false) : PKT_OK;
	case IPPROTO_ICMPV6:
		return p->family == 6 ? decode_icmp(p, true) : PKT_OK;
	default:
		return PKT_OK;
	}
}

static enum pkt_status decode_ipv4(struct packet *p, uint32_t len)
{
	const uint8_t *d = p->data;
	uint32_t hl, tot;

	if (len < IPV4_MIN_HDR)
		return PKT_MALFORMED;
	hl = (uint32_t)(d[0] & 0x0f) * 4;
	tot = rd16(d + 2);
	if (hl < IPV4_MIN_HDR || tot < hl || tot > len)
		return PKT_MALFORMED;
	p->len = tot;
	p->addr_len = 4;
	p->saddr_off = 12;
	p->daddr_off = 16;
	p->proto = d[9];
	p->l4_off = hl;
	p->l4_len = tot - hl;
	if (rd16(d + 6) & (IP4_MF | IP4_OFFMASK)) {
		p->is_fragment = true;
		return PKT_FRAGMENT;
	}
	return decode_l4(p);
}

static enum pkt_status decode_ipv6(struct packet *p, uint32_t len)
{
	const uint8_t *d = p->data;
	uint32_t off = IPV6_HDR, tot;
	enum ext_step st;
	uint8_t nh;

	if (len < IPV6_HDR)
		return PKT_MALFORMED;
	tot = IPV6_HDR + rd16(d + 4);
	/* payload length 0 is a jumbogram (RFC 2675): never valid here */
	if (tot == IPV6_HDR || tot > len)
		return PKT_MALFORMED;
	p->len = tot;
	p->addr_len = 16;
	p->saddr_off = 8;
	p->daddr_off = 24;
	nh = d[6];
	while ((st = ipv6_ext_step(d, &off, tot, &nh, IPV6_HDR)) == EXT_NEXT)
		;
	if (st == EXT_SHORT || st == EXT_BAD)
		return PKT_MALFORMED;
	p->proto = nh;
	p->l4_off = off;
	p->l4_len = tot - off;
	if (st == EXT_FRAG) {
		p->is_fragment = true;
		return PKT_FRAGMENT;
	}
	return decode_l4(p);
}

enum pkt_status pkt_decode(struct packet *p, uint8_t *data, uint32_t len)
{
	memset(p, 0, sizeof(*p));
	p->data = data;
	p->len = len;
	if (len == 0)
		return PKT_MALFORMED;
	switch (data[0] >> 4) {
	case 4:
		p->family = 4;
		return decode_ipv4(p, len);
	case 6:
		p->family = 6;
		return decode_ipv6(p, len);
	default:
		return PKT_MALFORMED;
	}
}

uint32_t pkt_ip_len(const struct packet *p)
{
	if (p->family == 4 && p->len >= 4)
		return rd16(p->data + 2);
	if (p->family == 6 && p->len >= 6)
		return IPV6_HDR + rd16(p->data + 4);
	return 0;
}
