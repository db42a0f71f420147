/*
 * cmd_dryrun.c — `nfredact dry-run`: feed a capture through the engine as
 * the daemon would see it (after the kernel's defragmentation), write the
 * server's view, report what the engine did, and check honestly that no
 * identifier of the input survived into the output.
 *
 * Each packet gets its direction from the dry-run itself (flowdir.h): the
 * TCP handshake, else the service ports, remembered per 5-tuple; what
 * tells neither goes in as inbound.  The capture may come from either
 * side of the relay.  Replies that it shows addressed to the real client
 * (the client's side) are rewritten to the client's pseudonym before the
 * engine gets them (serverview.h), as the daemon's output hook would get
 * them; replies already addressed to the pseudonym (the server's side)
 * stay.  Which side a tuple was captured on is decided at its first
 * reply.  OUT.pcap is the server's view: inbound packets as the engine
 * passed them, replies and ICMP errors as the server sent them.  The
 * engine's translation of a rewritten reply must give back the packet as
 * captured; the report counts the ones that do not.
 *
 * The residual check does not trust the engine's own counters: it scans
 * the original inbound payloads with the service's detectors to learn the
 * identifiers, scans the rewritten payloads again, and counts every
 * identifier whose bytes it had seen in the input.  TCP segments that
 * continue their stream in order are scanned behind the stream's last
 * STREAM_TAIL bytes, so an identifier cut across segments counts too; one
 * longer than that, or cut at a retransmission or a gap, is not seen.  A
 * retransmission that passes is scanned for every identifier learnt.
 * Client addresses the engine rewrote are remembered per service, and at
 * the end every address in an IP header or ICMP quote of what passed,
 * both directions, is counted when it is a remembered one of the packet's
 * service, unless it is the pseudonym of the packet's own flow (a
 * permuted pseudonym may be another client's real address).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "commands.h"
#include "defrag.h"
#include "engine.h"
#include "flow.h"
#include "flowdir.h"
#include "idset.h"
#include "keytime.h"
#include "linklayer.h"
#include "packet.h"
#include "policy.h"
#include "serverview.h"

#define FLOW_TABLE_SIZE		(1u << 18)
#define FLOWDIR_SETS_LOG2	15	/* 4 << 15 tuples remembered */
#define SHOWN_RECENT		64	/* addresses shown, looked up last */
#define DEFRAG_DATAGRAMS	256
#define IDSET_MAX_BYTES		((size_t)256 << 20)
/* libpcap's largest snapshot, plus room for a reassembled datagram */
#define FRAME_MAX		(262144u + 65536u + 1024u)
#define PROGRESS_EVERY		4096	/* packets between clock reads */
#define EXPIRE_EVERY		256	/* packets between flow expiry rounds */
#define EXPIRE_BUDGET		1024
#define NS			1000000000ull
/* Stream tails for the residual check: how many client streams are
 * followed at once (a newer one takes an older one's slot), and how much
 * of each stream's end is kept to find identifiers cut by a segment
 * boundary. */
#define STREAM_SLOTS		16384
#define STREAM_TAIL		256
/* Identifiers of a stream's tail remembered as already learnt (the last
 * ones; an identifier has at least 7 bytes) */
#define STREAM_LEARNT		32

/* Packets travel from the engine to the residual check in chunks: few
 * hand-overs, bounded memory.  One chunk holds the largest record. */
#define CHUNK_SIZE		((size_t)1 << 20)
#define CHUNKS			4

#define EXIT_RESIDUAL		3

struct options {
	const char *policy, *in, *out;
	bool json, show_original, quiet;
};

struct counters {
	uint64_t read, not_ip, written, truncated, oversized;
	uint64_t residual_ids, residual_addrs, scan_errors;
	uint64_t uncovered_addrs;	/* real client addresses in traffic no
					 * service covers: reported, not residual */
	/* directions given to the engine */
	uint64_t dir_in, dir_out, dir_undecided;
	/* tuples by the side of the relay their replies were captured on */
	uint64_t side_client, side_server;
	/* replies and errors rewritten to the server's view; of those the
	 * engine passed, how many it translated back to the captured packet */
	uint64_t sv_rewritten, sv_back, sv_other, sv_dropped;
};

/* The end of one client→server TCP stream, as sent and as the server saw it. */
struct stream_tail {
	uint8_t key[37];	/* family, client, server, ports (original) */
	bool used;
	uint32_t next_seq;	/* the in-order continuation */
	uint16_t len;
	uint8_t orig[STREAM_TAIL];
	uint8_t out[STREAM_TAIL];
	/* where in the stream identifiers were learnt: scanned again with
	 * the next segment, the same bytes need no second look-up */
	uint32_t learnt_seq[STREAM_LEARNT];
	uint16_t learnt_len[STREAM_LEARNT];	/* 0: none */
	uint8_t learnt_next;
	uint8_t svc;
	bool pending;		/* the tail's end was not judged yet */
};

/*
 * An identifier of the packet being checked, to look up in the set: the
 * look-ups of a packet are done together, their cache misses overlapped.
 */
struct lookup {
	const uint8_t *text, *repl;
	uint64_t hash;
	uint32_t len, seq;
	uint8_t det;
};

/* Identifiers learnt from the segment being checked, by stream position. */
struct learnt {
	uint32_t seq[STREAM_LEARNT];
	uint16_t len[STREAM_LEARNT];
	uint32_t n;
};

/* An identifier the engine reported while processing the packet. */
struct observed {
	uint32_t off, len;	/* in the packet, from its IP header */
	uint8_t det;
};

/* The matches one scan may return (detect.h), plus the PROXY source;
 * more are not expected, and would only make the dry-run scan itself */
#define OBSERVED_MAX		(16384 + 1)

/*
 * One inbound packet for the residual check, followed by its observed
 * identifiers, the original IP packet and what passed (out_len bytes;
 * none when dropped).
 */
struct check_rec {
	uint32_t size;		/* of the whole record, 8-byte aligned */
	uint32_t ip_len, out_len, n_obs;
	uint8_t svc;
	uint8_t flags;		/* REC_* */
};

#define REC_PASSED	0x1
#define REC_TRUNCATED	0x2
#define REC_OBSERVED	0x4	/* processed without error: n_obs is all */

_Static_assert(sizeof(struct check_rec) + OBSERVED_MAX * sizeof(struct observed) +
	       2 * (size_t)FRAME_MAX + 8 <= CHUNK_SIZE, "a record fits a chunk");

/*
 * The residual check runs on its own thread, behind the engine: the
 * engine's thread fills chunk (produced % CHUNKS) while the checker works
 * through chunks consumed .. produced - 1, in order.
 */
struct checker {
	pthread_t thread;
	bool running, done;
	pthread_mutex_t lock;
	pthread_cond_t more, room;
	uint8_t *buf[CHUNKS];
	size_t len[CHUNKS];
	uint64_t produced, consumed;
	size_t fill;		/* bytes in the chunk being filled */
};

/* A packet the engine holds back: what to write when it is released. */
struct held_frame {
	uint64_t cookie;
	struct pcap_pkthdr h;
	uint32_t caplen, wire_len, off, ip_len;
	unsigned flags;
	uint8_t *frame;		/* the original frame */
};

struct dryrun {
	struct options opt;
	struct held_frame *held;	/* packets the engine holds */
	size_t n_held, cap_held;
	struct ruleset *rs;
	struct flow_table *ft;
	struct engine_worker *w;	/* the engine's */
	struct engine_worker *w_scan;	/* the residual check's */
	struct checker ck;
	struct defrag *df;
	struct idset *ids;	/* original identifier -> what the server saw */
	struct idset *addrs;	/* svc, family, client address -> pseudonym */
	/* svc (0xff: none), family, address -> its place in shown_n: the
	 * addresses the output's headers show, other than flows' pseudonyms */
	struct idset *shown;
	uint64_t *shown_n;
	size_t shown_cap;
	struct shown_recent {
		uint8_t key[2 + 16];
		uint32_t len, at;
	} shown_recent[SHOWN_RECENT];
	struct flowdir *fd;
	pcap_t *in, *dead;
	pcap_dumper_t *dump;
	int dlt;
	bool out_nano;
	uint8_t *work, *orig;
	uint8_t *rel;		/* a released packet's frame */
	uint8_t *sview;		/* a reply's frame as the server sent it */
	uint8_t *dec;		/* a captured-short packet, its lengths cut to
				 * what was captured, to decode its headers */
	uint8_t *cat_orig, *cat_out;	/* stream tail + payload */
	struct stream_tail *streams;
	struct counters c;
	uint64_t distinct[DET__COUNT];
	uint64_t now_s;
	/* the packet being scanned, for the callbacks */
	const uint8_t *scan_orig, *scan_out;
	uint32_t scan_len;
	const uint8_t *scan_new;	/* count only what ends past this */
	const uint8_t *scan_end;	/* a TCP scan's end: judged later */
	const uint8_t *only_end;	/* tail_flush(): judge only what ends here */
	const struct stream_tail *scan_st;	/* whose tail leads the scan */
	uint32_t scan_tail;
	bool scan_tcp;
	uint32_t scan_seq;		/* stream position of scan_orig[0] */
	struct learnt learnt;
	struct lookup *look;	/* OBSERVED_MAX */
	uint32_t n_look;
	bool look_find;		/* queued for find_queued(), not learn_queued() */
	/* what the engine reported of the packet being processed */
	struct observed *obs;
	uint32_t n_obs;
	bool obs_overflow;
	const uint8_t *obs_base;
	/* progress line */
	struct timespec t0, t_last;
	uint64_t n_last;
	bool progress_shown;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: nfredact dry-run POLICY IN.pcap [-w OUT.pcap] [--json]\n"
		"                        [--show-original] [--quiet]\n"
		"Run the capture IN through the engine as nfredactd would see it\n"
		"(IP fragments reassembled first, as the kernel does) and report.\n"
		"IN may be captured on either side of a relay: replies to a real\n"
		"client go to the engine, and to OUT, as the server sent them.\n"
		"  -w OUT.pcap      write what the server sees, the client's pseudonym in\n"
		"                   both directions (dropped packets left out)\n"
		"  --json           the report as one JSON object\n"
		"  --show-original  also list the original identifiers and client\n"
		"                   addresses with what they became (never shown otherwise)\n"
		"  --quiet          no progress line on stderr\n"
		"Exit status: 0 no identifier survived; 1 error (policy, capture);\n"
		"2 usage; 3 residual identifiers or client addresses found in the output.\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	int pos = 0;

	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-w")) {
			if (++i == argc || !argv[i][0])
				return -EINVAL;
			o->out = argv[i];
		} else if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--show-original")) {
			o->show_original = true;
		} else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
			o->quiet = true;
		} else if (a[0] == '-' && a[1] != '\0') {
			return -EINVAL;
		} else if (pos == 0) {
			o->policy = a;
			pos++;
		} else if (pos == 1) {
			o->in = a;
			pos++;
		} else {
			return -EINVAL;
		}
	}
	return pos == 2 && o->policy[0] && o->in[0] ? 0 : -EINVAL;
}

