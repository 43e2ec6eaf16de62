"""A small real corpus for trying ``signseg report``: shared clips of many settings, plus clips
made to go wrong (a video with no person, a face-only crop with no hands, black frames) and
damaged files (truncated, zero bytes, not a video).

    python pipelines/make_report_corpus.py OUT_DIR [--clips N]

Then ``signseg corpus OUT_DIR -o OUT.h5 --parts`` and ``signseg report OUT.h5``. The made clips
are cut from real footage (SOUP.mp4) with OpenCV, so they decode like any other.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _write(path: Path, frames: np.ndarray, fps: float = 25.0) -> Path:
    h, w = frames.shape[1:3]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not out.isOpened():
        raise OSError(f"{path}: OpenCV cannot write mp4v here")
    for f in frames:
        out.write(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR))
    out.release()
    return path


def _frames(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    return np.stack(frames)


def made_clips(out: Path) -> dict[str, Path]:
    """The clips made to fail a check, each named by what is wrong with it."""
    soup = SHARED / "videos" / "SOUP.mp4"
    frames = _frames(soup)
    made = {
        # the grey studio wall right of the signer: no person at all
        "made__no_person": _write(out / "made__no_person.mp4", np.repeat(np.repeat(frames[:, 16:232, 272:320], 2, 1), 2, 2)),
        # the signer's head and shoulders only: her hands stay below the crop
        "made__no_hands": _write(out / "made__no_hands.mp4", np.repeat(np.repeat(frames[:, 0:104, 96:224], 2, 1), 2, 2)),
        # black frames: nothing to mark
        "made__black": _write(out / "made__black.mp4", np.zeros((30, 240, 320, 3), np.uint8)),
    }
    data = soup.read_bytes()
    (out / "damaged__truncated.mp4").write_bytes(data[: len(data) // 3])
    (out / "damaged__zero_bytes.mp4").write_bytes(b"")
    (out / "damaged__not_a_video.mp4").write_text("this is not a video\n")
    return made


def real_clips(out: Path, n: int) -> list[Path]:
    """The three shared videos and ``n`` clips spread evenly over signs, signs2 and signs3."""
    picked = [SHARED / "videos" / name for name in ("SOUP.mp4", "test_video.mp4", "video.mp4")]
    for folder in ("signs", "signs2", "signs3"):
        clips = sorted((SHARED / folder).glob("*.mp4"))
        k = max(1, n // 3)
        picked += [clips[i] for i in np.linspace(0, len(clips) - 1, k).round().astype(int)]
    copies = []
    for clip in picked:
        dst = out / f"{clip.parent.name}__{clip.name}"
        shutil.copy(clip, dst)
        copies.append(dst)
    return copies


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--clips", type=int, default=24, help="shared clips from signs, signs2 and signs3 (default 24)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    real = real_clips(args.out, args.clips)
    made = made_clips(args.out)
    print(f"{args.out}: {len(real)} real clips, {len(made)} made to fail a check, 3 damaged files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
