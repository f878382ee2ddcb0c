"""Every registered op kind is defined completely: a doc, a shape rule and a counting rule that run."""

from __future__ import annotations

import pytest

from hwsim.ir import all_ops
from hwsim.ir.ops import OpGroup
from hwsim.registry import Registry


def test_registry_rejects_duplicates_and_lists_known_keys():
    r: Registry[str, int] = Registry("thing")
    r.register("a", 1)
    with pytest.raises(ValueError):
        r.register("a", 2)
    with pytest.raises(Exception, match="known: a"):
        r.get("b")


@pytest.mark.parametrize("op", all_ops(), ids=lambda o: o.name)
def test_op_is_complete(op):
    assert op.doc and isinstance(op.group, OpGroup)
    assert callable(op.infer) and callable(op.count) and callable(op.normalize)
    for slot in op.params:
        assert slot.init in {"kaiming_normal", "zeros", "ones", "uniform_fan_in", "normal_small"}
