"""`styleinv-data manifest DATASET_ROOT`: scan a prepared dataset and write its manifest."""

from __future__ import annotations

from pathlib import Path

import click

from styleinv_data.manifest import (
    BuildConfig,
    ManifestError,
    SplitConfig,
    add_dataset_json_to_zip,
    build_manifest,
    parse_fractions,
    write_dataset_json,
    write_manifest,
    write_parquet,
)


@click.command("manifest")
@click.argument("dataset_root", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Manifest file to write [default: DATASET_ROOT/manifest.jsonl].")
@click.option("--name", "dataset_name", default=None, help="Dataset name [default: the root folder's name].")
@click.option("--labels", "labels_path", type=click.Path(path_type=Path), default=None,
              help="Label file: CSV (id,label), JSON {id: label}, or CelebV-HQ's celebvhq_info.json.")
@click.option("--label-field", default=None,
              help="CSV column, or for celebvhq_info.json: emotion | appearance:<attr> | action:<attr>.")
@click.option("--require-labels", is_flag=True, help="Fail when a video has no label.")
@click.option("--identities", "identities_path", type=click.Path(path_type=Path), default=None,
              help="CSV (id,identity) or JSON {id: identity}: keeps each identity in one split.")
@click.option("--split", "split_fractions", default=None,
              help="Hash split fractions, e.g. train=0.9,val=0.1 [default: everything in 'train'].")
@click.option("--split-list", type=click.Path(path_type=Path), default=None,
              help="File naming each video's split (CSV id,split / JSON {id: split} / '<id> <split>' lines).")
@click.option("--split-seed", type=int, default=0, show_default=True, help="Seed of the hash split.")
@click.option("--fps", type=float, default=None, help="Frame rate when the crop sidecars do not record one.")
@click.option("--no-hash", is_flag=True, help="Skip the content hash (does not read every frame).")
@click.option("--parquet", is_flag=True, help="Also write the manifest as Parquet next to it (.parquet).")
@click.option("--dataset-json/--no-dataset-json", default=True, show_default=True,
              help="Write StyleGAN-V/StyleGAN2-ADA dataset.json at the root when labels exist.")
@click.option("--dataset-json-in-zip", "dataset_json_format", type=click.Choice(["stylegan2-ada", "stylegan-v"]),
              default=None, help="Zip datasets: also put dataset.json inside the zip where that trainer reads it "
                                 "(StyleGAN2-ADA: at the zip's root; StyleGAN-V: in its top folder).")
@click.option("--workers", type=int, default=4, show_default=True, help="Threads that hash and read frame headers.")
@click.option("--verify", is_flag=True,
              help="DATASET_ROOT is an existing manifest: re-check it against the files (frame counts, every "
                   "zip member's CRC-32, the content hashes) and write nothing.")
def manifest(dataset_root: Path, output: Path | None, dataset_name: str | None, labels_path: Path | None,
             label_field: str | None, require_labels: bool, identities_path: Path | None,
             split_fractions: str | None, split_list: Path | None, split_seed: int, fps: float | None,
             no_hash: bool, parquet: bool, dataset_json: bool, dataset_json_format: str | None, workers: int,
             verify: bool) -> None:
    """Scan DATASET_ROOT (frame folders, frames.zip or mp4s, plus _meta/ sidecars) and write a manifest
    (or, with --verify, re-check an existing manifest)."""
    if verify:
        _verify(dataset_root)
        return
    try:
        if split_fractions and split_list:
            raise ManifestError("--split and --split-list are exclusive; pass one of them")
        config = BuildConfig(
            dataset_name=dataset_name,
            labels_path=labels_path,
            label_field=label_field,
            require_labels=require_labels,
            identities_path=identities_path,
            split=SplitConfig(fractions=parse_fractions(split_fractions) if split_fractions else None,
                              list_path=split_list, seed=split_seed),
            fps=fps,
            hash_content=not no_hash,
            workers=workers,
        )
        result = build_manifest(dataset_root, config)
        default_out = Path(dataset_root).with_suffix(".jsonl") if Path(dataset_root).is_file() else \
            Path(dataset_root) / "manifest.jsonl"  # beside a zip passed by name, not inside it
        out_path = write_manifest(result, output or default_out)
        written = [str(out_path)]
        if parquet:
            written.append(str(write_parquet(result, out_path.with_suffix(".parquet"))))
        if dataset_json:
            dj = write_dataset_json(result)
            if dj is not None:
                written.append(str(dj))
                if dataset_json_format is not None:
                    zipped = add_dataset_json_to_zip(result, dj, dataset_json_format)
                    written.append(f"{zipped} (dataset.json inside, {dataset_json_format})")
            elif dataset_json_format is not None:
                raise ManifestError("--dataset-json-in-zip needs labels (--labels): no video has one")
    except ManifestError as e:
        raise click.ClickException(str(e)) from e
    h = result.header
    splits = ", ".join(f"{k}={v}" for k, v in h.splits.items())
    res = f"{h.resolution[0]}x{h.resolution[1]}" if h.resolution else "mixed"
    click.echo(f"{h.num_videos} videos, {h.num_frames} frames, {res}, layout {h.layout}, splits {splits}"
               + (f", {len(h.skipped)} skipped" if h.skipped else ""))
    for entry in h.skipped:
        click.echo(f"skipped {entry['id']}: {entry['reason']}")
    for path in written:
        click.echo(f"wrote {path}")


def _verify(manifest_path: Path) -> None:
    """`styleinv-data manifest --verify MANIFEST`: the manifest still describes its files, byte for byte."""
    from styleinv_data.manifest import read_manifest, verify_manifest

    try:
        report = verify_manifest(read_manifest(manifest_path), deep=True)
    except ManifestError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{manifest_path}: OK ({report.videos} videos, {report.frames} frames: counts, CRC-32 of zip members "
               "and content hashes match)")
