#!/usr/bin/python3
"""
Stream-aware redaction (doc/design.md §1.2): the same two SMTP commands sent
over one connection per cut position, cut into two segments at every
offset, the second segment then retransmitted.  Whatever the cut, the
server's byte stream must be the whole stream redacted; a retransmission
must carry the same bytes as the original.  check.py reassembles the
server side of each connection and compares.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402

STREAM = b"MAIL FROM:<alice@example.org>\r\nXCLIENT ADDR=192.0.2.77\r\n"
SEEN = b"MAIL FROM:<xxxxx@xxxxxxx.xxx>\r\nXCLIENT ADDR=192.0.2.00\r\n"

case = Case()
case.original("192.0.2.55", "alice@example.org", "192.0.2.77")
case.real_clients("192.0.2.55")

for cut in range(1, len(STREAM)):
    c = TcpFlow(case, client="192.0.2.55", cport=30000 + cut,
                server="198.51.100.25", sport=25, pseudo="192.0.2.0",
                client_isn=cut * 100000)
    c.handshake()
    c.c(STREAM[:cut], SEEN[:cut])
    seq = c.cseq
    c.c(STREAM[cut:], SEEN[cut:])
    c.cseq = seq					# the same bytes again
    c.c(STREAM[cut:], SEEN[cut:])
    c.s(b"250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n")
    c.close()
case.write(expected=False)
