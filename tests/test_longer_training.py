"""Training a committed student further: the rules that judge a retrained student, the staged
continuation end to end on a small copy of NEP v2's folder, and refusals before any training."""

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from softlattice.infra.keys import file_hash
from softlattice.md.calculators import nep_calculator
from softlattice.perovskite.student_criteria import retrained_student_verdict
from softlattice.perovskite.workflows import longer_training

PARENT = Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-v2"
BAR = dict(order_kept=8, median_abs_difference_meV_per_fu=19.4, coexistence_reproduces={"0.0": False, "1.0": False})


def candidate(**changes):
    return {**dict(order_kept=9, median_abs_difference_meV_per_fu=15.0,
                   coexistence_reproduces={"0.0": True, "1.0": True}), **changes}


def test_a_retrained_student_passes_only_when_every_rule_holds():
    assert retrained_student_verdict(candidate(), BAR, 135.0, 130.0)["passes"]
    failing = {
        "reproduces_teacher": candidate(coexistence_reproduces={"0.0": True, "1.0": False}),
        "phase_order_better": candidate(order_kept=8),
        "forces_kept": candidate(),
    }
    for rule, evaluation in failing.items():
        verdict = retrained_student_verdict(evaluation, BAR, 150.0 if rule == "forces_kept" else 130.0, 130.0)
        assert not verdict[rule] and not verdict["passes"], rule
        assert all(value for key, value in verdict.items() if key not in (rule, "passes")), rule
    assert not retrained_student_verdict(candidate(median_abs_difference_meV_per_fu=19.4), BAR, 130.0, 130.0)["passes"]
    assert not retrained_student_verdict(candidate(coexistence_reproduces={}), BAR, 130.0, 130.0)["passes"]


def small_parent(folder: Path) -> Path:
    """NEP v2's folder with eight training and four test structures of its own sets."""
    folder.mkdir()
    for name, count in (("train", 8), ("test", 4)):
        with gzip.open(PARENT / f"{name}.xyz.gz", "rt") as source:
            structures = [a for a in read(source, index=":200") if len(a) == 96][:count]
        write(folder / f"{name}.xyz", structures, format="extxyz")
        with open(folder / f"{name}.xyz", "rb") as plain, gzip.open(folder / f"{name}.xyz.gz", "wb") as packed:
            shutil.copyfileobj(plain, packed)
    for name in ("nep.txt", "provenance.json"):
        shutil.copy2(PARENT / name, folder / name)
    return folder


JUDGED = Path(__file__).resolve().parents[1] / "data" / "tilt_preference" / "mafa-v2"
TEACHER = "sevennet-pw-ft-ef-last+d3"


def path_set(folder: Path, fa_fraction: float = 0.5, reference: str = TEACHER, replica: int = 0) -> Path:
    """A tilt-preference set of one committed frame, relabelled as composition ``fa_fraction`` of
    coexistence replica ``replica``."""
    folder.mkdir()
    frame = read(JUDGED / "frames.extxyz.gz", index="0")
    frame.info["fa_fraction"] = fa_fraction
    write(folder / "frames.extxyz.gz", [frame], format="extxyz")
    record = json.loads((JUDGED / "provenance.json").read_text())
    record["parameters"].update(reference=reference, replica=replica)
    (folder / "provenance.json").write_text(json.dumps(record))
    return folder


def test_path_frames_at_the_judged_compositions_or_of_another_teacher_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="frames at x = 0, 1 of replica 0, where the students are judged"):
        longer_training.path_frames_of(JUDGED, TEACHER)
    with pytest.raises(ValueError, match="frames at x = 1 of replica 0"):
        longer_training.path_frames_of(path_set(tmp_path / "end", fa_fraction=1.0), TEACHER)
    other_replica = longer_training.path_frames_of(path_set(tmp_path / "end1", fa_fraction=1.0, replica=1), TEACHER)
    assert [frame.info["replica"] for frame in other_replica] == [1]  # another run than the judged ones: allowed
    with pytest.raises(ValueError, match="labelled by 'chgnet-r2scan', not by the parent's teacher"):
        longer_training.path_frames_of(path_set(tmp_path / "other", reference="chgnet-r2scan"), TEACHER)
    with pytest.raises(ValueError, match="is not a tilt-preference result set"):
        longer_training.path_frames_of(tmp_path, TEACHER)
    assert len(longer_training.path_frames_of(path_set(tmp_path / "middle"), TEACHER)) == 1
    with pytest.raises(SystemExit):
        longer_training.main(["--parent", str(PARENT), "--stages", "1", "--path-frames", str(JUDGED),
                              "--output", str(tmp_path / "o")])
    assert "where the students are judged" in capsys.readouterr().err and not (tmp_path / "o").exists()


