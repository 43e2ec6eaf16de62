"""``signseg.readers``, the public home of the recognizer datasets (they live in
:mod:`signseg.store.datasets`)."""
from signseg.store.datasets import SOURCES, ClipDataset, sample_indices, to_tf_dataset, to_torch_dataset

__all__ = ["SOURCES", "ClipDataset", "sample_indices", "to_tf_dataset", "to_torch_dataset"]


def __getattr__(name: str):
    from signseg.store import datasets
    return getattr(datasets, name)  # TorchClipDataset, made on first use
