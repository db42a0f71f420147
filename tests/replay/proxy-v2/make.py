#!/usr/bin/python3
"""
PROXY protocol v2 (binary) in front of XMPP.  Connection 1: a TCP-over-
IPv4 header with ALPN, AUTHORITY and CRC32C TLVs, followed by the stream
opening in the same segment: the source address is cut to /24 and the
CRC32C recomputed.  Connection 2: TCP over IPv6 with UNIQUE_ID and NOOP
TLVs, no checksum: the source cut to /48.  Connection 3: a LOCAL header
(the terminator's health check), which has no address and stays.
Ports, destination addresses, TLVs and lengths never change.
"""
import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import PROXY_V2_SIG, crc32c, proxy_tlv as tlv, Case, TcpFlow  # noqa: E402

SIG = PROXY_V2_SIG
PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C = 0x01, 0x02, 0x03
PP2_TYPE_NOOP, PP2_TYPE_UNIQUE_ID = 0x04, 0x05


def proxy_v2(src, dst, sport, dport, tlvs=(), with_crc=False):
    """A PROXY (command 1) header for TCP over the family of @src."""
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    fam = 0x11 if s.version == 4 else 0x21
    body = s.packed + d.packed + struct.pack("!HH", sport, dport)
    body += b"".join(tlv(k, v) for k, v in tlvs)
    if with_crc:
        body += tlv(PP2_TYPE_CRC32C, b"\0\0\0\0")
    hdr = SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body
    if with_crc:	# the checksum covers the header with its field zeroed
        hdr = hdr[:-4] + struct.pack("!I", crc32c(hdr))
    return hdr


LOCAL = SIG + bytes([0x20, 0x00]) + struct.pack("!H", 0)
STREAM = (b"<?xml version='1.0'?><stream:stream to='example.net' "
          b"xmlns='jabber:client' version='1.0'>")
FEATURES = b"<stream:stream from='example.net' id='c2s1'><stream:features/>"
TLVS_V4 = [(PP2_TYPE_ALPN, b"xmpp-client"), (PP2_TYPE_AUTHORITY, b"chat.example.net")]
TLVS_V6 = [(PP2_TYPE_UNIQUE_ID, b"conn-0002"), (PP2_TYPE_NOOP, b"\0\0\0")]

case = Case()
case.original("192.0.2.55", "2001:db8:1:2::55")

c = TcpFlow(case, client="10.0.0.5", cport=41000, server="10.0.0.10",
            sport=5222, pseudo="10.0.0.5")
c.handshake()
c.c(proxy_v2("192.0.2.55", "198.51.100.10", 40001, 5222, TLVS_V4, True) + STREAM,
    proxy_v2("192.0.2.0", "198.51.100.10", 40001, 5222, TLVS_V4, True) + STREAM)
c.s(FEATURES)
c.close()

c = TcpFlow(case, client="10.0.0.5", cport=41001, server="10.0.0.10",
            sport=5222, pseudo="10.0.0.5", client_isn=3000000,
            server_isn=4000000)
c.handshake()
c.c(proxy_v2("2001:db8:1:2::55", "2001:db8:ffff::1", 40002, 5222, TLVS_V6),
    proxy_v2("2001:db8:1::", "2001:db8:ffff::1", 40002, 5222, TLVS_V6))
c.c(STREAM)
c.s(FEATURES)
c.close()

c = TcpFlow(case, client="10.0.0.5", cport=41002, server="10.0.0.10",
            sport=5222, pseudo="10.0.0.5", client_isn=5000000,
            server_isn=6000000)
c.handshake()
c.c(LOCAL)
c.close()
case.write()
