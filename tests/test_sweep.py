"""Sweeps: bad grids, determinism, loop vs Dask, cache invalidation on model change, SIGKILL resume,
and the phase analysis on synthetic ramps."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from softlattice.infra.paths import DATA_DIR
from softlattice.perovskite.workflows.phase_diagram import (
    RampTask,
    analyse_sweep,
    collect_frames,
    cubic_boundary,
    cubic_boundary_statistics,
    run_sweep,
    segment_ends,
    sweep_grid,
    task_key,
    transition_statistics,
)

MODEL = DATA_DIR / "models" / "mafa-chgnet-r2scan" / "nep.txt"
TINY = dict(temperature_low=100.0, temperature_high=150.0, rate_K_per_ps=500.0, repeat=2, sample_interval=10,
            reference_ps=0.1)


@pytest.mark.parametrize("fields, message", [
    (dict(fa_fraction=1.2, kind="heating"), "FA fraction 1.2 is outside"),
    (dict(fa_fraction=0.5, kind="heating", temperature_low=300, temperature_high=300), "is empty"),
    (dict(fa_fraction=0.5, kind="heating", rate_K_per_ps=0.0), "ramp rate 0.0"),
    (dict(fa_fraction=0.5, kind="annealing"), "unknown task kind 'annealing'"),
    (dict(fa_fraction=0.5, kind="heating", repeat=3), "repeat 3 must be even"),
])
def test_bad_tasks_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        RampTask(**fields)


def test_grid_has_ramps_per_replica_and_one_reference_per_composition():
    tasks = sweep_grid([0.0, 1.0], replicas=2, **TINY)
    assert sum(t.kind == "reference" for t in tasks) == 2
    assert sum(t.kind == "heating" for t in tasks) == 4
    with pytest.raises(ValueError, match="empty"):
        sweep_grid([])
    with pytest.raises(ValueError, match="outside"):
        sweep_grid([-0.1])


def test_unanswering_scheduler_is_a_clear_error_not_a_hang(tmp_path):
    started = time.perf_counter()
    with pytest.raises(ConnectionError, match="no Dask scheduler answers at 'tcp://127.0.0.1:9'"):
        run_sweep([RampTask(0.0, "reference", **TINY)], MODEL, tmp_path, scheduler="tcp://127.0.0.1:9",
                  timeout_s=2, progress=False)
    assert time.perf_counter() - started < 30


@pytest.fixture(scope="module")
def tiny_tasks():
    return [RampTask(0.5, "heating", **TINY), RampTask(0.5, "reference", **TINY)]


def test_loop_is_deterministic_and_dask_gives_the_same_numbers(tiny_tasks, tmp_path):
    first = run_sweep(tiny_tasks, MODEL, tmp_path / "a", progress=False)
    second = run_sweep(tiny_tasks, MODEL, tmp_path / "b", progress=False)
    on_dask = run_sweep(tiny_tasks, MODEL, tmp_path / "c", scheduler="local", workers=1, progress=False)
    for a, b, c in zip(first, second, on_dask):
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a, c)
    windows, _ = analyse_sweep(tiny_tasks, first, window=3)
    assert {"blocks_R", "blocks_M", "blocks_disordered", "tilt_axis"} <= set(windows.columns)  # per-block states


def test_ramps_keep_one_structure_per_segment_end(tiny_tasks, tmp_path):
    run_sweep(tiny_tasks, MODEL, tmp_path, progress=False)
    ends = segment_ends(tiny_tasks[0], MODEL, tmp_path)
    assert [frame.info["target_K"] for frame in ends] == [125.0, 150.0]  # 25 K segments from 100 K
    frames = collect_frames(tiny_tasks, MODEL, tmp_path, [150.0])
    assert len(frames) == 1 and frames[0].info["task"] == 0 and len(frames[0]) == tiny_tasks[0].n_atoms
    from softlattice.perovskite.workflows.phase_diagram import ramp_site_shifts
    sites = ramp_site_shifts(tiny_tasks, MODEL, tmp_path)  # a short cold ramp: every ion stays on its site
    assert sorted(sites.target_K) == [125.0, 150.0] and set(sites.task) == {0}
    assert sites.cation_shift_A.between(0.0, 1.6).all() and sites.iodine_shift_A.between(0.0, 1.6).all()


def test_changed_model_is_never_mixed_with_old_results(tiny_tasks, tmp_path):
    model = tmp_path / "nep.txt"
    shutil.copy(MODEL, model)
    task = tiny_tasks[1]
    before = run_sweep([task], model, tmp_path / "store", progress=False)[0]
    lines = model.read_text().splitlines()
    lines[-1] = f"{float(lines[-1]) * 1.01:.8e}"  # nudge the last weight: a different model
    model.write_text("\n".join(lines) + "\n")
    after = run_sweep([task], model, tmp_path / "store", progress=False)[0]
    assert len(list((tmp_path / "store").iterdir())) == 2
    assert np.abs(before.epot_eV_per_atom - after.epot_eV_per_atom).max() > 1e-7


def test_killed_sweep_resumes_to_the_same_result(tmp_path):
    task = RampTask(0.5, "heating", temperature_low=100.0, temperature_high=300.0, rate_K_per_ps=100.0,
                    repeat=2, sample_interval=10)
    store = tmp_path / "store"
    script = textwrap.dedent(f"""
        from softlattice.perovskite.workflows.phase_diagram import RampTask, run_sweep
        task = RampTask(**{task.__dict__!r})
        run_sweep([task], {str(MODEL)!r}, {str(store)!r}, progress=False)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"})
    from softlattice.infra.keys import file_hash
    state = store / task_key(task, file_hash(MODEL)) / "checkpoint" / "state.npz"
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert state.exists(), "the sweep wrote no checkpoint before it was killed"
    assert not (state.parent.parent / "observations.csv.gz").exists()
    resumed = run_sweep([task], MODEL, store, progress=False)[0]
    fresh = run_sweep([task], MODEL, tmp_path / "fresh", progress=False)[0]
    pd.testing.assert_frame_equal(resumed, fresh, rtol=1e-9)


