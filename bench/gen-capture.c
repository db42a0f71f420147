/*
 * gen-capture.c — write a large, deterministic pcap of messaging traffic
 * for the engine benchmark: many clients (IPv4 and IPv6) talking to an
 * MQTT broker, an SMTP relay, a syslog collector (UDP and octet-counted
 * TCP) and an HTTP service behind proxies (X-Forwarded-For, PROXY v1),
 * with handshakes, server replies, pure ACKs and correct checksums.
 *
 * Only libc: the capture must be reproducible anywhere from the seed.
 *
 * Usage: gen-capture [-n PACKETS] [-s SEED] [-c CONCURRENT] OUT.pcap
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_CLIENTS4	6000
#define N_CLIENTS6	600
#define MAX_CONC	4096

/* ---- deterministic PRNG (splitmix64 seeding xoshiro256**) ------------ */

static uint64_t rng_s[4];

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
	uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;

	rng_s[2] ^= rng_s[0];
	rng_s[3] ^= rng_s[1];
	rng_s[1] ^= rng_s[2];
	rng_s[0] ^= rng_s[3];
	rng_s[2] ^= t;
	rng_s[3] = rotl(rng_s[3], 45);
	return r;
}

/* uniform in [0, n) (the bias of a modulo of 64 bits is irrelevant here) */
static uint32_t rnd(uint32_t n)
{
	return (uint32_t)(rng_next() % n);
}

static uint32_t rnd_range(uint32_t lo, uint32_t hi)
{
	return lo + rnd(hi - lo + 1);
}

/* ---- growing byte buffers -------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	b->cap = (b->len + more) * 2;
	b->p = realloc(b->p, b->cap);
	if (!b->p) {
		perror("realloc");
		exit(1);
	}
}

static void buf_add(struct buf *b, const void *d, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_reserve(b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ---- identifiers in text --------------------------------------------- */

