#!/usr/bin/env python3
"""Independent reference for tests/cases/expr_funcs/job.json (Python 3
standard library only): reads the events JSONL and writes the expected
output tree, OUT/day_of_ts=<escaped ISO text>/part-00000.csv, with the
function semantics docs/job-spec.md documents:

- timestamps: ISO-8601 text (T or space, up to 6 fraction digits, Z or
  +HH:MM / -HH:MM / +HHMM, none = UTC) or a JSON integer of unix seconds;
  printed YYYY-MM-DDTHH:MM:SS[.ffffff]Z; a line whose ts is neither is
  rejected (type mismatch) and does not count;
- round(x, n) half away from zero on the exact binary value (decimal);
- substr/length on code points; upper ASCII only; split_part 1-based;
- cast(text, 'int64') a whole decimal after trimming spaces and tabs, NULL
  otherwise; dow 0 = Sunday; date_trunc('week') on Monday; date_diff(a, b)
  = b - a in days;
- sums of doubles exact (math.fsum) and printed as repr(); NULL as an empty
  CSV field; an empty string quoted.

Usage: expr_funcs.py --events FILE --out DIR
"""
import argparse
import datetime as dt
import decimal
import json
import math
import os
import re
import sys

EPOCH = dt.date(1970, 1, 1)
US_PER_DAY = 86400 * 10**6
TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?"
                   r"(Z|[+-]\d{2}:?\d{2})?)?$")


class Reject(Exception):
    pass


def parse_ts(v):
    """Microseconds since the epoch of a JSON value, None for null."""
    if v is None:
        return None
    if isinstance(v, bool) or isinstance(v, float):
        raise Reject()
    if isinstance(v, int):
        return v * 10**6
    if not isinstance(v, str):
        raise Reject()
    m = TS_RE.match(v)
    if not m:
        raise Reject()
    y, mo, d, hh, mi, ss, frac, zone = m.groups()
    try:
        day = dt.date(int(y), int(mo), int(d))
    except ValueError:
        raise Reject()
    if hh is None and len(v) != 10:
        raise Reject()
    h, mn, s = int(hh or 0), int(mi or 0), int(ss or 0)
    if h > 23 or mn > 59 or s > 59:
        raise Reject()
    us = int((frac or "").ljust(6, "0")) if frac else 0
    off = 0
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        z = zone[1:].replace(":", "")
        oh, om = int(z[:2]), int(z[2:])
        if oh > 23 or om > 59:
            raise Reject()
        off = sign * (oh * 60 + om)
    return ((day - EPOCH).days * 86400 + h * 3600 + mn * 60 + s - off * 60) * 10**6 + us


def parse_date(v):
    if v is None:
        return None
    if not isinstance(v, str) or not re.match(r"^\d{4}-\d{2}-\d{2}$", v):
        raise Reject()
    try:
        return (dt.date(int(v[:4]), int(v[5:7]), int(v[8:10])) - EPOCH).days
    except ValueError:
        raise Reject()


def fmt_date(days):
    return (EPOCH + dt.timedelta(days=days)).isoformat()


def fmt_ts(us):
    days, rem = divmod(us, US_PER_DAY)
    secs, frac = divmod(rem, 10**6)
    text = "%sT%02d:%02d:%02d" % (fmt_date(days), secs // 3600, secs // 60 % 60, secs % 60)
    return text + (".%06d" % frac if frac else "") + "Z"


def round_half_away(x, n):
    q = decimal.Decimal(x).quantize(decimal.Decimal(1).scaleb(-n),
                                    rounding=decimal.ROUND_HALF_UP)
    return math.copysign(float(q), x)


def cast_int(text):
    t = text.strip(" \t")
    if not re.match(r"^[+-]?\d+$", t):
        return None
    v = int(t)
    return v if -2**63 <= v < 2**63 else None


def ascii_upper(s):
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in s)


def split_part(s, sep, n):
    parts = s.split(sep)
    return parts[n - 1] if 1 <= n <= len(parts) else ""


