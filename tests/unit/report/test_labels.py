"""Point labels of the Pareto plot never overlap, however crowded the points (coincident methods, a
cluster at one latency), and each names its point(s)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsim.report.plots import _label_points, _overlaps, cluster_points, place_labels
from hwsim.report.svg import new_figure


def _no_overlaps(boxes) -> bool:
    return not any(_overlaps(a, b) for a, b in itertools.combinations(boxes, 2))


def test_crowded_cluster_is_placed_without_overlaps():
    rng = np.random.default_rng(7)
    # 40 labels whose points sit within 30 px of each other, some exactly coincident.
    anchors = [(200 + float(x), 150 + float(y)) for x, y in rng.integers(0, 30, size=(40, 2))]
    anchors[1] = anchors[0]
    sizes = [(float(w), 12.0) for w in rng.integers(20, 120, size=40)]
    obstacles = [(x - 5, y - 5, x + 5, y + 5) for x, y in anchors]
    boxes = place_labels(anchors, sizes, bounds=(0, 0, 500, 400), obstacles=obstacles)
    assert len(boxes) == len(anchors)
    assert _no_overlaps(boxes)
    assert not any(_overlaps(b, o) for b in boxes for o in obstacles)
    for b, (w, h) in zip(boxes, sizes):  # each box keeps its label's size
        assert abs((b[2] - b[0]) - w) < 1e-9 and abs((b[3] - b[1]) - h) < 1e-9


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 60), st.floats(0, 60), st.floats(5, 90)), min_size=1, max_size=25))
def test_any_crowding_gives_disjoint_boxes(points):
    anchors = [(x, y) for x, y, _ in points]
    sizes = [(w, 10.0) for _, _, w in points]
    assert _no_overlaps(place_labels(anchors, sizes, bounds=(-20, -20, 120, 120)))


def test_free_label_sits_right_next_to_its_point():
    (box,) = place_labels([(100.0, 100.0)], [(40.0, 10.0)], bounds=(0, 0, 400, 400))
    assert box[0] > 100 and box[0] - 100 < 10 and box[1] < 100 < box[3]


def test_points_a_few_pixels_apart_share_one_label():
    groups = cluster_points([(0, 0), (4, 0), (8, 1), (100, 100), (100, 103)], radius_px=6)
    assert sorted(sorted(g) for g in groups) == [[0, 1, 2], [3, 4]]  # transitive: 0 and 2 are 8 px apart


def test_labels_drawn_on_a_crowded_plot_do_not_overlap():
    """The real drawing path: the text extents measured after rendering the figure are disjoint."""
    fig, axes = new_figure(6.4, 4.2)
    ax = axes[0][0]
    names = ["baseline", "svd-lowrank", "int4-weights", "prune-90", "deep-compression", "prune-50",
             "fp16", "int8", "winograd", "ternary-twn", "binary-xnor", "tucker-lowrank"]
    xs = np.array([44.6, 43.4, 5.67, 5.64, 7.61, 23.7, 22.4, 11.2, 44.6, 4.73, 3.41, 7.72])
    ys = np.array([470, 469, 469, 469, 469, 469, 266, 121, 268, 191, 156, 77])
    ax.scatter(xs, ys)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _label_points(fig, ax, xs, ys, names)
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()]
    boxes = [tuple(t.get_window_extent(renderer).extents) for t in texts]
    assert _no_overlaps(boxes)
    shown = ", ".join(t.get_text().replace("\n", " ") for t in texts)
    assert all(shown.count(n) == 1 for n in names if n != "prune-50") and "prune-50" in shown
    # baseline and svd-lowrank (1 px apart) share one label, as do int4-weights and prune-90.
    assert any("baseline" in t.get_text() and "svd-lowrank" in t.get_text() for t in texts)
