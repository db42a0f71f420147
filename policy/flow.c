/*
 * flow.c — the flow table: one entry per client flow with the pseudonym
 * and port the server sees, two open-addressing indexes (the client's
 * tuple for inbound packets, the server's view for replies), TCP state
 * and idle timeouts, and the per-client pseudonym table of the map mode.
 *
 * Memory per flow (max_flows a power of two): the entry (80 bytes), two
 * flow index slots per direction (16), and for the map mode a 4-byte
 * client entry, 8 bytes of chain and its two indexes (16): 116 bytes.
 *
 * Everything is allocated by flow_table_new(); nothing after.  The big
 * arrays are anonymous mappings advised to huge pages (look-ups land
 * anywhere in them) and are not written at creation: entries never used
 * are handed out in order after the freed ones, so the kernel supplies
 * pages as the table fills instead of all of them up front.  Indexes
 * hold entry numbers, use linear probing at a load of at most 1/2 and
 * delete by backward shift, so no tombstones build up under churn.  The
 * index hash is SipHash-1-3 under a random per-table seed: a remote
 * client chooses its address and port, and must not be able to aim them
 * at one probe chain.
 *
 * Not thread-safe: one table per thread, or the caller serialises.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <netinet/in.h>

#include "addr.h"
#include "bigmem.h"
#include "flow.h"
#include "ruleset.h"
#include "siphash.h"

#define FLOW_MAX_FLOWS		(UINT32_C(1) << 26)
#define FLOW_NONE		UINT32_MAX
#define FLOW_PORT_ATTEMPTS	512	/* pseudonym ports tried on a clash */
#define FLOW_MAP_ATTEMPTS	64	/* map candidates tried per client */
#define FLOW_ADD_EXPIRE_BUDGET	256	/* slots examined when full */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* Kinds of index key, so that equal bytes of two kinds never match. */
enum hkey_kind {
	HK_FLOW_IN = 1,
	HK_FLOW_OUT,
	HK_MAP_CLIENT,
	HK_MAP_PSEUDO,
};

/* An index key: two addresses and a word of ports, family, kind. */
struct hkey {
	uint64_t w[5];
};

/*
 * A map-mode pseudonym of one client in one epoch.  Its client, epoch and
 * pseudonym are those of the flows that use it, which are chained through
 * flow_table.link: the chain is the reference count, and keeping no copy
 * of the addresses here keeps the table small (the head flow speaks for
 * the entry).
 */
struct map_entry {
	uint32_t head;		/* first flow using it; next free entry when free */
};

/* A mapped flow's neighbours among the flows sharing its map entry. */
struct map_link {
	uint32_t prev, next;
};

struct flow_index {
	uint32_t *slot;		/* 0: empty, else entry number + 1 */
	uint32_t mask;
};

struct flow_table {
	struct flow *flows;
	uint32_t max_flows;
	uint32_t count;
	uint32_t free_head;	/* freed flows chain through last_seen */
	uint32_t fresh;		/* flows from here on never used */
	uint32_t cursor;	/* flow_expire() resumes here */
	struct flow_index in, out;
	struct map_entry *map;
	struct map_link *link;	/* per flow */
	uint32_t map_count;
	uint32_t map_free;	/* freed entries chain through head */
	uint32_t map_fresh;	/* entries from here on never used */
	struct flow_index map_client, map_pseudo;
	uint64_t seed0, seed1;
	uint64_t bytes;
};

typedef void (*hkey_of_fn)(const struct flow_table *ft, uint32_t i,
			   struct hkey *k);