/* ---- residual check ------------------------------------------------------ */

static bool learnt_before(const struct stream_tail *st, uint32_t seq,
			  uint32_t len)
{
	for (unsigned i = 0; i < STREAM_LEARNT; i++)
		if (st->learnt_seq[i] == seq && st->learnt_len[i] == len)
			return true;
	return false;
}

static void note_learnt(struct dryrun *dr, uint32_t seq, uint32_t len)
{
	struct learnt *l = &dr->learnt;

	if (!dr->scan_tcp || len > UINT16_MAX)
		return;
	l->seq[l->n % STREAM_LEARNT] = seq;
	l->len[l->n % STREAM_LEARNT] = (uint16_t)len;
	l->n++;
}

/* The segment's identifiers become the stream's (after its own, if any). */
static void keep_learnt(struct dryrun *dr, struct stream_tail *slot, bool continued)
{
	const struct learnt *l = &dr->learnt;
	uint32_t from = l->n > STREAM_LEARNT ? l->n - STREAM_LEARNT : 0;

	if (!continued) {
		memset(slot->learnt_len, 0, sizeof(slot->learnt_len));
		slot->learnt_next = 0;
	}
	for (uint32_t i = from; i < l->n; i++) {
		unsigned k = slot->learnt_next++ % STREAM_LEARNT;

		slot->learnt_seq[k] = l->seq[i % STREAM_LEARNT];
		slot->learnt_len[k] = l->len[i % STREAM_LEARNT];
	}
}

static void learn_queued(struct dryrun *dr);
static void find_queued(struct dryrun *dr);

static void queue_lookup(struct dryrun *dr, const uint8_t *text, uint32_t len,
			 enum det_kind det, const uint8_t *repl, uint32_t seq)
{
	struct lookup *l;

	/* more than one scan returns; in order all the same */
	if (dr->n_look == OBSERVED_MAX) {
		if (dr->look_find)
			find_queued(dr);
		else
			learn_queued(dr);
	}
	l = &dr->look[dr->n_look++];
	*l = (struct lookup){
		.text = text, .repl = repl, .len = len, .seq = seq,
		.det = (uint8_t)det, .hash = idset_hash(text, len),
	};
	idset_prefetch(dr->ids, l->hash);
}

/* Insert the queued identifiers of the input, in the order found. */
static void learn_queued(struct dryrun *dr)
{
	for (uint32_t i = 0; i < dr->n_look; i++) {
		const struct lookup *l = &dr->look[i];
		bool added;

		if (idset_insert_hashed(dr->ids, l->hash, l->text, l->len, l->det,
					l->repl, l->len, &added) == 0) {
			if (added)
				dr->distinct[l->det]++;
			note_learnt(dr, l->seq, l->len);
		}
	}
	dr->n_look = 0;
}

/* Count the queued identifiers of the output that the input had. */
static void find_queued(struct dryrun *dr)
{
	for (uint32_t i = 0; i < dr->n_look; i++) {
		const struct lookup *l = &dr->look[i];

		if (idset_find_hashed(dr->ids, l->hash, l->text, l->len))
			dr->c.residual_ids++;
	}
	dr->n_look = 0;
}

static void remember_original(void *ctx, enum det_kind det, const uint8_t *text,
			      uint32_t len)
{
	struct dryrun *dr = ctx;
	const uint8_t *repl = NULL;
	uint32_t at = (uint32_t)(text - dr->scan_orig);

	if (dr->scan_tcp && at + len == dr->scan_len)
		return;		/* judged with what follows: tail_flush() */
	if (dr->only_end && text + len != dr->only_end)
		return;		/* judged before */

	/* the same bytes of the stream were inserted with an earlier segment:
	 * inserting them again would change nothing */
	if (dr->scan_st && at + len <= dr->scan_tail &&
	    learnt_before(dr->scan_st, dr->scan_seq + at, len))
		return;

	if (dr->scan_out && text >= dr->scan_orig &&
	    (uint32_t)(text - dr->scan_orig) + len <= dr->scan_len)
		repl = dr->scan_out + (text - dr->scan_orig);
	queue_lookup(dr, text, len, det, repl, dr->scan_seq + at);
}

static void find_residual(void *ctx, enum det_kind det, const uint8_t *text,
			  uint32_t len)
{
	struct dryrun *dr = ctx;

	/* one that lies wholly in the stream's tail was judged with the
	 * segment that brought it, unless it ended with that segment */
	if (dr->scan_end && text + len == dr->scan_end)
		return;		/* judged with what follows: tail_flush() */
	if (dr->only_end && text + len != dr->only_end)
		return;		/* judged before */
	if (text + len > dr->scan_new ||
	    (dr->scan_end && text + len == dr->scan_new))
		queue_lookup(dr, text, len, det, NULL, 0);
}

static void observe(void *ctx, enum det_kind det, const uint8_t *text,
		    uint32_t len)
{
	struct dryrun *dr = ctx;

	if (dr->n_obs == OBSERVED_MAX) {
		dr->obs_overflow = true;
		return;
	}
	dr->obs[dr->n_obs++] = (struct observed){
		.off = (uint32_t)(text - dr->obs_base), .len = len,
		.det = (uint8_t)det,
	};
}

/*
 * Learn the identifiers the engine reported: the same that engine_scan()
 * finds in the original payload (see engine_set_observer()), with what
 * they became at the same place in @out.  @orig and @out start at the IP
 * header.  Return: how many.
 */
static int learn_observed(struct dryrun *dr, const struct observed *obs,
			  uint32_t n_obs, const uint8_t *orig, const uint8_t *out)
{
	uint32_t payload_off = (uint32_t)(dr->scan_orig - orig);

	for (uint32_t i = 0; i < n_obs; i++) {
		const struct observed *o = &obs[i];

		queue_lookup(dr, orig + o->off, o->len, o->det, out + o->off,
			     dr->scan_seq + (o->off - payload_off));
	}
	return (int)n_obs;
}

static bool has_payload(enum pkt_status st, const struct packet *p)
{
	return st == PKT_OK && !p->icmp_error && p->payload_len > 0 &&
	       (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP);
}

/*
 * A packet cut short by the capture still shows its first bytes to the
 * server when it passes: make its length fields say what was captured so
 * that the decoder lets those bytes be scanned.
 */
static void clamp_ip_length(uint8_t *ip, uint32_t len)
{
	if ((ip[0] >> 4) == 4 && len >= 20 && len <= 0xffff) {
		ip[2] = (uint8_t)(len >> 8);
		ip[3] = (uint8_t)len;
	} else if ((ip[0] >> 4) == 6 && len > 40 && len - 40 <= 0xffff) {
		ip[4] = (uint8_t)((len - 40) >> 8);
		ip[5] = (uint8_t)(len - 40);
	}
}

static uint64_t hash_key(const uint8_t *k, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ k[i]) * 0x100000001b3ull;
	return h;
}

/*
 * The tail of @p's stream when @p continues it in order, else NULL (a
 * new stream, a retransmission, a gap): then the payload is scanned alone.
 * @slot receives the stream's slot, claimed for it if need be.
 */
/*
 * An identifier that ends where a segment ends may go on in the next
 * one (and an allow pattern may only match with it): it is judged with
 * the next in-order segment, or here, with the tail alone, when the
 * stream does not go on in order.
 */
static void tail_flush(struct dryrun *dr, struct stream_tail *st)
{
	if (!st->used || !st->pending || !st->len)
		return;
	st->pending = false;
	dr->scan_orig = st->orig;
	dr->scan_out = st->out;
	dr->scan_len = st->len;
	dr->scan_st = NULL;
	dr->scan_tail = 0;
	dr->scan_tcp = false;
	dr->scan_seq = st->next_seq - st->len;
	dr->scan_end = NULL;
	dr->learnt.n = 0;
	dr->look_find = false;
	dr->only_end = st->orig + st->len;
	if (engine_scan(dr->rs, dr->w_scan, st->svc, st->orig, st->len,
			remember_original, dr) < 0)
		dr->c.scan_errors++;
	learn_queued(dr);
	dr->scan_new = st->out;
	dr->look_find = true;
	dr->only_end = st->out + st->len;
	if (engine_scan(dr->rs, dr->w_scan, st->svc, st->out, st->len,
			find_residual, dr) < 0)
		dr->c.scan_errors++;
	find_queued(dr);
	dr->only_end = NULL;
	dr->scan_out = NULL;
}

static void tails_flush_all(struct dryrun *dr)
{
	for (size_t i = 0; i < STREAM_SLOTS; i++)
		tail_flush(dr, &dr->streams[i]);
}

static struct stream_tail *stream_of(struct dryrun *dr, const struct packet *p,
				     struct stream_tail **slot)
{
	uint8_t key[37] = { p->family };
	struct stream_tail *st;

	memcpy(key + 1, pkt_saddr(p), p->addr_len);
	memcpy(key + 17, pkt_daddr(p), p->addr_len);
	key[33] = (uint8_t)(p->sport >> 8);
	key[34] = (uint8_t)p->sport;
	key[35] = (uint8_t)(p->dport >> 8);
	key[36] = (uint8_t)p->dport;
	st = &dr->streams[hash_key(key, sizeof(key)) % STREAM_SLOTS];
	*slot = st;
	if (st->used && !memcmp(st->key, key, sizeof(key))) {
		/* bytes the stream already carried: a retransmission */
		if ((int32_t)(p->tcp_seq + p->payload_len - st->next_seq) <= 0 &&
		    p->tcp_seq != st->next_seq)
			*slot = NULL;
		if (st->next_seq != p->tcp_seq && *slot)
			tail_flush(dr, st);	/* a gap */
		return st->next_seq == p->tcp_seq ? st : NULL;
	}
	tail_flush(dr, st);
	memcpy(st->key, key, sizeof(key));
	st->used = true;
	st->len = 0;
	st->next_seq = p->tcp_seq;
	return NULL;
}

static void tail_append(uint8_t *tail, uint16_t old_len, uint16_t new_len,
			const uint8_t *data, uint32_t len)
{
	if (len >= new_len) {
		memcpy(tail, data + len - new_len, new_len);
		return;
	}
	memmove(tail, tail + old_len - (new_len - len), new_len - len);
	memcpy(tail + new_len - len, data, len);
}

