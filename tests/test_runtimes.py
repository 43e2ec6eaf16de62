"""Runtimes (Keras, XLA, ONNX Runtime): same masks on real frames, the automatic choice, the
ONNX export cache, and the decode prefetch that overlaps them with decoding."""
import threading
import time

import cv2
import numpy as np
import pytest

from conftest import SIGN, run
from signseg.infer import runtimes
from signseg.store.mask_reader import MaskReader
from signseg.decode.prefetch import prefetched
from signseg.infer.segmenter import Segmenter
from signseg.decode.video import read_video


@pytest.fixture(scope="module")
def frames():
    return read_video(SIGN)[::4]  # 26 real frames, 512x288


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


@pytest.mark.parametrize("runtime", ["xla", "onnx"])
def test_runtime_masks_agree_with_keras_on_real_frames(frames, runtime):
    """The shipped default model: every runtime must give Keras' masks (IoU >= 0.99)."""
    reference = Segmenter.from_pretrained("snet-lite", runtime="keras").predict_proba(frames)
    seg = Segmenter.from_pretrained("snet-lite", runtime=runtime)
    assert seg.runtime == runtime
    proba = seg.predict_proba(frames)
    assert np.abs(proba - reference).max() < 1e-3
    t = seg.threshold
    assert iou(proba >= t, reference >= t) >= 0.99
    assert (reference >= t).sum() > 1000  # there are hands and faces to agree on


def test_auto_picks_onnx_on_a_cpu_and_unknown_runtimes_are_refused():
    assert runtimes.resolve("auto", gpu=False) == "onnx"  # a model without an int8 graph
    assert runtimes.resolve("auto", gpu=True) == "keras"
    with pytest.raises(ValueError, match="runtime"):
        runtimes.resolve("tensorrt", gpu=False)


def test_the_shipped_int8_graph_runs_by_default_on_a_cpu_with_the_float_graphs_masks(frames):
    """snet-lite's card names an int8 graph (pipelines/make_int8.py) at its input size: "auto"
    runs it on a CPU; its masks and parts are the float32 graph's on real frames."""
    seg = Segmenter.from_pretrained("snet-lite")
    assert seg.runtime == "onnx-int8" and seg.int8[0].name == "snet-lite.int8.onnx"
    assert runtimes.resolve("auto", gpu=False, int8=True) == "onnx-int8"
    assert runtimes.resolve("auto", gpu=True, int8=True) == "keras"
    assert runtimes.lanes("onnx-int8", threads=2, gpu=False) == 2
    float32 = Segmenter.from_pretrained("snet-lite", runtime="onnx")
    t = seg.threshold
    a, b = seg.predict_channels(frames), float32.predict_channels(frames)
    assert iou(a[..., 0] >= t, b[..., 0] >= t) >= 0.97
    assert np.abs(a - b).mean() < 0.01
    hand = lambda c: (c[..., 0] >= t) & (c[..., 2] > c[..., 1])  # noqa: E731
    assert hand(b).sum() > 500 and iou(hand(a), hand(b)) >= 0.9
    # another input size has no int8 graph: the float32 one runs, and asking for int8 says why
    assert Segmenter.from_pretrained("snet-lite", input_size=(160, 160)).runtime == "onnx"
    with pytest.raises(ValueError, match="int8 graph"):
        Segmenter.from_pretrained("snet-lite", input_size=(160, 160), runtime="onnx-int8")


def test_quantize_int8_makes_a_graph_the_segmenter_runs(tmp_path, soup, tiny_model_file):
    """signseg.infer.quantize on a small real SNet, calibrated on SOUP's frames: the graph
    runs as "onnx-int8" (also what "auto" picks once it is given) and keeps float32's masks."""
    from signseg.infer.quantize import quantize_int8
    frames = read_video(soup)
    seg = Segmenter.from_file(tiny_model_file, runtime="onnx")
    out = quantize_int8(seg.model, seg.input_size, frames[::4], tmp_path / "tiny.int8.onnx")
    assert out.is_file() and not list(tmp_path.glob(".*.tmp"))
    int8 = Segmenter(seg.model, input_size=seg.input_size, threshold=seg.threshold, int8=(out, None))
    assert int8.runtime == "onnx-int8"
    a, b = int8.predict_proba(frames[1::4]), seg.predict_proba(frames[1::4])
    assert np.abs(a - b).mean() < 0.02 and 0 < a.max() <= 1
    with pytest.raises(ValueError, match="calibration"):
        quantize_int8(seg.model, seg.input_size, frames[:0], tmp_path / "none.onnx")


