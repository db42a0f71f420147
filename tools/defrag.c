/*
 * defrag.c — IPv4/IPv6 reassembly for the dry-run (see defrag.h for the
 * rules it follows and why).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "defrag.h"
#include "linklayer.h"

#define IP_MAXLEN	65535u
/* Each buffer: room for the link header and unfragmentable part in front
 * of the payload, so the finished frame is contiguous without copying. */
#define PAYLOAD_OFF	(LINK_HDR_MAX + DEFRAG_UNFRAG_MAX)
#define BUF_SIZE	(PAYLOAD_OFF + IP_MAXLEN)

#define IPV4_DF		0x4000
#define IPV4_MF		0x2000
#define IPV4_OFFMASK	0x1fff
#define NH_HOPOPTS	0
#define NH_ROUTING	43
#define NH_FRAGMENT	44
#define NH_DSTOPTS	60

struct frag_range {
	uint32_t start, end;
};

struct datagram {
	bool used;
	bool dead;		/* discarded: swallow its fragments until timeout */
	bool have_first, have_last;
	uint8_t family;
	uint8_t proto;		/* IPv4 key part */
	uint8_t frag_nh;	/* IPv6: next header after the fragment header */
	uint8_t src[16], dst[16];
	uint32_t id;
	uint64_t first_ns;
	uint32_t total;		/* payload length, known once the last arrives */
	uint32_t received;	/* payload bytes held (fragments never overlap) */
	uint32_t unfrag_len;
	uint32_t nh_off;	/* IPv6: offset of the byte naming the fragment header */
	uint32_t link_len;
	uint32_t n_frags;
	struct frag_range frags[DEFRAG_MAX_FRAGS];
	uint8_t *buf;
};

struct defrag {
	unsigned max;
	uint64_t next_deadline;	/* earliest first_ns + timeout of any in use */
	struct defrag_stats stats;
	struct datagram *dg;
};

