"""The operator-graph IR: dtypes, tensor specs, the op taxonomy, graphs, lazy weights, exact counting."""

from hwsim.ir.counting import GraphCounts, NodeCounts, count_graph, count_node, op_counts
from hwsim.ir.dtypes import BF16, BINARY, FP16, FP32, INT4, INT8, TERNARY, DType, dtype, int_dtype
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.ops import MAC_GROUPS, OPS, CountInput, OpCounts, OpDef, OpGroup, ParamSlot, all_ops, op_def, register_op
from hwsim.ir.tensor import TensorSpec
from hwsim.ir.weights import WeightStore

__all__ = [
    "BF16", "BINARY", "FP16", "FP32", "INT4", "INT8", "TERNARY", "DType", "dtype", "int_dtype",
    "Node", "OpGraph", "TensorSpec", "WeightStore", "GraphCounts", "NodeCounts", "count_graph", "count_node",
    "op_counts", "MAC_GROUPS", "OPS", "CountInput", "OpCounts", "OpDef", "OpGroup", "ParamSlot", "all_ops",
    "op_def", "register_op",
]
