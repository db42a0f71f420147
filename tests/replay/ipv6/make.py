#!/usr/bin/python3
"""
IRC over TCP/IPv6: the client 2001:db8:1:2::55 must reach the server as
2001:db8:1:: (hop limit, flow label, TCP options kept), and the IPv6
addresses it mentions -- full, compressed, upper case, trailing ::, in
brackets with a port, v4-mapped, with a zone -- keep their text length
with the host digits zeroed.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402

case = Case()
case.original("2001:db8:1:2::55", "2001:0db8:0001:0002:0003:0004:0005:0006",
              "2001:DB8:1:2:0:0:0:AB", "2001:db8:1:2::", "192.0.2.55",
              "fe80::1%eth0")
case.real_clients("2001:db8:1:2::55")

c = TcpFlow(case, client="2001:db8:1:2::55", cport=50123,
            server="2001:db8:ffff::10", sport=6667, pseudo="2001:db8:1::",
            ttl=57)
c.handshake()
c.c(b"NICK alice\r\nUSER alice 0 * :Alice\r\n")
c.s(b":irc.example.net 001 alice :Welcome\r\n")
c.c(b"PRIVMSG #ops :seen 2001:0db8:0001:0002:0003:0004:0005:0006 today\r\n",
    b"PRIVMSG #ops :seen 2001:0db8:0001:0000:0000:0000:0000:0000 today\r\n")
c.c(b"PRIVMSG #ops :short 2001:db8:1:2::55, upper 2001:DB8:1:2:0:0:0:AB, "
    b"net 2001:db8:1:2::/64\r\n",
    b"PRIVMSG #ops :short 2001:db8:1:0::00, upper 2001:DB8:1:0:0:0:0:00, "
    b"net 2001:db8:1:0::/64\r\n")
c.c(b"PRIVMSG #ops :web [2001:db8:1:2::55]:8883 mapped ::ffff:192.0.2.55 "
    b"link fe80::1%eth0 v4 192.0.2.55\r\n",
    b"PRIVMSG #ops :web [2001:db8:1:0::00]:8883 mapped ::ffff:192.0.2.00 "
    b"link fe80::0%eth0 v4 192.0.2.00\r\n")
c.s(flags="A")
c.c(b"QUIT :bye\r\n")
c.close()
case.write()
