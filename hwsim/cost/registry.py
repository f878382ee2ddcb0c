"""``COST_MODELS[device kind]``: the cost model of each device kind, and the contract they share.

A cost model maps one prepared op (``OpWork``, device-independent numbers read once from the graph's
annotations) and a ``DeviceProfile`` to an ``OpCost``. Rules are keyed by op group, so a new op kind in
a known group is costed by its group's rule; an op kind a model cannot cost raises
``UnsupportedOpError`` (nothing is silently costed as 0). Models that need the whole graph (the FPGA
dataflow pipeline balances all layers at once) override ``cost_graph``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from hwsim.errors import HwsimError
from hwsim.registry import LazyRegistry

if TYPE_CHECKING:
    from hwsim.cost.types import OpCost
    from hwsim.cost.work import OpWork, Workload
    from hwsim.hardware.profile import DeviceProfile


class UnsupportedOpError(HwsimError):
    """A device kind has no cost rule for an op kind (the message names the node and the device)."""


Rule = Callable[["OpWork", "DeviceProfile"], "OpCost"]


class CostModel:
    """Base of every device kind's cost model: a rule per op group, optional per-op-kind rules, and
    explicit unsupported op kinds with the reason."""

    kind: str = ""
    #: rule per op group value ("conv", "dense", ...)
    group_rules: Mapping[str, Rule] = {}
    #: rule per op kind, taking precedence over the group rule
    op_rules: Mapping[str, Rule] = {}
    #: op kinds this device kind cannot run, with the reason
    unsupported: Mapping[str, str] = {}

    def rule_for(self, op: str, group: str) -> Rule:
        """The rule that costs ``op``; raises UnsupportedOpError if there is none."""
        if op in self.unsupported:
            raise UnsupportedOpError(f"{self.kind} devices cannot run op {op!r}: {self.unsupported[op]}")
        rule = self.op_rules.get(op) or self.group_rules.get(group)
        if rule is None:
            raise UnsupportedOpError(f"no {self.kind} cost rule for op {op!r} (group {group!r}); "
                                     f"groups with rules: {', '.join(sorted(self.group_rules))}")
        return rule

    def supports(self, op: str, group: str) -> bool:
        try:
            self.rule_for(op, group)
        except UnsupportedOpError:
            return False
        return True

    def cost_op(self, work: "OpWork", device: "DeviceProfile") -> "OpCost":
        try:
            rule = self.rule_for(work.op, work.group)
        except UnsupportedOpError as e:
            raise e.located(where=f"node {work.node!r} on {device.name}") from None
        return rule(work, device)

    def cost_graph(self, workload: "Workload", device: "DeviceProfile") -> tuple["OpCost", ...]:
        return tuple(self.cost_op(w, device) for w in workload.ops)


#: The built-in cost models, each registered by its module when first asked for (a device kind imports
#: only its own model: the FPGA design search is not loaded to cost a systolic array).
COST_MODELS: LazyRegistry[str, CostModel] = LazyRegistry("cost model (device kind)", {
    "cpu": "hwsim.cost.cpu", "gpu": "hwsim.cost.gpu", "fpga": "hwsim.cost.fpga", "systolic": "hwsim.cost.systolic",
})


def cost_model(kind: str) -> CostModel:
    return COST_MODELS.get(kind)


def register_cost_model(model: CostModel) -> CostModel:
    return COST_MODELS.register(model.kind, model)
