#!/usr/bin/python3
"""
Fragmented UDP syslog datagrams, IPv4 and IPv6, with an email and an IPv4
address cut in two by a fragment boundary.  The kernel reassembles before
the queue, so the dry-run does too: the output holds one reassembled,
redacted datagram where the fragment that completed it stood, and nothing
where the other fragments stood.  An unrelated ping between fragments
passes in its place.  The IPv6 fragments arrive last-first.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import (Case, ether, IP, IPv6, IPv6ExtHdrFragment, UDP,  # noqa: E402
                       Raw, raw)
from scapy.all import ICMP  # noqa: E402

COLLECTOR, COLLECTOR6 = "198.51.100.5", "2001:db8:ffff::5"

case = Case()
case.original("192.0.2.55", "2001:db8:1:2::55", "alice@example.org",
              "192.0.2.77")
case.real_clients("192.0.2.55", "2001:db8:1:2::55")


def chunks(l4, size):
    """Cut the L4 bytes into fragment payloads of @size (a multiple of 8)."""
    return [(off, l4[off:off + size]) for off in range(0, len(l4), size)]


def frags4(src, dst, ipid, l4, size):
    last = len(l4) - size if len(l4) % size == 0 else len(l4) - len(l4) % size
    return [ether(True) / IP(src=src, dst=dst, id=ipid, proto=17, ttl=61,
                             flags="MF" if off < last else 0, frag=off // 8) /
            Raw(part) for off, part in chunks(l4, size)]


def frags6(src, dst, fid, l4, size):
    last = len(l4) - size if len(l4) % size == 0 else len(l4) - len(l4) % size
    return [ether(True) / IPv6(src=src, dst=dst, hlim=61) /
            IPv6ExtHdrFragment(nh=17, id=fid, offset=off // 8,
                               m=1 if off < last else 0) /
            Raw(part) for off, part in chunks(l4, size)]


# IPv4: 56 bytes per fragment (UDP header + 48); the email straddles.
msg = (b"<34>1 2023-11-14T22:13:20Z web01 auth - - user alice@example.org "
       b"failed from 192.0.2.77 three times in a row")
seen = (b"<34>1 2023-11-14T22:13:20Z web01 auth - - user xxxxx@xxxxxxx.xxx "
        b"failed from 192.0.2.00 three times in a row")
assert 8 + msg.index(b"alice") < 56 < 8 + msg.index(b".org")
datagram = IP(src="192.0.2.55", dst=COLLECTOR, id=0x7777, ttl=61) / \
    UDP(sport=40514, dport=514) / Raw(msg)
parts = frags4("192.0.2.55", COLLECTOR, 0x7777, raw(datagram)[20:], 56)
assert len(parts) == 3
case.drop(parts[0])
case.same(ether(True) / IP(src="203.0.113.1", dst=COLLECTOR, id=1) /
          ICMP(type=8, id=7, seq=1) / Raw(b"ping"))
case.drop(parts[1])
case.packet(parts[2], ether(True) /
            IP(src="192.0.2.0", dst=COLLECTOR, id=0x7777, ttl=61, flags=0) /
            UDP(sport=40514, dport=514) / Raw(seen))

# IPv6: 88 bytes per fragment, the IPv4 address straddles; last-first.
datagram6 = IPv6(src="2001:db8:1:2::55", dst=COLLECTOR6, hlim=61) / \
    UDP(sport=40515, dport=514) / Raw(msg)
parts6 = frags6("2001:db8:1:2::55", COLLECTOR6, 0xabcd1234,
                raw(datagram6)[40:], 88)
assert len(parts6) == 2
off77 = 8 + msg.index(b"192.0.2.77")
assert off77 < 88 < off77 + len(b"192.0.2.77")
case.drop(parts6[1])
case.packet(parts6[0], ether(True) /
            IPv6(src="2001:db8:1::", dst=COLLECTOR6, hlim=61) /
            UDP(sport=40515, dport=514) / Raw(seen))
case.write()
