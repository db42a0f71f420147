/*
 * nftrules.c — nfredact's own nf_tables tables (nftrules.h).
 *
 * Each install is one nfnetlink batch: declare the table, delete it, and
 * create it again with its chains and rules.  The kernel applies a batch
 * as one transaction, so packets see either the old table or the new one,
 * never none; and declaring first makes the delete succeed whether or not
 * a table was there.
 *
 * Matches are native expressions (meta l4proto, payload, bitwise, cmp,
 * range, ct state); the verdict is the xt NFQUEUE target (revision 3)
 * through nft_compat, as iptables-nft builds it.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "nftrules.h"
#include "rules.h"

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST	0x4	/* Linux 6.9 */
#endif

#define NFTR_REPLY_TIMEOUT_MS	2000
/* bytes of one rule's message, at most: an IPv6 prefix with a mask, a
 * port range, the target and a 63-byte comment come to about 560 */
#define NFTR_BATCH_PER_RULE	1024
/* receive buffer per acknowledgement: each comes in an skb of its own */
#define NFTR_ACK_ROOM		1024

struct nftr {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	bool no_persist;	/* the kernel refused NFT_TABLE_F_PERSIST */
};

static const char *const chain_name[RULES__CHAINS] = {
	[RULES_INBOUND] = "inbound",
	[RULES_OUTBOUND] = "outbound",
	[RULES_REPLIES] = "replies",
};

static uint8_t nfproto(int family)
{
	return family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
}

/*
 * The layout of the queues the rules use, fed into the digest first.
 * 1: every chain queued to the services' queues; 2: the queue says the
 * direction (inbound chain: inbound queues; outbound and replies: the
 * outbound queues above them, rules.h).  A table made under another
 * layout never carries a digest this one makes, even for rules that
 * look the same, and is replaced or refused (doc/design.md §12).
 */
#define NFTR_QUEUE_LAYOUT	2

/*
 * A digest of @family's rules in @p (FNV-1a over the queue layout and
 * the rules' fields), kept in the table's user data: a check compares
 * what the rules match, not only how many there are, so tables made for
 * another policy, or by a version with another queue layout, are told
 * apart.
 */
static uint64_t plan_digest(const struct rules_plan *p, int family)
{
	const unsigned fi = family == 4 ? 0 : 1;
	uint64_t h = 0xcbf29ce484222325ull;

	h ^= NFTR_QUEUE_LAYOUT;
	h *= 0x100000001b3ull;

	for (unsigned i = 0; i < p->n[fi]; i++) {
		const struct rules_rule *r = &p->rule[fi][i];
		uint8_t b[48];
		size_t n = 0;

		b[n++] = r->chain;
		b[n++] = r->proto;
		memcpy(b + n, &r->port_lo, 2), n += 2;
		memcpy(b + n, &r->port_hi, 2), n += 2;
		memcpy(b + n, &r->icmp_type, 2), n += 2;
		b[n++] = r->related;
		b[n++] = r->has_src;
		b[n++] = r->src_plen;
		memcpy(b + n, r->src, 16), n += 16;
		memcpy(b + n, &r->queue_lo, 2), n += 2;
		memcpy(b + n, &r->queue_hi, 2), n += 2;
		b[n++] = r->bypass;
		for (size_t k = 0; k < n; k++) {
			h ^= b[k];
			h *= 0x100000001b3ull;
		}
	}
	return h;
}

static void digest_text(const struct rules_plan *p, int family,
			char out[static 32])
{
	snprintf(out, 32, "nfredact-plan %016llx",
		 (unsigned long long)plan_digest(p, family));
}

struct nftr *nftr_open(void)
{
	struct nftr *n = calloc(1, sizeof(*n));
	int err;

	if (!n)
		return NULL;
	n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!n->nl)
		goto fail;
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t)time(NULL);
	return n;
fail:
	err = errno;
	if (n->nl)
		mnl_socket_close(n->nl);
	free(n);
	errno = err;
	return NULL;
}

void nftr_close(struct nftr *n)
{
	if (!n)
		return;
	mnl_socket_close(n->nl);
	free(n);
}

bool nftr_persist_supported(const struct nftr *n)
{
	return !n->no_persist;
}

/* ---- building a batch ---------------------------------------------------- */

struct batch {
	char *buf;
	size_t size;
	struct mnl_nlmsg_batch *b;
	unsigned n_acked;	/* messages that ask for an acknowledgement */
	bool full;
};

