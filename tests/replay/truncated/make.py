#!/usr/bin/python3
"""
A capture with snap length 128.  In an MQTT connection, a large PUBLISH
from the client and a large message from the broker were cut by the
capture (caplen < len): both would need rewriting, so both are dropped.
A large HTTP request to a port no service covers, cut the same way,
passes exactly as captured (caplen and length kept).  The PINGREQ after
the dropped PUBLISH waits for the gap before it, which never fills in the
capture: it is dropped too, as the receiving TCP would never hand it to
the broker without the bytes before it (the client would send both
again).  The broker's PINGRESP goes through as usual.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow, ether, IP, TCP, Raw  # noqa: E402

SNAPLEN = 128
CLIENT, SERVER, PSEUDO = "192.0.2.55", "198.51.100.10", "192.0.2.0"


def publish(topic, message):
    body = struct.pack("!H", len(topic)) + topic + message
    assert len(body) < 16384
    return bytes([0x30, 0x80 | (len(body) & 0x7f), len(body) >> 7]) + body


case = Case(snaplen=SNAPLEN)
case.original(CLIENT, "alice@example.org")

c = TcpFlow(case, client=CLIENT, cport=40001, server=SERVER, sport=1883,
            pseudo=PSEUDO)
c.handshake()
big = publish(b"inbox/alice", b"." * 200 + b" from alice@example.org")
pin, _ = c.send(big, big.replace(b"alice@example.org", b"xxxxx@xxxxxxx.xxx"))
case.drop(pin, caplen=SNAPLEN)			# cut: cannot be rewritten
c.s(flags="A")
case.reply(*c.reply(publish(b"inbox/alice", b"#" * 300)), caplen=SNAPLEN,
           passes=False)			# cut: cannot be translated back
case.same(ether(True) / IP(src=CLIENT, dst=SERVER, id=0x0808) /
          TCP(sport=40080, dport=80, flags="PA", seq=1, ack=1) /
          Raw(b"POST /form HTTP/1.1\r\nHost: www.example.net\r\n\r\n" +
              b"email=alice@example.org&" + b"z" * 300),
          caplen=SNAPLEN)			# not covered: passes as captured
pin, _ = c.send(b"\xc0\x00")
case.drop(pin)					# after a gap that never fills
c.s(b"\xd0\x00")				# PINGRESP
case.write()