@pytest.mark.notebook  # a minute: NEP v2 on the 20 committed coexistence frames, twice per stage
def test_a_staged_continuation_is_evaluated_stage_by_stage_and_judged_at_its_end(tmp_path, monkeypatch):
    parent = small_parent(tmp_path / "parent")
    added = []

    def student_labels(frames, reference):  # NEP v2's own labels stand in for its teacher's here
        assert reference == TEACHER
        labelled = []
        for frame in frames:
            atoms = frame.copy()
            atoms.calc = nep_calculator(PARENT / "nep.txt", atoms=atoms)
            atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
                                               stress=atoms.get_stress())
            labelled.append(atoms)
        added.extend(labelled)
        return labelled

    monkeypatch.setattr(longer_training, "label_structures", student_labels)
    table = longer_training.train_longer(parent, stages=2, stage_steps=2, output=tmp_path / "out",
                                         work=tmp_path / "work", path_frames=[path_set(tmp_path / "middle")])
    assert len(added) == 1
    assert list(table.stage) == [0, 1] and list(table.steps) == [2, 4]
    assert set(table.columns) >= {"student_minus_teacher_meV_x0.0", "student_minus_teacher_meV_x1.0", "order_kept"}
    evaluation = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert set(evaluation["verdict"]) == {"reproduces_teacher", "phase_order_better", "forces_kept", "passes"}
    assert evaluation["model_sha256_16"] == file_hash(tmp_path / "out" / "nep.txt")  # the last stage is judged
    assert pd.read_csv(tmp_path / "out" / "stages.csv").order_kept.tolist() == table.order_kept.tolist()
    parameters = json.loads((tmp_path / "out" / "provenance.json").read_text())["parameters"]
    assert parameters["stages"] == 2 and parameters["path_frames_added"] == 1
    assert parameters["path_frames_fa_fractions"] == [0.5] and parameters["path_frames_replicas"] == [0]
    assert parameters["path_frames"] == ["middle"]


def test_a_folder_that_is_no_committed_student_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        longer_training.main(["--parent", str(tmp_path), "--stages", "2", "--output", str(tmp_path / "o")])
    assert "not a committed student folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        longer_training.main(["--parent", str(PARENT), "--stages", "0", "--output", str(tmp_path / "o")])
    assert "0" in capsys.readouterr().err and not (tmp_path / "o").exists()


@pytest.mark.notebook  # a minute: the evaluation runs on the committed coexistence frames
def test_from_scratch_trains_a_model_of_the_preset_first_and_continues_it(tmp_path):
    parent = small_parent(tmp_path / "parent")
    record = json.loads((parent / "provenance.json").read_text())
    record["parameters"]["final_steps"] = 3
    (parent / "provenance.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="unknown preset 'huge'; allowed: .*wide"):
        longer_training.train_longer(parent, stages=1, stage_steps=2, output=tmp_path / "bad", from_scratch="huge")
    assert not (tmp_path / "bad").exists()
    table = longer_training.train_longer(parent, stages=1, stage_steps=2, output=tmp_path / "out",
                                         work=tmp_path / "work", from_scratch="tiny")
    assert list(table.steps) == [2]
    header = (tmp_path / "out" / "nep.txt").read_text().splitlines()
    assert any(line.split()[:3] == ["n_max", "2", "2"] for line in header)  # the preset's descriptor, not v2's
    assert not any(line.split()[:3] == ["n_max", "4", "4"] for line in header)
    parameters = json.loads((tmp_path / "out" / "provenance.json").read_text())["parameters"]
    assert parameters["hyper"] == "tiny" and parameters["from_scratch_steps"] == 3
