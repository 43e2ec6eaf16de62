import json
import shutil

import keras
import numpy as np
import pytest

from conftest import HD, PORTRAIT
from signseg import labels
from signseg.errors import WeightsError
from signseg.models import snet
from signseg.infer.segmenter import Segmenter
from signseg.decode.video import read_video


@pytest.fixture(scope="module")
def seg(tiny_model_file):
    return Segmenter.from_file(tiny_model_file, batch_size=4)


def test_from_file_reads_the_model_card(seg, tiny_model_file):
    assert seg.input_size == (64, 64) and seg.threshold == 0.5 and seg.name == "tiny"
    from signseg.infer.presets import sha256_of
    assert seg.weights_sha256 == sha256_of(tiny_model_file)


@pytest.mark.parametrize("path", [PORTRAIT, HD])
def test_masks_come_back_at_source_size(seg, path):
    frames = read_video(path)[:5]
    masks = seg.predict(frames)
    assert masks.shape == frames.shape[:3] and masks.dtype == np.uint8
    assert set(np.unique(masks)) <= {labels.BACKGROUND, labels.UNASSIGNED}
    proba = seg.predict_proba(frames)
    assert proba.dtype == np.float32 and proba.shape == frames.shape[:3]
    assert proba.min() >= 0 and proba.max() <= 1
    np.testing.assert_array_equal(masks > 0, proba >= seg.threshold)


def test_threshold_moves_the_mask(seg, soup):
    frames = read_video(soup)[:2]
    proba = seg.predict_proba(frames)
    t = float(np.median(proba))
    assert (seg.predict(frames, threshold=t) > 0).mean() == pytest.approx((proba >= t).mean())


def test_native_size_when_input_size_is_none(tiny_model_file, soup):
    s = Segmenter.from_file(tiny_model_file)
    s.input_size = None
    frames = read_video(soup)[:2]  # 240x320: already multiples of 8
    assert s.predict(frames).shape == (2, 240, 320)


def test_batching_does_not_change_results(tiny_model_file, soup):
    frames = read_video(soup)[:7]
    a = Segmenter.from_file(tiny_model_file, batch_size=1).predict_proba(frames)
    b = Segmenter.from_file(tiny_model_file, batch_size=4).predict_proba(frames)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_segment_video_streams_batches(seg, soup):
    batches = list(seg.segment_video(soup, stride=2))
    assert [len(b) for b in batches] == [4, 4, 4, 4, 4, 1]
    assert batches[0].shape[1:] == (240, 320)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 32, 32, 3), np.float32), "uint8"),
    (np.zeros((32, 32, 3), np.uint8), "batch"),
    (np.zeros((2, 32, 32), np.uint8), r"\(N, H, W, 3\)"),
    (np.zeros((2, 32, 32, 4), np.uint8), r"\(N, H, W, 3\)"),
])
def test_bad_frames_raise_value_error(seg, bad, message):
    with pytest.raises(ValueError, match=message):
        seg.predict(bad)


def test_empty_batch(seg):
    assert seg.predict(np.zeros((0, 48, 64, 3), np.uint8)).shape == (0, 48, 64)


def test_constructor_checks():
    m = snet(width=0.125)
    with pytest.raises(ValueError, match="divisible by 8"):
        Segmenter(m, input_size=(100, 100))
    with pytest.raises(ValueError, match="threshold"):
        Segmenter(m, threshold=1.5)


@keras.saving.register_keras_serializable(package="signseg_tests")
class _TraceCounter(keras.layers.Layer):
    """Counts Python-level calls: inside a compiled predict function they happen per trace only."""
    calls = 0

    def call(self, x):
        type(self).calls += 1
        return x


@pytest.mark.parametrize("runtime", ["keras", "xla"])
def test_compiled_once_per_shape_bucket(soup, runtime):
    _TraceCounter.calls = 0
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, snet(width=0.125)(_TraceCounter()(inputs)))
    seg = Segmenter(model, input_size=(32, 32), batch_size=8, runtime=runtime)
    frames = read_video(soup)[:8]
    for n in [8, 8, 8, 5, 3, 1, 2, 7, 8, 6, 4] * 2:
        seg.predict(frames[:n])
    # 22 calls, batch buckets {1, 2, 4, 8}: at most one trace each
    assert 1 <= _TraceCounter.calls <= 4


# ---------------------------------------------------------------- registry
def test_from_pretrained_loads_a_registered_preset(preset_dir, soup):
    s = Segmenter.from_pretrained("snet-lite")
    assert s.name == "snet-lite" and s.input_size == (64, 64)
    assert s.predict(read_video(soup)[:1]).shape == (1, 240, 320)


def test_from_pretrained_default_is_snet_lite_on_cpu(preset_dir):
    assert Segmenter.from_pretrained().name == "snet-lite"


