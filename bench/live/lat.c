/*
 * lat.c — per-operation latency of real application protocols, for the
 * live benchmark's latency table (bench/live/run-live.sh) and the
 * message-boundary checks (tests/e2e/frame.sh).  It speaks MQTT 3.1.1
 * and HTTP/1.1 itself over plain TCP sockets (TCP_NODELAY: every message
 * is one write, so one segment), and times each operation with
 * CLOCK_MONOTONIC from the write of the request to the read of the whole
 * answer.
 *
 *   lat connect HOST PORT [-n N] [-i CLIENT_ID] [-u USERNAME]
 *        N connections, one after the other: CONNECT -> CONNACK on each
 *        (the TCP handshake is not timed), then DISCONNECT
 *   lat publish HOST PORT [-n N] [-i CLIENT_ID] [-u USERNAME] [-t TOPIC]
 *        [-e digit|letter|newline | -m PAYLOAD] [-s FILTER]
 *        [-c CUT -g GAP_MS]
 *        one connection (CONNECT, and SUBSCRIBE FILTER with QoS 1 when
 *        given, not timed), then N QoS 1 PUBLISH -> PUBACK in turn.  -e:
 *        how the generated payload ends; -m: this payload instead.  -c:
 *        each PUBLISH is written in two parts, cut CUT bytes into the
 *        payload, GAP_MS apart (two segments)
 *   lat http HOST PORT [-n N] [-p PATH] [-b BODY]
 *        one keep-alive connection, N POST requests with a JSON body
 *        (Content-Length, no newline at its end) -> the whole response
 *
 * Prints one line: "OP n=N p50_us=... p99_us=... mean_us=... max_us=...".
 * Exit: 0, 1 when the server refused or broke an exchange, 2 on usage.
 * The generated payloads and bodies carry an e-mail address, a phone
 * number and an IPv4 literal, so a redacting filter has work to do.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSG 4096
#define MAX_OPS 1000000
#define IO_TIMEOUT_S 5

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("lat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

struct opts {
	const char *host, *port;
	unsigned n;
	const char *client_id, *username, *topic, *payload, *filter;
	const char *path, *body;
	enum { END_DIGIT, END_LETTER, END_NEWLINE } end;
	long cut;		/* -1: each message in one write */
	unsigned gap_ms;
};

/* A connected TCP socket with TCP_NODELAY and bounded reads and writes. */
static int tcp_connect(const struct opts *o)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int rc = getaddrinfo(o->host, o->port, &hints, &res), fd, one = 1;

	if (rc)
		fail("%s: %s", o->host, gai_strerror(rc));
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0)
		fail("connect %s port %s: %s", o->host, o->port, strerror(errno));
	freeaddrinfo(res);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static void write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail("write: %s", w < 0 ? strerror(errno) : "nothing written");
		buf += w;
		len -= (size_t)w;
	}
}

static void read_all(int fd, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t r = read(fd, buf, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail("read: %s", errno == EAGAIN ? "no answer in time" :
			     strerror(errno));
		if (r == 0)
			fail("read: the server closed the connection");
		buf += r;
		len -= (size_t)r;
	}
}

/* ---- MQTT 3.1.1 ------------------------------------------------------- */

enum {
	MQTT_CONNECT = 1, MQTT_CONNACK = 2, MQTT_PUBLISH = 3, MQTT_PUBACK = 4,
	MQTT_SUBSCRIBE = 8, MQTT_SUBACK = 9, MQTT_DISCONNECT = 14,
};

struct mqtt_msg {
	uint8_t buf[MAX_MSG];
	size_t len;
};

static void put_u8(struct mqtt_msg *m, uint8_t v)
{
	if (m->len >= sizeof(m->buf))
		fail("an MQTT packet longer than %d bytes", MAX_MSG);
	m->buf[m->len++] = v;
}

static void put_u16(struct mqtt_msg *m, uint16_t v)
{
	put_u8(m, (uint8_t)(v >> 8));
	put_u8(m, (uint8_t)v);
}

static void put_raw(struct mqtt_msg *m, const void *p, size_t len)
{
	if (len > sizeof(m->buf) - m->len)
		fail("an MQTT packet longer than %d bytes", MAX_MSG);
	memcpy(m->buf + m->len, p, len);
	m->len += len;
}

