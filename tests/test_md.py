"""MD engine: protocols, settings validation, blow-up detection, checkpoint/resume (SIGKILL)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from softlattice.md.calculators import model_species, nep_calculator
from softlattice.md.engine import MDBlowUp, MDSettings, run_md
from softlattice.md.protocols import hold, ramp, stepwise

CSPBI3_MODEL = Path(__file__).resolve().parents[2] / "shared" / "validation" / "cspbi3" / "nep.txt"
MODEL = Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-chgnet-r2scan" / "nep.txt"


def copper():
    atoms = bulk("Cu", cubic=True).repeat((3, 3, 3))
    atoms.info["repeat"] = [3, 3, 3]
    return atoms


def test_ramp_segments_cover_the_range_at_the_rate():
    segments = ramp(100, 700, 20.0, segment_K=25)
    assert segments[0].temperature_start == 100 and segments[-1].temperature_end == 700
    assert sum(s.duration_ps for s in segments) == pytest.approx(600 / 20)
    cooling = ramp(700, 100, 20.0)
    assert cooling[0].temperature_start == 700 and cooling[-1].temperature_end == 100


def test_hold_and_stepwise():
    assert sum(s.duration_ps for s in hold(300, 12, segment_ps=5)) == pytest.approx(12)
    assert [s.temperature_start for s in stepwise([100, 200], 2.0)] == [100, 200]


@pytest.mark.parametrize("call, message", [
    (lambda: ramp(0, 300, 10), "start temperature 0 K must be > 0"),
    (lambda: ramp(100, -5, 10), "end temperature -5 K must be > 0"),
    (lambda: ramp(100, 300, 0), "ramp rate 0 K/ps must be finite and > 0"),
    (lambda: ramp(300, 300, 5), "is empty"),
    (lambda: hold(-10, 5), "temperature -10 K must be > 0"),
    (lambda: hold(300, 0), "duration 0 ps must be finite and > 0"),
    (lambda: MDSettings(ensemble="npe"), "unknown ensemble 'npe'"),
    (lambda: MDSettings(timestep_fs=10), "time step 10 fs"),
    (lambda: MDSettings(sample_interval=0), "sample interval 0"),
    (lambda: MDSettings(hydrogen_mass=0.1), "hydrogen mass 0.1"),
    (lambda: nep_calculator("model.txt", engine="lammps"), "unknown MD engine 'lammps'"),
    (lambda: model_species("/nonexistent/nep.txt"), "does not exist"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_empty_protocol_is_rejected():
    with pytest.raises(ValueError, match="no segments"):
        run_md(copper(), EMT(), [])


@pytest.mark.parametrize("ensemble", ["npt", "nvt", "nve"])
def test_ensembles_run_and_sample(ensemble):
    result = run_md(copper(), EMT(), hold(300, 0.1), MDSettings(ensemble=ensemble, sample_interval=10))
    frame = result.observations
    assert len(frame) == 5 and np.all(np.isfinite(frame.temperature_K))  # 0.1 ps / (10 x 2 fs)
    if ensemble != "npt":
        assert frame.a_A.nunique() == 1
    if ensemble == "nve":
        total = frame.epot_eV_per_atom + frame.ekin_eV_per_atom
        assert np.ptp(total) < 2e-3


def test_npt_thermostat_reaches_target():
    result = run_md(copper(), EMT(), hold(400, 3.0), MDSettings(sample_interval=10, thermostat_fs=50))
    late = result.observations.temperature_K.iloc[len(result.observations) // 2:]
    assert abs(late.mean() - 400) < 40


def test_heavy_hydrogen_keeps_positions_masses_changed():
    from softlattice.perovskite.structures import build_perovskite
    atoms = build_perovskite("MA", (1, 1, 1))
    from ase.calculators.lj import LennardJones
    result = run_md(atoms, LennardJones(sigma=1.0, epsilon=0.001, rc=3.0), hold(10, 0.01),
                    MDSettings(ensemble="nvt", timestep_fs=0.5, sample_interval=5, hydrogen_mass=4.0))
    masses = result.final_atoms.get_masses()
    assert np.allclose(masses[np.array(result.final_atoms.get_chemical_symbols()) == "H"], 4.0)


def test_blow_up_stops_with_a_diagnostic():
    atoms = copper()
    atoms.positions[1] = atoms.positions[0] + [0.3, 0.0, 0.0]
    with pytest.raises(MDBlowUp, match="closer than|runaway|non-finite"):
        run_md(atoms, EMT(), hold(300, 0.05), MDSettings(ensemble="nve", timestep_fs=1, sample_interval=5))


def test_resume_continues_exactly(tmp_path):
    segments = hold(300, 0.3, segment_ps=0.1)
    settings = MDSettings(sample_interval=10)
    full = run_md(copper(), EMT(), segments, settings).observations
    run_md(copper(), EMT(), segments[:1], settings, checkpoint_dir=tmp_path / "a")  # other key
    first = run_md(copper(), EMT(), segments, settings, checkpoint_dir=tmp_path / "b")
    again = run_md(copper(), EMT(), segments, settings, checkpoint_dir=tmp_path / "b")
    assert again.md_seconds == 0  # everything was done
    np.testing.assert_allclose(again.observations.to_numpy(), full.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(first.observations.to_numpy(), full.to_numpy(), rtol=1e-10)


def test_checkpoint_of_other_parameters_is_not_mixed(tmp_path):
    run_md(copper(), EMT(), hold(300, 0.02), MDSettings(sample_interval=10), checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="holds a run with other parameters"):
        run_md(copper(), EMT(), hold(350, 0.02), MDSettings(sample_interval=10), checkpoint_dir=tmp_path)


class CountingEMT(EMT):
    """EMT that counts its energy/force evaluations."""

    def __init__(self) -> None:
        super().__init__()
        self.force_calls = 0

    def calculate(self, *args, **kwargs) -> None:
        self.force_calls += 1
        super().calculate(*args, **kwargs)


def test_resume_after_sigkill(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_md import copper
        from ase.calculators.emt import EMT
        from softlattice.md.engine import MDSettings, run_md
        from softlattice.md.protocols import hold
        run_md(copper(), EMT(), hold(300, 1.5, segment_ps=0.05), MDSettings(sample_interval=10),
               checkpoint_dir={str(tmp_path / 'run')!r})
    """)
    process = subprocess.Popen([sys.executable, "-c", script])
    state = tmp_path / "run" / "state.npz"
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert state.exists(), "the run wrote no checkpoint before it was killed"
    segments_done = int(np.load(state)["segments_done"])
    assert segments_done >= 1
    settings = MDSettings(sample_interval=10)
    segments = hold(300, 1.5, segment_ps=0.05)
    resumed_calculator, reference_calculator = CountingEMT(), CountingEMT()
    resumed = run_md(copper(), resumed_calculator, segments, settings, checkpoint_dir=tmp_path / "run")
    reference = run_md(copper(), reference_calculator, segments, settings)
    # finished segments were not recomputed: fewer force evaluations, by whole segments
    assert resumed_calculator.force_calls < reference_calculator.force_calls
    np.testing.assert_allclose(resumed.observations.to_numpy(), reference.observations.to_numpy(),
                               rtol=1e-9)


