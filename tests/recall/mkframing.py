#!/usr/bin/env python3
"""
mkframing.py — write tests/recall/framing.tsv: identifiers inside binary
and structured framings, built from the formats' specifications.

    tests/recall/mkframing.py tests/recall

writes framing.tsv and framing-ambiguous.tsv there.

Each identifier goes into real framings (its length prefix computed from
its length): an MQTT 3.1.1 CONNECT client id and a PUBLISH payload
(MQTT 3.1.1 §3.1, §3.3), a protobuf length-delimited field followed by the
next tag (protobuf encoding: tag = field << 3 | wire type), a MessagePack
fixstr and str8, a type-length-value record, a JSON member and a query
string.  Then with one byte glued on each side: only bytes that cannot
continue the identifier by its own syntax, so the marked extent is the
only reading (a hex digit glued to a MAC or an atext letter glued to an
email would make another valid identifier: such pairs are not written).
"""

import sys

IDS = {
    "ipv4": ["192.0.2.55", "10.1.2.3", "203.0.113.254", "8.8.8.8",
             "172.16.0.1"],
    "ipv6": ["2001:db8::55", "fe80::1c2d:3eff:fe4f:5a6b",
             "::ffff:192.0.2.55", "2001:db8:85a3::8a2e:370:7334",
             "2001:db8:0:0:1:0:0:1"],
    "email": ["alice@example.org", "bob.smith+tag@mail.example.co.uk",
              "chris@imap.opus1.com", "x_y-z@sub2.example.net"],
    "mac": ["00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e",
            "0:1a:2b:3c:4d:5e", "a4:83:e7:2:b:5e"],
    "phone": ["+15551234567", "+44 20 7946 0958", "+33 1 99 00 12 34",
              "+1-555-123-4567", "+819012345678"],
}

# Bytes glued on each side that cannot extend the identifier.
GLUE = {
    "ipv4": (["A", "x", "=", "\\xff", "\\x00", ":"],
             ["A", ";", "\\xff", "\\x00", "/"]),
    "ipv6": (["Z", "x", "=", "\\xff", "\\x00"],
             ["Z", ";", "\\xff", "\\x00", "/"]),
    "email": ([":", "<", "\\xff", "\\x00", "\\x01"],
              [">", ";", "\\xff", "\\x00", ","]),
    "mac": (["Z", "x", "=", "\\xff", "\\x00"],
            ["Z", ";", "\\xff", "\\x00", "/"]),
    "phone": (["A", "x", "=", "\\xff", ":"],
              ["A", ";", "\\xff", "\\x00", "/"]),
}


def esc(b):
    """Bytes to the corpus notation (outside marks)."""
    out = []
    for c in b:
        ch = chr(c)
        if ch in "\\[]{}":
            out.append("\\" + ch)
        elif c < 0x20 or c >= 0x7f:
            out.append("\\x%02x" % c)
        else:
            out.append(ch)
    return "".join(out)


def mark(ident):
    # "::ffff:" before an embedded IPv4 address says nothing of the
    # client: masked or not
    if ident.startswith("::ffff:"):
        return "{{::ffff:}}" + mark(ident[7:])
    return "[[" + esc(ident.encode()) + "]]"


def frames(ident):
    """(name, text) for each framing of @ident."""
    b = ident.encode()
    n = len(b)
    m = mark(ident)
    # MQTT CONNECT: fixed header, variable header (protocol name, level 4,
    # clean session, keep alive 60), payload: the client id
    vh = b"\x00\x04MQTT\x04\x02\x00\x3c"
    rl = len(vh) + 2 + n
    yield ("mqtt-connect", esc(bytes([0x10, rl]) + vh + bytes([0, n])) + m)
    # ... and a PINGREQ right behind it in the same segment
    yield ("mqtt-connect-ping",
           esc(bytes([0x10, rl]) + vh + bytes([0, n])) + m + esc(b"\xc0\x00"))
    # PUBLISH to topic "up", the identifier as the payload ("up" glued to
    # an email would be part of its local part: not for email)
    if "@" not in ident:
        yield ("mqtt-publish", esc(bytes([0x30, 4 + n, 0, 2]) + b"up") + m)
    # protobuf: field 1, wire type 2 (0x0a), varint length; field 2 varint
    yield ("protobuf", esc(bytes([0x0a, n])) + m + esc(b"\x10\x01"))
    # protobuf: field 3 string after a fixed64 field 8 (tag 0x41)
    yield ("protobuf-fixed64",
           esc(b"\x41" + bytes(range(1, 9)) + bytes([0x1a, n])) + m +
           esc(b"\x22\x00"))
    # MessagePack fixstr (< 32 bytes) or str8
    if n < 32:
        yield ("msgpack-fixstr", esc(b"\x82\xa2ip" + bytes([0xa0 | n])) + m +
               esc(b"\xa1n\x01"))
    yield ("msgpack-str8", esc(b"\x81\xa2id\xd9" + bytes([n])) + m)
    # type-length-value with 16-bit type and length
    yield ("tlv16", esc(b"\x00\x07" + bytes([0, n])) + m + esc(b"\x00\x08\x00\x00"))
    yield ("json", '{"client":"' + m + '","n":1}')
    yield ("query", "GET /login?user=" + m + "&next=%2F HTTP/1.1\\r\\n")


def ambiguous(ident):
    """Framings whose extent only the framing knows: a PUBLISH header
    (0x30, the digit '0') right after a CONNECT's client id; the text
    alone reads on into it."""
    b = ident.encode()
    n = len(b)
    vh = b"\x00\x04MQTT\x04\x02\x00\x3c"
    rl = len(vh) + 2 + n
    yield ("mqtt-connect-publish",
           esc(bytes([0x10, rl]) + vh + bytes([0, n])) + mark(ident) +
           esc(b"\x30\x0c\x00\x04home" + b"online"))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mkframing.py DIR")
    with open(sys.argv[1] + "/framing-ambiguous.tsv", "w") as amb:
        amb.write("# framing-ambiguous.tsv — written by mkframing.py; "
                  "do not edit\n")
        for cls, ids in IDS.items():
            for i, ident in enumerate(ids):
                for name, text in ambiguous(ident):
                    amb.write("fa-%s%d-%s\t%s\t%s\t%s\n" %
                              (cls, i + 1, name, cls, text, name))
    with open(sys.argv[1] + "/framing.tsv", "w") as out:
        write_main(out)


def write_main(out):
    out.write("# framing.tsv — written by mkframing.py; do not edit\n")
    for cls, ids in IDS.items():
        for i, ident in enumerate(ids):
            for name, text in frames(ident):
                out.write("fr-%s%d-%s\t%s\t%s\t%s\n" %
                          (cls, i + 1, name, cls, text, name))
            before, after = GLUE[cls]
            for j, (pre, post) in enumerate(zip(before, after)):
                out.write("fr-%s%d-glue%d\t%s\t%s%s%s\tglued bytes\n" %
                          (cls, i + 1, j + 1, cls, pre, mark(ident), post))


if __name__ == "__main__":
    main()
