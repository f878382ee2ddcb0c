"""Progress of a long command on stderr: a rich bar on a terminal, one line per step otherwise (logs,
CI), nothing with ``--quiet``. Commands call ``step(label, weight)`` as each step starts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

Step = Callable[[str, float], None]


@contextmanager
def steps(title: str, total: float, quiet: bool = False) -> Iterator[Step]:
    """A ``step(label, weight)`` callback; ``weight`` is the step's share of ``total`` (advanced when the
    next step starts or the block ends)."""
    if quiet:
        yield lambda label, weight=1.0: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        count = [0]

        def line(label: str, weight: float = 1.0) -> None:
            count[0] += 1
            click.echo(f"{title}: {label} ...", err=True)

        yield line
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(f"[bold]{title}"), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("", total=total)
        pending = [0.0]

        def advance(label: str, weight: float = 1.0) -> None:
            bar.update(task, advance=pending[0], description=label)
            pending[0] = weight

        yield advance
        bar.update(task, advance=pending[0])


__all__ = ["steps", "Step"]
