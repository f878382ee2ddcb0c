"""The validation records held against the generic profiles that existed before the board profiles
(cpu-a53, cpu-a72, gpu-jetson-nano, fpga-large, systolic-32x32 at 64 x 64): the 'before' column of
docs/validation.md. Note: the cost models have changed since (overlay overheads default to 0, the
systolic parameter cache to none, TF32 / int8-as-fp16 GPU choices), so this reproduces the old
profiles under today's models, not the old code; the numbers in docs/validation.md's 'before' table
were measured on the code of the time (main at 92cd8ba) with this same mapping.

    PYTHONPATH=. python bench/validate_legacy_profiles.py
"""

from __future__ import annotations

from hwsim.analysis.validation import BoardSetup, load_records, run_validation, summarize

LEGACY = {
    "pi3b-plus": BoardSetup(profile="cpu-a53"),
    "pi4": BoardSetup(profile="cpu-a72"),
    "pi4-1.8ghz": BoardSetup(profile="cpu-a72", overrides={"clock": "1.8 GHz"}),
    "jetson-nano": BoardSetup(profile="gpu-jetson-nano"),
    "zcu104-1xb4096": BoardSetup(profile="fpga-large"),
    "zcu102-1xb4096": BoardSetup(profile="fpga-large"),
    "ultra96-1xb1600": BoardSetup(profile="fpga-large", overrides={
        "fpga.lut": "70560", "fpga.ff": "141120", "fpga.dsp": "360", "fpga.bram36": "216",
        "memory.bram.size": "972 KiB"}),
    "coral-usb3": BoardSetup(profile="systolic-32x32", overrides={"array.rows": "64", "array.cols": "64"}),
    "coral-devboard": BoardSetup(profile="systolic-32x32", overrides={"array.rows": "64", "array.cols": "64"}),
}

if __name__ == "__main__":
    outs = run_validation(load_records(), board_profiles=LEGACY)
    for role in ("fit", "validate"):
        for s in summarize(outs, role):
            print(f"{role:8s} {s.group:9s} n={s.n:2d} gmean ratio {s.gmean_ratio:.2f} error factor "
                  f"{s.error_factor:.2f}x within 1.5x {s.within_1_5x}/{s.n}")
