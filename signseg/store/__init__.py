"""Store: the HDF5 mask file (:mod:`~signseg.store.mask_file`), the writer of one video into it
(:mod:`~signseg.store.video_writer`), reading it back (:mod:`~signseg.store.mask_reader`) and
datasets for recognizers (:mod:`~signseg.store.datasets`, public as :mod:`signseg.readers`)."""
from signseg.store.mask_file import COMPLETE, FORMAT_VERSION, MaskFile

__all__ = ["COMPLETE", "FORMAT_VERSION", "MaskFile"]
