"""Where a Segmenter's network runs: Keras itself, XLA-compiled TensorFlow, or ONNX Runtime
(float32, or the int8 graph that ships beside a model's weights).

Small U-Nets lose much of their time to per-call overhead in Keras' ``predict_on_batch``;
the same network compiled by XLA or exported to ONNX Runtime runs the same maths faster on
a CPU (docs/performance.md has the measurements). Every runtime takes (n, h, w, 3) float32
and returns the network's (n, h, w, 1) output as numpy; masks agree with Keras' (the tests
check IoU >= 0.99 on real frames).

``"auto"`` picks, by those measurements: on a GPU, Keras (the backend's own compiled GPU
path); on a CPU, the model's int8 graph on ONNX Runtime where its card ships one for the
input size in use (:mod:`signseg.infer.quantize`: 2x the float32 graph's frames/s on the
2-core CPU, the same validation scores; any Keras backend), else ONNX Runtime's float32
export under the TensorFlow backend, else XLA under the TensorFlow backend, else Keras.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from signseg.cache import cache_dir  # exported ONNX files live in <cache>/onnx
from signseg.errors import WeightsError
from signseg.infer.presets import sha256_of
from signseg.quiet import filtered_stderr

RUNTIMES = ("auto", "keras", "xla", "onnx", "onnx-int8")
ONNX_RUNTIMES = ("onnx", "onnx-int8")
#: Bumped whenever the exported ONNX graph changes, so that cached exports are redone.
_GRAPH_REVISION = 2
#: The largest int8 weight magnitude that no x86 CPU's fused u8 x s8 kernel overflows (7 bits:
#: ``reduce_range`` in :mod:`signseg.infer.quantize`); a graph past it runs on the exact path.
INT8_WEIGHT_BOUND = 64
Runner = Callable[[np.ndarray], np.ndarray]


def has_gpu() -> bool:
    """True when the active Keras backend can run on a GPU."""
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf
            with filtered_stderr():  # the first device query prints TensorFlow's CUDA lines (where
                return bool(tf.config.list_physical_devices("GPU"))  # TensorFlow came in before signseg)
        if backend == "jax":
            import jax
            return any(d.platform == "gpu" for d in jax.devices())
        if backend == "torch":
            import torch
            return torch.cuda.is_available()
    except Exception:  # a broken GPU stack means: run on the CPU
        return False
    return False


def cpu_threads() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def available(name: str) -> bool:
    """Whether runtime ``name`` can run here."""
    if name == "keras":
        return True
    tf_backend = keras.backend.backend() == "tensorflow"
    if name == "xla":
        return tf_backend
    if name == "onnx-int8":  # a graph made beforehand: ONNX Runtime alone, under any backend
        return importlib.util.find_spec("onnxruntime") is not None
    if name == "onnx":
        return tf_backend and all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tf2onnx", "onnx"))
    raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {name!r}")


def resolve(name: str, gpu: bool, precision: str = "float32", int8: bool = False) -> str:
    """The concrete runtime for ``name`` (``"auto"`` chosen as the module says; a mixed
    ``precision`` model runs on Keras, as the exported runtimes run float32 graphs).
    ``int8``: the model has an int8 graph for the input size in use (``"onnx-int8"`` needs one)."""
    if name not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {name!r}")
    if name != "auto":
        if not available(name):
            need = {"xla": "the TensorFlow backend", "onnx-int8": "onnxruntime installed"}.get(
                name, "the TensorFlow backend and onnxruntime, tf2onnx and onnx installed")
            raise ImportError(f"runtime {name!r} needs {need}")
        if name == "onnx-int8" and not int8:
            raise ValueError("runtime 'onnx-int8' needs an int8 graph of the model at the input size in use "
                             "(its card's int8 entry; pipelines/make_int8.py makes one)")
        return name
    if gpu or precision != "float32":
        return "keras"
    if int8 and available("onnx-int8"):
        return "onnx-int8"
    return "onnx" if available("onnx") else "xla" if available("xla") else "keras"


def lanes(name: str, threads: int | None, gpu: bool) -> int:
    """How many single-threaded calls of runtime ``name`` should run at once on this
    machine's ``threads`` (None: all its cores), each on its own frames.

    ONNX Runtime on a CPU: one per thread. A small U-Net's layers are too short to share
    out across cores without idling them at every layer's barrier, and one session runs
    concurrent calls: whole frames per core ran the network at a median 0.80 of the matmul
    peak on 2 cores, against 0.70-0.77 for one 2-thread session (bench/lanes.py).
    Keras and XLA share one thread pool per process: 1.
    """
    if name not in ONNX_RUNTIMES or gpu:
        return 1
    return max(1, threads or cpu_threads())


def make_runner(model: keras.Model | None, name: str, input_size: tuple[int, int] | None, threads: int | None = None,
                key: str | None = None, int8: tuple[Path, str | None] | None = None) -> Runner:
    """A callable running ``model`` on ``name`` (a concrete runtime, see :func:`resolve`).

    ``key`` (e.g. the weights' sha256) names the cached ONNX export; without one the export
    goes to a temporary folder. ``int8``: the model's int8 graph and its sha256 (checked
    before use), for ``"onnx-int8"``, which needs no ``model``.
    """
    if name == "keras":
        return lambda x: np.asarray(model.predict_on_batch(x))
    if name == "xla":
        import tensorflow as tf
        fn = tf.function(lambda x: model(x, training=False), jit_compile=True, reduce_retracing=True)
        return lambda x: fn(tf.constant(x)).numpy()
    if name == "onnx":
        return _session_runner(export_onnx(model, input_size, key), threads)
    if name == "onnx-int8":
        if int8 is None:
            raise ValueError("runtime 'onnx-int8' needs the model's int8 graph")
        path, sha = Path(int8[0]), int8[1]
        if not path.is_file():
            raise WeightsError(path, "the model card names this int8 graph but the file is missing")
        if sha is not None and sha256_of(path) != sha:
            raise WeightsError(path, "int8 graph does not match the sha256 in its model card")
        return _session_runner(path, threads, exact_int8=_wide_int8_weights(path))
    raise ValueError(f"not a concrete runtime: {name!r}")


def _wide_int8_weights(path: Path) -> bool:
    """Whether an int8 graph has weights past :data:`INT8_WEIGHT_BOUND`: those made before
    signseg quantized with ``reduce_range`` (:mod:`signseg.infer.quantize`). On x86 CPUs
    without VNNI, ONNX Runtime's fast u8 x s8 kernels add products in pairs into 16 bits, which
    such weights can overflow (the hands of a 2-core AVX2 EPYC lost 0.015 on validation,
    docs/performance.md)."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(str(path)).graph
    weights = {t.name: t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) >= 2}
    return any(np.abs(numpy_helper.to_array(weights[node.input[0]]).astype(np.int16)).max() > INT8_WEIGHT_BOUND
               for node in graph.node if node.op_type == "DequantizeLinear" and node.input[0] in weights)