/*
 * Scan @po's payload (the original) to learn its identifiers and @pw's
 * (what passed; NULL if nothing did) for survivors.  A TCP segment that
 * continues its stream in order is scanned behind the stream's last bytes,
 * so an identifier cut in two by the client's segmentation is learnt
 * whole, and found if it reaches the server whole.
 *
 * A payload scanned alone need not be scanned twice: when the engine
 * processed the packet without error (@observed), what it reported is
 * what engine_scan() finds in it.  What passed is not scanned when it is
 * byte for byte what was learnt from and nothing was found there: the
 * same scan of the same bytes finds nothing either.
 */
static void scan_payloads(struct dryrun *dr, unsigned svc,
			  const struct packet *po, const struct packet *pw,
			  const struct observed *obs, uint32_t n_obs)
{
	struct stream_tail *st = NULL, *slot = NULL;
	uint32_t tail = 0, plen = po->payload_len;
	bool same_len = pw && pw->payload_len == plen, same;
	int n;

	dr->scan_end = NULL;

	if (po->proto == IPPROTO_TCP) {
		st = stream_of(dr, po, &slot);
		if (!st && !slot) {
			/*
			 * A retransmission: its bytes were learnt from when
			 * they first came (cut here anywhere, it would teach
			 * parts of identifiers); what passes must still hold
			 * none of those already known.
			 */
			if (pw) {
				dr->scan_orig = pkt_payload(po);
				dr->scan_out = NULL;
				dr->scan_len = plen;
				dr->scan_new = pkt_payload(pw);
				dr->look_find = true;
				if (engine_scan(dr->rs, dr->w_scan, svc, pkt_payload(pw),
						pw->payload_len, find_residual, dr) < 0)
					dr->c.scan_errors++;
				find_queued(dr);
			}
			return;
		}
	}
	if (st && same_len && st->len)
		tail = st->len;
	if (tail) {
		memcpy(dr->cat_orig, st->orig, tail);
		memcpy(dr->cat_orig + tail, pkt_payload(po), plen);
		memcpy(dr->cat_out, st->out, tail);
		memcpy(dr->cat_out + tail, pkt_payload(pw), plen);
		dr->scan_orig = dr->cat_orig;
		dr->scan_out = dr->cat_out;
	} else {
		dr->scan_orig = pkt_payload(po);
		dr->scan_out = same_len ? pkt_payload(pw) : NULL;
	}
	dr->scan_len = tail + plen;
	dr->scan_st = tail ? st : NULL;
	dr->scan_tail = tail;
	dr->scan_tcp = slot != NULL;
	dr->scan_seq = po->tcp_seq - tail;
	dr->learnt.n = 0;
	dr->look_find = false;
	if (obs && !tail && same_len &&
	    !engine_payload_may_be_proxy(pkt_payload(po), plen))
		n = learn_observed(dr, obs, n_obs, po->data, pw->data);
	else
		n = engine_scan(dr->rs, dr->w_scan, svc, dr->scan_orig, dr->scan_len,
				remember_original, dr);
	learn_queued(dr);
	if (n < 0)
		dr->c.scan_errors++;
	same = same_len && !memcmp(pkt_payload(po), pkt_payload(pw), plen) &&
	       (!tail || !memcmp(st->orig, st->out, tail));
	if (pw && !(n == 0 && same)) {
		const uint8_t *out = dr->scan_out ? dr->scan_out : pkt_payload(pw);
		uint32_t out_len = dr->scan_out ? dr->scan_len : pw->payload_len;

		dr->scan_new = out + tail;
		dr->scan_end = slot ? out + out_len : NULL;
		dr->look_find = true;
		n = engine_scan(dr->rs, dr->w_scan, svc, out, out_len,
				find_residual, dr);
		find_queued(dr);
		if (n < 0)
			dr->c.scan_errors++;
	}
	dr->scan_out = NULL;
	/* only what reached the server continues its stream */
	if (slot && same_len) {
		uint16_t new_len = (uint16_t)(tail + plen < STREAM_TAIL ?
					      tail + plen : STREAM_TAIL);

		if (!st)
			slot->len = 0;
		keep_learnt(dr, slot, st != NULL);
		tail_append(slot->orig, slot->len, new_len, pkt_payload(po), plen);
		tail_append(slot->out, slot->len, new_len, pkt_payload(pw), plen);
		slot->len = new_len;
		slot->next_seq = po->tcp_seq + plen;
		slot->svc = (uint8_t)svc;
		slot->pending = true;
	}
	dr->scan_end = NULL;
}

/*
 * An inbound packet of a covered service: learn the identifiers of the
 * original, then look for them in what passes.  @out is NULL when the
 * packet was dropped; @obs (NULL: not known) what the engine reported.
 */
static void check_inbound(struct dryrun *dr, unsigned svc, const uint8_t *ip,
			  uint32_t ip_len, uint8_t *out, uint32_t out_len,
			  bool truncated, const struct observed *obs,
			  uint32_t n_obs)
{
	struct packet po, pw;
	enum pkt_status so, sw = PKT_MALFORMED;

	/* a copy, since the decoder wants a writable buffer */
	memcpy(dr->orig, ip, ip_len);
	if (truncated)
		clamp_ip_length(dr->orig, ip_len);
	so = pkt_decode(&po, dr->orig, ip_len);
	if (!has_payload(so, &po))
		return;
	if (out && truncated && out_len == ip_len && !memcmp(out, ip, ip_len)) {
		pw = po;	/* passed unchanged: scan what was captured */
		sw = so;
	} else if (out) {
		sw = pkt_decode(&pw, out, out_len);
	}

	scan_payloads(dr, svc, &po, has_payload(sw, &pw) ? &pw : NULL,
		      truncated ? NULL : obs, n_obs);
}

/* ---- the residual check's thread ---------------------------------------- */

static void check_chunk(struct dryrun *dr, uint8_t *buf, size_t len)
{
	for (size_t at = 0; at < len;) {
		struct check_rec *r = (struct check_rec *)(void *)(buf + at);
		struct observed *obs = (struct observed *)(void *)(r + 1);
		uint8_t *ip = (uint8_t *)(obs + r->n_obs);

		check_inbound(dr, r->svc, ip, r->ip_len,
			      r->flags & REC_PASSED ? ip + r->ip_len : NULL,
			      r->out_len, r->flags & REC_TRUNCATED,
			      r->flags & REC_OBSERVED ? obs : NULL, r->n_obs);
		at += r->size;
	}
}

static void *checker_main(void *arg)
{
	struct dryrun *dr = arg;
	struct checker *ck = &dr->ck;

	pthread_mutex_lock(&ck->lock);
	for (;;) {
		unsigned slot;

		while (ck->consumed == ck->produced && !ck->done)
			pthread_cond_wait(&ck->more, &ck->lock);
		if (ck->consumed == ck->produced)
			break;
		slot = (unsigned)(ck->consumed % CHUNKS);
		pthread_mutex_unlock(&ck->lock);
		check_chunk(dr, ck->buf[slot], ck->len[slot]);
		pthread_mutex_lock(&ck->lock);
		ck->consumed++;
		pthread_cond_signal(&ck->room);
	}
	pthread_mutex_unlock(&ck->lock);
	return NULL;
}

/* Pass the chunk being filled on, and wait for a free one. */
static void checker_hand_over(struct dryrun *dr)
{
	struct checker *ck = &dr->ck;
	unsigned slot = (unsigned)(ck->produced % CHUNKS);

	if (!ck->fill)
		return;
	ck->len[slot] = ck->fill;
	ck->fill = 0;
	if (!ck->running) {
		check_chunk(dr, ck->buf[slot], ck->len[slot]);
		return;
	}
	pthread_mutex_lock(&ck->lock);
	ck->produced++;
	pthread_cond_signal(&ck->more);
	while (ck->produced - ck->consumed >= CHUNKS)
		pthread_cond_wait(&ck->room, &ck->lock);
	pthread_mutex_unlock(&ck->lock);
}

/* Queue an inbound packet for check_inbound() (which see). */
static void check_later(struct dryrun *dr, unsigned svc, const uint8_t *ip,
			uint32_t ip_len, const uint8_t *out, uint32_t out_len,
			bool truncated, bool observed)
{
	struct checker *ck = &dr->ck;
	uint32_t n_obs = observed && !dr->obs_overflow ? dr->n_obs : 0;
	size_t size = sizeof(struct check_rec) + n_obs * sizeof(struct observed) +
		      ip_len + (out ? out_len : 0);
	struct check_rec *r;
	uint8_t *p;

	size = (size + 7) & ~(size_t)7;
	if (ck->fill + size > CHUNK_SIZE)
		checker_hand_over(dr);
	r = (struct check_rec *)(void *)(ck->buf[ck->produced % CHUNKS] + ck->fill);
	*r = (struct check_rec){
		.size = (uint32_t)size, .ip_len = ip_len,
		.out_len = out ? out_len : 0, .n_obs = n_obs, .svc = (uint8_t)svc,
		.flags = (uint8_t)((out ? REC_PASSED : 0) |
				   (truncated ? REC_TRUNCATED : 0) |
				   (observed && !dr->obs_overflow ? REC_OBSERVED : 0)),
	};
	p = (uint8_t *)(r + 1);
	memcpy(p, dr->obs, n_obs * sizeof(struct observed));
	p += n_obs * sizeof(struct observed);
	memcpy(p, ip, ip_len);
	if (out)
		memcpy(p + ip_len, out, out_len);
	ck->fill += size;
}

static void checker_start(struct dryrun *dr)
{
	struct checker *ck = &dr->ck;

	pthread_mutex_init(&ck->lock, NULL);
	pthread_cond_init(&ck->more, NULL);
	pthread_cond_init(&ck->room, NULL);
	/* without a thread, the chunks are checked in line as they fill */
	ck->running = pthread_create(&ck->thread, NULL, checker_main, dr) == 0;
}

/* Check what is left and wait for the checker to finish. */
static void checker_finish(struct dryrun *dr)
{
	struct checker *ck = &dr->ck;

	checker_hand_over(dr);
	if (ck->running) {
		pthread_mutex_lock(&ck->lock);
		ck->done = true;
		pthread_cond_signal(&ck->more);
		pthread_mutex_unlock(&ck->lock);
		pthread_join(ck->thread, NULL);
		ck->running = false;
	}
	tails_flush_all(dr);
	pthread_cond_destroy(&ck->room);
	pthread_cond_destroy(&ck->more);
	pthread_mutex_destroy(&ck->lock);
}

/* ---- directions, the server's view, client addresses ------------------- */

