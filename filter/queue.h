/*
 * queue.h — one NFQUEUE queue over its own netlink socket (libmnl and
 * libnetfilter_queue's nlmsg API): bind, read packets several at a time
 * with recvmmsg() into preallocated buffers, send verdicts in arrival
 * order, batched and coalesced.  One queue is served by one thread.
 */
#ifndef NFREDACT_QUEUE_H
#define NFREDACT_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "verdict.h"

struct queue;

#define QUEUE_MAXLEN_DEFAULT	1024	/* the kernel's default */
#define QUEUE_F_FAIL_OPEN	0x1	/* never set by nfredactd today */

/* A packet as read; @data points into the queue's receive buffer. */
struct queue_pkt {
	uint32_t id;
	uint8_t hook;		/* NF_INET_* */
	bool bad;		/* unreadable attributes: must be dropped */
	bool gso;
	unsigned flags;		/* ENGINE_F_* */
	uint8_t *data;		/* from the IP header; writable */
	uint32_t len;		/* bytes present */
};

/* Counters, readable from any thread. */
struct queue_counters {
	uint64_t packets;	/* packet messages read */
	uint64_t verdict_errors;	/* error acks from the kernel */
	uint64_t recv_errors;	/* failed recvmmsg() (ENOBUFS ...) */
	uint64_t send_errors;	/* failed verdict sends */
	uint64_t bad_msgs;	/* messages we could not use */
	uint64_t held;		/* packets held back now (no verdict yet) */
	uint64_t held_bytes;	/* their bytes */
};

/**
 * queue_open() - open a netlink socket and bind queue @num to it: one
 * config message with the bind command, copy mode NFQNL_COPY_PACKET up to
 * 0xffff bytes, queue length @maxlen and one FLAGS/MASK pair (GSO; fail
 * open only with QUEUE_F_FAIL_OPEN in @flags).  All buffers are
 * allocated here.
 * Return: 0 and *@out (queue_close()), or -errno (EBUSY: another process
 * has the queue; EPERM: no CAP_NET_ADMIN).
 */
int queue_open(struct queue **out, uint16_t num, uint32_t maxlen,
	       unsigned flags);

/**
 * queue_close() - flush pending verdicts, unbind the queue, close and
 * free.  Packets still in the kernel's queue are dropped by the kernel.
 * NULL is fine.
 */
void queue_close(struct queue *q);

/**
 * queue_forget() - close the socket without unbinding and free: for the
 * parent of a fork() whose child keeps serving the queue.  NULL is fine.
 */
void queue_forget(struct queue *q);

/** queue_fd() - the socket */
int queue_fd(const struct queue *q);

/** queue_num() - the queue number */
uint16_t queue_num(const struct queue *q);

/* How long queue_recv(q, true) waits for a first message at most. */
#define QUEUE_WAIT_MS		200

/**
 * queue_recv() - read up to the buffer vector's worth of messages in one
 * recvmmsg(); queue_next() then hands out their packets.
 * @wait: block until a first message arrives (at most QUEUE_WAIT_MS, so
 *        that the caller sees a stop flag), then take only what is
 *        already there; false: never block
 * Return: messages read (0: none within the wait, or none waiting), or
 * -errno.
 */
int queue_recv(struct queue *q, bool wait);

/**
 * queue_drained() - whether the last queue_recv() emptied the socket: a
 * short read says so without another call that would find nothing
 */
bool queue_drained(const struct queue *q);

/**
 * queue_next() - the next packet of the last queue_recv(); error acks
 * and messages that are not packets are counted and skipped.
 * Return: true with @p filled, false when none is left.
 */
bool queue_next(struct queue *q, struct queue_pkt *p);

/**
 * queue_verdict() - decide packet @id: accepted packets join the run
 * that one batch verdict covers; a modified packet (@data, @len: the new
 * contents) or a dropped one gets its own verdict after the run before it
 * is flushed.  Messages are coalesced into one send buffer, sent when the
 * next one would not fit.
 * Return: 0 or -errno of a failed send (the verdicts in it are lost; the
 * kernel keeps those packets until the queue is unbound).
 */
int queue_verdict(struct queue *q, uint32_t id, enum verdict_kind kind,
		  const uint8_t *data, uint32_t len);

/**
 * queue_hold() - packet @id (@len bytes) is held back by the engine: no
 * verdict now.
 * The accepted run before it is closed, and until every held packet is
 * released accepted packets get their own verdicts (a batch would take
 * the held one too).
 * Return: 0 or -errno of a failed send.
 */
int queue_hold(struct queue *q, uint32_t id, uint32_t len);

/**
 * queue_release() - the verdict of held packet @id (@len bytes), sent as its own
 * message (NF_ACCEPT, NF_ACCEPT with @data/@len for VERDICT_MODIFIED,
 * or NF_DROP) after the accepted run before it
 * Return: 0 or -errno of a failed send.
 */
int queue_release(struct queue *q, uint32_t id, enum verdict_kind kind,
		  const uint8_t *data, uint32_t len);

/** queue_held() - packets held back and not yet released */
uint32_t queue_held(const struct queue *q);

/**
 * queue_flush() - end the accepted run with its batch verdict and send
 * every coalesced message.  Return: 0 or -errno.
 */
int queue_flush(struct queue *q);

/** queue_get_counters() - a copy of the counters (relaxed atomics) */
void queue_get_counters(const struct queue *q, struct queue_counters *c);

#endif
