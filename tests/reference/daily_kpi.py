#!/usr/bin/env python3
"""daily_kpi.py - independent reference implementation of jobs/daily_kpi.json.

Re-implements the daily KPI job's semantics directly in plain Python (standard
library only, no code shared with the C engine), so the MPI integration tests
can check the engine's output byte for byte and its manifest counts.

usage: daily_kpi.py --events EVENTS.jsonl --users USERS.jsonl|.csv
                    --items ITEMS.jsonl|.csv --out DIR [--counts COUNTS.json]

Semantics, per events line (split on b'\\n', one trailing b'\\r' stripped, a
UTF-8 BOM at the start of the file skipped):
  empty line -> blank; not UTF-8 -> rejected "invalid UTF-8"; not JSON (NaN
  and Infinity included) -> "invalid JSON"; not an object -> "not an object";
  a field of the wrong type -> "type mismatch" (an integer outside int64 read
  as an int64 too); a number read as a double becomes the nearest double, one
  beyond the double range -> "double overflow"; props.price is a decimal(18,2):
  read exactly from the number text (Python's decimal module), rounded half
  to even to 2 places, more than 18 digits -> "type mismatch"; there is no
  negative zero. Numbers in fields the job does not read are never
  converted, so they never reject a line. revenue = props.price for purchases, else 0;
  rows with revenue < 0 are filtered; then inner joins on items (item_id) and
  users (user_id); then group by (date, country, category) and a 7-row
  rolling revenue sum per (country, category) ordered by date.
Output: DIR/date=YYYY-MM-DD/part-00000.csv per date.
"""

import argparse
import csv
import decimal
import json
import os
import sys

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
HEADER = "country,category,events_total,purchases,revenue,unique_users,revenue_7d"
WINDOW_ROWS = 7


class Reject(Exception):
    """A line that cannot become a row; args[0] is the reason."""


class _Big:
    """An integer literal too long to be an int64, kept as text (Python would
    otherwise refuse to convert integers with thousands of digits)."""

    def __init__(self, text):
        self.text = text


def _parse_int(text):
    digits = text.lstrip("-")
    if len(digits) > 19:
        return _Big(text)
    return int(text)


def _no_constants(name):
    raise ValueError("invalid constant " + name)


def _int64(v):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not INT64_MIN <= v <= INT64_MAX:
        raise Reject("type mismatch")
    return v


PRICE_PLACES = decimal.Decimal("0.01")
PRICE_LIMIT = decimal.Decimal(10) ** 16  # decimal(18,2): |v| < 10^(18-2)
# Wide enough that sums of decimal(18,2) values are exact.
EXACT = decimal.Context(prec=100, rounding=decimal.ROUND_HALF_EVEN, Emax=999999, Emin=-999999)


def _decimal_18_2(v):
    """A JSON number (its text: an int, a _Big or a Decimal) as decimal(18,2)."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, _Big, decimal.Decimal)):
        raise Reject("type mismatch")
    d = decimal.Decimal(v.text) if isinstance(v, _Big) else decimal.Decimal(v)
    try:
        q = d.quantize(PRICE_PLACES, context=EXACT)
    except decimal.InvalidOperation:  # more digits than the context holds
        raise Reject("type mismatch")
    if abs(q) >= PRICE_LIMIT:
        raise Reject("type mismatch")
    return abs(q) if q == 0 else q


def _string(v):
    if v is None:
        return None
    if not isinstance(v, str):
        raise Reject("type mismatch")
    return v


def decode_event(line):
    """Returns (user_id, item_id, event_type, ts, price) or raises Reject."""
    try:
        text = line.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Reject("invalid UTF-8")
    try:
        doc = json.loads(text, parse_int=_parse_int, parse_float=decimal.Decimal,
                         parse_constant=_no_constants)
    except ValueError:
        raise Reject("invalid JSON")
    except RecursionError:
        raise Reject("invalid JSON")
    if not isinstance(doc, dict):
        raise Reject("not an object")
    props = doc.get("props")
    price = props.get("price") if isinstance(props, dict) else None
    return (
        _int64(doc.get("user_id")),
        _int64(doc.get("item_id")),
        _string(doc.get("event_type")),
        _int64(doc.get("ts")),
        _decimal_18_2(price),
    )


def split_lines(data):
    """The lines of a file's bytes as the engine sees them."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data:
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


def _dim_key(v):
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return None
    return None


def load_dim(path, key, column):
    """{key: column value} from a JSONL or CSV (header row) dimension table.
    In CSV an empty field is null."""
    table = {}
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8-sig") as f:
            for rec in csv.DictReader(f):
                k = _dim_key(rec.get(key) or None)
                if k is not None:
                    table[k] = rec.get(column) or None
        return table
    with open(path, "rb") as f:
        data = f.read()
    for line in split_lines(data):
        if not line.strip():
            continue
        rec = json.loads(line.decode("utf-8"))
        if not isinstance(rec, dict):
            continue
        k = _dim_key(rec.get(key))
        if k is not None:
            v = rec.get(column)
            table[k] = v if isinstance(v, str) else None
    return table


