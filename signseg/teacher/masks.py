"""Turn MediaPipe Holistic landmarks into part masks (face 1, left hand 2, right hand 3).

numpy + OpenCV only, so it runs both in the teacher environment and in signseg's own.

- face: the convex hull of the 468 face-mesh points (the face oval);
- hand, ``hands="skin"`` (the training labels): the 21 hand landmarks' bones drawn thick
  (fingers have width) plus their hull widened by a margin, kept only where the pixel's
  colour fits a skin model estimated from *this video's* face pixels, so dark sleeves and
  backgrounds around the hand drop out;
- hand, ``hands="hull"``: the 21 landmarks' convex hull widened by about a finger, with no
  colour test -- the blob round each hand that issue 16's unseen-footage truth uses
  (docs/model_card.md compares the two).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from signseg import labels

#: Hand skeleton as landmark index pairs: wrist->each finger, and along each finger.
HAND_BONES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11),
              (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20)]
#: The palm polygon: wrist, thumb base, index/middle/ring/pinky knuckles.
PALM = [0, 1, 5, 9, 13, 17]
#: How a hand is drawn from its landmarks (module docstring): skin-limited or a widened hull.
HAND_STYLES = ("skin", "hull")
#: A finger's width as a share of the wrist-to-middle-knuckle length (adult hands: 1.8 of 9 cm).
FINGER = 0.2


@dataclass(frozen=True)
class SkinModel:
    """A Gaussian over (Cr, Cb) plus a minimum luma, fitted to one video's face pixels."""

    mean: np.ndarray  # (2,)
    inv_cov: np.ndarray  # (2, 2)
    min_luma: float
    max_dist2: float = 12.0  # squared Mahalanobis distance accepted as skin (~3.5 sigma)

    def distance2(self, rgb: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each pixel's (Cr, Cb) to the skin colour."""
        ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
        d = ycc[..., 1:] - self.mean
        return np.einsum("...i,ij,...j->...", d, self.inv_cov, d)

    def is_skin(self, rgb: np.ndarray) -> np.ndarray:
        ycc_y = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., 0]
        return (self.distance2(rgb) <= self.max_dist2) & (ycc_y >= self.min_luma)


def _valid(points: np.ndarray | None) -> bool:
    return points is not None and np.isfinite(points).all()


def face_polygon(face: np.ndarray) -> np.ndarray:
    """The face oval as an int32 convex polygon (k, 2)."""
    return cv2.convexHull(np.round(face[:, :2]).astype(np.int32)).reshape(-1, 2)


def fit_skin_model(frames: list[np.ndarray], faces: list[np.ndarray]) -> SkinModel | None:
    """Fit a :class:`SkinModel` to the inner face pixels of some frames (None if too few).

    The face hull is shrunk towards its centre so hair and background stay out, and the
    fit is repeated on the pixels within 2.5 sigma so eyes, brows and lips drop out.
    """
    samples = []
    for rgb, face in zip(frames, faces):
        if not _valid(face):
            continue
        poly = face_polygon(face).astype(np.float32)
        centre = poly.mean(axis=0)
        inner = np.round(centre + 0.7 * (poly - centre)).astype(np.int32)
        m = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillConvexPoly(m, inner, 1)
        ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[m.astype(bool)]
        if len(ycc):
            samples.append(ycc)
    if not samples:
        return None
    px = np.concatenate(samples).astype(np.float32)
    if len(px) < 50:
        return None
    keep = np.ones(len(px), bool)
    for _ in range(3):
        cc = px[keep, 1:]
        mean, cov = cc.mean(axis=0), np.cov(cc.T) + np.eye(2) * 4.0  # floor: never a degenerate model
        inv = np.linalg.inv(cov)
        d = px[:, 1:] - mean
        keep = np.einsum("ni,ij,nj->n", d, inv, d) <= 2.5 ** 2
        if keep.sum() < 50:
            break
    min_luma = float(max(25.0, np.percentile(px[keep, 0], 1) * 0.5)) if keep.sum() else 25.0
    return SkinModel(mean=mean, inv_cov=inv, min_luma=min_luma)


def _hand_size(points: np.ndarray) -> float:
    """Wrist to middle knuckle, in pixels (at least 4): the scale of every hand drawing."""
    return max(float(np.linalg.norm(points[0, :2] - points[9, :2])), 4.0)


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)


def _widened_hull(pts: np.ndarray, shape: tuple[int, int], radius: int) -> np.ndarray:
    """uint8 mask of the convex hull of int32 points ``pts``, dilated by a disc of ``radius``.

    Drawn on a canvas ``radius`` wider on every side and cropped, so a hull that the frame's
    edge cuts is widened whole, not clipped first (a hand at the edge keeps all its margin)."""
    radius = max(0, int(radius))
    h, w = shape
    canvas = np.zeros((h + 2 * radius, w + 2 * radius), np.uint8)
    shifted = np.clip(pts.astype(np.int64) + radius, -(1 << 20), 1 << 20).astype(np.int32)
    cv2.fillConvexPoly(canvas, cv2.convexHull(shifted), 1)
    if radius > 0:
        canvas = cv2.dilate(canvas, _disc(radius))
    return np.ascontiguousarray(canvas[radius:radius + h, radius:radius + w])


