/*
 * accept-all.c — the live benchmark's baseline queue reader: binds the
 * given netfilter queues, copies each packet to user space and answers it
 * with its own NF_ACCEPT verdict (no batching, no parsing).  What any
 * NFQUEUE program pays at least; nfredactd is measured against it.
 *
 *   accept-all QUEUE...      runs until SIGTERM/SIGINT, then prints the
 *                            number of packets it accepted to stderr
 */
#include <linux/netfilter/nfnetlink_queue.h>	/* before the library's */

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>

static volatile sig_atomic_t stop;
static struct mnl_socket *nl;
static uint64_t accepted;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int send_or_fail(struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

/* Bind, copy mode and flags in one message: a second FLAGS/MASK pair
 * would silently replace the first. */
static int bind_queue(uint16_t queue)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
	return send_or_fail(nlh);
}

static int on_packet(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr *ph;
	struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *verdict;

	(void)data;
	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return MNL_CB_OK;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	verdict = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, ntohs(nfg->res_id));
	nfq_nlmsg_verdict_put(verdict, ntohl(ph->packet_id), NF_ACCEPT);
	if (send_or_fail(verdict) == 0)
		accepted++;
	return MNL_CB_OK;
}

int main(int argc, char **argv)
{
	size_t bufsz = 0xffff + (MNL_SOCKET_BUFFER_SIZE / 2);
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned int portid;
	int one = 1, rcvbuf = 8 << 20;
	char *buf;
	int i, rc = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: accept-all QUEUE...\n");
		return 2;
	}
	/* no SA_RESTART: the blocking receive returns on a signal */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	buf = malloc(bufsz);
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!buf || !nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("accept-all: netlink");
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_NO_ENOBUFS,
		   &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE,
		       &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF,
			   &rcvbuf, sizeof(rcvbuf));

	for (i = 1; i < argc; i++) {
		char *end;
		unsigned long q = strtoul(argv[i], &end, 10);

		if (*end || q > 65535) {
			fprintf(stderr, "accept-all: bad queue number\n");
			goto out;
		}
		if (bind_queue((uint16_t)q) < 0) {
			perror("accept-all: bind");
			goto out;
		}
	}

	while (!stop) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, bufsz);

		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			perror("accept-all: receive");
			goto out;
		}
		if (mnl_cb_run(buf, (size_t)n, 0, portid, on_packet, NULL) < 0 &&
		    errno != EINTR) {
			perror("accept-all: message");
			goto out;
		}
	}
	rc = 0;
out:
	fprintf(stderr, "accept-all: %llu packets accepted\n",
		(unsigned long long)accepted);
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	return rc;
}