static void put_str(struct mqtt_msg *m, const char *s)
{
	size_t len = strlen(s);

	if (len > 65535)
		fail("an MQTT string longer than 65535 bytes");
	put_u16(m, (uint16_t)len);
	put_raw(m, s, len);
}

/*
 * The variable part of a packet is built in @body; this puts the fixed
 * header (type and flags, remaining length) before it into @out.
 * Return: the offset in @out where the variable part starts.
 */
static size_t mqtt_frame(struct mqtt_msg *out, uint8_t first,
			 const struct mqtt_msg *body)
{
	size_t rl = body->len, start;

	out->len = 0;
	put_u8(out, first);
	do {
		uint8_t d = rl % 128;

		rl /= 128;
		put_u8(out, (uint8_t)(d | (rl ? 0x80 : 0)));
	} while (rl);
	start = out->len;
	put_raw(out, body->buf, body->len);
	return start;
}

/* Read one packet: its type in the high nibble of *@first, the rest in @m. */
static void mqtt_read(int fd, uint8_t *first, struct mqtt_msg *m)
{
	size_t rl = 0, mul = 1;
	uint8_t b;
	int i;

	read_all(fd, first, 1);
	for (i = 0; i < 4; i++) {
		read_all(fd, &b, 1);
		rl += (size_t)(b & 0x7f) * mul;
		mul *= 128;
		if (!(b & 0x80))
			break;
	}
	if (i == 4 || rl > sizeof(m->buf))
		fail("an MQTT packet from the server too long to read");
	read_all(fd, m->buf, rl);
	m->len = rl;
}

/*
 * Wait for the packet of type @type (with packet identifier @id when it
 * has one); what else the broker sends meanwhile (messages for the
 * subscription) is read and passed over.
 */
static void mqtt_expect(int fd, int type, int id, struct mqtt_msg *m)
{
	uint8_t first;

	for (;;) {
		mqtt_read(fd, &first, m);
		if (first >> 4 != type)
			continue;
		if (id >= 0 && (m->len < 2 ||
				((m->buf[0] << 8) | m->buf[1]) != id))
			continue;
		return;
	}
}

static void mqtt_connect_msg(struct mqtt_msg *out, const struct opts *o)
{
	struct mqtt_msg body = { .len = 0 };
	uint8_t flags = 0x02;	/* clean session */

	if (o->username && *o->username)
		flags |= 0x80;
	put_str(&body, "MQTT");
	put_u8(&body, 4);	/* protocol level: 3.1.1 */
	put_u8(&body, flags);
	put_u16(&body, 60);	/* keep alive, seconds */
	put_str(&body, o->client_id);
	if (flags & 0x80)
		put_str(&body, o->username);
	mqtt_frame(out, MQTT_CONNECT << 4, &body);
}

static void mqtt_connack(int fd)
{
	struct mqtt_msg m;

	mqtt_expect(fd, MQTT_CONNACK, -1, &m);
	if (m.len != 2 || m.buf[1] != 0)
		fail("the broker refused the connection (CONNACK code %d)",
		     m.len == 2 ? m.buf[1] : -1);
}

static void mqtt_disconnect(int fd)
{
	static const uint8_t disconnect[] = { MQTT_DISCONNECT << 4, 0 };

	write_all(fd, disconnect, sizeof(disconnect));
	close(fd);
}

/* ---- timings ---------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *op, uint64_t *lat, unsigned n)
{
	uint64_t sum = 0;
	unsigned i;

	qsort(lat, n, sizeof(*lat), cmp_u64);
	for (i = 0; i < n; i++)
		sum += lat[i];
	printf("%s n=%u p50_us=%.1f p99_us=%.1f mean_us=%.1f max_us=%.1f\n",
	       op, n, lat[n / 2] / 1e3, lat[(n * 99ul) / 100] / 1e3,
	       (double)sum / n / 1e3, lat[n - 1] / 1e3);
}

/* ---- the operations --------------------------------------------------- */

static int op_connect(const struct opts *o, uint64_t *lat)
{
	struct mqtt_msg connect;
	unsigned i;

	mqtt_connect_msg(&connect, o);
	for (i = 0; i < o->n; i++) {
		int fd = tcp_connect(o);
		uint64_t t0 = now_ns();

		write_all(fd, connect.buf, connect.len);
		mqtt_connack(fd);
		lat[i] = now_ns() - t0;
		mqtt_disconnect(fd);
	}
	report("mqtt-connect", lat, o->n);
	return 0;
}

