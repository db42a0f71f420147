/*
 * access.c — read-only views of a compiled ruleset for the daemon and the
 * tools, which see only policy.h.
 */
#include <errno.h>
#include <string.h>

#include "ruleset.h"

unsigned policy_service_ports(const struct ruleset *rs, unsigned svc,
			      struct policy_ports *out, unsigned max)
{
	const struct rs_service *s;

	if (svc >= rs->n_services)
		return 0;
	s = &rs->services[svc];
	for (unsigned i = 0; i < s->n_ports && i < max; i++) {
		out[i].proto = s->ports[i].proto == RS_PROTO_TCP ? 6 : 17;
		out[i].lo = s->ports[i].lo;
		out[i].hi = s->ports[i].hi;
	}
	return s->n_ports;
}

void policy_service_queues(const struct ruleset *rs, unsigned svc,
			   uint16_t *lo, uint16_t *hi)
{
	*lo = *hi = 0;
	if (svc < rs->n_services) {
		*lo = rs->services[svc].queue_lo;
		*hi = rs->services[svc].queue_hi;
	}
}

/* The policy's inbound block: its lowest and highest queue. */
static void inbound_block(const struct ruleset *rs, uint32_t *lo, uint32_t *hi)
{
	*lo = 65535;
	*hi = 0;
	for (unsigned i = 0; i < rs->n_services; i++) {
		if (rs->services[i].queue_lo < *lo)
			*lo = rs->services[i].queue_lo;
		if (rs->services[i].queue_hi > *hi)
			*hi = rs->services[i].queue_hi;
	}
}

int policy_service_queues_out(const struct ruleset *rs, unsigned svc,
			      uint16_t *lo, uint16_t *hi)
{
	uint32_t blo, bhi, shift, olo, ohi;

	*lo = *hi = 0;
	if (svc >= rs->n_services)
		return -ERANGE;
	inbound_block(rs, &blo, &bhi);
	shift = bhi - blo + 1;
	olo = rs->services[svc].queue_lo + shift;
	ohi = rs->services[svc].queue_hi + shift;
	if (ohi > 65535)
		return -ERANGE;
	*lo = (uint16_t)olo;
	*hi = (uint16_t)ohi;
	return 0;
}

int policy_service_address(const struct ruleset *rs, unsigned svc, int family,
			   enum addr_mode *mode, unsigned *plen,
			   uint8_t range[16], unsigned *range_plen)
{
	const struct rs_addr_rule *r;

	if (svc >= rs->n_services || (family != 4 && family != 6))
		return -EINVAL;
	r = family == 4 ? &rs->services[svc].addr4 : &rs->services[svc].addr6;
	*mode = r->mode;
	*plen = r->plen;
	memcpy(range, r->range.addr, 16);
	*range_plen = r->range.plen;
	return 0;
}

unsigned policy_service_clients(const struct ruleset *rs, unsigned svc,
				struct policy_prefix *out, unsigned max)
{
	const struct rs_service *s;

	if (svc >= rs->n_services)
		return 0;
	s = &rs->services[svc];
	for (unsigned i = 0; i < s->n_clients && i < max; i++) {
		out[i].family = s->clients[i].family;
		out[i].plen = s->clients[i].plen;
		memcpy(out[i].addr, s->clients[i].addr, 16);
	}
	return s->n_clients;
}
