"""Graph views (views made inside the compiled training step) and training packs, on real frames."""
import json

import cv2
import h5py
import numpy as np
import pytest
from keras import ops

from signseg.infer.segmenter import Segmenter
from signseg.train.feed import ArrayBatches, FrameArrays, compiled_render
from signseg.train.sources import load_sources
from signseg.train.pack import is_pack, load_pack, write_pack
from signseg.train.views import _inverse, identity_params, render, render_batch

SIZE = (96, 128)


@pytest.fixture(scope="module")
def arrays(soup_labels):
    return FrameArrays.from_frames(load_sources([soup_labels]), SIZE)


def _forward_map(scale, aspect, angle, centre, target):
    """A 2x3 source -> view map: rotate by ``angle`` degrees, scale, move ``centre`` to ``target``."""
    m = cv2.getRotationMatrix2D((0, 0), angle, 1.0)
    m[:, :2] = m[:, :2] @ np.diag([scale * aspect, scale / aspect])
    m[:, 2] = np.asarray(target) - m[:, :2] @ np.asarray(centre)
    return m


def _render(a, idx, p):
    x, y = render(a.images[idx], a.labels[idx], a.persons[idx], a.plates[np.zeros(len(idx), int)], p, SIZE)
    return ops.convert_to_numpy(x), ops.convert_to_numpy(y)


def test_the_plain_view_is_the_stored_frame(arrays):
    idx = np.arange(4)
    x, y = _render(arrays, idx, identity_params(4, SIZE))
    assert np.array_equal(np.round(x * 255).astype(np.uint8), arrays.images[idx])
    # y is the label map itself (the loss reads each channel's target from it)
    assert np.array_equal(y[..., 0], arrays.labels[idx, ..., 0])
    assert y.dtype == np.float32


def test_a_mirrored_view_swaps_the_signers_hands(arrays):
    """A mirror image's left hand is the signer's right: the view's labels say so (as the host
    views of augment.augment do)."""
    from signseg import labels as L
    idx = np.flatnonzero([(lab == L.LEFT_HAND).any() or (lab == L.RIGHT_HAND).any() for lab in arrays.labels])[:3]
    assert len(idx)
    p = identity_params(len(idx), SIZE)
    p["warp"][:] = [-1, 0, SIZE[1] - 1, 0, 1, 0]
    _, y = _render(arrays, idx, p)
    swap = np.arange(256)
    swap[L.LEFT_HAND], swap[L.RIGHT_HAND] = L.RIGHT_HAND, L.LEFT_HAND
    assert np.array_equal(y[..., 0], swap[arrays.labels[idx, :, ::-1, 0]])


