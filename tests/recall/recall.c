/*
 * recall.c — the recall corpus runner (tests/recall/README.md).
 *
 * Each case is a line of bytes whose identifiers are marked by hand from
 * the formats' specifications.  Every case runs three ways under a policy
 * that masks every built-in detector: the detectors alone (detect_scan()),
 * the engine on a TCP stream cut into two segments at every offset (holds,
 * releases and a hold timeout at the end), and the engine on one UDP
 * datagram.  The output must be exact: every marked byte masked (letters
 * 'x', digits '0', other bytes as they were), every unmarked byte as it
 * was, bytes in {{ }} either.
 *
 * The runner also reads a false-positive corpus (plain lines, nothing
 * marked) and reports the detectors' matches per kilobyte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "engine.h"
#include "flow.h"
#include "policy.h"
#include "ruleset.h"

#define MAX_TEXT 4096
#define NOW_NS (1700000000ull * 1000000000ull)
#define MS_NS 1000000ull
#define SVC_PORT 7000

static const char recall_policy[] =
	"service recall {\n"
	"\tlisten tcp 7000\n"
	"\tlisten udp 7000\n"
	"\taddress ipv4 keep\n"
	"\taddress ipv6 keep\n"
	"\tredact ipv4 mask\n"
	"\tredact ipv6 mask\n"
	"\tredact email mask\n"
	"\tredact phone mask\n"
	"\tredact mac mask\n"
	"}\n";

/* What must happen to a byte. */
enum want {
	W_KEEP,		/* unchanged */
	W_MASK,		/* masked */
	W_EITHER,	/* unchanged or masked */
};

enum cls { C_IPV4, C_IPV6, C_EMAIL, C_PHONE, C_MAC, C_NONE, C__COUNT };
static const char *const cls_name[C__COUNT] = {
	"ipv4", "ipv6", "email", "phone", "mac", "none"
};

/*
 * tcp: the case is the whole stream, then the client pauses;
 * tcpnl: a newline follows the case in a segment of its own before the
 * pause, so that no hold ends by its timeout on the case's last bytes.
 */
enum mode { M_DETECT, M_TCP, M_TCPNL, M_UDP, M__COUNT };
static const char *const mode_name[M__COUNT] = {
	"detect", "tcp", "tcpnl", "udp"
};

struct rcase {
	char id[64];
	enum cls cls;
	bool ambiguous;
	const char *file;
	unsigned line;
	uint8_t text[MAX_TEXT];
	uint8_t want[MAX_TEXT];
	uint32_t len;
};

/* The outcome of one case in one mode. */
struct outcome {
	bool full;		/* every marked byte masked */
	uint32_t fp_bytes;	/* unmarked bytes changed */
	uint32_t bad_cuts;	/* TCP: cuts with a wrong output */
	uint32_t first_bad_cut;
	const char *why;	/* an engine failure, or NULL */
	uint8_t got[MAX_TEXT];	/* the (first wrong) output */
};

struct tally {
	unsigned cases, full, fp_cases, fp_bytes, fails, xfails, xpasses;
	unsigned cut_dependent;	/* TCP: wrong at some cuts only */
};

static struct tally tally[M__COUNT][C__COUNT];
static struct tally amb_tally[M__COUNT];
static bool verbose;

/* -l: the ids of the failing cases, per mode and class, for the summary */
static bool list_fails;
static char *fail_list[M__COUNT][C__COUNT];

static void list_add(enum mode m, enum cls k, const char *id)
{
	char *old = fail_list[m][k], *p;

	if (asprintf(&p, "%s %s", old ? old : "", id) < 0)
		return;
	free(old);
	fail_list[m][k] = p;
}

/* ---- the expected-failures list ------------------------------------- */

struct xfail {
	char id[64];
	unsigned modes;		/* bit per mode */
	bool seen;
};

static struct xfail *xfails;
static unsigned n_xfails;

