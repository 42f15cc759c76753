"""The transcribed experimental phase transitions of MA(1-x)FA(x)PbI3 (``data/reference/experiments.csv``)
as the comparisons of chapter 02 read them.

Units: K. Each row is one transition with its low-temperature phase (``from_phase``) and its
high-temperature phase (``to_phase``), at a composition (``fa_fraction_low`` = ``fa_fraction_high``)
or over a composition range, with a temperature or a temperature range (empty for the MPB row,
which gives a composition range only).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from softlattice.infra.paths import DATA_DIR

EXPERIMENTS_FILE = DATA_DIR / "reference" / "experiments.csv"


def load_experiments(path: str | Path = EXPERIMENTS_FILE) -> pd.DataFrame:
    """The transcribed transitions, one row each (see the module docstring)."""
    return pd.read_csv(path)


def _at_composition(experiments: pd.DataFrame, fa_fraction: float) -> pd.DataFrame:
    single = experiments[(experiments.fa_fraction_low == fa_fraction) & (experiments.fa_fraction_high == fa_fraction)]
    return single.dropna(subset=["temperature_low_K"]).sort_values("temperature_low_K", kind="stable")


def experimental_phase_at(experiments: pd.DataFrame, fa_fraction: float, temperature: float) -> str | None:
    """The phase the transitions at exactly ``fa_fraction`` give at ``temperature`` (K): the
    low-temperature side of the lowest transition above it, or the high-temperature side of the
    highest one when all lie below; None when none is transcribed at that composition."""
    rows = _at_composition(experiments, fa_fraction)
    if not len(rows):
        return None
    above = rows[rows.temperature_low_K > temperature]
    return str(above.iloc[0].from_phase) if len(above) else str(rows.iloc[-1].to_phase)


def experimental_transition_text(experiments: pd.DataFrame, fa_fraction: float, to_phase: str,
                                 from_phase: str | None = None) -> str:
    """The transitions at ``fa_fraction`` into ``to_phase`` (from ``from_phase``, if given) in words,
    e.g. '327 K (Poglitsch and Weber 1987)'; 'not transcribed' when there is none."""
    rows = _at_composition(experiments, fa_fraction)
    rows = rows[rows.to_phase == to_phase]
    if from_phase is not None:
        rows = rows[rows.from_phase == from_phase]
    return "; ".join(f"{r.temperature_low_K:.0f} K ({r.source})" if r.temperature_low_K == r.temperature_high_K
                     else f"{r.temperature_low_K:.0f}-{r.temperature_high_K:.0f} K ({r.source})"
                     for r in rows.itertuples()) or "not transcribed"


def experimental_mpb_text(experiments: pd.DataFrame, lower: str = "a0a0c-", upper: str = "a0a0c+") -> str:
    """The composition range of the transition between the two tetragonal phases (``lower`` at
    small x, ``upper`` at large x) in words, e.g. 'x = 0.2-0.3 (source)'; 'not transcribed' when
    there is none."""
    rows = experiments[(experiments.from_phase == lower) & (experiments.to_phase == upper)]
    return "; ".join(f"x = {r.fa_fraction_low:g}-{r.fa_fraction_high:g} ({r.source})"
                     for r in rows.itertuples()) or "not transcribed"
