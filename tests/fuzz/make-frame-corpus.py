#!/usr/bin/python3
"""Make the seed corpus of fuzz_frame (tests/fuzz/corpus/fuzz_frame/).

Usage: tests/fuzz/make-frame-corpus.py [OUTDIR]   (default tests/fuzz/corpus)

Each seed is the input format of fuzz_frame.c: the framing (0 none,
1 mqtt, 2 http, 3 sip, 4 line, 5 octet, 6 auto), the number of cuts, the
cuts' lengths, then a client stream: MQTT 3.1.1 and 5 sessions (CONNECT
with will, user and password, PUBLISH at each QoS, SUBSCRIBE,
UNSUBSCRIBE, PUBACK, PINGREQ, DISCONNECT), HTTP requests (Content-Length,
chunked with trailers, Upgrade, CONNECT, the HTTP/2 preface), SIP
(INVITE with a body, compact l:, a response, keep-alives), an SMTP
session with STARTTLS and one with BDAT, an IMAP STARTTLS, octet-counted
syslog, and broken variants.  Also called by make-corpus.py.
Output is deterministic.
"""
import os
import struct
import sys

NONE, MQTT, HTTP, SIP, LINE, OCTET, AUTO = range(7)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s16(b):
    return struct.pack("!H", len(b)) + b


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def props(p):
    return varint(len(p)) + p


def connect(v5, client=b"dev-42", will=None, user=None, password=None):
    flags = 0x02
    if will:
        flags |= 0x04 | 0x08
    if user is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    var = s16(b"MQTT") + bytes([5 if v5 else 4, flags]) + b"\x00\x3c"
    if v5:
        var += props(b"\x11\x00\x00\x00\x0a")       # session expiry
    pay = s16(client)
    if will:
        if v5:
            pay += props(b"\x18\x00\x00\x00\x05")   # will delay
        pay += s16(will[0]) + s16(will[1])
    if user is not None:
        pay += s16(user)
    if password is not None:
        pay += s16(password)
    return packet(0x10, var + pay)


def publish(v5, topic, msg, qos=0, pid=1):
    var = s16(topic)
    if qos:
        var += struct.pack("!H", pid)
    if v5:
        var += props(b"\x26" + s16(b"origin") + s16(b"alice@example.com"))
    return packet(0x30 | qos << 1, var + msg)


def subscribe(v5, topics, pid=2):
    var = struct.pack("!H", pid) + (props(b"\x0b\x07") if v5 else b"")
    return packet(0x82, var + b"".join(s16(t) + b"\x01" for t in topics))


def unsubscribe(v5, topics, pid=3):
    var = struct.pack("!H", pid) + (props(b"") if v5 else b"")
    return packet(0xa2, var + b"".join(s16(t) for t in topics))


def mqtt_session(v5):
    return (connect(v5, will=(b"last/will", b"gone: +1 555 0100"),
                    user=b"bob@example.org", password=b"hunter2") +
            publish(v5, b"users/alice@example.com", b"call +44 20 7946 0958") +
            publish(v5, b"t/1", b"qos1 10.0.0.7", qos=1) +
            subscribe(v5, [b"a/#", b"users/+/mail"]) +
            unsubscribe(v5, [b"a/#"]) +
            packet(0x40, b"\x00\x01" + (b"\x00\x00" if v5 else b"")) +
            b"\xc0\x00" + (b"\xe0\x00" if not v5 else b"\xe0\x01\x00"))


HTTP_CL = (b"POST /api/user?mail=carol@example.net HTTP/1.1\r\n"
           b"Host: api.example.net\r\nContent-Type: application/json\r\n"
           b"Content-Length: 33\r\n\r\n"
           b'{"phone":"+1 202 555 0143","x":1}')
HTTP_CHUNKED = (b"PUT /up HTTP/1.1\r\nHost: h\r\n"
                b"Transfer-Encoding: gzip, chunked\r\n\r\n"
                b"5;ext=1\r\nhello\r\n1a\r\nmail me: dave@example.com!\r\n"
                b"0\r\nX-Trailer: 192.0.2.33\r\n\r\n")
HTTP_GET = (b"GET / HTTP/1.0\r\n\r\n"
            b"\r\nHEAD /x HTTP/1.1\nHost: h\n folded\n\n")
