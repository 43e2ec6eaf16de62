"""``signseg report``: read a mask file's figures, draw the worst videos, write the page (and JSON)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import h5py

from signseg.report.figures import Limits, Report, read_report
from signseg.report.page import render, worst
from signseg.report.thumbs import strip


def write_report(mask_file: str | os.PathLike, html_out: str | os.PathLike | None = None,
                 json_out: str | os.PathLike | None = None, *, worst_n: int = 12, limits: Limits = Limits(),
                 max_rows: int = 3000) -> Report:
    """Write the report of ``mask_file``: the HTML page (``html_out``, with overlay thumbnails of
    the ``worst_n`` worst flagged videos) and/or every figure as JSON (``json_out``)."""
    report = read_report(mask_file, limits)
    if json_out is not None:
        _atomic_write(json_out, json.dumps(report.as_dict(), indent=1) + "\n")
    if html_out is not None:
        thumbs = {}
        with h5py.File(mask_file, "r") as f:
            for v in worst(report, worst_n):
                thumbs[v.video_id] = strip(f[f"videos/{v.video_id}"])
        _atomic_write(html_out, render(report, thumbs, max_rows))
    return report


def _atomic_write(path: str | os.PathLike, text: str) -> None:
    """Write whole or not at all: a report is never left half written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