def _synthetic_ramp(temperatures, m_z, r_z, noise, rng):
    n = len(temperatures)
    frame = pd.DataFrame({"time_ps": 0.05 * np.arange(1, n + 1), "target_K": temperatures, "a_A": 6.3, "b_A": 6.3,
                          "c_A": 6.3})
    for mode in ("M_x", "M_y", "M_z", "R_x", "R_y", "R_z"):
        # thermal noise of a harmonic mode: amplitude ~ sqrt(T), as the thresholds assume
        frame[f"Q_{mode}"] = noise * np.sqrt(np.asarray(temperatures) / 400.0) * rng.normal(size=n)
    frame["Q_M_z"] += m_z
    frame["Q_R_z"] += r_z
    return frame


def test_analysis_finds_a_synthetic_transition_and_its_replica_spread():
    rng = np.random.default_rng(0)
    tasks, observations = [], []
    temperatures = np.linspace(100, 400, 600)
    for replica, transition in enumerate((250.0, 260.0)):
        tasks.append(RampTask(1.0, "heating", temperature_low=100, temperature_high=400, replica=replica))
        observations.append(_synthetic_ramp(temperatures, np.where(temperatures < transition, 0.5, 0.0), 0.0,
                                            0.02, rng))
    tasks.append(RampTask(1.0, "reference", temperature_low=100, temperature_high=400))
    observations.append(_synthetic_ramp(np.full(400, 400.0), 0.0, 0.0, 0.02, rng))
    windows, transitions = analyse_sweep(tasks, observations, window=10)
    assert set(windows.phase) == {"a0a0c+", "a0a0a0"}
    stats = transition_statistics(transitions)
    assert len(stats) == 1 and stats.replicas.iloc[0] == 2
    assert stats.temperature_K.iloc[0] == pytest.approx(255.0, abs=6.0)
    assert stats.error_K.iloc[0] >= 5.0 / np.sqrt(2) - 1e-9  # at least the replicas' spread
    empty = transition_statistics(transitions.iloc[:0])
    assert empty.empty and {"fa_fraction", "repeat", "temperature_K"} <= set(empty.columns)


