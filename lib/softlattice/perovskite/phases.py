"""Phases from tilt-mode amplitudes: noise thresholds, Glazer classification, transition temperatures.

Inputs are the observation tables of :func:`softlattice.md.engine.run_md` (columns ``target_K``,
``Q_M_x`` ... ``Q_R_z`` in Å, ``a_A``, ``b_A``, ``c_A``).

A mode counts as active when the mean of its |Q| over a temperature window exceeds the thermal
noise of an *untilted reference*: a run of the cubic phase in a fixed cubic cell (no tilt can
freeze in), analysed with the same windows. The threshold of a mode family (M or R) is the mean
plus ``n_sigma`` standard deviations of the reference's window-mean |Q|, pooled over x, y, z; it
is scaled with ``sqrt(T / T_ref)`` to other temperatures, as the amplitude of thermal fluctuations
of a harmonic mode. Nothing is tuned toward expected transition temperatures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

AXES = "xyz"


@dataclass(frozen=True)
class NoiseThresholds:
    """Activation thresholds of the M and R mode families.

    Attributes
    ----------
    m_threshold, r_threshold
        Threshold on the window-mean |Q| at ``reference_K``, Å.
    reference_K
        Temperature of the untilted reference run, K.
    window
        Number of samples per window the thresholds were derived for.
    """

    m_threshold: float
    r_threshold: float
    reference_K: float
    window: int

    def at(self, temperature: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """M and R thresholds (Å) at ``temperature`` (K)."""
        scale = np.sqrt(np.asarray(temperature, dtype=float) / self.reference_K)
        return self.m_threshold * scale, self.r_threshold * scale


def mode_columns(kind: str) -> list[str]:
    """Column names of the M or R amplitudes."""
    return [f"Q_{kind}_{axis}" for axis in AXES]


PERSISTENCE_BLOCK_PS = 5.0
"""Length of the blocks over which :func:`persistent_tilts` averages (several tilt correlation times)."""
PERSISTENCE_N_SIGMA = 4.0
"""Standard errors from zero beyond which a mean signed amplitude is a persistent tilt."""


def persistent_tilts(reference: pd.DataFrame, block_ps: float = PERSISTENCE_BLOCK_PS,
                     n_sigma: float = PERSISTENCE_N_SIGMA) -> pd.DataFrame:
    """Whether a run meant as an untilted reference holds a tilt: per mode, the mean of the signed
    global amplitude Q over the run (Å), its standard error from the means of consecutive
    ``block_ps`` blocks (a last, shorter block is dropped), and ``persistent`` where the mean lies
    more than ``n_sigma`` standard errors from zero. An untilted cell's Q wanders about zero; a
    tilted one keeps its sign, and its noise threshold would sit above real tilts.

    Raises
    ------
    ValueError
        If the run holds fewer than three whole blocks.
    """
    time = reference["time_ps"].to_numpy(dtype=float)
    block = np.floor((time - time[0]) / block_ps).astype(int)
    whole = block < block.max() if block.max() >= 1 else block >= 0
    if len(np.unique(block[whole])) < 3:
        raise ValueError(f"the reference run spans {time[-1] - time[0]:.2f} ps: fewer than three {block_ps:g} ps "
                         "blocks to tell a persistent tilt from a slow fluctuation")
    means = reference.loc[whole, mode_columns("M") + mode_columns("R")].groupby(block[whole]).mean()
    mean, error = means.mean(), means.std(ddof=1) / np.sqrt(len(means))
    return pd.DataFrame(dict(mode=[c[2:] for c in means.columns], mean_A=mean.to_numpy(),
                             standard_error_A=error.to_numpy(),
                             persistent=(mean.abs() > n_sigma * error).to_numpy()))


def persistent_tilt_text(tilts: pd.DataFrame) -> str:
    """The persistent modes of :func:`persistent_tilts` in words ('Q_M_y +0.27 Å, Q_M_z -0.20 Å'),
    or '' when there are none."""
    held = tilts[tilts.persistent]
    return ", ".join(f"Q_{r.mode} {r.mean_A:+.2f} Å" for r in held.itertuples())


RULES = ("per-family", "equal")
"""Threshold rules: 'per-family' gives the M and R families each the threshold of their own noise;
'equal' pools the window means of both families into one threshold for both (issue 16: with
per-family thresholds the family with the lower noise is called active first, so noise in a
disordered cell reads as a tilt of that family)."""


def noise_thresholds(reference: pd.DataFrame, window: int, n_sigma: float = 5.0,
                     rule: str = "per-family") -> NoiseThresholds:
    """Thresholds from an untilted reference run.

    Parameters
    ----------
    reference
        Observations of a fixed-temperature run of the cubic phase in a cubic cell.
    window
        Samples per window; use the same window as for classification.
    n_sigma
        Significance level: how many standard deviations of the reference's window means above
        their mean a window must lie to count as tilted.
    rule
        One of :data:`RULES`.
    """
    if rule not in RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; allowed: {', '.join(RULES)}")
    if len(reference) < 3 * window:
        raise ValueError(f"untilted reference has {len(reference)} samples; at least {3 * window} "
                         f"(three windows of {window}) are needed for a noise estimate")
    temperature = float(reference["target_K"].mean())
    n_windows = len(reference) // window
    family_means = []
    for kind in "MR":
        values = np.abs(reference[mode_columns(kind)].to_numpy()[:n_windows * window])
        family_means.append(values.reshape(n_windows, window, 3).mean(axis=1).ravel())
    groups = family_means if rule == "per-family" else [np.concatenate(family_means)] * 2
    thresholds = [means.mean() + n_sigma * means.std(ddof=1) for means in groups]
    return NoiseThresholds(m_threshold=thresholds[0], r_threshold=thresholds[1],
                           reference_K=temperature, window=window)


def glazer_label(m_amplitudes: np.ndarray, r_amplitudes: np.ndarray, m_threshold: float,
                 r_threshold: float, equal_tolerance: float = 0.25) -> str:
    """Glazer symbol from the |Q| of the M and R modes about x, y, z.

    Each axis is '+' (M active), '-' (R active), '0' (neither) or '*' (both: a mixed state, as at
    the MPB; not a Glazer tilt). Axes are then sorted into the conventional order (untilted
    first, then '-', then '+', each group by decreasing amplitude) and lettered a, b, c by
    position, repeating a letter when two axes have the same phase and amplitudes within
    ``equal_tolerance`` (relative). Sorting makes a tilt about x and one about z the same phase.
    """
    m_active = np.asarray(m_amplitudes) > m_threshold
    r_active = np.asarray(r_amplitudes) > r_threshold
    phases = np.where(m_active & r_active, "*", np.where(m_active, "+", np.where(r_active, "-", "0")))
    magnitude = np.where(phases == "+", m_amplitudes, np.where(phases == "0", 0.0, r_amplitudes))
    order = sorted(range(3), key=lambda k: ("0-+*".index(phases[k]), -magnitude[k]))
    label = ""
    letters = []
    for position, axis in enumerate(order):
        letter = "abc"[position]
        if position:
            previous = order[position - 1]
            same_phase = phases[axis] == phases[previous]
            scale = max(magnitude[axis], magnitude[previous], 1e-12)
            if same_phase and (phases[axis] == "0" or
                               abs(magnitude[axis] - magnitude[previous]) / scale < equal_tolerance):
                letter = letters[-1]
        letters.append(letter)
        label += letter + phases[axis]
    return label


def classify_windows(observations: pd.DataFrame, thresholds: NoiseThresholds) -> pd.DataFrame:
    """Window means of a run and the Glazer label of each window.

    Returns
    -------
    One row per window of ``thresholds.window`` consecutive samples with the mean target
    temperature, mean |Q| of every mode, mean pseudo-cubic lattice parameters and ``phase``.
    """
    window = thresholds.window
    n_windows = len(observations) // window
    if n_windows == 0:
        raise ValueError(f"run has {len(observations)} samples, fewer than one window of {window}")
    rows = []
    for k in range(n_windows):
        chunk = observations.iloc[k * window:(k + 1) * window]
        row = {"temperature_K": chunk["target_K"].mean()}
        for kind in "MR":
            for column in mode_columns(kind):
                row[f"abs_{column}"] = np.abs(chunk[column]).mean()
        for column in ("a_A", "b_A", "c_A"):
            row[column] = chunk[column].mean()
        m_threshold, r_threshold = thresholds.at(row["temperature_K"])
        row["phase"] = glazer_label(np.array([row[f"abs_Q_M_{a}"] for a in AXES]),
                                    np.array([row[f"abs_Q_R_{a}"] for a in AXES]),
                                    float(m_threshold), float(r_threshold))
        rows.append(row)
    return pd.DataFrame(rows)


def phase_sequence(windows: pd.DataFrame, persistence: int = 2) -> list[str]:
    """Distinct phases in the order they occur, ignoring runs shorter than ``persistence`` windows."""
    return [phase for phase, _, _ in _stable_runs(windows, persistence)]


def _stable_runs(windows: pd.DataFrame, persistence: int) -> list[tuple[str, float, float]]:
    labels = windows["phase"].tolist()
    temperatures = windows["temperature_K"].to_numpy()
    runs: list[list] = []
    start = 0
    for k in range(1, len(labels) + 1):
        if k == len(labels) or labels[k] != labels[start]:
            runs.append([labels[start], start, k - 1])
            start = k
    stable = [r for r in runs if r[2] - r[1] + 1 >= persistence]
    merged: list[list] = []
    for run in stable:
        if merged and merged[-1][0] == run[0]:
            merged[-1][2] = run[2]
        else:
            merged.append(run)
    return [(label, float(temperatures[first]), float(temperatures[last])) for label, first, last in merged]


def transition_temperatures(windows: pd.DataFrame, persistence: int = 2) -> pd.DataFrame:
    """Transitions along a ramp: the temperature midway between the last window of one stable
    phase and the first window of the next, with half that gap as its resolution.

    Returns
    -------
    Columns ``from_phase``, ``to_phase``, ``temperature_K``, ``resolution_K``.
    """
    runs = _stable_runs(windows, persistence)
    rows = []
    for (before, _, last), (after, first, _) in zip(runs[:-1], runs[1:]):
        rows.append(dict(from_phase=before, to_phase=after, temperature_K=0.5 * (last + first),
                         resolution_K=0.5 * abs(first - last)))
    return pd.DataFrame(rows, columns=["from_phase", "to_phase", "temperature_K", "resolution_K"])


def hysteresis(heating: pd.DataFrame, cooling: pd.DataFrame) -> pd.DataFrame:
    """Pair each heating transition with the reverse cooling transition.

    Returns
    -------
    Columns ``low_phase``, ``high_phase``, ``heating_K``, ``cooling_K``, ``hysteresis_K``
    (heating minus cooling); a transition seen only one way has NaN for the other.
    """
    rows = []
    used = set()
    for _, up in heating.iterrows():
        match = cooling[(cooling.from_phase == up.to_phase) & (cooling.to_phase == up.from_phase)]
        match = match[~match.index.isin(used)]
        down = match.iloc[0] if len(match) else None
        if down is not None:
            used.add(down.name)
        rows.append(dict(low_phase=up.from_phase, high_phase=up.to_phase, heating_K=up.temperature_K,
                         cooling_K=down.temperature_K if down is not None else np.nan))
    for index, down in cooling.iterrows():
        if index not in used:
            rows.append(dict(low_phase=down.to_phase, high_phase=down.from_phase, heating_K=np.nan,
                             cooling_K=down.temperature_K))
    frame = pd.DataFrame(rows, columns=["low_phase", "high_phase", "heating_K", "cooling_K"])
    frame["hysteresis_K"] = frame.heating_K - frame.cooling_K
    return frame
