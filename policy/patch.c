/*
 * patch.c — rewriting bytes of a packet in place with its checksums kept
 * right: the IPv4 header checksum and the L4 one updated incrementally
 * (RFC 1624), so that a packet that arrived corrupt stays detectably
 * corrupt, or the L4 one recomputed in full at the end when the kernel
 * said it is still partial.
 */
#include <netinet/in.h>
#include <string.h>

#include "csum.h"
#include "engine.h"
#include "engine_int.h"
#include "packet.h"


void csum_ctx_init(struct csum_ctx *c, struct packet *p, unsigned flags)
{
	uint32_t field = 0;

	memset(c, 0, sizeof(*c));
	c->p = p;
	c->full = flags & ENGINE_F_CSUM_NOT_READY;
	switch (p->proto) {
	case IPPROTO_TCP:
		field = 16;
		break;
	case IPPROTO_UDP:
		field = 6;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		field = 2;
		break;
	default:
		return;
	}
	if (p->l4_off + field + 2 > p->len)
		return;
	c->l4_check = p->data + p->l4_off + field;
	/* IPv4 UDP without a checksum stays without one. */
	if (p->proto == IPPROTO_UDP && p->family == 4 &&
	    !c->l4_check[0] && !c->l4_check[1])
		c->l4_check = NULL;
}

static uint16_t load16(const uint8_t *b)
{
	uint16_t v;

	memcpy(&v, b, 2);
	return v;
}

static void store16(uint8_t *b, uint16_t v)
{
	memcpy(b, &v, 2);
}

/* Incremental update of the 16-bit field at @field for old → new bytes. */
static void csum_field_update(uint8_t *field, const void *old, const void *new,
			      size_t len, int odd)
{
	uint16_t c = csum_replace(load16(field), old, new, len, odd);

	store16(field, c);
}

/* The same for a UDP checksum, where 0 means "none" and is sent as ~0. */
static void csum_l4_field_update(uint8_t *field, uint8_t proto, const void *old,
				 const void *new, size_t len, int odd)
{
	csum_field_update(field, old, new, len, odd);
	if (proto == IPPROTO_UDP && !field[0] && !field[1])
		field[0] = field[1] = 0xff;
}

/*
 * Replace @len bytes at @at (inside p->data) with @new, keeping the
 * checksums that cover them right.  @in_pseudo: the bytes are part of the
 * L4 pseudo-header (addresses); @in_l3: part of the IPv4 header;
 * otherwise L4 bytes at offset (at - l4 start).
 */
void patch(struct csum_ctx *c, uint8_t *at, const void *new, size_t len,
	   bool in_l3, bool in_pseudo)
{
	struct packet *p = c->p;

	if (!memcmp(at, new, len))
		return;
	if (in_l3 && p->family == 4)
		csum_field_update(p->data + 10, at, new, len, 0);
	if (c->l4_check && !c->full) {
		bool covered = in_pseudo ? p->proto != IPPROTO_ICMP : !in_l3;

		if (covered) {
			int odd = in_pseudo ? 0 : (int)((at - (p->data + p->l4_off)) & 1);

			csum_l4_field_update(c->l4_check, p->proto, at, new,
					     len, odd);
		}
	}
	memcpy(at, new, len);
	c->touched_l3 |= in_l3;
	c->touched_l4 = true;
}

/* Account for a payload span already rewritten in place; @old is a copy. */
void patched_payload(struct csum_ctx *c, const uint8_t *old, uint8_t *at,
		     size_t len)
{
	struct packet *p;

	if (!c)
		return;	/* a stream window, not a packet */
	p = c->p;
	if (c->l4_check && !c->full)
		csum_l4_field_update(c->l4_check, p->proto, old, at, len,
				     (int)((at - (p->data + p->l4_off)) & 1));
	c->touched_l4 = true;
}

void csum_ctx_finish(struct csum_ctx *c)
{
	if (c->full && c->touched_l4)
		csum_l4_full(c->p);
}

/*
 * patch_quote() - see engine_int.h.  The ICMP checksum covers the quote:
 * its old bytes are kept in @scratch to update it.
 */
void patch_quote(struct csum_ctx *c, uint8_t *addr, const uint8_t *to,
		 uint8_t *port_at, uint16_t port_net, uint8_t *scratch)
{
	struct packet *p = c->p;
	struct pkt_inner *in = &p->inner;
	uint8_t *quote = p->data + in->l3_off, *inner_check = NULL;
	uint32_t quote_len = p->len - in->l3_off;

	if (in->have_l4_csum)
		inner_check = p->data + in->l4_off +
			      (in->proto == IPPROTO_TCP ? 16 : 6);
	if (inner_check && in->proto == IPPROTO_UDP && p->family == 4 &&
	    !inner_check[0] && !inner_check[1])
		inner_check = NULL;
	memcpy(scratch, quote, quote_len);
	if (in->family == 4)
		csum_field_update(quote + 10, addr, to, 4, 0);
	if (inner_check) {
		csum_l4_field_update(inner_check, in->proto, addr, to,
				     p->addr_len, 0);
		csum_l4_field_update(inner_check, in->proto, port_at, &port_net,
				     2, 0);
	}
	memcpy(addr, to, p->addr_len);
	memcpy(port_at, &port_net, 2);
	patched_payload(c, scratch, quote, quote_len);
}
