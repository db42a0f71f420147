/*
 * stats.c — render the counter snapshot for the control socket.  The
 * text form is one "name value" a line (service.NAME.counter, queue.N.x);
 * the Prometheus form groups each metric family under one HELP/TYPE.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "policy.h"
#include "stats.h"

/* Label value of traffic that no service covers. */
#define STATS_UNCOVERED "(none)"

void stats_add(struct engine_stats *dst, const struct engine_stats *src)
{
	dst->packets_in += src->packets_in;
	dst->packets_out += src->packets_out;
	dst->bytes_in += src->bytes_in;
	dst->bytes_out += src->bytes_out;
	dst->changed += src->changed;
	dst->dropped += src->dropped;
	dst->malformed += src->malformed;
	dst->on_error_accepted += src->on_error_accepted;
	dst->icmp_translated += src->icmp_translated;
	dst->flows_created += src->flows_created;
	dst->holds += src->holds;
	dst->hold_released += src->hold_released;
	dst->hold_timeout_masked += src->hold_timeout_masked;
	dst->hold_timeout_passed += src->hold_timeout_passed;
	dst->hold_bound_hit += src->hold_bound_hit;
	dst->hold_stalled += src->hold_stalled;
	dst->hold_pool_full += src->hold_pool_full;
	dst->out_of_order += src->out_of_order;
	dst->retrans_patched += src->retrans_patched;
	dst->retrans_dropped += src->retrans_dropped;
	dst->retrans_no_record += src->retrans_no_record;
	dst->not_delivered += src->not_delivered;
	dst->urgent_cleared += src->urgent_cleared;
	dst->ack_resumed += src->ack_resumed;
	dst->framed += src->framed;
	dst->frame_boundary += src->frame_boundary;
	dst->frame_fallback += src->frame_fallback;
	for (unsigned i = 0; i < ENGINE_R__COUNT; i++) {
		dst->reasons[i] += src->reasons[i];
		dst->drops[i] += src->drops[i];
	}
	for (unsigned i = 0; i < DET__COUNT; i++)
		dst->detector[i] += src->detector[i];
	for (unsigned i = 0; i < ACT__COUNT; i++)
		dst->action[i] += src->action[i];
}

/* The simple per-service counters, by name and offset. */
struct svc_counter {
	const char *text;	/* text name */
	const char *metric;	/* Prometheus family */
	const char *label;	/* a second label (name="value"), or NULL */
	const char *help;	/* NULL: same family as the one before */
	size_t off;
};

