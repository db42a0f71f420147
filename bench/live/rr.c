/*
 * rr.c — request/response traffic for the live benchmark: an echo server
 * and a client that keeps a bounded number of requests in flight and
 * reports delivered requests and packets per second and the per-request
 * latency (p50, p99).  UDP: one socket, a window of numbered requests.
 * TCP: one connection per window slot, one request in flight on each, so
 * every request and every reply is one segment.
 *
 *   rr server udp|tcp PORT
 *   rr client udp|tcp HOST PORT [-w WINDOW] [-s SIZE] [-t SECONDS] [-n MAX]
 *        [-e crlf|digit|split]
 *        -e: how every request ends: "\r\n" (a clean tail), in a digit
 *        (" fw=2": could be the start of an address), or in the middle of
 *        an e-mail address (" mail bob@exa"); a stream-aware filter holds
 *        the last two back until its hold time passes, since the rest
 *        never comes
 *   rr flows HOST PORT -n FLOWS [-b FIRST_PORT]
 *        one UDP request from each of FLOWS source ports, in turn: makes
 *        FLOWS distinct flows through whatever sits in between
 *
 * Requests are text ("r=SEQ temp=21.5 ..."), every fourth one with an
 * e-mail address and a phone number in it, so a redacting filter has work.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 1400
#define MAX_WINDOW 1024
#define BATCH 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void die(const char *what)
{
	perror(what);
	exit(1);
}

static int resolve(const char *host, const char *port, int socktype,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = socktype }, *res;
	int rc = getaddrinfo(host, port, &hints, &res);

	if (rc) {
		fprintf(stderr, "rr: %s: %s\n", host, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

enum req_end { END_FILLER, END_CRLF, END_DIGIT, END_SPLIT };
static enum req_end req_end = END_FILLER;

/* The request text; the same for every mode, so runs compare. */
static size_t make_request(char *buf, size_t size, uint32_t seq)
{
	static const char split[] = " mail bob@exa";
	static const char filler[] =
		" temp=21.5 unit=C status=ok topic=sensors/hall/3 qos=1 "
		"retain=0 battery=87 fw=2.4.1 rssi=-67 uptime=123456 ";
	static const char ident[] =
		" mail bob@example.org tel +15551234567 ";
	int n = snprintf(buf, size, "r=%08x", seq);
	size_t off = (size_t)n;

	if (seq % 4 == 0 && off + sizeof(ident) - 1 <= size) {
		memcpy(buf + off, ident, sizeof(ident) - 1);
		off += sizeof(ident) - 1;
	}
	while (off < size) {
		size_t k = sizeof(filler) - 1;

		if (k > size - off)
			k = size - off;
		memcpy(buf + off, filler, k);
		off += k;
	}
	if (req_end == END_CRLF)
		memcpy(buf + size - 2, "\r\n", 2);
	else if (req_end == END_DIGIT)
		memcpy(buf + size - 5, " fw=2", 5);
	else if (req_end == END_SPLIT)
		memcpy(buf + size - (sizeof(split) - 1), split, sizeof(split) - 1);
	return size;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *proto, uint64_t sent, uint64_t done,
		   uint64_t lost, uint64_t elapsed_ns, uint32_t *lat)
{
	double secs = (double)elapsed_ns / 1e9;
	uint32_t p50 = 0, p99 = 0;

	if (done) {
		qsort(lat, done, sizeof(*lat), cmp_u32);
		p50 = lat[done / 2];
		p99 = lat[(done * 99) / 100];
	}
	/* two packets a request: the request and its reply */
	printf("%s requests=%llu replies=%llu lost=%llu seconds=%.3f "
	       "rps=%.0f pps=%.0f p50_us=%.1f p99_us=%.1f\n", proto,
	       (unsigned long long)sent, (unsigned long long)done,
	       (unsigned long long)lost, secs, done / secs, 2 * done / secs,
	       p50 / 1000.0, p99 / 1000.0);
}

static int server_socket(int socktype, const char *port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_ANY_INIT };
	int fd = socket(AF_INET6, socktype, 0), zero = 0, one = 1;

	if (fd < 0)
		die("socket");
	a.sin6_port = htons((uint16_t)atoi(port));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	return fd;
}

