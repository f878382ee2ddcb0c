"""hwsim calibrate: measure this machine (NumPy/BLAS GEMM per dtype, vector ops, popcount, memory copies
per cache level) and write a ``kind: cpu`` device profile. By default it goes to the user's own profiles
(``~/.config/hwsim/devices/host.yaml``, honouring ``$XDG_CONFIG_HOME``), where ``--device host`` finds it;
``-o PATH`` writes elsewhere. No machine's profile ships with the package."""

from __future__ import annotations

from pathlib import Path

import click

from hwsim.errors import UsageError


@click.command("calibrate")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where to write the profile [default: ~/.config/hwsim/devices/host.yaml, found as 'host']")
@click.option("--quick", is_flag=True, help="a few seconds of measurement instead of about a minute (less exact)")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="seed of the random GEMM operands")
@click.option("--quiet", is_flag=True, help="no progress on stderr")
def command(output: Path | None, quick: bool, seed: int, quiet: bool) -> None:
    """Measure this machine and write its device profile (the 'host' device)."""
    from hwsim.analysis.calibrate import STEPS, measure, write_profile
    from hwsim.commands.progress import steps
    from hwsim.hardware import load_device, user_devices_dir

    if output is None:
        output = user_devices_dir() / "host.yaml"
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create the user profiles directory: {e.strerror or e}",
                             source=str(output.parent)) from None
    if output.suffix not in (".yaml", ".yml"):
        raise UsageError(f"the profile must be a .yaml file, got {str(output)!r}", source="--output")
    if not output.parent.exists():
        raise UsageError(f"directory {str(output.parent)!r} does not exist", source="--output")
    with steps("hwsim calibrate", sum(w for _, w in STEPS), quiet) as step:
        cal = measure(quick=quick, seed=seed, progress=step)
    write_profile(cal, output)
    profile = load_device(output)  # the file must load as a valid profile
    fp32 = profile.cpu.macs_per_cycle_per_core["fp32"] if profile.cpu else 0.0
    click.echo(f"wrote {output}: {cal.cpu_model}, {cal.cores} cores at {cal.clock_hz / 1e9:.3g} GHz, "
               f"fp32 {fp32 * cal.clock_hz * cal.cores / 1e9:.3g} GMAC/s, "
               f"DRAM {profile.dram.bandwidth_bytes_per_s / 1e9:.3g} GB/s")
    int8 = profile.cpu.macs_per_cycle_per_core.get("int8") if profile.cpu else None
    click.echo(f"int8: {int8 * cal.clock_hz * cal.cores / 1e9:.3g} GMAC/s (onnxruntime MatMulInteger)" if int8 else
               "int8: unavailable (onnxruntime not installed): int8 layers will be costed at the fp32 rate")
