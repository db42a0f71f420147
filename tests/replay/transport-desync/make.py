#!/usr/bin/python3
"""
Desynchronising the stream with what the receiver discards.

  - A client segment with a wrong TCP checksum carries harmless bytes;
    the same sequence range then comes again with a right checksum,
    carrying MAIL FROM with the sender.  The server's kernel discards the
    first, so the second is what its application reads: the first is
    dropped (bad-checksum) and the second is redacted.  Had the first
    been taken as delivered, the second would look like a retransmission
    of bytes with nothing to rewrite.
  - The same with a data segment without ACK, which Linux discards in
    every synchronised state: dropped (discarded), and the RCPT TO over
    the same range is redacted.
  - A syslog datagram with a wrong UDP checksum is dropped
    (bad-checksum); the same datagram with a right one is redacted.
  - MAIL FROM with the sender cut over two segments, the first held
    back; in between, a segment at the next byte with a wrong checksum
    and one without ACK, each carrying bytes that would end the address
    there (a space, CR, LF).  Neither decides the held segment: the
    second half that follows is scanned with it, and the sender is
    masked whole.

The connection then carries on as if the discarded packets had never
been: replies, a last command, the close.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow, udp_pair, TCP, UDP, raw  # noqa: E402

CLIENT, SERVER, PSEUDO = "192.0.2.55", "198.51.100.25", "192.0.2.0"

MAIL = b"MAIL FROM:<alice@example.org>\r\n"
MAIL_SEEN = b"MAIL FROM:<xxxxx@xxxxxxx.xxx>\r\n"
DECOY1 = b"NOOP nothing to see here, now\r\n"
RCPT = b"RCPT TO:<bob@example.net>\r\n"
RCPT_SEEN = b"RCPT TO:<xxx@xxxxxxx.xxx>\r\n"
DECOY2 = b"NOOP harmless padding....\r\n"
SYSLOG = b"<34>1 2026-12-07T12:00:00Z gw app - - - login carol@example.com\n"
SYSLOG_SEEN = b"<34>1 2026-12-07T12:00:00Z gw app - - - login xxxxx@xxxxxxx.xxx\n"
assert len(DECOY1) == len(MAIL) and len(DECOY2) == len(RCPT)

case = Case()
case.original(CLIENT, "alice@example.org", "bob@example.net",
              "carol@example.com", "dave@example.org")


def broken(pkt, layer):
    """@pkt with a wrong checksum in @layer (the right one, inverted)."""
    good = pkt.__class__(raw(pkt))[layer].chksum
    pkt[layer].chksum = good ^ 0xffff
    return pkt


c = TcpFlow(case, client=CLIENT, cport=49152, server=SERVER, sport=25,
            pseudo=PSEUDO)
c.handshake()
c.s(b"220 mx.example.net ESMTP\r\n")

seq = c.cseq
pin, _ = c.send(DECOY1)
case.drop(broken(pin, TCP))			# bad-checksum
c.cseq = seq
c.c(MAIL, MAIL_SEEN)				# the same range, scanned in full
c.s(b"250 2.1.0 Ok\r\n")

seq = c.cseq
pin, _ = c.send(DECOY2, flags="P")		# no ACK: discarded
case.drop(pin)
c.cseq = seq
c.c(RCPT, RCPT_SEEN)
c.s(b"250 2.1.5 Ok\r\n")

pin, _ = udp_pair(CLIENT, 40514, SERVER, 514, PSEUDO, SYSLOG, ipid=0x3001)
case.drop(broken(pin, UDP))			# bad-checksum
case.packet(*udp_pair(CLIENT, 40514, SERVER, 514, PSEUDO, SYSLOG,
                      SYSLOG_SEEN, ipid=0x3002))

c.c(b"RSET\r\n")
c.s(b"250 2.0.0 Ok\r\n")
c.c(b"MAIL FROM:<dave@exa", b"MAIL FROM:<xxxx@xxx")
pin, _ = c.send(b" \r\n")
case.drop(broken(pin, TCP))			# bad-checksum
c.cseq -= 3
pin, _ = c.send(b" \r\n", flags="P")
case.drop(pin)					# discarded
c.cseq -= 3
c.c(b"mple.org>\r\n", b"xxxx.xxx>\r\n")
c.s(b"250 2.1.0 Ok\r\n")

c.c(b"QUIT\r\n")
c.s(b"221 2.0.0 Bye\r\n")
c.close()
case.write()