/* What the dry-run knows of a packet before the engine sees it. */
struct classified {
	struct packet p;	/* its headers: offsets valid in the packet */
	enum pkt_status st;
	enum engine_dir dir;
	struct flowdir_entry *e;	/* its tuple's entry (an error's: the quote's) */
	struct flowdir_tuple t;	/* its flow as captured, client end first */
	bool have_tuple;
};

static void tuple_set(struct flowdir_tuple *t, uint8_t family, uint8_t proto,
		      const uint8_t *src, uint16_t sport, const uint8_t *dst,
		      uint16_t dport)
{
	unsigned alen = family == 4 ? 4 : 16;

	memset(t, 0, sizeof(*t));
	t->family = family;
	t->proto = proto;
	t->sport = sport;
	t->dport = dport;
	memcpy(t->src, src, alen);
	memcpy(t->dst, dst, alen);
}

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/*
 * Decode the headers of @ip (@len bytes captured).  A packet cut short by
 * the capture is decoded from a copy whose length fields say what was
 * captured: the offsets are the same.  The decoder writes nothing.
 */
static enum pkt_status decode_headers(struct dryrun *dr, const uint8_t *ip,
				      uint32_t len, bool truncated,
				      struct packet *p)
{
	if (!truncated)
		return pkt_decode(p, (uint8_t *)ip, len);
	memcpy(dr->dec, ip, len);
	clamp_ip_length(dr->dec, len);
	return pkt_decode(p, dr->dec, len);
}

/*
 * The direction of the packet @ip (flowdir.h).  An ICMP error goes the
 * other way from the packet it quotes; one whose quote tells nothing, and
 * a packet that does not decode, go in as inbound.
 */
static void classify(struct dryrun *dr, const uint8_t *ip, uint32_t len,
		     bool truncated, struct classified *c)
{
	struct packet *p = &c->p;
	enum flowdir_how how = FLOWDIR_UNDECIDED;
	const struct pkt_inner *in = &p->inner;
	struct flowdir_tuple q;

	c->e = NULL;
	c->have_tuple = false;
	c->dir = ENGINE_DIR_IN;
	c->st = decode_headers(dr, ip, len, truncated, p);
	if (c->st != PKT_OK) {
		/* no direction to tell */
	} else if (p->icmp_error) {
		if (in->have_ports && in->family == p->family &&
		    has_ports(in->proto)) {
			tuple_set(&q, p->family, in->proto, p->data + in->saddr_off,
				  in->sport, p->data + in->daddr_off, in->dport);
			switch (flowdir_lookup(dr->fd, &q, &c->e)) {
			case ENGINE_DIR_IN:	/* it quotes client → server */
				c->dir = ENGINE_DIR_OUT;
				c->t = q;
				c->have_tuple = true;
				how = FLOWDIR_PORT;
				break;
			case ENGINE_DIR_OUT:	/* server → client */
				how = FLOWDIR_PORT;
				break;
			default:
				break;
			}
		}
	} else if (has_ports(p->proto)) {
		tuple_set(&c->t, p->family, p->proto, pkt_saddr(p), p->sport,
			  pkt_daddr(p), p->dport);
		c->dir = flowdir_decide(dr->fd, &c->t, p->tcp_flags,
					(uint32_t)dr->c.read, &c->e, &how);
		c->have_tuple = true;
		if (c->dir == ENGINE_DIR_OUT)
			tuple_set(&c->t, p->family, p->proto, pkt_daddr(p),
				  p->dport, pkt_saddr(p), p->sport);
	}
	if (how == FLOWDIR_UNDECIDED)
		dr->c.dir_undecided++;
	else if (c->dir == ENGINE_DIR_IN)
		dr->c.dir_in++;
	else
		dr->c.dir_out++;
}

/*
 * A reply or an ICMP error towards a client (@c->t: its flow, client end
 * first, as captured).  On which side of the relay the capture saw the
 * tuple is decided at its first such packet: addressed to a real client
 * with a flow, it was the client's side; to a flow's pseudonym, the
 * server's.  When both hold (a pseudonym that is another client's real
 * address, with the same ports), the side most tuples had so far wins.
 * On the client's side the packet is rewritten in place to what the
 * server sent.  Return: true when rewritten.
 */
static bool to_server_view(struct dryrun *dr, uint8_t *ip, struct classified *c)
{
	const struct flowdir_tuple *t = &c->t;
	uint8_t side = c->e ? c->e->side : FLOWDIR_SIDE_UNKNOWN;
	struct flow *fi, *fo;

	if (!c->have_tuple || side == FLOWDIR_SIDE_SERVER ||
	    side == FLOWDIR_SIDE_SAME)
		return false;
	fi = flow_find_in(dr->ft, t->family, t->proto, t->src, t->sport,
			  t->dst, t->dport);
	if (side == FLOWDIR_SIDE_UNKNOWN) {
		fo = flow_find_out(dr->ft, t->family, t->proto, t->src, t->sport,
				   t->dst, t->dport);
		if (!fi && !fo)
			return false;	/* no flow tells yet */
		if (fi == fo)
			side = FLOWDIR_SIDE_SAME;
		else if (!fi)
			side = FLOWDIR_SIDE_SERVER;
		else if (!fo)
			side = FLOWDIR_SIDE_CLIENT;
		else
			side = dr->c.side_server > dr->c.side_client ?
			       FLOWDIR_SIDE_SERVER : FLOWDIR_SIDE_CLIENT;
		if (c->e) {
			c->e->side = side;
			if (side == FLOWDIR_SIDE_CLIENT)
				dr->c.side_client++;
			else if (side == FLOWDIR_SIDE_SERVER)
				dr->c.side_server++;
		}
		if (side != FLOWDIR_SIDE_CLIENT)
			return false;
	}
	if (!fi)
		return false;	/* the flow is gone: nothing to translate by */
	if (c->p.icmp_error)
		return sv_error_to_pseudonym(ip, &c->p, fi->client, fi->pseudo,
					     fi->pport);
	return sv_reply_to_pseudonym(ip, &c->p, fi->pseudo, fi->pport);
}

/*
 * After an inbound packet of a covered service: the tuple the server sees
 * for its flow (pseudonym → server) goes the same way.  Remembered where
 * the ports would not tell, when the pseudonym port is a service port too.
 */
static void remember_pseudonym(struct dryrun *dr, const struct classified *c)
{
	const struct flowdir_tuple *t = &c->t;
	struct flowdir_tuple pt;
	struct flow *f;

	if (!c->e || c->e->mark)
		return;		/* done for this tuple */
	f = flow_find_in(dr->ft, t->family, t->proto, t->src, t->sport, t->dst,
			 t->dport);
	if (!f)
		return;		/* no flow yet: at its next packet */
	c->e->mark = 1;
	if (flowdir_service_of_port(dr->fd, t->proto, f->pport) < 0)
		return;
	tuple_set(&pt, t->family, t->proto, f->pseudo, f->pport, f->server,
		  f->sport);
	if (memcmp(&pt, t, sizeof(pt)))
		flowdir_remember(dr->fd, &pt, (uint32_t)dr->c.read);
}

/*
 * Remember the client address the engine replaced in an inbound packet
 * of service @svc: a real client address, which the output must not show
 * in that service's packets.  Keyed by service, so a service that keeps
 * addresses does not trip over one that rewrites them.
 */
static void learn_address(struct dryrun *dr, unsigned svc, const uint8_t *orig,
			  uint32_t orig_len, const uint8_t *out, uint32_t out_len)
{
	int version = orig[0] >> 4;
	uint32_t alen = version == 4 ? 4 : 16, so = version == 4 ? 12 : 8;
	uint8_t key[2 + 16];

	if ((version != 4 && version != 6) || (out[0] >> 4) != version ||
	    orig_len < so + alen || out_len < so + alen ||
	    !memcmp(orig + so, out + so, alen))
		return;
	key[0] = (uint8_t)svc;
	key[1] = (uint8_t)version;
	memcpy(key + 2, orig + so, alen);
	idset_insert(dr->addrs, key, 2 + alen, (uint8_t)version, out + so, alen,
		     NULL);
}

/* Count one more showing of the address key @key (svc, family, address). */
static void shown_add(struct dryrun *dr, const uint8_t *key, uint32_t len)
{
	struct shown_recent *r;
	const struct idset_entry *e;
	uint64_t h = idset_hash(key, len);
	uint32_t at;

	/* most packets show the few addresses of the servers */
	r = &dr->shown_recent[h % SHOWN_RECENT];
	if (r->len == len && !memcmp(r->key, key, len)) {
		dr->shown_n[r->at]++;
		return;
	}
	e = idset_find_hashed(dr->shown, h, key, len);
	if (!e) {
		if (idset_insert_hashed(dr->shown, h, key, len, 0, NULL, 0,
					NULL) < 0)
			return;		/* counted as not remembered */
		e = idset_at(dr->shown, idset_count(dr->shown) - 1);
	}
	at = idset_index(dr->shown, e);
	if (at >= dr->shown_cap) {
		size_t cap = dr->shown_cap ? 2 * dr->shown_cap : 1024;
		uint64_t *n = realloc(dr->shown_n, cap * sizeof(*n));

		if (!n) {
			perror("nfredact dry-run");
			exit(1);
		}
		memset(n + dr->shown_cap, 0, (cap - dr->shown_cap) * sizeof(*n));
		dr->shown_n = n;
		dr->shown_cap = cap;
	}
	dr->shown_n[at]++;
	memcpy(r->key, key, len);
	r->len = len;
	r->at = at;
}

/*
 * A packet that passed, as OUT.pcap holds it (@svc: its service, -1 for
 * none): note every address of its IP header and, in an ICMP error
 * (@icmp), of the quoted header, for the check at the end
 * (residual_addresses()) -- except @pseudo (NULL: none), the pseudonym of
 * the packet's own flow.  An ICMP error that no service took counts for
 * the service of its quote's ports.
 */
