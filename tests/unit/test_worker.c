/*
 * test_worker.c — what a worker tells the engine about each packet: the
 * direction of its queue (ENGINE_DIR_IN from an inbound queue,
 * ENGINE_DIR_OUT from an outbound one, never ENGINE_DIR_AUTO) and the
 * kernel's checksum flags, for packet messages built here as the kernel
 * lays them out and parsed by the daemon's own parser; and that a packet
 * from a hook its queue never gets is dropped and counted without
 * reaching the engine.  The queue socket, the engine and the daemon's
 * shared state are stand-ins that record what the worker does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/*
 * The worker and the parser are not in the policy library: build them in
 * (the parser first: its socket headers must come before the kernel's).
 */
#include "../../filter/nfqmsg.c"
#include "../../filter/worker.c"

#define MAX_PKTS	8
#define MSG_MAX		512

/* ---- a queue socket: messages in, verdicts out -------------------------- */

struct queue {
	uint16_t num;
	_Alignas(8) uint8_t msg[MAX_PKTS][MSG_MAX];	/* netlink messages are aligned */
	unsigned n_msg, next;
	/* verdicts, in the order sent */
	uint32_t vid[MAX_PKTS];
	enum verdict_kind vkind[MAX_PKTS];
	unsigned n_verdicts;
};

uint16_t queue_num(const struct queue *q)
{
	return q->num;
}

bool queue_next(struct queue *q, struct queue_pkt *p)
{
	while (q->next < q->n_msg)
		if (nfqmsg_parse_packet((struct nlmsghdr *)q->msg[q->next++], p))
			return true;
	return false;
}

int queue_verdict(struct queue *q, uint32_t id, enum verdict_kind kind,
		  const uint8_t *data, uint32_t len)
{
	(void)data;
	(void)len;
	assert_true(q->n_verdicts < MAX_PKTS);
	q->vid[q->n_verdicts] = id;
	q->vkind[q->n_verdicts++] = kind;
	return 0;
}

int queue_hold(struct queue *q, uint32_t id, uint32_t len)
{
	(void)q;
	(void)id;
	(void)len;
	fail_msg("nothing is held here");
	return 0;
}

int queue_release(struct queue *q, uint32_t id, enum verdict_kind kind,
		  const uint8_t *data, uint32_t len)
{
	return queue_verdict(q, id, kind, data, len);
}

int queue_fd(const struct queue *q)
{
	(void)q;
	return -1;
}

int queue_recv(struct queue *q, bool wait)
{
	(void)wait;
	return (int)(q->n_msg - q->next);
}

bool queue_drained(const struct queue *q)
{
	(void)q;
	return true;
}

uint32_t queue_held(const struct queue *q)
{
	(void)q;
	return 0;
}

int queue_flush(struct queue *q)
{
	(void)q;
	return 0;
}

/* ---- an engine that records how it was called --------------------------- */

static struct {
	unsigned calls;
	enum engine_dir dir[MAX_PKTS];
	unsigned flags[MAX_PKTS];
	uint64_t cookie[MAX_PKTS];
} eng;

int engine_process(const struct ruleset *rs, struct flow_table *ft,
		   struct engine_worker *w, uint8_t *pkt, uint32_t len,
		   enum engine_dir dir, uint64_t now_ns, unsigned flags,
		   uint64_t cookie, struct engine_result *res)
{
	(void)rs;
	(void)ft;
	(void)w;
	(void)pkt;
	(void)now_ns;
	assert_true(eng.calls < MAX_PKTS);
	eng.dir[eng.calls] = dir;
	eng.flags[eng.calls] = flags;
	eng.cookie[eng.calls++] = cookie;
	memset(res, 0, sizeof(*res));
	res->verdict = ENGINE_ACCEPT;
	res->dir = dir;
	res->service = -1;
	res->len = len;
	return 0;
}

bool engine_next_release(struct engine_worker *w, struct engine_release *out)
{
	(void)w;
	(void)out;
	return false;
}

void engine_tick(const struct ruleset *rs, struct flow_table *ft,
		 struct engine_worker *w, uint64_t now_ns)
{
	(void)rs;
	(void)ft;
	(void)w;
	(void)now_ns;
}

uint64_t engine_hold_deadline(const struct engine_worker *w)
{
	(void)w;
	return 0;
}

void engine_drop_all(struct engine_worker *w)
{
	(void)w;
}

void engine_release_all(const struct ruleset *rs, struct flow_table *ft,
			struct engine_worker *w)
{
	(void)rs;
	(void)ft;
	(void)w;
}

/* ---- the daemon's shared state and logging ---------------------------------- */

void daemon_lock(struct daemon *d)
{
	(void)d;
}

void daemon_unlock(struct daemon *d)
{
	(void)d;
}

int daemon_snapshot(struct daemon *d, struct stats_snapshot *s)
{
	(void)d;
	(void)s;
	return -ENOMEM;
}

