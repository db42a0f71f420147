/*
 * queue.c — NFQUEUE netlink I/O.  One socket per queue; all memory is
 * allocated by queue_open(): a vector of receive slots for recvmmsg() (a
 * packet is a view into its slot and is rewritten there) and one send
 * buffer into which verdict messages are coalesced.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>
/* Before the library's header: they share an include guard. */
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "engine.h"
#include "nfqmsg.h"
#include "queue.h"

#define QUEUE_VLEN		16	/* messages per recvmmsg() */
#define QUEUE_COPY_RANGE	0xffff
/* A packet message: up to 64 KiB of payload and its attributes. */
#define QUEUE_SLOT		(64 * 1024 + 4096)	/* a multiple of 8: slots stay aligned */
#define QUEUE_SENDBUF		(512 * 1024)
#define QUEUE_RCVBUF_PER_PKT	(64 * 1024)
#define QUEUE_RCVBUF_MAX	(64 * 1024 * 1024)
#define QUEUE_ACK_TIMEOUT_MS	2000

struct queue {
	struct mnl_socket *nl;
	int fd;
	uint16_t num;
	uint32_t seq;

	/* receive side */
	uint8_t *slots;		/* QUEUE_VLEN * QUEUE_SLOT */
	struct mmsghdr msgs[QUEUE_VLEN];
	struct iovec iov[QUEUE_VLEN];
	struct sockaddr_nl from[QUEUE_VLEN];
	unsigned n_recv, slot_i;
	struct nlmsghdr *cur;
	int cur_left;

	/* send side */
	uint8_t *sbuf;
	size_t sused, slimit;
	struct verdict_run run;

	_Atomic uint64_t packets, verdict_errors, recv_errors, send_errors,
		bad_msgs;
	/* gauges, written by the queue's thread only */
	_Atomic uint64_t held_now, held_bytes;
};

/*
 * Only the queue's thread writes its counters: a relaxed load and store
 * keep readers free of torn values without a locked add per packet.
 */
static void count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static int send_all(struct queue *q)
{
	ssize_t r;

	if (q->sused == 0)
		return 0;
	do
		r = mnl_socket_sendto(q->nl, q->sbuf, q->sused);
	while (r < 0 && errno == EINTR);
	q->sused = 0;
	if (r < 0) {
		count(&q->send_errors);
		return -errno;
	}
	return 0;
}

/* Room for one verdict message; sends what is coalesced when needed. */
static int reserve(struct queue *q, size_t need)
{
	int err;

	if (verdict_fits(q->sused, need, q->slimit))
		return 0;
	err = send_all(q);
	if (err)
		return err;
	return verdict_fits(0, need, q->slimit) ? 0 : -EMSGSIZE;
}

static size_t verdict_size(uint32_t payload_len, bool with_payload)
{
	size_t n = MNL_ALIGN(sizeof(struct nlmsghdr)) +
		   MNL_ALIGN(sizeof(struct nfgenmsg)) +
		   MNL_ATTR_HDRLEN +
		   MNL_ALIGN(sizeof(struct nfqnl_msg_verdict_hdr));

	if (with_payload)
		n += MNL_ATTR_HDRLEN + MNL_ALIGN(payload_len);
	return n;
}

static int put_verdict(struct queue *q, int type, uint32_t id, int verdict,
		       const uint8_t *data, uint32_t len)
{
	struct nlmsghdr *nlh;
	int err;

	err = reserve(q, verdict_size(len, data != NULL));
	if (err)
		return err;
	nlh = nfq_nlmsg_put((char *)q->sbuf + q->sused, type, q->num);
	nlh->nlmsg_seq = ++q->seq;
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	if (data)
		nfq_nlmsg_verdict_put_pkt(nlh, data, len);
	q->sused += MNL_ALIGN(nlh->nlmsg_len);
	return 0;
}

/* The messages of @plan for packet @id, in order. */
static int put_plan(struct queue *q, uint32_t id, enum verdict_kind kind,
		    const struct verdict_plan *plan, const uint8_t *data,
		    uint32_t len)
{
	int err;

	if (plan->batch) {
		err = put_verdict(q, NFQNL_MSG_VERDICT_BATCH, plan->batch_id,
				  NF_ACCEPT, NULL, 0);
		if (err)
			return err;
	}
	if (!plan->own)
		return 0;
	switch (kind) {
	case VERDICT_MODIFIED:
		return put_verdict(q, NFQNL_MSG_VERDICT, id, NF_ACCEPT, data, len);
	case VERDICT_ACCEPT:
		return put_verdict(q, NFQNL_MSG_VERDICT, id, NF_ACCEPT, NULL, 0);
	default:
		return put_verdict(q, NFQNL_MSG_VERDICT, id, NF_DROP, NULL, 0);
	}
}

int queue_verdict(struct queue *q, uint32_t id, enum verdict_kind kind,
		  const uint8_t *data, uint32_t len)
{
	struct verdict_plan plan;

	verdict_run_add(&q->run, id, kind, &plan);
	return put_plan(q, id, kind, &plan, data, len);
}