/* Lines "ID [MODE...]"; no mode: every mode.  Return: 0 or -errno. */
static int xfail_load(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
		struct xfail *x;

		if (!tok || tok[0] == '#')
			continue;
		x = realloc(xfails, (n_xfails + 1) * sizeof(*xfails));
		if (!x) {
			fclose(f);
			return -ENOMEM;
		}
		xfails = x;
		x = &xfails[n_xfails++];
		memset(x, 0, sizeof(*x));
		snprintf(x->id, sizeof(x->id), "%s", tok);
		while ((tok = strtok_r(NULL, " \t\r\n", &save)) && tok[0] != '#') {
			for (unsigned m = 0; m < M__COUNT; m++)
				if (!strcmp(tok, mode_name[m]))
					x->modes |= 1u << m;
		}
		if (!x->modes)
			x->modes = (1u << M__COUNT) - 1;
	}
	fclose(f);
	return 0;
}

static bool xfail_expected(const char *id, enum mode m)
{
	for (unsigned i = 0; i < n_xfails; i++)
		if (!strcmp(xfails[i].id, id) && (xfails[i].modes & 1u << m)) {
			xfails[i].seen = true;
			return true;
		}
	return false;
}

/* ---- parsing a case ---------------------------------------------------- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode the marked-up text @s into c->text and c->want.
 * Return: 0, or -EINVAL with *why set.
 */
static int decode(struct rcase *c, const char *s, const char **why)
{
	enum want cur = W_KEEP;
	uint32_t n = 0;

	while (*s) {
		int ch;

		if (cur == W_KEEP && s[0] == '[' && s[1] == '[') {
			cur = W_MASK;
			s += 2;
			continue;
		}
		if (cur == W_KEEP && s[0] == '{' && s[1] == '{') {
			cur = W_EITHER;
			s += 2;
			continue;
		}
		if ((cur == W_MASK && s[0] == ']' && s[1] == ']') ||
		    (cur == W_EITHER && s[0] == '}' && s[1] == '}')) {
			cur = W_KEEP;
			s += 2;
			continue;
		}
		if (s[0] == '\\') {
			switch (s[1]) {
			case 'x':
				if (hexval(s[2]) < 0 || hexval(s[3]) < 0) {
					*why = "bad \\x escape";
					return -EINVAL;
				}
				ch = hexval(s[2]) << 4 | hexval(s[3]);
				s += 4;
				break;
			case 't': ch = '\t'; s += 2; break;
			case 'r': ch = '\r'; s += 2; break;
			case 'n': ch = '\n'; s += 2; break;
			case '0': ch = 0; s += 2; break;
			case '\\': case '[': case ']': case '{': case '}':
				ch = (uint8_t)s[1];
				s += 2;
				break;
			default:
				*why = "unknown escape";
				return -EINVAL;
			}
		} else {
			ch = (uint8_t)*s++;
		}
		if (n >= MAX_TEXT) {
			*why = "case too long";
			return -EINVAL;
		}
		c->text[n] = (uint8_t)ch;
		c->want[n++] = (uint8_t)cur;
	}
	if (cur != W_KEEP) {
		*why = "unclosed mark";
		return -EINVAL;
	}
	c->len = n;
	return 0;
}

/* ---- checking an output ------------------------------------------------ */

/* The mask action: digits 0, letters x, each byte of a UTF-8 character x */
static uint8_t masked(uint8_t b)
{
	if (b >= '0' && b <= '9')
		return '0';
	if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80)
		return 'x';
	return b;
}

/* Compare @got with what case @c wants; fill @o.  Return: true when exact. */
static bool judge(const struct rcase *c, const uint8_t *got, struct outcome *o)
{
	bool full = true;
	uint32_t fp = 0;

	for (uint32_t i = 0; i < c->len; i++) {
		uint8_t in = c->text[i], m = masked(in);

		switch (c->want[i]) {
		case W_MASK:
			if (got[i] != m)
				full = false;
			break;
		case W_KEEP:
			if (got[i] != in)
				fp++;
			break;
		case W_EITHER:
			if (got[i] != in && got[i] != m)
				fp++;
			break;
		}
	}
	o->full = o->full && full;
	o->fp_bytes += fp;
	return full && !fp;
}

