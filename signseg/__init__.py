"""signseg: hand and face segmentation for sign-language video, at corpus scale.

Heavy modules (Keras, TensorFlow) load on first use, so ``import signseg`` is cheap and
the numpy-only parts (``signseg.decode.video``, ``signseg.store.mask_file``, ``signseg.teacher``) also work
in environments without a deep-learning backend.
"""
from __future__ import annotations

import importlib
from typing import Any

from signseg._version import __version__
from signseg.quiet import quiet_imports

quiet_imports()  # TensorFlow's C++ start-up lines stay off stderr when it is imported through signseg

_LAZY = {
    "Segmenter": "signseg.infer.segmenter",
    "VideoReader": "signseg.decode.video",
    "read_video": "signseg.decode.video",
    "MaskFile": "signseg.store.mask_file",
    "MaskReader": "signseg.store.mask_reader",
    "list_presets": "signseg.infer.presets",
    "snet": "signseg.models",
    "vgg_unet": "signseg.models",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'signseg' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
