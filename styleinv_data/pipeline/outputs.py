"""Per-segment output sinks for the three layouts, and the final ``frames.zip`` assembly."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from styleinv_data.io.writers import ClipSink, FolderSink, Mp4Sink, ThreadedSink, ZipShardSink, remove_path
from styleinv_data.output_layout import FRAMES_FOLDER, ZIP_CONTAINER
from styleinv_data.pipeline.recipe import CropRecipe, RecipeError
from styleinv_data.pipeline.status import partial_dir, shard_dir

def final_output_path(recipe: CropRecipe, out_root: Path, out_id: str) -> Path:
    layout = recipe.output.layout
    if layout == "frames":
        return out_root / FRAMES_FOLDER / out_id
    if layout == "mp4":
        return out_root / f"{out_id}.mp4"
    return shard_dir(out_root) / f"{out_id}.zip"  # zip: one shard per clip, merged at the end of the run


def open_sink(recipe: CropRecipe, out_root: Path, out_id: str, fps: float | None, render=None) -> ClipSink:
    """The segment's sink. With ``render`` (``(frame, frame_plan) -> image``) and ``run.writer_thread``,
    the sink takes ``(frame, frame_plan)`` pairs and renders, encodes and writes in a background thread."""
    out = recipe.output
    from styleinv_data.pipeline.shards import parse_shard  # noqa: PLC0415

    final = final_output_path(recipe, out_root, out_id)
    partial = partial_dir(out_root, parse_shard(recipe.run.shard))
    partial.mkdir(parents=True, exist_ok=True)
    sink: ClipSink
    if out.layout == "frames":
        final.parent.mkdir(parents=True, exist_ok=True)
        sink = FolderSink(final, partial / out_id, out.image_format, out.jpeg_quality)
    elif out.layout == "zip":
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_path(partial / f"{out_id}.zip")
        sink = ZipShardSink(final, partial / f"{out_id}.zip", out_id, out.image_format, out.jpeg_quality)
    else:
        remove_path(partial / f"{out_id}.mp4")
        sink = Mp4Sink(final, partial / f"{out_id}.mp4", out.size, fps, crf=out.mp4_crf)
    if render is not None:
        if recipe.run.writer_thread:
            return ThreadedSink(sink, transform=lambda item: render(*item))
        return _RenderingSink(sink, render)
    if recipe.run.writer_thread:
        sink = ThreadedSink(sink)
    return sink


class _RenderingSink:
    """Same interface as the threaded one, rendering in the caller's thread."""

    def __init__(self, sink: ClipSink, render) -> None:
        self.sink, self.render = sink, render

    def write(self, item) -> None:
        self.sink.write(self.render(*item))

    def commit(self) -> int:
        return self.sink.commit()

    def abort(self) -> None:
        self.sink.abort()


def move_legacy_frame_folders(out_root: Path, out_ids: list[str]) -> int:
    """Move clip folders an earlier version wrote straight into ``OUT`` (``OUT/<out_id>/``) to
    ``OUT/frames/<out_id>/``, where the frames layout keeps them now (so that ``OUT/frames`` is a
    dataset root without the sidecars). One ``rename`` per clip: a killed run leaves each clip in
    one place or the other, and the next run moves the rest. Returns how many were moved."""
    frames_root = Path(out_root) / FRAMES_FOLDER
    if FRAMES_FOLDER in out_ids and frames_root.is_dir() and not any(e.is_dir() for e in os.scandir(frames_root)):
        raise RecipeError(f"{frames_root}: holds the frames of a clip named {FRAMES_FOLDER!r} in the layout of an "
                      "earlier version; rename that video or crop into a new folder")
    moved = 0
    for out_id in sorted(set(out_ids) - {FRAMES_FOLDER}):
        legacy, current = Path(out_root) / out_id, frames_root / out_id
        if legacy.is_dir() and not current.exists():
            frames_root.mkdir(exist_ok=True)
            os.rename(legacy, current)
            moved += 1
    return moved


def remove_outputs(recipe: CropRecipe, out_root: Path, out_ids: list[str]) -> None:
    for out_id in out_ids:
        remove_path(final_output_path(recipe, out_root, out_id))


def assemble_zip(out_root: Path, out_ids: list[str]) -> Path:
    """Merge the clip shards into ``OUT/frames.zip`` (written as ``.tmp`` then renamed).

    The zip is laid out as StyleGAN-V's video reader requires and StyleGAN2-ADA's accepts: one
    top-level folder entry first (``frames/``), a directory entry per clip (``frames/<out_id>/``),
    then its frames, uncompressed, in order. Our manifest reads it (and zips without the top
    folder, written before) alike.
    """
    final = out_root / ZIP_CONTAINER
    tmp = out_root / (ZIP_CONTAINER + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as dst:
        dst.writestr(_dir_entry(f"{FRAMES_FOLDER}/"), b"")
        for out_id in sorted(out_ids):
            dst.writestr(_dir_entry(f"{FRAMES_FOLDER}/{out_id}/"), b"")
            shard = shard_dir(out_root) / f"{out_id}.zip"
            with zipfile.ZipFile(shard) as src:
                for info in src.infolist():
                    member = zipfile.ZipInfo(f"{FRAMES_FOLDER}/{info.filename}", date_time=info.date_time)
                    member.compress_type = zipfile.ZIP_STORED
                    member.external_attr = info.external_attr
                    dst.writestr(member, src.read(info))
    os.replace(tmp, final)
    return final


def _dir_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = (0o40755 << 16) | 0x10  # a directory, as `zip -r` marks it
    return info
