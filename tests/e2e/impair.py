#!/usr/bin/python3
"""impair.py - random loss and reordering on a link, for tests/e2e/many.sh
on a kernel without sch_netem: a netfilter queue reader (stdlib only, raw
nfnetlink) that drops each packet with probability LOSS and holds back a
fraction REORDER of the others for DELAY ms, so that later packets
overtake them.  That is what `tc qdisc add ... netem loss LOSS% delay
DELAY reorder (100-REORDER)%` does to a link.  The caller queues the
packets to it (iptables ... -j NFQUEUE --queue-num QUEUE) in the network
namespace it runs in.

  impair.py QUEUE LOSS_PCT REORDER_PCT DELAY_MS

Runs until SIGTERM or SIGINT; at the end accepts what it still holds and
prints "packets=N dropped=N delayed=N".  It only ever gives verdicts: it
never reads a payload (copy mode meta).

Exit: 0, 1 when the queue cannot be bound, 2 on bad usage.
"""
import errno
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
SO_RCVBUFFORCE = 33
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NF_DROP = 0
NF_ACCEPT = 1

MSG_PACKET = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
MSG_VERDICT = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT
MSG_CONFIG = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG


def nlattr(kind, data):
    head = struct.pack("=HH", 4 + len(data), kind)
    return head + data + b"\0" * (-len(data) % 4)


def nlmsg(kind, flags, seq, queue, attrs):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


def config(sock, queue, seq, attrs):
    sock.send(nlmsg(MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, seq, queue, attrs))
    while True:
        buf = sock.recv(65536)
        off = 0
        while off + 16 <= len(buf):
            ln, kind, _, rseq, _ = struct.unpack_from("=IHHII", buf, off)
            if kind == NLMSG_ERROR and rseq == seq:
                err = struct.unpack_from("=i", buf, off + 16)[0]
                if err:
                    raise OSError(-err, os.strerror(-err))
                return
            off += (ln + 3) & ~3


def packet_id(buf, off, end):
    """The id in NFQA_PACKET_HDR of the message at buf[off:end]."""
    a = off + 16 + 4
    while a + 4 <= end:
        ln, kind = struct.unpack_from("=HH", buf, a)
        if ln < 4:
            return None
        if kind & 0x3FFF == NFQA_PACKET_HDR:
            return struct.unpack_from("!I", buf, a + 4)[0]
        a += (ln + 3) & ~3
    return None


stop = False


def on_signal(signum, frame):
    global stop
    stop = True


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    queue = int(argv[1])
    loss = float(argv[2]) / 100.0
    reorder = float(argv[3]) / 100.0
    delay = float(argv[4]) / 1000.0
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
    sock.bind((0, 0))
    try:
        config(sock, queue, 1, nlattr(NFQA_CFG_CMD,
                                      struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)))
        config(sock, queue, 2, nlattr(NFQA_CFG_PARAMS,
                                      struct.pack("!IB", 0, NFQNL_COPY_META)) +
               nlattr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 65536)))
    except OSError as e:
        print("impair: cannot bind queue %d: %s" % (queue, e.strerror), file=sys.stderr)
        return 1
    print("impair: bound queue %d" % queue, flush=True)
    rng = random.Random()
    held = []               # (due, id)
    out = []                # verdict messages not yet sent
    n = dropped = delayed = 0
    buf = bytearray(1 << 16)
    seq = 3

    def verdict(pid, v):
        nonlocal seq
        seq += 1
        out.append(nlmsg(MSG_VERDICT, NLM_F_REQUEST, seq, queue,
                         nlattr(NFQA_VERDICT_HDR, struct.pack("!II", v, pid))))

    def flush():
        while out:
            chunk = b"".join(out[:512])
            del out[:512]
            sock.send(chunk)

    while not stop:
        timeout = 0.2
        if held:
            timeout = max(0.0, min(timeout, held[0][0] - time.monotonic()))
        try:
            ready, _, _ = select.select([sock], [], [], timeout)
        except InterruptedError:
            continue
        if ready:
            for _ in range(4096):
                try:
                    got = sock.recv_into(buf, len(buf), socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                except OSError as e:
                    if e.errno in (errno.EINTR, errno.ENOBUFS):
                        continue
                    raise
                off = 0
                while off + 16 <= got:
                    ln, kind = struct.unpack_from("=IH", buf, off)
                    if ln < 16:
                        break
                    if kind == MSG_PACKET:
                        pid = packet_id(buf, off, off + ln)
                        if pid is not None:
                            n += 1
                            r = rng.random()
                            if r < loss:
                                dropped += 1
                                verdict(pid, NF_DROP)
                            elif r < loss + (1.0 - loss) * reorder:
                                delayed += 1
                                heapq.heappush(held, (time.monotonic() + delay, pid))
                            else:
                                verdict(pid, NF_ACCEPT)
                    off += (ln + 3) & ~3
                if len(out) >= 512:
                    flush()
        now = time.monotonic()
        while held and held[0][0] <= now:
            verdict(heapq.heappop(held)[1], NF_ACCEPT)
        flush()
    while held:
        verdict(heapq.heappop(held)[1], NF_ACCEPT)
    flush()
    print("packets=%d dropped=%d delayed=%d" % (n, dropped, delayed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
