#!/usr/bin/python3
"""
Resets as the server's kernel takes them (tcp_validate_incoming(), RFC
5961: a reset resets only at exactly the next byte, otherwise it draws a
challenge ACK and is discarded; its data never reaches the application).

  A. MAIL FROM with the sender cut over two segments; between them two
     resets that are not at the next byte, one past it and one inside the
     bytes already sent.  They change nothing: they pass, the server
     answers each with a challenge ACK, and the sender is still masked
     whole across the cut.
  B. A reset with data (MAIL FROM), not at the next byte: it passes with
     all of its data masked, and the session carries on.
  C. A reset with data exactly at the next byte: its data is masked and
     it ends the stream, so a new connection on the same ports (Fast
     Open, another ISN) is a new stream: its SYN's data is scanned as the
     stream's first bytes, the sender masked and the rest kept.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow, SYN_OPTS, mask  # noqa: E402

CLIENT, SERVER, PSEUDO = "192.0.2.55", "198.51.100.25", "192.0.2.0"
BANNER = b"220 mx.example.net ESMTP\r\n"

case = Case()
case.original(CLIENT, "alice@example.org", "bob@example.net",
              "carol@example.org", "dave@example.net", "erin@example.org")


def stray(c, seq, flags, payload=b"", expect=b""):
    """A segment at @seq that is not the flow's next one."""
    saved = c.cseq
    c.cseq = seq
    pin, pout = c.send(payload, expect, flags=flags)
    c.cseq = saved
    case.packet(pin, pout)


def challenge_ack(c, rcv_nxt):
    """The server's challenge ACK, acknowledging what it has."""
    saved = c.cseq
    c.cseq = rcv_nxt
    c.s(flags="A")
    c.cseq = saved


# A: two resets off the next byte inside a cut identifier.
a = TcpFlow(case, client=CLIENT, cport=51001, server=SERVER, sport=25,
            pseudo=PSEUDO, client_isn=1100000)
a.handshake()
a.s(BANNER)
start = a.cseq
a.c(b"MAIL FROM:<alice@exa", b"MAIL FROM:<xxxxx@xxx")
stray(a, a.cseq + 1000, "R")			# past the next byte
challenge_ack(a, start)				# the cut segment is still held
stray(a, start + 12, "R")			# inside what was sent
challenge_ack(a, start)
a.c(b"mple.org>\r\n", b"xxxx.xxx>\r\n")
a.s(b"250 2.1.0 Ok\r\n")
a.c(b"QUIT\r\n")
a.s(b"221 2.0.0 Bye\r\n")
a.close()

# B: a reset with data, not at the next byte.
b = TcpFlow(case, client=CLIENT, cport=51002, server=SERVER, sport=25,
            pseudo=PSEUDO, client_isn=1200000)
b.handshake()
b.s(BANNER)
RST_DATA = "MAIL FROM:<bob@example.net>\r\n"
stray(b, b.cseq + 500, "RA", RST_DATA.encode(), mask(RST_DATA).encode())
challenge_ack(b, b.cseq)
b.c(b"MAIL FROM:<carol@example.org>\r\n",
    b"MAIL FROM:<xxxxx@xxxxxxx.xxx>\r\n")
b.s(b"250 2.1.0 Ok\r\n")
b.close()

# C: a reset with data at the next byte ends the stream; the ports are
# used again by a new connection with data on its SYN.
c = TcpFlow(case, client=CLIENT, cport=51003, server=SERVER, sport=25,
            pseudo=PSEUDO, client_isn=1300000)
c.handshake()
c.s(BANNER)
c.c(b"EHLO client.example.org\r\n")
c.s(b"250 mx.example.net\r\n")
RST_DATA = "MAIL FROM:<dave@example.net>\r\n"
c.c(RST_DATA.encode(), mask(RST_DATA).encode(), flags="RA")

c2 = TcpFlow(case, client=CLIENT, cport=51003, server=SERVER, sport=25,
             pseudo=PSEUDO, client_isn=9300000, server_isn=8300000)
c2.c(b"MAIL FROM:<erin@example.org>\r\n",
     b"MAIL FROM:<xxxx@xxxxxxx.xxx>\r\n", flags="S",
     opts=SYN_OPTS + [(34, bytes.fromhex("5a17c0ffee00ba11"))])
c2.s(flags="SA")
c2.c(flags="A")
c2.s(b"250 2.1.0 Ok\r\n")
c2.c(b"QUIT\r\n")
c2.s(b"221 2.0.0 Bye\r\n")
c2.close()
case.write()
