/*
 * fuzz_engine.c — libFuzzer target for the engine: the input is a
 * sequence of packets, of any number of flows and both directions, run
 * through one flow table and one worker under a fixed policy that uses
 * every detector, an allow pattern, each address mode and three hold
 * times (one masking what a hold leaves undecided), three framings named
 * and two recognised, with the clock moving on between packets.
 *
 * The worker (with a spare one for reloads) and the flow table are made
 * once and serve every input: engine_worker_reset() and flow_table_clear()
 * make them as new before each, so an input runs the same whatever ran
 * before it, without the cost of making them again.
 *
 * Record format (see make-corpus.py):
 *   byte 0   control: bits 0-1 direction (0 AUTO, 1 IN, 2 OUT, 3 AUTO
 *            then the same bytes again as IN), bit 2 ENGINE_F_CSUM_NOT_READY,
 *            bit 3 ENGINE_F_TRUNCATED, bit 4 fix the IP length fields and
 *            checksums first (so mutated packets still reach the payload
 *            code; a fixed TCP or UDP packet whose checksum then verifies
 *            is passed with ENGINE_F_CSUM_VERIFIED, as the kernel would),
 *            bits 5-7 the time step before the packet
 *   bytes 1-2  packet length, big endian
 *   then       the packet from its IP header
 * A record of length 0 is a command instead, by bits 0-1 of its control
 * byte: 0 an empty packet (as before commands existed), 1 the time step
 * alone and engine_tick(), 2 a reload (engine_release_all(), then
 * engine_worker_adopt() into the spare worker, which takes over, as
 * nfredactd does), 3 a stop (engine_drop_all(); the input ends there).
 * Every hold left at the end of the input is decided by
 * engine_release_all().
 *
 * The invariants that the daemon relies on are checked after every call:
 * lengths never grow, ACCEPT leaves the bytes alone (a DROP's bytes go
 * nowhere), TRUNCATED packets are never modified, a MODIFIED packet
 * decodes to the same lengths, and its checksums verify when the input's
 * did (and, for TCP and ICMP, stay wrong when they were wrong:
 * incremental updates keep corruption detectable).  Held packets: each is released exactly once and checked
 * the same way against the packet as it was handed over (a released
 * ACCEPT is that packet unchanged, but for link padding: the kernel
 * sends its own copy);
 * nothing stays held after a reload, a stop or the end; a stop only
 * drops, counted as stopping; no hold deadline is past after
 * engine_tick(); every drop is counted under one reason.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sanitizer/asan_interface.h>

#include "csum.h"
#include "engine.h"
#include "flow.h"
#include "packet.h"
#include "policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_engine: invariant failed: %s (line %d)\n", \
		#cond, __LINE__); dump_current(); abort(); } } while (0)

#define MAX_PKT 65535u
#define MAX_RECORDS 256
#define MAX_CALLS (2 * MAX_RECORDS)	/* direction 3: two calls a record */
#define FLOWS 64		/* small, so table-full paths are reached too */

static const char policy_fmt[] =
	"key %s\n"
	"epoch 1h\n"
	"service mqtt {\n"
	"	listen tcp 1883, 8883\n"
	"	address ipv4 truncate 24\n"
	"	address ipv6 truncate 48\n"
	"	redact email mask\n"
	"	redact phone token\n"
	"	redact ipv4 truncate 24\n"
	"	redact ipv6 truncate 48\n"
	"	redact mac mask\n"
	"	redact literal \"secret\" token\n"
	"	redact pattern \"imei=[0-9]{15}\" mask\n"
	"	allow pattern \"(?i)RCPT TO:<[^>]*>\"\n"
	"	on-error drop\n"
	"	frame mqtt\n"
	"}\n"
	"service syslog {\n"
	"	listen udp 514\n"
	"	listen tcp 514\n"
	"	clients 10.0.0.0/8, 2001:db8::/32, 192.0.2.0/24\n"
	"	address ipv4 map 100.64.0.0/10\n"
	"	address ipv6 permute 48\n"
	"	redact ipv4 token\n"
	"	redact ipv6 mask\n"
	"	redact email token\n"
	"	redact phone mask\n"
	"	hold 0\n"
	"	on-error accept\n"
	"}\n"
	"service relay {\n"
	"	listen tcp 5222\n"
	"	address ipv4 truncate 16\n"
	"	address ipv6 truncate 32\n"
	"	redact proxy-protocol address\n"
	"	redact header \"X-Forwarded-For\" truncate 16 32\n"
	"	redact email token\n"
	"}\n"
	"service chat {\n"
	"	listen tcp 6667\n"
	"	address ipv4 permute 24\n"
	"	address ipv6 map fd00:1:2:3::/64\n"
	"	redact ipv4 mask\n"
	"	redact ipv6 token\n"
	"	redact phone token\n"
	"	redact email mask\n"
	"	hold 2s mask\n"
	"	frame line\n"
	"}\n"
	"service web {\n"
	"	listen tcp 80, 8080-8090\n"
	"	address ipv4 keep\n"
	"	address ipv6 truncate 64\n"
	"	redact proxy-protocol truncate 24 48\n"
	"	redact header \"Forwarded\" address\n"
	"	redact header \"X-Real-IP\" truncate\n"
	"	redact mac token\n"
	"	redact literal \"hunter2\" mask\n"
	"	redact pattern \"(?i)user=[a-z]+\" token\n"
	"	frame http\n"
	"}\n";