def test_views_warp_as_opencv_does(arrays):
    """Scale, rotation, shift and a mirror, against cv2.warpAffine with the same forward map."""
    h, w = SIZE
    idx = np.arange(3)
    p = identity_params(3, SIZE)
    forward = []
    for i, (scale, angle, flip) in enumerate([(1.3, 10, False), (0.8, -7, True), (2.0, 3, False)]):
        m = _forward_map(scale, 1.1, angle, (w / 2 + 5, h / 2 - 3), (w / 2, h / 2))
        if flip:
            m = m @ np.array([[-1, 0, w - 1], [0, 1, 0], [0, 0, 1]], float)
        p["warp"][i] = _inverse(m)
        forward.append(m)
    x, y = _render(arrays, idx, p)
    for i, m in zip(idx, forward):
        img = cv2.warpAffine(arrays.images[i], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        lab = cv2.warpAffine(arrays.labels[i, ..., 0], m, (w, h), flags=cv2.INTER_NEAREST,
                             borderMode=cv2.BORDER_REFLECT_101)
        assert np.abs(x[i] * 255 - img).mean() < 1.5
        assert ((y[i, ..., 0] > 0) == (lab > 0)).mean() > 0.99


def test_a_pasted_signer_keeps_every_labelled_pixel(arrays):
    """Composite on a flat green wall where the person mask is empty: the wall everywhere but
    round the labelled hands and face, which keep their own pixels."""
    i = int(np.argmax((arrays.labels[:, ..., 0] > 0).sum(axis=(1, 2))))
    idx = np.array([i])
    p = identity_params(1, SIZE)
    p["use"][0, 2] = 1  # composite
    p["bg"][0, :3], p["bg"][0, 6], p["bg"][0, 8] = (0, 255, 0), 0, 0.0  # a flat, evenly lit wall
    person = np.zeros_like(arrays.persons[idx])
    x, y = render(arrays.images[idx], arrays.labels[idx], person, arrays.plates[:1], p, SIZE)
    x = np.round(ops.convert_to_numpy(x)[0] * 255)
    fg = arrays.labels[i, ..., 0] > 0
    far = cv2.dilate(fg.astype(np.uint8), np.ones((7, 7), np.uint8)) == 0
    inside = cv2.erode(fg.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert far.any() and inside.any()
    assert (x[far] == (0, 255, 0)).all()
    assert np.array_equal(x[inside], arrays.images[i][inside].astype(float))


def test_random_views_vary_and_keep_label_values(arrays):
    batches = ArrayBatches(arrays, batch_size=6, steps=2, seed=3)
    inputs, labels = batches[0]
    assert inputs["image"].dtype == np.uint8 and labels.shape == (6, *SIZE, 1)
    x, y = render_batch(inputs, labels, SIZE)
    x, y = ops.convert_to_numpy(x), ops.convert_to_numpy(y)
    assert x.shape == (6, *SIZE, 3) and 0 <= x.min() and x.max() <= 1
    assert set(np.unique(y)) <= set(np.unique(arrays.labels).astype(np.float32)) and y.sum() > 0
    plain = arrays.images[np.sort(np.random.default_rng(3).integers(0, len(arrays), 6))] / 255.0
    assert np.abs(x - plain).mean() > 0.02  # the views are not the stored frames


def test_compiled_stages_make_the_same_views(arrays):
    """The training step's render (each stage XLA-compiled on TensorFlow) against plain ops."""
    inputs, labels = ArrayBatches(arrays, batch_size=4, steps=1, seed=5)[0]
    x0, y0 = (ops.convert_to_numpy(v) for v in render_batch(inputs, labels, SIZE))
    x1, y1 = (ops.convert_to_numpy(v) for v in compiled_render(SIZE)(inputs, labels))
    assert np.abs(x1 - x0).max() < 1e-3 and np.array_equal(y0, y1)
    assert np.abs(x0 - inputs["image"] / 255.0).mean() > 0.02  # real views, not the frames


def test_graph_views_fine_tune_through_the_cli(tmp_path, soup_labels, tiny_model_file, soup):
    from signseg.cli import main
    from signseg.video import VideoReader
    rc = main(["train", str(soup_labels), "-o", str(tmp_path / "m"), "--name", "g", "--init", str(tiny_model_file),
               "--views", "graph", "--epochs", "2", "--steps", "2", "--batch-size", "2", "--val-fraction", "0", "-q",
               "--shelves", "0.5"])
    assert rc == 0
    seg = Segmenter.from_file(tmp_path / "m" / "g.weights.h5")
    training = json.loads((tmp_path / "m" / "g.json").read_text())["training"]
    assert training["views"] == "graph" and training["shelf_share"] == 0.5
    frames = np.stack([next(iter(VideoReader(soup)))])
    before = Segmenter.from_file(tiny_model_file).predict_proba(frames)
    assert not np.allclose(before, seg.predict_proba(frames))  # it learned something
    with pytest.raises(ValueError, match="crop_size is for host views"):
        from signseg.train.fit import train
        train([soup_labels], tmp_path / "x", views="graph", crop_size=(32, 32), input_size=(64, 64))


def test_flip_consistency_adds_the_mirror_disagreement_to_the_loss(tmp_path, soup_labels, tiny_model_file):
    """--flip-consistency W: the step's loss gains W times the squared difference between the
    outputs on a view and on its mirror image mirrored back (0 for a mirror-symmetric network);
    a parts model's mirrored hands are exchanged first; graph views only."""
    import keras
    from signseg.models import snet
    from signseg.models.layers import mirror_order
    from signseg.train.feed import ViewTrainer, flip_disagreement
    from signseg.train.fit import train
    x = np.random.default_rng(0).random((2, 64, 64, 3)).astype("float32")
    net = snet(width=0.125, outputs="face_hand")
    assert float(flip_disagreement(net, x, net(x, training=True))) > 0
    symmetric = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Conv2D(
        1, 3, padding="same", kernel_initializer=keras.initializers.Constant(0.1))])  # same weights at every tap
    assert float(flip_disagreement(symmetric, x, symmetric(x))) < 1e-10
    assert mirror_order(("face", "left_hand", "right_hand")) == [0, 1, 3, 2] and mirror_order(("face", "hand")) is None
    trainer = ViewTrainer(net, (64, 64), flip_consistency=3.0)
    trainer(x, training=True)
    assert len(trainer.losses) == 1 and float(trainer.losses[0]) > 0
    trainer(x, training=False)
    assert not trainer.losses  # validation and prediction: the network alone
    args = dict(init=tiny_model_file, epochs=1, steps_per_epoch=2, batch_size=2, val_fraction=0.0, verbose=0)
    card = train([soup_labels], tmp_path / "f", name="f", views="graph", flip_consistency=2.0, **args)
    assert json.loads((tmp_path / "f" / "f.json").read_text())["training"]["flip_consistency"] == 2.0
    assert Segmenter.from_file(tmp_path / "f" / "f.weights.h5").threshold == card.threshold
    with pytest.raises(ValueError, match="flip_consistency is for graph views"):
        train([soup_labels], tmp_path / "h", views="host", flip_consistency=1.0, **args)


