"""The DFT tilt check records every single point (failures included, never cached) and resumes with
only what is missing; its summary sentence counts what the record holds."""

import numpy as np
import pandas as pd
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.io import write

from softlattice.models.cp2k import SCFNotConverged
from softlattice.perovskite.workflows import teacher


class FlakyDFT(Calculator):
    """Energy = -number of atoms, zero forces; the first ``failures`` calls do not converge."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, failures):
        super().__init__()
        self.failures, self.calls = failures, 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.calls += 1
        if self.calls <= self.failures:
            raise SCFNotConverged("SCF run NOT converged after 3 steps")
        self.results = dict(energy=-float(len(atoms)), forces=np.zeros((len(atoms), 3)))


def _relaxed(folder, candidate, glazer, shift):
    atoms = Atoms("PbI3", scaled_positions=[[.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]],
                  cell=[6.3 + shift] * 3, pbc=True)
    atoms.info.update(candidate=candidate, fa_fraction=0.0, glazer=glazer, arrangement=0, converged=True,
                      energy_eV=-1.0)
    path = folder / "relaxed" / candidate / f"x0.0000_{glazer}_arr0_f0.01.extxyz"
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, atoms)


def test_failures_are_recorded_not_cached_and_a_rerun_computes_only_what_is_missing(tmp_path, monkeypatch):
    candidate = "chgnet-r2scan"
    _relaxed(tmp_path, candidate, "a0a0c-", 0.0)
    _relaxed(tmp_path, candidate, "a0a0c+", 0.1)
    flaky = FlakyDFT(failures=1)
    monkeypatch.setattr(teacher, "tilt_check_calculator", lambda reference, limit: flaky)
    record = tmp_path / "single_points.csv"
    options = dict(record=record, folder=tmp_path, cache_dir=tmp_path / "labels")
    teacher.label_dft_tilts(candidate, "cp2k-scan-rvv10", **options)
    first = pd.read_csv(record)
    assert list(first.status) == ["SCF not converged", "converged"] and list(first.glazer) == ["a0a0c-", "a0a0c+"]
    assert len(list((tmp_path / "labels" / "cp2k-scan-rvv10").glob("*.extxyz"))) == 1
    teacher.label_dft_tilts(candidate, "cp2k-scan-rvv10", **options)
    second = pd.read_csv(record)
    assert len(second) == 3 and second.status.iloc[-1] == "converged" and second.glazer.iloc[-1] == "a0a0c-"
    assert flaky.calls == 3
    summary = teacher.single_point_summary(second)
    assert summary.startswith("cp2k-scan-rvv10: 2 of 3 single points converged") and "1 SCF not converged" in summary


def test_unknown_tilt_check_reference_is_refused():
    import pytest
    with pytest.raises(ValueError, match="'vasp'.*gpaw-pw-pbe, cp2k-scan-rvv10"):
        teacher.tilt_check_calculator("vasp")


def test_chapter_01_says_whose_student_its_nep_is():
    own = teacher.page_reference_note("sevennet-pw-ft-ef-last+d3", "sevennet-pw-ft-ef-last+d3", "mafa-v4")
    other = teacher.page_reference_note("chgnet-r2scan", "sevennet-pw-ft-ef-last+d3")
    assert "(`mafa-v4`) is the student of" in own and "What a soft teacher does" in own
    assert "not of the teacher" in other and "chgnet-r2scan" in other
    assert "no candidate passes" in teacher.page_reference_note("chgnet-r2scan", None)
    assert "the teacher of this page's NEP" in teacher.teacher_outlook("sevennet-pw-ft-ef-last+d3",
                                                                       "sevennet-pw-ft-ef-last+d3")
    assert "still the student of chgnet-r2scan" in teacher.teacher_outlook("sevennet-pw-ft-ef-last+d3")


def test_the_committed_students_of_a_teacher_are_found_by_their_provenance(tmp_path):
    from softlattice.infra.provenance import write_provenance
    for name, reference in (("a", "teacher-x"), ("b", "other"), ("c", "TEACHER-X")):
        write_provenance(tmp_path / name, dict(reference=reference), {}, command="test")
    (tmp_path / "no-record").mkdir()
    assert [p.name for p in teacher.students_of("teacher-x", tmp_path)] == ["a", "c"]
    outlook = teacher.teacher_outlook("teacher-x", "chgnet-r2scan", teacher.students_of("teacher-x", tmp_path))
    assert "students are trained (`" in outlook and "still show the student of chgnet-r2scan" in outlook
    assert outlook.count("`") == 4  # both students named


def test_students_phase_order_reads_each_students_table_and_skips_those_without(tmp_path):
    import pandas as pd
    rows = [dict(fa_fraction=1.0, arrangement=0, glazer=g, reference_meV_per_fu=r, nep_meV_per_fu=n,
                 difference_meV_per_fu=n - r, converged=True) for g, r, n in (("a0a0c-", -30, 10), ("a0a0c+", -20, -5))]
    (tmp_path / "v2" / "checks").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(tmp_path / "v2" / "checks" / "phase_order.csv", index=False)
    (tmp_path / "v3").mkdir()
    table = teacher.students_phase_order([tmp_path / "v2", tmp_path / "v3"])
    assert list(table.model) == ["v2"] and list(table.reference_meV_per_fu) == [-10]
    assert list(table.nep_meV_per_fu) == [15]
    assert not table.same_order.iloc[0] and "kept in 0 of 1" in table.summary.iloc[0]
    assert teacher.students_phase_order([tmp_path / "v3"]).empty