def test_int8_weights_keep_to_seven_bits_and_older_graphs_run_exactly(tmp_path, frames):
    """x86 CPUs without VNNI (AVX2 only) add int8 products in pairs into 16 bits, which weights
    past [-64, 64] overflow: there the graphs shipped before lost validation hands 0.548 -> 0.531
    (forty-first session, a 2-core AVX2 EPYC; docs/performance.md). The shipped graphs and those
    signseg makes keep to 7 bits; a graph with full 8-bit weights (made before) runs on ONNX
    Runtime's exact path and gives what its own maths gives evaluated plainly, node by node."""
    import onnxruntime as ort
    from signseg.infer import presets
    from signseg.infer.preprocess import to_input
    from signseg.infer.quantize import quantize_inputs, quantize_int8
    for name in ("snet-lite.int8.onnx", "hand-refiner.int8.onnx", "arm-sides.int8.onnx"):
        assert not runtimes._wide_int8_weights(presets.weights_dir() / name), name
    model = Segmenter.from_pretrained("snet-lite", runtime="keras").model
    assert not runtimes._wide_int8_weights(quantize_int8(model, (224, 224), frames[::4], tmp_path / "narrow.onnx"))
    x = to_input(frames, (224, 224)).astype(np.float32) / 255
    wide = quantize_inputs(model, (224, 224), x[::4], tmp_path / "wide.onnx", reduce_range=False)
    assert runtimes._wide_int8_weights(wide)
    plain = runtimes.onnx_options(2)
    plain.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(wide), plain, providers=["CPUExecutionProvider"])
    reference = session.run(None, {session.get_inputs()[0].name: x})[0]
    got = runtimes.make_runner(None, "onnx-int8", (224, 224), 2, int8=(wide, None))(x)
    # measured on these frames on the AVX2 EPYC, mean absolute difference: 5e-6 on the exact
    # path, 2.8e-4 on the fused kernels without it (an orange studio's frames overflow more: the
    # hand channel 0.0101 from Keras' float32 there, against 0.0023 evaluated plainly)
    assert np.abs(got - reference).mean() < 5e-5, np.abs(got - reference).mean((0, 1, 2))


def test_a_damaged_or_missing_int8_graph_is_named(tmp_path, monkeypatch, frames):
    import shutil
    from signseg.errors import WeightsError
    from signseg.infer import presets
    for name in ("snet-lite.weights.h5", "snet-lite.json", "snet-lite.int8.onnx"):
        shutil.copy(presets.weights_dir() / name, tmp_path / name)
    graph = tmp_path / "snet-lite.int8.onnx"
    graph.write_bytes(graph.read_bytes()[:-100])
    with pytest.raises(WeightsError, match="snet-lite.int8.onnx.*sha256"):
        Segmenter.from_file(tmp_path / "snet-lite.weights.h5", refine_hands=False).predict(frames[:1])
    graph.unlink()
    with pytest.raises(WeightsError, match="missing"):
        Segmenter.from_file(tmp_path / "snet-lite.weights.h5", refine_hands=False).predict(frames[:1])
    # the card's hand refiner runs unless left out: its missing file is named too
    with pytest.raises(WeightsError, match="hand-refiner.weights.h5.*missing"):
        Segmenter.from_file(tmp_path / "snet-lite.weights.h5")


def test_onnx_export_is_cached_per_weights_and_size(tmp_path, monkeypatch, frames):
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path))
    # two lanes: both ask for the not yet exported model at once; it is exported once
    a = Segmenter.from_pretrained("snet-lite", runtime="onnx", threads=2).predict(frames[:2])
    files = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    b = Segmenter.from_pretrained("snet-lite", runtime="onnx").predict(frames[:2])
    assert files[0].stat().st_mtime_ns == stamp  # reused, not exported again
    np.testing.assert_array_equal(a, b)
    Segmenter.from_pretrained("snet-lite", runtime="onnx", input_size=(160, 160)).predict(frames[:2])
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 2
    assert not list((tmp_path / "onnx").glob(".*.tmp"))


