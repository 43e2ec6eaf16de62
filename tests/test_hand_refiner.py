"""The hand refiner: its crops' geometry, the shipped refiner as the card names it, refined
hands in the parts, and training one on real teacher labels (`signseg refiner`)."""
import json
import shutil
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from conftest import SHARED, run
from signseg import labels as L
from signseg.errors import WeightsError
from signseg.infer.hand_refiner import SURE_HAND, HandRefiner
from signseg.infer.presets import weights_dir
from signseg.infer.segmenter import Segmenter
from signseg.infer.hand_crops import (CROP, MAX_SPLIT_BOXES, MIN_AREA, Box, crop, hand_boxes, paste_max, probability_planes, refiner_input,
                                      with_neighbours)
from signseg.postprocess.network_parts import HandSides, refined_hands



def test_a_crop_pasted_back_is_the_frame_inside_its_box_and_minus_one_outside():
    y, x = np.mgrid[0:120, 0:160]
    image = (x / 160 + y / 120).astype(np.float32)  # smooth: bilinear there and back is near exact
    box = Box(cx=70.0, cy=50.0, side=40.0)
    back = np.full(image.shape, -1.0, np.float32)  # pasted onto -1: it stays outside the box
    paste_max(back, crop(image, box), box)
    inside = (np.abs(x - 70) < 18) & (np.abs(y - 50) < 18)
    assert np.abs(back[inside] - image[inside]).max() < 0.02
    assert (back[(np.abs(x - 70) > 22) | (np.abs(y - 50) > 22)] == -1).all()
    # a box over the frame's edge reads black there, and a label crop keeps its values
    labels = np.zeros((120, 160), np.uint8)
    labels[40:60, 0:20] = 1
    cut = crop(labels, Box(5.0, 50.0, 40.0), nearest=True)
    assert cut.shape == (CROP, CROP) and set(np.unique(cut)) == {0, 1} and (cut[:, :CROP // 4] == 0).all()


def test_each_hand_blob_gets_a_box_that_holds_it_with_a_margin():
    p = np.zeros((180, 320), np.float32)
    cv2.circle(p, (60, 120), 10, 0.9, -1)
    cv2.rectangle(p, (200, 40), (240, 60), 0.3, -1)
    p[5:7, 5:7] = 0.9  # a speck under MIN_AREA pixels
    boxes, too_big = hand_boxes(p)
    boxes = sorted(boxes, key=lambda b: b.cx)
    assert len(boxes) == 2 and too_big is None and (p[5:7, 5:7] > 0).sum() < MIN_AREA
    for b, (x0, y0, x1, y1) in zip(boxes, ((50, 110, 71, 131), (200, 40, 241, 61))):
        half = b.side / 2
        assert b.cx - half < x0 and b.cx + half > x1 and b.cy - half < y0 and b.cy + half > y1
        assert b.side >= 1.5 * max(x1 - x0, y1 - y0)
    # a blob whose box would be wider than the frame's shorter side (a hand at the lens) is not cropped
    big = np.zeros_like(p)
    big[20:170, 40:200] = 0.9
    none, too_big = hand_boxes(big)
    assert none == [] and too_big is not None and too_big[100, 100] and not too_big[5, 5]
    x = refiner_input(np.full((180, 320, 3), 200, np.uint8), probability_planes(p, np.zeros_like(p)), boxes[0])
    assert x.shape == (CROP, CROP, 5) and x.dtype == np.uint8 and x[..., 3].max() == 230 and x[..., 4].max() == 0


def test_a_blob_too_large_to_crop_is_split_at_higher_probabilities():
    """A hand joined to a long faint band (hair over a shoulder, a forearm): not split, all of it
    keeps the first network's call; split at 0.5, the hand is boxed and leaves the blob, the
    band far from it stays. A large blob sure everywhere stays whole."""
    p = np.zeros((180, 320), np.float32)
    p[20:40, 20:300] = 0.3                  # a faint band across the frame
    cv2.circle(p, (160, 100), 12, 0.9, -1)  # a sure hand below it ...
    p[40:90, 158:162] = 0.3                 # ... joined to it by a faint bridge
    boxes, big = hand_boxes(p, split_at=())
    assert boxes == [] and big[100, 160] and big[30, 30]
    boxes, big = hand_boxes(p, split_at=(0.5,))
    (box,) = boxes
    assert abs(box.cx - 160.5) < 1 and abs(box.cy - 100.5) < 1 and box.side < 60
    assert not big[100, 160] and big[30, 30] and big[30, 290]  # the band far from the hand keeps the call
    assert hand_boxes(p, split_at=(0.1, 0.2))[0] == []  # under the proposal, or under the faint parts: no split
    sure = np.zeros_like(p)
    sure[20:170, 40:200] = 0.9
    boxes, big = hand_boxes(sure, split_at=(0.3, 0.5, 0.7))
    assert boxes == [] and big[100, 100]
    # many islands above 0.5 in one faint blob (hair): only the MAX_SPLIT_BOXES fullest are boxed
    islands = np.full((180, 320), 0.2, np.float32)
    for k in range(8):  # the k-th island of radius 3 + k
        cv2.circle(islands, (20 + 38 * k, 90), 3 + k, 0.9, -1)
    boxes, big = hand_boxes(islands, split_at=(0.5,))
    assert MAX_SPLIT_BOXES < 8 and len(boxes) == MAX_SPLIT_BOXES and big is not None
    boxed = sorted(int((b.cx - 20) // 38 + 0.5) for b in boxes)
    assert boxed == list(range(8 - MAX_SPLIT_BOXES, 8)), boxed


def test_refined_hands_replace_the_masks_hands_and_the_face_stays_unless_the_refiner_is_sure():
    parts = np.zeros((180, 320), np.uint8)
    cv2.ellipse(parts, (160, 45), (22, 28), 0, 0, 360, L.FACE, -1)
    parts[120:180, 60:80] = L.RIGHT_HAND  # a forearm the first network called hand
    parts[100:115, 10:30] = L.UNASSIGNED  # a blob the refiner did not look at (-1): it stays
    hands = np.zeros(parts.shape, np.int8)
    cv2.circle(hands, (250, 120), 12, 1, -1)  # a hand it missed, on the signer's left
    hands[40:50, 150:170] = 1  # the refiner saying hand on the face: the face stays
    hands[60:73, 165:180] = SURE_HAND  # sure of a hand in front of the face: it takes the face's pixels
    hands[95:120, 5:35] = -1
    sides = HandSides()
    sides.line(160.0, 320)
    refined_hands(parts, hands, sides)
    assert (parts[120:180, 60:80] == L.BACKGROUND).all()
    assert (parts[(hands == 1) & (np.arange(320) > 200)] == L.LEFT_HAND).all()
    assert (parts[40:50, 150:170] == L.FACE).all()
    assert (parts[60:73, 165:180] == L.LEFT_HAND).all() and (parts[55:60, 150:170] == L.FACE).all()
    assert (parts[100:115, 10:30] == L.RIGHT_HAND).all() and (parts[95:100, 5:35] == L.BACKGROUND).all()


def test_the_refiners_sure_hands_are_those_over_its_over_face_probability():
    """On real frames, ``hands`` marks SURE_HAND exactly where the shipped refiner's probability
    is over the card's ``over_face`` and 1 where it is over the threshold only; an
    ``over_face`` under the threshold marks no more hand than the threshold does."""
    from signseg.decode.video import read_video
    from signseg.infer.hand_refiner import hand_and_face
    seg = Segmenter.from_pretrained("snet-lite", refine_hands=True)
    ref = seg.hand_refiner
    card = json.loads((weights_dir() / "snet-lite.json").read_text())["hand_refiner"]
    assert ref.over_face == card["over_face"] > ref.threshold
    frames = read_video(SHARED / "videos" / "SOUP.mp4", stride=4)[:6]
    proba = seg.predict_parts_proba(frames)
    p = ref.hand_proba(frames, *hand_and_face(proba, seg.parts))
    hands = ref.hands(frames, proba, seg.parts)
    assert (hands == SURE_HAND).any() and np.array_equal(hands == SURE_HAND, p > ref.over_face)
    assert np.array_equal(hands == 1, (p > ref.threshold) & (p <= ref.over_face))
    ref.over_face = 0.1
    low = ref.hands(frames, proba, seg.parts)
    assert np.array_equal(low > 0, hands > 0) and not (low == 1).any()


def test_blobs_too_large_to_crop_are_split_on_real_footage():
    """Kirichovka__asl_come (a validation signer at home: hair over her shoulders, forearms on a
    table) gives first-network hand blobs too large to crop in every frame, where the refiner
    never looked. With the card's ``split_at`` their parts are boxed: most of those pixels are
    looked at, and the written parts change (almost) only round them."""
    import dataclasses
    from signseg.decode.video import read_video
    from signseg.infer.hand_refiner import hand_and_face
    from signseg.train.evaluate import written_parts
    card = json.loads((weights_dir() / "snet-lite.json").read_text())["hand_refiner"]
    frames = read_video(SHARED / "signs2" / "Kirichovka__asl_come.mp4")[:40:8]
    seg = Segmenter.from_pretrained("snet-lite", refine_hands=True)
    split = seg.hand_refiner
    assert split.split_at == tuple(card["split_at"]) and split.split_at
    whole = dataclasses.replace(split, split_at=())
    hand_p, face_p = hand_and_face(seg.predict_parts_proba(frames), seg.parts)
    (_, boxes_whole, big_whole), (_, boxes_split, big_split) = (r.crops(frames, hand_p, face_p) for r in (whole, split))
    big_whole = np.stack([np.zeros(frames.shape[1:3], bool) if b is None else b for b in big_whole])
    big_split = np.stack([np.zeros(frames.shape[1:3], bool) if b is None else b for b in big_split])
    assert big_whole.any(axis=(1, 2)).all() and len(boxes_split) > len(boxes_whole)
    # measured with at most MAX_SPLIT_BOXES a frame: 42,556 of 169,248 pixels left to the first network
    assert big_split.sum() < 0.4 * big_whole.sum() and not (big_split & ~big_whole).any()
    _, parts_split = written_parts(seg, frames, 15.0)
    seg.hand_refiner = whole
    _, parts_whole = written_parts(seg, frames, 15.0)
    changed = parts_split != parts_whole
    assert changed.any() and (L.is_hand(parts_whole) & ~L.is_hand(parts_split)).sum() > 1000
    grown = np.stack([cv2.dilate(b.view(np.uint8), np.ones((31, 31), np.uint8)) > 0 for b in big_whole])
    # the change lies in and round those blobs (measured: 410 of 43,565 changed pixels outside,
    # where a hand lost elsewhere renamed the other or moved which blobs are kept)
    assert (changed & ~grown).sum() < 0.03 * changed.sum()


def test_a_hand_held_against_the_face_on_real_footage_is_taken_from_the_face():
    """klyct__lsm_mentir (a validation signer before a white wall) holds a hand against the
    forehead in its frames 54-60. The face had grown over that hand; the refiner is sure of it
    (over the card's ``over_face``), so its pixels are a hand, and the face is still found.
    With no sure hands (an ``over_face`` above 1) the face keeps them, as before."""
    from signseg.decode.video import read_video
    from signseg.train.evaluate import written_parts
    frames = read_video(SHARED / "signs2" / "klyct__lsm_mentir.mp4")[44:62:2]
    seg = Segmenter.from_pretrained("snet-lite", refine_hands=True)
    _, now = written_parts(seg, frames, 15.0)
    seg.hand_refiner.over_face = 2.0
    _, before = written_parts(seg, frames, 15.0)
    taken = ((before == L.FACE) & L.is_hand(now)).sum(axis=(1, 2))
    assert (taken > 500).sum() >= 3 and taken[:4].max() == 0, taken  # the hand reaches the face late
    assert (now == L.FACE).any(axis=(1, 2)).all()
    assert not ((now == L.FACE) & (before != L.FACE)).any()  # only the face gives pixels away


def test_the_shipped_card_names_a_refiner_that_loads_checked_and_can_be_left_out(tmp_path):
    seg = Segmenter.from_pretrained("snet-lite", refine_hands=True)
    card = json.loads((weights_dir() / "snet-lite.json").read_text())
    assert seg.hand_refiner is not None and seg.hand_refiner.sha256 == card["hand_refiner"]["sha256"]
    assert seg.hand_refiner.threshold == card["hand_refiner"]["threshold"]
    # on unless left out: --parts with it runs 3.5-3.9x Holistic on a 2-core CPU with VNNI, 2.0-3.0x on one
    # with AVX2 only (docs/performance.md)
    assert card["hand_refiner"]["default"] is True and Segmenter.from_pretrained("snet-lite").hand_refiner is not None
    assert Segmenter.from_pretrained("snet-lite", refine_hands=False).hand_refiner is None
    with pytest.raises(ValueError, match="names no hand refiner"):
        Segmenter.from_pretrained("snet", refine_hands=True)
    bad = tmp_path / "weights"
    shutil.copytree(weights_dir(), bad)
    path = bad / card["hand_refiner"]["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one weight's byte changed
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="hand-refiner.weights.h5.*sha256"):
        HandRefiner.from_card(card["hand_refiner"], bad)
    # a card without a sha256 cannot catch it there: the network fails, named, when first built
    unchecked = HandRefiner.from_card({**card["hand_refiner"], "sha256": None}, bad)
    path.write_bytes(b"not an HDF5 file")
    with pytest.raises(WeightsError, match="hand-refiner.weights.h5.*cannot load"):
        unchecked.model


def test_the_refiners_int8_graph_runs_on_a_cpu_agrees_with_float32_and_is_checked(tmp_path):
    from signseg.decode.video import read_video
    from signseg.infer.hand_refiner import hand_and_face
    seg = Segmenter.from_pretrained("snet-lite", refine_hands=True)
    ref = seg.hand_refiner
    card = json.loads((weights_dir() / "snet-lite.json").read_text())
    assert ref.int8 is not None and ref.int8[0].name == card["hand_refiner"]["int8"]["file"]
    frames = read_video(SHARED / "signs3" / "ryanestanton__thanks.mp4", stride=4)[:16]
    x = ref.crops(frames, *hand_and_face(seg.predict_parts_proba(frames), seg.parts))[0]
    assert len(x) >= 8
    as_int8 = ref.run(x) > ref.threshold  # "auto" on a CPU: the card's int8 graph ...
    assert ref._model is None  # ... which needs no Keras network: it was never built
    as_float = HandRefiner(ref.model, runtime="onnx").run(x) > ref.threshold
    assert (as_int8 & as_float).sum() / max(1, (as_int8 | as_float).sum()) > 0.9
    bad = tmp_path / "refiner.int8.onnx"
    data = bytearray(ref.int8[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="refiner.int8.onnx.*sha256"):
        HandRefiner(ref.model, int8=(bad, ref.int8[1])).run(x)


def test_blobs_that_never_reach_min_peak_get_no_box():
    p = np.zeros((120, 160), np.float32)
    cv2.circle(p, (40, 60), 10, 0.9, -1)  # a blob the network is sure of
    cv2.circle(p, (120, 60), 10, 0.3, -1)  # one it half believes
    assert len(hand_boxes(p)[0]) == 2
    (box,), _ = hand_boxes(p, min_peak=0.5)
    assert abs(box.cx - 40.5) < 1 and abs(box.cy - 60.5) < 1


def test_a_frame_borrows_its_neighbours_boxes_that_overlap_none_of_its_own():
    a, b = Box(50, 50, 20), Box(150, 50, 20)
    assert a.iou(a) == 1 and a.iou(b) == 0 and a.iou(Box(60, 50, 20)) == pytest.approx(1 / 3)
    near = Box(53, 50, 20)  # the same hand a frame later
    out = with_neighbours([[a], [], [near, b]], 1)
    assert out[0] == [a]  # near overlaps a: not borrowed
    assert out[1] == [a, b]  # the frame the network lost the hand in looks where it was
    assert out[2] == [near, b]
    assert with_neighbours([[a], [], [near, b]], 0) == [[a], [], [near, b]]
    assert with_neighbours([[], [b]], 1, before=[[a]]) == [[a, b], [b]]  # the batch before's last frame


def test_a_videos_batches_borrow_boxes_across_their_boundary():
    """A hand the first network lost in one frame is cropped from its neighbours' boxes, the
    same whether the frames come in one batch or two (real frames and probabilities)."""
    import dataclasses
    from signseg.decode.video import read_video
    from signseg.infer.hand_refiner import hand_and_face
    seg = Segmenter.from_pretrained("snet-lite", refine_hands=True)
    assert seg.hand_refiner.neighbours == 1  # the shipped card's
    frames = read_video(SHARED / "signs3" / "ryanestanton__thanks.mp4", stride=6)[:6]
    hand_p, face_p = hand_and_face(seg.predict_parts_proba(frames), seg.parts)
    hand_p[3] = 0  # lost in frame 3
    alone = dataclasses.replace(seg.hand_refiner, neighbours=0)
    assert 3 not in {i for i, _ in alone.crops(frames, hand_p, face_p)[1]}
    x, where, _ = seg.hand_refiner.crops(frames, hand_p, face_p)
    assert {i for i, _ in where} >= {2, 3, 4} and len(x) == len(where) > len(alone.crops(frames, hand_p, face_p)[0])
    carry: list = []
    first = seg.hand_refiner.crops(frames[:3], hand_p[:3], face_p[:3], carry)[1]
    assert len(carry) == 1  # frame 2's own boxes wait for the next batch
    second = seg.hand_refiner.crops(frames[3:], hand_p[3:], face_p[3:], carry)[1]
    assert first + [(i + 3, box) for i, box in second] == where


def test_a_blob_too_large_to_crop_is_left_to_the_network_and_a_neighbours_box_is_still_borrowed():
    from signseg.decode.video import read_video
    seg = Segmenter.from_pretrained("snet-lite", refine_hands=True)
    frames = read_video(SHARED / "signs3" / "ryanestanton__thanks.mp4", stride=10)[:2]
    n, H, W = frames.shape[:3]
    hand_p = np.zeros((n, H, W), np.float32)
    hand_p[0, H // 4: 3 * H // 4, :] = 0.9  # a band across the whole frame
    hand_p[1, 40:60, 40:60] = 0.9  # a hand-sized blob
    p = seg.hand_refiner.hand_proba(frames, hand_p, np.zeros_like(hand_p))
    assert (p[0, H // 4: 3 * H // 4, 100:] == -1).all()  # the first network's call stands on the band
    assert (p[0, : H // 4, 100:] == 0).all() and (p[0, 3 * H // 4:] == 0).all()  # nothing else is hand
    assert (p[0, 40:60, 40:60] >= 0).all()  # the refiner looks where frame 1's hand is (a borrowed box)
    assert (p[1] >= 0).all()  # frame 1 borrows nothing of the band: no box was made for it


def test_training_crops_hold_the_teachers_hands_and_a_trained_refiner_round_trips(touching_labels, tmp_path):
    from signseg.train.hand_refiner import ARM, crops_from_labels, save_hand_refiner, train_hand_refiner
    first = Segmenter.from_pretrained("snet-lite", refine_hands=False)
    x, y = crops_from_labels(first, [touching_labels])
    with h5py.File(touching_labels) as f:
        frames = f["videos/ryanestanton__thanks/frames"][()]
    assert x.shape[1:] == (CROP, CROP, 5) and y.shape == x.shape[:3] and len(x) >= len(frames)
    assert set(np.unique(y)) <= {0, 1, ARM, L.IGNORE} and (y == 1).any(axis=(1, 2)).mean() > 0.3
    assert (y == ARM).any(axis=(1, 2)).mean() > 0.3  # the person mask's arms and clothes round the hands
    lines = []
    model = train_hand_refiner(x[:256], y[:256], epochs=2, batch_size=32, width=4, log=lines.append)
    assert len(lines) == 2 and "crops/s" in lines[-1]
    entry = save_hand_refiner(model, tmp_path / "mine.weights.h5", width=4, threshold=0.5)
    loaded = HandRefiner.from_card(entry, tmp_path)
    probe = x[:8].astype(np.float32) / 255
    np.testing.assert_allclose(loaded.model.predict_on_batch(probe), model.predict_on_batch(probe), atol=1e-6)
    p = first.predict_parts_proba(frames[:4])
    hands = loaded.hands(frames[:4], p, first.parts)
    assert hands.shape == (4, *frames.shape[1:3]) and hands.dtype == np.int8 and set(np.unique(hands)) <= {-1, 0, 1, SURE_HAND}


def test_a_restaged_clip_keeps_its_signer_and_takes_one_room_for_every_frame(touching_labels):
    from signseg.train.augment import Backgrounds
    from signseg.train.hand_refiner import _rooms, restaged
    with h5py.File(touching_labels) as f:
        g = f["videos/ryanestanton__thanks"]
        frames, truth, person = g["frames"][:6], g["labels"][:6], g["person"][:6]
    rooms = _rooms([touching_labels], None)
    assert len(rooms.plates) == 1 and rooms.plates[0].shape == frames.shape[1:]  # its room, signer painted out
    out = restaged(frames, truth, person, Backgrounds(), np.random.default_rng(3))
    assert out.shape == frames.shape and out.dtype == np.uint8
    labelled = truth > 0
    # the teacher's hands and face are the frame's own (but for a blended rim at their corners)
    assert (out[labelled] == frames[labelled]).all(-1).mean() > 0.98
    who = np.stack([cv2.resize(p, frames.shape[2:0:-1]) for p in person])
    near_labels = np.stack([cv2.dilate(t.astype(np.uint8), np.ones((5, 5), np.uint8)) for t in labelled]) > 0
    room = (who == 0) & ~near_labels  # nowhere near the signer: the new room
    assert room.mean() > 0.2
    assert np.abs(out.astype(int) - frames.astype(int))[room].mean() > 10  # a new room ...
    still = room.all(axis=0)
    assert (out[:, still] == out[:1, still]).all()  # ... the same in every frame: nothing moves there


def test_the_refiner_verb_trains_one_and_names_it_in_a_models_card(touching_labels, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("snet-lite.json", "snet-lite.weights.h5", "snet-lite.int8.onnx"):
        shutil.copy(weights_dir() / name, folder / name)
    r = run("refiner", touching_labels, "-o", folder / "mine.weights.h5", "--epochs", "1", "--width", "4",
            "--arm-weight", "2", "--restage", "1", "--attach", folder / "snet-lite.json", "-q")
    assert r.returncode == 0, r.stderr
    card = json.loads((folder / "snet-lite.json").read_text())
    assert card["hand_refiner"]["file"] == "mine.weights.h5" and card["hand_refiner"]["width"] == 4
    assert card["hand_refiner"]["training"]["crops"] > 0 and card["hand_refiner"]["training"]["arm_weight"] == 2.0
    assert card["hand_refiner"]["training"]["restage"] == 1.0
    shipped = json.loads((weights_dir() / "snet-lite.json").read_text())["hand_refiner"]
    for key in ("default", "min_peak", "neighbours", "over_face"):  # how the card runs its refiner stays ...
        assert card["hand_refiner"][key] == shipped[key]
    assert "int8" not in card["hand_refiner"]  # ... the int8 graph of the other weights goes
    seg = Segmenter.from_file(folder / "snet-lite.weights.h5", refine_hands=True)
    assert seg.hand_refiner is not None and seg.hand_refiner.sha256 == card["hand_refiner"]["sha256"]
    r = run("refiner", touching_labels, "-o", folder / "mine.h5", "-q")
    assert r.returncode == 2 and "must end in .weights.h5" in r.stderr
    r = run("refiner", touching_labels, "-o", folder / "mine.weights.h5", "--restage", "1.5", "-q")
    assert r.returncode == 2 and "--restage: must be from 0 to 1" in r.stderr


def test_segment_parts_with_refined_hands_says_so_in_the_file(tmp_path):
    from signseg.store.mask_reader import MaskReader
    outs = {}
    for name, extra in (("plain", ("--no-refine-hands",)), ("refined", ())):  # refined unless left out
        outs[name] = tmp_path / f"{name}.h5"
        r = run("segment", SHARED / "videos" / "SOUP.mp4", "-o", outs[name], "--parts", "-q", *extra)
        assert r.returncode == 0, r.stderr
    card = json.loads((weights_dir() / "snet-lite.json").read_text())
    with MaskReader(outs["plain"]) as a, MaskReader(outs["refined"]) as b:
        assert "hand_refiner_sha256" not in a["SOUP"].attrs
        assert b["SOUP"].attrs["parts_from"] == "network face, hands by side of the face, hands refined on crops"
        assert b["SOUP"].attrs["hand_refiner_sha256"] == card["hand_refiner"]["sha256"]
        x, y = a["SOUP"].masks[()], b["SOUP"].masks[()]
        np.testing.assert_array_equal(x == L.FACE, y == L.FACE)  # the face is the first network's
        hands = L.is_hand
        assert hands(y).sum() > 0.5 * hands(x).sum() and (hands(x) != hands(y)).any()


def test_an_int8_graph_of_other_weights_is_not_run():
    """A card's int8 graph runs only where it names the refiner's own weights: a graph left
    from before the refiner was trained on (``signseg adapt`` refits it) would give the old hands."""
    entry = json.loads((weights_dir() / "snet-lite.json").read_text())["hand_refiner"]
    assert HandRefiner.from_card(entry, weights_dir()).int8 is not None
    stale = {**entry, "int8": {**entry["int8"], "weights_sha256": "0" * 64}}
    assert HandRefiner.from_card(stale, weights_dir()).int8 is None


def test_a_refit_killed_before_its_card_or_with_no_hand_leaves_a_whole_model(touching_labels, tmp_path, monkeypatch):
    """``signseg adapt`` refits the refiner into new files and names them in the card last: a
    run killed before that, or given no hand to learn from, leaves the model as it was."""
    from signseg.infer.presets import ModelCard
    from signseg.train.hand_refiner import REFIT, refit_hand_refiner
    for path in weights_dir().iterdir():
        if path.name.startswith(("snet-lite.", "hand-refiner.")):
            shutil.copyfile(path, tmp_path / path.name)
    weights, card = tmp_path / "snet-lite.weights.h5", (tmp_path / "snet-lite.json").read_text()
    shipped = Segmenter.from_pretrained("snet-lite").hand_refiner.sha256
    lines = []
    assert refit_hand_refiner(weights, touching_labels, [], log=lines.append) is None
    assert "not refitted" in lines[0] and (tmp_path / "snet-lite.json").read_text() == card

    def killed(self, path):
        raise KeyboardInterrupt
    with h5py.File(touching_labels) as f:
        videos = list(f["videos"])
    monkeypatch.setattr(ModelCard, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        refit_hand_refiner(weights, touching_labels, videos, epochs=1)
    assert (tmp_path / f"{REFIT}.weights.h5").is_file() and (tmp_path / "snet-lite.json").read_text() == card
    assert Segmenter.from_file(weights).hand_refiner.sha256 == shipped
    monkeypatch.undo()
    entry = refit_hand_refiner(weights, touching_labels, videos, epochs=1)
    refiner = Segmenter.from_file(weights).hand_refiner
    assert entry["file"] == f"{REFIT}.weights.h5" and refiner.sha256 == entry["sha256"] != shipped
    assert refiner.int8 is not None and refiner.int8[0].name == f"{REFIT}.int8.onnx"
    # the arm pixels weigh what they weighed when the shipped refiner was trained
    assert entry["training"]["arm_weight"] == json.loads(card)["hand_refiner"]["training"].get("arm_weight", 1.0)


def test_planes_made_only_where_crops_read_give_the_same_crops():
    """The refiner's probability planes are made only inside its boxes' windows (the rest of a
    frame is never read): the crops are the same as from planes made over the whole frame,
    boxes over the frame's edges included."""
    rng = np.random.default_rng(0)
    hand_p = cv2.GaussianBlur(rng.random((180, 320)).astype(np.float32), (0, 0), 3)
    face_p = rng.random((180, 320)).astype(np.float32)
    frame = rng.integers(0, 256, (180, 320, 3), np.uint8)
    boxes = [Box(float(cx), float(cy), float(side)) for cx, cy, side in
             zip(rng.uniform(-20, 340, 12), rng.uniform(-20, 200, 12), rng.uniform(16, 90, 12))]
    whole = probability_planes(hand_p, face_p)
    windowed = probability_planes(hand_p, face_p, boxes)
    assert (windowed == 0).all(-1).mean() > 0.3  # much of the frame was left out
    for box in boxes:
        assert np.array_equal(refiner_input(frame, windowed, box), refiner_input(frame, whole, box))


def test_refined_parts_of_large_real_frames_skip_naming_the_first_networks_hands_exactly():
    """With the refiner's hands, the first network's hands are not named (the refiner's replace
    them): on real frames larger than the size parts are split at, the parts come out the same
    as when they are named first."""
    from signseg.decode.video import read_video
    from signseg.infer.hand_refiner import hand_and_face
    from signseg.postprocess import network_parts as NP
    seg = Segmenter.from_pretrained("snet-lite", refine_hands=True)
    frames = read_video(SHARED / "signs3" / "ryanestanton__thanks.mp4", stride=6)[:8]
    frames = np.stack([cv2.resize(f, (640, 480)) for f in frames])
    assert frames[0, ..., 0].size > NP.WORK_PIXELS
    proba = seg.predict_parts_proba(frames)
    masks = seg.predict(frames)
    hands = seg.hand_refiner.hands(frames, proba, seg.parts)
    got = NP.network_parts(masks, proba, seg.parts, NP.HandSides(), hands)
    sides = NP.HandSides()
    want = np.multiply(masks > 0, L.UNASSIGNED, dtype=np.uint8)
    hand_p, face_p = hand_and_face(proba, seg.parts)
    for i in range(len(frames)):
        share = cv2.resize(hand_p[i] / np.maximum(face_p[i] + hand_p[i], 1e-6), (640, 480))
        NP._face_and_hands(want[i], masks[i] > 0, share, sides, name_hands=True)
        NP.refined_hands(want[i], hands[i], sides)
    assert L.is_hand(got[0]).any() and (got[0] == L.FACE).any()
    assert np.array_equal(got[0], want)


def test_the_refiners_loss_weighs_arm_pixels_as_asked_and_ignores_what_the_labels_ignore():
    from signseg.train.hand_refiner import ARM, refiner_loss
    y = np.zeros((1, 8, 8, 1), np.float32)
    y[0, :4] = 1.0  # hand
    y[0, 4:6] = ARM  # the signer's arm
    y[0, 6:] = L.IGNORE
    p = np.where(y == 1.0, 0.9, 0.1).astype(np.float32)
    p[0, 4:6] = 0.8  # the arm called hand
    as_background = np.where(y == ARM, 0.0, y)
    loss = lambda t, q, w=1.0: float(refiner_loss(t, q, w))  # noqa: E731
    assert loss(y, p) == pytest.approx(loss(as_background, p))  # weight 1: an arm pixel is background
    assert loss(y, p, 3.0) > loss(y, p) + 0.1  # the arm's error weighs three times
    q = p.copy()
    q[0, 6:] = 0.99  # what the labels ignore costs nothing
    assert loss(y, q, 3.0) == pytest.approx(loss(y, p, 3.0))
