"""Plotly figures shared by the chapters, and the renderer that makes them work in the book.

The book is static HTML without internet access at read time, so figures must not load plotly.js
from a CDN. :func:`use_book_renderer` registers a renderer that emits

- the ``application/vnd.plotly.v1+json`` bundle, which JupyterLab (and JupyterHub) draw natively,
- a ``text/html`` bundle that calls the global ``Plotly`` object, which the book loads once per
  page from ``_static/plotly.min.js`` (copied from the installed plotly package by
  :mod:`softlattice.book.build`, so the figure JSON and the library always match).

This avoids require.js, which Jupyter Book 1 does not ship and which plotly's default notebook
renderer needs.

The rest are the figure pieces the chapters share (phase colours and the x-T phase diagram as
regions, tilt-mode and lattice traces, dispersions with the imaginary branches in view, small
multiples), the display rules behind them (which fit is resolved, which axis range matters, how an
overdamped fit is named) and reader's tables (:func:`markdown_table`). Chapters tag the cells that
call them ``hide-input``, so a page shows the analysis calls and the figures, not the scaffolding.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.data.colors import jmol_colors
from ase.neighborlist import neighbor_list
from plotly.colors import sample_colorscale
from plotly.io._base_renderers import MimetypeRenderer
from plotly.subplots import make_subplots

BOOK_RENDERER = "softlattice"


class _BookRenderer(MimetypeRenderer):
    def to_mimebundle(self, fig_dict: dict) -> dict:
        html = pio.to_html(fig_dict, include_plotlyjs=False, full_html=False,
                           config={"responsive": True, "displaylogo": False}, validate=False)
        return {"application/vnd.plotly.v1+json": fig_dict, "text/html": html}


def use_book_renderer() -> None:
    """Make plotly figures display in JupyterLab and in the static book alike."""
    pio.renderers[BOOK_RENDERER] = _BookRenderer()
    pio.renderers.default = BOOK_RENDERER
    pio.templates.default = "plotly_white"


_BOND_CUTOFFS = {frozenset(("Pb", "I")): 3.7, frozenset(("C", "N")): 1.6, frozenset(("C", "H")): 1.2,
                 frozenset(("N", "H")): 1.2}


def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(round(255 * c)):02x}" for c in rgb)


def structure_figure(atoms: Atoms, title: str = "", show_cell: bool = True) -> go.Figure:
    """Interactive 3D ball-and-stick view of a periodic structure.

    Atoms are drawn at their wrapped positions with Jmol colours and sizes from covalent radii;
    Pb-I bonds and the bonds inside the molecules are drawn when both atoms lie in the same image
    (bonds that cross the cell boundary are left out, so the view shows no spurious long lines).

    Parameters
    ----------
    atoms
        Structure to show (Å).
    title
        Figure title.
    show_cell
        Draw the edges of the periodic cell.
    """
    symbols = np.array(atoms.get_chemical_symbols())
    positions = atoms.get_positions(wrap=True)
    fig = go.Figure()

    i, j, shifts = neighbor_list("ijS", atoms, max(_BOND_CUTOFFS.values()))
    same_image = np.all(shifts == 0, axis=1) & (i < j)
    pairs = [(a, b) for a, b in zip(i[same_image], j[same_image])
             if np.linalg.norm(positions[a] - positions[b])
             <= _BOND_CUTOFFS.get(frozenset((symbols[a], symbols[b])), 0.0)]
    if pairs:
        segments = np.full((3 * len(pairs), 3), np.nan)
        segments[0::3] = positions[[a for a, _ in pairs]]
        segments[1::3] = positions[[b for _, b in pairs]]
        fig.add_trace(go.Scatter3d(x=segments[:, 0], y=segments[:, 1], z=segments[:, 2], mode="lines",
                                   line=dict(color="#888888", width=3), hoverinfo="skip",
                                   name="bonds"))
    if show_cell:
        corners = np.array(list(itertools.product([0, 1], repeat=3))) @ atoms.cell.array
        edges = [(a, b) for a, b in itertools.combinations(range(8), 2)
                 if bin(a ^ b).count("1") == 1]
        lines = np.full((3 * len(edges), 3), np.nan)
        lines[0::3] = corners[[a for a, _ in edges]]
        lines[1::3] = corners[[b for _, b in edges]]
        fig.add_trace(go.Scatter3d(x=lines[:, 0], y=lines[:, 1], z=lines[:, 2], mode="lines",
                                   line=dict(color="black", width=2), hoverinfo="skip", name="cell"))
    for symbol in sorted(set(symbols), key=lambda s: -atomic_numbers[s]):
        mask = symbols == symbol
        number = atomic_numbers[symbol]
        fig.add_trace(go.Scatter3d(
            x=positions[mask, 0], y=positions[mask, 1], z=positions[mask, 2], mode="markers",
            name=symbol, text=[f"{symbol} {k}" for k in np.flatnonzero(mask)], hoverinfo="text",
            marker=dict(size=6 + 10 * covalent_radii[number], color=_hex(jmol_colors[number]),
                        line=dict(width=0.5, color="black"))))
    fig.update_layout(title=title, height=520, margin=dict(l=0, r=0, t=40, b=0),
                      scene=dict(aspectmode="data", xaxis_title="x (Å)", yaxis_title="y (Å)",
                                 zaxis_title="z (Å)"))
    return fig


def add_identity_line(figure: go.Figure, *values, row: int | None = None, col: int | None = None) -> go.Figure:
    """Add the dotted y = x line of a parity plot, spanning the finite entries of all ``values``."""
    data = np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in values])
    data = data[np.isfinite(data)]
    if not data.size:
        raise ValueError("no finite values to span the y = x line")
    low, high = float(data.min()), float(data.max())
    where = {} if row is None else dict(row=row, col=col)
    figure.add_scatter(x=[low, high], y=[low, high], mode="lines", line=dict(color="grey", dash="dot"),
                       showlegend=False, hoverinfo="skip", **where)
    return figure


# ---------------------------------------------------------------------------------------------
# Shared figure pieces and display rules of the chapters. Every rule that decides what a reader
# sees (which colour a phase gets, which error bar is drawn, what a fit is called) lives here and
# is tested in tests/test_plotting.py.
# ---------------------------------------------------------------------------------------------

#: M (oranges) and R (blues) tilt modes about x, y, z.
MODE_COLORS = dict(M_x="#fdae6b", M_y="#e6550d", M_z="#a63603", R_x="#9ecae1", R_y="#3182bd", R_z="#08519c")
#: Pseudo-cubic lattice parameters a, b, c.
LATTICE_COLORS = dict(a="#1b9e77", b="#d95f02", c="#7570b3")
#: The phases the MA/FA seed reports, each with a colour of its own.
SEED_PHASE_COLORS = {"a0a0a0": "#c7c7c7", "a0a0c-": "#1f77b4", "a0a0c+": "#ff7f0e", "a-a-c+": "#2ca02c"}
#: Further tilt systems (domain states and the like), in this order.
OTHER_PHASE_COLORS = ("#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#525252",
                      "#393b79", "#843c39", "#7b4173", "#e7ba52", "#000000")


def _others_by_frequency(labels) -> list[str]:
    counts = Counter(label for label in labels if label not in SEED_PHASE_COLORS)
    return sorted(counts, key=lambda label: (-counts[label], label))


def phase_colors(labels) -> dict[str, str]:
    """A clearly distinct colour per Glazer label.

    ``labels`` may repeat (e.g. one entry per classification window). The seed's phases keep fixed
    colours (cubic grey, a0a0c- blue, a0a0c+ orange, a-a-c+ green) in every chapter; the other
    labels take the colours of :data:`OTHER_PHASE_COLORS` in order, the most frequent first (ties
    alphabetically), so the same data are always coloured the same way and the commonest extra
    phases get the most distinct colours. More labels than colours reuse them from the start.
    """
    labels = list(labels)
    colors = {label: SEED_PHASE_COLORS[label] for label in SEED_PHASE_COLORS if label in set(labels)}
    colors.update({label: OTHER_PHASE_COLORS[k % len(OTHER_PHASE_COLORS)]
                   for k, label in enumerate(_others_by_frequency(labels))})
    return colors


def phase_order(labels) -> list[str]:
    """Labels in legend order: the seed's phases from cubic down, then the others, most frequent
    first (as :func:`phase_colors` colours them)."""
    labels = list(labels)
    return [p for p in SEED_PHASE_COLORS if p in set(labels)] + _others_by_frequency(labels)


def sequential_colors(values, scale: str = "Viridis") -> dict:
    """A colour per distinct value, sampled in order along a sequential plotly colour scale (one
    value gets the middle of the scale)."""
    values = sorted(set(values))
    if not values:
        return {}
    positions = [0.5] if len(values) == 1 else [k / (len(values) - 1) for k in range(len(values))]
    return dict(zip(values, sample_colorscale(scale, positions)))


def phase_segments(windows, by=("fa_fraction", "kind", "replica"), temperature: str = "temperature_K",
                   phase: str = "phase"):
    """Consecutive classification windows of one run with the same phase, merged into temperature
    intervals.

    Each window stands for the interval halfway to its neighbours (the first and the last one
    extend by half the spacing to their neighbour), so the intervals of a run tile its temperature
    range without gaps.

    Returns
    -------
    One row per interval: the ``by`` columns, ``phase``, ``temperature_low``, ``temperature_high``
    (K) and ``windows`` (how many windows it merges).
    """
    rows = []
    for key, run in windows.groupby(list(by), sort=True):
        run = run.sort_values(temperature)
        t = run[temperature].to_numpy(dtype=float)
        labels = run[phase].to_numpy()
        if len(t) == 1:
            edges = np.array([t[0] - 0.5, t[0] + 0.5])
        else:
            middles = 0.5 * (t[1:] + t[:-1])
            edges = np.concatenate([[t[0] - (middles[0] - t[0])], middles, [t[-1] + (t[-1] - middles[-1])]])
        start = 0
        for k in range(1, len(t) + 1):
            if k == len(t) or labels[k] != labels[start]:
                rows.append(dict(zip(by, key if isinstance(key, tuple) else (key,)), phase=labels[start],
                                 temperature_low=float(edges[start]), temperature_high=float(edges[k]),
                                 windows=k - start))
                start = k
    return pd.DataFrame(rows, columns=[*by, "phase", "temperature_low", "temperature_high", "windows"])


def phase_diagram_figure(windows, boundary=None, height: int = 560) -> go.Figure:
    """The x-T phase diagram as coloured regions: per composition one strip per ramp (heating
    ramps left, cooling right, replicas side by side), each strip cut into the temperature
    intervals of its phases (:func:`phase_segments`), one colour per phase (:func:`phase_colors`),
    hatched where an axis carries both M and R (labels with ``*``).

    Parameters
    ----------
    windows
        Classification windows: ``fa_fraction``, ``kind``, ``replica``, ``temperature_K``, ``phase``.
    boundary
        Optional cubic-boundary temperatures to mark: ``fa_fraction``, ``kind``, ``temperature_K``,
        ``error_K`` (drawn at the middle of the heating or cooling strips; triangles up for heating,
        open triangles down for cooling).
    """
    segments = phase_segments(windows)
    colors, order = phase_colors(windows.phase), phase_order(windows.phase)
    runs = sorted({(k, r) for k, r in zip(windows.kind, windows.replica)},
                  key=lambda run: (run[0] != "heating", run[1]))
    compositions = np.sort(windows.fa_fraction.unique())
    spacing = float(np.min(np.diff(compositions))) if len(compositions) > 1 else 1.0
    width = 0.75 * spacing / (len(runs) + 0.5)
    centre = (len(runs) - 1) / 2
    offsets = {run: (k - centre) * width + (0.25 * width if run[0] != "heating" else -0.25 * width)
               for k, run in enumerate(runs)}
    figure = go.Figure()
    for label in order:
        part = segments[segments.phase == label]
        x = part.fa_fraction + [offsets[(k, r)] for k, r in zip(part.kind, part.replica)]
        hover = [f"x = {a:g}, {k}, replica {r}: {label}, {lo:.0f}-{hi:.0f} K"
                 for a, k, r, lo, hi in zip(part.fa_fraction, part.kind, part.replica, part.temperature_low,
                                            part.temperature_high)]
        figure.add_bar(x=x, y=part.temperature_high - part.temperature_low, base=part.temperature_low,
                       width=0.92 * width, name=label, hovertext=hover, hoverinfo="text",
                       marker=dict(color=colors[label], line=dict(width=0),
                                   pattern=dict(shape="/" if "*" in label else "", fgcolor="white")))
    if boundary is not None and len(boundary):
        for kind, symbol, fill in (("heating", "triangle-up", "black"), ("cooling", "triangle-down", "white")):
            chosen = boundary[boundary.kind == kind]
            group = [offsets[run] for run in runs if run[0] == kind]
            if not len(chosen) or not group:
                continue
            figure.add_scatter(x=chosen.fa_fraction + np.mean(group), y=chosen.temperature_K,
                               error_y=dict(array=chosen.error_K, color="black", thickness=1.5), mode="markers",
                               name=f"cubic boundary, {kind}",
                               marker=dict(symbol=symbol, size=11, color=fill, line=dict(color="black", width=1.5)))
    figure.update_layout(barmode="overlay", bargap=0, height=height, xaxis_title="FA fraction x",
                         yaxis_title="temperature (K)", legend=dict(traceorder="normal"),
                         xaxis=dict(tickvals=list(compositions), ticktext=[f"{x:g}" for x in compositions]))
    return figure


def add_window_traces(figure: go.Figure, windows, colors: dict[str, str], column: str, row: int, col: int,
                      dash: str = "solid", suffix: str = "", showlegend: bool = True) -> go.Figure:
    """One line per key of ``colors`` against temperature, from the window column ``column``
    formatted with the key (e.g. ``'abs_Q_{}'``), legend-grouped by key."""
    for key, color in colors.items():
        figure.add_scatter(x=windows.temperature_K, y=windows[column.format(key)], mode="lines",
                           line=dict(color=color, dash=dash), name=f"{key}{suffix}", legendgroup=key,
                           showlegend=showlegend, row=row, col=col)
    return figure


def add_mode_traces(figure: go.Figure, windows, row: int, col: int, dash: str = "solid", suffix: str = "",
                    showlegend: bool = True) -> go.Figure:
    """Window means of the six tilt-mode amplitudes |Q| against temperature (:data:`MODE_COLORS`)."""
    return add_window_traces(figure, windows, MODE_COLORS, "abs_Q_{}", row, col, dash, suffix, showlegend)


def add_lattice_traces(figure: go.Figure, windows, row: int, col: int, dash: str = "solid", suffix: str = "",
                       showlegend: bool = True) -> go.Figure:
    """Pseudo-cubic lattice parameters a, b, c against temperature (:data:`LATTICE_COLORS`)."""
    return add_window_traces(figure, windows, LATTICE_COLORS, "{}_A", row, col, dash, suffix, showlegend)


def ramp_modes_figure(windows, fa_fractions, replica: int = 0, height_per_row: int = 330) -> go.Figure:
    """Per composition (a row each): window means of the six |Q| (left) and the pseudo-cubic
    lattice parameters (right) against temperature, heating solid and cooling dashed, of one
    replica's ramps (``windows`` as from :func:`softlattice.perovskite.workflows.phase_diagram.analyse_sweep`)."""
    from plotly.subplots import make_subplots

    fa_fractions = [float(x) for x in fa_fractions]
    figure = make_subplots(rows=len(fa_fractions), cols=2, shared_xaxes=True, horizontal_spacing=0.08,
                           subplot_titles=[f"{name}, x = {x:g}" for x in fa_fractions for name in ("modes", "lattice")])
    for row, x in enumerate(fa_fractions, start=1):
        for kind, dash in (("heating", "solid"), ("cooling", "dash")):
            ramp = windows[(windows.fa_fraction == x) & (windows.kind == kind) & (windows.replica == replica)]
            legend = row == 1 and kind == "heating"
            add_mode_traces(figure, ramp, row, 1, dash, showlegend=legend)
            add_lattice_traces(figure, ramp, row, 2, dash, showlegend=legend)
        figure.update_yaxes(title_text="|Q| (Å)", row=row, col=1)
        figure.update_yaxes(title_text="a, b, c (Å)", row=row, col=2)
    figure.update_xaxes(title_text="temperature (K)", row=len(fa_fractions))
    figure.update_layout(height=height_per_row * len(fa_fractions))
    return figure


