/*
 * fuzz_packet.c — libFuzzer target for the packet decoder and the
 * checksum functions: arbitrary bytes as an IP packet.
 *
 * Besides "never crash, never read out of bounds" it checks the promises
 * that the engine builds on: every offset of a decoded view lies inside
 * the buffer, a fully recomputed checksum verifies, and an incremental
 * update (RFC 1624) agrees with a full recomputation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "csum.h"
#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): the check must survive -DNDEBUG */
#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void check_view(const struct packet *p, uint32_t len)
{
	CHECK(p->family == 4 || p->family == 6);
	CHECK(p->addr_len == (p->family == 4 ? 4 : 16));
	CHECK(p->saddr_off + p->addr_len <= len);
	CHECK(p->daddr_off + p->addr_len <= len);
	CHECK(pkt_ip_len(p) <= len);
	if (p->is_fragment)
		return;
	CHECK(p->l4_off <= len);
	CHECK(p->l4_len <= len - p->l4_off);
	CHECK(p->l4_off + p->l4_len <= pkt_ip_len(p));
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		CHECK(p->payload_off >= p->l4_off);
		CHECK(p->payload_off <= len);
		CHECK(p->payload_len <= len - p->payload_off);
		/* UDP: its own length field may end the datagram early */
		CHECK(p->payload_off + p->payload_len <= p->l4_off + p->l4_len);
		if (p->proto == IPPROTO_TCP)
			CHECK(p->payload_off + p->payload_len ==
			      p->l4_off + p->l4_len);
	}
	if (p->icmp_error) {
		const struct pkt_inner *in = &p->inner;

		CHECK(in->family == 4 || in->family == 6);
		CHECK(in->l3_off >= p->l4_off && in->l3_off < len);
		CHECK(in->saddr_off + (in->family == 4 ? 4u : 16u) <= len);
		CHECK(in->daddr_off + (in->family == 4 ? 4u : 16u) <= len);
		if (in->l4_off)
			CHECK(in->l4_off > in->l3_off && in->l4_off <= len);
	}
}

/*
 * Rewrite two bytes of the L4 region in place, fix the checksum
 * incrementally, and compare with a full recomputation.
 */
static void check_incremental(struct packet *p, const uint8_t *data,
			      size_t size)
{
	uint8_t old[16], repl[16];
	uint32_t off, n;
	uint16_t field_inc, field_full;
	uint8_t *field;
	uint32_t at;

	if (p->proto == IPPROTO_TCP)
		at = 16;
	else if (p->proto == IPPROTO_UDP)
		at = 6;
	else
		at = 2;
	if (p->l4_len < at + 2)
		return;
	field = p->data + p->l4_off + at;

	/* a span of the payload (after the checksum field) ... */
	if (p->l4_len > at + 2 + 2) {
		uint32_t room = p->l4_len - (at + 2);

		n = room >= 4 ? 4 : 2;
		off = p->l4_off + at + 2 +
		      (size ? data[size - 1] % (room - n + 1) : 0);
		if (p->proto == IPPROTO_UDP && p->family == 4 &&
		    field[0] == 0 && field[1] == 0)
			return;
		memcpy(old, p->data + off, n);
		for (uint32_t i = 0; i < n; i++)
			repl[i] = (uint8_t)(old[i] ^ (0x5a + i));
		memcpy(p->data + off, repl, n);
		if (csum_l4_update(p, off, old, n) == 0) {
			memcpy(&field_inc, field, 2);
			CHECK(csum_l4_full(p) == 0);
			memcpy(&field_full, field, 2);
			/* 0x0000 and 0xffff are the same number (one's
			 * complement); both verify */
			CHECK(field_inc == field_full ||
			      (uint16_t)(field_inc ^ field_full) == 0xffff);
			CHECK(csum_l4_verify(p));
		}
	}

	/* ... and the source address through the pseudo-header */
	if (p->proto == IPPROTO_ICMP)
		return;
	if (p->proto == IPPROTO_UDP && p->family == 4 &&
	    field[0] == 0 && field[1] == 0)
		return;
	if (!csum_l4_verify(p))
		return;
	off = p->saddr_off;
	n = p->addr_len;
	memcpy(old, p->data + off, n);
	for (uint32_t i = 0; i < n; i++)
		p->data[off + i] = (uint8_t)(old[i] + 17 * i + 1);
	if (csum_l4_update(p, off, old, n) == 0)
		CHECK(csum_l4_verify(p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet p, q;
	uint8_t *buf;
	enum pkt_status st;

	if (size > 70000)
		return 0;
	/* an exact-size heap copy, so ASan sees any read past the end */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	st = pkt_decode(&p, buf, (uint32_t)size);
	CHECK(memcmp(buf, data, size) == 0);	/* the decoder never writes */
	if (st == PKT_MALFORMED)
		goto out;
	check_view(&p, (uint32_t)size);
	if (st == PKT_FRAGMENT) {
		CHECK(p.is_fragment);
		goto out;
	}

	/* csum_partial over odd lengths and offsets: just no crash */
	(void)csum_fold(csum_partial(buf + (size & 1), size - (size & 1), 0));
	(void)csum_ipv4_header_verify(&p);
	(void)csum_l4_verify(&p);

	if (p.family == 4) {
		csum_ipv4_header(&p);
		CHECK(csum_ipv4_header_verify(&p));
	} else {
		CHECK(!csum_ipv4_header_verify(&p));
	}
	if (csum_l4_full(&p) == 0) {
		CHECK(csum_l4_verify(&p));
		/* checksums change no length: the view decodes the same */
		CHECK(pkt_decode(&q, buf, (uint32_t)size) == PKT_OK);
		CHECK(q.l4_len == p.l4_len && q.payload_len == p.payload_len);
		check_incremental(&p, data, size);
	}
out:
	free(buf);
	return 0;
}