HTTP_UPGRADE = (b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\n\r\n\x81\x85abcdeFRAME")
HTTP_CONNECT = b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01"
HTTP_PRI = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04"
HTTP_SMUGGLE = (b"POST / HTTP/1.1\r\nContent-Length: 4\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")

SIP_BODY = b"v=0\r\no=alice 1 1 IN IP4 198.51.100.7\r\ns=-\r\n"
SIP_INVITE = (b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
              b"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK776\r\n"
              b"From: Alice <sip:alice@atlanta.example.com>;tag=1928\r\n"
              b"To: Bob <sip:bob@biloxi.example.com>\r\n"
              b"Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\n"
              b"Content-Type: application/sdp\r\n"
              b"Content-Length: " + str(len(SIP_BODY)).encode() +
              b"\r\n\r\n" + SIP_BODY)
SIP_MORE = (b"\r\n\r\n"
            b"SIP/2.0 200 OK\r\nVia: x\r\nl: 4\r\n\r\nabcd"
            b"ACK sip:bob@b.example SIP/2.0\r\nCSeq : 1 ACK\r\n\r\n")

SMTP = (b"EHLO client.example.org\r\nMAIL FROM:<erin@example.org>\r\n"
        b"RCPT TO:<frank@example.com>\r\nDATA\r\n"
        b"Subject: hi\r\n\r\ncall me at +33 1 23 45 67 89\r\n.\r\n"
        b"STARTTLS\r\n\x16\x03\x01\x02\x00\x01")
SMTP_BDAT = b"EHLO x\r\nBDAT 12 LAST\r\n\x00binary\x00data"
IMAP = b"a001 CAPABILITY\r\na002 starttls\r\n\x16\x03\x01"
def octets(msgs):
    return b"".join(str(len(m)).encode() + b" " + m for m in msgs)


SYSLOG = octets([b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - "
                 b"ID47 - 'su root' failed for lonvick on /dev/pts/8",
                 b"<13>Oct 11 22:14:15 host app: user grace@example.com"])

SEEDS = {
    "mqtt311": (MQTT, mqtt_session(False)),
    "mqtt5": (MQTT, mqtt_session(True)),
    "mqtt5-auto": (AUTO, mqtt_session(True)),
    "mqtt311-auto-cut": (AUTO, mqtt_session(False), [1, 3, 5, 9]),
    "mqtt-5byte-varint": (MQTT, connect(False) + b"\x30\xff\xff\xff\xff\x01"),
    "mqtt-string-past": (MQTT, b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x09ab"),
    "mqtt-not-connect": (MQTT, publish(False, b"t", b"x")),
    "http-cl": (HTTP, HTTP_CL + HTTP_CL),
    "http-chunked": (HTTP, HTTP_CHUNKED),
    "http-get": (HTTP, HTTP_GET),
    "http-upgrade": (HTTP, HTTP_UPGRADE),
    "http-connect": (HTTP, HTTP_CONNECT),
    "http-pri": (AUTO, HTTP_PRI),
    "http-smuggle": (HTTP, HTTP_SMUGGLE),
    "http-auto-cut": (AUTO, HTTP_CL + HTTP_CHUNKED, [2, 7, 30]),
    "http-huge-cl": (HTTP, b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"),
    "sip": (SIP, SIP_INVITE + SIP_MORE),
    "sip-auto": (AUTO, SIP_INVITE + SIP_MORE),
    "sip-options-auto": (AUTO, b"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n"
                         b"Content-Length: 0\r\n\r\n"),
    "sip-status-auto": (AUTO, SIP_MORE[4:]),
    "smtp": (LINE, SMTP),
    "smtp-auto": (AUTO, SMTP, [4, 4, 4]),
    "smtp-bdat": (LINE, SMTP_BDAT),
    "imap": (AUTO, IMAP),
    "syslog-octet": (OCTET, SYSLOG),
    "syslog-octet-auto": (AUTO, SYSLOG, [1, 1, 1]),
    "octet-10-digits": (OCTET, b"1234567890 <1>x"),
    "line-tls": (LINE, b"\x16\x03\x01\x00\x05hello"),
    "auto-garbage": (AUTO, b"\x00\x01\x02\x03\xff\xfe\x10\x20"),
    "auto-long-get": (AUTO, b"GET /" + b"a" * 40 + b" HTTP/1.1\r\n\r\n"),
    "auto-redis": (AUTO, b"GET foo\r\nSET foo bar\r\n"),
    "none": (NONE, b"anything at all\n"),
}


def frame_seeds(out):
    d = os.path.join(out, "fuzz_frame")
    os.makedirs(d, exist_ok=True)
    for name, seed in SEEDS.items():
        kind, stream = seed[0], seed[1]
        cuts = seed[2] if len(seed) > 2 else []
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes([kind, len(cuts)] + cuts) + stream)
    return len(SEEDS)


if __name__ == "__main__":
    OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    print(f"{frame_seeds(OUT)} seed files in {OUT}/fuzz_frame")
