"""Per-video figures and flags of a mask file, and the corpus around them.

Every figure comes from the ``signals`` dataset the run wrote (docs/format.md): a report over
tens of thousands of videos reads a few bytes a frame. A file written before signals existed
is read from its masks instead (slower; no confidence). Which parts a frame holds comes from
the part signals where the run had parts on; without them it is estimated from the blobs left
in the mask (1: a face, 2: a face and a hand, 3: a face and both hands), which undercounts
where a hand touches the face.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import h5py
import numpy as np

from signseg import labels as L
from signseg.store.mask_file import COMPLETE, FAILED, MaskFile

#: Flags, in the order the page lists them, with what each means.
FLAGS = {
    "failed": "the video could not be read or written",
    "empty": "no mask in most frames",
    "no_face": "the face missing in most frames",
    "no_hands": "no hand in most frames",
    "background": "far more of the frame marked than a signer's hands and face (or a 'hand' far larger than the "
                  "face: clothing or background marked, or the face itself called a hand)",
    "flicker": "the mask jumps from frame to frame",
}


@dataclass(frozen=True)
class Limits:
    """Where a figure becomes a flag (each a share of a video's frames, or of the frame)."""

    empty: float = 0.9        # empty: at least this share of frames with nothing marked
    face: float = 0.5         # no_face: a face in fewer than this share of frames
    hands: float = 0.3        # no_hands: a hand in fewer than this share of frames
    area: float = 0.3         # background: on average more than this share of the frame marked
    hand_box: float = 6.0     # background: a hand's box, typically, more than this many times the face's
    flicker: float = 0.3      # flicker: the marked area changes by half or more between this share of frame pairs


@dataclass
class VideoFigures:
    """One video's figures (shares of its frames unless said) and its flags with reasons."""

    video_id: str
    status: str                      # complete, failed or pending
    frames: int = 0
    signer: int | None = None
    group: str = ""                  # the signer, else the corpus folder, else "(all)"
    source: str = ""
    model: str = ""                  # the model that wrote it
    face: float | None = None        # frames with a face
    one_hand: float | None = None    # frames with exactly one hand
    two_hands: float | None = None   # frames with both hands
    empty: float | None = None       # frames with nothing marked
    area: float | None = None        # mean share of the frame marked
    confidence: float | None = None  # mean network probability over what was marked
    flicker: float | None = None     # frame pairs whose marked area changes by half or more
    hand_box: float | None = None    # the larger hand's box over the face's, median over frames with both (parts)
    parts_from: str = ""             # "parts" (the run's parts) or "blobs" (estimated)
    flags: dict[str, str] = field(default_factory=dict)
    score: float = 0.0               # how bad: flags and how far past their limits (ranks the worst)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = None if not np.isfinite(v) else round(v, 4)
        return d


@dataclass
class Report:
    """What ``signseg report`` shows: the run, every video's figures, the groups, suggestions."""

    path: str
    run: dict[str, Any]
    videos: list[VideoFigures]
    groups: list[dict[str, Any]]
    suggestions: list[str]
    limits: Limits

    def flagged(self) -> list[VideoFigures]:
        """Flagged videos, worst first."""
        return sorted((v for v in self.videos if v.flags), key=lambda v: (-v.score, v.video_id))

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "run": self.run, "limits": asdict(self.limits),
                "flag_meanings": FLAGS, "groups": self.groups, "suggestions": self.suggestions,
                "videos": [v.as_dict() for v in self.videos]}


# --------------------------------------------------------------------------- one video
def _per_frame(group: h5py.Group) -> tuple[dict[str, np.ndarray], str]:
    """(per-frame arrays: area, confidence, face, hands (0/1/2)), and where the parts came from."""
    if "signals" in group:
        s = group["signals"][()]
        out = {"area": s["area"].astype(np.float64), "confidence": s["confidence"].astype(np.float64)}
        if "face_found" in s.dtype.names:
            out["face"] = s["face_found"] > 0
            out["hands"] = (s["left_hand_found"] > 0).astype(int) + (s["right_hand_found"] > 0)
            return out, "parts"
        blobs = s["blobs"].astype(int)
    else:  # a file from before signals: read the masks, chunk by chunk
        masks = group["masks"]
        area, blobs, face, hands = [], [], [], []
        step = max(1, masks.chunks[0] if masks.chunks else 16)
        for start in range(0, masks.shape[0], step):
            for m in masks[start:start + step]:
                area.append(np.count_nonzero(m) / m.size)
                blobs.append(cv2.connectedComponents((m > 0).astype(np.uint8), connectivity=8)[0] - 1)
                face.append(bool((m == L.FACE).any()))
                hands.append(int((m == L.LEFT_HAND).any()) + int((m == L.RIGHT_HAND).any()))
        out = {"area": np.array(area, np.float64), "confidence": np.full(len(area), np.nan)}
        if bool(group.attrs.get("parts", False)):
            out["face"], out["hands"] = np.array(face, bool), np.array(hands, int)
            return out, "parts"
        blobs = np.array(blobs, int)
    out["face"] = blobs >= 1
    out["hands"] = np.clip(blobs - 1, 0, 2)
    return out, "blobs"