def test_onnx_upsampling_is_one_blocked_resize(tmp_path, monkeypatch, frames):
    """The export upsamples with Resize in the "asymmetric" convention (which ONNX Runtime
    keeps in its blocked layout), with no tiles or transposes left from the upsampling."""
    import onnx
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path))
    seg = Segmenter.from_pretrained("snet-lite", runtime="onnx")
    seg.predict(frames[:1])
    (path,) = (tmp_path / "onnx").glob("*.onnx")
    nodes = onnx.load(str(path)).graph.node
    ops = [n.op_type for n in nodes]
    assert ops.count("Resize") == 3 and "Tile" not in ops
    # the NHWC input, and where the network has part channels the output back to NHWC (one
    # channel needs none): nothing from the upsampling
    assert ops.count("Transpose") <= 1 + bool(seg.parts)
    if seg.parts:
        assert nodes[-1].op_type == "Transpose" or any(n.op_type == "Transpose" for n in nodes[-3:])
    for n in nodes:
        if n.op_type == "Resize":
            modes = {a.name: a.s for a in n.attribute}
            assert modes["coordinate_transformation_mode"] == b"asymmetric" and modes["mode"] == b"nearest"


def test_the_runtime_is_recorded_and_chosen_on_the_command_line(tmp_path, soup, tiny_model_file):
    for runtime in ("keras", "onnx"):
        out = tmp_path / f"{runtime}.h5"
        r = run("segment", soup, "-o", out, "--weights", tiny_model_file, "--runtime", runtime, "-q")
        assert r.returncode == 0, r.stderr
        with MaskReader(out) as reader:
            assert reader["SOUP"].attrs["runtime"] == runtime
    with MaskReader(tmp_path / "keras.h5") as k, MaskReader(tmp_path / "onnx.h5") as o:
        assert iou(k["SOUP"].masks[()] > 0, o["SOUP"].masks[()] > 0) >= 0.99


def test_prefetch_keeps_order_bounds_memory_and_passes_errors():
    produced = []

    def items():
        for i in range(10):
            produced.append(i)
            yield i
    it = prefetched(items(), depth=2)
    assert next(it) == 0
    time.sleep(0.2)
    assert len(produced) <= 4  # one handed out, two queued, one waiting to be queued
    assert list(it) == list(range(1, 10))

    def broken():
        yield 1
        raise OSError("decoder died")
    it = prefetched(broken())
    assert next(it) == 1
    with pytest.raises(OSError, match="decoder died"):
        next(it)

    before = threading.active_count()
    it = prefetched(iter(range(1000)), depth=1)
    next(it)
    it.close()  # an abandoned run stops its thread
    time.sleep(0.3)
    assert threading.active_count() <= before


def test_an_unusable_cache_still_runs(tmp_path, monkeypatch, frames):
    """A cache path that cannot be a folder (here: under a file; also a read-only home)."""
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "a_file" / "cache"))
    seg = Segmenter.from_pretrained("snet-lite", runtime="onnx")
    assert seg.predict(frames[:2]).shape == (2, 288, 512)


def test_mixed_precision_builds_half_precision_with_the_same_masks(frames):
    """The GPU setting, checked on the CPU: bfloat16 compute, float32 weights, same masks."""
    reference = Segmenter.from_pretrained("snet-lite", runtime="keras").predict(frames[:8]) > 0
    seg = Segmenter.from_pretrained("snet-lite", precision="mixed_bfloat16")
    assert seg.runtime == "keras" and seg.model.dtype_policy.compute_dtype == "bfloat16"
    import keras
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was
    assert iou(seg.predict(frames[:8]) > 0, reference) >= 0.99
    with pytest.raises(ValueError, match="precision"):
        Segmenter.from_pretrained("snet-lite", precision="float8")


def test_lanes_split_frames_across_cores_only_for_onnx_on_a_cpu():
    assert runtimes.lanes("onnx", threads=3, gpu=False) == 3
    assert runtimes.lanes("onnx", threads=None, gpu=False) == runtimes.cpu_threads()
    assert runtimes.lanes("onnx", threads=2, gpu=True) == 1
    assert runtimes.lanes("keras", threads=2, gpu=False) == 1
    assert runtimes.lanes("xla", threads=None, gpu=False) == 1