static int batch_init(struct batch *bt, size_t size)
{
	memset(bt, 0, sizeof(*bt));
	bt->size = size;
	bt->buf = malloc(size);
	if (!bt->buf)
		return -ENOMEM;
	/* keep a page spare for the end marker */
	bt->b = mnl_nlmsg_batch_start(bt->buf, size - 4096);
	if (!bt->b) {
		free(bt->buf);
		return -ENOMEM;
	}
	return 0;
}

static void batch_fini(struct batch *bt)
{
	if (bt->b)
		mnl_nlmsg_batch_stop(bt->b);
	free(bt->buf);
	memset(bt, 0, sizeof(*bt));
}

static char *batch_cur(struct batch *bt)
{
	return mnl_nlmsg_batch_current(bt->b);
}

static void batch_next(struct batch *bt)
{
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->full = true;
}

static struct nlmsghdr *batch_hdr(struct nftr *n, struct batch *bt,
				  uint16_t type, int family, uint16_t flags)
{
	bt->n_acked++;
	return nftnl_nlmsg_build_hdr(batch_cur(bt), type, nfproto(family),
				     flags | NLM_F_ACK, n->seq++);
}

static int add_table(struct nftr *n, struct batch *bt, int family,
		     uint16_t type, bool with_flags, uint32_t flags,
		     const char *digest)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, RULES_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, nfproto(family));
	if (with_flags)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	if (digest)
		nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, digest,
				     (uint32_t)strlen(digest) + 1);
	nlh = batch_hdr(n, bt, type, family,
			type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	batch_next(bt);
	return 0;
}

static int add_chain(struct nftr *n, struct batch *bt, int family,
		     enum rules_chain c)
{
	static const struct { uint32_t hook; int32_t prio; } where[] = {
		[RULES_INBOUND] = { NF_INET_PRE_ROUTING, -300 },
		[RULES_OUTBOUND] = { NF_INET_LOCAL_OUT, -150 },
		[RULES_REPLIES] = { NF_INET_PRE_ROUTING, -150 },
	};
	struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!ch)
		return -ENOMEM;
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, RULES_TABLE);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, chain_name[c]);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, nfproto(family));
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, where[c].hook);
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, where[c].prio);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = batch_hdr(n, bt, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	nftnl_chain_free(ch);
	batch_next(bt);
	return 0;
}

/* Each add_* appends one expression; false when out of memory. */
static bool add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return false;
	nftnl_rule_add_expr(r, e);
	return true;
}

static bool add_payload(struct nftnl_rule *r, uint32_t base, uint32_t off,
			uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	return add_expr(r, e);
}

static bool add_cmp(struct nftnl_rule *r, uint32_t op, const void *data,
		    uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add_expr(r, e);
}

static bool add_bitwise(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	}
	return add_expr(r, e);
}

static bool add_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return add_expr(r, e) && add_cmp(r, NFT_CMP_EQ, &proto, 1);
}

static bool add_port(struct nftnl_rule *r, bool dport, uint16_t lo,
		     uint16_t hi)
{
	uint16_t blo = htons(lo), bhi = htons(hi);
	struct nftnl_expr *e;

	if (!add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, dport ? 2 : 0, 2))
		return false;
	if (lo == hi)
		return add_cmp(r, NFT_CMP_EQ, &blo, 2);
	e = nftnl_expr_alloc("range");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &blo, 2);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &bhi, 2);
	}
	return add_expr(r, e);
}

static bool add_saddr(struct nftnl_rule *r, int family, const uint8_t *addr,
		      unsigned plen)
{
	uint32_t len = family == 4 ? 4 : 16;
	uint8_t mask[16] = { 0 }, net[16] = { 0 };

	for (unsigned i = 0; i < len; i++) {
		unsigned bits = plen > i * 8 ? plen - i * 8 : 0;

		mask[i] = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		net[i] = addr[i] & mask[i];
	}
	if (!add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, family == 4 ? 12 : 8,
			 len))
		return false;
	if (plen < len * 8 && !add_bitwise(r, mask, len))
		return false;
	return add_cmp(r, NFT_CMP_EQ, net, len);
}