#define SC(t, m, d, h, f) { t, m, d, h, offsetof(struct engine_stats, f) }
static const struct svc_counter svc_counters[] = {
	SC("packets_in", "nfredact_packets_total", "direction=\"in\"",
	   "Packets seen, by direction.", packets_in),
	SC("packets_out", "nfredact_packets_total", "direction=\"out\"", NULL,
	   packets_out),
	SC("bytes_in", "nfredact_bytes_total", "direction=\"in\"",
	   "Bytes seen, by direction.", bytes_in),
	SC("bytes_out", "nfredact_bytes_total", "direction=\"out\"", NULL,
	   bytes_out),
	SC("changed", "nfredact_packets_changed_total", NULL,
	   "Packets rewritten.", changed),
	SC("dropped", "nfredact_packets_dropped_total", NULL,
	   "Packets dropped (fail closed).", dropped),
	SC("malformed", "nfredact_packets_malformed_total", NULL,
	   "Packets that could not be decoded.", malformed),
	SC("on_error_accepted", "nfredact_on_error_accepted_total", NULL,
	   "Packets passed unchanged by on-error accept.", on_error_accepted),
	SC("icmp_translated", "nfredact_icmp_translated_total", NULL,
	   "ICMP errors whose quoted header was translated.", icmp_translated),
	SC("flows_created", "nfredact_flows_created_total", NULL,
	   "Flows created.", flows_created),
	SC("holds", "nfredact_holds_total", NULL,
	   "TCP segments held back: their tail may begin an identifier.", holds),
	SC("hold_released", "nfredact_hold_ends_total", "how=\"released\"",
	   "Held segments decided, by how: the bytes after them came, or the "
	   "hold time passed (tail masked or passed as is); and the bounds: "
	   "the flow's (held segments decided early, or an out-of-order one "
	   "dropped), the worker's pool (a segment that could not be held, "
	   "dropped).", hold_released),
	SC("hold_timeout_masked", "nfredact_hold_ends_total",
	   "how=\"timeout-masked\"", NULL, hold_timeout_masked),
	SC("hold_timeout_passed", "nfredact_hold_ends_total",
	   "how=\"timeout-passed\"", NULL, hold_timeout_passed),
	SC("hold_bound_hit", "nfredact_hold_ends_total", "how=\"flow-bound\"",
	   NULL, hold_bound_hit),
	SC("hold_pool_full", "nfredact_hold_ends_total", "how=\"pool-full\"",
	   NULL, hold_pool_full),
	SC("hold_stalled", "nfredact_hold_ends_total", "how=\"stalled\"",
	   NULL, hold_stalled),
	SC("out_of_order", "nfredact_tcp_out_of_order_total", NULL,
	   "TCP segments that arrived ahead of a gap.", out_of_order),
	SC("retrans_patched", "nfredact_tcp_retransmissions_total",
	   "how=\"patched\"",
	   "Retransmitted segments, by how they were made to match what the "
	   "server already got.", retrans_patched),
	SC("retrans_dropped", "nfredact_tcp_retransmissions_total",
	   "how=\"dropped\"", NULL, retrans_dropped),
	SC("retrans_no_record", "nfredact_tcp_retransmissions_total",
	   "how=\"no-record\"", NULL, retrans_no_record),
	SC("not_delivered", "nfredact_tcp_not_delivered_total", NULL,
	   "TCP segments or flags the server's kernel would ignore (a SYN "
	   "inside a connection, a reset not at the next byte, a reset's "
	   "data): passed without teaching the stream, data masked.",
	   not_delivered),
	SC("urgent_cleared", "nfredact_tcp_urgent_cleared_total", NULL,
	   "TCP urgent pointers cleared, so that the application reads the "
	   "urgent byte in line, as it was scanned.", urgent_cleared),
	SC("ack_resumed", "nfredact_tcp_ack_resumed_total", NULL,
	   "TCP streams that went on from the server's acknowledgement of "
	   "bytes this process never passed (an earlier one did).",
	   ack_resumed),
	SC("framed", "nfredact_frame_streams_total", "how=\"framed\"",
	   "TCP streams by how they were read: as messages of a framing, or "
	   "as messages until bytes the framing does not allow (garbage, a "
	   "length beyond its limits, a protocol switch), and from there on "
	   "as a plain stream.", framed),
	SC("frame_fallback", "nfredact_frame_streams_total",
	   "how=\"fell-back\"", NULL, frame_fallback),
	SC("frame_boundary", "nfredact_frame_boundaries_total", NULL,
	   "TCP segments that ended exactly on a message boundary: never "
	   "held.", frame_boundary),
};

static uint64_t counter_at(const struct engine_stats *st, size_t off)
{
	return *(const uint64_t *)((const char *)st + off);
}

static void text_service(FILE *out, const struct stats_service *s)
{
	char pfx[160];

	if (s->name)
		snprintf(pfx, sizeof(pfx), "service.%s.", s->name);
	else
		snprintf(pfx, sizeof(pfx), "uncovered.");
	for (size_t i = 0; i < sizeof(svc_counters) / sizeof(svc_counters[0]); i++)
		fprintf(out, "%s%s %" PRIu64 "\n", pfx, svc_counters[i].text,
			counter_at(&s->st, svc_counters[i].off));
	for (unsigned d = 0; d < DET__COUNT; d++)
		fprintf(out, "%sdetector.%s %" PRIu64 "\n", pfx,
			policy_det_name((enum det_kind)d), s->st.detector[d]);
	for (unsigned a = 0; a < ACT__COUNT; a++)
		fprintf(out, "%saction.%s %" PRIu64 "\n", pfx,
			policy_act_name((enum act_kind)a), s->st.action[a]);
	for (unsigned r = ENGINE_R_NONE + 1; r < ENGINE_R__COUNT; r++)
		fprintf(out, "%sreason.%s %" PRIu64 "\n", pfx,
			engine_reason_name((enum engine_reason)r),
			s->st.reasons[r]);
	for (unsigned r = ENGINE_R_NONE + 1; r < ENGINE_R__COUNT; r++)
		fprintf(out, "%sdrop.%s %" PRIu64 "\n", pfx,
			engine_reason_name((enum engine_reason)r),
			s->st.drops[r]);
}

