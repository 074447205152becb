"""``styleinv-data filter``: a new manifest without the clips whose quality scores fail the bounds."""

from __future__ import annotations

import csv
from pathlib import Path

import click

from styleinv_data.manifest.schema import ManifestError


@click.command("filter")
@click.argument("manifest_path", metavar="MANIFEST", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The filtered manifest (.jsonl); required unless --dry-run.")
@click.option("--min-face", type=float, default=None, help="Least crop-region side in source pixels (face_px_min).")
@click.option("--min-sharpness", type=float, default=None, help="Least variance of the Laplacian (sharpness).")
@click.option("--max-jitter", type=float, default=None, help="Largest crop jitter in output pixels (jitter_px).")
@click.option("--max-dropped", type=float, default=None,
              help="Largest fraction of the source video's frames not in any clip (dropped_fraction).")
@click.option("--max-upscale", type=float, default=None, help="Largest upscaling to the output size (upscale_max).")
@click.option("--min-confidence", type=float, default=None, help="Least per-frame confidence (ffhq crops).")
@click.option("--dedup", is_flag=True, help="Remove near-duplicate clips (first-frame perceptual hash); the one "
              "kept of a group is in train when any is, so no pair straddles train and val.")
@click.option("--dedup-distance", type=click.IntRange(0, 31), default=4, show_default=True,
              help="Largest phash Hamming distance of near duplicates (bits of 64).")
@click.option("--dry-run", is_flag=True, help="Print the table of what would be removed; write nothing.")
def filter_command(manifest_path: Path, out_path: Path | None, min_face: float | None, min_sharpness: float | None,
                   max_jitter: float | None, max_dropped: float | None, max_upscale: float | None,
                   min_confidence: float | None, dedup: bool, dedup_distance: int, dry_run: bool) -> None:
    """Filter MANIFEST by the crop's quality scores (docs/manifest.md, "Quality scores and filters").

    \b
      styleinv-data filter out/ffs/manifest.jsonl -o out/ffs/clean.jsonl --min-face 128 --max-dropped 0.1 --dedup
      styleinv-data filter out/ffs/manifest.jsonl --min-sharpness 40 --dry-run
    """
    from styleinv_data.manifest import read_manifest, write_manifest
    from styleinv_data.manifest.filtering import FilterRules, filter_records, filtered_manifest

    if out_path is None and not dry_run:
        raise click.UsageError("give -o OUT.jsonl for the filtered manifest, or --dry-run")
    try:
        manifest = read_manifest(manifest_path)
        rules = FilterRules(min_face, min_sharpness, max_jitter, max_dropped, max_upscale, min_confidence, dedup,
                            dedup_distance)
        result = filter_records(manifest, rules)
    except (ManifestError, OSError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{len(manifest.records)} clips: {len(result.kept)} kept, {len(result.removed)} removed"
               + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(result.reasons.items()))})" if result.reasons else "")
               + (f"; {result.without_scores} have no quality scores (older crop) and were kept"
                  if result.without_scores else ""))
    if result.removed:
        width = max(len(r.id) for r, _ in result.removed)
        click.echo(f"{'id':<{width}}  {'split':<6} reason")
        for record, reason in result.removed:
            click.echo(f"{record.id:<{width}}  {record.split:<6} {reason}")
    if dry_run:
        return
    assert out_path is not None
    try:
        written = write_manifest(filtered_manifest(manifest, result), out_path)
        table = out_path.with_name(out_path.stem + ".removed.csv")
        tmp = table.with_name(table.name + ".tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "split", "reason"])
            writer.writerows([r.id, r.split, why] for r, why in result.removed)
        tmp.replace(table)
    except (ManifestError, OSError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {written} and {table}")
