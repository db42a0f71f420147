/*
 * linklayer.h — find the IP packet inside a captured frame, for the
 * link types the dry-run reads (Ethernet with VLAN tags, Linux cooked
 * v1/v2, raw IP, BSD loopback).
 */
#ifndef NFREDACT_LINKLAYER_H
#define NFREDACT_LINKLAYER_H

#include <stdbool.h>
#include <stdint.h>

/* Longest link header we keep in front of a reassembled datagram. */
#define LINK_HDR_MAX 64

/**
 * link_supported() - whether the pcap link type @dlt (as libpcap reports
 * it, pcap_datalink()) can be read.
 */
bool link_supported(int dlt);

/**
 * link_ip_offset() - locate the IP header in @frame
 * @dlt:    the capture's link type (link_supported() must be true)
 * @frame:  the captured bytes
 * @caplen: bytes in @frame
 * @ip_off: receives the offset of the IP header (at most LINK_HDR_MAX)
 *
 * Return: 4 or 6 (the IP version the link header announces), or 0 when
 * the frame carries something else (ARP, ...) or is too short to tell.
 */
int link_ip_offset(int dlt, const uint8_t *frame, uint32_t caplen,
		   uint32_t *ip_off);

#endif
