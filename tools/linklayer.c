/*
 * linklayer.c — link headers of the captures the dry-run reads.
 */
#include <pcap/pcap.h>

#include "linklayer.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86dd
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88a8
#define ETH_P_QINQ1	0x9100	/* pre-standard double tagging */

/* Stacked tags beyond this are not a real network's: treat as not IP. */
#define MAX_VLAN_TAGS 8

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int family_of_ethertype(uint16_t type)
{
	if (type == ETH_P_IP)
		return 4;
	if (type == ETH_P_IPV6)
		return 6;
	return 0;
}

/* The version nibble decides for encapsulations without a type field. */
static int family_of_version(const uint8_t *frame, uint32_t caplen,
			     uint32_t off)
{
	if (caplen <= off)
		return 0;
	switch (frame[off] >> 4) {
	case 4:
		return 4;
	case 6:
		return 6;
	}
	return 0;
}

/*
 * AF_INET is 2 everywhere; AF_INET6 is 10 on Linux, 24 on the BSDs,
 * 28 on FreeBSD and 30 on macOS.  DLT_NULL stores it in the capturing
 * host's byte order, which need not be ours: accept either.
 */
static int family_of_af(uint32_t af)
{
	if (af > 0xffff)
		af = (af >> 24) | ((af >> 8) & 0xff00);
	switch (af) {
	case 2:
		return 4;
	case 10: case 24: case 28: case 30:
		return 6;
	}
	return 0;
}

bool link_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return true;
	}
	return false;
}

int link_ip_offset(int dlt, const uint8_t *frame, uint32_t caplen,
		   uint32_t *ip_off)
{
	uint32_t off;
	uint16_t type;
	int fam;

	switch (dlt) {
	case DLT_EN10MB:
		if (caplen < 14)
			return 0;
		off = 12;
		type = get16(frame + off);
		for (int tags = 0; type == ETH_P_8021Q || type == ETH_P_8021AD ||
				   type == ETH_P_QINQ1; tags++) {
			if (tags == MAX_VLAN_TAGS || caplen < off + 8)
				return 0;
			off += 4;
			type = get16(frame + off);
		}
		off += 2;
		fam = family_of_ethertype(type);
		break;
	case DLT_LINUX_SLL:
		if (caplen < 16)
			return 0;
		off = 16;
		fam = family_of_ethertype(get16(frame + 14));
		break;
	case DLT_LINUX_SLL2:
		if (caplen < 20)
			return 0;
		off = 20;
		fam = family_of_ethertype(get16(frame));
		break;
	case DLT_RAW:
		off = 0;
		fam = family_of_version(frame, caplen, 0);
		break;
	case DLT_IPV4:
		off = 0;
		fam = family_of_version(frame, caplen, 0) == 4 ? 4 : 0;
		break;
	case DLT_IPV6:
		off = 0;
		fam = family_of_version(frame, caplen, 0) == 6 ? 6 : 0;
		break;
	case DLT_NULL:
	case DLT_LOOP:
		if (caplen < 4)
			return 0;
		off = 4;
		if (dlt == DLT_LOOP)
			fam = family_of_af((uint32_t)frame[0] << 24 | frame[1] << 16 |
					   frame[2] << 8 | frame[3]);
		else
			fam = family_of_af((uint32_t)frame[3] << 24 | frame[2] << 16 |
					   frame[1] << 8 | frame[0]);
		break;
	default:
		return 0;
	}
	if (fam == 0 || caplen <= off)
		return 0;
	*ip_off = off;
	return fam;
}
