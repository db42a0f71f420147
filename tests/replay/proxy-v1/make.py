#!/usr/bin/python3
"""
PROXY protocol v1 in front of XMPP.  Connection 1 (over IPv4) starts with
a PROXY TCP4 line in a segment of its own; later in that stream a chat
message quotes a PROXY line, which is no header and stays.  Connection 2
(over IPv6) sends a PROXY TCP6 line and the stream opening in one segment.
Only the source address of each header changes; the terminator's address
is kept (address keep).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402

STREAM = (b"<?xml version='1.0'?><stream:stream to='example.net' "
          b"xmlns='jabber:client' version='1.0'>")
FEATURES = b"<stream:stream from='example.net' id='c2s1'><stream:features/>"

case = Case()
case.original("192.0.2.55", "2001:db8:1:2::55")

c = TcpFlow(case, client="10.0.0.5", cport=41000, server="10.0.0.10",
            sport=5222, pseudo="10.0.0.5")
c.handshake()
c.c(b"PROXY TCP4 192.0.2.55 198.51.100.10 40001 5222\r\n",
    b"PROXY TCP4 192.0.2.00 198.51.100.10 40001 5222\r\n")
c.c(STREAM)
c.s(FEATURES)
c.c(b"<message to='ops@example.net'><body>"
    b"PROXY TCP4 192.0.2.99 198.51.100.10 1 2</body></message>")
c.close()

c = TcpFlow(case, client="fd00::5", cport=41001, server="fd00::10",
            sport=5222, pseudo="fd00::5", client_isn=3000000,
            server_isn=4000000)
c.handshake()
c.c(b"PROXY TCP6 2001:db8:1:2::55 2001:db8:ffff::1 40002 5222\r\n" + STREAM,
    b"PROXY TCP6 2001:db8:1:0::00 2001:db8:ffff::1 40002 5222\r\n" + STREAM)
c.s(FEATURES)
c.close()
case.write()