static void note_output(struct dryrun *dr, const uint8_t *ip, uint32_t len,
			int svc, bool truncated, bool icmp, const uint8_t *pseudo)
{
	const uint8_t *field[4];
	struct packet p;
	unsigned n = 0, alen;
	int version;
	uint8_t key[2 + 16];

	if (!len)
		return;
	version = ip[0] >> 4;
	if (version == 4 && len >= 20) {
		field[n++] = ip + 12;
		field[n++] = ip + 16;
	} else if (version == 6 && len >= 40) {
		field[n++] = ip + 8;
		field[n++] = ip + 24;
	} else {
		return;
	}
	alen = version == 4 ? 4 : 16;
	if (icmp && decode_headers(dr, ip, len, truncated, &p) == PKT_OK &&
	    p.icmp_error && p.inner.family == p.family) {
		const struct pkt_inner *in = &p.inner;

		field[n++] = ip + in->saddr_off;
		field[n++] = ip + in->daddr_off;
		if (svc < 0 && in->have_ports) {
			svc = flowdir_service_of_port(dr->fd, in->proto, in->dport);
			if (svc < 0)
				svc = flowdir_service_of_port(dr->fd, in->proto,
							      in->sport);
		}
	}
	key[0] = svc < 0 ? 0xff : (uint8_t)svc;
	key[1] = (uint8_t)version;
	for (unsigned i = 0; i < n; i++) {
		if (pseudo && !memcmp(field[i], pseudo, alen))
			continue;	/* the flow's pseudonym */
		memcpy(key + 2, field[i], alen);
		shown_add(dr, key, 2 + alen);
	}
}

/*
 * The client address of an inbound packet as the server got it (@out),
 * when it is the pseudonym of the packet's flow: the engine rewrote it,
 * or the flow's pseudonym is the client itself (keep, or an address the
 * rule maps to itself).  NULL otherwise.
 */
static const uint8_t *pseudonym_in(struct dryrun *dr, const struct classified *c,
				   const uint8_t *orig, const uint8_t *out,
				   uint32_t len)
{
	const struct pkt_inner *in = &c->p.inner;
	uint32_t at;
	struct flow *f;

	if (c->st != PKT_OK)
		return NULL;
	/* an error from the client's side quotes server → client */
	if (c->p.icmp_error)
		at = in->family == c->p.family ? in->daddr_off : 0;
	else if (has_ports(c->p.proto))
		at = c->p.saddr_off;
	else
		return NULL;
	if (!at || at + c->p.addr_len > len)
		return NULL;
	if (memcmp(orig + at, out + at, c->p.addr_len))
		return out + at;
	if (c->p.icmp_error || !c->have_tuple)
		return NULL;
	f = flow_find_in(dr->ft, c->t.family, c->t.proto, c->t.src, c->t.sport,
			 c->t.dst, c->t.dport);
	return f && !memcmp(f->pseudo, f->client, c->p.addr_len) ? out + at : NULL;
}

/*
 * The client address of a reply or error as the server sent it (@sv),
 * when it is the pseudonym of the packet's flow: rewritten to it here, or
 * found to be a flow's pseudonym when the tuple's side was decided (or,
 * for an error, now).  NULL otherwise.
 */
static const uint8_t *pseudonym_out(struct dryrun *dr, const struct classified *c,
				    const uint8_t *sv, bool rewritten)
{
	const struct pkt_inner *in = &c->p.inner;
	uint8_t side = c->e ? c->e->side : FLOWDIR_SIDE_UNKNOWN;
	const uint8_t *at;

	if (c->st != PKT_OK || !c->have_tuple)
		return NULL;
	at = sv + (c->p.icmp_error ? in->saddr_off : c->p.daddr_off);
	if (rewritten || side == FLOWDIR_SIDE_SERVER || side == FLOWDIR_SIDE_SAME)
		return at;
	if (c->p.icmp_error &&
	    flow_find_out(dr->ft, c->p.family, in->proto, at, in->sport,
			  sv + in->daddr_off, in->dport))
		return at;
	return NULL;
}

/*
 * At the end: every address the output showed (note_output()) that the
 * engine rewrote as a client of the same service is residual; in traffic
 * no service covers, a client address of any service is only reported.
 */
static void residual_addresses(struct dryrun *dr)
{
	unsigned n_svc = policy_service_count(dr->rs);
	uint8_t key[2 + 16];

	for (uint32_t i = 0; i < idset_count(dr->shown); i++) {
		const struct idset_entry *e = idset_at(dr->shown, i);
		const uint8_t *k = idset_bytes(dr->shown, e->key_off);
		uint64_t times = i < dr->shown_cap ? dr->shown_n[i] : 0;

		if (e->key_len > sizeof(key))
			continue;
		if (k[0] != 0xff) {
			if (idset_find(dr->addrs, k, e->key_len))
				dr->c.residual_addrs += times;
			continue;
		}
		memcpy(key, k, e->key_len);
		for (unsigned s = 0; s < n_svc; s++) {
			key[0] = (uint8_t)s;
			if (idset_find(dr->addrs, key, e->key_len)) {
				dr->c.uncovered_addrs += times;
				break;
			}
		}
	}
}

/* ---- packets ------------------------------------------------------------- */

static uint32_t ip_total_len(const uint8_t *ip, uint32_t len)
{
	if ((ip[0] >> 4) == 4 && len >= 20)
		return (uint32_t)ip[2] << 8 | ip[3];
	if ((ip[0] >> 4) == 6 && len >= 40)
		return 40 + ((uint32_t)ip[4] << 8 | ip[5]);
	return len;
}

static void write_frame(struct dryrun *dr, const struct pcap_pkthdr *h,
			const uint8_t *data, uint32_t caplen, uint32_t wire_len)
{
	struct pcap_pkthdr oh = *h;

	if (!dr->dump)
		return;
	oh.caplen = caplen;
	oh.len = wire_len;
	/* input is read at nanosecond precision; tv_usec holds nanoseconds */
	if (!dr->out_nano)
		oh.ts.tv_usec /= 1000;
	pcap_dump((u_char *)dr->dump, &oh, data);
	dr->c.written++;
}

/*
 * TCP payloads are scanned by the engine as a stream, in windows that
 * the observer does not see: the residual check scans them itself.
 */
static bool is_tcp(const uint8_t *ip, uint32_t len)
{
	if (len >= 20 && ip[0] >> 4 == 4)
		return ip[9] == IPPROTO_TCP;
	return !(len >= 40 && ip[0] >> 4 == 6 && ip[6] == IPPROTO_UDP);
}

static void hold_frame(struct dryrun *dr, const struct pcap_pkthdr *h,
		       const uint8_t *frame, uint32_t caplen, uint32_t wire_len,
		       uint32_t off, unsigned flags)
{
	struct held_frame *hf;

	if (dr->n_held == dr->cap_held) {
		size_t cap = dr->cap_held ? 2 * dr->cap_held : 64;
		struct held_frame *n = realloc(dr->held, cap * sizeof(*n));

		if (!n) {
			perror("nfredact dry-run");
			exit(1);
		}
		dr->held = n;
		dr->cap_held = cap;
	}
	hf = &dr->held[dr->n_held];
	*hf = (struct held_frame){
		.cookie = dr->c.read, .h = *h, .caplen = caplen,
		.wire_len = wire_len, .off = off, .ip_len = caplen - off,
		.flags = flags, .frame = malloc(caplen),
	};
	if (!hf->frame) {
		perror("nfredact dry-run");
		exit(1);
	}
	memcpy(hf->frame, frame, caplen);
	dr->n_held++;
}

/* A held segment's source as released, when it is its flow's pseudonym
 * (as pseudonym_in()). */
static const uint8_t *released_pseudonym(struct dryrun *dr, const uint8_t *orig,
					 uint32_t orig_len, const uint8_t *out,
					 uint32_t len)
{
	struct classified c;

	if ((orig[0] >> 4) != (out[0] >> 4))
		return NULL;
	c.e = NULL;
	c.st = decode_headers(dr, orig, orig_len, false, &c.p);
	c.have_tuple = c.st == PKT_OK && has_ports(c.p.proto);
	if (c.have_tuple)
		tuple_set(&c.t, c.p.family, c.p.proto, pkt_saddr(&c.p),
			  c.p.sport, pkt_daddr(&c.p), c.p.dport);
	return pseudonym_in(dr, &c, orig, out, len);
}

/* Write (and check) the held packets the engine has decided, in order. */
static void drain_releases(struct dryrun *dr)
{
	struct engine_release r;

	while (engine_next_release(dr->w, &r)) {
		struct held_frame hf;
		size_t k;

		for (k = 0; k < dr->n_held && dr->held[k].cookie != r.cookie; k++)
			;
		if (k == dr->n_held)
			continue;	/* not ours: cannot happen */
		hf = dr->held[k];
		memmove(&dr->held[k], &dr->held[k + 1],
			(dr->n_held - k - 1) * sizeof(*dr->held));
		dr->n_held--;
		if (r.service >= 0 && r.verdict != ENGINE_DROP)
			learn_address(dr, (unsigned)r.service, hf.frame + hf.off,
				      hf.ip_len, r.data, r.len);
		if (r.service >= 0)
			check_later(dr, (unsigned)r.service, hf.frame + hf.off,
				    hf.ip_len,
				    r.verdict == ENGINE_DROP ? NULL : r.data,
				    r.len, hf.flags & ENGINE_F_TRUNCATED, false);
		if (r.verdict != ENGINE_DROP) {
			memcpy(dr->rel, hf.frame, hf.off);
			memcpy(dr->rel + hf.off, r.data, r.len);
			write_frame(dr, &hf.h, dr->rel, hf.off + r.len,
				    hf.wire_len - (hf.caplen - hf.off - r.len));
			/* only inbound TCP segments are held, never truncated */
			note_output(dr, dr->rel + hf.off, r.len, r.service, false,
				    false, released_pseudonym(dr, hf.frame + hf.off,
							      hf.ip_len,
							      dr->rel + hf.off,
							      r.len));
		}
		free(hf.frame);
	}
}

/*
 * A reply or ICMP error towards the client: the engine translates the
 * server's view back.  Of one that was rewritten from the capture, the
 * translation must be the packet as captured.  OUT.pcap gets what the
 * server sent.
 */
static void pass_outbound(struct dryrun *dr, const struct pcap_pkthdr *h,
			  const uint8_t *ip, uint32_t caplen, uint32_t wire_len,
			  uint32_t off, const struct classified *c, bool rewritten,
			  const struct engine_result *res)
{
	uint32_t ip_len = caplen - off;

	if (res->verdict == ENGINE_DROP) {
		dr->c.sv_dropped += rewritten;
		return;
	}
	if (rewritten && !memcmp(dr->work + off, ip, ip_len))
		dr->c.sv_back++;
	else if (rewritten)
		dr->c.sv_other++;
	write_frame(dr, h, dr->sview, caplen, wire_len);
	note_output(dr, dr->sview + off, ip_len, res->service, caplen < wire_len,
		    c->p.icmp_error, pseudonym_out(dr, c, dr->sview + off, rewritten));
}

