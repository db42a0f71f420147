#!/usr/bin/python3
"""Make the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

Usage: tests/fuzz/make-corpus.py [OUTDIR]      (default tests/fuzz/corpus)

fuzz_packet: single IP packets built with scapy (TCP, UDP, ICMP errors,
IPv6 extension headers, fragments).  fuzz_engine: conversations in the
record format of fuzz_engine.c (control byte, 2-byte length, packet):
one flow each, and many flows of every service at once with explicit
directions, streams cut across segments, out-of-order and retransmitted
segments, ICMP errors quoting flows both ways, holds decided by ticks,
a reload and a stop, a flood of flows.
fuzz_policy: the policies of doc/design.md §6 and broken variants.
fuzz_frame: client streams of each framing (make-frame-corpus.py).
Output is deterministic: the same scapy gives the same files.
"""
import hashlib
import os
import struct
import sys

from scapy.all import (IP, IPv6, TCP, UDP, ICMP, ICMPv6DestUnreach,
                       ICMPv6PacketTooBig, ICMPv6EchoRequest, IPOption_RR,
                       IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, IPv6ExtHdrDestOpt, Raw)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
frame_seeds = __import__("make-frame-corpus").frame_seeds

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus")

C4, S4 = "10.1.2.3", "192.0.2.1"
C6, S6 = "2001:db8:1:2::33", "2001:db8:ffff::1"


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- payloads -----------------------------------------------------------

def mqtt_connect(client_id):
    cid = client_id.encode()
    var = b"\x00\x04MQTT\x04\x02\x00\x3c"
    body = var + struct.pack("!H", len(cid)) + cid
    return bytes([0x10, len(body)]) + body


def mqtt_publish(topic, msg):
    t = topic.encode()
    body = struct.pack("!H", len(t)) + t + msg.encode()
    n = len(body)
    rl = bytes([n]) if n < 128 else bytes([(n & 0x7f) | 0x80, n >> 7])
    return b"\x30" + rl + body


def crc32c(data):
    crc = 0xffffffff
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff


def proxy_v2_tlvs():
    """PROXY v2 over TCP/IPv4 with AUTHORITY, an SSL TLV (VERSION, CN),
    UNIQUE_ID, NETNS, a custom TLV and a CRC32C TLV, then data."""
    def tlv(kind, value):
        return struct.pack("!BH", kind, len(value)) + value
    body = (bytes([198, 51, 100, 22, 192, 0, 2, 1]) + struct.pack("!HH", 56324, 5222)
            + tlv(0x02, b"chat.example.net")
            + tlv(0x20, b"\x07\0\0\0\0" + tlv(0x21, b"TLSv1.3")
                  + tlv(0x22, b"grace@example.org"))
            + tlv(0x05, b"id-203.0.113.8") + tlv(0x30, b"ns1")
            + tlv(0xe5, b"heidi@example.org") + tlv(0x03, b"\0\0\0\0"))
    hdr = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack("!H", len(body)) + body
    return hdr[:-4] + struct.pack("!I", crc32c(hdr)) + b"<stream to='ivan@example.org'/>"


PAYLOADS = {
    1883: [
        mqtt_connect("alice@example.org"),
        mqtt_publish("sensors/1", '{"phone":"+1 555 123 4567","ip":"198.51.100.7",'
                     '"mac":"00:1a:2b:3c:4d:5e","v6":"[2001:db8::1]:8883",'
                     '"dev":"imei=490154203237518","note":"secret"}'),
        b"RCPT TO:<bob@example.net> from carol@example.com +44-20-7946-0958",
        b"\xc0\x00",
    ],
    514: [
        b"<34>1 2024-01-01T00:00:00Z host app 1 - - login from 203.0.113.9 "
        b"user dave@example.org phone +4915112345678 fe80::1%eth0",
        b"87 <13>1 2024-01-01T00:00:01Z h a - - - via ::ffff:192.0.2.77 "
        b"and 2001:db8::dead:beef",
    ],
    5222: [
        b"PROXY TCP4 198.51.100.22 192.0.2.1 56324 5222\r\n"
        b"GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.5, 198.51.100.1\r\n\r\n",
        b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xc6\x33\x64\x16\xc0\x00\x02\x01"
        b"\xdc\x04\x14\x66<stream to='eve@example.org'/>",
        b"PROXY TCP6 2001:db8::5 2001:db8::1 4000 5222\r\nhello",
    ],
    80: [
        b"GET /?user=mallory HTTP/1.1\r\nHost: x\r\n"
        b"Forwarded: for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\"\r\n"
        b"X-Real-IP: 198.51.100.200\r\nX-Secret: hunter2\r\n"
        b"Cookie: mac=aa-bb-cc-dd-ee-ff\r\n\r\n",
        b"PROXY UNKNOWN\r\nGET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-Real-IP: 198.51.100.200,\r\n 203.0.113.9\r\n"
        b"x-real-ip : 192.0.2.7\r\n\r\n",
    ],
}

