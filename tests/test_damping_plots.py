"""The damping-map figure on a synthetic table."""

import pandas as pd

from softlattice.book.damping_plots import damping_ratio_figure


def test_one_line_per_composition_and_family_with_the_critical_ratio_marked():
    ratios = pd.DataFrame([dict(fa_fraction=x, temperature_K=t, family=f, damping_ratio=2.0 - t / 600,
                                damping_ratio_error=0.1)
                           for x in (0.0, 0.5) for f in ("M", "R") for t in (400, 500, 600)])
    figure = damping_ratio_figure(ratios)
    assert len(figure.data) == 4 and sum(trace.showlegend for trace in figure.data) == 2
    assert all(list(trace.x) == [400, 500, 600] for trace in figure.data)
    assert len(figure.layout.shapes) == 2  # the ratio 1 in both panels
