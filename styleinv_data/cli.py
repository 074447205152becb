"""`styleinv-data`: the dataset toolkit's command line.

Each sub-command lives in its own module under :mod:`styleinv_data.commands` and is a thin layer
over library functions that the tests call directly.
"""

from __future__ import annotations

import click

from styleinv_data import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="styleinv-data")
def main() -> None:
    """Prepare StyleInV face-video datasets: crop raw videos, build manifests."""


def _register() -> None:
    # One line per working command (register only commands that work).
    from styleinv_data.commands.crop import crop

    main.add_command(crop)
    from styleinv_data.commands.manifest import manifest

    main.add_command(manifest)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