static const char *const first_names[] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert",
	"sybil", "trent", "victor", "walter", "zoe",
};
static const char *const domains[] = {
	"example.org", "example.com", "example.net", "mail.example.de",
	"corp.example.co.uk", "iot.example.io",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void add_email(struct buf *b)
{
	buf_printf(b, "%s%s%u@%s", first_names[rnd(NELEM(first_names))],
		   rnd(2) ? "." : "", rnd(10000), domains[rnd(NELEM(domains))]);
}

static void add_phone(struct buf *b)
{
	switch (rnd(4)) {
	case 0:
		buf_printf(b, "+1 %03u %03u %04u", rnd_range(200, 999),
			   rnd_range(200, 999), rnd(10000));
		break;
	case 1:
		buf_printf(b, "+49%03u%07u", rnd_range(150, 179), rnd(10000000));
		break;
	case 2:
		buf_printf(b, "+44-20-%04u-%04u", rnd(10000), rnd(10000));
		break;
	default:
		buf_printf(b, "+33.6.%02u.%02u.%02u.%02u", rnd(100), rnd(100),
			   rnd(100), rnd(100));
		break;
	}
}

static void add_ipv4(struct buf *b)
{
	buf_printf(b, "%u.%u.%u.%u", rnd_range(1, 223), rnd(256), rnd(256),
		   rnd_range(1, 254));
}

static void add_ipv6(struct buf *b)
{
	if (rnd(3) == 0)
		buf_printf(b, "2001:db8:%x::%x", rnd(65536), rnd_range(1, 65535));
	else
		buf_printf(b, "2001:db8:%x:%x:%x:%x:%x:%x", rnd(65536),
			   rnd(65536), rnd(65536), rnd(65536), rnd(65536),
			   rnd(65536));
}

static void add_mac(struct buf *b)
{
	buf_printf(b, "%02x:%02x:%02x:%02x:%02x:%02x", rnd(256), rnd(256),
		   rnd(256), rnd(256), rnd(256), rnd(256));
}

static void add_imei(struct buf *b)
{
	buf_printf(b, "imei=%08u%07u", rnd(100000000), rnd(10000000));
}

/* ---- clients and servers --------------------------------------------- */

struct host {
	uint8_t family;
	uint8_t addr[16];
	uint8_t mac[6];
	uint16_t next_port;
};

static struct host clients4[N_CLIENTS4], clients6[N_CLIENTS6];
static struct host server4, server6;

static void make_hosts(void)
{
	for (unsigned i = 0; i < N_CLIENTS4; i++) {
		struct host *h = &clients4[i];
		uint32_t a = (uint32_t)rng_next();

		h->family = 4;
		/* half inside 10.0.0.0/8, half anywhere routable-looking */
		h->addr[0] = i % 2 ? 10 : (uint8_t)rnd_range(11, 223);
		h->addr[1] = (uint8_t)(a >> 8);
		h->addr[2] = (uint8_t)(a >> 16);
		h->addr[3] = (uint8_t)rnd_range(1, 254);
		h->mac[0] = 0x02;
		for (int k = 1; k < 6; k++)
			h->mac[k] = (uint8_t)rnd(256);
		h->next_port = (uint16_t)rnd_range(32768, 60000);
	}
	for (unsigned i = 0; i < N_CLIENTS6; i++) {
		struct host *h = &clients6[i];

		h->family = 6;
		h->addr[0] = 0x20;
		h->addr[1] = 0x01;
		h->addr[2] = 0x0d;
		h->addr[3] = 0xb8;
		for (int k = 4; k < 16; k++)
			h->addr[k] = (uint8_t)rnd(256);
		h->mac[0] = 0x02;
		for (int k = 1; k < 6; k++)
			h->mac[k] = (uint8_t)rnd(256);
		h->next_port = (uint16_t)rnd_range(32768, 60000);
	}
	server4.family = 4;
	memcpy(server4.addr, (uint8_t[]){ 192, 0, 2, 10 }, 4);
	memcpy(server4.mac, (uint8_t[]){ 0x02, 0, 0, 0, 0, 1 }, 6);
	server6.family = 6;
	memcpy(server6.addr, (uint8_t[]){ 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 }, 16);
	memcpy(server6.mac, server4.mac, 6);
}

/* ---- packets --------------------------------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* A conversation between one client and one server port. */
struct session {
	struct host *client, *server;
	uint8_t proto;		/* 6 or 17 */
	uint16_t cport, sport;
	uint32_t cseq, sseq;
	uint16_t ip_id;
	struct buf pkts;	/* [u16 len][frame] ... */
	size_t next;		/* read position in pkts */
};

/*
 * Append one Ethernet frame to the session's script.  @to_server picks
 * the direction; TCP sequence numbers advance by the payload.
 */
static void emit(struct session *s, bool to_server, uint8_t flags,
		 const uint8_t *payload, size_t plen)
{
	uint8_t f[14 + 40 + 20 + 65536];
	const struct host *src = to_server ? s->client : s->server;
	const struct host *dst = to_server ? s->server : s->client;
	bool v6 = s->client->family == 6;
	size_t l3 = v6 ? 40 : 20, l4 = s->proto == 6 ? 20 : 8;
	size_t l4len = l4 + plen, len = 14 + l3 + l4len;
	uint8_t *ip = f + 14, *th = ip + l3;
	uint16_t sp = to_server ? s->cport : s->sport;
	uint16_t dp = to_server ? s->sport : s->cport;
	uint32_t ps;
	uint16_t flen = (uint16_t)len;

	memcpy(f, dst->mac, 6);
	memcpy(f + 6, src->mac, 6);
	put16(f + 12, v6 ? 0x86dd : 0x0800);
	memset(ip, 0, l3 + l4);
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)l4len);
		ip[6] = s->proto;
		ip[7] = 64;
		memcpy(ip + 8, src->addr, 16);
		memcpy(ip + 24, dst->addr, 16);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(l3 + l4len));
		put16(ip + 4, s->ip_id++);
		put16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = s->proto;
		memcpy(ip + 12, src->addr, 4);
		memcpy(ip + 16, dst->addr, 4);
		put16(ip + 10, fold(sum16(ip, 20, 0)));
	}
	put16(th, sp);
	put16(th + 2, dp);
	if (s->proto == 6) {
		uint32_t *seq = to_server ? &s->cseq : &s->sseq;
		uint32_t ack = to_server ? s->sseq : s->cseq;

		put32(th + 4, *seq);
		put32(th + 8, flags & TCP_ACK ? ack : 0);
		th[12] = 5 << 4;
		th[13] = flags;
		put16(th + 14, 64240);
		*seq += (uint32_t)plen + !!(flags & (TCP_SYN | TCP_FIN));
	} else {
		put16(th + 4, (uint16_t)l4len);
	}
	memcpy(th + l4, payload, plen);
	ps = sum16(ip + (v6 ? 8 : 12), v6 ? 32 : 8, 0) + s->proto + (uint32_t)l4len;
	put16(th + (s->proto == 6 ? 16 : 6), fold(sum16(th, l4len, ps)));
	if (s->proto == 17 && th[6] == 0 && th[7] == 0)
		th[6] = th[7] = 0xff;
	buf_add(&s->pkts, &flen, 2);
	buf_add(&s->pkts, f, len);
}

