"""How mask datasets are laid out on disk: chunk sizes, compression, room kept free.

The file (:mod:`signseg.store.mask_file`) and the writer that appends to it
(:mod:`signseg.store.video_writer`) both follow these; neither needs the other for them.
"""
from __future__ import annotations

#: Largest compressed chunk, in bytes: chunks no bigger than h5py's default 1 MiB chunk
#: cache keep frame-by-frame reads fast without tuning the cache.
CHUNK_BYTES = 1 << 20
COMPRESSION = {"compression": "gzip", "compression_opts": 1}

#: Bytes kept free beyond a video's own size when adopting it (group and index metadata).
ROOM_MARGIN = 64 << 10


def chunk_frames(height: int, width: int) -> int:
    """Frames per chunk so that one chunk is at most :data:`CHUNK_BYTES` (1..64)."""
    return int(max(1, min(64, CHUNK_BYTES // max(1, height * width))))
