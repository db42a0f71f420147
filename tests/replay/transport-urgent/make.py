#!/usr/bin/python3
"""
The urgent pointer (tcp_urg()).  Linux takes the urgent byte out of the
stream (the byte before the one the pointer names; with a pointer of 0
the segment's first byte), so that the application reads the bytes
around it joined: "alice\\0@example.org" with the urgent byte on the NUL
reads "alice@example.org", while the scan, reading the bytes in line,
finds no address in it.  The urgent flag and pointer are cleared:
Linux then has no urgent byte and the application reads every byte in
line, as scanned.  The payload, in which nothing is an identifier, is
kept.

  1. MAIL FROM:<alice\\0@example.org> in one segment, the pointer on the NUL
  2. RCPT TO:<bob  then  \\0@example.net>: the pointer in the first
     segment names the NUL at the start of the second
  3. RCPT TO:<carol  then  \\0@example.org> with URG and a pointer of 0
     in the second: its first byte, the NUL, is the urgent byte

check.py reads both captures as the server's application would.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402

CLIENT, SERVER, PSEUDO = "192.0.2.55", "198.51.100.25", "192.0.2.0"

case = Case()
case.original(CLIENT, "alice@example.org", "bob@example.net",
              "carol@example.org")

c = TcpFlow(case, client=CLIENT, cport=52001, server=SERVER, sport=25,
            pseudo=PSEUDO)


def urgent(payload, urgptr):
    """A segment with URG and @urgptr; the server must get it without."""
    pin, pout = c.send(payload, flags="PAU")
    pin["TCP"].urgptr = urgptr
    pout["TCP"].flags = "PA"
    pout["TCP"].urgptr = 0
    case.packet(pin, pout)


c.handshake()
c.s(b"220 mx.example.net ESMTP\r\n")
mail = b"MAIL FROM:<alice\0@example.org>\r\n"
urgent(mail, mail.index(b"\0") + 1)		# the byte before: the NUL
c.s(b"250 2.1.0 Ok\r\n")
rcpt = b"RCPT TO:<bob"
urgent(rcpt, len(rcpt) + 1)			# the next segment's first byte
c.c(b"\0@example.net>\r\n")
c.s(b"250 2.1.5 Ok\r\n")
c.c(b"RCPT TO:<carol")
urgent(b"\0@example.org>\r\n", 0)			# pointer 0: its first byte
c.s(b"250 2.1.5 Ok\r\n")
c.c(b"QUIT\r\n")
c.s(b"221 2.0.0 Bye\r\n")
c.close()
case.write()