static void emit_buf(struct session *s, bool to_server, struct buf *b)
{
	emit(s, to_server, TCP_PSH | TCP_ACK, b->p, b->len);
	b->len = 0;
}

/* Client data, then the server's pure ACK (or the other way round). */
static void exchange(struct session *s, bool to_server, struct buf *b)
{
	emit_buf(s, to_server, b);
	emit(s, !to_server, TCP_ACK, NULL, 0);
}

static void handshake(struct session *s)
{
	emit(s, true, TCP_SYN, NULL, 0);
	emit(s, false, TCP_SYN | TCP_ACK, NULL, 0);
	emit(s, true, TCP_ACK, NULL, 0);
}

static void teardown(struct session *s)
{
	emit(s, true, TCP_FIN | TCP_ACK, NULL, 0);
	emit(s, false, TCP_FIN | TCP_ACK, NULL, 0);
	emit(s, true, TCP_ACK, NULL, 0);
}

static void addr_text(struct buf *b, const struct host *h)
{
	if (h->family == 4) {
		buf_printf(b, "%u.%u.%u.%u", h->addr[0], h->addr[1], h->addr[2],
			   h->addr[3]);
		return;
	}
	for (int i = 0; i < 16; i += 2)
		buf_printf(b, "%s%x", i ? ":" : "",
			   (unsigned)(h->addr[i] << 8 | h->addr[i + 1]));
}

/* ---- the services ---------------------------------------------------- */

static void mqtt_remaining(struct buf *b, size_t at)
{
	/* MQTT remaining length: 1 or 2 bytes; room was left for 2 */
	size_t n = b->len - at - 3;

	if (n < 128) {
		b->p[at + 1] = (uint8_t)n;
		memmove(b->p + at + 2, b->p + at + 3, n);
		b->len--;
	} else {
		b->p[at + 1] = (uint8_t)(0x80 | (n & 0x7f));
		b->p[at + 2] = (uint8_t)(n >> 7);
	}
}

