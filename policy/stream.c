/*
 * stream.c — client→server TCP streams, as the server's kernel delivers
 * them (doc/design.md §6).
 *
 * A segment whose end may begin an identifier is held (a copy in the
 * pool) until the bytes after it decide it, or its service's hold time
 * passes; segments after a gap wait for it.  What was released is kept
 * as context (the last original bytes) and as records of the rewritten
 * spans, so that a retransmission with other boundaries gets the same
 * bytes.  Only what the receiving kernel would take teaches the stream:
 * a SYN, RST or FIN it would ignore changes nothing, and the urgent
 * pointer is cleared so that the application reads the bytes in line,
 * as they were scanned.
 *
 * Every flow of the table can have a stream: the slots are as many as
 * the flows, found from the flow (f->stream), so no flow ever takes
 * another's stream over.  A slot whose flow has gone is reclaimed by a
 * bounded sweep.  The bounds that remain (held and out-of-order segments
 * per flow, the pool) fail closed: the segment is dropped and counted,
 * and the client's TCP sends it again.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"
#include "detect.h"
#include "engine_int.h"
#include "flow.h"
#include "frame.h"
#include "packet.h"
#include "proxy.h"
#include "rewrite.h"
#include "ruleset.h"
#include "stream.h"

#define HOLD_CHUNK		2048u		/* pool allocation unit */
#define POOL_PER_FLOW		4096u
#define POOL_MIN		(4ull << 20)
#define POOL_MAX		(256ull << 20)
#define STREAM_CTX		64		/* released original bytes kept */
#define SPAN_MAX		32		/* rewritten spans remembered per flow */
#define SPAN_BYTES		1024u
#define WIN_MAX			(STREAM_CTX + STREAM_HOLD_BYTES + 65536u)
#define SWEEP_ON_ALLOC		4096		/* slots looked at when none is free */
#define FIELD_RUNS_MAX		4096		/* fields of a window scanned apart */
#define STALL_NS		10000000ull	/* a copy sent again after this is a
						 * retransmission (TCP's earliest, a
						 * tail loss probe, waits 10 ms) */

#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_ACK	0x10
#define TH_URG	0x20

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
	int32_t next_free;
	int16_t svc;
	bool at_start;			/* ctx holds the stream from its start */
	bool unknown;			/* spans were forgotten up to unknown_upto */
	bool clean;			/* the last release ended outside any candidate */
	uint32_t rel_seq;		/* end of what was released */
	uint32_t first_seq;		/* where this slot's record begins */
	uint32_t unknown_upto;
	int32_t held, held_last, ooo;	/* hold lists (in order; by seq) */
	unsigned n_held, n_ooo;
	uint32_t held_bytes, ooo_bytes;
	int32_t active;			/* index in the set's active list, -1 */
	uint16_t ctx_len, span_used;
	unsigned n_spans;
	struct frame_state frame;	/* the messages of what was released */
	uint8_t ctx[STREAM_CTX];	/* the last original bytes released */
	struct span spans[SPAN_MAX];
	uint8_t span_bytes[SPAN_BYTES];
};

/* A field (or header section) of a stream window, in window offsets. */
struct field_run {
	uint32_t start, end;
	uint8_t type;			/* enum frame_run */
};

struct stream_set {
	uint32_t id;			/* in struct flow's stream_set */
	uint32_t max, fresh, sweep_at, live;
	int32_t free_head;
	struct stream *streams;		/* max */
	int32_t *active;		/* slots with holds */
	unsigned n_active;
	uint64_t min_deadline;		/* no hold is due before; 0: none */
	uint8_t *pool;			/* n_chunks * HOLD_CHUNK */
	uint64_t *pool_map;		/* bit set: chunk in use */
	uint32_t n_chunks, chunk_low;	/* every chunk below chunk_low is used */
	uint32_t ooo_bytes_max;
	struct hold *holds;		/* by first chunk */
	int32_t *rel;			/* decided, to hand out */
	unsigned n_rel, rel_pos;
	uint8_t *win, *win_orig;	/* WIN_MAX: a stream window */
	/* DETECT_MAX_MATCHES each, in window offsets: */
	struct detect_range *wallow;	/* the window's allow ranges */
	struct detect_range *wdone;	/* the spans its own scan rewrote */
	unsigned n_wallow, n_wdone;
	struct field_run *runs;		/* FIELD_RUNS_MAX: a window's fields */
	unsigned n_runs;
	bool runs_full;
	/* the framing of the window tail_dirty() just read, and its runs,
	 * for the stream_decide() that follows on the same window */
	struct {
		const struct stream *st;	/* NULL: none */
		uint32_t from, wlen;
		struct frame_state in, out;
	} ahead;
};

static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* ---- the set -------------------------------------------------------------- */

uint64_t stream_pool_bytes(uint32_t max_flows)
{
	uint64_t b = (uint64_t)max_flows * POOL_PER_FLOW;

	return b < POOL_MIN ? POOL_MIN : b > POOL_MAX ? POOL_MAX : b;
}

static size_t streams_size(const struct stream_set *ss)
{
	return (size_t)ss->max * sizeof(struct stream);
}

struct stream_set *stream_set_new(uint32_t max_flows)
{
	static uint32_t next_id;
	struct stream_set *ss = calloc(1, sizeof(*ss));

	if (!ss || !max_flows)
		goto fail;
	ss->max = max_flows;
	/* whole words of the map */
	ss->n_chunks = (uint32_t)(stream_pool_bytes(max_flows) / HOLD_CHUNK) &
		       ~63u;
	ss->ooo_bytes_max = (uint32_t)(stream_pool_bytes(max_flows) / 8);
	if (ss->ooo_bytes_max > STREAM_OOO_BYTES)
		ss->ooo_bytes_max = STREAM_OOO_BYTES;
	ss->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
	if (!ss->id)	/* 0 is "none" in struct flow */
		ss->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
	ss->streams = bigmem_alloc(streams_size(ss));
	ss->active = bigmem_alloc((size_t)ss->max * sizeof(*ss->active));
	ss->pool = bigmem_alloc((size_t)ss->n_chunks * HOLD_CHUNK);
	ss->pool_map = calloc(ss->n_chunks / 64, sizeof(*ss->pool_map));
	ss->holds = bigmem_alloc((size_t)ss->n_chunks * sizeof(*ss->holds));
	ss->rel = bigmem_alloc((size_t)ss->n_chunks * sizeof(*ss->rel));
	ss->win = malloc(WIN_MAX);
	ss->win_orig = malloc(WIN_MAX);
	ss->wallow = calloc(DETECT_MAX_MATCHES, sizeof(*ss->wallow));
	ss->wdone = calloc(DETECT_MAX_MATCHES, sizeof(*ss->wdone));
	ss->runs = calloc(FIELD_RUNS_MAX, sizeof(*ss->runs));
	if (!ss->streams || !ss->active || !ss->pool || !ss->pool_map ||
	    !ss->holds || !ss->rel || !ss->win || !ss->win_orig ||
	    !ss->wallow || !ss->wdone || !ss->runs)
		goto fail;
	stream_set_reset(ss);
	return ss;
fail:
	stream_set_free(ss);
	return NULL;
}

