"""The thin click front. Each command lives in ``hwsim/commands/<name>.py`` and exposes ``command``;
``main`` turns every ``HwsimError`` into one line on stderr and exit code 2 (never a traceback)."""

from __future__ import annotations

import importlib
import sys

import click

from hwsim import __version__
from hwsim.errors import HwsimError

#: Command modules in the order ``hwsim --help`` lists them.
COMMAND_MODULES = (
    "hwsim.commands.report",
    "hwsim.commands.sweep",
    "hwsim.commands.simulate",
    "hwsim.commands.compress",
    "hwsim.commands.verify",
    "hwsim.commands.stats",
    "hwsim.commands.devices",
    "hwsim.commands.calibrate",
    "hwsim.commands.methods",
    "hwsim.commands.validate",
)


class _OrderedGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_OrderedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hwsim")
def cli() -> None:
    """hwsim: what each compression technique buys a neural network on a small device."""


for _module in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as _e:
        if _e.name != _module:  # a real missing dependency inside an existing command: surface it
            raise
        continue
    cli.add_command(_mod.command)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="hwsim", standalone_mode=False)
    except HwsimError as e:
        click.echo(f"hwsim: error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("hwsim: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2 if isinstance(e, click.UsageError) else e.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(0)


if __name__ == "__main__":
    main()