static void gen_mqtt(struct session *s, struct buf *b)
{
	unsigned n = rnd_range(3, 12);
	size_t at, idp;
	uint16_t id = 1;

	handshake(s);
	/* CONNECT, client id = an email address */
	at = b->len;
	buf_add(b, "\x10\0\0\0\x04MQTT\x04\x02\x00\x3c\0\0", 15);
	idp = b->len;
	add_email(b);
	put16(b->p + at + 13, (uint16_t)(b->len - idp));
	mqtt_remaining(b, at);
	exchange(s, true, b);
	buf_add(b, "\x20\x02\x00\x00", 4);		/* CONNACK */
	exchange(s, false, b);
	for (unsigned i = 0; i < n; i++) {
		if (rnd(6) == 0) {
			buf_add(b, "\xc0\x00", 2);	/* PINGREQ */
			emit_buf(s, true, b);
			buf_add(b, "\xd0\x00", 2);	/* PINGRESP */
			exchange(s, false, b);
			continue;
		}
		at = b->len;
		buf_add(b, "\x32\0\0", 3);		/* PUBLISH, QoS 1 */
		buf_add(b, "\0\0", 2);
		idp = b->len;
		buf_printf(b, "devices/%u/telemetry", rnd(100000));
		put16(b->p + idp - 2, (uint16_t)(b->len - idp));
		buf_add(b, "\0\0", 2);
		put16(b->p + b->len - 2, id);
		buf_printf(b, "{\"ts\":%u,\"temp\":%u.%u,\"owner\":\"",
			   1700000000 + rnd(1000000), rnd(40), rnd(10));
		add_email(b);
		buf_printf(b, "\",\"phone\":\"");
		add_phone(b);
		buf_printf(b, "\",\"ip\":\"");
		add_ipv4(b);
		buf_printf(b, "\",\"mac\":\"");
		add_mac(b);
		if (rnd(3) == 0) {
			buf_printf(b, "\",\"gw\":\"");
			add_ipv6(b);
		}
		if (rnd(4) == 0) {
			buf_printf(b, "\",\"dev\":\"");
			add_imei(b);
		}
		buf_printf(b, "\",\"fw\":\"%u.%u.%u\",\"rssi\":-%u}", rnd(5),
			   rnd(20), rnd(100), rnd_range(30, 99));
		mqtt_remaining(b, at);
		exchange(s, true, b);
		buf_add(b, "\x40\x02\0\0", 4);		/* PUBACK */
		put16(b->p + 2, id++);
		exchange(s, false, b);
	}
	buf_add(b, "\xe0\x00", 2);			/* DISCONNECT */
	emit_buf(s, true, b);
	teardown(s);
}

static void gen_smtp(struct session *s, struct buf *b)
{
	unsigned rcpts = rnd_range(1, 3);

	handshake(s);
	buf_printf(b, "220 mx.example.net ESMTP ready\r\n");
	exchange(s, false, b);
	buf_printf(b, "EHLO [");
	addr_text(b, s->client);
	buf_printf(b, "]\r\n");
	exchange(s, true, b);
	buf_printf(b, "250-mx.example.net Hello [");
	addr_text(b, s->client);
	buf_printf(b, "]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250 PIPELINING\r\n");
	exchange(s, false, b);
	buf_printf(b, "MAIL FROM:<");
	add_email(b);
	buf_printf(b, ">\r\n");
	exchange(s, true, b);
	buf_printf(b, "250 2.1.0 Ok\r\n");
	exchange(s, false, b);
	for (unsigned i = 0; i < rcpts; i++) {
		buf_printf(b, "RCPT TO:<");
		add_email(b);
		buf_printf(b, ">\r\n");
		exchange(s, true, b);
		buf_printf(b, "250 2.1.5 Ok\r\n");
		exchange(s, false, b);
	}
	buf_printf(b, "DATA\r\n");
	exchange(s, true, b);
	buf_printf(b, "354 End data with <CR><LF>.<CR><LF>\r\n");
	exchange(s, false, b);
	buf_printf(b, "Received: from client.example.org (");
	addr_text(b, s->client);
	buf_printf(b, ") by relay.example.net with ESMTPS id %08X\r\n", rnd(0xffffffffu));
	buf_printf(b, "Received: from [");
	add_ipv4(b);
	buf_printf(b, "] (helo=laptop) by mail.example.org\r\nFrom: ");
	add_email(b);
	buf_printf(b, "\r\nTo: ");
	add_email(b);
	buf_printf(b, "\r\nSubject: order %u\r\nMessage-ID: <%u.%u@example.org>\r\n\r\n",
		   rnd(100000), rnd(1000000), rnd(1000000));
	exchange(s, true, b);
	buf_printf(b, "Hello,\r\n\r\nplease call me back on ");
	add_phone(b);
	buf_printf(b, " or write to ");
	add_email(b);
	buf_printf(b, ".\r\nThe device at ");
	add_ipv4(b);
	buf_printf(b, " (");
	add_mac(b);
	buf_printf(b, ") is back online.\r\n\r\nRegards\r\n.\r\n");
	exchange(s, true, b);
	buf_printf(b, "250 2.0.0 Ok: queued as %08X\r\n", rnd(0xffffffffu));
	exchange(s, false, b);
	buf_printf(b, "QUIT\r\n");
	exchange(s, true, b);
	buf_printf(b, "221 2.0.0 Bye\r\n");
	exchange(s, false, b);
	teardown(s);
}

