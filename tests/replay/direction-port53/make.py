#!/usr/bin/python3
"""
Direction when both ports belong to services (doc/design.md §3,
Direction).  A syslog datagram from a client's source port 53 to the
collector's port 514 has a service port on each side and no flow yet:
taking the lower port for the server's would make it a reply from the
resolver and pass it untouched, real source and all.  It is inbound:
source to the pseudonym, email masked and the client's address in the
message truncated; so is the next one on the same flow.

The other way round, a DNS query from the client's port 514 to the
resolver is inbound too (to dns: only the source changes), and the
resolver's answer from port 53 to the pseudonym's port 514 is outbound
by its flow: back to the real client, unchanged.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, ether, udp_pair, IP, UDP, Raw  # noqa: E402
from scapy.all import DNS, DNSQR, DNSRR, raw  # noqa: E402

CLIENT, SERVER, PSEUDO = "192.0.2.55", "198.51.100.53", "192.0.2.0"

case = Case()
case.original(CLIENT, "alice@example.org", "bob@example.net")
case.real_clients(CLIENT)

MSG1 = b"<86>1 2026-12-07T12:00:00Z gw sshd - - - accepted alice@example.org from 192.0.2.55\n"
SEEN1 = b"<86>1 2026-12-07T12:00:00Z gw sshd - - - accepted xxxxx@xxxxxxx.xxx from 192.0.2.00\n"
MSG2 = b"<86>1 2026-12-07T12:00:01Z gw sshd - - - closed bob@example.net 192.0.2.55:22\n"
SEEN2 = b"<86>1 2026-12-07T12:00:01Z gw sshd - - - closed xxx@xxxxxxx.xxx 192.0.2.00:22\n"

case.packet(*udp_pair(CLIENT, 53, SERVER, 514, PSEUDO, MSG1, SEEN1, ipid=0x5301))
case.packet(*udp_pair(CLIENT, 53, SERVER, 514, PSEUDO, MSG2, SEEN2, ipid=0x5302))

query = raw(DNS(id=0x1234, rd=1, qd=DNSQR(qname="mx.example.net", qtype="A")))
case.packet(*udp_pair(CLIENT, 514, SERVER, 53, PSEUDO, query, ipid=0x5303))
answer = raw(DNS(id=0x1234, qr=1, rd=1, ra=1,
                 qd=DNSQR(qname="mx.example.net", qtype="A"),
                 an=DNSRR(rrname="mx.example.net", type="A", ttl=300,
                          rdata="198.51.100.25")))
case.reply(
    ether(False) / IP(src=SERVER, dst=PSEUDO, id=0x5304, flags="DF") /
    UDP(sport=53, dport=514) / Raw(answer),
    ether(False) / IP(src=SERVER, dst=CLIENT, id=0x5304, flags="DF") /
    UDP(sport=53, dport=514) / Raw(answer))
case.write()