def _hand_box(group: h5py.Group) -> float | None:
    """Median over frames with a face and a hand of the larger hand's box area over the face's:
    a signer's hand is about the face's size, so a 'hand' many times it is clothing or
    background marked as hand (None without boxes, or with no such frame)."""
    if "boxes" not in group:
        return None
    b = group["boxes"][()].astype(np.float64)
    area = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # NaN where a part is absent
    hand = np.fmax(area[:, 1], area[:, 2])
    ok = np.isfinite(area[:, 0]) & np.isfinite(hand) & (area[:, 0] > 0)
    return float(np.median(hand[ok] / area[ok, 0])) if ok.any() else None


def _flicker(area: np.ndarray) -> float:
    """Share of consecutive frame pairs where the marked area changes by half or more of the
    larger of the two (a mask that comes and goes, or doubles and halves)."""
    if len(area) < 2:
        return 0.0
    a, b = area[:-1], area[1:]
    big = np.maximum(a, b)
    jumps = (big > 0) & (np.abs(a - b) > 0.5 * big)
    return float(jumps.mean())


def video_figures(video_id: str, group: h5py.Group, limits: Limits) -> VideoFigures:
    """A complete video's figures and flags."""
    frames, parts_from = _per_frame(group)
    n = len(frames["area"])
    conf = frames["confidence"]
    fig = VideoFigures(video_id, "complete", frames=n, source=str(group.attrs.get("source", "")),
                       model=str(group.attrs.get("model", "")),
                       signer=int(group.attrs["signer"]) if "signer" in group.attrs else None,
                       face=float(frames["face"].mean()) if n else 0.0,
                       one_hand=float((frames["hands"] == 1).mean()) if n else 0.0,
                       two_hands=float((frames["hands"] == 2).mean()) if n else 0.0,
                       empty=float((frames["area"] == 0).mean()) if n else 1.0,
                       area=float(frames["area"].mean()) if n else 0.0,
                       confidence=float(np.nanmean(conf)) if np.isfinite(conf).any() else None,
                       flicker=_flicker(frames["area"]), hand_box=_hand_box(group), parts_from=parts_from)
    flag_video(fig, limits)
    return fig


def flag_video(fig: VideoFigures, limits: Limits) -> None:
    """Set ``fig.flags`` (flag -> reason) and ``fig.score`` from its figures."""
    flags, score = {}, 0.0
    pct = lambda v: f"{100 * v:.0f}%"  # noqa: E731
    est = "" if fig.parts_from == "parts" else " (estimated from blobs)"
    if fig.empty >= limits.empty:
        flags["empty"] = f"nothing marked in {pct(fig.empty)} of {fig.frames} frames"
        score += 3 + fig.empty
    else:
        if fig.face < limits.face:
            flags["no_face"] = f"a face in only {pct(fig.face)} of frames{est}"
            score += 1 + (limits.face - fig.face) / limits.face
        hands = fig.one_hand + fig.two_hands
        if hands < limits.hands:
            flags["no_hands"] = f"a hand in only {pct(hands)} of frames{est}"
            score += 1 + (limits.hands - hands) / limits.hands
        if fig.area > limits.area:
            flags["background"] = (f"{pct(fig.area)} of the frame marked on average (a signer's hands and face: "
                                   f"under {pct(limits.area)})")
            score += 1 + min(1.0, (fig.area - limits.area) / limits.area)
        elif fig.hand_box is not None and fig.hand_box > limits.hand_box:
            flags["background"] = (f"a 'hand' {fig.hand_box:.0f}x the face's box (a hand is about the face's size): "
                                   "clothing or background marked as hand, or the face itself called a hand "
                                   "and a speck the face")
            score += 1 + min(1.0, (fig.hand_box - limits.hand_box) / limits.hand_box)
        if fig.flicker > limits.flicker:
            flags["flicker"] = f"the marked area jumps by half or more between {pct(fig.flicker)} of frame pairs"
            score += 1 + min(1.0, (fig.flicker - limits.flicker) / limits.flicker)
    fig.flags, fig.score = flags, round(score, 4)


# --------------------------------------------------------------------------- the corpus
_SIGNER = re.compile(r"^signer(\d+)_")


def group_of(fig: VideoFigures) -> str:
    """What a video's flags are pooled by: its signer where known (the index or an AUTSL name),
    else its corpus folder (the id's first ``__`` part), else ``(all)``."""
    if fig.signer is not None and fig.signer >= 0:
        return f"signer {fig.signer}"
    m = _SIGNER.match(fig.video_id)
    if m:
        return f"signer {int(m.group(1))}"
    return fig.video_id.split("__", 1)[0] if "__" in fig.video_id else "(all)"


