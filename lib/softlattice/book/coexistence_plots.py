"""Figures of the fixed-temperature coexistence runs (chapters 02 and 03).

Inputs are the tables of :func:`softlattice.perovskite.workflows.coexistence.load_coexistence`:
``states`` (one row per run and 1 ps window: ``time_ps``, ``r_share``, ``r_share_layer<k>``, and the
run's ``fa_fraction``, ``temperature_K``, ``kind``, ``replica``), ``outcomes`` (one row per run:
``r_share`` over its last picoseconds, ``winner``) and ``summary`` (the MPB fit).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from softlattice.book.plotting import sequential_colors

RUN = ["fa_fraction", "temperature_K", "kind", "replica"]


def r_share_figure(states: pd.DataFrame, height: int = 380) -> go.Figure:
    """R share of the ordered blocks, R / (R + M), against time: one panel per run kind and
    temperature, one line per run coloured by composition; 1/2 (dotted) is where a coexistence
    cell started."""
    panels = sorted({(kind, t) for kind, t in zip(states.kind, states.temperature_K)}, key=lambda p: (p[0], p[1]))
    colors = sequential_colors(sorted(states.fa_fraction.unique()))
    figure = make_subplots(rows=1, cols=len(panels), shared_yaxes=True,
                           subplot_titles=[f"{kind}, {t:g} K" for kind, t in panels])
    shown = set()
    for column, (kind, temperature) in enumerate(panels, start=1):
        panel = states[(states.kind == kind) & (states.temperature_K == temperature)]
        for (x, replica), run in panel.groupby(["fa_fraction", "replica"]):
            figure.add_scatter(x=run.time_ps, y=run.r_share, mode="lines", name=f"x = {x:g}", legendgroup=f"{x:g}",
                               showlegend=x not in shown, line=dict(color=colors[x], width=1.5),
                               hovertext=f"x = {x:g}, replica {replica}", row=1, col=column)
            shown.add(x)
        figure.add_hline(y=0.5, line=dict(color="grey", dash="dot"), row=1, col=column)
    figure.update_xaxes(title_text="time (ps)")
    figure.update_yaxes(title_text="R share of ordered blocks", range=[-0.02, 1.02], row=1, col=1)
    figure.update_layout(height=height)
    return figure


def winner_figure(outcomes: pd.DataFrame, summary: dict, height: int = 380) -> go.Figure:
    """Final R share of every coexistence run against composition, one marker colour per
    temperature (replicas side by side), with the MPB centre and its interval where the fit in
    ``summary`` resolved one."""
    runs = outcomes[(outcomes.kind == "coexistence") & outcomes.r_share.notna()]
    colors = sequential_colors(sorted(runs.temperature_K.unique()), "Plasma")
    figure = go.Figure()
    for temperature, group in runs.groupby("temperature_K"):
        figure.add_scatter(x=group.fa_fraction, y=group.r_share, mode="markers", name=f"{temperature:g} K",
                           marker=dict(size=9, color=colors[temperature]),
                           hovertext=[f"replica {r}: {w}" for r, w in zip(group.replica, group.winner)])
    mpb = summary.get("mpb")
    if mpb:
        figure.add_vrect(x0=mpb["low"], x1=mpb["high"], fillcolor="#31a354", opacity=0.15, line_width=0)
        figure.add_vline(x=mpb["center"], line=dict(color="#31a354"),
                         annotation_text=f"MPB at {mpb['temperature_K']:g} K")
    figure.add_hline(y=0.5, line=dict(color="grey", dash="dot"))
    figure.update_layout(height=height, xaxis_title="FA fraction x", yaxis_title="final R share (a0a0c- blocks)",
                         yaxis_range=[-0.02, 1.02])
    return figure


def layer_map(states: pd.DataFrame, fa_fraction: float, temperature: float, replica: int = 0,
              kind: str = "coexistence", height: int = 320) -> go.Figure:
    """R share per layer of blocks along the tilt axis (rows) against time (columns) for one run:
    the seed's Fig. 4a layering, as it develops. Layers with no ordered block are blank."""
    run = states[(states.fa_fraction == fa_fraction) & (states.temperature_K == temperature)
                 & (states.replica == replica) & (states.kind == kind)]
    if run.empty:
        raise ValueError(f"no {kind} run at x = {fa_fraction}, {temperature} K, replica {replica} in the states")
    layers = sorted((c for c in run.columns if c.startswith("r_share_layer") and run[c].notna().any()),
                    key=lambda c: int(c.removeprefix("r_share_layer")))
    figure = go.Figure(go.Heatmap(x=run.time_ps, y=list(range(len(layers))), z=run[layers].to_numpy().T,
                                  zmin=0, zmax=1, colorscale="RdBu_r", colorbar=dict(title="R share")))
    figure.update_layout(height=height, xaxis_title="time (ps)", yaxis_title="block layer along the tilt axis",
                         title=f"x = {fa_fraction:g}, {temperature:g} K, replica {replica}")
    return figure
