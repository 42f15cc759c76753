"""CP2K references: the input names the seed's functional and CP2K's SCAN basis sets, bad settings
and a missing install are refused before work starts, an unconverged SCF raises and is never cached,
and (where CP2K is installed) forces are the gradient of the energy."""

import shutil

import numpy as np
import pytest
from ase import Atoms

from softlattice.models import cp2k
from softlattice.models.cp2k import CP2KSettings, SCFNotConverged, cp2k_calculator, cp2k_input
from softlattice.models.reference import LabelCache, label_structures

needs_cp2k = pytest.mark.skipif(not any(shutil.which(c) for c in cp2k.SHELL_COMMANDS),
                                reason="CP2K is not installed (apt-get install cp2k)")


def test_scan_rvv10_input_names_the_functional_basis_and_kernel():
    text = cp2k_input(CP2KSettings(), {"Pb", "I", "C", "N", "H"})
    for expected in ("&MGGA_X_SCAN", "&MGGA_C_SCAN", "TYPE RVV10", "PARAMETERS 15.7 0.0093",
                     "BASIS_SET DZVP-MOLOPT-SCAN-GTH-q7", "POTENTIAL GTH-SCAN-q4", "rVV10_kernel_table.dat"):
        assert expected in text
    pbe = cp2k_input(CP2KSettings(functional="pbe"), {"Pb", "I"})
    assert "&XC_FUNCTIONAL PBE" in pbe and "RVV10" not in pbe and "GTH-PBE-q4" in pbe


@needs_cp2k
def test_named_basis_sets_and_pseudopotentials_exist_in_cp2ks_data():
    basis = (cp2k.CP2K_DATA_DIR / "BASIS_MOLOPT_UZH").read_text()
    potentials = (cp2k.CP2K_DATA_DIR / "POTENTIAL_UZH").read_text()
    for symbol, q in cp2k.VALENCE.items():
        assert f"{symbol} DZVP-MOLOPT-SCAN-GTH-q{q}" in basis
        assert any(line.split()[:2] == [symbol, f"GTH-SCAN-q{q}"] for line in potentials.splitlines())
    assert (cp2k.CP2K_DATA_DIR / "rVV10_kernel_table.dat").is_file()


def test_bad_settings_are_refused_naming_the_value():
    with pytest.raises(ValueError, match="'b3lyp'.*scan-rvv10, pbe"):
        CP2KSettings(functional="b3lyp")
    with pytest.raises(ValueError, match="-5"):
        CP2KSettings(cutoff_Ry=-5)
    with pytest.raises(ValueError, match="max_scf 0"):
        CP2KSettings(max_scf=0)
    with pytest.raises(ValueError, match="Ag"):
        cp2k_input(CP2KSettings(), {"Ag", "I"})


def test_missing_cp2k_says_how_to_install(monkeypatch):
    monkeypatch.setattr(cp2k.shutil, "which", lambda command: None)
    with pytest.raises(RuntimeError, match="apt-get install cp2k"):
        cp2k_calculator(CP2KSettings())


def _h2(distance=0.74):
    return Atoms("H2", positions=[[0, 0, 0], [0.1, 0.05, distance]], cell=[5.0, 5.0, 5.0], pbc=True)


@needs_cp2k
def test_unconverged_scf_raises_and_stores_nothing(tmp_path):
    calculator = cp2k_calculator(CP2KSettings(functional="pbe", cutoff_Ry=200, max_scf=1, max_outer_scf=1),
                                 {"H"}, tmp_path / "cp2k")
    with pytest.raises(SCFNotConverged, match="NOT converged"):
        label_structures([_h2()], calculator, name="cp2k-unconverged", cache_dir=tmp_path / "labels")
    calculator.close()
    assert LabelCache("cp2k-unconverged", tmp_path / "labels").get(_h2()) is None


@needs_cp2k
@pytest.mark.parametrize("functional", ["scan-rvv10", "pbe"])
def test_forces_are_the_gradient_of_the_energy(tmp_path, functional):
    calculator = cp2k_calculator(CP2KSettings(functional=functional, cutoff_Ry=400, eps_scf=1e-8),
                                 {"H"}, tmp_path)
    atoms = _h2(0.80)
    atoms.calc = calculator
    force = atoms.get_forces()[1, 2]
    step = 0.005
    energies = []
    for sign in (1, -1):
        moved = atoms.copy()
        moved.positions[1, 2] += sign * step
        moved.calc = calculator
        energies.append(moved.get_potential_energy())
    calculator.close()
    assert force < 0  # stretched beyond the bond length, the atoms pull together
    assert force == pytest.approx(-(energies[0] - energies[1]) / (2 * step), abs=0.02)


@needs_cp2k
def test_a_single_point_past_its_time_limit_is_stopped_and_the_calculator_recovers(tmp_path):
    from softlattice.models.cp2k import SCFTimeLimit
    slow = cp2k_calculator(CP2KSettings(functional="scan-rvv10", cutoff_Ry=400, time_limit_s=0.5), {"H"}, tmp_path)
    atoms = _h2()
    atoms.calc = slow
    with pytest.raises(SCFTimeLimit, match="0.5 s limit after 0 SCF steps"):
        atoms.get_potential_energy()
    slow.time_limit_s = None
    assert np.isfinite(atoms.get_potential_energy()) and slow.scf_steps > 0
    slow.close()


@needs_cp2k
def test_a_stopped_single_point_resumes_from_its_saved_wave_functions(tmp_path):
    from softlattice.models.cp2k import SCFTimeLimit, scf_progress
    atoms = _h2(0.9)
    first = cp2k_calculator(CP2KSettings(functional="pbe", cutoff_Ry=200, eps_scf=1e-8), {"H"}, tmp_path / "a")
    atoms.calc = first
    reference = atoms.get_potential_energy()
    cold_steps = first.scf_steps
    first.close()
    folder = next((tmp_path / "a").glob("pbe_200Ry/*"))
    assert (folder / "cp2k-RESTART.wfn").is_file() and cold_steps > 3
    again = cp2k_calculator(CP2KSettings(functional="pbe", cutoff_Ry=200, eps_scf=1e-8), {"H"}, tmp_path / "a")
    atoms.calc = again
    assert atoms.get_potential_energy() == pytest.approx(reference, abs=1e-5)
    assert again.scf_steps < cold_steps  # started from the saved wave functions, not from atoms
    again.close()
    assert scf_progress("     7 OT DIIS     0.80E-01    6.6     0.00012000      -459.1 -4.59E-02\n") == (1, 1.2e-4)
