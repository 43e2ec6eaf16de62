"""signseg mix: a real fine-tune mixed with the model it started from, in weight space."""
import json

import h5py
import numpy as np
import pytest

from signseg.cli import main
from signseg.infer.presets import sha256_of
from signseg.infer.segmenter import Segmenter
from signseg.train.fit import train
from signseg.video import VideoReader


def arrays(path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, soup_labels, tiny_model_file):
    folder = tmp_path_factory.mktemp("tuned")
    train([soup_labels], folder, name="ft", init=tiny_model_file, epochs=1, steps_per_epoch=2, batch_size=2,
          val_fraction=0.0, learning_rate=1e-2, verbose=0)
    return folder / "ft.weights.h5"


def test_mix_is_the_share_of_each_weight(tmp_path, tuned, tiny_model_file, soup):
    assert main(["mix", str(tuned), str(tiny_model_file), "--share", "0.25", "-o", str(tmp_path / "m")]) == 0
    a, b, m = arrays(tuned), arrays(tiny_model_file), arrays(tmp_path / "m" / "ft.weights.h5")
    assert a.keys() == m.keys() and any(not np.allclose(a[k], b[k]) for k in a)  # the fine-tune moved
    for k in a:
        np.testing.assert_allclose(m[k], 0.25 * a[k] + 0.75 * b[k], rtol=1e-6, atol=1e-7)
    card = json.loads((tmp_path / "m" / "ft.json").read_text())
    assert card["sha256"] == sha256_of(tmp_path / "m" / "ft.weights.h5")
    tuned_card = json.loads(tuned.with_name("ft.json").read_text())
    assert card["threshold"] == tuned_card["threshold"] and card["config"] == tuned_card["config"]
    mixed = card["training"]["mixed"]
    assert mixed == {"share": 0.25, "tuned_sha256": sha256_of(tuned), "start": "tiny",
                     "start_sha256": sha256_of(tiny_model_file)}
    assert "val_iou" not in card.get("metrics", {})  # measured on the fine-tune, so named so
    frames = np.stack([next(iter(VideoReader(soup)))])
    seg = Segmenter.from_file(tmp_path / "m" / "ft.weights.h5")
    ends = [Segmenter.from_file(p).predict_proba(frames) for p in (tuned, tiny_model_file)]
    out = seg.predict_proba(frames)
    assert out.shape == ends[0].shape and not np.allclose(out, ends[0]) and not np.allclose(out, ends[1])


def test_share_one_is_the_fine_tune(tmp_path, tuned, tiny_model_file):
    assert main(["mix", str(tuned), str(tiny_model_file), "--share", "1", "-o", str(tmp_path / "one"),
                 "--name", "same"]) == 0
    a, m = arrays(tuned), arrays(tmp_path / "one" / "same.weights.h5")
    assert all(np.array_equal(a[k], m[k]) for k in a)


def test_a_mix_may_replace_the_fine_tune_in_its_folder(tmp_path, tuned, tiny_model_file):
    import shutil
    folder = tmp_path / "own"
    shutil.copytree(tuned.parent, folder)
    before = sha256_of(folder / "ft.weights.h5")
    assert main(["mix", str(folder / "ft.weights.h5"), str(tiny_model_file), "--share", "0.5", "-o", str(folder)]) == 0
    card = json.loads((folder / "ft.json").read_text())
    assert card["training"]["mixed"]["tuned_sha256"] == before != card["sha256"]
    Segmenter.from_file(folder / "ft.weights.h5")


def test_other_networks_do_not_mix(tmp_path, soup_labels, tiny_model_file, tuned, capsys):
    wider = train([soup_labels], tmp_path / "w", name="w", config={"width": 0.25}, input_size=(64, 64), epochs=1,
                  steps_per_epoch=1, batch_size=2, val_fraction=0.0, verbose=0)
    assert wider.config["width"] == 0.25
    assert main(["mix", str(tmp_path / "w" / "w.weights.h5"), str(tiny_model_file), "--share", "0.5",
                 "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "config differs" in err and "w.weights.h5" in err and not (tmp_path / "x" / "w.weights.h5").exists()
    assert main(["mix", str(tuned), str(tmp_path / "nothing.weights.h5"), "--share", "0.5",
                 "-o", str(tmp_path / "y")]) == 2
    assert "nothing.weights.h5" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["mix", str(tuned), str(tiny_model_file), "--share", "1.5", "-o", str(tmp_path / "z")])
    assert exit_.value.code == 2