/* The generated payload of PUBLISH @seq: identifiers, then the end asked. */
static size_t make_payload(char *buf, size_t size, const struct opts *o,
			   unsigned seq)
{
	static const char *const ends[] = {
		[END_DIGIT] = " temp=21.5",
		[END_LETTER] = " unit=C",
		[END_NEWLINE] = " unit=C\n",
	};
	int n;

	if (o->payload)
		n = snprintf(buf, size, "%s", o->payload);
	else
		n = snprintf(buf, size, "{\"seq\":%u,\"user\":\"carol@example.org\","
			     "\"phone\":\"+44 20 7946 0958\",\"ip\":\"198.51.100.7\"}%s",
			     seq, ends[o->end]);
	if (n < 0 || (size_t)n >= size)
		fail("the payload is too long");
	return (size_t)n;
}

static int op_publish(const struct opts *o, uint64_t *lat)
{
	struct mqtt_msg msg, body, ack;
	char payload[MAX_MSG / 2];
	int fd = tcp_connect(o);
	uint16_t id = 0;
	unsigned i;

	mqtt_connect_msg(&msg, o);
	write_all(fd, msg.buf, msg.len);
	mqtt_connack(fd);
	if (o->filter) {
		body.len = 0;
		put_u16(&body, ++id);
		put_str(&body, o->filter);
		put_u8(&body, 1);	/* QoS 1 */
		mqtt_frame(&msg, MQTT_SUBSCRIBE << 4 | 0x2, &body);
		write_all(fd, msg.buf, msg.len);
		mqtt_expect(fd, MQTT_SUBACK, id, &ack);
		if (ack.len != 3 || ack.buf[2] & 0x80)
			fail("the broker refused the subscription");
	}
	for (i = 0; i < o->n; i++) {
		size_t plen = make_payload(payload, sizeof(payload), o, i), start;
		uint64_t t0;

		if (++id == 0)
			id = 1;
		body.len = 0;
		put_str(&body, o->topic);
		put_u16(&body, id);
		put_raw(&body, payload, plen);
		start = mqtt_frame(&msg, MQTT_PUBLISH << 4 | 0x2, &body);
		t0 = now_ns();
		if (o->cut >= 0) {
			/* the payload starts after the topic and the id */
			size_t at = start + 2 + strlen(o->topic) + 2 + (size_t)o->cut;
			struct timespec gap = {
				.tv_sec = o->gap_ms / 1000,
				.tv_nsec = (long)(o->gap_ms % 1000) * 1000000,
			};

			if ((size_t)o->cut >= plen)
				fail("-c %ld: the payload has %zu bytes", o->cut, plen);
			write_all(fd, msg.buf, at);
			nanosleep(&gap, NULL);
			write_all(fd, msg.buf + at, msg.len - at);
		} else {
			write_all(fd, msg.buf, msg.len);
		}
		mqtt_expect(fd, MQTT_PUBACK, id, &ack);
		lat[i] = now_ns() - t0;
	}
	mqtt_disconnect(fd);
	report(o->cut >= 0 ? "mqtt-publish-cut" : o->payload ? "mqtt-publish" :
	       o->end == END_DIGIT ? "mqtt-publish-digit" :
	       o->end == END_LETTER ? "mqtt-publish-letter" :
	       "mqtt-publish-newline", lat, o->n);
	return 0;
}

