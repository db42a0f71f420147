#!/usr/bin/python3
"""slowwrite.py - a TCP client that writes its message one byte per
segment (TCP_NODELAY, a pause after every byte), for tests/e2e/run.sh:
an identifier cut at every byte must still never reach the server.

  slowwrite.py syslog HOST PORT GAP_MS TEXT [PAUSE_AT PAUSE_MS]...
      one RFC 3164 line with TEXT as its message, LF-terminated; with
      PAUSE_AT, a pause of PAUSE_MS after each byte that ends an
      occurrence of PAUSE_AT (longer than the hold time: the held tail
      is decided by the timeout rule); "pause after byte N" is printed
      as each pause starts
  slowwrite.py mqtt HOST PORT GAP_MS CLIENT_ID
      an MQTT 3.1.1 CONNECT with CLIENT_ID, then waits for the CONNACK
      and disconnects

Prints "max_gap_ms=N": the longest gap between two bytes, the planned
pauses aside.

Exit: 0 done (mqtt: the broker accepted the session), 1 otherwise.
"""
import socket
import struct
import sys
import time


def connect(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(10)
    s.connect((host, port))
    return s


max_gap = 0.0


def write_slowly(s, data, gap, pauses=()):
    """One byte per send(); @pauses: (offset after which, seconds).
    Notes the longest unplanned gap between two sends: a client stalled
    longer than the hold time meets the timeout rule, not the stream
    scanning, and the caller must know."""
    global max_gap
    extra = dict(pauses)
    last = None
    for i in range(len(data)):
        now = time.monotonic()
        if last is not None and (i not in extra):
            max_gap = max(max_gap, now - last)
        s.sendall(data[i:i + 1])
        last = time.monotonic()
        if i + 1 in extra:
            # the caller may act while the tail before it is held
            print("pause after byte %d" % (i + 1), flush=True)
        time.sleep(gap + extra.get(i + 1, 0.0))
        if i + 1 in extra:
            last = None


def pause_points(data, needle, secs):
    out, start = [], 0
    while needle:
        k = data.find(needle, start)
        if k < 0:
            break
        out.append((k + len(needle), secs))
        start = k + 1
    return out


def syslog(host, port, gap, text, pause_pairs):
    line = ("<13>Nov 28 12:00:00 client e2e: %s\n" % text).encode()
    pauses = []
    for needle, ms in pause_pairs:
        pauses += pause_points(line, needle.encode(), float(ms) / 1000.0)
    s = connect(host, port)
    write_slowly(s, line, gap, pauses)
    s.shutdown(socket.SHUT_WR)
    # the collector closes when it has read everything
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
    return 0


def mqtt_str(b):
    return struct.pack("!H", len(b)) + b


def mqtt(host, port, gap, client_id):
    body = mqtt_str(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", 30)
    body += mqtt_str(client_id.encode())
    assert len(body) < 128
    connect_pkt = bytes([0x10, len(body)]) + body
    s = connect(host, port)
    write_slowly(s, connect_pkt, gap)
    ack = b""
    while len(ack) < 4:
        chunk = s.recv(4 - len(ack))
        if not chunk:
            break
        ack += chunk
    ok = len(ack) == 4 and ack[0] == 0x20 and ack[3] == 0
    if ok:
        s.sendall(bytes([0xE0, 0]))
    s.close()
    if not ok:
        print("slowwrite: no CONNACK accepting the session: %r" % ack[:4])
    return 0 if ok else 1


def main(argv):
    if len(argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    mode, host, port, gap = argv[1], argv[2], int(argv[3]), float(argv[4]) / 1000
    try:
        if mode == "syslog":
            rest = argv[6:]
            if len(rest) % 2:
                print(__doc__, file=sys.stderr)
                return 2
            pairs = list(zip(rest[0::2], rest[1::2]))
            rc = syslog(host, port, gap, argv[5], pairs)
        elif mode == "mqtt":
            rc = mqtt(host, port, gap, argv[5])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except OSError as e:
        print("slowwrite: %s" % (e.strerror or e))
        return 1
    print("max_gap_ms=%.1f" % (max_gap * 1000))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
