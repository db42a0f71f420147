/*
 * nfqmsg.h — read a netfilter queue packet message into a struct
 * queue_pkt: a single walk over its attributes, free of netlink
 * libraries so that it can be tested without a kernel.
 */
#ifndef NFREDACT_NFQMSG_H
#define NFREDACT_NFQMSG_H

#include <stdbool.h>

struct nlmsghdr;
struct queue_pkt;

/**
 * nfqmsg_parse_packet() - fill @p from the NFQNL_MSG_PACKET message @nlh
 * @nlh: a whole message (nlmsg_len bytes are readable); its payload is
 *       written later through @p->data
 * @p:   filled: id, hook, data/len (a view into @nlh), flags
 *       (ENGINE_F_TRUNCATED when NFQA_CAP_LEN exceeds the bytes present,
 *       ENGINE_F_CSUM_NOT_READY for a partial checksum,
 *       ENGINE_F_CSUM_VERIFIED when the kernel verified it: a packet from
 *       prerouting, input or forward without CSUMNOTREADY or
 *       CSUM_NOTVERIFIED, in a message read whole), gso; bad when the
 *       payload is missing
 * Return: false when the message has no usable packet header (no id to
 * give a verdict for).
 */
bool nfqmsg_parse_packet(struct nlmsghdr *nlh, struct queue_pkt *p);

#endif
