"""The two segmentation networks of the ISMSIT 2019 paper, in backend-agnostic Keras 3.

Both take RGB images scaled to [0, 1] and return one sigmoid channel (hand/face
probability). Both are fully convolutional: any height and width divisible by 8 works.
One file per network (:mod:`~signseg.models.snet`, :mod:`~signseg.models.vgg_unet`), their
shared blocks in :mod:`~signseg.models.layers`, training metrics in :mod:`~signseg.models.metrics`.
"""
from __future__ import annotations

from typing import Callable

import keras

from signseg.models.layers import Upsample2x
from signseg.models.snet import snet
from signseg.models.vgg_unet import VGG16_NOTOP_FILE, VGGPreprocess, find_vgg16_weights, vgg_unet

__all__ = ["ARCHITECTURES", "build", "snet", "vgg_unet", "find_vgg16_weights", "Upsample2x", "VGGPreprocess",
           "VGG16_NOTOP_FILE"]

#: Architecture builders by the name stored in weight metadata.
ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {"snet": snet, "vgg_unet": vgg_unet}


def build(architecture: str, **kwargs) -> keras.Model:
    """Build a model by architecture name (``"snet"`` or ``"vgg_unet"``)."""
    try:
        builder = ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(f"unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}") from None
    return builder(**kwargs)
