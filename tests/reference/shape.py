#!/usr/bin/env python3
"""shape.py - independent reference for output shaping: `having`, `sort_by`
with ` desc` / ` asc`, `limit` over the whole result, and one file for an
output without partition columns (docs/job-spec.md, "Sort order and limit"
and "Having"). Python 3 standard library only; it shares no code with
shardflow.

The queries are written out here in Python, not read from a spec, so a
mistake in the spec loader cannot hide in both. Input: JSON Lines with
user (int), country (string, may be missing) and amount (int) and price
(number, may be missing); tests/mpi/shape_test.py generates it and holds
the matching job specs.

  shape.py --events FILE --query NAME --out DIR [--counts FILE]
"""
import argparse
import functools
import json
import os
import sys

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def cmp_value(a, b):
    """shardflow's value order on the types used here: NULL first, numbers
    by value, strings by their UTF-8 bytes."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    if isinstance(a, str):
        a, b = a.encode("utf-8"), b.encode("utf-8")
    return (a > b) - (a < b)


def row_cmp(keys, columns):
    """Comparator: keys [(column, descending)], then every column in
    columns ascending (the total tie-break)."""
    def cmp(x, y):
        for col, desc in keys:
            c = cmp_value(x[col], y[col])
            if c:
                return -c if desc else c
        for col in columns:
            c = cmp_value(x[col], y[col])
            if c:
                return c
        return 0
    return functools.cmp_to_key(cmp)


def groups(events, keys):
    """group key tuple -> {"orders", "revenue", "top_price"} (count(),
    sum(amount), max(price))."""
    out = {}
    for e in events:
        k = tuple(e.get(c) for c in keys)
        g = out.setdefault(k, {"orders": 0, "revenue": None, "top_price": None})
        g["orders"] += 1
        if e.get("amount") is not None:
            g["revenue"] = (g["revenue"] or 0) + e["amount"]
        p = e.get("price")
        if p is not None:
            p = float(p)
            g["top_price"] = p if g["top_price"] is None else max(g["top_price"], p)
    rows = []
    for k, g in out.items():
        r = dict(zip(keys, k))
        r.update(g)
        rows.append(r)
    return rows


# name -> group keys, result columns, having, sort_by, limit, partition_by
QUERIES = {
    "top_users": {
        "group_by": ["country", "user"],
        "result": ["country", "user", "orders", "revenue", "top_price"],
        "having": lambda r: r["orders"] >= 2,
        "sort_by": [("revenue", True), ("top_price", True)],
        "limit": 8,
        "partition_by": [],
    },
    "top_by_country": {
        "group_by": ["country", "user"],
        "result": ["country", "user", "orders", "revenue", "top_price"],
        # NULL > 1.0 is NULL: the row is dropped, as false is.
        "having": lambda r: r["top_price"] is not None and r["top_price"] > 1.0,
        "sort_by": [("revenue", True)],
        "limit": 10,
        "partition_by": ["country"],
    },
    # "having" drops rows while the reduce gives each kept row its
    # writer bucket (no limit: the rows go straight to the write).
    "having_by_country": {
        "group_by": ["country", "user"],
        "result": ["country", "user", "orders", "revenue", "top_price"],
        "having": lambda r: r["orders"] >= 2,
        "sort_by": [("revenue", True)],
        "limit": None,
        "partition_by": ["country"],
    },
    "desc_by_country": {
        "group_by": ["country", "user"],
        "result": ["country", "user", "orders", "revenue", "top_price"],
        "having": None,
        "sort_by": [("revenue", True)],
        "limit": None,
        "partition_by": ["country"],
    },
    # An int64 partition column and a descending string key with NULLs:
    # rows go from the reduce to their partition's CSV text, and the
    # group columns' key images alone order them (cli/run_write_text.c).
    "amount_parts": {
        "group_by": ["amount", "country", "user"],
        "result": ["amount", "country", "user", "orders", "revenue", "top_price"],
        "having": lambda r: r["orders"] >= 1,
        "sort_by": [("country", True)],
        "limit": None,
        "partition_by": ["amount"],
    },
    "countries_desc": {
        "group_by": ["country"],
        "result": ["country", "orders", "revenue", "top_price"],
        "having": None,
        "sort_by": [("country", True)],
        "limit": None,
        "partition_by": [],
    },
    "limit_zero": {
        "group_by": ["user"],
        "result": ["user", "orders", "revenue", "top_price"],
        "having": None,
        "sort_by": [("orders", False)],
        "limit": 0,
        "partition_by": [],
    },
}


def csv_field(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    s = str(v)
    if s == "" or any(c in s for c in ',"\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def run(events, q):
    rows = groups(events, q["group_by"])
    ngroups = len(rows)
    if q["having"]:
        rows = [r for r in rows if q["having"](r)]
    having_dropped = ngroups - len(rows)
    rows.sort(key=row_cmp(q["sort_by"], q["result"]))
    limit_dropped = 0
    if q["limit"] is not None and len(rows) > q["limit"]:
        limit_dropped = len(rows) - q["limit"]
        rows = rows[:q["limit"]]
    # The manifest has the having / limit counts only for a job with them.
    counts = {"groups": ngroups, "output_rows": len(rows)}
    if q["having"]:
        counts["groups_dropped_by_having"] = having_dropped
    if q["limit"] is not None:
        counts["rows_dropped_by_limit"] = limit_dropped
    return rows, counts


def write(rows, q, out_dir):
    parts = q["partition_by"]
    cols = [c for c in q["result"] if c not in parts]
    by_part = {}
    for r in rows:
        by_part.setdefault(tuple(r[c] for c in parts), []).append(r)
    if not parts and not by_part:
        by_part[()] = []  # an unpartitioned output always has its file
    for pv, prow in by_part.items():
        prow.sort(key=row_cmp(q["sort_by"], cols))
        d = out_dir
        for name, v in zip(parts, pv):
            d = os.path.join(d, "%s=%s" % (name, NULL_PARTITION if v is None else v))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "part-00000.csv"), "w", encoding="utf-8", newline="") as f:
            f.write(",".join(cols) + "\n")
            for r in prow:
                f.write(",".join(csv_field(r[c]) for c in cols) + "\n")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", required=True)
    ap.add_argument("--query", required=True, choices=sorted(QUERIES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--counts")
    a = ap.parse_args(argv)
    with open(a.events, encoding="utf-8") as f:
        events = [json.loads(line) for line in f if line.strip()]
    q = QUERIES[a.query]
    rows, counts = run(events, q)
    write(rows, q, a.out)
    if a.counts:
        with open(a.counts, "w", encoding="utf-8") as f:
            json.dump(counts, f, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
