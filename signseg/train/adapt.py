"""Adapt a model to one corpus: teacher-label a sample of its frames, fine-tune, measure.

The paper's premise is that a few hundred labelled frames of the target footage make a good
model. :func:`adapt` makes those labels with the MediaPipe teacher instead of by hand:
frames spread over the corpus's videos, a few whole videos held out, the init model
fine-tuned with the training augmentations, and the teacher agreement (IoU) on the held-out
videos printed before and after. Every step resumes: landmarks and labels are cached in
``MODEL_DIR``, training continues from its last epoch. ``MODEL_DIR/adapt.json`` records
what was measured: the whole mask's IoU and, for teacher labels, the face's and the hands' apart
(parts as ``--parts`` writes them): a face found can hide hands missed in a whole-mask mean.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from signseg.errors import SignsegError
from signseg.run.jobs import VideoJob

if TYPE_CHECKING:
    from signseg.infer.presets import ModelCard

#: Fewer usable labelled frames than this is no basis for fine-tuning.
MIN_FRAMES = 20
#: Frames scored of each held-out video at most (every 2nd frame, spread further on a long
#: video), so that a long clip held out costs bounded time and memory.
HELDOUT_FRAMES = 150
#: Frames labelled of each training video, about, where a corpus has more videos than
#: ``frames`` need: the teacher then runs on ``frames / FRAMES_PER_VIDEO`` of them, spread over
#: the signers (:func:`spread`), not on every video of the corpus.
FRAMES_PER_VIDEO = 8
#: The first network's share of the time budget where the hand refiner is refitted after it
#: (the refit takes about a minute on 2 cores for 400 frames).
NETWORK_SHARE = 0.9
#: The arm network's share of the time budget, where the init card names one
#: (:func:`signseg.train.arm_sides.refit_arm_sides`); it comes out of the first network's.
ARMS_SHARE = 0.1


@dataclass
class AdaptResult:
    """What :func:`adapt` made and measured."""

    weights: Path
    train_videos: list[str]
    holdout_videos: list[str]
    labelled_frames: int
    #: means over the held-out clips before and after: ``iou`` and, for teacher labels,
    #: ``face_iou``, ``hand_iou`` and ``hand_recall`` (:func:`heldout_means`)
    before: dict
    after: dict
    #: where an arm network was refitted: the held-out means with the hands named by the side of
    #: the face (``by_face_line``) and by the arms (``by_arms``), and ``arms_on``, the choice
    sides: dict | None = None

    @property
    def iou_before(self) -> float:
        return self.before["iou"]

    @property
    def iou_after(self) -> float:
        return self.after["iou"]

    def arms_line(self) -> str:
        """The text ``; hands named by their arms (held-out swapped: side of the face 0.061, arms
        0.044)`` where an arm network was refitted (``by the side of the face`` where it was left
        off), else empty."""
        if not self.sides:
            return ""
        line, arms = (self.sides[k].get("swapped", float("nan")) for k in ("by_face_line", "by_arms"))
        return (f"; hands named by {'their arms' if self.sides['arms_on'] else 'the side of the face'} "
                f"(held-out swapped: side of the face {line:.3f}, arms {arms:.3f})")

    def changes(self, names: Sequence[tuple[str, str]] = (("face_iou", "face"), ("hand_iou", "hands"))) -> str:
        """The text ``, face 0.654 -> 0.887, hands ...``: each (key, name) of ``names`` measured before and after."""
        return "".join(f", {name} {self.before[k]:.3f} -> {self.after[k]:.3f}" for k, name in names
                       if k in self.before and k in self.after)


def heldout_means(scores: dict) -> dict[str, float]:
    """Means over held-out clips' :class:`~signseg.train.evaluate.Score` s (clip -> score):
    ``iou`` (the whole mask) and, where the scores have parts, ``face_iou``, ``hand_iou`` and
    ``hand_recall`` (clips without the teacher's face or hands left out of those), and where
    they tell the hands apart ``left_iou``, ``right_iou`` and ``swapped`` (the share of hand
    pixels given the other hand)."""
    from signseg.train.evaluate import by_setting

    if not scores:
        return {"iou": float("nan")}
    row = by_setting(scores, {})["all clips"]
    keys = ("face_iou", "hand_iou", "hand_recall", "left_iou", "right_iou", "swapped")
    return {"iou": row["mean_iou"], **{k: row[k] for k in keys if row.get(k) is not None}}


def _group(job: VideoJob) -> tuple:
    """Whose video it is, as far as the corpus says: its signer, else its folder."""
    return ("signer", job.signer) if job.signer is not None else ("folder", os.fspath(Path(job.path).parent))


def spread(jobs: Sequence[VideoJob], count: int) -> list[str]:
    """``count`` video ids, stable across runs (whatever order the videos were found in), taken
    in turn from each signer (or folder, where the names give no signer): one video of every
    signer before a second of any, so that a sample of a large corpus sees as many people as it can."""
    queues: dict[tuple, list[str]] = {}
    for j in sorted(jobs, key=lambda j: hashlib.sha1(j.video_id.encode()).hexdigest()):
        queues.setdefault(_group(j), []).append(j.video_id)
    order = [q[i] for i in range(max(map(len, queues.values()), default=0)) for q in queues.values() if i < len(q)]
    return order[:count]


def pick_holdout(jobs: Sequence[VideoJob], count: int) -> list[str]:
    """``count`` videos to hold out, stable across runs, from as many signers as possible."""
    return spread(jobs, count)


def adapt(jobs: Sequence[VideoJob], model_dir: str | os.PathLike, *, frames: int = 400, minutes: float = 15.0,
          init: str = "snet-lite", holdout: int | None = None, videos: int | None = None,
          teacher_python: str | None = None, epochs: int = 200, steps_per_epoch: int = 50,
          progress: bool = True) -> AdaptResult:
    """Label about ``frames`` frames of ``jobs`` with the teacher, fine-tune ``init`` for at most
    ``minutes``, and write ``MODEL_DIR/model.weights.h5`` with its card.

    ``holdout`` whole videos (default: one in ten, 1 to 3) are kept out of training and
    scored before and after (every 2nd frame, :data:`HELDOUT_FRAMES` at most a video). The
    teacher runs on those and on ``videos`` training videos (default: ``frames`` /
    :data:`FRAMES_PER_VIDEO`), taken in turn from each signer, so its cost does not grow with
    the corpus: an AUTSL-sized corpus is labelled from a few dozen of its clips. Frames are
    spread evenly over each training video's length.
    """
    import h5py
    from tqdm.auto import tqdm

    from signseg.train.evaluate import evaluate
    from signseg.teacher.env import ensure_teacher
    from signseg.teacher.labelset import (build_labels, landmarks_file, missing_landmarks, open_labels, run_teacher,
                                          usable_frames)

    jobs = list(jobs)
    if len(jobs) < 2:
        raise SignsegError(model_dir, f"adapting needs at least 2 videos (one held out), found {len(jobs)}")
    model_dir = Path(model_dir)
    if videos is not None and videos < 1:
        raise SignsegError(model_dir, f"adapting needs at least 1 training video, asked for {videos}")
    held = pick_holdout(jobs, holdout if holdout is not None else min(3, max(1, len(jobs) // 10)))
    if len(held) >= len(jobs):
        raise SignsegError(model_dir, f"holding out {len(held)} of {len(jobs)} videos leaves none to train on")
    model_dir.mkdir(parents=True, exist_ok=True)
    train_ids = spread([j for j in jobs if j.video_id not in held],
                       videos if videos is not None else -(-frames // FRAMES_PER_VIDEO))
    jobs = [j for j in jobs if j.video_id in held or j.video_id in train_ids]  # the ones the teacher sees
    train_jobs = [j for j in jobs if j.video_id in train_ids]
    landmarks = model_dir / "labels.h5.landmarks"
    if missing_landmarks([j.path for j in jobs], landmarks):
        run_teacher([j.path for j in jobs], landmarks, ensure_teacher(teacher_python, quiet=not progress),
                    progress=progress)
    counts = {j.video_id: len(np.load(landmarks_file(landmarks, j.path))["frame_index"]) for j in jobs}
    per_video = max(1, frames // len(train_jobs))
    labels_file = model_dir / "labels.h5"
    with open_labels(labels_file) as f:
        for j in tqdm(jobs, unit="video", desc="labels", disable=not progress):
            g = f.get(f"videos/{j.video_id}")
            if g is not None and g.attrs.get("complete"):
                continue  # resumed: labelled before
            # held-out videos: every 2nd frame to score on, HELDOUT_FRAMES at most; training
            # videos: their share, spread out
            every = (max(2, -(-counts[j.video_id] // HELDOUT_FRAMES)) if j.video_id in held
                     else max(1, counts[j.video_id] // per_video))
            build_labels(j.path, landmarks_file(landmarks, j.path), f, every=every, video_id=j.video_id)
    with h5py.File(labels_file, "r") as f:
        usable = sum(int(usable_frames(f[f"videos/{j.video_id}/flags"][:]).sum()) for j in train_jobs)
    if usable < MIN_FRAMES:
        raise SignsegError(labels_file, f"only {usable} training frames where the teacher found the face and every "
                                        f"visible hand (need {MIN_FRAMES}): add videos or raise --frames")

    def score(seg) -> dict[str, float]:
        scores = evaluate(seg, labels_file, held)
        return heldout_means({v: scores[v] for v in held if v in scores})

    def refine(weights: Path) -> dict | None:  # the refiner learns the corpus's hands behind the adapted network
        from signseg.train.hand_refiner import refit_hand_refiner
        return refit_hand_refiner(weights, labels_file, train_ids,
                                  log=(lambda line: print(f"hand refiner: {line}", file=sys.stderr)) if progress
                                  else None)

    def arms(weights: Path, budget: float) -> dict | None:  # the arm network learns the corpus's people
        from signseg.train.arm_sides import refit_arm_sides
        return refit_arm_sides(weights, labels_file, train_ids, max_minutes=budget,
                               log=(lambda line: print(f"arm network: {line}", file=sys.stderr)) if progress else None)

    return _fine_tune([labels_file], model_dir, train_ids, held, score, init=init,
                      minutes=minutes, epochs=epochs, steps_per_epoch=steps_per_epoch, progress=progress,
                      labelled=usable, source="teacher", refine=refine, arms=arms)


def adapt_labels(sources: Sequence[str | os.PathLike], model_dir: str | os.PathLike, *, minutes: float = 15.0,
                 init: str = "snet-lite", holdout_fraction: float = 0.15, epochs: int = 200,
                 steps_per_epoch: int = 50, progress: bool = True) -> AdaptResult:
    """The paper's route: fine-tune ``init`` on hand-labelled frames instead of teacher labels.

    ``sources`` are what ``signseg train`` reads (``images/`` + ``masks/`` folders, the paper's
    ``images.npy`` beside ``labels.npy``, labels ``.h5`` files). The last ``holdout_fraction`` of
    the frames (whole videos of a labels file), in the order given, is kept out and scored
    before and after: frames are usually stored recording by recording, so the held-out ones
    are not near copies of training frames.
    """
    from signseg.train.evaluate import evaluate_frames
    from signseg.train.sources import load_sources

    model_dir = Path(model_dir)
    try:
        data = load_sources(sources)
    except (OSError, ValueError) as exc:
        raise SignsegError(", ".join(map(os.fspath, sources)), f"cannot read the labelled frames: {exc}") from exc
    groups = list(dict.fromkeys(data.groups))  # first-seen order
    held = groups[len(groups) - max(1, round(len(groups) * holdout_fraction)):]
    is_held = np.isin(data.groups, held)
    n_train = int((~is_held).sum())
    if n_train < MIN_FRAMES or not is_held.any():
        raise SignsegError(", ".join(map(os.fspath, sources)),
                           f"{len(data)} labelled frames leave {n_train} to train on after holding out "
                           f"{int(is_held.sum())} (need {MIN_FRAMES} and at least one held out)")
    held_data = data.subset(is_held)
    model_dir.mkdir(parents=True, exist_ok=True)

    def score(seg) -> dict[str, float]:
        return {"iou": evaluate_frames(seg, held_data.images, held_data.masks).iou}

    return _fine_tune(sources, model_dir, [g for g in groups if g not in held], held, score, init=init,
                      minutes=minutes, epochs=epochs, steps_per_epoch=steps_per_epoch, progress=progress,
                      labelled=n_train, source=[os.fspath(s) for s in sources], data=data)


def _fine_tune(sources, model_dir: Path, trained_on: list[str], held: list[str], score, *, init: str,
               minutes: float, epochs: int, steps_per_epoch: int, progress: bool, labelled: int,
               source, data=None, refine=None, arms=None) -> AdaptResult:
    """Score ``init`` on the held-out frames, fine-tune it on the rest within ``minutes``, score the
    result, and write ``adapt.json`` with what was measured (``score``: a model -> its
    :func:`heldout_means`). ``data``: the frames of ``sources``, where they are loaded already.
    ``refine``: called with the new weights to fine-tune the hand refiner their card carries
    (then the first network gets :data:`NETWORK_SHARE` of ``minutes``, its score without the
    refit is kept too, and the refit is used only where it holds: :func:`keep_better_refiner`).
    ``arms``: called with the new weights and a budget in minutes (:data:`ARMS_SHARE` of
    ``minutes``) to refit the arm network the card names; it then runs by default only where the
    held-out clips swap fewer hand pixels with it (:func:`_choose_arms`)."""
    from signseg.infer.presets import PRESETS
    from signseg.infer.segmenter import Segmenter
    from signseg.train.fit import auto_views, init_card, train
    from signseg.train.refit import card_entry

    base = Segmenter.from_pretrained(init) if init in PRESETS else Segmenter.from_file(init)
    before = score(base)
    refine = refine if base.hand_refiner is not None else None
    card0 = init_card(init)
    arms = arms if "arm_sides" in card0.extra else None
    share = (NETWORK_SHARE if refine is not None else 1.0) - (ARMS_SHARE if arms is not None else 0.0)
    # the views a model from scratch gets (graph on a GPU, host on a CPU), not the init card's:
    # the measured gains (docs/training.md) were made with host views on a CPU
    views = auto_views(None)
    card = train(sources, model_dir, name="model", init=init, epochs=epochs, steps_per_epoch=steps_per_epoch,
                 learning_rate=5e-4, dice=True, val_fraction=0.0, holdout=held,
                 max_minutes=minutes * share, **loss_weights(card0),
                 max_val_frames=120, patience=max(5, epochs), verbose="auto" if progress else 0, data=data,
                 views=views)
    weights = model_dir / card.weights_file
    kept = lambda means: {k: round(v, 4) for k, v in means.items()}  # noqa: E731
    network_only, line = {}, None
    if refine is not None:
        carried = score(Segmenter.from_file(weights, arm_sides=False))
        network_only = {"heldout_init_refiner": kept(carried)}
        old = card_entry(weights, "hand_refiner")
        if refine(weights) is not None:
            refitted = score(Segmenter.from_file(weights, arm_sides=False))
            kept_refit = keep_better_refiner(weights, old, carried, refitted)
            network_only["refiner_refit"] = {"heldout": kept(refitted), "kept": kept_refit}
            line = refitted if kept_refit else carried
            if not kept_refit and progress:
                key, what = deciding_figure(carried, refitted)
                print(f"signseg: hand refiner: the refit scored lower on the held-out {what} "
                      f"({kept(refitted)[key]} < {kept(carried)[key]}): the one {init} carried is kept",
                      file=sys.stderr)
    sides, after = {}, None
    if arms is not None and arms(weights, minutes * ARMS_SHARE) is not None:
        sides, after = _choose_arms(weights, score, kept, line)
    if after is None:  # the card's own choice of naming; where that is the face's side, scored already
        arms_on = (card_entry(weights, "arm_sides") or {}).get("default", False)
        after = line if line is not None and not arms_on else score(Segmenter.from_file(weights))
    report = {"init": init, "labels": source, "holdout": held, "trained_on": trained_on, "frames": labelled,
              "iou_before": round(before["iou"], 4), "iou_after": round(after["iou"], 4),
              "heldout_before": kept(before), **network_only, **sides, "heldout_after": kept(after),
              "weights_sha256": card.sha256, "use": model_to_use(before, after)}
    (model_dir / "adapt.json").write_text(json.dumps(report, indent=2) + "\n")  # what was measured
    result = AdaptResult(weights, trained_on, held, labelled, before, after, sides.get("sides"))
    if progress:
        what = (f"teacher agreement on {len(held)} held-out video(s) ({', '.join(held)})" if source == "teacher"
                else f"agreement with your labels on {len(held)} held-out frame group(s)")
        print(f"signseg: {what}: IoU {result.iou_before:.3f} ({init}) -> {result.iou_after:.3f} (adapted)"
              f"{result.changes()}", file=sys.stderr)
        if report["use"] == "init":
            print(f"signseg: the adapted model scores lower than {init} on the held-out "
                  f"{deciding_figure(before, after)[1]}: corpus --adapt keeps {init}", file=sys.stderr)
    return result


def deciding_figure(before: dict, after: dict) -> tuple[str, str]:
    """The held-out mean (:func:`heldout_means`) that chooses between an adapted model and its
    init, and its name: the hands' IoU where both were scored on hands, else the whole mask's."""
    return ("hand_iou", "hands") if "hand_iou" in before and "hand_iou" in after else ("iou", "masks")


def model_to_use(before: dict, after: dict) -> str:
    """Which model a corpus should be segmented with, ``"adapted"`` or ``"init"``, from the
    held-out means before and after adapting (:func:`heldout_means`), by
    :func:`deciding_figure`: hands first. Adapting once lowered a corpus's held-out hands
    (0.580 -> 0.557) and those of its clips it never saw more (0.326 -> 0.264; docs/training.md,
    thirty-fourth session): a fine-tune that loses held-out hands is not used."""
    key = deciding_figure(before, after)[0]
    return "init" if after[key] < before[key] else "adapted"  # NaN (nothing held out): adapted


def keep_better_refiner(weights: Path, carried_entry: dict, carried: dict, refitted: dict) -> bool:
    """Keep the hand refiner just refitted into the card beside ``weights`` unless its held-out
    means ``refitted`` fall below ``carried``'s (the refiner the card carried, ``carried_entry``,
    behind the same adapted network), by :func:`model_to_use`'s rule; where they fall, the
    card names ``carried_entry`` again. The refit gained on six corpora and lost one person's
    held-out hands (0.559 -> 0.540; docs/training.md, thirty-seventh session). True: kept."""
    from signseg.train.refit import write_entry

    if model_to_use(carried, refitted) == "adapted":
        return True
    write_entry(weights, "hand_refiner", carried_entry)
    return False


def loss_weights(card: ModelCard) -> dict[str, float]:
    """The face and hand weights ``card``'s network was trained with (1.0 where its card does
    not say): fine-tuned with weights of 1, the shipped network (trained with hands at 2) lost
    hand recall on a corpus of many people (docs/training.md, thirty-fifth session)."""
    trained = card.extra.get("training") or {}
    return {k: 1.0 if trained.get(k) is None else float(trained[k]) for k in ("face_weight", "hand_weight")}


def _choose_arms(weights: Path, score, kept, line: dict | None = None) -> tuple[dict, dict]:
    """Run the card's (refitted) arm network by default where the held-out clips swap fewer hand
    pixels with it than with the side of the face: a name learnt from a corpus's own people is
    kept only where it holds on clips it did not learn from. Returns what was measured (for
    ``adapt.json``) and the held-out means of the choice. ``line``: the held-out means with
    the hands named by the face's side, where already scored (the hand refiner's choice)."""
    from signseg.infer.segmenter import Segmenter
    from signseg.train.refit import card_entry, write_entry

    line = line if line is not None else score(Segmenter.from_file(weights, arm_sides=False))
    by_arms = score(Segmenter.from_file(weights, arm_sides=True))
    on = by_arms.get("swapped", 1.0) < line.get("swapped", 0.0)
    write_entry(weights, "arm_sides", {**card_entry(weights, "arm_sides"), "default": bool(on)})
    sides = {"by_face_line": kept(line), "by_arms": kept(by_arms), "arms_on": bool(on)}
    return {"sides": sides}, (by_arms if on else line)