static void handle_ip(struct dryrun *dr, const struct pcap_pkthdr *h,
		      const uint8_t *frame, uint32_t caplen, uint32_t wire_len,
		      uint32_t off, uint64_t ts_ns)
{
	const uint8_t *ip = frame + off;
	uint32_t ip_len = caplen - off, out_caplen = caplen;
	unsigned flags = 0;
	struct engine_result res;
	struct classified c;
	bool rewritten = false;
	uint8_t *out_ip;

	if (caplen < wire_len) {
		flags |= ENGINE_F_TRUNCATED;
		dr->c.truncated++;
	}
	memcpy(dr->work, frame, caplen);
	out_ip = dr->work + off;
	classify(dr, out_ip, ip_len, flags & ENGINE_F_TRUNCATED, &c);
	if (c.dir == ENGINE_DIR_OUT) {
		rewritten = to_server_view(dr, out_ip, &c);
		dr->c.sv_rewritten += rewritten;
		memcpy(dr->sview, dr->work, caplen);	/* what the server sent */
	}
	dr->n_obs = 0;
	dr->obs_overflow = false;
	dr->obs_base = out_ip;
	/*
	 * An ICMP error travels the way its outer header says, which the
	 * engine reads (ENGINE_DIR_AUTO): the quote tells which flow it is
	 * about, not where it goes, and an error towards the server quoting
	 * pseudonym → server must not come out with the real client in it.
	 */
	engine_process(dr->rs, dr->ft, dr->w, out_ip, ip_len,
		       c.p.icmp_error ? ENGINE_DIR_AUTO : c.dir, ts_ns, flags,
		       dr->c.read, &res);
	if (c.dir == ENGINE_DIR_IN && res.service >= 0 && c.have_tuple)
		remember_pseudonym(dr, &c);
	/* what the engine released goes first: it precedes this packet
	 * (which may be among it, when it completed what was held) */
	if (res.verdict == ENGINE_HOLD)
		hold_frame(dr, h, frame, caplen, wire_len, off, flags);
	drain_releases(dr);
	if (res.verdict == ENGINE_HOLD)
		return;
	if (c.dir == ENGINE_DIR_OUT) {
		pass_outbound(dr, h, ip, caplen, wire_len, off, &c, rewritten, &res);
		return;
	}

	if (res.verdict == ENGINE_MODIFIED && res.len < ip_total_len(ip, ip_len))
		out_caplen = off + res.len;	/* a datagram made shorter */
	if (res.service >= 0 && res.verdict != ENGINE_DROP)
		learn_address(dr, (unsigned)res.service, ip, ip_len, out_ip,
			      out_caplen - off);
	if (res.service >= 0)
		check_later(dr, (unsigned)res.service, ip, ip_len,
			    res.verdict == ENGINE_DROP ? NULL : out_ip,
			    out_caplen - off, flags & ENGINE_F_TRUNCATED,
			    res.reason == ENGINE_R_NONE && !is_tcp(ip, ip_len));
	if (res.verdict == ENGINE_DROP)
		return;
	if (res.verdict == ENGINE_MODIFIED) {
		write_frame(dr, h, dr->work, out_caplen,
			    wire_len - (caplen - out_caplen));
		note_output(dr, out_ip, out_caplen - off, res.service,
			    flags & ENGINE_F_TRUNCATED, c.p.icmp_error,
			    res.service < 0 ? NULL :
			    pseudonym_in(dr, &c, ip, out_ip, out_caplen - off));
	} else {
		write_frame(dr, h, frame, caplen, wire_len);
		note_output(dr, ip, ip_len, res.service,
			    flags & ENGINE_F_TRUNCATED, c.p.icmp_error,
			    res.service < 0 ? NULL :
			    pseudonym_in(dr, &c, ip, ip, ip_len));
	}
}

static void handle_frame(struct dryrun *dr, const struct pcap_pkthdr *h,
			 const uint8_t *data)
{
	uint32_t caplen = h->caplen, off;
	uint64_t ts_ns = (uint64_t)h->ts.tv_sec * NS + (uint64_t)h->ts.tv_usec;
	struct defrag_out dout;
	struct pcap_pkthdr rh;

	dr->now_s = ts_ns / NS;
	/* holds whose time passed by this packet's timestamp go first */
	engine_tick(dr->rs, dr->ft, dr->w, ts_ns);
	drain_releases(dr);
	if (caplen > FRAME_MAX) {
		caplen = FRAME_MAX;	/* processed as a truncated packet */
		dr->c.oversized++;
	}
	if (!link_ip_offset(dr->dlt, data, caplen, &off)) {
		dr->c.not_ip++;
		write_frame(dr, h, data, h->caplen, h->len);
		return;
	}
	if (caplen < h->len) {
		/* cannot be reassembled; the engine refuses to touch it */
		handle_ip(dr, h, data, caplen, h->len, off, ts_ns);
		return;
	}
	switch (defrag_add(dr->df, data + off, caplen - off, data, off, ts_ns,
			   &dout)) {
	case DEFRAG_NOT_FRAGMENT:
		handle_ip(dr, h, data, caplen, h->len, off, ts_ns);
		break;
	case DEFRAG_DONE:
		rh = *h;
		rh.caplen = rh.len = dout.frame_len;
		handle_ip(dr, &rh, dout.frame, dout.frame_len, dout.frame_len,
			  dout.link_len, ts_ns);
		break;
	case DEFRAG_HELD:
	case DEFRAG_DISCARDED:
		break;
	}
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void progress(struct dryrun *dr)
{
	struct timespec now;
	double since;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (seconds_between(&dr->t0, &now) < 2.0)
		return;
	since = seconds_between(&dr->t_last, &now);
	if (dr->progress_shown && since < 1.0)
		return;
	fprintf(stderr, "\rdry-run: %" PRIu64 " packets, %.0f pkt/s", dr->c.read,
		since > 0 ? (double)(dr->c.read - dr->n_last) / since : 0.0);
	dr->t_last = now;
	dr->n_last = dr->c.read;
	dr->progress_shown = true;
}

/*
 * A ratchet state only goes forward: a packet of an epoch whose key was
 * erased (before the state was written, or left behind by this run)
 * cannot be processed as the daemon did, and nothing here can make that
 * key again.  Return: true (with the error printed) for such a packet.
 */
static bool key_erased(struct dryrun *dr, const struct pcap_pkthdr *h)
{
	uint64_t epoch, first, span;
	char from[32], to[32];

	if (h->ts.tv_sec < 0 ||
	    !policy_key_erased(dr->rs, (uint64_t)h->ts.tv_sec, &epoch, &first,
			       &span))
		return false;
	fprintf(stderr, "nfredact dry-run: %s: packet %" PRIu64 " is in ratchet "
		"epoch %" PRIu64 " (%s to %s), whose key was erased: the "
		"ratchet state holds epoch %" PRIu64 " and later only, so that "
		"epoch's pseudonyms and tokens cannot be made again\n",
		dr->opt.in, dr->c.read, epoch,
		keytime_format(span, from, sizeof(from)),
		keytime_format(span + policy_epoch_seconds(dr->rs), to,
			       sizeof(to)), first);
	return true;
}

static int run(struct dryrun *dr)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &dr->t0);
	dr->t_last = dr->t0;
	checker_start(dr);
	while ((r = pcap_next_ex(dr->in, &h, &data)) == 1) {
		dr->c.read++;
		if (!(dr->c.read % PROGRESS_EVERY) && !dr->opt.quiet)
			progress(dr);
		if (key_erased(dr, h))
			return -ESTALE;
		handle_frame(dr, h, data);
		if (!(dr->c.read % EXPIRE_EVERY))
			flow_expire(dr->ft, (uint32_t)dr->now_s, EXPIRE_BUDGET);
	}
	engine_release_all(dr->rs, dr->ft, dr->w);
	drain_releases(dr);
	checker_finish(dr);
	residual_addresses(dr);
	if (dr->progress_shown)
		fputc('\n', stderr);
	if (r == PCAP_ERROR) {
		fprintf(stderr, "nfredact dry-run: %s: %s\n", dr->opt.in,
			pcap_geterr(dr->in));
		return -EIO;
	}
	if (dr->dump && pcap_dump_flush(dr->dump) < 0) {
		fprintf(stderr, "nfredact dry-run: %s: write error\n", dr->opt.out);
		return -EIO;
	}
	return 0;
}

/* ---- report -------------------------------------------------------------- */

static void print_text_bytes(FILE *f, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
}

static void print_json_bytes(FILE *f, const uint8_t *p, uint32_t len)
{
	fputc('"', f);
	for (uint32_t i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], f);
		else
			fprintf(f, "\\u%04x", p[i]);
	}
	fputc('"', f);
}

static void print_json_string(FILE *f, const char *s)
{
	print_json_bytes(f, (const uint8_t *)s, (uint32_t)strlen(s));
}