/* The gauges of held packets; never below zero, whatever the caller says. */
static void held_add(struct queue *q, int64_t pkts, int64_t bytes)
{
	uint64_t p = atomic_load_explicit(&q->held_now, memory_order_relaxed);
	uint64_t b = atomic_load_explicit(&q->held_bytes, memory_order_relaxed);

	p = pkts < 0 && p < (uint64_t)-pkts ? 0 : p + (uint64_t)pkts;
	b = bytes < 0 && b < (uint64_t)-bytes ? 0 : b + (uint64_t)bytes;
	atomic_store_explicit(&q->held_now, p, memory_order_relaxed);
	atomic_store_explicit(&q->held_bytes, b, memory_order_relaxed);
}

int queue_hold(struct queue *q, uint32_t id, uint32_t len)
{
	struct verdict_plan plan;

	verdict_run_hold(&q->run, id, &plan);
	held_add(q, 1, len);
	return put_plan(q, id, VERDICT_ACCEPT, &plan, NULL, 0);
}

int queue_release(struct queue *q, uint32_t id, enum verdict_kind kind,
		  const uint8_t *data, uint32_t len)
{
	struct verdict_plan plan;

	verdict_run_release(&q->run, id, kind, &plan);
	held_add(q, -1, -(int64_t)len);
	return put_plan(q, id, kind, &plan, data, len);
}

uint32_t queue_held(const struct queue *q)
{
	return verdict_run_held(&q->run);
}

int queue_flush(struct queue *q)
{
	uint32_t id;
	int err = 0;

	if (verdict_run_flush(&q->run, &id))
		err = put_verdict(q, NFQNL_MSG_VERDICT_BATCH, id, NF_ACCEPT,
				  NULL, 0);
	if (err)
		return err;
	return send_all(q);
}

int queue_recv(struct queue *q, bool wait)
{
	/*
	 * Waiting inside recvmmsg() (SO_RCVTIMEO bounds it) instead of in
	 * poll() saves a system call per wake-up; MSG_WAITFORONE makes
	 * every message after the first non-blocking.
	 */
	int flags = wait ? MSG_WAITFORONE : MSG_DONTWAIT;
	int n;

	q->n_recv = 0;
	q->slot_i = 0;
	q->cur = NULL;
	q->cur_left = 0;
	for (unsigned i = 0; i < QUEUE_VLEN; i++) {
		q->msgs[i].msg_hdr.msg_namelen = sizeof(q->from[i]);
		q->msgs[i].msg_hdr.msg_flags = 0;
		q->msgs[i].msg_len = 0;
	}
	do
		n = recvmmsg(q->fd, q->msgs, QUEUE_VLEN, flags, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		count(&q->recv_errors);
		return -errno;
	}
	q->n_recv = (unsigned)n;
	return n;
}

bool queue_drained(const struct queue *q)
{
	return q->n_recv < QUEUE_VLEN;
}

bool queue_next(struct queue *q, struct queue_pkt *p)
{
	for (;;) {
		struct nlmsghdr *nlh;

		if (q->cur && mnl_nlmsg_ok(q->cur, q->cur_left)) {
			nlh = q->cur;
			q->cur = mnl_nlmsg_next(nlh, &q->cur_left);
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)) ||
				    e->error != 0)
					count(&q->verdict_errors);
				continue;
			}
			if (nlh->nlmsg_type == NLMSG_NOOP ||
			    nlh->nlmsg_type == NLMSG_DONE)
				continue;
			if (nlh->nlmsg_type !=
			    ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET) ||
			    !nfqmsg_parse_packet(nlh, p)) {
				count(&q->bad_msgs);
				continue;
			}
			count(&q->packets);
			return true;
		}
		if (q->slot_i >= q->n_recv)
			return false;
		{
			unsigned i = q->slot_i++;

			/* Only the kernel (port id 0) may hand us packets. */
			if ((q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ||
			    q->from[i].nl_pid != 0) {
				count(&q->bad_msgs);
				q->cur = NULL;
				q->cur_left = 0;
				continue;
			}
			q->cur = (struct nlmsghdr *)(q->slots +
						     (size_t)i * QUEUE_SLOT);
			q->cur_left = (int)q->msgs[i].msg_len;
		}
	}
}

/*
 * Wait for the ack of config message @seq.  A packet that arrives first
 * (the queue is live as soon as it is bound) is dropped: nothing may pass
 * before the worker runs.
 */
static int wait_ack(struct queue *q, uint32_t seq)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };

	for (;;) {
		struct queue_pkt p;
		int r, n;

		r = poll(&pfd, 1, QUEUE_ACK_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(q->fd, q->slots, QUEUE_SLOT, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)q->slots;
		     mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_seq == seq)
					return e->error;
				continue;
			}
			if (nlh->nlmsg_type ==
			    ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET) &&
			    nfqmsg_parse_packet(nlh, &p)) {
				r = put_verdict(q, NFQNL_MSG_VERDICT, p.id,
						NF_DROP, NULL, 0);
				if (!r)
					r = send_all(q);
				if (r)
					return r;
			}
		}
	}
}

