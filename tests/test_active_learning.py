"""The active-learning loop on a toy problem (CsPbI3 with Lennard-Jones labels, tiny models)."""

import numpy as np
import pytest
from test_training import CSPBI3, TINY, lj, rattled_cspbi3

from softlattice.md.engine import MDSettings
from softlattice.models.active_learning import ActiveLearningSettings, ExplorationCondition, run_active_learning
from softlattice.models.reference import label_structures
from softlattice.perovskite.structures import build_perovskite


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
                                settings=settings(1e-6), hyper=TINY, species=CSPBI3).summary
    assert list(table.generation) == [0, 1]
    assert table.n_selected.iloc[0] == 5 and table.n_candidates.iloc[0] > 5
    assert table.n_training_structures.iloc[1] == 10 + 5
    spreads = np.loadtxt(tmp_path / "generation_0" / "candidate_spread.csv", delimiter=",", skiprows=1)
    selected_floor = np.sort(spreads[:, 1])[-5]
    assert selected_floor >= np.median(spreads[:, 1])  # the most uncertain were labelled
    counting = lj()
    calls = []
    real_calculate = counting.calculate
    counting.calculate = lambda *a, **k: calls.append(1) or real_calculate(*a, **k)
    again = run_active_learning(initial, conditions(), tmp_path, reference=counting, reference_name="lj",
                                settings=settings(1e-6), hyper=TINY, species=CSPBI3).summary
    assert again.equals(table)  # nothing retrained or re-explored
    assert not calls  # nor relabelled: the snapshots read back from disk hit the label cache


def test_loop_stops_when_the_ensemble_agrees(tmp_path):
    initial = rattled_cspbi3(10, 0.03, 0.0, seed=4)
    table = run_active_learning(initial, conditions(), tmp_path, reference=lj(), reference_name="lj",
                                settings=settings(1e6), hyper=TINY, species=CSPBI3).summary
    assert len(table) == 1 and bool(table.stopped.iloc[0]) and table.n_selected.iloc[0] == 0


def test_bad_settings():
    with pytest.raises(ValueError, match="threshold"):
        ActiveLearningSettings(force_spread_threshold=0)
    with pytest.raises(ValueError, match="must be positive"):
        ActiveLearningSettings(generations=0)


def test_selection_caps_each_run_and_skips_unlabellable_snapshots():
    import pandas as pd

    from softlattice.models.active_learning import select_uncertain
    snapshots = rattled_cspbi3(8, 0.02, 0.0, seed=7)
    for k, atoms in enumerate(snapshots):
        atoms.info["condition"] = 0 if k < 6 else 1
    snapshots[0].positions[1] = snapshots[0].positions[0] + 0.3  # overlapping: no reference can label it
    spread = pd.DataFrame(dict(force_std_max_eV_per_A=[9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 0.5, 0.05]))
    chosen = select_uncertain(spread, snapshots, ActiveLearningSettings(
        select_per_generation=4, force_spread_threshold=0.1, max_per_condition=2))
    assert chosen == [1, 2, 6]  # 0 overlaps, run 0 is capped at two, 7 is below the threshold


def test_force_filter_leaves_out_near_collisions(tmp_path):
    from softlattice.models.active_learning import trainable
    labelled = label_structures(rattled_cspbi3(4, 0.02, 0.0, seed=8), lj(), name="lj", cache_dir=tmp_path)
    largest = [np.abs(a.get_forces()).max() for a in labelled]
    cut = float(np.median(largest))
    kept = trainable(labelled, cut)
    assert len(kept) == sum(f <= cut for f in largest) and len(trainable(labelled, None)) == 4


def test_median_spread_rule_stops_a_loop_that_still_selects():
    import pandas as pd

    from softlattice.models.active_learning import stopping_reason
    spread = pd.DataFrame(dict(force_std_max_eV_per_A=[0.05, 0.08, 0.10, 0.40, 0.90], n_atoms=96))
    assert stopping_reason(spread, [4, 3], ActiveLearningSettings(force_spread_threshold=0.15)) is None
    assert stopping_reason(spread, [4, 3], ActiveLearningSettings(force_spread_threshold=0.15,
                                                                  stop_median_spread=0.15)) == "median spread"
    assert stopping_reason(spread, [4, 3], ActiveLearningSettings(stop_median_spread=0.09)) is None
    assert stopping_reason(spread, [], ActiveLearningSettings()) == "nothing uncertain"
    with pytest.raises(ValueError, match="stop_median_spread"):
        ActiveLearningSettings(stop_median_spread=0.0)


