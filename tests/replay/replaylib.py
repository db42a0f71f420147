"""
replaylib.py — shared helpers for the replay cases' make.py scripts.

A case script describes a conversation once and says, packet by packet,
what the server side must see.  The helpers here keep the rest out of
sight: fixed timestamps, fixed link headers, TCP sequence bookkeeping, and
a small pcap writer (so caplen/len and timestamps are exactly what the
script says, whatever the installed scapy does).

The expected packets are built from scratch with the rewritten fields
(scapy computes every checksum anew), never by running nfredact.

Each case is written as captured on either side of the relay, chosen by
the environment variable REPLAY_SIDE:

  server (default)  replies and the server's ICMP errors as the server
                    sent them, to the client's pseudonym
  client            the same packets as tcpdump on the client-facing
                    interface records them, to the real client

Inbound packets are the same on both sides.  What the dry-run must write
is the same too: the server's view, with the pseudonym in both directions.
"""

import os
import re
import struct
import sys

from scapy.all import (IP, TCP, UDP, Ether, IPv6, IPv6ExtHdrFragment, Raw,
                       raw)

CLIENT_MAC = "02:00:00:00:00:01"	# the client side (or its router)
SERVER_MAC = "02:00:00:00:00:02"	# the server host

T0_US = 1700000000 * 1000000		# every case starts at the same instant
STEP_US = 1000

SIDES = ("server", "client")

LINKTYPE_ETHERNET = 1


def write_pcap(path, records, snaplen=65535, linktype=LINKTYPE_ETHERNET):
    """Write (ts_us, data, orig_len) records as a microsecond pcap."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snaplen,
                            linktype))
        for ts_us, data, orig_len in records:
            f.write(struct.pack("<IIII", ts_us // 1000000, ts_us % 1000000,
                                len(data), orig_len))
            f.write(data)


def read_pcap(path):
    """Read a pcap (either byte order, us or ns) into (linktype, records)
    with records as (ts_ns, data, orig_len)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 24:
        raise ValueError("%s: not a pcap file" % path)
    magic_le = struct.unpack("<I", blob[:4])[0]
    for endian in ("<", ">"):
        magic = struct.unpack(endian + "I", blob[:4])[0]
        if magic in (0xa1b2c3d4, 0xa1b23c4d):
            break
    else:
        raise ValueError("%s: bad pcap magic %#x" % (path, magic_le))
    nano = magic == 0xa1b23c4d
    linktype = struct.unpack(endian + "I", blob[20:24])[0] & 0x0fffffff
    records = []
    off = 24
    while off < len(blob):
        if off + 16 > len(blob):
            raise ValueError("%s: truncated record header" % path)
        sec, frac, caplen, orig_len = struct.unpack(endian + "IIII",
                                                    blob[off:off + 16])
        off += 16
        data = blob[off:off + caplen]
        if len(data) != caplen:
            raise ValueError("%s: truncated record" % path)
        off += caplen
        ts_ns = sec * 1000000000 + (frac if nano else frac * 1000)
        records.append((ts_ns, data, orig_len))
    return linktype, records


def ether(inbound):
    """The link header of a packet towards (inbound) or from the server."""
    if inbound:
        return Ether(src=CLIENT_MAC, dst=SERVER_MAC)
    return Ether(src=SERVER_MAC, dst=CLIENT_MAC)