static bool add_related(struct nftnl_rule *r)
{
	uint32_t bit = NF_CT_STATE_BIT(IP_CT_RELATED), zero = 0;
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	return add_expr(r, e) && add_bitwise(r, &bit, 4) &&
	       add_cmp(r, NFT_CMP_NEQ, &zero, 4);
}

static bool add_queue(struct nftnl_rule *r, const struct rules_rule *rr)
{
	/* padded as the kernel's XT_ALIGN does; libnftnl takes the buffer */
	const size_t len = (sizeof(struct xt_NFQ_info_v3) + 7) & ~(size_t)7;
	struct xt_NFQ_info_v3 q = {
		.queuenum = rr->queue_lo,
		.queues_total = (uint16_t)(rr->queue_hi - rr->queue_lo + 1),
		.flags = rr->bypass ? NFQ_FLAG_BYPASS : 0,
	};
	struct nftnl_expr *e = nftnl_expr_alloc("target");
	uint8_t *info = calloc(1, len);

	if (!e || !info) {
		free(info);
		if (e)
			nftnl_expr_free(e);
		return false;
	}
	memcpy(info, &q, sizeof(q));
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
	nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, (uint32_t)len);
	return add_expr(r, e);
}

static bool add_comment(struct nftnl_rule *r, const char *text)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(256);
	bool ok;

	if (!u)
		return false;
	ok = nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, text);
	if (ok)
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA,
				    nftnl_udata_buf_data(u),
				    nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
	return ok;
}

static int add_rule(struct nftr *n, struct batch *bt, int family,
		    const struct rules_rule *rr)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	char comment[64];
	bool ok;

	if (!r)
		return -ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RULES_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain_name[rr->chain]);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, nfproto(family));
	ok = !rr->has_src || add_saddr(r, family, rr->src, rr->src_plen);
	ok = ok && add_l4proto(r, rr->proto);
	if (ok && rr->related)
		ok = add_related(r);
	if (ok && rr->icmp_type >= 0) {
		uint8_t type = (uint8_t)rr->icmp_type;

		ok = add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1) &&
		     add_cmp(r, NFT_CMP_EQ, &type, 1);
	}
	if (ok && (rr->port_lo || rr->port_hi))
		ok = add_port(r, rr->chain == RULES_INBOUND, rr->port_lo,
			      rr->port_hi);
	ok = ok && add_queue(r, rr);
	if (ok && rr->service[0]) {
		snprintf(comment, sizeof(comment), "service %s", rr->service);
		ok = add_comment(r, comment);
	}
	if (!ok) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	nlh = batch_hdr(n, bt, NFT_MSG_NEWRULE, family,
			NLM_F_APPEND | NLM_F_CREATE);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	batch_next(bt);
	return 0;
}

/* ---- talking to the kernel ------------------------------------------------ */

/*
 * Make the socket's buffers at least @want bytes (SO_SNDBUF or
 * SO_RCVBUF in @opt); the FORCE variant needs CAP_NET_ADMIN, without it
 * [rw]mem_max caps the size.  Best effort: a failure shows as EMSGSIZE
 * or ENOBUFS later.
 */
static void sock_buf_at_least(int fd, int opt, size_t want)
{
	int cur = 0, val;
	socklen_t len = sizeof(cur);

	if (want > INT_MAX / 2)
		want = INT_MAX / 2;
	/* the kernel reports twice the size it was given */
	if (getsockopt(fd, SOL_SOCKET, opt, &cur, &len) == 0 &&
	    (size_t)cur / 2 >= want)
		return;
	val = (int)want;
	if (setsockopt(fd, SOL_SOCKET, opt == SO_SNDBUF ? SO_SNDBUFFORCE :
		       SO_RCVBUFFORCE, &val, sizeof(val)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &val, sizeof(val));
}

/*
 * Send the batch and collect one acknowledgement per message that asked
 * for one.  The kernel refuses a message larger than the send buffer
 * (EMSGSIZE), and drops acknowledgements that overrun the receive buffer
 * after it has committed the batch (ENOBUFS): both are made big enough
 * first.  Return: 0, or the first error the kernel reported.
 */
static int batch_talk(struct nftr *n, struct batch *bt)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned answered = 0;
	int first_err = 0;
	struct pollfd pfd = { .fd = mnl_socket_get_fd(n->nl), .events = POLLIN };

	sock_buf_at_least(pfd.fd, SO_SNDBUF, mnl_nlmsg_batch_size(bt->b) + 4096);
	sock_buf_at_least(pfd.fd, SO_RCVBUF, (size_t)bt->n_acked * NFTR_ACK_ROOM +
			  MNL_SOCKET_BUFFER_SIZE);
	if (mnl_socket_sendto(n->nl, mnl_nlmsg_batch_head(bt->b),
			      mnl_nlmsg_batch_size(bt->b)) < 0)
		return -errno;
	while (answered < bt->n_acked) {
		/* after an error the kernel answers only what failed */
		int pr = poll(&pfd, 1, first_err ? 50 : NFTR_REPLY_TIMEOUT_MS);
		ssize_t got;
		int len;

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		got = mnl_socket_recvfrom(n->nl, buf, sizeof(buf));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return first_err ? first_err : -errno;
		}
		len = (int)got;
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		     mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			answered++;
			if (e->error && !first_err)
				first_err = e->error;
		}
	}
	if (!first_err && answered < bt->n_acked)
		return -ETIMEDOUT;
	return first_err;
}