def test_unknown_and_missing_presets_name_the_problem(preset_dir):
    with pytest.raises(WeightsError, match="unknown model 'nope'.*snet-lite"):
        Segmenter.from_pretrained("nope")
    with pytest.raises(WeightsError) as err:
        Segmenter.from_pretrained("snet")  # registered, but no file in this folder
    assert str(preset_dir / "snet.json") in str(err.value) and "missing" in str(err.value)


def test_corrupt_weights_fail_the_sha256_check(preset_dir):
    with open(preset_dir / "snet-lite.weights.h5", "ab") as f:
        f.write(b"\0")
    with pytest.raises(WeightsError, match="sha256"):
        Segmenter.from_pretrained("snet-lite")


def test_weights_without_card_need_an_architecture(tmp_path, tiny_model_file):
    bare = tmp_path / "bare.weights.h5"
    shutil.copy(tiny_model_file, bare)
    with pytest.raises(WeightsError, match="architecture"):
        Segmenter.from_file(bare)
    s = Segmenter.from_file(bare, "snet", width=0.125, input_size=(64, 64))
    assert s.model.count_params() == snet(width=0.125).count_params()
    with pytest.raises(WeightsError, match="does not exist"):
        Segmenter.from_file(tmp_path / "nope.keras")


def test_keras3_model_file_round_trip(tmp_path, seg, soup):
    path = tmp_path / "m.keras"
    seg.model.save(path)
    s = Segmenter.from_file(path, input_size=(64, 64))
    frames = read_video(soup)[:2]
    np.testing.assert_allclose(s.predict_proba(frames), seg.predict_proba(frames), atol=1e-6)


# ---------------------------------------------------------------- the paper's own files
def _paper_style_keras2_model(tf_keras):
    """SNet as the paper's Keras-2 code wrote it: Dropout, linear 1x1 output, custom metrics."""
    K, L = tf_keras.backend, tf_keras.layers

    def recall_m(y_true, y_pred):
        tp = K.sum(K.round(K.clip(y_true * y_pred, 0, 1)))
        return tp / (K.sum(K.round(K.clip(y_true, 0, 1))) + K.epsilon())

    def precision_m(y_true, y_pred):
        tp = K.sum(K.round(K.clip(y_true * y_pred, 0, 1)))
        return tp / (K.sum(K.round(K.clip(y_pred, 0, 1))) + K.epsilon())

    def f1_m(y_true, y_pred):
        p, r = precision_m(y_true, y_pred), recall_m(y_true, y_pred)
        return 2 * (p * r) / (p + r + K.epsilon())

    def pair(x, n):
        x = L.Conv2D(n, (3, 3), activation="relu", padding="same")(x)
        x = L.Dropout(0.2)(x)
        return L.Conv2D(n, (3, 3), activation="relu", padding="same")(x)

    inputs = tf_keras.Input((400, 400, 3))
    c1 = pair(inputs, 32)
    c2 = pair(L.MaxPooling2D((2, 2))(c1), 64)
    c3 = pair(L.MaxPooling2D((2, 2))(c2), 128)
    c4 = pair(L.concatenate([L.UpSampling2D((2, 2))(c3), c2], axis=-1), 64)
    c5 = pair(L.concatenate([L.UpSampling2D((2, 2))(c4), c1], axis=-1), 32)
    out = L.Conv2D(1, (1, 1), padding="same")(c5)
    model = tf_keras.Model(inputs=inputs, outputs=out)
    model.compile(optimizer=tf_keras.optimizers.Adam(1e-4), loss="binary_crossentropy",
                  metrics=["accuracy", recall_m, precision_m, f1_m])
    return model


def test_legacy_keras2_h5_from_the_paper_code_loads(tmp_path, soup):
    tf_keras = pytest.importorskip("tf_keras")
    old = _paper_style_keras2_model(tf_keras)
    path = tmp_path / "paper_snet.h5"
    old.save(str(path))  # Keras-2 HDF5 full model, as the paper's code saved it
    import h5py
    with h5py.File(path, "r") as f:
        assert "f1_m" in f.attrs["training_config"]
    s = Segmenter.from_file(path)
    assert s.logits and s.input_size == (400, 400)
    frames = np.stack([np.asarray(keras.ops.image.resize(read_video(soup)[0].astype("float32"), (400, 400)))
                       .round().clip(0, 255).astype(np.uint8)] * 2)
    expected = 1 / (1 + np.exp(-old.predict(frames / 255.0, verbose=0)[..., 0]))
    np.testing.assert_allclose(s.predict_proba(frames), expected, atol=1e-4)


def test_device_resize_gives_the_host_masks_on_real_frames(soup):
    """Resizing inside the Keras graph (``predict`` on a GPU) must agree with OpenCV's on the
    host, for frames of two source sizes."""
    hd, soup = read_video(HD)[:4], read_video(soup)
    host = Segmenter.from_pretrained("snet-lite", runtime="keras", resize="host")
    device = Segmenter.from_pretrained("snet-lite", runtime="keras", resize="device")
    assert Segmenter.from_pretrained("snet-lite", runtime="keras").resize == "host"  # no GPU here
    for frames in (soup[:8], hd):
        a, b = host.predict(frames) > 0, device.predict(frames) > 0
        assert b.shape == frames.shape[:3] and a.sum() > 1000
        assert (a & b).sum() / (a | b).sum() >= 0.99  # measured 0.998-0.999