def resolved(values, errors):
    """Whether each fitted value is resolved: a finite error smaller than the value's magnitude.
    Unresolved fits are marked in figures instead of drawing an error bar that spans the axis."""
    values, errors = np.asarray(values, dtype=float), np.asarray(errors, dtype=float)
    return np.isfinite(values) & np.isfinite(errors) & (errors < np.abs(values))


def padded_range(*values, pad: float = 0.05) -> list[float]:
    """[low, high] spanning the finite entries of ``values`` with ``pad`` of the span added on each
    side (an axis range set from the data that matter, not from the longest error bar)."""
    data = np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in values])
    data = data[np.isfinite(data)]
    if not data.size:
        raise ValueError("no finite values to set a range from")
    low, high = float(data.min()), float(data.max())
    margin = pad * (high - low) if high > low else max(abs(high), 1.0) * pad
    return [low - margin, high + margin]


def small_multiples(table, facet: str, series: str, x: str, y: str, facet_label: str | None = None,
                    series_label: str = "{:g}", legend_title: str | None = None, columns: int = 3,
                    panel_height: int = 220, scale: str = "Viridis", **line) -> go.Figure:
    """One panel per value of ``facet``, one line per value of ``series`` in each, coloured along a
    sequential scale (:func:`sequential_colors`) and listed once in the legend; every panel on the
    same axes. For many overlaid runs (e.g. compositions x temperatures), so no panel holds more
    than a few lines. ``facet_label`` formats a panel title (default ``'<facet> = {:g}'``).
    """
    facets = sorted(table[facet].unique())
    rows = int(np.ceil(len(facets) / columns))
    colors = sequential_colors(table[series], scale)
    facet_label = facet_label or f"{facet} = {{:g}}"
    figure = make_subplots(rows=rows, cols=columns, shared_xaxes="all", shared_yaxes="all",
                           subplot_titles=[facet_label.format(v) for v in facets],
                           horizontal_spacing=0.04, vertical_spacing=0.12 / max(rows - 1, 1))
    shown = set()
    for k, value in enumerate(facets):
        for name, part in table[table[facet] == value].groupby(series, sort=True):
            figure.add_scatter(x=part[x], y=part[y], mode="lines", name=series_label.format(name),
                               legendgroup=str(name), showlegend=name not in shown,
                               line=dict(color=colors[name], **({"width": 1} | line)),
                               row=k // columns + 1, col=k % columns + 1)
            shown.add(name)
    figure.update_layout(height=panel_height * rows + 80, legend_title_text=legend_title or series)
    return figure


def _cell(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer():
            return f"{value:.0f}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")  # -1.997 at two digits is "-2", not "-2."
    return str(value).replace("\n", " ")


class BookTable:
    """A small table for the book: HTML (what Jupyter Book renders, since it renders Markdown
    outputs as CommonMark, without tables) and Markdown (for Jupyter and for reading the source)."""

    def __init__(self, markdown: str, html: str) -> None:
        self.markdown, self.html = markdown, html

    def _repr_markdown_(self) -> str:
        return self.markdown

    def _repr_html_(self) -> str:
        return self.html

    @property
    def data(self) -> str:
        return self.markdown


def markdown_table(table, digits: int = 3, index: bool = False) -> BookTable:
    """A DataFrame as a reader's table: every cell as text (long cells wrap, nothing is cut with
    '...'), floats to at most ``digits`` decimals (whole numbers without any, no trailing zeros),
    missing values as a dash. Displays as HTML in the book and as Markdown in Jupyter."""
    if index:
        table = table.reset_index()
    text = pd.DataFrame([[_cell(v, digits) for v in row] for row in table.itertuples(index=False)],
                        columns=[_cell(c, digits) for c in table.columns])
    def escape(cell):
        return cell.replace("|", "\\|")
    lines = ["| " + " | ".join(escape(c) for c in text.columns) + " |",
             "|" + "|".join("---" for _ in text.columns) + "|",
             *("| " + " | ".join(escape(c) for c in row) + " |" for row in text.itertuples(index=False))]
    html = text.to_html(index=False, escape=True, border=0, classes="dataframe")
    return BookTable("\n".join(lines), html)


def describe_dho_fit(w0: float, gamma: float, w0_error: float, gamma_error: float, regime: str) -> dict[str, str]:
    """How a DHO fit is shown: ω0 and γ with errors when both are determined, else the bounds the
    fit does set.

    Deep in the overdamped limit only the slow decay rate λ = γ/2 − sqrt(γ²/4 − ω0²) of the ACF is
    determined (≈ ω0²/γ); ω0 and γ then carry errors larger than themselves. Any overdamped
    oscillator has ω0 ≥ λ (ω0² = λ λ₊ with λ₊ ≥ λ) and γ = λ + λ₊ ≥ 2λ, so such a fit is shown as
    'γ unresolved (> 2λ)', never as the meaningless fitted number.

    Returns
    -------
    ``w0``, ``gamma``, ``regime`` as text (rad/ps).
    """
    if regime in ("run failed", "no fit") or not np.isfinite(w0) or not np.isfinite(gamma):
        return dict(w0="–", gamma="–", regime=regime)
    if regime == "overdamped (limit)":
        rate = slow_decay_rate(w0, gamma)
        return dict(w0=f"unresolved (> {rate:.2g})", gamma=f"unresolved (> {2 * rate:.2g})",
                    regime=f"overdamped, γ unresolved (> {2 * rate:.2g})")
    return dict(w0=f"{w0:.2f} ± {w0_error:.2f}", gamma=f"{gamma:.2f} ± {gamma_error:.2f}", regime=regime)


def slow_decay_rate(w0: float, gamma: float) -> float:
    """The slower decay rate γ/2 − sqrt(γ²/4 − ω0²) of an overdamped oscillator (NaN when it is
    underdamped), written as ω0² / (γ/2 + sqrt(γ²/4 − ω0²)) so it stays exact deep in the limit."""
    discriminant = 0.25 * gamma ** 2 - w0 ** 2
    if discriminant < 0:
        return float("nan")
    return float(w0 ** 2 / (0.5 * gamma + np.sqrt(discriminant)))


def dho_fit_table(fits, keys=("fa_fraction", "temperature_K", "family")):
    """The DHO fits of a damping table as a reader's table (:func:`describe_dho_fit` per row)."""
    rows = [dict({k: getattr(r, k) for k in keys},
                 **describe_dho_fit(r.w0, r.gamma, r.w0_error, r.gamma_error, r.regime))
            for r in fits.itertuples()]
    return pd.DataFrame(rows).rename(columns={"w0": "ω0 (rad/ps)", "gamma": "γ (rad/ps)"})


def low_frequency_range(frequencies, upper_THz: float, pad: float = 0.1) -> list[float]:
    """[low, high] of a dispersion axis that shows the imaginary branches (negative frequencies)
    and the band up to ``upper_THz``: low is the most negative frequency with ``pad`` of it added
    (or -``pad`` THz when nothing is imaginary), so an instability is never squeezed into a sliver
    by the high-frequency branches."""
    frequencies = np.asarray(frequencies, dtype=float)
    frequencies = frequencies[np.isfinite(frequencies)]
    lowest = float(frequencies.min()) if frequencies.size else 0.0
    return [lowest * (1 + pad) if lowest < 0 else -pad, float(upper_THz)]


def dispersion_figure(bands, group: str | None = None, colors: dict | None = None, y_range=None,
                      height: int = 420) -> go.Figure:
    """Phonon dispersion from a :func:`softlattice.analysis.phonons.band_structure` table, with the
    high-symmetry points as ticks and a line at zero (negative frequencies are imaginary).

    Without ``group`` every band is one line, orange when it dips below zero and blue otherwise;
    with ``group`` (a column such as ``model``) the bands of each value share the colour
    ``colors[value]`` and one legend entry.
    """
    figure = go.Figure()
    keys = [group, "band"] if group else ["band"]
    for key, line in bands.groupby(keys, sort=True):
        if group:
            value, band = key
            color, name, legend = colors[value], str(value), bool(band == bands[bands[group] == value].band.min())
        else:
            value = None
            imaginary = line.frequency_THz.min() < 0
            color, name, legend = ("#e6550d" if imaginary else "#3182bd"), None, False
        figure.add_scatter(x=line.distance, y=line.frequency_THz, mode="lines", line=dict(color=color, width=1),
                           name=name, legendgroup=name, showlegend=legend, hoverinfo="y")
    segments = list(dict.fromkeys(bands.segment))
    ticks = bands.groupby("segment", sort=False).distance.min().tolist() + [bands.distance.max()]
    labels = [s.split("-")[0] for s in segments] + [segments[-1].split("-")[1]]
    figure.update_xaxes(tickvals=ticks, ticktext=labels, title_text="wave vector", showgrid=True)
    figure.update_yaxes(title_text="frequency (THz)", range=y_range)
    figure.add_hline(y=0, line=dict(color="gray"))
    figure.update_layout(height=height)
    return figure


def coexistence_figure(states, run_keys=("fa_fraction", "temperature_K", "replica"), height: int = 420) -> go.Figure:
    """R share of the tilted blocks against time, one line per coexistence run (colour by FA
    fraction); 1 means the a0a0c- half took the cell, 0 the a0a0c+ half. ``states``: the
    per-window table of :func:`softlattice.perovskite.coexistence.block_states` with the run keys."""
    figure = go.Figure()
    colors = sequential_colors(sorted(set(states.fa_fraction)))
    for key, run in states.groupby(list(run_keys)):
        labels = dict(zip(run_keys, key))
        figure.add_scatter(x=run.time_ps, y=run.r_share, mode="lines", line=dict(color=colors[labels["fa_fraction"]]),
                           name=", ".join(f"{k.split('_')[0]} {v:g}" for k, v in labels.items()))
    figure.add_hline(y=0.5, line=dict(color="grey", dash="dot"))
    figure.update_layout(height=height, xaxis_title="time (ps)", yaxis_title="R share of tilted blocks",
                         yaxis_range=[-0.05, 1.05])
    return figure


def layer_map_figure(run, height: int = 320) -> go.Figure:
    """R share per layer of blocks along the tilt axis (rows) against time (columns) for one run
    (its rows of :func:`softlattice.perovskite.coexistence.block_states`)."""
    layers = sorted((c for c in run.columns if c.startswith("r_share_layer")), key=lambda c: int(c[13:]))
    figure = go.Figure(go.Heatmap(x=run.time_ps, y=list(range(len(layers))), z=run[layers].to_numpy().T,
                                  zmin=0, zmax=1, colorscale="RdBu", colorbar=dict(title="R share")))
    figure.update_layout(height=height, xaxis_title="time (ps)", yaxis_title="block layer along z")
    return figure
