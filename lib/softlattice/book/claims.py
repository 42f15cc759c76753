"""Results at a glance: each central claim of the two seeds beside this compendium's value.

Units: as each claim states them (K, eV, meV/Å, FA fraction x of MA(1-x)FA(x)PbI3, Br fraction x of
Ag3SBr(x)I(1-x)).

A :class:`Claim` names the seed, its figure or table, the quantity, the seed's value (typed here
from the paper, as the paper states it), the chapter that shows the comparison and a reader that
takes this compendium's value from a committed result set under ``data/``, with the loaders the
chapters use (:func:`~softlattice.perovskite.workflows.phase_diagram.load_sweep`,
:func:`~softlattice.perovskite.workflows.phase_diagram.load_sweep_frames`, the tables of a
:class:`~softlattice.infra.resultsets.ResultSet`). A reader computes only small statistics on those
tables (means, a logistic fit, a bootstrap over snapshots, mode projections of stored frames);
nothing is simulated. :func:`evaluate` applies the decision rule below, :func:`results_table`
gives one row per claim.

Decision rule
-------------
- **not measured**: no committed result set holds the quantity (the claim has no reader, or its
  result set is missing). The reason names the chapter that would measure it.
- **not resolved**: our result sets hold the quantity, but their own checks contradict the model
  that produced it (e.g. direct band gaps of MD frames far from the gap model's); the reason says
  which check.
- **Categorical claims** (a phase, the sign of a trend, whether a mode is restored): our data give
  one observation per run, composition, step or mode. Reproduced when every observation equals
  the seed's category, partly when some do, not reproduced when none does.
- **Numerical claims** (the seed's value v, or its range; ours with an interval of half-width h;
  the claim's tolerance t, the precision the claim needs to be tested): reproduced when v lies
  inside our interval and h ≤ t; partly when v lies inside but h > t (consistent, not resolved),
  or when v lies outside but within h of the interval (within twice the half-width of our value);
  not reproduced when it lies farther, or when our data show no such quantity at all (e.g. no
  crossover to locate).
- **Bounds** (an error the seed reports for its model, or a score such as R²): reproduced when ours
  is at least as good as the seed's; partly when within a factor of two (for R², the shortfall
  1 - R² within twice the seed's); not reproduced otherwise.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import pandas as pd

from softlattice.antiperovskite.thermal import (
    largest_gap_reductions,
    reductions_tied_with_largest,
    stabilised_modes,
    step_and_temperature_changes,
)
from softlattice.antiperovskite.workflows.gap_models import accurate_level_error
from softlattice.antiperovskite.workflows.thermal import spot_check_agreement
from softlattice.models.gap_predictors import gap_model_name
from softlattice.infra.paths import DATA_DIR
from softlattice.infra.profiles import PROFILES
from softlattice.infra.provenance import read_provenance
from softlattice.infra.resultsets import ResultSet, display_path
from softlattice.perovskite.mpb import block_modes, fit_mpb, layer_table, r_share_table
from softlattice.perovskite.workflows.phase_diagram import cubic_boundary, load_sweep, load_sweep_frames, phase_at
from softlattice.perovskite.workflows.potential import FIRST_MODEL, production_model

KINDS = ("category", "number", "at_most", "at_least")
VERDICTS = ("reproduced", "partly", "not reproduced", "not resolved", "not measured")
SEEDS = {"MA/FA PbI3": "Hainer et al., MA(1-x)FA(x)PbI3 morphotropic phase boundary",
         "Ag3SBr/I": "Benitez et al., Ag3SBr(x)I(1-x) temperature-dependent band gaps"}

RESULT_SETS = {
    "production NEP (chapter 01)": production_model().parent,
    "phase diagram, first model (chapters 02, 03)": DATA_DIR / "phase_diagram" / FIRST_MODEL.parent.name,
    "damping, first model (chapter 04)": DATA_DIR / "damping" / FIRST_MODEL.parent.name,
    "band edges, first model (chapter 05)": DATA_DIR / "band_edges" / FIRST_MODEL.parent.name,
    "antiperovskite models (chapter 06)": DATA_DIR / "cap_models" / "chgnet-r2scan",
    "antiperovskite gap models compared (chapter 06)": DATA_DIR / "gap_models" / "chgnet-r2scan",
    "antiperovskite thermal (chapter 07)": DATA_DIR / "cap_thermal" / "chgnet-r2scan",
}
"""The committed result sets the readers use, by what they hold: the MA/FA rows read the production
NEP's errors and the first model's runs (chapters 02-05 show the production model's runs beside them
as they are committed)."""
CAP_SEED_TABLE = DATA_DIR / "reference" / "cap_seed_table1.csv"
"""The antiperovskite seed's Table I as transcribed (experimental and computed gaps, eV)."""

SINGLE_AXIS_TETRAGONAL = ("a0a0c-", "a0a0c+")
SEED_MPB_TEMPERATURE = 250.0
"""K: the temperature of the seed's MPB centre (its Fig. 4a)."""
VERDICT_COLOURS = {"reproduced": "#c7e9c0", "partly": "#fdd0a2", "not reproduced": "#fcbba1",
                   "not resolved": "#dadaeb", "not measured": "#e0e0e0"}


@dataclass(frozen=True)
class Measurement:
    """Our value of a claim's quantity, read from committed data.

    Attributes
    ----------
    shown
        How our value reads in the table, with units.
    value
        Our number (numerical and bound claims), in the claim's unit; NaN when the data lack it.
    low, high
        Our interval (numerical claims), in the claim's unit.
    observations
        One category per run, composition, step or mode (categorical claims).
    found
        False when our data were analysed and show no such quantity (e.g. no crossover to fit).
    resolved
        False when our data hold the quantity but their own checks contradict the model behind it
        (``context`` says which check): the verdict is "not resolved", whatever the value.
    context
        A short clause for the reason: what else the numbers say.
    """

    shown: str
    value: float = math.nan
    low: float = math.nan
    high: float = math.nan
    observations: tuple[str, ...] = ()
    found: bool = True
    context: str = ""
    resolved: bool = True


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict (one of :data:`VERDICTS`) and the rule's reason for it."""

    label: str
    reason: str