/* ---- the three ways ---------------------------------------------------- */

struct rig {
	struct ruleset *rs;
	struct flow_table *ft;
	struct engine_worker *w;
	struct detect_scratch *scratch;
	uint64_t now;
};

static void run_detect(struct rig *r, const struct rcase *c, struct outcome *o)
{
	const struct detect_match *m;
	uint8_t got[MAX_TEXT];
	int n;

	memcpy(got, c->text, c->len);
	n = detect_scan(&r->rs->services[0], r->scratch, c->text, c->len,
			DETECT_LINE_START, &m);
	if (n < 0) {
		o->why = "detect_scan failed";
		o->full = false;
		return;
	}
	for (int i = 0; i < n; i++)
		for (uint32_t k = m[i].start; k < m[i].end && k < c->len; k++)
			got[k] = masked(got[k]);
	if (!judge(c, got, o) || verbose)
		memcpy(o->got, got, c->len);
}

/* packets: IPv4, TCP or UDP, built here with a plain reference checksum */

struct pkt {
	uint8_t b[MAX_TEXT + 64];
	uint32_t len;
};

static void put16(uint8_t *b, uint16_t v) { b[0] = v >> 8; b[1] = v & 0xff; }
static void put32(uint8_t *b, uint32_t v) { put16(b, v >> 16); put16(b + 2, v & 0xffff); }
static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint32_t sum16(const uint8_t *b, uint32_t n, uint32_t s)
{
	for (uint32_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

#define CLIENT 0xc0000201u	/* 192.0.2.1 */
#define SERVER 0xc6336401u	/* 198.51.100.1 */

static void build(struct pkt *k, uint8_t proto, uint16_t sport, uint8_t flags,
		  uint32_t seq, const uint8_t *payload, uint32_t plen)
{
	uint32_t l4 = proto == IPPROTO_TCP ? 20 : 8, s;
	uint8_t *p = k->b;

	memset(p, 0, 20 + l4);
	k->len = 20 + l4 + plen;
	p[0] = 0x45;
	put16(p + 2, (uint16_t)k->len);
	put16(p + 4, 0x4242);
	p[8] = 64;
	p[9] = proto;
	put32(p + 12, CLIENT);
	put32(p + 16, SERVER);
	put16(p + 10, fold(sum16(p, 20, 0)));
	put16(p + 20, sport);
	put16(p + 22, SVC_PORT);
	if (proto == IPPROTO_TCP) {
		put32(p + 24, seq);
		put32(p + 28, flags & 0x10 ? 1000 : 0);
		p[32] = 5 << 4;
		p[33] = flags;
		put16(p + 34, 65535);
	} else {
		put16(p + 24, (uint16_t)(l4 + plen));
	}
	if (plen)
		memcpy(p + 20 + l4, payload, plen);
	s = sum16(p + 12, 8, 0) + proto + l4 + plen;
	s = sum16(p + 20, l4 + plen, s);
	put16(p + 20 + (proto == IPPROTO_TCP ? 16 : 6), fold(s));
	if (proto == IPPROTO_UDP && !p[26] && !p[27])
		put16(p + 26, 0xffff);
}

/* The server's side of one TCP connection. */
struct sink {
	uint32_t isn;
	uint32_t cap;
	uint8_t *out;
	bool *have;
	const char *why;
};

static uint8_t last_out[MAX_TEXT];
static bool last_have[MAX_TEXT];
static struct sink last_sink = { .cap = MAX_TEXT, .out = last_out, .have = last_have };

static void sink_clear(struct sink *sk, uint32_t isn)
{
	memset(sk->out, 0, sk->cap);
	memset(sk->have, 0, sk->cap * sizeof(*sk->have));
	sk->isn = isn;
	sk->why = NULL;
}

static void sink_take(struct sink *sk, const uint8_t *p, uint32_t len,
		      enum engine_verdict v)
{
	uint32_t ihl, doff, seq, n;

	if (v == ENGINE_DROP) {
		sk->why = "a segment was dropped";
		return;
	}
	if (len < 40 || p[9] != IPPROTO_TCP)
		return;
	ihl = (p[0] & 0xfu) * 4;
	doff = (uint32_t)(p[ihl + 12] >> 4) * 4;
	if (ihl + doff > len)
		return;
	seq = get32(p + ihl + 4) - sk->isn - 1;
	n = len - ihl - doff;
	for (uint32_t i = 0; i < n; i++)
		if (seq + i < sk->cap) {
			sk->out[seq + i] = p[ihl + doff + i];
			sk->have[seq + i] = true;
		}
}

static void sink_drain(struct rig *r, struct sink *sk)
{
	struct engine_release rel;

	while (engine_next_release(r->w, &rel))
		sink_take(sk, rel.data, rel.len, rel.verdict);
}

/* One packet into the engine; its verdict and any releases to @sk. */
static void feed(struct rig *r, struct sink *sk, struct pkt *k, uint64_t cookie)
{
	struct engine_result res;

	r->now += MS_NS;
	engine_process(r->rs, r->ft, r->w, k->b, k->len, ENGINE_DIR_AUTO,
		       r->now, 0, cookie, &res);
	/* held segments decided now precede this one */
	sink_drain(r, sk);
	if (res.verdict != ENGINE_HOLD)
		sink_take(sk, k->b, res.len, res.verdict);
}

/*
 * The case as a TCP stream from its SYN, cut at @cut (the whole in one
 * segment when @cut is the length); then the hold time passes.
 * Return: true when the server's stream is exact.
 */
static bool tcp_cut(struct rig *r, const struct rcase *c, uint32_t cut,
		    uint16_t sport, bool newline, struct outcome *o)
{
	struct sink *skp = &last_sink;
	struct pkt k;
	bool ok;

#define sk (*skp)
	sink_clear(skp, 1000000u + sport * 7919u);
	build(&k, IPPROTO_TCP, sport, 0x02, sk.isn, NULL, 0);
	feed(r, &sk, &k, 1);
	build(&k, IPPROTO_TCP, sport, 0x18, sk.isn + 1, c->text, cut);
	feed(r, &sk, &k, 2);
	if (cut < c->len) {
		build(&k, IPPROTO_TCP, sport, 0x18, sk.isn + 1 + cut,
		      c->text + cut, c->len - cut);
		feed(r, &sk, &k, 3);
	}
	if (newline) {
		build(&k, IPPROTO_TCP, sport, 0x18, sk.isn + 1 + c->len,
		      (const uint8_t *)"\n", 1);
		feed(r, &sk, &k, 4);
	}
	/* the client pauses: every hold times out */
	r->now += 10000 * MS_NS;
	engine_tick(r->rs, r->ft, r->w, r->now);
	sink_drain(r, &sk);
	for (uint32_t i = 0; i < c->len; i++)
		if (!sk.have[i] && !sk.why)
			sk.why = "bytes of the stream never passed";
	if (sk.why) {
		o->full = false;
		if (!o->why)
			o->why = sk.why;
		ok = false;
	} else {
		ok = judge(c, sk.out, o);
	}
#undef sk
	return ok;
}

static void run_tcp(struct rig *r, const struct rcase *c, bool newline,
		    struct outcome *o)
{
	engine_worker_reset(r->w);
	flow_table_clear(r->ft);
	for (uint32_t cut = 1; cut <= c->len; cut++) {
		struct outcome one = { .full = true };

		if (!tcp_cut(r, c, cut, (uint16_t)(20000 + cut), newline, &one)) {
			if (!o->bad_cuts++) {
				o->first_bad_cut = cut;
				for (uint32_t i = 0; i < c->len; i++)
					o->got[i] = last_sink.have[i] ? last_sink.out[i] : '?';
			}
		}
		o->full = o->full && one.full;
		o->fp_bytes = one.fp_bytes > o->fp_bytes ? one.fp_bytes : o->fp_bytes;
		if (one.why && !o->why)
			o->why = one.why;
	}
}

static void run_udp(struct rig *r, const struct rcase *c, struct outcome *o)
{
	static struct pkt k;
	struct engine_result res;
	struct engine_release rel;

	build(&k, IPPROTO_UDP, 30000, 0, 0, c->text, c->len);
	r->now += MS_NS;
	engine_process(r->rs, r->ft, r->w, k.b, k.len, ENGINE_DIR_AUTO, r->now,
		       0, 1, &res);
	while (engine_next_release(r->w, &rel))
		;
	if (res.verdict != ENGINE_ACCEPT && res.verdict != ENGINE_MODIFIED) {
		o->full = false;
		o->why = "the datagram was not passed";
		return;
	}
	if (!judge(c, k.b + 28, o) || verbose)
		memcpy(o->got, k.b + 28, c->len);
}

/* ---- reporting ----------------------------------------------------------- */

/* @b[0, n) printed with escapes, and with the case's marks when @c. */
static void print_bytes(FILE *f, const uint8_t *b, uint32_t n,
			const struct rcase *c)
{
	enum want cur = W_KEEP;

	for (uint32_t i = 0; i <= n; i++) {
		enum want w = c && i < n ? (enum want)c->want[i] : W_KEEP;

		if (c && w != cur) {
			fputs(cur == W_MASK ? "]]" : cur == W_EITHER ? "}}" : "", f);
			fputs(w == W_MASK ? "[[" : w == W_EITHER ? "{{" : "", f);
			cur = w;
		}
		if (i == n)
			break;
		if (b[i] == '\\' || b[i] == '[' || b[i] == ']' || b[i] == '{' ||
		    b[i] == '}')
			fprintf(f, "\\%c", b[i]);
		else if (b[i] < 0x20 || b[i] >= 0x7f)
			fprintf(f, "\\x%02x", b[i]);
		else
			fputc(b[i], f);
	}
}

static void account(const struct rcase *c, enum mode m, const struct outcome *o)
{
	struct tally *t = c->ambiguous ? &amb_tally[m] : &tally[m][c->cls];
	bool ok = o->full && !o->fp_bytes && !o->why;

	t->cases++;
	t->full += o->full;
	t->fp_cases += o->fp_bytes > 0;
	t->fp_bytes += o->fp_bytes;
	t->cut_dependent += o->bad_cuts && o->bad_cuts < c->len;
	if (list_fails && !ok && !c->ambiguous)
		list_add(m, c->cls, c->id);
	if (c->ambiguous) {
		if (verbose && !ok) {
			printf("AMBIGUOUS %s %s: ", mode_name[m], c->id);
			print_bytes(stdout, o->got, c->len, NULL);
			printf("\n");
		}
		return;
	}
	if (ok) {
		if (xfail_expected(c->id, m)) {
			t->xpasses++;
			printf("XPASS %s %s\n", mode_name[m], c->id);
		}
		return;
	}
	if (xfail_expected(c->id, m))
		t->xfails++;
	else
		t->fails++;
	if (verbose || !xfail_expected(c->id, m)) {
		printf("%s %s %s (%s:%u)%s", xfail_expected(c->id, m) ? "XFAIL" : "FAIL",
		       mode_name[m], c->id, c->file, c->line,
		       o->full ? "" : " missed");
		if (o->fp_bytes)
			printf(" fp-bytes=%u", o->fp_bytes);
		if (m == M_TCP || m == M_TCPNL)
			printf(" bad-cuts=%u/%u first=%u%s", o->bad_cuts, c->len,
			       o->first_bad_cut,
			       o->bad_cuts < c->len ? " cut-dependent" : "");
		if (o->why)
			printf(" (%s)", o->why);
		printf("\n  want: ");
		print_bytes(stdout, c->text, c->len, c);
		printf("\n  got:  ");
		print_bytes(stdout, o->got, c->len, NULL);
		printf("\n");
	}
}

static void run_case(struct rig *r, const struct rcase *c, unsigned modes)
{
	static struct outcome o;

	for (unsigned m = 0; m < M__COUNT; m++) {
		if (!(modes & 1u << m))
			continue;
		memset(&o, 0, sizeof(o));
		o.full = true;
		memcpy(o.got, c->text, c->len);
		if (m == M_DETECT)
			run_detect(r, c, &o);
		else if (m == M_TCP || m == M_TCPNL)
			run_tcp(r, c, m == M_TCPNL, &o);
		else
			run_udp(r, c, &o);
		account(c, (enum mode)m, &o);
	}
}

/* Whether @id was seen before (each case id must be unique). */
static bool id_seen(const char *id)
{
	static char (*ids)[64];
	static unsigned n, cap;

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(ids[i], id))
			return true;
	if (n == cap) {
		char (*p)[64] = realloc(ids, (cap ? cap * 2 : 512) * sizeof(*ids));

		if (!p)
			return false;
		ids = p;
		cap = cap ? cap * 2 : 512;
	}
	snprintf(ids[n++], sizeof(ids[0]), "%s", id);
	return false;
}

static int class_of(const char *s)
{
	for (int k = 0; k < C__COUNT; k++)
		if (!strcmp(s, cls_name[k]))
			return k;
	return -1;
}

/*
 * Run every case of the TSV file @path (ambiguous ones when @ambiguous).
 * Return: 0, or -EINVAL after printing a syntax error.
 */
static int run_file(struct rig *r, const char *path, bool ambiguous,
		    unsigned modes, const char *only)
{
	static struct rcase c;
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "recall: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (getline(&line, &cap, f) > 0) {
		char *fields[4] = { 0 }, *p = line, *nl;
		const char *why = NULL;
		unsigned nf = 0;
		int k;

		lineno++;
		if ((nl = strpbrk(line, "\r\n")))
			*nl = 0;
		if (!line[0] || line[0] == '#')
			continue;
		while (nf < 4) {
			fields[nf++] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = 0;
		}
		if (nf < 3 || (k = class_of(fields[1])) < 0) {
			fprintf(stderr, "%s:%u: want ID<TAB>CLASS<TAB>TEXT[<TAB>NOTE]\n",
				path, lineno);
			rc = -EINVAL;
			continue;
		}
		memset(&c, 0, sizeof(c));
		snprintf(c.id, sizeof(c.id), "%s", fields[0]);
		c.cls = (enum cls)k;
		c.ambiguous = ambiguous;
		c.file = path;
		c.line = lineno;
		if (decode(&c, fields[2], &why) < 0) {
			fprintf(stderr, "%s:%u: %s\n", path, lineno, why);
			rc = -EINVAL;
			continue;
		}
		if (!c.len) {
			fprintf(stderr, "%s:%u: empty case\n", path, lineno);
			rc = -EINVAL;
			continue;
		}
		if (id_seen(c.id)) {
			fprintf(stderr, "%s:%u: duplicate case id %s\n", path,
				lineno, c.id);
			rc = -EINVAL;
			continue;
		}
		if (only && strcmp(only, c.id))
			continue;
		run_case(r, &c, modes);
	}
	free(line);
	fclose(f);
	return rc;
}

