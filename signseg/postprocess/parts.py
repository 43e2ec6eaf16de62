"""Split a hand-and-face mask into face, left hand and right hand, tracked across frames.

The model gives one foreground mask; a recognizer wants the parts apart. Each frame's mask
is cut into connected components, and three tracks (face, the signer's left hand, the
signer's right hand) claim them:

* the face is the upper, larger, steadier blob: it is found first, and moves little;
* a hand keeps its identity by its predicted position (constant velocity), so it survives
  crossings and short misses; a new hand is named by its side of the face;
* when a tracked hand touches the face (or the other hand) their blobs merge: the merged
  blob's pixels are shared out by each track's previous box and position.

Left and right are the *signer's*: for a signer facing the camera, the left hand appears on
the image's right. This is MediaPipe Holistic's convention, so teacher labels compare 1:1.
Foreground that no track claims is :data:`signseg.labels.UNASSIGNED`.

This splits the one mask of a one-channel model (``snet``). A model with face and hand
channels is split by its own channels instead (:mod:`signseg.postprocess.network_parts`).
"""
from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from signseg import labels as L
from signseg.infer.blobs import components

#: Order of the parts in ``boxes`` (T, 3, 4): face, left hand, right hand.
_NONE = -1


@dataclass
class _Track:
    label: int
    centre: np.ndarray | None = None   # (x, y) in pixels
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    box: np.ndarray | None = None      # x0, y0, x1, y1 (inclusive-exclusive), last seen
    area: float = 0.0
    missed: int = 10 ** 6              # frames since last seen

    def predicted(self) -> np.ndarray:
        return self.centre + self.velocity * min(self.missed + 1, 3)

    def seen(self, centre: np.ndarray, box: np.ndarray, area: float) -> None:
        if self.centre is not None and self.missed == 0:
            self.velocity = 0.5 * self.velocity + 0.5 * (centre - self.centre)
        else:
            self.velocity = np.zeros(2)
        self.centre, self.box, self.area, self.missed = centre, box, area, 0

    def lost(self) -> None:
        self.missed += 1
        self.velocity *= 0.5


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class _Blob:
    index: int          # component number in the label image
    centre: np.ndarray  # (x, y)
    box: np.ndarray     # x0, y0, x1, y1
    area: float


def _centre(box: np.ndarray) -> tuple[float, float]:
    x0, y0, x1, y1 = box
    return (x0 + x1) / 2, (y0 + y1) / 2


def _contains(box: np.ndarray, x: float, y: float) -> bool:
    x0, y0, x1, y1 = box
    return x0 <= x < x1 and y0 <= y < y1


def _face_likeness(blob: _Blob, h: int) -> float:
    """How face-like a blob is with no face track to go on: large, high in the frame, and
    not wider than tall (a face is about 1.3x taller than wide; skin-coloured walls and
    ceilings that a model marks are wide bands)."""
    x0, y0, x1, y1 = blob.box
    tall = min(1.0, (y1 - y0) / max(x1 - x0, 1.0))
    return blob.area * (1.0 - blob.centre[1] / h) ** 2 * tall ** 2