@dataclass(frozen=True)
class Claim:
    """One central claim of a seed and how this compendium's value is read.

    Attributes
    ----------
    seed
        A key of :data:`SEEDS`.
    figure
        The seed's figure or table, e.g. 'Fig. 2a-c'.
    quantity
        What is compared.
    seed_value
        The seed's value: a number, a (low, high) range or a category.
    seed_shown
        The seed's value as the table shows it, with units.
    kind
        One of :data:`KINDS` (see the module's decision rule).
    chapter
        Stem of the notebook that shows the comparison, e.g. '02_phase_diagram'.
    reader
        Returns our :class:`Measurement` from committed data; None when no result set holds the
        quantity (the claim is not measured).
    unit
        Unit of the numbers; for a categorical claim, what one observation is (e.g. 'ramps').
    tolerance
        Numerical claims: the half-width of our interval up to which it resolves the claim.
    pending
        Not-measured claims: which chapter would measure it, and what that needs.
    """

    seed: str
    figure: str
    quantity: str
    seed_value: float | tuple[float, float] | str
    seed_shown: str
    kind: str
    chapter: str
    reader: Callable[[], Measurement | None] | None
    unit: str = ""
    tolerance: float | None = None
    pending: str = ""

    def __post_init__(self) -> None:
        if self.seed not in SEEDS:
            raise ValueError(f"unknown seed {self.seed!r}; known: {', '.join(SEEDS)}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown claim kind {self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.reader is None and not self.pending:
            raise ValueError(f"claim {self.quantity!r} has no reader: say in 'pending' which chapter would measure it")


# ---------------------------------------------------------------------------------------------
# the decision rule


def number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits (no exponent for ordinary magnitudes)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def _seed_range(seed_value: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(seed_value, tuple):
        return float(min(seed_value)), float(max(seed_value))
    return float(seed_value), float(seed_value)


def _range_text(seed_value: float | tuple[float, float]) -> str:
    low, high = _seed_range(seed_value)
    return number(low) if low == high else f"{number(low)}-{number(high)}"


def decide_category(seed_value: str, observations: tuple[str, ...], unit: str = "observations") -> Verdict:
    """Categorical rule: reproduced when every observation is the seed's category, partly when
    some are, not reproduced when none is; no observations: not measured."""
    if not observations:
        return Verdict("not measured", "our result sets hold no observation of it")
    agree = sum(o == seed_value for o in observations)
    count = f"{seed_value}: {agree} of {len(observations)} {unit}"
    if agree == len(observations):
        return Verdict("reproduced", count)
    return Verdict("partly" if agree else "not reproduced", count)


def decide_number(seed_value: float | tuple[float, float], measurement: Measurement,
                  tolerance: float | None = None, unit: str = "") -> Verdict:
    """Numerical rule (see the module docstring): the seed's value (or range) against our interval
    [low, high] and the claim's tolerance."""
    if not measurement.found:
        return Verdict("not reproduced", "our data show no such quantity")
    values = (measurement.value, measurement.low, measurement.high)
    if not all(v is not None and np.isfinite(v) for v in values):
        return Verdict("not measured", "our result sets do not give this number")
    seed_low, seed_high = _seed_range(seed_value)
    low, high = min(measurement.low, measurement.high), max(measurement.low, measurement.high)
    half_width = 0.5 * (high - low)
    distance = max(low - seed_high, seed_low - high, 0.0)
    suffix = f" {unit}" if unit else ""
    interval = f"[{number(low)}, {number(high)}]{suffix}"
    seed = f"seed {_range_text(seed_value)}"
    if distance == 0.0:
        if tolerance is None or half_width <= tolerance:
            return Verdict("reproduced", f"{seed} inside our interval {interval}")
        return Verdict("partly", f"{seed} inside our interval {interval}, which is wider than the "
                                 f"±{number(tolerance)}{suffix} the claim needs")
    if distance <= half_width:
        return Verdict("partly", f"{seed} just outside our interval {interval} (within its half-width)")
    return Verdict("not reproduced", f"{seed} outside our interval {interval}")


def decide_bound(kind: str, seed_value: float, value: float, unit: str = "") -> Verdict:
    """Bound rule: ``at_most`` (an error) or ``at_least`` (a score such as R², compared through its
    shortfall 1 - R²): as good as the seed's or better, within a factor of two, or worse."""
    if value is None or not np.isfinite(value):
        return Verdict("not measured", "our result sets do not give this number")
    suffix = f" {unit}" if unit else ""
    pair = f"ours {number(value)} vs seed {number(seed_value)}{suffix}"
    if kind == "at_most":
        ours, theirs, what = value, seed_value, "error"
    elif kind == "at_least":
        ours, theirs, what = 1.0 - value, 1.0 - seed_value, "shortfall from 1"
    else:
        raise ValueError(f"{kind!r} is not a bound kind ('at_most' or 'at_least')")
    if ours <= theirs:
        return Verdict("reproduced", f"{pair}: as good or better")
    ratio = f"{pair}: the {what} is {ours / theirs:.1f} times the seed's"
    return Verdict("partly" if ours <= 2.0 * theirs else "not reproduced", ratio)


def decide(claim: Claim, measurement: Measurement | None) -> Verdict:
    """The verdict of ``claim`` given our ``measurement`` (None: not measured)."""
    if measurement is None:
        return Verdict("not measured", claim.pending or "no committed result set holds this quantity")
    if not measurement.resolved:
        return Verdict("not resolved", measurement.context)
    if claim.kind == "category":
        return decide_category(str(claim.seed_value), measurement.observations, claim.unit or "observations")
    if claim.kind == "number":
        return decide_number(claim.seed_value, measurement, claim.tolerance, claim.unit)
    return decide_bound(claim.kind, float(claim.seed_value), measurement.value, claim.unit)


# ---------------------------------------------------------------------------------------------
# committed result sets, loaded once


@lru_cache(maxsize=None)
def _sweep() -> dict[str, pd.DataFrame]:
    return load_sweep(RESULT_SETS["phase diagram, first model (chapters 02, 03)"])


@lru_cache(maxsize=None)
def _sweep_frames() -> tuple:
    return tuple(load_sweep_frames(RESULT_SETS["phase diagram, first model (chapters 02, 03)"]))


@lru_cache(maxsize=None)
def _table(result_set: str, name: str) -> pd.DataFrame:
    return ResultSet(RESULT_SETS[result_set], "committed").table(name)


def _grid(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of the composition grid's ramps (chapter 02's cell and rate, full profile)."""
    ramp = PROFILES["02_phase_diagram"]["full"]["ramp"]
    return table[(table.repeat == ramp["repeat"]) & (table.rate_K_per_ps == ramp["rate_K_per_ps"])]


def _tally(labels: pd.Series) -> str:
    """'a ×2, b ×1' in order of first appearance."""
    counts = labels.value_counts(sort=False)
    return ", ".join(f"{label} ×{count}" for label, count in counts.items())


def _temperatures(values) -> str:
    return ", ".join(f"{t:.0f}" for t in sorted(values)) + " K"


def _adjacent_to_cubic(fa_fraction: float) -> pd.DataFrame:
    """Per grid ramp at ``fa_fraction``: the phase next to the cubic one (heating: the phase the
    ramp leaves into a0a0a0; cooling: the phase it enters from a0a0a0) and that temperature (K)."""
    boundary = cubic_boundary(_grid(_sweep()["transitions"]))
    chosen = boundary[np.isclose(boundary.fa_fraction, fa_fraction)]
    return chosen.assign(phase=np.where(chosen.kind == "heating", chosen.from_phase, chosen.to_phase))


# ---------------------------------------------------------------------------------------------
# readers: MA(1-x)FA(x)PbI3


def nep_force_rmse() -> Measurement:
    """Force RMSE of the production NEP on its held-out test set, against its teacher's labels
    (the last row of the training history, meV/Å)."""
    last = _table("production NEP (chapter 01)", "history").iloc[-1]
    value = 1000 * float(last.rmse_forces_test)
    return Measurement(f"{value:.0f} meV/Å (test set, against its own labels)", value=value,
                       context=f"energy {1000 * last.rmse_energy_test:.1f} meV/atom (seed 3.9), stress "
                               f"{1000 * last.rmse_stress_test:.0f} MPa (seed 134)")


def mapbi3_phase_at_300K() -> Measurement:
    """Glazer label of MAPbI3 in the window nearest 300 K of every grid ramp (heating and cooling)."""
    windows = _grid(_sweep()["windows"])
    phases = phase_at(windows[np.isclose(windows.fa_fraction, 0.0)], 300.0)
    adjacent = _adjacent_to_cubic(0.0)
    minus = int((adjacent.phase == "a0a0c-").sum())
    return Measurement(_tally(phases.phase + " (" + phases.kind + ")"), observations=tuple(phases.phase),
                       context=f"the phase next to the cubic one is a0a0c- in {minus} of {len(adjacent)} ramps")


def mapbi3_cubic_boundary() -> Measurement:
    """MAPbI3 cubic boundary: bracketed by the mean temperature at which the cooling ramps leave
    the cubic phase and the heating ramps reach it (K)."""
    adjacent = _adjacent_to_cubic(0.0)
    heating = adjacent[adjacent.kind == "heating"].temperature_K
    cooling = adjacent[adjacent.kind == "cooling"].temperature_K
    if heating.empty or cooling.empty:
        return Measurement("no cubic boundary on heating or cooling", found=False)
    low, high = sorted((float(cooling.mean()), float(heating.mean())))
    return Measurement(f"between {cooling.mean():.0f} K (cooling) and {heating.mean():.0f} K (heating)",
                       value=0.5 * (low + high), low=low, high=high,
                       context=f"{len(heating)} heating and {len(cooling)} cooling ramps at "
                               f"{PROFILES['02_phase_diagram']['full']['ramp']['rate_K_per_ps']:g} K/ps")


def mapbi3_tetragonal_on_heating() -> Measurement:
    """MAPbI3 heated from a-a-c+: the temperature (K) at which each heating ramp first reaches a
    single-axis tetragonal phase (a0a0c- or a0a0c+); mean with the standard error over ramps
    combined with the window resolution."""
    transitions = _grid(_sweep()["transitions"])
    heating = transitions[np.isclose(transitions.fa_fraction, 0.0) & (transitions.kind == "heating")]
    reached, left, between = [], [], []
    for _, ramp in heating.groupby("replica"):
        ramp = ramp.reset_index(drop=True)  # transitions in the order the ramp crosses them
        single = ramp[ramp.to_phase.isin(SINGLE_AXIS_TETRAGONAL)]
        orthorhombic = ramp[ramp.from_phase == "a-a-c+"]
        if len(single):
            reached.append(single.iloc[0])
        if len(orthorhombic):
            left.append(orthorhombic.iloc[0])
            end = single.index[0] if len(single) else len(ramp)
            between += [p for p in ramp.to_phase.iloc[orthorhombic.index[0]:end] if p != "a-a-c+"]
    if not reached:
        return Measurement("no heating ramp reaches a0a0c- or a0a0c+", found=False)
    temperatures = np.array([row.temperature_K for row in reached])
    spread = temperatures.std(ddof=1) / np.sqrt(len(temperatures)) if len(temperatures) > 1 else 0.0
    error = float(np.hypot(spread, max(row.resolution_K for row in reached)))
    mean = float(temperatures.mean())
    return Measurement(f"{mean:.0f} ± {error:.0f} K (" + ", ".join(row.to_phase for row in reached) + ")",
                       value=mean, low=mean - error, high=mean + error,
                       context=f"a-a-c+ is left at {_temperatures({row.temperature_K for row in left})}, "
                               f"through {', '.join(dict.fromkeys(between))} (tilts about two or three axes)")


def mapbi3_orthorhombic_on_cooling() -> Measurement:
    """Whether a-a-c+ appears in any window of each MAPbI3 cooling ramp of the grid."""
    windows = _grid(_sweep()["windows"])
    cooling = windows[np.isclose(windows.fa_fraction, 0.0) & (windows.kind == "cooling")]
    observations, lowest = [], []
    for _, ramp in cooling.groupby("replica"):
        observations.append("a-a-c+ never forms" if not (ramp.phase == "a-a-c+").any() else "a-a-c+ forms")
        lowest.append(ramp.sort_values("temperature_K").phase.iloc[0])
    kept = sum(o == "a-a-c+ never forms" for o in observations)
    adjacent = _adjacent_to_cubic(0.0)
    leave = adjacent[adjacent.kind == "cooling"].temperature_K
    return Measurement(f"never forms in {kept} of {len(observations)} cooling ramps (to "
                       f"{cooling.temperature_K.min():.0f} K)", observations=tuple(observations),
                       context=f"they end in {', '.join(lowest)}; they leave the cubic phase only at "
                               f"{_temperatures(leave)}")


def fapbi3_tetragonal_phase() -> Measurement:
    """FAPbI3: the phase next to the cubic one in each grid ramp (heating and cooling)."""
    adjacent = _adjacent_to_cubic(1.0)
    cooling = adjacent[adjacent.kind == "cooling"]
    return Measurement(_tally(adjacent.phase + " (" + adjacent.kind + ")"), observations=tuple(adjacent.phase),
                       context=f"the cooling ramps leave the cubic phase only at {_temperatures(cooling.temperature_K)}")


def mpb_centre() -> Measurement:
    """Centre of the R-to-M crossover: a logistic fit of the R share about the primary tilt axis
    against x on the cooling ramps, at the seed's 250 K (else the nearest of chapter 03's
    temperatures with a crossover), with chapter 03's bootstrap interval (90 %)."""
    settings = PROFILES["03_mpb"]["full"]
    windows = _grid(_sweep()["windows"])
    shares = r_share_table(windows, settings["temperatures"])
    fits = {}
    for temperature, group in shares.groupby("temperature_K"):
        try:
            fits[float(temperature)] = fit_mpb(group.fa_fraction, group.r_share, bootstrap=settings["bootstrap"])
        except ValueError:
            continue
    cubic = phase_at(windows[windows.kind == "cooling"], SEED_MPB_TEMPERATURE)
    still_cubic = f"{int((cubic.phase == 'a0a0a0').sum())} of {len(cubic)} cooling ramps are still cubic at " \
                  f"{SEED_MPB_TEMPERATURE:.0f} K"
    if not fits:
        return Measurement(f"no R-to-M crossover at {_temperatures(settings['temperatures'])}", found=False,
                           context=still_cubic)
    temperature = min(fits, key=lambda t: abs(t - SEED_MPB_TEMPERATURE))
    fit = fits[temperature]
    return Measurement(f"x = {fit.center:.2f} [{fit.center_low:.2f}, {fit.center_high:.2f}] at {temperature:.0f} K",
                       value=fit.center, low=fit.center_low, high=fit.center_high, context=still_cubic)


def layering_at_mpb() -> Measurement | None:
    """Layers of 2×2×2 blocks along the primary tilt axis (M, R or mixed) in the stored frames of
    the sweep's largest cooled cell, one observation per frame that maps onto perovskite sites (None
    when none maps)."""
    tables, frames = _sweep(), _sweep_frames()
    tasks = tables["tasks"]
    largest = tasks[(tasks.kind == "cooling") & (tasks.repeat == tasks.repeat.max())]
    observations, layers, skipped, kept_temperatures = [], [], [], []
    for frame in frames:
        if frame.info["task"] not in set(largest.task):
            continue
        try:
            labels = list(layer_table(block_modes(frame)).label)
        except ValueError:  # an iodine moved more than half the I-I distance: no site mapping
            skipped.append(frame.info["target_K"])
            continue
        kept_temperatures.append(frame.info["target_K"])
        layers.extend(labels)
        observations.append("alternating M and R layers" if {"M", "R"} <= set(labels) else "no M/R alternation")
    if not observations:
        return None
    row = largest.iloc[0]
    cooling = _adjacent_to_cubic(float(row.fa_fraction)).query("kind == 'cooling'")
    context = (f"the same x leaves the cubic phase only at {_temperatures(cooling.temperature_K)} in 768-atom cells"
               + (f"; the frame at {_temperatures(skipped)} does not map onto perovskite sites" if skipped else ""))
    return Measurement(f"{12 * int(row['repeat']) ** 3:,} atoms, x = {row.fa_fraction:g}, at "
                       f"{_temperatures(kept_temperatures)}: layers {_tally(pd.Series(layers))}",
                       observations=tuple(observations), context=context)


def damping_regime_hot() -> Measurement:
    """DHO regime of the M and R families in the hottest finished NVT run at each composition."""
    fits = _table("damping, first model (chapter 04)", "fits")
    finished = fits[fits.regime != "run failed"]
    hottest = finished[finished.temperature_K == finished.groupby("fa_fraction").temperature_K.transform("max")]
    runs = fits.drop_duplicates(["fa_fraction", "temperature_K"])
    failed = runs[runs.regime == "run failed"]
    underdamped = int((finished.regime == "underdamped").sum())
    hot = ", ".join(f"x = {x:g}: {t:.0f} K" for x, t in hottest.groupby("fa_fraction").temperature_K.first().items())
    return Measurement(f"{_tally(hottest.regime)} ({hot})", observations=tuple(hottest.regime),
                       context=f"{len(failed)} of {len(runs)} runs blew up; {underdamped} of {len(finished)} "
                               "fitted families underdamped in any run")


def vbm_spread_peak(bootstrap: int = 1000, seed: int = 0) -> Measurement:
    """Composition of the largest standard deviation of the VBM over snapshots at 330 K, with the
    central 90 % of that composition over bootstrap resamples of the snapshots of each x."""
    edges = _table("band edges, first model (chapter 05)", "edges")
    spreads = edges.groupby("fa_fraction")[["vbm", "cbm"]].std(ddof=1)
    rng = np.random.default_rng(seed)
    groups = [(float(x), g.vbm.to_numpy()) for x, g in edges.groupby("fa_fraction")]
    peaks = []
    for _ in range(bootstrap):
        resampled = [values[rng.integers(0, len(values), len(values))].std(ddof=1) for _, values in groups]
        peaks.append(groups[int(np.argmax(resampled))][0])
    low, high = np.percentile(peaks, [5, 95])
    peak = float(spreads.vbm.idxmax())
    return Measurement(f"x = {peak:g} [{low:g}, {high:g}]", value=peak, low=float(low), high=float(high),
                       context=f"VBM spread {1000 * spreads.vbm.max():.0f} meV there; the CBM spread is "
                               f"largest at x = {spreads.cbm.idxmax():g} (seed ≈ 0.4)")


# ---------------------------------------------------------------------------------------------
# readers: Ag3SBr(x)I(1-x)


def _gnn_r2(stage: str, seed_mae: float) -> Measurement:
    """The seed-style GNN of chapter 06's comparison on its held-out
    structures at ``stage`` ('cheap' or 'accurate')."""
    comparison = _table("antiperovskite gap models compared (chapter 06)", "baselines_and_gnn")
    held = comparison[(comparison.protocol == "held-out test") & (comparison.level == stage)].set_index("model")
    gnn, constant = held.loc["gnn"], held.loc["constant"]
    method = PROFILES["06_cap_models"]["full"]["gaps"][stage]
    level = {"pbe": "PBE", "gllbsc": "GLLB-SC"}.get(method, method)
    return Measurement(f"R² {gnn.r2:.2f} on {int(gnn.n_test)} held-out {level} gaps", value=float(gnn.r2),
                       context=f"MAE {gnn.mae_eV:.3f} eV (seed {seed_mae:g}); always predicting the training mean: "
                               f"{constant.mae_eV:.3f} eV; best baseline: "
                               f"{held[held.kind == 'baseline'].mae_eV.min():.3f} eV")


def gnn_cheap_r2() -> Measurement:
    """R² of the GNN after its first stage on the held-out cheap-level (PBE) gaps."""
    return _gnn_r2("cheap", 0.034)


def gnn_accurate_r2() -> Measurement:
    """R² of the GNN after its second stage on the held-out accurate-level (GLLB-SC) gaps."""
    return _gnn_r2("accurate", 0.071)


def finetuned_force_mae() -> Measurement:
    """Force MAE (meV/Å) of the fine-tuned CHGNet on held-out structures, against the reference's
    labels, with the pretrained model's for comparison."""
    errors = _table("antiperovskite models (chapter 06)", "errors")
    tuned = errors[errors.model.str.contains("fine-tuned")].iloc[0]
    pretrained = errors[errors.model.str.contains("pretrained")].iloc[0]
    return Measurement(f"{tuned.forces_mae:.1f} meV/Å ({int(tuned.structures)} held-out structures)",
                       value=float(tuned.forces_mae),
                       context=f"pretrained {pretrained.forces_mae:.0f} (seed 108); energy "
                               f"{tuned.energy_mae_after_offsets:.2f} meV/atom, stress {tuned.stress_mae:.2f} "
                               "meV/Å³ (seed 9 meV, 0.5 meV/Å³)")


def dynamic_stabilisation(temperature: float = 200.0) -> Measurement:
    """Γ modes of the lowest ordering per x that are imaginary at 0 K and have an underdamped real
    peak (FWHM below the peak frequency) in the MD spectra at ``temperature`` (K), all x together."""
    table = stabilised_modes(_table("antiperovskite thermal (chapter 07)", "renormalised"))
    nearest = table.temperature_K.iloc[int(np.argmin(np.abs(table.temperature_K - temperature)))]
    at = table[table.temperature_K == nearest]
    restored, unstable = int(at.underdamped_in_MD.sum()), int(at.unstable_at_0K.sum())
    hottest = table[table.temperature_K == table.temperature_K.max()]
    return Measurement(f"{restored} of {unstable} modes at {nearest:.0f} K ({at.br_fraction.nunique()} compositions)",
                       observations=("restored",) * restored + ("not restored",) * (unstable - restored),
                       context=f"every one has some peak at positive frequency; {int(hottest.underdamped_in_MD.sum())} "
                               f"of {int(hottest.unstable_at_0K.sum())} at {hottest.temperature_K.iloc[0]:.0f} K")


def _thermal_gaps() -> pd.DataFrame:
    return _table("antiperovskite thermal (chapter 07)", "thermal_gaps")


def _gap_model_error() -> float:
    """The accurate-level error (eV), in chapter 06's comparison, of the model chapter 07 takes its
    gaps from (the error that page is judged by, on the larger sample)."""
    folder = RESULT_SETS["antiperovskite gap models compared (chapter 06)"]
    comparison = _table("antiperovskite gap models compared (chapter 06)", "baselines_and_gnn")
    return accurate_level_error(comparison, gap_model_name(folder))


def _spot_agreement() -> dict:
    """:func:`spot_check_agreement` of chapter 07's checks against :func:`_gap_model_error`."""
    return spot_check_agreement(_table("antiperovskite thermal (chapter 07)", "spot_checks"), _gap_model_error())


def _md_gaps_unresolved(agreement: dict | None = None) -> Measurement | None:
    """None when the direct gaps of chapter 07's checked hot MD frames agree with its gap model on
    average; otherwise the measurement every claim on MD-averaged gaps reports instead of a number."""
    agreement = agreement or _spot_agreement()
    if agreement["agrees"]:
        return None
    return Measurement("not resolved: the gap model's gaps are contradicted by direct ones",
                       resolved=False, context=f"model minus direct on {agreement['frames']} hot MD frames: "
                                           f"{agreement['mean_eV']:+.2f} eV on average, mean absolute difference "
                                           f"{agreement['ratio']:.1f} times the model's own error (chapter 07)")


def gap_vs_br_at_0K() -> Measurement:
    """Chapter 07's 0 K gap of the relaxed lowest ordering per x (direct, or the model's where the
    calculation failed): the sign of each step of 1/8 in x."""
    if (_thermal_gaps().query("temperature_K == 0").source != "direct").any():
        unresolved = _md_gaps_unresolved()
        if unresolved is not None:
            return unresolved
    zero = _thermal_gaps().query("temperature_K == 0").sort_values("br_fraction")
    steps = np.diff(zero.gap_eV.to_numpy())
    lowest = zero.loc[zero.gap_eV.idxmin()]
    return Measurement(f"{zero.gap_eV.iloc[0]:.2f} eV at x = {zero.br_fraction.iloc[0]:g}, "
                       f"{zero.gap_eV.iloc[-1]:.2f} eV at x = {zero.br_fraction.iloc[-1]:g}",
                       observations=tuple("rises" if s > 0 else "falls" for s in steps),
                       context=f"minimum {lowest.gap_eV:.2f} eV at x = {lowest.br_fraction:g}; "
                               + ("direct gaps of the relaxed cells" if (zero.source == "direct").all() else
                                  "the model's gap at x = "
                                  + ", ".join(f"{x:g}" for x in zero[zero.source != "direct"].br_fraction)))


def gap_vs_temperature() -> Measurement:
    """Per x, whether the MD-averaged model gap falls with T: 'falls' when E_g(600 K) < E_g(0 K) and
    no step between neighbouring temperatures rises by more than twice its combined error."""
    unresolved = _md_gaps_unresolved()
    if unresolved is not None:
        return unresolved
    observations, rising = [], []
    for x, group in _thermal_gaps().groupby("br_fraction"):
        group = group.sort_values("temperature_K")
        gaps, errors = group.gap_eV.to_numpy(), group.error_eV.to_numpy()
        rises = np.diff(gaps) > 2 * np.hypot(errors[:-1], errors[1:])
        drop = gaps[-1] < gaps[0]
        observations.append("falls" if drop and not rises.any() else "falls with a rise" if drop else "rises")
        if rises.any():
            rising.append(f"{x:g}")
    falls = sum(o != "rises" for o in observations)
    return Measurement(f"falls from 0 to 600 K at {falls} of {len(observations)} x, steadily at "
                       f"{observations.count('falls')}", observations=tuple(observations),
                       context=(f"rises beyond 2σ between neighbouring T at x = {', '.join(rising)}; " if rising else "")
                               + "median over x from 0 K to the first MD temperature {:+.2f} eV, from there to the hottest {:+.2f} eV".format(
                                   *step_and_temperature_changes(_thermal_gaps())[["step_eV", "temperature_eV"]].median()))


def largest_reduction_at_300K() -> Measurement:
    """Br fraction of the largest relative gap reduction (E_g(300 K) - E_g(0 K)) / E_g(0 K); the
    interval is ± half the composition step. Not resolved when another composition's reduction is
    within the gap model's error of it (:func:`reductions_tied_with_largest`)."""
    unresolved = _md_gaps_unresolved()
    if unresolved is not None:
        return unresolved
    thermal = _thermal_gaps()
    row = largest_gap_reductions(thermal).set_index("temperature_K").loc[300.0]
    step = float(np.min(np.diff(np.unique(thermal.br_fraction))))
    at = thermal[thermal.temperature_K == 300.0].set_index("br_fraction").relative_change
    tied = reductions_tied_with_largest(thermal, 300.0, _gap_model_error())
    if tied:
        return Measurement("not resolved: the largest reductions are within the gap model's error of each other",
                           resolved=False,
                           context=f"largest at x = {row.br_fraction:g} ({100 * row.relative_change:+.1f} %), within "
                                   f"the error of it: " + ", ".join(f"x = {x:g} ({100 * at.loc[x]:+.1f} %)" for x in tied)
                                   + f" (model error {_gap_model_error():.3f} eV over each 0 K gap)")
    return Measurement(f"x = {row.br_fraction:g} ({100 * row.relative_change:+.1f} %)", value=float(row.br_fraction),
                       low=float(row.br_fraction) - step / 2, high=float(row.br_fraction) + step / 2,
                       context=f"smallest at x = {at.idxmax():g} ({100 * at.max():+.1f} %); Ag3SI "
                               f"{100 * at.loc[0.0]:+.1f} % (seed ≈ -33 %)")


def table1_against_experiment(tolerance_eV: float = 0.1) -> Measurement:
    """Per composition of the seed's Table I, our 300 K gap (nearest x) against the experimental
    room-temperature gap of its ref. 10 (the only one for every x): within ``tolerance_eV`` or not."""
    unresolved = _md_gaps_unresolved()
    if unresolved is not None:
        return unresolved
    thermal = _thermal_gaps()
    hot = thermal[thermal.temperature_K == 300.0].set_index("br_fraction").gap_eV
    rows = []
    for entry in pd.read_csv(CAP_SEED_TABLE).itertuples():
        nearest = float(hot.index[np.argmin(np.abs(hot.index - entry.br_fraction))])
        rows.append(dict(x=entry.br_fraction, ours_x=nearest, ours=float(hot.loc[nearest]),
                         experiment=float(entry.experiment_ref10_eV)))
    table = pd.DataFrame(rows).assign(difference=lambda t: t.ours - t.experiment)
    observations = tuple(f"within {tolerance_eV:g} eV" if abs(d) <= tolerance_eV else f"off by {d:+.2f} eV"
                         for d in table.difference)
    worst = table.loc[table.difference.abs().idxmax()]
    within = sum(o.startswith("within") for o in observations)
    return Measurement(f"{within} of {len(table)} compositions within {tolerance_eV:g} eV",
                       observations=observations,
                       context=f"largest: {worst.ours:.2f} vs {worst.experiment:.2f} eV at x = {worst.x:g}; "
                               "ours at the nearest x of the 1/8 grid")


# ---------------------------------------------------------------------------------------------
# the claims

CLAIMS: tuple[Claim, ...] = (
    Claim("MA/FA PbI3", "Fig. 1a", "NEP force RMSE on held-out structures", 82.0, "82 meV/Å", "at_most",
          "01_potential", nep_force_rmse, unit="meV/Å"),
    Claim("MA/FA PbI3", "Fig. 2a-c", "MAPbI3 phase at 300 K (heating and cooling)", "a0a0c-",
          "a0a0c- (R_z) from 225 to 385 K", "category", "02_phase_diagram", mapbi3_phase_at_300K, unit="ramps"),
    Claim("MA/FA PbI3", "Fig. 2a-c", "MAPbI3 cubic-tetragonal transition", 385.0, "≈ 385 K", "number",
          "02_phase_diagram", mapbi3_cubic_boundary, unit="K", tolerance=25.0),
    Claim("MA/FA PbI3", "Fig. 2a-c", "MAPbI3 on heating from a-a-c+: single-axis tetragonal phase reached at",
          225.0, "≈ 225 K (a-a-c+ → a0a0c-)", "number", "02_phase_diagram", mapbi3_tetragonal_on_heating,
          unit="K", tolerance=25.0),
    Claim("MA/FA PbI3", "Fig. 2a-c", "MAPbI3 a-a-c+ on cooling", "a-a-c+ never forms",
          "never forms (first order, kinetically trapped)", "category", "02_phase_diagram",
          mapbi3_orthorhombic_on_cooling, unit="ramps"),
    Claim("MA/FA PbI3", "Fig. 2e-g", "FAPbI3 phase next to the cubic one", "a0a0c+", "a0a0c+ (M_z)", "category",
          "02_phase_diagram", fapbi3_tetragonal_phase, unit="ramps"),
    Claim("MA/FA PbI3", "Fig. 4a", "Centre of the MPB (R-to-M crossover of the primary tilt)", 0.27,
          "x = 0.27 at 250 K", "number", "03_mpb", mpb_centre, tolerance=0.1),
    Claim("MA/FA PbI3", "Fig. 4a, b", "Layering near the MPB", "alternating M and R layers",
          "alternating M and R layers along the tilt axis", "category", "03_mpb", layering_at_mpb,
          unit="frames"),
    Claim("MA/FA PbI3", "Fig. 2d, 5b", "Tilt-mode dynamics far above the transition (hottest run per x)",
          "underdamped", "M and R underdamped", "category", "04_damping", damping_regime_hot,
          unit="mode families"),
    Claim("MA/FA PbI3", "Fig. 2d", "Mode-crossover composition (M and R turn overdamped at the same T)", 0.27,
          "at the MPB (x ≈ 0.27)", "number", "04_damping", None,
          pending="needs finished runs on both sides of the under/overdamped boundary at several x; chapter 04's "
                  "grid has no underdamped run, so there is no crossover to locate"),
    Claim("MA/FA PbI3", "Fig. 6", "Composition of the largest VBM fluctuation at 330 K", 0.2, "x ≈ 0.2",
          "number", "05_band_edges", vbm_spread_peak, tolerance=0.125),
    Claim("Ag3SBr/I", "Fig. 3f", "Band-gap GNN, first stage: test R²", 0.836, "R² 0.836 (PBEsol; MAE 0.034 eV)",
          "at_least", "06_cap_models", gnn_cheap_r2),
    Claim("Ag3SBr/I", "Fig. 3i", "Band-gap GNN, second stage: test R²", 0.843, "R² 0.843 (HSEsol; MAE 0.071 eV)",
          "at_least", "06_cap_models", gnn_accurate_r2),
    Claim("Ag3SBr/I", "Fig. 4", "Fine-tuned MLIP force MAE on held-out structures", 8.0, "8 meV/Å (from 108)",
          "at_most", "06_cap_models", finetuned_force_mae, unit="meV/Å"),
    Claim("Ag3SBr/I", "Fig. 6", "0 K imaginary Γ modes stabilised at 200 K (underdamped MD peak)", "restored",
          "all restored: spectrum entirely real", "category", "07_cap_thermal", dynamic_stabilisation,
          unit="modes"),
    Claim("Ag3SBr/I", "Fig. 7b", "E_g(0 K) against Br content (steps of 1/8)", "rises",
          "rises systematically with x", "category", "07_cap_thermal", gap_vs_br_at_0K, unit="steps"),
    Claim("Ag3SBr/I", "Fig. 7b, c", "E_g(T) at fixed composition", "falls", "falls with T at every x",
          "category", "07_cap_thermal", gap_vs_temperature, unit="compositions"),
    Claim("Ag3SBr/I", "Fig. 7d", "Br fraction of the largest relative gap reduction at 300 K", (0.6, 0.8),
          "x ≈ 0.6-0.8 (≈ -38 %)", "number", "07_cap_thermal", largest_reduction_at_300K, tolerance=0.125),
    Claim("Ag3SBr/I", "Table I", "E_g(300 K) against experiment (±0.1 eV)", "within 0.1 eV",
          "within 0.1 eV at all 5 compositions", "category", "07_cap_thermal", table1_against_experiment,
          unit="compositions"),
)
"""The seeds' central claims, in the order of the papers."""


# ---------------------------------------------------------------------------------------------
# evaluation and presentation


def measure(claim: Claim) -> Measurement | None:
    """Our measurement of ``claim``; None when it has no reader or its result set is missing."""
    if claim.reader is None:
        return None
    try:
        return claim.reader()
    except FileNotFoundError:
        return None


def evaluate(claim: Claim) -> dict[str, str]:
    """One row of the results table: the claim, our value, the verdict and its reason."""
    measurement = measure(claim)
    verdict = decide(claim, measurement)
    reason = verdict.reason
    if measurement is not None and measurement.context and measurement.context != reason:
        reason = f"{reason}; {measurement.context}"
    if measurement is None and claim.reader is not None:
        reason = f"the committed result set is missing ({claim.pending or 'rerun the chapter'})"
    return dict(seed=claim.seed, figure=claim.figure, quantity=claim.quantity, seed_value=claim.seed_shown,
                ours=measurement.shown if measurement is not None else "not measured", verdict=verdict.label,
                reason=reason, chapter=claim.chapter)


def results_table(claims: tuple[Claim, ...] = CLAIMS) -> pd.DataFrame:
    """One row per claim: ``seed``, ``figure``, ``quantity``, ``seed_value``, ``ours``, ``verdict``,
    ``reason``, ``chapter`` (notebook stem)."""
    return pd.DataFrame([evaluate(claim) for claim in claims])


def chapter_title(stem: str) -> str:
    """'02_phase_diagram' -> '02 phase diagram'."""
    number_part, _, name = stem.partition("_")
    return f"{number_part} {name.replace('_', ' ')}".strip()


def chapter_link(stem: str) -> str:
    """Relative link from a page under notebooks/ to the chapter's HTML page."""
    return f"../notebooks/{stem}.html"


def table_html(table: pd.DataFrame) -> str:
    """The results table as an HTML table grouped by seed, verdicts coloured, chapters linked."""
    columns = ("figure", "quantity", "seed_value", "ours", "verdict", "reason", "chapter")
    headers = ("figure", "quantity", "seed", "ours", "verdict", "reason", "chapter")
    lines = ['<table class="results-at-a-glance" style="font-size:0.85em;border-collapse:collapse">',
             "<thead><tr>" + "".join(f'<th style="text-align:left">{h}</th>' for h in headers) + "</tr></thead>",
             "<tbody>"]
    for seed, rows in table.groupby("seed", sort=False):
        lines.append(f'<tr><th colspan="{len(columns)}" style="text-align:left;padding-top:0.8em">'
                     f"{html.escape(SEEDS[seed])}</th></tr>")
        for row in rows.itertuples():
            cells = []
            for column in columns:
                value = getattr(row, column)
                if column == "chapter":
                    cells.append(f'<td><a href="{chapter_link(value)}">{html.escape(chapter_title(value))}</a></td>')
                elif column == "verdict":
                    cells.append(f'<td style="background:{VERDICT_COLOURS[value]};white-space:nowrap">'
                                 f"<strong>{html.escape(value)}</strong></td>")
                else:
                    cells.append(f"<td>{html.escape(str(value))}</td>")
            lines.append('<tr style="border-top:1px solid #ddd">' + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def table_markdown(table: pd.DataFrame) -> str:
    """The results table as a Markdown table (for text reports)."""
    header = "| seed | figure | quantity | seed's value | ours | verdict | reason | chapter |\n|---|---|---|---|---|---|---|---|"
    rows = [f"| {r.seed} | {r.figure} | {r.quantity} | {r.seed_value} | {r.ours} | **{r.verdict}** | {r.reason} | "
            f"[{chapter_title(r.chapter)}]({chapter_link(r.chapter)}) |" for r in table.itertuples()]
    return "\n".join([header, *rows])


def decision_rule() -> str:
    """The decision rule as stated in this module's docstring (a Markdown list)."""
    return __doc__.split("Decision rule\n-------------\n", 1)[1].strip()


def readers_markdown(claims: tuple[Claim, ...] = CLAIMS) -> str:
    """A Markdown list: for each claim, how our value is read (the reader's docstring)."""
    items = []
    for claim in claims:
        how = " ".join((claim.reader.__doc__ or "").split()) if claim.reader else f"not measured: {claim.pending}."
        if claim.tolerance is not None:
            how += f" Tolerance: ±{number(claim.tolerance)}{f' {claim.unit}' if claim.unit else ''}."
        items.append(f"- **{claim.figure}, {claim.quantity}** ({claim.seed}): {how}")
    return "\n".join(items)


def sources() -> pd.DataFrame:
    """The committed result sets the readers use, with the commit and date of their provenance."""
    rows = []
    for what, folder in RESULT_SETS.items():
        record = read_provenance(folder) or {}
        rows.append(dict(holds=what, folder=display_path(folder), commit=record.get("git_commit", "none"),
                         created_utc=str(record.get("created_utc", "none"))[:16].replace("T", " ")))
    rows.append(dict(holds="the antiperovskite seed's Table I (transcribed by hand)",
                     folder=display_path(CAP_SEED_TABLE), commit="", created_utc=""))
    return pd.DataFrame(rows)


def verdict_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Number of claims per seed and verdict (every verdict a column, in :data:`VERDICTS` order)."""
    counts = table.groupby(["seed", "verdict"]).size().unstack(fill_value=0)
    return counts.reindex(columns=list(VERDICTS), fill_value=0).reindex(list(dict.fromkeys(table.seed)))