# ---- fuzz_packet ---------------------------------------------------------

def packet_seeds():
    pl = PAYLOADS[1883][1]
    seeds = {
        "v4-tcp": IP(src=C4, dst=S4) / TCP(sport=40000, dport=1883, flags="PA") / pl,
        "v4-tcp-opts": IP(src=C4, dst=S4, options=[IPOption_RR()]) /
        TCP(sport=40000, dport=1883, flags="S", options=[("MSS", 1460), ("SAckOK", b""),
                                                         ("Timestamp", (1, 0)), ("WScale", 7)]),
        "v4-udp": IP(src=C4, dst=S4) / UDP(sport=5000, dport=514) / PAYLOADS[514][0],
        "v4-udp-nocsum": IP(src=C4, dst=S4) / UDP(sport=5000, dport=514, chksum=0) / b"x",
        "v4-udp-odd": IP(src=C4, dst=S4) / UDP(sport=5000, dport=514) / b"abc",
        "v4-icmp-echo": IP(src=C4, dst=S4) / ICMP() / b"ping",
        "v4-icmp-unreach": IP(src=S4, dst=C4) / ICMP(type=3, code=4) /
        IP(src=C4, dst=S4) / TCP(sport=40000, dport=1883) / b"quoted",
        "v4-icmp-short-quote": IP(src=S4, dst=C4) / ICMP(type=11) /
        bytes(IP(src=C4, dst=S4) / UDP(sport=1, dport=514))[:24],
        "v4-frag-first": IP(src=C4, dst=S4, flags="MF", id=7) / UDP(sport=1, dport=514) / (b"A" * 16),
        "v4-frag-later": IP(src=C4, dst=S4, frag=3, id=7, proto=17) / (b"B" * 16),
        "v6-tcp": IPv6(src=C6, dst=S6) / TCP(sport=40000, dport=1883, flags="PA") / pl,
        "v6-udp": IPv6(src=C6, dst=S6) / UDP(sport=5000, dport=514) / PAYLOADS[514][1],
        "v6-ext-chain": IPv6(src=C6, dst=S6) / IPv6ExtHdrHopByHop() /
        IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting(addresses=[]) /
        TCP(sport=1, dport=80) / b"GET /",
        "v6-atomic-frag": IPv6(src=C6, dst=S6) / IPv6ExtHdrFragment(m=0, offset=0) /
        UDP(sport=1, dport=514) / b"x",
        "v6-frag": IPv6(src=C6, dst=S6) / IPv6ExtHdrFragment(m=1, offset=0, id=9) /
        UDP(sport=1, dport=514) / (b"C" * 24),
        "v6-echo": IPv6(src=C6, dst=S6) / ICMPv6EchoRequest(data=b"hi"),
        "v6-unreach": IPv6(src=S6, dst=C6) / ICMPv6DestUnreach() /
        IPv6(src=C6, dst=S6) / TCP(sport=40000, dport=1883) / b"q",
        "v6-ptb": IPv6(src=S6, dst=C6) / ICMPv6PacketTooBig(mtu=1280) /
        IPv6(src=C6, dst=S6) / UDP(sport=7, dport=514) / b"q",
    }
    for name, pkt in seeds.items():
        b = bytes(pkt)
        write("fuzz_packet", name, b)
        write("fuzz_packet", name + "-padded", b + b"\x00" * 6)


