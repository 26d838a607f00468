#!/usr/bin/env python3
"""flatten.py - independent reference implementation of `shardflow flatten`.

Re-implements the flatten rules of docs/flatten.md in plain Python (standard
library only, no code shared with the C engine), so the MPI integration tests
can check the engine's output byte for byte, its column types and its counts.

usage: flatten.py INPUT... --out DIR [--sep S] [--lists index|join|json]
                  [--join-sep S] [--explode PATH]... [--max-depth N]
                  [--max-rows-per-record N] [--on-collision error|first|last]
                  [--partition-by COLUMN|NAME=to_date(COLUMN)]...

Writes DIR/table.csv (header and every row in input order, values printed as
their column's type: an int in a double column as a float, anything in a
string column as its text) and DIR/counts.json (the counts and the columns
with their types and non-null counts). With --partition-by, the rows go to
DIR/parts/<hive path>/rows.csv instead, without the partition columns (a
NAME=to_date(COLUMN) key is the UTC date of COLUMN's unix seconds).

Lines are split on b'\\n' (one trailing b'\\r' stripped, a UTF-8 BOM at the
start of a file skipped); an empty line is blank; a line that is not UTF-8,
not JSON (NaN and Infinity included, integers outside int64, reals beyond
the double range, lone surrogates), not an object, or whose flattening has a
key collision under --on-collision error is rejected.
"""

import argparse
import datetime
import json
import os
import sys

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
HIVE_UNSAFE = set('"#%\'*/:=?\\{}[]^<>|')


class Reject(Exception):
    """A line that gives no rows; args[0] is the reason."""


class TooManyRows(Exception):
    """A record over --max-rows-per-record: the engine stops with an error."""


def _no_constants(name):
    raise ValueError("invalid constant " + name)


def _parse_float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("real number overflow")
    return value


def _parse_int(text):
    if len(text.lstrip("-")) > 19:
        raise Reject("int64 overflow")
    value = int(text)
    if value < INT64_MIN or value > INT64_MAX:
        raise Reject("int64 overflow")
    return value


class Decoder:
    """json.loads with the engine's strictness, counting duplicate keys
    (the last value wins at the place of the first, as dict() does)."""

    def __init__(self):
        self.duplicates = 0

    def _pairs(self, pairs):
        out = {}
        for key, value in pairs:
            if key in out:
                self.duplicates += 1
            if "\0" in key:
                raise Reject("invalid JSON")
            out[key] = value
        return out

    def decode(self, text):
        self.duplicates = 0
        try:
            doc = json.loads(text, object_pairs_hook=self._pairs, parse_constant=_no_constants,
                             parse_float=_parse_float, parse_int=_parse_int)
        except Reject:
            raise
        except (ValueError, RecursionError):
            raise Reject("invalid JSON")
        _check_strings(doc)
        if not isinstance(doc, dict):
            raise Reject("not an object")
        return doc


def _check_strings(value):
    """Lone surrogates decode in Python but are invalid JSON for jansson."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            texts = [v]
        elif isinstance(v, dict):
            texts = list(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            texts = []
            stack.extend(v)
        else:
            texts = []
        for t in texts:
            try:
                t.encode("utf-8")
            except UnicodeEncodeError:
                raise Reject("invalid JSON")


def is_scalar(v):
    return v is None or isinstance(v, (bool, int, float, str))


def text_of(v):
    """A scalar as CSV text: null empty, bools lower case, floats by repr."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def json_text(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


class Flattener:
    def __init__(self, opts):
        self.sep = opts.sep
        self.lists = opts.lists
        self.join_sep = opts.join_sep
        self.max_depth = opts.max_depth
        self.max_rows = opts.max_rows_per_record
        self.on_collision = opts.on_collision
        self.paths = [p.split(".") for p in opts.explode]

    def _explodes_here(self, paths, elem):
        return not elem and [] in paths

    def count(self, value, paths, elem=False):
        """Rows a value gives (Python integers cannot overflow)."""
        if isinstance(value, dict) and value:
            n = 1
            for k, v in value.items():
                n *= self.count(v, [p[1:] for p in paths if p and p[0] == k])
            return n
        if isinstance(value, list) and value and self._explodes_here(paths, elem):
            return sum(self.count(e, paths, True) for e in value)
        return 1

    def walk(self, value, name, depth, paths, elem, leaves):
        """The alternatives a value gives: lists of (name, value) cells;
        every leaf's name is appended to leaves in document order."""
        if isinstance(value, (dict, list)) and not value:
            leaves.append(name)
            return [[(name, None)]]
        deep = self.max_depth is not None and depth > self.max_depth and not paths
        if isinstance(value, dict):
            if deep:
                leaves.append(name)
                return [[(name, json_text(value))]]
            rows = [[]]
            for k, v in value.items():
                child = k if depth == 0 else name + self.sep + k
                sub = [p[1:] for p in paths if p and p[0] == k]
                alts = self.walk(v, child, depth + 1, sub, False, leaves)
                rows = [r + a for r in rows for a in alts]
            return rows
        if isinstance(value, list):
            if self._explodes_here(paths, elem):
                rows = []
                for e in value:
                    rows.extend(self.walk(e, name, depth, paths, True, leaves))
                return rows
            if deep or self.lists == "json":
                leaves.append(name)
                return [[(name, json_text(value))]]
            if self.lists == "join" and all(is_scalar(e) for e in value):
                leaves.append(name)
                return [[(name, self.join_sep.join(text_of(e) for e in value))]]
            rows = [[]]
            for i, e in enumerate(value):
                alts = self.walk(e, name + self.sep + str(i), depth + 1, [], False, leaves)
                rows = [r + a for r in rows for a in alts]
            return rows
        leaves.append(name)
        return [[(name, value)]]

    def record(self, doc):
        """(rows, leaf names, collisions resolved) of one record."""
        if self.count(doc, self.paths) > self.max_rows:
            raise TooManyRows()
        leaves = []
        rows = self.walk(doc, "", 0, self.paths, False, leaves) if doc else [[]]
        out, collisions = [], 0
        for row in rows:
            cells, at = [], {}
            for col, v in row:
                if col not in at:
                    at[col] = len(cells)
                    cells.append([col, v])
                elif self.on_collision == "error":
                    raise Reject("key collision")
                else:
                    collisions += 1
                    if self.on_collision == "last":
                        cells[at[col]][1] = v
            out.append(cells)
        return out, leaves, collisions


