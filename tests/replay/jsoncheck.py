#!/usr/bin/python3
"""
jsoncheck.py — check the dry-run's --json report: it parses as JSON and
its counters say what the case expects.

usage: jsoncheck.py REPORT.json [COUNTS]

COUNTS (optional, one expectation a line, '#' comments):
    malformed 5           the report's malformed counter, all services summed
    mqtt.malformed 3      the counter of service "mqtt" only
A counter is looked up by its key anywhere in the report; objects named
"total"/"totals" are skipped when summing, so per-service figures and
their sum are not counted twice.
"""

import json
import sys

TOTAL_KEYS = ("total", "totals", "all")


def collect(node, key, out, under_total=False):
    """Every numeric value of @key below @node, with whether it sits
    under a totals object."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, (int, float)) \
                    and not isinstance(v, bool):
                out.append((under_total, v))
            collect(v, key, out, under_total or k in TOTAL_KEYS)
    elif isinstance(node, list):
        for v in node:
            collect(v, key, out, under_total)


def services(report):
    """The per-service objects of the report, by name."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            name = node.get("name", node.get("service"))
            if isinstance(name, str):
                found.setdefault(name, node)
            for k, v in node.items():
                if isinstance(v, dict) and k not in TOTAL_KEYS \
                        and isinstance(node.get("services"), dict) \
                        and v is node["services"].get(k):
                    found.setdefault(k, v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(report)
    return found


def counter(report, spec):
    if "." in spec:
        svc, key = spec.split(".", 1)
        node = services(report).get(svc)
        if node is None:
            raise KeyError("no service %r in the report" % svc)
        report = node
    else:
        key = spec
    vals = []
    collect(report, key, vals)
    if not vals:
        raise KeyError("no counter %r in the report" % spec)
    plain = [v for t, v in vals if not t]
    return sum(plain) if plain else sum(v for _, v in vals)


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
    if len(sys.argv) == 2:
        return 0
    try:
        lines = open(sys.argv[2]).read().splitlines()
    except FileNotFoundError:
        return 0
    bad = 0
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, want = line.split()
        try:
            got = counter(report, spec)
        except KeyError as e:
            print(e.args[0])
            bad += 1
            continue
        if got != int(want):
            print("%s is %s, expected %s" % (spec, got, want))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