void stream_set_free(struct stream_set *ss)
{
	if (!ss)
		return;
	bigmem_free(ss->streams, streams_size(ss));
	bigmem_free(ss->active, (size_t)ss->max * sizeof(*ss->active));
	bigmem_free(ss->pool, (size_t)ss->n_chunks * HOLD_CHUNK);
	bigmem_free(ss->holds, (size_t)ss->n_chunks * sizeof(*ss->holds));
	bigmem_free(ss->rel, (size_t)ss->n_chunks * sizeof(*ss->rel));
	free(ss->pool_map);
	free(ss->win);
	free(ss->win_orig);
	free(ss->wallow);
	free(ss->wdone);
	free(ss->runs);
	free(ss);
}

void stream_set_reset(struct stream_set *ss)
{
	/* slots past fresh were never touched */
	memset(ss->streams, 0, (size_t)ss->fresh * sizeof(*ss->streams));
	ss->fresh = ss->sweep_at = ss->live = 0;
	ss->free_head = -1;
	ss->n_active = 0;
	ss->min_deadline = 0;
	memset(ss->pool_map, 0, (ss->n_chunks / 64) * sizeof(*ss->pool_map));
	ss->chunk_low = 0;
	ss->n_rel = ss->rel_pos = 0;
	ss->n_wallow = ss->n_wdone = 0;
}

uint32_t stream_count(const struct stream_set *ss)
{
	return ss->live;
}

/* ---- the pool: runs of chunks, first fit ----------------------------------- */

static bool chunk_used(const struct stream_set *ss, uint32_t c)
{
	return ss->pool_map[c / 64] >> (c % 64) & 1;
}

static void chunks_mark(struct stream_set *ss, uint32_t c, uint32_t n, bool used)
{
	for (uint32_t k = c; k < c + n; k++) {
		if (used)
			ss->pool_map[k / 64] |= 1ull << (k % 64);
		else
			ss->pool_map[k / 64] &= ~(1ull << (k % 64));
	}
}

/*
 * Return: the first chunk of the lowest free run of @n, or -1.  First
 * fit keeps the pool's used part (and the memory it touches) compact;
 * chunk_low, below which every chunk is in use, spares the walk over a
 * full start.
 */
static int64_t chunks_find(struct stream_set *ss, uint32_t n)
{
	uint32_t run = 0;

	for (uint32_t c = ss->chunk_low; c < ss->n_chunks; c++) {
		if (!(c % 64) && ss->pool_map[c / 64] == ~0ull) {
			run = 0;
			c += 63;
			continue;
		}
		run = chunk_used(ss, c) ? 0 : run + 1;
		if (run == n) {
			c = c + 1 - n;
			if (c == ss->chunk_low)
				ss->chunk_low = c + n;
			return c;
		}
	}
	return -1;
}

static uint8_t *hold_data(struct stream_set *ss, const struct hold *h)
{
	return ss->pool + (size_t)h->chunk * HOLD_CHUNK;
}

/*
 * A copy of @p in the pool, its payload at stream position @seq.
 * Return: the hold's index, or -1 (pool full).
 */
static int32_t hold_new(struct stream_set *ss, const struct packet *p,
			uint32_t seq, uint64_t cookie, uint64_t deadline, int svc,
			unsigned flags)
{
	uint32_t n = (p->len + HOLD_CHUNK - 1) / HOLD_CHUNK;
	int64_t c;
	int32_t i;
	struct hold *h;

	if (!n || (c = chunks_find(ss, n)) < 0)
		return -1;
	/* a hold is named by its first chunk, which no other hold has */
	i = (int32_t)c;
	h = &ss->holds[i];
	chunks_mark(ss, (uint32_t)c, n, true);
	*h = (struct hold){
		.cookie = cookie, .deadline = deadline, .chunk = (uint32_t)c,
		.nchunks = n, .len = p->len, .seq = seq,
		.plen = p->payload_len, .poff = p->payload_off, .next = -1,
		.svc = (int16_t)svc, .csum_full = flags & ENGINE_F_CSUM_NOT_READY,
	};
	memcpy(hold_data(ss, h), p->data, p->len);
	if (deadline && (!ss->min_deadline || deadline < ss->min_deadline))
		ss->min_deadline = deadline;
	return i;
}

static void hold_free(struct stream_set *ss, int32_t i)
{
	struct hold *h = &ss->holds[i];

	chunks_mark(ss, h->chunk, h->nchunks, false);
	if (h->chunk < ss->chunk_low)
		ss->chunk_low = h->chunk;
}

void stream_release_reset(struct stream_set *ss)
{
	for (unsigned k = 0; k < ss->n_rel; k++)
		hold_free(ss, ss->rel[k]);
	ss->n_rel = ss->rel_pos = 0;
}

static void release_push(struct engine_worker *w, int32_t i, enum engine_verdict v)
{
	struct stream_set *ss = w->ss;
	struct hold *h = &ss->holds[i];

	h->verdict = (uint8_t)(v == ENGINE_ACCEPT && h->modified ?
			       ENGINE_MODIFIED : v);
	ss->rel[ss->n_rel++] = i;
	stats_of(w, h->svc)->hold_released++;
}

bool stream_next_release(struct engine_worker *w, struct engine_release *out)
{
	struct stream_set *ss = w->ss;
	struct hold *h;

	if (ss->rel_pos >= ss->n_rel)
		return false;
	h = &ss->holds[ss->rel[ss->rel_pos++]];
	*out = (struct engine_release){
		.cookie = h->cookie, .verdict = (enum engine_verdict)h->verdict,
		.data = hold_data(ss, h), .len = h->len, .service = h->svc,
	};
	return true;
}

/* Release every hold of list @head with verdict @v (a drop counted as @why). */
static void release_list(struct engine_worker *w, int32_t head,
			 enum engine_verdict v, enum engine_reason why)
{
	for (int32_t i = head, nx; i >= 0; i = nx) {
		nx = w->ss->holds[i].next;
		if (v == ENGINE_DROP)
			count_drop(stats_of(w, w->ss->holds[i].svc), why);
		release_push(w, i, v);
	}
}

/* ---- stream slots ---------------------------------------------------------- */

static void active_add(struct stream_set *ss, struct stream *st)
{
	if (st->active >= 0)
		return;
	st->active = (int32_t)ss->n_active;
	ss->active[ss->n_active++] = (int32_t)(st - ss->streams);
}

static void active_drop(struct stream_set *ss, struct stream *st)
{
	struct stream *last;

	if (st->active < 0 || st->n_held || st->n_ooo)
		return;
	last = &ss->streams[ss->active[--ss->n_active]];
	ss->active[st->active] = (int32_t)(last - ss->streams);
	last->active = st->active;
	st->active = -1;
}

/* Whether slot @st still belongs to the flow it names. */
static bool slot_live(const struct stream_set *ss, const struct stream *st)
{
	return st->f && st->f->stream_set == ss->id &&
	       st->f->stream == (uint32_t)(st - ss->streams) + 1;
}

static struct stream *stream_of(struct stream_set *ss, const struct flow *f)
{
	struct stream *st;

	if (f->stream_set != ss->id || !f->stream || f->stream > ss->max)
		return NULL;
	st = &ss->streams[f->stream - 1];
	return st->f == f ? st : NULL;
}

static void slot_free(struct stream_set *ss, struct stream *st)
{
	/* off the active list first: a slot made anew must not be on it */
	active_drop(ss, st);
	st->f = NULL;
	st->next_free = ss->free_head;
	ss->free_head = (int32_t)(st - ss->streams);
	ss->live--;
}

