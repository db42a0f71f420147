#!/usr/bin/python3
"""
Every field of a PROXY header goes through the service's detectors.
Connection 1: PROXY v2 over TCP/IPv4 with AUTHORITY, an SSL TLV whose CN
sub-TLV is an email address (haproxy's send-proxy-v2-ssl-cn), UNIQUE_ID
holding an IPv4 address, NETNS, a custom TLV with an email address and a
CRC32C TLV, then the stream's first bytes in the same segment: the
source is cut to /24, the binary destination masked to 0.0.0.0 by the
ipv4 rule, the emails and the IPv4 text masked, the CRC32C recomputed;
types, lengths and ports stay.  Connection 2: a v1 UNKNOWN line with
an email address and an IPv4 address.  Connection 3: a LOCAL header
whose TLV carries an email address (CRC recomputed).  A UDP datagram:
PROXY v2 over DGRAM with an SSL CN, then a syslog line.
"""
import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import PROXY_V2_SIG, crc32c, proxy_tlv as tlv, Case, TcpFlow, mask, udp_pair  # noqa: E402

SIG = PROXY_V2_SIG
AUTHORITY, CRC32C, UNIQUE_ID, SSL, NETNS = 0x02, 0x03, 0x05, 0x20, 0x30
SSL_VERSION, SSL_CN, CUSTOM = 0x21, 0x22, 0xe5


def ssl(version, cn):
    return tlv(SSL, b"\x07\x00\x00\x00\x00" + tlv(SSL_VERSION, version) +
               tlv(SSL_CN, cn))


def proxy_v2(cmd, fam, addrs, tlvs):
    """A v2 header: @addrs the address block, @tlvs the TLVs; a CRC32C
    TLV last, computed over the header with its value zeroed."""
    body = addrs + b"".join(tlvs) + tlv(CRC32C, b"\0\0\0\0")
    hdr = SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H", len(body)) + body
    return hdr[:-4] + struct.pack("!I", crc32c(hdr))


def inet(src, dst, sport, dport):
    return (ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
            + struct.pack("!HH", sport, dport))


def m(text):
    return mask(text.decode()).encode()


STREAM = b"<stream:stream to='example.net' from='carol@example.org'>"
FEATURES = b"<stream:stream from='example.net' id='c2s1'><stream:features/>"

case = Case()
case.original("192.0.2.55", "alice@example.org", "bob@example.net",
              "carol@example.org", "dave@example.org", "erin@example.org",
              "frank@example.org", "192.0.2.77")

c = TcpFlow(case, client="10.0.0.5", cport=41000, server="10.0.0.10",
            sport=5222, pseudo="10.0.0.5")
c.handshake()
c.c(proxy_v2(1, 0x11, inet("192.0.2.55", "198.51.100.10", 40001, 5222),
             [tlv(AUTHORITY, b"chat.example.net"),
              ssl(b"TLSv1.3", b"alice@example.org"),
              tlv(UNIQUE_ID, b"conn-192.0.2.55-1"),
              tlv(NETNS, b"tenant-a"),
              tlv(CUSTOM, b"owner=bob@example.net")]) + STREAM,
    proxy_v2(1, 0x11, inet("192.0.2.0", "0.0.0.0", 40001, 5222),
             [tlv(AUTHORITY, b"chat.example.net"),
              ssl(b"TLSv1.3", m(b"alice@example.org")),
              tlv(UNIQUE_ID, b"conn-000.0.0.00-1"),
              tlv(NETNS, b"tenant-a"),
              tlv(CUSTOM, b"owner=" + m(b"bob@example.net"))])
    + STREAM.replace(b"carol@example.org", m(b"carol@example.org")))
c.s(FEATURES)
c.close()

c = TcpFlow(case, client="10.0.0.5", cport=41001, server="10.0.0.10",
            sport=5222, pseudo="10.0.0.5", client_isn=3000000,
            server_isn=4000000)
c.handshake()
c.c(b"PROXY UNKNOWN user=dave@example.org via 192.0.2.77\r\n",
    b"PROXY UNKNOWN user=" + m(b"dave@example.org") + b" via 000.0.0.00\r\n")
c.c(STREAM, STREAM.replace(b"carol@example.org", m(b"carol@example.org")))
c.s(FEATURES)
c.close()

c = TcpFlow(case, client="10.0.0.5", cport=41002, server="10.0.0.10",
            sport=5222, pseudo="10.0.0.5", client_isn=5000000,
            server_isn=6000000)
c.handshake()
c.c(proxy_v2(0, 0x00, b"", [tlv(UNIQUE_ID, b"probe-erin@example.org")]),
    proxy_v2(0, 0x00, b"", [tlv(UNIQUE_ID, m(b"probe-erin@example.org"))]))
c.close()

case.packet(*udp_pair(
    "10.0.0.5", 40514, "10.0.0.10", 5514, "10.0.0.5",
    proxy_v2(1, 0x12, inet("192.0.2.55", "198.51.100.10", 514, 5514),
             [ssl(b"TLSv1.2", b"frank@example.org")])
    + b"<34>1 - web01 app - - - login frank@example.org",
    proxy_v2(1, 0x12, inet("192.0.2.0", "0.0.0.0", 514, 5514),
             [ssl(b"TLSv1.2", m(b"frank@example.org"))])
    + b"<34>1 - web01 app - - - login " + m(b"frank@example.org"),
    ipid=0x4001))
case.write()