def onnx_options(threads: int | None = None):
    """ONNX Runtime session options as signseg runs its export: ``threads`` intra-op threads
    (None: all cores), all graph optimisations, idle threads sleeping."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or cpu_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle ORT threads sleep instead of spinning: the decode and write threads share the cores
    # (end-to-end 2-4% faster on 2 cores, the network alone unchanged; docs/performance.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _session_runner(path: Path, threads: int | None, exact_int8: bool = False) -> Runner:
    import onnxruntime as ort
    options = onnx_options(threads)
    if exact_int8:  # ONNX Runtime then multiplies such weights as u8 x u8 where the CPU lacks VNNI (slower, exact)
        options.add_session_config_entry("session.x64quantprecision", "1")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: np.ascontiguousarray(x, np.float32)})[0]


def export_onnx(model: keras.Model, input_size, key: str | None, folder: str | os.PathLike | None = None) -> Path:
    """The model exported to ONNX, from the cache when it is there (written atomically, so
    workers exporting at once never read half a file). Without a ``key`` it goes to
    ``folder`` (the caller's to remove), or else to a new temporary folder."""
    import tf2onnx
    h, w = input_size if input_size is not None else (None, None)
    path = None
    if key is not None:
        tag = hashlib.sha256(f"{key}|{h}x{w}|keras {keras.__version__}|tf2onnx {tf2onnx.__version__}"
                             f"|graph {_GRAPH_REVISION}".encode())
        path = cache_dir() / "onnx" / f"{tag.hexdigest()[:24]}.onnx"
        if path.is_file():
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writable = os.access(path.parent, os.W_OK)
        except OSError:
            writable = False
        if not writable:  # e.g. a read-only home: export for this process only
            path = None
    if path is None:
        path = Path(folder if folder is not None else tempfile.mkdtemp(prefix="signseg-onnx-")) / "model.onnx"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    spec = keras.InputSpec(shape=(None, h, w, model.input_shape[-1] or 3), dtype="float32")
    with warnings.catch_warnings():  # tf2onnx's own numpy deprecation notices
        warnings.simplefilter("ignore", FutureWarning)
        model.export(str(tmp), format="onnx", input_signature=[spec], verbose=False)
    _blocked_upsampling(tmp)
    os.replace(tmp, path)
    return path


def _blocked_upsampling(path: Path) -> None:
    """Rewrite the export's nearest 2x ``Resize`` nodes to the "asymmetric" convention.

    TensorFlow's nearest resize becomes ``Resize(coordinate_transformation_mode=
    "tf_half_pixel_for_nn")``, which ONNX Runtime leaves in plain NCHW, paying a layout copy
    around every skip connection. For integer scales floor((x + 0.5) / s) == floor(x / s),
    so "asymmetric" gives the same pixels, and ONNX Runtime then keeps the upsampling and
    the concatenation in its blocked layout (about 20% faster on snet-lite; same outputs).
    """
    import onnx
    from onnx import numpy_helper
    model = onnx.load(str(path))
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    changed = False
    for node in model.graph.node:
        if node.op_type != "Resize":
            continue
        text = {a.name: a.s for a in node.attribute if a.type == onnx.AttributeProto.STRING}
        if (text.get("mode"), text.get("coordinate_transformation_mode"), text.get("nearest_mode")) != (
                b"nearest", b"tf_half_pixel_for_nn", b"floor"):
            continue
        scales = constants.get(node.input[2]) if len(node.input) > 2 else None
        if scales is None or scales.size == 0 or np.any(scales < 1) or np.any(scales != np.round(scales)):
            continue
        for a in node.attribute:
            if a.name == "coordinate_transformation_mode":
                a.s = b"asymmetric"
        changed = True
    if changed:
        onnx.save(model, str(path))
