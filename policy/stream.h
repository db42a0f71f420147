/*
 * stream.h — client→server TCP streams as the server's kernel will
 * deliver them: hold-back of segments whose tail may begin an
 * identifier, reordering, records of rewrites for retransmissions.
 *
 * One struct stream_set per engine worker (not thread-safe).  A flow's
 * stream is found from the flow itself (struct flow's stream and
 * stream_set fields); there is one stream slot for every flow the flow
 * table can hold, so a stream is never taken over by another flow.
 * Every bound (the hold pool, held and out-of-order segments per flow)
 * fails closed: the segment is dropped, counted, and TCP sends it again.
 */
#ifndef NFREDACT_STREAM_H
#define NFREDACT_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

struct stream_set;
struct redact_job;
struct flow;
struct packet;
struct ruleset;
struct flow_table;
struct engine_worker;

/* Per-flow bounds. */
#define STREAM_HOLD_SEGS	64		/* held in order */
#define STREAM_HOLD_BYTES	65536u
#define STREAM_OOO_SEGS		512		/* held out of order */
#define STREAM_OOO_BYTES	(512u * 1024)	/* at most pool / 8 */

/*
 * stream_set_new() - stream state for a worker of a flow table of
 * @max_flows flows: that many stream slots, and a hold pool of
 * stream_pool_bytes(@max_flows).  Memory is reserved, and used as flows
 * come.
 * Return: the set or NULL.
 */
struct stream_set *stream_set_new(uint32_t max_flows);
void stream_set_free(struct stream_set *ss);

/* stream_pool_bytes() - the hold pool of a worker for @max_flows flows:
 * 4 KiB per flow, at least 4 MiB, at most 256 MiB */
uint64_t stream_pool_bytes(uint32_t max_flows);

/* Forget every stream and hold (held packets get no verdict). */
void stream_set_reset(struct stream_set *ss);

enum stream_outcome {
	STREAM_NOW,		/* verdict the packet now */
	STREAM_HELD,		/* a copy was kept: ENGINE_HOLD */
	STREAM_DROP,		/* a duplicate the held original covers */
};

/*
 * stream_inbound() - the client→server TCP segment @p of flow @f, as the
 * server's kernel would take it: its payload is rewritten as far as it
 * is decided, or a copy is held (*@out STREAM_HELD, *@held its index).
 * *@tcp_flags: the flags of @p that the receiver acts upon (an RST or FIN
 * it would ignore is taken out), for flow_update().
 * Return: ENGINE_R_NONE, or a reason to fail closed with.
 */
enum engine_reason stream_inbound(struct redact_job *j, struct flow *f,
				  struct packet *p, uint64_t now_ns,
				  uint64_t cookie, unsigned flags,
				  enum stream_outcome *out, int32_t *held,
				  uint8_t *tcp_flags);

/*
 * stream_hold_final() - the held copy @held of @f gets the packet's final
 * bytes (@pkt, rewritten headers), and the stream settles: out-of-order
 * holds that now follow join it, and a clean tail releases them.
 */
void stream_hold_final(struct redact_job *j, struct flow *f, int32_t held,
		       const uint8_t *pkt, uint32_t len, bool modified);

/* Released holds are freed at the next call (stream_release_reset()). */
void stream_release_reset(struct stream_set *ss);
bool stream_next_release(struct engine_worker *w, struct engine_release *out);

void stream_tick(const struct ruleset *rs, struct flow_table *ft,
		 struct engine_worker *w, uint64_t now_ns);
uint64_t stream_deadline_min(const struct stream_set *ss);
void stream_release_all(const struct ruleset *rs, struct flow_table *ft,
			struct engine_worker *w);
void stream_drop_all(struct engine_worker *w);

/*
 * stream_sweep() - free up to @budget slots whose flow is gone (bounded
 * work, a slice at a time)
 */
void stream_sweep(struct stream_set *ss, uint32_t budget);

/* The set of @from goes to @to (a reload), services found again by port. */
void stream_adopt(struct engine_worker *to, struct engine_worker *from);

/* Live streams, and the hold pool's use, for the stats. */
uint32_t stream_count(const struct stream_set *ss);

#endif
