#!/usr/bin/python3
"""
Read the client's stream as the server's application would under Linux
(tcp_urg(), tcp_recvmsg() without SO_OOBINLINE): the urgent byte, at
seq + pointer - 1 (seq with a pointer of 0), is not read.  From
input.pcap that reading holds every address whole (the case means
something); from out.pcap it holds none of them, no segment has URG or
an urgent pointer, and the application reads every byte in line.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import read_pcap  # noqa: E402
from scapy.all import TCP, Ether  # noqa: E402

ADDRS = [b"alice@example.org", b"bob@example.net", b"carol@example.org"]


def read_as_application(path):
    """The stream by sequence number, what the application reads of it,
    and how many segments carry URG or an urgent pointer."""
    _, records = read_pcap(path)
    isn, data, urgent, marked = None, {}, set(), 0
    for _, frame, _ in records:
        t = Ether(frame)[TCP]
        if t.dport != 25:
            continue
        if "S" in str(t.flags):
            isn = t.seq
            continue
        if "U" in str(t.flags) or t.urgptr:
            marked += 1
        if "U" in str(t.flags):
            urgent.add(t.seq + (t.urgptr - 1 if t.urgptr else 0))
        for k, byte in enumerate(bytes(t.payload)):
            data[t.seq + k] = byte
    stream = bytes(data[s] for s in sorted(data))
    if sorted(data) != list(range(isn + 1, isn + 1 + len(data))):
        sys.exit("%s: the client's stream has a hole" % path)
    app = bytes(data[s] for s in sorted(data) if s not in urgent)
    return stream, app, marked


stream_in, app_in, marked_in = read_as_application(
    os.path.join(sys.argv[1], "input.pcap"))
stream_out, app_out, marked_out = read_as_application(
    os.path.join(sys.argv[1], "out.pcap"))

missing = [a for a in ADDRS if a not in app_in]
if missing or marked_in != 3:
    sys.exit("input.pcap: the application would not read %r" % missing)
if marked_out:
    sys.exit("out.pcap: %d segments still have URG or an urgent pointer"
             % marked_out)
if app_out != stream_out:
    sys.exit("out.pcap: the application does not read the bytes in line")
leaked = [a for a in ADDRS if a in app_out]
if leaked:
    sys.exit("out.pcap: the application reads %r" % leaked)
