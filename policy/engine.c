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
#include "flow.h"
#include "key.h"
#include "packet.h"
#include "proxy.h"
#include "rewrite.h"
#include "ruleset.h"

/* ---- stream state (hold-back) ----------------------------------------- */

#define HOLD_CHUNK		2048u		/* pool allocation unit */
#define HOLD_CHUNKS		2048u		/* 4 MiB per worker */
#define HOLD_MAX		4096		/* held packets per worker */
#define HOLD_SEGS		64		/* held segments per flow */
#define HOLD_BYTES		65536u		/* held payload bytes per flow */
#define HOLD_OOO		16		/* out-of-order segments per flow */
#define STREAM_SLOTS		8192		/* flows with stream state per worker */
#define STREAM_CTX		64		/* released original bytes kept */
#define SPAN_MAX		32		/* rewritten spans remembered per flow */
#define SPAN_BYTES		1024u
#define WIN_MAX			(STREAM_CTX + HOLD_BYTES + 65536u)

struct hold {
	uint64_t cookie, deadline;
	uint32_t chunk, nchunks, len;
	uint32_t seq, plen, poff;	/* the payload: stream position, size, offset */
	int32_t next;			/* in its flow's list, or the free list */
	int16_t svc;
	bool csum_full, modified;
	uint8_t verdict;		/* once decided */
};

struct span {
	uint32_t seq;
	uint16_t len, off;		/* bytes at span_bytes[off] */
};

struct stream {
	struct flow *f;			/* NULL: slot free */
	uint8_t client[16];		/* to tell a reused flow entry */
	uint16_t cport, sport;
	int16_t svc;
	bool at_start;			/* ctx holds the stream from its start */
	bool unknown;			/* spans were forgotten up to unknown_upto */
	bool clean;			/* the last release ended outside any candidate */
	uint32_t rel_seq;		/* end of what was released */
	uint32_t first_seq;		/* where this slot's record begins */
	uint32_t unknown_upto;
	int32_t held, held_last, ooo;	/* hold lists (in order; by seq) */
	unsigned n_held, n_ooo;
	uint32_t held_bytes;
	int32_t active;			/* index in the worker's active list, -1 */
	uint16_t ctx_len, span_used;
	unsigned n_spans;
	uint8_t ctx[STREAM_CTX];	/* the last original bytes released */
	struct span spans[SPAN_MAX];
	uint8_t span_bytes[SPAN_BYTES];
};

struct engine_worker {
	const struct ruleset *rs;
	struct detect_scratch *scratch;
	struct engine_stats *stats;	/* n_services + 1 */
	unsigned n_stats;
	engine_match_cb observe;	/* engine_set_observer(); NULL: none */
	void *observe_ctx;
	uint8_t span[65536];		/* original bytes of a span being rewritten */
	uint32_t expire_tick;		/* packets, for the expiry pace */
	uint64_t min_deadline;		/* no hold is due before; 0: none */
	/* hold-back */
	uint8_t *pool;			/* HOLD_CHUNKS * HOLD_CHUNK */
	uint64_t pool_map[HOLD_CHUNKS / 64];	/* bit set: chunk in use */
	struct hold *holds;		/* HOLD_MAX */
	int32_t hold_free;
	struct stream *streams;		/* STREAM_SLOTS */
	int32_t active[STREAM_SLOTS];	/* slots with holds */
	unsigned n_active;
	int32_t rel[HOLD_MAX];		/* decided, to hand out */
	unsigned n_rel, rel_pos;
	uint8_t *win, *win_orig;	/* WIN_MAX: a stream window */
	struct detect_range wallow[256];	/* the window's allow ranges */
	unsigned n_wallow;
};

struct engine_worker *engine_worker_new(const struct ruleset *rs)
{
	struct engine_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->rs = rs;
	w->n_stats = rs->n_services + 1;
	w->stats = calloc(w->n_stats, sizeof(*w->stats));
	w->scratch = detect_scratch_new(rs);
	w->pool = malloc((size_t)HOLD_CHUNKS * HOLD_CHUNK);
	w->holds = calloc(HOLD_MAX, sizeof(*w->holds));
	w->streams = calloc(STREAM_SLOTS, sizeof(*w->streams));
	w->win = malloc(WIN_MAX);
	w->win_orig = malloc(WIN_MAX);
	if (!w->stats || !w->scratch || !w->pool || !w->holds || !w->streams ||
	    !w->win || !w->win_orig) {
		engine_worker_free(w);
		return NULL;
	}
	for (int i = 0; i < HOLD_MAX; i++)
		w->holds[i].next = i + 1 < HOLD_MAX ? i + 1 : -1;
	w->hold_free = 0;
	for (int i = 0; i < STREAM_SLOTS; i++)
		w->streams[i].active = -1;
	return w;
}

void engine_worker_reset(struct engine_worker *w)
{
	memset(w->stats, 0, w->n_stats * sizeof(*w->stats));
	memset(w->pool_map, 0, sizeof(w->pool_map));
	for (int i = 0; i < HOLD_MAX; i++)
		w->holds[i].next = i + 1 < HOLD_MAX ? i + 1 : -1;
	w->hold_free = 0;
	memset(w->streams, 0, STREAM_SLOTS * sizeof(*w->streams));
	for (int i = 0; i < STREAM_SLOTS; i++)
		w->streams[i].active = -1;
	w->n_active = w->n_rel = w->rel_pos = 0;
	w->min_deadline = 0;
	w->expire_tick = 0;
	w->n_wallow = 0;
}

