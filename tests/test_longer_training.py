"""Training a committed student further: the rules that judge a retrained student, the staged
continuation end to end on a small copy of NEP v2's folder, and refusals before any training."""

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from ase.io import read, write
from softlattice.infra.keys import file_hash
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


@pytest.mark.notebook  # a minute: NEP v2 on the 20 committed coexistence frames, twice per stage
def test_a_staged_continuation_is_evaluated_stage_by_stage_and_judged_at_its_end(tmp_path):
    parent = small_parent(tmp_path / "parent")
    table = longer_training.train_longer(parent, stages=2, stage_steps=2, output=tmp_path / "out",
                                         work=tmp_path / "work")
    assert list(table.stage) == [0, 1] and list(table.steps) == [2, 4]
    assert set(table.columns) >= {"student_minus_teacher_meV_x0.0", "student_minus_teacher_meV_x1.0", "order_kept"}
    evaluation = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert set(evaluation["verdict"]) == {"reproduces_teacher", "phase_order_better", "forces_kept", "passes"}
    assert evaluation["model_sha256_16"] == file_hash(tmp_path / "out" / "nep.txt")  # the last stage is judged
    assert pd.read_csv(tmp_path / "out" / "stages.csv").order_kept.tolist() == table.order_kept.tolist()
    assert json.loads((tmp_path / "out" / "provenance.json").read_text())["parameters"]["stages"] == 2


def test_a_folder_that_is_no_committed_student_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        longer_training.main(["--parent", str(tmp_path), "--stages", "2", "--output", str(tmp_path / "o")])
    assert "not a committed student folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        longer_training.main(["--parent", str(PARENT), "--stages", "0", "--output", str(tmp_path / "o")])
    assert "0" in capsys.readouterr().err and not (tmp_path / "o").exists()