def hull_hand_mask(points: np.ndarray, shape: tuple[int, int], finger: float = FINGER) -> np.ndarray:
    """Boolean mask of one hand: its 21 landmarks' convex hull widened by ``finger`` times the
    hand's size (about a finger's width), whatever the colours -- no skin test."""
    pts = np.round(points[:, :2]).astype(np.int32)
    return _widened_hull(pts, shape, int(round(finger * _hand_size(points)))).astype(bool)


def hand_mask(points: np.ndarray, shape: tuple[int, int], skin: np.ndarray | None) -> np.ndarray:
    """Boolean mask of one hand from its 21 landmarks (pixel coordinates).

    The skeleton (bones drawn at a width proportional to the hand's size) is always kept;
    the hull widened by a margin is kept only where ``skin`` is True (all of it if None).
    """
    pts = np.round(points[:, :2]).astype(np.int32)
    size = _hand_size(points)
    core = np.zeros(shape, np.uint8)
    thickness = max(2, int(round(0.32 * size)))
    for a, b in HAND_BONES:
        cv2.line(core, tuple(map(int, pts[a])), tuple(map(int, pts[b])), 1, thickness, cv2.LINE_8)
    cv2.fillConvexPoly(core, cv2.convexHull(pts[PALM]), 1)
    margin = max(3, int(round(0.35 * size)))
    keep = _widened_hull(pts, shape, margin).astype(bool)
    if skin is not None:
        keep &= skin
    # skin around the core but not connected to it (a face behind the hand, say) is still
    # skin: restrict the widened part to a band near the skeleton
    near = cv2.dilate(core, _disc(margin)).astype(bool)
    return core.astype(bool) | (keep & near)


def part_mask(rgb: np.ndarray, face: np.ndarray | None, left: np.ndarray | None, right: np.ndarray | None,
              skin_model: SkinModel | None, hands: str = "skin") -> np.ndarray:
    """(H, W) uint8 label mask for one frame: 0 background, 1 face, 2 left hand, 3 right hand.

    ``hands``: ``"skin"`` (:func:`hand_mask`, ``skin_model`` limits the widened part) or
    ``"hull"`` (:func:`hull_hand_mask`, ``skin_model`` unused). Hands are drawn over the
    face: a hand in front of the face belongs to the hand.
    """
    if hands not in HAND_STYLES:
        raise ValueError(f"hands must be one of {HAND_STYLES}, got {hands!r}")
    shape = rgb.shape[:2]
    out = np.zeros(shape, np.uint8)
    if _valid(face):
        cv2.fillConvexPoly(out, face_polygon(face), labels.FACE)
    skin = skin_model.is_skin(rgb) if skin_model is not None and hands == "skin" else None
    for pts, value in ((left, labels.LEFT_HAND), (right, labels.RIGHT_HAND)):
        if _valid(pts):
            out[hand_mask(pts, shape, skin) if hands == "skin" else hull_hand_mask(pts, shape)] = value
    return out


#: MediaPipe pose indices of each hand's wrist, pinky, index and thumb (the pose's own coarse
#: hand), by the signer's side.
POSE_HAND = {"left": (15, 17, 19, 21), "right": (16, 18, 20, 22)}
#: Each side's elbow (the forearm gives the hand's scale when the pose's hand points are crowded).
POSE_ELBOW = {"left": 13, "right": 14}


def pose_hand_region(pose: np.ndarray, side: str, shape: tuple[int, int], min_visibility: float = 0.2,
                     grow: float = 0.6) -> np.ndarray | None:
    """Boolean mask of where the pose puts one hand: the hull of its wrist, pinky, index and
    thumb points widened by ``grow`` times the forearm's length (a hand is about 0.6 of a
    forearm), or None when none of those points is in the frame (a hand hanging below it is
    not in the picture), or when the wrist is outside it and the pose is unsure of it
    (``min_visibility``). Hands at rest (at the sides, in the lap, hanging at the frame's
    bottom edge) are often placed by the pose while the hand model finds nothing: that region
    is the teacher not knowing, which training must not learn as background. A wrist inside
    the frame counts at any visibility: the pose gives hands cut by the frame's edge a low one
    (0.04-0.16 on a signer whose hands hang at the bottom), and they are in the picture."""
    idx = POSE_HAND[side]
    pts = pose[list(idx)]
    if not np.isfinite(pts).all():
        return None
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < shape[1]) & (pts[:, 1] >= 0) & (pts[:, 1] < shape[0])
    if not inside.any() or (pts[0, 2] < min_visibility and not inside[0]):
        return None
    elbow = pose[POSE_ELBOW[side]]
    spread = float(np.linalg.norm(pts[1:, :2] - pts[0, :2], axis=1).max())
    forearm = float(np.linalg.norm(elbow[:2] - pts[0, :2])) if np.isfinite(elbow[:2]).all() else 2.5 * spread
    radius = max(4, int(round(grow * max(forearm, 2.0 * spread))))
    return _widened_hull(np.round(pts[:, :2]).astype(np.int32), shape, radius).astype(bool)


