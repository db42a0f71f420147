/*
 * flowdir.c — directions and capture sides of the dry-run's 5-tuples
 * (see flowdir.h).
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "flowdir.h"
#include "policy.h"

#define WAYS		4
#define MAX_RANGES	1024	/* port ranges read per service */

struct flowdir {
	struct flowdir_entry *e;	/* WAYS << sets_log2 */
	uint32_t set_mask;
	/* service index + 1 by port, 0 for none: [0] TCP, [1] UDP */
	uint8_t port_svc[2][65536];
};

static int proto_slot(uint8_t proto)
{
	if (proto == IPPROTO_TCP)
		return 0;
	if (proto == IPPROTO_UDP)
		return 1;
	return -1;
}

struct flowdir *flowdir_new(const struct ruleset *rs, unsigned sets_log2)
{
	struct policy_ports *pr;
	struct flowdir *fd;
	unsigned n = policy_service_count(rs);

	if (sets_log2 > 24)
		return NULL;
	fd = calloc(1, sizeof(*fd));
	pr = calloc(MAX_RANGES, sizeof(*pr));
	if (!fd || !pr)
		goto fail;
	fd->set_mask = (1u << sets_log2) - 1;
	fd->e = calloc((size_t)WAYS << sets_log2, sizeof(*fd->e));
	if (!fd->e)
		goto fail;
	for (unsigned s = 0; s < n && s < 255; s++) {
		unsigned k = policy_service_ports(rs, s, pr, MAX_RANGES);

		for (unsigned i = 0; i < k && i < MAX_RANGES; i++) {
			int slot = proto_slot(pr[i].proto);

			if (slot < 0)
				continue;
			for (uint32_t p = pr[i].lo; p <= pr[i].hi; p++)
				fd->port_svc[slot][p] = (uint8_t)(s + 1);
		}
	}
	free(pr);
	return fd;
fail:
	free(pr);
	flowdir_free(fd);
	return NULL;
}

void flowdir_free(struct flowdir *fd)
{
	if (!fd)
		return;
	free(fd->e);
	free(fd);
}

int flowdir_service_of_port(const struct flowdir *fd, uint8_t proto,
			    uint16_t port)
{
	int slot = proto_slot(proto);

	return slot < 0 ? -1 : (int)fd->port_svc[slot][port] - 1;
}

