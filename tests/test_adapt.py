"""signseg adapt on a small corpus of real clips, with the real MediaPipe teacher."""
import json
import os
import subprocess

import h5py
import numpy as np
import pytest

from conftest import HD, REPO, SHARED, SIGN, SOUP, make_autsl, signseg_command
from signseg.train.adapt import adapt, keep_better_refiner, model_to_use, pick_holdout, spread
from signseg.run.corpus import scan
from signseg.run.jobs import VideoJob
from signseg.errors import SignsegError
from signseg.infer.segmenter import Segmenter

CLIPS = [SOUP, SIGN, SHARED / "signs" / "tid-asl_polis.mp4", HD]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_autsl(tmp_path_factory.mktemp("corpus"), CLIPS)


def test_holdout_is_stable_and_spreads_over_signers(tmp_path):
    jobs = [VideoJob(f"signer{i % 3}_sample{i}", tmp_path / f"{i}.mp4", signer=i % 3) for i in range(12)]
    picked = pick_holdout(jobs, 3)
    assert picked == pick_holdout(list(reversed(jobs)), 3)  # order of discovery does not matter
    assert len({j.signer for j in jobs if j.video_id in picked}) == 3


def test_a_sample_takes_one_video_of_every_signer_before_a_second(tmp_path):
    jobs = [VideoJob(f"signer{s}_sample{i}", tmp_path / f"{s}_{i}.mp4", signer=s)
            for s, n in enumerate((5, 1, 3, 2)) for i in range(n)]
    order = spread(jobs, len(jobs))
    assert sorted(order) == sorted(j.video_id for j in jobs) and order == spread(jobs[::-1], len(jobs))
    signer = {j.video_id: j.signer for j in jobs}
    assert sorted(signer[v] for v in order[:4]) == [0, 1, 2, 3]  # every signer once, then again
    assert sorted(signer[v] for v in order[4:7]) == [0, 2, 3] and spread(jobs, 6) == order[:6]
    # names without a signer: their folders take turns instead
    loose = [VideoJob(f"{d}_{i}", tmp_path / d / f"{i}.mp4") for d in ("a", "b") for i in range(3)]
    assert {v[0] for v in spread(loose, 2)} == {"a", "b"}


def test_the_teacher_sees_only_a_sample_of_a_large_corpus(tmp_path, teacher_python):
    """A corpus of eight videos of four signers adapted from 24 frames: the teacher runs on
    one held-out video and three training videos of three signers, not on all eight."""
    root = tmp_path / "corpus"
    root.mkdir()
    for i in range(8):
        os.symlink(SOUP, root / f"signer{i % 4}_sample{i}_color.mp4")
    jobs = scan(root).jobs
    out = tmp_path / "model"
    r = adapt(jobs, out, frames=24, minutes=0.01, holdout=1, teacher_python=teacher_python, epochs=1,
              steps_per_epoch=1, progress=False)
    seen = sorted(p.stem for p in (out / "labels.h5.landmarks").glob("*.npz"))
    assert json.loads((out / "adapt.json").read_text())["trained_on"] == r.train_videos  # which, said
    assert seen == sorted(f"{v}_color" for v in r.train_videos + r.holdout_videos)
    assert len(r.train_videos) == 3 and len({v.split("_")[0] for v in r.train_videos}) == 3
    with h5py.File(out / "labels.h5", "r") as f:
        assert sorted(f["videos"]) == sorted(r.train_videos + r.holdout_videos)
        assert all(8 <= len(f[f"videos/{v}/flags"]) <= 9 for v in r.train_videos)  # every 5th of 41: about 8
    with pytest.raises(SignsegError, match="at least 1 training video"):
        adapt(jobs, tmp_path / "m0", videos=0, teacher_python=teacher_python, progress=False)
    with pytest.raises(SignsegError, match="holding out 8 of 8 videos leaves none"):
        adapt(jobs, tmp_path / "m8", holdout=8, teacher_python=teacher_python, progress=False)
    assert not (tmp_path / "m0").exists() and not (tmp_path / "m8").exists()  # nothing made for a refused run