def test_cubic_boundary_is_averaged_whatever_the_tilted_phase():
    rows = [dict(fa_fraction=0.0, kind="heating", replica=0, repeat=4, rate_K_per_ps=40.0, from_phase="a0a0c+",
                 to_phase="a0a0a0", temperature_K=400.0, resolution_K=5.0),
            dict(fa_fraction=0.0, kind="heating", replica=1, repeat=4, rate_K_per_ps=40.0, from_phase="a0a0c-",
                 to_phase="a0a0a0", temperature_K=390.0, resolution_K=5.0),
            dict(fa_fraction=0.0, kind="cooling", replica=0, repeat=4, rate_K_per_ps=40.0, from_phase="a0a0a0",
                 to_phase="a0a0c-", temperature_K=200.0, resolution_K=5.0),
            dict(fa_fraction=0.0, kind="cooling", replica=0, repeat=4, rate_K_per_ps=40.0, from_phase="a0a0c-",
                 to_phase="a0a0c*", temperature_K=100.0, resolution_K=5.0)]
    stats = cubic_boundary_statistics(pd.DataFrame(rows)).set_index("kind")
    assert stats.loc["heating", "temperature_K"] == pytest.approx(395.0)
    assert stats.loc["heating", "replicas"] == 2 and stats.loc["cooling", "replicas"] == 1
    assert stats.loc["cooling", "temperature_K"] == pytest.approx(200.0)
    assert cubic_boundary_statistics(pd.DataFrame(rows).iloc[:0]).empty
    none_cubic = cubic_boundary(pd.DataFrame(rows).iloc[3:])
    assert none_cubic.empty and "kind" in none_cubic.columns


def test_ramps_classified_against_a_tilted_reference_give_no_cubic_boundary():
    rng = np.random.default_rng(1)
    temperatures = np.linspace(100, 400, 600)
    heating = RampTask(1.0, "heating", temperature_low=100, temperature_high=400)
    ramp = _synthetic_ramp(temperatures, np.where(temperatures < 250, 0.5, 0.0), 0.0, 0.02, rng)
    untilted = _synthetic_ramp(np.full(400, 400.0), 0.0, 0.0, 0.02, rng)  # 20 ps
    reference = RampTask(1.0, "reference", temperature_low=100, temperature_high=400)
    _, transitions = analyse_sweep([heating, reference], [ramp, untilted], window=10)
    assert set(transitions.reference_tilt) == {""} and len(cubic_boundary(transitions)) == 1
    tilted = untilted.assign(Q_M_y=untilted.Q_M_y + 0.2)  # the model keeps a tilt at the top temperature
    _, transitions = analyse_sweep([heating, reference], [ramp, tilted], window=10)
    assert transitions.reference_tilt.str.startswith("Q_M_y +0.2").all() and cubic_boundary(transitions).empty


def test_analysis_needs_a_reference_of_the_same_cell():
    task = RampTask(0.0, "heating", **TINY)
    with pytest.raises(ValueError, match="no reference run for x = 0.0"):
        analyse_sweep([task], [pd.DataFrame()])


def test_segment_end_written_twice_by_a_kill_is_read_once(tmp_path):
    from ase.build import bulk
    from ase.io import write

    from softlattice.md.engine import read_segment_ends
    path = tmp_path / "segment_ends.extxyz"
    for time_ps, shift in ((1.0, 0.0), (2.0, 0.1), (2.0, 0.2)):  # the kill repeated the 2 ps frame
        frame = bulk("Cu")
        frame.positions += shift
        frame.info.update(time_ps=time_ps, target_K=100.0)
        write(path, frame, append=True)
    frames = read_segment_ends(path)
    assert [f.info["time_ps"] for f in frames] == [1.0, 2.0]
    assert frames[1].positions[0, 0] == pytest.approx(0.2)  # the later write wins