static void format_addr(const uint8_t *a, int version, char *buf, size_t size)
{
	if (!inet_ntop(version == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

struct fragment_summary {
	uint64_t seen, reassembled, incomplete, discarded, duplicates;
};

static void summarise_fragments(const struct dryrun *dr, struct fragment_summary *fs)
{
	const struct defrag_stats *s = defrag_get_stats(dr->df);

	fs->seen = s->fragments;
	fs->reassembled = s->reassembled;
	fs->incomplete = s->timed_out + s->evicted + defrag_pending(dr->df);
	fs->discarded = s->overlaps + s->too_many + s->malformed;
	fs->duplicates = s->duplicates;
}

static uint64_t not_remembered(const struct dryrun *dr)
{
	return idset_overflow(dr->ids) + idset_overflow(dr->addrs) +
	       idset_overflow(dr->shown);
}

static uint64_t residual_total(const struct dryrun *dr)
{
	return dr->c.residual_ids + dr->c.residual_addrs;
}

static void text_counts(FILE *f, const char *label, const uint64_t *v, unsigned n,
			const char *(*name)(unsigned))
{
	bool any = false;

	for (unsigned i = 0; i < n; i++) {
		if (!v[i])
			continue;
		fprintf(f, "%s %s %" PRIu64, any ? "," : label, name(i), v[i]);
		any = true;
	}
	if (any)
		fputc('\n', f);
}

static const char *det_name(unsigned i)
{
	return policy_det_name((enum det_kind)i);
}

static const char *act_name(unsigned i)
{
	return policy_act_name((enum act_kind)i);
}

static const char *reason_name(unsigned i)
{
	return engine_reason_name((enum engine_reason)i);
}

static void text_service(FILE *f, const struct engine_stats *st)
{
	fprintf(f, "  packets in %" PRIu64 ", out %" PRIu64 "; changed %" PRIu64
		", dropped %" PRIu64 ", malformed %" PRIu64
		", on-error accepted %" PRIu64 "\n",
		st->packets_in, st->packets_out, st->changed, st->dropped,
		st->malformed, st->on_error_accepted);
	fprintf(f, "  icmp translated %" PRIu64 ", flows created %" PRIu64 "\n",
		st->icmp_translated, st->flows_created);
	if (st->holds || st->out_of_order || st->retrans_patched ||
	    st->retrans_dropped || st->retrans_no_record)
		fprintf(f, "  held %" PRIu64 " (timeouts %" PRIu64 ": masked %"
			PRIu64 ", passed %" PRIu64 "; bound hit %" PRIu64
			", pool full %" PRIu64 "), out of order %" PRIu64
			"; retransmissions patched %" PRIu64 ", dropped %" PRIu64
			", without record %" PRIu64 "; stalled %" PRIu64 "\n",
			st->holds, st->hold_timeouts, st->hold_timeout_masked,
			st->hold_timeout_passed, st->hold_bound_hit,
			st->hold_pool_full, st->out_of_order, st->retrans_patched,
			st->retrans_dropped, st->retrans_no_record,
			st->hold_stalled);
	if (st->framed || st->frame_fallback)
		fprintf(f, "  framed streams %" PRIu64 " (fell back to none %" PRIu64
			"), segments ending on a message boundary %" PRIu64 "\n",
			st->framed, st->frame_fallback, st->frame_boundary);
	if (st->not_delivered || st->urgent_cleared || st->ack_resumed)
		fprintf(f, "  not delivered %" PRIu64 ", urgent pointers cleared %"
			PRIu64 ", resumed from the server's ACK %" PRIu64 "\n",
			st->not_delivered, st->urgent_cleared, st->ack_resumed);
	text_counts(f, "  detectors:", st->detector, DET__COUNT, det_name);
	text_counts(f, "  actions:", st->action, ACT__COUNT, act_name);
	text_counts(f, "  reasons:", st->reasons, ENGINE_R__COUNT, reason_name);
}

static void text_originals(FILE *f, const struct dryrun *dr)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	fprintf(f, "original identifiers:\n");
	for (uint32_t i = 0; i < idset_count(dr->ids); i++) {
		const struct idset_entry *e = idset_at(dr->ids, i);

		fprintf(f, "  %s ", policy_det_name((enum det_kind)e->tag));
		print_text_bytes(f, idset_bytes(dr->ids, e->key_off), e->key_len);
		fprintf(f, " -> ");
		if (e->has_val)
			print_text_bytes(f, idset_bytes(dr->ids, e->val_off),
					 e->val_len);
		else
			fprintf(f, "(none)");
		fputc('\n', f);
	}
	fprintf(f, "client addresses:\n");
	for (uint32_t i = 0; i < idset_count(dr->addrs); i++) {
		const struct idset_entry *e = idset_at(dr->addrs, i);
		const uint8_t *k = idset_bytes(dr->addrs, e->key_off);

		format_addr(k + 2, e->tag, a, sizeof(a));
		format_addr(idset_bytes(dr->addrs, e->val_off), e->tag, b, sizeof(b));
		fprintf(f, "  %s %s -> %s\n", policy_service_name(dr->rs, k[0]), a, b);
	}
}

static void report_text(FILE *f, const struct dryrun *dr)
{
	unsigned n = policy_service_count(dr->rs);
	struct fragment_summary fs;

	summarise_fragments(dr, &fs);
	fprintf(f, "packets read: %" PRIu64 "\n", dr->c.read);
	fprintf(f, "not IP: %" PRIu64 "\n", dr->c.not_ip);
	if (dr->c.truncated)
		fprintf(f, "truncated in the capture: %" PRIu64 "\n", dr->c.truncated);
	fprintf(f, "fragments: %" PRIu64 " seen, %" PRIu64 " datagrams reassembled, %"
		PRIu64 " incomplete, %" PRIu64 " discarded\n",
		fs.seen, fs.reassembled, fs.incomplete, fs.discarded);
	for (unsigned i = 0; i <= n; i++) {
		if (i < n)
			fprintf(f, "service %s:\n", policy_service_name(dr->rs, i));
		else
			fprintf(f, "not covered:\n");
		text_service(f, engine_worker_stats(dr->w, i));
	}
	fprintf(f, "flows at end: %" PRIu32 "\n", flow_table_count(dr->ft));
	fprintf(f, "direction: in %" PRIu64 ", out %" PRIu64 ", undecided %" PRIu64
		" (taken as in)\n", dr->c.dir_in, dr->c.dir_out,
		dr->c.dir_undecided);
	fprintf(f, "flows by capture side: client %" PRIu64 ", server %" PRIu64
		"\n", dr->c.side_client, dr->c.side_server);
	fprintf(f, "rewritten to the server's view: %" PRIu64
		" (translated back as captured %" PRIu64 ", otherwise %" PRIu64
		", dropped %" PRIu64 ")\n", dr->c.sv_rewritten, dr->c.sv_back,
		dr->c.sv_other, dr->c.sv_dropped);
	if (dr->opt.out)
		fprintf(f, "written: %" PRIu64 " packets to %s\n", dr->c.written,
			dr->opt.out);
	fprintf(f, "distinct identifiers in the input: %" PRIu32 "\n",
		idset_count(dr->ids));
	text_counts(f, "  by detector:", dr->distinct, DET__COUNT, det_name);
	fprintf(f, "client addresses rewritten: %" PRIu32 "\n",
		idset_count(dr->addrs));
	if (dr->opt.show_original)
		text_originals(f, dr);
	if (dr->c.uncovered_addrs)
		fprintf(f, "client addresses in traffic no service covers: %"
			PRIu64 "\n", dr->c.uncovered_addrs);
	if (dr->c.sv_other)
		fprintf(f, "warning: %" PRIu64 " packets rewritten to the server's"
			" view were not translated back as captured\n",
			dr->c.sv_other);
	if (dr->c.scan_errors)
		fprintf(f, "warning: %" PRIu64 " payloads could not be scanned "
			"(match limit)\n", dr->c.scan_errors);
	if (not_remembered(dr))
		fprintf(f, "warning: residual check partial: %" PRIu64
			" identifiers not remembered (memory limit)\n",
			not_remembered(dr));
	fprintf(f, "residual in payloads: %" PRIu64 "\n", dr->c.residual_ids);
	fprintf(f, "residual client addresses: %" PRIu64 "\n", dr->c.residual_addrs);
	fprintf(f, "residual identifiers: %" PRIu64 "\n", residual_total(dr));
}

static void json_counts(FILE *f, const char *key, const uint64_t *v, unsigned n,
			const char *(*name)(unsigned))
{
	bool first = true;

	fprintf(f, ", \"%s\": {", key);
	for (unsigned i = 0; i < n; i++) {
		if (!v[i])
			continue;
		fprintf(f, "%s", first ? "" : ", ");
		print_json_string(f, name(i));
		fprintf(f, ": %" PRIu64, v[i]);
		first = false;
	}
	fprintf(f, "}");
}

static void json_service(FILE *f, const struct engine_stats *st)
{
	fprintf(f, "\"packets_in\": %" PRIu64 ", \"packets_out\": %" PRIu64
		", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64
		", \"changed\": %" PRIu64 ", \"dropped\": %" PRIu64
		", \"malformed\": %" PRIu64 ", \"on_error_accepted\": %" PRIu64
		", \"icmp_translated\": %" PRIu64 ", \"flows_created\": %" PRIu64,
		st->packets_in, st->packets_out, st->bytes_in, st->bytes_out,
		st->changed, st->dropped, st->malformed, st->on_error_accepted,
		st->icmp_translated, st->flows_created);
	fprintf(f, ", \"holds\": %" PRIu64 ", \"hold_timeouts\": %" PRIu64
		", \"hold_timeout_masked\": %" PRIu64
		", \"hold_timeout_passed\": %" PRIu64
		", \"hold_bound_hit\": %" PRIu64 ", \"hold_pool_full\": %" PRIu64
		", \"out_of_order\": %" PRIu64 ", \"retrans_patched\": %" PRIu64
		", \"retrans_dropped\": %" PRIu64
		", \"retrans_no_record\": %" PRIu64
		", \"hold_stalled\": %" PRIu64 ", \"not_delivered\": %" PRIu64
		", \"urgent_cleared\": %" PRIu64 ", \"ack_resumed\": %" PRIu64
		", \"framed\": %" PRIu64 ", \"frame_fallback\": %" PRIu64
		", \"frame_boundary\": %" PRIu64,
		st->holds, st->hold_timeouts, st->hold_timeout_masked,
		st->hold_timeout_passed, st->hold_bound_hit, st->hold_pool_full,
		st->out_of_order, st->retrans_patched, st->retrans_dropped,
		st->retrans_no_record, st->hold_stalled, st->not_delivered,
		st->urgent_cleared, st->ack_resumed, st->framed,
		st->frame_fallback, st->frame_boundary);
	json_counts(f, "detectors", st->detector, DET__COUNT, det_name);
	json_counts(f, "actions", st->action, ACT__COUNT, act_name);
	json_counts(f, "reasons", st->reasons, ENGINE_R__COUNT, reason_name);
	json_counts(f, "drops", st->drops, ENGINE_R__COUNT, reason_name);
}

static void json_originals(FILE *f, const struct dryrun *dr)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	fprintf(f, ",\n  \"originals\": [");
	for (uint32_t i = 0; i < idset_count(dr->ids); i++) {
		const struct idset_entry *e = idset_at(dr->ids, i);

		fprintf(f, "%s\n    {\"detector\": ", i ? "," : "");
		print_json_string(f, policy_det_name((enum det_kind)e->tag));
		fprintf(f, ", \"original\": ");
		print_json_bytes(f, idset_bytes(dr->ids, e->key_off), e->key_len);
		fprintf(f, ", \"replacement\": ");
		if (e->has_val)
			print_json_bytes(f, idset_bytes(dr->ids, e->val_off),
					 e->val_len);
		else
			fprintf(f, "null");
		fprintf(f, "}");
	}
	fprintf(f, "],\n  \"client_addresses\": [");
	for (uint32_t i = 0; i < idset_count(dr->addrs); i++) {
		const struct idset_entry *e = idset_at(dr->addrs, i);
		const uint8_t *k = idset_bytes(dr->addrs, e->key_off);

		format_addr(k + 2, e->tag, a, sizeof(a));
		format_addr(idset_bytes(dr->addrs, e->val_off), e->tag, b, sizeof(b));
		fprintf(f, "%s\n    {\"service\": ", i ? "," : "");
		print_json_string(f, policy_service_name(dr->rs, k[0]));
		fprintf(f, ", \"original\": \"%s\", \"pseudonym\": \"%s\"}", a, b);
	}
	fprintf(f, "]");
}

static void report_json(FILE *f, const struct dryrun *dr)
{
	unsigned n = policy_service_count(dr->rs);
	struct fragment_summary fs;

	summarise_fragments(dr, &fs);
	fprintf(f, "{\n  \"packets_read\": %" PRIu64 ", \"not_ip\": %" PRIu64
		", \"truncated\": %" PRIu64 ", \"written\": %" PRIu64 ",\n",
		dr->c.read, dr->c.not_ip, dr->c.truncated, dr->c.written);
	fprintf(f, "  \"fragments\": {\"seen\": %" PRIu64 ", \"reassembled\": %"
		PRIu64 ", \"incomplete\": %" PRIu64 ", \"discarded\": %" PRIu64
		", \"duplicates\": %" PRIu64 "},\n", fs.seen, fs.reassembled,
		fs.incomplete, fs.discarded, fs.duplicates);
	fprintf(f, "  \"services\": [");
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
		print_json_string(f, policy_service_name(dr->rs, i));
		fprintf(f, ", ");
		json_service(f, engine_worker_stats(dr->w, i));
		fprintf(f, "}");
	}
	fprintf(f, "],\n  \"not_covered\": {");
	json_service(f, engine_worker_stats(dr->w, n));
	fprintf(f, "},\n  \"flows\": %" PRIu32 ",\n", flow_table_count(dr->ft));
	fprintf(f, "  \"direction\": {\"in\": %" PRIu64 ", \"out\": %" PRIu64
		", \"undecided\": %" PRIu64 "},\n", dr->c.dir_in, dr->c.dir_out,
		dr->c.dir_undecided);
	fprintf(f, "  \"capture_side\": {\"client_flows\": %" PRIu64
		", \"server_flows\": %" PRIu64 "},\n", dr->c.side_client,
		dr->c.side_server);
	fprintf(f, "  \"server_view\": {\"rewritten\": %" PRIu64
		", \"translated_back\": %" PRIu64 ", \"translated_otherwise\": %"
		PRIu64 ", \"dropped\": %" PRIu64 "},\n", dr->c.sv_rewritten,
		dr->c.sv_back, dr->c.sv_other, dr->c.sv_dropped);
	fprintf(f, "  \"distinct_identifiers\": %" PRIu32, idset_count(dr->ids));
	json_counts(f, "distinct_by_detector", dr->distinct, DET__COUNT, det_name);
	fprintf(f, ", \"client_addresses_rewritten\": %" PRIu32,
		idset_count(dr->addrs));
	if (dr->opt.show_original)
		json_originals(f, dr);
	fprintf(f, ",\n  \"uncovered_client_addresses\": %" PRIu64,
		dr->c.uncovered_addrs);
	fprintf(f, ",\n  \"scan_errors\": %" PRIu64 ", \"not_remembered\": %" PRIu64
		",\n", dr->c.scan_errors, not_remembered(dr));
	fprintf(f, "  \"residual\": {\"payload\": %" PRIu64
		", \"client_addresses\": %" PRIu64 ", \"identifiers\": %" PRIu64
		"}\n}\n", dr->c.residual_ids, dr->c.residual_addrs,
		residual_total(dr));
}

