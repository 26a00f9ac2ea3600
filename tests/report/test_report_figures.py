"""The isolation plot: rank order, a robust y-range with what lies beyond it on the edge, nothing
clipped, and one colour per value in every panel."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex

from zoo.report import figures as F
from zoo.report import stats as S


def _entry(value, seeds, val, *, others=(), diverged=0):
    test = dict(enumerate(seeds))
    return S.Entry(value=value, config={"lr": 0.1}, select_metric="val_acc", select_score=val, test=test,
                   stats=S.mean_ci(seeds), n_configs=1 + len(others), n_diverged=diverged, cell_ids=[], best_cell=None,
                   others=[({"lr": 1.0}, 0.0, t) for t in others])


def test_robust_limits_leave_out_an_outlier_and_keep_whiskers_inside_the_fences():
    pts = [0.90, 0.91, 0.92, 0.93, 0.89, 0.10]  # one seed at chance
    lo, hi = F.robust_limits(pts, [(0.88, 0.95)])
    q1, q3 = np.percentile(pts, [25, 75])
    inside = [p for p in pts if q1 - 3 * (q3 - q1) <= p <= q3 + 3 * (q3 - q1)]
    span = max(max(inside), 0.95) - min(min(inside), 0.88)
    assert (lo, hi) == pytest.approx((0.88 - 0.08 * span, 0.95 + 0.08 * span))
    assert lo > 0.10  # the outlier is drawn on the edge, not given the range
    assert F.robust_limits([0.5, 0.5]) == pytest.approx((0.495, 0.505))


def test_isolation_plot_is_in_rank_order_unclipped_and_colours_values_alike():
    # values in rank (validation) order, not alphabetical; one problem has a value at chance and a diverged cell
    a = S.Verdict("p1", "opt", "acc", "max", [_entry("sgd", [0.90, 0.91, 0.92], 0.95, others=[0.2]),
                                              _entry("adam", [0.89, 0.93, 0.90], 0.94),
                                              _entry("momentum", [0.88, 0.10, 0.89], 0.90, diverged=2)])
    b = S.Verdict("p2", "opt", "acc", "max", [_entry("adam", [0.70, 0.71, 0.72], 0.75),
                                              _entry("sgd", [0.60, 0.62, 0.61], 0.65)])
    colours = {'"adam"': 0, '"momentum"': 1, '"sgd"': 2}
    fig = F.isolation([a, b], "opt", colours)
    ax1, ax2 = fig.axes[:2]
    assert [t.get_text() for t in ax1.get_xticklabels()] == ["sgd", "adam", "momentum"]
    assert [t.get_text() for t in ax2.get_xticklabels()] == ["adam", "sgd"]
    assert ax1.get_xticklabels()[0].get_fontweight() == "bold"
    lo, hi = ax1.get_ylim()
    assert lo > 0.2  # the seed at chance and the other setting at 0.2 are on the edge, not the range
    for e in a.entries[:2]:  # whiskers inside the axes
        assert lo <= e.stats.low and e.stats.high <= hi
    # nothing clipped: every text and the legend lie inside the figure
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    box = fig.bbox
    texts = [t for ax in fig.axes for t in (*ax.get_xticklabels(), *ax.get_yticklabels(), ax.xaxis.label,
                                            ax.yaxis.label, ax.title)] + [fig.legends[0]]
    for t in texts:
        ext = t.get_window_extent(r)
        assert box.x0 - 1 <= ext.x0 and ext.x1 <= box.x1 + 1 and box.y0 - 1 <= ext.y0 and ext.y1 <= box.y1 + 1, t
    # one colour per value in both panels: the seeds of "adam" are colour 0 in each
    def seed_colour(ax, x):
        for coll in ax.collections:
            offs = coll.get_offsets()
            if len(offs) == 3 and np.allclose(np.round(offs[:, 0]), x) and coll.get_facecolor().shape[0]:
                return to_hex(coll.get_facecolor()[0], keep_alpha=False)
        raise AssertionError("no seeds drawn")
    assert seed_colour(ax1, 1) == seed_colour(ax2, 0) == F.color(0)
    assert seed_colour(ax1, 0) == seed_colour(ax2, 1) == F.color(2)
    # the diverged cells are a red × on the worse edge
    crosses = [c for c in ax1.collections if len(c.get_offsets()) == 1 and len(c.get_facecolor())
               and to_hex(c.get_facecolor()[0]) == "#d62728"]
    assert crosses and crosses[0].get_offsets()[0][1] == pytest.approx(lo)