static void render_text(FILE *out, const struct stats_snapshot *s)
{
	fprintf(out, "uptime_seconds %" PRIu64 "\n", s->uptime_s);
	fprintf(out, "reloads %" PRIu64 "\n", s->reloads);
	fprintf(out, "reload_failures %" PRIu64 "\n", s->reload_failures);
	fprintf(out, "flows.live %" PRIu32 "\n", s->flows);
	fprintf(out, "flows.table_bytes %" PRIu64 "\n", s->flow_bytes);
	fprintf(out, "lock.acquired %" PRIu64 "\n", s->lock_acquired);
	fprintf(out, "lock.contended %" PRIu64 "\n", s->lock_contended);
	fprintf(out, "control.refused %" PRIu64 "\n", s->control_refused);
	fprintf(out, "control.dropped %" PRIu64 "\n", s->control_dropped);
	if (s->rules_known) {
		fprintf(out, "rules.managed %d\n", s->rules_managed ? 1 : 0);
		fprintf(out, "rules.present %d\n", s->rules_present ? 1 : 0);
		fprintf(out, "rules.restored %" PRIu64 "\n", s->rules_restored);
	}
	for (unsigned i = 0; i < s->n_queues; i++) {
		const struct stats_queue *q = &s->q[i];

		fprintf(out, "queue.%u.outbound %d\n", q->num,
			q->outbound ? 1 : 0);
		fprintf(out, "queue.%u.bound %d\n", q->num, q->bound ? 1 : 0);
		fprintf(out, "queue.%u.waiting %" PRIu32 "\n", q->num, q->waiting);
		fprintf(out, "queue.%u.queue_dropped %" PRIu64 "\n", q->num,
			q->queue_dropped);
		fprintf(out, "queue.%u.user_dropped %" PRIu64 "\n", q->num,
			q->user_dropped);
		fprintf(out, "queue.%u.packets %" PRIu64 "\n", q->num, q->packets);
		fprintf(out, "queue.%u.verdict_errors %" PRIu64 "\n", q->num,
			q->verdict_errors);
		fprintf(out, "queue.%u.recv_errors %" PRIu64 "\n", q->num,
			q->recv_errors);
		fprintf(out, "queue.%u.send_errors %" PRIu64 "\n", q->num,
			q->send_errors);
		fprintf(out, "queue.%u.bad_messages %" PRIu64 "\n", q->num,
			q->bad_msgs);
		fprintf(out, "queue.%u.wrong_hook %" PRIu64 "\n", q->num,
			q->wrong_hook);
		fprintf(out, "queue.%u.held %" PRIu64 "\n", q->num, q->held);
		fprintf(out, "queue.%u.held_bytes %" PRIu64 "\n", q->num,
			q->held_bytes);
	}
	for (unsigned i = 0; i < s->n_services; i++)
		text_service(out, &s->svc[i]);
}