def type_of(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "double"
    return "string"


def widen(a, b):
    if a is None:
        return b
    if a == b:
        return a
    if {a, b} == {"int64", "double"}:
        return "double"
    return "string"


def typed_text(v, t):
    """The CSV text of v in a column of type t; None for null."""
    if v is None:
        return None
    if t == "double" and isinstance(v, int) and not isinstance(v, bool):
        return repr(float(v))
    return text_of(v)


def csv_field(text):
    # null is the only empty field; the empty string is written "".
    if text is None:
        return ""
    if text == "" or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(fields):
    return ",".join(csv_field(f) for f in fields) + "\n"


def hive_part(name, text):
    def esc(s):
        if s in (".", ".."):
            return "%2E" * len(s)
        out = bytearray()
        for byte in s.encode("utf-8"):
            if byte < 0x20 or byte == 0x7f or chr(byte) in HIVE_UNSAFE:
                out += b"%%%02X" % byte
            else:
                out.append(byte)
        return out.decode("utf-8")

    return esc(name) + "=" + (esc(text) if text else NULL_PARTITION)


def partition_key(spec, row, final):
    """(name, text) of a --partition-by key for a row."""
    if "=" not in spec:
        return spec, typed_text(row.get(spec), final.get(spec, "string"))
    name, expr = spec.split("=", 1)
    if not (expr.startswith("to_date(") and expr.endswith(")")):
        raise SystemExit("flatten.py: --partition-by supports COLUMN or NAME=to_date(COLUMN)")
    secs = row.get(expr[len("to_date("):-1])
    if not isinstance(secs, int) or isinstance(secs, bool):
        return name, ""
    day = datetime.date(1970, 1, 1) + datetime.timedelta(days=secs // 86400)
    return name, day.isoformat()


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        yield line


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--sep", default=".")
    ap.add_argument("--lists", default="index", choices=("index", "join", "json"))
    ap.add_argument("--join-sep", default=",")
    ap.add_argument("--explode", action="append", default=[])
    ap.add_argument("--max-depth", type=int, default=None)
    ap.add_argument("--max-rows-per-record", type=int, default=10000)
    ap.add_argument("--on-collision", default="error", choices=("error", "first", "last"))
    ap.add_argument("--partition-by", action="append", default=[])
    opts = ap.parse_args(argv)

    flat = Flattener(opts)
    dec = Decoder()
    counts = {"lines_read": 0, "blank_lines": 0, "rows_rejected": 0, "records": 0, "rows": 0,
              "duplicate_keys": 0, "collisions": 0}
    order, types, nonnull = [], {}, {}
    all_rows = []
    for path in opts.inputs:
        for line in read_lines(path):
            counts["lines_read"] += 1
            if not line:
                counts["blank_lines"] += 1
                continue
            try:
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError:
                    raise Reject("invalid UTF-8")
                doc = dec.decode(text)
                rows, leaves, collisions = flat.record(doc)
            except Reject:
                counts["rows_rejected"] += 1
                continue
            except TooManyRows:
                print("flatten.py: %s: a record explodes into more than %d rows" % (
                    path, opts.max_rows_per_record), file=sys.stderr)
                return 1
            counts["records"] += 1
            counts["rows"] += len(rows)
            counts["duplicate_keys"] += dec.duplicates
            counts["collisions"] += collisions
            for name in leaves:
                if name not in types:
                    order.append(name)
                    types[name] = None
                    nonnull[name] = 0
            for cells in rows:
                for col, v in cells:
                    if v is not None:
                        nonnull[col] += 1
                        types[col] = widen(types[col], type_of(v))
                all_rows.append(dict(cells))

    final = {c: (types[c] or "string") for c in order}
    os.makedirs(opts.out, exist_ok=True)
    pspecs = opts.partition_by
    written = [c for c in order if c not in pspecs]
    if pspecs:
        parts = {}
        for row in all_rows:
            key = "/".join(hive_part(*partition_key(p, row, final)) for p in pspecs)
            parts.setdefault(key, []).append(row)
        for key, rows in parts.items():
            d = os.path.join(opts.out, "parts", key)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "rows.csv"), "w", encoding="utf-8", newline="") as f:
                f.write(csv_line(written))
                for row in rows:
                    f.write(csv_line([typed_text(row.get(c), final[c]) for c in written]))
    else:
        with open(os.path.join(opts.out, "table.csv"), "w", encoding="utf-8", newline="") as f:
            f.write(csv_line(written))
            for row in all_rows:
                f.write(csv_line([typed_text(row.get(c), final[c]) for c in written]))
    counts["columns"] = [{"name": c, "type": final[c], "nonnull": nonnull[c]} for c in order]
    with open(os.path.join(opts.out, "counts.json"), "w", encoding="utf-8") as f:
        json.dump(counts, f, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