def test_onnx_lanes_give_one_lanes_masks_and_stream_keeps_order(frames):
    """Two single-threaded lanes (frames split between them) against one two-threaded call."""
    one = Segmenter.from_pretrained("snet-lite", runtime="onnx", threads=1)
    two = Segmenter.from_pretrained("snet-lite", runtime="onnx", threads=2)
    assert (one.lanes.n, two.lanes.n) == (1, 2)
    reference = one.predict_proba(frames)
    np.testing.assert_allclose(two.predict_proba(frames), reference, atol=1e-5)
    # uneven batches, one smaller than the lanes: (frames, masks) in order, same masks
    sizes = [8, 8, 1, 5, 4]
    batches = np.split(frames, np.cumsum(sizes)[:-1])
    before = cv2.getNumThreads()
    out = []
    for item in two.stream(iter(batches)):
        assert cv2.getNumThreads() == 1  # the lanes are the parallelism while it streams
        out.append(item)
    assert cv2.getNumThreads() == before  # and OpenCV's setting comes back
    assert [len(f) for f, _ in out] == sizes
    for (f, masks), batch in zip(out, batches):
        assert f is batch and masks.shape == batch.shape[:3] and masks.dtype == np.uint8
    np.testing.assert_array_equal(np.concatenate([m for _, m in out]), one.predict(frames))


def test_stream_passes_a_bad_batch_on_in_order_and_stops_cleanly(frames):
    seg = Segmenter.from_pretrained("snet-lite", runtime="onnx", threads=2)
    before = cv2.getNumThreads()
    batches = [frames[:4], frames[4:8], frames[8:12].astype(np.float32), frames[12:16]]
    got = []
    with pytest.raises(ValueError, match="uint8"):
        for f, _ in seg.stream(iter(batches)):
            got.append(len(f))
    assert got == [4, 4]  # the good batches before the bad one came out first
    early = seg.stream(iter([frames[:4]] * 20))
    next(early)
    early.close()  # the caller stops: queued batches are dropped, nothing hangs
    assert len(seg.predict(frames[:4])) == 4  # and the lanes still work
    assert cv2.getNumThreads() == before


def test_opencv_single_threaded_counts_nested_and_concurrent_users():
    from signseg.decode.image import opencv_single_threaded
    before = cv2.getNumThreads()
    inside = threading.Event()
    release = threading.Event()

    def other_user():
        with opencv_single_threaded():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other_user)
    with opencv_single_threaded():
        t.start()
        assert inside.wait(5)
        with opencv_single_threaded():
            assert cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 1  # the inner block left, two users remain
    assert cv2.getNumThreads() == 1  # the other thread is still inside
    release.set()
    t.join(5)
    assert cv2.getNumThreads() == before


def test_in_order_hands_back_items_in_order_and_bounds_what_waits():
    """A slow first future holds back the finished ones behind it, until more than ``ahead`` wait."""
    from concurrent.futures import ThreadPoolExecutor
    from signseg.decode.prefetch import InOrder
    first, later = threading.Event(), threading.Event()
    with ThreadPoolExecutor(4) as pool:
        q = InOrder(ahead=3)
        slow_a = pool.submit(lambda: first.wait(5) and "A")
        q.push("a", slow_a)
        q.push("b", pool.submit(lambda: "B"))
        q.push("event")  # no future: ready as soon as everything before it is
        time.sleep(0.05)
        assert list(q.ready()) == [] and len(q) == 3  # "a" is not done: nothing may pass it
        first.set()
        slow_a.result()
        assert list(q.ready()) == [("a", "A"), ("b", "B"), ("event", None)] and len(q) == 0
        slow, q = threading.Event(), InOrder(ahead=2)
        for i in range(2):
            q.push(i, pool.submit(lambda i=i: slow.wait(5) and i))
        for i in range(2, 4):
            q.push(i, pool.submit(lambda i=i: later.wait(5) and i))
        threading.Timer(0.1, slow.set).start()
        assert list(q.ready()) == [(0, 0), (1, 1)] and len(q) == 2  # waited for the oldest while more than 2
        later.set()
        assert list(q.ready(everything=True)) == [(2, 2), (3, 3)]