def _run_info(store: MaskFile, videos: list[VideoFigures]) -> dict[str, Any]:
    """The run as the file records it: model, weights, threshold, versions, counts, wall time."""
    h5 = store.h5
    first = next((h5[f"videos/{v.video_id}"].attrs for v in videos if v.status == "complete"), {})
    keys = ("model", "weights_sha256", "threshold", "runtime", "precision", "mirror", "max_blobs", "parts",
            "stride", "signseg_version")
    info: dict[str, Any] = {k: _plain(first[k]) for k in keys if k in first}
    models = {v.model for v in videos if v.status == "complete"}
    if len(models) > 1:
        info["model"] = ", ".join(sorted(models))
    status = Counter(v.status for v in videos)
    info.update(videos=len(videos), complete=status["complete"], failed=status["failed"],
                pending=status["pending"], frames=int(sum(v.frames for v in videos)),
                file_version=str(h5.attrs.get("signseg_version", "")))
    for key in ("adapted_from", "adapted_on_frames", "adapted_used"):
        if key in h5.attrs:
            info[key] = _plain(h5.attrs[key])
    log = store.run_log()
    if log:
        info.update(wall_seconds=float(h5.attrs.get("wall_seconds", 0.0)), runs=len(log), last_run=log[-1]["finished"])
    return info


def _plain(v: Any) -> Any:
    """An HDF5 attribute as a JSON-able Python value."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _groups(videos: list[VideoFigures]) -> list[dict[str, Any]]:
    """Per group: videos, flagged share, the most common flag; most flagged first."""
    by: dict[str, list[VideoFigures]] = {}
    for v in videos:
        by.setdefault(v.group, []).append(v)
    rows = []
    for name, vs in by.items():
        flagged = [v for v in vs if v.flags]
        common = Counter(f for v in flagged for f in v.flags).most_common(2)
        rows.append({"group": name, "videos": len(vs), "flagged": len(flagged),
                     "share": round(len(flagged) / len(vs), 4), "flags": dict(common)})
    return sorted(rows, key=lambda r: (-r["share"], -r["videos"], r["group"]))


def _selection(sources: list[str], others: list[str]) -> str:
    """``FOLDER [--pattern 'GLOB']``: the corpus folder of ``sources`` and, where that folder holds
    other videos too (``others``), a glob of their common file-name start and end."""
    folder = os.path.commonpath(sources) if len(sources) > 1 else os.path.dirname(sources[0])
    if not any(o.startswith(folder + os.sep) for o in others):
        return folder
    names = [os.path.relpath(s, folder) for s in sources]
    head = os.path.commonprefix(names)
    tail = os.path.commonprefix([n[::-1] for n in names])[::-1]
    tail = tail[max(0, len(tail) - (min(map(len, names)) - len(head))):]  # never overlapping the head
    return f"{folder} --pattern '{head}*{tail}'"


def _suggestions(report_groups: list[dict[str, Any]], videos: list[VideoFigures]) -> list[str]:
    """Groups with several videos and most of them flagged (failures aside): adapt to them, with
    the command that selects just their videos."""
    out = []
    for g in report_groups:
        members = [v for v in videos if v.group == g["group"] and v.status == "complete"]
        bad = [v for v in members if v.flags]
        if g["group"] == "(all)" or len(members) < 3 or len(bad) < 0.5 * len(members):
            continue
        sources = [v.source for v in members if v.source]
        others = [v.source for v in videos if v.source and v.group != g["group"]]
        where = _selection(sources, others) if sources else "ROOT"
        stem = re.sub(r"[^\w.-]+", "_", g["group"])
        kinds = ", ".join(f"{k} x{n}" for k, n in g["flags"].items())
        out.append(f"{g['group']}: {len(bad)} of {len(members)} videos flagged ({kinds}). Adapt the model to "
                   f"them: signseg corpus {where} --adapt 300 -o {stem}_adapted.h5")
    return out


def read_report(path: str | os.PathLike, limits: Limits = Limits()) -> Report:
    """Every video of the mask file ``path`` (complete, failed or pending) with its figures and
    flags, the run, the groups and the suggestions."""
    videos: list[VideoFigures] = []
    with MaskFile(path, "r") as store:
        failures = store.failures()
        for row in store.index():
            vid = row["video_id"].decode() if isinstance(row["video_id"], bytes) else str(row["video_id"])
            signer = int(row["signer"]) if int(row["signer"]) >= 0 else None
            if int(row["status"]) == COMPLETE:
                fig = video_figures(vid, store.h5[f"videos/{vid}"], limits)
                fig.signer = fig.signer if fig.signer is not None else signer
            elif int(row["status"]) == FAILED:
                g = store.h5.get(f"failures/{vid}")
                fig = VideoFigures(vid, "failed", signer=signer,
                                   source=str(g.attrs.get("source", "")) if g is not None else "")
                fig.flags = {"failed": failures.get(vid, "failed")}
                fig.score = 5.0
            else:
                fig = VideoFigures(vid, "pending", signer=signer)
            fig.group = group_of(fig)
            videos.append(fig)
        run = _run_info(store, videos)
    groups = _groups(videos)
    return Report(os.fspath(path), run, videos, groups, _suggestions(groups, videos), limits)