static unsigned alen_of(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

/* Order of the two ends, so that both directions find one set. */
static int end_cmp(const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp,
		   unsigned alen)
{
	int c = memcmp(a, b, alen);

	if (c)
		return c;
	return ap < bp ? -1 : ap > bp;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static uint32_t set_of(const struct flowdir *fd, const struct flowdir_tuple *t)
{
	unsigned alen = alen_of(t->family);
	const uint8_t *a = t->src, *b = t->dst;
	uint16_t ap = t->sport, bp = t->dport;
	uint64_t h = (uint64_t)t->family << 8 | t->proto;
	uint32_t w;

	if (end_cmp(a, ap, b, bp, alen) > 0) {
		a = t->dst;
		b = t->src;
		ap = t->dport;
		bp = t->sport;
	}
	for (unsigned i = 0; i < alen; i += 4) {
		memcpy(&w, a + i, 4);
		h = mix(h, w);
		memcpy(&w, b + i, 4);
		h = mix(h, w);
	}
	h = mix(h, (uint64_t)ap << 16 | bp);
	return (uint32_t)(h >> 32) & fd->set_mask;
}

/* 1: @e holds @t as client → server; -1: as server → client; 0: not @t. */
static int entry_match(const struct flowdir_entry *e, const struct flowdir_tuple *t)
{
	unsigned alen = alen_of(t->family);

	if (!e->used || e->family != t->family || e->proto != t->proto)
		return 0;
	if (e->cport == t->sport && e->sport == t->dport &&
	    !memcmp(e->client, t->src, alen) && !memcmp(e->server, t->dst, alen))
		return 1;
	if (e->cport == t->dport && e->sport == t->sport &&
	    !memcmp(e->client, t->dst, alen) && !memcmp(e->server, t->src, alen))
		return -1;
	return 0;
}

static struct flowdir_entry *find(struct flowdir *fd, const struct flowdir_tuple *t,
				  uint32_t set, int *orient)
{
	struct flowdir_entry *s = &fd->e[(size_t)set * WAYS];

	for (unsigned i = 0; i < WAYS; i++) {
		int m = entry_match(&s[i], t);

		if (m) {
			*orient = m;
			return &s[i];
		}
	}
	return NULL;
}

/* Fill @e with @t, its client end the source (@in) or the destination. */
static void orient(struct flowdir_entry *e, const struct flowdir_tuple *t, bool in)
{
	memset(e, 0, sizeof(*e));
	e->used = 1;
	e->family = t->family;
	e->proto = t->proto;
	memcpy(e->client, in ? t->src : t->dst, 16);
	memcpy(e->server, in ? t->dst : t->src, 16);
	e->cport = in ? t->sport : t->dport;
	e->sport = in ? t->dport : t->sport;
	e->side = FLOWDIR_SIDE_UNKNOWN;
}

static struct flowdir_entry *claim(struct flowdir *fd, uint32_t set)
{
	struct flowdir_entry *s = &fd->e[(size_t)set * WAYS], *old = s;

	for (unsigned i = 0; i < WAYS; i++) {
		if (!s[i].used)
			return &s[i];
		/* the one whose clock lies furthest behind, across wraps */
		if ((int32_t)(s[i].last - old->last) < 0)
			old = &s[i];
	}
	return old;
}

/*
 * The direction the service ports give, or ENGINE_DIR_AUTO: the first
 * packet of a tuple to a service port is inbound, even when it comes
 * from one too (syslog from port 53 or 514): a client packet taken for a
 * reply would pass untouched, so what cannot be told goes in as
 * inbound, never by comparing port numbers.
 */
static enum engine_dir by_ports(const struct flowdir *fd,
				const struct flowdir_tuple *t)
{
	bool to = flowdir_service_of_port(fd, t->proto, t->dport) >= 0;
	bool from = flowdir_service_of_port(fd, t->proto, t->sport) >= 0;

	if (to)
		return ENGINE_DIR_IN;
	if (from)
		return ENGINE_DIR_OUT;
	return ENGINE_DIR_AUTO;
}

enum engine_dir flowdir_decide(struct flowdir *fd, const struct flowdir_tuple *t,
			       uint8_t tcp_flags, uint32_t now,
			       struct flowdir_entry **e, enum flowdir_how *how)
{
	uint32_t set = set_of(fd, t);
	int o = 0;
	struct flowdir_entry *found = find(fd, t, set, &o);
	enum engine_dir dir = ENGINE_DIR_AUTO;

	*how = FLOWDIR_UNDECIDED;
	if (t->proto == IPPROTO_TCP && (tcp_flags & 0x12) == 0x02) {
		dir = ENGINE_DIR_IN;
		*how = FLOWDIR_HANDSHAKE;
	} else if (t->proto == IPPROTO_TCP && (tcp_flags & 0x12) == 0x12) {
		dir = ENGINE_DIR_OUT;
		*how = FLOWDIR_HANDSHAKE;
	} else if (found) {
		dir = o > 0 ? ENGINE_DIR_IN : ENGINE_DIR_OUT;
		*how = FLOWDIR_REMEMBERED;
	} else {
		dir = by_ports(fd, t);
		if (dir != ENGINE_DIR_AUTO)
			*how = FLOWDIR_PORT;
	}
	if (dir == ENGINE_DIR_AUTO) {
		*e = NULL;
		return ENGINE_DIR_IN;
	}
	if (!found) {
		found = claim(fd, set);
		orient(found, t, dir == ENGINE_DIR_IN);
	} else if ((o > 0) != (dir == ENGINE_DIR_IN)) {
		orient(found, t, dir == ENGINE_DIR_IN);	/* reused the other way */
	}
	found->last = now;
	*e = found;
	return dir;
}

enum engine_dir flowdir_lookup(struct flowdir *fd, const struct flowdir_tuple *t,
			       struct flowdir_entry **e)
{
	int o = 0;
	struct flowdir_entry *found = find(fd, t, set_of(fd, t), &o);

	*e = found;
	if (found)
		return o > 0 ? ENGINE_DIR_IN : ENGINE_DIR_OUT;
	return by_ports(fd, t);
}

struct flowdir_entry *flowdir_remember(struct flowdir *fd,
				       const struct flowdir_tuple *t,
				       uint32_t now)
{
	uint32_t set = set_of(fd, t);
	int o = 0;
	struct flowdir_entry *e = find(fd, t, set, &o);

	if (!e) {
		e = claim(fd, set);
		orient(e, t, true);
	}
	e->last = now;
	return e;
}
