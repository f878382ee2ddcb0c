"""The thin click front. Each command lives in ``hwsim/commands/<name>.py`` and exposes ``command``;
``main`` turns every ``HwsimError`` into one line on stderr and exit code 2 (never a traceback).

Command modules are imported on first use: ``hwsim --help`` lists each command's summary read from
its source (the command function's docstring, via ``ast``) without importing any of them, and
``hwsim stats`` imports only ``hwsim.commands.stats`` (and what it needs).
``tests/unit/cli/test_startup.py`` checks that the listed summaries are the commands' own and that no
heavy library is imported by ``--help`` or ``stats``."""

from __future__ import annotations

import importlib
import sys

import click

from hwsim import __version__
from hwsim.errors import HwsimError


#: Command name -> module, in the order ``hwsim --help`` lists them.
COMMANDS: dict[str, str] = {
    "report": "hwsim.commands.report",
    "sweep": "hwsim.commands.sweep",
    "simulate": "hwsim.commands.simulate",
    "compress": "hwsim.commands.compress",
    "verify": "hwsim.commands.verify",
    "stats": "hwsim.commands.stats",
    "devices": "hwsim.commands.devices",
    "calibrate": "hwsim.commands.calibrate",
    "methods": "hwsim.commands.methods",
    "validate": "hwsim.commands.validate",
}

#: Kept for callers that iterate the command modules.
COMMAND_MODULES = tuple(COMMANDS.values())


def command_summary(name: str) -> str:
    """The docstring of command ``name``'s function, read from its source without importing the module
    (importing would load what the command needs); empty when the module or docstring is missing."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(COMMANDS[name])
    if spec is None or not spec.origin:
        return ""
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "command":
            return ast.get_docstring(node) or ""
    return ""


def load_command(name: str) -> click.Command | None:
    """The click command ``name`` (importing its module now), or None when the name or module is unknown."""
    module = COMMANDS.get(name)
    if module is None:
        return None
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:  # a real missing dependency inside an existing command: surface it
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
        rows = [(n, click.utils.make_default_short_help(command_summary(n), limit)) for n in names]
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
