"""Coexistence runs: bad input refused before MD, the quick grid end to end, exact resume after
SIGKILL, the MPB summary from synthetic outcomes."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from softlattice.infra.keys import file_hash
from softlattice.perovskite.coexistence import LABELS
from softlattice.perovskite.workflows.coexistence import (
    PROFILES,
    CoexistenceTask,
    analyse,
    grid_tasks,
    mpb_summary,
    mpb_text,
    run_grid,
    winner_text,
    run_task,
    select_tasks,
    task_key,
)

MODEL = Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-chgnet-r2scan" / "nep.txt"


@pytest.mark.parametrize("fields, message", [
    (dict(fa_fraction=1.5, temperature=250.0), r"FA fraction 1.5 is outside \[0, 1\]"),
    (dict(fa_fraction=0.5, temperature=0.0), "temperature 0.0 K must be > 0"),
    (dict(fa_fraction=0.5, temperature=250.0, repeat=(4, 4, 6)), r"repeat \(4, 4, 6\) cannot hold two halves"),
    (dict(fa_fraction=0.5, temperature=250.0, kind="ramp"), "unknown run kind 'ramp'"),
])
def test_bad_tasks_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        CoexistenceTask(**fields)


def test_a_model_of_other_species_is_refused_before_any_md(tmp_path):
    fake = tmp_path / "nep.txt"
    fake.write_text("nep4 3 Cs Pb I\n")
    with pytest.raises(ValueError, match=r"missing \['C', 'H', 'N'\]"):
        run_task(CoexistenceTask(0.0, 250.0, repeat=(2, 2, 4)), fake, tmp_path / "store")
    assert not (tmp_path / "store").exists()


@pytest.fixture(scope="module")
def quick_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("coexistence")
    tasks = grid_tasks(PROFILES["quick"])
    run_grid(tasks, MODEL, store)
    return tasks, store


def test_quick_grid_gives_an_outcome_per_run_and_reloads_without_md(quick_store):
    tasks, store = quick_store
    assert [t.kind for t in tasks] == ["coexistence", "coexistence"]
    tables = analyse(tasks, MODEL, store)
    outcomes = tables["outcomes"]
    assert len(outcomes) == 2 and set(outcomes.winner) <= {"a0a0c-", "a0a0c+", "untilted", "disordered", "undecided"}
    shares = outcomes[[f"share_{label}" for label in LABELS]].sum(axis=1)
    assert (shares - 1).abs().max() < 1e-9
    assert {"r_share_layer0", "r_share_layer1"} <= set(tables["states"].columns)
    started = time.perf_counter()
    run_grid(tasks, MODEL, store)  # everything is stored: nothing runs again
    assert time.perf_counter() - started < 5


def test_a_killed_run_resumes_exactly(tmp_path, quick_store):
    tasks, store = quick_store
    task = tasks[0]
    uninterrupted = run_task(task, MODEL, tmp_path / "whole")
    script = textwrap.dedent(f"""
        from softlattice.perovskite.workflows.coexistence import CoexistenceTask, run_task
        task = CoexistenceTask(**{task.__dict__!r})
        run_task(task, {str(MODEL)!r}, {str(tmp_path / 'killed')!r})
    """)
    process = subprocess.Popen([sys.executable, "-c", script])
    state = tmp_path / "killed" / task_key(task, file_hash(MODEL)) / "checkpoint" / "state.npz"
    deadline = time.time() + 300
    while not state.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert state.exists(), "the run wrote no checkpoint before it was killed"
    resumed = run_task(task, MODEL, tmp_path / "killed")
    np.testing.assert_allclose(resumed.to_numpy(dtype=float), uninterrupted.to_numpy(dtype=float), rtol=1e-9)


def test_a_result_set_carries_its_finished_runs_to_a_new_machine(tmp_path, quick_store, monkeypatch):
    import softlattice.perovskite.workflows.coexistence as workflow
    tasks, store = quick_store
    settings = dict(PROFILES["quick"], profile="quick")
    saved = tmp_path / "set"
    workflow.save_results(saved, tasks, MODEL, store, settings)
    before = pd.read_csv(saved / "outcomes.csv")

    def no_md(*args, **kwargs):
        raise AssertionError("a carried run was run again")

    monkeypatch.setattr(workflow, "run_md", no_md)
    new_store = tmp_path / "new-machine"
    run_grid(tasks, MODEL, new_store, finished=saved)
    for task in tasks:
        pd.testing.assert_frame_equal(run_task(task, MODEL, new_store), run_task(task, MODEL, store))
    # rewriting the set from a store that never saw its runs keeps them
    workflow.save_results(saved, tasks, MODEL, tmp_path / "empty-store", settings)
    pd.testing.assert_frame_equal(pd.read_csv(saved / "outcomes.csv"), before)


def test_summary_recovers_a_synthetic_mpb_and_says_why_when_unresolved():
    x = np.repeat([k / 8 for k in range(9)], 2)
    share = 1 / (1 + np.exp((x - 0.4) / 0.05))
    outcomes = pd.DataFrame(dict(fa_fraction=x, temperature_K=250.0, kind="coexistence", r_share=share,
                                 winner=np.where(share > 0.5, "a0a0c-", "a0a0c+")))
    summary = mpb_summary(outcomes, 250.0, "m")
    assert summary["mpb"]["center"] == pytest.approx(0.4, abs=0.01)
    assert summary["mpb"]["low"] <= 0.4 <= summary["mpb"]["high"]
    assert len(summary["tetragonal_winner"]) == 18 and summary["tetragonal_winner"][0]["share_other_axis"] is None
    with_axes = mpb_summary(outcomes.assign(share_other=0.25), 250.0, "m")
    assert {w["share_other_axis"] for w in with_axes["tetragonal_winner"]} == {0.25}
    assert mpb_text(summary) == (f"MPB at 250 K at x = {summary['mpb']['center']:.2f} (95 % interval "
                                 f"{summary['mpb']['low']:.2f}-{summary['mpb']['high']:.2f})")
    flat = outcomes.assign(r_share=0.9, winner="a0a0c-")
    unresolved = mpb_summary(flat, 250.0, "m")
    assert unresolved["mpb"] is None and "never crosses 1/2" in unresolved["mpb_unresolved_because"]
    assert mpb_text(unresolved).startswith("no MPB resolved (the R share ranges over")


def test_runs_whose_initial_tilts_the_classifier_misses_are_not_evidence():
    from softlattice.perovskite.coexistence import INITIAL_ORDERED_SHARE, initial_state_seen
    from softlattice.perovskite.workflows.coexistence import NOT_SEEN
    states = pd.DataFrame(dict(time_ps=[2.0, 1.0], share_R=[0.9, 0.3], share_M=[0.0, 0.3]))
    share, seen = initial_state_seen(states)
    assert share == pytest.approx(0.6) and not seen and share < INITIAL_ORDERED_SHARE
    x = np.repeat(np.linspace(0, 1, 9), 2)
    share = 1 / (1 + np.exp((x - 0.4) / 0.05))
    outcomes = pd.DataFrame(dict(fa_fraction=x, temperature_K=250.0, kind="coexistence", replica=np.tile([0, 1], 9),
                                 r_share=share, winner=np.where(share > 0.5, "a0a0c-", "a0a0c+"),
                                 initial_ordered_share=1.0))
    blind = outcomes.assign(winner=NOT_SEEN, initial_ordered_share=0.1)
    summary = mpb_summary(pd.concat([outcomes[outcomes.fa_fraction < 0.5], blind[blind.fa_fraction >= 0.5]]),
                          250.0, "m")
    assert summary["mpb"] is None and "never crosses 1/2" in summary["mpb_unresolved_because"]
    assert len(summary["not_seen"]) == 10 and {w["fa_fraction"] for w in summary["tetragonal_winner"]} == {0, 0.125, 0.25, 0.375}


def test_parts_share_no_composition_and_together_cover_every_run(monkeypatch, tmp_path):
    import softlattice.perovskite.workflows.coexistence as workflow
    calls = []
    monkeypatch.setattr(workflow, "run_task", lambda task, *a, **k: calls.append(task) or pd.DataFrame([{}]))
    tasks = grid_tasks(PROFILES["full"])
    seen = []
    for part in range(2):
        calls.clear()
        run_grid(tasks, MODEL, tmp_path, part=(part, 2))
        seen.append({t.fa_fraction for t in calls})
    assert not seen[0] & seen[1] and seen[0] | seen[1] == {t.fa_fraction for t in tasks}


def test_each_part_runs_coarse_compositions_and_first_replicas_first(monkeypatch, tmp_path):
    import softlattice.perovskite.workflows.coexistence as workflow
    calls = []
    monkeypatch.setattr(workflow, "run_task", lambda task, *a, **k: calls.append(task) or pd.DataFrame([{}]))
    tasks = grid_tasks(PROFILES["full"])
    first_two = set()
    for part in range(2):
        calls.clear()
        run_grid(tasks, MODEL, tmp_path, part=(part, 2))
        # a quench loads its calibrating coexistence run again: count each run where it first runs
        runs = [t for t in dict.fromkeys(calls) if t.kind == "coexistence" and t.temperature == 250.0]
        assert runs[0].fa_fraction in (0.0, 0.5, 1.0), f"part {part} starts at x = {runs[0].fa_fraction}"
        first_two |= {t.fa_fraction for t in runs[:2]}
        replicas = [t.replica for t in runs]
        assert replicas == sorted(replicas), f"part {part} runs a second replica before every first one"
        assert calls[-1].kind == "quench"
    assert {0.0, 0.5, 1.0} <= first_two, f"the first two runs of the parts cover x = {sorted(first_two)}"


def test_a_quench_is_classified_with_the_threshold_of_its_coexistence_run(monkeypatch, tmp_path):
    import softlattice.perovskite.workflows.coexistence as workflow
    calls = []
    monkeypatch.setattr(workflow, "run_task", lambda task, *a, **k: calls.append((task, k.get("calibration")))
                        or pd.DataFrame([{}]))
    tasks = grid_tasks(dict(PROFILES["quick"], quench=[[250.0, [1.0]]]))
    run_grid(tasks, MODEL, tmp_path)
    quench, calibration = next((t, c) for t, c in calls if t.kind == "quench")
    assert calibration is not None and calls[-2][0] == workflow.calibration_task(quench)
    assert workflow.calibration_task(quench).kind == "coexistence" and workflow.calibration_task(quench).fa_fraction == 1.0
    with pytest.raises(ValueError, match="quench runs without a coexistence run"):
        grid_tasks(dict(PROFILES["quick"], quench=[[300.0, [0.5]]]))
    monkeypatch.undo()
    with pytest.raises(ValueError, match="a quench run needs the observations"):
        workflow.run_task(quench, MODEL, tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_a_page_gets_the_quick_set_computed_and_never_starts_the_full_grid(tmp_path, monkeypatch, quick_store):
    import softlattice.perovskite.workflows.coexistence as workflow
    _, store = quick_store
    results = tmp_path / "results"
    quick = workflow.obtain_coexistence("quick", MODEL, store=store, results_dir=results)
    tables = workflow.load_coexistence(quick.folder)
    assert len(tables["outcomes"]) == 2 and tables["summary"]["model"] == str(MODEL)
    assert tables["progress"] == (2, 2) and workflow.progress_text(tables) == "all 2 runs finished"
    assert workflow.progress_text(dict(tables, progress=(1, 34))) == "1 of 34 runs finished"
    again = workflow.obtain_coexistence("quick", MODEL, compute=False, results_dir=results)
    assert again.folder == quick.folder and again.origin == "cached"
    monkeypatch.setattr(workflow, "run_grid", lambda *a, **k: pytest.fail("the full grid was started"))
    assert workflow.obtain_coexistence("full", MODEL, curated=tmp_path / "nothing", compute=False,
                                       results_dir=results) is None
    with pytest.raises(ValueError, match="unknown coexistence profile 'slow'"):
        workflow.obtain_coexistence("slow", MODEL)


def test_the_winner_at_a_composition_in_words():
    outcomes = pd.DataFrame(dict(fa_fraction=[0.0, 0.0, 0.0, 1.0], temperature_K=250.0,
                                 kind=["coexistence", "coexistence", "quench", "coexistence"],
                                 winner=["a0a0c+", "a0a0c-", "a0a0c+", "a0a0c+"], r_share=[0.05, 0.9, 0.1, 0.0],
                                 share_other=[0.52, 0.1, 0.0, 0.3]))
    assert winner_text(outcomes, 0.0, 250.0) == ("a0a0c+ in 1 of 2 runs, a0a0c- in 1 of 2 runs (R share 0.05, 0.90; "
                                                 "52 %, 10 % of the blocks tilted about another axis)")
    assert winner_text(outcomes.drop(columns="share_other"), 1.0, 250.0) == "a0a0c+ in 1 of 1 run (R share 0.00)"
    assert winner_text(outcomes, 0.5, 250.0) == "not run yet" == winner_text(pd.DataFrame(), 0.0, 250.0)


def test_a_selection_of_the_grid_keeps_only_its_runs_and_names_values_the_grid_lacks():
    tasks = grid_tasks(PROFILES["full"])
    ends = select_tasks(tasks, fa_fraction=[0.0, 1.0], replica=[1], kind=["coexistence"], temperature=None)
    assert [(t.fa_fraction, t.temperature, t.replica, t.kind) for t in ends] == [
        (0.0, 250.0, 1, "coexistence"), (1.0, 250.0, 1, "coexistence"),
        (0.0, 300.0, 1, "coexistence"), (1.0, 300.0, 1, "coexistence")]
    assert select_tasks(tasks) == tasks
    with pytest.raises(ValueError, match="no run of the grid has replica = 2; the grid has 0, 1"):
        select_tasks(tasks, replica=[2])
    with pytest.raises(ValueError, match="no field 'seed'"):
        select_tasks(tasks, seed=[0])


def test_the_command_refuses_a_selection_with_save_and_a_value_the_grid_lacks(tmp_path, capsys):
    from softlattice.perovskite.workflows.coexistence import main
    for argv, message in ((["--save", str(tmp_path / "set"), "--replicas", "1"], "--save collects the whole grid"),
                          (["--fa-fractions", "0.3"], "no run of the grid has fa_fraction = 0.3")):
        with pytest.raises(SystemExit):
            main(["--model", str(MODEL), *argv])
        assert message in capsys.readouterr().err
    assert not (tmp_path / "set").exists()
