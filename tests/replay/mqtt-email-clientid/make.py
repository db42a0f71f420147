#!/usr/bin/python3
"""
MQTT 3.1.1 over TCP/IPv4: handshake, CONNECT with the client id
alice@example.org, CONNACK, a PUBLISH whose payload holds an IPv4 address
and a phone number, DISCONNECT, close.  The broker must see the client as
192.0.2.0 in both directions and the identifiers masked; its replies are
captured to 192.0.2.0 (server side) or to 192.0.2.55 (client side).
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402
from replaylib import mqtt_packet as mqtt, mqtt_string as string  # noqa: E402,E501


def connect(client_id):
    return mqtt(0x10, string(b"MQTT") + bytes([4, 0x02]) +
                struct.pack("!H", 60) + string(client_id))


def publish(topic, message):
    return mqtt(0x30, string(topic) + message)


CONNACK = mqtt(0x20, b"\x00\x00")
DISCONNECT = mqtt(0xe0, b"")

case = Case()
case.original("192.0.2.55", "alice@example.org", "198.51.100.23",
              "+44 20 7946 0958", "+442079460958")
case.real_clients("192.0.2.55")

c = TcpFlow(case, client="192.0.2.55", cport=40001,
            server="198.51.100.10", sport=1883, pseudo="192.0.2.0")
c.handshake()
c.c(connect(b"alice@example.org"),
    connect(b"xxxxx@xxxxxxx.xxx"))
c.s(CONNACK)
c.c(publish(b"sensors/kitchen", b"temp=21.5 from 198.51.100.23, call +44 20 7946 0958"),
    publish(b"sensors/kitchen", b"temp=21.5 from 198.51.100.00, call +00 00 0000 0000"))
c.s(flags="A")
c.c(DISCONNECT)
c.close()
case.write()
