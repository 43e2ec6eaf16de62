"""Random training views of labelled frames: new framing, new backgrounds, new clothes, new cameras.

A model trained on a few studios learns their look (a grey wall, dark sleeves) instead of
hands and faces, and then marks a beige wall or a white shirt as skin. Each view here takes
those shortcuts away: the signer is cut out with the teacher's person mask and pasted onto
another clip's room, a flat colour anywhere round the hue circle (skin tones, white, green,
black included), a gradient, a texture or a cluttered scene; clothing is recoloured (white and
skin-coloured shirts and robes) and often given short sleeves (bare forearms in the hand's own
colour); white balance, exposure, contrast, blur, noise and compression vary; the framing goes
from full body to a close-up and is mirrored with left and right hands swapped.
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import cv2
import numpy as np

from signseg import labels as L
from signseg.decode.image import resize

_SWAP_LR = np.arange(256, dtype=np.uint8)
_SWAP_LR[L.LEFT_HAND], _SWAP_LR[L.RIGHT_HAND] = L.RIGHT_HAND, L.LEFT_HAND

#: Chances of each step of a training view (at strength 1).
P_COMPOSITE = 0.6   # paste the signer onto another background (frames that have a person mask)
P_CLOTHES = 0.45    # recolour the clothing (frames that have a person mask)
P_CLUTTER = 0.5     # scatter objects over a pasted background (desks, shelves, boxes, paper)
P_CLOSE_UP = 0.35   # zoom in around a hand or the face (webcam / selfie framing)
P_BLUR, P_NOISE, P_JPEG = 0.25, 0.25, 0.3

#: Label :func:`augment` gives (with ``mark_clothes``) to the signer's pixels that are neither
#: hand nor face -- clothes, arms, hair, neck: the look-alikes a loss can weigh more.
CLOTHES = 255


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)


def fill_person(frame: np.ndarray, person: np.ndarray, work_side: int = 96) -> np.ndarray:
    """The frame's room with the signer painted out (inpainted at a small size, so the hole is a
    smooth blur of the surroundings): a real background that contains no hand or face."""
    h, w = frame.shape[:2]
    hole = cv2.dilate((person > 64).astype(np.uint8), _disc(max(2, round(0.03 * max(h, w)))))
    scale = min(1.0, work_side / max(h, w))
    small = (max(8, round(h * scale)), max(8, round(w * scale)))
    filled = cv2.inpaint(resize(frame, small), cv2.dilate(resize(hole, small), _disc(1)), 5, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(resize(filled, (h, w)), (0, 0), 0.02 * max(h, w))
    return np.where(hole[..., None] > 0, filled, frame)


class Backgrounds:
    """Backgrounds to paste signers onto: real rooms (``plates``, signer painted out) and
    procedural pictures (flat colours round the hue circle, gradients, textures)."""

    def __init__(self, plates: Sequence[np.ndarray] = ()):
        self.plates = list(plates)

    @classmethod
    def from_clips(cls, frames: Sequence[np.ndarray], persons: Sequence[np.ndarray | None],
                   groups: Sequence[str], shelf_share: float = 0.0, seed: int = 0) -> "Backgrounds":
        """One plate per clip (``groups``): its first frame that has a person mask, signer painted
        out; ``shelf_share`` (0-1) of the plates are then drawn bookshelves (:func:`shelves`)."""
        seen, plates = set(), []
        for frame, person, group in zip(frames, persons, groups):
            if group in seen or person is None:
                continue
            seen.add(group)
            plates.append(fill_person(frame, person))
        if shelf_share > 0 and plates:
            rng = np.random.default_rng(seed)
            n = len(plates) if shelf_share >= 1 else max(1, round(len(plates) * shelf_share / (1 - shelf_share)))
            drawn = [shelves(plates[i % len(plates)].shape[:2], rng) for i in range(n)]
            plates = drawn if shelf_share >= 1 else plates + drawn
        return cls(plates)

    def draw(self, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """One random (h, w, 3) uint8 RGB background."""
        h, w = size
        r = rng.random()
        if self.plates and r < 0.45:
            plate = self.plates[rng.integers(len(self.plates))]
            ph, pw = plate.shape[:2]
            zoom = rng.uniform(1.0, 1.8)  # a window of the room, mirrored at random
            ch, cw = max(8, int(ph / zoom)), max(8, int(pw / zoom))
            y0, x0 = rng.integers(ph - ch + 1), rng.integers(pw - cw + 1)
            out = resize(plate[y0:y0 + ch, x0:x0 + cw], (h, w))
            return np.ascontiguousarray(out[:, ::-1]) if rng.random() < 0.5 else out
        colours = _random_colours(2, rng)
        if r < 0.75:  # a flat wall, lit a little unevenly
            base = np.broadcast_to(colours[0], (h, w, 3)).astype(np.float32)
            light = _gradient(size, rng) * rng.uniform(0.0, 0.35) + (1 - 0.175)
            img = base * light[..., None]
        elif r < 0.9:  # a two-colour gradient
            t = _gradient(size, rng)[..., None]
            img = colours[0] * (1 - t) + colours[1] * t
        else:  # a texture: coloured low-frequency noise
            cells = int(rng.integers(3, 24))
            noise = rng.random((cells, max(2, cells * w // h), 3)).astype(np.float32)
            t = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
            img = colours[0] * (1 - t) + colours[1] * t
        return add_noise(np.clip(img, 0, 255).astype(np.uint8), rng.uniform(0, 6), rng)

    def draw_cluttered(self, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """:meth:`draw` with objects scattered over it: boxes, sheets and blobs in skin tones,
        white and other colours, the things of an office or a home that a colour model takes
        for a hand or a face."""
        img = self.draw(size, rng)
        h, w = size
        for _ in range(int(rng.integers(2, 12))):
            colour = tuple(float(c) for c in _random_colours(1, rng)[0])
            cx, cy = int(rng.integers(w)), int(rng.integers(h))
            ax, ay = (int(v) for v in rng.uniform(0.03, 0.2, 2) * np.array([w, h]))
            if rng.random() < 0.5:
                cv2.rectangle(img, (cx - ax, cy - ay), (cx + ax, cy + ay), colour, -1)
            else:
                cv2.ellipse(img, (cx, cy), (max(1, ax), max(1, ay)), float(rng.uniform(0, 180)), 0, 360, colour, -1)
        return cv2.GaussianBlur(img, (3, 3), 0) if rng.random() < 0.5 else img


@functools.lru_cache(maxsize=8)
def _grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """x / w and y / h of every pixel (float32, read-only), made once per size."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx, yy = xx / w, yy / h
    xx.flags.writeable = yy.flags.writeable = False
    return xx, yy