/* Send one request (not a batch) and run @cb on each answer. */
static int request(struct nftr *n, struct nlmsghdr *nlh, mnl_cb_t cb,
		   void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t len;
	int rc;

	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		len = mnl_socket_recvfrom(n->nl, buf, sizeof(buf));
		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		rc = mnl_cb_run(buf, (size_t)len, seq, n->portid, cb, data);
		if (rc < 0)
			return -errno;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

static size_t plan_batch_size(const struct rules_plan *p, int family)
{
	return 65536 + (size_t)p->n[family == 4 ? 0 : 1] * NFTR_BATCH_PER_RULE;
}

static int install_once(struct nftr *n, const struct rules_plan *p,
			int family, uint32_t flags)
{
	const unsigned fi = family == 4 ? 0 : 1;
	bool chain_used[RULES__CHAINS] = { false };
	char digest[32];
	struct batch bt;
	int rc;

	rc = batch_init(&bt, plan_batch_size(p, family));
	if (rc)
		return rc;
	digest_text(p, family, digest);
	nftnl_batch_begin(batch_cur(&bt), n->seq++);
	batch_next(&bt);
	/* declared without flags, so an existing table is left as it is
	 * until the delete that follows */
	rc = add_table(n, &bt, family, NFT_MSG_NEWTABLE, false, 0, NULL);
	if (!rc)
		rc = add_table(n, &bt, family, NFT_MSG_DELTABLE, false, 0, NULL);
	if (!rc)
		rc = add_table(n, &bt, family, NFT_MSG_NEWTABLE, true, flags,
			       digest);
	for (unsigned i = 0; i < p->n[fi]; i++)
		chain_used[p->rule[fi][i].chain] = true;
	for (int c = 0; !rc && c < RULES__CHAINS; c++)
		if (chain_used[c])
			rc = add_chain(n, &bt, family, (enum rules_chain)c);
	for (unsigned i = 0; !rc && i < p->n[fi]; i++)
		rc = add_rule(n, &bt, family, &p->rule[fi][i]);
	if (!rc) {
		nftnl_batch_end(batch_cur(&bt), n->seq++);
		batch_next(&bt);
		rc = bt.full ? -E2BIG : batch_talk(n, &bt);
	}
	batch_fini(&bt);
	return rc;
}

int nftr_install(struct nftr *n, const struct rules_plan *p, int family,
		 bool own)
{
	int rc;

	if (family != 4 && family != 6)
		return -EINVAL;
	if (!n->no_persist) {
		rc = install_once(n, p, family, NFT_TABLE_F_PERSIST |
				  (own ? NFT_TABLE_F_OWNER : 0));
		if (rc != -EOPNOTSUPP && rc != -EINVAL)
			return rc;
		/* no persistent tables: an owned one would go with the
		 * socket.  Only a success without the flags says so; an
		 * EINVAL about a rule must not make later tables unowned. */
		rc = install_once(n, p, family, 0);
		if (!rc)
			n->no_persist = true;
		return rc;
	}
	return install_once(n, p, family, 0);
}

int nftr_delete(struct nftr *n, int family)
{
	struct batch bt;
	int rc;

	if (family != 4 && family != 6)
		return -EINVAL;
	rc = batch_init(&bt, 16384);
	if (rc)
		return rc;
	nftnl_batch_begin(batch_cur(&bt), n->seq++);
	batch_next(&bt);
	rc = add_table(n, &bt, family, NFT_MSG_DELTABLE, false, 0, NULL);
	if (!rc) {
		nftnl_batch_end(batch_cur(&bt), n->seq++);
		batch_next(&bt);
		rc = batch_talk(n, &bt);
	}
	batch_fini(&bt);
	return rc == -ENOENT ? 0 : rc;
}

/* ---- checking -------------------------------------------------------------- */

struct table_info {
	bool found;
	uint32_t flags, owner;
	bool has_owner;
	char digest[32];
};

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_info *ti = data;
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0) {
		ti->found = true;
		ti->flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
		ti->has_owner = nftnl_table_is_set(t, NFTNL_TABLE_OWNER);
		if (ti->has_owner)
			ti->owner = nftnl_table_get_u32(t, NFTNL_TABLE_OWNER);
		if (nftnl_table_is_set(t, NFTNL_TABLE_USERDATA)) {
			uint32_t len = 0;
			const char *u = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA,
							     &len);

			if (u && len <= sizeof(ti->digest)) {
				memcpy(ti->digest, u, len);
				ti->digest[sizeof(ti->digest) - 1] = '\0';
			}
		}
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