@pytest.mark.skipif(not CSPBI3_MODEL.exists(), reason="independent CsPbI3 NEP not present in "
                    "../shared/validation/cspbi3 (it cannot be shipped with this repository)")
def test_cspbi3_nep_engines_agree_and_md_tracks_modes():
    from softlattice.perovskite.structures import build_perovskite
    atoms = build_perovskite("Cs", (2, 2, 2), glazer="a-a-c+", tilt_angle=8.0, lattice_constant=6.3)
    atoms.rattle(0.02, seed=1)
    fast = atoms.copy()
    fast.calc = nep_calculator(CSPBI3_MODEL, "nep-adapters", atoms=atoms)
    reference = atoms.copy()
    reference.calc = nep_calculator(CSPBI3_MODEL, "cpunep")
    np.testing.assert_allclose(fast.get_forces(), reference.get_forces(), atol=1e-6)
    np.testing.assert_allclose(fast.get_stress(), reference.get_stress(), atol=1e-7)
    from softlattice.perovskite.modes import tilt_observers
    result = run_md(atoms, fast.calc, hold(50, 0.4), MDSettings(sample_interval=20), observers=tilt_observers(atoms))
    last = result.observations.iloc[-1]
    assert {"Q_M_z", "Q_R_x"} <= set(result.observations.columns)
    assert last.Q_M_z > 0.2 and abs(last.Q_R_x) > 0.2 and abs(last.Q_R_z) < 0.1


