"""Fine-tuning end to end on a tiny real set: SOUP's teacher labels, a few steps."""
import json

import cv2
import numpy as np
import pytest

from signseg.models import build
from signseg.video import VideoReader, read_video
from signseg.infer.segmenter import Segmenter
from signseg.teacher.labelset import label_videos
from signseg.teacher.labelset import usable_frames
from signseg.train.augment import augment
from signseg.train.fit import train
from signseg.train.frames import split_by_group
from signseg.train.sources import load_sources
from test_teacher import LANDMARKS


def test_split_never_puts_one_video_on_both_sides():
    groups = [f"v{i % 23}" for i in range(500)]
    val = split_by_group(groups, 0.3, holdout=["v5"])
    for g in set(groups):
        sides = {bool(v) for v, gg in zip(val, groups) if gg == g}
        assert len(sides) == 1
    assert all(v for v, g in zip(val, groups) if g == "v5")
    assert 0 < val.mean() < 1


def test_augment_mirrors_with_left_right_swap():
    """A view is mirrored exactly when its left-hand pixels became right-hand pixels.

    The image brightens from left to right, so the sign of that ramp in the view's centre
    tells whether the view was mirrored (rotation, scale and colour jitter keep the sign).
    """
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(20, 235, 60, dtype=np.float32), (40, 1))
    img = np.repeat(ramp[..., None], 3, axis=2).astype(np.uint8)
    mask = np.zeros((40, 60), np.uint8)
    mask[10:30, 5:15] = 2  # the signer's left hand
    flips = 0
    for _ in range(60):
        x, y = augment(img, mask, (32, 48), rng)
        assert x.shape == (32, 48, 3) and y.shape == (32, 48)
        centre = x[:, 18:30].max(axis=2).astype(float)
        mirrored = np.corrcoef(centre.mean(axis=0), np.arange(12))[0, 1] < 0
        flips += mirrored
        assert not (y == (2 if mirrored else 3)).any()
    assert 15 < flips < 45


def test_sources_folder_and_npy(tmp_path):
    (tmp_path / "pairs" / "images").mkdir(parents=True)
    (tmp_path / "pairs" / "masks").mkdir()
    img = np.full((24, 32, 3), 128, np.uint8)
    mask = np.zeros((24, 32), np.uint8)
    mask[4:10, 4:10] = 255
    for n in ("a", "b"):
        cv2.imwrite(str(tmp_path / "pairs" / "images" / f"{n}.png"), img)
        cv2.imwrite(str(tmp_path / "pairs" / "masks" / f"{n}.png"), mask)
    np.save(tmp_path / "images.npy", np.stack([img / 255.0] * 3))
    np.save(tmp_path / "labels.npy", np.stack([mask[..., None] / 255.0] * 3))
    data = load_sources([tmp_path / "pairs", tmp_path / "images.npy"])
    assert len(data) == 5 and len(set(data.groups)) == 5
    assert all(m.max() == 4 and (m > 0).sum() == 36 for m in data.masks)
    assert all(i.dtype == np.uint8 for i in data.images)
    (tmp_path / "pairs" / "images" / "c.png").write_bytes(cv2.imencode(".png", img)[1].tobytes())
    with pytest.raises(FileNotFoundError, match="c.png"):
        load_sources([tmp_path / "pairs"])


def test_fine_tune_a_model_on_a_few_labelled_frames(tmp_path, soup_labels, tiny_model_file, soup):
    card = train([soup_labels], tmp_path / "model", name="ft", init=tiny_model_file, epochs=2,
                 steps_per_epoch=2, batch_size=2, val_fraction=0.0, verbose=0)
    assert card.architecture == "snet" and card.config == {"width": 0.125} and card.input_size == (64, 64)
    meta = json.loads((tmp_path / "model" / "ft.json").read_text())
    assert meta["training"]["init"] == "tiny" and meta["training"]["epochs_run"] == 2
    import h5py
    with h5py.File(soup_labels, "r") as f:
        flags = f["videos/SOUP/flags"][:]
    usable = usable_frames(flags)
    assert 0 < usable.sum() < len(flags)  # SOUP has frames where the teacher missed a hand
    # they train now, the missed hand's region ignored by the loss instead of called background
    assert meta["training"]["train_frames"] == flags[:, 0].sum() and 0.1 <= meta["threshold"] <= 0.9
    assert meta["training"]["ignored_frames"] >= len(flags) - usable.sum()
    before = Segmenter.from_file(tiny_model_file)
    after = Segmenter.from_file(tmp_path / "model" / "ft.weights.h5")
    assert after.weights_sha256 == card.sha256
    with h5py.File(tmp_path / "model" / "ft.weights.h5", "r") as f:
        assert "optimizer" not in f  # the shipped file carries no training state
    frames = np.stack([next(iter(VideoReader(soup)))])
    assert not np.allclose(before.predict_proba(frames), after.predict_proba(frames))  # it learned something
    assert (tmp_path / "model" / "history.csv").read_text().count("\n") == 3  # header + 2 epochs


