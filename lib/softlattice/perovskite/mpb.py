"""The morphotropic phase boundary: M/R activation vs composition, its centre, and layering.

Units: mode amplitudes in Å, compositions as the FA fraction x.

The seed normalises the activation of the R and M modes along the primary tilt axis at 250 K and
calls the composition where the two are equal the centre of the MPB (27 % FA). Here the R share
``|Q_R| / (|Q_R| + |Q_M|)`` along the primary axis is fitted with a logistic function of x, whose
midpoint is the centre; a bootstrap over the data points (replicas and compositions) gives its
confidence interval. Layering is read from local amplitudes per 2x2x2 block
(:func:`softlattice.perovskite.modes.project_modes_local`): each layer of blocks perpendicular to the primary
axis is assigned M, R, both or neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from softlattice.perovskite.modes import MODES, iodine_displacements, map_framework, project_modes_local


def r_share(m_amplitudes: np.ndarray, r_amplitudes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R share along the primary tilt axis, and that axis.

    Parameters
    ----------
    m_amplitudes, r_amplitudes
        Mean |Q| of the M and R modes about x, y, z, shape (..., 3), Å.

    Returns
    -------
    ``|Q_R| / (|Q_R| + |Q_M|)`` about the axis with the largest total tilt, and that axis (0, 1, 2).
    """
    m, r = np.abs(np.asarray(m_amplitudes, dtype=float)), np.abs(np.asarray(r_amplitudes, dtype=float))
    axis = np.argmax(m + r, axis=-1)
    m_primary = np.take_along_axis(m, axis[..., None], -1)[..., 0]
    r_primary = np.take_along_axis(r, axis[..., None], -1)[..., 0]
    return r_primary / (r_primary + m_primary), axis