def dow(days):
    return (days + 4) % 7  # 1970-01-01 was a Thursday; 0 = Sunday


def week_monday(days):
    return days - (days + 3) % 7


def quarter_start(days):
    d = EPOCH + dt.timedelta(days=days)
    return (dt.date(d.year, (d.month - 1) // 3 * 3 + 1, 1) - EPOCH).days


def text(v):
    """A value as its CSV field."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, tuple):  # ("date", days) or ("ts", us)
        return fmt_date(v[1]) if v[0] == "date" else fmt_ts(v[1])
    if isinstance(v, str):
        return '"' + v.replace('"', '""') + '"' if (v == "" or any(c in v for c in ',"\r\n')) else v
    return str(v)


def hive_escape(s):
    out = []
    for ch in s:
        b = ch.encode("utf-8")
        for c in b:
            if c < 0x20 or c == 0x7F or chr(c) in "\"#%'*/:=?\\{}[]^<>|":
                out.append("%%%02X" % c)
            else:
                out.append(chr(c))
    return "".join(out)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    groups = {}
    with open(a.events, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            r = json.loads(line)
            try:
                ts = parse_ts(r.get("ts"))
                day = parse_date(r.get("day"))
            except Reject:
                continue
            name, sku = r.get("name"), r.get("sku")
            price, qty, ms = r.get("price"), r.get("qty"), r.get("ms")
            if name is None or "skip" in name:
                continue
            hour_ts = None if ts is None else ts - ts % (3600 * 10**6)
            day_of_ts = None if ts is None else ts - ts % US_PER_DAY
            month = None if ts is None else fmt_ts(ts)[:7]
            prefix = ascii_upper(split_part(sku, "-", 1))
            num = cast_int(split_part(sku, "-", 2))
            amount = None if price is None or qty is None else round_half_away(float(price) * float(qty), 2)
            tag = name[:3] + "/" + str(len(name))
            weekend = None if day is None else dow(day) in (0, 6)
            is_code = re.fullmatch(r"[A-Z]{2}-[0-9]+-[a-z]", sku) is not None
            lag = None if day is None or ts is None else ts // US_PER_DAY - day
            ms_ts = None if ms is None else ms * 1000
            key = (day_of_ts, hour_ts, prefix)
            g = groups.setdefault(key, {"n": 0, "amount": [], "weekend": 0, "codes": 0,
                                        "num": [], "ms": [], "ts": [], "lag": [], "tags": set(),
                                        "months": set(), "floor": [], "hours": [], "qtr": [],
                                        "wk": [], "label": [], "early": 0, "ab": 0,
                                        "ymd": [], "ceil": [], "mon": [], "tsp": [],
                                        "msh": set(), "damount": [], "dfloor": [],
                                        "dint": [], "dtens": []})
            # cast(price, 'decimal(12,3)'): the shortest text of the double
            # (repr), half to even; NULL beyond 12 digits.
            dprice = None
            if price is not None:
                dprice = decimal.Decimal(repr(float(price))).quantize(
                    decimal.Decimal("0.001"), rounding=decimal.ROUND_HALF_EVEN)
                if abs(dprice) >= 10**9:
                    dprice = None
            if dprice is not None:
                g["dfloor"].append(int(dprice.to_integral_value(rounding=decimal.ROUND_FLOOR)))
                g["dtens"].append(int(dprice.quantize(decimal.Decimal("1E1"),
                                                      rounding=decimal.ROUND_HALF_UP)))
                if qty is not None:
                    prod = dprice * qty
                    g["damount"].append(prod.quantize(decimal.Decimal("0.01"),
                                                      rounding=decimal.ROUND_HALF_UP))
                    g["dint"].append(int(prod.quantize(decimal.Decimal(1),
                                                       rounding=decimal.ROUND_HALF_EVEN)))
            g["n"] += 1
            g["ab"] += sku.startswith("AB")
            if day is not None:
                dd = EPOCH + dt.timedelta(days=day)
                g["ymd"].append(dd.year * 10000 + dd.month * 100 + dd.day)
                g["mon"].append((dt.date(dd.year, dd.month, 1) - EPOCH).days)
            if price is not None:
                g["ceil"].append(float(math.ceil(price)))
            if ts is not None:
                td = EPOCH + dt.timedelta(days=ts // US_PER_DAY)
                g["tsp"].append(td.year + td.month + td.day)
            if amount is not None:
                g["amount"].append(amount)
            g["weekend"] += weekend is True
            g["codes"] += is_code
            if num is not None:
                g["num"].append(num)
            if ms_ts is not None:
                g["ms"].append(ms_ts)
                g["msh"].add(ms_ts - ms_ts % (3600 * 10**6))
            if ts is not None:
                g["ts"].append(ts)
                g["months"].add(month)
                g["hours"].append(ts % US_PER_DAY // (3600 * 10**6))
            if lag is not None:
                g["lag"].append(lag)
            g["tags"].add(tag)
            if price is not None:
                g["floor"].append(float(math.floor(price)))
            if day is not None:
                g["qtr"].append(quarter_start(day))
                g["wk"].append(week_monday(day) + 1)
            # label: NULL when num is NULL (cast of NULL, concat NULL as '')
            g["label"].append((prefix + ":" + ("" if num is None else str(num))).replace(":", "#"))
            early_ts = parse_ts("2026-03-01 06:00:00")
            if ts is not None and day is not None and ts < early_ts and day >= parse_date("2026-01-01"):
                g["early"] += 1

    cols = ["hour_ts", "prefix", "n", "amount", "weekend_rows", "codes", "num_max", "first_ms",
            "last_ts", "lag_sum", "tags", "months", "floor_sum", "hours", "qtr", "wk", "label",
            "early", "ab_codes", "ymd", "ceil_sum", "mon", "ts_parts", "ms_distinct", "dec_amount", "dec_floor", "dec_int", "dec_tens"]
    parts = {}
    for (day_of_ts, hour_ts, prefix), g in groups.items():
        row = [("ts", hour_ts) if hour_ts is not None else None, prefix, g["n"],
               math.fsum(g["amount"]) if g["amount"] else None, g["weekend"], g["codes"],
               max(g["num"]) if g["num"] else None,
               ("ts", min(g["ms"])) if g["ms"] else None,
               ("ts", max(g["ts"])) if g["ts"] else None,
               sum(g["lag"]) if g["lag"] else None, len(g["tags"]), len(g["months"]),
               math.fsum(g["floor"]) if g["floor"] else None,
               max(g["hours"]) if g["hours"] else None,
               ("date", min(g["qtr"])) if g["qtr"] else None,
               ("date", min(g["wk"])) if g["wk"] else None,
               max(g["label"], key=lambda s: s.encode("utf-8")),
               g["early"], g["ab"], max(g["ymd"]) if g["ymd"] else None,
               math.fsum(g["ceil"]) if g["ceil"] else None,
               ("date", min(g["mon"])) if g["mon"] else None,
               max(g["tsp"]) if g["tsp"] else None, len(g["msh"]),
               format(sum(g["damount"]), ".2f") if g["damount"] else None,
               sum(g["dfloor"]) if g["dfloor"] else None,
               sum(g["dint"]) if g["dint"] else None,
               max(g["dtens"]) if g["dtens"] else None]
        sort_key = (hour_ts is not None, hour_ts or 0, prefix.encode("utf-8"))
        parts.setdefault(day_of_ts, []).append((sort_key, row))
    for day_of_ts, rows in parts.items():
        dirname = "day_of_ts=" + ("__HIVE_DEFAULT_PARTITION__" if day_of_ts is None
                                  else hive_escape(fmt_ts(day_of_ts)))
        d = os.path.join(a.out, dirname)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "part-00000.csv"), "w", encoding="utf-8", newline="") as fh:
            fh.write(",".join(cols) + "\n")
            for _, row in sorted(rows, key=lambda t: t[0]):
                fh.write(",".join(text(v) for v in row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