#: Each side's shoulder (the arm's root: a hand's side is the side of the shoulder its arm comes from).
POSE_SHOULDER = {"left": 11, "right": 12}
#: An arm's width as a share of the distance between the shoulders.
ARM = 0.28


def arm_mask(pose: np.ndarray, side: str, shape: tuple[int, int], hand: np.ndarray | None = None) -> np.ndarray | None:
    """(H, W) uint8, 1 on one arm of the signer (``side``: ``"left"`` or ``"right"``, the
    signer's own): the pose's shoulder, elbow, wrist and the middle of its hand points joined
    by lines :data:`ARM` of a shoulder width thick, plus ``hand`` (H, W) bool, the teacher's
    hand of that side, where given. None where the pose has no such points. The arm is what
    says which hand is which when a hand crosses the body: its shoulder stays on its side."""
    idx = POSE_HAND[side]
    joints = np.array([pose[POSE_SHOULDER[side], :2], pose[POSE_ELBOW[side], :2], pose[idx[0], :2],
                       pose[list(idx[1:]), :2].mean(axis=0)], np.float64)
    shoulders = pose[[POSE_SHOULDER["left"], POSE_SHOULDER["right"]], :2]
    if not (np.isfinite(joints).all() and np.isfinite(shoulders).all()):
        return None
    thick = max(2, int(round(ARM * float(np.linalg.norm(shoulders[0] - shoulders[1])))))
    out = np.zeros(shape, np.uint8)
    pts = np.clip(np.round(joints), -1e5, 1e5).astype(np.int32)
    cv2.polylines(out, [pts.reshape(-1, 1, 2)], False, 1, thickness=thick, lineType=cv2.LINE_8)
    if hand is not None:
        out[hand] = 1
    return out


def fill_short_gaps(hands: np.ndarray, frame_index: np.ndarray | None = None, max_gap: int = 4) -> np.ndarray:
    """Hand landmarks (T, 21, 2), NaN where not found, with every gap of at most ``max_gap``
    video frames between two detections filled by linear interpolation in time (a hand the
    tracker lost for a few frames is still there); longer gaps and the ends stay NaN.
    ``frame_index``: each row's frame number (rows every frame when None)."""
    out = hands.copy()
    t = np.arange(len(hands)) if frame_index is None else np.asarray(frame_index)
    seen = np.flatnonzero(np.isfinite(hands).all(axis=(1, 2)))
    for a, b in zip(seen[:-1], seen[1:]):
        if b - a > 1 and t[b] - t[a] - 1 <= max_gap:
            for r in range(a + 1, b):
                k = (t[r] - t[a]) / (t[b] - t[a])
                out[r] = (1 - k) * hands[a] + k * hands[b]
    return out


def ignore_mask(shape: tuple[int, int], pose: np.ndarray, left: np.ndarray | None, right: np.ndarray | None,
                left_filled: np.ndarray | None = None, right_filled: np.ndarray | None = None) -> np.ndarray:
    """Boolean (H, W) mask of the pixels a loss should skip in one frame: for each hand the
    teacher did not find, where the pose places it (:func:`pose_hand_region`) and, where the
    hand was found a few frames before and after, the hull of its interpolated landmarks
    (``*_filled``, :func:`fill_short_gaps`)."""
    out = np.zeros(shape, bool)
    for side, pts, filled in (("left", left, left_filled), ("right", right, right_filled)):
        if _valid(pts):
            continue
        region = pose_hand_region(pose, side, shape) if pose is not None else None
        if region is not None:
            out |= region
        if _valid(filled):
            out |= hull_hand_mask(filled, shape, finger=2 * FINGER)
    return out


def hand_missed(hand: np.ndarray, pose: np.ndarray, wrist_index: int, shape: tuple[int, int],
                min_visibility: float = 0.5, margin: float = 0.05) -> bool:
    """True when the pose sees this wrist well inside the frame but the hand model found nothing.

    Such frames have a hand that the teacher's mask leaves as background: training skips them.
    A wrist within ``margin`` of the border (hands resting below the frame) does not count.
    """
    if _valid(hand):
        return False
    x, y, vis = pose[wrist_index]
    h, w = shape
    inside = margin * w <= x < (1 - margin) * w and margin * h <= y < (1 - margin) * h
    return bool(np.isfinite(vis) and vis >= min_visibility and inside)
