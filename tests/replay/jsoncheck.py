#!/usr/bin/python3
"""
jsoncheck.py — check the dry-run's --json report: it parses as JSON, says
it found no residual identifier or client address, every reply rewritten
to the server's view was translated back as captured, and its counters
say what the case expects.

usage: jsoncheck.py REPORT.json [COUNTS]

COUNTS (optional): one expectation a line, '#' comments, a path into the
report and the number it must give:
    truncated 2                          a top-level counter
    fragments/reassembled 2              a member of an object
    services/mqtt/malformed 6            the list element whose "name" is mqtt
    services/*/malformed 7               summed over every element
    services/*/dropped+not_covered/dropped 9    a sum of paths
"""

import json
import sys


def lookup(node, parts, spec):
    if not parts:
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            raise KeyError("%s is not a number" % spec)
        return node
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head == "*":
            return sum(lookup(v, rest, spec) for v in node)
        for v in node:
            if isinstance(v, dict) and v.get("name") == head:
                return lookup(v, rest, spec)
        raise KeyError("%s: no element named %r" % (spec, head))
    if isinstance(node, dict):
        if head not in node:
            raise KeyError("%s: no member %r" % (spec, head))
        return lookup(node[head], rest, spec)
    raise KeyError("%s: %r is neither object nor list" % (spec, head))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: jsoncheck.py REPORT.json [COUNTS]")
    with open(sys.argv[1]) as f:
        text = f.read()
    try:
        report = json.loads(text)
    except ValueError as e:
        print("not JSON: %s" % e)
        return 1
    expectations = [("residual/identifiers", 0),
                    ("residual/client_addresses", 0),
                    ("server_view/translated_otherwise", 0)]
    if len(sys.argv) == 3:
        try:
            with open(sys.argv[2]) as f:
                for line in f:
                    line = line.split("#", 1)[0].strip()
                    if line:
                        spec, want = line.split()
                        expectations.append((spec, int(want)))
        except FileNotFoundError:
            pass
    bad = 0
    for spec, want in expectations:
        try:
            got = sum(lookup(report, path.split("/"), spec)
                      for path in spec.split("+"))
        except KeyError as e:
            print(e.args[0])
            bad += 1
            continue
        if got != want:
            print("%s is %s, expected %s" % (spec, got, want))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