def test_model_of_wrong_species_is_rejected(tmp_path):
    model = tmp_path / "nep.txt"
    model.write_text("nep4 2 Cs Br\ncutoff 6 5\n")
    from softlattice.perovskite.structures import build_perovskite
    with pytest.raises(ValueError, match=r"structure contains \['I', 'Pb'\]"):
        nep_calculator(model, atoms=build_perovskite("Cs", 1))


def test_block_standard_error():
    from softlattice.analysis.statistics import block_standard_error
    samples = np.random.default_rng(0).normal(0, 1, 10000)
    assert block_standard_error(samples) == pytest.approx(0.01, rel=0.8)
    with pytest.raises(ValueError, match="too few"):
        block_standard_error(samples[:6])


def test_observers_add_their_columns_to_every_sample_and_nothing_is_analysed_without_them():
    seen = []

    def observer(atoms):
        seen.append(len(atoms))
        return {"x_mean_A": float(atoms.positions[:, 0].mean())}

    plain = run_md(copper(), EMT(), hold(300, 0.05), MDSettings(sample_interval=10))
    observed = run_md(copper(), EMT(), hold(300, 0.05), MDSettings(sample_interval=10), observers=[observer])
    assert "x_mean_A" not in plain.observations and not any(c.startswith("Q_") for c in plain.observations)
    assert len(seen) == len(observed.observations) and observed.observations.x_mean_A.notna().all()
    np.testing.assert_allclose(observed.observations.temperature_K, plain.observations.temperature_K)


