"""Crossing temperatures of the damping ratio and the M/R crossover composition, on synthetic maps."""

import numpy as np
import pandas as pd
import pytest

from softlattice.perovskite.damping_map import crossing_table, crossing_temperature, mode_crossover


def test_crossing_is_interpolated_in_log_ratio_and_missing_when_there_is_none():
    t = np.array([300.0, 400.0, 500.0, 600.0])
    assert crossing_temperature(t, np.exp(-(t - 450.0) / 100)) == pytest.approx(450.0)
    assert np.isnan(crossing_temperature(t, [2.0, 1.8, 1.5, 1.2]))
    assert crossing_temperature(t[::-1], np.exp(-(t[::-1] - 450.0) / 100)) == pytest.approx(450.0)  # any order


def synthetic_map(error=0.05):
    """M crosses at 350 + 300 x K, R at 650 - 300 x K: they meet at x = 0.5 (500 K)."""
    rows = []
    for x in (0.0, 0.25, 0.5, 0.75, 1.0):
        for family, crossing in (("M", 350 + 300 * x), ("R", 650 - 300 * x)):
            for t in (300.0, 400.0, 500.0, 600.0, 700.0):
                rows.append(dict(fa_fraction=x, family=family, temperature_K=t,
                                 damping_ratio=float(np.exp(-(t - crossing) / 150)), damping_ratio_error=error))
    return pd.DataFrame(rows)


def test_crossover_composition_of_a_synthetic_map_with_an_interval():
    crossings = crossing_table(synthetic_map())
    m = crossings[crossings.family == "M"].set_index("fa_fraction")
    assert m.crossing_K.to_numpy() == pytest.approx([350, 425, 500, 575, 650], abs=1.0)
    assert (m.low_K < m.crossing_K).all() and (m.crossing_K < m.high_K).all()
    result = mode_crossover(crossings)
    assert result["crossover"] == pytest.approx(0.5, abs=0.01)
    assert result["low"] < 0.5 < result["high"] and result["high"] - result["low"] < 0.2


def test_no_crossing_and_no_crossover_are_said_plainly():
    flat = synthetic_map().assign(damping_ratio=2.0)
    crossings = crossing_table(flat)
    assert set(crossings.regime) == {"overdamped throughout"} and crossings.crossing_K.isna().all()
    assert np.isnan(mode_crossover(crossings)["crossover"])
    parallel = synthetic_map()
    r = parallel.family == "R"
    parallel.loc[r, "damping_ratio"] = np.exp(-(parallel.temperature_K[r] - (450 + 300 * parallel.fa_fraction[r])) / 150)
    # R now crosses 100 K above M at every x: the families never meet
    parallel_result = mode_crossover(crossing_table(parallel))
    assert np.isnan(parallel_result["crossover"]) and "keeps its sign" in parallel_result["reason"]


def test_no_ratios_give_an_empty_crossing_table_with_its_columns():
    empty = pd.DataFrame(columns=["fa_fraction", "family", "temperature_K", "damping_ratio", "damping_ratio_error"])
    table = crossing_table(empty)
    assert table.empty and {"crossing_K", "regime"} <= set(table.columns)
    assert np.isnan(mode_crossover(table)["crossover"])