def test_adapt_labels_fine_tunes_and_measures_then_resumes(tmp_path, corpus, teacher_python, monkeypatch):
    monkeypatch.setattr("signseg.train.adapt.HELDOUT_FRAMES", 8)  # a long held-out clip is thinned out
    jobs = scan(corpus).jobs
    assert len(jobs) == 4  # the depth videos are not RGB: skipped
    out = tmp_path / "model"
    r = adapt(jobs, out, frames=60, minutes=5, teacher_python=teacher_python, epochs=2, steps_per_epoch=3,
              progress=False)
    assert r.weights == out / "model.weights.h5" and r.weights.is_file() and (out / "model.json").is_file()
    assert len(r.holdout_videos) == 1 and len(r.train_videos) == 3 and r.labelled_frames >= 20
    assert 0.0 <= r.iou_before <= 1.0 and 0.0 <= r.iou_after <= 1.0
    # the face and the hands apart (a whole-mask mean hides missed hands), as --parts writes them
    report = json.loads((out / "adapt.json").read_text())
    for measured, said in ((r.before, report["heldout_before"]), (r.after, report["heldout_after"])):
        assert measured == said and {"iou", "face_iou", "hand_iou", "hand_recall", "swapped"} <= set(measured)
        assert all(0.0 <= v <= 1.0 for v in measured.values())
    assert (report["iou_before"], report["iou_after"]) == (r.before["iou"], r.after["iou"])
    assert set(report["heldout_init_refiner"]) == set(r.after)  # the network adapted, the shipped refiner
    seg = Segmenter.from_file(r.weights)
    assert seg.name == "model" and seg.input_size == (224, 224)
    # fine-tuned with the loss weights the shipped network was trained with (hands weigh 2)
    trained = json.loads((out / "model.json").read_text())["training"]
    shipped_training = json.loads((REPO / "signseg" / "weights" / "snet-lite.json").read_text())["training"]
    assert trained["hand_weight"] == shipped_training["hand_weight"] == 2.0
    assert trained["face_weight"] == shipped_training["face_weight"]
    # the hand refiner was refitted behind the adapted network (new weights, their own int8
    # graph) and is used only where the held-out hands did not fall with it
    shipped = Segmenter.from_pretrained("snet-lite").hand_refiner
    refiner, entry = seg.hand_refiner, json.loads((out / "model.json").read_text())["hand_refiner"]
    refit = report["refiner_refit"]
    assert (out / "hand-refiner.refit.weights.h5").is_file() and (out / "hand-refiner.refit.int8.onnx").is_file()
    refit_hands, carried_hands = refit["heldout"]["hand_iou"], report["heldout_init_refiner"]["hand_iou"]
    if refit_hands != carried_hands:  # (the file rounds to 4 places; the rule reads the unrounded means)
        assert refit["kept"] == (refit_hands > carried_hands)
    if refit["kept"]:
        assert refiner.sha256 != shipped.sha256 and entry["training"]["videos"] == r.train_videos
        assert entry["int8"]["weights_sha256"] == refiner.sha256 and refiner.int8 is not None
    else:
        assert refiner.sha256 == shipped.sha256 and entry["file"] == "hand-refiner.weights.h5"
    assert (entry["neighbours"], entry["min_peak"]) == (shipped.neighbours, shipped.min_peak)  # runs as shipped
    # the arm network was refitted on the training videos' people, and runs by default only
    # where the held-out clip swapped fewer hand pixels with it
    arms = json.loads((out / "model.json").read_text())["arm_sides"]
    shipped_arms = Segmenter.from_pretrained("snet-lite", arm_sides=True).arm_sides
    assert arms["training"]["init"] == shipped_arms.sha256 and arms["sha256"] != shipped_arms.sha256
    assert arms["training"]["videos"] == sorted(r.train_videos) and arms["int8"]["weights_sha256"] == arms["sha256"]
    sides = report["sides"]
    assert r.sides == sides and sides["arms_on"] == arms["default"]
    assert sides["arms_on"] == (sides["by_arms"]["swapped"] < sides["by_face_line"]["swapped"])
    assert r.after == (sides["by_arms"] if sides["arms_on"] else sides["by_face_line"])
    # the face's-side scores are those of the refiner chosen (scored once, not again for the arms)
    assert sides["by_face_line"] == (refit["heldout"] if refit["kept"] else report["heldout_init_refiner"])
    assert (seg.arm_sides is not None) == sides["arms_on"]
    with h5py.File(out / "labels.h5", "r") as f:
        assert sorted(f["videos"]) == sorted(j.video_id for j in jobs)
        held = f[f"videos/{r.holdout_videos[0]}"]
        n_train = sum(len(f[f"videos/{v}/flags"]) for v in r.train_videos)
        assert 45 <= n_train <= 75  # about --frames, spread over the training videos
        assert "person" in held  # the teacher's segmentation came along
        assert 4 <= len(held["flags"]) <= 8 and np.diff(held.attrs["frame_index"]).min() >= 2
    stamps = {p: p.stat().st_mtime for p in (out / "labels.h5.landmarks").glob("*.npz")}
    again = adapt(jobs, out, frames=60, minutes=5, teacher_python="/no/teacher/needed", epochs=1, steps_per_epoch=1,
                  progress=False)  # everything labelled before: the teacher is not run again
    assert again.holdout_videos == r.holdout_videos
    assert stamps == {p: p.stat().st_mtime for p in (out / "labels.h5.landmarks").glob("*.npz")}


