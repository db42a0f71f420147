/*
 * engine.c — the one function that decides what a packet becomes.
 *
 * Inbound (client → server): the source address becomes the pseudonym of
 * the service's address rule, the payload loses its identifiers.
 * Outbound (server → client): the destination pseudonym becomes the real
 * client again.  ICMP errors about a translated flow are translated in
 * their quoted header too.  Every rewrite keeps the length; checksums are
 * updated incrementally (RFC 1624) so that a packet that arrived corrupt
 * stays detectably corrupt, or recomputed in full when the kernel said
 * the checksum is still partial.
 *
 * Order of work: decode, classify, find or make the flow, scan — and only
 * then modify, so that an error never leaves a half-rewritten packet.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "csum.h"
#include "detect.h"
#include "engine.h"
#include "engine_int.h"
#include "flow.h"
#include "key.h"
#include "packet.h"
#include "proxy.h"
#include "rewrite.h"
#include "ruleset.h"
#include "stream.h"

struct engine_worker *engine_worker_new(const struct ruleset *rs,
				       uint32_t max_flows)
{
	struct engine_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->rs = rs;
	w->n_stats = rs->n_services + 1;
	w->stats = calloc(w->n_stats, sizeof(*w->stats));
	w->scratch = detect_scratch_new(rs);
	w->ss = stream_set_new(max_flows);
	if (!w->stats || !w->scratch || !w->ss) {
		engine_worker_free(w);
		return NULL;
	}
	return w;
}

void engine_worker_reset(struct engine_worker *w)
{
	memset(w->stats, 0, w->n_stats * sizeof(*w->stats));
	stream_set_reset(w->ss);
	w->expire_tick = 0;
}

void engine_worker_free(struct engine_worker *w)
{
	if (!w)
		return;
	detect_scratch_free(w->scratch);
	stream_set_free(w->ss);
	free(w->stats);
	free(w);
}

void engine_set_observer(struct engine_worker *w, engine_match_cb cb, void *ctx)
{
	w->observe = cb;
	w->observe_ctx = ctx;
}

const struct engine_stats *engine_worker_stats(const struct engine_worker *w,
					       unsigned svc)
{
	return svc < w->n_stats ? &w->stats[svc] : NULL;
}

static const char *const reason_names[ENGINE_R__COUNT] = {
	[ENGINE_R_NONE] = "none",
	[ENGINE_R_NOT_COVERED] = "not-covered",
	[ENGINE_R_MALFORMED] = "malformed",
	[ENGINE_R_FRAGMENT] = "fragment",
	[ENGINE_R_TRUNCATED] = "truncated",
	[ENGINE_R_NO_FLOW] = "no-flow",
	[ENGINE_R_TABLE_FULL] = "table-full",
	[ENGINE_R_SCAN_LIMIT] = "scan-limit",
	[ENGINE_R_UNSUPPORTED] = "unsupported",
	[ENGINE_R_NO_PORT] = "no-port",
	[ENGINE_R_HOLD_FULL] = "hold-full",
	[ENGINE_R_OOO_FULL] = "out-of-order-full",
	[ENGINE_R_EVICTED] = "evicted",
	[ENGINE_R_DUPLICATE] = "duplicate",
	[ENGINE_R_GAP] = "gap",
	[ENGINE_R_STOPPING] = "stopping",
	[ENGINE_R_BAD_CSUM] = "bad-checksum",
	[ENGINE_R_DISCARDED] = "discarded",
	[ENGINE_R_STREAM_FULL] = "stream-full",
	[ENGINE_R_ICMP_MISMATCH] = "icmp-mismatch",
};

const char *engine_reason_name(enum engine_reason r)
{
	return r < ENGINE_R__COUNT ? reason_names[r] : "?";
}

bool engine_reason_may_accept(enum engine_reason r)
{
	switch (r) {
	case ENGINE_R_MALFORMED:
	case ENGINE_R_FRAGMENT:
	case ENGINE_R_TRUNCATED:
	case ENGINE_R_UNSUPPORTED:
		return true;
	default:
		return false;
	}
}

/* ---- checksum bookkeeping --------------------------------------------- */

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

/* ---- classification ---------------------------------------------------- */

static int proto_index(uint8_t proto)
{
	if (proto == IPPROTO_TCP)
		return RS_PROTO_TCP;
	if (proto == IPPROTO_UDP)
		return RS_PROTO_UDP;
	return -1;
}

static int svc_of_port(const struct ruleset *rs, uint8_t proto, uint16_t port)
{
	int pi = proto_index(proto);

	return pi < 0 ? -1 : (int)rs->port_map[pi][port] - 1;
}

/*
 * The best guess of the service of a packet that did not decode, from the
 * raw bytes, so that its service's on-error setting applies.
 * Return: the service, -1 when the ports are readable and no service
 * covers them, -2 when not even that can be told.
 */
static int svc_of_raw(const struct ruleset *rs, const uint8_t *d, uint32_t len)
{
	uint32_t l4;
	uint8_t proto;
	int s;

	if (len < 1)
		return -2;
	if (d[0] >> 4 == 4 && len >= 20) {
		l4 = (d[0] & 0xf) * 4u;
		proto = d[9];
		/* a later fragment has no ports */
		if ((d[6] & 0x1f) | d[7])
			return -2;
	} else if (d[0] >> 4 == 6 && len >= 40) {
		l4 = 40;
		proto = d[6];
	} else {
		return -2;
	}
	if (proto_index(proto) < 0 || l4 < 20 || l4 + 4 > len)
		return -2;
	s = svc_of_port(rs, proto, (uint16_t)(d[l4 + 2] << 8 | d[l4 + 3]));
	if (s < 0)
		s = svc_of_port(rs, proto, (uint16_t)(d[l4] << 8 | d[l4 + 1]));
	return s;
}

