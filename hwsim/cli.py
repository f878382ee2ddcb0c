"""The thin click front. Each command lives in ``hwsim/commands/<name>.py`` and exposes ``command``;
``main`` turns every ``HwsimError`` into one line on stderr and exit code 2 (never a traceback).

Command modules are imported on first use: ``hwsim --help`` lists the one-line summaries below without
importing any of them, and ``hwsim stats`` imports only ``hwsim.commands.stats`` (and what it needs).
``tests/unit/cli/test_startup.py`` checks that each summary is the command's own first line and that
no heavy library is imported by ``--help`` or ``stats``."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

import click

from hwsim import __version__
from hwsim.errors import HwsimError


@dataclass(frozen=True)
class CommandEntry:
    module: str
    summary: str  # the command's own short help (first sentence of its docstring)


#: Commands in the order ``hwsim --help`` lists them.
COMMANDS: dict[str, CommandEntry] = {
    "report": CommandEntry("hwsim.commands.report",
                           "Compare compression methods for MODEL on one or more devices: one HTML report."),
    "sweep": CommandEntry("hwsim.commands.sweep",
                          "Vary device profile keys for MODEL: CSV, Parquet and an HTML page of plots."),
    "simulate": CommandEntry("hwsim.commands.simulate",
                             "Simulate MODEL (.json / .onnx) on a device: latency, energy, traffic, memory, bound per op."),
    "compress": CommandEntry("hwsim.commands.compress",
                             "Compress MODEL with a method; write the compressed model and summarize every pass per layer."),
    "verify": CommandEntry("hwsim.commands.verify",
                           "Check compressed kernels against their references and measure fidelity (not task accuracy)."),
    "stats": CommandEntry("hwsim.commands.stats",
                          "Count params, MACs, weight and activation bytes of a model (.json or .onnx)."),
    "devices": CommandEntry("hwsim.commands.devices",
                            "List device profiles ($HWSIM_DEVICES_DIR, ~/.config/hwsim/devices, the shipped ones); "
                            "`devices show NAME` prints one with derived peaks."),
    "calibrate": CommandEntry("hwsim.commands.calibrate",
                              "Measure this machine and write its device profile (the 'host' device)."),
    "methods": CommandEntry("hwsim.commands.methods",
                            "List the named compression methods (use one with `hwsim compress --method NAME`)."),
    "validate": CommandEntry("hwsim.commands.validate",
                             "Predicted vs published latency per record; geometric-mean ratio and error factor per device kind."),
}

#: Kept for callers that iterate the command modules.
COMMAND_MODULES = tuple(e.module for e in COMMANDS.values())


def load_command(name: str) -> click.Command | None:
    """The click command ``name`` (importing its module now), or None when the name or module is unknown."""
    entry = COMMANDS.get(name)
    if entry is None:
        return None
    try:
        mod = importlib.import_module(entry.module)
    except ModuleNotFoundError as e:
        if e.name != entry.module:  # a real missing dependency inside an existing command: surface it
            raise
        return None
    return mod.command


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = list(COMMANDS)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(n, click.utils.make_default_short_help(COMMANDS[n].summary, limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hwsim")
def cli() -> None:
    """hwsim: what each compression technique buys a neural network on a small device."""


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
