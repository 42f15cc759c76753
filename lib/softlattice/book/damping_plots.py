"""Figure of the damping map (chapter 04): the damping ratio of each tilt family against
temperature, one line per composition, with 1 (critical damping) marked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from softlattice.book.plotting import sequential_colors


def damping_ratio_figure(ratios: pd.DataFrame, height: int = 380) -> go.Figure:
    """``ratios`` (:func:`softlattice.perovskite.workflows.damping.damping_ratio_table`:
    ``fa_fraction``, ``temperature_K``, ``family``, ``damping_ratio``, ``damping_ratio_error``) as
    one panel per family (M, R), one line per composition with error bars, a log axis, and the
    critical ratio 1 dotted: above it overdamped, below underdamped."""
    colors = sequential_colors(sorted(ratios.fa_fraction.unique()))
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("M modes", "R modes"))
    for column, family in enumerate(("M", "R"), start=1):
        for x, group in ratios[ratios.family == family].groupby("fa_fraction"):
            group = group.sort_values("temperature_K")
            figure.add_scatter(x=group.temperature_K, y=group.damping_ratio, mode="lines+markers", name=f"x = {x:g}",
                               legendgroup=f"{x:g}", showlegend=column == 1, line=dict(color=colors[x]),
                               error_y=dict(type="data", array=np.nan_to_num(group.damping_ratio_error), visible=True),
                               row=1, col=column)
        figure.add_hline(y=1.0, line=dict(color="grey", dash="dot"), row=1, col=column)
    figure.update_yaxes(type="log", title_text="damping ratio γ/2ω₀", row=1, col=1)
    figure.update_xaxes(title_text="temperature (K)")
    figure.update_layout(height=height)
    return figure
