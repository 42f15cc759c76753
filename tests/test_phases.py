"""Phase classification from mode amplitudes, noise thresholds, transitions and hysteresis."""

import numpy as np
import pandas as pd
import pytest

from softlattice.perovskite.modes import MODES, iodine_displacements, map_framework, project_modes
from softlattice.perovskite.phases import (
    NoiseThresholds,
    classify_windows,
    glazer_label,
    hysteresis,
    noise_thresholds,
    phase_sequence,
    transition_temperatures,
)
from softlattice.perovskite.structures import build_perovskite

CANONICAL = {"a0a0a0": "a0a0a0", "a0a0c-": "a0a0c-", "a0a0c+": "a0a0c+", "a-a-c+": "a-a-c+",
             "a-a-a-": "a-a-a-", "a+a+a+": "a+a+a+", "a0b+c-": "a0b-c+", "a-b+a-": "a-a-c+",
             "a+a0a0": "a0a0c+"}


@pytest.mark.parametrize("glazer, expected", CANONICAL.items())
def test_synthetic_patterns_are_classified(glazer, expected):
    atoms = build_perovskite("Cs", (4, 4, 4), glazer=glazer, tilt_angle=7.0)
    atoms.rattle(0.01, seed=2)
    framework_map = map_framework(atoms)
    q = np.abs(project_modes(iodine_displacements(atoms, framework_map), framework_map)[0])
    assert glazer_label(q[:3], q[3:], 0.05, 0.05) == expected


def test_unequal_tilts_get_distinct_letters():
    assert glazer_label(np.zeros(3), np.array([0.2, 0.5, 0.0]), 0.05, 0.05) == "a0b-c-"
    assert glazer_label(np.array([0, 0, 0.3]), np.array([0.3, 0, 0]), 0.05, 0.05) == "a0b-c+"


def test_mixed_axis_is_marked():
    assert glazer_label(np.array([0, 0, 0.3]), np.array([0, 0, 0.3]), 0.05, 0.05) == "a0a0c*"


def synthetic_run(temperatures, active, rng, noise=0.02):
    rows = []
    for t in temperatures:
        row = {"target_K": t, "a_A": 6.3, "b_A": 6.3, "c_A": 6.3}
        for mode in MODES:
            row[f"Q_{mode}"] = rng.normal(0, noise * np.sqrt(t / 300)) + active(mode, t)
        rows.append(row)
    return pd.DataFrame(rows)


def test_noise_thresholds_scale_and_reject_short_references():
    rng = np.random.default_rng(0)
    reference = synthetic_run(np.full(400, 600.0), lambda m, t: 0.0, rng)
    thresholds = noise_thresholds(reference, window=20)
    assert thresholds.reference_K == 600
    m_low, _ = thresholds.at(150.0)
    assert m_low == pytest.approx(thresholds.m_threshold / 2)
    with pytest.raises(ValueError, match="at least 60"):
        noise_thresholds(reference.iloc[:50], window=20)


def test_transitions_from_a_synthetic_heating_ramp():
    rng = np.random.default_rng(1)

    def active(mode, t):  # a-a-c+ below 300 K, a0a0c+ up to 450 K, cubic above
        if mode == "M_z" and t < 450:
            return 0.4 * np.sqrt(1 - t / 450)
        if mode in ("R_x", "R_y") and t < 300:
            return 0.4 * np.sqrt(1 - t / 300)
        return 0.0

    temperatures = np.linspace(100, 700, 1200)
    run = synthetic_run(temperatures, active, rng)
    reference = synthetic_run(np.full(400, 700.0), lambda m, t: 0.0, rng)
    thresholds = noise_thresholds(reference, window=20)
    windows = classify_windows(run, thresholds)
    assert phase_sequence(windows) == ["a-a-c+", "a0a0c+", "a0a0a0"]
    transitions = transition_temperatures(windows)
    assert transitions.temperature_K.iloc[0] == pytest.approx(300, abs=25)
    assert transitions.temperature_K.iloc[1] == pytest.approx(450, abs=25)
    assert np.all(transitions.resolution_K < 10)


def test_hysteresis_pairs_reverse_transitions():
    heating = pd.DataFrame(dict(from_phase=["a-a-c+", "a0a0c+"], to_phase=["a0a0c+", "a0a0a0"],
                                temperature_K=[320.0, 460.0], resolution_K=[5.0, 5.0]))
    cooling = pd.DataFrame(dict(from_phase=["a0a0a0"], to_phase=["a0a0c+"], temperature_K=[430.0],
                                resolution_K=[5.0]))
    table = hysteresis(heating, cooling)
    assert table.hysteresis_K.iloc[1] == pytest.approx(30.0)
    assert np.isnan(table.cooling_K.iloc[0])  # seen on heating only, as reported, not averaged


def test_classification_needs_a_full_window():
    with pytest.raises(ValueError, match="fewer than one window"):
        classify_windows(synthetic_run([300.0] * 5, lambda m, t: 0, np.random.default_rng(0)),
                         NoiseThresholds(0.1, 0.1, 300.0, 10))


def test_equal_rule_gives_both_families_one_threshold_between_their_own():
    rng = np.random.default_rng(0)
    samples = 400
    reference = pd.DataFrame({"target_K": np.full(samples, 400.0),
                              **{f"Q_M_{a}": rng.normal(0, 0.05, samples) for a in "xyz"},
                              **{f"Q_R_{a}": rng.normal(0, 0.10, samples) for a in "xyz"}})
    own = noise_thresholds(reference, 20, rule="per-family")
    equal = noise_thresholds(reference, 20, rule="equal")
    assert own.m_threshold < own.r_threshold
    assert equal.m_threshold == equal.r_threshold and own.m_threshold < equal.m_threshold
    with pytest.raises(ValueError, match="unknown threshold rule 'same'"):
        noise_thresholds(reference, 20, rule="same")


def test_reclassifying_the_committed_sweep_with_its_own_rule_reproduces_its_windows():
    from softlattice.infra.paths import DATA_DIR
    from softlattice.perovskite.workflows.phase_diagram import load_sweep, reclassify_sweep
    folder = DATA_DIR / "phase_diagram" / "mafa-chgnet-r2scan"
    committed = load_sweep(folder)["windows"]
    windows, _ = reclassify_sweep(folder, 0.25, rule="per-family")
    assert len(windows) == len(committed) and (windows.phase.to_numpy() == committed.phase.to_numpy()).all()
