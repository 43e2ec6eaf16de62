"""The report as one self-contained HTML page: inline CSS, SVG plots, JPEG thumbnails as data
addresses and a small script for sorting, filtering and paging the table. No server, no network:
it opens from disk, and stays small for large corpora (all flagged videos, then up to
``max_rows`` of the rest; the JSON export has every row)."""
from __future__ import annotations

import html
import json
import time
from typing import Sequence

import numpy as np

from signseg.report.figures import FLAGS, Report, VideoFigures
from signseg.report.thumbs import data_uri

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
th{background:#f4f4f4;cursor:pointer;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}
.flag{display:inline-block;padding:0 6px;margin:1px;border-radius:8px;font-size:12px;color:#fff;background:#c0392b}
.flag.flicker,.flag.background{background:#d68910}.flag.failed{background:#555}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plot{border:1px solid #eee;padding:6px}
.plot text{font-size:11px;fill:#333}.bar{fill:#5d8aa8}.over{fill:#c0392b}.limit{stroke:#c0392b;stroke-dasharray:4 3}
.thumbs img{height:96px;margin:2px;border:1px solid #ccc}.note{color:#777}.suggest{background:#fdf2e9;padding:6px 10px;margin:4px 0}
#pager button{margin:0 4px}.muted{color:#888}
"""

_JS = """
const data = JSON.parse(document.getElementById('rows').textContent);
const cols = ['video_id','group','status','frames','face','one_hand','two_hands','confidence','area','flicker'];
const pct = new Set(['face','one_hand','two_hands','area','flicker']);
let sortKey = 'score', sortDir = -1, page = 0; const per = 100;
function cell(r, c) {
  const v = r[c]; if (v === null || v === undefined) return '<td class="n muted">-</td>';
  if (pct.has(c)) return '<td class="n">' + (100 * v).toFixed(0) + '%</td>';
  if (c === 'confidence') return '<td class="n">' + v.toFixed(2) + '</td>';
  if (c === 'frames') return '<td class="n">' + v + '</td>';
  return '<td>' + String(v).replace(/[&<>]/g, s => ({'&':'&amp;','<':'&lt;','>':'&gt;'}[s])) + '</td>';
}
function rows() {
  const f = document.getElementById('flagfilter').value, q = document.getElementById('search').value.toLowerCase();
  let out = data.filter(r => (f === 'all' || (f === 'flagged' ? Object.keys(r.flags).length > 0 :
      f === 'clean' ? Object.keys(r.flags).length === 0 : f in r.flags)) &&
      (!q || r.video_id.toLowerCase().includes(q) || r.group.toLowerCase().includes(q)));
  out.sort((a, b) => { const x = a[sortKey], y = b[sortKey];
    if (x === y) return a.video_id < b.video_id ? -1 : 1; if (x === null) return 1; if (y === null) return -1;
    return (x < y ? -1 : 1) * sortDir; });
  return out;
}
function render() {
  const all = rows(), pages = Math.max(1, Math.ceil(all.length / per)); page = Math.min(page, pages - 1);
  const body = all.slice(page * per, (page + 1) * per).map(r => '<tr>' + cols.map(c => cell(r, c)).join('') +
    '<td>' + Object.entries(r.flags).map(([k, why]) => '<span class="flag ' + k + '" title="' +
      why.replace(/"/g, '&quot;') + '">' + k + '</span>').join('') + '</td></tr>').join('');
  document.querySelector('#videos tbody').innerHTML = body;
  document.getElementById('pageinfo').textContent = all.length + ' videos, page ' + (page + 1) + ' of ' + pages;
}
document.querySelectorAll('#videos th[data-key]').forEach(th => th.addEventListener('click', () => {
  const k = th.dataset.key; sortDir = (sortKey === k) ? -sortDir : (k === 'video_id' || k === 'group' ? 1 : -1);
  sortKey = k; render(); }));
document.getElementById('flagfilter').addEventListener('change', () => { page = 0; render(); });
document.getElementById('search').addEventListener('input', () => { page = 0; render(); });
document.getElementById('prev').addEventListener('click', () => { page = Math.max(0, page - 1); render(); });
document.getElementById('next').addEventListener('click', () => { page += 1; render(); });
render();
"""


def _e(v) -> str:
    return html.escape(str(v))


def histogram(values: Sequence[float], title: str, limit: float | None = None, over: bool = True,
              bins: int = 20, lo: float = 0.0, hi: float = 1.0, width: int = 260, height: int = 150) -> str:
    """An SVG histogram of ``values`` in [lo, hi], bins past ``limit`` (above it where ``over``,
    else below) drawn as flagged, with the limit as a dashed line."""
    v = np.clip(np.asarray([x for x in values if x is not None and np.isfinite(x)], float), lo, hi)
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    top = max(1, int(counts.max()) if len(counts) else 1)
    pad_l, pad_b, plot_w, plot_h = 28, 20, width - 36, height - 44
    bw = plot_w / bins
    parts = [f'<svg class="plot" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
             f'<text x="4" y="14">{_e(title)} ({len(v)} videos)</text>']
    for i, c in enumerate(counts):
        mid = (edges[i] + edges[i + 1]) / 2
        bad = limit is not None and (mid > limit if over else mid < limit)
        h = plot_h * c / top
        parts.append(f'<rect class="{"over" if bad else "bar"}" x="{pad_l + i * bw:.1f}" '
                     f'y="{24 + plot_h - h:.1f}" width="{max(bw - 1, 1):.1f}" height="{h:.1f}"><title>'
                     f'{edges[i]:.2f}-{edges[i + 1]:.2f}: {c}</title></rect>')
    if limit is not None:
        x = pad_l + plot_w * (limit - lo) / (hi - lo)
        parts.append(f'<line class="limit" x1="{x:.1f}" x2="{x:.1f}" y1="24" y2="{24 + plot_h}"/>')
    y0 = 24 + plot_h + 14
    parts += [f'<text x="{pad_l}" y="{y0}">{lo:g}</text>', f'<text x="{pad_l + plot_w - 10}" y="{y0}">{hi:g}</text>',
              f'<text x="2" y="30">{top}</text>', "</svg>"]
    return "".join(parts)


def group_bars(groups: list[dict], limit: int = 30, width: int = 540) -> str:
    """An SVG bar chart of the flagged share of each group (the most flagged ``limit``)."""
    shown = [g for g in groups if g["group"] != "(all)"][:limit]
    if not shown:
        return ""
    row, label_w = 16, 160
    height = 24 + row * len(shown)
    parts = [f'<svg class="plot" width="{width}" height="{height}" role="img" aria-label="flagged share per group">',
             '<text x="4" y="14">flagged share of each signer or folder (most flagged first)</text>']
    for i, g in enumerate(shown):
        y = 22 + i * row
        w = (width - label_w - 60) * g["share"]
        parts.append(f'<text x="4" y="{y + 11}">{_e(g["group"][:24])}</text>'
                     f'<rect class="{"over" if g["share"] >= 0.5 else "bar"}" x="{label_w}" y="{y}" '
                     f'width="{w:.1f}" height="{row - 3}"><title>{g["flagged"]} of {g["videos"]}</title></rect>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 11}">{g["flagged"]}/{g["videos"]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(report: Report, thumbs: dict[str, tuple[list[bytes], str | None]], max_rows: int = 3000) -> str:
    """The page's HTML. ``thumbs``: video id -> (JPEG overlays, or the note saying why none)."""
    videos = report.videos
    flagged = report.flagged()
    clean = sorted((v for v in videos if not v.flags), key=lambda v: v.video_id)
    kept = flagged + clean[:max(0, max_rows - len(flagged))]
    left_out = len(videos) - len(kept)
    run = report.run
    done = [v for v in videos if v.status == "complete"]
    counts = {k: sum(1 for v in videos if k in v.flags) for k in FLAGS}

    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>signseg report: {_e(report.path)}</title><style>{_CSS}</style></head><body>",
           f"<h1>signseg report</h1><div class='muted'>{_e(report.path)} &middot; made "
           f"{_e(time.strftime('%Y-%m-%d %H:%M'))}</div>"]
    # the run
    wall = run.get("wall_seconds")
    rows = [("videos", f"{run['videos']}: {run['complete']} complete, {run['failed']} failed, {run['pending']} pending"),
            ("frames", f"{run['frames']:,}"),
            ("wall time", f"{wall:,.0f} s over {run['runs']} run(s), last {run['last_run']}" if wall is not None
             else "not recorded (a file from before run logs)")]
    rows += [(k, run[k]) for k in ("model", "weights_sha256", "threshold", "mirror", "max_blobs", "parts", "stride",
                                  "runtime", "precision", "signseg_version", "adapted_from", "adapted_used") if k in run]
    out.append("<h2>The run</h2><table id='run'>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                                                            for k, v in rows) + "</table>")
    # flags and suggestions
    out.append(f"<h2>Flagged: {len(flagged)} of {len(videos)} videos</h2><table id='flags'>")
    out += [f"<tr><td><span class='flag {k}'>{k}</span></td><td class='n'>{counts[k]}</td><td>{_e(why)}</td></tr>"
            for k, why in FLAGS.items()]
    out.append("</table>")
    out += [f"<div class='suggest'>{_e(s)}</div>" for s in report.suggestions]
    # plots
    lim = report.limits
    out.append("<h2>Across the corpus</h2><div class='plots' id='plots'>")
    out.append(histogram([v.one_hand + v.two_hands for v in done], "frames with a hand", lim.hands, over=False))
    out.append(histogram([v.two_hands for v in done], "frames with both hands"))
    out.append(histogram([v.face for v in done], "frames with a face", lim.face, over=False))
    out.append(histogram([v.area for v in done], "share of the frame marked", lim.area, hi=max(0.6, 2 * lim.area)))
    out.append(histogram([v.flicker for v in done], "frame pairs that jump", lim.flicker))
    out.append(histogram([v.confidence for v in done], "mean confidence"))
    out.append(group_bars(report.groups))
    out.append("</div>")
    # the table
    options = "".join(f"<option value='{k}'>{k}</option>" for k in FLAGS)
    head = "".join(f"<th data-key='{k}'>{_e(t)}</th>" for k, t in (
        ("video_id", "video"), ("group", "signer / folder"), ("status", "status"), ("frames", "frames"),
        ("face", "face"), ("one_hand", "1 hand"), ("two_hands", "2 hands"), ("confidence", "confidence"),
        ("area", "marked"), ("flicker", "jumps"), ("score", "flags")))
    out.append("<h2>Every video</h2><div>show <select id='flagfilter'><option value='all'>all</option>"
               f"<option value='flagged'>flagged</option><option value='clean'>not flagged</option>{options}</select> "
               "search <input id='search' placeholder='video or signer'> <span id='pager'><button id='prev'>"
               "&larr;</button><span id='pageinfo'></span><button id='next'>&rarr;</button></span></div>"
               f"<table id='videos'><thead><tr>{head}</tr></thead><tbody></tbody></table>")
    if left_out:
        out.append(f"<p class='note'>{left_out:,} videos without flags are not listed here, to keep the page small; "
                   "<code>signseg report --json</code> writes every row.</p>")
    # the worst videos
    out.append(f"<h2>The worst videos</h2><div id='worst'>")
    for v in flagged:
        if v.video_id not in thumbs:
            continue
        pics, why = thumbs[v.video_id]
        badges = "".join(f"<span class='flag {k}'>{k}</span> {_e(r)}<br>" for k, r in v.flags.items())
        body = ("".join(f"<img src='{data_uri(p)}' alt='{_e(v.video_id)} frame'>" for p in pics)
                if pics else f"<span class='note'>no thumbnails: {_e(why)}</span>")
        out.append(f"<div class='worst'><b>{_e(v.video_id)}</b> <span class='muted'>({_e(v.group)}, "
                   f"{v.frames} frames)</span><br>{badges}<div class='thumbs'>{body}</div></div>")
    out.append("</div>")
    payload = json.dumps([v.as_dict() for v in kept]).replace("</", "<\\/")
    out.append(f"<script id='rows' type='application/json'>{payload}</script><script>{_JS}</script></body></html>")
    return "".join(out)


def worst(report: Report, n: int) -> list[VideoFigures]:
    """The ``n`` flagged videos the page draws thumbnails of (worst first, complete ones)."""
    return [v for v in report.flagged() if v.status == "complete"][:n]
