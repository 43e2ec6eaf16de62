"""Training views made inside the compiled training step, from uint8 arrays (``--views graph``).

:mod:`signseg.train.augment` makes each view with OpenCV on the host, one image at a time: on a
GPU that feeds ~70 images/s to a network that trains far faster. Here the host only gathers
uint8 frames and draws a few numbers per view (:func:`draw_params`: where to look, which
colours); the per-pixel work -- warping, new clothes, short sleeves, pasting the signer onto a
room, a wall, a gradient, a texture or clutter, colour, white balance, contrast, blur and noise
-- is :func:`render`, plain ``keras.ops`` that compile into the training step on any backend.
The recipe follows :func:`signseg.train.augment.augment` step for step; what it leaves out is
JPEG compression (no such op in a compiled graph).
"""
from __future__ import annotations

import math

import numpy as np
from keras import ops

from signseg import labels as L
from signseg.train.augment import (P_BLUR, P_CLOTHES, P_CLUTTER, P_COMPOSITE, P_NOISE, _random_colours,
                                   clothes_colour, colour_matrix, framing)

N_SHAPES = 8       # clutter objects per background (each on or off)
TEXTURE_CELLS = 12  # the texture background: a coloured noise grid of this many cells, upsampled
P_PLATE = 0.45      # a composite's background is a real room (a painted-out plate) this often
P_SLEEVES = 0.5     # recoloured clothes get bare forearms this often (where hands are labelled)


# --------------------------------------------------------------------------- host: the numbers
def _inverse(m: np.ndarray) -> np.ndarray:
    """The view -> source map of a forward 2x3 (or 3x3) map, flattened to 6 numbers."""
    lin = np.linalg.inv(m[:2, :2])
    return np.hstack([lin, (-lin @ m[:2, 2])[:, None]]).ravel()


def draw_params(rng: np.random.Generator, n: int, size: tuple[int, int], anchors: list[np.ndarray],
                strength: float = 1.0) -> dict[str, np.ndarray]:
    """The random numbers of ``n`` views at ``size`` (float32 arrays, ``n`` rows each).

    ``anchors[i]``: (k, 2) x, y pixels of view ``i``'s hands and face in the stored frame
    (close-ups zoom in around one of them); the stored frames are ``size`` too.
    """
    h, w = size
    p = {k: np.zeros((n,) + s, np.float32) for k, s in dict(
        warp=(6,), plate_warp=(6,), clothes=(3,), use=(6,), bg=(9,), texture=(TEXTURE_CELLS, TEXTURE_CELLS),
        shapes=(N_SHAPES, 9), colour=(3, 3), offset=(3,), camera=(4,)).items()}
    for i in range(n):
        # where the view looks (augment.framing), mirrored half the time
        flip = strength > 0 and rng.random() < 0.5
        m = np.vstack([framing(rng, size, anchors[i], strength), [0, 0, 1]])
        if flip:  # mirror first: x -> w - 1 - x
            m = m @ np.array([[-1, 0, w - 1], [0, 1, 0], [0, 0, 1]], float)
        p["warp"][i] = _inverse(m)
        zoom = rng.uniform(1.0, 1.8)  # a window of a room plate, mirrored at random
        ch, cw = h / zoom, w / zoom
        y0, x0 = rng.uniform(0, h - ch), rng.uniform(0, w - cw)
        sx = (-1 if rng.random() < 0.5 else 1) / zoom
        p["plate_warp"][i] = [sx, 0, x0 + (cw - 1 if sx < 0 else 0), 0, 1 / zoom, y0]
        p["clothes"][i] = clothes_colour(rng)
        composite = rng.random() < P_COMPOSITE * strength
        p["use"][i] = [rng.random() < P_CLOTHES * strength, rng.random() < P_SLEEVES, composite,
                       composite and rng.random() < P_PLATE, composite and rng.random() < P_CLUTTER,
                       rng.uniform(0.3, 0.8)]  # the share of the old shading kept on new clothes
        # the wall: flat (lit unevenly), a two-colour gradient, or a texture
        c0, c1 = _random_colours(2, rng)
        kind = rng.choice(3, p=[0.6, 0.25, 0.15])
        p["bg"][i] = [*c0, *c1, kind, rng.uniform(0, 2 * math.pi), rng.uniform(0.0, 0.35)]
        p["texture"][i] = rng.random((TEXTURE_CELLS, TEXTURE_CELLS))
        count = rng.integers(2, 12)  # objects on this wall (at most N_SHAPES of them drawn)
        for j in range(N_SHAPES):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            ax, ay = rng.uniform(0.03, 0.2, 2) * np.array([w, h])
            p["shapes"][i, j] = [cx, cy, ax, ay, rng.random() < 0.5, j < count, *_random_colours(1, rng)[0]]
        if strength > 0:
            p["colour"][i], p["offset"][i] = colour_matrix(rng)
        else:
            p["colour"][i] = np.eye(3)
        p["camera"][i] = [math.exp(rng.uniform(-0.3, 0.3) * strength),          # contrast
                          (rng.random() < P_BLUR * strength) * rng.uniform(0.5, 1.0),  # blur weight
                          (rng.random() < P_NOISE * strength) * rng.uniform(2, 9),     # noise sigma
                          rng.uniform(0, 1000)]                                     # noise phase
    if strength == 0:
        p["use"][:] = 0
    return p