/* ---- setup --------------------------------------------------------------- */

/* Whether a classic pcap file has nanosecond timestamps (magic number). */
static bool file_is_nano_pcap(const char *path)
{
	uint8_t m[4];
	FILE *f;
	bool nano = false;

	if (!strcmp(path, "-"))
		return false;
	f = fopen(path, "rb");
	if (!f)
		return false;
	if (fread(m, 1, 4, f) == 4)
		nano = !memcmp(m, "\xa1\xb2\x3c\x4d", 4) ||
		       !memcmp(m, "\x4d\x3c\xb2\xa1", 4);
	fclose(f);
	return nano;
}

static int load_policy(struct dryrun *dr)
{
	struct diag_list *diags = NULL;

	dr->rs = policy_load(dr->opt.policy, NULL, &diags);
	if (diags && (diags->errors || diags->warnings))
		diag_list_fprint(stderr, diags, dr->opt.show_original ?
						DIAG_PRINT_ORIGINAL : 0);
	diag_list_free(diags);
	if (!dr->rs) {
		fprintf(stderr, "nfredact dry-run: %s: policy not loaded\n",
			dr->opt.policy);
		return -EINVAL;
	}
	return 0;
}

static int open_capture(struct dryrun *dr)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";

	dr->in = pcap_open_offline_with_tstamp_precision(dr->opt.in,
			PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!dr->in) {
		fprintf(stderr, "nfredact dry-run: %s\n", errbuf);
		return -EINVAL;
	}
	dr->dlt = pcap_datalink(dr->in);
	if (!link_supported(dr->dlt)) {
		const char *name = pcap_datalink_val_to_name(dr->dlt);

		fprintf(stderr, "nfredact dry-run: %s: unsupported link type %d (%s);"
			" supported: EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6,"
			" NULL, LOOP\n", dr->opt.in, dr->dlt, name ? name : "unknown");
		return -ENOTSUP;
	}
	if (!dr->opt.out)
		return 0;
	dr->out_nano = file_is_nano_pcap(dr->opt.in);
	dr->dead = pcap_open_dead_with_tstamp_precision(dr->dlt,
			pcap_snapshot(dr->in), dr->out_nano ?
			PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
	if (!dr->dead) {
		fprintf(stderr, "nfredact dry-run: out of memory\n");
		return -ENOMEM;
	}
	dr->dump = pcap_dump_open(dr->dead, dr->opt.out);
	if (!dr->dump) {
		fprintf(stderr, "nfredact dry-run: %s\n", pcap_geterr(dr->dead));
		return -EIO;
	}
	return 0;
}

static int setup(struct dryrun *dr)
{
	bool chunks_ok = true;
	int err;

	err = load_policy(dr);
	if (err < 0)
		return err;
	err = open_capture(dr);
	if (err < 0)
		return err;
	dr->ft = flow_table_new(FLOW_TABLE_SIZE);
	dr->w = engine_worker_new(dr->rs, FLOW_TABLE_SIZE);
	if (dr->w)
		engine_set_observer(dr->w, observe, dr);
	dr->w_scan = engine_worker_new(dr->rs, 1);
	for (unsigned i = 0; i < CHUNKS; i++) {
		dr->ck.buf[i] = malloc(CHUNK_SIZE);
		chunks_ok &= dr->ck.buf[i] != NULL;
	}
	dr->df = defrag_new(DEFRAG_DATAGRAMS);
	dr->ids = idset_new(IDSET_MAX_BYTES);
	dr->addrs = idset_new(IDSET_MAX_BYTES);
	dr->shown = idset_new(IDSET_MAX_BYTES);
	dr->fd = flowdir_new(dr->rs, FLOWDIR_SETS_LOG2);
	dr->work = malloc(FRAME_MAX);
	dr->rel = malloc(FRAME_MAX);
	dr->sview = malloc(FRAME_MAX);
	dr->dec = malloc(FRAME_MAX);
	dr->orig = malloc(FRAME_MAX);
	dr->cat_orig = malloc(STREAM_TAIL + FRAME_MAX);
	dr->cat_out = malloc(STREAM_TAIL + FRAME_MAX);
	/* looked up at random: huge pages where the kernel gives them */
	dr->streams = mmap(NULL, STREAM_SLOTS * sizeof(*dr->streams),
			   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	if (dr->streams == MAP_FAILED)
		dr->streams = NULL;
	else
		madvise(dr->streams, STREAM_SLOTS * sizeof(*dr->streams),
			MADV_HUGEPAGE);
	dr->obs = calloc(OBSERVED_MAX, sizeof(*dr->obs));
	dr->look = calloc(OBSERVED_MAX, sizeof(*dr->look));
	if (!dr->ft || !dr->w || !dr->w_scan || !dr->df || !dr->ids ||
	    !dr->addrs || !dr->shown || !dr->fd || !dr->sview || !dr->dec ||
	    !dr->work || !dr->rel || !dr->orig || !dr->cat_orig ||
	    !dr->cat_out || !dr->streams || !dr->obs || !dr->look || !chunks_ok) {
		fprintf(stderr, "nfredact dry-run: out of memory\n");
		return -ENOMEM;
	}
	return 0;
}

static void teardown(struct dryrun *dr)
{
	if (dr->dump)
		pcap_dump_close(dr->dump);
	if (dr->dead)
		pcap_close(dr->dead);
	if (dr->in)
		pcap_close(dr->in);
	for (unsigned i = 0; i < CHUNKS; i++)
		free(dr->ck.buf[i]);
	free(dr->look);
	free(dr->obs);
	if (dr->streams)
		munmap(dr->streams, STREAM_SLOTS * sizeof(*dr->streams));
	free(dr->cat_out);
	free(dr->cat_orig);
	free(dr->orig);
	free(dr->work);
	free(dr->rel);
	free(dr->sview);
	free(dr->dec);
	free(dr->shown_n);
	for (size_t k = 0; k < dr->n_held; k++)
		free(dr->held[k].frame);
	free(dr->held);
	idset_free(dr->shown);
	idset_free(dr->addrs);
	idset_free(dr->ids);
	flowdir_free(dr->fd);
	defrag_free(dr->df);
	engine_worker_free(dr->w_scan);
	engine_worker_free(dr->w);
	flow_table_free(dr->ft);
	policy_free(dr->rs);
}

/**
 * cmd_dryrun() - `nfredact dry-run POLICY IN.pcap [-w OUT.pcap] [--json]
 * [--show-original] [--quiet]`
 * @argc: argument count
 * @argv: arguments; argv[0] is "dry-run"
 *
 * Prints the report on stdout; diagnostics and progress on stderr.
 * Return: exit status 0 (no residual identifier), 1 (bad policy or
 * capture), 2 (usage), 3 (identifiers or client addresses survived).
 */
int cmd_dryrun(int argc, char **argv)
{
	struct dryrun *dr;
	int status = 1;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	dr = calloc(1, sizeof(*dr));
	if (!dr) {
		fprintf(stderr, "nfredact dry-run: out of memory\n");
		return 1;
	}
	if (parse_args(argc, argv, &dr->opt) < 0) {
		usage(stderr);
		status = 2;
		goto out;
	}
	if (setup(dr) < 0 || run(dr) < 0)
		goto out;
	if (dr->opt.json)
		report_json(stdout, dr);
	else
		report_text(stdout, dr);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "nfredact dry-run: stdout: %s\n", strerror(errno));
		goto out;
	}
	status = residual_total(dr) ? EXIT_RESIDUAL : 0;
out:
	teardown(dr);
	free(dr);
	return status;
}