void daemon_snapshot_free(struct stats_snapshot *s)
{
	(void)s;
}

struct droplog *droplog_new(uint64_t now_ms)
{
	(void)now_ms;
	return NULL;
}

void droplog_free(struct droplog *dl)
{
	(void)dl;
}

bool droplog_due(struct droplog *dl, uint64_t now_ms)
{
	(void)dl;
	(void)now_ms;
	return false;
}

int droplog_check(struct droplog *dl, const struct stats_snapshot *s,
		  uint64_t now_ms)
{
	(void)dl;
	(void)s;
	(void)now_ms;
	return 0;
}

void log_warn(const char *fmt, ...)
{
	(void)fmt;
}

/* ---- packet messages ------------------------------------------------------ */

static const uint8_t udp_pkt[] = {
	0x45, 0x00, 0x00, 0x1d, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0, 0,
	192, 0, 2, 55, 192, 0, 2, 1, 0x00, 0x35, 0x02, 0x02, 0x00, 0x09, 0,
	0, 'x',
};

static void put_attr(struct nlmsghdr *nlh, uint16_t type, const void *val,
		     uint16_t len)
{
	struct nlattr *a = (struct nlattr *)((uint8_t *)nlh + nlh->nlmsg_len);

	assert_true(nlh->nlmsg_len + NLA_ALIGN(NLA_HDRLEN + len) <= MSG_MAX);
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((uint8_t *)a + NLA_HDRLEN, val, len);
	nlh->nlmsg_len += NLA_ALIGN(a->nla_len);
}

/*
 * Queue a packet message on @q: id @id, queued at @hook, with
 * NFQA_SKB_INFO @info unless it is -1.
 */
static void add_msg(struct queue *q, uint32_t id, uint8_t hook, int64_t info)
{
	struct nfqnl_msg_packet_hdr ph = {
		.packet_id = htonl(id),
		.hw_protocol = htons(0x0800),
		.hook = hook,
	};
	struct nlmsghdr *nlh;

	assert_true(q->n_msg < MAX_PKTS);
	memset(q->msg[q->n_msg], 0, MSG_MAX);
	nlh = (struct nlmsghdr *)q->msg[q->n_msg++];
	nlh->nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
	put_attr(nlh, NFQA_PACKET_HDR, &ph, sizeof(ph));
	if (info >= 0) {
		uint32_t v = htonl((uint32_t)info);

		put_attr(nlh, NFQA_SKB_INFO, &v, sizeof(v));
	}
	put_attr(nlh, NFQA_PAYLOAD, udp_pkt, sizeof(udp_pkt));
}

/* A worker of @q for direction @dir, as nfredactd sets it up. */
static void worker_of(struct worker *w, struct daemon *d, struct queue *q,
		      enum engine_dir dir, bool forward)
{
	memset(d, 0, sizeof(*d));
	memset(w, 0, sizeof(*w));
	w->d = d;
	w->q = q;
	w->dir = dir;
	w->hooks = worker_hooks(dir, forward);
	memset(&eng, 0, sizeof(eng));
}

/* ---- tests ------------------------------------------------------------------ */

static void test_hooks(void **state)
{
	(void)state;
	assert_int_equal(worker_hooks(ENGINE_DIR_IN, false),
			 1u << NF_INET_PRE_ROUTING);
	assert_int_equal(worker_hooks(ENGINE_DIR_IN, true),
			 1u << NF_INET_PRE_ROUTING);
	assert_int_equal(worker_hooks(ENGINE_DIR_OUT, false),
			 1u << NF_INET_LOCAL_OUT);
	assert_int_equal(worker_hooks(ENGINE_DIR_OUT, true),
			 1u << NF_INET_LOCAL_OUT | 1u << NF_INET_PRE_ROUTING);
}

/*
 * Every packet of an inbound queue goes to the engine as ENGINE_DIR_IN,
 * whatever its ports say (a datagram from port 53 to a service port
 * would look like a reply to a guess), with the checksum flags of the
 * kernel's message.
 */
static void test_inbound_queue(void **state)
{
	struct queue q = { .num = 0 };
	struct worker w;
	struct daemon d;

	(void)state;
	worker_of(&w, &d, &q, ENGINE_DIR_IN, false);
	add_msg(&q, 1, NF_INET_PRE_ROUTING, -1);
	add_msg(&q, 2, NF_INET_PRE_ROUTING, NFQA_SKB_CSUM_NOTVERIFIED);
	add_msg(&q, 3, NF_INET_PRE_ROUTING, NFQA_SKB_CSUMNOTREADY);
	assert_int_equal(handle_vector(&w), 3);
	assert_int_equal(eng.calls, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(eng.dir[i], ENGINE_DIR_IN);
		assert_int_equal(eng.cookie[i], (uint64_t)0 << 32 | (i + 1));
	}
	assert_int_equal(eng.flags[0], ENGINE_F_CSUM_VERIFIED);
	assert_int_equal(eng.flags[1], 0);
	assert_int_equal(eng.flags[2], ENGINE_F_CSUM_NOT_READY);
	assert_int_equal(q.n_verdicts, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(q.vid[i], i + 1);
		assert_int_equal(q.vkind[i], VERDICT_ACCEPT);
	}
	assert_int_equal(atomic_load(&w.wrong_hook), 0);
}