# ---- fuzz_engine ---------------------------------------------------------

FIX, DIR_IN, DIR_OUT, DIR_BOTH = 0x10, 1, 2, 3


def rec(pkt, ctl=0):
    b = bytes(pkt)
    return bytes([ctl]) + struct.pack("!H", len(b)) + b


def tcp_conversation(ipc, ips, c, s, port, payloads, ctl_in=0, ctl_out=0):
    """SYN, SYN-ACK, ACK, then each payload and the server's ACK, FIN."""
    cport, seq, sseq = 40001, 1000, 9000
    out = [rec(ipc(src=c, dst=s) / TCP(sport=cport, dport=port, flags="S", seq=seq), ctl_in),
           rec(ips(src=s, dst=c) / TCP(sport=port, dport=cport, flags="SA", seq=sseq, ack=seq + 1), ctl_out),
           rec(ipc(src=c, dst=s) / TCP(sport=cport, dport=port, flags="A", seq=seq + 1, ack=sseq + 1), ctl_in)]
    seq += 1
    for p in payloads:
        out.append(rec(ipc(src=c, dst=s) / TCP(sport=cport, dport=port, flags="PA",
                                                seq=seq, ack=sseq + 1) / p, ctl_in))
        seq += len(p)
        out.append(rec(ips(src=s, dst=c) / TCP(sport=port, dport=cport, flags="A",
                                                seq=sseq + 1, ack=seq), ctl_out))
    out.append(rec(ipc(src=c, dst=s) / TCP(sport=cport, dport=port, flags="FA",
                                            seq=seq, ack=sseq + 1), ctl_in))
    return b"".join(out)


def split(p, n):
    return [p[i:i + n] for i in range(0, len(p), n)]


def engine_seeds():
    for port, pls in PAYLOADS.items():
        if port == 514:
            continue
        for fam, ipc, c, s in (("v4", IP, C4, S4), ("v6", IPv6, C6, S6)):
            write("fuzz_engine", f"tcp{port}-{fam}",
                  tcp_conversation(ipc, ipc, c, s, port, pls))
            # the same bytes cut into small segments: stream-aware scanning
            segs = [x for p in pls for x in split(p, 7)]
            write("fuzz_engine", f"tcp{port}-{fam}-split",
                  tcp_conversation(ipc, ipc, c, s, port, segs, FIX, FIX | DIR_OUT))
            write("fuzz_engine", f"tcp{port}-{fam}-explicit",
                  tcp_conversation(ipc, ipc, c, s, port, pls, DIR_BOTH, DIR_OUT | 0x04))
    # PROXY headers with every kind of field at a stream's start, whole
    # and cut into small segments
    unknown = (b"PROXY UNKNOWN user=frank@example.org from 203.0.113.7\r\n"
               b"GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.5,\r\n"
               b"\t198.51.100.1\r\n\r\n")
    for name, hdr in (("proxy-v2-tlvs", proxy_v2_tlvs()), ("proxy-unknown", unknown)):
        write("fuzz_engine", name, tcp_conversation(IP, IP, C4, S4, 5222, [hdr]))
        write("fuzz_engine", f"{name}-split",
              tcp_conversation(IP, IP, C4, S4, 5222, split(hdr, 7), FIX, FIX | DIR_OUT))
    for fam, ipc, c, s in (("v4", IP, C4, S4), ("v6", IPv6, C6, S6)):
        msgs = b"".join(rec(ipc(src=c, dst=s) / UDP(sport=5140 + i, dport=514) / p, FIX)
                        for i, p in enumerate(PAYLOADS[514]))
        reply = rec(ipc(src=s, dst=c) / UDP(sport=514, dport=5140) / b"ok", 0)
        write("fuzz_engine", f"udp514-{fam}", msgs + reply)
        write("fuzz_engine", f"tcp514-{fam}",
              tcp_conversation(ipc, ipc, c, s, 514, PAYLOADS[514], 0x20, 0x40))
    # an ICMP error about a translated flow, after the flow exists
    conv = tcp_conversation(IP, IP, C4, S4, 1883, PAYLOADS[1883][:1])
    err = IP(src="192.0.2.254", dst=C4) / ICMP(type=3, code=4) / \
        IP(src=S4, dst=C4) / TCP(sport=1883, dport=40001, flags="A")
    err6 = IPv6(src="2001:db8:ffff::fe", dst=C6) / ICMPv6PacketTooBig(mtu=1280) / \
        IPv6(src=S6, dst=C6) / TCP(sport=1883, dport=40001, flags="A") / b"x"
    write("fuzz_engine", "icmp-error", conv + rec(err, DIR_OUT) + rec(err, 0))
    write("fuzz_engine", "icmp6-error",
          tcp_conversation(IPv6, IPv6, C6, S6, 1883, PAYLOADS[1883][:1]) + rec(err6, 0))
    # packets that must be dropped or passed, never rewritten
    write("fuzz_engine", "odd", rec(IP(src=C4, dst=S4, flags="MF") / UDP(dport=514) / b"x")
          + rec(bytes(IP(src=C4, dst=S4) / TCP(dport=1883) / b"abc")[:30])
          + rec(IP(src=C4, dst=S4) / TCP(dport=1883, chksum=0x1234) / b"alice@example.org")
          + rec(IP(src=C4, dst=S4) / TCP(dport=1883) / b"bob@example.org", 0x08)
          + rec(IP(src="172.16.0.1", dst=S4) / UDP(dport=514) / b"not a client"))


