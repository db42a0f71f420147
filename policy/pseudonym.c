/*
 * pseudonym.c — what a client address becomes: the pseudonym of the
 * service's address rule (doc/design.md §4), the way back for a reply
 * without a flow, and the address actions on addresses found in a
 * payload, as text or as the bytes of a PROXY v2 header.
 */
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "detect.h"
#include "engine_int.h"
#include "flow.h"
#include "key.h"
#include "rewrite.h"
#include "ruleset.h"

void addr_load(uint8_t out[16], const uint8_t *a, uint8_t family)
{
	memset(out, 0, 16);
	memcpy(out, a, family == 4 ? 4 : 16);
}

/* ---- pseudonyms -------------------------------------------------------- */

/*
 * The address the server sees for client @client.  IPv4-mapped IPv6
 * addresses follow the IPv4 rule (on their last 32 bits).
 * Return: 0, -ENOSPC (map table full), *mapped set for map mode.
 */
/*
 * Which address rule applies to @addr, and to which of its bytes:
 * IPv4-mapped IPv6 addresses follow the IPv4 rule on their last 32 bits.
 */
struct addr_part {
	const struct rs_addr_rule *rule;
	unsigned off, alen;	/* the bytes the rule works on */
	uint8_t family;		/* the rule's family */
};

static struct addr_part addr_part_of(const struct rs_service *svc,
				     uint8_t family, const uint8_t *addr)
{
	if (family == 6 && addr_is_v4mapped(addr))
		return (struct addr_part){ &svc->addr4, 12, 4, 4 };
	if (family == 4)
		return (struct addr_part){ &svc->addr4, 0, 4, 4 };
	return (struct addr_part){ &svc->addr6, 0, 16, 6 };
}

int make_pseudonym(const struct ruleset *rs, struct flow_table *ft,
			  const struct rs_service *svc, uint8_t family,
			  const uint8_t *client, uint32_t epoch, uint8_t out[16],
			  bool *mapped)
{
	struct addr_part ap = addr_part_of(svc, family, client);
	const struct rs_addr_rule *rule = ap.rule;
	const uint8_t *in = client + ap.off;
	uint8_t *dst = out + ap.off;
	unsigned alen = ap.alen;
	uint8_t fam = ap.family;

	*mapped = false;
	addr_load(out, client, family);
	switch (rule->mode) {
	case ADDR_KEEP:
		return 0;
	case ADDR_TRUNCATE:
		addr_truncate(in, dst, alen, rule->plen);
		return 0;
	case ADDR_PERMUTE:
		addr_permute(keyring_epoch_key(rs->keys, epoch), in, dst, alen,
			     rule->plen);
		return 0;
	case ADDR_MAP:
		if (rule->range.family != fam)
			return 0;	/* the checker prevents this */
		*mapped = true;
		return flow_map_pseudonym(ft, keyring_epoch_key(rs->keys, epoch),
					  rule, fam, in, epoch, dst);
	}
	return 0;
}

/*
 * Reply to a pseudonym without a flow: can it be translated without
 * state, or is it not a pseudonym at all?
 * Return: 1 translated into @real, 0 not a pseudonym (pass as is),
 * -ENOENT a pseudonym nobody has.
 */
int reverse_stateless(const struct ruleset *rs,
			     const struct rs_service *svc, uint8_t family,
			     const uint8_t *pseudo, uint32_t epoch,
			     uint8_t real[16])
{
	struct addr_part ap = addr_part_of(svc, family, pseudo);
	const struct rs_addr_rule *rule = ap.rule;
	const uint8_t *in = pseudo + ap.off;
	uint8_t *dst = real + ap.off;
	unsigned alen = ap.alen;
	uint8_t zero[16];

	addr_load(real, pseudo, family);
	switch (rule->mode) {
	case ADDR_KEEP:
		return 0;
	case ADDR_TRUNCATE:
		addr_truncate(in, zero, alen, rule->plen);
		return memcmp(zero, in, alen) ? 0 : -ENOENT;
	case ADDR_PERMUTE:
		addr_unpermute(keyring_epoch_key(rs->keys, epoch), in, dst, alen,
			       rule->plen);
		return 1;
	case ADDR_MAP:
		return addr_in_prefix(in, rule->range.addr, rule->range.plen) ?
		       -ENOENT : 0;
	}
	return 0;
}


/* Rewrite an address text as the service's address rule would. */
void act_address_text(struct redact_job *j, const struct rs_redact *r,
			     uint8_t *t, uint32_t len)
{
	uint8_t addr[16], pseudo[16];
	const struct rs_addr_rule *rule;
	bool mapped;
	int fam = detect_ip_text(t, len, addr);

	if (!fam) {
		rewrite_mask(t, len);
		return;
	}
	rule = fam == 4 ? &j->svc->addr4 : &j->svc->addr6;
	if (rule->mode == ADDR_KEEP)
		return;
	if (rule->mode == ADDR_TRUNCATE) {
		rewrite_truncate_text(t, len, j->svc->addr4.plen, j->svc->addr6.plen);
		return;
	}
	if (rule->mode == ADDR_MAP) {
		/*
		 * Attempt 0 of the map: what the client gets when it has no
		 * collision.  Claiming a table entry for an address that only
		 * appears in a header would let a client fill the table.
		 */
		memset(pseudo, 0, sizeof(pseudo));
		addr_map_candidate(j->epoch_key, addr, fam == 4 ? 4 : 16,
				   rule->range.addr, rule->range.plen, 0, pseudo);
	} else {
		make_pseudonym(j->rs, j->ft, j->svc, (uint8_t)fam, addr, j->epoch,
			       pseudo, &mapped);
	}
	if (rewrite_address_text(t, len, fam, pseudo))
		rewrite_truncate_text(t, len, j->svc->addr4.plen,
				      j->svc->addr6.plen);
}


/* key_prf() domain of keyed replacements of binary addresses */
#define ENGINE_DOM_ADDR_TOKEN	0xb1

/*
 * The rule that governs a binary address of family @family in a PROXY v2
 * header other than the client's (the destination, a LOCAL header's):
 * the ipv4 or ipv6 detector's, as in text; an IPv4-mapped IPv6 address
 * follows the ipv4 rule on its last 32 bits, as the address rule does.
 * @off, @alen: receive the bytes the rule works on.
 */
const struct rs_redact *addr_bytes_rule(const struct rs_service *svc,
					       int family, const uint8_t *a,
					       unsigned *off, unsigned *alen)
{
	*off = 0;
	*alen = family == 4 ? 4 : 16;
	if (family == 6 && addr_is_v4mapped(a)) {
		*off = 12;
		*alen = 4;
	}
	return rule_for(svc, *alen == 4 ? DET_IPV4 : DET_IPV6);
}

/*
 * A detector's action on a binary address: `mask` zeroes it (0.0.0.0,
 * ::, as masking its text gives), `truncate` keeps the rule's prefix,
 * `token` puts keyed bytes in its place, stable within the epoch.
 */
void act_address_bytes(struct redact_job *j, const struct rs_redact *r,
			      uint8_t *a, unsigned alen)
{
	uint8_t in[16];

	switch (r->act) {
	case ACT_TRUNCATE:
		addr_truncate(a, a, alen, alen == 4 ? r->trunc4 : r->trunc6);
		break;
	case ACT_TOKEN:
		memcpy(in, a, alen);
		key_prf(j->epoch_key, ENGINE_DOM_ADDR_TOKEN, in, alen, a, alen);
		break;
	default:
		memset(a, 0, alen);
		break;
	}
}

