"""Printing for the bench scripts: a plain table, or JSON with --json."""
from __future__ import annotations

import json


def report(meta: dict, rows: list[dict], as_json: bool) -> None:
    """Print ``meta`` as one key=value line and ``rows`` as aligned columns (or all as JSON)."""
    if as_json:
        print(json.dumps({"meta": meta, "rows": rows}, indent=2))
        return
    print(" ".join(f"{k}={v}" for k, v in meta.items()))
    cols = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths)))
