/*
 * engine.c — the one function that decides what a packet becomes: the
 * packet walk.
 *
 * Inbound (client → server): the source address becomes the pseudonym of
 * the service's address rule (pseudonym.c), the payload loses its
 * identifiers (redact.c; a TCP stream's in stream.c).
 * Outbound (server → client): the destination pseudonym becomes the real
 * client again.  ICMP errors about a translated flow are translated in
 * their quoted header too.  Every rewrite keeps the length and the
 * checksums right (patch.c).
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

/* A packet no service covers: it passes as it is, counted. */
static void not_covered(struct engine_worker *w, struct engine_result *res)
{
	stats_of(w, -1)->reasons[ENGINE_R_NOT_COVERED]++;
	res->reason = ENGINE_R_NOT_COVERED;
}

static uint16_t port_be(uint16_t host)
{
	return htons(host);
}

/* Rewrite the source (@dst false) or destination port of @p to @port. */
static void patch_port(struct csum_ctx *cc, struct packet *p, bool dst,
		       uint16_t port)
{
	uint16_t be = port_be(port);

	patch(cc, p->data + p->l4_off + (dst ? 2 : 0), &be, 2, false, false);
	if (dst)
		p->dport = port;
	else
		p->sport = port;
}

/* The checksums finished; a packet that changed is modified, counted. */
static void finish(struct csum_ctx *cc, struct engine_stats *st,
		   struct engine_result *res)
{
	csum_ctx_finish(cc);
	if (cc->touched_l4 || cc->touched_l3) {
		res->verdict = ENGINE_MODIFIED;
		st->changed++;
	}
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
				not_covered(w, res);
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
	/* Quoted header first (its own checksums), then the outer header. */
	if (outbound)
		patch_quote(&cc, isrc, f->client, p->data + in->l4_off,
			    port_be(f->cport), w->span);
	else
		patch_quote(&cc, idst, f->pseudo, p->data + in->l4_off + 2,
			    port_be(f->pport), w->span);
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
	job_for(&job, rs, ft, w, s, now_ns);
	job.cc = &cc;
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
	if (f->pport != f->cport)
		patch_port(&cc, p, false, f->pport);
	finish(&cc, st, res);
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
	if (to_port != p->dport)
		patch_port(&cc, p, true, to_port);
	finish(&cc, st, res);
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
			not_covered(w, res);
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
					res))
			not_covered(w, res);
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
		not_covered(w, res);
		return 0;
	}
	res->service = s;
	if (dir == ENGINE_DIR_IN)
		process_inbound(rs, ft, w, &p, s, now_ns, flags, cookie, res);
	else
		process_outbound(rs, ft, w, &p, s, now_s, flags, res);
	return 0;
}