# ---- fuzz_engine: conversations of many flows ----------------------------
#
# The daemon passes a direction with every packet: IN for client→server,
# OUT for replies.  Steps (bits 5-7 of the control byte) move the clock
# before a record: 0 a millisecond, 1 20 ms (inside the 40 ms hold), 2 a
# second (past it), 3 11 s, 4 130 s, 5 an hour, 6 7500 s, 7 a day.
# Records of length 0 are commands: tick, reload, stop.

D_IN, D_OUT, D_AUTO = DIR_IN, DIR_OUT, 0
CMD_TICK, CMD_RELOAD, CMD_STOP = 1, 2, 3


def step(n):
    return n << 5


def cmd(c, st=0):
    return bytes([c | step(st)]) + b"\x00\x00"


class Tcp:
    """One TCP connection; records carry explicit directions by default."""

    def __init__(self, ip, c, s, cport, sport, isn=1000, sisn=9000):
        self.ip, self.c, self.s = ip, c, s
        self.cport, self.sport = cport, sport
        self.isn, self.seq, self.sseq = isn, isn + 1, sisn + 1

    def cpkt(self, flags, payload=b"", seq=None):
        seq = self.seq if seq is None else seq
        return (self.ip(src=self.c, dst=self.s) /
                TCP(sport=self.cport, dport=self.sport, flags=flags,
                    seq=seq % 2**32, ack=self.sseq % 2**32) / payload)

    def spkt(self, flags, payload=b""):
        return (self.ip(src=self.s, dst=self.c) /
                TCP(sport=self.sport, dport=self.cport, flags=flags,
                    seq=self.sseq % 2**32, ack=self.seq % 2**32) / payload)

    def handshake(self, ctl_in=D_IN, ctl_out=D_OUT):
        syn = self.ip(src=self.c, dst=self.s) / TCP(
            sport=self.cport, dport=self.sport, flags="S", seq=self.isn)
        synack = self.ip(src=self.s, dst=self.c) / TCP(
            sport=self.sport, dport=self.cport, flags="SA",
            seq=(self.sseq - 1) % 2**32, ack=self.seq % 2**32)
        return rec(syn, ctl_in) + rec(synack, ctl_out) + rec(self.cpkt("A"), ctl_in)

    def send(self, payload, ctl=D_IN):
        """The next client segment, in order."""
        r = rec(self.cpkt("PA", payload), ctl)
        self.seq += len(payload)
        return r

    def at(self, off, payload, ctl=D_IN):
        """A client segment at @off from the next byte, sequence unchanged."""
        return rec(self.cpkt("PA", payload, self.seq + off), ctl)

    def skip(self, n):
        self.seq += n

    def ack(self, ctl=D_OUT):
        return rec(self.spkt("A"), ctl)

    def reply(self, payload, ctl=D_OUT):
        r = rec(self.spkt("PA", payload), ctl)
        self.sseq += len(payload)
        return r

    def fin(self, ctl=D_IN):
        r = rec(self.cpkt("FA"), ctl)
        self.seq += 1
        return r

    def rst(self, ctl=D_IN):
        return rec(self.cpkt("R"), ctl)