static unsigned family_alen(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

static bool flow_free_left(const struct flow_table *ft)
{
	return ft->free_head != FLOW_NONE || ft->fresh < ft->max_flows;
}

static bool map_free_left(const struct flow_table *ft)
{
	return ft->map_free != FLOW_NONE || ft->map_fresh < ft->max_flows;
}

static void hkey_set(struct hkey *k, const uint8_t *a, const uint8_t *b,
		     unsigned alen, uint64_t meta)
{
	uint8_t buf[32];

	memset(buf, 0, sizeof(buf));
	memcpy(buf, a, alen);
	if (b)
		memcpy(buf + 16, b, alen);
	memcpy(k->w, buf, sizeof(buf));
	k->w[4] = meta;
}

static bool hkey_eq(const struct hkey *x, const struct hkey *y)
{
	return ((x->w[0] ^ y->w[0]) | (x->w[1] ^ y->w[1]) |
		(x->w[2] ^ y->w[2]) | (x->w[3] ^ y->w[3]) |
		(x->w[4] ^ y->w[4])) == 0;
}

static uint64_t hkey_hash(const struct flow_table *ft, const struct hkey *k)
{
	return sip_hash_words(ft->seed0, ft->seed1, k->w, 5, 1, 3);
}

static uint64_t flow_meta(uint8_t family, uint8_t proto, uint16_t port_a,
			  uint16_t port_b, enum hkey_kind kind)
{
	return (uint64_t)family | (uint64_t)proto << 8 |
	       (uint64_t)port_a << 16 | (uint64_t)port_b << 32 |
	       (uint64_t)kind << 56;
}

static uint64_t map_meta(uint8_t family, uint32_t epoch, enum hkey_kind kind)
{
	return (uint64_t)family | (uint64_t)epoch << 16 | (uint64_t)kind << 56;
}

static void key_flow_in(struct hkey *k, uint8_t family, uint8_t proto,
			const uint8_t *client, uint16_t cport,
			const uint8_t *server, uint16_t sport)
{
	hkey_set(k, client, server, family_alen(family),
		 flow_meta(family, proto, cport, sport, HK_FLOW_IN));
}

static void key_flow_out(struct hkey *k, uint8_t family, uint8_t proto,
			 const uint8_t *pseudo, uint16_t pport,
			 const uint8_t *server, uint16_t sport)
{
	hkey_set(k, pseudo, server, family_alen(family),
		 flow_meta(family, proto, pport, sport, HK_FLOW_OUT));
}

static void key_map_client(struct hkey *k, uint8_t family, uint32_t epoch,
			   const uint8_t *client)
{
	hkey_set(k, client, NULL, family_alen(family),
		 map_meta(family, epoch, HK_MAP_CLIENT));
}

static void key_map_pseudo(struct hkey *k, uint8_t family, uint32_t epoch,
			   const uint8_t *pseudo)
{
	hkey_set(k, pseudo, NULL, family_alen(family),
		 map_meta(family, epoch, HK_MAP_PSEUDO));
}

static void hkey_of_flow_in(const struct flow_table *ft, uint32_t i,
			    struct hkey *k)
{
	const struct flow *f = &ft->flows[i];

	key_flow_in(k, f->family, f->proto, f->client, f->cport, f->server,
		    f->sport);
}

static void hkey_of_flow_out(const struct flow_table *ft, uint32_t i,
			     struct hkey *k)
{
	const struct flow *f = &ft->flows[i];

	key_flow_out(k, f->family, f->proto, f->pseudo, f->pport, f->server,
		     f->sport);
}

/*
 * The client and pseudonym a mapped flow is counted under: an
 * IPv4-mapped IPv6 client follows the IPv4 rule, so its map entry is the
 * IPv4 one that flow_map_pseudonym() made.
 */
struct map_view {
	uint8_t family;
	const uint8_t *client, *pseudo;
};

static struct map_view map_view_of(const struct flow *f)
{
	struct map_view v = { f->family, f->client, f->pseudo };

	if (f->family == 6 && addr_is_v4mapped(f->client)) {
		v.family = 4;
		v.client += 12;
		v.pseudo += 12;
	}
	return v;
}

static void hkey_of_map_client(const struct flow_table *ft, uint32_t i,
			       struct hkey *k)
{
	const struct flow *f = &ft->flows[ft->map[i].head];
	struct map_view v = map_view_of(f);

	key_map_client(k, v.family, f->epoch, v.client);
}

static void hkey_of_map_pseudo(const struct flow_table *ft, uint32_t i,
			       struct hkey *k)
{
	const struct flow *f = &ft->flows[ft->map[i].head];
	struct map_view v = map_view_of(f);

	key_map_pseudo(k, v.family, f->epoch, v.pseudo);
}

/* ---- open-addressing index ---------------------------------------------- */

static uint32_t ix_find(const struct flow_table *ft, const struct flow_index *ix,
			hkey_of_fn key_of, const struct hkey *k)
{
	uint32_t pos = (uint32_t)hkey_hash(ft, k) & ix->mask, s;
	struct hkey cand;

	/* the load is at most 1/2: an empty slot always ends the probe */
	while ((s = ix->slot[pos]) != 0) {
		key_of(ft, s - 1, &cand);
		if (hkey_eq(&cand, k))
			return s - 1;
		pos = (pos + 1) & ix->mask;
	}
	return FLOW_NONE;
}

static void ix_insert(const struct flow_table *ft, struct flow_index *ix,
		      const struct hkey *k, uint32_t entry)
{
	uint32_t pos = (uint32_t)hkey_hash(ft, k) & ix->mask;

	while (ix->slot[pos] != 0)
		pos = (pos + 1) & ix->mask;
	ix->slot[pos] = entry + 1;
}

/*
 * Remove @entry (whose key is @k) and shift later members of the probe
 * run back into the hole, so lookups never need tombstones.
 */
static void ix_remove(const struct flow_table *ft, struct flow_index *ix,
		      hkey_of_fn key_of, const struct hkey *k, uint32_t entry)
{
	uint32_t mask = ix->mask;
	uint32_t hole = (uint32_t)hkey_hash(ft, k) & mask, j, home, s;
	struct hkey other;

	while (ix->slot[hole] != entry + 1) {
		if (ix->slot[hole] == 0)
			return;		/* not indexed: nothing to do */
		hole = (hole + 1) & mask;
	}
	j = hole;
	for (;;) {
		j = (j + 1) & mask;
		s = ix->slot[j];
		if (s == 0)
			break;
		key_of(ft, s - 1, &other);
		home = (uint32_t)hkey_hash(ft, &other) & mask;
		/* s may move to the hole unless its home lies in (hole, j] */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			ix->slot[hole] = s;
			hole = j;
		}
	}
	ix->slot[hole] = 0;
}