def test_a_pack_reads_back_as_the_labelled_frames(tmp_path, soup_labels):
    data = load_sources([soup_labels])
    # a soft person mask round the labels (the teacher's, where it ran with segmentation)
    data.persons = [cv2.GaussianBlur(cv2.dilate((m > 0).astype(np.uint8) * 255, np.ones((15, 15), np.uint8)),
                                     (9, 9), 0) for m in data.masks]
    pack = write_pack(data, tmp_path / "pack.h5")
    assert is_pack(pack) and not is_pack(soup_labels)
    back = load_sources([pack])
    assert back.groups == data.groups
    for a, b in zip(data.masks, back.masks):
        assert np.array_equal(a, b)
    err = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(data.images, back.images)])
    assert err < 3.0  # H.264 at crf 20
    person_err = max(np.abs(a.astype(int) - b).mean() for a, b in zip(data.persons, back.persons))
    assert person_err < 12
    assert pack.stat().st_size < 0.1 * sum(im.nbytes for im in data.images)


def test_a_damaged_pack_names_the_clip(tmp_path, soup_labels):
    pack = write_pack(load_sources([soup_labels]), tmp_path / "pack.h5")
    with h5py.File(pack, "a") as f:
        g = f["SOUP"]
        video = g["video"][:]
        del g["video"]
        g["video"] = video[: len(video) // 3]  # the clip cut short
    with pytest.raises(ValueError, match="SOUP"):
        load_pack(pack)


def test_frame_arrays_add_drawn_shelves_to_the_rooms(soup_labels, capsys):
    from signseg.cli import main
    data = load_sources([soup_labels])
    box = np.zeros_like(data.masks[0])
    box[40:, 90:230] = 255  # SOUP's labels carry no person mask: a rough one, so the clip has a room
    data.persons = [box] * len(data.masks)
    rooms = FrameArrays.from_frames(data, SIZE).plates
    with_shelves = FrameArrays.from_frames(data, SIZE, shelf_share=0.5).plates
    assert len(with_shelves) == 2 * len(rooms) and with_shelves.shape[1:3] == SIZE
    assert (with_shelves[:len(rooms)] == rooms).all()  # the clips' own rooms stay, shelves come after
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(soup_labels), "-o", "unused", "--shelves", "1.5"])
    assert exit_.value.code == 2 and "--shelves" in capsys.readouterr().err


