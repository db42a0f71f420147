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

/*
 * Which address rule applies to @addr (of @family), and to which of its
 * bytes: IPv4-mapped IPv6 addresses follow the IPv4 rule on their last
 * 32 bits.  The one place an address rule is picked, for every address
 * the engine rewrites.
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

/* Rewriting @addr by its address rule: the bytes it reads and writes. */
struct addr_work {
	const struct rs_addr_rule *rule;
	const uint8_t *in;	/* the part of @addr the rule works on */
	uint8_t *out;		/* where its result goes */
	unsigned alen;
	uint8_t family;		/* the rule's family */
};

/* @out gets @addr in 16 bytes, the part its rule works on to be rewritten. */
static struct addr_work addr_work_of(const struct rs_service *svc,
				     uint8_t family, const uint8_t *addr,
				     uint8_t out[16])
{
	struct addr_part ap = addr_part_of(svc, family, addr);

	addr_load(out, addr, family);
	return (struct addr_work){ ap.rule, addr + ap.off, out + ap.off,
				   ap.alen, ap.family };
}

int make_pseudonym(const struct ruleset *rs, struct flow_table *ft,
		   const struct rs_service *svc, uint8_t family,
		   const uint8_t *client, uint32_t epoch, uint8_t out[16],
		   bool *mapped)
{
	struct addr_work aw = addr_work_of(svc, family, client, out);
	const struct rs_addr_rule *rule = aw.rule;

	*mapped = false;
	switch (rule->mode) {
	case ADDR_KEEP:
		return 0;
	case ADDR_TRUNCATE:
		addr_truncate(aw.in, aw.out, aw.alen, rule->plen);
		return 0;
	case ADDR_PERMUTE:
		addr_permute(keyring_epoch_key(rs->keys, epoch), aw.in, aw.out,
			     aw.alen, rule->plen);
		return 0;
	case ADDR_MAP:
		if (rule->range.family != aw.family)
			return 0;	/* the checker prevents this */
		*mapped = true;
		return flow_map_pseudonym(ft, keyring_epoch_key(rs->keys, epoch),
					  rule, aw.family, aw.in, epoch, aw.out);
	}
	return 0;
}

/* reverse_stateless() - see engine_int.h */
int reverse_stateless(const struct ruleset *rs, const struct rs_service *svc,
		      uint8_t family, const uint8_t *pseudo, uint32_t epoch,
		      uint8_t real[16])
{
	struct addr_work aw = addr_work_of(svc, family, pseudo, real);
	const struct rs_addr_rule *rule = aw.rule;
	uint8_t zero[16];

	switch (rule->mode) {
	case ADDR_KEEP:
		return 0;
	case ADDR_TRUNCATE:
		addr_truncate(aw.in, zero, aw.alen, rule->plen);
		return memcmp(zero, aw.in, aw.alen) ? 0 : -ENOENT;
	case ADDR_PERMUTE:
		addr_unpermute(keyring_epoch_key(rs->keys, epoch), aw.in, aw.out,
			       aw.alen, rule->plen);
		return 1;
	case ADDR_MAP:
		return addr_in_prefix(aw.in, rule->range.addr, rule->range.plen) ?
		       -ENOENT : 0;
	}
	return 0;
}

/*
 * act_address_text() - see engine_int.h.  The rule is the one the IP
 * header of that address would get (an IPv4-mapped text: the IPv4 rule
 * on its last 32 bits), so the client's pseudonym is the same in both.
 */
void act_address_text(struct redact_job *j, const struct rs_redact *r,
		      uint8_t *t, uint32_t len)
{
	uint8_t addr[16], pseudo[16];
	const struct rs_addr_rule *rule;
	struct addr_part ap;
	bool mapped;
	int fam = detect_ip_text(t, len, addr);

	if (!fam) {
		rewrite_mask(t, len);
		return;
	}
	ap = addr_part_of(j->svc, (uint8_t)fam, addr);
	rule = ap.rule;
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
		addr_load(pseudo, addr, (uint8_t)fam);
		addr_map_candidate(j->epoch_key, addr + ap.off, ap.alen,
				   rule->range.addr, rule->range.plen, 0,
				   pseudo + ap.off);
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
 * addr_bytes_rule() - see engine_int.h: the ipv4 or ipv6 detector's rule,
 * as in text, by the bytes the address rule would work on.
 */
const struct rs_redact *addr_bytes_rule(const struct rs_service *svc,
					int family, const uint8_t *a,
					unsigned *off, unsigned *alen)
{
	struct addr_part ap = addr_part_of(svc, (uint8_t)family, a);

	*off = ap.off;
	*alen = ap.alen;
	return rule_for(svc, ap.family == 4 ? DET_IPV4 : DET_IPV6);
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

