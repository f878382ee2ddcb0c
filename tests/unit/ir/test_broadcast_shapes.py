"""The NumPy-free broadcast rule used by shape inference agrees with ``np.broadcast_shapes``, result and
refusal alike, over every combination of small shapes (ranks 0-3, sizes 1-3)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hwsim.ir.opdefs._attrs import broadcast_shapes

_SHAPES = [s for rank in range(4) for s in itertools.product((1, 2, 3), repeat=rank)]


def _numpy(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def _ours(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return broadcast_shapes(*shapes)
    except ValueError:
        return None


def test_pairs_agree_with_numpy() -> None:
    refused = 0
    for a, b in itertools.product(_SHAPES, repeat=2):
        expected = _numpy(a, b)
        refused += expected is None
        assert _ours(a, b) == expected, (a, b)
    assert refused > 0  # the refusal branch was exercised


@pytest.mark.parametrize("shapes", [((2, 1, 3), (1, 4, 1), (3,)), ((5,), (1,), ()), ((2, 3), (3, 3), (1,))])
def test_three_operands_agree_with_numpy(shapes: tuple[tuple[int, ...], ...]) -> None:
    assert _ours(*shapes) == _numpy(*shapes)