static void syslog_line(struct buf *b)
{
	static const char *const apps[] = { "sshd", "postfix/smtpd", "nginx", "app", "dhcpd" };

	buf_printf(b, "<%u>1 2024-05-%02uT%02u:%02u:%02u.%03uZ host%u %s %u - - ",
		   rnd(192), rnd_range(1, 28), rnd(24), rnd(60), rnd(60),
		   rnd(1000), rnd(100), apps[rnd(NELEM(apps))], rnd(65536));
	switch (rnd(4)) {
	case 0:
		buf_printf(b, "Accepted publickey for user from ");
		add_ipv4(b);
		buf_printf(b, " port %u ssh2", rnd_range(1024, 65535));
		break;
	case 1:
		buf_printf(b, "connect from unknown[");
		add_ipv4(b);
		buf_printf(b, "] sasl_username=");
		add_email(b);
		break;
	case 2:
		buf_printf(b, "DHCPACK on ");
		add_ipv4(b);
		buf_printf(b, " to ");
		add_mac(b);
		buf_printf(b, " via eth0");
		break;
	default:
		buf_printf(b, "request from ");
		add_ipv6(b);
		buf_printf(b, " user ");
		add_email(b);
		buf_printf(b, " status 200");
		break;
	}
}

static void gen_syslog_udp(struct session *s, struct buf *b)
{
	unsigned n = rnd_range(1, 8);

	for (unsigned i = 0; i < n; i++) {
		syslog_line(b);
		emit(s, true, 0, b->p, b->len);
		b->len = 0;
	}
}

static void gen_syslog_tcp(struct session *s, struct buf *b)
{
	unsigned n = rnd_range(2, 10);
	struct buf line = { 0 };

	handshake(s);
	for (unsigned i = 0; i < n; i++) {
		unsigned k = rnd_range(1, 3);

		/* RFC 6587 octet counting, a few messages per segment */
		for (unsigned j = 0; j < k; j++) {
			line.len = 0;
			syslog_line(&line);
			buf_printf(b, "%zu ", line.len);
			buf_add(b, line.p, line.len);
		}
		emit_buf(s, true, b);
		if (i % 2)
			emit(s, false, TCP_ACK, NULL, 0);
	}
	free(line.p);
	teardown(s);
}

static void gen_http(struct session *s, struct buf *b)
{
	unsigned n = rnd_range(1, 3);

	handshake(s);
	if (rnd(3) == 0) {
		/* the load balancer in front speaks PROXY protocol v1 */
		if (s->client->family == 4) {
			buf_printf(b, "PROXY TCP4 ");
			add_ipv4(b);
			buf_printf(b, " 192.0.2.10 %u 80\r\n", rnd_range(1024, 65535));
		} else {
			buf_printf(b, "PROXY TCP6 ");
			add_ipv6(b);
			buf_printf(b, " 2001:db8:ffff::10 %u 80\r\n", rnd_range(1024, 65535));
		}
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned body = rnd_range(40, 400);

		buf_printf(b, "GET /api/v1/items/%u?sort=asc HTTP/1.1\r\n"
			   "Host: api.example.net\r\nUser-Agent: client/%u.%u\r\n"
			   "Accept: application/json\r\nX-Forwarded-For: ",
			   rnd(100000), rnd(10), rnd(10));
		add_ipv4(b);
		if (rnd(2)) {
			buf_printf(b, ", ");
			add_ipv4(b);
		}
		buf_printf(b, "\r\nX-Request-Id: %08x%08x\r\n\r\n", rnd(0xffffffffu),
			   rnd(0xffffffffu));
		exchange(s, true, b);
		buf_printf(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			   "Content-Length: %u\r\n\r\n", body);
		for (unsigned k = 0; k < body; k++)
			buf_add(b, "abcdefghijklmnopqrstuvwxyz0123456789" + rnd(36), 1);
		exchange(s, false, b);
	}
	teardown(s);
}

/* ---- the mix --------------------------------------------------------- */

struct stats {
	uint64_t sessions[5], packets, bytes;
};

