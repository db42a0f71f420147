#!/usr/bin/python3
"""
mkpcaps.py — the captures tests/dryrun/run.sh feeds to `nfredact dry-run`:
one short MQTT-port TCP conversation (a client sends an email address and
a phone number, the server answers) in every link type the tool reads,
captured on the server's side of the relay (replies to the pseudonym) and
on the client's (replies to the real client), fragmented variants, and
captures that leak on purpose.

usage: mkpcaps.py DIR
"""
import os
import struct
import sys

from scapy.all import (ARP, ICMP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q,
                       Ether, IP, IPv6, IPv6ExtHdrFragment, PcapNgWriter, Raw,
                       TCP, fragment, fragment6)

C4, S4, P4 = "192.0.2.55", "198.51.100.10", "192.0.2.0"
C6, S6, P6 = "2001:db8:1:2::55", "2001:db8:ffff::10", "2001:db8:1::"
MSG = b"CONNECT client alice@example.org tel +442079460958 pad " + b"p" * 40 + b"\r\n"
REPLY = b"CONNACK ok\r\n"


def conversation(v6=False, msg=MSG, client_side=False):
    """SYN, SYN-ACK, ACK, client data, server data: IP packets as the
    host sees them, the client's from the wire, the server's replies to
    the pseudonym it was shown (truncate 24 / 48), or with @client_side
    as the client gets them, to its real address."""
    def ip(src, dst):
        return IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst, id=1)
    c, s, ps = (C6, S6, P6) if v6 else (C4, S4, P4)
    if client_side:
        ps = c
    return [
        ip(c, s) / TCP(sport=40001, dport=1883, flags="S", seq=1000),
        ip(s, ps) / TCP(sport=1883, dport=40001, flags="SA", seq=5000, ack=1001),
        ip(c, s) / TCP(sport=40001, dport=1883, flags="A", seq=1001, ack=5001),
        ip(c, s) / TCP(sport=40001, dport=1883, flags="PA", seq=1001, ack=5001) / Raw(msg),
        ip(s, ps) / TCP(sport=1883, dport=40001, flags="PA", seq=5001,
                       ack=1001 + len(msg)) / Raw(REPLY),
    ]


def write_pcap(path, linktype, frames):
    """A classic microsecond pcap, written by hand so the link type is exact."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, linktype))
        for i, fr in enumerate(frames):
            # (frame, bytes cut off by the capture) makes caplen < len
            fr, cut = fr if isinstance(fr, tuple) else (fr, 0)
            fr = bytes(fr)
            f.write(struct.pack("<IIII", 1700000000, i * 1000, len(fr) - cut, len(fr)))
            fr = fr[:len(fr) - cut]
            f.write(fr)


def eth():
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def main():
    out = sys.argv[1]
    p = lambda name: os.path.join(out, name)  # noqa: E731

    # Ethernet: 802.1Q on most packets, 802.1ad + 802.1Q on the data, an ARP
    frames = [eth() / Dot1Q(vlan=10) / x for x in conversation()]
    frames[3] = eth() / Dot1AD(vlan=20) / Dot1Q(vlan=10) / conversation()[3]
    frames.insert(0, eth() / ARP(psrc=S4, pdst="198.51.100.1"))
    write_pcap(p("eth-vlan.pcap"), 1, frames)

    write_pcap(p("sll.pcap"), 113,
               [CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6,
                            src=b"\x02\0\0\0\0\x01\0\0", proto=0x0800) / x
                for x in conversation()])
    write_pcap(p("sll2.pcap"), 276,
               [CookedLinuxV2(proto=0x86dd, ifindex=2, pkttype=0,
                              lladdrtype=1, lladdrlen=6,
                              src=b"\x02\0\0\0\0\x01\0\0") / x
                for x in conversation(v6=True)])
    write_pcap(p("raw4.pcap"), 101, conversation())
    write_pcap(p("raw6.pcap"), 229, conversation(v6=True))

    # The same from the client's side of the relay
    frames = [eth() / Dot1Q(vlan=10) / x for x in conversation(client_side=True)]
    write_pcap(p("eth-vlan-client.pcap"), 1, frames)
    write_pcap(p("raw4-client.pcap"), 101, conversation(client_side=True))
    write_pcap(p("raw6-client.pcap"), 229,
               conversation(v6=True, client_side=True))
    write_pcap(p("null.pcap"), 0, [struct.pack("<I", 2) + bytes(x)
                                   for x in conversation()])

    w = PcapNgWriter(p("v6.pcapng"))
    for i, x in enumerate(conversation(v6=True)):
        fr = eth() / x
        fr.time = 1700000000 + i / 1000
        w.write(fr)
    w.close()

    # IPv4 fragments: the data segment in 4 pieces, out of order, the
    # email cut across two of them; then another datagram missing its tail.
    conv = conversation()
    frags = fragment(conv[3], fragsize=32)
    assert len(frags) == 4, len(frags)
    lost = fragment(IP(src=C4, dst=S4, id=77) /
                    TCP(sport=40001, dport=1883, flags="PA", seq=2000, ack=5001) /
                    Raw(MSG), fragsize=32)
    frames = conv[:3] + [frags[2], frags[0], frags[3], frags[1]] + conv[4:] + lost[:2]
    write_pcap(p("frag4.pcap"), 1, [eth() / x for x in frames])

    conv = conversation(v6=True)
    frags = fragment6(IPv6(src=C6, dst=S6) / IPv6ExtHdrFragment(id=0x1234) /
                      conv[3][TCP], 80)
    assert len(frags) >= 2, len(frags)
    frames = conv[:3] + list(reversed(frags)) + conv[4:]
    write_pcap(p("frag6.pcap"), 1, [eth() / x for x in frames])

    # A leak: the service accepts what it cannot parse (on-error accept);
    # a TCP header claiming 60 bytes in a 40-byte packet cannot be parsed,
    # so the client's real address passes.
    conv = conversation()
    bad = IP(src=C4, dst=S4, id=2) / TCP(sport=40001, dport=1883, flags="A",
                                         seq=1001, ack=5001, dataofs=15)
    write_pcap(p("leak.pcap"), 101, conv[:3] + [bad])
    # Another: the data segment captured without its last 30 bytes; the
    # engine may not rewrite it, and on-error accept lets it through.
    write_pcap(p("leak-trunc.pcap"), 101, conv[:3] + [(conv[3], 30)] + conv[4:])

    # Client's side, started mid-flow: a reply to the real client comes
    # before the client's first packet, when no flow can say what the
    # server called it: it stays addressed to the real client.
    conv = conversation(client_side=True)
    early = IP(src=S4, dst=C4, id=3) / TCP(sport=1883, dport=40001, flags="A",
                                           seq=4000, ack=900)
    write_pcap(p("midflow-client.pcap"), 101, [early] + conv)
    # Client's side: an ICMP error to the real client about a connection
    # the capture holds nothing of, quoting the client's real address.
    quoted = IP(src=C4, dst=S4, id=4) / TCP(sport=40099, dport=1883,
                                            flags="PA", seq=77)
    error = IP(src=S4, dst=C4, id=5) / ICMP(type=3, code=3) / Raw(bytes(quoted)[:28])
    write_pcap(p("quote-client.pcap"), 101, conv + [error])

    write_pcap(p("wifi.pcap"), 105, [b"\x08\x00" + b"\0" * 30])
    with open(p("notpcap.pcap"), "wb") as f:
        f.write(b"this is not a capture file\n" * 4)


if __name__ == "__main__":
    main()