def test_frame_arrays_hold_anchors_on_hands_and_face(arrays):
    for i in range(len(arrays)):
        pts = arrays.anchors[i, :arrays.n_anchors[i]].astype(int)
        assert arrays.n_anchors[i] == 0 or (arrays.labels[i, pts[:, 1], pts[:, 0], 0] > 0).all()
    assert arrays.n_anchors.max() == 64 and arrays.images.dtype == np.uint8 and arrays.images.shape[1:3] == SIZE


def test_bfloat16_training_leaves_float32_weights_and_policy(tmp_path, soup_labels, tiny_model_file):
    import keras
    from signseg.train.fit import train
    card = train([soup_labels], tmp_path / "m", name="b", init=tiny_model_file, epochs=1, steps_per_epoch=2,
                 batch_size=2, val_fraction=0.0, verbose=0, precision="mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"  # nothing built later inherits it
    assert card.extra["training"]["precision"] == "mixed_bfloat16"
    assert card.extra["training"]["views"] == "host"  # auto, and no GPU here: OpenCV's views are faster on a CPU
    with h5py.File(tmp_path / "m" / "b.weights.h5", "r") as f:
        dtypes = set()
        f.visititems(lambda name, obj: dtypes.add(obj.dtype) if isinstance(obj, h5py.Dataset) else None)
    assert dtypes == {np.dtype("float32")}
    seg = Segmenter.from_file(tmp_path / "m" / "b.weights.h5")
    assert seg.predict_proba(np.zeros((1, 64, 64, 3), np.uint8)).dtype == np.float32


def test_auto_precision_is_bfloat16_only_where_the_cpu_computes_it(tmp_path, soup_labels, tiny_model_file):
    from signseg.train.fit import auto_precision, cpu_has_bf16, train
    amx = tmp_path / "amx"  # /proc/cpuinfo as Linux writes it: one flags line per core
    amx.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile\n\n"
                   "processor\t: 1\nflags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile\n")
    zen = tmp_path / "zen"
    zen.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n")
    old = tmp_path / "old"
    old.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw\n"
                   "bugs\t\t: avx512_bf16\n")  # only the flags line counts
    assert cpu_has_bf16(amx) and cpu_has_bf16(zen)
    assert not cpu_has_bf16(old) and not cpu_has_bf16(tmp_path / "missing")
    # this machine: TensorFlow on a CPU (no GPU here), so the CPU's flags decide
    assert auto_precision() == ("mixed_bfloat16" if cpu_has_bf16() else "float32")
    card = train([soup_labels], tmp_path / "m", name="a", init=tiny_model_file, epochs=1, steps_per_epoch=1,
                 batch_size=2, val_fraction=0.0, max_val_frames=4, verbose=0)
    assert card.extra["training"]["precision"] == auto_precision()  # the card says which one ran
    with pytest.raises(ValueError, match="precision"):
        train([soup_labels], tmp_path / "n", init=tiny_model_file, precision="float16", verbose=0)


def test_auto_views_follow_the_recipe_the_model_learned_from(tmp_path, soup_labels, tiny_model_file):
    from signseg.train.fit import auto_views, init_card, train
    shipped = init_card("snet-lite")  # trained on graph views (its card says so)
    assert shipped.extra["training"]["views"] == "graph"
    assert auto_views(shipped) == "graph"  # fine-tuned on host views it first unlearns (model card)
    assert auto_views(shipped, crop_size=(112, 112)) == "host"  # what only host views can do
    assert auto_views(shipped, clothes_weight=3.0) == "host"
    assert auto_views(init_card(tiny_model_file)) == "host"  # no GPU here, no graph recipe on its card
    assert auto_views(None) == "host"
    card = train([soup_labels], tmp_path / "m", name="f", init="snet-lite", epochs=1, steps_per_epoch=1,
                 batch_size=2, val_fraction=0.0, max_val_frames=4, verbose=0)
    assert card.extra["training"]["views"] == "graph" and card.extra["training"]["init"] == "snet-lite"
