"""The one flow (signseg.run.flow) and its batch stage, driven directly with a real small network."""
import numpy as np

from conftest import HD, SOUP
from signseg.decode.chunks import Chunk
from signseg.decode.video import read_video
from signseg.infer.batching import batched
from signseg.infer.fixed_shape import FixedShapeNetwork
from signseg.infer.preprocess import to_input
from signseg.infer.segmenter import Segmenter
from signseg.run.flow import segment_jobs
from signseg.run.jobs import VideoJob
from signseg.store import MaskFile


def test_batches_are_full_chunks_straddle_them_and_every_chunk_gets_its_own_rows(tiny_model_file):
    seg = Segmenter.from_file(tiny_model_file, batch_size=4)
    network = FixedShapeNetwork(seg)
    calls = []
    call = network._call
    network._call = lambda x, filled: calls.append(filled) or call(x, filled)
    frames = read_video(SOUP)[:14]
    x = to_input(frames, seg.input_size)
    sizes = [3, 4, 1, 2, 4]  # chunks of two "videos", straddling batch edges
    starts = np.cumsum([0, *sizes[:-1]])
    chunks = [Chunk(0, reader=None, last=False)]  # an opening chunk: no frames, passes through in order
    chunks += [Chunk(i % 2, frames=frames[s:s + n], x=x[s:s + n]) for i, (s, n) in enumerate(zip(starts, sizes))]
    chunks.append(Chunk(1, last=True))
    # read in order as they come, each chunk's probabilities before the next: fetching frees
    # the batch's place (two batches in flight at most; the flow reads them on its writer thread)
    out = [(item.chunk, item.probabilities()) for item in batched(iter(chunks), network)]
    assert [chunk for chunk, _ in out] == chunks  # in stream order, none lost
    expected = seg.infer(seg.to_input(frames))  # the network on each frame, batched differently
    for (_, proba), s, n in zip(out[1:-1], starts, sizes):
        np.testing.assert_array_equal(proba, expected[s:s + n])
    assert out[0][1] is None and out[-1][1] is None
    assert calls == [4, 4, 4, 2]  # full batches across chunk and video edges; only the last is short


def test_segment_jobs_writes_a_shard_per_video_and_reports_a_bad_one(tmp_path, damaged):
    seg = Segmenter.from_pretrained("snet-lite")
    jobs = [VideoJob("soup", SOUP), VideoJob("broken", damaged["text"]), VideoJob("hd", HD)]
    outcomes = []
    frames = []
    segment_jobs(jobs, seg, shard_for=lambda i: tmp_path / f"{i}.h5", take=outcomes.append, decoders=2,
                 on_frames=frames.append)
    by_id = {o.job.video_id: o for o in outcomes}
    assert sorted(by_id) == ["broken", "hd", "soup"]
    assert by_id["broken"].shard is None and str(damaged["text"]) in by_id["broken"].error
    assert not (tmp_path / "1.h5").exists()  # nothing left of the failed video
    for vid, path in (("soup", SOUP), ("hd", HD)):
        o = by_id[vid]
        with MaskFile(o.shard) as f:
            masks = f.masks(vid)[()]
            assert f.attrs(vid)["model"] == "snet-lite" and f.is_complete(vid)
        np.testing.assert_array_equal(masks, seg.predict(read_video(path)))
        assert o.frames == len(masks)
    assert sum(frames) == by_id["soup"].frames + by_id["hd"].frames