def _gradient(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A linear ramp 0..1 across the picture in a random direction."""
    a = rng.uniform(0, 2 * math.pi)
    xx, yy = _grid(tuple(size))
    ramp = math.cos(a) * xx + math.sin(a) * yy
    lo, hi = float(ramp.min()), float(ramp.max())
    return (ramp - lo) / max(1e-6, hi - lo)


def _random_colours(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` RGB colours: a third skin-like (the hardest walls), the rest anywhere round the hue
    circle, with white, greys and black among them."""
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:  # skin tones: beige, peach, tan, brown
            hsv = (rng.uniform(4, 22), rng.uniform(40, 170), rng.uniform(70, 245))
        elif r < 0.5:  # white, greys, black
            hsv = (0, rng.uniform(0, 20), rng.choice([rng.uniform(200, 255), rng.uniform(20, 200), rng.uniform(0, 30)]))
        else:
            hsv = (rng.uniform(0, 180), rng.uniform(30, 255), rng.uniform(40, 255))
        hsv8 = np.uint8([[np.clip(hsv, 0, [179, 255, 255])]])
        out.append(cv2.cvtColor(hsv8, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32))
    return np.array(out)


def shelves(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A drawn bookshelf wall (h, w, 3 uint8 RGB): wooden boards and rows of narrow book spines
    in many colours, with gaps and small objects. A face in front of such fine, colourful
    texture was named a hand (a home clip with a bookcase behind the signer): the rooms of the
    training clips are mostly plain walls."""
    h, w = size
    wood = _random_colours(1, rng)[0] if rng.random() < 0.3 else np.array(
        cv2.cvtColor(np.uint8([[[rng.uniform(8, 22), rng.uniform(40, 150), rng.uniform(90, 235)]]]), cv2.COLOR_HSV2RGB)[0, 0], np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = wood * rng.uniform(0.55, 0.85)  # the back of the case, in shadow
    row_h = max(6, int(h * rng.uniform(0.12, 0.3)))
    board = max(1, int(row_h * rng.uniform(0.05, 0.15)))
    unit = max(2.0, w * rng.uniform(0.006, 0.02))  # a typical spine's width
    y = -int(rng.integers(row_h))
    while y < h:
        x = 0.0
        while x < w:
            width = unit * rng.uniform(0.5, 2.5)
            if rng.random() < 0.08:  # a gap, or a small object in it
                if rng.random() < 0.5:
                    top = y + board + int((row_h - board) * rng.uniform(0.3, 0.8))
                    cv2.rectangle(img, (int(x), top), (int(x + width * 3), y + row_h), tuple(map(float, _random_colours(1, rng)[0])), -1)
                x += width * 3
                continue
            top = y + board + int((row_h - board) * rng.uniform(0.0, 0.4))
            colour = _random_colours(1, rng)[0] * rng.uniform(0.6, 1.1)
            cv2.rectangle(img, (int(x), top), (max(int(x), int(x + width) - 1), y + row_h), tuple(map(float, colour)), -1)
            if rng.random() < 0.3:  # a title band across the spine
                band = top + int((y + row_h - top) * rng.uniform(0.2, 0.7))
                cv2.rectangle(img, (int(x), band), (int(x + width) - 1, band + max(1, int(row_h * 0.06))),
                              tuple(map(float, _random_colours(1, rng)[0])), -1)
            x += width
        cv2.rectangle(img, (0, y), (w - 1, y + board), tuple(map(float, wood)), -1)  # the shelf board
        y += row_h
    light = _gradient(size, rng) * rng.uniform(0.0, 0.4) + (1 - 0.2)
    img = cv2.GaussianBlur(img * light[..., None], (0, 0), rng.uniform(0.3, 1.0))
    return add_noise(np.clip(img, 0, 255).astype(np.uint8), rng.uniform(0, 5), rng)


def composite(image: np.ndarray, mask: np.ndarray, person: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The signer (``person`` 0-255, soft) over ``background``; labelled hand/face pixels are
    always kept, so a hand the person mask clipped is never pasted away from its label."""
    # Holistic's person mask is coarse (a soft rim of the old background around the signer):
    # a steep ramp over its middle keeps that rim from pasting a halo round every hand
    alpha = np.clip((person.astype(np.float32) / 255.0 - 0.35) / 0.4, 0.0, 1.0)
    keep = cv2.dilate((mask > 0).astype(np.uint8), _disc(1)).astype(np.float32)
    alpha = cv2.GaussianBlur(np.maximum(alpha, keep), (3, 3), 0)
    return cv2.blendLinear(image, background, alpha, 1 - alpha)


def paste_clip(frames: np.ndarray, truth: np.ndarray, person: np.ndarray, room: np.ndarray) -> np.ndarray:
    """A clip's frames (n, H, W, 3) with its signer (``person`` (n, h, w) 0-255, resized to the
    frames) pasted onto one ``room``, the same in every frame (:func:`composite`; ``truth``
    (n, H, W): the labels, whose hands and face are kept)."""
    size = frames.shape[1:3]
    return np.stack([composite(f, t, resize(p, size), room) for f, t, p in zip(frames, truth, person)])


def clothes_colour(rng: np.random.Generator) -> np.ndarray:
    """A new colour for the signer's clothes (RGB float32): mostly white or near-white (shirts,
    robes) or skin-coloured (beige, peach, orange, tan tops), the rest anywhere."""
    r = rng.random()
    if r < 0.4:
        return np.array([rng.uniform(200, 255)] * 3) * rng.uniform(0.9, 1.0, 3)
    if r < 0.7:
        hsv = np.uint8([[[rng.uniform(4, 24), rng.uniform(60, 200), rng.uniform(120, 250)]]])
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
    return _random_colours(1, rng)[0]


def recolour_clothes(image: np.ndarray, mask: np.ndarray, person: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Give the signer other clothes: the person's pixels away from hands and face take a new
    colour with their shading kept -- mostly white or skin-coloured, the shirts and robes that a
    colour model takes for skin -- and often short sleeves: the body round each hand takes the
    hand's own colour (a bare forearm), so a hand is not just skin at the end of a dark sleeve."""
    body = (person > 128) & (mask == 0)
    if body.sum() < 50:
        return image
    out = _paint(image, body, clothes_colour(rng), rng, keep=mask > 0)
    hands = L.is_hand(mask)
    if hands.sum() >= 20 and rng.random() < 0.5:
        # short sleeves: a forearm's length of the body round each hand in that hand's colour
        reach = max(3, round(0.12 * max(image.shape[:2])))
        # within ``reach`` of a hand (a distance transform: a large disc's dilation costs 5x more)
        arms = body & (cv2.distanceTransform((~hands).astype(np.uint8), cv2.DIST_L2, 5) <= reach)
        if arms.sum() >= 20:
            skin = np.median(image[hands].astype(np.float32), axis=0)
            out = _paint(out, arms, skin * rng.uniform(0.85, 1.1), rng, keep=mask > 0, texture=0.3)
    return out


def _paint(image: np.ndarray, region: np.ndarray, colour: np.ndarray, rng: np.random.Generator,
           keep: np.ndarray, texture: float | None = None) -> np.ndarray:
    """``region`` in ``colour``, keeping a share (``texture``, random if None) of its shading;
    the soft edge never reaches the ``keep`` pixels (the labelled hands and face)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    share = rng.uniform(0.3, 0.8) if texture is None else texture
    # colour x (1 + share x (grey / median - 1)) is linear in grey: one transform to uint8 RGB
    slope = share / max(1.0, float(np.median(grey[region])))
    colour = np.asarray(colour, np.float64)
    new = cv2.transform(grey, np.stack([colour * slope, colour * (1 - share)], axis=1).astype(np.float32))
    a = cv2.GaussianBlur(region.astype(np.float32), (5, 5), 0)
    a[keep] = 0
    return cv2.blendLinear(new, image, a, 1 - a)


def framing(rng: np.random.Generator, size: tuple[int, int], anchors: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """A view's framing as a forward 2x3 map (frame at ``size`` -> view): scale, aspect-ratio,
    rotation and position jitter, or, about a third of the time, a close-up around one of
    ``anchors`` ((k, 2) x, y pixels of hands and face)."""
    h, w = size
    # framing varies a lot between corpora (full body 16:9 vs close-up 4:3 or square):
    # wide scale jitter plus an independent aspect-ratio jitter
    scale = math.exp(rng.uniform(-0.5, 0.5) * strength)
    centre = np.array([w / 2, h / 2])
    if len(anchors) and rng.random() < P_CLOSE_UP * strength:
        # close-ups (webcams, selfies, AUTSL) show hands and face up to ~4x larger than a
        # full-body studio shot: zoom in around a hand or face pixel
        scale = math.exp(rng.uniform(0.5, 1.4))
        centre = anchors[rng.integers(len(anchors))].astype(float)
    aspect = math.exp(rng.uniform(-0.25, 0.25) * strength)
    angle = rng.uniform(-12, 12) * strength
    tx, ty = rng.uniform(-0.15, 0.15, 2) * strength * np.array([w, h])
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, :2] = m[:, :2] @ np.diag([scale * aspect, scale / aspect])
    m[:, 2] = (w / 2 + tx, h / 2 + ty) - m[:, :2] @ centre
    return m


def colour_matrix(rng: np.random.Generator, strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A camera's colour: hue turned about the grey axis, saturation, exposure and per-channel
    white-balance gains (a bluish studio turns skin grey), as one 3x3 matrix on RGB rows, and
    a brightness offset (3,)."""
    theta = math.radians(rng.uniform(-12, 12) * strength)
    k = np.ones((3, 3)) / 3
    cross = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]) / math.sqrt(3)
    hue = math.cos(theta) * np.eye(3) + math.sin(theta) * cross + (1 - math.cos(theta)) * k
    lum = np.tile([0.299, 0.587, 0.114], (3, 1))
    sat = lum + (1 + rng.uniform(-0.35, 0.35) * strength) * (np.eye(3) - lum)
    gains = np.exp(rng.uniform(-0.35, 0.35, 3) * strength)
    gains /= gains.mean()
    value = 1 + rng.uniform(-0.35, 0.35) * strength
    return np.diag(gains) @ (value * sat) @ hue, gains * rng.uniform(-25, 25) * strength


_NOISE_STD = 64  # the noise bank's standard deviation (int16 levels)


@functools.lru_cache(maxsize=4)
def _noise_bank(side: int) -> np.ndarray:
    """A fixed (side, side, 3) int16 field of Gaussian noise (std :data:`_NOISE_STD`), drawn
    once: a view's noise is a random window of it, scaled."""
    field = np.random.default_rng(side).standard_normal((side, side, 3), dtype=np.float32) * _NOISE_STD
    field = np.round(field).astype(np.int16)
    field.flags.writeable = False
    return field


def add_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``img`` ((h, w, 3) uint8) plus Gaussian noise of ``sigma`` grey levels in each channel,
    saturated: a random window of a fixed noise field, scaled (5x faster than drawing fresh
    normals per view, and the window's position alone makes views differ)."""
    h, w = img.shape[:2]
    bank = _noise_bank(max(512, 2 * max(h, w)))
    y, x = rng.integers(0, len(bank) - h + 1), rng.integers(0, len(bank) - w + 1)
    window = bank[y:y + h, x:x + w]
    noise = cv2.addWeighted(window, float(sigma) / _NOISE_STD, window, 0.0, 0.0, dtype=cv2.CV_16S)
    return cv2.add(img, noise, dtype=cv2.CV_8U)


def _camera(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Colour, white balance, exposure, contrast, then blur, sensor noise and compression.

    The colour steps and the contrast about the mean grey are one affine map of RGB, applied by
    one ``cv2.transform`` on the uint8 image (rounded and saturated once, at the end)."""
    m, offset = colour_matrix(rng, strength)
    contrast = math.exp(rng.uniform(-0.3, 0.3) * strength)
    grey = float(np.mean(m @ np.array(cv2.mean(img)[:3]) + offset))  # the mean level after the colour map
    affine = np.hstack([contrast * m, (contrast * offset + (1 - contrast) * grey)[:, None]])
    img = cv2.transform(np.ascontiguousarray(img), affine.astype(np.float32))
    if rng.random() < P_BLUR * strength:
        k = int(rng.choice([3, 5]))
        img = cv2.GaussianBlur(img, (k, k), 0)
    if rng.random() < P_NOISE * strength:
        img = add_noise(img, rng.uniform(2, 9), rng)
    if rng.random() < P_JPEG * strength:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 70))])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return img


def labelled(msk: np.ndarray) -> np.ndarray:
    """Hand and face pixels of a view's mask (:data:`CLOTHES` and
    :data:`signseg.labels.IGNORE` are not labels)."""
    return (msk > 0) & (msk != CLOTHES) & (msk != L.IGNORE)


def augment(image: np.ndarray, mask: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
            strength: float = 1.0, crop: tuple[int, int] | None = None, person: np.ndarray | None = None,
            backgrounds: Backgrounds | None = None, mark_clothes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One random training view at ``size``: the inference geometry (whole frame stretched to
    ``size``), the signer on another background and in other clothes (where ``person`` is
    given), jittered in scale, position and rotation, flipped with left/right hands swapped,
    and varied in colour and camera. ``crop`` then cuts a random window of that size, so a
    large-input model trains at its inference scale for less compute. ``strength`` 0 gives
    the plain inference view (validation). ``mark_clothes`` (with ``person``): the returned mask
    labels the rest of the signer :data:`CLOTHES`, so a loss can weigh those pixels."""
    h, w = size
    img = resize(image, size)
    msk = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    if strength > 0:
        if person is not None:
            per = resize(person, size)
            if rng.random() < P_CLOTHES * strength:
                img = recolour_clothes(img, msk, per, rng)
            if rng.random() < P_COMPOSITE * strength:
                pool = backgrounds or Backgrounds()
                bg = pool.draw_cluttered(size, rng) if rng.random() < P_CLUTTER else pool.draw(size, rng)
                img = composite(img, msk, per, bg)
            if mark_clothes:
                msk = np.where((msk == 0) & (per > 127), np.uint8(CLOTHES), msk)
        if rng.random() < 0.5:  # mirror: the signer's left hand becomes the right
            img, msk = img[:, ::-1], _SWAP_LR[msk[:, ::-1]]
        m = framing(rng, size, np.argwhere(labelled(msk))[:, ::-1], strength)
        img = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
        msk = cv2.warpAffine(np.ascontiguousarray(msk), m, (w, h), flags=cv2.INTER_NEAREST,
                             borderMode=cv2.BORDER_REFLECT)
        img = _camera(img, rng, strength)
    if crop is not None and tuple(crop) != (h, w):
        ch, cw = crop
        fg = np.argwhere(labelled(msk))
        if len(fg) and rng.random() < 0.8:  # mostly windows around hands/face: they are small
            cy, cx = fg[rng.integers(len(fg))]
            y0, x0 = int(np.clip(cy - rng.integers(ch), 0, h - ch)), int(np.clip(cx - rng.integers(cw), 0, w - cw))
        else:
            y0, x0 = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
        img, msk = img[y0:y0 + ch, x0:x0 + cw], msk[y0:y0 + ch, x0:x0 + cw]
    return np.ascontiguousarray(img), np.ascontiguousarray(msk)
