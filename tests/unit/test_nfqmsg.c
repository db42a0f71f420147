/*
 * test_nfqmsg.c — the queue reader's packet message parser, on messages
 * built here as the kernel lays them out: the flags that keep a
 * truncated packet from being replaced, the checksum flags (partial, and
 * verified only where the kernel says so), and messages it must refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* The daemon's sources are not in the policy library: build it in. */
#include "../../filter/nfqmsg.c"

#define MSG_MAX 512

struct msg {
	union {
		struct nlmsghdr nlh;
		uint8_t buf[MSG_MAX];
	};
};

static void msg_init(struct msg *m)
{
	struct nfgenmsg *g;

	memset(m, 0, sizeof(*m));
	m->nlh.nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*g));
	m->nlh.nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
	g = (struct nfgenmsg *)(m->buf + NLMSG_HDRLEN);
	g->nfgen_family = AF_INET;
	g->res_id = htons(0);
}

static void put_attr(struct msg *m, uint16_t type, const void *val,
		     uint16_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + m->nlh.nlmsg_len);

	assert_true(m->nlh.nlmsg_len + NLA_ALIGN(NLA_HDRLEN + len) <= MSG_MAX);
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((uint8_t *)a + NLA_HDRLEN, val, len);
	m->nlh.nlmsg_len += NLA_ALIGN(a->nla_len);
}

static void put_u32(struct msg *m, uint16_t type, uint32_t v)
{
	v = htonl(v);
	put_attr(m, type, &v, sizeof(v));
}

static void put_hdr(struct msg *m, uint32_t id, uint8_t hook)
{
	struct nfqnl_msg_packet_hdr ph = {
		.packet_id = htonl(id),
		.hw_protocol = htons(0x0800),
		.hook = hook,
	};

	put_attr(m, NFQA_PACKET_HDR, &ph, sizeof(ph));
}

static const uint8_t pkt[] = {
	0x45, 0x00, 0x00, 0x1d, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0, 0,
	192, 0, 2, 55, 192, 0, 2, 1, 0x30, 0x39, 0x1b, 0x59, 0x00, 0x09, 0,
	0, 'x',
};

static void test_whole_packet(void **state)
{
	struct queue_pkt p;
	struct msg m;

	(void)state;
	msg_init(&m);
	put_hdr(&m, 4711, 3);
	put_u32(&m, NFQA_IFINDEX_OUTDEV, 2);
	put_u32(&m, NFQA_SKB_INFO, NFQA_SKB_CSUMNOTREADY);
	put_attr(&m, NFQA_PAYLOAD, pkt, sizeof(pkt));
	assert_true(nfqmsg_parse_packet(&m.nlh, &p));
	assert_int_equal(p.id, 4711);
	assert_int_equal(p.hook, 3);
	assert_false(p.bad);
	assert_false(p.gso);
	assert_int_equal(p.len, sizeof(pkt));
	assert_memory_equal(p.data, pkt, sizeof(pkt));
	/* a view into the message: the verdict sends the rewritten bytes */
	assert_ptr_equal(p.data, m.buf + m.nlh.nlmsg_len -
				 NLA_ALIGN(sizeof(pkt)));
	assert_int_equal(p.flags, ENGINE_F_CSUM_NOT_READY);
}

static void test_truncated(void **state)
{
	struct queue_pkt p;
	struct msg m;

	(void)state;
	/* the kernel copied 29 bytes of a 1500-byte packet */
	msg_init(&m);
	put_hdr(&m, 1, 0);
	put_u32(&m, NFQA_CAP_LEN, 1500);
	put_u32(&m, NFQA_SKB_INFO, NFQA_SKB_GSO);
	put_attr(&m, NFQA_PAYLOAD, pkt, sizeof(pkt));
	assert_true(nfqmsg_parse_packet(&m.nlh, &p));
	assert_int_equal(p.flags, ENGINE_F_TRUNCATED | ENGINE_F_CSUM_VERIFIED);
	assert_true(p.gso);

	/* a CAP_LEN equal to what is present is no truncation */
	msg_init(&m);
	put_hdr(&m, 2, 3);
	put_u32(&m, NFQA_CAP_LEN, sizeof(pkt));
	put_attr(&m, NFQA_PAYLOAD, pkt, sizeof(pkt));
	assert_true(nfqmsg_parse_packet(&m.nlh, &p));
	assert_int_equal(p.flags, 0);
}

/* One message: hook @hook, NFQA_SKB_INFO @info unless @info is -1. */
static unsigned csum_flags(uint8_t hook, int64_t info)
{
	struct queue_pkt p;
	struct msg m;

	msg_init(&m);
	put_hdr(&m, 8, hook);
	if (info >= 0)
		put_u32(&m, NFQA_SKB_INFO, (uint32_t)info);
	put_attr(&m, NFQA_PAYLOAD, pkt, sizeof(pkt));
	assert_true(nfqmsg_parse_packet(&m.nlh, &p));
	assert_false(p.bad);
	return p.flags & (ENGINE_F_CSUM_VERIFIED | ENGINE_F_CSUM_NOT_READY);
}