class PartTracker:
    """Turns a video's binary masks, in frame order, into part masks and per-part boxes.

    Call it on consecutive batches of one video (state carries over); use a new tracker per
    video. ``min_area``: blobs smaller than this fraction of the frame are ignored (noise).
    ``max_missed``: frames a part may vanish and still keep its identity.
    """

    def __init__(self, min_area: float = 2e-4, max_missed: int = 5):
        self.min_area = min_area
        self.max_missed = max_missed
        self.tracks = {p: _Track(p) for p in L.PARTS}
        self._faces: deque = deque(maxlen=15)  # (box, area) of recent frames where the face was alone

    def _steady_face(self) -> tuple[np.ndarray, float] | None:
        """The face's usual box and area (medians over recent frames where it stood alone):
        a hand merging into the face must not grow it."""
        if not self._faces or not self._recent(L.FACE):
            return None
        return np.median([b for b, _ in self._faces], axis=0), float(np.median([a for _, a in self._faces]))

    def __call__(self, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``masks`` (n, H, W), foreground > 0 -> (parts (n, H, W) uint8, boxes (n, 3, 4) float32)."""
        masks = np.asarray(masks)
        if masks.ndim != 3:
            raise ValueError(f"masks must be (n, H, W), got shape {masks.shape}")
        parts = np.empty(masks.shape, np.uint8)
        boxes = np.full((len(masks), len(L.PARTS), 4), np.nan, np.float32)
        for i, mask in enumerate(masks):
            parts[i], boxes[i] = self.step(mask)
        return parts, boxes

    # ------------------------------------------------------------------ one frame
    def step(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One frame: part mask (H, W) and boxes (3, 4), NaN for a part not seen."""
        h, w = mask.shape
        fg = (mask > 0).astype(np.uint8)
        n, comp, stats, centroids = components(fg)
        floor = max(4.0, self.min_area * h * w)
        blobs = [_Blob(i, centroids[i], np.array([stats[i, 0], stats[i, 1], stats[i, 0] + stats[i, 2],
                                                  stats[i, 1] + stats[i, 3]], float), float(stats[i, 4]))
                 for i in range(1, n) if stats[i, 4] >= floor]
        blobs = sorted(blobs, key=lambda b: -b.area)[:8]
        steady = self._steady_face()  # as it stood before this frame
        claims = self._assign(blobs, h, w, steady)  # part -> blob
        out = np.where(fg > 0, L.UNASSIGNED, L.BACKGROUND).astype(np.uint8)
        by_blob: dict[int, list[int]] = {}
        for part, blob in claims.items():
            by_blob.setdefault(blob.index, []).append(part)
        owners = np.zeros(n + 1, np.uint8)
        for index, owners_of in by_blob.items():
            if len(owners_of) == 1:
                owners[index] = owners_of[0]
        single = owners[comp]
        out = np.where(single > 0, single, out)
        for index, owners_of in by_blob.items():
            if len(owners_of) > 1:
                self._share(out, comp == index, owners_of, steady)
        boxes = np.full((len(L.PARTS), 4), np.nan, np.float32)
        for k, part in enumerate(L.PARTS):
            track = self.tracks[part]
            ys, xs = np.nonzero(out == part) if part in claims else ((), ())
            if len(xs):
                box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
                track.seen(np.array([xs.mean(), ys.mean()]), box, float(len(xs)))
                boxes[k] = box
                if part == L.FACE and len(by_blob[claims[part].index]) == 1:
                    now = self._steady_face()  # the face track has just been seen
                    if now is None or len(xs) <= 1.3 * now[1]:
                        self._faces.append((box, float(len(xs))))
            else:
                track.lost()
        return out, boxes

    def _recent(self, part: int, frames: int | None = None) -> bool:
        t = self.tracks[part]
        return t.centre is not None and t.missed <= (self.max_missed if frames is None else frames)

    def _assign(self, blobs: list[_Blob], h: int, w: int, steady) -> dict[int, _Blob]:
        """Which blob each part takes this frame (two parts may share one: a merge).
        ``steady``: :meth:`_steady_face` before this frame."""
        diag = float(np.hypot(h, w))
        claims: dict[int, _Blob] = {}
        face = self._find_face(blobs, h, diag, steady)
        if face is not None:
            claims[L.FACE] = face
        claims.update(self._match_hands([b for b in blobs if b is not face], diag, w))
        # merges: a hand seen a moment ago whose predicted centre lies inside a claimed blob
        # that has grown beyond its owner's usual size
        for part in (L.LEFT_HAND, L.RIGHT_HAND):
            if part in claims or not self._recent(part, 2):
                continue
            x, y = self.tracks[part].predicted()
            for owner, blob in list(claims.items()):
                usual = steady[1] if owner == L.FACE and steady is not None else self.tracks[owner].area
                if _contains(blob.box, x, y) and blob.area > 1.2 * usual:
                    claims[part] = blob
                    break
        # a hand that reaches the face unseen: the steady face blob grows
        free_hands = [p for p in (L.LEFT_HAND, L.RIGHT_HAND) if p not in claims]
        if (face is not None and free_hands and steady is not None and face.area > 1.2 * steady[1]
                and list(claims.values()).count(face) == 1):
            side = L.LEFT_HAND if face.centre[0] >= _centre(steady[0])[0] else L.RIGHT_HAND
            claims[side if side in free_hands else free_hands[0]] = face
        return claims

    def _find_face(self, blobs: list[_Blob], h: int, diag: float, steady) -> _Blob | None:
        """The face: the blob over where it steadily was (it moves little, and a hand merging
        with it must not pull it away), of a like size; else the most face-like blob."""
        if not blobs:
            return None
        t = self.tracks[L.FACE]
        if self._recent(L.FACE):
            cx, cy = t.centre if steady is None else _centre(steady[0])
            usual = t.area if steady is None else steady[1]
            gate = 0.15 * (1 + 0.2 * min(t.missed, 5))
            best, best_cost = None, np.inf
            for b in blobs:
                d = float(np.hypot(b.centre[0] - cx, b.centre[1] - cy)) / diag
                over = _contains(b.box, cx, cy) and b.area >= 0.5 * usual
                if d <= gate or over:
                    cost = (0.0 if over else d) + 0.25 * abs(np.log(b.area / max(usual, 1.0)))
                    if cost < best_cost:
                        best, best_cost = b, cost
            return best
        return max(blobs, key=lambda b: _face_likeness(b, h))

    def _side_cost(self, part: int, blob: _Blob, w: int) -> float:
        """How far a blob sits on the wrong side of the face for this hand, in face widths."""
        face = self.tracks[L.FACE]
        if face.centre is None:
            cx, fw = w / 2, w / 6
        else:
            cx, fw = face.centre[0], max(face.box[2] - face.box[0], 1.0)
        dx = (blob.centre[0] - cx) / fw  # > 0: image right, where the signer's left hand is
        wrong = -dx if part == L.LEFT_HAND else dx
        return 0.15 * float(np.clip(wrong, 0.0, 2.0))

    def _match_hands(self, blobs: list[_Blob], diag: float, w: int) -> dict[int, _Blob]:
        """Best one-to-one matching of the two hands to blobs (exhaustive), by predicted position,
        size and side of the face; a hand not tracked lately is placed by its side alone."""
        hands = (L.LEFT_HAND, L.RIGHT_HAND)
        cost = np.full((2, len(blobs)), np.inf)
        for i, part in enumerate(hands):
            t = self.tracks[part]
            for j, b in enumerate(blobs):
                side = self._side_cost(part, b, w)
                cost[i, j] = 0.3 + side  # a new track
                if self._recent(part):
                    d = float(np.hypot(*(b.centre - t.predicted()))) / diag
                    cost[i, j] += 0.15  # breaking a live track costs more than starting one
                    if d <= 0.4 * (1 + 0.2 * min(t.missed, 5)):
                        cost[i, j] = min(cost[i, j], d + 0.25 * abs(np.log(b.area / max(t.area, 1.0))) + side)
        miss = 0.5
        best, best_cost = {}, np.inf
        choices = [[_NONE, *range(len(blobs))]] * 2
        for combo in itertools.product(*choices):
            if combo[0] != _NONE and combo[0] == combo[1]:
                continue
            total = sum(miss if j == _NONE else cost[i, j] for i, j in enumerate(combo))
            if total < best_cost:
                best_cost, best = total, {hands[i]: blobs[j] for i, j in enumerate(combo) if j != _NONE}
        return best

    def _share(self, out: np.ndarray, region: np.ndarray, owners: list[int], steady) -> None:
        """Split a merged blob. The face keeps what lies in its steady box, and nothing outside
        it; a hand takes what lies in its last box moved by its velocity (hands pass in front
        of the face); the rest goes to the nearest owner."""
        ys, xs = np.nonzero(region)
        dist = np.empty((len(owners), len(xs)))
        for k, part in enumerate(owners):
            t = self.tracks[part]
            if t.centre is None or t.box is None:
                dist[k] = 0.15
                continue
            if part == L.FACE:
                x0, y0, x1, y1 = t.box if steady is None else steady[0]
                size = max(x1 - x0, y1 - y0, 1.0)
                pad = 0.1 * size
                gx = np.maximum(np.maximum(x0 - pad - xs, xs - (x1 + pad)), 0)
                gy = np.maximum(np.maximum(y0 - pad - ys, ys - (y1 + pad)), 0)
                dist[k] = np.where((gx > 0) | (gy > 0), 1.0 + np.hypot(gx, gy) / size, 0.0)  # outside: not face
                continue
            cx, cy = t.predicted()
            dist[k] = np.hypot(xs - cx, ys - cy) / max(np.sqrt(t.area), 1.0)
            if self._recent(part, 2):
                x0, y0, x1, y1 = t.box + np.array([t.velocity[0], t.velocity[1]] * 2)
                inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
                dist[k, inside] = -1.0
        out[ys, xs] = np.asarray(owners, np.uint8)[dist.argmin(axis=0)]


def split_parts(masks: np.ndarray, **kw) -> tuple[np.ndarray, np.ndarray]:
    """Part masks and boxes for one whole video's masks (T, H, W); see :class:`PartTracker`."""
    return PartTracker(**kw)(masks)


def crop_parts(frames: np.ndarray, boxes: np.ndarray, size: int, margin: float = 0.2) -> np.ndarray:
    """Square crops around each part's box: (n, 3, size, size, 3) uint8, black where absent.

    ``frames`` (n, H, W, 3) and ``boxes`` (n, 3, 4) share pixel coordinates. The square's
    side is the box's longer side plus ``margin`` on each side; outside the frame is black.
    """
    n, h, w = frames.shape[:3]
    out = np.zeros((n, boxes.shape[1], size, size, 3), np.uint8)
    for i in range(n):
        for k in range(boxes.shape[1]):
            box = boxes[i, k]
            if np.isnan(box).any():
                continue
            cx, cy = _centre(box)
            side = max(box[2] - box[0], box[3] - box[1], 8.0) * (1 + 2 * margin)
            # the affine map that takes the square onto size x size pixels
            s = size / side
            m = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float32)
            out[i, k] = cv2.warpAffine(frames[i], m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out
