"""``styleinv-data report``: a self-contained HTML report of a crop output folder or a manifest."""

from __future__ import annotations

from pathlib import Path

import click

from styleinv_data.manifest.schema import ManifestError


@click.command("report")
@click.argument("source", metavar="OUT", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file (default: OUT/report.html, or MANIFEST.report.html).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def report_command(source: Path, out_path: Path | None, no_progress: bool) -> None:
    """One HTML page about OUT (a crop output folder, or a manifest .jsonl): the summary
    (done / failed / skipped, clips, frames, hours), a histogram of each quality score, the 20
    worst clips by each score with a contact strip, and the failed videos with their reasons. It
    needs no network to open.

    \b
      styleinv-data report out/ffs                 # -> out/ffs/report.html
      styleinv-data report out/ffs/manifest.jsonl -o ffs.html
    """
    from styleinv_data.report import build_report

    try:
        written = build_report(source, out_path, progress=not no_progress)
    except (ManifestError, OSError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {written}")
