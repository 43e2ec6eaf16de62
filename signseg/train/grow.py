"""A trained network copied into a wider one of the same design, computing the same outputs.

Growing a shipped model (``signseg train --init snet-lite --width 0.75``) gives training more
filters to work with without starting from scratch: every filter the narrow network had keeps
its weights, every new filter starts from the wide network's random initialisation on its
inputs and with zero weight wherever it feeds an old filter, so the wide network's outputs are
the narrow one's until training moves those zeros (the gradient reaches them: the new filters'
activations are not zero).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers


def grow_width(narrow: keras.Model, wide: keras.Model) -> None:
    """Copy ``narrow``'s weights into ``wide`` (the same layers by name, each at least as many
    filters) so that ``wide`` computes ``narrow``'s outputs; new filters keep ``wide``'s initial
    weights on their inputs and get zero weight into every old filter.

    Raises ValueError if a layer is missing from ``wide`` or narrower there, or if the two
    networks' outputs differ in channels."""
    old = {layer.name: layer for layer in narrow.layers}
    kept: dict[int, np.ndarray] = {id(t): np.arange(t.shape[-1]) for t in wide.inputs}
    for layer in wide.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if layer.name not in old:
            raise ValueError(f"{layer.name}: a layer of the wide network that the narrow one lacks")
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        maps = [kept[id(t)] for t in inputs]
        out = layer.output
        if isinstance(layer, layers.Concatenate):
            offsets = np.cumsum([0] + [t.shape[-1] for t in inputs[:-1]])
            kept[id(out)] = np.concatenate([m + o for m, o in zip(maps, offsets)])
        elif isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
            kept[id(out)] = _copy_conv(old[layer.name], layer, maps[0])
        elif layer.weights:
            raise ValueError(f"{layer.name}: cannot grow a {type(layer).__name__} layer")
        elif len(inputs) == 1 and out.shape[-1] == inputs[0].shape[-1]:  # pooling, dropout, upsampling
            kept[id(out)] = maps[0]
        else:  # the heads' merges (FaceHandSplit, PartsSplit, Add): channels the narrow model has too
            kept[id(out)] = np.arange(out.shape[-1])
    for a, b in zip(narrow.outputs, wide.outputs):
        if a.shape[-1] != b.shape[-1]:
            raise ValueError(f"the networks' outputs differ: {a.shape[-1]} channels against {b.shape[-1]}")


def _copy_conv(narrow: layers.Layer, wide: layers.Layer, in_kept: np.ndarray) -> np.ndarray:
    """Write one convolution's narrow weights into the wide layer; returns where its old output
    channels are (the leading ones). ``in_kept``: where the narrow layer's input channels are
    among the wide layer's inputs."""
    kernel, *bias = narrow.get_weights()
    w_kernel, *w_bias = wide.get_weights()
    # Conv2D kernels are (kh, kw, in, out); Conv2DTranspose kernels (kh, kw, out, in)
    transposed = isinstance(wide, layers.Conv2DTranspose)
    k = np.moveaxis(w_kernel, (2, 3), (3, 2)) if transposed else w_kernel.copy()
    k0 = np.moveaxis(kernel, (2, 3), (3, 2)) if transposed else kernel
    if k0.shape[:2] != k.shape[:2] or len(in_kept) != k0.shape[2] or k0.shape[3] > k.shape[3]:
        raise ValueError(f"{wide.name}: kernel {kernel.shape} does not fit into {w_kernel.shape}")
    n_out = k0.shape[3]
    k[:, :, :, :n_out] = 0.0  # new inputs into old filters: zero
    k[:, :, in_kept, :n_out] = k0
    k = np.moveaxis(k, (2, 3), (3, 2)) if transposed else k
    if bias:
        b = w_bias[0].copy()
        b[:n_out] = bias[0]
        b[n_out:] = 0.0
        wide.set_weights([k, b])
    else:
        wide.set_weights([k])
    return np.arange(n_out)
