#!/usr/bin/env python3
"""rows.py - independent reference for the jobs of tests/cases/rows/: the
dedupe step (first row per key in input order), CSV fact inputs and range
windows. Standard library only, no code shared with the C engine.

usage: rows.py --case jsonl_dedupe|csv_dedupe --input PATH --out DIR
               [--counts COUNTS.json] [--bad BAD.json]

Input order: files sorted by name (PATH is a file or a directory), lines in
file order, so the first row of a key is the one with the smallest
(file, line). Lines are split on b'\\n' with one trailing b'\\r' stripped
and a UTF-8 BOM at the start of a file skipped.

jsonl_dedupe (columns eid int64, country string, day date, price double,
qty int64): filter price >= 0 (NULL drops); dedupe [eid]; filter qty != 0;
group by (country, day): n = count(), rev = sum(price), units = sum(qty);
windows partitioned by country ordered by day: rev_7d = sum(rev) over the
days [d - 6, d], units_3r = sum(units) over the row and 2 rows before,
max_7d = max(rev) over [d - 6, d].

csv_dedupe (the same columns and note string, from CSV files whose header
rows name the columns in any order): dedupe [eid, country]; group by
(country, day): n = count(), rev = sum(price), notes = count_distinct(note);
windows by country ordered by day: rev_7d = sum(rev) over [d - 6, d],
min_2d = min(rev) over [d - 1, d].

A CSV line is one RFC 4180 record (an empty unquoted field is NULL, a quoted
one the empty string); a quote left open at the end of the line, a quote
inside an unquoted field, something after a closing quote, or a field
count unlike the header's rejects it as "invalid CSV". The header line is
not counted as a line read. Output: DIR/part-00000.csv, rows sorted by
(country, day), NULL first.
"""

import argparse
import datetime
import json
import math
import os
import sys

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
EPOCH = datetime.date(1970, 1, 1)


class Reject(Exception):
    """args[0]: the reason as the manifest names it."""


def files_of(path):
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if not n.startswith((".", "_")))
        return [os.path.join(path, n) for n in names]
    return [path]


def split_lines(data):
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data:
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


def parse_date(text):
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise Reject("type mismatch")
    try:
        return (datetime.date(int(text[0:4]), int(text[5:7]), int(text[8:10])) - EPOCH).days
    except ValueError:
        raise Reject("type mismatch")


def show_date(days):
    return (EPOCH + datetime.timedelta(days=days)).isoformat()


# ---- JSONL ----

def json_int(v):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not INT64_MIN <= v <= INT64_MAX:
        raise Reject("type mismatch")
    return v


def json_double(v):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Reject("type mismatch")
    return float(v)


def json_string(v):
    if v is None:
        return None
    if not isinstance(v, str):
        raise Reject("type mismatch")
    return v


def json_date(v):
    if v is None:
        return None
    if not isinstance(v, str):
        raise Reject("type mismatch")
    return parse_date(v)