def test_a_killed_run_resumes_and_its_card_counts_every_epoch(tmp_path, soup_labels, tiny_model_file, monkeypatch):
    import signseg.train.fit as tr
    real = tr._Clock.on_epoch_end

    def dies_after_epoch_one(self, epoch, logs=None):  # fault injection: killed once epoch 1 is backed up and logged
        real(self, epoch, logs)
        if epoch == 1:
            raise RuntimeError("simulated death after epoch 1")

    args = dict(name="ft", init=tiny_model_file, epochs=3, steps_per_epoch=2, batch_size=2, val_fraction=0.0,
                verbose=0)
    monkeypatch.setattr(tr._Clock, "on_epoch_end", dies_after_epoch_one)
    with pytest.raises(RuntimeError, match="simulated death"):
        train([soup_labels], tmp_path / "m", **args)
    assert (tmp_path / "m" / "backup").is_dir() and not (tmp_path / "m" / "ft.json").exists()
    minutes_before = json.loads((tmp_path / "m" / "clock.json").read_text())["minutes"]
    monkeypatch.setattr(tr._Clock, "on_epoch_end", real)
    card = train([soup_labels], tmp_path / "m", **args)
    rows = (tmp_path / "m" / "history.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]  # no epoch trained twice
    assert card.extra["training"]["epochs_run"] == 3 and card.extra["training"]["minutes"] >= round(minutes_before, 1)
    assert json.loads((tmp_path / "m" / "clock.json").read_text())["minutes"] > minutes_before  # summed
    assert not (tmp_path / "m" / "backup").exists()


def test_train_cli_from_scratch(tmp_path, soup_labels):
    from signseg.cli import main
    rc = main(["train", str(soup_labels), "-o", str(tmp_path / "m"), "--name", "x", "--width", "0.125",
               "--input-size", "32x32", "--epochs", "1", "--steps", "1", "--batch-size", "2",
               "--val-fraction", "0", "--mirror", "-q"])
    assert rc == 0 and (tmp_path / "m" / "x.weights.h5").is_file()
    seg = Segmenter.from_file(tmp_path / "m" / "x.weights.h5")
    assert seg.input_size == (32, 32) and seg.mirror  # the card asks for the test-time flip


def test_mirror_threshold_is_chosen_on_the_flip_averaged_output(soup):
    """With ``mirror`` the validation output is the frame's and its mirror image's mean, so
    mirroring the validation set changes nothing; a random network alone is not symmetric."""
    import keras
    from signseg.models import snet
    from signseg.train.fit import best_threshold
    keras.utils.set_random_seed(3)
    model = snet(width=0.125)
    x = np.stack([cv2.resize(f, (64, 64)) for f in read_video(soup)[:4]]).astype(np.float32) / 255
    p = np.asarray(model.predict_on_batch(x))
    y = (p > np.median(p)).astype(np.float32)  # a mask the network nearly agrees with
    flipped = [(x[:, :, ::-1].copy(), y[:, :, ::-1].copy())]
    assert best_threshold(model, [(x, y)], mirror=True) == pytest.approx(best_threshold(model, flipped, mirror=True))
    assert best_threshold(model, [(x, y)])[1] != pytest.approx(best_threshold(model, flipped)[1])


def test_crop_windows_come_from_the_full_view_and_favour_foreground():
    rng = np.random.default_rng(1)
    img = np.zeros((100, 100, 3), np.uint8)
    mask = np.zeros((100, 100), np.uint8)
    mask[70:80, 70:80] = 1
    hits = 0
    for _ in range(30):
        x, y = augment(img, mask, (80, 80), rng, strength=0.0, crop=(32, 32))
        assert x.shape == (32, 32, 3) and y.shape == (32, 32)
        hits += bool(y.any())
    assert hits >= 15  # most windows hold the small foreground; random ones would rarely


def test_vgg_card_does_not_point_at_the_imagenet_file(tmp_path, soup_labels, soup):
    tf_keras = pytest.importorskip("tf_keras")
    from signseg.models import VGG16_NOTOP_FILE
    enc = tmp_path / VGG16_NOTOP_FILE
    tf_keras.applications.VGG16(include_top=False, weights=None).save_weights(str(enc))
    card = train([soup_labels], tmp_path / "m", name="v", architecture="vgg_unet",
                 config={"encoder_weights": str(enc)}, input_size=(32, 32), epochs=1, steps_per_epoch=1,
                 batch_size=2, val_fraction=0.0, verbose=0)
    assert card.config == {"encoder_weights": None}
    enc.unlink()  # another machine: no ImageNet file, the trained model still loads
    seg = Segmenter.from_file(tmp_path / "m" / "v.weights.h5")
    assert seg.predict(next(iter(__import__("signseg").video.VideoReader(soup).batches(2)))).shape == (2, 240, 320)


def test_augment_varies_white_balance():
    rng = np.random.default_rng(3)
    img = np.full((32, 32, 3), 120, np.uint8)
    ratios = []
    for _ in range(50):
        x, _ = augment(img, np.zeros((32, 32), np.uint8), (32, 32), rng)
        m = x.reshape(-1, 3).mean(0) + 1
        ratios.append(m[2] / m[0])
    assert min(ratios) < 0.8 and max(ratios) > 1.25  # blue/red balance moves both ways


def test_validation_takes_whole_signers(tmp_path):
    from signseg.train.frames import read_groups
    (tmp_path / "g.tsv").write_text("video\tsigner\tsetting\tsplit\n" +
                                    "".join(f"clip{i}\tsigner{i % 7}\thome\ttrain\n" for i in range(60)))
    signer_of = read_groups(tmp_path / "g.tsv")
    assert signer_of["clip8"] == "signer1" and len(signer_of) == 60
    groups = [f"clip{i % 60}" for i in range(600)]
    val = split_by_group(groups, 0.3, signer_of=signer_of)
    for s in range(7):
        sides = {bool(v) for v, g in zip(val, groups) if signer_of[g] == f"signer{s}"}
        assert len(sides) == 1  # every clip of one signer on the same side
    assert 0 < val.mean() < 1
    (tmp_path / "bad.tsv").write_text("video\tsigner\nclip0 signer0\n")
    with pytest.raises(ValueError, match="bad.tsv:2"):
        read_groups(tmp_path / "bad.tsv")


def test_training_log_is_one_plain_line_per_epoch(tmp_path, soup_labels):
    """Output that is not a terminal (a log file, CI) gets one line per epoch, no progress bar."""
    import subprocess
    from conftest import signseg_command
    log = tmp_path / "train.log"
    with open(log, "w") as out:
        rc = subprocess.run(signseg_command("train", soup_labels, "-o", tmp_path / "m", "--width", "0.125",
                                            "--input-size", "32x32", "--epochs", "3", "--steps", "2",
                                            "--batch-size", "2", "--val-fraction", "0"),
                            stdout=out, stderr=subprocess.PIPE, text=True, timeout=300).returncode
    text = log.read_text()
    assert rc == 0 and "\b" not in text and "\r" not in text
    lines = [ln for ln in text.splitlines() if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in lines] == ["1/3", "2/3", "3/3"]
    assert all("val_mask_iou" in ln and "img/s" in ln for ln in lines)
    assert len(text.splitlines()) == 3


def test_person_masks_travel_from_landmarks_to_training_frames(tmp_path, soup):
    """A landmarks file with the teacher's person segmentation gives labels with a ``person``
    dataset at the stored frame size, and training frames that carry it (for compositing)."""
    import h5py
    lm = dict(np.load(LANDMARKS))
    person = np.zeros((len(lm["frame_index"]), 240, 320), np.uint8)
    person[:, 30:240, 80:240] = 255
    np.savez(tmp_path / "SOUP.npz", **lm, person=person)
    out = tmp_path / "labels.h5"
    assert not label_videos([soup], out, teacher_python=None, landmarks_dir=tmp_path, max_side=160, every=4,
                            progress=False)
    with h5py.File(out, "r") as f:
        g = f["videos/SOUP"]
        assert g["person"].shape == g["labels"].shape == (11, 120, 160)
        assert g["person"][0, 60, 80] == 255 and g["person"][0, 5, 5] == 0
    data = load_sources([out])
    assert len(data) and all(p is not None and p.shape == m.shape for p, m in zip(data.persons, data.masks))


def test_fine_tuning_keeps_the_init_models_flip_and_blob_cut(tmp_path, soup_labels, tiny_model_file):
    import shutil
    init = tmp_path / "flip" / "tiny.weights.h5"
    init.parent.mkdir()
    shutil.copy(tiny_model_file, init)
    card = json.loads((tiny_model_file.parent / "tiny.json").read_text())
    (init.parent / "tiny.json").write_text(json.dumps({**card, "mirror": True, "max_blobs": 3}))
    args = dict(init=init, epochs=1, steps_per_epoch=1, batch_size=2, val_fraction=0.0, verbose=0)
    tuned = train([soup_labels], tmp_path / "a", **args)
    assert tuned.mirror and tuned.max_blobs == 3  # as the init model's card says
    assert not train([soup_labels], tmp_path / "b", mirror=False, **args).mirror  # unless told
    assert not train([soup_labels], tmp_path / "c", **{**args, "init": tiny_model_file}).mirror


def test_clothes_weight_trains_and_is_on_the_card(tmp_path, soup_labels, tiny_model_file):
    args = dict(init=tiny_model_file, epochs=1, steps_per_epoch=1, batch_size=2, val_fraction=0.0, verbose=0)
    card = train([soup_labels], tmp_path / "w", clothes_weight=3.0, views="host", **args)
    assert card.extra["training"]["clothes_weight"] == 3.0
    with pytest.raises(ValueError, match="clothes_weight"):
        train([soup_labels], tmp_path / "g", clothes_weight=3.0, views="graph", **args)
    with pytest.raises(ValueError, match="clothes_weight"):
        train([soup_labels], tmp_path / "z", clothes_weight=0.0, **args)


def test_dropout_off_and_a_weight_average_are_on_the_card(tmp_path, soup_labels, tiny_model_file, soup):
    """--dropout 0 --ema: the init's weights carry over to a network without dropout, the
    average is what is validated and written, and both are on the card."""
    args = dict(init=tiny_model_file, epochs=2, steps_per_epoch=2, batch_size=2, val_fraction=0.0, verbose=0)
    card = train([soup_labels], tmp_path / "e", name="e", dropout=0.0, ema=0.9, **args)
    assert card.config == {"width": 0.125, "dropout": 0.0}
    meta = json.loads((tmp_path / "e" / "e.json").read_text())
    assert meta["training"]["dropout"] == 0.0 and meta["training"]["ema"] == 0.9
    seg = Segmenter.from_file(tmp_path / "e" / "e.weights.h5")
    assert seg.predict(read_video(soup)[:2]).shape == (2, 240, 320)
    # a momentum so close to 1 that the average stays where the first step left it: the
    # written weights are nearer the init's than those of the same run without the average
    def moved(folder: str, **kw) -> float:
        written = train([soup_labels], tmp_path / folder, name="m", learning_rate=1e-2, **args, **kw)
        before, after = build("snet", width=0.125), build("snet", **written.config)
        before.load_weights(tiny_model_file)
        after.load_weights(tmp_path / folder / "m.weights.h5")
        return sum(float(np.abs(a - b).sum()) for a, b in zip(after.get_weights(), before.get_weights()))
    assert moved("still", ema=0.999999) < 0.75 * moved("raw")  # measured: 156 against 270
    with pytest.raises(ValueError, match="ema"):
        train([soup_labels], tmp_path / "x", ema=1.0, **args)
    with pytest.raises(ValueError, match="hand_dice"):  # a one-channel model has no hands of its own
        train([soup_labels], tmp_path / "h", hand_dice=1.0, **args)
    hd = train([soup_labels], tmp_path / "hd", name="hd", outputs="face_hand", hand_dice=0.5, **args)
    assert hd.extra["training"]["hand_dice"] == 0.5
    with pytest.raises(ValueError, match="dropout"):
        train([soup_labels], tmp_path / "v", architecture="vgg_unet", dropout=0.0,
              **{**args, "init": None})


def test_named_validation_signers_and_held_out_rows_from_the_groups_table(tmp_path, soup_labels, tiny_model_file):
    """A groups table with a split column: its val rows validate (no hash), its test rows never train."""
    from signseg.train.frames import read_splits
    table = tmp_path / "g.tsv"
    table.write_text("video\tsigner\tsetting\tsplit\nSOUP_a\ts1\thome\ttrain\nSOUP_b\ts2\tstudio\tval\n"
                     "SOUP_c\ts3\tstudio\ttest\n")
    assert read_splits(table) == {"SOUP_a": "train", "SOUP_b": "val", "SOUP_c": "test"}
    (tmp_path / "plain.tsv").write_text("video\tsigner\nSOUP_a\ts1\n")
    assert read_splits(tmp_path / "plain.tsv") == {}
    groups = ["SOUP_a"] * 5 + ["SOUP_b"] * 3 + ["SOUP_c"] * 2
    assert split_by_group(groups, 0.99, val=["SOUP_b"]).tolist() == [False] * 5 + [True] * 3 + [False] * 2
    assert split_by_group(groups, 0.0, holdout=["SOUP_c"], val=["SOUP_b"]).tolist() == [False] * 5 + [True] * 5
    data = load_sources([soup_labels])
    data.groups = [("SOUP_a", "SOUP_b", "SOUP_c")[i % 3] for i in range(len(data))]
    card = train([soup_labels], tmp_path / "m", data=data, init=tiny_model_file, epochs=1, steps_per_epoch=1,
                 batch_size=2, holdout=["SOUP_c"], val_videos=["SOUP_b"], verbose=0)
    t = card.extra["training"]
    assert t["val_videos"] == 1 and t["val_frames"] == data.groups.count("SOUP_b")
    assert t["train_frames"] == data.groups.count("SOUP_a") and t["validation"] == "named videos"


def test_train_cli_holds_out_the_groups_tables_test_rows(tmp_path, soup_labels):
    import subprocess
    from conftest import signseg_command
    (tmp_path / "g.tsv").write_text("video\tsigner\tsetting\tsplit\nSOUP\tsoup signer\tstudio\ttest\n")
    r = subprocess.run(signseg_command("train", soup_labels, "-o", tmp_path / "m", "--width", "0.125",
                                       "--input-size", "32x32", "--epochs", "1", "--steps", "1",
                                       "--groups", tmp_path / "g.tsv"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "no labelled frame left to train on" in r.stderr


def test_face_hand_channels_fine_tuned_from_a_one_channel_model(tmp_path, soup_labels, tiny_model_file, soup):
    """--outputs face_hand: the one-channel model's head is widened, face and hand trained apart,
    checkpoints chosen by hand IoU; the Segmenter keeps its one mask and gives the parts too."""
    from signseg.train.evaluate import evaluate
    card = train([soup_labels], tmp_path / "fh", name="fh", init=tiny_model_file, epochs=2, steps_per_epoch=3,
                 batch_size=2, val_fraction=0.0, verbose=0, outputs="face_hand", hand_weight=3.0, dice=True)
    assert card.config == {"width": 0.125, "outputs": "face_hand"}
    meta = json.loads((tmp_path / "fh" / "fh.json").read_text())
    assert meta["training"]["chosen_by"] == "val_hand_iou" and "val_hand_iou" in meta["metrics"]
    assert meta["training"]["hand_weight"] == 3.0
    seg = Segmenter.from_file(tmp_path / "fh" / "fh.weights.h5")
    assert seg.parts == ("face", "hand") and Segmenter.from_file(tiny_model_file).parts == ()
    frames = read_video(soup)[:3]
    masks, parts = seg.predict(frames), seg.predict_parts_proba(frames)
    assert masks.shape == frames.shape[:3] and set(np.unique(masks)) <= {0, 4}
    assert parts.shape == (*frames.shape[:3], 2) and 0 <= parts.min() and parts.max() <= 1
    # channel 0, the mask, is shared out between the two parts (resized back, nearly)
    assert np.abs(seg.predict_proba(frames) - parts.sum(axis=-1)).max() < 0.05
    score = evaluate(seg, soup_labels)["SOUP"]
    assert score.hand_iou is not None and score.face_iou is not None and 0 <= score.hand_recall <= 1


def test_an_init_model_grows_to_a_wider_snet(tmp_path, soup_labels, tiny_model_file):
    """train(init=..., config={"width": w}): a width above the init's grows it (the card says
    from what), a width below it is an error, not a silent rebuild."""
    args = dict(init=tiny_model_file, epochs=1, steps_per_epoch=2, batch_size=2, val_fraction=0.0, verbose=0)
    card = train([soup_labels], tmp_path / "g", name="g", config={"width": 0.25}, **args)
    assert card.config == {"width": 0.25}
    assert card.extra["training"]["grown_from_width"] == 0.125
    wide = build("snet", width=0.25)
    wide.load_weights(tmp_path / "g" / "g.weights.h5")
    assert wide.count_params() > 3 * build("snet", width=0.125).count_params()
    same = train([soup_labels], tmp_path / "s", name="s", config={"width": 0.125}, **args)
    assert same.extra["training"]["grown_from_width"] is None
    with pytest.raises(ValueError, match="grows to a wider snet only"):
        train([soup_labels], tmp_path / "n", config={"width": 0.0625}, **args)
    with pytest.raises(ValueError, match="stem cannot be changed"):
        train([soup_labels], tmp_path / "t", config={"stem": 2}, **args)