def civil_date(ts):
    """UTC date of unix seconds as YYYY-MM-DD (proleptic Gregorian)."""
    days = ts // 86400
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    if 0 <= y <= 9999:
        return "%04d-%02d-%02d" % (y, m, d)
    return "%s%05d-%02d-%02d" % ("-" if y < 0 else "+", abs(y), m, d)


def null_first(v):
    return (0, "") if v is None else (1, v)


def csv_field(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, decimal.Decimal):  # decimal(38,2): exactly 2 places
        return format(v.quantize(PRICE_PLACES, context=EXACT), "f")
    s = str(v)
    if s == "" or any(c in s for c in ',"\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def run(events_path, users_path, items_path):
    """Returns (rows, counts); rows are dicts with the output columns + date."""
    users = load_dim(users_path, "user_id", "country")
    items = load_dim(items_path, "item_id", "category")
    counts = {
        "lines_read": 0,
        "blank_lines": 0,
        "rows_rejected": 0,
        "rows_filtered": 0,
        "rows_dropped_by_join": 0,
        "rows_aggregated": 0,
        "groups": 0,
        "output_rows": 0,
        "rejected_by_reason": {},
        "dropped_by_join": {"items": 0, "users": 0},
    }
    groups = {}
    with open(events_path, "rb") as f:
        data = f.read()
    for line in split_lines(data):
        counts["lines_read"] += 1
        if not line:
            counts["blank_lines"] += 1
            continue
        try:
            user_id, item_id, event_type, ts, price = decode_event(line)
        except Reject as r:
            reason = r.args[0]
            counts["rows_rejected"] += 1
            counts["rejected_by_reason"][reason] = counts["rejected_by_reason"].get(reason, 0) + 1
            continue
        is_purchase = event_type == "purchase"
        revenue = price if (is_purchase and price is not None) else decimal.Decimal(0)
        if not revenue >= 0:
            counts["rows_filtered"] += 1
            continue
        if item_id is None or item_id not in items:
            counts["rows_dropped_by_join"] += 1
            counts["dropped_by_join"]["items"] += 1
            continue
        if user_id is None or user_id not in users:
            counts["rows_dropped_by_join"] += 1
            counts["dropped_by_join"]["users"] += 1
            continue
        counts["rows_aggregated"] += 1
        date = None if ts is None else civil_date(ts)
        key = (date, users[user_id], items[item_id])
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"events": 0, "purchases": 0, "revenue": [], "users": set()}
        g["events"] += 1
        g["purchases"] += 1 if is_purchase else 0
        g["revenue"].append(revenue)
        g["users"].add(user_id)

    rows = []
    for (date, country, category), g in groups.items():
        rows.append({
            "date": date,
            "country": country,
            "category": category,
            "events_total": g["events"],
            "purchases": g["purchases"],
            "revenue": sum(g["revenue"], decimal.Decimal(0)),
            "unique_users": len(g["users"]),
        })

    # ROWS BETWEEN 6 PRECEDING AND CURRENT ROW per (country, category).
    def full_key(r):
        return (null_first(r["date"]), null_first(r["country"]), null_first(r["category"]))

    parts = {}
    for r in rows:
        parts.setdefault((r["country"], r["category"]), []).append(r)
    for part in parts.values():
        part.sort(key=full_key)
        for i, r in enumerate(part):
            lo = max(0, i - (WINDOW_ROWS - 1))
            r["revenue_7d"] = sum((p["revenue"] for p in part[lo:i + 1]), decimal.Decimal(0))

    counts["groups"] = len(groups)
    counts["output_rows"] = len(rows)
    return rows, counts


def write_output(rows, out_dir):
    by_date = {}
    for r in rows:
        by_date.setdefault(r["date"], []).append(r)
    os.makedirs(out_dir, exist_ok=True)
    cols = HEADER.split(",")
    for date, part in by_date.items():
        part.sort(key=lambda r: (null_first(r["country"]), null_first(r["category"])))
        d = os.path.join(out_dir, "date=" + (NULL_PARTITION if date is None else date))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "part-00000.csv"), "w", encoding="utf-8", newline="") as f:
            f.write(HEADER + "\n")
            for r in part:
                f.write(",".join(csv_field(r[c]) for c in cols) + "\n")


def main(argv):
    ap = argparse.ArgumentParser(description="Reference implementation of the daily KPI job.")
    ap.add_argument("--events", required=True)
    ap.add_argument("--users", required=True)
    ap.add_argument("--items", required=True)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--counts", help="write the accounting counts as JSON here")
    args = ap.parse_args(argv)
    decimal.setcontext(EXACT)
    rows, counts = run(args.events, args.users, args.items)
    write_output(rows, args.out)
    if args.counts:
        with open(args.counts, "w", encoding="utf-8") as f:
            json.dump(counts, f, indent=2, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