/* Free a slot whose flow has gone, when nothing is held in it. */
static bool slot_reclaim(struct stream_set *ss, struct stream *st)
{
	if (!st->f || slot_live(ss, st) || st->n_held || st->n_ooo)
		return false;
	slot_free(ss, st);
	return true;
}

void stream_sweep(struct stream_set *ss, uint32_t budget)
{
	for (uint32_t k = 0; k < budget && ss->fresh; k++) {
		if (ss->sweep_at >= ss->fresh)
			ss->sweep_at = 0;
		slot_reclaim(ss, &ss->streams[ss->sweep_at++]);
	}
}

static uint64_t stream_deadline(const struct stream_set *ss,
				const struct stream *st)
{
	uint64_t d = 0;

	if (st->held >= 0)
		d = ss->holds[st->held].deadline;
	if (st->ooo >= 0 && (!d || ss->holds[st->ooo].deadline < d))
		d = ss->holds[st->ooo].deadline;
	return d;
}

/*
 * A lower bound of the holds' deadlines, kept without a walk: stream_tick()
 * walks the held streams only once it is reached, and makes it exact.
 */
uint64_t stream_deadline_min(const struct stream_set *ss)
{
	return ss->n_active ? ss->min_deadline : 0;
}

/*
 * The stream of @f, given a slot when it has none.
 * Return: the stream, or NULL when every slot is taken (fail closed).
 */
/*
 * A new stream: framed as its service says when it is seen from its
 * first byte; a stream picked up in its middle has no message boundary
 * to start from, and is read as a plain stream.
 */
static struct stream *stream_get(struct stream_set *ss, struct flow *f,
				 enum frame_kind kind, struct engine_stats *stats)
{
	struct stream *st = stream_of(ss, f);
	uint32_t i;

	if (st)
		return st;
	if (ss->free_head < 0 && ss->fresh < ss->max) {
		ss->streams[ss->fresh].f = NULL;
		ss->streams[ss->fresh].next_free = -1;
		ss->free_head = (int32_t)ss->fresh++;
	}
	if (ss->free_head < 0)
		stream_sweep(ss, SWEEP_ON_ALLOC);
	if (ss->free_head < 0)
		return NULL;
	i = (uint32_t)ss->free_head;
	st = &ss->streams[i];
	ss->free_head = st->next_free;
	ss->live++;
	memset(st, 0, offsetof(struct stream, ctx));
	st->f = f;
	st->svc = f->svc;
	st->held = st->held_last = st->ooo = -1;
	st->next_free = -1;
	st->active = -1;
	st->rel_seq = st->first_seq = f->next_seq;
	st->clean = true;
	st->at_start = f->isn_known && f->next_seq == f->client_isn + 1;
	frame_init(&st->frame, st->at_start ? kind : FRAME_NONE);
	if (st->frame.kind != FRAME_NONE && st->frame.kind != FRAME_AUTO)
		stats->framed++;
	f->stream = i + 1;
	f->stream_set = ss->id;
	return st;
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
		/* a copy: the shift below overwrites spans[0] */
		const struct span s0 = st->spans[0];
		uint32_t end = s0.seq + s0.len;

