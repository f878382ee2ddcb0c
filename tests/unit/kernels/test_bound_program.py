"""The executor's bound program (hwsim/kernels/program.py), run whenever no hook watches each node,
against the hooked loop that builds every node's KernelCall: same output bits, same measured peaks,
same nodes timed; a program is reused for the same weight arrays and rebuilt for new ones."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.frontends import load_model
from hwsim.kernels import execute, resolve_weights
from hwsim.kernels.program import _PROGRAMS


def _hooked(g, x, **kw):
    return execute(g, x, on_node=lambda *a: None, **kw)


@pytest.mark.parametrize("name, hw", [("resnet18", 32), ("shufflenet_v2", 32), ("mobilenet_v2", 32)])
def test_bound_run_equals_the_hooked_run(name, hw):
    """Residual adds, channel splits and shuffles (views), depthwise blocks: fused and unfused runs
    give the hooked run's bits and peaks (the hooked run never fuses, so fusion is compared too)."""
    from testutils import WORKLOADS

    g = load_model(WORKLOADS / f"{name}.json")
    s = g.tensor(g.inputs[0])
    g = g.rebuild(inputs=[s.with_(shape=(1, s.shape[1], hw, hw))])
    x = {g.inputs[0]: np.random.default_rng(0).standard_normal(g.tensor(g.inputs[0]).shape).astype(np.float32)}
    ref = _hooked(g, x)
    for fuse in (True, False):
        r = execute(g, x, fuse=fuse)
        np.testing.assert_array_equal(r.output, ref.output)
        assert r.peak_tensor_bytes == ref.peak_tensor_bytes
        assert r.peak_activation_bytes <= ref.peak_activation_bytes  # fused: a folded node shares its buffer
        assert set(r.per_node_seconds) == set(ref.per_node_seconds)
    unfused = execute(g, x, fuse=False)
    assert unfused.peak_activation_bytes == ref.peak_activation_bytes


def test_keep_and_batch_through_the_bound_program():
    from testutils import WORKLOADS

    g = load_model(WORKLOADS / "lenet5.json")
    shape = g.tensor(g.inputs[0]).shape
    x = {g.inputs[0]: np.random.default_rng(1).standard_normal((3, *shape[1:])).astype(np.float32)}
    mid = g.nodes[2].outputs[0]
    r, ref = execute(g, x, keep=(mid,)), _hooked(g, x, keep=(mid,))
    np.testing.assert_array_equal(r.kept[mid], ref.kept[mid])
    np.testing.assert_array_equal(r.output, ref.output)
    assert r.batch == 3 and r.peak_tensor_bytes == ref.peak_tensor_bytes


def test_program_is_reused_for_the_same_weights_and_rebuilt_for_new_ones():
    from testutils import WORKLOADS

    g = load_model(WORKLOADS / "lenet5.json")
    x = {g.inputs[0]: np.ones(g.tensor(g.inputs[0]).shape, np.float32)}
    w = resolve_weights(g)
    execute(g, x, weights=w)
    execute(g, x, weights=w)
    assert len(_PROGRAMS[g].programs) == 1
    scaled = {k: (v * np.float32(2) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v) for k, v in w.items()}
    a = execute(g, x, weights=scaled).output
    assert len(_PROGRAMS[g].programs) == 2
    np.testing.assert_array_equal(a, _hooked(g, x, weights=scaled).output)  # the new weights, not the bound ones
