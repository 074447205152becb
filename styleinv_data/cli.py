"""`styleinv-data`: the dataset toolkit's command line.

Each sub-command lives in its own module under :mod:`styleinv_data.commands` and is a thin layer
over library functions that the tests call directly.
"""

from __future__ import annotations

import click

from styleinv_data import __version__


# Sub-commands are imported when invoked (or listed by --help): `crop` does not pay for the
# manifest command's imports (jsonschema, ...) at start-up, nor the reverse.
COMMANDS = {
    "crop": ("styleinv_data.commands.crop", "crop"),
    "manifest": ("styleinv_data.commands.manifest", "manifest"),
    "filter": ("styleinv_data.commands.filter", "filter_command"),
    "report": ("styleinv_data.commands.report", "report_command"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            import importlib  # noqa: PLC0415

            module, attr = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="styleinv-data")
def main() -> None:
    """Prepare StyleInV face-video datasets: crop raw videos, build manifests, filter and report."""


if __name__ == "__main__":  # pragma: no cover
    main()