def identity_params(n: int, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Parameters of the plain view: the stored frame itself, no change (for tests)."""
    p = draw_params(np.random.default_rng(0), n, size, [np.zeros((0, 2))] * n, strength=0.0)
    p["warp"][:] = [1, 0, 0, 0, 1, 0]
    p["offset"][:] = 0
    p["camera"][:] = [1, 0, 0, 0]
    return p


# --------------------------------------------------------------------------- graph: the pixels
def _reflect(i, n: int):
    """Integer coordinates folded back into 0..n-1 (mirror at the edges, like BORDER_REFLECT_101)."""
    if n == 1:
        return ops.zeros_like(i)
    period = 2 * n - 2
    i = ops.mod(i, period)
    return ops.where(i >= n, period - i, i)


def _source_coords(warp, size: tuple[int, int]):
    """Where each view pixel looks in its stored frame: x, y (B, h*w) through the per-view
    view->source maps ``warp`` (B, 6)."""
    h, w = size
    ys, xs = ops.meshgrid(ops.arange(h, dtype="float32"), ops.arange(w, dtype="float32"), indexing="ij")
    xs, ys = ops.reshape(xs, (1, -1)), ops.reshape(ys, (1, -1))
    return (warp[:, 0:1] * xs + warp[:, 1:2] * ys + warp[:, 2:3],
            warp[:, 3:4] * xs + warp[:, 4:5] * ys + warp[:, 5:6])


def _sample(src, sx, sy, size: tuple[int, int], nearest: bool = False):
    """``src`` (B, H, W, C) read at :func:`_source_coords` ``sx, sy`` (bilinear, or the nearest
    pixel), mirrored at the edges: (B, h, w, C)."""
    _, hs, ws, c = src.shape  # the stored size is static, the batch need not be
    h, w = size
    flat = ops.reshape(src, (-1, c))
    base = ops.expand_dims(ops.arange(ops.shape(src)[0], dtype="int32") * (hs * ws), 1)

    def tap(yi, xi):
        idx = base + _reflect(yi, hs) * ws + _reflect(xi, ws)
        return ops.take(flat, ops.reshape(idx, (-1,)), axis=0)

    if nearest:
        out = tap(ops.cast(ops.round(sy), "int32"), ops.cast(ops.round(sx), "int32"))
    else:
        x0, y0 = ops.floor(sx), ops.floor(sy)
        fx, fy = ops.reshape(sx - x0, (-1, 1)), ops.reshape(sy - y0, (-1, 1))
        x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
        top = tap(y0, x0) * (1 - fx) + tap(y0, x0 + 1) * fx
        bottom = tap(y0 + 1, x0) * (1 - fx) + tap(y0 + 1, x0 + 1) * fx
        out = top * (1 - fy) + bottom * fy
    return ops.reshape(out, (-1, h, w, c))


def _dilate(mask, radius: int):
    """Grey dilation of (B, h, w, 1) by a square of side 2r+1 (separable max pooling)."""
    k = 2 * radius + 1
    mask = ops.max_pool(mask, pool_size=(k, 1), strides=1, padding="same")
    return ops.max_pool(mask, pool_size=(1, k), strides=1, padding="same")


def _masked_mean(values, weight):
    """Per view mean of ``values`` (B, h, w, C) where ``weight`` (B, h, w, 1): (B, 1, 1, C)."""
    total = ops.sum(values * weight, axis=(1, 2), keepdims=True)
    return total / ops.maximum(ops.sum(weight, axis=(1, 2), keepdims=True), 1.0)


def _hash_noise(shape, phase):
    """Uniform 0..1 noise that is a pure function of the pixel and ``phase`` (B,): no RNG state
    inside the compiled step, so a view is reproducible from its numbers. Three channels from
    multiplies, adds and ``floor`` alone (a 3-to-3 "hash without sine"): a sine per pixel is
    the slowest thing XLA's CPU code does here."""
    b, h, w, c = shape
    if c != 3:
        raise ValueError(f"noise is made for 3 channels, not {c}")
    ys, xs = ops.meshgrid(ops.arange(h, dtype="float32"), ops.arange(w, dtype="float32"), indexing="ij")
    fract = lambda v: v - ops.floor(v)  # noqa: E731
    # (x, y, phase) scaled per axis, folded into 0..1
    x = fract(ops.reshape(xs, (1, h, w, 1)) * 0.1031)
    y = fract(ops.reshape(ys, (1, h, w, 1)) * 0.1030)
    z = fract(ops.reshape(phase, (-1, 1, 1, 1)) * 0.0973)
    d = x * (y + 33.33) + y * (x + 33.33) + z * (z + 33.33)
    x, y, z = x + d, y + d, z + d
    return ops.concatenate([fract((x + y) * z), fract((x + x) * y), fract((y + x) * x)], axis=-1)


def _smooth(x, taps: np.ndarray):
    """``x`` (B, h, w, C) convolved with the separable kernel ``outer(taps, taps)``, zeros
    beyond the edges (as a ``same`` convolution): shifted slices summed, which XLA fuses,
    where its CPU depthwise convolution is an order of magnitude slower."""
    r = len(taps) // 2
    h, w = x.shape[1], x.shape[2]
    x = ops.pad(x, ((0, 0), (r, r), (0, 0), (0, 0)))
    x = sum(float(t) * x[:, i:i + h] for i, t in enumerate(taps))
    x = ops.pad(x, ((0, 0), (0, 0), (r, r), (0, 0)))
    return sum(float(t) * x[:, :, i:i + w] for i, t in enumerate(taps))


def _background(p, plate, size: tuple[int, int]):
    """The wall behind a pasted signer, per view: a room plate or a flat / gradient / textured
    wall, with clutter drawn over it (B, h, w, 3, float 0..255)."""
    h, w = size
    bg = p["bg"]
    c0, c1 = ops.reshape(bg[:, 0:3], (-1, 1, 1, 3)), ops.reshape(bg[:, 3:6], (-1, 1, 1, 3))
    ys, xs = ops.meshgrid(ops.arange(h, dtype="float32") / h, ops.arange(w, dtype="float32") / w, indexing="ij")
    angle = ops.reshape(bg[:, 7], (-1, 1, 1))
    ramp = ops.cos(angle) * xs[None] + ops.sin(angle) * ys[None]
    lo, hi = ops.min(ramp, axis=(1, 2), keepdims=True), ops.max(ramp, axis=(1, 2), keepdims=True)
    ramp = ops.expand_dims((ramp - lo) / ops.maximum(hi - lo, 1e-6), -1)
    light = ops.reshape(bg[:, 8], (-1, 1, 1, 1))
    flat = c0 * (ramp * light + 1 - light / 2)
    gradient = c0 * (1 - ramp) + c1 * ramp
    texture = ops.image.resize(ops.expand_dims(p["texture"], -1), (h, w), interpolation="bilinear")
    textured = c0 * (1 - texture) + c1 * texture
    kind = ops.reshape(bg[:, 6], (-1, 1, 1, 1))
    wall = ops.where(kind < 0.5, flat, ops.where(kind < 1.5, gradient, textured))
    use = p["use"]
    wall = ops.where(ops.reshape(use[:, 3], (-1, 1, 1, 1)) > 0, plate, wall)
    # clutter: boxes and blobs in skin tones, white and other colours
    x_px, y_px = xs[None] * w, ys[None] * h
    cluttered = wall
    for j in range(N_SHAPES):
        s = p["shapes"][:, j]
        cx, cy, ax, ay = (ops.reshape(s[:, k], (-1, 1, 1)) for k in range(4))
        dx, dy = (x_px - cx) / ops.maximum(ax, 1.0), (y_px - cy) / ops.maximum(ay, 1.0)
        box = ops.logical_and(ops.abs(dx) < 1, ops.abs(dy) < 1)
        blob = dx * dx + dy * dy < 1
        inside = ops.where(ops.reshape(s[:, 4], (-1, 1, 1)) > 0, box, blob)
        inside = ops.logical_and(inside, ops.reshape(s[:, 5], (-1, 1, 1)) > 0)
        cluttered = ops.where(ops.expand_dims(inside, -1), ops.reshape(s[:, 6:9], (-1, 1, 1, 3)), cluttered)
    wall = ops.where(ops.reshape(use[:, 4], (-1, 1, 1, 1)) > 0, cluttered, wall)
    return wall


def _swap_mirrored(lab, warp):
    """Labels of mirrored views (the map's determinant below 0) with the signer's left and right
    hands swapped, as :func:`signseg.train.augment.augment` does."""
    mirrored = ops.reshape(warp[:, 0] * warp[:, 4] - warp[:, 1] * warp[:, 3] < 0, (-1, 1, 1, 1))
    swapped = ops.where(lab == L.LEFT_HAND, L.RIGHT_HAND, ops.where(lab == L.RIGHT_HAND, L.LEFT_HAND, lab))
    return ops.where(mirrored, swapped, lab)


def warp_stage(image, label, person, plate, p, size: tuple[int, int]):
    """Stage 1 of :func:`render`: the frame, person mask and labels seen through the view's
    map (sampled once, so they move together) and the room plate through its own:
    ``img`` (B, h, w, 3) float 0..255, ``per`` (B, h, w, 1) 0..1, ``lab`` (B, h, w, 1) int32,
    ``room`` (B, h, w, 3)."""
    sx, sy = _source_coords(p["warp"], size)
    both = _sample(ops.concatenate([ops.cast(image, "float32"), ops.cast(person, "float32") / 255.0], axis=-1),
                   sx, sy, size)
    lab = _swap_mirrored(_sample(ops.cast(label, "int32"), sx, sy, size, nearest=True), p["warp"])
    room = _sample(ops.cast(plate, "float32"), *_source_coords(p["plate_warp"], size), size)
    return both[..., :3], both[..., 3:], lab, room


def person_stage(img, per, lab, room, p, size: tuple[int, int]):
    """Stage 2 of :func:`render`: new clothes, short sleeves, and the signer pasted onto
    another background (labelled pixels always kept): (B, h, w, 3) float 0..255."""
    h, w = size
    use = p["use"]
    fg = ops.cast(lab > 0, "float32")
    hands = ops.cast(ops.logical_or(lab == L.LEFT_HAND, lab == L.RIGHT_HAND), "float32")
    flag = lambda k: ops.reshape(use[:, k], (-1, 1, 1, 1))  # noqa: E731

    # new clothes: the person's pixels away from hands and face, shading kept in part
    body = ops.clip((per - 0.5) / 0.3, 0.0, 1.0) * (1 - _dilate(fg, 2))
    grey = ops.mean(img, axis=-1, keepdims=True)
    shade = grey / ops.maximum(_masked_mean(grey, body), 1.0) - 1
    clothes = ops.clip(ops.reshape(p["clothes"], (-1, 1, 1, 3)) * (1 + shade * flag(5)), 0, 255)
    a = body * flag(0)
    new = img * (1 - a) + clothes * a
    # short sleeves: a forearm's length of body round each hand in that hand's colour
    reach = max(1, round(0.12 * max(h, w) / 8))
    coarse = ops.max_pool(hands, pool_size=8, strides=8, padding="same")
    near_hands = ops.image.resize(_dilate(coarse, reach), (h, w), interpolation="nearest")
    arms = body * near_hands * flag(0) * flag(1)
    skin = ops.clip(_masked_mean(img, hands) * (1 + shade * 0.3), 0, 255)
    img = new * (1 - arms) + skin * arms

    # the signer pasted onto another background; labelled pixels are always kept
    alpha = ops.maximum(ops.clip((per - 0.35) / 0.4, 0.0, 1.0), _dilate(fg, 1))
    alpha = _smooth(alpha, np.full(3, 1 / 3))
    a = flag(2) * (1 - alpha)
    return img * (1 - a) + _background(p, room, size) * a


def camera_stage(img, p, size: tuple[int, int]):
    """Stage 3 of :func:`render`: colour matrix, contrast, blur, noise; then x in [0, 1]."""
    h, w = size
    img = ops.einsum("bhwc,bdc->bhwd", img, p["colour"]) + ops.reshape(p["offset"], (-1, 1, 1, 3))
    cam = p["camera"]
    contrast = ops.reshape(cam[:, 0], (-1, 1, 1, 1))
    mean = ops.mean(img, axis=(1, 2, 3), keepdims=True)
    img = ops.clip((img - mean) * contrast + mean, 0, 255)
    blur_w = ops.reshape(cam[:, 1], (-1, 1, 1, 1))
    blurred = _smooth(img, np.array([1, 4, 6, 4, 1]) / 16)
    img = img * (1 - blur_w) + blurred * blur_w
    noise = (_hash_noise((ops.shape(img)[0], h, w, 3), cam[:, 3]) - 0.5) * 3.46  # unit variance
    img = ops.clip(img + noise * ops.reshape(cam[:, 2], (-1, 1, 1, 1)), 0, 255)
    return img / 255.0


#: :func:`render`'s stages in order. A compiler that fuses a whole graph would read each
#: stencil's input (dilations, smoothing, blur) once per tap, recomputing the stage before it;
#: compiled one by one (:func:`signseg.train.feed.compiled_render` on TensorFlow) each stage's
#: output is made once.
STAGES = (warp_stage, person_stage, camera_stage)


def render(image, label, person, plate, p, size: tuple[int, int], stages=STAGES):
    """Training views (x in [0, 1] float32 (B, h, w, 3), y the view's label map as float32
    (B, h, w, 1): :class:`signseg.models.metrics.SegmentationLoss` reads it) of
    uint8 frames ``image`` (B, H, W, 3), labels ``label`` (B, H, W, 1; signseg.labels values),
    the teacher's person masks ``person`` (B, H, W, 1; 0-255, zero where there is none),
    background plates ``plate`` (B, H, W, 3) and the numbers ``p`` of :func:`draw_params`.
    ``stages``: :data:`STAGES`, or the same functions compiled."""
    warp, paste, camera = stages
    img, per, lab, room = warp(image, label, person, plate, p, size)
    img = paste(img, per, lab, room, p, size)
    return camera(img, p, size), ops.cast(lab, "float32")


def render_batch(inputs: dict, labels, size: tuple[int, int], stages=STAGES):
    """:func:`render` of one batch as :class:`signseg.train.feed.ArrayBatches` hands it over
    (``inputs``: the uint8 arrays and the numbers of the views; ``labels``)."""
    numbers = {k: v for k, v in inputs.items() if k not in ("image", "person", "plate")}
    return render(inputs["image"], labels, inputs["person"], inputs["plate"], numbers, size, stages)
