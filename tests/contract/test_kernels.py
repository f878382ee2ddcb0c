"""Every op kind can be executed: a kernel for its dense form (every conv algorithm included) and for
every weight storage form the formats and passes produce, or an explicit 'unsupported' with a reason.
Every kernel documents itself and states how it relates to its reference."""

from __future__ import annotations

import pytest

import hwsim.compress  # noqa: F401  (registers passes and their payload kinds)
from hwsim.formats import FORMATS
from hwsim.ir import all_ops
from hwsim.ir.opdefs.conv import ALGORITHMS
from hwsim.kernels import KERNELS, UNSUPPORTED
from hwsim.kernels.reference import REFERENCE

WEIGHT_PRODUCT_OPS = ("conv2d", "linear")
#: storage forms that passes write on conv/linear weights besides the FORMATS registry's tensor encodings
PASS_FORMS = ("binary", "ternary", "quantized_int")


def _has(op: str, form: str) -> bool:
    return (op, form) in KERNELS or (op, form) in UNSUPPORTED


@pytest.mark.parametrize("op", [o.name for o in all_ops()])
def test_every_op_kind_runs_densely(op):
    form = "direct" if op == "conv2d" else "dense"
    assert _has(op, form), f"op {op!r} has no dense kernel and no 'unsupported' reason"
    if (op, form) in UNSUPPORTED:
        assert len(UNSUPPORTED.get((op, form))) > 10


@pytest.mark.parametrize("op", [o.name for o in all_ops()])
def test_every_op_kind_has_a_reference_definition(op):
    assert op in REFERENCE


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_conv_algorithm_has_a_kernel(algorithm):
    assert ("conv2d", algorithm) in KERNELS


@pytest.mark.parametrize("op", WEIGHT_PRODUCT_OPS)
@pytest.mark.parametrize("form", sorted(set(FORMATS.keys()) - {"dense", "huffman"} | set(PASS_FORMS)))
def test_every_storage_form_of_a_weight_product_runs(op, form):
    assert _has(op, form), f"({op}, {form}) has neither a kernel nor an 'unsupported' reason"


@pytest.mark.parametrize("key", KERNELS.keys(), ids=lambda k: f"{k[0]}-{k[1]}")
def test_kernel_definitions_are_complete(key):
    k = KERNELS.get(key)
    assert k.doc, f"kernel {key} has no docstring"
    assert k.exactness in ("exact", "tolerance")
    if k.exactness == "tolerance":
        assert k.rtol is not None and 0 < k.rtol < 1e-2
    if k.form not in ("dense", *ALGORITHMS):  # compressed forms check against their decoded operands
        assert k.reference is not None, f"compressed kernel {key} has no reference"
