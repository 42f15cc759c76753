"""Band edges: orbital character and gap of a cubic cell, degeneracies, reference invariance, cache,
SCF retries, bad inputs."""

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes

from softlattice.electronic.band_edges import BandEdgeCache, SCFNotConverged, band_edges, cached_band_edges
from softlattice.perovskite.structures import build_mixed_perovskite, build_perovskite


class FakeBands(Calculator):
    """Fixed eigenvalues; fails its SCF unless built with ``safer=True`` when ``fragile``."""

    implemented_properties = ["energy"]

    def __init__(self, fragile=False, safer=False, always_fail=False):
        super().__init__()
        self.fail = always_fail or (fragile and not safer)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if self.fail:
            raise RuntimeError("SCF did not converge")
        self.results = {"energy": 0.0}

    def get_eigenvalues(self):
        return np.array([-3.0, -1.0, -1.0, 0.6, 2.0])

    def get_occupation_numbers(self):
        return np.array([2.0, 2.0, 2.0, 0.0, 0.0])

    def get_atomic_electrostatic_potentials(self):
        return np.full(len(self.atoms), -5.0)


@pytest.fixture(scope="module")
def cspbi3():
    return build_perovskite("Cs", 1, lattice_constant=6.3)


def test_edges_are_referred_to_the_lead_potential(cspbi3):
    edges = band_edges(cspbi3, lambda safer: FakeBands(), backend="fake")
    assert (edges.vbm_raw, edges.cbm_raw, edges.gap) == (-1.0, 0.6, pytest.approx(1.6))
    assert edges.vbm == pytest.approx(4.0) and edges.vbm_degeneracy == 2 and edges.cbm_degeneracy == 1


def test_scf_failure_is_retried_with_safer_settings_then_reported(cspbi3):
    edges = band_edges(cspbi3, lambda safer: FakeBands(fragile=True, safer=safer))
    assert edges.attempts == 2 and edges.converged
    with pytest.raises(SCFNotConverged, match="did not converge with the default or the safer settings"):
        band_edges(cspbi3, lambda safer: FakeBands(always_fail=True))


def test_cache_hits_and_misses(cspbi3, tmp_path):
    cache = BandEdgeCache("fake", tmp_path)
    calls = []

    def factory(safer):
        calls.append(safer)
        return FakeBands()

    first = cached_band_edges(cspbi3, cache, factory)
    second = cached_band_edges(cspbi3, cache, factory)
    assert first == second and len(calls) == 1
    moved = cspbi3.copy()
    moved.positions[0, 0] += 0.01
    cached_band_edges(moved, cache, factory)
    assert len(calls) == 2


def test_cached_edges_carried_to_a_new_machine_are_not_computed_again(cspbi3, tmp_path):
    calls = []

    def factory(safer):
        calls.append(safer)
        return FakeBands()

    moved = cspbi3.copy()
    moved.positions[0, 0] += 0.01
    first_machine = BandEdgeCache("fake", tmp_path / "machine1")
    edges = cached_band_edges(cspbi3, first_machine, factory)
    assert first_machine.export_to(tmp_path / "carried") == 1
    second_machine = BandEdgeCache("fake", tmp_path / "machine2")
    cached_band_edges(moved, second_machine, factory)
    assert second_machine.import_from(tmp_path / "carried") == 1
    assert second_machine.export_to(tmp_path / "carried") == 2  # merged with what was carried
    third_machine = BandEdgeCache("fake", tmp_path / "machine3")
    assert third_machine.import_from(tmp_path / "carried") == 2 and third_machine.import_from(tmp_path / "carried") == 0
    assert cached_band_edges(cspbi3, third_machine, factory) == edges
    cached_band_edges(moved, third_machine, factory)
    assert len(calls) == 2  # one per structure, on the machine that first met it
    assert BandEdgeCache("other", tmp_path / "machine4").import_from(tmp_path / "carried") == 0


def test_bad_inputs(cspbi3, monkeypatch):
    from ase.build import bulk
    with pytest.raises(ValueError, match="has no Pb"):
        band_edges(bulk("Cu"), lambda safer: FakeBands())
    slab = cspbi3.copy()
    slab.pbc = (True, True, False)
    with pytest.raises(ValueError, match="periodic"):
        band_edges(slab, lambda safer: FakeBands())
    import builtins
    real_import = builtins.__import__

    def no_gpaw(name, *args, **kwargs):
        if name == "gpaw":
            raise ImportError("no gpaw")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gpaw)
    with pytest.raises(RuntimeError, match="make gpaw"):
        band_edges(cspbi3)


gpaw = pytest.importorskip  # the tests below need GPAW itself


@pytest.fixture(scope="module")
def cubic_cspbi3_edges():
    gpaw("gpaw", reason="GPAW is not installed (make gpaw)")
    cell = build_perovskite("Cs", 2, lattice_constant=6.3)
    return cell, band_edges(cell)


def test_cubic_cell_has_the_degeneracies_of_the_r_point(cubic_cspbi3_edges):
    _, edges = cubic_cspbi3_edges
    # R folds onto Gamma in 2x2x2: the VBM (Pb-s/I-p antibonding) is single, the CBM (Pb-p) threefold
    assert edges.vbm_degeneracy == 1 and edges.cbm_degeneracy == 3
    assert max(edges.character["vbm"], key=edges.character["vbm"].get) == "I-p"
    assert max(edges.character["cbm"], key=edges.character["cbm"].get) == "Pb-p"
    assert edges.cbm_pb_p == pytest.approx(edges.cbm) and edges.pi_star is None  # no molecules in CsPbI3


def test_reference_level_makes_edges_invariant_to_a_rigid_translation(cspbi3):
    gpaw("gpaw", reason="GPAW is not installed (make gpaw)")
    # the reference does not care about the cell's size: the 5-atom cell tests it at a tenth of the cost
    edges = band_edges(cspbi3)
    moved = cspbi3.copy()
    moved.translate([0.37, 0.11, -0.23])
    shifted = band_edges(moved)
    assert shifted.vbm == pytest.approx(edges.vbm, abs=0.02)
    assert shifted.cbm == pytest.approx(edges.cbm, abs=0.02)


def test_cubic_mapbi3_96_atoms_has_a_pbe_gap_with_the_right_character():
    gpaw("gpaw", reason="GPAW is not installed (make gpaw)")
    edges = band_edges(build_mixed_perovskite(0.0, 2, seed=0))
    assert 1.0 < edges.gap < 2.5  # PBE without spin-orbit: about 1.6 eV for MAPbI3
    assert max(edges.character["vbm"], key=edges.character["vbm"].get) == "I-p"
    assert max(edges.character["cbm"], key=edges.character["cbm"].get) == "Pb-p"


def test_the_pb_p_edge_and_the_pi_star_level_are_read_from_a_synthetic_projected_dos():
    from softlattice.electronic.band_edges import PB_P_SHARE, PI_STAR_SHARE, lowest_state_with
    # an FA pi* level below the framework's conduction band, then mixed states
    characters = [{"C-p": 0.45, "N-p": 0.4, "H-s": 0.15},
                  {"Pb-p": PB_P_SHARE - 0.05, "I-p": 0.5, "N-p": 0.2},
                  {"Pb-p": 0.7, "I-s": 0.3},
                  {"Pb-p": 0.8, "I-p": 0.2}]
    assert lowest_state_with(characters, ("Pb-p",), PB_P_SHARE) == 2
    assert lowest_state_with(characters, ("C-p", "N-p"), PI_STAR_SHARE) == 0
    assert lowest_state_with(characters[1:], ("C-p", "N-p"), PI_STAR_SHARE) is None
