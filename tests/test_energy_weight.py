"""Retraining a student with another energy weight: the default keeps every existing training key,
another weight gets its own, bad input is refused, and the evaluation reads the committed frames."""

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from softlattice.infra.keys import structure_hash
from softlattice.models.nep import NEPHyperparameters, _training_key
from softlattice.perovskite.workflows import energy_weight

MODEL = Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-chgnet-r2scan" / "nep.txt"


def labelled():
    atoms = bulk("Pb", "fcc", a=5.0) * (2, 1, 1)
    atoms.calc = SinglePointCalculator(atoms, energy=-1.0, forces=np.zeros((2, 3)))
    return [atoms]


def test_the_default_energy_weight_keeps_the_training_keys_of_every_model_trained_before():
    structures, hyper = labelled(), NEPHyperparameters()
    digest = hashlib.sha256()  # the key as it was computed before the energy weight existed
    for atoms in structures:
        digest.update(structure_hash(atoms).encode())
        digest.update(np.round(atoms.get_forces(), 6).tobytes())
    digest.update(json.dumps(dict(hyper=asdict(hyper), species=["Pb"], steps=10, seed=0), sort_keys=True).encode())
    assert _training_key(structures, hyper, ["Pb"], 10, 0) == digest.hexdigest()[:16]
    assert _training_key(structures, hyper, ["Pb"], 10, 0, energy_sigma=3e-4) != digest.hexdigest()[:16]


def test_bad_input_is_refused_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit):
        energy_weight.main(["--parent", str(tmp_path), "--energy-sigma", "0.0003", "--output", str(tmp_path / "o")])
    assert "not a committed student folder" in capsys.readouterr().err
    parent = MODEL.parent
    with pytest.raises(SystemExit):
        energy_weight.main(["--parent", str(parent), "--energy-sigma", "-1", "--output", str(tmp_path / "o")])
    assert "must be > 0 eV/atom" in capsys.readouterr().err


def test_a_student_is_evaluated_on_the_committed_frames_in_their_order():
    table = energy_weight.student_on_frames(MODEL)
    assert len(table) == 20 and set(table.state) == {"built", "grown"}
    # another student's energies, the teacher's kept: the same frames, so the teacher column is unchanged
    committed = energy_weight.PREFERENCE_FRAMES / "energies.csv"
    assert (table.e_teacher_eV == pd.read_csv(committed).e_teacher_eV).all()
    assert (table.e_student_eV != pd.read_csv(committed).e_student_eV).all()


def test_the_retrained_students_are_tabulated_with_their_verdicts_against_the_parent():
    table = energy_weight.retrained_students().set_index("student")
    assert table.verdict.isna()["mafa-v2"] and table.change["mafa-v2"] == "parent"
    # measured in session 11: weighting energies 11x made every criterion worse
    assert table.verdict["mafa-v2-e03"] == "fails (reproduces teacher, phase order better, forces kept)"
    assert table.rmse_forces_test_meV["mafa-v2-e03"] > 1.1 * table.rmse_forces_test_meV["mafa-v2"]
    assert "0.3 meV/atom" in table.change["mafa-v2-e03"]


def test_the_verdict_sentence_counts_what_passes():
    table = energy_weight.retrained_students().set_index("student")
    parent, failing = table.loc[["mafa-v2"]], table.loc[["mafa-v2-e03"]]
    one = pd.concat([parent, failing]).reset_index()
    assert energy_weight.retrained_students_text(one).startswith("the one retrained student, `mafa-v2-e03` (")
    passing = failing.reset_index().assign(student="better", verdict="passes")
    both = pd.concat([one, passing], ignore_index=True)
    assert energy_weight.retrained_students_text(both).startswith("1 of 2 retrained students pass: ")
    assert energy_weight.retrained_students_text(both.iloc[[0, 1, 1]]).startswith("none of the 2 retrained")
    assert energy_weight.retrained_students_text(parent.reset_index()) == "no retrained student has been judged"


def test_the_change_of_a_student_trained_from_scratch_names_its_preset_and_both_trainings():
    parameters = dict(parent="mafa-v2", stages=3, stage_steps=1000, hyper="wide", from_scratch_steps=3000,
                      path_frames_added=30, path_frames_fa_fractions=[0.25, 0.5, 0.75])
    assert energy_weight._change(parameters) == (
        "a new model of preset 'wide', n_max 6/6 and 50 neurons, trained 3,000 steps from scratch, then 3,000 more "
        "steps in 3 stages with 30 teacher-labelled coexistence frames at x = 0.25, 0.5, 0.75")
    continued = dict(parameters, from_scratch_steps=0)
    assert energy_weight._change(continued).startswith("3,000 more steps in 3 stages")


def test_the_change_says_when_frames_at_the_judged_compositions_come_from_another_replica():
    parameters = dict(parent="mafa-v2", stages=3, stage_steps=1000, hyper="production", path_frames_added=50,
                      path_frames_fa_fractions=[0.0, 0.25, 0.5, 0.75, 1.0], path_frames_replicas=[0, 1])
    assert energy_weight._change(parameters) == (
        "3,000 more steps in 3 stages with 50 teacher-labelled coexistence frames at x = 0, 0.25, 0.5, 0.75, 1 "
        "(at x = 0 and 1 from replica 1, not the judged frames' replica 0)")
