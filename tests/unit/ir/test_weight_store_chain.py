"""A weight store derived from another hangs off the root store, not off its parent: replaced arrays are
freed once no graph uses them (a chain of stores kept every intermediate weight set of a multi-pass
method alive, issue 12's compress/verify memory)."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from hwsim.ir.weights import WeightStore, WithheldWeights


def test_derived_store_hangs_off_the_root_and_keeps_earlier_replacements():
    root = WeightStore(seed=3)
    first = root.with_arrays({"a": np.ones(4, np.float32), "b": np.zeros(2, np.float32)})
    second = first.with_arrays({"a": np.full(4, 2.0, np.float32)})
    assert second.root is root
    assert np.array_equal(second.get("a", (4,), "zeros"), np.full(4, 2.0))
    assert np.array_equal(second.get("b", (2,), "zeros"), np.zeros(2))  # set on an ancestor, still there
    assert second.provided_names() == {"a", "b"}
    # a name nobody set is generated from the root's seed, once, whatever store asks
    assert second.get("c", (3,), "kaiming_normal") is root.get("c", (3,), "kaiming_normal")


def test_a_replaced_array_is_freed_with_the_store_that_held_it():
    root = WeightStore(seed=0)
    old = np.ones(1000, np.float32)
    ref = weakref.ref(old)
    first = root.with_arrays({"w": old})
    second = first.with_arrays({"w": np.zeros(1000, np.float32)})
    del old, first
    gc.collect()
    assert ref() is None  # the chain kept it alive before
    assert second.get("w", (1000,), "zeros").sum() == 0


def test_withheld_weights_refuse_every_read():
    store = WithheldWeights(seed=1)
    for read in (lambda: store.get("w", (2,), "zeros"), lambda: store.provided("w"), store.provided_names,
                 lambda: store.with_arrays({})):
        with pytest.raises(RuntimeError, match="keep_intermediate"):
            read()
