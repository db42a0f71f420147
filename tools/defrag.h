/*
 * defrag.h — IPv4 and IPv6 reassembly for the dry-run.
 *
 * The kernel reassembles fragments before the queue (conntrack defrag
 * runs ahead of raw PREROUTING), so the daemon only ever sees whole
 * datagrams; the dry-run rebuilds them the same way before the engine.
 *
 * Fragments are keyed by (source, destination, id, protocol) for IPv4 and
 * (source, destination, id) for IPv6.  Overlaps follow the kernel since
 * the FragmentSmack fixes (and RFC 5722 for IPv6): a fragment that repeats
 * an earlier one exactly is ignored, any other overlap discards the whole
 * datagram, and later fragments of a discarded datagram are dropped until
 * it times out.  Memory is bounded: at most max_datagrams in progress
 * (the oldest is evicted to make room), DEFRAG_MAX_FRAGS fragments each,
 * and a DEFRAG_TIMEOUT_NS timeout from the first fragment, in capture time.
 */
#ifndef NFREDACT_DEFRAG_H
#define NFREDACT_DEFRAG_H

#include <stdint.h>

#define DEFRAG_TIMEOUT_NS	(30ull * 1000000000ull)
#define DEFRAG_MAX_FRAGS	64
/* Longest unfragmentable part (IPv4 header, IPv6 header + ext headers). */
#define DEFRAG_UNFRAG_MAX	512

struct defrag;

enum defrag_status {
	DEFRAG_NOT_FRAGMENT,	/* a whole datagram: process it as it is */
	DEFRAG_HELD,		/* kept (or a duplicate): nothing to emit yet */
	DEFRAG_DONE,		/* a datagram is complete: see struct defrag_out */
	DEFRAG_DISCARDED,	/* the fragment was dropped (see the stats) */
};

/* A reassembled datagram; valid until the next defrag_add(). */
struct defrag_out {
	uint8_t *frame;		/* link header of the first fragment, then IP */
	uint32_t frame_len;
	uint32_t link_len;	/* the IP datagram starts at frame + link_len */
};

struct defrag_stats {
	uint64_t fragments;	/* fragments seen */
	uint64_t reassembled;	/* datagrams completed */
	uint64_t timed_out;	/* datagrams incomplete after the timeout */
	uint64_t evicted;	/* incomplete, pushed out by newer ones */
	uint64_t overlaps;	/* datagrams discarded for overlapping fragments */
	uint64_t too_many;	/* ... for more than DEFRAG_MAX_FRAGS fragments */
	uint64_t malformed;	/* ... for inconsistent lengths or offsets */
	uint64_t duplicates;	/* exact repeats, ignored */
	uint64_t dropped;	/* fragments of a discarded datagram */
};

/**
 * defrag_new() - a reassembler for at most @max_datagrams datagrams in
 * progress at once.  Buffers are allocated when first needed and reused.
 * Return: the reassembler (defrag_free()) or NULL (ENOMEM, EINVAL).
 */
struct defrag *defrag_new(unsigned max_datagrams);

/** defrag_free() - free the reassembler; NULL is fine */
void defrag_free(struct defrag *d);

/**
 * defrag_add() - offer one captured packet
 * @d:        the reassembler
 * @ip:       the packet from its IP header (complete: not truncated)
 * @len:      bytes at @ip (trailing link padding is ignored)
 * @link:     its link header, copied if this is the first fragment
 * @link_len: bytes of @link, at most LINK_HDR_MAX of linklayer.h (64)
 * @now_ns:   capture time, for the timeout
 * @out:      filled on DEFRAG_DONE
 *
 * Return: enum defrag_status.  Datagrams whose time is up are expired
 * first.  Allocates only when a datagram needs a buffer for the first time
 * (at most max_datagrams times).
 */
enum defrag_status defrag_add(struct defrag *d, const uint8_t *ip, uint32_t len,
			      const uint8_t *link, uint32_t link_len,
			      uint64_t now_ns, struct defrag_out *out);

/** defrag_pending() - datagrams still incomplete (discarded ones excluded) */
unsigned defrag_pending(const struct defrag *d);

/** defrag_get_stats() - the counters */
const struct defrag_stats *defrag_get_stats(const struct defrag *d);

#endif
