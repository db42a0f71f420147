#!/usr/bin/python3
"""
MQTT 3.1.1 read by its framing: CONNECT with an email as client id and
user name, then one segment with four messages — a QoS 1 PUBLISH whose
topic holds an email and whose payload ends in a digit, a QoS 0 PUBLISH
whose topic is 97 bytes long (its length's low byte is 'a', glued to
the email that starts the topic), a QoS 1 PUBLISH whose packet id is
"g\\0" right after a topic that ends in "@example.or", and a SUBSCRIBE
with an email in its topic filter — then a PUBLISH with a phone number,
PINGREQ and DISCONNECT.  The broker must get every identifier masked
and every framing byte unchanged (a masked length or packet id would
break the session); a topic with two addresses glued by "/" has both
masked.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow, mask  # noqa: E402
from replaylib import mqtt_packet as mqtt, mqtt_string as string  # noqa: E402,E501


def connect(client_id, user, password):
    return mqtt(0x10, string(b"MQTT") + bytes([4, 0xc2]) +
                struct.pack("!H", 60) + string(client_id) + string(user) +
                string(password))


def publish(topic, message, pid=None):
    if pid is None:
        return mqtt(0x30, string(topic) + message)
    return mqtt(0x32, string(topic) + struct.pack("!H", pid) + message)


def subscribe(pid, topic_filter):
    return mqtt(0x82, struct.pack("!H", pid) + string(topic_filter) + b"\x01")


def masked(s):
    """The mask action on bytes."""
    return mask(s.decode()).encode()


long_topic = b"alice@example.org/" + b"z" * 74 + b"/home"
assert len(long_topic) == 97
long_topic_out = masked(b"alice@example.org") + long_topic[17:]
glued = b"site/dave@example.or"

case = Case()
case.original("192.0.2.55", "alice@example.org", "bob@example.net",
              "carol@example.com", "dave@example.or", "erin@example.org",
              "frank@example.org",
              "198.51.100.23", "+44 20 7946 0958")
case.real_clients("192.0.2.55")

c = TcpFlow(case, client="192.0.2.55", cport=40011,
            server="198.51.100.10", sport=1883, pseudo="192.0.2.0")
c.handshake()
c.c(connect(b"alice@example.org", b"bob@example.net", b"pw"),
    connect(masked(b"alice@example.org"), masked(b"bob@example.net"), b"pw"))
c.s(mqtt(0x20, b"\x00\x00"))
batch_in = (publish(b"u/carol@example.com", b"temp=21.5", 1) +
            publish(long_topic, b"on") +
            publish(glued, b"t=7", 0x6700) +
            subscribe(2, b"u/erin@example.org/#"))
# "/" is atext: "u/carol@example.com" is one address
batch_out = (publish(masked(b"u/carol@example.com"), b"temp=21.5", 1) +
             publish(long_topic_out, b"on") +
             publish(masked(b"site/dave@example.or"), b"t=7", 0x6700) +
             subscribe(2, masked(b"u/erin@example.org") + b"/#"))
c.c(batch_in, batch_out)
c.s(flags="A")
c.c(publish(b"calls", b"from 198.51.100.23 call +44 20 7946 0958", 3),
    publish(b"calls", b"from 198.51.100.00 call +00 00 0000 0000", 3))
c.s(flags="A")
# two addresses glued by "/": the second's local part takes the first's
# domain in; both are masked (the union)
c.c(publish(b"u/erin@example.org/devices/frank@example.org", b"on", 4),
    publish(masked(b"u/erin@example.org/devices/frank@example.org"), b"on", 4))
c.s(flags="A")
c.c(mqtt(0xc0, b""))
c.c(mqtt(0xe0, b""))
c.close()
case.write()