/* ---- the false-positive corpus ----------------------------------------- */

/*
 * @data as one TCP stream in segments of @seg bytes, then a pause.
 * Return: runs of changed bytes, or -1 when bytes did not pass.
 */
static long fp_stream(struct rig *r, const uint8_t *data, uint32_t len,
		      uint32_t seg)
{
	struct sink sk = { .cap = len };
	struct pkt *k = malloc(sizeof(*k));
	long runs = -1;

	sk.out = malloc(len ? len : 1);
	sk.have = calloc(len ? len : 1, sizeof(*sk.have));
	if (!k || !sk.out || !sk.have)
		goto out;
	engine_worker_reset(r->w);
	flow_table_clear(r->ft);
	sink_clear(&sk, 5000000u);
	build(k, IPPROTO_TCP, 40000, 0x02, sk.isn, NULL, 0);
	feed(r, &sk, k, 1);
	for (uint32_t off = 0; off < len; off += seg) {
		uint32_t n = len - off < seg ? len - off : seg;

		build(k, IPPROTO_TCP, 40000, 0x18, sk.isn + 1 + off, data + off, n);
		feed(r, &sk, k, 2 + off);
	}
	r->now += 10000 * MS_NS;
	engine_tick(r->rs, r->ft, r->w, r->now);
	sink_drain(r, &sk);
	runs = 0;
	for (uint32_t i = 0; i < len; i++) {
		if (!sk.have[i]) {
			runs = -1;
			break;
		}
		if (sk.out[i] != data[i] && (!i || sk.out[i - 1] == data[i - 1])) {
			runs++;
			if (verbose) {
				uint32_t e = i;

				while (e < len && sk.out[e] != data[e])
					e++;
				printf("FP tcp: %.*s\n", (int)(e - i), data + i);
			}
		}
	}
out:
	free(sk.out);
	free(sk.have);
	free(k);
	return runs;
}

