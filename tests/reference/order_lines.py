#!/usr/bin/env python3
"""order_lines.py - independent reference implementation of jobs/order_lines.json.

Re-implements the order_lines job in plain Python (standard library only, no
code shared with the C engine), so the MPI integration tests can check the
engine's output byte for byte and its manifest counts.

usage: order_lines.py --orders ORDERS.jsonl --out DIR [--counts COUNTS.json]

Semantics, per line (split on b'\\n', one trailing b'\\r' stripped): an empty
line is blank; a line that is not UTF-8, not JSON (NaN, Infinity, integers
outside int64 and reals beyond the double range included) or not an object
is rejected, and so is one where order_id or status is not a string, ts or
an item's qty not an integer, or an item's price not a number. The items array
is exploded: one row per item (a missing, null or empty array gives one row
without item fields). Rows of cancelled or refunded orders, rows without a
status (a null comparison filters the row, as in SQL) and rows without a sku
are filtered; revenue = qty * price; rows are grouped by the UTC date
of ts and the sku: count of distinct orders, rows, sum of qty, and the
correctly rounded sum of revenue (math.fsum).
Counts: a line counts once, by the fate of its first row (filtered or
aggregated); the manifest's line counts follow that rule.
Output: DIR/date=YYYY-MM-DD/part-00000.csv, rows sorted by sku.
"""

import argparse
import datetime
import json
import math
import os
import sys

HEADER = "sku,orders,lines,units,revenue"


class Reject(Exception):
    pass


def _parse_int(text):
    if len(text.lstrip("-")) > 19 or not -(1 << 63) <= int(text) < (1 << 63):
        raise Reject("int64 overflow")
    return int(text)


def _parse_float(text):
    value = float(text)
    if math.isinf(value):
        raise Reject("real overflow")
    return value


def _no_constants(name):
    raise Reject("invalid constant " + name)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def rows_of(doc):
    """The (order_id, ts, status, sku, qty, price) rows of an order."""
    def get(obj, key, check):
        v = obj.get(key) if isinstance(obj, dict) else None
        if v is not None and not check(v):
            raise Reject("type mismatch")
        return v

    order = get(doc, "order_id", lambda v: isinstance(v, str))
    ts = get(doc, "ts", is_int)
    status = get(doc, "status", lambda v: isinstance(v, str))
    items = doc.get("items")
    if not isinstance(items, list):
        items = [items] if items is not None else [None]
    elif not items:
        items = [None]
    rows = []
    for it in items:
        sku = get(it, "sku", lambda v: isinstance(v, str))
        qty = get(it, "qty", is_int)
        price = get(it, "price", lambda v: is_int(v) or isinstance(v, float))
        rows.append((order, ts, status, sku, qty, None if price is None else float(price)))
    return rows


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--counts")
    args = ap.parse_args(argv)

    counts = {"lines_read": 0, "blank_lines": 0, "rows_rejected": 0, "rows_filtered": 0,
              "rows_dropped_by_join": 0, "rows_aggregated": 0}
    groups = {}
    with open(args.orders, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        counts["lines_read"] += 1
        if not line:
            counts["blank_lines"] += 1
            continue
        try:
            try:
                doc = json.loads(line.decode("utf-8"), parse_int=_parse_int,
                                 parse_float=_parse_float, parse_constant=_no_constants)
            except (UnicodeDecodeError, ValueError):
                raise Reject("invalid")
            if not isinstance(doc, dict):
                raise Reject("not an object")
            rows = rows_of(doc)
        except Reject:
            counts["rows_rejected"] += 1
            continue
        for i, (order, ts, status, sku, qty, price) in enumerate(rows):
            keep = status is not None and status not in ("cancelled", "refunded") and \
                sku is not None
            if i == 0:
                counts["rows_aggregated" if keep else "rows_filtered"] += 1
            if not keep:
                continue
            day = None
            if ts is not None:
                day = (datetime.date(1970, 1, 1) + datetime.timedelta(days=ts // 86400)).isoformat()
            g = groups.setdefault((day, sku), {"orders": set(), "lines": 0, "units": [],
                                               "revenue": []})
            if order is not None:
                g["orders"].add(order)
            g["lines"] += 1
            if qty is not None:
                g["units"].append(qty)
            if qty is not None and price is not None:
                g["revenue"].append(qty * price)

    by_day = {}
    for (day, sku), g in groups.items():
        by_day.setdefault(day, []).append((sku, g))
    for day, entries in by_day.items():
        d = os.path.join(args.out, "date=" + (day or "__HIVE_DEFAULT_PARTITION__"))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "part-00000.csv"), "w", newline="") as f:
            f.write(HEADER + "\n")
            for sku, g in sorted(entries, key=lambda e: e[0]):
                units = sum(g["units"]) if g["units"] else ""
                revenue = repr(math.fsum(g["revenue"])) if g["revenue"] else ""
                f.write("%s,%d,%d,%s,%s\n" % (sku, len(g["orders"]), g["lines"], units, revenue))
    if args.counts:
        with open(args.counts, "w") as f:
            json.dump(counts, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