def test_device_resize_needs_the_keras_runtime():
    with pytest.raises(ValueError, match="runtime='keras'"):
        Segmenter.from_pretrained("snet-lite", runtime="onnx", resize="device")
    with pytest.raises(ValueError, match="resize must be"):
        Segmenter.from_pretrained("snet-lite", resize="gpu")


# ---------------------------------------------------------------- test-time flip
@pytest.mark.parametrize("resize", ["host", "device"])
def test_mirror_averages_the_frame_and_its_mirror_image(tiny_model_file, soup, resize):
    """``mirror=True``: the mean of the network on the frame and (flipped back) on its mirror
    image, on the host path and the in-graph resize path alike; and so a mirrored frame gets
    exactly the mirrored probabilities."""
    frames = read_video(soup)[:5]
    plain = Segmenter.from_file(tiny_model_file, batch_size=4, runtime="keras", resize=resize)
    flip = Segmenter.from_file(tiny_model_file, batch_size=4, runtime="keras", resize=resize, mirror=True)
    assert flip.mirror and not plain.mirror
    a, b = plain.predict_proba(frames), plain.predict_proba(frames[:, :, ::-1].copy())[:, :, ::-1]
    assert np.abs(a - b).max() > 1e-3  # the random network is not symmetric by itself
    out = flip.predict_proba(frames)
    np.testing.assert_allclose(out, 0.5 * (a + b), atol=1e-5)
    np.testing.assert_allclose(flip.predict_proba(frames[:, :, ::-1].copy())[:, :, ::-1], out, atol=1e-5)


def test_mirror_comes_from_the_model_card(preset_dir, soup):
    card = json.loads((preset_dir / "snet-lite.json").read_text())
    assert card["mirror"] is False  # every card says it
    assert not Segmenter.from_pretrained("snet-lite").mirror
    (preset_dir / "snet-lite.json").write_text(json.dumps({**card, "mirror": True}))
    assert Segmenter.from_pretrained("snet-lite").mirror
    assert not Segmenter.from_pretrained("snet-lite", mirror=False).mirror  # the caller decides last


def test_mirror_in_the_compiled_uint8_network_matches_the_host_path(tiny_model_file, soup):
    """The GPU driver's graph (uint8 in, uint8 probabilities out) flips inside the graph; it
    must give the host path's probabilities to within its uint8 rounding."""
    from signseg.infer.fixed_shape import uint8_model
    from signseg.infer.preprocess import to_input
    seg = Segmenter.from_file(tiny_model_file, runtime="keras", mirror=True)
    x = to_input(read_video(soup)[:4], seg.input_size)
    graph = uint8_model(seg.model, seg.input_size, seg.input_scale, seg.logits, mirror=True)
    got = np.asarray(graph.predict_on_batch(x)).astype(np.float32) / 255
    np.testing.assert_allclose(got, seg.network(seg.to_input(x)), atol=0.5 / 255 + 1e-5)


def test_the_test_time_flip_swaps_the_signers_hands(soup):
    """With the flip on, a parts model's mirrored pass is read back with left and right exchanged:
    the parts of a mirrored frame are the mirrored parts of the frame, hands exchanged."""
    keras.utils.set_random_seed(5)
    model = snet(width=0.125, outputs="parts")
    logits = model.get_layer("part_logits")
    rng = np.random.default_rng(2)
    logits.set_weights([rng.normal(0, 1.0, w.shape).astype("float32") for w in logits.get_weights()])
    seg = Segmenter(model, input_size=(64, 64), mirror=True)
    assert seg.parts == ("face", "left_hand", "right_hand")
    frames = read_video(soup)[:2]
    frames = np.ascontiguousarray(frames[:, :, : frames.shape[2] // 8 * 8])
    a = seg.predict_channels(frames)
    b = seg.predict_channels(np.ascontiguousarray(frames[:, :, ::-1]))
    back = b[:, :, ::-1][..., [0, 1, 3, 2]]
    assert np.abs(a - back).mean() < 2e-3
    assert np.abs(a - b[:, :, ::-1]).mean() > 10 * np.abs(a - back).mean()  # the sides do differ
    # the GPU driver's graph gives every channel the same way (hands exchanged in its flip too)
    from signseg.infer.fixed_shape import uint8_model
    from signseg.infer.preprocess import to_input
    x = to_input(frames, seg.input_size)
    graph = uint8_model(model, seg.input_size, seg.input_scale, seg.logits, mirror=True, channels=True,
                        swap=seg.mirror_order())
    got = np.asarray(graph.predict_on_batch(x)).astype(np.float32) / 255
    assert got.shape == (2, 64, 64, 4)
    np.testing.assert_allclose(got, seg.network(seg.to_input(x), channel=slice(None)), atol=0.5 / 255 + 1e-5)