void engine_worker_free(struct engine_worker *w)
{
	if (!w)
		return;
	detect_scratch_free(w->scratch);
	free(w->pool);
	free(w->holds);
	free(w->streams);
	free(w->win);
	free(w->win_orig);
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
	[ENGINE_R_NO_RECORD] = "no-record",
	[ENGINE_R_EVICTED] = "evicted",
	[ENGINE_R_DUPLICATE] = "duplicate",
	[ENGINE_R_GAP] = "gap",
	[ENGINE_R_STOPPING] = "stopping",
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

/*
 * A packet's pending checksum work: the L4 checksum field, whether it is
 * updated incrementally or recomputed at the end, and whether the IPv4
 * header checksum needs it.
 */
struct csum_ctx {
	struct packet *p;
	uint8_t *l4_check;	/* NULL: the protocol has none / not present */
	bool full;		/* recompute the L4 checksum at the end */
	bool touched_l3, touched_l4;
};

static void csum_ctx_init(struct csum_ctx *c, struct packet *p, unsigned flags)
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
static void patch(struct csum_ctx *c, uint8_t *at, const void *new, size_t len,
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
static void patched_payload(struct csum_ctx *c, const uint8_t *old, uint8_t *at,
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

static void csum_ctx_finish(struct csum_ctx *c)
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

struct redact_job {
	const struct ruleset *rs;
	struct flow_table *ft;
	struct engine_worker *w;
	const struct rs_service *svc;
	struct engine_stats *st;
	const uint8_t *epoch_key;
	uint32_t epoch;
	struct csum_ctx *cc;
	bool mask_tail;		/* a timeout decision masks the whole
				 * undecided tail (stream_evict()) */
};

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
 * Apply one match, leaving bytes inside allow ranges untouched.  @allow
 * is advanced past ranges that end before the match.
 */
static void redact_one(struct redact_job *j, uint8_t *payload,
		       const struct detect_match *m,
		       const struct detect_range *allow, int n_allow, int *ai)
{
	const struct rs_redact *r = &j->svc->redact[m->rule];
	uint8_t *t = payload + m->start;
	uint32_t len = m->end - m->start;
	uint8_t *old = j->w->span;

	while (*ai < n_allow && allow[*ai].end <= m->start)
		(*ai)++;
	memcpy(old, t, len);
	apply_action(j, r, t, len);
	for (int k = *ai; k < n_allow && allow[k].start < m->end; k++) {
		uint32_t s = allow[k].start > m->start ? allow[k].start : m->start;
		uint32_t e = allow[k].end < m->end ? allow[k].end : m->end;

		memcpy(payload + s, old + (s - m->start), e - s);
	}
	if (memcmp(old, t, len)) {
		patched_payload(j->cc, old, t, len);
		j->st->action[r->act]++;
	}
	j->st->detector[m->det]++;
}

/* The first redact rule of the service for detector @det, or NULL. */
static const struct rs_redact *rule_for(const struct rs_service *svc,
					enum det_kind det)
{
	if (!(svc->det_mask & (1u << det)))
		return NULL;
	for (unsigned i = 0; i < svc->n_redact; i++)
		if (svc->redact[i].det == det)
			return &svc->redact[i];
	return NULL;
}

/*
 * A PROXY header at the start of @payload: rewrite its source address.
 * Return: bytes the header takes (0: none), or -errno to fail closed.
 */
static int redact_proxy(struct redact_job *j, uint8_t *payload, uint32_t len)
{
	const struct rs_redact *r = rule_for(j->svc, DET_PROXY);
	struct proxy_hdr h;
	uint8_t *src;
	int rc;

	if (!r)
		return 0;
	rc = proxy_parse(payload, len, &h);
	if (rc <= 0)
		return rc;
	j->st->detector[DET_PROXY]++;
	if (!h.family)
		return (int)h.hdr_len;
	src = payload + h.src_off;
	if (j->w->observe)
		j->w->observe(j->w->observe_ctx, DET_PROXY, src, h.src_len);
	if (h.kind == PROXY_V1) {
		memcpy(j->w->span, src, h.src_len);
		if (r->act == ACT_ADDRESS)
			act_address_text(j, r, src, h.src_len);
		else if (rewrite_truncate_text(src, h.src_len, r->trunc4, r->trunc6))
			return -EINVAL;
		if (memcmp(j->w->span, src, h.src_len)) {
			patched_payload(j->cc, j->w->span, src, h.src_len);
			j->st->action[r->act]++;
		}
		return (int)h.hdr_len;
	}

	/* v2: binary address; the CRC32c TLV covers the whole header. */
	memcpy(j->w->span, payload, h.hdr_len);
	if (r->act == ACT_ADDRESS) {
		uint8_t a16[16], pseudo[16];
		bool mapped;

		addr_load(a16, src, (uint8_t)h.family);
		if (make_pseudonym(j->rs, j->ft, j->svc, (uint8_t)h.family, a16,
				   j->epoch, pseudo, &mapped))
			return -ENOSPC;
		memcpy(src, pseudo, h.src_len);
	} else {
		addr_truncate(src, src, h.src_len,
			      h.family == 4 ? r->trunc4 : r->trunc6);
	}
	proxy_fix_crc(payload, &h);
	if (memcmp(j->w->span, payload, h.hdr_len)) {
		patched_payload(j->cc, j->w->span, payload, h.hdr_len);
		j->st->action[r->act]++;
	}
	return (int)h.hdr_len;
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
		while (ai < n_allow && allow[ai].end <= m[i].start)
			ai++;
		if (ai < n_allow && allow[ai].start <= m[i].start &&
		    allow[ai].end >= m[i].end)
			continue;
		w->observe(w->observe_ctx, (enum det_kind)m[i].det,
			   buf + m[i].start, m[i].end - m[i].start);
	}
}

/*
 * Scan and redact the payload of an inbound packet.
 * Return: 0, or an engine_reason to fail closed with (nothing changed).
 */
static enum engine_reason redact_payload(struct redact_job *j, struct packet *p,
					 bool stream_start)
{
	uint8_t *payload = pkt_payload(p);
	uint32_t len = p->payload_len, skip = 0;
	const struct detect_match *m;
	const struct detect_range *allow = NULL;
	int n, n_allow = 0, ai = 0;

	if (!len || !j->svc->n_redact)
		return ENGINE_R_NONE;
	if (stream_start || p->proto == IPPROTO_UDP) {
		int rc = redact_proxy(j, payload, len);

		if (rc < 0)
			return rc == -ENOSPC ? ENGINE_R_TABLE_FULL
					     : ENGINE_R_UNSUPPORTED;
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
	for (int i = 0; i < n; i++)
		redact_one(j, payload + skip, &m[i], allow, n_allow, &ai);
	return ENGINE_R_NONE;
}

/* ---- the verdict -------------------------------------------------------- */

/* Counters of service @svc; an index the ruleset no longer has (a flow
 * from before a reload) counts as uncovered. */
static struct engine_stats *stats_of(struct engine_worker *w, int svc)
{
	return &w->stats[svc < 0 || (unsigned)svc >= w->n_stats - 1 ?
			 w->n_stats - 1 : (unsigned)svc];
}

/* A packet dropped for @why, which need not be a failure (a duplicate). */
static void count_drop(struct engine_stats *st, enum engine_reason why)
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
static enum engine_verdict fail_verdict(const struct rs_service *svc,
					struct engine_stats *st,
					enum engine_reason why)
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
	if (dir != ENGINE_DIR_IN)
		f = flow_find_out(ft, p->family, in->proto, isrc, in->sport,
				  idst, in->dport);
	if (f) {
		outbound = true;
	} else if (dir != ENGINE_DIR_OUT) {
		f = flow_find_in(ft, p->family, in->proto, idst, in->dport,
				 isrc, in->sport);
	}
	if (!f)
		return false;

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
	if (flow_find_in(ft, p->family, p->proto, pkt_saddr(p), p->sport,
			 pkt_daddr(p), p->dport))
		return ENGINE_DIR_IN;
	if (p->proto == IPPROTO_TCP && (p->tcp_flags & 0x12) == 0x02)
		return ENGINE_DIR_IN;
	if (p->proto == IPPROTO_TCP && (p->tcp_flags & 0x12) == 0x12)
		return ENGINE_DIR_OUT;
	return p->dport <= p->sport ? ENGINE_DIR_IN : ENGINE_DIR_OUT;
}

/* ---- TCP streams: hold-back, retransmissions, reordering ---------------- */

static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* ---- the pool: runs of chunks, first fit --------------------------------- */

static bool chunk_used(const struct engine_worker *w, uint32_t c)
{
	return w->pool_map[c / 64] >> (c % 64) & 1;
}

static void chunks_mark(struct engine_worker *w, uint32_t c, uint32_t n, bool used)
{
	for (uint32_t k = c; k < c + n; k++) {
		if (used)
			w->pool_map[k / 64] |= 1ull << (k % 64);
		else
			w->pool_map[k / 64] &= ~(1ull << (k % 64));
	}
}

/* Return: the first chunk of a free run of @n, or -1. */
static int64_t chunks_find(const struct engine_worker *w, uint32_t n)
{
	uint32_t run = 0;

	for (uint32_t c = 0; c < HOLD_CHUNKS; c++) {
		if (!(c % 64) && w->pool_map[c / 64] == ~0ull) {
			run = 0;
			c += 63;
			continue;
		}
		run = chunk_used(w, c) ? 0 : run + 1;
		if (run == n)
			return (int64_t)(c + 1 - n);
	}
	return -1;
}

static uint8_t *hold_data(struct engine_worker *w, const struct hold *h)
{
	return w->pool + (size_t)h->chunk * HOLD_CHUNK;
}

/* A copy of @p in the pool.  Return: the hold's index, or -1 (pool full). */
static int32_t hold_new(struct engine_worker *w, const struct packet *p,
			uint64_t cookie, uint64_t deadline, int svc, unsigned flags)
{
	uint32_t n = (p->len + HOLD_CHUNK - 1) / HOLD_CHUNK;
	int64_t c;
	int32_t i = w->hold_free;
	struct hold *h;

	if (i < 0 || !n || (c = chunks_find(w, n)) < 0)
		return -1;
	h = &w->holds[i];
	w->hold_free = h->next;
	chunks_mark(w, (uint32_t)c, n, true);
	*h = (struct hold){
		.cookie = cookie, .deadline = deadline, .chunk = (uint32_t)c,
		.nchunks = n, .len = p->len, .seq = p->tcp_seq,
		.plen = p->payload_len, .poff = p->payload_off, .next = -1,
		.svc = (int16_t)svc, .csum_full = flags & ENGINE_F_CSUM_NOT_READY,
	};
	memcpy(hold_data(w, h), p->data, p->len);
	if (deadline && (!w->min_deadline || deadline < w->min_deadline))
		w->min_deadline = deadline;
	return i;
}

static void hold_free(struct engine_worker *w, int32_t i)
{
	struct hold *h = &w->holds[i];

	chunks_mark(w, h->chunk, h->nchunks, false);
	h->next = w->hold_free;
	w->hold_free = i;
}

/* Released holds live until the next engine call on the worker. */
static void release_reset(struct engine_worker *w)
{
	for (unsigned k = 0; k < w->n_rel; k++)
		hold_free(w, w->rel[k]);
	w->n_rel = w->rel_pos = 0;
}

static void release_push(struct engine_worker *w, int32_t i, enum engine_verdict v)
{
	struct hold *h = &w->holds[i];

	h->verdict = (uint8_t)(v == ENGINE_ACCEPT && h->modified ?
			       ENGINE_MODIFIED : v);
	w->rel[w->n_rel++] = i;
	w->stats[h->svc].hold_released++;
}

bool engine_next_release(struct engine_worker *w, struct engine_release *out)
{
	struct hold *h;

	if (w->rel_pos >= w->n_rel)
		return false;
	h = &w->holds[w->rel[w->rel_pos++]];
	*out = (struct engine_release){
		.cookie = h->cookie, .verdict = (enum engine_verdict)h->verdict,
		.data = hold_data(w, h), .len = h->len, .service = h->svc,
	};
	return true;
}

/* ---- stream slots -------------------------------------------------------- */

static void active_add(struct engine_worker *w, struct stream *st)
{
	if (st->active >= 0)
		return;
	st->active = (int32_t)w->n_active;
	w->active[w->n_active++] = (int32_t)(st - w->streams);
}

static void active_drop(struct engine_worker *w, struct stream *st)
{
	struct stream *last;

	if (st->active < 0 || st->n_held || st->n_ooo)
		return;
	last = &w->streams[w->active[--w->n_active]];
	w->active[st->active] = (int32_t)(last - w->streams);
	last->active = st->active;
	st->active = -1;
}

static bool stream_is(const struct stream *st, const struct flow *f)
{
	return st->f == f && st->cport == f->cport && st->sport == f->sport &&
	       !memcmp(st->client, f->client, 16);
}

static uint64_t stream_deadline(const struct engine_worker *w,
				const struct stream *st)
{
	uint64_t d = 0;

	if (st->held >= 0)
		d = w->holds[st->held].deadline;
	if (st->ooo >= 0 && (!d || w->holds[st->ooo].deadline < d))
		d = w->holds[st->ooo].deadline;
	return d;
}

/*
 * A lower bound of the holds' deadlines, kept without a walk: engine_tick()
 * walks the held streams only once it is reached, and makes it exact.
 */
uint64_t engine_hold_deadline(const struct engine_worker *w)
{
	return w->n_active ? w->min_deadline : 0;
}

/* Remember the rewritten bytes of [seq, seq + len) for retransmissions. */
static void span_add(struct stream *st, const struct flow *f, uint32_t seq,
		     const uint8_t *bytes, uint32_t len)
{
	/* forget what the server acknowledged, or else the oldest */
	while (st->n_spans && (st->n_spans == SPAN_MAX ||
			       st->span_used + len > SPAN_BYTES ||
			       ((f->flags & FLOW_F_ACK) &&
				seq_le(st->spans[0].seq + st->spans[0].len,
				       f->server_ack)))) {
		struct span *s0 = &st->spans[0];
		uint32_t end = s0->seq + s0->len;

		if (!st->unknown || seq_lt(st->unknown_upto, end))
			st->unknown_upto = end;
		st->unknown = true;
		memmove(st->span_bytes, st->span_bytes + s0->len,
			st->span_used - s0->len);
		st->span_used = (uint16_t)(st->span_used - s0->len);
		for (unsigned k = 1; k < st->n_spans; k++) {
			st->spans[k - 1] = st->spans[k];
			st->spans[k - 1].off = (uint16_t)(st->spans[k - 1].off - s0->len);
		}
		st->n_spans--;
	}
	if (len > SPAN_BYTES) {
		st->unknown = true;
		st->unknown_upto = seq + len;
		return;
	}
	st->spans[st->n_spans++] = (struct span){
		.seq = seq, .len = (uint16_t)len, .off = st->span_used,
	};
	memcpy(st->span_bytes + st->span_used, bytes, len);
	st->span_used = (uint16_t)(st->span_used + len);
}

/*
 * The stream slot of @f, claimed when need be.  A slot taken from another
 * flow has its holds decided first (to the release list): stream_evict().
 */
static void stream_evict(const struct ruleset *rs, struct flow_table *ft,
			 struct engine_worker *w, struct stream *st,
			 uint64_t now_ns);

static struct stream *stream_slot(struct engine_worker *w, const struct flow *f)
{
	uintptr_t h = (uintptr_t)f;

	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	return &w->streams[(h >> 32) % STREAM_SLOTS];
}

static struct stream *stream_find(struct engine_worker *w, const struct flow *f)
{
	struct stream *st = stream_slot(w, f);

	return st->f && stream_is(st, f) ? st : NULL;
}

static struct stream *stream_get(const struct ruleset *rs, struct flow_table *ft,
				 struct engine_worker *w, struct flow *f,
				 uint64_t now_ns)
{
	struct stream *st = stream_slot(w, f);

	if (st->f && stream_is(st, f))
		return st;
	if (st->f)
		stream_evict(rs, ft, w, st, now_ns);
	memset(st, 0, offsetof(struct stream, ctx));
	st->f = f;
	memcpy(st->client, f->client, 16);
	st->cport = f->cport;
	st->sport = f->sport;
	st->svc = f->svc;
	st->held = st->held_last = st->ooo = -1;
	st->active = -1;
	st->rel_seq = st->first_seq = f->next_seq;
	st->clean = true;
	st->at_start = f->isn_known && f->next_seq == f->client_isn + 1;
	return st;
}

/* ---- deciding a window ------------------------------------------------- */

/* Patch bytes of a held copy's payload, keeping its checksum right. */
static void hold_patch(struct engine_worker *w, struct hold *h, uint32_t at,
		       const uint8_t *bytes, uint32_t len)
{
	uint8_t *d = hold_data(w, h);
	struct packet p;
	struct csum_ctx cc;

	if (!memcmp(d + h->poff + at, bytes, len))
		return;
	if (pkt_decode(&p, d, h->len) != PKT_OK)
		return;
	csum_ctx_init(&cc, &p, h->csum_full ? ENGINE_F_CSUM_NOT_READY : 0);
	patch(&cc, d + h->poff + at, bytes, len, false, false);
	csum_ctx_finish(&cc);
	h->modified = true;
}

/* The piece of a new packet taking part in a decision. */
struct piece {
	uint8_t *payload;	/* NULL: none */
	uint32_t len;
	struct csum_ctx *cc;
};

/*
 * Redact the identifiers of buf[from, to) (scanned as one buffer) that
 * end after @after; with @ref, only those whose bytes are still as in
 * @ref (not rewritten by an earlier scan).
 * Return: ENGINE_R_NONE or a reason to fail closed.
 */
static enum engine_reason redact_range(struct redact_job *j, uint8_t *buf,
				       uint32_t from, uint32_t to, uint32_t after,
				       const uint8_t *ref)
{
	const struct detect_match *m;
	const struct detect_range *allow = NULL;
	int n, n_allow = 0, ai = 0;
	uint8_t *b = buf + from;

	if (to <= from)
		return ENGINE_R_NONE;
	detect_set_stream(j->w->scratch, true);
	n = detect_scan(j->svc, j->w->scratch, b, to - from, true, &m);
	detect_set_stream(j->w->scratch, false);
	if (n < 0)
		return ENGINE_R_SCAN_LIMIT;
	if (n && j->svc->n_allow) {
		n_allow = detect_allow(j->svc, j->w->scratch, b, to - from, &allow);
		if (n_allow < 0)
			return ENGINE_R_SCAN_LIMIT;
	}
	if (!ref) {
		/* kept for the segments' own scans, in window offsets */
		j->w->n_wallow = 0;
		for (int i = 0; i < n_allow && j->w->n_wallow < 256; i++)
			j->w->wallow[j->w->n_wallow++] = (struct detect_range){
				from + allow[i].start, from + allow[i].end };
	}
	for (int i = 0; i < n; i++) {
		bool allowed = false;

		if (from + m[i].end <= after)
			continue;
		if (ref && memcmp(b + m[i].start, ref + from + m[i].start,
				  m[i].end - m[i].start))
			continue;
		/* what the whole window allows, a segment alone does not undo */
		for (unsigned k = 0; ref && k < j->w->n_wallow && !allowed; k++)
			allowed = j->w->wallow[k].start < from + m[i].end &&
				  from + m[i].start < j->w->wallow[k].end;
		if (!allowed)
			redact_one(j, b, &m[i], allow, n_allow, &ai);
	}
	return ENGINE_R_NONE;
}

/* The allow ranges of the window buf[from, to), for redact_range(). */
static enum engine_reason window_allow(struct redact_job *j, const uint8_t *buf,
				       uint32_t from, uint32_t to)
{
	const struct detect_range *allow;
	int n;

	j->w->n_wallow = 0;
	if (!j->svc->n_allow || to <= from)
		return ENGINE_R_NONE;
	n = detect_allow(j->svc, j->w->scratch, buf + from, to - from, &allow);
	if (n < 0)
		return ENGINE_R_SCAN_LIMIT;
	for (int i = 0; i < n && j->w->n_wallow < 256; i++)
		j->w->wallow[j->w->n_wallow++] = (struct detect_range){
			from + allow[i].start, from + allow[i].end };
	return ENGINE_R_NONE;
}

/*
 * Decide ctx + held segments + @np: find the identifiers of the whole
 * window and rewrite them wherever they are not yet released; with
 * @timeout, a tail that looks like an identifier is masked too.  The held
 * segments go to the release list.
 * Return: ENGINE_R_NONE, or a reason to fail closed (holds released as
 * the service's on-error says; nothing of @np changed).
 */
static enum engine_reason stream_decide(struct redact_job *j, struct stream *st,
					struct piece *np, bool timeout)
{
	struct engine_worker *w = j->w;
	uint8_t *win = w->win, *orig = w->win_orig;
	uint32_t wlen = 0, cl = st->ctx_len, skip = 0, base_seq;
	enum engine_reason why = ENGINE_R_NONE;
	struct csum_ctx *saved_cc;

	memcpy(win, st->ctx, cl);
	wlen = cl;
	for (int32_t i = st->held; i >= 0; i = w->holds[i].next) {
		struct hold *h = &w->holds[i];

		memcpy(win + wlen, hold_data(w, h) + h->poff, h->plen);
		wlen += h->plen;
	}
	if (np && np->payload) {
		memcpy(win + wlen, np->payload, np->len);
		wlen += np->len;
	}
	base_seq = st->rel_seq - cl;
	memcpy(orig, win, wlen);
	/* the window is no packet: its checksums are done piece by piece */
	saved_cc = j->cc;
	j->cc = NULL;
	if (wlen > cl && j->svc->n_redact) {
		if (st->at_start && !cl) {
			int rc = redact_proxy(j, win, wlen);

			if (rc < 0) {
				why = rc == -ENOSPC ? ENGINE_R_TABLE_FULL
						    : ENGINE_R_UNSUPPORTED;
				goto out;
			}
			skip = (uint32_t)rc;
		}
		if (st->clean && !st->n_held) {
			/* after a clean tail the new bytes are scanned alone,
			 * as a packet would be */
			uint32_t from = skip > cl ? skip : cl;

			/* an allow pattern may begin in the context */
			why = window_allow(j, win, skip, wlen);
			if (why == ENGINE_R_NONE)
				why = redact_range(j, win, from, wlen, 0, orig);
			goto scanned;
		}
		why = redact_range(j, win, skip, wlen, cl, NULL);
		if (why != ENGINE_R_NONE)
			goto out;
		/*
		 * And each segment alone: what follows a segment in the
		 * stream may keep the window's scan from seeing an
		 * identifier that ends with the segment (a length-prefixed
		 * field, say); never less than per packet.
		 */
		{
			uint32_t a = cl;

			for (int32_t i = st->held; i >= 0 && why == ENGINE_R_NONE;
			     i = w->holds[i].next) {
				uint32_t b = a + w->holds[i].plen;

				why = redact_range(j, win, a > skip ? a : skip, b, 0,
						   orig);
				a = b;
			}
			if (np && np->payload && why == ENGINE_R_NONE)
				why = redact_range(j, win, a > skip ? a : skip, wlen,
						   0, orig);
		}
scanned:
		if (why != ENGINE_R_NONE)
			goto out;
		if (timeout) {
			uint32_t sus, t = detect_tail(j->svc, w->scratch, win, wlen,
						      &sus);

			uint32_t from = sus > cl ? sus : cl;

			if (j->mask_tail && t < wlen) {
				/* nothing will judge this tail with what follows */
				from = t > cl ? t : cl;
				rewrite_mask(win + from, wlen - from);
				j->st->hold_timeout_masked++;
			} else if (sus < wlen && !memcmp(win + from, orig + from,
							 wlen - from)) {
				/* a tail a detector already rewrote was an identifier */
				rewrite_mask(win + from, wlen - from);
				j->st->hold_timeout_masked++;
			} else if (t < wlen) {
				j->st->hold_timeout_passed++;
			}
		}
	}
out:
	j->cc = saved_cc;
	if (why != ENGINE_R_NONE) {
		/* the holds fail as the packet would have */
		for (int32_t i = st->held, nx; i >= 0; i = nx) {
			nx = w->holds[i].next;
			release_push(w, i, fail_verdict(j->svc, j->st, why));
		}
	} else {
		uint32_t off = cl, k;

		for (int32_t i = st->held, nx; i >= 0; i = nx) {
			struct hold *h = &w->holds[i];

			nx = h->next;
			hold_patch(w, h, 0, win + off, h->plen);
			off += h->plen;
			release_push(w, i, ENGINE_ACCEPT);
		}
		if (np && np->payload && memcmp(np->payload, win + off, np->len)) {
			memcpy(w->span, np->payload, np->len);
			memcpy(np->payload, win + off, np->len);
			patched_payload(np->cc, w->span, np->payload, np->len);
		}
		/* the rewritten runs, for retransmissions */
		for (k = cl; k < wlen;) {
			uint32_t e;

			if (win[k] == orig[k]) {
				k++;
				continue;
			}
			e = k + 1;
			while (e < wlen && (win[e] != orig[e] ||
					    (e + 1 < wlen && win[e + 1] != orig[e + 1])))
				e++;
			span_add(st, st->f, base_seq + k, win + k, e - k);
			k = e;
		}
	}
	/* what was released continues the context, as the client sent it */
	if (wlen >= STREAM_CTX) {
		memcpy(st->ctx, orig + wlen - STREAM_CTX, STREAM_CTX);
		st->ctx_len = STREAM_CTX;
		if (wlen > STREAM_CTX)
			st->at_start = false;
	} else {
		memcpy(st->ctx, orig, wlen);
		st->ctx_len = (uint16_t)wlen;
	}
	st->rel_seq = base_seq + wlen;
	st->clean = !timeout;
	st->held = st->held_last = -1;
	st->n_held = 0;
	st->held_bytes = 0;
	return why;
}

static void job_for(struct redact_job *j, const struct ruleset *rs,
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

static void stream_flush(const struct ruleset *rs, struct flow_table *ft,
			 struct engine_worker *w, struct stream *st,
			 uint64_t now_ns)
{
	struct redact_job j;

	if (!st->n_held && !st->n_ooo)
		return;
	job_for(&j, rs, ft, w, st->svc, now_ns);
	if (st->n_held)
		stream_decide(&j, st, NULL, true);
	/*
	 * Out of order, after a gap that did not fill: decided alone they
	 * would pass without the bytes before them (the end of an identifier
	 * whose start was released).  The receiver's TCP would not hand them
	 * to the application either; dropped, they come again after the gap.
	 */
	for (int32_t i = st->ooo, nx; i >= 0; i = nx) {
		nx = w->holds[i].next;
		count_drop(j.st, ENGINE_R_GAP);
		release_push(w, i, ENGINE_DROP);
	}
	st->ooo = -1;
	st->n_ooo = 0;
	active_drop(w, st);
}

/*
 * Another flow takes the slot of @st, whose context and records are lost:
 * nothing would judge a held tail with the bytes that follow it, so the
 * held segments are decided with their whole undecided tail masked, and
 * the out-of-order ones (decided alone they would pass without the bytes
 * before them) are dropped; TCP sends them again.
 */
static void stream_evict(const struct ruleset *rs, struct flow_table *ft,
			 struct engine_worker *w, struct stream *st,
			 uint64_t now_ns)
{
	struct redact_job j;

	/* a slot whose flow has gone (or was reused) is merely stale */
	if (stream_is(st, st->f))
		stats_of(w, st->svc)->stream_evicted++;
	if (!st->n_held && !st->n_ooo)
		return;
	job_for(&j, rs, ft, w, st->svc, now_ns);
	j.mask_tail = true;
	if (st->n_held)
		stream_decide(&j, st, NULL, true);
	for (int32_t i = st->ooo, nx; i >= 0; i = nx) {
		nx = w->holds[i].next;
		count_drop(j.st, ENGINE_R_EVICTED);
		release_push(w, i, ENGINE_DROP);
	}
	st->ooo = -1;
	st->n_ooo = 0;
	active_drop(w, st);
}

void engine_tick(const struct ruleset *rs, struct flow_table *ft,
		 struct engine_worker *w, uint64_t now_ns)
{
	uint64_t best = 0;

	release_reset(w);
	if (!w->n_active || (w->min_deadline && now_ns < w->min_deadline))
		return;
	for (unsigned k = 0; k < w->n_active;) {
		struct stream *st = &w->streams[w->active[k]];
		uint64_t d = stream_deadline(w, st);

		if (d && d <= now_ns) {
			stats_of(w, st->svc)->hold_timeouts++;
			stream_flush(rs, ft, w, st, now_ns);
			if (st->active < 0)
				continue;	/* swapped out: look at k again */
			d = stream_deadline(w, st);
		}
		if (d && (!best || d < best))
			best = d;
		k++;
	}
	w->min_deadline = best;
}

void engine_release_all(const struct ruleset *rs, struct flow_table *ft,
			struct engine_worker *w)
{
	release_reset(w);
	while (w->n_active)
		stream_flush(rs, ft, w, &w->streams[w->active[0]], 0);
}

void engine_drop_all(struct engine_worker *w)
{
	release_reset(w);
	while (w->n_active) {
		struct stream *st = &w->streams[w->active[0]];
		struct engine_stats *es = stats_of(w, st->svc);
		int32_t lists[2] = { st->held, st->ooo };

		for (int l = 0; l < 2; l++)
			for (int32_t i = lists[l], nx; i >= 0; i = nx) {
				nx = w->holds[i].next;
				count_drop(es, ENGINE_R_STOPPING);
				release_push(w, i, ENGINE_DROP);
			}
		st->held = st->held_last = st->ooo = -1;
		st->n_held = st->n_ooo = 0;
		active_drop(w, st);
	}
}

void engine_worker_adopt(struct engine_worker *to, struct engine_worker *from)
{
	const struct ruleset *rs = to->rs;
	struct stream *t = to->streams;

	to->streams = from->streams;
	from->streams = t;
	for (unsigned i = 0; i < STREAM_SLOTS; i++) {
		struct stream *st = &to->streams[i];
		int svc;

		if (!st->f)
			continue;
		/* Services are found again by port: indices may have moved. */
		svc = (int)rs->port_map[RS_PROTO_TCP][st->sport] - 1;
		if (svc < 0 || !stream_is(st, st->f)) {
			memset(st, 0, offsetof(struct stream, ctx));
			continue;
		}
		st->svc = (int16_t)svc;
		st->f->svc = (uint8_t)svc;
		st->held = st->held_last = st->ooo = -1;
		st->n_held = st->n_ooo = 0;
		st->held_bytes = 0;
		st->active = -1;
	}
}

/* Overwrite the payload of @p at stream [seq, seq + len) from the spans. */
static void spans_apply(struct stream *st, struct csum_ctx *cc,
			struct packet *p, uint32_t len)
{
	uint8_t *pl = pkt_payload(p);

	for (unsigned k = 0; k < st->n_spans; k++) {
		const struct span *s = &st->spans[k];
		uint32_t a = s->seq, b = s->seq + s->len;

		if (seq_lt(a, p->tcp_seq))
			a = p->tcp_seq;
		if (seq_lt(p->tcp_seq + len, b))
			b = p->tcp_seq + len;
		if (!seq_lt(a, b))
			continue;
		patch(cc, pl + (a - p->tcp_seq),
		      st->span_bytes + s->off + (a - s->seq), b - a, false, false);
	}
}

enum stream_outcome {
	STREAM_NOW,		/* verdict the packet now */
	STREAM_HELD,		/* a copy was kept: ENGINE_HOLD */
	STREAM_DROP,		/* a duplicate the held original covers */
};

/*
 * Move out-of-order holds that now continue the stream onto the held list,
 * within the flow's bounds on held segments (a stream window holds no
 * more): at a bound, what is held is decided first by the timeout rule,
 * as for a segment that comes in order.
 */
static void ooo_pull(struct redact_job *j, struct stream *st, struct flow *f)
{
	struct engine_worker *w = j->w;
	struct engine_stats *stats = j->st;

	while (st->ooo >= 0) {
		int32_t i = st->ooo;
		struct hold *h = &w->holds[i];

		if (seq_lt(f->next_seq, h->seq))
			break;
		st->ooo = h->next;
		st->n_ooo--;
		h->next = -1;
		if (h->seq != f->next_seq) {
			/* overlaps what came meanwhile: TCP sends it again */
			stats->retrans_dropped++;
			count_drop(stats, ENGINE_R_DUPLICATE);
			release_push(w, i, ENGINE_DROP);
			continue;
		}
		if (st->n_held && (st->n_held >= HOLD_SEGS ||
				   st->held_bytes + h->plen > HOLD_BYTES)) {
			stats->hold_bound_hit++;
			(void)stream_decide(j, st, NULL, true);
		}
		if (st->held_last >= 0)
			w->holds[st->held_last].next = i;
		else
			st->held = i;
		st->held_last = i;
		st->n_held++;
		st->held_bytes += h->plen;
		f->next_seq = h->seq + h->plen;
	}
}

/* Whether the window ctx + held (+ @extra) ends inside a candidate. */
static bool tail_dirty(struct redact_job *j, struct stream *st,
		       const uint8_t *extra, uint32_t extra_len)
{
	struct engine_worker *w = j->w;
	uint8_t *win = w->win;
	uint32_t wlen = st->ctx_len, sus, t;

	memcpy(win, st->ctx, wlen);
	for (int32_t i = st->held; i >= 0; i = w->holds[i].next) {
		struct hold *h = &w->holds[i];

		memcpy(win + wlen, hold_data(w, h) + h->poff, h->plen);
		wlen += h->plen;
	}
	if (extra_len)
		memcpy(win + wlen, extra, extra_len);
	wlen += extra_len;
	if (wlen == st->ctx_len)
		return false;
	if (st->at_start && !st->ctx_len && rule_for(j->svc, DET_PROXY)) {
		struct proxy_hdr ph;
		int rc = proxy_parse(win, wlen, &ph);

		static const uint8_t v1[] = "PROXY ", v2[] = "\r\n\r\n\0\r\nQUIT\n";

		/* a PROXY header cut short: wait for its end */
		if (rc == -E2BIG || (rc == -EINVAL && wlen < 108 &&
				     !memchr(win, '\n', wlen)))
			return true;
		if ((wlen < 6 && !memcmp(win, v1, wlen)) ||
		    (wlen < 12 && !memcmp(win, v2, wlen)))
			return true;
	}
	t = detect_tail(j->svc, w->scratch, win, wlen, &sus);
	return t < wlen;
}

/*
 * The client→server TCP payload of @p in stream order.  Rewrites the
 * payload (as far as it is decided) and says whether to hold it.
 */
static enum engine_reason stream_inbound(struct redact_job *j, struct flow *f,
					 struct packet *p, uint64_t now_ns,
					 uint64_t cookie, unsigned flags,
					 enum stream_outcome *out, int32_t *held,
					 struct stream **stp)
{
	const struct ruleset *rs = j->rs;
	struct engine_worker *w = j->w;
	struct engine_stats *stats = j->st;
	uint64_t hold_ns = j->svc->hold_ns;
	uint32_t plen = p->payload_len, old = 0;
	struct stream *st;
	struct piece np;
	int32_t d;
	enum engine_reason why;
	bool fills, dirty;

	*out = STREAM_NOW;
	*held = -1;
	*stp = NULL;
	if (p->tcp_flags & 0x02) {	/* SYN: the stream starts after it */
		st = stream_find(w, f);
		if (st) {
			stream_flush(rs, j->ft, w, st, now_ns);
			st->f = NULL;
		}
		f->next_seq = p->tcp_seq + 1;
		f->flags |= FLOW_F_SEQ;
		return ENGINE_R_NONE;
	}
	if (!plen) {
		if (p->tcp_flags & 0x05) {	/* FIN, RST: the stream ends */
			st = stream_get(rs, j->ft, w, f, now_ns);
			stream_flush(rs, j->ft, w, st, now_ns);
		}
		return ENGINE_R_NONE;
	}
	if (!(f->flags & FLOW_F_SEQ)) {
		f->next_seq = p->tcp_seq;
		f->flags |= FLOW_F_SEQ;
	}
	st = stream_get(rs, j->ft, w, f, now_ns);
	d = (int32_t)(p->tcp_seq - f->next_seq);

	if (d > 0) {
		int32_t i, *at = &st->ooo;
		uint32_t ooo_bytes = 0;

		stats->out_of_order++;
		for (i = st->ooo; i >= 0; i = w->holds[i].next) {
			struct hold *h = &w->holds[i];

			ooo_bytes += h->plen;
			if (seq_lt(p->tcp_seq, h->seq + h->plen) &&
			    seq_lt(h->seq, p->tcp_seq + plen)) {
				stats->retrans_dropped++;
				*out = STREAM_DROP;
				return ENGINE_R_NONE;
			}
		}
		if (!hold_ns) {
			/* the service never holds: the segment is decided alone */
			struct stream alone = { .f = f, .held = -1, .held_last = -1,
						.ooo = -1, .rel_seq = p->tcp_seq,
						.active = -1 };

			np = (struct piece){ pkt_payload(p), plen, j->cc };
			return stream_decide(j, &alone, &np, true);
		}
		/*
		 * It cannot wait for the gap: dropped, since alone it would
		 * be judged without the bytes before it.  TCP sends it again.
		 */
		if (st->n_ooo >= HOLD_OOO || ooo_bytes + plen > HOLD_BYTES) {
			stats->hold_bound_hit++;
			return ENGINE_R_OOO_FULL;
		}
		i = hold_new(w, p, cookie, now_ns + hold_ns, f->svc, flags);
		if (i < 0) {
			stats->hold_pool_full++;
			return ENGINE_R_HOLD_FULL;
		}
		while (*at >= 0 && seq_lt(w->holds[*at].seq, p->tcp_seq))
			at = &w->holds[*at].next;
		w->holds[i].next = *at;
		*at = i;
		st->n_ooo++;
		stats->holds++;
		active_add(w, st);
		*out = STREAM_HELD;
		*held = i;
		*stp = st;
		return ENGINE_R_NONE;
	}
	if (d < 0) {
		old = (uint32_t)-d < plen ? (uint32_t)-d : plen;
		if (st->n_held && seq_lt(st->rel_seq, p->tcp_seq + plen)) {
			/* the held original will be released */
			stats->retrans_dropped++;
			*out = STREAM_DROP;
			return ENGINE_R_NONE;
		}
		if ((f->flags & FLOW_F_ACK) &&
		    seq_le(p->tcp_seq + old, f->server_ack)) {
			/*
			 * The server has these bytes (its ACK got lost): its
			 * stack discards them and acknowledges again.  Pass
			 * them masked, or the connection would stall on a
			 * retransmission nobody keeps a record of.
			 */
			uint8_t *pl = pkt_payload(p);

			memcpy(w->span, pl, old);
			rewrite_mask(w->span, old);
			patch(j->cc, pl, w->span, old, false, false);
			stats->retrans_patched++;
			if (old == plen)
				return ENGINE_R_NONE;
		} else if (st->unknown && seq_lt(p->tcp_seq, st->unknown_upto)) {
			stats->retrans_no_record++;
			return ENGINE_R_NO_RECORD;
		} else if (seq_lt(p->tcp_seq, st->first_seq)) {
			/* sent before this worker kept a record */
			stats->retrans_no_record++;
			return ENGINE_R_NO_RECORD;
		} else {
			spans_apply(st, j->cc, p, old);
			stats->retrans_patched++;
			if (old == plen)
				return ENGINE_R_NONE;
		}
	}

	/* in order: the new bytes are payload[old, plen) */
	np = (struct piece){ pkt_payload(p) + old, plen - old, j->cc };
	if (p->tcp_flags & 0x05) {
		/* the stream ends here: nothing more will decide the tail */
		why = stream_decide(j, st, &np, true);
		if (why == ENGINE_R_NONE) {
			f->next_seq = p->tcp_seq + plen;
			stream_flush(rs, j->ft, w, st, now_ns);
		}
		active_drop(w, st);
		return why;
	}
	/* a segment that fills the gap before held ones waits with them */
	fills = st->ooo >= 0 && seq_le(w->holds[st->ooo].seq, p->tcp_seq + plen);
	dirty = hold_ns && (fills || tail_dirty(j, st, np.payload, np.len));
	if (dirty && !(st->n_held < HOLD_SEGS &&
		       st->held_bytes + np.len <= HOLD_BYTES)) {
		stats->hold_bound_hit++;
		why = stream_decide(j, st, NULL, true);
		if (why != ENGINE_R_NONE)
			return why;
		dirty = fills || tail_dirty(j, st, np.payload, np.len);
	}
	if (dirty) {
		int32_t i = hold_new(w, p, cookie, now_ns + hold_ns, f->svc, flags);

		if (i >= 0) {
			struct hold *h = &w->holds[i];

			/* the held copy's stream bytes start at the new ones */
			h->seq += old;
			h->poff += old;
			h->plen -= old;
			if (st->held_last >= 0)
				w->holds[st->held_last].next = i;
			else
				st->held = i;
			st->held_last = i;
			st->n_held++;
			st->held_bytes += h->plen;
			f->next_seq = p->tcp_seq + plen;
			stats->holds++;
			active_add(w, st);
			*out = STREAM_HELD;
			*held = i;
			*stp = st;
			return ENGINE_R_NONE;
		}
		/*
		 * Deciding it now would pass a tail that the next bytes
		 * should judge: dropped instead (TCP sends it again), so that
		 * a full pool never lowers what the stream scan catches.
		 */
		stats->hold_pool_full++;
		return ENGINE_R_HOLD_FULL;
	}
	why = stream_decide(j, st, &np, dirty);
	if (why != ENGINE_R_NONE)
		return why;
	f->next_seq = p->tcp_seq + plen;
	active_drop(w, st);
	return ENGINE_R_NONE;
}

/*
 * After a held packet's copy is final: out-of-order holds that now
 * continue the stream join it, and a clean tail releases them all.
 */
static void stream_settle(struct redact_job *j, struct stream *st,
			  struct flow *f)
{
	struct engine_worker *w = j->w;

	ooo_pull(j, st, f);
	if (st->n_held && !tail_dirty(j, st, NULL, 0))
		(void)stream_decide(j, st, NULL, false);
	active_drop(w, st);
}

static void process_inbound(const struct ruleset *rs, struct flow_table *ft,
			    struct engine_worker *w, struct packet *p, int s,
			    uint64_t now_ns, unsigned flags, uint64_t cookie,
			    struct engine_result *res)
{
	uint64_t now_s = now_ns / 1000000000u;
	enum stream_outcome so = STREAM_NOW;
	struct stream *sst = NULL;
	int32_t held = -1;
	const struct rs_service *svc = &rs->services[s];
	struct engine_stats *st = stats_of(w, s);
	uint32_t epoch = (uint32_t)keyring_epoch(rs->keys, now_s);
	uint8_t *saddr = pkt_saddr(p);
	struct flow *f;
	struct csum_ctx cc;
	struct redact_job job;
	enum engine_reason why;
	bool stream_start;

	st->packets_in++;
	st->bytes_in += p->len;
	if (flags & ENGINE_F_TRUNCATED) {
		fail(rs, w, s, ENGINE_R_TRUNCATED, res);
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
	} else if (p->proto == IPPROTO_TCP && (p->tcp_flags & 0x12) == 0x02) {
		f->isn_known = true;
		f->client_isn = p->tcp_seq;
	}
	stream_start = p->proto == IPPROTO_TCP &&
		       (f->isn_known ? p->tcp_seq == f->client_isn + 1
				     : p->payload_len >= 6);

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
				     &sst);
	else
		why = redact_payload(&job, p, stream_start);
	if (why != ENGINE_R_NONE) {
		fail(rs, w, s, why, res);
		return;
	}
	flow_update(ft, f, p->proto == IPPROTO_TCP ? p->tcp_flags : 0, true,
		    (uint32_t)now_s);
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
		struct hold *h = &w->holds[held];

		/* the copy gets the final headers; its payload is decided later */
		memcpy(hold_data(w, h), p->data, p->len);
		h->modified = res->verdict == ENGINE_MODIFIED;
		res->verdict = ENGINE_HOLD;
		stream_settle(&job, sst, f);
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
		    (!(f->flags & FLOW_F_ACK) || seq_lt(f->server_ack, p->tcp_ack))) {
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

	release_reset(w);
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
	if (!(++w->expire_tick % 16))
		flow_expire(ft, (uint32_t)now_s, 64);

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

int engine_scan(const struct ruleset *rs, struct engine_worker *w,
		unsigned svc_i, const uint8_t *payload, uint32_t len,
		engine_match_cb cb, void *ctx)
{
	const struct rs_service *svc;
	const struct detect_match *m;
	const struct detect_range *allow = NULL;
	struct proxy_hdr h;
	int n, n_allow = 0, ai = 0, reported = 0;
	uint32_t skip = 0;

	if (svc_i >= rs->n_services || !len)
		return 0;
	svc = &rs->services[svc_i];
	if (rule_for(svc, DET_PROXY) && proxy_parse(payload, len, &h) == 1) {
		if (h.family)
			cb(ctx, DET_PROXY, payload + h.src_off, h.src_len);
		reported += h.family ? 1 : 0;
		skip = h.hdr_len;
	}
	if (skip >= len)
		return reported;
	n = detect_scan(svc, w->scratch, payload + skip, len - skip, true, &m);
	if (n < 0)
		return n;
	if (svc->n_allow) {
		n_allow = detect_allow(svc, w->scratch, payload + skip, len - skip,
				       &allow);
		if (n_allow < 0)
			return n_allow;
	}
	for (int i = 0; i < n; i++) {
		bool inside = false;

		while (ai < n_allow && allow[ai].end <= m[i].start)
			ai++;
		if (ai < n_allow && allow[ai].start <= m[i].start &&
		    allow[ai].end >= m[i].end)
			inside = true;
		if (inside)
			continue;
		cb(ctx, (enum det_kind)m[i].det, payload + skip + m[i].start,
		   m[i].end - m[i].start);
		reported++;
	}
	return reported;
}