/* Every packet of an outbound queue goes as ENGINE_DIR_OUT. */
static void test_outbound_queue(void **state)
{
	struct queue q = { .num = 1 };
	struct worker w;
	struct daemon d;

	(void)state;
	worker_of(&w, &d, &q, ENGINE_DIR_OUT, false);
	add_msg(&q, 7, NF_INET_LOCAL_OUT, NFQA_SKB_CSUMNOTREADY);
	add_msg(&q, 8, NF_INET_LOCAL_OUT, -1);
	assert_int_equal(handle_vector(&w), 2);
	assert_int_equal(eng.calls, 2);
	assert_int_equal(eng.dir[0], ENGINE_DIR_OUT);
	assert_int_equal(eng.dir[1], ENGINE_DIR_OUT);
	assert_int_equal(eng.cookie[1], (uint64_t)1 << 32 | 8);
	assert_int_equal(eng.flags[0], ENGINE_F_CSUM_NOT_READY);
	/* at output the kernel never verifies: no flag is no verification */
	assert_int_equal(eng.flags[1], 0);
	assert_int_equal(q.n_verdicts, 2);
	assert_int_equal(q.vkind[0], VERDICT_ACCEPT);
	assert_int_equal(q.vkind[1], VERDICT_ACCEPT);

	/* a relay's replies come from prerouting to the outbound queues */
	worker_of(&w, &d, &q, ENGINE_DIR_OUT, true);
	q.n_msg = q.next = q.n_verdicts = 0;
	add_msg(&q, 9, NF_INET_PRE_ROUTING, -1);
	add_msg(&q, 10, NF_INET_LOCAL_OUT, -1);
	assert_int_equal(handle_vector(&w), 2);
	assert_int_equal(eng.calls, 2);
	assert_int_equal(eng.dir[0], ENGINE_DIR_OUT);
	assert_int_equal(eng.dir[1], ENGINE_DIR_OUT);
	/* after conntrack, at prerouting, the kernel says what it verified */
	assert_int_equal(eng.flags[0], ENGINE_F_CSUM_VERIFIED);
	assert_int_equal(eng.flags[1], 0);
	assert_int_equal(atomic_load(&w.wrong_hook), 0);
}

/*
 * A packet from a hook its queue never gets (rules of another layout:
 * a client packet on an outbound queue would pass untranslated as a
 * reply) is dropped, counted, and never reaches the engine; the packets
 * around it keep their order and their verdicts.
 */
static void test_wrong_hook_dropped(void **state)
{
	struct queue q = { .num = 0 };
	struct worker w;
	struct daemon d;

	(void)state;
	worker_of(&w, &d, &q, ENGINE_DIR_IN, true);
	add_msg(&q, 1, NF_INET_PRE_ROUTING, -1);
	add_msg(&q, 2, NF_INET_LOCAL_OUT, -1);
	add_msg(&q, 3, NF_INET_PRE_ROUTING, -1);
	add_msg(&q, 4, 200, -1);
	assert_int_equal(handle_vector(&w), 4);
	assert_int_equal(eng.calls, 2);
	assert_int_equal(eng.cookie[0], 1);
	assert_int_equal(eng.cookie[1], 3);
	assert_int_equal(q.n_verdicts, 4);
	assert_int_equal(q.vkind[0], VERDICT_ACCEPT);
	assert_int_equal(q.vid[1], 2);
	assert_int_equal(q.vkind[1], VERDICT_DROP);
	assert_int_equal(q.vkind[2], VERDICT_ACCEPT);
	assert_int_equal(q.vkind[3], VERDICT_DROP);
	assert_int_equal(atomic_load(&w.wrong_hook), 2);

	/* without --forward an outbound queue takes nothing from prerouting */
	worker_of(&w, &d, &q, ENGINE_DIR_OUT, false);
	q.num = 1;
	q.n_msg = q.next = q.n_verdicts = 0;
	add_msg(&q, 5, NF_INET_PRE_ROUTING, -1);
	add_msg(&q, 6, NF_INET_LOCAL_OUT, -1);
	assert_int_equal(handle_vector(&w), 2);
	assert_int_equal(eng.calls, 1);
	assert_int_equal(eng.dir[0], ENGINE_DIR_OUT);
	assert_int_equal(q.vkind[0], VERDICT_DROP);
	assert_int_equal(q.vkind[1], VERDICT_ACCEPT);
	assert_int_equal(atomic_load(&w.wrong_hook), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_inbound_queue),
		cmocka_unit_test(test_outbound_queue),
		cmocka_unit_test(test_wrong_hook_dropped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