static _Noreturn void serve_udp(const char *port)
{
	static char bufs[BATCH][MAX_SIZE + 100];
	struct sockaddr_in6 peers[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	int fd = server_socket(SOCK_DGRAM, port), i, n;
	int rcvbuf = 4 << 20;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	for (;;) {
		for (i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &peers[i],
				.msg_namelen = sizeof(peers[i]),
				.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recvmmsg");
		}
		for (i = 0; i < n; i++)
			iov[i].iov_len = msgs[i].msg_len;
		sendmmsg(fd, msgs, (unsigned int)n, 0);
	}
}

static _Noreturn void serve_tcp(const char *port)
{
	struct epoll_event ev, evs[64];
	int lfd = server_socket(SOCK_STREAM, port), ep, i, n;
	char buf[65536];

	if (listen(lfd, 1024) < 0)
		die("listen");
	ep = epoll_create1(0);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = lfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd, one = 1;
			ssize_t r;

			if (fd == lfd) {
				int c = accept(lfd, NULL, NULL);

				if (c < 0)
					continue;
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one,
					   sizeof(one));
				ev = (struct epoll_event){ .events = EPOLLIN,
							   .data.fd = c };
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r <= 0 || write(fd, buf, (size_t)r) != r)
				close(fd);
		}
	}
}

struct opts {
	unsigned window, size, seconds;
	uint64_t max;
	unsigned first_port;
};

static int client_udp(const char *host, const char *port, struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint64_t *sent_at, start, deadline, sent = 0, done = 0, lost = 0;
	uint32_t *lat, inflight = 0;
	char buf[MAX_SIZE + 100];
	int fd;

	if (resolve(host, port, SOCK_DGRAM, &ss, &sl) < 0)
		return 1;
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0)
		die("connect");
	sent_at = calloc(o->max, sizeof(*sent_at));
	lat = calloc(o->max, sizeof(*lat));
	if (!sent_at || !lat)
		die("calloc");
	start = now_ns();
	deadline = start + (uint64_t)o->seconds * 1000000000u;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t t = now_ns();
		int pr;

		while (inflight < o->window && sent < o->max && t < deadline) {
			size_t len = make_request(buf, o->size, (uint32_t)sent);

			sent_at[sent] = t;
			if (send(fd, buf, len, 0) < 0) {
				if (errno == ENOBUFS || errno == EAGAIN ||
				    errno == ECONNREFUSED)
					break;
				die("send");
			}
			sent++;
			inflight++;
		}
		if (inflight == 0)
			break;
		pr = poll(&pfd, 1, 200);
		if (pr == 0) {
			/* the window went quiet: what is out is lost */
			lost += inflight;
			inflight = 0;
			if (now_ns() >= deadline)
				break;
			continue;
		}
		while (1) {
			ssize_t r = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			unsigned long seq;

			if (r < 0)
				break;
			buf[r] = 0;
			if (r < 10 || strncmp(buf, "r=", 2))
				continue;
			seq = strtoul(buf + 2, NULL, 16);
			if (seq >= sent || !sent_at[seq])
				continue;	/* late, already counted lost */
			lat[done++] = (uint32_t)(now_ns() - sent_at[seq]);
			sent_at[seq] = 0;
			if (inflight)
				inflight--;
		}
	}
	report("udp", sent, done, lost, now_ns() - start, lat);
	return 0;
}

static int client_tcp(const char *host, const char *port, struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint64_t sent_at[MAX_WINDOW], start, deadline, sent = 0, done = 0;
	unsigned got[MAX_WINDOW];
	int fds[MAX_WINDOW], ep, one = 1;
	char buf[MAX_SIZE + 100];
	uint32_t *lat;
	unsigned i, active;

	if (resolve(host, port, SOCK_STREAM, &ss, &sl) < 0)
		return 1;
	lat = calloc(o->max, sizeof(*lat));
	ep = epoll_create1(0);
	if (!lat || ep < 0)
		die("setup");
	for (i = 0; i < o->window; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		fds[i] = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&ss, sl) < 0)
			die("connect");
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	start = now_ns();
	deadline = start + (uint64_t)o->seconds * 1000000000u;
	for (i = 0; i < o->window && sent < o->max; i++) {
		size_t len = make_request(buf, o->size, (uint32_t)sent);

		sent_at[i] = now_ns();
		got[i] = 0;
		if (write(fds[i], buf, len) != (ssize_t)len)
			die("write");
		sent++;
	}
	active = i;
	while (active) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 2000), k;

		if (n <= 0)
			break;	/* stalled: report what was delivered */
		for (k = 0; k < n; k++) {
			unsigned c = evs[k].data.u32;
			ssize_t r = read(fds[c], buf, o->size - got[c]);
			uint64_t t;

			if (r <= 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[c], NULL);
				active--;
				continue;
			}
			got[c] += (unsigned)r;
			if (got[c] < o->size)
				continue;
			t = now_ns();
			lat[done++] = (uint32_t)(t - sent_at[c]);
			got[c] = 0;
			if (sent >= o->max || t >= deadline) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[c], NULL);
				active--;
				continue;
			}
			make_request(buf, o->size, (uint32_t)sent);
			sent_at[c] = t;
			if (write(fds[c], buf, o->size) != (ssize_t)o->size)
				die("write");
			sent++;
		}
	}
	report("tcp", sent, done, sent - done, now_ns() - start, lat);
	for (i = 0; i < o->window; i++)
		close(fds[i]);
	return 0;
}