def test_too_few_usable_frames_is_a_clear_error(tmp_path, corpus, teacher_python):
    with pytest.raises(SignsegError, match="only .* training frames"):
        adapt(scan(corpus).jobs, tmp_path / "m", frames=3, teacher_python=teacher_python, progress=False)
    with pytest.raises(SignsegError, match="at least 2 videos"):
        adapt(scan(corpus).jobs[:1], tmp_path / "m1", teacher_python=teacher_python, progress=False)


def test_adapt_cli_then_segment_with_the_adapted_weights(tmp_path, corpus, teacher_python):
    env = dict(os.environ, SIGNSEG_TEACHER_PYTHON=teacher_python)
    r = subprocess.run(signseg_command("adapt", corpus, "-o", tmp_path / "m", "--frames", "40", "--minutes", "0.01",
                                       "-q"), capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert r.returncode == 0, r.stderr
    assert "held-out IoU" in r.stderr and "--weights" in r.stderr and "held-out swapped" in r.stderr
    seg = subprocess.run(signseg_command("segment", SOUP, "-o", tmp_path / "s.h5", "--weights",
                                         tmp_path / "m" / "model.weights.h5", "-q"),
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert seg.returncode == 0, seg.stderr
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert f["videos/SOUP/masks"].shape == (41, 240, 320)
    # the adapted face/hand model carries a hand refiner refitted from the shipped one, its
    # files (weights, int8 graph) beside the weights
    from signseg.infer.segmenter import Segmenter
    adapted = Segmenter.from_file(tmp_path / "m" / "model.weights.h5", refine_hands=True)
    shipped = Segmenter.from_pretrained("snet-lite", refine_hands=True)
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert adapted.hand_refiner is not None and adapted.hand_refiner.int8[0].parent == tmp_path / "m"
    if json.loads((tmp_path / "m" / "adapt.json").read_text())["refiner_refit"]["kept"]:
        assert adapted.hand_refiner.sha256 != shipped.hand_refiner.sha256
        assert card["hand_refiner"]["training"]["init"] == shipped.hand_refiner.sha256
    else:  # the refit lost held-out hands: the shipped refiner, its copy beside the weights
        assert adapted.hand_refiner.sha256 == shipped.hand_refiner.sha256
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run(signseg_command("adapt", empty, "-o", tmp_path / "m2", "-q"), capture_output=True, text=True,
                       env=env, cwd=REPO, timeout=300)
    assert r.returncode == 2 and "empty" in r.stderr


def test_corpus_adapt_segments_with_the_adapted_model_and_says_so(tmp_path, corpus, teacher_python):
    env = dict(os.environ, SIGNSEG_TEACHER_PYTHON=teacher_python)
    out = tmp_path / "out.h5"
    args = ("corpus", corpus, "-o", out, "--adapt", "40", "--adapt-minutes", "0.01", "-q")
    r = subprocess.run(signseg_command(*args), capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "out.adapt" / "adapt.json").read_text())
    with h5py.File(out, "r") as f:
        assert f.attrs["adapted_from"] == "snet-lite" and f.attrs["adapted_on_frames"] == report["frames"]
        assert list(f.attrs["adapted_heldout_iou"]) == [report["iou_before"], report["iou_after"]]
        for part in ("face", "hand"):  # and the face and the hands apart
            key = f"{part}_iou"
            assert list(f.attrs[f"adapted_heldout_{key}"]) == [report["heldout_before"][key], report["heldout_after"][key]]
        assert sorted(f["videos"]) == sorted(j.video_id for j in scan(corpus).jobs)
        assert report["use"] == model_to_use(report["heldout_before"], report["heldout_after"])
        assert bool(f.attrs["adapted_used"]) == (report["use"] == "adapted")
        shipped = Segmenter.from_pretrained("snet-lite").weights_sha256
        chosen = ("model", report["weights_sha256"]) if report["use"] == "adapted" else ("snet-lite", shipped)
        for g in f["videos"].values():  # every video's masks came from the model adapt chose
            assert (g.attrs["model"], g.attrs["weights_sha256"]) == chosen
    # run again: the adapted model (OUT.adapt/) is reused, not trained again; where adapt.json
    # says the init scored better on the held-out hands, the corpus is segmented with the init
    (tmp_path / "out.adapt" / "adapt.json").write_text(json.dumps({**report, "use": "init"}))
    r = subprocess.run(signseg_command(*args, "--overwrite"), capture_output=True, text=True, env=env, cwd=REPO,
                       timeout=900)
    assert r.returncode == 0 and "reusing the model adapted before" in r.stderr
    assert "scored lower on the held-out hands; segmenting with snet-lite" in r.stderr
    with h5py.File(out, "r") as f:
        assert not f.attrs["adapted_used"] and f.attrs["adapted_from"] == "snet-lite"
        for g in f["videos"].values():
            assert (g.attrs["model"], g.attrs["weights_sha256"]) == ("snet-lite", shipped)
    from signseg.report.build import write_report
    page = tmp_path / "report.html"
    run = write_report(out, page, worst_n=0).run  # the report says the adapted model was not used
    assert run["adapted_from"] == "snet-lite" and run["adapted_used"] is False
    assert "<th>adapted_used</th><td>False</td>" in page.read_text()


def test_a_fine_tune_that_loses_held_out_hands_is_not_used():
    """Hands first: the thirty-fourth session's corpus of 85 clips (held-out hands 0.580 ->
    0.557, face 0.756 -> 0.768) keeps the init; the whole mask decides where no hands were
    scored (hand-labelled frames), and a tie or nothing held out keeps the adapted model."""
    before, after = {"iou": 0.70, "face_iou": 0.756, "hand_iou": 0.580}, {"iou": 0.72, "face_iou": 0.768,
                                                                          "hand_iou": 0.557}
    assert model_to_use(before, after) == "init"
    assert model_to_use(before, {**after, "hand_iou": 0.640}) == "adapted"
    assert model_to_use(before, {**after, "hand_iou": 0.580}) == "adapted"
    assert model_to_use({"iou": 0.61}, {"iou": 0.58}) == "init"
    assert model_to_use({"iou": 0.61}, {"iou": 0.66}) == "adapted"
    assert model_to_use({"iou": float("nan")}, {"iou": float("nan")}) == "adapted"


def test_a_refitted_refiner_that_loses_held_out_hands_is_put_back(tmp_path):
    """The Andrea12004 corpus (thirty-seventh session): behind the adapted network the refiner it
    carried scored 0.559 held-out hands, the refit 0.540; the card names the carried one again."""
    import shutil
    for f in (REPO / "signseg" / "weights").glob("*-*.*"):  # snet-lite's card, weights and second networks
        shutil.copy(f, tmp_path / f.name)
    model, card_file = tmp_path / "snet-lite.weights.h5", tmp_path / "snet-lite.json"
    carried = json.loads(card_file.read_text())["hand_refiner"]
    shutil.copy(tmp_path / "hand-refiner.weights.h5", tmp_path / "hand-refiner.refit.weights.h5")
    refit = {**carried, "file": "hand-refiner.refit.weights.h5", "training": {"videos": ["a"]}}
    refit.pop("int8")
    card = json.loads(card_file.read_text())
    card_file.write_text(json.dumps({**card, "hand_refiner": refit}))  # as a refit leaves it
    before = {"iou": 0.728, "face_iou": 0.923, "hand_iou": 0.5594}
    assert keep_better_refiner(model, carried, before, {**before, "hand_iou": 0.6}) is True
    assert json.loads(card_file.read_text())["hand_refiner"] == refit
    assert keep_better_refiner(model, carried, before, {**before, "hand_iou": 0.5398}) is False
    assert json.loads(card_file.read_text())["hand_refiner"] == carried
    seg = Segmenter.from_file(model)  # the card still loads, with the carried refiner
    assert seg.hand_refiner.sha256 == Segmenter.from_pretrained("snet-lite").hand_refiner.sha256


@pytest.fixture(scope="module")
def hand_labels(tmp_path_factory):
    """Labelled frames as a user brings them: ``images/`` + ``masks/`` PNGs and the paper's
    ``images.npy`` + ``labels.npy``, from three real clips (masks from committed landmarks)."""
    from test_quality import CLIPS, HELDOUT
    from signseg.teacher.labelset import label_videos
    from signseg.train.frames import load_labels_file
    import cv2
    import numpy as np

    root = tmp_path_factory.mktemp("hand")
    clips = ["test_video", "klyct__lsm_energia", "Noct1z__asl_goodbye"]
    videos = [SHARED / CLIPS[c][0] / f"{c}.mp4" for c in clips]
    assert not label_videos(videos, root / "l.h5", teacher_python=None, landmarks_dir=HELDOUT, max_side=160,
                            progress=False)
    data = load_labels_file(root / "l.h5")
    folder = root / "pairs"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    order = sorted(range(len(data)), key=lambda i: (clips.index(data.groups[i]), i))  # recording by recording
    for n, i in enumerate(order):
        cv2.imwrite(str(folder / "images" / f"{n:04d}.jpg"), cv2.cvtColor(data.images[i], cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(folder / "masks" / f"{n:04d}.png"), (data.masks[i] > 0).astype(np.uint8) * 255)
    # the paper's arrays: one size (here 128x128), images in [0, 1], labels (N, H, W, 1)
    images = [cv2.resize(data.images[i], (128, 128), interpolation=cv2.INTER_AREA) for i in order]
    masks = [cv2.resize((data.masks[i] > 0).astype(np.uint8), (128, 128), interpolation=cv2.INTER_NEAREST)
             for i in order]
    np.save(root / "images.npy", np.stack(images).astype(np.float32) / 255.0)
    np.save(root / "labels.npy", np.stack(masks)[..., None].astype(np.float32))
    return folder, root / "images.npy", [data.groups[i] for i in order]


def test_adapt_on_hand_labelled_frames_holds_out_the_last_ones(tmp_path, hand_labels):
    from signseg.train.adapt import adapt_labels
    from signseg.train.evaluate import evaluate_frames
    from signseg.train.frames import load_pairs_folder
    import numpy as np

    folder, _, clip_of = hand_labels
    r = adapt_labels([folder], tmp_path / "m", minutes=5, epochs=2, steps_per_epoch=2, progress=False)
    pairs = load_pairs_folder(folder)
    n_held = max(1, round(len(pairs) * 0.15))
    assert r.holdout_videos == pairs.groups[-n_held:] and r.labelled_frames == len(pairs) - n_held
    assert {clip_of[-1]} == {clip_of[i] for i in range(len(pairs) - n_held, len(pairs))}  # the last recording's
    held = pairs.subset(np.isin(pairs.groups, r.holdout_videos))
    assert r.iou_before == pytest.approx(
        evaluate_frames(Segmenter.from_pretrained("snet-lite"), held.images, held.masks).iou)
    assert r.iou_after == pytest.approx(evaluate_frames(Segmenter.from_file(r.weights), held.images, held.masks).iou)
    report = json.loads((tmp_path / "m" / "adapt.json").read_text())
    assert report["labels"] == [str(folder)] and report["frames"] == r.labelled_frames
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["training"]["holdout_videos"] == sorted(r.holdout_videos)  # never trained on


def test_adapt_labels_cli_with_the_papers_arrays_and_clear_errors(tmp_path, hand_labels):
    _, images, _ = hand_labels
    r = subprocess.run(signseg_command("adapt", "--labels", images, "-o", tmp_path / "m", "--minutes", "0.01", "-q"),
                       capture_output=True, text=True, cwd=REPO, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "hand-labelled frames" in r.stderr and "held-out IoU" in r.stderr
    assert Segmenter.from_file(tmp_path / "m" / "model.weights.h5").name == "model"
    r = subprocess.run(signseg_command("adapt", "-o", tmp_path / "m2", "-q"), capture_output=True, text=True,
                       cwd=REPO, timeout=300)
    assert r.returncode == 2 and "ROOT" in r.stderr and "--labels" in r.stderr
    few = tmp_path / "few"
    (few / "images").mkdir(parents=True)
    (few / "masks").mkdir()
    import shutil
    for name in sorted(p.name for p in (hand_labels[0] / "images").iterdir())[:5]:
        shutil.copy(hand_labels[0] / "images" / name, few / "images" / name)
        png = name.rsplit(".", 1)[0] + ".png"
        shutil.copy(hand_labels[0] / "masks" / png, few / "masks" / png)
    r = subprocess.run(signseg_command("adapt", "--labels", few, "-o", tmp_path / "m3", "-q"), capture_output=True,
                       text=True, cwd=REPO, timeout=300)
    assert r.returncode == 2 and str(few) in r.stderr and "need 20" in r.stderr
    (few / "masks" / png).unlink()
    r = subprocess.run(signseg_command("adapt", "--labels", few, "-o", tmp_path / "m4", "-q"), capture_output=True,
                       text=True, cwd=REPO, timeout=300)
    assert r.returncode == 2 and "mask missing" in r.stderr


def test_a_killed_adapt_goes_on_from_its_last_epoch(tmp_path, hand_labels, monkeypatch):
    import signseg.train.fit as tr
    from signseg.train.adapt import adapt_labels
    real = tr._Clock.on_epoch_end

    def dies_after_epoch_one(self, epoch, logs=None):  # fault injection: killed once epoch 1 is backed up
        real(self, epoch, logs)
        if epoch == 1:
            raise RuntimeError("simulated death after epoch 1")

    args = dict(minutes=5, epochs=3, steps_per_epoch=2, progress=False)
    monkeypatch.setattr(tr._Clock, "on_epoch_end", dies_after_epoch_one)
    with pytest.raises(RuntimeError, match="simulated death"):
        adapt_labels([hand_labels[0]], tmp_path / "m", **args)
    assert (tmp_path / "m" / "backup").is_dir() and not (tmp_path / "m" / "adapt.json").exists()
    monkeypatch.setattr(tr._Clock, "on_epoch_end", real)
    r = adapt_labels([hand_labels[0]], tmp_path / "m", **args)
    rows = (tmp_path / "m" / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["0", "1", "2"]  # went on: no epoch trained twice
    assert r.weights.is_file() and (tmp_path / "m" / "adapt.json").is_file()
