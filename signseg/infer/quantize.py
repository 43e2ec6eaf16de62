"""A model's int8 graph for CPUs: its ONNX export with weights and activations in 8 bits.

Static quantization with ONNX Runtime's own tool (QDQ format, weights per output channel,
activations with ranges measured on calibration frames): the same network runs about 2x the
frames/s of the float32 graph on the 2-core CPU (its VNNI/AMX integer units), and on the 52
validation clips its parts score as the float32 graph's (docs/performance.md). Weights take
7 bits (``reduce_range``): x86 CPUs without VNNI (AVX2 only) add u8 x s8 products in pairs
into 16 bits, which full 8-bit weights overflow; there the first graphs lost validation hands
0.546 -> 0.531 against float32 (forty-first session, a 2-core AVX2 EPYC). The graph is
made once, for one input size, and ships beside the weights; the card names it with its
sha256 (:func:`signseg.infer.presets.int8_graph`), and ``runtime="auto"`` then runs it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import keras
import numpy as np

from signseg.infer.preprocess import to_input
from signseg.infer.runtimes import export_onnx


def quantize_int8(model: keras.Model, input_size: tuple[int, int], frames: np.ndarray, out: str | os.PathLike,
                  input_scale: float = 1.0 / 255.0, batch: int = 8) -> Path:
    """Write ``model``'s int8 graph at ``input_size`` to ``out``, its activation ranges taken on
    ``frames`` ((n, H, W, 3) uint8, any size: resized as inference resizes them). Calibrate on
    frames like those it will see (many signers and settings, not the ones it is judged on)."""
    if len(frames) == 0:
        raise ValueError("no calibration frames")
    x = to_input(frames, tuple(input_size)).astype(np.float32) * np.float32(input_scale)
    return quantize_inputs(model, input_size, x, out, batch)


def quantize_refiner(model: keras.Model, crops: np.ndarray, out: str | os.PathLike, batch: int = 16) -> Path:
    """Write a hand refiner's (:mod:`signseg.infer.hand_refiner`) int8 graph to ``out``, its
    activation ranges taken on ``crops`` (b, CROP, CROP, its planes) uint8, cut as it cuts them
    (:meth:`~signseg.infer.hand_refiner.HandRefiner.crops`) from frames like those it will see."""
    from signseg.infer.hand_crops import CROP

    if len(crops) == 0:
        raise ValueError("no calibration crops")
    return quantize_inputs(model, (CROP, CROP), np.asarray(crops, np.float32) / 255.0, out, batch)


def quantize_inputs(model: keras.Model, input_size: tuple[int, int], x: np.ndarray, out: str | os.PathLike,
                    batch: int = 8, reduce_range: bool = True) -> Path:
    """Write ``model``'s int8 graph at ``input_size`` to ``out``, its activation ranges taken on
    ``x``, inputs as the network takes them ((n, h, w, c) float32); ``reduce_range``: weights within
    :data:`~signseg.infer.runtimes.INT8_WEIGHT_BOUND` (7 bits), which no x86 CPU's fast int8
    kernel overflows (the module says why)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    import onnxruntime as ort

    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="signseg-int8-") as tmp:
        exported = export_onnx(model, tuple(input_size), None, tmp)
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(exported), str(prepared), skip_symbolic_shape=True)
        name = ort.InferenceSession(str(prepared), providers=["CPUExecutionProvider"]).get_inputs()[0].name

        class Frames(CalibrationDataReader):
            def __init__(self):
                self.batches = iter([{name: x[i:i + batch]} for i in range(0, len(x), batch)])

            def get_next(self):
                return next(self.batches, None)

        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # written whole, then renamed
        quantize_static(str(prepared), str(part), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=reduce_range)
        os.replace(part, out)
    return out