/* Every line of @path scanned alone; matches per kilobyte per detector. */
static int run_fp(struct rig *r, const char *path)
{
	unsigned long hits[DET__COUNT] = { 0 }, bytes = 0, lines = 0, lines_hit = 0;
	uint8_t *all = NULL;
	long runs;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "recall: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		const struct detect_match *m;
		int k;

		lines++;
		{
			uint8_t *p = realloc(all, bytes + (size_t)n);

			if (!p)
				break;
			all = p;
			memcpy(all + bytes, line, (size_t)n);
		}
		bytes += (unsigned long)n;
		if (n > 1 && line[n - 1] == '\n')
			n--;
		k = detect_scan(&r->rs->services[0], r->scratch,
				(const uint8_t *)line, (uint32_t)n,
				DETECT_LINE_START, &m);
		if (k < 0)
			continue;
		lines_hit += k > 0;
		for (int i = 0; i < k; i++) {
			hits[m[i].det]++;
			if (verbose)
				printf("FP %s: %.*s\t<- %.*s\n",
				       policy_det_name((enum det_kind)m[i].det),
				       (int)(m[i].end - m[i].start),
				       line + m[i].start, (int)n, line);
		}
	}
	free(line);
	fclose(f);
	printf("false-positive corpus %s: %lu lines, %lu bytes, %lu lines with a match\n",
	       path, lines, bytes, lines_hit);
	for (int d = DET_IPV4; d <= DET_MAC; d++)
		printf("  %-6s %4lu matches, %.3f per KB\n",
		       policy_det_name((enum det_kind)d), hits[d],
		       bytes ? hits[d] * 1024.0 / (double)bytes : 0.0);
	runs = fp_stream(r, all, (uint32_t)bytes, 1448);
	if (runs < 0)
		printf("  as one TCP stream: bytes did not pass\n");
	else
		printf("  as one TCP stream in 1448-byte segments: %ld changed runs, %.3f per KB\n",
		       runs, bytes ? runs * 1024.0 / (double)bytes : 0.0);
	free(all);
	return 0;
}

