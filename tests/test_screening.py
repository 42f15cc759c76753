"""Reference screening: species offsets, DFT comparison bookkeeping, stress-free references,
resumable screening runs, GPAW labels where GPAW is installed."""

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.lj import LennardJones

from softlattice.models.metrics import species_offsets
from softlattice.models.reference import label_structures
from softlattice.perovskite.structures import build_mixed_perovskite
from softlattice.perovskite.training_sets import generate_structures
from softlattice.perovskite.workflows.screening import (
    ScreeningSettings,
    compare_with_dft,
    dft_errors,
    force_errors_by_species,
    run_screening,
    screening_settings,
)


def lj():
    # sigma below the shortest bond (C-H), so energies stay small and smooth
    return LennardJones(sigma=0.9, epsilon=0.01, rc=5.0, smooth=True)


class ShiftedLJ(Calculator):
    """Lennard-Jones plus a constant energy per atom of each species: a 'method' whose absolute
    energies differ from the reference's the way two functionals' do."""

    implemented_properties = ["energy", "forces"]
    SHIFTS = {"Pb": -3.0, "I": 1.5, "C": 0.2, "N": -0.7, "H": 0.05}

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        base = lj()
        base.calculate(atoms, ["energy", "forces"], system_changes)
        shift = sum(self.SHIFTS[s] for s in atoms.get_chemical_symbols())
        self.results = {"energy": base.results["energy"] + shift, "forces": base.results["forces"]}


@pytest.fixture(scope="module")
def mixed_cells():
    return generate_structures([0.0, 0.5, 1.0], ["a0a0a0", "a0a0c+"], strains=[0.0], rattle=0.05,
                               repeat=(2, 2, 1), seed=3)


def test_species_offsets_recover_constant_shifts(mixed_cells):
    shifts = {"Pb": -3.0, "I": 1.5, "C": 0.2, "N": -0.7, "H": 0.05}
    rng = np.random.default_rng(0)
    reference = rng.normal(size=len(mixed_cells))
    energies = reference - [sum(shifts[s] for s in a.get_chemical_symbols()) for a in mixed_cells]
    offsets = species_offsets(mixed_cells, energies, reference)
    counts = np.array([[a.get_chemical_symbols().count(s) for s in sorted(shifts)] for a in mixed_cells])
    # only the combinations the compositions fix are determined; those must come back exactly
    recovered = counts @ np.array([offsets[s] for s in sorted(shifts)])
    expected = counts @ np.array([shifts[s] for s in sorted(shifts)])
    np.testing.assert_allclose(recovered, expected, atol=1e-9)


def test_a_method_differing_by_species_constants_has_no_error(mixed_cells, tmp_path):
    dft = label_structures(mixed_cells, lj(), name="lj", cache_dir=tmp_path)
    energies, forces = compare_with_dft(dft, {"shifted": ShiftedLJ, "same": lj})
    errors = dft_errors(energies, forces).set_index("method")
    assert errors.loc["shifted", "energy_rmse_meV_per_atom"] < 1e-6
    assert errors.loc["shifted", "force_rmse_meV_per_A"] < 1e-4  # extxyz stores 8 decimals
    assert errors.loc["same", "energy_r2"] == pytest.approx(1.0)
    assert len(forces) == 2 * sum(3 * len(a) for a in dft)
    by_species = force_errors_by_species(forces, dft)
    assert set(by_species.columns) == {"Pb", "I", "C", "N", "H"}
    assert (by_species.loc["same"] < 1e-4).all()


def test_references_without_stress_are_labelled_without_it(mixed_cells, tmp_path):
    labelled = label_structures(mixed_cells[:1], ShiftedLJ(), name="no-stress", cache_dir=tmp_path)
    assert "stress" not in labelled[0].calc.results and "forces" in labelled[0].calc.results
    with_stress = label_structures(mixed_cells[:1], lj(), name="lj", cache_dir=tmp_path)
    assert "stress" in with_stress[0].calc.results


def test_settings_refuse_unknown_names_and_references():
    with pytest.raises(ValueError, match="unknown screening setting"):
        screening_settings({"temperature": 300})
    with pytest.raises(ValueError, match="unknown reference"):
        ScreeningSettings(references=("vasp-scan",))
    with pytest.raises(ValueError, match="MD length"):
        ScreeningSettings(md_ps=0.0)
    settings = screening_settings({"md_runs": [[0.0, "a0a0c-", 300.0]], "arrangements": [0]})
    assert settings.md_runs == ((0.0, "a0a0c-", 300.0),)


def test_screening_runs_and_resumes_without_recomputing(tmp_path, monkeypatch):
    import softlattice.models.reference as reference
    monkeypatch.setitem(reference.REFERENCES, "lj-screen", lj)
    settings = ScreeningSettings(references=("lj-screen",), compositions=(0.0,), glazers=("a0a0a0", "a0a0c+"),
                                 arrangements=(0,), relax_steps=2, md_runs=((0.0, "a0a0c+", 100.0),),
                                 md_ps=0.02, md_timestep_fs=1.0)
    tables = run_screening(settings, tmp_path)
    assert set(tables["energetics"].glazer) == {"a0a0a0", "a0a0c+"}
    assert (tables["energetics"].method == "lj-screen").all()
    assert {"Q_M_z", "Q_R_z", "time_ps"} <= set(tables["md_observations"].columns)
    part = tmp_path / "parts" / "energetics_lj-screen.csv"
    stamp = part.stat().st_mtime_ns
    run_screening(settings, tmp_path)
    assert part.stat().st_mtime_ns == stamp


def test_gpaw_labels_a_small_cell(tmp_path):
    pytest.importorskip("gpaw", reason="GPAW is not installed (make gpaw)")
    cell = build_mixed_perovskite(0.0, 1, seed=0)
    labelled = label_structures([cell], "gpaw-pbe", cache_dir=tmp_path)[0]
    forces = labelled.get_forces()
    assert "stress" not in labelled.calc.results
    assert np.isfinite(labelled.get_potential_energy())
    # no net force on a periodic cell (translation invariance), within LCAO's egg-box error
    assert np.linalg.norm(forces.sum(axis=0)) < 0.1


def test_d3_reference_adds_dispersion():
    pytest.importorskip("dftd3")
    from softlattice.models.reference import reference_calculator
    cell = build_mixed_perovskite(0.0, 1, seed=0)
    plain, dispersed = cell.copy(), cell.copy()
    plain.calc = reference_calculator("chgnet-r2scan")
    dispersed.calc = reference_calculator("chgnet-r2scan+d3")
    difference = dispersed.get_potential_energy() - plain.get_potential_energy()
    assert -2.0 < difference < 0.0  # attraction, of the order of 50 meV/atom
