#!/usr/bin/python3
"""
An SMTPUTF8 session over TCP/IPv4 whose addresses take every form the
email detector knows: UTF-8 local parts and domains, quoted local parts
with a space and an escaped quote, a subaddress, a label ending in a
digit, an A-label TLD and domain, address literals, and (the policy is
relaxed) a one-label domain and a percent-encoded '@' in a URL.  Each is
masked to the same byte length, UTF-8 bytes to 'x'; an image name with a
scale suffix and the SMTP keywords pass.  The stream suite cuts this
conversation at every byte offset, inside UTF-8 characters and quoted
strings too.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replaylib import Case, TcpFlow, mask  # noqa: E402

ADDRS = [
    "ålice@exämple.org",
    "用户@例子.广告",
    '"alice smith"@example.org',
    '"a\\"b"@example.org',
    "alice+tag@imap.opus1.com",
    "alice@example.xn--p1ai",
    "bob@xn--exmple-cua.org",
    "carol@[192.0.2.1]",
    "dave@[IPv6:2001:db8::1]",
    "root@localhost",
    "erin%40example.org",
]

case = Case()
case.original("192.0.2.55", *ADDRS)
case.real_clients("192.0.2.55")


def both(text):
    """@text as sent, and with every address of ADDRS masked."""
    out = text
    for a in ADDRS:
        out = out.replace(a, mask(a))
    return text.encode(), out.encode()


c = TcpFlow(case, client="192.0.2.55", cport=49153,
            server="198.51.100.25", sport=25, pseudo="192.0.2.0")
c.handshake()
c.s(b"220 mx.example.net ESMTP\r\n")
c.c(b"EHLO laptop\r\n")
c.s(b"250-mx.example.net\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n")
c.c(*both("MAIL FROM:<ålice@exämple.org> SMTPUTF8\r\n"))
c.s(b"250 2.1.0 Ok\r\n")
c.c(*both("RCPT TO:<用户@例子.广告>\r\n"))
c.s(b"250 2.1.5 Ok\r\n")
c.c(*both('RCPT TO:<"alice smith"@example.org>\r\n'))
c.s(b"250 2.1.5 Ok\r\n")
c.c(b"DATA\r\n")
c.s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
c.c(*both('From: "a\\"b"@example.org\r\n'
          "Cc: alice+tag@imap.opus1.com, alice@example.xn--p1ai,\r\n"
          " bob@xn--exmple-cua.org\r\n"
          "Reply-To: carol@[192.0.2.1], dave@[IPv6:2001:db8::1]\r\n"
          "Subject: résumé\r\n"
          "\r\n"
          "Logs go to root@localhost; unsubscribe at\r\n"
          "https://example.net/u?e=erin%40example.org&l=fr\r\n"
          "<img src=\"icon@2x.png\"> «merci»\r\n"
          ".\r\n"))
c.s(b"250 2.0.0 Ok: queued as 4SVq7x1Qz\r\n")
c.c(b"QUIT\r\n")
c.s(b"221 2.0.0 Bye\r\n")
c.close()
case.write()
