"""Readers over prepared datasets: uint8 frame and clip tensors from folders, zips or mp4s.

    from styleinv_data.manifest import read_manifest
    from styleinv_data.datasets import ClipDataset, FrameDataset, make_loader, read_frames
    from styleinv_data.sampling import ClassAwareFrameSampler, SparseClipSampler, SparseClipConfig

    m = read_manifest("data/ffs/manifest.jsonl")
    clips = ClipDataset(m, split="train", mirror=True, return_meta=True)
    sampler = SparseClipSampler(clips.frame_counts, SparseClipConfig(nframes=128, max_dist=32), seed=0)
    loader = make_loader(clips, sampler, batch_size=8, num_workers=2)  # batches decoded in place
    loader = ThreadedLoader(clips, sampler, batch_size=8, num_threads=2)  # threads, reused buffers
"""

from styleinv_data.datasets.buffer_pool import BatchBufferPool
from styleinv_data.datasets.decode import decode_image
from styleinv_data.datasets.threaded_loader import ThreadedLoader
from styleinv_data.datasets.torch_datasets import ClipDataset, FrameDataset, make_loader, mirror_decision
from styleinv_data.datasets.video_reader import VideoFrameReader, read_frames

__all__ = ["BatchBufferPool", "ClipDataset", "FrameDataset", "ThreadedLoader", "VideoFrameReader", "decode_image", "make_loader", "mirror_decision", "read_frames"]