def logistic(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """1 at x << center falling to 0 at x >> center (R dominant on the MA side)."""
    return 1.0 / (1.0 + np.exp((np.asarray(x, dtype=float) - center) / width))


@dataclass(frozen=True)
class MPBFit:
    """Centre and width of the R-to-M crossover, with a bootstrap interval of the centre."""

    center: float
    width: float
    center_low: float
    center_high: float
    bootstrap_samples: int


def fit_mpb(fa_fractions: np.ndarray, shares: np.ndarray, bootstrap: int = 500, confidence: float = 0.9,
            seed: int = 0) -> MPBFit:
    """Fit :func:`logistic` to the R share vs x; bootstrap over points for the centre's interval.

    Parameters
    ----------
    fa_fractions, shares
        One point per run (replicas as separate points).
    bootstrap
        Number of bootstrap resamples.
    confidence
        Central probability of the reported interval.
    """
    x, y = np.asarray(fa_fractions, dtype=float), np.asarray(shares, dtype=float)
    if len(np.unique(x)) < 3:
        raise ValueError(f"the MPB fit needs at least 3 distinct compositions, got {sorted(set(x.tolist()))}")
    if not (y.max() > 0.5 > y.min()):
        raise ValueError(f"the R share ranges over [{y.min():.2f}, {y.max():.2f}] and never crosses 1/2: "
                         "no crossover inside these compositions")

    def fit(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
        values, _ = curve_fit(logistic, xs, ys, p0=(float(np.median(xs)), 0.05),
                              bounds=([xs.min() - 0.5, 1e-3], [xs.max() + 0.5, 1.0]), maxfev=10000)
        return float(values[0]), float(values[1])

    center, width = fit(x, y)
    if not x.min() <= center <= x.max() or width > 0.99:
        raise ValueError(f"no crossover resolved: the best logistic has its centre at x = {center:.2f} and width "
                         f"{width:.2f} (the data do not go from R-dominated to M-dominated within "
                         f"[{x.min():g}, {x.max():g}])")
    rng = np.random.default_rng(seed)
    centers = []
    for _ in range(bootstrap):
        pick = rng.integers(0, len(x), len(x))
        if len(np.unique(x[pick])) < 3:
            continue
        try:
            centers.append(fit(x[pick], y[pick])[0])
        except RuntimeError:
            continue
    tail = 50 * (1 - confidence)
    low, high = np.percentile(centers, [tail, 100 - tail]) if centers else (np.nan, np.nan)
    return MPBFit(center, width, float(low), float(high), len(centers))


def layer_assignment(profile: np.ndarray, axis: int, m_threshold: float, r_threshold: float) -> list[str]:
    """Label each layer 'M', 'R', 'M+R' or '0' from its mean |Q| about the primary axis.

    Parameters
    ----------
    profile
        Layer profile of one frame or a time average, shape (6, n_layers), modes ordered as
        :data:`softlattice.perovskite.modes.MODES` (:func:`softlattice.perovskite.modes.layer_profile`).
    axis
        Primary tilt axis (0, 1, 2): the M and R modes about it are compared.
    m_threshold, r_threshold
        Activation thresholds, Å.
    """
    m_active = profile[axis] > m_threshold
    r_active = profile[3 + axis] > r_threshold
    return ["M+R" if m and r else "M" if m else "R" if r else "0" for m, r in zip(m_active, r_active)]


def r_share_table(windows, temperatures, kind: str = "cooling"):
    """R share along the primary axis in the window nearest each temperature of every ramp of
    ``kind`` (a :func:`softlattice.perovskite.workflows.phase_diagram.analyse_sweep` windows table).

    Returns
    -------
    DataFrame with ``fa_fraction``, ``replica``, ``repeat``, ``rate_K_per_ps``, ``temperature_K``
    (target), ``window_K`` (the window's mean temperature), ``r_share``, ``axis``.
    """
    rows = []
    chosen = windows[windows.kind == kind]
    keys = ["fa_fraction", "replica", "repeat", "rate_K_per_ps"]
    for key, ramp in chosen.groupby(keys):
        for temperature in temperatures:
            window = ramp.iloc[int(np.argmin(np.abs(ramp.temperature_K.to_numpy() - temperature)))]
            m = window[[f"abs_Q_M_{a}" for a in "xyz"]].to_numpy(dtype=float)
            r = window[[f"abs_Q_R_{a}" for a in "xyz"]].to_numpy(dtype=float)
            share, axis = r_share(m, r)
            rows.append(dict(zip(keys, key), temperature_K=float(temperature), window_K=float(window.temperature_K),
                             r_share=float(share), axis=int(axis)))
    return pd.DataFrame(rows)


def block_modes(atoms, block: int = 2):
    """Tilt-mode amplitudes of every ``block``^3-cell block of one structure, and which mode
    dominates about the structure's primary tilt axis.

    Returns
    -------
    DataFrame with block indices ``i``, ``j``, ``k``, amplitudes ``Q_M_x`` ... ``Q_R_z`` (Å),
    ``axis`` (the primary axis of the whole structure), ``dominant`` ('M' or 'R' about it) and
    ``strength`` (the larger of the two |Q|).
    """

    framework = map_framework(atoms)
    local = project_modes_local(iodine_displacements(atoms, framework), framework, block)[0]  # (6, g1, g2, g3)
    totals = np.abs(local).reshape(6, -1).mean(axis=1)
    axis = int(np.argmax(totals[:3] + totals[3:]))
    grid = local.shape[1:]
    i, j, k = np.meshgrid(*[np.arange(n) for n in grid], indexing="ij")
    frame = pd.DataFrame({"i": i.ravel(), "j": j.ravel(), "k": k.ravel()})
    for index, mode in enumerate(MODES):
        frame[f"Q_{mode}"] = local[index].ravel()
    m, r = np.abs(local[axis]).ravel(), np.abs(local[3 + axis]).ravel()
    frame["axis"] = axis
    frame["dominant"] = np.where(m >= r, "M", "R")
    frame["strength"] = np.maximum(m, r)
    return frame


def layer_table(blocks, axis: int | None = None):
    """Mean |Q_M| and |Q_R| about the primary axis per layer of blocks stacked along ``axis``
    (default: the primary axis itself, as in the seed), and the share of M-dominated blocks.

    Parameters
    ----------
    blocks
        Output of :func:`block_modes`.
    axis
        Stacking direction (0, 1, 2).
    """
    primary = int(blocks.axis.iloc[0])
    stacking = primary if axis is None else axis
    column = "ijk"[stacking]
    tilt = "xyz"[primary]
    grouped = blocks.groupby(column)
    table = grouped.agg(M=(f"Q_M_{tilt}", lambda q: float(np.abs(q).mean())),
                        R=(f"Q_R_{tilt}", lambda q: float(np.abs(q).mean())),
                        m_share=("dominant", lambda d: float(np.mean(d == "M"))))
    table.index.name = "layer"
    table["label"] = np.where(table.m_share >= 0.75, "M", np.where(table.m_share <= 0.25, "R", "mixed"))
    return table.reset_index()