def test_saturation_rule_needs_every_cell_size_to_stall_and_no_blow_up():
    import pandas as pd

    from softlattice.models.active_learning import stopping_reason
    settings = ActiveLearningSettings(stop_median_spread=0.15, stop_spread_gain=0.25)
    before = pd.DataFrame(dict(force_std_max_eV_per_A=[0.3, 0.3, 0.5, 0.5], n_atoms=[96, 96, 768, 768]))
    stalled = pd.DataFrame(dict(force_std_max_eV_per_A=[0.25, 0.25, 0.45, 0.45], n_atoms=[96, 96, 768, 768]))
    assert stopping_reason(stalled, [0], settings, before) == "spread saturated"
    assert stopping_reason(stalled, [0], settings, before, blew_up=True) is None
    assert stopping_reason(stalled, [0], settings, None) is None  # nothing to compare with
    assert stopping_reason(stalled, [0], ActiveLearningSettings(stop_median_spread=0.15), before) is None
    large_cells_improve = stalled.assign(force_std_max_eV_per_A=[0.25, 0.25, 0.30, 0.30])
    assert stopping_reason(large_cells_improve, [0], settings, before) is None
    new_size = stalled.assign(n_atoms=[96, 96, 1536, 1536])
    assert stopping_reason(new_size, [0], settings, before) is None
    with pytest.raises(ValueError, match="stop_spread_gain 1.5"):
        ActiveLearningSettings(stop_spread_gain=1.5)


def test_interrupted_exploration_resumes_at_the_first_unfinished_condition(tmp_path, monkeypatch):
    import softlattice.models.active_learning as al
    from softlattice.models.nep import train_ensemble
    labelled = label_structures(rattled_cspbi3(8, 0.03, 0.0, seed=2), lj(), name="lj", cache_dir=tmp_path)
    model = train_ensemble(labelled, tmp_path / "model", 100, 1, hyper=TINY, species=CSPBI3)[0].model_path
    md = MDSettings(ensemble="nvt", timestep_fs=2.0, sample_interval=5)
    first = al.explore(model, conditions()[:1], md, 0.02, run_folder=tmp_path / "explore")
    calls = []
    real_run_md = al.run_md
    monkeypatch.setattr(al, "run_md", lambda *a, **k: calls.append(1) or real_run_md(*a, **k))
    both = al.explore(model, conditions(), md, 0.02, run_folder=tmp_path / "explore")
    assert len(calls) == 1  # only the second condition ran again
    assert len(both) > len(first) and np.allclose(both[0].positions, first[0].positions)
    assert both[len(first)].info["condition"] == 1
    record = tmp_path / "explore" / "condition_0.json"
    record.write_text(record.read_text().replace('"model_sha256": "', '"model_sha256": "x'))
    # snapshots of another model are not reused: explored anew
    al.explore(model, conditions()[:1], md, 0.02, run_folder=tmp_path / "explore")
    assert len(calls) == 2


def test_spread_diagnostics_give_the_training_like_floor_and_md_spreads_per_cell_size(tmp_path):
    from softlattice.perovskite.workflows.potential import spread_diagnostics
    initial = rattled_cspbi3(10, 0.03, 0.0, seed=4)
    table = run_active_learning(initial, conditions(), tmp_path, reference=lj(), reference_name="lj",
                                settings=settings(1e-6), hyper=TINY, species=CSPBI3).summary
    diagnostics = spread_diagnostics(tmp_path, initial[:4])
    n_atoms = len(conditions()[0].structure)
    assert list(diagnostics.generation) == list(table.generation)
    assert diagnostics[f"md_median_{n_atoms}_atoms"].to_numpy() == pytest.approx(table.median_force_spread.to_numpy())
    assert (diagnostics.training_like_median > 0).all()


def test_refinement_joins_the_final_models_without_rerunning_the_loop(tmp_path):
    initial = rattled_cspbi3(10, 0.03, 0.0, seed=4)
    first = run_active_learning(initial, conditions(), tmp_path, reference=lj(), reference_name="lj",
                                settings=settings(1e6), hyper=TINY, species=CSPBI3, final_steps=100, final_members=1)
    member = tmp_path / "generation_0" / "ensemble" / "member_0" / "nep.txt"
    trained_at = member.stat().st_mtime_ns
    final_key = (first.final[0].model_path.parent / "training_key.json").read_text()
    extra = rattled_cspbi3(4, 0.01, -0.02, seed=9)
    refined = run_active_learning(initial, conditions(), tmp_path, reference=lj(), reference_name="lj",
                                  settings=settings(1e6), hyper=TINY, species=CSPBI3, final_steps=100,
                                  final_members=1, refinement=extra)
    assert refined.summary.equals(first.summary) and member.stat().st_mtime_ns == trained_at
    assert len(refined.labelled) == len(first.labelled) + 4
    assert (refined.final[0].model_path.parent / "training_key.json").read_text() != final_key  # retrained on more
    assert all(np.allclose(a.get_forces(), b.get_forces()) for a, b in zip(refined.labelled[-4:], label_structures(
        extra, lj(), name="lj", cache_dir=tmp_path / "labels")))
