/*
 * packet.h — decode an IPv4/IPv6 packet into a view, without allocating.
 *
 * A struct packet points into the caller's buffer; the decoder never reads
 * past len and never writes.  Offsets are from the start of the IP header.
 */
#ifndef NFREDACT_PACKET_H
#define NFREDACT_PACKET_H

#include <stdbool.h>
#include <stdint.h>

enum pkt_status {
	PKT_OK = 0,
	PKT_MALFORMED,		/* truncated, inconsistent lengths, bad version */
	PKT_FRAGMENT,		/* a fragment: no (complete) L4 header to act on */
};

/* Headers of the packet that an ICMP/ICMPv6 error quotes. */
struct pkt_inner {
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;		/* IPPROTO_TCP, IPPROTO_UDP, ... */
	uint32_t l3_off;	/* inner IP header, from start of outer packet */
	uint32_t l4_off;	/* inner L4 header; 0 when not present */
	uint32_t saddr_off, daddr_off;
	uint16_t sport, dport;	/* host order; 0 when the quote is too short */
	bool have_ports;
	bool have_l4_csum;	/* the quote holds the whole inner L4 checksum field */
};

struct packet {
	uint8_t *data;		/* the IP header */
	uint32_t len;		/* bytes available in data */
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;		/* final L4 protocol (after IPv6 ext headers) */
	uint8_t addr_len;	/* 4 or 16 */
	uint32_t saddr_off, daddr_off;
	uint32_t l4_off;	/* L4 header */
	uint32_t l4_len;	/* L4 header + payload, per the IP length fields */
	uint32_t payload_off;	/* TCP/UDP payload */
	uint32_t payload_len;
	uint16_t sport, dport;	/* host order (TCP/UDP) */
	uint32_t tcp_seq, tcp_ack;	/* host order */
	uint8_t tcp_flags;	/* FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10 */
	uint8_t icmp_type, icmp_code;
	bool is_fragment;	/* MF set or offset != 0 */
	bool icmp_error;	/* an ICMP(v6) error; inner is valid */
	struct pkt_inner inner;
};

/**
 * pkt_decode() - decode the IP packet in @data into @p
 * @p:    view to fill (fully overwritten)
 * @data: packet, starting at the IP header
 * @len:  bytes in @data
 *
 * Return: PKT_OK, PKT_FRAGMENT (view valid up to the L3 header) or
 * PKT_MALFORMED (the view must not be used past family).  Never reads
 * outside [data, data + len).  Trailing bytes beyond the IP total length
 * (link padding) are tolerated and ignored.
 */
enum pkt_status pkt_decode(struct packet *p, uint8_t *data, uint32_t len);

/** pkt_saddr() / pkt_daddr() - pointer to the source / destination address */
static inline uint8_t *pkt_saddr(const struct packet *p) { return p->data + p->saddr_off; }
static inline uint8_t *pkt_daddr(const struct packet *p) { return p->data + p->daddr_off; }
static inline uint8_t *pkt_payload(const struct packet *p) { return p->data + p->payload_off; }

/**
 * pkt_ip_len() - the IP total length (header + payload) the header declares
 */
uint32_t pkt_ip_len(const struct packet *p);

#endif