static void new_session(struct session *s, struct stats *st)
{
	static struct buf scratch;
	unsigned kind = rnd(100);
	struct host *c = rnd(10) == 0 ? &clients6[rnd(N_CLIENTS6)] :
					&clients4[rnd(N_CLIENTS4)];

	s->pkts.len = 0;
	s->next = 0;
	s->client = c;
	s->server = c->family == 6 ? &server6 : &server4;
	s->cport = c->next_port++;
	if (c->next_port < 32768)
		c->next_port = 32768;
	s->cseq = (uint32_t)rng_next();
	s->sseq = (uint32_t)rng_next();
	s->ip_id = (uint16_t)rng_next();
	scratch.len = 0;
	s->proto = 6;
	if (kind < 40) {
		s->sport = 1883;
		gen_mqtt(s, &scratch);
		st->sessions[0]++;
	} else if (kind < 55) {
		s->sport = 25;
		gen_smtp(s, &scratch);
		st->sessions[1]++;
	} else if (kind < 75) {
		s->proto = 17;
		s->sport = 514;
		gen_syslog_udp(s, &scratch);
		st->sessions[2]++;
	} else if (kind < 85) {
		s->sport = 514;
		gen_syslog_tcp(s, &scratch);
		st->sessions[3]++;
	} else {
		s->sport = 80;
		gen_http(s, &scratch);
		st->sessions[4]++;
	}
}

struct pcap_rec {
	uint32_t sec, usec, caplen, len;
};

static void usage(void)
{
	fprintf(stderr, "usage: gen-capture [-n PACKETS] [-s SEED] [-c CONCURRENT] OUT.pcap\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct session sess[MAX_CONC];
	uint64_t want = 1000000, seed = 1, x;
	unsigned conc = 512;
	uint64_t t_us = 1714521600ull * 1000000ull;	/* 2024-05-01 */
	struct stats st = { 0 };
	static char iobuf[1 << 20];
	const uint32_t ghdr[6] = { 0xa1b2c3d4, 2 | 4u << 16, 0, 0, 65535, 1 };
	FILE *out;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:c:")) != -1) {
		switch (opt) {
		case 'n':
			want = strtoull(optarg, NULL, 10);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 'c':
			conc = (unsigned)strtoul(optarg, NULL, 10);
			if (conc < 1 || conc > MAX_CONC)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	x = seed;
	for (int i = 0; i < 4; i++)
		rng_s[i] = splitmix64(&x);
	make_hosts();

	out = fopen(argv[optind], "wb");
	if (!out) {
		fprintf(stderr, "gen-capture: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	setvbuf(out, iobuf, _IOFBF, sizeof(iobuf));
	fwrite(ghdr, sizeof(ghdr), 1, out);
	for (unsigned i = 0; i < conc; i++)
		new_session(&sess[i], &st);

	while (st.packets < want) {
		struct session *s = &sess[rnd(conc)];
		uint16_t flen;
		struct pcap_rec r;

		if (s->next >= s->pkts.len) {
			new_session(s, &st);
			continue;
		}
		memcpy(&flen, s->pkts.p + s->next, 2);
		t_us += rnd_range(1, 20);
		r.sec = (uint32_t)(t_us / 1000000);
		r.usec = (uint32_t)(t_us % 1000000);
		r.caplen = r.len = flen;
		fwrite(&r, sizeof(r), 1, out);
		fwrite(s->pkts.p + s->next + 2, flen, 1, out);
		s->next += 2u + flen;
		st.packets++;
		st.bytes += flen;
	}
	if (fclose(out) != 0) {
		fprintf(stderr, "gen-capture: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	fprintf(stderr, "gen-capture: %llu packets, %llu bytes; sessions: mqtt %llu, "
		"smtp %llu, syslog-udp %llu, syslog-tcp %llu, http %llu\n",
		(unsigned long long)st.packets, (unsigned long long)st.bytes,
		(unsigned long long)st.sessions[0], (unsigned long long)st.sessions[1],
		(unsigned long long)st.sessions[2], (unsigned long long)st.sessions[3],
		(unsigned long long)st.sessions[4]);
	for (unsigned i = 0; i < conc; i++)
		free(sess[i].pkts.p);
	return 0;
}
