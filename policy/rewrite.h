/*
 * rewrite.h — actions on a detected identifier, in place and keeping its
 * length (doc/design.md §5): mask, token, truncate.
 */
#ifndef NFREDACT_REWRITE_H
#define NFREDACT_REWRITE_H

#include <stdint.h>

#include "key.h"

/**
 * rewrite_mask() - letters become 'x', digits '0', each byte of a UTF-8
 * multi-byte character 'x' (the text stays valid and keeps its byte
 * length), the rest (punctuation, binary bytes) stays.  A percent escape
 * of punctuation (%40, %2540) stays too; any other becomes %78 ('x').
 */
void rewrite_mask(uint8_t *p, uint32_t len);

/**
 * rewrite_token() - a keyed, same-length, same-class replacement: each
 * letter becomes a letter of the same case, each digit a digit, each byte
 * of a UTF-8 character a lower-case letter, the rest (punctuation, '+',
 * '@', '.', percent escapes of punctuation) stays; any other percent
 * escape becomes the escape of a lower-case letter.  Equal inputs give equal tokens
 * under the same @key; @det separates the detectors' token spaces.
 */
void rewrite_token(const uint8_t key[static KEY_LEN], uint8_t det,
		   uint8_t *p, uint32_t len);

/**
 * rewrite_truncate_text() - zero the host digits of the IPv4 or IPv6
 * address text at p[0, len) beyond /@plen4 (IPv4) or /@plen6 (IPv6),
 * keeping every character position: 192.0.2.55 → 192.0.2.00 (/24),
 * 2001:db8:1:2:3:4:5:6 → 2001:db8:1:0:0:0:0:0 (/48).  IPv6 text with an
 * embedded dotted IPv4 (::ffff:a.b.c.d and the like) truncates the dotted
 * part to /@plen4.
 * Return: 0, or -EINVAL when the text is no address (left unchanged).
 */
int rewrite_truncate_text(uint8_t *p, uint32_t len, unsigned plen4,
			  unsigned plen6);

/**
 * rewrite_address_text() - write the address @addr (family 4 or 6) as
 * text into exactly @len bytes at @p, padding with leading zeros inside
 * groups where it is shorter.
 * Return: 0, or -ENOSPC when it cannot be written in @len bytes.
 */
int rewrite_address_text(uint8_t *p, uint32_t len, int family,
			 const uint8_t addr[static 16]);

#endif
