"""Plotly figures shared by the chapters, and the renderer that makes them work in the book.

The book is static HTML without internet access at read time, so figures must not load plotly.js
from a CDN. :func:`use_book_renderer` registers a renderer that emits

- the ``application/vnd.plotly.v1+json`` bundle, which JupyterLab (and JupyterHub) draw natively,
- a ``text/html`` bundle that calls the global ``Plotly`` object, which the book loads once per
  page from ``_static/plotly.min.js`` (copied from the installed plotly package by
  :mod:`softlattice.book.build`, so the figure JSON and the library always match).

This avoids require.js, which Jupyter Book 1 does not ship and which plotly's default notebook
renderer needs.
"""

from __future__ import annotations

import itertools

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.data.colors import jmol_colors
from ase.neighborlist import neighbor_list
from plotly.io._base_renderers import MimetypeRenderer

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