def cut(p, *at):
    """@p cut at the offsets @at."""
    out, prev = [], 0
    for a in list(at) + [len(p)]:
        out.append(p[prev:a])
        prev = a
    return out


EMAIL_MSG = b"user alice@example.org phone +1 555 123 4567 at 198.51.100.7\n"
HTTP_REQ = (b"GET /?user=mallory HTTP/1.1\r\nHost: x\r\n"
            b"X-Real-IP: 198.51.100.200\r\nForwarded: for=192.0.2.60\r\n\r\n")
PROXY_REQ = (b"PROXY TCP4 198.51.100.22 192.0.2.1 56324 5222\r\n"
             b"<stream to='eve@example.org'/>")
CHAT_MSG = b"PRIVMSG #x :call +44 20 7946 0958 or mail bob@example.net\r\n"


def many_flows(ip, cs, s, d_in=D_IN, d_out=D_OUT):
    """Five TCP services and UDP syslog, interleaved, identifiers cut
    across segments, replies, ACKs and closes."""
    mq = Tcp(ip, cs[0], s, 40001, 1883)
    web = Tcp(ip, cs[1], s, 40100, 80, isn=50000, sisn=7000)
    rel = Tcp(ip, cs[2], s, 40200, 5222, isn=0xfffffff0, sisn=1)
    chat = Tcp(ip, cs[3], s, 40300, 6667, isn=3000000000)
    sysl = Tcp(ip, cs[4], s, 40400, 514)
    out = [mq.handshake(d_in, d_out), web.handshake(d_in, d_out),
           rel.handshake(d_in, d_out), chat.handshake(d_in, d_out),
           sysl.handshake(d_in, d_out)]
    a, b, c = cut(EMAIL_MSG, 9, 17)		# "user alic|e@exampl|e.org ..."
    h1, h2 = cut(HTTP_REQ, 50)
    p1, p2, p3 = cut(PROXY_REQ, 10, 40)
    k1, k2 = cut(CHAT_MSG, 20)
    out += [mq.send(a, d_in), web.send(h1, d_in), rel.send(p1, d_in),
            mq.send(b, d_in | step(1)), chat.send(k1, d_in),
            rec(ip(src=cs[4], dst=s) / UDP(sport=5140, dport=514) /
                PAYLOADS[514][0], d_in),
            web.send(h2, d_in), rel.send(p2, d_in), mq.send(c, d_in),
            mq.ack(d_out), web.reply(b"HTTP/1.1 200 OK\r\n\r\nhi", d_out),
            rel.send(p3, d_in | step(1)), chat.send(k2, d_in),
            sysl.send(PAYLOADS[514][1], d_in),
            rec(ip(src=s, dst=cs[4]) / UDP(sport=514, dport=5140) / b"ok", d_out),
            rel.ack(d_out), chat.ack(d_out), sysl.ack(d_out), web.ack(d_out),
            mq.fin(d_in), web.fin(d_in), rel.rst(d_in), chat.fin(d_in)]
    return b"".join(out)


def ooo_flow(ip, c, s):
    """Segments out of order: a gap that fills, one that never does."""
    t = Tcp(ip, c, s, 40500, 1883)
    a, b, cc = cut(EMAIL_MSG, 12, 30)
    out = [t.handshake(),
           t.at(len(a), b), t.at(len(a) + len(b), cc),	# after a gap
           t.send(a)]					# fills it
    t.skip(len(b) + len(cc))
    out += [t.ack(),
            # a gap that does not fill in time: dropped, sent again
            t.at(7, b"mallory@example.com\n"), cmd(CMD_TICK, 2),
            t.send(b"bob@ex"), t.at(0, b"bob@example.net\n", D_IN | step(1))]
    t.skip(len(b"bob@example.net\n"))
    out += [t.at(0, b"x" * 20), t.at(10, b"y" * 5), t.at(40, b"z"),
            t.at(20, b"w" * 20), t.ack(), t.fin()]
    return b"".join(out)


