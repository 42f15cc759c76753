"""The over/underdamped map of the tilt modes: where each mode family crosses from overdamped to
underdamped with temperature, and the composition where the M and R crossings meet.

Units: K, damping ratio gamma / (2 w0) (dimensionless: above 1 overdamped, below 1 underdamped).

The seed (Hainer et al., Fig. 5) divides the cubic phase of MA(1-x)FA(x)PbI3 into regions by which
tilt modes are underdamped, and puts the composition where the M and R families change roles (the
mode crossover) next to the MPB. Here the crossing temperature of a family at one composition is
where its damping ratio, interpolated linearly in log(ratio) between the temperatures measured,
passes 1; its interval comes from resampling each ratio within its fit error. The crossover
composition is where the M and R crossing temperatures are equal, interpolated linearly in x.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def crossing_temperature(temperatures: np.ndarray, ratios: np.ndarray) -> float:
    """The temperature (K) where the damping ratio passes 1, interpolating log(ratio) linearly
    between neighbouring temperatures (the first such pair from low T); NaN when it does not pass
    1 inside the temperatures given."""
    order = np.argsort(temperatures)
    t, r = np.asarray(temperatures, dtype=float)[order], np.log(np.asarray(ratios, dtype=float)[order])
    for k in range(len(t) - 1):
        if np.isfinite(r[k]) and np.isfinite(r[k + 1]) and r[k] * r[k + 1] <= 0 and r[k] != r[k + 1]:
            return float(t[k] + (t[k + 1] - t[k]) * r[k] / (r[k] - r[k + 1]))
    return float("nan")


def crossing_table(ratios: pd.DataFrame, samples: int = 2000, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per composition and family: the crossing temperature and its interval.

    Parameters
    ----------
    ratios
        One row per run and family: ``fa_fraction``, ``family``, ``temperature_K``,
        ``damping_ratio`` and ``damping_ratio_error`` (one standard deviation).
    samples, confidence, seed
        Resamples of every ratio (normal within its error, kept positive) and the central
        probability of the interval.

    Returns
    -------
    ``fa_fraction``, ``family``, ``crossing_K`` (NaN: no crossing), ``low_K``, ``high_K``,
    ``share_crossing`` (the resamples that cross inside the range), and ``regime`` ('crosses',
    'overdamped throughout', 'underdamped throughout').
    """
    rng = np.random.default_rng(seed)
    rows = []
    for (x, family), group in ratios.groupby(["fa_fraction", "family"]):
        t = group.temperature_K.to_numpy(float)
        r = group.damping_ratio.to_numpy(float)
        error = np.nan_to_num(group.damping_ratio_error.to_numpy(float))
        central = crossing_temperature(t, r)
        drawn = np.clip(r + rng.normal(size=(samples, len(r))) * error, 1e-6, None)
        crossings = np.array([crossing_temperature(t, d) for d in drawn])
        crossed = crossings[np.isfinite(crossings)]
        tail = 50 * (1 - confidence)
        low, high = np.percentile(crossed, [tail, 100 - tail]) if crossed.size else (np.nan, np.nan)
        regime = ("crosses" if np.isfinite(central)
                  else "overdamped throughout" if np.nanmin(r) > 1 else "underdamped throughout"
                  if np.nanmax(r) < 1 else "no monotonic crossing")
        rows.append(dict(fa_fraction=float(x), family=family, crossing_K=central, low_K=float(low), high_K=float(high),
                         share_crossing=float(crossed.size / samples), regime=regime))
    return pd.DataFrame(rows, columns=["fa_fraction", "family", "crossing_K", "low_K", "high_K", "share_crossing",
                                       "regime"])


def mode_crossover(crossings: pd.DataFrame) -> dict[str, float | str]:
    """The composition where the M and R crossing temperatures are equal (linear in x between the
    first pair of neighbouring compositions where T_M - T_R changes sign), with an interval from
    the ends of the crossing intervals. ``crossover`` is NaN and ``reason`` says why when the two
    families never meet inside the compositions where both cross."""
    wide = crossings.pivot_table(index="fa_fraction", columns="family", values=["crossing_K", "low_K", "high_K"])
    if ("crossing_K", "M") not in wide or ("crossing_K", "R") not in wide:
        return dict(crossover=np.nan, low=np.nan, high=np.nan, reason="one family has no crossing table")
    both = wide.dropna(subset=[("crossing_K", "M"), ("crossing_K", "R")])
    if len(both) < 2:
        return dict(crossover=np.nan, low=np.nan, high=np.nan,
                    reason=f"both families cross at {len(both)} composition(s); two are needed to interpolate")

    def meet(m: np.ndarray, r: np.ndarray) -> float:
        x, d = both.index.to_numpy(float), m - r
        for k in range(len(x) - 1):
            if d[k] * d[k + 1] <= 0 and d[k] != d[k + 1]:
                return float(x[k] + (x[k + 1] - x[k]) * d[k] / (d[k] - d[k + 1]))
        return float("nan")

    central = meet(both[("crossing_K", "M")].to_numpy(), both[("crossing_K", "R")].to_numpy())
    if not np.isfinite(central):
        return dict(crossover=np.nan, low=np.nan, high=np.nan,
                    reason="T_M - T_R keeps its sign over the compositions where both families cross")
    # the extreme meeting points when each crossing temperature moves to either end of its interval
    ends = [meet(both[(a, "M")].to_numpy(), both[(b, "R")].to_numpy())
            for a in ("low_K", "high_K") for b in ("low_K", "high_K")]
    finite = [e for e in ends if np.isfinite(e)]
    return dict(crossover=central, low=min(finite + [central]), high=max(finite + [central]), reason="")
