#!/usr/bin/python3
"""
An SMTP session over TCP/IPv4: EHLO with an address literal, MAIL FROM the
sender (masked), RCPT TO the recipient (kept: allow pattern), DATA with
Received headers carrying the client's addresses, QUIT.  One command per
segment, the message body in two segments; the server's replies are
captured to the pseudonym or to the real client, and show the pseudonym
with their payload unchanged.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow  # noqa: E402

case = Case()
case.original("192.0.2.55", "alice@example.org", "10.20.30.40")
case.real_clients("192.0.2.55")

c = TcpFlow(case, client="192.0.2.55", cport=49152,
            server="198.51.100.25", sport=25, pseudo="192.0.2.0")
c.handshake()
c.s(b"220 mx.example.net ESMTP\r\n")
c.c(b"EHLO [192.0.2.55]\r\n",
    b"EHLO [192.0.2.00]\r\n")
c.s(b"250-mx.example.net\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n")
c.c(b"MAIL FROM:<alice@example.org> SIZE=312\r\n",
    b"MAIL FROM:<xxxxx@xxxxxxx.xxx> SIZE=312\r\n")
c.s(b"250 2.1.0 Ok\r\n")
c.c(b"RCPT TO:<bob@example.net>\r\n")		# allowed: unchanged
c.s(b"250 2.1.5 Ok\r\n")
c.c(b"DATA\r\n")
c.s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
c.c(b"Received: from laptop (unknown [10.20.30.40])\r\n"
    b"\tby gw.example.org with ESMTP; Tue, 14 Nov 2023\r\n"
    b"Received: from gw.example.org ([192.0.2.55])\r\n"
    b"\tby relay.example.org with ESMTP; Tue, 14 Nov 2023\r\n",
    b"Received: from laptop (unknown [10.20.30.00])\r\n"
    b"\tby gw.example.org with ESMTP; Tue, 14 Nov 2023\r\n"
    b"Received: from gw.example.org ([192.0.2.00])\r\n"
    b"\tby relay.example.org with ESMTP; Tue, 14 Nov 2023\r\n")
c.c(b"From: Alice <alice@example.org>\r\n"
    b"To: <bob@example.net>\r\n"
    b"Subject: lunch\r\n"
    b"\r\n"
    b"Noon at the usual place?\r\n"
    b".\r\n",
    b"From: Alice <xxxxx@xxxxxxx.xxx>\r\n"
    b"To: <xxx@xxxxxxx.xxx>\r\n"		# only RCPT TO is allowed
    b"Subject: lunch\r\n"
    b"\r\n"
    b"Noon at the usual place?\r\n"
    b".\r\n")
c.s(b"250 2.0.0 Ok: queued as 4SVq7x1Qz\r\n")
c.c(b"QUIT\r\n")
c.s(b"221 2.0.0 Bye\r\n")
c.close()
case.write()