def decode_jsonl(line):
    try:
        doc = json.loads(line.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise Reject("invalid JSON")
    if not isinstance(doc, dict):
        raise Reject("not an object")
    return {"eid": json_int(doc.get("eid")), "country": json_string(doc.get("country")),
            "day": json_date(doc.get("day")), "price": json_double(doc.get("price")),
            "qty": json_int(doc.get("qty"))}


# ---- CSV ----

def csv_fields(line):
    """[(text, quoted)] of one line, or raises Reject("invalid CSV")."""
    s = line.decode("utf-8", errors="surrogateescape")
    out, i, n = [], 0, len(s)
    while True:
        if i < n and s[i] == '"':
            j, text = i + 1, []
            while True:
                q = s.find('"', j)
                if q < 0:
                    raise Reject("invalid CSV")  # a newline inside quotes
                if q + 1 < n and s[q + 1] == '"':
                    text.append(s[j:q + 1])
                    j = q + 2
                    continue
                text.append(s[j:q])
                i = q + 1
                break
            out.append(("".join(text), True))
            if i < n and s[i] != ",":
                raise Reject("invalid CSV")
        else:
            j = s.find(",", i)
            j = n if j < 0 else j
            field = s[i:j]
            if '"' in field or "\r" in field:
                raise Reject("invalid CSV")
            out.append((field, False))
            i = j
        if i < n and s[i] == ",":
            i += 1
            continue
        return out


def csv_int(text):
    t = text[1:] if text[:1] in "+-" else text
    if not t or not t.isdigit() or not t.isascii():
        raise Reject("type mismatch")
    v = int(text)
    if not INT64_MIN <= v <= INT64_MAX:
        raise Reject("type mismatch")
    return v


def csv_double(text):
    t = text[1:] if text[:1] in "+-" else text
    mant, _, exp = t.lower().partition("e")
    ip, _, fp = mant.partition(".")
    ok = (ip + fp).isdigit() and (ip + fp).isascii() and (ip.isdigit() or ip == "") and \
        (fp.isdigit() or fp == "")
    if "e" in t.lower():
        e = exp[1:] if exp[:1] in "+-" else exp
        ok = ok and e.isdigit() and e.isascii()
    if not ok:
        raise Reject("type mismatch")
    v = float(text)
    if math.isinf(v):
        raise Reject("double overflow")
    return v


CSV_TYPES = [("eid", csv_int), ("country", str), ("day", parse_date), ("price", csv_double),
             ("qty", csv_int), ("note", str)]


def decode_csv(line, header, width):
    fields = csv_fields(line)
    if len(fields) != width:
        raise Reject("invalid CSV")
    row = {}
    for name, conv in CSV_TYPES:
        text, quoted = fields[header[name]]
        row[name] = None if text == "" and not quoted else conv(text)
    return row


# ---- the jobs ----

def read_rows(case, path, counts, bad):
    """Yields the rows that decode, in input order; counts the rest."""
    for f, name in enumerate(files_of(path)):
        with open(name, "rb") as fh:
            lines = split_lines(fh.read())
        header = None
        first = width = 0
        if case == "csv_dedupe" and lines:
            names = [t for t, _ in csv_fields(lines[0])]
            header = {n: names.index(n) for n, _ in CSV_TYPES}
            width = len(names)
            first = 1
        for ln in range(first, len(lines)):
            line = lines[ln]
            counts["lines_read"] += 1
            if not line:
                counts["blank_lines"] += 1
                continue
            try:
                row = decode_csv(line, header, width) if header else decode_jsonl(line)
            except Reject as r:
                counts["rows_rejected"] += 1
                reason = r.args[0]
                counts["rejected_by_reason"][reason] = counts["rejected_by_reason"].get(reason, 0) + 1
                bad.append([os.path.basename(name), ln + 1, reason])
                continue
            yield (f, ln), row


def run(case, path):
    counts = {"lines_read": 0, "blank_lines": 0, "rows_rejected": 0, "rows_filtered": 0,
              "rows_dropped_by_join": 0, "rows_aggregated": 0, "duplicates_dropped": 0,
              "rejected_by_reason": {}}
    bad = []
    seen = set()
    groups = {}
    for _, row in read_rows(case, path, counts, bad):
        if case == "jsonl_dedupe":
            if row["price"] is None or not row["price"] >= 0:
                counts["rows_filtered"] += 1
                continue
            key = (row["eid"],)
        else:
            key = (row["eid"], row["country"])
        if key in seen:
            counts["duplicates_dropped"] += 1
            continue
        seen.add(key)
        if case == "jsonl_dedupe" and (row["qty"] is None or row["qty"] == 0):
            counts["rows_filtered"] += 1
            continue
        counts["rows_aggregated"] += 1
        g = groups.setdefault((row["country"], row["day"]),
                              {"n": 0, "rev": [], "units": [], "notes": set()})
        g["n"] += 1
        if row["price"] is not None:
            g["rev"].append(row["price"])
        if row.get("qty") is not None:
            g["units"].append(row["qty"])
        if row.get("note") is not None:
            g["notes"].add(row["note"])
    rows = []
    for (country, day), g in groups.items():
        r = {"country": country, "day": day, "n": g["n"],
             "rev": math.fsum(g["rev"]) if g["rev"] else None}
        if case == "jsonl_dedupe":
            r["units"] = sum(g["units"]) if g["units"] else None
        else:
            r["notes"] = len(g["notes"])
        rows.append(r)
    by_country = {}
    for r in rows:
        by_country.setdefault(r["country"], []).append(r)
    for part in by_country.values():
        part.sort(key=lambda r: null_first(r["day"]))
        for i, r in enumerate(part):
            if case == "jsonl_dedupe":
                r["rev_7d"] = frame_sum(part, i, "rev", days=6)
                r["units_3r"] = window_int_sum(part[max(0, i - 2):i + 1], "units")
                r["max_7d"] = frame_ext(part, i, "rev", 6, max)
            else:
                r["rev_7d"] = frame_sum(part, i, "rev", days=6)
                r["min_2d"] = frame_ext(part, i, "rev", 1, min)
    return rows, counts, bad


def range_frame(part, i, days):
    d = part[i]["day"]
    if d is None:
        return [r for r in part if r["day"] is None]
    return [r for r in part if r["day"] is not None and d - days <= r["day"] <= d]


def frame_sum(part, i, col, days):
    vals = [r[col] for r in range_frame(part, i, days) if r[col] is not None]
    return math.fsum(vals) if vals else None


def window_int_sum(frame, col):
    vals = [r[col] for r in frame if r[col] is not None]
    return sum(vals) if vals else None


def frame_ext(part, i, col, days, fn):
    vals = [r[col] for r in range_frame(part, i, days) if r[col] is not None]
    return fn(vals) if vals else None


def null_first(v):
    return (0, b"") if v is None else (1, v.encode("utf-8") if isinstance(v, str) else v)


def csv_field(v, is_date=False):
    if v is None:
        return ""
    if is_date:
        return show_date(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if v == "" or any(c in v for c in ',"\r\n'):
        return '"' + v.replace('"', '""') + '"'
    return v


COLUMNS = {
    "jsonl_dedupe": ["country", "day", "n", "rev", "units", "rev_7d", "units_3r", "max_7d"],
    "csv_dedupe": ["country", "day", "n", "rev", "notes", "rev_7d", "min_2d"],
}


def write_output(case, rows, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rows.sort(key=lambda r: (null_first(r["country"]), null_first(r["day"])))
    cols = COLUMNS[case]
    with open(os.path.join(out_dir, "part-00000.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(",".join(cols) + "\n")
        for r in rows:
            f.write(",".join(csv_field(r[c], c == "day") for c in cols) + "\n")


def main(argv):
    ap = argparse.ArgumentParser(description="Reference for the dedupe / CSV / range jobs.")
    ap.add_argument("--case", required=True, choices=sorted(COLUMNS))
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--counts")
    ap.add_argument("--bad")
    args = ap.parse_args(argv)
    rows, counts, bad = run(args.case, args.input)
    counts["groups"] = counts["output_rows"] = len(rows)
    write_output(args.case, rows, args.out)
    if args.counts:
        with open(args.counts, "w", encoding="utf-8") as f:
            json.dump(counts, f, indent=2, sort_keys=True)
    if args.bad:
        with open(args.bad, "w", encoding="utf-8") as f:
            json.dump(sorted(bad), f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