static int send_config(struct queue *q, uint8_t cmd, bool full, uint32_t maxlen,
		       unsigned flags, bool ack)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t cfg_flags, mask;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nlh->nlmsg_seq = ++q->seq;
	if (ack)
		nlh->nlmsg_flags |= NLM_F_ACK;
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, cmd);
	if (full) {
		nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET,
					 QUEUE_COPY_RANGE);
		nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
		/*
		 * One FLAGS/MASK pair: a second pair would silently override
		 * the first.  FAIL_OPEN is in the mask so that it is cleared.
		 */
		cfg_flags = NFQA_CFG_F_GSO;
		if (flags & QUEUE_F_FAIL_OPEN)
			cfg_flags |= NFQA_CFG_F_FAIL_OPEN;
		mask = NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN;
		mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(cfg_flags));
		mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
	}
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return ack ? wait_ack(q, nlh->nlmsg_seq) : 0;
}

static void set_buffers(struct queue *q, uint32_t maxlen)
{
	uint64_t want = (uint64_t)maxlen * QUEUE_RCVBUF_PER_PKT;
	int one = 1, rcv, snd = 2 * QUEUE_SENDBUF;
	socklen_t sl = sizeof(snd);

	if (want > QUEUE_RCVBUF_MAX)
		want = QUEUE_RCVBUF_MAX;
	rcv = (int)want;
	/* FORCE needs CAP_NET_ADMIN; otherwise rmem_max caps the size. */
	if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		(void)setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (setsockopt(q->fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0)
		(void)setsockopt(q->fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	/* A full socket is seen in the kernel's counters, not as errors. */
	(void)setsockopt(q->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one,
			 sizeof(one));
	snd = 0;
	if (getsockopt(q->fd, SOL_SOCKET, SO_SNDBUF, &snd, &sl) < 0)
		snd = 0;
	q->slimit = verdict_send_limit(snd, QUEUE_SENDBUF);
}

int queue_open(struct queue **out, uint16_t num, uint32_t maxlen,
	       unsigned flags)
{
	struct timeval wait = {
		.tv_sec = QUEUE_WAIT_MS / 1000,
		.tv_usec = (QUEUE_WAIT_MS % 1000) * 1000,
	};
	struct queue *q;
	int err;

	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->num = num;
	q->fd = -1;
	verdict_run_init(&q->run);
	q->slots = malloc((size_t)QUEUE_VLEN * QUEUE_SLOT);
	q->sbuf = malloc(QUEUE_SENDBUF);
	if (!q->slots || !q->sbuf) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < QUEUE_VLEN; i++) {
		q->iov[i].iov_base = q->slots + (size_t)i * QUEUE_SLOT;
		q->iov[i].iov_len = QUEUE_SLOT;
		q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
		q->msgs[i].msg_hdr.msg_iovlen = 1;
		q->msgs[i].msg_hdr.msg_name = &q->from[i];
		q->msgs[i].msg_hdr.msg_namelen = sizeof(q->from[i]);
	}
	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!q->nl) {
		err = -errno;
		goto out;
	}
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	q->fd = mnl_socket_get_fd(q->nl);
	set_buffers(q, maxlen);
	/* Without it a waiting worker would never see the stop flag. */
	if (setsockopt(q->fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)) < 0) {
		err = -errno;
		goto out;
	}
	if (q->slimit < verdict_size(QUEUE_COPY_RANGE, true)) {
		err = -ENOBUFS;
		goto out;
	}
	err = send_config(q, NFQNL_CFG_CMD_BIND, true, maxlen, flags, true);
	if (err)
		goto out;
	*out = q;
	return 0;
out:
	queue_forget(q);
	return err;
}

void queue_forget(struct queue *q)
{
	if (!q)
		return;
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q->slots);
	free(q->sbuf);
	free(q);
}

void queue_close(struct queue *q)
{
	if (!q)
		return;
	if (q->nl) {
		(void)queue_flush(q);
		(void)send_config(q, NFQNL_CFG_CMD_UNBIND, false, 0, 0, false);
	}
	queue_forget(q);
}

int queue_fd(const struct queue *q)
{
	return q->fd;
}

uint16_t queue_num(const struct queue *q)
{
	return q->num;
}

void queue_get_counters(const struct queue *q, struct queue_counters *c)
{
	c->packets = atomic_load_explicit(&q->packets, memory_order_relaxed);
	c->verdict_errors = atomic_load_explicit(&q->verdict_errors,
						 memory_order_relaxed);
	c->recv_errors = atomic_load_explicit(&q->recv_errors,
					      memory_order_relaxed);
	c->send_errors = atomic_load_explicit(&q->send_errors,
					      memory_order_relaxed);
	c->bad_msgs = atomic_load_explicit(&q->bad_msgs, memory_order_relaxed);
	c->held = atomic_load_explicit(&q->held_now, memory_order_relaxed);
	c->held_bytes = atomic_load_explicit(&q->held_bytes,
					     memory_order_relaxed);
}
