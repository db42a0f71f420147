/*
 * flow.h — the flow table: which pseudonym (and port) each client flow
 * got, the reverse index for replies, TCP state and timeouts, and the
 * per-client pseudonym table of the map mode.
 *
 * All memory is allocated by flow_table_new(); lookups, inserts and
 * expiry allocate nothing.  Not thread-safe: one table per thread, or
 * the caller serialises.
 */
#ifndef NFREDACT_FLOW_H
#define NFREDACT_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "key.h"

struct flow_table;
struct rs_addr_rule;

enum flow_tcp_state {
	FLOW_TCP_NONE,		/* UDP, or TCP picked up without a SYN */
	FLOW_TCP_SYN,		/* SYN seen from the client */
	FLOW_TCP_EST,		/* SYN-ACK seen, or data both ways */
	FLOW_TCP_FIN,		/* FIN seen in one direction */
	FLOW_TCP_CLOSING,	/* FIN both ways, or RST: short timeout */
};

/* Idle timeouts, seconds. */
#define FLOW_TIMEOUT_TCP_SYN	120
#define FLOW_TIMEOUT_TCP_EST	7440
#define FLOW_TIMEOUT_TCP_FIN	120
#define FLOW_TIMEOUT_TCP_CLOSE	10
#define FLOW_TIMEOUT_UDP	180

struct flow {
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t svc;		/* service index */
	uint8_t tcp_state;	/* enum flow_tcp_state */
	uint8_t client[16];	/* real client address (IPv4: first 4 bytes) */
	uint8_t pseudo[16];	/* what the server sees */
	uint8_t server[16];
	uint16_t cport, pport, sport;	/* host order */
	bool isn_known;
	uint8_t flags;		/* FLOW_F_* */
	uint32_t client_isn;	/* client's initial sequence number */
	uint32_t next_seq;	/* next in-order client stream byte (FLOW_F_SEQ) */
	uint32_t server_ack;	/* highest ACK the server sent (FLOW_F_ACK) */
	uint32_t epoch;		/* epoch whose key made the pseudonym */
	uint32_t last_seen;	/* seconds */
	uint32_t stream;	/* stream slot + 1 in the set named next (stream.c) */
	uint32_t stream_set;	/* 0: none */
};

#define FLOW_F_FIN_IN	0x01	/* FIN from the client */
#define FLOW_F_FIN_OUT	0x02	/* FIN from the server */
#define FLOW_F_MAPPED	0x04	/* pseudonym from flow_map_pseudonym(): holds a reference */
#define FLOW_F_SEQ	0x08	/* next_seq is known */
#define FLOW_F_ACK	0x10	/* server_ack is known */

/**
 * flow_table_new() - a table for at most @max_flows flows (1 .. 2^26)
 * Return: the table (flow_table_free()) or NULL (ENOMEM, EINVAL).
 */
struct flow_table *flow_table_new(uint32_t max_flows);

/** flow_table_free() - free the table; NULL is fine */
void flow_table_free(struct flow_table *ft);

/** flow_table_capacity() - the most flows the table holds (@max_flows) */
uint32_t flow_table_capacity(const struct flow_table *ft);

/**
 * flow_table_clear() - remove every flow and map-mode pseudonym, keeping
 * the memory and the index seed: the table then behaves as new.  The cost
 * follows the entries used since it was made or last cleared (their
 * high-water mark), not @max_flows.
 */
void flow_table_clear(struct flow_table *ft);

/** flow_table_count() - live flows */
uint32_t flow_table_count(const struct flow_table *ft);

/** flow_table_bytes() - memory the table holds, for the stats */
uint64_t flow_table_bytes(const struct flow_table *ft);

/**
 * flow_find_in() - the flow of a client→server packet, by its real tuple
 * Return: the flow or NULL.
 */
struct flow *flow_find_in(struct flow_table *ft, uint8_t family, uint8_t proto,
			  const uint8_t *client, uint16_t cport,
			  const uint8_t *server, uint16_t sport);

/**
 * flow_find_out() - the flow of a server→client packet, by the tuple the
 * server uses (pseudonym address and port)
 * Return: the flow or NULL.
 */
struct flow *flow_find_out(struct flow_table *ft, uint8_t family, uint8_t proto,
			   const uint8_t *pseudo, uint16_t pport,
			   const uint8_t *server, uint16_t sport);

/**
 * flow_add() - insert the flow described by @tmpl.  @tmpl->pport is the
 * wanted pseudonym port; when another flow already uses the same
 * (pseudo, pport, server, sport, proto) the port is changed as NAT does
 * (same parity range, keyed by nothing secret).  Expired flows are
 * reclaimed first when the table is full.  With FLOW_F_MAPPED in
 * @tmpl->flags, the flow holds a reference on its map-mode pseudonym.
 * @now: seconds
 * Return: 0 and *@out = the stored flow, -ENOSPC when full, -EADDRINUSE
 * when no port is free (or a mapped pseudonym is another client's),
 * -EEXIST when the client tuple already has a flow.
 */
int flow_add(struct flow_table *ft, const struct flow *tmpl, uint32_t now,
	     struct flow **out);

/**
 * flow_update() - note a packet of @f: @tcp_flags (0 for UDP), @inbound
 * (client→server), time @now; moves the TCP state and timeout.
 */
void flow_update(struct flow_table *ft, struct flow *f, uint8_t tcp_flags,
		 bool inbound, uint32_t now);

/**
 * flow_expire() - remove flows idle past their timeout, examining at most
 * @budget slots per call (bounded work).  Return: flows removed.
 */
uint32_t flow_expire(struct flow_table *ft, uint32_t now, uint32_t budget);

/**
 * flow_map_pseudonym() - the map-mode pseudonym of @client in @epoch:
 * addr_map_candidate() attempts until one is not owned by another client
 * in that epoch; remembered from the flow_add() of the first flow with
 * FLOW_F_MAPPED that uses it until no such flow is left.
 * Return: 0 with @out filled, -ENOSPC when the table of clients is full
 * or the range is exhausted.
 */
int flow_map_pseudonym(struct flow_table *ft, const uint8_t key[static KEY_LEN],
		       const struct rs_addr_rule *rule, uint8_t family,
		       const uint8_t *client, uint32_t epoch, uint8_t *out);

#endif