/* ---- main ------------------------------------------------------------------- */

static void print_summary(void)
{
	printf("\n%-7s %-6s %6s %16s %9s %9s %6s %6s %6s %7s\n", "mode", "class",
	       "cases", "recall", "fp-cases", "fp-bytes", "fail", "xfail",
	       "xpass", "cut-dep");
	for (unsigned m = 0; m < M__COUNT; m++) {
		for (unsigned k = 0; k < C__COUNT; k++) {
			const struct tally *t = &tally[m][k];
			char rec[32], cutdep[16];

			if (!t->cases)
				continue;
			snprintf(cutdep, sizeof(cutdep), "%u", t->cut_dependent);
			if (k == C_NONE)
				snprintf(rec, sizeof(rec), "-");
			else
				snprintf(rec, sizeof(rec), "%u/%u %5.1f%%", t->full,
					 t->cases, 100.0 * t->full / t->cases);
			printf("%-7s %-6s %6u %16s %9u %9u %6u %6u %6u %7s\n",
			       mode_name[m], cls_name[k], t->cases, rec,
			       t->fp_cases, t->fp_bytes, t->fails, t->xfails,
			       t->xpasses,
			       m == M_TCP || m == M_TCPNL ? cutdep : "");
		}
		if (amb_tally[m].cases) {
			const struct tally *t = &amb_tally[m];
			char rec[32];

			snprintf(rec, sizeof(rec), "%u/%u %5.1f%%", t->full,
				 t->cases, 100.0 * t->full / t->cases);
			printf("%-7s %-6s %6u %16s %9u %9u   (ambiguous: not counted)\n",
			       mode_name[m], "ambig", t->cases, rec,
			       t->fp_cases, t->fp_bytes);
		}
	}
}

