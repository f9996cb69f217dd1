#!/usr/bin/env python3
"""Compare the report JSONs of two folders, apart from timing and provenance.

Usage: scripts/compare-reports.py [--drop-constant-extra] OLD_DIR NEW_DIR [NAME ...]
(NAME: report names without .json; default: every *.json of OLD_DIR that NEW_DIR also has,
except perf*.json and verify.json, which are timings and test records.)

Left out before comparing: `environment` (commit, versions, platform), each record's `code`
(the code that computed it), every `wall_s`,
`seconds_per_call` and `ms_per_estimate`, data file paths (machine-specific; their SHA-256 stay),
the map's `command`, figures plotted against training seconds, tables of wall times and the
"N ms/call" figures inside notes. `--drop-constant-extra` also drops run diagnostics that are
constant over a run from OLD (reports made before commit 5fd38be kept them). A report's
`simulations` (the records behind Fig. 1d–f) are compared only when OLD has them too (reports
made before they became cells lack them; the figures made from them are compared). Everything
else must be equal: numbers bit for bit (as JSON writes them), strings, order. Exits 1 on the
first difference of each report, naming its path; 0 when all are equal.
"""
import json
import re
import sys
from pathlib import Path

TIMING_KEYS = {"environment", "wall_s", "seconds_per_call", "ms_per_estimate", "command", "code"}


def strip(v, key=None):
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in TIMING_KEYS:
                continue
            if k == "path" and key == "data":
                continue
            out[k] = strip(x, k)
        return out
    if isinstance(v, list):
        items = v
        if key == "figures":
            items = [f for f in v if "seconds" not in str(f.get("x_label", ""))]
        if key == "tables":
            items = [t for t in v if "Wall time" not in str(t.get("caption", ""))]
        if key == "data":
            return [{k: x for k, x in d.items() if k != "path"} for d in items]
        return [strip(x, key) for x in items]
    if isinstance(v, str):
        return re.sub(r"[0-9.]+ ms/call", "… ms/call", v)
    return v


def drop_constant_extra(report):
    for m in report.get("methods", []):
        for r in m.get("runs", []):
            extra = r.get("extra", {})
            for k in [k for k, xs in extra.items() if all(x == xs[0] for x in xs)]:
                del extra[k]


def first_difference(a, b, path="$"):
    if type(a) is not type(b):
        return f"{path}: {a!r:.80} vs {b!r:.80}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'new' if k in b else 'old'}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b or (a != a and b != b) else f"{path}: {a!r:.80} vs {b!r:.80}"


def main():
    args = sys.argv[1:]
    drop = "--drop-constant-extra" in args
    args = [a for a in args if a != "--drop-constant-extra"]
    if len(args) < 2:
        sys.exit(__doc__)
    old, new = Path(args[0]), Path(args[1])
    names = args[2:] or sorted(
        p.stem for p in old.glob("*.json")
        if (new / p.name).exists() and not p.stem.startswith("perf") and p.stem != "verify"
    )
    failed = False
    for name in names:
        raw = json.loads((old / f"{name}.json").read_text())
        if drop:
            drop_constant_extra(raw)
        a = strip(raw)
        b = strip(json.loads((new / f"{name}.json").read_text()))
        if isinstance(a, dict) and isinstance(b, dict) and "simulations" not in a:
            b.pop("simulations", None)
        d = first_difference(a, b)
        print(f"{name}.json: {'equal apart from timing and provenance' if d is None else 'DIFFERS at ' + d}")
        failed |= d is not None
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