def test_an_incomplete_model_file_is_refused_naming_it_before_any_engine_loads_it(tmp_path):
    lines = MODEL.read_text().splitlines(keepends=True) if MODEL.exists() else None
    if lines is None:
        pytest.skip("no committed MA/FA model")
    truncated, header_only = tmp_path / "truncated.txt", tmp_path / "header.txt"
    truncated.write_text("".join(lines[: 9 * len(lines) // 10]))
    header_only.write_text("".join(lines[:7]))
    for path in (truncated, header_only):
        for engine in ("nep-adapters", "cpunep"):
            with pytest.raises(ValueError, match=f"{path.name}.*incomplete or malformed"):
                nep_calculator(path, engine)


def test_protocols_refuse_infinite_durations_and_absurdly_slow_ramps():
    with pytest.raises(ValueError, match="duration inf ps must be finite"):
        hold(300, float("inf"))
    with pytest.raises(ValueError, match="ramp rate 1e-09 K/ps makes segments longer"):
        ramp(100, 200, 1e-9)
    with pytest.raises(ValueError, match="ramp rate nan"):
        ramp(100, 200, float("nan"))
    assert len(ramp(100, 200, 0.01)) == 4  # 2,500 ps segments are slow but allowed


def test_a_run_stopped_early_stops_at_the_same_point_when_resumed(tmp_path):
    segments = hold(300, 0.5, segment_ps=0.1)
    settings = MDSettings(sample_interval=10)
    past = lambda observations: observations.time_ps.iloc[-1] >= 0.2 - 1e-9  # noqa: E731
    stopped = run_md(copper(), EMT(), segments, settings, checkpoint_dir=tmp_path, stop_when=past)
    assert stopped.stopped_early and stopped.observations.time_ps.iloc[-1] == pytest.approx(0.2)
    again = run_md(copper(), EMT(), segments, settings, checkpoint_dir=tmp_path, stop_when=past)
    assert again.stopped_early and again.md_seconds == 0
    assert again.observations.equals(stopped.observations)
    whole = run_md(copper(), EMT(), segments, settings)
    assert not whole.stopped_early and whole.observations.time_ps.iloc[-1] == pytest.approx(0.5)
    np.testing.assert_allclose(whole.observations.to_numpy()[:len(stopped.observations)],
                               stopped.observations.to_numpy(), rtol=1e-10)


def test_finished_and_failed_runs_survive_export_and_import_and_unfinished_ones_are_skipped(tmp_path):
    import pandas as pd

    from softlattice.md.stored import export_finished, import_finished, read_final_state, stored_run

    store, carried, new_store = tmp_path / "store", tmp_path / "carried", tmp_path / "new"
    observations = pd.DataFrame(dict(time_ps=[0.1, 0.2], q=[0.123456789012345, -2.5e-7]))
    stored_run(store / "done", lambda: (observations, dict(note="x")), dict(name="done"))
    frames = "2\nLattice=\"1 0 0 0 1 0 0 0 1\" target_K=100.0\nH 0 0 0\nH 0 0 0.74\n"
    (store / "done" / "checkpoint").mkdir()
    (store / "done" / "checkpoint" / "segment_ends.extxyz").write_text(frames)
    final_positions = np.random.default_rng(0).normal(size=(2, 3)) / 3
    final_cell = np.diag([6.3, 6.3, 12.6]) + 1e-9 / 7
    np.savez(store / "done" / "checkpoint" / "state.npz", positions=final_positions, cell=final_cell,
             momenta=np.ones((2, 3)))

    def blow_up():
        raise MDBlowUp("atoms 0.4 Å apart")

    stored_run(store / "failed", blow_up, dict(name="failed"))
    (store / "running" / "checkpoint").mkdir(parents=True)
    assert export_finished(store, ["done", "failed", "running", "absent"], carried) == 2
    assert import_finished(carried, new_store) == 2
    assert import_finished(carried, new_store) == 0  # already there: nothing restored twice

    def must_not_run():
        raise AssertionError("a restored run was run again")

    assert stored_run(new_store / "failed", must_not_run, {}) is None
    pd.testing.assert_frame_equal(stored_run(new_store / "done", must_not_run, {}),
                                  pd.read_csv(carried / "done.csv.gz"))
    assert (new_store / "done" / "task.json").read_text() == (store / "done" / "task.json").read_text()
    assert (new_store / "done" / "checkpoint" / "segment_ends.extxyz").read_text() == frames
    # the final state travels bit for bit (a run grown from it starts where the original ended)
    assert not (new_store / "done" / "checkpoint" / "state.npz").exists()
    restored_positions, restored_cell = read_final_state(new_store / "done")
    assert (restored_positions == final_positions).all() and (restored_cell == final_cell).all()
    assert read_final_state(new_store / "failed") is None
    assert read_final_state(store / "running") is None
    assert (carried / "done.segment_ends.extxyz.gz").read_bytes()[:2] == b"\x1f\x8b"  # carried gzipped
    # carried to seven significant digits, and the store that exported them now holds the same copy
    carried_table = pd.read_csv(carried / "done.csv.gz")
    assert carried_table.q.tolist() == [0.1234568, -2.5e-7]
    assert (store / "done" / "observations.csv.gz").read_bytes() == (carried / "done.csv.gz").read_bytes()
    export_finished(store, ["done"], tmp_path / "again")
    assert (tmp_path / "again" / "done.csv.gz").read_bytes() == (carried / "done.csv.gz").read_bytes()
    assert not (new_store / "running").exists()
    # parts in other processes write the same bytes: no temporary file name in the gzip header
    for path in carried.glob("*.gz"):
        assert path.read_bytes()[3] & 0x08 == 0, f"{path.name} names a file in its gzip header"
    assert not list(carried.glob("*.tmp"))
