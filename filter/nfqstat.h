/*
 * nfqstat.h — the kernel's per-queue counters from
 * /proc/net/netfilter/nfnetlink_queue: packets waiting, dropped because
 * the queue was full, and dropped because the netlink socket was full.
 */
#ifndef NFREDACT_NFQSTAT_H
#define NFREDACT_NFQSTAT_H

#include <stdint.h>

#define NFQSTAT_PATH "/proc/self/net/netfilter/nfnetlink_queue"

/* One line: queue_number peer_portid queue_total copy_mode copy_range
 * queue_dropped user_dropped id_sequence 1 */
struct nfqstat {
	uint32_t queue;
	uint32_t portid;
	uint32_t total;		/* packets waiting for a verdict */
	uint32_t copy_mode, copy_range;
	uint64_t queue_dropped;	/* queue full */
	uint64_t user_dropped;	/* netlink socket full */
	uint32_t id_sequence;
};

/**
 * nfqstat_parse() - parse the text of the proc file
 * @text: NUL-terminated contents
 * @out:  receives up to @max entries, in file order
 * Return: entries stored, or -EINVAL when a line does not parse.
 */
int nfqstat_parse(const char *text, struct nfqstat *out, unsigned max);

/**
 * nfqstat_find() - the entry of queue @queue among @n entries
 * Return: the entry or NULL (the queue is not bound).
 */
const struct nfqstat *nfqstat_find(const struct nfqstat *v, unsigned n,
				   uint32_t queue);

/**
 * nfqstat_open() - open @path (NFQSTAT_PATH) for nfqstat_read(); the file
 * is root's (mode 0440), so the daemon opens it before dropping root
 * Return: the descriptor or -errno.
 */
int nfqstat_open(const char *path);

/**
 * nfqstat_read() - read the file open on @fd from its start and parse it
 * Return: entries stored, or -errno.
 */
int nfqstat_read(int fd, struct nfqstat *out, unsigned max);

#endif
