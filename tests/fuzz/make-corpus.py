#!/usr/bin/python3
"""Make the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

Usage: tests/fuzz/make-corpus.py [OUTDIR]      (default tests/fuzz/corpus)

fuzz_packet: single IP packets built with scapy (TCP, UDP, ICMP errors,
IPv6 extension headers, fragments).  fuzz_engine: conversations in the
record format of fuzz_engine.c (control byte, 2-byte length, packet).
fuzz_policy: the policies of doc/design.md §6 and broken variants.
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
    policy_seeds()
    n = sum(len(fs) for _, _, fs in os.walk(OUT))
    digest = hashlib.sha256()
    for root, _, fs in sorted(os.walk(OUT)):
        for f in sorted(fs):
            with open(os.path.join(root, f), "rb") as fh:
                digest.update(fh.read())
    print(f"{n} seed files in {OUT} (sha256 {digest.hexdigest()[:12]})")


if __name__ == "__main__":
    main()
