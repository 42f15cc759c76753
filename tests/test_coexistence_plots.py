"""Figures of the coexistence runs, on synthetic tables."""

import numpy as np
import pandas as pd
import pytest

from softlattice.book.coexistence_plots import layer_map, r_share_figure, winner_figure


def states():
    rows = []
    for x, temperature, kind in ((0.0, 250.0, "coexistence"), (1.0, 250.0, "coexistence"), (0.0, 300.0, "quench")):
        for replica in (0, 1):
            for t in np.arange(1.0, 6.0):
                grown = min(1.0, 0.5 + 0.1 * t) if x == 0.0 else max(0.0, 0.5 - 0.1 * t)
                rows.append(dict(fa_fraction=x, temperature_K=temperature, kind=kind, replica=replica, time_ps=t,
                                 r_share=grown, r_share_layer0=1.0, r_share_layer1=grown, r_share_layer2=np.nan))
    return pd.DataFrame(rows)


def test_one_panel_per_kind_and_temperature_and_one_line_per_run():
    figure = r_share_figure(states())
    assert len(figure.layout.annotations) >= 2  # the two panel titles (and the 1/2 lines' none)
    assert len(figure.data) == 6 and sum(trace.showlegend for trace in figure.data) == 2


def test_the_mpb_band_is_drawn_only_when_the_fit_resolved_one():
    outcomes = pd.DataFrame(dict(fa_fraction=[0.0, 0.5, 1.0], temperature_K=250.0, kind="coexistence", replica=0,
                                 r_share=[0.9, 0.5, 0.1], winner=["a0a0c-", "undecided", "a0a0c+"]))
    resolved = winner_figure(outcomes, dict(mpb=dict(temperature_K=250.0, center=0.5, low=0.4, high=0.6)))
    unresolved = winner_figure(outcomes, dict(mpb=None))
    assert len(resolved.layout.shapes) == 3 and len(unresolved.layout.shapes) == 1  # band, centre, 1/2 line


def test_the_layer_map_keeps_only_layers_with_ordered_blocks_and_refuses_a_missing_run():
    figure = layer_map(states(), 1.0, 250.0, replica=1)
    assert figure.data[0].z.shape == (2, 5)
    with pytest.raises(ValueError, match="no coexistence run at x = 0.5"):
        layer_map(states(), 0.5, 250.0)