		if (!st->unknown || seq_lt(st->unknown_upto, end))
			st->unknown_upto = end;
		st->unknown = true;
		memmove(st->span_bytes, st->span_bytes + s0.len,
			st->span_used - s0.len);
		st->span_used = (uint16_t)(st->span_used - s0.len);
		for (unsigned k = 1; k < st->n_spans; k++) {
			st->spans[k - 1] = st->spans[k];
			st->spans[k - 1].off = (uint16_t)(st->spans[k - 1].off - s0.len);
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

/* ---- deciding a window ------------------------------------------------- */

/* Patch bytes of a held copy's payload, keeping its checksum right. */
static void hold_patch(struct stream_set *ss, struct hold *h, uint32_t at,
		       const uint8_t *bytes, uint32_t len)
{
	uint8_t *d = hold_data(ss, h);
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
 * The allow ranges of the window buf[from, to), for redact_range(); no
 * span of it is rewritten yet.
 */
static enum engine_reason window_allow(struct redact_job *j, const uint8_t *buf,
				       uint32_t from, uint32_t to)
{
	struct stream_set *ss = j->w->ss;
	const struct detect_range *allow;
	int n;

	ss->n_wallow = 0;
	ss->n_wdone = 0;
	if (!j->svc->n_allow || to <= from)
		return ENGINE_R_NONE;
	n = detect_allow(j->svc, j->w->scratch, buf + from, to - from, &allow);
	if (n < 0)
		return ENGINE_R_SCAN_LIMIT;
	for (int i = 0; i < n; i++)
		ss->wallow[ss->n_wallow++] = (struct detect_range){
			from + allow[i].start, from + allow[i].end };
	return ENGINE_R_NONE;
}

/*
 * Redact the identifiers of buf[from, to), scanned as one buffer.
 *
 * The window's own scan (!@alone) leaves the groups that end at or
 * before @after (released context), finds the window's allow ranges and
 * records the spans it rewrote.  A segment's scan after it (@alone)
 * leaves out what touches one of those spans (the window saw those
 * bytes with what is around them, and judged them), and an
 * identifier is exempt only inside one of the window's allow ranges:
 * the same rule as a datagram's, over what the stream reads.
 * Return: ENGINE_R_NONE or a reason to fail closed.
 */
static enum engine_reason redact_range(struct redact_job *j, uint8_t *buf,
				       uint32_t from, uint32_t to, uint32_t after,
				       bool alone, unsigned flags)
{
	struct stream_set *ss = j->w->ss;
	struct redact_scope sc = { .base = from, .after = after };
	const struct detect_match *m;
	uint8_t *b = buf + from;
	int n;

	if (to <= from)
		return ENGINE_R_NONE;
	if (!alone) {
		enum engine_reason why = window_allow(j, buf, from, to);

		if (why != ENGINE_R_NONE)
			return why;
	}
	n = detect_scan(j->svc, j->w->scratch, b, to - from, flags, &m);
	if (n < 0)
		return ENGINE_R_SCAN_LIMIT;
	sc.allow = ss->wallow;
	sc.n_allow = (int)ss->n_wallow;
	if (alone) {
		sc.done = ss->wdone;
		sc.n_done = (int)ss->n_wdone;
	} else {
		sc.spans = ss->wdone;
		sc.spans_cap = DETECT_MAX_MATCHES;
	}
	redact_matches(j, b, m, n, &sc);
	if (!alone)
		ss->n_wdone = sc.n_spans;
	return ENGINE_R_NONE;
}

/* ---- message framing ------------------------------------------------------ */

static bool frame_in_force(const struct frame_state *fs)
{
	return fs->kind != FRAME_NONE && fs->kind != FRAME_AUTO;
}

/* How a field of @type is scanned: an HTTP or SIP body without header rules. */
static unsigned field_flags(const struct frame_state *fs, uint8_t type)
{
	if (type == FRAME_RUN_FIELD &&
	    (fs->kind == FRAME_HTTP || fs->kind == FRAME_SIP))
		return DETECT_NO_HEADERS;
	return DETECT_LINE_START;
}

/*
 * Where the field open at the end of a window of @wlen bytes begins
 * (@fs fed to its end), and how it is scanned; @wlen when the window
 * ends on a message boundary or inside framing bytes: then no identifier
 * is open, since none spans a message's or a field's end.
 */
static uint32_t open_field(const struct frame_state *fs, uint32_t wlen,
			   unsigned *flags)
{
	*flags = field_flags(fs, fs->run);
	if (!fs->msg_pos || fs->run == FRAME_RUN_STRUCT)
		return wlen;
	return fs->run_pos < wlen ? wlen - fs->run_pos : 0;
}

struct runs_ctx {
	struct stream_set *ss;
	uint32_t base;			/* window offset of the bytes fed */
};

/* frame_cb: the fields of the bytes fed, joined where one continues. */
static void runs_add(void *ctx, uint32_t off, uint32_t len,
		     enum frame_run type, unsigned flags)
{
	struct runs_ctx *rc = ctx;
	struct stream_set *ss = rc->ss;
	uint32_t a = rc->base + off, b = a + len;
	struct field_run *last = ss->n_runs ? &ss->runs[ss->n_runs - 1] : NULL;

	if (type == FRAME_RUN_STRUCT || !len)
		return;
	if (last && (ss->runs_full ||
		     (!(flags & FRAME_F_START) && last->end == a &&
		      last->type == type))) {
		/* past the bound, the rest is one field: scanned whole,
		 * header rules on, never less than a plain stream */
		last->end = b;
		if (ss->runs_full)
			last->type = FRAME_RUN_HEADERS;
		return;
	}
	if (ss->n_runs == FIELD_RUNS_MAX - 1)
		ss->runs_full = true;
	ss->runs[ss->n_runs++] = (struct field_run){ a, b, (uint8_t)type };
}

/*
 * Feed the window's new bytes win[from, wlen) to @fs (the stream's
 * framing, copied), their fields to ss->runs: the field open before
 * them first, from where it began (in the context, or its start).
 * Return: whether the window is read by its fields (a framing in force
 * at its end; else it is read as a plain stream).
 */
static bool frame_window(struct stream_set *ss, const struct stream *st,
			 struct frame_state *fs, const uint8_t *win,
			 uint32_t from, uint32_t wlen)
{
	struct runs_ctx rc = { ss, from };

	if (ss->ahead.st == st && ss->ahead.from == from &&
	    ss->ahead.wlen == wlen && !memcmp(&ss->ahead.in, fs, sizeof(*fs))) {
		/* tail_dirty() read this very window: its runs are there */
		ss->ahead.st = NULL;
		*fs = ss->ahead.out;
		return frame_in_force(fs);
	}
	ss->ahead.st = NULL;
	ss->n_runs = 0;
	ss->runs_full = false;
	if (fs->kind == FRAME_NONE) {
		frame_feed(fs, win + from, wlen - from, NULL, NULL);
		return false;
	}
	if (fs->msg_pos && fs->run != FRAME_RUN_STRUCT && fs->run_pos)
		ss->runs[ss->n_runs++] = (struct field_run){
			fs->run_pos < from ? from - fs->run_pos : 0, from,
			fs->run };
	frame_feed(fs, win + from, wlen - from, runs_add, &rc);
	return frame_in_force(fs);
}

/*
 * Scan the fields of the window win[skip, wlen) that ss->runs lists,
 * each as a buffer of its own (its first byte a buffer's start, so that
 * no length byte or tag before it hides an identifier, and none runs
 * into the framing bytes after it).  Groups that end at or before @cl
 * were released.
 */
static enum engine_reason scan_fields(struct redact_job *j,
				      const struct frame_state *fs, uint8_t *win,
				      uint32_t skip, uint32_t cl, uint32_t wlen)
{
	struct stream_set *ss = j->w->ss;
	enum engine_reason why = window_allow(j, win, skip, wlen);

	for (unsigned k = 0; k < ss->n_runs && why == ENGINE_R_NONE; k++) {
		const struct field_run *r = &ss->runs[k];
		uint32_t a = r->start > skip ? r->start : skip;

		if (r->end <= cl || r->end <= a)
			continue;
		why = redact_range(j, win, a, r->end, cl, true,
				   field_flags(fs, r->type));
	}
	return why;
}

/*
 * The framing of @st after the window's new bytes (@fs), counted:
 * recognised, fallen back, or ending on a message boundary.
 */
static void frame_commit(struct redact_job *j, struct stream *st,
			 const struct frame_state *fs, bool fed)
{
	if (st->frame.kind == FRAME_AUTO && frame_in_force(fs))
		j->st->framed++;
	if (st->frame.kind != FRAME_NONE && fs->kind == FRAME_NONE &&
	    fs->error != FRAME_E_UNKNOWN)
		j->st->frame_fallback++;
	if (fed && frame_at_boundary(fs))
		j->st->frame_boundary++;
	st->frame = *fs;
}

/* The stream is no longer read as messages (its bytes went unframed). */
static void frame_lost(struct redact_job *j, struct stream *st)
{
	struct frame_state fs;

	frame_init(&fs, FRAME_NONE);
	fs.error = FRAME_E_SYNTAX;
	frame_commit(j, st, &fs, false);
}

/* The window: context, held payloads, and @extra; Return: its length. */
static uint32_t window_fill(struct stream_set *ss, const struct stream *st,
			    const uint8_t *extra, uint32_t extra_len)
{
	uint8_t *win = ss->win;
	uint32_t wlen = st->ctx_len;

	memcpy(win, st->ctx, wlen);
	for (int32_t i = st->held; i >= 0; i = ss->holds[i].next) {
		struct hold *h = &ss->holds[i];

		memcpy(win + wlen, hold_data(ss, h) + h->poff, h->plen);
		wlen += h->plen;
	}
	if (extra_len)
		memcpy(win + wlen, extra, extra_len);
	return wlen + extra_len;
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
	struct stream_set *ss = w->ss;
	uint8_t *win = ss->win, *orig = ss->win_orig;
	uint32_t wlen, cl = st->ctx_len, skip = 0, base_seq;
	enum engine_reason why = ENGINE_R_NONE;
	struct frame_state fs = st->frame;
	bool fields = false;
	struct csum_ctx *saved_cc;

	wlen = window_fill(ss, st, np ? np->payload : NULL,
			   np && np->payload ? np->len : 0);
	base_seq = st->rel_seq - cl;
	memcpy(orig, win, wlen);
	/* the window is no packet: its checksums are done piece by piece */
	saved_cc = j->cc;
	j->cc = NULL;
	if (wlen > cl && j->svc->n_redact) {
		if (st->at_start && !cl) {
			int rc = redact_proxy(j, win, wlen, false);

			if (rc < 0) {
				why = proxy_reason(rc);
				goto out;
			}
			skip = (uint32_t)rc;
		}
		fields = frame_window(ss, st, &fs, win, skip > cl ? skip : cl,
				      wlen);
		if (fields) {
			/* messages: each field alone, none across a boundary */
			why = scan_fields(j, &fs, win, skip, cl, wlen);
			goto scanned;
		}
		if (st->clean && !st->n_held) {
			/* after a clean tail the new bytes are scanned alone,
			 * as a packet would be */
			uint32_t from = skip > cl ? skip : cl;

			/* an allow pattern may begin in the context */
			why = window_allow(j, win, skip, wlen);
			if (why == ENGINE_R_NONE)
				why = redact_range(j, win, from, wlen, 0, true,
						   DETECT_LINE_START);
			goto scanned;
		}
		why = redact_range(j, win, skip, wlen, cl, false, DETECT_LINE_START);
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
			     i = ss->holds[i].next) {
				uint32_t b = a + ss->holds[i].plen;

				why = redact_range(j, win, a > skip ? a : skip, b, 0,
						   true, DETECT_LINE_START);
				a = b;
			}
			if (np && np->payload && why == ENGINE_R_NONE)
				why = redact_range(j, win, a > skip ? a : skip, wlen,
						   0, true, DETECT_LINE_START);
		}
scanned:
		if (why != ENGINE_R_NONE)
			goto out;
		if (timeout) {
			/* framed, only the open field can hold an identifier */
			unsigned tfl = DETECT_LINE_START;
			uint32_t tf = fields ? open_field(&fs, wlen, &tfl) : 0;
			uint32_t sus, t = tf + detect_tail(j->svc, w->scratch,
							   win + tf, wlen - tf,
							   tfl, &sus);
			uint32_t from;

			sus += tf;
			from = sus > cl ? sus : cl;

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
	} else if (wlen > cl) {
		/* nothing to redact: the framing still follows the bytes */
		frame_window(ss, st, &fs, win, cl, wlen);
	}
out:
	j->cc = saved_cc;
	/* a window that failed was not read to its end: framing is lost */
	if (why != ENGINE_R_NONE)
		frame_lost(j, st);
	else
		frame_commit(j, st, &fs, wlen > cl);
	if (why != ENGINE_R_NONE) {
		/* the holds fail as the packet would have */
		for (int32_t i = st->held, nx; i >= 0; i = nx) {
			nx = ss->holds[i].next;
			release_push(w, i, fail_verdict(j->svc, j->st, why));
		}
	} else {
		uint32_t off = cl, k;

		for (int32_t i = st->held, nx; i >= 0; i = nx) {
			struct hold *h = &ss->holds[i];

			nx = h->next;
			hold_patch(ss, h, 0, win + off, h->plen);
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

/* The out-of-order holds of @st are dropped for @why. */
static void ooo_drop(struct engine_worker *w, struct stream *st,
		     enum engine_reason why)
{
	release_list(w, st->ooo, ENGINE_DROP, why);
	st->ooo = -1;
	st->n_ooo = 0;
	st->ooo_bytes = 0;
}

/* Every hold of @st, in order or not, is dropped for @why. */
static void holds_drop(struct engine_worker *w, struct stream *st,
		       enum engine_reason why)
{
	release_list(w, st->held, ENGINE_DROP, why);
	st->held = st->held_last = -1;
	st->n_held = 0;
	st->held_bytes = 0;
	ooo_drop(w, st, why);
	active_drop(w->ss, st);
}

/*
 * The holds of @st are due (or the stream ends): held segments are
 * decided by the timeout rule.  Out of order, after a gap that did not
 * fill: decided alone they would pass without the bytes before them (the
 * end of an identifier whose start was released).  The receiver's TCP
 * would not hand them to the application either; dropped, they come
 * again after the gap.  A slot whose flow has gone has its holds dropped.
 */
static void stream_flush(const struct ruleset *rs, struct flow_table *ft,
			 struct engine_worker *w, struct stream *st,
			 uint64_t now_ns, bool expired)
{
	struct stream_set *ss = w->ss;
	struct redact_job j;

	ss->ahead.st = NULL;
	if (!st->n_held && !st->n_ooo) {
		/* a decision that failed may have left it on the list */
		active_drop(ss, st);
		return;
	}
	if (!slot_live(ss, st)) {
		holds_drop(w, st, ENGINE_R_EVICTED);
		slot_reclaim(ss, st);
		return;
	}
	job_for(&j, rs, ft, w, st->svc, now_ns);
	/*
	 * The timeout rule's benefit of the doubt (a tail that is not yet
	 * an identifier goes as it is) is for a client that paused, or a
	 * message that is complete (`hold ... pass`, the default).  With
	 * bytes waiting beyond a gap the client did not pause: the held
	 * tail's continuation was lost on the way, and the tail is masked;
	 * so it is always with `hold ... mask`.
	 */
	j.mask_tail = expired && (st->ooo >= 0 || j.svc->hold_mask);
	if (st->n_held)
		stream_decide(&j, st, NULL, true);
	ooo_drop(w, st, ENGINE_R_GAP);
	active_drop(ss, st);
}

void stream_tick(const struct ruleset *rs, struct flow_table *ft,
		 struct engine_worker *w, uint64_t now_ns)
{
	struct stream_set *ss = w->ss;
	uint64_t best = 0;

	stream_release_reset(ss);
	if (!ss->n_active || (ss->min_deadline && now_ns < ss->min_deadline))
		return;
	for (unsigned k = 0; k < ss->n_active;) {
		struct stream *st = &ss->streams[ss->active[k]];
		uint64_t d = stream_deadline(ss, st);

		if (d && d <= now_ns) {
			stats_of(w, st->svc)->hold_timeouts++;
			stream_flush(rs, ft, w, st, now_ns, true);
			if (st->active < 0)
				continue;	/* swapped out: look at k again */
			d = stream_deadline(ss, st);
		}
		if (d && (!best || d < best))
			best = d;
		k++;
	}
	ss->min_deadline = best;
}

void stream_release_all(const struct ruleset *rs, struct flow_table *ft,
			struct engine_worker *w)
{
	struct stream_set *ss = w->ss;

	stream_release_reset(ss);
	while (ss->n_active)
		stream_flush(rs, ft, w, &ss->streams[ss->active[0]], 0, false);
}

void stream_drop_all(struct engine_worker *w)
{
	struct stream_set *ss = w->ss;

	stream_release_reset(ss);
	while (ss->n_active)
		holds_drop(w, &ss->streams[ss->active[0]], ENGINE_R_STOPPING);
}

void stream_adopt(struct engine_worker *to, struct engine_worker *from)
{
	const struct ruleset *rs = to->rs;
	struct stream_set *ss = from->ss;

	from->ss = to->ss;
	to->ss = ss;
	for (uint32_t i = 0; i < ss->fresh; i++) {
		struct stream *st = &ss->streams[i];
		int svc;

		if (!st->f)
			continue;
		st->held = st->held_last = st->ooo = -1;
		st->n_held = st->n_ooo = 0;
		st->held_bytes = st->ooo_bytes = 0;
		st->active = -1;
		/* Services are found again by port: indices may have moved. */
		svc = (int)rs->port_map[RS_PROTO_TCP][st->f->sport] - 1;
		if (svc < 0 || !slot_live(ss, st)) {
			if (slot_live(ss, st))
				st->f->stream = 0;
			slot_free(ss, st);
			continue;
		}
		st->svc = (int16_t)svc;
		st->f->svc = (uint8_t)svc;
	}
	ss->n_active = 0;
	ss->min_deadline = 0;
}

/* The part of span @s inside [@seq, @seq + @len): [*@a, *@b); false: none. */
static bool span_clip(const struct span *s, uint32_t seq, uint32_t len,
		      uint32_t *a, uint32_t *b)
{
	*a = seq_lt(s->seq, seq) ? seq : s->seq;
	*b = seq_lt(seq + len, s->seq + s->len) ? seq + len : s->seq + s->len;
	return seq_lt(*a, *b);
}

/* Overwrite the payload of @p (stream position @seq) up to @len from the spans. */
static void spans_apply(struct stream *st, struct csum_ctx *cc,
			struct packet *p, uint32_t seq, uint32_t len)
{
	uint8_t *pl = pkt_payload(p);
	uint32_t a, b;

	for (unsigned k = 0; k < st->n_spans; k++) {
		const struct span *s = &st->spans[k];

		if (span_clip(s, seq, len, &a, &b))
			patch(cc, pl + (a - seq),
			      st->span_bytes + s->off + (a - s->seq), b - a,
			      false, false);
	}
}

/*
 * Whether @st was read as messages: its records were decided field by
 * field, and a scan of a retransmission alone (which sees no fields)
 * must not add what they left out.
 */
static bool was_framed(const struct stream *st)
{
	return st->frame.kind != FRAME_NONE ||
	       (st->frame.error != FRAME_E_NONE &&
		st->frame.error != FRAME_E_UNKNOWN);
}

/*
 * The recorded spans of @st inside [@seq, @seq + @len), in offsets from
 * @seq, into @out (SPAN_MAX); Return: how many.
 */
static int spans_in(const struct stream *st, uint32_t seq, uint32_t len,
		    struct detect_range *out)
{
	uint32_t a, b;
	int n = 0;

	for (unsigned k = 0; k < st->n_spans; k++)
		if (span_clip(&st->spans[k], seq, len, &a, &b))
			out[n++] = (struct detect_range){ a - seq, b - seq };
	return n;
}

/*
 * Bytes sent again that the server may not have taken yet: the records
 * put back what was decided when they first came.  They are scanned
 * alone first, so that bytes other than the first copy's (a first copy
 * the receiver refused for a reason the engine does not check, such as
 * an old timestamp or an ACK of unsent data) are never passed unjudged.
 * The same bytes get the same rewrites, which the records then overlay.
 */
static enum engine_reason rescan(struct redact_job *j, const struct stream *st,
				 const struct flow *f, struct packet *p,
				 uint32_t seq, uint32_t len)
{
	const struct detect_match *m;
	const struct detect_range *allow = NULL;
	struct detect_range done[SPAN_MAX];
	struct redact_scope sc = { 0 };
	uint8_t *pl = pkt_payload(p);
	int n, n_allow = 0;

	if (!j->svc->n_redact)
		return ENGINE_R_NONE;
	if (f->isn_known && seq == f->client_isn + 1) {
		/*
		 * The stream's start: a PROXY header is read as then, as far
		 * as this copy holds it; the records give what it cut short.
		 */
		int rc = redact_proxy(j, pl, len, true);

		if (rc < 0)
			return proxy_reason(rc);
		pl += rc;
		len -= (uint32_t)rc;
		seq += (uint32_t)rc;
	}
	if (was_framed(st)) {
		/*
		 * Framed, the first copy's bytes were judged field by field:
		 * a match of this scan that touches a recorded span (a length
		 * byte or a packet id glued to an identifier) is the records'
		 * to decide, and they put back exactly what the server got.
		 */
		sc.done = done;
		sc.n_done = spans_in(st, seq, len, done);
	}
	n = detect_scan(j->svc, j->w->scratch, pl, len, DETECT_LINE_START, &m);
	if (n < 0)
		return ENGINE_R_SCAN_LIMIT;
	if (n && j->svc->n_allow) {
		n_allow = detect_allow(j->svc, j->w->scratch, pl, len, &allow);
		if (n_allow < 0)
			return ENGINE_R_SCAN_LIMIT;
	}
	sc.allow = allow;
	sc.n_allow = n_allow;
	redact_matches(j, pl, m, n, &sc);
	return ENGINE_R_NONE;
}

/*
 * The flow holds its most in-order segments: they are decided before
 * the next one joins.  Whatever tail could still begin an identifier is
 * masked whole, since the bytes that would judge it come in another
 * window (an email cut at the 64th segment of a filled loss burst would
 * otherwise pass its start).
 */
static enum engine_reason decide_at_bound(struct redact_job *j, struct stream *st)
{
	enum engine_reason why;

	j->st->hold_bound_hit++;
	j->mask_tail = true;
	why = stream_decide(j, st, NULL, true);
	j->mask_tail = false;
	return why;
}

/* Append hold @i to the in-order list of @st. */
static void held_append(struct stream_set *ss, struct stream *st, int32_t i)
{
	struct hold *h = &ss->holds[i];

	h->next = -1;
	if (st->held_last >= 0)
		ss->holds[st->held_last].next = i;
	else
		st->held = i;
	st->held_last = i;
	st->n_held++;
	st->held_bytes += h->plen;
}

/*
 * Move out-of-order holds that now continue the stream onto the held list,
 * within the flow's bounds on held segments (a stream window holds no
 * more): at a bound, what is held is decided first by the timeout rule,
 * as for a segment that comes in order.
 */
static void ooo_pull(struct redact_job *j, struct stream *st, struct flow *f)
{
	struct stream_set *ss = j->w->ss;
	struct engine_stats *stats = j->st;

	while (st->ooo >= 0) {
		int32_t i = st->ooo;
		struct hold *h = &ss->holds[i];

		if (seq_lt(f->next_seq, h->seq))
			break;
		st->ooo = h->next;
		st->n_ooo--;
		st->ooo_bytes -= h->plen;
		h->next = -1;
		if (h->seq != f->next_seq) {
			/* overlaps what came meanwhile: TCP sends it again */
			stats->retrans_dropped++;
			count_drop(stats, ENGINE_R_DUPLICATE);
			release_push(j->w, i, ENGINE_DROP);
			continue;
		}
		if (st->n_held && (st->n_held >= STREAM_HOLD_SEGS ||
				   st->held_bytes + h->plen > STREAM_HOLD_BYTES)) {
			(void)decide_at_bound(j, st);
		}
		held_append(ss, st, i);
		f->next_seq = h->seq + h->plen;
	}
}

/* Whether the window ctx + held (+ @extra) ends inside a candidate. */
static bool tail_dirty(struct redact_job *j, struct stream *st,
		       const uint8_t *extra, uint32_t extra_len)
{
	struct stream_set *ss = j->w->ss;
	uint8_t *win = ss->win;
	uint32_t wlen = window_fill(ss, st, extra, extra_len), sus, t;
	uint32_t cl = st->ctx_len, skip = 0, tf = 0;
	unsigned tfl = DETECT_LINE_START;

	if (wlen == cl)
		return false;
	if (st->at_start && !cl && rule_for(j->svc, DET_PROXY)) {
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
		if (rc == 1)
			skip = ph.hdr_len;
	}
	if (st->frame.kind != FRAME_NONE) {
		/*
		 * Read as messages, the window ends on a message boundary
		 * (released at once, whatever its last byte), in framing
		 * bytes (no identifier is open), or in a field: only that
		 * field's tail may begin an identifier.
		 */
		struct frame_state fs = st->frame;
		uint32_t from = skip > cl ? skip : cl;

		frame_window(ss, st, &fs, win, from, wlen);
		ss->ahead = (typeof(ss->ahead)){ st, from, wlen, st->frame, fs };
		if (frame_in_force(&fs)) {
			tf = open_field(&fs, wlen, &tfl);
			if (tf >= wlen)
				return false;
		}
	}
	t = detect_tail(j->svc, j->w->scratch, win + tf, wlen - tf, tfl, &sus);
	return tf + t < wlen;
}

/* Mask the payload bytes [0, @len) of @p: the receiver will not take them. */
static void payload_mask(struct redact_job *j, struct packet *p, uint32_t len)
{
	uint8_t *pl = pkt_payload(p);

	memcpy(j->w->span, pl, len);
	rewrite_mask(j->w->span, len);
	patch(j->cc, pl, j->w->span, len, false, false);
}

/*
 * A segment comes ahead of the stream, and the server acknowledges bytes
 * beyond all this worker passed or holds: an earlier reader passed them
 * (a stream picked up after a restart starts at the first segment seen,
 * which may be an old retransmission).  The client never sends
 * acknowledged bytes again, so a stream waiting for them would wait for
 * ever, its later segments dropped as `gap`.  It goes on from the ACK (or
 * from this segment, if it starts before), with no context before it;
 * bytes before that which still come pass masked, as the server has them.
 * With segments held, the server cannot have acknowledged them, and
 * nothing moves; in a stream seen from its SYN, nothing but this worker
 * passed its bytes, and an ACK beyond them moves nothing either (a
 * capture's server acknowledges what the dry-run dropped).
 */
static void ack_resume(struct redact_job *j, struct stream_set *ss,
		       struct flow *f, uint32_t seq)
{
	uint32_t to = seq_lt(f->server_ack, seq) ? f->server_ack : seq;
	struct stream *st;

	/* seen from its SYN, the stream has every byte the server got */
	if (f->isn_known || !(f->flags & FLOW_F_ACK) ||
	    !seq_lt(f->next_seq, to))
		return;
	st = stream_of(ss, f);
	if (st && st->n_held)
		return;
	f->next_seq = to;
	if (st) {
		st->rel_seq = to;
		st->ctx_len = 0;
		st->at_start = false;
		if (st->frame.kind != FRAME_NONE)
			frame_lost(j, st);
		ooo_pull(j, st, f);
	}
	j->st->ack_resumed++;
}

/*
 * The urgent pointer is cleared (and URG): the receiver's kernel would
 * take the urgent byte out of the stream, so that the application reads
 * other bytes than were scanned.  Without it, every byte reaches the
 * application in line, as scanned.
 */
static void urgent_clear(struct redact_job *j, struct packet *p)
{
	uint8_t *th = p->data + p->l4_off;
	uint8_t fl = th[13] & (uint8_t)~TH_URG;
	static const uint8_t zero[2];

	patch(j->cc, th + 13, &fl, 1, false, false);
	patch(j->cc, th + 18, zero, 2, false, false);
	p->tcp_flags = fl;
	j->st->urgent_cleared++;
}

/*
 * A SYN on a flow that has a stream: Linux starts a new connection only
 * when the old one is gone (closed both ways or reset: TIME_WAIT, or no
 * socket) or not yet established (the SYN again); in a synchronised
 * state it answers with a challenge ACK and discards the segment.
 */
static bool syn_starts_stream(const struct flow *f)
{
	return !(f->flags & FLOW_F_SEQ) || f->tcp_state == FLOW_TCP_SYN ||
	       f->tcp_state == FLOW_TCP_CLOSING;
}

/* A new stream at @isn: what the slot held of the old one is dropped. */
static void stream_restart(struct engine_worker *w, struct flow *f, uint32_t isn)
{
	struct stream_set *ss = w->ss;
	struct stream *st = stream_of(ss, f);

	if (st) {
		holds_drop(w, st, ENGINE_R_EVICTED);
		slot_free(ss, st);
		f->stream = 0;
	}
	f->isn_known = true;
	f->client_isn = isn;
	f->next_seq = isn + 1;
	f->flags |= FLOW_F_SEQ;
	f->flags &= (uint8_t)~FLOW_F_ACK;
}

enum engine_reason stream_inbound(struct redact_job *j, struct flow *f,
				  struct packet *p, uint64_t now_ns,
				  uint64_t cookie, unsigned flags,
				  enum stream_outcome *out, int32_t *held,
				  uint8_t *tcp_flags)
{
	const struct ruleset *rs = j->rs;
	struct engine_worker *w = j->w;
	struct stream_set *ss = w->ss;
	struct engine_stats *stats = j->st;
	uint64_t hold_ns = j->svc->hold_ns;
	uint32_t plen = p->payload_len, old = 0, seq = p->tcp_seq;
	struct stream *st;
	struct piece np;
	int32_t d;
	enum engine_reason why;
	bool fills, dirty;

	ss->ahead.st = NULL;
	*out = STREAM_NOW;
	*held = -1;
	if (p->tcp_flags & TH_URG)
		urgent_clear(j, p);
	*tcp_flags = p->tcp_flags;
	if ((p->tcp_flags & TH_RST) && plen) {
		/* a reset's data never reaches the application */
		payload_mask(j, p, plen);
		stats->not_delivered++;
		plen = 0;
	}
	if (p->tcp_flags & TH_SYN) {
		if (!syn_starts_stream(f)) {
			/* discarded by the receiver: teaches nothing */
			stats->not_delivered++;
			*tcp_flags &= (uint8_t)~(TH_SYN | TH_FIN | TH_RST);
			if (plen)
				payload_mask(j, p, plen);
			return ENGINE_R_NONE;
		}
		stream_restart(w, f, seq);
		if (!plen)
			return ENGINE_R_NONE;
		/* data on the SYN (TCP Fast Open) follows it in the stream */
		seq++;
	} else if (plen && !(p->tcp_flags & TH_ACK)) {
		/* Linux discards data without ACK in every synchronised state */
		return ENGINE_R_DISCARDED;
	}
	if (!(f->flags & FLOW_F_SEQ)) {
		f->next_seq = seq;
		f->flags |= FLOW_F_SEQ;
	}
	if (!plen) {
		if (p->tcp_flags & TH_RST) {
			/*
			 * RFC 5961 as Linux does it: a reset ends the stream
			 * only at exactly the next byte; otherwise a
			 * challenge ACK answers it, and nothing ends.
			 */
			if (seq != f->next_seq) {
				stats->not_delivered++;
				*tcp_flags &= (uint8_t)~TH_RST;
				return ENGINE_R_NONE;
			}
			st = stream_of(ss, f);
			if (st)
				stream_flush(rs, j->ft, w, st, now_ns, false);
		} else if (p->tcp_flags & TH_FIN) {
			/* a FIN counts once every byte before it is in */
			if (seq != f->next_seq) {
				*tcp_flags &= (uint8_t)~TH_FIN;
				return ENGINE_R_NONE;
			}
			f->next_seq = seq + 1;	/* the FIN takes a number */
			st = stream_of(ss, f);
			if (st && st->ooo < 0)
				stream_flush(rs, j->ft, w, st, now_ns, false);
		}
		return ENGINE_R_NONE;
	}
	ack_resume(j, ss, f, seq);
	st = stream_get(ss, f, (enum frame_kind)j->svc->frame, stats);
	if (!st)
		return ENGINE_R_STREAM_FULL;
	d = (int32_t)(seq - f->next_seq);

	if (d > 0) {
		int32_t i, *at = &st->ooo;

		stats->out_of_order++;
		/* an RST or FIN out of order is not acted upon */
		*tcp_flags &= (uint8_t)~(TH_RST | TH_FIN);
		if (!f->isn_known && !(f->flags & FLOW_F_ACK)) {
			/*
			 * Picked up mid-connection, and the server has not
			 * acknowledged anything yet: where it stands is
			 * unknown, and the bytes of the gap may be with it
			 * already (an earlier process passed them), never to
			 * come again.  Held, this would wait for them for
			 * ever, since the server hears nothing to acknowledge.
			 * It passes masked; the ACK it draws tells where the
			 * stream is (ack_resume()).
			 */
			payload_mask(j, p, plen);
			stats->retrans_no_record++;
			return ENGINE_R_NONE;
		}
		for (i = st->ooo; i >= 0; i = ss->holds[i].next) {
			struct hold *h = &ss->holds[i];

			if (seq_lt(seq, h->seq + h->plen) &&
			    seq_lt(h->seq, seq + plen)) {
				stats->retrans_dropped++;
				*out = STREAM_DROP;
				return ENGINE_R_NONE;
			}
		}
		if (!hold_ns) {
			/* the service never holds: the segment is decided alone */
			struct stream alone = { .f = f, .held = -1, .held_last = -1,
						.ooo = -1, .rel_seq = seq,
						.active = -1 };

			np = (struct piece){ pkt_payload(p), plen, j->cc };
			/* the stream's framing never sees these bytes */
			if (st->frame.kind != FRAME_NONE)
				frame_lost(j, st);
			return stream_decide(j, &alone, &np, true);
		}
		/*
		 * It cannot wait for the gap: dropped, since alone it would
		 * be judged without the bytes before it.  TCP sends it again.
		 */
		if (st->n_ooo >= STREAM_OOO_SEGS ||
		    st->ooo_bytes + plen > ss->ooo_bytes_max) {
			stats->hold_bound_hit++;
			return ENGINE_R_OOO_FULL;
		}
		i = hold_new(ss, p, seq, cookie, now_ns + hold_ns, f->svc, flags);
		if (i < 0) {
			stats->hold_pool_full++;
			return ENGINE_R_HOLD_FULL;
		}
		while (*at >= 0 && seq_lt(ss->holds[*at].seq, seq))
			at = &ss->holds[*at].next;
		ss->holds[i].next = *at;
		*at = i;
		st->n_ooo++;
		st->ooo_bytes += plen;
		stats->holds++;
		active_add(ss, st);
		*out = STREAM_HELD;
		*held = i;
		return ENGINE_R_NONE;
	}
	if (d < 0) {
		old = f->next_seq - seq;	/* -d, without negating INT32_MIN */
		if (old > plen)
			old = plen;
		if (st->n_held && seq_lt(st->rel_seq, seq + plen)) {
			/*
			 * The client sends held bytes again (later than a
			 * copy the network made): it waits for their ACK
			 * (after a loss its window may be one segment) and
			 * sends nothing new until then.  With `hold ...
			 * mask`, whose ending masks the undecided tail
			 * anyway, the held segments go now, that tail masked
			 * whole; what follows it is recognised from the
			 * context when it comes.  With `pass` they wait for
			 * the hold time, as a paused client's would.  This
			 * copy is dropped: the held original covers it.
			 */
			uint64_t since = ss->holds[st->held].deadline - hold_ns;

			/* when the held copy it repeats came */
			for (int32_t i = st->held; i >= 0; i = ss->holds[i].next)
				if (seq_le(ss->holds[i].seq, seq))
					since = ss->holds[i].deadline - hold_ns;
			if (j->svc->hold_mask && now_ns >= since + STALL_NS) {
				j->st->hold_stalled++;
				j->mask_tail = true;
				(void)stream_decide(j, st, NULL, true);
				j->mask_tail = false;
				active_drop(ss, st);
			}
			stats->retrans_dropped++;
			*out = STREAM_DROP;
			return ENGINE_R_NONE;
		}
		if ((f->flags & FLOW_F_ACK) && seq_le(seq + old, f->server_ack)) {
			/*
			 * The server has these bytes (its ACK got lost): its
			 * stack discards them and acknowledges again.  Pass
			 * them masked, or the connection would stall on a
			 * retransmission nobody keeps a record of.
			 */
			payload_mask(j, p, old);
			stats->retrans_patched++;
			if (old == plen)
				return ENGINE_R_NONE;
		} else if ((st->unknown && seq_lt(seq, st->unknown_upto)) ||
			   seq_lt(seq, st->first_seq)) {
			/*
			 * What was made of these bytes is no longer recorded
			 * (the record of rewritten spans is full), or was
			 * never kept (a stream picked up after a restart).
			 * The server has not acknowledged them: it may hold
			 * the first copy or part of it, or nothing.  Dropped,
			 * the client would send them again for ever while a
			 * server missing them waits; rescanned alone, an
			 * identifier cut across the first copy's boundaries
			 * could pass in two halves.  They pass masked:
			 * nothing of them is read as sent.
			 */
			payload_mask(j, p, old);
			stats->retrans_no_record++;
			if (old == plen)
				return ENGINE_R_NONE;
		} else {
			why = rescan(j, st, f, p, seq, old);
			if (why != ENGINE_R_NONE)
				return why;
			spans_apply(st, j->cc, p, seq, old);
			stats->retrans_patched++;
			if (old == plen)
				return ENGINE_R_NONE;
		}
	}

	/* in order: the new bytes are payload[old, plen) */
	np = (struct piece){ pkt_payload(p) + old, plen - old, j->cc };
	if (p->tcp_flags & TH_FIN) {
		/* the stream ends here: nothing more will decide the tail */
		why = stream_decide(j, st, &np, true);
		if (why == ENGINE_R_NONE) {
			f->next_seq = seq + plen + 1;	/* the FIN's number */
			stream_flush(rs, j->ft, w, st, now_ns, false);
		}
		active_drop(ss, st);
		return why;
	}
	/* a segment that fills the gap before held ones waits with them */
	fills = st->ooo >= 0 && seq_le(ss->holds[st->ooo].seq, seq + plen);
	dirty = hold_ns && (fills || tail_dirty(j, st, np.payload, np.len));
	if (dirty && !(st->n_held < STREAM_HOLD_SEGS &&
		       st->held_bytes + np.len <= STREAM_HOLD_BYTES)) {
		why = decide_at_bound(j, st);
		if (why != ENGINE_R_NONE)
			return why;
		dirty = fills || tail_dirty(j, st, np.payload, np.len);
	}
	if (dirty) {
		int32_t i = hold_new(ss, p, seq, cookie, now_ns + hold_ns, f->svc,
				     flags);

		if (i >= 0) {
			struct hold *h = &ss->holds[i];

			/* the held copy's stream bytes start at the new ones */
			h->seq += old;
			h->poff += old;
			h->plen -= old;
			held_append(ss, st, i);
			f->next_seq = seq + plen;
			stats->holds++;
			active_add(ss, st);
			*out = STREAM_HELD;
			*held = i;
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
	f->next_seq = seq + plen;
	active_drop(ss, st);
	return ENGINE_R_NONE;
}

void stream_hold_final(struct redact_job *j, struct flow *f, int32_t held,
		       const uint8_t *pkt, uint32_t len, bool modified)
{
	struct stream_set *ss = j->w->ss;
	struct hold *h = &ss->holds[held];
	struct stream *st = stream_of(ss, f);

	ss->ahead.st = NULL;
	/* the copy gets the final headers; its payload is decided later */
	memcpy(hold_data(ss, h), pkt, len);
	h->modified = modified;
	if (!st)
		return;
	ooo_pull(j, st, f);
	if (st->n_held && !tail_dirty(j, st, NULL, 0))
		(void)stream_decide(j, st, NULL, false);
	active_drop(ss, st);
}
