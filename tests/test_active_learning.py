"""The active-learning loop on a toy problem (CsPbI3 with Lennard-Jones labels, tiny models)."""

import numpy as np
import pytest

from softlattice.active_learning import ActiveLearningSettings, ExplorationCondition, run_active_learning
from softlattice.md import MDSettings
from softlattice.structures import build_perovskite

from test_training import CSPBI3, TINY, lj, rattled_cspbi3


def conditions():
    start = build_perovskite("Cs", (2, 2, 1), glazer="a0a0c+", tilt_angle=8.0)
    return [ExplorationCondition(start, 300.0, 0.2), ExplorationCondition(start, 900.0, 0.2)]


def settings(threshold):
    return ActiveLearningSettings(generations=2, members=2, steps=150, select_per_generation=5,
                                  force_spread_threshold=threshold, snapshot_interval_ps=0.02,
                                  md=MDSettings(ensemble="nvt", timestep_fs=2.0, sample_interval=5))


def test_loop_selects_uncertain_snapshots_grows_the_set_and_resumes(tmp_path):
    initial = rattled_cspbi3(10, 0.03, 0.0, seed=4)
    table = run_active_learning(initial, conditions(), tmp_path, reference=lj(), reference_name="lj",
                                settings=settings(1e-6), hyper=TINY, species=CSPBI3)
    assert list(table.generation) == [0, 1]
    assert table.n_selected.iloc[0] == 5 and table.n_candidates.iloc[0] > 5
    assert table.n_training_structures.iloc[1] == 10 + 5
    spreads = np.loadtxt(tmp_path / "generation_0" / "candidate_spread.csv", delimiter=",", skiprows=1)
    selected_floor = np.sort(spreads[:, 1])[-5]
    assert selected_floor >= np.median(spreads[:, 1])  # the most uncertain were labelled
    again = run_active_learning(initial, conditions(), tmp_path, reference=lj(), reference_name="lj",
                                settings=settings(1e-6), hyper=TINY, species=CSPBI3)
    assert again.equals(table)  # nothing retrained, relabelled or re-explored


def test_loop_stops_when_the_ensemble_agrees(tmp_path):
    initial = rattled_cspbi3(10, 0.03, 0.0, seed=4)
    table = run_active_learning(initial, conditions(), tmp_path, reference=lj(), reference_name="lj",
                                settings=settings(1e6), hyper=TINY, species=CSPBI3)
    assert len(table) == 1 and bool(table.stopped.iloc[0]) and table.n_selected.iloc[0] == 0


def test_bad_settings():
    with pytest.raises(ValueError, match="threshold"):
        ActiveLearningSettings(force_spread_threshold=0)
    with pytest.raises(ValueError, match="must be positive"):
        ActiveLearningSettings(generations=0)