/* A label value, escaped as the exposition format wants. */
static void prom_label(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void prom_head(FILE *out, const char *name, const char *type,
		      const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_svc(FILE *out, const char *metric, const struct stats_service *s)
{
	fprintf(out, "%s{service=\"", metric);
	prom_label(out, s->name ? s->name : STATS_UNCOVERED);
	fputc('"', out);
}

static void render_prom(FILE *out, const struct stats_snapshot *s)
{
	size_t nc = sizeof(svc_counters) / sizeof(svc_counters[0]);

	prom_head(out, "nfredact_uptime_seconds", "gauge",
		  "Seconds since nfredactd started.");
	fprintf(out, "nfredact_uptime_seconds %" PRIu64 "\n", s->uptime_s);
	prom_head(out, "nfredact_reloads_total", "counter",
		  "Policy reloads that took effect.");
	fprintf(out, "nfredact_reloads_total %" PRIu64 "\n", s->reloads);
	prom_head(out, "nfredact_reload_failures_total", "counter",
		  "Policy reloads refused (the old policy stayed).");
	fprintf(out, "nfredact_reload_failures_total %" PRIu64 "\n",
		s->reload_failures);
	prom_head(out, "nfredact_flows", "gauge", "Live flows.");
	fprintf(out, "nfredact_flows %" PRIu32 "\n", s->flows);
	prom_head(out, "nfredact_flow_table_bytes", "gauge",
		  "Memory held by the flow table.");
	fprintf(out, "nfredact_flow_table_bytes %" PRIu64 "\n", s->flow_bytes);
	prom_head(out, "nfredact_engine_lock_acquired_total", "counter",
		  "Engine lock acquisitions.");
	fprintf(out, "nfredact_engine_lock_acquired_total %" PRIu64 "\n",
		s->lock_acquired);
	prom_head(out, "nfredact_engine_lock_contended_total", "counter",
		  "Engine lock acquisitions that had to wait.");
	fprintf(out, "nfredact_engine_lock_contended_total %" PRIu64 "\n",
		s->lock_contended);
	prom_head(out, "nfredact_control_refused_total", "counter",
		  "Control socket clients refused: neither root nor in the "
		  "nfredact group.");
	fprintf(out, "nfredact_control_refused_total %" PRIu64 "\n",
		s->control_refused);
	prom_head(out, "nfredact_control_dropped_total", "counter",
		  "Control socket clients closed before their answer: too slow, "
		  "or pushed out by newer clients.");
	fprintf(out, "nfredact_control_dropped_total %" PRIu64 "\n",
		s->control_dropped);
	if (s->rules_known) {
		prom_head(out, "nfredact_rules_managed", "gauge",
			  "1 when nfredactd owns its queue rules and restores "
			  "them (--install-rules); 0 when it only checks them "
			  "(another process, such as the rules keeper, owns "
			  "them).");
		fprintf(out, "nfredact_rules_managed %d\n",
			s->rules_managed ? 1 : 0);
		prom_head(out, "nfredact_rules_present", "gauge",
			  "1 when the last check found the queue rules in place.");
		fprintf(out, "nfredact_rules_present %d\n",
			s->rules_present ? 1 : 0);
		prom_head(out, "nfredact_rules_restored_total", "counter",
			  "Times the queue rules were found missing or changed "
			  "and put back.");
		fprintf(out, "nfredact_rules_restored_total %" PRIu64 "\n",
			s->rules_restored);
	}

	enum { QM_U64, QM_U32, QM_BOOL };
	static const struct {
		const char *name, *type, *help;
		size_t off;
		int kind;
	} qm[] = {
		{ "nfredact_queue_outbound", "gauge",
		  "1 for a queue of packets to clients (outbound and replies "
		  "chains), 0 for one of client packets (inbound chain).",
		  offsetof(struct stats_queue, outbound), QM_BOOL },
		{ "nfredact_queue_bound", "gauge",
		  "1 when the kernel lists the queue.",
		  offsetof(struct stats_queue, bound), QM_BOOL },
		{ "nfredact_queue_waiting", "gauge",
		  "Packets waiting for a verdict.",
		  offsetof(struct stats_queue, waiting), QM_U32 },
		{ "nfredact_queue_dropped_total", "counter",
		  "Packets the kernel dropped: queue full.",
		  offsetof(struct stats_queue, queue_dropped), QM_U64 },
		{ "nfredact_queue_user_dropped_total", "counter",
		  "Packets the kernel dropped: netlink socket full.",
		  offsetof(struct stats_queue, user_dropped), QM_U64 },
		{ "nfredact_queue_packets_total", "counter",
		  "Packets read from the queue.",
		  offsetof(struct stats_queue, packets), QM_U64 },
		{ "nfredact_queue_verdict_errors_total", "counter",
		  "Verdicts the kernel refused.",
		  offsetof(struct stats_queue, verdict_errors), QM_U64 },
		{ "nfredact_queue_recv_errors_total", "counter",
		  "Failed reads from the queue socket.",
		  offsetof(struct stats_queue, recv_errors), QM_U64 },
		{ "nfredact_queue_send_errors_total", "counter",
		  "Failed verdict sends (those packets stay queued).",
		  offsetof(struct stats_queue, send_errors), QM_U64 },
		{ "nfredact_queue_bad_messages_total", "counter",
		  "Messages from the queue that could not be used.",
		  offsetof(struct stats_queue, bad_msgs), QM_U64 },
		{ "nfredact_queue_wrong_hook_total", "counter",
		  "Packets dropped: queued at a hook this queue's rules never "
		  "use (tables of another layout).",
		  offsetof(struct stats_queue, wrong_hook), QM_U64 },
		{ "nfredact_queue_held_packets", "gauge",
		  "Packets held back now, waiting for the bytes after them.",
		  offsetof(struct stats_queue, held), QM_U64 },
		{ "nfredact_queue_held_bytes", "gauge",
		  "Bytes of the packets held back now.",
		  offsetof(struct stats_queue, held_bytes), QM_U64 },
	};
	for (size_t m = 0; m < sizeof(qm) / sizeof(qm[0]); m++) {
		prom_head(out, qm[m].name, qm[m].type, qm[m].help);
		for (unsigned i = 0; i < s->n_queues; i++) {
			const struct stats_queue *q = &s->q[i];
			const char *p = (const char *)q + qm[m].off;
			uint64_t v;

			if (qm[m].kind == QM_BOOL)
				v = *(const bool *)p;
			else if (qm[m].kind == QM_U32)
				v = *(const uint32_t *)p;
			else
				v = *(const uint64_t *)p;
			fprintf(out, "%s{queue=\"%u\"} %" PRIu64 "\n",
				qm[m].name, q->num, v);
		}
	}

	for (size_t c = 0; c < nc; c++) {
		const struct svc_counter *sc = &svc_counters[c];

		if (sc->help)
			prom_head(out, sc->metric, "counter", sc->help);
		for (unsigned i = 0; i < s->n_services; i++) {
			prom_svc(out, sc->metric, &s->svc[i]);
			if (sc->label)
				fprintf(out, ",%s", sc->label);
			fprintf(out, "} %" PRIu64 "\n",
				counter_at(&s->svc[i].st, sc->off));
		}
	}
	prom_head(out, "nfredact_identifiers_total", "counter",
		  "Identifiers found, by detector.");
	for (unsigned i = 0; i < s->n_services; i++)
		for (unsigned d = 0; d < DET__COUNT; d++) {
			prom_svc(out, "nfredact_identifiers_total", &s->svc[i]);
			fprintf(out, ",detector=\"%s\"} %" PRIu64 "\n",
				policy_det_name((enum det_kind)d),
				s->svc[i].st.detector[d]);
		}
	prom_head(out, "nfredact_rewrites_total", "counter",
		  "Rewrites done, by action.");
	for (unsigned i = 0; i < s->n_services; i++)
		for (unsigned a = 0; a < ACT__COUNT; a++) {
			prom_svc(out, "nfredact_rewrites_total", &s->svc[i]);
			fprintf(out, ",action=\"%s\"} %" PRIu64 "\n",
				policy_act_name((enum act_kind)a),
				s->svc[i].st.action[a]);
		}
	prom_head(out, "nfredact_reasons_total", "counter",
		  "Packets by the reason of their verdict.");
	for (unsigned i = 0; i < s->n_services; i++)
		for (unsigned r = ENGINE_R_NONE + 1; r < ENGINE_R__COUNT; r++) {
			prom_svc(out, "nfredact_reasons_total", &s->svc[i]);
			fprintf(out, ",reason=\"%s\"} %" PRIu64 "\n",
				engine_reason_name((enum engine_reason)r),
				s->svc[i].st.reasons[r]);
		}
	prom_head(out, "nfredact_drops_total", "counter",
		  "Packets dropped, by reason (they add up to "
		  "nfredact_packets_dropped_total).");
	for (unsigned i = 0; i < s->n_services; i++)
		for (unsigned r = ENGINE_R_NONE + 1; r < ENGINE_R__COUNT; r++) {
			prom_svc(out, "nfredact_drops_total", &s->svc[i]);
			fprintf(out, ",reason=\"%s\"} %" PRIu64 "\n",
				engine_reason_name((enum engine_reason)r),
				s->svc[i].st.drops[r]);
		}
}

int stats_render(FILE *out, const struct stats_snapshot *s, bool prometheus)
{
	if (prometheus)
		render_prom(out, s);
	else
		render_text(out, s);
	return ferror(out) ? -EIO : 0;
}
