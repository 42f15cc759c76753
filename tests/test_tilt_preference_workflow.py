"""The student-teacher check of the coexistence cells: the half-wise tilt readout, frames sampled and
evaluated end to end, and a missing coexistence run refused with a message that says what to run."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from softlattice.infra.keys import file_hash
from softlattice.md.calculators import nep_calculator
from softlattice.md.stored import export_finished, import_finished
from softlattice.perovskite.coexistence import LocalTiltObserver, build_coexistence_cell
from softlattice.perovskite.preference import energy_preference
from softlattice.perovskite.workflows.coexistence import CoexistenceTask, task_key
from softlattice.perovskite.workflows.tilt_preference import (
    PreferenceSettings,
    block_tilts,
    frame_energies,
    grown_start,
    load_preferences,
    sample_frames,
)

MODEL = Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-chgnet-r2scan" / "nep.txt"


def test_the_half_wise_readout_sees_the_halves_a_coexistence_cell_was_built_with():
    cell = build_coexistence_cell(0.5, (4, 4, 8), tilt_angle=8.0)
    tilts = block_tilts(cell, LocalTiltObserver(cell))
    assert tilts["R_z_lower_A"] > 0.3 and tilts["M_z_upper_A"] > 0.3  # built: out of phase below, in phase above
    assert tilts["R_z_upper_A"] < 1e-6 and tilts["M_z_lower_A"] < 1e-6
    assert max(tilts["M_xy_lower_A"], tilts["M_xy_upper_A"]) < 1e-6


def test_a_missing_coexistence_run_is_refused_with_what_to_run(tmp_path):
    task = CoexistenceTask(0.25, 250.0, replica=1)
    with pytest.raises(FileNotFoundError, match="run the coexistence grid first"):
        grown_start(task, MODEL, tmp_path)
    # restored from a carry that held only its observations: the message says to run it again
    folder = tmp_path / task_key(task, file_hash(MODEL))
    folder.mkdir()
    pd.DataFrame(dict(time_ps=[1.0])).to_csv(folder / "observations.csv.gz", index=False)
    with pytest.raises(FileNotFoundError, match="without its final state.*without --finished"):
        grown_start(task, MODEL, tmp_path)


def test_the_grown_frames_start_from_the_carried_final_state(tmp_path):
    task = CoexistenceTask(0.0, 250.0, repeat=(2, 2, 4))
    built = build_coexistence_cell(0.0, task.repeat, tilt_angle=task.tilt_angle, seed=task.replica)
    folder = tmp_path / task_key(task, file_hash(MODEL))
    (folder / "checkpoint").mkdir(parents=True)
    moved = built.positions + np.random.default_rng(1).normal(scale=0.05, size=built.positions.shape)
    np.savez(folder / "checkpoint" / "state.npz", positions=moved, cell=built.cell.array * 1.01)
    pd.DataFrame(dict(time_ps=[1.0])).to_csv(folder / "observations.csv.gz", index=False)
    export_finished(tmp_path, [folder.name], tmp_path / "carried")
    import_finished(tmp_path / "carried", tmp_path / "elsewhere")
    start = grown_start(task, MODEL, tmp_path / "elsewhere")
    assert (start.positions == moved).all() and (start.cell.array == built.cell.array * 1.01).all()
    assert start.get_chemical_symbols() == built.get_chemical_symbols()


@pytest.mark.parametrize("fields, message", [(dict(frames=1), "at least two"),
                                             (dict(fa_fractions=(1.2,)), r"outside \[0, 1\]"),
                                             (dict(interval_ps=0.0), "must be > 0 ps"),
                                             (dict(replica=-1), "must be >= 0")])
def test_bad_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        PreferenceSettings(**fields)


def test_frames_are_sampled_after_equilibration_and_a_teacher_equal_to_the_student_is_reproduced(tmp_path):
    settings = PreferenceSettings(fa_fractions=(0.0,), equilibrate_ps=0.04, frames=2, interval_ps=0.04)
    task = CoexistenceTask(0.0, 250.0, repeat=(2, 2, 4), sample_interval=10)
    start = build_coexistence_cell(0.0, task.repeat)
    frames = []
    for state in ("built", "grown"):
        sampled = sample_frames(start, task, MODEL, settings, tmp_path / state)
        assert [round(f.info["time_ps"], 6) for f in sampled] == [0.08, 0.12]
        for frame in sampled:
            frame.info.update(fa_fraction=0.0, state=state)
        frames += sampled
    # sampled again from its checkpoint folder: the same frames
    again = sample_frames(start, task, MODEL, settings, tmp_path / "built")
    assert (again[0].positions == frames[0].positions).all()
    table = frame_energies(frames, MODEL, nep_calculator(MODEL), task.repeat, reference_name="the student itself",
                           cache_dir=tmp_path / "labels")
    assert list(table.state) == ["built", "built", "grown", "grown"]
    assert (table.e_student_eV - table.e_teacher_eV).abs().max() < 1e-9
    assert table.R_z_lower_A.iloc[0] > table.R_z_upper_A.iloc[0]  # 0.08 ps in: the halves are still there
    preference = energy_preference(table).iloc[0]
    assert preference.reproduces and preference.student_minus_teacher_meV == pytest.approx(0.0, abs=1e-6)


COMMITTED = Path(__file__).resolve().parents[1] / "data" / "tilt_preference" / "mafa-v2"
NEP_V2 = COMMITTED.parents[1] / "models" / "mafa-v2" / "nep.txt"


def copied_set(folder: Path, fa_fraction: float, **sampling) -> Path:
    """The committed set with its compositions renamed to ``fa_fraction`` (and sampling changed)."""
    shutil.copytree(COMMITTED, folder)
    for name in ("energies.csv", "preference.csv"):
        table = pd.read_csv(folder / name)
        table.fa_fraction = np.where(table.fa_fraction > 0.5, fa_fraction + 0.01, fa_fraction)
        table.to_csv(folder / name, index=False)
    record = json.loads((folder / "provenance.json").read_text())
    record["parameters"].update(fa_fractions=[fa_fraction, fa_fraction + 0.01], **sampling)
    (folder / "provenance.json").write_text(json.dumps(record))
    return folder


def test_the_sets_of_one_model_are_read_together_and_those_of_another_model_are_not(tmp_path):
    assert load_preferences(tmp_path, NEP_V2) is None
    shutil.copytree(COMMITTED, tmp_path / "ends")
    copied_set(tmp_path / "middle", 0.5)
    together = load_preferences(tmp_path, NEP_V2)
    assert [f.name for f in together["folders"]] == ["ends", "middle"]
    assert list(together["preference"].fa_fraction) == [0.0, 0.5, 0.51, 1.0]
    assert len(together["energies"]) == 40 and together["energies"].fa_fraction.is_monotonic_increasing
    other_model = COMMITTED.parents[1] / "models" / "mafa-chgnet-r2scan" / "nep.txt"
    assert load_preferences(tmp_path, other_model) is None
    copied_set(tmp_path / "other_replica", 0.25, replica=1)  # training frames: left out of replica 0's check
    assert [f.name for f in load_preferences(tmp_path, NEP_V2)["folders"]] == ["ends", "middle"]
    assert [f.name for f in load_preferences(tmp_path, NEP_V2, replica=1)["folders"]] == ["other_replica"]
    copied_set(tmp_path / "warmer", 0.25, temperature=300.0)
    with pytest.raises(ValueError, match="sample differently"):
        load_preferences(tmp_path, NEP_V2)