def retrans_flow(ip, c, s):
    """Retransmissions: of held bytes, of rewritten bytes the server has
    not acknowledged and of bytes it has, overlapping ones."""
    t = Tcp(ip, c, s, 40600, 1883)
    m1, m2 = cut(b"mail carol@example.com now\n", 12)
    out = [t.handshake(), t.send(m1)]
    out.append(t.at(-len(m1), m1))		# the held segment again
    out.append(t.send(m2))
    out.append(t.at(-len(m1) - len(m2), m1 + m2))	# all of it again
    out.append(t.at(-len(m2) - 4, m2[:4] if len(m2) > 4 else m2))
    out.append(t.ack())
    out.append(t.at(-len(m2), m2))		# acknowledged already
    out.append(t.send(b"phone +1 555 987 6543\n"))
    out.append(t.at(-10, b"987 6543\nand dave@example.org\n"))	# old and new
    t.skip(len(b"and dave@example.org\n"))
    out += [t.ack(), t.fin(), t.fin()]
    return b"".join(out)


def icmp_quotes():
    """ICMP errors quoting flows both ways: outbound (the server's side to
    the pseudonym, quoting pseudonym → server: mqtt truncates, so the
    pseudonym is known) and inbound (towards the client, quoting
    server → client), TCP and UDP, IPv4 and IPv6."""
    t4 = Tcp(IP, C4, S4, 40700, 1883)
    t6 = Tcp(IPv6, C6, S6, 40701, 1883)
    p4, p6 = "10.1.2.0", "2001:db8:1::"
    out = [t4.handshake(), t6.handshake(), t4.send(b"hello there\n"),
           t6.send(b"hello there\n"),
           rec(IP(src=S4, dst=C4) / UDP(sport=514, dport=5141) / b"x", D_OUT),
           rec(IP(src=C4, dst=S4) / UDP(sport=5141, dport=514) / b"<13>1 x", D_IN)]
    q4 = IP(src=p4, dst=S4) / TCP(sport=40700, dport=1883, flags="PA", seq=1001) / b"hello"
    q6 = IPv6(src=p6, dst=S6) / TCP(sport=40701, dport=1883, flags="PA", seq=1001) / b"hello"
    out += [
        # outbound: the server's host says the pseudonym is unreachable
        rec(IP(src=S4, dst=p4) / ICMP(type=3, code=3) / q4, D_OUT),
        rec(IP(src="192.0.2.254", dst=p4) / ICMP(type=3, code=4, nexthopmtu=1400) / q4, D_AUTO),
        rec(IPv6(src=S6, dst=p6) / ICMPv6PacketTooBig(mtu=1280) / q6, D_OUT),
        rec(IPv6(src="2001:db8:ffff::fe", dst=p6) / ICMPv6DestUnreach(code=4) / q6, D_AUTO),
        # inbound: the path towards the client about a reply
        rec(IP(src="10.1.2.254", dst=S4) / ICMP(type=11) /
            IP(src=S4, dst=C4) / TCP(sport=1883, dport=40700, flags="A"), D_IN),
        rec(IP(src=C4, dst=S4) / ICMP(type=3, code=3) /
            IP(src=S4, dst=C4) / UDP(sport=514, dport=5141) / b"x", D_IN),
        rec(IPv6(src=C6, dst=S6) / ICMPv6DestUnreach(code=1) /
            IPv6(src=S6, dst=C6) / TCP(sport=1883, dport=40701, flags="A"), D_IN),
        # quotes cut short, of no flow, with the wrong direction
        rec(IP(src=S4, dst=p4) / ICMP(type=3, code=3) / bytes(q4)[:28], D_OUT),
        rec(IP(src=S4, dst=p4) / ICMP(type=3, code=3) /
            IP(src=p4, dst=S4) / TCP(sport=1, dport=1883), D_OUT),
        rec(IP(src=S4, dst=p4) / ICMP(type=3, code=3) / q4, D_IN),
        t4.fin(), t6.fin()]
    return b"".join(out)


