"""Energy per inference of int8 ResNet-50 and MobileNetV2 on the FPGA profiles, by component, with the
chip power it implies (docs/devices.md, FPGA power).

    PYTHONPATH=. python bench/fpga_energy.py [PROFILE ...]
"""
import sys
from hwsim.compress.method import apply_method
from hwsim.frontends import load_model
from hwsim.sim import simulate
from hwsim.hardware import load_device
for dev in sys.argv[1:] or ["zcu102", "zcu104", "ultra96", "pynq-z2", "fpga-small"]:
    for model in ["resnet50", "mobilenet_v2"]:
        g = apply_method(load_model(f"workloads/{model}.json"), "int8").graph
        d = load_device(dev)
        r = simulate(g, d, check_fit=False)
        e = {k: v / 1e12 for k, v in r.energy_pj.items()}
        tot = sum(e.values())
        print(f"{dev:12s} {model:13s} {r.seconds*1e3:7.2f} ms  E={tot*1e3:7.2f} mJ  " + " ".join(f"{k}={v*1e3:.2f}" for k, v in e.items())
              + f"  P={tot/r.seconds:.2f} W  res={ {k: r.resources.get(k) for k in ('lut','ff','dsp','bram18')} }  extra={ {k: v for k, v in r.extra.items() if 'energy' in k or 'power' in k} }")