static struct ruleset *rs;
static struct flow_table *ft;
static struct engine_worker *w, *spare;

/* What became of each engine_process() call of the input, by cookie. */
struct call {
	uint8_t *held;		/* a copy of the packet while it is held */
	uint32_t len;
	unsigned flags;
};

static struct call calls[MAX_CALLS];
static unsigned n_calls, n_held;

/*
 * The packets under test: each at the start of an area of MAX_PKT bytes
 * whose rest is poisoned, so that ASan catches any access past its length
 * as it would past an allocation of its exact size, without a malloc()
 * per packet (ASan's quarantine would hand out fresh pages, whose faults
 * cost more than many a packet).  Without ASan, plain buffers.
 */
static uint8_t *area[2];

static uint8_t *area_fill(unsigned i, const uint8_t *src, uint32_t len)
{
	ASAN_POISON_MEMORY_REGION(area[i], MAX_PKT + 1);
	ASAN_UNPOISON_MEMORY_REGION(area[i], len);
	memcpy(area[i], src, len);
	return area[i];
}

/*
 * FUZZ_LAX_ICMP=1 skips the "corrupt stays corrupt" check for ICMP
 * errors, so that a long exploratory run is not stopped again and again
 * by that one known finding (tests/fuzz/regress/fuzz_engine/).
 */
static bool lax_icmp;

/*
 * FUZZ_TRACE=1 prints what became of each packet and command to stderr,
 * to read a reproducer by (tests/fuzz/replay.sh's programs take it too).
 */
static bool trace;

static const char *const verdict_names[] = {
	[ENGINE_ACCEPT] = "accept", [ENGINE_MODIFIED] = "modified",
	[ENGINE_DROP] = "drop", [ENGINE_HOLD] = "hold",
};

/* The packet being checked, before and after, for the crash report. */
static const uint8_t *cur_before, *cur_after;
static uint32_t cur_len;
static int cur_dir;
static unsigned cur_flags;

static void hex(const char *what, const uint8_t *b, uint32_t len)
{
	fprintf(stderr, "%s (%u bytes):", what, len);
	for (uint32_t i = 0; i < len; i++)
		fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", b[i]);
	fputc('\n', stderr);
}

static void dump_current(void)
{
	if (!cur_before)
		return;
	if (cur_dir < 0)
		fprintf(stderr, "released (held before), flags %#x\n", cur_flags);
	else
		fprintf(stderr, "direction %d, flags %#x\n", cur_dir, cur_flags);
	hex("packet in", cur_before, cur_len);
	hex("packet out", cur_after, cur_len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char key_dir[] = "/tmp/nfredact-fuzz.XXXXXX";
	char key_path[sizeof(key_dir) + 4];
	uint8_t key[32];
	struct diag_list *dl = NULL;
	char *text;
	int fd;

	lax_icmp = getenv("FUZZ_LAX_ICMP") && !strcmp(getenv("FUZZ_LAX_ICMP"), "1");
	trace = getenv("FUZZ_TRACE") && !strcmp(getenv("FUZZ_TRACE"), "1");
	/* a fixed key: a crash found with it replays byte for byte */
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	/* the loader refuses a key in a directory others can write (/tmp) */
	if (!mkdtemp(key_dir))
		abort();
	snprintf(key_path, sizeof(key_path), "%s/key", key_dir);
	fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, key, sizeof(key)) != (ssize_t)sizeof(key))
		abort();
	close(fd);
	if (asprintf(&text, policy_fmt, key_path) < 0)
		abort();
	rs = policy_load_string("fuzz-engine.conf", text, NULL, &dl);
	unlink(key_path);
	rmdir(key_dir);
	if (!rs) {
		diag_list_print(stderr, dl);
		abort();
	}
	diag_list_free(dl);
	free(text);
	ft = flow_table_new(FLOWS);
	w = engine_worker_new(rs, FLOWS);
	spare = engine_worker_new(rs, FLOWS);
	area[0] = malloc(MAX_PKT + 1);
	area[1] = malloc(MAX_PKT + 1);
	if (!ft || !w || !spare || !area[0] || !area[1])
		abort();
	return 0;
}

