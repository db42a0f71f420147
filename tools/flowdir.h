/*
 * flowdir.h — the dry-run's own memory of the capture's TCP and UDP
 * 5-tuples: which end is the client, so that every packet is given its
 * direction (ENGINE_DIR_IN or ENGINE_DIR_OUT) before the engine sees it,
 * and on which side of the relay the capture saw the tuple's replies.
 *
 * A tuple is decided by the TCP handshake (the SYN comes from the
 * client, the SYN-ACK from the server), or failing that by its first
 * packet: the end with a service port of the policy is the server (when
 * both ends have one, the lower port's).  A packet that neither tells is
 * not remembered, and the dry-run treats it as inbound.
 *
 * The table is bounded (set-associative, the least recently used entry of
 * a set makes room): a tuple that was forgotten is decided again by the
 * same rules.  No allocation after flowdir_new().
 */
#ifndef NFREDACT_FLOWDIR_H
#define NFREDACT_FLOWDIR_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

struct ruleset;
struct flowdir;

/* Where the capture saw the replies of a tuple. */
enum flowdir_side {
	FLOWDIR_SIDE_UNKNOWN,	/* no reply decided it yet */
	FLOWDIR_SIDE_SERVER,	/* replies go to the pseudonym: the server's side */
	FLOWDIR_SIDE_CLIENT,	/* replies go to the real client: the client's side */
	FLOWDIR_SIDE_SAME,	/* the pseudonym is the client: the two sides look alike */
};

/* How a packet's direction was decided. */
enum flowdir_how {
	FLOWDIR_UNDECIDED,	/* no rule tells: treated as inbound, not remembered */
	FLOWDIR_REMEMBERED,	/* an earlier packet of the tuple decided it */
	FLOWDIR_HANDSHAKE,	/* a SYN or SYN-ACK */
	FLOWDIR_PORT,		/* a service port at one end */
};

/* A TCP or UDP packet's addresses and ports, as captured. */
struct flowdir_tuple {
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t sport, dport;	/* host order */
	uint8_t src[16], dst[16];	/* IPv4 in the first 4 bytes, the rest 0 */
};

/* A remembered tuple, oriented: client end → server end. */
struct flowdir_entry {
	uint8_t client[16], server[16];
	uint16_t cport, sport;
	uint8_t family, proto;
	uint8_t side;		/* enum flowdir_side */
	uint8_t used;
	uint8_t mark;		/* the caller's; 0 when (re)oriented */
	uint32_t last;		/* the caller's clock, for replacement */
};

/**
 * flowdir_new() - a table of 4 << @sets_log2 tuples for the service ports
 * of @rs (read once: the table does not keep @rs)
 * Return: the table (flowdir_free()) or NULL.
 */
struct flowdir *flowdir_new(const struct ruleset *rs, unsigned sets_log2);

/** flowdir_free() - free; NULL is fine */
void flowdir_free(struct flowdir *fd);

/**
 * flowdir_service_of_port() - the service listening on @port over
 * @proto, or -1
 */
int flowdir_service_of_port(const struct flowdir *fd, uint8_t proto,
			    uint16_t port);

/**
 * flowdir_decide() - the direction of a TCP or UDP packet, remembered
 * for its tuple when a rule decided it
 * @fd:        the table
 * @t:         the packet's tuple
 * @tcp_flags: its TCP flags (0 for UDP)
 * @now:       the caller's clock (for replacement only)
 * @e:         receives the tuple's entry, NULL when undecided
 * @how:       receives how the direction was decided
 *
 * A SYN (without ACK) or SYN-ACK decides even against what was
 * remembered: the tuple was then reused the other way round, and its
 * side is forgotten.
 * Return: ENGINE_DIR_IN or ENGINE_DIR_OUT (ENGINE_DIR_IN when undecided).
 */
enum engine_dir flowdir_decide(struct flowdir *fd, const struct flowdir_tuple *t,
			       uint8_t tcp_flags, uint32_t now,
			       struct flowdir_entry **e, enum flowdir_how *how);

/**
 * flowdir_lookup() - the direction of the packet @t (an ICMP error's
 * quote) by what is remembered, then by the service ports; nothing is
 * remembered
 * @e: receives the tuple's entry, or NULL
 * Return: ENGINE_DIR_IN, ENGINE_DIR_OUT, or ENGINE_DIR_AUTO when neither
 * tells.
 */
enum engine_dir flowdir_lookup(struct flowdir *fd, const struct flowdir_tuple *t,
			       struct flowdir_entry **e);

/**
 * flowdir_remember() - remember @t as going client → server (the tuple
 * the server sees for a flow: pseudonym → server), unless the tuple is
 * remembered already
 * Return: its entry (a remembered one keeps its orientation).
 */
struct flowdir_entry *flowdir_remember(struct flowdir *fd,
				       const struct flowdir_tuple *t,
				       uint32_t now);

#endif