static int client_flows(const char *host, const char *port, struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint64_t i, ok = 0, start = now_ns();
	char buf[MAX_SIZE + 100];

	if (resolve(host, port, SOCK_DGRAM, &ss, &sl) < 0)
		return 1;
	for (i = 0; i < o->max; i++) {
		struct sockaddr_storage local = { .ss_family = ss.ss_family };
		uint16_t p = (uint16_t)(o->first_port + i);
		int fd = socket(ss.ss_family, SOCK_DGRAM, 0), try;

		if (fd < 0)
			die("socket");
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&local)->sin_port = htons(p);
		else
			((struct sockaddr_in6 *)&local)->sin6_port = htons(p);
		if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0 ||
		    connect(fd, (struct sockaddr *)&ss, sl) < 0) {
			close(fd);
			continue;
		}
		for (try = 0; try < 3; try++) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			size_t len = make_request(buf, o->size, (uint32_t)i);

			if (send(fd, buf, len, 0) < 0)
				break;
			if (poll(&pfd, 1, 100) == 1 && recv(fd, buf, sizeof(buf), 0) > 0) {
				ok++;
				break;
			}
		}
		close(fd);
	}
	printf("flows tried=%llu answered=%llu seconds=%.3f\n",
	       (unsigned long long)o->max, (unsigned long long)ok,
	       (double)(now_ns() - start) / 1e9);
	return ok == o->max ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rr server udp|tcp PORT\n"
		"       rr client udp|tcp HOST PORT [-w WINDOW] [-s SIZE] [-t SECONDS] [-n MAX]\n"
		"                 [-e crlf|digit|split]\n"
		"       rr flows HOST PORT -n FLOWS [-b FIRST_PORT]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .window = 32, .size = 128, .seconds = 3,
			  .max = 4000000, .first_port = 10000 };
	int i, first_opt;

	if (argc < 4)
		usage();
	if (!strcmp(argv[1], "server")) {
		if (!strcmp(argv[2], "udp"))
			serve_udp(argv[3]);
		if (!strcmp(argv[2], "tcp"))
			serve_tcp(argv[3]);
		usage();
	}
	first_opt = !strcmp(argv[1], "flows") ? 4 : 5;
	if (argc < first_opt)
		usage();
	for (i = first_opt; i + 1 < argc; i += 2) {
		unsigned long v = strtoul(argv[i + 1], NULL, 10);

		if (!strcmp(argv[i], "-e") && !strcmp(argv[i + 1], "crlf"))
			req_end = END_CRLF;
		else if (!strcmp(argv[i], "-e") && !strcmp(argv[i + 1], "digit"))
			req_end = END_DIGIT;
		else if (!strcmp(argv[i], "-e") && !strcmp(argv[i + 1], "split"))
			req_end = END_SPLIT;
		else if (!strcmp(argv[i], "-w") && v >= 1 && v <= MAX_WINDOW)
			o.window = (unsigned)v;
		else if (!strcmp(argv[i], "-s") && v >= 16 && v <= MAX_SIZE)
			o.size = (unsigned)v;
		else if (!strcmp(argv[i], "-t") && v >= 1)
			o.seconds = (unsigned)v;
		else if (!strcmp(argv[i], "-n") && v >= 1)
			o.max = v;
		else if (!strcmp(argv[i], "-b") && v >= 1 && v < 65536)
			o.first_port = (unsigned)v;
		else
			usage();
	}
	if (i != argc)
		usage();
	if (!strcmp(argv[1], "flows")) {
		if (o.first_port + o.max > 65536) {
			fprintf(stderr, "rr: FIRST_PORT + FLOWS > 65536\n");
			return 2;
		}
		return client_flows(argv[2], argv[3], &o);
	}
	if (strcmp(argv[1], "client"))
		usage();
	if (!strcmp(argv[2], "udp"))
		return client_udp(argv[3], argv[4], &o);
	if (!strcmp(argv[2], "tcp"))
		return client_tcp(argv[3], argv[4], &o);
	usage();
	return 2;
}
