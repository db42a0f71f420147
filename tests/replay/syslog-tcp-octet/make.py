#!/usr/bin/python3
"""
RFC 6587 octet counting over TCP/IPv4: "LEN <PRI>1 ..." frames, two in
one segment, a third split over two segments (the cut between frames'
identifiers).  The collector must get the same frames, same lengths, with
the identifiers redacted.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402


def frame(msg):
    return b"%d %s" % (len(msg), msg)


MSGS = [
    (b"<34>1 2023-11-14T22:13:20.003Z web01 sshd 1234 - - "
     b"Failed password for alice@example.org from 192.0.2.77 port 50022",
     b"<34>1 2023-11-14T22:13:20.003Z web01 sshd 1234 - - "
     b"Failed password for xxxxx@xxxxxxx.xxx from 192.0.2.00 port 50022"),
    (b"<38>1 2023-11-14T22:13:20.100Z web01 sshd 1234 - - "
     b"Connection closed by 192.0.2.77",
     b"<38>1 2023-11-14T22:13:20.100Z web01 sshd 1234 - - "
     b"Connection closed by 192.0.2.00"),
    (b"<86>1 2023-11-14T22:13:21.000Z web01 su 99 - - "
     b"session opened for bob@example.net by (uid=0)",
     b"<86>1 2023-11-14T22:13:21.000Z web01 su 99 - - "
     b"session opened for xxx@xxxxxxx.xxx by (uid=0)"),
]

case = Case()
case.original("192.0.2.55", "192.0.2.77", "alice@example.org",
              "bob@example.net")
case.real_clients("192.0.2.55")

c = TcpFlow(case, client="192.0.2.55", cport=51000,
            server="198.51.100.5", sport=6514, pseudo="192.0.2.0")
c.handshake()
c.c(frame(MSGS[0][0]) + frame(MSGS[1][0]),
    frame(MSGS[0][1]) + frame(MSGS[1][1]))
c.s(flags="A")
third_in, third_out = frame(MSGS[2][0]), frame(MSGS[2][1])
cut = third_in.index(b" session")		# mid-frame, between identifiers
c.c(third_in[:cut], third_out[:cut])
c.c(third_in[cut:], third_out[cut:])
c.s(flags="A")
c.close()
case.write()