/* ---- construction ----------------------------------------------------- */

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 4;

	while (p < n)
		p <<= 1;
	return p;
}

static size_t ix_bytes(const struct flow_index *ix)
{
	return ix->slot ? ((size_t)ix->mask + 1) * sizeof(*ix->slot) : 0;
}

static int ix_alloc(struct flow_index *ix, uint32_t size, uint64_t *bytes)
{
	ix->slot = bigmem_alloc((size_t)size * sizeof(*ix->slot));
	if (!ix->slot)
		return -ENOMEM;
	ix->mask = size - 1;
	*bytes += (uint64_t)size * sizeof(*ix->slot);
	return 0;
}

static int flow_seed(struct flow_table *ft)
{
	uint64_t seed[2];
	size_t done = 0;
	ssize_t n;

	while (done < sizeof(seed)) {
		n = getrandom((uint8_t *)seed + done, sizeof(seed) - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	ft->seed0 = seed[0];
	ft->seed1 = seed[1];
	return 0;
}

/**
 * flow_table_free() - free a flow table.
 * @ft: the table; NULL is fine
 */
void flow_table_free(struct flow_table *ft)
{
	if (!ft)
		return;
	bigmem_free(ft->map_pseudo.slot, ix_bytes(&ft->map_pseudo));
	bigmem_free(ft->map_client.slot, ix_bytes(&ft->map_client));
	bigmem_free(ft->link, (size_t)ft->max_flows * sizeof(*ft->link));
	bigmem_free(ft->map, (size_t)ft->max_flows * sizeof(*ft->map));
	bigmem_free(ft->out.slot, ix_bytes(&ft->out));
	bigmem_free(ft->in.slot, ix_bytes(&ft->in));
	bigmem_free(ft->flows, (size_t)ft->max_flows * sizeof(*ft->flows));
	/* the entries held real client addresses */
	memset(ft, 0, sizeof(*ft));
	free(ft);
}

/**
 * flow_table_new() - a table for at most @max_flows flows.
 * @max_flows: 1 .. 2^26
 *
 * Allocates every entry and index now (see flow_table_bytes()); the
 * client table of the map mode has room for as many clients as flows.
 * Return: the table (flow_table_free()) or NULL with errno set: EINVAL
 * for a bad size, ENOMEM, or the error of getrandom().
 */
struct flow_table *flow_table_new(uint32_t max_flows)
{
	struct flow_table *ft;
	uint32_t size;
	int err;

	if (max_flows == 0 || max_flows > FLOW_MAX_FLOWS) {
		errno = EINVAL;
		return NULL;
	}
	ft = calloc(1, sizeof(*ft));
	if (!ft) {
		errno = ENOMEM;
		return NULL;
	}
	ft->bytes = sizeof(*ft);
	ft->max_flows = max_flows;
	size = pow2_at_least((uint64_t)max_flows * 2);
	err = -ENOMEM;
	ft->flows = bigmem_alloc((size_t)max_flows * sizeof(*ft->flows));
	ft->map = bigmem_alloc((size_t)max_flows * sizeof(*ft->map));
	ft->link = bigmem_alloc((size_t)max_flows * sizeof(*ft->link));
	if (!ft->flows || !ft->map || !ft->link)
		goto fail;
	ft->bytes += (uint64_t)max_flows * (sizeof(*ft->flows) +
					    sizeof(*ft->map) + sizeof(*ft->link));
	if (ix_alloc(&ft->in, size, &ft->bytes) ||
	    ix_alloc(&ft->out, size, &ft->bytes) ||
	    ix_alloc(&ft->map_client, size, &ft->bytes) ||
	    ix_alloc(&ft->map_pseudo, size, &ft->bytes))
		goto fail;
	err = flow_seed(ft);
	if (err)
		goto fail;
	ft->free_head = FLOW_NONE;
	ft->map_free = FLOW_NONE;
	return ft;
fail:
	flow_table_free(ft);
	errno = -err;
	return NULL;
}

/*
 * Empty the slot of @ix that holds @entry (key @k) without shifting the
 * probe run: flow_table_clear() empties every slot that is in use, so the
 * runs need not stay intact for later look-ups.  The entry has not moved
 * since it was placed at or after its home slot, only slots before it
 * were emptied, so the walk from home goes on past empty slots until it
 * meets the entry: as many steps as its probe length when the table was
 * whole.
 */
static void ix_clear_entry(const struct flow_table *ft, struct flow_index *ix,
			   const struct hkey *k, uint32_t entry)
{
	uint32_t pos = (uint32_t)hkey_hash(ft, k) & ix->mask;

	for (uint32_t n = 0; n <= ix->mask; n++) {
		if (ix->slot[pos] == entry + 1) {
			ix->slot[pos] = 0;
			return;
		}
		pos = (pos + 1) & ix->mask;
	}
}

/*
 * Empty the map index slots of the entry whose head flow is @fi: in
 * map_client the slot is the one whose entry's head is @fi (each live
 * entry has its own head), in map_pseudo the one holding that entry.
 * Reads the flows and map entries, which the caller has left alone.
 */
static void map_clear_head(struct flow_table *ft, uint32_t fi)
{
	struct flow_index *ix = &ft->map_client;
	struct map_view v = map_view_of(&ft->flows[fi]);
	uint32_t pos, s, e = FLOW_NONE;
	struct hkey k;

	key_map_client(&k, v.family, ft->flows[fi].epoch, v.client);
	pos = (uint32_t)hkey_hash(ft, &k) & ix->mask;
	for (uint32_t n = 0; n <= ix->mask; n++) {
		s = ix->slot[pos];
		if (s != 0 && ft->map[s - 1].head == fi) {
			e = s - 1;
			ix->slot[pos] = 0;
			break;
		}
		pos = (pos + 1) & ix->mask;
	}
	if (e == FLOW_NONE)
		return;
	key_map_pseudo(&k, v.family, ft->flows[fi].epoch, v.pseudo);
	ix_clear_entry(ft, &ft->map_pseudo, &k, e);
}

/**
 * flow_table_clear() - remove every flow and map-mode pseudonym of @ft,
 * keeping its memory and its index seed
 * @ft: the table
 *
 * Afterwards @ft behaves as flow_table_new() made it: look-ups miss, as
 * many flows as it has room for can be added, entries are handed out
 * again from the first, the map mode's clients hold no pseudonym and
 * flow_expire() starts its walk at the beginning.  Only the entries
 * ever used (up to the high-water marks of flows and map entries) and
 * the index slots they occupy are written, so the cost follows what was
 * used since the table was made or last cleared, not its size.  Nothing
 * is allocated or freed.  The fuzz target of the engine clears one table
 * between inputs instead of making a new one for each.
 */
void flow_table_clear(struct flow_table *ft)
{
	uint32_t i;

	/* the map indexes are read through the flows: empty them first */
	for (i = 0; i < ft->fresh; i++) {
		const struct flow *f = &ft->flows[i];
		struct hkey k;

		if (!f->family)
			continue;
		if ((f->flags & FLOW_F_MAPPED) && ft->link[i].prev == FLOW_NONE)
			map_clear_head(ft, i);
		hkey_of_flow_in(ft, i, &k);
		ix_clear_entry(ft, &ft->in, &k, i);
		hkey_of_flow_out(ft, i, &k);
		ix_clear_entry(ft, &ft->out, &k, i);
	}
	/* as never used: no client address stays behind */
	memset(ft->flows, 0, (size_t)ft->fresh * sizeof(*ft->flows));
	memset(ft->link, 0, (size_t)ft->fresh * sizeof(*ft->link));
	memset(ft->map, 0, (size_t)ft->map_fresh * sizeof(*ft->map));
	ft->count = 0;
	ft->free_head = FLOW_NONE;
	ft->fresh = 0;
	ft->cursor = 0;
	ft->map_count = 0;
	ft->map_free = FLOW_NONE;
	ft->map_fresh = 0;
}

/** flow_table_count() - the number of live flows in @ft */
uint32_t flow_table_capacity(const struct flow_table *ft)
{
	return ft->max_flows;
}

uint32_t flow_table_count(const struct flow_table *ft)
{
	return ft ? ft->count : 0;
}

/**
 * flow_table_bytes() - the memory @ft holds: entries, indexes and the map
 * mode's client table, all allocated by flow_table_new().
 */
uint64_t flow_table_bytes(const struct flow_table *ft)
{
	return ft ? ft->bytes : 0;
}

/* ---- lookups ------------------------------------------------------------ */

/**
 * flow_find_in() - the flow of a client→server packet, by its real tuple.
 * @family: 4 or 6; addresses are 4 or 16 bytes accordingly
 * Return: the flow (owned by the table) or NULL.
 */
struct flow *flow_find_in(struct flow_table *ft, uint8_t family, uint8_t proto,
			  const uint8_t *client, uint16_t cport,
			  const uint8_t *server, uint16_t sport)
{
	struct hkey k;
	uint32_t i;

	if (family != 4 && family != 6)
		return NULL;
	key_flow_in(&k, family, proto, client, cport, server, sport);
	i = ix_find(ft, &ft->in, hkey_of_flow_in, &k);
	return i == FLOW_NONE ? NULL : &ft->flows[i];
}

/**
 * flow_find_out() - the flow of a server→client packet, by the pseudonym
 * address and port the server sends to.
 * Return: the flow (owned by the table) or NULL.
 */
struct flow *flow_find_out(struct flow_table *ft, uint8_t family, uint8_t proto,
			   const uint8_t *pseudo, uint16_t pport,
			   const uint8_t *server, uint16_t sport)
{
	struct hkey k;
	uint32_t i;

	if (family != 4 && family != 6)
		return NULL;
	key_flow_out(&k, family, proto, pseudo, pport, server, sport);
	i = ix_find(ft, &ft->out, hkey_of_flow_out, &k);
	return i == FLOW_NONE ? NULL : &ft->flows[i];
}

/* ---- the map mode's client table -------------------------------------- */

static uint32_t map_find_client(const struct flow_table *ft, uint8_t family,
				uint32_t epoch, const uint8_t *client)
{
	struct hkey k;

	key_map_client(&k, family, epoch, client);
	return ix_find(ft, &ft->map_client, hkey_of_map_client, &k);
}

static uint32_t map_find_pseudo(const struct flow_table *ft, uint8_t family,
				uint32_t epoch, const uint8_t *pseudo)
{
	struct hkey k;

	key_map_pseudo(&k, family, epoch, pseudo);
	return ix_find(ft, &ft->map_pseudo, hkey_of_map_pseudo, &k);
}

/* Count flow @fi, already stored and indexed, under map entry @e. */
static void map_attach(struct flow_table *ft, uint32_t e, uint32_t fi)
{
	uint32_t head = ft->map[e].head;

	ft->link[fi].prev = FLOW_NONE;
	ft->link[fi].next = head;
	ft->link[head].prev = fi;
	ft->map[e].head = fi;
}

/* A new map entry for flow @fi, the first to use its pseudonym. */
static void map_insert(struct flow_table *ft, uint32_t fi)
{
	uint32_t e = ft->map_free;
	struct hkey k;

	if (e != FLOW_NONE)
		ft->map_free = ft->map[e].head;
	else
		e = ft->map_fresh++;
	ft->map[e].head = fi;
	ft->link[fi].prev = FLOW_NONE;
	ft->link[fi].next = FLOW_NONE;
	hkey_of_map_client(ft, e, &k);
	ix_insert(ft, &ft->map_client, &k, e);
	hkey_of_map_pseudo(ft, e, &k);
	ix_insert(ft, &ft->map_pseudo, &k, e);
	ft->map_count++;
}

/*
 * Flow @fi goes (its fields still intact): unchain it, and forget the
 * pseudonym when it was the last flow using it.
 */
static void map_release(struct flow_table *ft, uint32_t fi)
{
	struct map_view v = map_view_of(&ft->flows[fi]);
	uint32_t e = map_find_client(ft, v.family, ft->flows[fi].epoch, v.client);
	struct map_link *l = &ft->link[fi];
	struct hkey k;

	if (e == FLOW_NONE)
		return;
	if (l->prev == FLOW_NONE && l->next == FLOW_NONE) {
		/* the keys are read through the head flow: remove first */
		hkey_of_map_client(ft, e, &k);
		ix_remove(ft, &ft->map_client, hkey_of_map_client, &k, e);
		hkey_of_map_pseudo(ft, e, &k);
		ix_remove(ft, &ft->map_pseudo, hkey_of_map_pseudo, &k, e);
		ft->map[e].head = ft->map_free;
		ft->map_free = e;
		ft->map_count--;
		return;
	}
	if (l->prev != FLOW_NONE)
		ft->link[l->prev].next = l->next;
	else
		ft->map[e].head = l->next;
	if (l->next != FLOW_NONE)
		ft->link[l->next].prev = l->prev;
	l->prev = l->next = FLOW_NONE;
}

/**
 * flow_map_pseudonym() - the map-mode pseudonym of @client in @epoch.
 * @ft: the table
 * @key: the epoch key
 * @rule: the address rule; its range must be of @family
 * @family: 4 or 6
 * @client: the client address, 4 or 16 bytes
 * @epoch: the epoch of @key
 * @out: the pseudonym, 4 or 16 bytes written
 *
 * A client that has a pseudonym in @epoch gets it again.  Otherwise
 * addr_map_candidate() attempts 0, 1, ... are tried until one is not
 * owned by another client in @epoch.  The pseudonym is remembered when a
 * flow with FLOW_F_MAPPED is added with it, and forgotten when the last
 * such flow goes.  Allocates nothing.
 * Return: 0 with @out filled, -ENOSPC when the table of clients is full or
 * no free candidate was found, -EINVAL for a rule of another family.
 */
int flow_map_pseudonym(struct flow_table *ft, const uint8_t key[static KEY_LEN],
		       const struct rs_addr_rule *rule, uint8_t family,
		       const uint8_t *client, uint32_t epoch, uint8_t *out)
{
	unsigned alen = family_alen(family), attempt;
	uint8_t cand[16];
	uint32_t i;

	if ((family != 4 && family != 6) || rule->range.family != family)
		return -EINVAL;
	i = map_find_client(ft, family, epoch, client);
	if (i != FLOW_NONE) {
		memcpy(out, map_view_of(&ft->flows[ft->map[i].head]).pseudo, alen);
		return 0;
	}
	if (!map_free_left(ft))
		return -ENOSPC;
	for (attempt = 0; attempt < FLOW_MAP_ATTEMPTS; attempt++) {
		addr_map_candidate(key, client, alen, rule->range.addr,
				   rule->range.plen, attempt, cand);
		if (map_find_pseudo(ft, family, epoch, cand) == FLOW_NONE) {
			memcpy(out, cand, alen);
			return 0;
		}
	}
	return -ENOSPC;
}

/* ---- insert, update, expire ------------------------------------------- */

/* The next pseudonym port: same parity, <1024 stays below, else above. */
static uint16_t next_port(uint16_t port)
{
	uint32_t p = (uint32_t)port + 2;

	if (port < 1024)
		return p < 1024 ? (uint16_t)p : (uint16_t)(port & 1 ? 1 : 2);
	return p <= 65535 ? (uint16_t)p : (uint16_t)(1024 + (port & 1));
}

static uint32_t flow_timeout(const struct flow *f)
{
	if (f->proto != IPPROTO_TCP)
		return FLOW_TIMEOUT_UDP;
	switch (f->tcp_state) {
	case FLOW_TCP_SYN:
		return FLOW_TIMEOUT_TCP_SYN;
	case FLOW_TCP_FIN:
		return FLOW_TIMEOUT_TCP_FIN;
	case FLOW_TCP_CLOSING:
		return FLOW_TIMEOUT_TCP_CLOSE;
	case FLOW_TCP_NONE:	/* picked up mid-stream: as established */
	case FLOW_TCP_EST:
	default:
		return FLOW_TIMEOUT_TCP_EST;
	}
}

static bool flow_idle(const struct flow *f, uint32_t now)
{
	/* signed difference: a clock stepping back does not expire flows */
	return (int32_t)(now - f->last_seen) > (int32_t)flow_timeout(f);
}

static void flow_remove(struct flow_table *ft, uint32_t i)
{
	struct flow *f = &ft->flows[i];
	struct hkey k;

	hkey_of_flow_in(ft, i, &k);
	ix_remove(ft, &ft->in, hkey_of_flow_in, &k, i);
	hkey_of_flow_out(ft, i, &k);
	ix_remove(ft, &ft->out, hkey_of_flow_out, &k, i);
	if (f->flags & FLOW_F_MAPPED)
		map_release(ft, i);
	/* a freed entry keeps no client address */
	memset(f, 0, sizeof(*f));
	f->last_seen = ft->free_head;
	ft->free_head = i;
	ft->count--;
}

/**
 * flow_expire() - remove flows idle past their state's timeout.
 * @ft: the table
 * @now: seconds, the clock of flow_add() and flow_update()
 * @budget: entries examined at most (bounded work); the walk resumes
 *          where the last call stopped
 * Return: the number of flows removed.
 */
uint32_t flow_expire(struct flow_table *ft, uint32_t now, uint32_t budget)
{
	uint32_t removed = 0, i;

	if (budget > ft->max_flows)
		budget = ft->max_flows;
	while (budget-- > 0) {
		i = ft->cursor;
		ft->cursor = i + 1 < ft->max_flows ? i + 1 : 0;
		if (ft->flows[i].family && flow_idle(&ft->flows[i], now)) {
			flow_remove(ft, i);
			removed++;
		}
	}
	return removed;
}

/**
 * flow_add() - insert the flow described by @tmpl.
 * @ft: the table
 * @tmpl: the flow; @tmpl->pport is the wanted pseudonym port.  With
 *        FLOW_F_MAPPED, @tmpl->pseudo came from flow_map_pseudonym() for
 *        @tmpl->client in @tmpl->epoch, and the flow holds a reference on
 *        that pseudonym.
 * @now: seconds; the flow's last_seen
 * @out: the stored flow (owned by the table, valid until it expires)
 *
 * When another flow already uses (proto, pseudo, pport, server, sport),
 * the port moves on as NAT does: same parity, below 1024 stays below,
 * otherwise within 1024..65535.  When the table is full, a bounded
 * flow_expire() runs first.  Allocates nothing.
 * Return: 0; -EINVAL (bad family); -EEXIST (the client tuple has a flow);
 * -ENOSPC (table full); -EADDRINUSE (no free port, or a mapped pseudonym
 * that another client owns).
 */
int flow_add(struct flow_table *ft, const struct flow *tmpl, uint32_t now,
	     struct flow **out)
{
	struct map_view mv = { 0, NULL, NULL };
	uint32_t map_i = FLOW_NONE, i, tries;
	bool mapped = tmpl->flags & FLOW_F_MAPPED;
	uint16_t pport = tmpl->pport;
	struct flow *f;
	struct hkey k;

	if (tmpl->family != 4 && tmpl->family != 6)
		return -EINVAL;
	if (flow_find_in(ft, tmpl->family, tmpl->proto, tmpl->client,
			 tmpl->cport, tmpl->server, tmpl->sport))
		return -EEXIST;
	if (!flow_free_left(ft))
		flow_expire(ft, now, FLOW_ADD_EXPIRE_BUDGET);
	if (!flow_free_left(ft))
		return -ENOSPC;
	if (mapped) {
		mv = map_view_of(tmpl);
		map_i = map_find_client(ft, mv.family, tmpl->epoch, mv.client);
		if (map_i != FLOW_NONE) {
			if (memcmp(map_view_of(&ft->flows[ft->map[map_i].head]).pseudo,
				   mv.pseudo, family_alen(mv.family)))
				return -EINVAL;
		} else if (map_find_pseudo(ft, mv.family, tmpl->epoch,
					   mv.pseudo) != FLOW_NONE) {
			return -EADDRINUSE;
		} else if (!map_free_left(ft)) {
			return -ENOSPC;
		}
	}
	for (tries = 0;; tries++) {
		if (tries == FLOW_PORT_ATTEMPTS)
			return -EADDRINUSE;
		if (!flow_find_out(ft, tmpl->family, tmpl->proto, tmpl->pseudo,
				   pport, tmpl->server, tmpl->sport))
			break;
		pport = next_port(pport);
	}

	i = ft->free_head;
	if (i != FLOW_NONE) {
		f = &ft->flows[i];
		ft->free_head = f->last_seen;
	} else {
		i = ft->fresh++;
		f = &ft->flows[i];
	}
	*f = *tmpl;
	f->pport = pport;
	f->last_seen = now;
	hkey_of_flow_in(ft, i, &k);
	ix_insert(ft, &ft->in, &k, i);
	hkey_of_flow_out(ft, i, &k);
	ix_insert(ft, &ft->out, &k, i);
	ft->count++;
	if (mapped) {
		if (map_i != FLOW_NONE)
			map_attach(ft, map_i, i);
		else
			map_insert(ft, i);
	}
	if (out)
		*out = f;
	return 0;
}

/**
 * flow_update() - note a packet of @f.
 * @ft: the table
 * @f: the flow
 * @tcp_flags: the TCP flags byte (0 for UDP)
 * @inbound: client→server
 * @now: seconds
 *
 * TCP: a SYN from the client (re)starts the handshake; a SYN-ACK or ACK
 * from the server establishes; a FIN is noted per direction (both:
 * closing); an RST closes.  The flow's timeout follows its state.
 */
void flow_update(struct flow_table *ft, struct flow *f, uint8_t tcp_flags,
		 bool inbound, uint32_t now)
{
	f->last_seen = now;
	if (f->proto != IPPROTO_TCP)
		return;
	if (tcp_flags & TCP_RST) {
		f->tcp_state = FLOW_TCP_CLOSING;
		return;
	}
	if (inbound && (tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
	    f->tcp_state != FLOW_TCP_EST) {
		/* a new connection on the same tuple after a close */
		f->tcp_state = FLOW_TCP_SYN;
		f->flags &= (uint8_t)~(FLOW_F_FIN_IN | FLOW_F_FIN_OUT);
	}
	if (!inbound && (tcp_flags & TCP_ACK) &&
	    (f->tcp_state == FLOW_TCP_NONE || f->tcp_state == FLOW_TCP_SYN))
		f->tcp_state = FLOW_TCP_EST;
	if (tcp_flags & TCP_FIN) {
		f->flags |= inbound ? FLOW_F_FIN_IN : FLOW_F_FIN_OUT;
		if ((f->flags & (FLOW_F_FIN_IN | FLOW_F_FIN_OUT)) ==
		    (FLOW_F_FIN_IN | FLOW_F_FIN_OUT))
			f->tcp_state = FLOW_TCP_CLOSING;
		else if (f->tcp_state != FLOW_TCP_CLOSING)
			f->tcp_state = FLOW_TCP_FIN;
	}
}