static void test_csum_verified(void **state)
{
	static const uint8_t looked[] = {
		NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, NF_INET_FORWARD,
	};
	struct queue_pkt p;
	struct msg m;

	(void)state;
	/* where the kernel looks, no flag means verified */
	for (unsigned i = 0; i < sizeof(looked); i++) {
		uint8_t h = looked[i];

		assert_int_equal(csum_flags(h, -1), ENGINE_F_CSUM_VERIFIED);
		assert_int_equal(csum_flags(h, NFQA_SKB_GSO), ENGINE_F_CSUM_VERIFIED);
		assert_int_equal(csum_flags(h, NFQA_SKB_CSUM_NOTVERIFIED), 0);
		assert_int_equal(csum_flags(h, NFQA_SKB_CSUM_NOTVERIFIED |
					       NFQA_SKB_GSO), 0);
		assert_int_equal(csum_flags(h, NFQA_SKB_CSUMNOTREADY),
				 ENGINE_F_CSUM_NOT_READY);
		assert_int_equal(csum_flags(h, NFQA_SKB_CSUMNOTREADY |
					       NFQA_SKB_GSO),
				 ENGINE_F_CSUM_NOT_READY);
	}
	/* at output (and postrouting) it never looks: no flag says nothing */
	assert_int_equal(csum_flags(NF_INET_LOCAL_OUT, -1), 0);
	assert_int_equal(csum_flags(NF_INET_LOCAL_OUT, NFQA_SKB_GSO), 0);
	assert_int_equal(csum_flags(NF_INET_LOCAL_OUT, NFQA_SKB_CSUMNOTREADY),
			 ENGINE_F_CSUM_NOT_READY);
	assert_int_equal(csum_flags(NF_INET_POST_ROUTING, -1), 0);
	assert_int_equal(csum_flags(200, -1), 0);

	/* an NFQA_SKB_INFO too short to read says nothing either */
	msg_init(&m);
	put_hdr(&m, 9, NF_INET_PRE_ROUTING);
	put_attr(&m, NFQA_SKB_INFO, "\0\0", 2);
	put_attr(&m, NFQA_PAYLOAD, pkt, sizeof(pkt));
	assert_true(nfqmsg_parse_packet(&m.nlh, &p));
	assert_false(p.bad);
	assert_int_equal(p.flags, 0);

	/* nor does a message whose walk ended at a malformed attribute */
	msg_init(&m);
	put_hdr(&m, 10, NF_INET_PRE_ROUTING);
	put_attr(&m, NFQA_PAYLOAD, pkt, sizeof(pkt));
	put_u32(&m, NFQA_MARK, 0);
	((struct nlattr *)(m.buf + m.nlh.nlmsg_len - NLA_ALIGN(NLA_HDRLEN + 4)))->nla_len = 0;
	assert_true(nfqmsg_parse_packet(&m.nlh, &p));
	assert_false(p.bad);
	assert_int_equal(p.flags, 0);
}

static void test_refused(void **state)
{
	struct nfqnl_msg_packet_hdr ph = { .packet_id = htonl(9) };
	struct queue_pkt p;
	struct msg m;

	(void)state;
	/* no packet header: no id to decide */
	msg_init(&m);
	put_attr(&m, NFQA_PAYLOAD, pkt, sizeof(pkt));
	assert_false(nfqmsg_parse_packet(&m.nlh, &p));

	/* a packet header too short to hold an id */
	msg_init(&m);
	put_attr(&m, NFQA_PACKET_HDR, &ph, 3);
	assert_false(nfqmsg_parse_packet(&m.nlh, &p));

	/* shorter than the netfilter header */
	msg_init(&m);
	m.nlh.nlmsg_len = NLMSG_HDRLEN;
	assert_false(nfqmsg_parse_packet(&m.nlh, &p));
}

static void test_no_payload_is_bad(void **state)
{
	struct queue_pkt p;
	struct msg m;

	(void)state;
	msg_init(&m);
	put_hdr(&m, 77, 0);
	assert_true(nfqmsg_parse_packet(&m.nlh, &p));
	assert_int_equal(p.id, 77);
	assert_true(p.bad);
	assert_null(p.data);
}

static void test_malformed_attribute_ends_walk(void **state)
{
	struct queue_pkt p;
	struct nlattr *a;
	struct msg m;

	(void)state;
	/* an attribute claiming more than the message holds hides the rest */
	msg_init(&m);
	put_hdr(&m, 5, 0);
	put_u32(&m, NFQA_MARK, 0);
	a = (struct nlattr *)(m.buf + m.nlh.nlmsg_len - NLA_ALIGN(NLA_HDRLEN + 4));
	put_attr(&m, NFQA_PAYLOAD, pkt, sizeof(pkt));
	a->nla_len = 400;
	assert_true(nfqmsg_parse_packet(&m.nlh, &p));
	assert_true(p.bad);

	/* a zero length must not loop */
	a->nla_len = 0;
	assert_true(nfqmsg_parse_packet(&m.nlh, &p));
	assert_true(p.bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_packet),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_csum_verified),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_no_payload_is_bad),
		cmocka_unit_test(test_malformed_attribute_ends_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