/* Read one HTTP response whole: the head, then Content-Length bytes. */
static void http_response(int fd, char *buf, size_t size)
{
	size_t have = 0, head, body;
	char *end, *cl;

	for (;;) {
		ssize_t r;

		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		if (have + 1 >= size)
			fail("an HTTP response head too long");
		r = read(fd, buf + have, size - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail("read: %s", r < 0 ? strerror(errno) :
			     "the server closed the connection");
		have += (size_t)r;
	}
	if (strncmp(buf, "HTTP/1.1 200 ", 13))
		fail("the server answered: %.*s", (int)strcspn(buf, "\r\n"), buf);
	head = (size_t)(end + 4 - buf);
	*end = 0;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (!cl)
		fail("an HTTP response without Content-Length");
	body = strtoul(cl + 17, NULL, 10);
	if (head + body > size)
		fail("an HTTP response body too long");
	if (have < head + body)
		read_all(fd, (uint8_t *)buf + have, head + body - have);
	else if (have > head + body)
		fail("more bytes than the HTTP response");
}

static int op_http(const struct opts *o, uint64_t *lat)
{
	char body[MAX_MSG / 2], req[MAX_MSG], resp[MAX_MSG];
	int fd = tcp_connect(o), n;
	unsigned i;

	for (i = 0; i < o->n; i++) {
		uint64_t t0;
		int bl;

		if (o->body)
			bl = snprintf(body, sizeof(body), "%s", o->body);
		else
			bl = snprintf(body, sizeof(body),
				      "{\"seq\":%u,\"user\":\"carol@example.org\","
				      "\"phone\":\"+44 20 7946 0958\","
				      "\"ip\":\"198.51.100.7\",\"temp\":21.5}", i);
		if (bl < 0 || (size_t)bl >= sizeof(body))
			fail("the body is too long");
		n = snprintf(req, sizeof(req),
			     "POST %s HTTP/1.1\r\nHost: %s\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: %d\r\n\r\n%s",
			     o->path, o->host, bl, body);
		if (n < 0 || (size_t)n >= sizeof(req))
			fail("the request is too long");
		t0 = now_ns();
		write_all(fd, (uint8_t *)req, (size_t)n);
		http_response(fd, resp, sizeof(resp));
		lat[i] = now_ns() - t0;
	}
	close(fd);
	report("http-post", lat, o->n);
	return 0;
}

static _Noreturn void usage(void)
{
	fprintf(stderr,
		"usage: lat connect HOST PORT [-n N] [-i CLIENT_ID] [-u USERNAME]\n"
		"       lat publish HOST PORT [-n N] [-i CLIENT_ID] [-u USERNAME] [-t TOPIC]\n"
		"                   [-e digit|letter|newline | -m PAYLOAD] [-s FILTER]\n"
		"                   [-c CUT -g GAP_MS]\n"
		"       lat http HOST PORT [-n N] [-p PATH] [-b BODY]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.n = 100, .client_id = "alice@example.org",
		.username = "bob@example.org", .topic = "sensors/hall/3",
		.path = "/ingest", .end = END_DIGIT, .cut = -1,
	};
	int (*op)(const struct opts *, uint64_t *);
	uint64_t *lat;
	int i, rc;

	if (argc < 4)
		usage();
	if (!strcmp(argv[1], "connect"))
		op = op_connect;
	else if (!strcmp(argv[1], "publish"))
		op = op_publish;
	else if (!strcmp(argv[1], "http"))
		op = op_http;
	else
		usage();
	o.host = argv[2];
	o.port = argv[3];
	for (i = 4; i + 1 < argc; i += 2) {
		const char *f = argv[i], *v = argv[i + 1];
		char *e;
		unsigned long n = strtoul(v, &e, 10);
		bool num = *v && !*e;

		if (!strcmp(f, "-n") && num && n >= 1 && n <= MAX_OPS)
			o.n = (unsigned)n;
		else if (!strcmp(f, "-i"))
			o.client_id = v;
		else if (!strcmp(f, "-u"))
			o.username = v;
		else if (!strcmp(f, "-t") && op == op_publish)
			o.topic = v;
		else if (!strcmp(f, "-m") && op == op_publish)
			o.payload = v;
		else if (!strcmp(f, "-s") && op == op_publish)
			o.filter = v;
		else if (!strcmp(f, "-e") && op == op_publish && !strcmp(v, "digit"))
			o.end = END_DIGIT;
		else if (!strcmp(f, "-e") && op == op_publish && !strcmp(v, "letter"))
			o.end = END_LETTER;
		else if (!strcmp(f, "-e") && op == op_publish && !strcmp(v, "newline"))
			o.end = END_NEWLINE;
		else if (!strcmp(f, "-c") && op == op_publish && num && n < MAX_MSG)
			o.cut = (long)n;
		else if (!strcmp(f, "-g") && op == op_publish && num && n <= 10000)
			o.gap_ms = (unsigned)n;
		else if (!strcmp(f, "-p") && op == op_http)
			o.path = v;
		else if (!strcmp(f, "-b") && op == op_http)
			o.body = v;
		else
			usage();
	}
	if (i != argc)
		usage();
	lat = calloc(o.n, sizeof(*lat));
	if (!lat)
		fail("out of memory");
	rc = op(&o, lat);
	free(lat);
	return rc;
}