static void print_fail_list(void)
{
	printf("\nfailing cases (expected or not):\n");
	for (unsigned m = 0; m < M__COUNT; m++)
		for (unsigned k = 0; k < C__COUNT; k++)
			if (fail_list[m][k]) {
				printf("%s %s:%s\n", mode_name[m], cls_name[k],
				       fail_list[m][k]);
				free(fail_list[m][k]);
			}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: recall [-v] [-l] [-m detect,tcp,tcpnl,udp] [-x XFAIL] [-a AMBIGUOUS]\n"
		"              [-p FP-CORPUS] [-c ID] CASES.tsv...\n");
}

int main(int argc, char **argv)
{
	struct rig r = { .now = NOW_NS };
	struct diag_list *dl = NULL;
	const char *ambiguous[8], *fp = NULL, *only = NULL;
	unsigned n_ambiguous = 0;
	unsigned modes = (1u << M__COUNT) - 1, fails = 0;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "vlm:x:a:p:c:")) != -1) {
		switch (opt) {
		case 'v':
			verbose = true;
			break;
		case 'l':
			list_fails = true;
			break;
		case 'm': {
			char *save = NULL, *tok;

			modes = 0;
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				for (unsigned m = 0; m < M__COUNT; m++)
					if (!strcmp(tok, mode_name[m]))
						modes |= 1u << m;
			break;
		}
		case 'x':
			if (xfail_load(optarg) < 0) {
				fprintf(stderr, "recall: %s: %s\n", optarg,
					strerror(errno));
				return 2;
			}
			break;
		case 'a':
			if (n_ambiguous == 8) {
				fprintf(stderr, "recall: at most 8 -a files\n");
				return 2;
			}
			ambiguous[n_ambiguous++] = optarg;
			break;
		case 'p':
			fp = optarg;
			break;
		case 'c':
			only = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind == argc && !fp) {
		usage();
		return 2;
	}
	r.rs = policy_load_string("<recall>", recall_policy, NULL, &dl);
	if (!r.rs) {
		diag_list_print(stderr, dl);
		diag_list_free(dl);
		return 2;
	}
	diag_list_free(dl);
	r.ft = flow_table_new(8192);
	r.w = r.ft ? engine_worker_new(r.rs, flow_table_capacity(r.ft)) : NULL;
	r.scratch = detect_scratch_new(r.rs);
	if (!r.w || !r.scratch) {
		fprintf(stderr, "recall: out of memory\n");
		return 2;
	}
	for (int i = optind; i < argc; i++)
		if (run_file(&r, argv[i], false, modes, only) < 0)
			rc = 2;
	for (unsigned i = 0; i < n_ambiguous; i++)
		if (run_file(&r, ambiguous[i], true, modes, only) < 0)
			rc = 2;
	if (optind < argc)
		print_summary();
	if (list_fails)
		print_fail_list();
	if (fp)
		run_fp(&r, fp);
	for (unsigned m = 0; m < M__COUNT; m++)
		for (unsigned k = 0; k < C__COUNT; k++)
			fails += tally[m][k].fails;
	for (unsigned i = 0; i < n_xfails; i++)
		if (!xfails[i].seen && !only)
			printf("note: expected failure %s matches no case\n",
			       xfails[i].id);
	printf("%u unexpected failure(s)\n", fails);
	if (!rc && fails)
		rc = 1;
	detect_scratch_free(r.scratch);
	engine_worker_free(r.w);
	flow_table_free(r.ft);
	policy_free(r.rs);
	free(xfails);
	return rc;
}