def holds_and_commands():
    """Held tails decided by the next segment, by the clock (ticks), by a
    retransmission, at a reload and at a stop; three hold times (mqtt
    40 ms, chat 2 s with mask, TCP syslog never)."""
    mq = Tcp(IP, C4, S4, 40800, 1883)
    chat = Tcp(IP, "10.1.2.5", S4, 40801, 6667)
    sysl = Tcp(IP, "10.1.2.6", S4, 40802, 514)
    out = [mq.handshake(), chat.handshake(), sysl.handshake(),
           mq.send(b"to dave@exa"), cmd(CMD_TICK, 1),	# still held
           mq.send(b"mple.org\n"),			# decided by the next
           mq.send(b"to erin@exa"), cmd(CMD_TICK, 2),	# timed out: masked
           chat.send(b"call +44 20 79"), cmd(CMD_TICK, 2),	# 2 s: held
           chat.at(-14, b"call +44 20 79", D_IN | step(1)),	# sent again:
							# masked now (mask)
           sysl.send(b"<13>1 from frank@exa"),		# never held
           cmd(CMD_RELOAD),				# decided, streams adopted
           chat.send(b"46 0958\r\n"), mq.send(b"then grace@ex"),
           chat.send(b"mail heidi@exa"), mq.ack(),
           cmd(CMD_TICK, 1), cmd(CMD_STOP),		# held ones dropped
           mq.send(b"never seen\n")]
    return b"".join(out)


def flood():
    """More UDP flows than the table has room for, then expiry."""
    out = []
    for i in range(70):
        out.append(rec(IP(src=f"10.0.{i // 200}.{i % 200 + 1}", dst=S4) /
                       UDP(sport=6000 + i, dport=514) / b"<13>1 m", D_IN | FIX))
    out.append(cmd(CMD_TICK, 5))			# past the UDP timeout
    # the engine expires some flows every 16 packets
    for i in range(40):
        out.append(rec(IP(src=f"10.3.0.{i + 1}", dst=S4) /
                       UDP(sport=7000 + i, dport=514) / b"<13>1 n", D_IN | FIX))
    return b"".join(out)


def conversation_seeds():
    c4 = [C4, "10.9.8.7", "10.1.2.4", "10.1.2.5", "10.0.0.9"]
    c6 = [C6, "2001:db8:9::7", "2001:db8:1:2::44", "2001:db8:1:2::55",
          "2001:db8:0:1::9"]
    write("fuzz_engine", "multi-v4", many_flows(IP, c4, S4))
    write("fuzz_engine", "multi-v6", many_flows(IPv6, c6, S6))
    write("fuzz_engine", "multi-v4-auto", many_flows(IP, c4, S4, D_AUTO, D_AUTO))
    write("fuzz_engine", "multi-mixed",
          many_flows(IP, c4, S4, D_IN | FIX, D_OUT | 0x04) +
          many_flows(IPv6, c6, S6, DIR_BOTH, D_OUT))
    write("fuzz_engine", "ooo-v4", ooo_flow(IP, C4, S4))
    write("fuzz_engine", "ooo-v6", ooo_flow(IPv6, C6, S6))
    write("fuzz_engine", "retrans-v4", retrans_flow(IP, C4, S4))
    write("fuzz_engine", "retrans-v6", retrans_flow(IPv6, C6, S6))
    write("fuzz_engine", "icmp-quotes", icmp_quotes())
    write("fuzz_engine", "holds-tick-reload-stop", holds_and_commands())
    write("fuzz_engine", "flood", flood())


# ---- fuzz_policy ---------------------------------------------------------

DESIGN_EXAMPLE = """\
# /etc/nfredact/policy.conf
key /etc/nfredact/key          # 32 random bytes, mode 0600 (nfredact keygen)
epoch 1d                       # pseudonyms and tokens change daily

service mqtt {
\tlisten tcp 1883, 8883
\tqueue 0
\taddress ipv4 truncate 24
\taddress ipv6 truncate 48
\tredact email mask
\tredact phone token
\tredact ipv4 truncate 24
\tredact ipv6 truncate 48
\tredact pattern "imei=[0-9]{15}" mask
\ton-error drop
}

service syslog {
\tlisten udp 514
\tlisten tcp 514
\tqueue 1
\tclients 10.0.0.0/8, 2001:db8::/32
\taddress ipv4 map 100.64.0.0/10
\taddress ipv6 permute 48
\tredact ipv4 truncate 24
\tredact email token
}

service relay {
\tlisten tcp 5222
\tqueue 2
\taddress ipv4 keep                  # the peer is our own TLS terminator
\tredact proxy-protocol truncate 24 48
\tredact header "X-Forwarded-For" truncate
}
"""