class Case:
    """One replay case: the input capture, the expected output, the list
    of original identifiers that must never show up in the tool's output."""

    def __init__(self, argv=None, snaplen=65535):
        argv = sys.argv if argv is None else argv
        if len(argv) < 2:
            sys.exit("usage: %s OUTDIR" % argv[0])
        self.outdir = argv[1]
        self.snaplen = snaplen
        self.side = os.environ.get("REPLAY_SIDE", "server")
        if self.side not in SIDES:
            sys.exit("REPLAY_SIDE must be one of %s" % ", ".join(SIDES))
        self.clock = T0_US
        self.inputs = []
        self.expected = []
        self.originals = []
        self.clients = []

    def tick(self, us=STEP_US):
        self.clock += us
        return self.clock

    def original(self, *idents):
        """Identifiers fed in that must not appear in the tool's output."""
        for ident in idents:
            if ident not in self.originals:
                self.originals.append(ident)

    def real_clients(self, *addrs):
        """Client addresses that no IP header or ICMP quote of the output
        may show: every packet of theirs is covered and rewritten."""
        for addr in addrs:
            if addr not in self.clients:
                self.clients.append(addr)

    def packet(self, pkt_in, pkt_out=None, caplen=None):
        """Feed @pkt_in; @pkt_out is what must come out at the same
        timestamp (None: dropped).  @caplen captures @pkt_in shorter."""
        ts = self.tick()
        data = raw(pkt_in)
        cap = data if caplen is None else data[:caplen]
        self.inputs.append((ts, cap, len(data)))
        if pkt_out is not None:
            out = raw(pkt_out)
            self.expected.append((ts, out if caplen is None else out[:caplen],
                                  len(out)))
        return ts

    def same(self, pkt, caplen=None):
        """A packet that must pass byte for byte."""
        return self.packet(pkt, pkt, caplen)

    def drop(self, pkt, caplen=None):
        """A packet that must not come out."""
        return self.packet(pkt, None, caplen)

    def reply(self, to_pseudonym, to_client, caplen=None, passes=True):
        """A packet towards the client: the capture holds @to_pseudonym
        (as the server sent it) on the server's side, @to_client on the
        client's; the output must hold @to_pseudonym, the server's view,
        unless it must not pass (@passes False)."""
        pkt_in = to_client if self.side == "client" else to_pseudonym
        ts = self.tick()
        data = raw(pkt_in)
        self.inputs.append((ts, data if caplen is None else data[:caplen],
                            len(data)))
        if passes:
            out = raw(to_pseudonym)
            self.expected.append((ts, out if caplen is None else out[:caplen],
                                  len(out)))
        return ts

    def emit_expected(self, pkt, ts):
        """An expected packet not paired with one input (reassembly)."""
        data = raw(pkt)
        self.expected.append((ts, data, len(data)))

    def write(self, expected=True):
        """Write input.pcap, originals.txt and, unless the case checks
        properties instead (check.py), expected.pcap."""
        os.makedirs(self.outdir, exist_ok=True)
        write_pcap(os.path.join(self.outdir, "input.pcap"), self.inputs,
                   self.snaplen)
        if expected:
            write_pcap(os.path.join(self.outdir, "expected.pcap"),
                       self.expected, self.snaplen)
        with open(os.path.join(self.outdir, "originals.txt"), "w") as f:
            for ident in self.originals:
                f.write(ident + "\n")
        with open(os.path.join(self.outdir, "clients.txt"), "w") as f:
            for addr in self.clients:
                f.write(addr + "\n")


def ip_layer(src, dst, ipid=None, ttl=64, tc=0, fl=0):
    """IPv4 or IPv6 header, by the form of @src."""
    if ":" in src:
        return IPv6(src=src, dst=dst, hlim=ttl, tc=tc, fl=fl)
    return IP(src=src, dst=dst, id=ipid, ttl=ttl, flags="DF")


# TCP options of a Linux client and server: the engine must keep them.
SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1000, 0)),
            ("NOP", None), ("WScale", 7)]


