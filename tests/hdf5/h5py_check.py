#!/usr/bin/env python3
"""h5py_check.py - reads a shardflow HDF5 output with h5py, independently of
shardflow's own reader, and prints a digest the test driver compares with
the values it wrote.

usage: h5py_check.py FILE.h5

Checks the documented format (docs/formats.md) on the way: table groups carry
columns / types / row_count, every column is a 1-D dataset of row_count
elements with the documented dtype, validity datasets are uint8, dates carry
their units, strings decode as UTF-8, and the root row_count is the sum.
Prints one line:
  tables=N rows=R nsum=S trues=T double_nulls=D string_bytes=B
where S sums the valid int64 values, T counts valid true booleans, D counts
NULL doubles and B sums the UTF-8 byte lengths of valid strings.
"""
import sys

import h5py
import numpy as np


def tables_of(f):
    if "columns" in f.attrs:
        return [""]
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and "columns" in obj.attrs:
            found.append(name)

    f.visititems(visit)
    return sorted(found)


def as_text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def main():
    path = sys.argv[1]
    tables = rows = nsum = trues = double_nulls = string_bytes = 0
    with h5py.File(path, "r") as f:
        for name in tables_of(f):
            grp = f[name] if name else f
            cols = [as_text(c) for c in grp.attrs["columns"]]
            types = [as_text(t) for t in grp.attrs["types"]]
            n = int(grp.attrs["row_count"])
            tables += 1
            rows += n
            for col, typ in zip(cols, types):
                ds = grp[col.replace("%", "%25").replace("/", "%2F")]
                assert ds.shape == (n,), (name, col, ds.shape)
                assert as_text(ds.attrs["type"]) == typ, (name, col)
                vname = col + ".valid"
                if vname in grp:
                    assert grp[vname].dtype == np.uint8, (name, vname)
                    valid = grp[vname][...].astype(bool)
                else:
                    valid = np.ones(n, dtype=bool)
                data = ds[...]
                if typ == "int64":
                    assert ds.dtype == np.int64, (name, col, ds.dtype)
                    nsum += int(data[valid].sum())
                elif typ == "double":
                    assert ds.dtype == np.float64, (name, col, ds.dtype)
                    assert np.isnan(data[~valid]).all(), (name, col)
                    double_nulls += int((~valid).sum())
                elif typ == "bool":
                    assert ds.dtype == np.bool_, (name, col, ds.dtype)
                    trues += int(data[valid].sum())
                elif typ == "date":
                    assert ds.dtype == np.int32, (name, col, ds.dtype)
                    assert as_text(ds.attrs["units"]) == "days since 1970-01-01"
                elif typ == "string":
                    for v in data[valid]:
                        raw = v if isinstance(v, bytes) else bytes(np.asarray(v, np.uint8))
                        raw.decode("utf-8")
                        string_bytes += len(raw)
        if "columns" not in f.attrs:
            assert int(f.attrs["row_count"]) == rows, (int(f.attrs["row_count"]), rows)
            assert int(f.attrs["partition_count"]) == tables
    print(f"tables={tables} rows={rows} nsum={nsum} trues={trues} "
          f"double_nulls={double_nulls} string_bytes={string_bytes}")


if __name__ == "__main__":
    main()
