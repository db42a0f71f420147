#!/usr/bin/python3
"""
SYNs as the server's kernel takes them (tcp_validate_incoming()).

  A. TCP Fast Open: the SYN carries a request with a From header.  Its
     data is the first bytes of the stream: the address is masked, the
     rest kept.  The SYN-ACK is lost on the way back and the client sends
     SYN and data again: the connection is synchronised (the SYN-ACK was
     seen), so Linux answers with a challenge ACK and discards it; it
     passes with all of its data masked.  The server sends its SYN-ACK
     again and the connection goes on.
  B. A plain SYN sent twice before the SYN-ACK: the stream still starts
     at the ISN, and the request after the handshake is redacted.
  C. In an established connection, a request whose From address is cut
     over two segments; between the two, a SYN with another ISN carrying
     a From header.  Linux discards it (challenge ACK): it passes with its
     data masked and does not restart the stream, so the address cut in
     two is still masked whole.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow, SYN_OPTS, mask  # noqa: E402

CLIENT, SERVER, PSEUDO = "192.0.2.55", "198.51.100.80", "192.0.2.0"
TFO_OPTS = SYN_OPTS + [(34, bytes.fromhex("5a17c0ffee00ba11"))]	# TFO cookie
SYNACK_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (2000, 1000)),
               ("NOP", None), ("WScale", 7)]
OK = b"HTTP/1.1 204 No Content\r\n\r\n"

case = Case()
case.original(CLIENT, "alice@example.org", "bob@example.net",
              "carol@example.org", "dave@example.net")


def b(text):
    return text.encode()


def stray(c, seq, flags, payload, expect):
    """A segment at @seq outside the flow's bookkeeping (ack 0)."""
    saved = c.cseq
    c.cseq = seq
    pin, pout = c.send(payload, expect, flags=flags)
    c.cseq = saved
    case.packet(pin, pout)


# A: Fast Open, then the SYN again after the SYN-ACK.
REQ_A = ("GET /inbox HTTP/1.1\r\nHost: mail.example.net\r\n"
         "From: alice@example.org\r\n\r\n")
SEEN_A = REQ_A.replace("alice@example.org", "xxxxx@xxxxxxx.xxx")
a = TcpFlow(case, client=CLIENT, cport=50001, server=SERVER, sport=80,
            pseudo=PSEUDO, client_isn=3000000)
a.c(b(REQ_A), b(SEEN_A), flags="S", opts=TFO_OPTS)
sseq = a.sseq
a.s(flags="SA", opts=SYNACK_OPTS)		# acknowledges the data; lost
stray(a, 3000000, "S", b(REQ_A), b(mask(REQ_A)))	# discarded by Linux
a.sseq = sseq
a.s(flags="SA", opts=SYNACK_OPTS)		# again
a.c(flags="A")
a.s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
a.c(flags="A")
a.close()

# B: the SYN twice, then an ordinary request.
bflow = TcpFlow(case, client=CLIENT, cport=50002, server=SERVER, sport=80,
                pseudo=PSEUDO, client_isn=4000000)
bflow.c(flags="S", opts=SYN_OPTS)
stray(bflow, 4000000, "S", b"", b"")		# retransmitted
bflow.s(flags="SA", opts=SYNACK_OPTS)
bflow.c(flags="A")
REQ_B = "POST /signup HTTP/1.1\r\nFrom: bob@example.net\r\nContent-Length: 0\r\n\r\n"
bflow.c(b(REQ_B), b(REQ_B.replace("bob@example.net", "xxx@xxxxxxx.xxx")))
bflow.s(OK)
bflow.close()

# C: a SYN inside the connection, between the two halves of an address.
c = TcpFlow(case, client=CLIENT, cport=50003, server=SERVER, sport=80,
            pseudo=PSEUDO, client_isn=5000000)
c.handshake()
held_from = c.cseq
c.c(b"POST /send HTTP/1.1\r\nFrom: carol@exa",
    b"POST /send HTTP/1.1\r\nFrom: xxxxx@xxx")
after = c.cseq
SYN_DATA = "From: dave@example.net\r\n"
stray(c, 0x70000000, "S", b(SYN_DATA), b(mask(SYN_DATA)))
c.cseq = held_from				# the server has not got the held bytes
c.s(flags="A")					# challenge ACK
c.cseq = after
c.c(b"mple.org\r\nContent-Length: 0\r\n\r\n",
    b"xxxx.xxx\r\nContent-Length: 0\r\n\r\n")
c.s(OK)
c.close()
case.write()
