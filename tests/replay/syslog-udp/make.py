#!/usr/bin/python3
"""
RFC 5424 syslog over UDP/IPv4 from two hosts of one /24: messages with an
IPv4 address (also inside structured data), an email and MAC addresses in
both notations.  The collector must see both senders as 203.0.113.0 and
the identifiers redacted; datagram lengths stay.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, udp_pair  # noqa: E402

case = Case()
case.original("203.0.113.9", "203.0.113.10", "192.0.2.77", "192.0.2.78",
              "alice@example.org", "bob@example.net", "00:1a:2b:3c:4d:5e",
              "00-1A-2B-3C-4D-5F")
case.real_clients("203.0.113.9", "203.0.113.10")

COLLECTOR = "198.51.100.5"

case.packet(*udp_pair(
    "203.0.113.9", 40514, COLLECTOR, 514, "203.0.113.0",
    b"<34>1 2023-11-14T22:13:20.003Z web01 sshd 1234 ID47 - "
    b"Accepted password for alice@example.org from 192.0.2.77 port 50022 ssh2",
    b"<34>1 2023-11-14T22:13:20.003Z web01 sshd 1234 ID47 - "
    b"Accepted password for xxxxx@xxxxxxx.xxx from 192.0.2.00 port 50022 ssh2",
    ipid=0x4001))
case.packet(*udp_pair(
    "203.0.113.9", 40514, COLLECTOR, 514, "203.0.113.0",
    b"<30>1 2023-11-14T22:13:21.250Z web01 dhcpd 88 - - "
    b"DHCPACK on 192.0.2.77 to 00:1a:2b:3c:4d:5e via eth0",
    b"<30>1 2023-11-14T22:13:21.250Z web01 dhcpd 88 - - "
    b"DHCPACK on 192.0.2.00 to 00:0x:0x:0x:0x:0x via eth0",
    ipid=0x4002))
case.packet(*udp_pair(
    "203.0.113.10", 40515, COLLECTOR, 514, "203.0.113.0",
    b"<165>1 2023-11-14T22:13:22.000Z db02 app - - "
    b"[origin ip=\"192.0.2.78\"] login bob@example.net from 00-1A-2B-3C-4D-5F",
    b"<165>1 2023-11-14T22:13:22.000Z db02 app - - "
    b"[origin ip=\"192.0.2.00\"] login xxx@xxxxxxx.xxx from 00-0x-0x-0x-0x-0x",
    ipid=0x5001))
case.write()