def test_local_workers_share_the_cores_and_leave_this_process_alone():
    from softlattice.md.tasks import local_client
    before = os.environ.get("OMP_NUM_THREADS")
    client = local_client(2)
    try:
        threads = client.run(lambda: os.environ.get("OMP_NUM_THREADS"))
    finally:
        client.close()
        client.cluster.close()
    assert set(threads.values()) == {str(max(1, (os.cpu_count() or 1) // 2))}
    assert os.environ.get("OMP_NUM_THREADS") == before


def test_a_blown_up_task_is_recorded_and_the_others_go_on(tiny_tasks, tmp_path, monkeypatch):
    import softlattice.perovskite.workflows.phase_diagram as md  # the sweep's own reference to run_md
    from softlattice.md.engine import MDBlowUp
    from softlattice.perovskite.workflows.phase_diagram import save_sweep, task_failure
    real_run_md = md.run_md

    def fragile(atoms, *args, **kwargs):
        if kwargs.get("keep_segment_ends"):  # the heating ramp blows up, the reference does not
            raise MDBlowUp("atoms closer than 0.6 Å at t = 0.01 ps")
        return real_run_md(atoms, *args, **kwargs)

    monkeypatch.setattr(md, "run_md", fragile)
    observations = run_sweep(tiny_tasks, MODEL, tmp_path, progress=False)
    assert observations[0] is None and observations[1] is not None
    assert "closer than 0.6" in task_failure(tiny_tasks[0], MODEL, tmp_path)
    monkeypatch.setattr(md, "run_md", real_run_md)
    assert run_sweep(tiny_tasks, MODEL, tmp_path, progress=False)[0] is None  # recorded, not retried
    tables = save_sweep(tmp_path / "saved", tiny_tasks, observations, window=3, n_sigma=5.0,
                        failures={0: task_failure(tiny_tasks[0], MODEL, tmp_path)})
    assert not tables["tasks"].completed.iloc[0] and "closer" in tables["tasks"].failure.iloc[0]


def test_reclassifying_a_saved_sweep_with_cells_of_two_sizes(tmp_path):
    """The saved observation table holds the block columns of the largest cell; a smaller cell's
    rows leave them empty, and reclassifying must not read them as blocks of its own."""
    from softlattice.perovskite.modes import MODES
    from softlattice.perovskite.workflows.phase_diagram import reclassify_sweep, save_sweep

    rng = np.random.default_rng(0)

    def observations(repeat, samples, temperatures):
        data = {"time_ps": 0.01 * np.arange(1, samples + 1), "target_K": temperatures,
                "a_A": 6.3, "b_A": 6.3, "c_A": 6.3}
        for mode in MODES:
            data[f"Q_{mode}"] = rng.normal(0, 0.02, samples)
            for k in range((repeat // 2) ** 3):
                data[f"q_{mode}_b{k}"] = rng.normal(0, 0.02, samples)
        return pd.DataFrame(data)

    settings = dict(temperature_low=100.0, temperature_high=300.0, rate_K_per_ps=400.0, sample_interval=10)
    tasks, frames = [], []
    for repeat in (2, 4):
        tasks += [RampTask(0.0, "cooling", repeat=repeat, **settings), RampTask(0.0, "reference", repeat=repeat,
                                                                                reference_ps=0.5, **settings)]
        frames += [observations(repeat, 50, np.linspace(300, 100, 50)), observations(repeat, 50, np.full(50, 300.0))]
    save_sweep(tmp_path, tasks, frames, window=10, n_sigma=5.0)
    windows, _ = reclassify_sweep(tmp_path, 0.1, rule="equal")
    assert set(windows.repeat) == {2, 4} and windows.blocks_none.notna().all()


def test_a_page_never_starts_the_slow_end_member_ramps(tmp_path, monkeypatch):
    import softlattice.perovskite.workflows.phase_diagram as workflow
    from softlattice.infra.profiles import resolve
    monkeypatch.setattr(workflow, "run_sweep", lambda *a, **k: pytest.fail("the ramps were started"))
    settings = resolve("02_end_members", "full")
    assert workflow.obtain_sweep(settings, MODEL, curated=tmp_path, compute=False) is None
    tasks = workflow.phase_diagram_tasks(settings)
    assert {(t.fa_fraction, t.kind) for t in tasks} == {(x, k) for x in (0.0, 1.0)
                                                         for k in ("heating", "cooling", "reference")}
    assert all(t.n_atoms >= 1536 and t.rate_K_per_ps <= 5 for t in tasks)
    assert settings["window"] * settings["ramp"]["sample_interval"] * tasks[0].timestep_fs >= 1000  # >= 1 ps


def test_a_profile_window_in_picoseconds_counts_samples_of_the_ramp_time_step():
    from softlattice.infra.profiles import resolve
    from softlattice.perovskite.workflows.phase_diagram import profile_window_ps
    assert profile_window_ps(resolve("02_end_members", "full")) == pytest.approx(1.0)  # 40 x 25 steps x 1 fs
    assert profile_window_ps(dict(window=10, ramp=dict(sample_interval=20, timestep_fs=0.5))) == pytest.approx(0.1)


def test_a_sweep_run_in_parts_on_different_machines_goes_on_from_the_runs_its_result_set_carries(tmp_path,
                                                                                                  monkeypatch):
    from functools import partial

    import softlattice.perovskite.workflows.phase_diagram as workflow
    from softlattice.infra import resultsets
    from softlattice.infra.profiles import resolve
    monkeypatch.setattr(workflow, "obtain", partial(resultsets.obtain, results_dir=tmp_path / "results"))
    saved = tmp_path / "set"
    command = ["--sweep", "02_end_members", "--profile", "quick", "--model", str(MODEL), "--save", str(saved)]
    tasks = workflow.phase_diagram_tasks(resolve("02_end_members", "quick"))
    # a session that ends after the first run of its part still carries that run
    run_task = workflow.run_task
    ran = []

    def session_ends_after_one_run(*args, **kwargs):
        if ran:
            raise KeyboardInterrupt("the session ended")
        ran.append(run_task(*args, **kwargs))

    monkeypatch.setattr(workflow, "run_task", session_ends_after_one_run)
    with pytest.raises(KeyboardInterrupt):
        workflow.main(command + ["--part", "0/2", "--store", str(tmp_path / "machine0")])
    assert len(list((saved / "finished_runs").glob("*.csv.gz"))) == 1
    monkeypatch.setattr(workflow, "run_task", run_task)
    workflow.main(command + ["--part", "0/2", "--store", str(tmp_path / "machine1")])
    assert len(list((saved / "finished_runs").glob("*.csv.gz"))) == len(tasks[0::2])
    workflow.main(command + ["--part", "1/2", "--store", str(tmp_path / "machine2")])
    assert len(list((saved / "finished_runs").glob("*.csv.gz"))) == len(tasks)
    assert not (saved / "windows.csv").exists()  # parts analyse nothing

    def no_md(*args, **kwargs):
        raise AssertionError("a carried run was run again")

    monkeypatch.setattr(workflow, "run_md", no_md)
    workflow.main(command + ["--store", str(tmp_path / "machine3")])
    heating = [k for k, t in enumerate(tasks) if t.kind == "heating"]
    assert set(pd.read_csv(saved / "tasks.csv").completed) == {True}
    assert len(workflow.segment_ends(tasks[heating[0]], MODEL, tmp_path / "machine3")) > 0
    with pytest.raises(SystemExit):
        workflow.main(command + ["--part", "2/2"])
