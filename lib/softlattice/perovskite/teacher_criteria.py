"""The rule that chooses the MA/FA teacher. Its thresholds are the ones issue 15 set before any
measurement; the tie-break was added here after the first yardstick slopes had been seen.

Units: lattice constants in Å, energies in meV per formula unit, slopes dimensionless
(:mod:`softlattice.perovskite.force_scale`).

A candidate qualifies when every criterion below holds on what was measured:

1. force scale against the CsPbI3 yardstick (r2SCAN+rVV10 NEP): the Pb and the iodine longitudinal
   and transverse slopes within :data:`SLOPE_RANGE`;
2. force scale against DFT on MA/FA cells (plane-wave GPAW where measured, else LCAO): the same
   three slopes within :data:`SLOPE_RANGE`;
3. the pseudo-cubic lattice constant of the lowest relaxed (0 K) phase of each end member within
   :data:`LATTICE_TOLERANCE` of low-temperature experiment, where a low-temperature value is sourced;
   a candidate whose every relaxation of an end member broke the PbI6 framework fails it.

Among qualifying candidates the teacher is the one whose DFT transverse iodine slope (the tilt
forces) is closest to 1 on a log scale. A candidate with an unmeasured criterion does not qualify.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SLOPE_RANGE = (0.8, 1.25)
LATTICE_TOLERANCE = 0.02
SLOPES = ("Pb", "I_longitudinal", "I_transverse")
END_MEMBERS = {0.0: "MAPbI3", 1.0: "FAPbI3"}


def in_range(value: float, bounds: tuple[float, float] = SLOPE_RANGE) -> bool | None:
    """Whether ``value`` lies in ``bounds``; None when it was not measured (NaN)."""
    if value is None or not np.isfinite(value):
        return None
    return bool(bounds[0] <= value <= bounds[1])


def lowest_phase_lattice(relaxed: pd.DataFrame) -> pd.DataFrame:
    """Per candidate and end member: the lowest-energy converged relaxed phase (over tilt patterns
    and arrangements), its pseudo-cubic lattice constant (Å) and its tilt pattern."""
    done = relaxed[relaxed.converged.astype(bool) & relaxed.fa_fraction.isin(list(END_MEMBERS))]
    lowest = done.loc[done.groupby(["candidate", "fa_fraction"]).energy_eV_per_fu.idxmin()]
    return lowest[["candidate", "fa_fraction", "glazer", "lattice_constant"]].reset_index(drop=True)


def tilt_energy_difference(relaxed: pd.DataFrame) -> pd.DataFrame:
    """Per candidate and end member: E(a0a0c-) - E(a0a0c+) in meV/f.u. (negative: c- is lower),
    averaged over the arrangements relaxed in both phases."""
    done = relaxed[relaxed.converged.astype(bool) & relaxed.glazer.isin(["a0a0c-", "a0a0c+"])]
    wide = done.pivot_table(index=["candidate", "fa_fraction", "arrangement"], columns="glazer",
                            values="energy_eV_per_fu")
    wide = wide.dropna() if {"a0a0c-", "a0a0c+"} <= set(wide.columns) else wide.iloc[0:0]
    if wide.empty:
        return pd.DataFrame(columns=["candidate", "fa_fraction", "c_minus_minus_c_plus_meV", "arrangements"])
    difference = 1000 * (wide["a0a0c-"] - wide["a0a0c+"])
    return difference.groupby(level=["candidate", "fa_fraction"]).agg(["mean", "size"]).reset_index().rename(
        columns={"mean": "c_minus_minus_c_plus_meV", "size": "arrangements"})


def criteria_table(scales: pd.DataFrame, relaxed: pd.DataFrame, experiment: dict[float, float]) -> pd.DataFrame:
    """Every candidate against every criterion.

    Parameters
    ----------
    scales
        One row per candidate and reference set ('yardstick', 'gpaw-lcao', 'gpaw-pw') with
        ``slope_<name>`` columns.
    relaxed
        Relaxed phases (:func:`softlattice.perovskite.workflows.teacher.relaxed_table`).
    experiment
        Low-temperature pseudo-cubic lattice constant (Å) per end member x (0 or 1), where sourced.

    Returns
    -------
    One row per candidate: the slopes used, the DFT set they came from, lattice constants and
    their relative errors, the c-/c+ energy differences, one ``pass_<criterion>`` per criterion
    (True, False, or None when not measured) and ``qualifies``.
    """
    lattice = lowest_phase_lattice(relaxed)
    tilts = tilt_energy_difference(relaxed)
    rows = []
    for candidate in scales.candidate.unique():
        own = scales[scales.candidate == candidate].set_index("reference_set")
        row: dict = {"candidate": candidate}
        dft_set = "gpaw-pw" if "gpaw-pw" in own.index else "gpaw-lcao" if "gpaw-lcao" in own.index else None
        row["dft_set"] = dft_set
        for label, source in (("yardstick", "yardstick"), ("dft", dft_set)):
            values = [own.loc[source, f"slope_{name}"] if source in own.index else np.nan for name in SLOPES]
            row.update({f"{label}_{name}": value for name, value in zip(SLOPES, values)})
            verdicts = [in_range(v) for v in values]
            row[f"pass_{label}"] = None if None in verdicts else all(verdicts)
        lattice_verdicts = []
        for x, name in END_MEMBERS.items():
            found = lattice[(lattice.candidate == candidate) & (lattice.fa_fraction == x)]
            value = float(found.lattice_constant.iloc[0]) if len(found) else np.nan
            row[f"a_{name}"] = value
            row[f"lowest_phase_{name}"] = found.glazer.iloc[0] if len(found) else None
            tilt = tilts[(tilts.candidate == candidate) & (tilts.fa_fraction == x)]
            row[f"c_minus_minus_c_plus_{name}_meV"] = float(tilt.c_minus_minus_c_plus_meV.iloc[0]) if len(tilt) \
                else np.nan
            if x in experiment:
                error = value / experiment[x] - 1 if np.isfinite(value) else np.nan
                row[f"a_error_{name}"] = error
                verdict = in_range(abs(error), (0.0, LATTICE_TOLERANCE))
                if verdict is None and _relaxed_but_broken(relaxed, candidate, x):
                    verdict = False  # relaxations were run, none ended converged with an intact framework
                lattice_verdicts.append(verdict)
        row["pass_lattice"] = None if not lattice_verdicts or None in lattice_verdicts else all(lattice_verdicts)
        verdicts = [row["pass_yardstick"], row["pass_dft"], row["pass_lattice"]]
        row["qualifies"] = None not in verdicts and all(verdicts)
        rows.append(row)
    return pd.DataFrame(rows)


def _relaxed_but_broken(relaxed: pd.DataFrame, candidate: str, fa_fraction: float) -> bool:
    """Whether ``candidate`` has relaxations of this end member, and every one of them broke the
    PbI6 framework (a model that cannot hold the structure fails the lattice criterion)."""
    if "framework_intact" not in relaxed:
        return False
    own = relaxed[(relaxed.candidate == candidate) & (relaxed.fa_fraction == fa_fraction)]
    return len(own) > 0 and not own.framework_intact.astype(bool).any()


def _failed(verdict) -> bool:
    return verdict is not None and not pd.isna(verdict) and not bool(verdict)


def choose_teacher(criteria: pd.DataFrame) -> tuple[str | None, str]:
    """The teacher by the rule of this module, and a sentence saying why (or why none)."""
    qualified = criteria[criteria.qualifies.astype(bool)]
    if len(qualified):
        closeness = np.abs(np.log(qualified.dft_I_transverse.astype(float)))
        best = qualified.loc[closeness.idxmin()]
        return str(best.candidate), (f"{best.candidate} meets every criterion and its DFT transverse iodine "
                                     f"slope ({best.dft_I_transverse:.2f}) is the closest to 1")
    unmeasured = criteria[criteria[["pass_yardstick", "pass_dft", "pass_lattice"]].isna().any(axis=1)]
    checks = ("pass_yardstick", "pass_dft", "pass_lattice")
    failing = {row.candidate: [c.removeprefix("pass_") for c in checks if _failed(getattr(row, c))]
               for row in criteria.itertuples()}
    reason = "; ".join(f"{name} fails {', '.join(fails)}" for name, fails in failing.items() if fails)
    if len(unmeasured):
        reason += ("; " if reason else "") + f"not yet measured in full: {', '.join(unmeasured.candidate)}"
    return None, f"no candidate qualifies ({reason})"


def tilt_energy_spread(relaxed: pd.DataFrame, candidate: str) -> pd.DataFrame:
    """Per composition and starting tilt phase of one candidate: the mean, the spread (max - min)
    and the number of molecular arrangements of the converged relaxed energies relative to a0a0a0
    (meV/f.u.; :func:`relaxed_table`'s ``energy_meV_per_fu``)."""
    own = relaxed[(relaxed.candidate == candidate) & relaxed.converged.astype(bool)].dropna(subset=["energy_meV_per_fu"])
    grouped = own.groupby(["fa_fraction", "glazer"]).energy_meV_per_fu
    return pd.DataFrame({"mean_meV_per_fu": grouped.mean(), "spread_meV_per_fu": grouped.max() - grouped.min(),
                         "arrangements": grouped.size()}).reset_index()