static bool client_allowed(const struct rs_service *svc, const struct packet *p,
			   const uint8_t *addr)
{
	if (!svc->n_clients)
		return true;
	for (unsigned i = 0; i < svc->n_clients; i++) {
		const struct rs_prefix *c = &svc->clients[i];

		if (c->family == p->family &&
		    addr_in_prefix(addr, c->addr, c->plen))
			return true;
		if (c->family == 4 && p->family == 6 && addr_is_v4mapped(addr) &&
		    addr_in_prefix(addr + 12, c->addr, c->plen))
			return true;
	}
	return false;
}

static void addr_load(uint8_t out[16], const uint8_t *a, uint8_t family)
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

static int make_pseudonym(const struct ruleset *rs, struct flow_table *ft,
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
static int reverse_stateless(const struct ruleset *rs,
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

/* ---- payload redaction ------------------------------------------------- */

/* Rewrite an address text as the service's address rule would. */
static void act_address_text(struct redact_job *j, const struct rs_redact *r,
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

static void apply_action(struct redact_job *j, const struct rs_redact *r,
			 uint8_t *t, uint32_t len)
{
	switch (r->act) {
	case ACT_MASK:
		rewrite_mask(t, len);
		break;
	case ACT_TOKEN:
		rewrite_token(j->epoch_key, (uint8_t)r->det, t, len);
		break;
	case ACT_TRUNCATE:
		if (rewrite_truncate_text(t, len, r->trunc4, r->trunc6))
			rewrite_mask(t, len);
		break;
	case ACT_ADDRESS:
		act_address_text(j, r, t, len);
		break;
	default:
		rewrite_mask(t, len);
		break;
	}
}

/*
 * Whether [@s, @e) overlaps one of the sorted, disjoint spans @r[0, @n);
 * @pos is a cursor for starts that never decrease.
 */
static bool span_touches(const struct detect_range *r, int n, int *pos,
			 uint32_t s, uint32_t e)
{
	while (*pos < n && r[*pos].end <= s)
		(*pos)++;
	return *pos < n && r[*pos].start < e;
}

/*
 * Whether match @m takes part in the rewrite: not exempt by an allow
 * range that holds it whole, and no part of a span an earlier scan of
 * the same bytes rewrote (that scan saw more of the stream around them
 * and judged them; this one only finds what it missed).
 */
static bool match_counts(const struct redact_scope *sc,
			 const struct detect_match *m, int *ai, int *di)
{
	uint32_t s = sc->base + m->start, e = sc->base + m->end;

	if (sc->n_allow && detect_range_covers(sc->allow, sc->n_allow, ai, s, e))
		return false;
	if (sc->n_done && span_touches(sc->done, sc->n_done, di, s, e))
		return false;
	return true;
}

static bool is_address_det(unsigned det)
{
	return det == DET_IPV4 || det == DET_IPV6 || det == DET_HEADER;
}

/*
 * The rule a group of overlapping matches is rewritten by, or NULL for
 * "mask the union" (doc/design.md §5).  @first is the group's first
 * match: the longest at its start, of the earliest rule at its span;
 * @others_addr: every other match of the group is an address.
 *
 * @first rewrites the group alone when it spans all of it and
 *  - no other match differs from it in span (policy order decides), or
 *  - its action changes every letter and digit (mask, token), so none of
 *    the others' pass, or
 *  - it is an address rewritten as one (truncate, address) and the others
 *    are addresses inside its text (the IPv4 tail of an IPv6 address),
 *    which that rewrite cuts with it.
 * Otherwise no single action fits the union: an address action means
 * nothing over other bytes and keeps part of its own.  It is masked.
 */
static const struct rs_redact *group_rule(const struct rs_service *svc,
					  const struct detect_match *first,
					  uint32_t end, bool same_span,
					  bool others_addr)
{
	const struct rs_redact *r = &svc->redact[first->rule];

	if (first->end != end)
		return NULL;
	if (same_span || r->act == ACT_MASK || r->act == ACT_TOKEN)
		return r;
	if (others_addr && is_address_det(first->det))
		return r;
	return NULL;
}

/* Rewrite payload[start, end) by @r (NULL: mask), counting the action. */
static void redact_span(struct redact_job *j, uint8_t *payload, uint32_t start,
			uint32_t end, const struct rs_redact *r)
{
	uint8_t *t = payload + start, *old = j->w->span;
	uint32_t len = end - start;
	enum act_kind act = r ? r->act : ACT_MASK;

	if (len > sizeof(j->w->span)) {
		/* only a stream window is this long: it is no packet (cc NULL) */
		if (r)
			apply_action(j, r, t, len);
		else
			rewrite_mask(t, len);
		j->st->action[act]++;
		return;
	}
	memcpy(old, t, len);
	if (r)
		apply_action(j, r, t, len);
	else
		rewrite_mask(t, len);
	if (memcmp(old, t, len)) {
		patched_payload(j->cc, old, t, len);
		j->st->action[act]++;
	}
}

/*
 * redact_matches() - see engine_int.h.  Matches overlap when one starts
 * before another ends; a group is a maximal run of them, and matches
 * that only touch stay apart.
 */
void redact_matches(struct redact_job *j, uint8_t *payload,
		    const struct detect_match *m, int n,
		    struct redact_scope *sc)
{
	int ai = 0, di = 0, i = 0;

	while (i < n) {
		const struct detect_match *first;
		uint32_t end, hits = 0;
		bool same_span = true, others_addr = true;
		int k;

		if (!match_counts(sc, &m[i], &ai, &di)) {
			i++;
			continue;
		}
		first = &m[i];
		end = first->end;
		hits |= 1u << first->det;
		for (k = i + 1; k < n && m[k].start < end; k++) {
			if (!match_counts(sc, &m[k], &ai, &di))
				continue;
			hits |= 1u << m[k].det;
			if (m[k].start != first->start || m[k].end != first->end)
				same_span = false;
			if (!is_address_det(m[k].det))
				others_addr = false;
			if (m[k].end > end)
				end = m[k].end;
		}
		i = k;
		if (sc->base + end <= sc->after)
			continue;
		/* each detector of the group counts once */
		for (unsigned d = 0; d < DET__COUNT; d++)
			if (hits & (1u << d))
				j->st->detector[d]++;
		redact_span(j, payload, first->start, end,
			    group_rule(j->svc, first, end, same_span,
				       others_addr));
		if (sc->spans && sc->n_spans < sc->spans_cap)
			sc->spans[sc->n_spans++] = (struct detect_range){
				sc->base + first->start, sc->base + end };
	}
}

/* The first redact rule of the service for detector @det, or NULL. */
const struct rs_redact *rule_for(const struct rs_service *svc, enum det_kind det)
{
	if (!(svc->det_mask & (1u << det)))
		return NULL;
	for (unsigned i = 0; i < svc->n_redact; i++)
		if (svc->redact[i].det == det)
			return &svc->redact[i];
	return NULL;
}

/*
 * Report the matches to the worker's observer as engine_scan() would:
 * before rewriting, leaving out those wholly inside an allow range.
 */
static void observe_matches(struct engine_worker *w, const uint8_t *buf,
			    const struct detect_match *m, int n,
			    const struct detect_range *allow, int n_allow)
{
	int ai = 0;

	for (int i = 0; i < n; i++) {
		if (detect_range_covers(allow, n_allow, &ai, m[i].start, m[i].end))
			continue;
		w->observe(w->observe_ctx, (enum det_kind)m[i].det,
			   buf + m[i].start, m[i].end - m[i].start);
	}
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
static const struct rs_redact *addr_bytes_rule(const struct rs_service *svc,
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
static void act_address_bytes(struct redact_job *j, const struct rs_redact *r,
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

/* The client's address field: the proxy-protocol rule @r. */
static int proxy_source(struct redact_job *j, const struct rs_redact *r,
			const struct proxy_hdr *h, uint8_t *src)
{
	uint8_t old[128];

	if (j->w->observe)
		j->w->observe(j->w->observe_ctx, DET_PROXY, src, h->src_len);
	if (h->src_len > sizeof(old))
		return -EINVAL;
	memcpy(old, src, h->src_len);
	if (h->kind == PROXY_V1) {
		if (r->act == ACT_ADDRESS)
			act_address_text(j, r, src, h->src_len);
		else if (rewrite_truncate_text(src, h->src_len, r->trunc4, r->trunc6))
			return -EINVAL;
	} else if (r->act == ACT_ADDRESS) {
		uint8_t a16[16], pseudo[16];
		bool mapped;

		addr_load(a16, src, (uint8_t)h->family);
		if (make_pseudonym(j->rs, j->ft, j->svc, (uint8_t)h->family, a16,
				   j->epoch, pseudo, &mapped))
			return -ENOSPC;
		memcpy(src, pseudo, h->src_len);
	} else {
		addr_truncate(src, src, h->src_len,
			      h->family == 4 ? r->trunc4 : r->trunc6);
	}
	if (memcmp(old, src, h->src_len)) {
		patched_payload(j->cc, old, src, h->src_len);
		j->st->action[r->act]++;
	}
	return 0;
}

/* Another binary address (v2): the ipv4/ipv6 rule, if the service has it. */
static void proxy_addr(struct redact_job *j, const struct proxy_field *f,
		       uint8_t *a)
{
	unsigned off, alen;
	const struct rs_redact *r = addr_bytes_rule(j->svc, f->family, a, &off,
						    &alen);
	uint8_t old[16];

	if (!r)
		return;
	if (j->w->observe)
		j->w->observe(j->w->observe_ctx, (enum det_kind)r->det, a + off,
			      alen);
	memcpy(old, a + off, alen);
	act_address_bytes(j, r, a + off, alen);
	if (memcmp(old, a + off, alen)) {
		patched_payload(j->cc, old, a + off, alen);
		j->st->action[r->act]++;
	}
	j->st->detector[r->det]++;
}

/*
 * A text field or TLV value: every detector of the service, with its
 * allow ranges, over the field alone (its ends are boundaries).
 * Return: 0 or -EMSGSIZE (scan limit, PCRE2 error).
 */
static int proxy_text(struct redact_job *j, uint8_t *t, uint32_t len)
{
	const struct detect_match *m;
	const struct detect_range *allow = NULL;
	struct redact_scope sc = { 0 };
	int n, n_allow = 0;

	n = detect_scan(j->svc, j->w->scratch, t, len, true, &m);
	if (n < 0)
		return -EMSGSIZE;
	if (!n)
		return 0;
	if (j->svc->n_allow) {
		n_allow = detect_allow(j->svc, j->w->scratch, t, len, &allow);
		if (n_allow < 0)
			return -EMSGSIZE;
	}
	if (j->w->observe)
		observe_matches(j->w, t, m, n, allow, n_allow);
	sc.allow = allow;
	sc.n_allow = n_allow;
	redact_matches(j, t, m, n, &sc);
	return 0;
}

/*
 * A PROXY header at the start of @payload, when the service has a
 * proxy-protocol rule: the client's address as that rule says, every
 * other field by the service's detectors, the CRC32c TLV updated.
 * @prefix: @payload is a retransmission from the stream's start, whose
 * header may be cut short: the fields it holds whole are redacted, and
 * the records of the first decision give the rest (no CRC: it covers
 * bytes that are not here).
 * Return: bytes the header takes (0: none), or -errno to fail closed
 * (proxy_reason()).
 */
int redact_proxy(struct redact_job *j, uint8_t *payload, uint32_t len,
		 bool prefix)
{
	const struct rs_redact *r = rule_for(j->svc, DET_PROXY);
	struct proxy_hdr h;
	struct proxy_walk pw;
	struct proxy_field f;
	uint32_t crc = 0, hlen;
	int rc;

	if (!r)
		return 0;
	rc = proxy_parse(payload, len, &h);
	if (rc == -E2BIG && prefix)
		hlen = len;
	else if (rc <= 0)
		return rc;
	else
		hlen = h.hdr_len;
	if (rc > 0) {
		j->st->detector[DET_PROXY]++;
		crc = proxy_crc(payload, &h);
	}
	proxy_walk_init(&pw, &h, payload, len);
	while (proxy_walk_next(&pw, &f)) {
		switch (f.kind) {
		case PROXY_F_SOURCE:
			rc = proxy_source(j, r, &h, payload + f.off);
			break;
		case PROXY_F_ADDR:
			proxy_addr(j, &f, payload + f.off);
			rc = 0;
			break;
		case PROXY_F_TEXT:
			rc = proxy_text(j, payload + f.off, f.len);
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (hlen == h.hdr_len && h.crc_off) {
		uint8_t old[4];

		memcpy(old, payload + h.crc_off, 4);
		proxy_fix_crc(payload, &h, crc);
		patched_payload(j->cc, old, payload + h.crc_off, 4);
	}
	return (int)hlen;
}

enum engine_reason proxy_reason(int rc)
{
	switch (rc) {
	case -ENOSPC:
		return ENGINE_R_TABLE_FULL;
	case -EMSGSIZE:
		return ENGINE_R_SCAN_LIMIT;
	default:
		return ENGINE_R_UNSUPPORTED;
	}
}

/*
 * Scan and redact the payload of an inbound packet.
 * Return: 0, or an engine_reason to fail closed with (nothing changed).
 */
static enum engine_reason redact_payload(struct redact_job *j, struct packet *p)
{
	uint8_t *payload = pkt_payload(p);
	uint32_t len = p->payload_len, skip = 0;
	const struct detect_match *m;
	const struct detect_range *allow = NULL;
	struct redact_scope sc = { 0 };
	int n, n_allow = 0;

	if (!len || !j->svc->n_redact)
		return ENGINE_R_NONE;
	{	/* a datagram may start with a PROXY header */
		int rc = redact_proxy(j, payload, len, false);

		if (rc < 0)
			return proxy_reason(rc);
		skip = (uint32_t)rc;
	}
	if (skip >= len)
		return ENGINE_R_NONE;
	n = detect_scan(j->svc, j->w->scratch, payload + skip, len - skip, true, &m);
	if (n < 0)
		return ENGINE_R_SCAN_LIMIT;
	if (!n)
		return ENGINE_R_NONE;
	if (j->svc->n_allow) {
		/* The allow ranges are relative to the same scanned range. */
		n_allow = detect_allow(j->svc, j->w->scratch, payload + skip,
				       len - skip, &allow);
		if (n_allow < 0)
			return ENGINE_R_SCAN_LIMIT;
	}
	if (j->w->observe)
		observe_matches(j->w, payload + skip, m, n, allow, n_allow);
	sc.allow = allow;
	sc.n_allow = n_allow;
	redact_matches(j, payload + skip, m, n, &sc);
	return ENGINE_R_NONE;
}

/* ---- the verdict -------------------------------------------------------- */

/* Counters of service @svc; an index the ruleset no longer has (a flow
 * from before a reload) counts as uncovered. */
struct engine_stats *stats_of(struct engine_worker *w, int svc)
{
	return &w->stats[svc < 0 || (unsigned)svc >= w->n_stats - 1 ?
			 w->n_stats - 1 : (unsigned)svc];
}

/* A packet dropped for @why, which need not be a failure (a duplicate). */
void count_drop(struct engine_stats *st, enum engine_reason why)
{
	st->reasons[why]++;
	st->drops[why]++;
	st->dropped++;
}

/*
 * The verdict of a packet of service @svc (NULL: none) that failed for
 * @why, counted: accepted unchanged only where `on-error accept` may
 * apply to @why (engine_reason_may_accept()), dropped otherwise.
 */
enum engine_verdict fail_verdict(const struct rs_service *svc,
				 struct engine_stats *st, enum engine_reason why)
{
	if (svc && svc->on_error_accept && engine_reason_may_accept(why)) {
		st->reasons[why]++;
		st->on_error_accepted++;
		return ENGINE_ACCEPT;
	}
	count_drop(st, why);
	return ENGINE_DROP;
}

static void fail(const struct ruleset *rs, struct engine_worker *w, int svc,
		 enum engine_reason why, struct engine_result *res)
{
	struct engine_stats *st = stats_of(w, svc);

	res->reason = why;
	res->service = svc;
	if (why == ENGINE_R_MALFORMED)
		st->malformed++;
	res->verdict = fail_verdict(svc >= 0 && (unsigned)svc < rs->n_services ?
				    &rs->services[svc] : NULL, st, why);
}

static uint16_t port_be(uint16_t host)
{
	return htons(host);
}

/* ---- ICMP errors -------------------------------------------------------- */

/*
 * An ICMP error quoting a packet of a translated flow.  Outbound errors
 * (the server's stack to a pseudonym) quote pseudonym → server: restore
 * the real client.  Inbound errors (from the path towards the client)
 * quote server → real client: put the pseudonym in.
 *
 * The real client goes in only where the error travels to the client's
 * side.  One travelling towards the server that quotes pseudonym →
 * server would, translated, hand whoever sent it (the server's operator
 * included) the real client of any pseudonym: it is dropped and counted
 * (icmp-mismatch).  Except on its way to the pseudonym itself: a
 * backend's error crossing a relay's inbound hook, which the replies
 * hook translates after conntrack; it passes as it is, pseudonyms only.
 * Putting the pseudonym in hides, whichever way the error goes (a
 * relay's own error to its backend about a reply quotes the real
 * client).  The direction is the caller's when it knows it (the queue
 * the packet came from); otherwise the outer destination tells: an
 * outbound error goes to the pseudonym.
 * Return: true when handled (verdict set).
 */
static bool process_icmp_error(const struct ruleset *rs, struct flow_table *ft,
			       struct engine_worker *w, struct packet *p,
			       enum engine_dir dir, uint32_t now, unsigned flags,
			       struct engine_result *res)
{
	struct pkt_inner *in = &p->inner;
	uint8_t *isrc, *idst, *osrc = pkt_saddr(p), *odst = pkt_daddr(p);
	unsigned alen = p->addr_len;
	struct flow *f = NULL;
	bool outbound = false;
	struct csum_ctx cc;
	uint8_t *inner_check, *fix, *port_at;
	const uint8_t *to;
	uint32_t quote_len;
	uint16_t be;

	if (!in->have_ports || in->family != p->family ||
	    proto_index(in->proto) < 0)
		return false;
	isrc = p->data + in->saddr_off;
	idst = p->data + in->daddr_off;
	f = flow_find_out(ft, p->family, in->proto, isrc, in->sport, idst,
			  in->dport);
	if (f) {
		/* quotes pseudonym → server: only to the client's side */
		bool to_pseudo = !memcmp(odst, f->pseudo, alen);

		outbound = true;
		if (dir == ENGINE_DIR_AUTO)
			dir = to_pseudo ? ENGINE_DIR_OUT : ENGINE_DIR_IN;
		if (dir == ENGINE_DIR_IN) {
			res->service = f->svc < rs->n_services ? f->svc : -1;
			res->dir = dir;
			if (to_pseudo) {
				res->reason = ENGINE_R_NOT_COVERED;
				stats_of(w, -1)->reasons[ENGINE_R_NOT_COVERED]++;
				return true;
			}
			fail(rs, w, res->service, ENGINE_R_ICMP_MISMATCH, res);
			return true;
		}
	} else {
		/* quotes server → real client: the pseudonym goes in */
		f = flow_find_in(ft, p->family, in->proto, idst, in->dport,
				 isrc, in->sport);
		if (!f)
			return false;
	}

	/* A flow from before a reload may name a service that is gone. */
	if (f->svc >= rs->n_services)
		return false;
	res->service = f->svc;
	res->dir = outbound ? ENGINE_DIR_OUT : ENGINE_DIR_IN;
	if (flags & ENGINE_F_TRUNCATED) {
		fail(rs, w, f->svc, ENGINE_R_TRUNCATED, res);
		return true;
	}
	csum_ctx_init(&cc, p, flags);
	inner_check = NULL;
	if (in->have_l4_csum)
		inner_check = p->data + in->l4_off +
			      (in->proto == IPPROTO_TCP ? 16 : 6);
	if (inner_check && in->proto == IPPROTO_UDP && p->family == 4 &&
	    !inner_check[0] && !inner_check[1])
		inner_check = NULL;
	/* Quoted header first (its own checksums), then the outer header. */
	if (outbound) {
		fix = isrc;
		to = f->client;
		port_at = p->data + in->l4_off;
		be = port_be(f->cport);
	} else {
		fix = idst;
		to = f->pseudo;
		port_at = p->data + in->l4_off + 2;
		be = port_be(f->pport);
	}
	/* The ICMP checksum covers the quote: keep its old bytes to update it. */
	quote_len = p->len - in->l3_off;
	memcpy(w->span, p->data + in->l3_off, quote_len);
	if (in->family == 4)
		csum_field_update(p->data + in->l3_off + 10, fix, to, 4, 0);
	if (inner_check) {
		csum_l4_field_update(inner_check, in->proto, fix, to, alen, 0);
		csum_l4_field_update(inner_check, in->proto, port_at, &be, 2, 0);
	}
	memcpy(fix, to, alen);
	memcpy(port_at, &be, 2);
	patched_payload(&cc, w->span, p->data + in->l3_off, quote_len);
	if (outbound && !memcmp(odst, f->pseudo, alen))
		patch(&cc, odst, f->client, alen, true, true);
	if (!outbound && !memcmp(osrc, f->client, alen))
		patch(&cc, osrc, f->pseudo, alen, true, true);
	csum_ctx_finish(&cc);
	stats_of(w, f->svc)->icmp_translated++;
	stats_of(w, f->svc)->changed++;
	if (outbound)
		stats_of(w, f->svc)->packets_out++;
	else
		stats_of(w, f->svc)->packets_in++;
	res->verdict = ENGINE_MODIFIED;
	return true;
}

/* ---- TCP/UDP ------------------------------------------------------------ */

/*
 * The direction of a packet whose caller does not know it (the daemon
 * always does: the queue tells).  Outbound needs evidence, since a
 * client's packet taken for a reply would pass untouched.
 */
static enum engine_dir decide_dir(struct flow_table *ft, const struct packet *p,
				  int svc_d, int svc_s)
{
	if (svc_d >= 0 && svc_s < 0)
		return ENGINE_DIR_IN;
	if (svc_s >= 0 && svc_d < 0)
		return ENGINE_DIR_OUT;
	if (flow_find_out(ft, p->family, p->proto, pkt_daddr(p), p->dport,
			  pkt_saddr(p), p->sport))
		return ENGINE_DIR_OUT;
	/* a flow's own packets, and what cannot be told, are inbound */
	return ENGINE_DIR_IN;
}

/* ---- TCP streams (stream.c) ------------------------------------------- */

void job_for(struct redact_job *j, const struct ruleset *rs,
	     struct flow_table *ft, struct engine_worker *w, int svc,
	     uint64_t now_ns)
{
	uint32_t epoch = (uint32_t)keyring_epoch(rs->keys, now_ns / 1000000000u);

	*j = (struct redact_job){
		.rs = rs, .ft = ft, .w = w, .svc = &rs->services[svc],
		.st = &w->stats[svc],
		.epoch_key = keyring_epoch_key(rs->keys, epoch), .epoch = epoch,
	};
}

bool engine_next_release(struct engine_worker *w, struct engine_release *out)
{
	return stream_next_release(w, out);
}

uint64_t engine_hold_deadline(const struct engine_worker *w)
{
	return stream_deadline_min(w->ss);
}

void engine_tick(const struct ruleset *rs, struct flow_table *ft,
		 struct engine_worker *w, uint64_t now_ns)
{
	stream_tick(rs, ft, w, now_ns);
}

void engine_release_all(const struct ruleset *rs, struct flow_table *ft,
			struct engine_worker *w)
{
	stream_release_all(rs, ft, w);
}

void engine_drop_all(struct engine_worker *w)
{
	stream_drop_all(w);
}

void engine_worker_adopt(struct engine_worker *to, struct engine_worker *from)
{
	stream_adopt(to, from);
}

static void process_inbound(const struct ruleset *rs, struct flow_table *ft,
			    struct engine_worker *w, struct packet *p, int s,
			    uint64_t now_ns, unsigned flags, uint64_t cookie,
			    struct engine_result *res)
{
	uint64_t now_s = now_ns / 1000000000u;
	enum stream_outcome so = STREAM_NOW;
	int32_t held = -1;
	uint8_t tcp_flags = 0;
	const struct rs_service *svc = &rs->services[s];
	struct engine_stats *st = stats_of(w, s);
	uint32_t epoch = (uint32_t)keyring_epoch(rs->keys, now_s);
	uint8_t *saddr = pkt_saddr(p);
	struct flow *f;
	struct csum_ctx cc;
	struct redact_job job;
	enum engine_reason why;

	st->packets_in++;
	st->bytes_in += p->len;
	if (flags & ENGINE_F_TRUNCATED) {
		fail(rs, w, s, ENGINE_R_TRUNCATED, res);
		return;
	}
	/*
	 * The receiver's kernel discards a segment or datagram whose
	 * checksum is wrong: it must teach no state, and it must not pass
	 * unredacted either (a capture on the server's host would read it).
	 */
	if (!(flags & (ENGINE_F_CSUM_VERIFIED | ENGINE_F_CSUM_NOT_READY)) &&
	    !csum_l4_verify(p)) {
		fail(rs, w, s, ENGINE_R_BAD_CSUM, res);
		return;
	}
	f = flow_find_in(ft, p->family, p->proto, saddr, p->sport, pkt_daddr(p),
			 p->dport);
	/*
	 * A flow from before a reload belongs to the service its port has
	 * now (engine_worker_adopt() does so for flows with stream state):
	 * its holds and stream state are counted and decided by that index.
	 */
	if (f && f->svc != s)
		f->svc = (uint8_t)s;
	if (!f) {
		struct flow t;
		bool mapped;
		int rc;

		memset(&t, 0, sizeof(t));
		t.family = p->family;
		t.proto = p->proto;
		t.svc = (uint8_t)s;
		addr_load(t.client, saddr, p->family);
		addr_load(t.server, pkt_daddr(p), p->family);
		t.cport = p->sport;
		t.sport = p->dport;
		t.pport = p->sport;
		t.epoch = epoch;
		if (make_pseudonym(rs, ft, svc, p->family, t.client, epoch,
				   t.pseudo, &mapped)) {
			fail(rs, w, s, ENGINE_R_TABLE_FULL, res);
			return;
		}
		if (mapped)
			t.flags |= FLOW_F_MAPPED;
		if (p->proto == IPPROTO_TCP && (p->tcp_flags & 0x12) == 0x02) {
			t.isn_known = true;
			t.client_isn = p->tcp_seq;
		}
		rc = flow_add(ft, &t, (uint32_t)now_s, &f);
		if (rc) {
			fail(rs, w, s, rc == -EADDRINUSE ? ENGINE_R_NO_PORT :
				       ENGINE_R_TABLE_FULL, res);
			return;
		}
		st->flows_created++;
	}

	csum_ctx_init(&cc, p, flags);
	job = (struct redact_job){
		.rs = rs, .ft = ft, .w = w, .svc = svc, .st = st,
		.epoch_key = keyring_epoch_key(rs->keys, epoch),
		.epoch = epoch, .cc = &cc,
	};
	/*
	 * The payload is rewritten before the addresses: a scan error then
	 * leaves an untouched packet for on-error accept.
	 */
	if (p->proto == IPPROTO_TCP)
		why = stream_inbound(&job, f, p, now_ns, cookie, flags, &so, &held,
				     &tcp_flags);
	else
		why = redact_payload(&job, p);
	if (why != ENGINE_R_NONE) {
		fail(rs, w, s, why, res);
		return;
	}
	flow_update(ft, f, tcp_flags, true, (uint32_t)now_s);
	if (so == STREAM_DROP) {
		res->verdict = ENGINE_DROP;
		res->reason = ENGINE_R_DUPLICATE;
		count_drop(st, ENGINE_R_DUPLICATE);
		return;
	}
	patch(&cc, saddr, f->pseudo, p->addr_len, true, true);
	if (f->pport != f->cport) {
		uint16_t be = port_be(f->pport);

		patch(&cc, p->data + p->l4_off, &be, 2, false, false);
		p->sport = f->pport;
	}
	csum_ctx_finish(&cc);
	if (cc.touched_l4 || cc.touched_l3) {
		res->verdict = ENGINE_MODIFIED;
		st->changed++;
	}
	if (so == STREAM_HELD) {
		stream_hold_final(&job, f, held, p->data, p->len,
				  res->verdict == ENGINE_MODIFIED);
		res->verdict = ENGINE_HOLD;
	}
}

static void process_outbound(const struct ruleset *rs, struct flow_table *ft,
			     struct engine_worker *w, struct packet *p, int s,
			     uint64_t now_s, unsigned flags,
			     struct engine_result *res)
{
	const struct rs_service *svc = &rs->services[s];
	struct engine_stats *st = stats_of(w, s);
	uint8_t *daddr = pkt_daddr(p);
	uint8_t real[16];
	const uint8_t *to;
	uint16_t to_port;
	struct csum_ctx cc;
	struct flow *f;

	st->packets_out++;
	st->bytes_out += p->len;
	f = flow_find_out(ft, p->family, p->proto, daddr, p->dport, pkt_saddr(p),
			  p->sport);
	if (f) {
		flow_update(ft, f, p->proto == IPPROTO_TCP ? p->tcp_flags : 0,
			    false, (uint32_t)now_s);
		/* what the server acknowledged needs no record for retransmission */
		if (p->proto == IPPROTO_TCP && (p->tcp_flags & 0x10) &&
		    (!(f->flags & FLOW_F_ACK) ||
		     (int32_t)(f->server_ack - p->tcp_ack) < 0)) {
			f->server_ack = p->tcp_ack;
			f->flags |= FLOW_F_ACK;
		}
		to = f->client;
		to_port = f->cport;
	} else {
		int rc = reverse_stateless(rs, svc, p->family, daddr,
					   (uint32_t)keyring_epoch(rs->keys, now_s),
					   real);

		if (rc == 0)
			return;		/* not a pseudonym: not ours */
		if (rc < 0) {
			fail(rs, w, s, ENGINE_R_NO_FLOW, res);
			return;
		}
		to = real;
		to_port = p->dport;
	}
	if (flags & ENGINE_F_TRUNCATED) {
		fail(rs, w, s, ENGINE_R_TRUNCATED, res);
		return;
	}
	csum_ctx_init(&cc, p, flags);
	patch(&cc, daddr, to, p->addr_len, true, true);
	if (to_port != p->dport) {
		uint16_t be = port_be(to_port);

		patch(&cc, p->data + p->l4_off + 2, &be, 2, false, false);
		p->dport = to_port;
	}
	csum_ctx_finish(&cc);
	if (cc.touched_l4 || cc.touched_l3) {
		res->verdict = ENGINE_MODIFIED;
		st->changed++;
	}
}

int engine_process(const struct ruleset *rs, struct flow_table *ft,
		   struct engine_worker *w, uint8_t *pkt, uint32_t len,
		   enum engine_dir dir, uint64_t now_ns, unsigned flags,
		   uint64_t cookie, struct engine_result *res)
{
	uint64_t now_s = now_ns / 1000000000u;
	struct packet p;
	enum pkt_status ps;
	int svc_d, svc_s, s;

	stream_release_reset(w->ss);
	memset(res, 0, sizeof(*res));
	res->service = -1;
	res->verdict = ENGINE_ACCEPT;
	res->dir = dir;
	res->len = len;

	ps = pkt_decode(&p, pkt, len);
	if (ps != PKT_OK) {
		/*
		 * Not ours when the ports say so; otherwise fail closed.  A
		 * packet captured short does not decode either: say why.
		 */
		s = svc_of_raw(rs, pkt, len);
		if (s == -1) {
			stats_of(w, -1)->reasons[ENGINE_R_NOT_COVERED]++;
			res->reason = ENGINE_R_NOT_COVERED;
			return 0;
		}
		fail(rs, w, s < 0 ? -1 : s,
		     ps == PKT_FRAGMENT ? ENGINE_R_FRAGMENT :
		     flags & ENGINE_F_TRUNCATED ? ENGINE_R_TRUNCATED :
		     ENGINE_R_MALFORMED, res);
		return 0;
	}
	res->len = p.len;
	/* Bounded expiry work, a slice every 16 packets, keeps the table clean. */
	if (!(++w->expire_tick % 16)) {
		flow_expire(ft, (uint32_t)now_s, 64);
		stream_sweep(w->ss, 64);
	}

	if (p.icmp_error) {
		if (!process_icmp_error(rs, ft, w, &p, dir, (uint32_t)now_s, flags,
					res)) {
			stats_of(w, -1)->reasons[ENGINE_R_NOT_COVERED]++;
			res->reason = ENGINE_R_NOT_COVERED;
		}
		return 0;
	}

	svc_d = svc_of_port(rs, p.proto, p.dport);
	svc_s = svc_of_port(rs, p.proto, p.sport);
	if (dir == ENGINE_DIR_AUTO) {
		if (svc_d < 0 && svc_s < 0)
			dir = ENGINE_DIR_IN;
		else
			dir = decide_dir(ft, &p, svc_d, svc_s);
	}
	res->dir = dir;
	s = dir == ENGINE_DIR_IN ? svc_d : svc_s;
	if (s < 0 || (dir == ENGINE_DIR_IN &&
		      !client_allowed(&rs->services[s], &p, pkt_saddr(&p)))) {
		stats_of(w, -1)->reasons[ENGINE_R_NOT_COVERED]++;
		res->reason = ENGINE_R_NOT_COVERED;
		return 0;
	}
	res->service = s;
	if (dir == ENGINE_DIR_IN)
		process_inbound(rs, ft, w, &p, s, now_ns, flags, cookie, res);
	else
		process_outbound(rs, ft, w, &p, s, now_s, flags, res);
	return 0;
}

/* ---- scanning without changing ----------------------------------------- */

bool engine_payload_may_be_proxy(const uint8_t *payload, uint32_t len)
{
	struct proxy_hdr h;

	return proxy_parse(payload, len, &h) != 0;
}

/*
 * Report to @cb the identifiers of buf[0, len) not inside an allow
 * range.  Return: how many, or -ENOSPC / -EIO as detect_scan().
 */
static int report_scan(const struct rs_service *svc, struct engine_worker *w,
		       const uint8_t *buf, uint32_t len, engine_match_cb cb,
		       void *ctx)
{
	const struct detect_match *m;
	const struct detect_range *allow = NULL;
	int n, n_allow = 0, ai = 0, reported = 0;

	n = detect_scan(svc, w->scratch, buf, len, true, &m);
	if (n < 0)
		return n;
	if (n && svc->n_allow) {
		n_allow = detect_allow(svc, w->scratch, buf, len, &allow);
		if (n_allow < 0)
			return n_allow;
	}
	for (int i = 0; i < n; i++) {
		if (detect_range_covers(allow, n_allow, &ai, m[i].start,
					m[i].end))
			continue;
		cb(ctx, (enum det_kind)m[i].det, buf + m[i].start,
		   m[i].end - m[i].start);
		reported++;
	}
	return reported;
}

/*
 * The fields of a whole PROXY header, as redact_proxy() reads them.
 * Return: how many identifiers were reported, or -ENOSPC / -EIO.
 */
static int report_proxy(const struct rs_service *svc, struct engine_worker *w,
			const uint8_t *payload, uint32_t len,
			const struct proxy_hdr *h, engine_match_cb cb, void *ctx)
{
	struct proxy_walk pw;
	struct proxy_field f;
	int reported = 0, n;

	proxy_walk_init(&pw, h, payload, len);
	while (proxy_walk_next(&pw, &f)) {
		const uint8_t *a = payload + f.off;
		const struct rs_redact *r;
		unsigned off, alen;

		switch (f.kind) {
		case PROXY_F_SOURCE:
			cb(ctx, DET_PROXY, a, f.len);
			reported++;
			break;
		case PROXY_F_ADDR:
			r = addr_bytes_rule(svc, f.family, a, &off, &alen);
			if (r) {
				cb(ctx, (enum det_kind)r->det, a + off, alen);
				reported++;
			}
			break;
		case PROXY_F_TEXT:
			n = report_scan(svc, w, a, f.len, cb, ctx);
			if (n < 0)
				return n;
			reported += n;
			break;
		}
	}
	return reported;
}

int engine_scan(const struct ruleset *rs, struct engine_worker *w,
		unsigned svc_i, const uint8_t *payload, uint32_t len,
		engine_match_cb cb, void *ctx)
{
	const struct rs_service *svc;
	struct proxy_hdr h;
	int n, reported = 0;
	uint32_t skip = 0;

	if (svc_i >= rs->n_services || !len)
		return 0;
	svc = &rs->services[svc_i];
	if (rule_for(svc, DET_PROXY) && proxy_parse(payload, len, &h) == 1) {
		reported = report_proxy(svc, w, payload, len, &h, cb, ctx);
		if (reported < 0)
			return reported;
		skip = h.hdr_len;
	}
	if (skip >= len)
		return reported;
	n = report_scan(svc, w, payload + skip, len - skip, cb, ctx);
	return n < 0 ? n : reported + n;
}