/* Make the IP length fields agree with @len and the checksums right. */
static void fixup(uint8_t *b, uint32_t len)
{
	struct packet p;

	if (len >= 20 && (b[0] >> 4) == 4) {
		b[2] = (uint8_t)(len >> 8);
		b[3] = (uint8_t)len;
	} else if (len >= 40 && (b[0] >> 4) == 6) {
		b[4] = (uint8_t)((len - 40) >> 8);
		b[5] = (uint8_t)(len - 40);
	}
	if (pkt_decode(&p, b, len) != PKT_OK)
		return;
	if (p.proto == IPPROTO_UDP && p.l4_len >= 8 && p.l4_len == len - p.l4_off) {
		b[p.l4_off + 4] = (uint8_t)(p.l4_len >> 8);
		b[p.l4_off + 5] = (uint8_t)p.l4_len;
		if (pkt_decode(&p, b, len) != PKT_OK)
			return;
	}
	if (p.family == 4)
		csum_ipv4_header(&p);
	(void)csum_l4_full(&p);
}

static void count_match(void *ctx, enum det_kind det, const uint8_t *text,
			uint32_t len)
{
	CHECK(det < DET__COUNT);
	CHECK(text != NULL || len == 0);
	++*(unsigned *)ctx;
}

/*
 * A MODIFIED packet @after (@out_len bytes) against @before, the packet
 * as it was handed to engine_process() with @flags.
 */
static void check_modified(uint8_t *before, uint32_t len, uint8_t *after,
			   uint32_t out_len, unsigned flags)
{
	struct packet in, out;
	bool l4_ok, l3_ok;

	CHECK(out_len <= len);
	CHECK(!(flags & ENGINE_F_TRUNCATED));
	CHECK(pkt_decode(&in, before, len) == PKT_OK);
	l4_ok = csum_l4_verify(&in);
	l3_ok = in.family == 4 && csum_ipv4_header_verify(&in);
	CHECK(pkt_decode(&out, after, out_len) == PKT_OK);
	CHECK(out.family == in.family && out.proto == in.proto);
	CHECK(pkt_ip_len(&out) <= out_len);
	if (in.proto == IPPROTO_TCP) {
		/* link padding past the IP length may be cut, nothing else */
		CHECK(out_len >= pkt_ip_len(&in));
		CHECK(pkt_ip_len(&out) == pkt_ip_len(&in));
		CHECK(out.l4_len == in.l4_len);
		CHECK(out.payload_len == in.payload_len);
		CHECK(out.tcp_seq == in.tcp_seq && out.tcp_ack == in.tcp_ack);
	}
	if (out.family == 4 && l3_ok)
		CHECK(csum_ipv4_header_verify(&out));
	if (l4_ok || (flags & ENGINE_F_CSUM_NOT_READY))
		CHECK(csum_l4_verify(&out));
	else if (in.proto != IPPROTO_UDP && !(in.icmp_error && lax_icmp))
		CHECK(!csum_l4_verify(&out));
}

/*
 * Every held packet that is released: held, released once, and what it
 * became checked against what was handed over.  @stopping: only drops.
 * Return: the number released.
 */
