/*
 * nfqmsg.c — the packet message parser of the queue reader.  One walk
 * over the attributes takes the four the daemon uses; the library's
 * parser would run a validation callback for every attribute of every
 * packet.
 *
 * Checksums (NFQA_SKB_INFO, doc/design.md §9): CSUMNOTREADY says the L4
 * checksum is partial (CHECKSUM_PARTIAL: locally made, veth).  At
 * prerouting, input and forward the kernel also says CSUM_NOTVERIFIED
 * for every packet whose checksum neither the device nor the stack has
 * verified (skb_csum_unnecessary() false); it sends the attribute only
 * when a flag is set.  So there, and only there, a packet with neither
 * flag had its checksum verified.  At output the kernel never looks, and
 * no flag says nothing.  No NFQA_CFG_F_* flag is needed for this; the
 * queue's GSO flag keeps partial checksums partial.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
/* Before any libnetfilter_queue header: they share an include guard. */
#include <linux/netfilter/nfnetlink_queue.h>

#include "engine.h"
#include "nfqmsg.h"
#include "queue.h"

static uint32_t attr_u32(const uint8_t *payload)
{
	uint32_t v;

	memcpy(&v, payload, sizeof(v));
	return ntohl(v);
}

bool nfqmsg_parse_packet(struct nlmsghdr *nlh, struct queue_pkt *p)
{
	const size_t first = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
	struct nfqnl_msg_packet_hdr ph;
	uint8_t *base = (uint8_t *)nlh, *payload = NULL;
	uint32_t cap_len = 0, payload_len = 0, info = 0;
	bool have_ph = false, whole = true;
	size_t off;

	memset(p, 0, sizeof(*p));
	if (nlh->nlmsg_len < first)
		return false;
	for (off = first; off + NLA_HDRLEN <= nlh->nlmsg_len;
	     off += NLA_ALIGN(((struct nlattr *)(base + off))->nla_len)) {
		const struct nlattr *a = (const struct nlattr *)(base + off);
		uint8_t *val = base + off + NLA_HDRLEN;
		uint32_t vlen;

		/* A malformed attribute ends the walk: nothing after it is trusted. */
		if (a->nla_len < NLA_HDRLEN || a->nla_len > nlh->nlmsg_len - off) {
			whole = false;
			break;
		}
		vlen = a->nla_len - NLA_HDRLEN;
		switch (a->nla_type & NLA_TYPE_MASK) {
		case NFQA_PACKET_HDR:
			if (vlen >= sizeof(ph)) {
				memcpy(&ph, val, sizeof(ph));
				have_ph = true;
			}
			break;
		case NFQA_PAYLOAD:
			payload = val;
			payload_len = vlen;
			break;
		case NFQA_CAP_LEN:
			if (vlen >= sizeof(uint32_t))
				cap_len = attr_u32(val);
			break;
		case NFQA_SKB_INFO:
			if (vlen >= sizeof(uint32_t)) {
				info = attr_u32(val);
				if (info & NFQA_SKB_CSUMNOTREADY)
					p->flags |= ENGINE_F_CSUM_NOT_READY;
				p->gso = info & NFQA_SKB_GSO;
			} else {
				/* unreadable: say nothing about the checksum */
				whole = false;
			}
			break;
		default:
			break;
		}
	}
	if (!have_ph)
		return false;
	p->id = ntohl(ph.packet_id);
	p->hook = ph.hook;
	if (whole && ph.hook <= NF_INET_FORWARD &&
	    !(info & (NFQA_SKB_CSUMNOTREADY | NFQA_SKB_CSUM_NOTVERIFIED)))
		p->flags |= ENGINE_F_CSUM_VERIFIED;
	if (!payload) {
		p->bad = true;
		return true;
	}
	p->data = payload;
	p->len = payload_len;
	/* Never hand back a payload for a packet we saw only part of. */
	if (cap_len > payload_len)
		p->flags |= ENGINE_F_TRUNCATED;
	return true;
}