struct rule_count {
	unsigned n[RULES__CHAINS];
	unsigned other;
};

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_count *rc = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	const char *chain;
	bool known = false;

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
		for (int c = 0; chain && c < RULES__CHAINS; c++)
			if (!strcmp(chain, chain_name[c])) {
				rc->n[c]++;
				known = true;
			}
		if (!known)
			rc->other++;
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int nftr_check(struct nftr *n, const struct rules_plan *p, int family,
	       bool own, const char **why)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const unsigned fi = family == 4 ? 0 : 1;
	struct table_info ti = { 0 };
	struct rule_count want = { 0 }, have = { 0 };
	struct nftnl_table *t;
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;
	int rc;

	*why = NULL;
	t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, RULES_TABLE);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, nfproto(family),
				    NLM_F_ACK, n->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	rc = request(n, nlh, table_cb, &ti);
	if (rc == -ENOENT || (!rc && !ti.found)) {
		*why = "the table is gone";
		return 0;
	}
	if (rc)
		return rc;
	if (own && !n->no_persist &&
	    (!(ti.flags & NFT_TABLE_F_OWNER) || !ti.has_owner ||
	     ti.owner != n->portid)) {
		*why = "the table is no longer ours";
		return 0;
	}
	if (ti.flags & NFT_TABLE_F_DORMANT) {
		*why = "the table was made dormant";
		return 0;
	}
	{
		char want_digest[32];

		digest_text(p, family, want_digest);
		if (strcmp(ti.digest, want_digest)) {
			*why = "it holds the rules of another policy or queue layout";
			return 0;
		}
	}

	r = nftnl_rule_alloc();
	if (!r)
		return -ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RULES_TABLE);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, nfproto(family),
				    NLM_F_DUMP, n->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	rc = request(n, nlh, rule_cb, &have);
	if (rc == -ENOENT) {
		*why = "the table is gone";
		return 0;
	}
	if (rc)
		return rc;
	for (unsigned i = 0; i < p->n[fi]; i++)
		want.n[p->rule[fi][i].chain]++;
	if (have.other || memcmp(want.n, have.n, sizeof(want.n))) {
		*why = "its rules were changed";
		return 0;
	}
	return 1;
}

/* ---- change notifications ---------------------------------------------------- */

int nftr_monitor_open(void)
{
	struct mnl_socket *nl;
	int fd, group = NFNLGRP_NFTABLES, big = 1 << 20;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group,
				  sizeof(group)) < 0) {
		int err = -errno;

		mnl_socket_close(nl);
		return err;
	}
	/* a burst of other people's rules must not overrun us often */
	(void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE,
			 &big, sizeof(big));
	fd = dup(mnl_socket_get_fd(nl));
	/* the descriptor is what the caller keeps; the wrapper can go */
	mnl_socket_close(nl);
	if (fd < 0)
		return -errno;
	return fd;
}

int nftr_monitor_drain(int fd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int events = 0;

	for (;;) {
		ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		int len;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return events;
			if (errno == ENOBUFS) {
				events = events ? events : 1;
				continue;
			}
			return -errno;
		}
		if (got == 0)
			return events;
		len = (int)got;
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		     mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			events++;
	}
}