static unsigned check_releases(bool stopping)
{
	struct engine_release r;
	unsigned n = 0;

	while (engine_next_release(w, &r)) {
		struct call *c;

		CHECK(r.cookie < n_calls && calls[r.cookie].held);
		c = &calls[r.cookie];
		cur_before = c->held;
		cur_after = r.data;
		cur_len = c->len;
		cur_dir = -1;
		cur_flags = c->flags;
		CHECK(r.verdict == ENGINE_ACCEPT || r.verdict == ENGINE_MODIFIED ||
		      r.verdict == ENGINE_DROP);
		if (trace)
			fprintf(stderr, "  release #%llu: %s, service %d\n",
				(unsigned long long)r.cookie,
				verdict_names[r.verdict], r.service);
		CHECK(!stopping || r.verdict == ENGINE_DROP);
		CHECK(r.service >= 0 && r.service < (int)policy_service_count(rs));
		CHECK(r.len > 0 && r.len <= c->len);
		if (r.verdict == ENGINE_ACCEPT) {
			struct packet in;

			/*
			 * The kernel passes its own copy: it must be this one,
			 * but for link padding past the IP length.
			 */
			CHECK(pkt_decode(&in, c->held, c->len) == PKT_OK);
			CHECK(r.len >= pkt_ip_len(&in));
			CHECK(!memcmp(r.data, c->held, r.len));
		} else if (r.verdict == ENGINE_MODIFIED) {
			check_modified(c->held, c->len, r.data, r.len, c->flags);
		}
		free(c->held);
		c->held = NULL;
		n_held--;
		n++;
	}
	cur_before = NULL;
	return n;
}

static void run_one(uint8_t *buf, uint32_t len, enum engine_dir dir,
		    unsigned flags, uint64_t now_ns)
{
	static uint8_t before[MAX_PKT];
	uint64_t cookie = n_calls++;
	struct engine_result res;

	memcpy(before, buf, len);
	memset(&res, 0xa5, sizeof(res));
	CHECK(engine_process(rs, ft, w, buf, len, dir, now_ns, flags, cookie,
			     &res) == 0);
	if (trace)
		fprintf(stderr, "#%llu: %u bytes, direction %d, flags %#x: %s "
			"(%s), service %d, direction %d\n",
			(unsigned long long)cookie, len, dir, flags,
			res.verdict <= ENGINE_HOLD ? verdict_names[res.verdict] : "?",
			engine_reason_name(res.reason), res.service, res.dir);
	if (res.verdict == ENGINE_HOLD) {
		/* a held packet's verdict comes from engine_next_release(),
		 * maybe at once: note it before taking the releases */
		CHECK(res.service >= 0 && !(flags & ENGINE_F_TRUNCATED));
		CHECK(len > 0);
		calls[cookie].held = malloc(len);
		if (!calls[cookie].held)
			abort();
		memcpy(calls[cookie].held, before, len);
		calls[cookie].len = len;
		calls[cookie].flags = flags;
		n_held++;
	}
	check_releases(false);

	cur_before = before;
	cur_after = buf;
	cur_len = len;
	cur_dir = dir;
	cur_flags = flags;
	CHECK(res.verdict == ENGINE_ACCEPT || res.verdict == ENGINE_MODIFIED ||
	      res.verdict == ENGINE_DROP || res.verdict == ENGINE_HOLD);
	if (res.verdict == ENGINE_HOLD) {
		/* the caller's buffer goes nowhere: not checked */
		cur_before = NULL;
		return;
	}
	CHECK(res.reason < ENGINE_R__COUNT);
	CHECK(res.service >= -1 && res.service < (int)policy_service_count(rs));
	if (res.verdict == ENGINE_ACCEPT) {
		/*
		 * Only a MODIFIED verdict sends our bytes: a rewrite under
		 * ACCEPT would not reach the wire.  A dropped packet's bytes
		 * go nowhere (one may have been changed before it failed).
		 */
		CHECK(memcmp(before, buf, len) == 0);
	} else if (res.verdict == ENGINE_MODIFIED) {
		CHECK(res.service >= 0);
		check_modified(before, len, buf, res.len, flags);
	}
	cur_before = NULL;
}

/* Drops counted as stopping, all services and the uncovered together. */
static uint64_t stopping_drops(void)
{
	uint64_t n = 0;

	for (unsigned i = 0; i <= policy_service_count(rs); i++)
		n += engine_worker_stats(w, i)->drops[ENGINE_R_STOPPING];
	return n;
}

/* The counters agree with themselves: every drop has one reason. */
static void check_stats(void)
{
	for (unsigned i = 0; i <= policy_service_count(rs); i++) {
		const struct engine_stats *st = engine_worker_stats(w, i);
		uint64_t sum = 0;

		for (unsigned r = 0; r < ENGINE_R__COUNT; r++)
			sum += st->drops[r];
		CHECK(sum == st->dropped);
	}
}

