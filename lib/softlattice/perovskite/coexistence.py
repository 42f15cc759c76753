"""Coexistence cells: half a0a0c-, half a0a0c+, and which tilt grows at a fixed temperature.

Units: Å (mode amplitudes), ps, K.

The seed asks which tilt wins as a function of composition at 250 K and answers it with slow
ramps in large cells. An equilibrium question has a cheaper, direct answer: build a cell whose
lower half (along the tilt axis z) carries the out-of-phase tilt a0a0c- and whose upper half the
in-phase tilt a0a0c+ (two interfaces, periodic), hold it at the temperature, and watch which
half grows. The local state is read per block of 2x2x2 pseudo-cubic cells (the smallest volume on
which both M and R patterns exist, :func:`softlattice.perovskite.modes.project_modes_local`):

* each sample records the signed local amplitude of every mode in every block
  (:class:`LocalTiltObserver`);
* a window's *block amplitude* is the absolute value of the window mean of that signed amplitude:
  an ordered tilt keeps its sign, thermal noise averages out;
* one threshold serves both mode families (the same rule for M and R). A coexistence run sets it
  from its own first window (:func:`initial_order_threshold`): half the median amplitude of the
  tilt every block was built with, so a block counts as ordered while it keeps at least half the
  order the cell started with. (A threshold from the noise of an untilted high-temperature
  reference, :func:`block_noise_threshold`, which the ramps use, needs a temperature at which the
  model's cell is untilted and intact; NEP v2's 1,536-atom cells are still tilted at 450 K, so
  that threshold sat above the tilts the cells were built with.) An active mode must also keep its
  sign over the window (:data:`PERSISTENCE`);
* a block is 'R' or 'M' after its largest active mode about the run's tilt axis (z for a
  coexistence cell as built; the axis with the most tilt over the run in general), 'other' when
  its largest active mode is about another axis, 'disordered' when no mode is ordered but its
  octahedra tilt more at each instant than the untilted reference's do (the window mean of
  |amplitude| beyond the same kind of threshold), and 'none' otherwise.

The R share is the fraction of blocks that are 'R' among those that are 'R' or 'M'. A run ends
(early) once one tilt, or one family of tilts about any axis (in phase or out of phase: a cell that
leaves both halves for in-phase tilts about two axes has decided the question as much), has held
more than ``share`` of the blocks for ``hold_ps`` (:func:`one_tilt_holds`); the winner is the tilt
whose share grew from the starting half.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from ase import Atoms

from softlattice.perovskite.modes import MODES, iodine_displacements, map_framework, project_modes_local
from softlattice.perovskite.structures import build_mixed_perovskite

HALVES = ("a0a0c-", "a0a0c+")
"""The two tilt phases of a coexistence cell, lower half first (tilt axis z)."""

BLOCK = 2
"""Pseudo-cubic cells per block edge."""


def build_coexistence_cell(fa_fraction: float, repeat: Sequence[int] = (4, 4, 8), *, tilt_angle: float = 8.0,
                           seed: int = 0, lower: str = "a0a0c-", upper: str = "a0a0c+") -> Atoms:
    """MA(1-x)FA(x)PbI3 with the cells z < repeat_z / 2 tilted ``lower`` and the rest ``upper``.

    Both halves share the A-site arrangement (``seed``) and the cell; atoms keep the order of
    :func:`softlattice.perovskite.structures.build_mixed_perovskite`. ``arrays['half']`` is 0 in the
    lower half and 1 in the upper; ``info['interfaces_z']`` lists the cell planes where they meet.

    Raises
    ------
    ValueError
        If the repeat along z cannot hold two halves of whole 2x2x2 blocks (a multiple of 4), a
        half is not one of :data:`HALVES`, or x is outside [0, 1].
    """
    repeat = tuple(int(r) for r in repeat)
    if len(repeat) != 3 or any(r < BLOCK or r % BLOCK for r in repeat) or repeat[2] % (2 * BLOCK):
        raise ValueError(f"repeat {repeat} cannot hold two halves of whole {BLOCK}x{BLOCK}x{BLOCK} blocks: the "
                         f"repeats must be even and the one along the tilt axis z a multiple of {2 * BLOCK}")
    for phase in (lower, upper):
        if phase not in HALVES:
            raise ValueError(f"half {phase!r} is not a single-axis tilt phase; allowed: {', '.join(HALVES)}")
    cells = [build_mixed_perovskite(fa_fraction, repeat, glazer=phase, tilt_angle=tilt_angle, seed=seed)
             for phase in (lower, upper)]
    half = (cells[0].arrays["cell_index"][:, 2] >= repeat[2] // 2).astype(int)
    if cells[0].get_chemical_symbols() != cells[1].get_chemical_symbols():
        raise RuntimeError("the two halves were built with different atom orders")  # same seed: cannot happen
    atoms = cells[0].copy()
    atoms.positions = np.where(half[:, None] == 1, cells[1].positions, cells[0].positions)
    atoms.arrays["half"] = half
    atoms.info.update(glazer=f"{lower}|{upper}", coexistence=[lower, upper], interfaces_z=[0, repeat[2] // 2])
    return atoms


class LocalTiltObserver:
    """MD observer: the signed amplitude ``q_<mode>_b<k>`` (Å) of every mode in every 2x2x2 block
    (block index k in C order of the block grid, z fastest), projected on the starting cell's framework."""

    def __init__(self, atoms: Atoms):
        self.framework_map = map_framework(atoms)
        self.grid = tuple(int(r) // BLOCK for r in self.framework_map.repeat)

    def __call__(self, atoms: Atoms) -> dict[str, float]:
        local = project_modes_local(iodine_displacements(atoms, self.framework_map), self.framework_map, BLOCK)[0]
        values = local.reshape(len(MODES), -1)
        return {f"q_{mode}_b{k}": float(values[m, k]) for m, mode in enumerate(MODES) for k in range(values.shape[1])}


def _block_values(observations: pd.DataFrame, window: int) -> np.ndarray:
    """Signed local amplitudes as (n_windows, window, 6, n_blocks), whole windows only."""
    n_blocks = sum(1 for column in observations.columns if column.startswith(f"q_{MODES[0]}_b"))
    if n_blocks == 0:
        raise ValueError("the observations hold no block amplitudes: run the MD with LocalTiltObserver")
    n_windows = len(observations) // window
    if n_windows == 0:
        raise ValueError(f"run has {len(observations)} samples, fewer than one window of {window}")
    columns = [f"q_{mode}_b{k}" for mode in MODES for k in range(n_blocks)]
    values = observations[columns].to_numpy()[:n_windows * window]
    return values.reshape(n_windows, window, len(MODES), n_blocks)


def block_amplitudes(observations: pd.DataFrame, window: int) -> np.ndarray:
    """|window mean of the signed local amplitude|, shape (n_windows, 6, n_blocks), Å: an ordered
    tilt keeps its sign over the window, so this is its amplitude; noise averages out."""
    return np.abs(_block_values(observations, window).mean(axis=1))


def block_fluctuations(observations: pd.DataFrame, window: int) -> np.ndarray:
    """Window mean of the |local amplitude|, shape (n_windows, 6, n_blocks), Å: how far the
    octahedra tilt at each instant whether or not the tilt is ordered."""
    return np.abs(_block_values(observations, window)).mean(axis=1)


@dataclass(frozen=True)
class BlockThreshold:
    """Thresholds (Å) at ``reference_K`` for windows of ``window`` samples: ``threshold`` on the
    ordered amplitude (:func:`block_amplitudes`, one value for M and R), and
    ``disorder_threshold`` on the instantaneous one (:func:`block_fluctuations`) above which a
    block without an ordered tilt is 'disordered' rather than untilted."""

    threshold: float
    reference_K: float
    window: int
    disorder_threshold: float = float("inf")

    def at(self, temperature: float) -> float:
        """Threshold at ``temperature`` (K), scaled as a thermal amplitude."""
        return self.threshold * float(np.sqrt(temperature / self.reference_K))

    def disorder_at(self, temperature: float) -> float:
        """Disorder threshold at ``temperature`` (K), scaled the same way."""
        return self.disorder_threshold * float(np.sqrt(temperature / self.reference_K))


def block_noise_threshold(reference: pd.DataFrame, window: int, n_sigma: float = 5.0) -> BlockThreshold:
    """The thresholds from an untilted reference run (the same rule for M and R: pooled over both
    families, the three axes and every block)."""
    amplitudes = block_amplitudes(reference, window)
    if len(amplitudes) < 3:
        raise ValueError(f"untilted reference has {len(amplitudes)} windows of {window}; at least 3 are needed")
    fluctuations = block_fluctuations(reference, window)
    return BlockThreshold(float(amplitudes.mean() + n_sigma * amplitudes.std(ddof=1)),
                          float(reference["target_K"].mean()), window,
                          float(fluctuations.mean() + n_sigma * fluctuations.std(ddof=1)))


ORDER_FLOOR = 0.5
"""A block's tilt counts as ordered while its window-mean amplitude is at least this share of the
tilt the coexistence cell was built with (:func:`initial_order_threshold`)."""


def block_halves(grid: Sequence[int]) -> np.ndarray:
    """Half (0 lower, 1 upper along z) of every block of a coexistence cell's block ``grid``, in
    the block order of :class:`LocalTiltObserver` (C order, z fastest)."""
    grid = tuple(int(g) for g in grid)
    return (np.unravel_index(np.arange(int(np.prod(grid))), grid)[2] >= grid[2] // 2).astype(int)


def initial_order_threshold(observations: pd.DataFrame, window: int, grid: Sequence[int],
                            share: float = ORDER_FLOOR, lower: str = "a0a0c-") -> BlockThreshold:
    """The threshold (one value for M and R) of a coexistence run from its own first window:
    ``share`` times the median amplitude, over blocks, of the tilt each block was built with
    (R_z in the lower half and M_z in the upper for ``lower`` = 'a0a0c-', the other way round for
    'a0a0c+'). The disorder threshold is the same value on the instantaneous amplitude. It holds
    at the run's temperature (``reference_K``)."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"order floor share {share!r} must lie in (0, 1)")
    if lower not in HALVES:
        raise ValueError(f"lower half {lower!r} is not one of {', '.join(HALVES)}")
    first = block_amplitudes(observations.iloc[:window], window)[0]
    if first.shape[1] != int(np.prod(grid)):
        raise ValueError(f"the observations hold {first.shape[1]} blocks, the grid {tuple(grid)} has {int(np.prod(grid))}")
    lower_mode, upper_mode = ("R_z", "M_z") if lower == "a0a0c-" else ("M_z", "R_z")
    built = np.where(block_halves(grid) == 1, first[MODES.index(upper_mode)], first[MODES.index(lower_mode)])
    floor = share * float(np.median(built))
    return BlockThreshold(floor, float(observations["target_K"].iloc[:window].mean()), window, floor)


LABELS = ("R", "M", "other", "disordered", "none")
"""Block labels: an ordered tilt about the run's tilt axis, out of phase ('R') or in phase ('M');
an ordered tilt about another axis ('other'); no ordered tilt but instantaneous tilts beyond the
untilted reference's ('disordered'); neither ('none')."""


PERSISTENCE = 0.5
"""An ordered tilt keeps its sign: its window-mean amplitude is at least this share of its
window-mean |amplitude| (1 for a frozen tilt, about 1/sqrt(samples) for one that flips at random)."""


def block_labels(amplitudes: np.ndarray, threshold: float, axis: int = 2, fluctuations: np.ndarray | None = None,
                 disorder_threshold: float = float("inf")) -> np.ndarray:
    """Label (:data:`LABELS`) of every block in every window after its largest active mode;
    ``amplitudes`` and ``fluctuations`` as from :func:`block_amplitudes` and
    :func:`block_fluctuations`, ``axis`` the tilt axis (0, 1, 2). A mode is active when its
    amplitude exceeds ``threshold`` and, where fluctuations are given, it keeps its sign
    (:data:`PERSISTENCE`)."""
    strongest = np.argmax(amplitudes, axis=1)  # (n_windows, n_blocks), index into MODES
    largest = np.take_along_axis(amplitudes, strongest[:, None, :], axis=1)[:, 0]
    active = largest > threshold
    if fluctuations is not None:
        active &= largest >= PERSISTENCE * np.take_along_axis(fluctuations, strongest[:, None, :], axis=1)[:, 0]
    names = np.full(len(MODES), "other", dtype=object)
    names[MODES.index(f"M_{'xyz'[axis]}")], names[MODES.index(f"R_{'xyz'[axis]}")] = "M", "R"
    idle = "none" if fluctuations is None else np.where(fluctuations.max(axis=1) > disorder_threshold,
                                                          "disordered", "none")
    return np.where(active, names[strongest], idle).astype(str)


def tilt_axis(amplitudes: np.ndarray) -> int:
    """The axis (0, 1, 2) about which the blocks tilt most over a run: the largest sum over
    windows and blocks of the larger of the M and R amplitudes about it."""
    per_axis = np.maximum(amplitudes[:, :3], amplitudes[:, 3:]).sum(axis=(0, 2))
    return int(np.argmax(per_axis))


def block_families(amplitudes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Family ('R' out of phase, 'M' in phase, '' none) of the largest active mode of every block
    in every window, about any axis, from the ``labels`` :func:`block_labels` gave ``amplitudes``."""
    strongest = np.argmax(amplitudes, axis=1)
    families = np.array([mode[0] for mode in MODES])[strongest]
    return np.where(np.isin(labels, ("R", "M", "other")), families, "")


def block_states(observations: pd.DataFrame, threshold: BlockThreshold, grid: Sequence[int]) -> pd.DataFrame:
    """Per window: time, temperature, the run's tilt axis (:func:`tilt_axis`), the share of blocks
    of each label (:data:`LABELS`), the shares of blocks whose largest active mode is out of phase
    or in phase about any axis (``share_R_family``, ``share_M_family``), the R share (R / (R + M))
    of the whole cell and of each layer of blocks along z (``r_share_layer<k>``), and the share
    of each layer's blocks labelled R and M (``r_fraction_layer<k>``, ``m_fraction_layer<k>``:
    unlike the R share, these count the blocks tilted about another axis or not at all).

    ``grid`` is the block grid (repeat / 2)."""
    window = threshold.window
    amplitudes = block_amplitudes(observations, window)
    fluctuations = block_fluctuations(observations, window)
    axis = tilt_axis(amplitudes)
    n_windows = len(amplitudes)
    times = observations["time_ps"].to_numpy()[:n_windows * window].reshape(n_windows, window)[:, -1]
    temperatures = observations["target_K"].to_numpy()[:n_windows * window].reshape(n_windows, window).mean(axis=1)
    rows = []
    for k in range(n_windows):
        labels = block_labels(amplitudes[k:k + 1], threshold.at(temperatures[k]), axis, fluctuations[k:k + 1],
                              threshold.disorder_at(temperatures[k]))[0]
        families = block_families(amplitudes[k:k + 1], labels[None])[0]
        row = dict(time_ps=float(times[k]), temperature_K=float(temperatures[k]), tilt_axis="xyz"[axis],
                   **{f"share_{name}": float(np.mean(labels == name)) for name in LABELS},
                   share_R_family=float(np.mean(families == "R")), share_M_family=float(np.mean(families == "M")))
        row["r_share"] = _r_share(labels)
        layers = labels.reshape(tuple(grid))
        for z in range(layers.shape[2]):
            row[f"r_share_layer{z}"] = _r_share(layers[:, :, z].ravel())
        for z in range(layers.shape[2]):
            row[f"r_fraction_layer{z}"] = float(np.mean(layers[:, :, z] == "R"))
            row[f"m_fraction_layer{z}"] = float(np.mean(layers[:, :, z] == "M"))
        rows.append(row)
    return pd.DataFrame(rows)


def _r_share(labels: np.ndarray) -> float:
    r, m = int(np.sum(labels == "R")), int(np.sum(labels == "M"))
    return r / (r + m) if r + m else float("nan")


def one_tilt_holds(states: pd.DataFrame, share: float = 0.9, hold_ps: float = 5.0) -> str | None:
    """'a0a0c-' or 'a0a0c+' when, over the last ``hold_ps`` of ``states`` (and at least that much
    run), every window has more than ``share`` of all blocks 'R' (or 'M'); else 'out of phase' or
    'in phase' when that holds for one family about any axis (``share_R_family``,
    ``share_M_family``, where recorded); else None."""
    if not len(states) or states.time_ps.iloc[-1] < hold_ps:
        return None
    recent = states[states.time_ps > states.time_ps.iloc[-1] - hold_ps]
    for column, outcome in (("share_R", "a0a0c-"), ("share_M", "a0a0c+"), ("share_R_family", "out of phase"),
                            ("share_M_family", "in phase")):
        if column in recent and (recent[column] > share).all():
            return outcome
    return None


def stopping_time(states: pd.DataFrame, share: float = 0.9, hold_ps: float = 5.0) -> float | None:
    """The end (ps) of the first window at which :func:`one_tilt_holds` holds for the run up to it:
    where the early stop ends the run (None: it never does). Applied to a finished run, it cuts the
    run where the rule would have stopped it, so that runs stopped under an older rule and runs
    stopped now are read alike."""
    states = states.sort_values("time_ps")
    for k in range(len(states)):
        if one_tilt_holds(states.iloc[:k + 1], share, hold_ps) is not None:
            return float(states.time_ps.iloc[k])
    return None


def coexistence_winner(states: pd.DataFrame, last_ps: float = 5.0) -> dict[str, float | str]:
    """The outcome over the last ``last_ps`` of a run: the mean shares of each block label, the
    mean R share, and ``winner``: 'disordered' or 'untilted' when most blocks have no ordered tilt
    (whichever of the two is the larger share), 'a0a0c-' when the R share is above 1/2 (R grew
    from its starting half), 'a0a0c+' below, 'undecided' at 1/2."""
    recent = states[states.time_ps > states.time_ps.iloc[-1] - last_ps]
    shares = {f"share_{name}": float(recent[f"share_{name}"].mean()) for name in LABELS}
    r_share = float(recent.r_share.mean())
    unordered = shares["share_none"] + shares["share_disordered"]
    if unordered > 0.5 or not np.isfinite(r_share):
        winner = "disordered" if shares["share_disordered"] > shares["share_none"] else "untilted"
    else:
        winner = "a0a0c-" if r_share > 0.5 else "a0a0c+" if r_share < 0.5 else "undecided"
    return dict(shares, r_share=r_share, winner=winner)


INITIAL_ORDERED_SHARE = 0.75
"""A coexistence cell is built with every block tilted (half R, half M); a classifier that reads
fewer than this share of its blocks as R or M in the first window cannot see the tilts it is meant
to follow, so that run's outcome is not evidence (:func:`initial_state_seen`)."""


def initial_state_seen(states: pd.DataFrame) -> tuple[float, bool]:
    """The share of blocks read as R or M in the first window of a coexistence run, and whether it
    reaches :data:`INITIAL_ORDERED_SHARE`."""
    first = states.sort_values("time_ps").iloc[0]
    share = float(first.share_R + first.share_M)
    return share, share >= INITIAL_ORDERED_SHARE


def layered_windows(states: pd.DataFrame, ordered: float = 0.75) -> pd.Series:
    """Per window of one run: whether the cell is layered, i.e. holds at least one layer of blocks
    along the tilt axis of which at least ``ordered`` of all blocks are R and one of which at
    least ``ordered`` are M (``r_fraction_layer<k>``, ``m_fraction_layer<k>`` of
    :func:`block_states`): a layer whose blocks mostly tilt about another axis is neither."""
    if not 0.5 < ordered <= 1.0:
        raise ValueError(f"ordered share {ordered!r} must lie in (0.5, 1]")
    r_layers, m_layers = _layer_fractions(states)
    return (r_layers >= ordered).any(axis=1) & (m_layers >= ordered).any(axis=1)


def _layer_fractions(states: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``r_fraction_layer<k>`` and ``m_fraction_layer<k>`` columns of ``states``."""
    r_layers = states[[c for c in states.columns if c.startswith("r_fraction_layer")]]
    m_layers = states[[c for c in states.columns if c.startswith("m_fraction_layer")]]
    if r_layers.shape[1] == 0 or r_layers.shape[1] != m_layers.shape[1]:
        raise ValueError("the states hold no per-layer block fractions (r_fraction_layer<k>, m_fraction_layer<k>): "
                         "recompute them with block_states")
    return r_layers, m_layers


def layering_summary(states: pd.DataFrame, last_ps: float = 10.0, ordered: float = 0.75,
                     run: Sequence[str] = ("fa_fraction", "temperature_K", "kind", "replica")) -> pd.DataFrame:
    """Per run: the share of its windows in the last ``last_ps`` that are layered
    (:func:`layered_windows`), how many layers are mostly R and mostly M in its last window (at
    least ``ordered`` of their blocks), and over the whole run the time spent layered
    (``layered_ps``, windows times their length) and the end of the last layered window
    (``last_layered_ps``, NaN if never) against the run's length (``run_ps``): a layered state
    that lasts is the seed's MPB picture; one that is only a stage on the way to a single tilt is not."""
    rows = []
    for key, group in states.groupby(list(run)):
        group = group.sort_values("time_ps")
        recent = group[group.time_ps > group.time_ps.iloc[-1] - last_ps]
        r_layers, m_layers = _layer_fractions(group)
        layered = layered_windows(group, ordered).to_numpy()
        window = float(np.median(np.diff(group.time_ps))) if len(group) > 1 else float(group.time_ps.iloc[0])
        rows.append(dict(zip(run, key), layered_share=float(layered_windows(recent, ordered).mean()),
                         r_layers_at_end=int((r_layers.iloc[-1] >= ordered).sum()),
                         m_layers_at_end=int((m_layers.iloc[-1] >= ordered).sum()),
                         window_ps=float(recent.time_ps.iloc[-1] - recent.time_ps.iloc[0]),
                         layered_ps=float(layered.sum() * window),
                         last_layered_ps=float(group.time_ps.to_numpy()[layered][-1]) if layered.any() else np.nan,
                         run_ps=float(group.time_ps.iloc[-1])))
    return pd.DataFrame(rows)


def compositions_near_mpb(outcomes: pd.DataFrame, mpb: dict | None, temperature: float, count: int = 2) -> list[float]:
    """The ``count`` compositions of the coexistence runs at ``temperature`` nearest the MPB
    centre where ``mpb`` (the summary's fit) resolved one, else those whose mean final R share
    is nearest 1/2 (where the two tilts are closest to balance)."""
    runs = outcomes[(outcomes.kind == "coexistence") & (outcomes.temperature_K == temperature)
                    & outcomes.r_share.notna()]
    mean_share = runs.groupby("fa_fraction").r_share.mean()
    distance = (pd.Series(mean_share.index, index=mean_share.index) - mpb["center"]).abs() if mpb \
        else (mean_share - 0.5).abs()
    return sorted(float(x) for x in distance.sort_values(kind="stable").index[:count])
