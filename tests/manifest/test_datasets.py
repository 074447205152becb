"""Frame / clip readers over folders, zips and mp4s."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from styleinv_data.datasets import ClipDataset, FrameDataset, ThreadedLoader, make_loader, mirror_decision, read_frames
from styleinv_data.datasets import decode as decode_module
from styleinv_data.datasets.buffer_pool import BatchBufferPool
from styleinv_data.datasets.decode import decode_image, decode_with_pil
from styleinv_data.manifest import build_manifest, read_manifest, write_manifest
from styleinv_data.sampling import ClassAwareFrameSampler, SparseClipConfig, SparseClipSampler

ALL_KEYS = [(v, tuple(range(n))) for v, n in enumerate([5, 9, 3])]


def test_folder_and_zip_readers_return_identical_tensors(frames_dataset, zip_dataset):
    folder = ClipDataset(build_manifest(frames_dataset.root))
    zipped = ClipDataset(build_manifest(zip_dataset.root))
    for key in ALL_KEYS:
        a, b = folder[key], zipped[key]
        assert a.dtype == torch.uint8 and a.shape == (len(key[1]), 3, 12, 16)
        assert torch.equal(a, b)
    # and they are the JPEGs' pixels: close to what was written (lossy), exact vs PIL's decoder
    first = folder[(1, (4,))][0]
    written = torch.from_numpy(frames_dataset.frames["clip_b"][4]).permute(2, 0, 1)
    error = (first.int() - written.int()).abs().float()
    assert error.mean() < 12  # a 16x12 JPEG at quality 75 with chroma subsampling
    assert (first.float().mean((1, 2)) - written.float().mean((1, 2))).abs().max() < 10  # RGB order kept
    data = (frames_dataset.root / "clip_b" / "000004.jpg").read_bytes()
    pil = torch.from_numpy(decode_with_pil(data, "x")).permute(2, 0, 1)
    assert (pil.int() - first.int()).abs().max() <= 2


def test_png_frames_are_exact(tmp_path, make_ds):
    ds = make_ds(tmp_path / "png", {"p": 4}, ext=".png")
    m = build_manifest(ds.root)
    assert m.records[0].frame_ext == ".png"
    frames = read_frames(m, "p", [3, 0, 3])
    expected = torch.from_numpy(np.stack([ds.frames["p"][i] for i in (3, 0, 3)])).permute(0, 3, 1, 2)
    assert torch.equal(frames, expected)


def test_mp4_reader(tmp_path, make_ds):
    ds = make_ds(tmp_path / "mp4", {"v": 8}, size=(32, 16), layout="mp4", with_meta=False)
    m = build_manifest(ds.root)
    frames = ClipDataset(m)[(0, (6, 1, 6))]
    assert frames.shape == (3, 3, 16, 32) and frames.dtype == torch.uint8
    assert torch.equal(frames[0], frames[2])
    expected = torch.from_numpy(ds.frames["v"][1]).permute(2, 0, 1)
    assert (frames[1].int() - expected.int()).abs().float().mean() < 8  # H.264 at crf 10


def test_grayscale_and_rgba_frames_become_rgb():
    import io

    for mode in ("L", "RGBA"):
        buf = io.BytesIO()
        Image.new(mode, (8, 6), 100 if mode == "L" else (100, 100, 100, 7)).save(buf, format="PNG")
        img = decode_image(buf.getvalue(), ".png", "x.png")
        assert img.shape == (3, 6, 8) and int(img[0, 0, 0]) == 100
    buf = io.BytesIO()
    Image.new("L", (8, 8), 50).save(buf, format="JPEG")
    assert decode_image(buf.getvalue(), ".jpg", "x.jpg").shape == (3, 8, 8)


def test_mirroring_is_the_same_for_every_frame_of_a_clip(zip_dataset):
    m = build_manifest(zip_dataset.root)
    plain = ClipDataset(m)
    mirrored = ClipDataset(m, mirror=True, seed=11, return_meta=True)
    flips = 0
    for v, n in enumerate([5, 9, 3]):
        for start in range(n - 2):
            key = (v, (start, start + 1, start + 2))
            item = mirrored[key]
            assert item["mirrored"] == mirror_decision(11, v, key[1])
            expected = plain[key].flip(-1) if item["mirrored"] else plain[key]
            assert torch.equal(item["frames"], expected)  # all frames flipped together, or none
            flips += item["mirrored"]
    assert 0 < flips < 14  # both outcomes occur over the 14 clips


def test_frame_dataset_flat_and_sampler_keys(frames_dataset):
    ds = FrameDataset(build_manifest(frames_dataset.root), return_meta=True)
    assert len(ds) == 17 and ds.locate(5) == (1, 0) and ds.locate(16) == (2, 2)
    item = ds[6]
    assert item["image"].shape == (3, 12, 16) and item["video_index"] == 1 and item["frame_indices"].tolist() == [1]
    assert torch.equal(ds[(1, (1,))]["image"], item["image"])
    with pytest.raises(IndexError):
        ds[17]
    with pytest.raises(IndexError, match=r"record 'clip_c': frame index 3 is outside \[0, 3\)"):
        ds[(2, (3,))]


def test_fractional_indices_are_refused_for_real_frames(frames_dataset):
    ds = ClipDataset(build_manifest(frames_dataset.root))
    with pytest.raises(ValueError, match="fractional"):
        ds[(1, (0, 1.5, 3.0, 4))]
    assert ds[(1, (0.0, 2.0))].shape[0] == 2  # integral floats are fine


def test_split_subset(frames_dataset, tmp_path):
    m = build_manifest(frames_dataset.root)
    m.records[1].split = "val"
    m.header.splits = {"train": 2, "val": 1}
    path = write_manifest(m, tmp_path / "m.jsonl")
    val = ClipDataset(read_manifest(path), split="val", clip_length=4)
    assert len(val) == 1 and val.frame_counts == [9] and val[0].shape == (4, 3, 12, 16)
    with pytest.raises(ValueError, match="split 'test' has no videos"):
        ClipDataset(read_manifest(path), split="test")


def test_jpeg_decoders_agree(frames_dataset, monkeypatch):
    if not (decode_module.HAVE_SIMPLEJPEG and decode_module.HAVE_TORCHVISION):
        pytest.skip("needs both simplejpeg and torchvision to compare them")
    data = (frames_dataset.root / "clip_b" / "000002.jpg").read_bytes()
    fast = decode_image(data, ".jpg", "x")
    monkeypatch.setattr(decode_module, "HAVE_SIMPLEJPEG", False)
    assert torch.equal(decode_image(data, ".jpg", "x"), fast)  # same libjpeg-turbo settings, same pixels


def test_batched_keys_match_single_keys(zip_dataset):
    m = build_manifest(zip_dataset.root)
    clips = ClipDataset(m, mirror=True, seed=2, return_meta=True)
    keys = [(1, (0, 3, 5, 8)), (0, (0, 1, 2, 4)), (2, (0, 1, 1, 2))]
    batch = clips[keys]
    assert batch["frames"].shape == (3, 4, 3, 12, 16) and batch["frames"].dtype == torch.uint8
    for j, key in enumerate(keys):
        single = clips[key]
        assert torch.equal(batch["frames"][j], single["frames"])
        assert batch["mirrored"][j].item() == single["mirrored"]
        assert batch["frame_indices"][j].tolist() == list(key[1]) and batch["video_index"][j].item() == key[0]
    frames = FrameDataset(m)
    assert torch.equal(frames[[3, 7]], torch.stack([frames[3], frames[7]]))


def test_batch_of_mixed_resolutions_is_a_clear_error(tmp_path, make_ds):
    make_ds(tmp_path / "mixed", {"a": 3}, size=(16, 12))
    make_ds(tmp_path / "mixed", {"b": 3}, size=(8, 8))
    m = build_manifest(tmp_path / "mixed")
    assert m.header.resolution is None
    with pytest.raises(Exception, match=r"record 'b' is 8x8 but record 'a' in the same batch is 16x12"):
        ClipDataset(m)[[(0, (0, 1)), (1, (0, 1))]]


@pytest.mark.slow
def test_dataloader_with_two_workers_over_a_zip(zip_dataset):
    m = build_manifest(zip_dataset.root)
    clips = ClipDataset(m, mirror=True, return_meta=True)
    sampler = SparseClipSampler(clips.frame_counts, SparseClipConfig(nframes=8, max_dist=4), seed=0)
    loader = torch.utils.data.DataLoader(clips, batch_size=3, sampler=sampler, num_workers=2)
    batches = list(zip(range(4), loader))
    expected_keys = list(zip(range(12), sampler))
    serial = [clips[key]["frames"] for _, key in expected_keys]
    got = torch.cat([b["frames"] for _, b in batches])
    assert got.shape == (12, 4, 3, 12, 16) and got.dtype == torch.uint8
    assert torch.equal(got, torch.stack(serial))  # workers reopen the zip and read the same pixels
    # the in-place batch loader gives the same batches
    fast = make_loader(clips, sampler, batch_size=3, num_workers=2)
    got_fast = torch.cat([b["frames"] for _, b in zip(range(4), fast)])
    assert torch.equal(got_fast, got)
    threaded = ThreadedLoader(clips, sampler, batch_size=3, num_threads=2, prefetch_batches=2)
    got_threads = torch.cat([b["frames"] for _, b in zip(range(4), threaded)])
    assert torch.equal(got_threads, got)
    frames = FrameDataset(m)
    loader = make_loader(frames, ClassAwareFrameSampler(frames.frame_counts, seed=1), batch_size=4, num_workers=2)
    _, batch = next(zip(range(1), loader))
    assert batch.shape == (4, 3, 12, 16) and batch.dtype == torch.uint8


def test_datasets_pickle_without_open_handles(zip_dataset):
    import pickle

    clips = ClipDataset(build_manifest(zip_dataset.root))
    before = clips[(1, (0, 2))]  # opens the zip in this process
    assert clips.reader.store._zip is not None
    copy = pickle.loads(pickle.dumps(clips))  # what a spawned DataLoader worker receives
    assert copy.reader.store._zip is None
    assert torch.equal(copy[(1, (0, 2))], before)


def test_buffer_pool_reuses_a_buffer_only_when_nothing_refers_to_it():
    pool = BatchBufferPool(capacity=2)
    shape = (2, 1, 4, 5, 3)
    a = pool.take(shape)
    a_ptr = a.data_ptr()
    assert a.shape == shape and a.dtype == torch.uint8 and a.is_contiguous()
    kept_view = a.permute(0, 1, 4, 2, 3)[1]  # the consumer keeps a view of the batch only
    del a
    b = pool.take(shape)  # the first buffer is still referenced: a second one
    assert b.data_ptr() != a_ptr and (pool.allocated, pool.reused) == (2, 0)
    del kept_view
    c = pool.take(shape)  # now free: handed out again
    assert c.data_ptr() == a_ptr and pool.reused == 1
    other = pool.take((1, 1, 4, 5, 3))  # another shape, pool full: a fresh, unpooled buffer
    assert other.shape == (1, 1, 4, 5, 3) and pool.allocated == 3
    del b, c
    assert pool.take(shape).data_ptr() in {a_ptr} | {buf.data_ptr() for buf, _ in pool._buffers}
    with pytest.raises(ValueError, match="capacity"):
        BatchBufferPool(0)


@pytest.mark.parametrize("return_meta", [False, True])
def test_threaded_loader_reused_buffers_never_overwrite_kept_batches(frames_dataset, zip_dataset, return_meta):
    for root in (frames_dataset.root, zip_dataset.root):
        m = build_manifest(root)
        clips = ClipDataset(m, mirror=True, seed=3, return_meta=return_meta)
        sampler = SparseClipSampler(clips.frame_counts, SparseClipConfig(nframes=8, max_dist=4), seed=0)
        keys = [k for _, k in zip(range(24), sampler)]
        expected = [clips[keys[i:i + 2]] for i in range(0, 24, 2)]
        image = (lambda b: b["frames"]) if return_meta else (lambda b: b)
        loader = ThreadedLoader(clips, sampler, batch_size=2, num_threads=2, prefetch_batches=2)
        assert loader.buffer_pool is not None
        kept = [b for _, b in zip(range(12), loader)]  # every batch kept: no buffer may be reused
        assert loader.buffer_pool.reused == 0
        for got, want in zip(kept, expected):
            assert torch.equal(image(got), image(want))
            if return_meta:
                assert torch.equal(got["mirrored"], want["mirrored"])
        dropped = ThreadedLoader(clips, sampler, batch_size=2, num_threads=2, prefetch_batches=2)
        for (_, got), want in zip(zip(range(12), dropped), expected):  # each batch dropped after use
            assert torch.equal(image(got), image(want))
        assert dropped.buffer_pool.reused > 0 and dropped.buffer_pool.allocated <= dropped.buffer_pool.capacity
        frames = FrameDataset(m)
        frame_keys = [(v, (f,)) for v, n in enumerate(frames.frame_counts) for f in range(n)][:8]
        threaded = [b.clone() for b in ThreadedLoader(frames, frame_keys, batch_size=4, num_threads=2)]
        assert torch.equal(torch.cat(threaded), frames[frame_keys])
        fresh = ThreadedLoader(frames, frame_keys, batch_size=4, reuse_buffers=False)
        assert fresh.buffer_pool is None and torch.equal(torch.cat(list(fresh)), frames[frame_keys])


def test_load_batch_checks_the_supplied_buffer(frames_dataset):
    clips = ClipDataset(build_manifest(frames_dataset.root))
    keys = [(0, (0, 1)), (1, (2, 3))]
    out = torch.empty((2, 2, 12, 16, 3), dtype=torch.uint8)
    batch = clips.load_batch(keys, alloc=lambda shape: out)
    assert batch.data_ptr() == out.data_ptr() and torch.equal(batch, clips[keys])
    with pytest.raises(ValueError, match=r"must return a contiguous uint8 tensor of the asked shape"):
        clips.load_batch(keys, alloc=lambda shape: torch.empty((1, 2, 12, 16, 3), dtype=torch.uint8))


def _zip_bytes_of_every_member(zip_path) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(zip_path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_stored_zip_members_are_read_with_pread_and_match_zipfile(zip_dataset):
    import pickle
    import zlib

    from styleinv_data.manifest.storage import FrameStore

    expected = _zip_bytes_of_every_member(zip_dataset.root / "frames.zip")
    assert len(expected) == sum(zip_dataset.lengths.values())
    store = FrameStore(zip_dataset.root, "zip", "frames.zip")
    for member, data in expected.items():
        video, frame = member.split("/")
        assert store.stored_member(member) is not None  # the crop writes ZIP_STORED: the fast path serves it
        got = store.read(video, frame)
        assert got == data and zlib.crc32(got) == store._zipfile().getinfo(member).CRC
    clone = pickle.loads(pickle.dumps(store))  # a worker's copy opens its own handles
    assert clone._zip_fd is None and clone.read("clip_b", "000003.jpg") == expected["clip_b/000003.jpg"]
    clone.close()
    store.close()
    assert store._zip_fd is None


def test_zip_fast_path_handles_local_extras_prefixes_and_falls_back_for_deflated(tmp_path):
    import io
    import zipfile
    import zlib

    from styleinv_data.manifest import ManifestError
    from styleinv_data.manifest.storage import FrameStore

    rng = np.random.default_rng(0)
    payloads = {f"v/{i:06d}.jpg": rng.integers(0, 256, 300 + 50 * i, dtype=np.uint8).tobytes() for i in range(4)}
    payloads["v/000003.jpg"] = b"abc" * 400  # compressible: deflate really shrinks it
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, (name, data) in enumerate(payloads.items()):
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED if i == 3 else zipfile.ZIP_STORED
            if i == 1:
                info.extra = b"\xfe\xca\x04\x00pad!"  # a local-header extra field shifts the data offset
            zf.writestr(info, data)
    root = tmp_path / "z"
    root.mkdir()
    (root / "frames.zip").write_bytes(b"#!prefix before the zip\n" + buf.getvalue())  # offsets are absolute

    store = FrameStore(root, "zip")
    assert _zip_bytes_of_every_member(root / "frames.zip") == payloads
    for name, data in payloads.items():
        assert store.read(*name.split("/")) == data
    assert store.stored_member("v/000001.jpg").data_offset > store.stored_member("v/000000.jpg").data_offset
    assert store.stored_member("v/000003.jpg") is None  # deflated: zipfile reads (and CRC-checks) it
    assert zlib.crc32(store.read("v", "000003.jpg")) == zlib.crc32(payloads["v/000003.jpg"])
    with pytest.raises(ManifestError, match=r"frames.zip:v/000009.jpg: missing frame"):
        store.read("v", "000009.jpg")
    store.close()


def test_folder_reads_return_the_file_bytes(frames_dataset):
    from styleinv_data.manifest.storage import FrameStore

    store = FrameStore(frames_dataset.root, "frames")
    for path in sorted(frames_dataset.root.glob("clip_*/*.jpg")):
        assert store.read(path.parent.name, path.name) == path.read_bytes()
    (frames_dataset.root / "clip_a" / "000000.jpg").write_bytes(b"")
    assert store.read("clip_a", "000000.jpg") == b""