class TcpFlow:
    """One TCP connection between a client and a service port.

    Inbound segments go from the real client; the server must see them
    from @pseudo, with the payload rewritten as the script says.  Replies
    are captured on the case's side (Case.reply()): to @pseudo as the
    server sends them, or to the real client as the client gets them;
    the output shows them as the server sent them.
    """

    def __init__(self, case, client, cport, server, sport, pseudo,
                 client_isn=1000000, server_isn=2000000, ttl=64,
                 pseudo_port=None):
        self.case = case
        self.client, self.cport = client, cport
        self.server, self.sport = server, sport
        self.pseudo = pseudo
        self.pseudo_port = cport if pseudo_port is None else pseudo_port
        self.cseq, self.sseq = client_isn, server_isn
        self.ttl = ttl
        self.cid, self.sid = 0x1000, 0x2000	# IP IDs, one per direction
        self.tsval = 5000
        self.v6 = ":" in client

    def _ts(self):
        self.tsval += 1
        return [("NOP", None), ("NOP", None),
                ("Timestamp", (self.tsval, 777000))]

    def _in(self, src, sport, flags, payload, opts, seq, ack):
        pkt = ether(True) / ip_layer(src, self.server, self.cid, self.ttl,
                                     fl=0x5a5a5) / \
            TCP(sport=sport, dport=self.sport, flags=flags, seq=seq,
                ack=ack, window=502, options=opts)
        if payload:
            pkt = pkt / Raw(payload)
        return pkt

    def _out(self, dst, dport, flags, payload, opts, seq, ack):
        pkt = ether(False) / ip_layer(self.server, dst, self.sid, 64,
                                      fl=0x1b1b1) / \
            TCP(sport=self.sport, dport=dport, flags=flags, seq=seq,
                ack=ack, window=509, options=opts)
        if payload:
            pkt = pkt / Raw(payload)
        return pkt

    def send(self, payload=b"", expect=None, flags="PA", opts=None):
        """Client → server; @expect is what the server must get (default:
        unchanged).  TCP never changes length."""
        expect = payload if expect is None else expect
        if len(expect) != len(payload):
            raise ValueError("TCP payload length must not change: %r"
                             % expect)
        opts = self._ts() if opts is None else opts
        ack = self.sseq if "A" in str(flags) else 0
        seq = self.cseq
        pin = self._in(self.client, self.cport, flags, payload, opts, seq,
                       ack)
        pout = self._in(self.pseudo, self.pseudo_port, flags, expect, opts,
                        seq, ack)
        self.cseq += len(payload) + (1 if set(str(flags)) & set("SF") else 0)
        self.cid += 1
        return pin, pout

    def reply(self, payload=b"", flags="PA", opts=None):
        """Server → client: (as the server sends it, to the pseudonym;
        as the client gets it, to the real client)."""
        opts = self._ts() if opts is None else opts
        seq = self.sseq
        pin = self._out(self.pseudo, self.pseudo_port, flags, payload, opts,
                        seq, self.cseq)
        pout = self._out(self.client, self.cport, flags, payload, opts, seq,
                         self.cseq)
        self.sseq += len(payload) + (1 if set(str(flags)) & set("SF") else 0)
        self.sid += 1
        return pin, pout

    # The usual moves, straight into the case.
    def c(self, payload=b"", expect=None, flags="PA", opts=None):
        pin, pout = self.send(payload, expect, flags, opts)
        self.case.packet(pin, pout)

    def s(self, payload=b"", flags="PA", opts=None):
        to_pseudonym, to_client = self.reply(payload, flags, opts)
        self.case.reply(to_pseudonym, to_client)

    def handshake(self):
        self.c(flags="S", opts=SYN_OPTS)
        self.s(flags="SA", opts=[("MSS", 1460), ("SAckOK", b""),
                                 ("Timestamp", (2000, 1000)), ("NOP", None),
                                 ("WScale", 7)])
        self.c(flags="A")

    def close(self):
        self.c(flags="FA")
        self.s(flags="FA")
        self.c(flags="A")


def udp_pair(client, cport, server, sport, pseudo, payload, expect=None,
             ipid=0x3000):
    """A client datagram and what the server must get."""
    expect = payload if expect is None else expect
    pin = ether(True) / ip_layer(client, server, ipid) / \
        UDP(sport=cport, dport=sport) / Raw(payload)
    pout = ether(True) / ip_layer(pseudo, server, ipid) / \
        UDP(sport=cport, dport=sport) / Raw(expect)
    return pin, pout


PROXY_V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def crc32c(data):
    """CRC32c (Castagnoli), as the PROXY v2 CRC32C TLV carries it."""
    crc = 0xffffffff
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff


assert crc32c(b"123456789") == 0xe3069283	# the standard check value


def proxy_tlv(kind, value):
    """A PROXY v2 TLV: type, 2-byte length, value."""
    return struct.pack("!BH", kind, len(value)) + value


def mqtt_packet(ptype_flags, body):
    """An MQTT control packet: fixed header with its varint length."""
    rem, n = b"", len(body)
    while True:
        byte, n = n % 128, n // 128
        rem += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return bytes([ptype_flags]) + rem + body


def mqtt_string(s):
    """An MQTT string: its 2-byte length, then the bytes."""
    return struct.pack("!H", len(s)) + s


def mask(text):
    """The mask action: letters → 'x', digits → '0', each UTF-8 byte of a
    non-ASCII character → 'x'; a percent escape of punctuation (%40,
    %2540) stays, any other escape → %78; the rest stays."""
    out = []
    i = 0
    while i < len(text):
        esc = re.match(r"%25([0-9A-Fa-f]{2})|%([0-9A-Fa-f]{2})", text[i:])
        if esc:
            c = chr(int(esc.group(1) or esc.group(2), 16))
            n = len(esc.group(0))
            punct = c.isascii() and c.isprintable() and not c.isalnum()
            out.append(esc.group(0) if punct else esc.group(0)[:n - 2] + "78")
            i += n
            continue
        ch = text[i]
        if ch.isascii() and ch.isalpha():
            out.append("x")
        elif ch.isascii() and ch.isdigit():
            out.append("0")
        elif not ch.isascii():
            out.append("x" * len(ch.encode()))
        else:
            out.append(ch)
        i += 1
    return "".join(out)


__all__ = ["Case", "TcpFlow", "udp_pair", "ether", "ip_layer", "mask",
           "read_pcap", "write_pcap", "SYN_OPTS", "IP", "IPv6", "TCP", "UDP",
           "Ether", "Raw", "IPv6ExtHdrFragment", "raw"]