GOOD = {
    "design": DESIGN_EXAMPLE.replace("key /etc/nfredact/key", "# no key"),
    "design-with-key": DESIGN_EXAMPLE,
    "all-detectors": """epoch 1h
service s {
\tlisten tcp 1-1024, 8080-8090; listen udp 514
\tqueue 3-5
\taddress ipv6 map fd00:1:2:3::/64
\tredact mac mask; redact literal "a\\"b\\\\c\\n" token
\tredact header "Forwarded" address
\tredact proxy-protocol address
\tallow pattern "(?i)RCPT TO:<[^>]*>"
\ton-error accept
}
""",
    "minimal": "service x { listen udp 53 }\n",
    "crlf": "service x {\r\n\tlisten tcp 25\r\n\tredact email mask\r\n}\r\n",
}

BAD = {
    "unknown-word": "service x {\n\tlisten tcp 25\n\tredcat email mask\n}\n",
    "bad-port": "service x { listen tcp 70000 }\n",
    "bad-prefix": "service x {\n listen tcp 1\n address ipv4 truncate 33\n clients 10.0.0.0/99\n}\n",
    "bad-regex": "service x {\n listen tcp 1\n redact pattern \"([a-z\" mask\n}\n",
    "unterminated-string": "service x {\n listen tcp 1\n redact literal \"abc\n}\n",
    "missing-brace": "service x {\n listen tcp 1\n",
    "extra-brace": "}\nservice x { listen tcp 1 }\n}\n",
    "dup-port": "service a { listen tcp 25 }\nservice b { listen tcp 25 }\n",
    "bad-action": "service x {\n listen tcp 1\n redact email truncate 24\n redact mac address\n}\n",
    "bad-epoch": "epoch 1y\nepoch -3\nservice x { listen tcp 1 }\n",
    "bad-map": "service x {\n listen tcp 1\n address ipv4 map 100.64.0.0/33\n address ipv6 map ::/0\n}\n",
    "no-listen": "service x {\n redact email mask\n}\n",
    "nested": "service a { service b { listen tcp 1 } }\n",
    "binary": "service \x01\x02 {\n\tlisten tcp \xff\xfe\n}\n",
    "missing-key-file": "key /nonexistent/nfredact-key\nservice x { listen tcp 1 }\n",
}

DICT = ["service", "listen", "tcp", "udp", "queue", "clients", "address",
        "ipv4", "ipv6", "keep", "truncate", "permute", "map", "redact",
        "email", "phone", "mac", "literal", "pattern", "proxy-protocol",
        "header", "mask", "token", "allow", "on-error", "drop", "accept",
        "key", "epoch", "1d", "{", "}", ";", ",", "\\x0A", "\\\"", "10.0.0.0/8",
        "2001:db8::/32", "100.64.0.0/10", "1-65535", "#"]


def policy_seeds():
    for name, text in list(GOOD.items()) + list(BAD.items()):
        write("fuzz_policy", name, text.encode("latin-1"))
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "fuzz_policy.dict"), "w") as f:
        f.write("# libFuzzer dictionary for fuzz_policy (made by make-corpus.py)\n")
        for w in DICT:
            f.write(f'"{w}"\n')


def main():
    packet_seeds()
    engine_seeds()
    conversation_seeds()
    policy_seeds()
    frame_seeds(OUT)
    n = sum(len(fs) for _, _, fs in os.walk(OUT))
    digest = hashlib.sha256()
    for root, _, fs in sorted(os.walk(OUT)):
        for f in sorted(fs):
            with open(os.path.join(root, f), "rb") as fh:
                digest.update(fh.read())
    print(f"{n} seed files in {OUT} (sha256 {digest.hexdigest()[:12]})")


if __name__ == "__main__":
    main()