/* A reload as nfredactd does it, with the same policy. */
static void reload(void)
{
	struct engine_worker *old = w;

	engine_release_all(rs, ft, w);
	check_releases(false);
	CHECK(n_held == 0 && engine_hold_deadline(w) == 0);
	check_stats();
	engine_worker_reset(spare);
	engine_worker_adopt(spare, old);
	w = spare;
	spare = old;
}

/* A stop: whatever is held is dropped, and nothing else happens. */
static void stop(void)
{
	uint64_t before = stopping_drops();
	unsigned held = n_held;

	engine_drop_all(w);
	CHECK(check_releases(true) == held);
	CHECK(n_held == 0 && engine_hold_deadline(w) == 0);
	CHECK(stopping_drops() - before == held);
}

static void tick(uint64_t now_ns)
{
	engine_tick(rs, ft, w, now_ns);
	check_releases(false);
	CHECK(!engine_hold_deadline(w) || engine_hold_deadline(w) > now_ns);
}

/* The one command of a record of length 0 (see the top of the file). */
static bool command(uint8_t ctl, uint64_t now_ns)
{
	static const char *const names[] = { "", "tick", "reload", "stop" };

	if (trace)
		fprintf(stderr, "%s at %llu ms\n", names[ctl & 3],
			(unsigned long long)(now_ns / 1000000 % 100000000));
	switch (ctl & 3) {
	case 1:
		tick(now_ns);
		return true;
	case 2:
		reload();
		return true;
	case 3:
		stop();
		return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* steps from a millisecond to past the holds, timeouts and epochs */
	static const uint64_t step_ms[8] = {
		0, 20, 1000, 11000, 130000, 3600000, 7500000, 90000000
	};
	uint64_t now_ns = 1700000000ull * 1000000000ull;
	unsigned n_recs = 0;
	bool going = true;
	size_t pos = 0;

	/* as new, whatever the last input left */
	flow_table_clear(ft);
	engine_worker_reset(w);
	n_calls = n_held = 0;

	while (going && size - pos >= 3 && n_recs++ < MAX_RECORDS) {
		uint8_t ctl = data[pos];
		uint32_t len = (uint32_t)data[pos + 1] << 8 | data[pos + 2];
		unsigned flags = 0;
		uint8_t *buf;

		pos += 3;
		if (len > size - pos)
			len = (uint32_t)(size - pos);
		now_ns += (step_ms[ctl >> 5] + 1) * 1000000ull;
		if (len == 0 && (ctl & 3)) {
			going = command(ctl, now_ns);
			continue;
		}
		buf = area_fill(0, data + pos, len);
		pos += len;

		if (ctl & 0x04)
			flags |= ENGINE_F_CSUM_NOT_READY;
		if (ctl & 0x08)
			flags |= ENGINE_F_TRUNCATED;
		if (ctl & 0x10) {
			struct packet p;

			fixup(buf, len);
			if (!(flags & ENGINE_F_CSUM_NOT_READY) &&
			    pkt_decode(&p, buf, len) == PKT_OK &&
			    (p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) &&
			    csum_l4_verify(&p))
				flags |= ENGINE_F_CSUM_VERIFIED;
		}

		switch (ctl & 3) {
		case 0:
			run_one(buf, len, ENGINE_DIR_AUTO, flags, now_ns);
			break;
		case 1:
			run_one(buf, len, ENGINE_DIR_IN, flags, now_ns);
			break;
		case 2:
			run_one(buf, len, ENGINE_DIR_OUT, flags, now_ns);
			break;
		case 3: {
			/* the same bytes twice: as the engine decides, then as
			 * the caller insists (a retransmission, say) */
			uint8_t *copy = area_fill(1, buf, len);

			run_one(buf, len, ENGINE_DIR_AUTO, flags, now_ns);
			run_one(copy, len, ENGINE_DIR_IN, flags, now_ns);
			break;
		}
		}

		/* the dry-run's scan of every service over the raw bytes */
		if (len && (ctl & 0x03) == 0) {
			unsigned svc = data[pos - 1] % policy_service_count(rs);
			unsigned found = 0;
			int n = engine_scan(rs, w, svc, buf, len, count_match, &found);

			CHECK(n < 0 || (unsigned)n == found);
		}
		tick(now_ns);
	}
	if (going) {
		engine_release_all(rs, ft, w);
		check_releases(false);
		CHECK(n_held == 0 && engine_hold_deadline(w) == 0);
	}
	check_stats();
	return 0;
}