/* What one fragment says about itself. */
struct frag_info {
	uint8_t family, proto, frag_nh;
	const uint8_t *src, *dst;
	uint32_t id;
	uint32_t offset, end;	/* in the payload */
	bool more;
	const uint8_t *payload;
	uint32_t unfrag_len;
	uint32_t nh_off;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t ipv4_header_csum(const uint8_t *h, uint32_t len)
{
	uint32_t sum = 0;

	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += get16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * Return: 1 a fragment (@fi filled), 0 not a fragment, -EINVAL a fragment
 * that cannot be reassembled (bad lengths).
 */
static int parse_ipv4(const uint8_t *ip, uint32_t len, struct frag_info *fi)
{
	uint32_t ihl, tot, frag, plen;

	if (len < 20)
		return 0;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	tot = get16(ip + 2);
	if (ihl < 20 || tot < ihl || tot > len)
		return 0;	/* malformed: the engine's to judge */
	frag = get16(ip + 6);
	if (!(frag & IPV4_MF) && !(frag & IPV4_OFFMASK))
		return 0;
	plen = tot - ihl;
	fi->family = 4;
	fi->proto = ip[9];
	fi->src = ip + 12;
	fi->dst = ip + 16;
	fi->id = get16(ip + 4);
	fi->offset = (frag & IPV4_OFFMASK) * 8;
	fi->end = fi->offset + plen;
	fi->more = frag & IPV4_MF;
	fi->payload = ip + ihl;
	fi->unfrag_len = ihl;
	fi->nh_off = 0;
	fi->frag_nh = 0;
	if (fi->more && (plen == 0 || plen % 8))
		return -EINVAL;
	if (ihl + fi->end > IP_MAXLEN)
		return -EINVAL;
	return 1;
}

static int parse_ipv6(const uint8_t *ip, uint32_t len, struct frag_info *fi)
{
	uint32_t tot, off = 40, nh_off = 6, frag;
	uint8_t nh;

	if (len < 40)
		return 0;
	tot = 40 + (uint32_t)get16(ip + 4);
	if (tot == 40 || tot > len)
		return 0;	/* jumbogram, empty or malformed */
	nh = ip[6];
	while (nh == NH_HOPOPTS || nh == NH_ROUTING || nh == NH_DSTOPTS) {
		if (off + 2 > tot)
			return 0;
		nh_off = off;
		nh = ip[off];
		off += ((uint32_t)ip[off + 1] + 1) * 8;
	}
	if (nh != NH_FRAGMENT || off + 8 > tot)
		return 0;
	frag = get16(ip + off + 2);
	/* An atomic fragment (RFC 6946) is a whole datagram already. */
	if (!(frag & 0xfff8) && !(frag & 1))
		return 0;
	fi->family = 6;
	fi->proto = 0;
	fi->frag_nh = ip[off];
	fi->src = ip + 8;
	fi->dst = ip + 24;
	fi->id = (uint32_t)get16(ip + off + 4) << 16 | get16(ip + off + 6);
	fi->offset = frag & 0xfff8;
	fi->end = fi->offset + (tot - off - 8);
	fi->more = frag & 1;
	fi->payload = ip + off + 8;
	fi->unfrag_len = off;
	fi->nh_off = nh_off;
	if (off > DEFRAG_UNFRAG_MAX)
		return -EINVAL;
	if (fi->more && (fi->end == fi->offset || (fi->end - fi->offset) % 8))
		return -EINVAL;
	if (off - 40 + fi->end > IP_MAXLEN)
		return -EINVAL;
	return 1;
}

static bool same_key(const struct datagram *g, const struct frag_info *fi)
{
	unsigned alen = fi->family == 4 ? 4 : 16;

	return g->used && g->id == fi->id && g->family == fi->family &&
	       g->proto == fi->proto && !memcmp(g->src, fi->src, alen) &&
	       !memcmp(g->dst, fi->dst, alen);
}

static void release(struct datagram *g)
{
	g->used = false;
}

static void expire(struct defrag *d, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;

	for (unsigned i = 0; i < d->max; i++) {
		struct datagram *g = &d->dg[i];

		if (!g->used)
			continue;
		if (now_ns >= g->first_ns + DEFRAG_TIMEOUT_NS) {
			if (!g->dead)
				d->stats.timed_out++;
			release(g);
		} else if (g->first_ns + DEFRAG_TIMEOUT_NS < next) {
			next = g->first_ns + DEFRAG_TIMEOUT_NS;
		}
	}
	d->next_deadline = next;
}

/* A free slot, evicting (dead ones first, then the oldest) when full. */
static struct datagram *take_slot(struct defrag *d)
{
	struct datagram *victim = NULL;

	for (unsigned i = 0; i < d->max; i++) {
		struct datagram *g = &d->dg[i];

		if (!g->used)
			return g;
		if (!victim || (g->dead && !victim->dead) ||
		    (g->dead == victim->dead && g->first_ns < victim->first_ns))
			victim = g;
	}
	if (!victim->dead)
		d->stats.evicted++;
	release(victim);
	return victim;
}

static struct datagram *start(struct defrag *d, const struct frag_info *fi,
			      uint64_t now_ns)
{
	struct datagram *g = take_slot(d);
	unsigned alen = fi->family == 4 ? 4 : 16;

	if (!g->buf) {
		g->buf = malloc(BUF_SIZE);
		if (!g->buf)
			return NULL;
	}
	g->used = true;
	g->dead = false;
	g->have_first = g->have_last = false;
	g->family = fi->family;
	g->proto = fi->proto;
	g->id = fi->id;
	memset(g->src, 0, sizeof(g->src));
	memset(g->dst, 0, sizeof(g->dst));
	memcpy(g->src, fi->src, alen);
	memcpy(g->dst, fi->dst, alen);
	g->first_ns = now_ns;
	g->total = 0;
	g->received = 0;
	g->n_frags = 0;
	if (now_ns + DEFRAG_TIMEOUT_NS < d->next_deadline)
		d->next_deadline = now_ns + DEFRAG_TIMEOUT_NS;
	return g;
}

static enum defrag_status discard(struct datagram *g, uint64_t *counter)
{
	(*counter)++;
	g->dead = true;
	return DEFRAG_DISCARDED;
}

/* Write the headers of the whole datagram in front of its payload. */
static int finish(struct datagram *g, struct defrag_out *out)
{
	uint8_t *ip = g->buf + PAYLOAD_OFF - g->unfrag_len;

	if (g->family == 4) {
		put16(ip + 2, g->unfrag_len + g->total);
		put16(ip + 6, get16(ip + 6) & IPV4_DF);
		put16(ip + 10, 0);
		put16(ip + 10, ipv4_header_csum(ip, g->unfrag_len));
	} else {
		if (g->unfrag_len - 40 + g->total > IP_MAXLEN)
			return -EINVAL;
		put16(ip + 4, g->unfrag_len - 40 + g->total);
		ip[g->nh_off] = g->frag_nh;
	}
	out->link_len = g->link_len;
	out->frame = ip - g->link_len;
	out->frame_len = g->link_len + g->unfrag_len + g->total;
	return 0;
}

enum defrag_status defrag_add(struct defrag *d, const uint8_t *ip, uint32_t len,
			      const uint8_t *link, uint32_t link_len,
			      uint64_t now_ns, struct defrag_out *out)
{
	struct frag_info fi;
	struct datagram *g = NULL;
	int r;

	if (len == 0)
		return DEFRAG_NOT_FRAGMENT;
	switch (ip[0] >> 4) {
	case 4:
		r = parse_ipv4(ip, len, &fi);
		break;
	case 6:
		r = parse_ipv6(ip, len, &fi);
		break;
	default:
		return DEFRAG_NOT_FRAGMENT;
	}
	if (r == 0)
		return DEFRAG_NOT_FRAGMENT;
	d->stats.fragments++;
	if (now_ns >= d->next_deadline)
		expire(d, now_ns);

	for (unsigned i = 0; i < d->max; i++)
		if (same_key(&d->dg[i], &fi)) {
			g = &d->dg[i];
			break;
		}
	if (g && g->dead) {
		d->stats.dropped++;
		return DEFRAG_DISCARDED;
	}
	if (r < 0) {
		if (g)
			return discard(g, &d->stats.malformed);
		d->stats.malformed++;
		return DEFRAG_DISCARDED;
	}
	if (!g) {
		g = start(d, &fi, now_ns);
		if (!g) {
			d->stats.dropped++;
			return DEFRAG_DISCARDED;
		}
	}

	for (uint32_t i = 0; i < g->n_frags; i++) {
		const struct frag_range *fr = &g->frags[i];

		if (fr->start == fi.offset && fr->end == fi.end) {
			d->stats.duplicates++;
			return DEFRAG_HELD;
		}
		if (fi.offset < fr->end && fr->start < fi.end)
			return discard(g, &d->stats.overlaps);
	}
	if (g->have_last && fi.end > g->total)
		return discard(g, &d->stats.malformed);
	if (!fi.more) {
		if (g->have_last)	/* a second, different end */
			return discard(g, &d->stats.malformed);
		for (uint32_t i = 0; i < g->n_frags; i++)
			if (g->frags[i].end > fi.end)
				return discard(g, &d->stats.malformed);
	}
	if (g->n_frags == DEFRAG_MAX_FRAGS)
		return discard(g, &d->stats.too_many);

	g->frags[g->n_frags].start = fi.offset;
	g->frags[g->n_frags].end = fi.end;
	g->n_frags++;
	memcpy(g->buf + PAYLOAD_OFF + fi.offset, fi.payload, fi.end - fi.offset);
	g->received += fi.end - fi.offset;
	if (!fi.more) {
		g->have_last = true;
		g->total = fi.end;
	}
	if (fi.offset == 0) {
		g->have_first = true;
		g->unfrag_len = fi.unfrag_len;
		g->nh_off = fi.nh_off;
		g->frag_nh = fi.frag_nh;
		if (link_len > LINK_HDR_MAX)
			link_len = 0;
		g->link_len = link_len;
		memcpy(g->buf + PAYLOAD_OFF - fi.unfrag_len, ip, fi.unfrag_len);
		memcpy(g->buf + PAYLOAD_OFF - fi.unfrag_len - link_len, link,
		       link_len);
	}
	if (!g->have_first || !g->have_last || g->received != g->total)
		return DEFRAG_HELD;

	release(g);
	if (finish(g, out) < 0) {
		d->stats.malformed++;
		return DEFRAG_DISCARDED;
	}
	d->stats.reassembled++;
	return DEFRAG_DONE;
}

struct defrag *defrag_new(unsigned max_datagrams)
{
	struct defrag *d;

	if (max_datagrams == 0) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->dg = calloc(max_datagrams, sizeof(*d->dg));
	if (!d->dg) {
		free(d);
		return NULL;
	}
	d->max = max_datagrams;
	d->next_deadline = UINT64_MAX;
	return d;
}

void defrag_free(struct defrag *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < d->max; i++)
		free(d->dg[i].buf);
	free(d->dg);
	free(d);
}

unsigned defrag_pending(const struct defrag *d)
{
	unsigned n = 0;

	for (unsigned i = 0; i < d->max; i++)
		n += d->dg[i].used && !d->dg[i].dead;
	return n;
}

const struct defrag_stats *defrag_get_stats(const struct defrag *d)
{
	return &d->stats;
}
