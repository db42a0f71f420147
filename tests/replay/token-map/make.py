#!/usr/bin/python3
"""
Keyed address mapping and tokens over IRC (TCP/IPv4).  Client A
(192.0.2.55) opens two connections, client B (198.51.100.7) one; all
three mention alice@example.org, and A a phone number.  What the key
makes of them cannot be written down here, so check.py tests properties.

usage: make.py OUTDIR [PSEUDONYMS.json]
On the server's side (REPLAY_SIDE=server, the default) the replies go to
pseudonyms nobody can write down beforehand: without PSEUDONYMS, only the
clients' packets are written; with it (real client → pseudonym, as learnt
from a first run), the server's replies to those pseudonyms are written
too, for check.py's second pass.  On the client's side the replies go to
the real clients, and are always written.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402

SERVER = "198.51.100.67"
A, B = "192.0.2.55", "198.51.100.7"

pseudonyms = None
if len(sys.argv) > 2:
    with open(sys.argv[2]) as f:
        pseudonyms = json.load(f)

case = Case()
case.original(A, B, "alice@example.org", "bob@example.net", "+15551234567")
case.real_clients(A, B)


def flow(client, cport, isn):
    pseudo = pseudonyms[client] if pseudonyms else "0.0.0.0"
    return TcpFlow(case, client=client, cport=cport, server=SERVER,
                   sport=6667, pseudo=pseudo, client_isn=isn,
                   server_isn=isn + 500000)


def c(f, payload=b"", flags="PA", opts=None):
    case.packet(f.send(payload, payload, flags, opts)[0], None)


def s(f, payload=b"", flags="PA", opts=None):
    to_pseudonym, to_client = f.reply(payload, flags, opts)
    if case.side == "client":
        case.packet(to_client, None)
    elif pseudonyms:
        case.packet(to_pseudonym, None)


def talk(f, *lines):
    c(f, flags="S", opts=[("MSS", 1460)])
    s(f, flags="SA", opts=[("MSS", 1460)])
    c(f, flags="A")
    for line in lines:
        c(f, line)
        s(f, b":irc.example.net NOTICE * :ok\r\n")
    c(f, flags="FA")
    s(f, flags="FA")
    c(f, flags="A")


talk(flow(A, 50001, 1000000),
     b"NICK alice\r\n",
     b"PRIVMSG #ops :mail alice@example.org or call +15551234567\r\n")
talk(flow(A, 50002, 3000000),
     b"PRIVMSG #ops :alice@example.org again\r\n")
talk(flow(B, 50001, 5000000),
     b"PRIVMSG #ops :bob@example.net here, not alice@example.org\r\n")
case.write(expected=False)
