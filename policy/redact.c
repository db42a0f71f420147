/*
 * redact.c — what the payload of an inbound packet or a stream window
 * loses (doc/design.md §5): the detectors' matches merged into groups and
 * rewritten by their rules' actions, a PROXY header's fields by theirs;
 * and the same scan reporting without changing (engine_scan()).
 */
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "detect.h"
#include "engine.h"
#include "engine_int.h"
#include "packet.h"
#include "proxy.h"
#include "rewrite.h"
#include "ruleset.h"

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

/*
 * @at[0, @len) was rewritten in place by action @act; @old is a copy of
 * what stood there: when it changed, keep the checksum and count it.
 */
static void rewritten(struct redact_job *j, const uint8_t *old, uint8_t *at,
		      uint32_t len, enum act_kind act)
{
	if (memcmp(old, at, len)) {
		patched_payload(j->cc, old, at, len);
		j->st->action[act]++;
	}
}

/* Rewrite payload[start, end) by @r (NULL: mask), counting the action. */
static void redact_span(struct redact_job *j, uint8_t *payload, uint32_t start,
			uint32_t end, const struct rs_redact *r)
{
	uint8_t *t = payload + start, *old = j->w->span;
	uint32_t len = end - start;
	enum act_kind act = r ? r->act : ACT_MASK;
	/* only a stream window is this long: it is no packet (cc NULL) */
	bool keep_old = len <= sizeof(j->w->span);

	if (keep_old)
		memcpy(old, t, len);
	if (r)
		apply_action(j, r, t, len);
	else
		rewrite_mask(t, len);
	if (keep_old)
		rewritten(j, old, t, len, act);
	else
		j->st->action[act]++;
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
 * Report the matches @m[0, @n) of a scan of @buf to @cb, leaving out
 * those wholly inside an allow range.  Return: how many were reported.
 */
static int report_matches(engine_match_cb cb, void *ctx, const uint8_t *buf,
			  const struct detect_match *m, int n,
			  const struct detect_range *allow, int n_allow)
{
	int ai = 0, reported = 0;

	for (int i = 0; i < n; i++) {
		if (detect_range_covers(allow, n_allow, &ai, m[i].start, m[i].end))
			continue;
		cb(ctx, (enum det_kind)m[i].det, buf + m[i].start,
		   m[i].end - m[i].start);
		reported++;
	}
	return reported;
}

/* An identifier to the worker's observer, if it has one. */
static void observe(struct redact_job *j, enum det_kind det, const uint8_t *t,
		    uint32_t len)
{
	if (j->w->observe)
		j->w->observe(j->w->observe_ctx, det, t, len);
}

/* The client's address field: the proxy-protocol rule @r. */
static int proxy_source(struct redact_job *j, const struct rs_redact *r,
			const struct proxy_hdr *h, uint8_t *src)
{
	uint8_t old[128];

	observe(j, DET_PROXY, src, h->src_len);
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
	rewritten(j, old, src, h->src_len, r->act);
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
	observe(j, r->det, a + off, alen);
	memcpy(old, a + off, alen);
	act_address_bytes(j, r, a + off, alen);
	rewritten(j, old, a + off, alen, r->act);
	j->st->detector[r->det]++;
}

/*
 * Scan @buf[0, @len) with @svc's detectors and, when they found anything,
 * its allow patterns (ranges relative to the same bytes).
 * Return: the number of matches (*@m) with *@n_allow allow ranges in
 * *@allow, or -ENOSPC / -EIO as detect_scan().
 */
static int scan(const struct rs_service *svc, struct engine_worker *w,
		const uint8_t *buf, uint32_t len, const struct detect_match **m,
		const struct detect_range **allow, int *n_allow)
{
	int n = detect_scan(svc, w->scratch, buf, len, DETECT_LINE_START, m);

	*allow = NULL;
	*n_allow = 0;
	if (n <= 0 || !svc->n_allow)
		return n;
	*n_allow = detect_allow(svc, w->scratch, buf, len, allow);
	return *n_allow < 0 ? *n_allow : n;
}

/*
 * Every detector of the service, with its allow ranges, over @t[0, @len)
 * alone (its ends are boundaries): a datagram's payload, a PROXY header's
 * text field or TLV value.  The observer hears of the matches first.
 * Return: 0 or -EMSGSIZE (scan limit, PCRE2 error).
 */
static int scan_redact(struct redact_job *j, uint8_t *t, uint32_t len)
{
	const struct detect_match *m;
	const struct detect_range *allow;
	struct redact_scope sc = { 0 };
	int n_allow, n = scan(j->svc, j->w, t, len, &m, &allow, &n_allow);

	if (n < 0)
		return -EMSGSIZE;
	if (!n)
		return 0;
	if (j->w->observe)
		report_matches(j->w->observe, j->w->observe_ctx, t, m, n, allow,
			       n_allow);
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
			rc = scan_redact(j, payload + f.off, f.len);
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

/* redact_payload() - see engine_int.h */
enum engine_reason redact_payload(struct redact_job *j, struct packet *p)
{
	uint8_t *payload = pkt_payload(p);
	uint32_t len = p->payload_len, skip = 0;

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
	if (scan_redact(j, payload + skip, len - skip) < 0)
		return ENGINE_R_SCAN_LIMIT;
	return ENGINE_R_NONE;
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
	const struct detect_range *allow;
	int n_allow, n = scan(svc, w, buf, len, &m, &allow, &n_allow);

	if (n <= 0)
		return n;
	return report_matches(cb, ctx, buf, m, n, allow, n_allow);
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
