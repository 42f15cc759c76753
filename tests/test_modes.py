"""M/R tilt-mode projection: round trips on built structures, invariances, local maps, bad input."""

import numpy as np
import pytest

from softlattice.perovskite.modes import (
    MODES,
    iodine_displacements,
    layer_profile,
    map_framework,
    project_modes,
    project_modes_local,
)
from softlattice.perovskite.structures import build_perovskite
from softlattice.perovskite.tilts import parse_glazer

EXPECTED_ACTIVE = {"a0a0a0": [], "a0a0c-": ["R_z"], "a0a0c+": ["M_z"], "a-a-c+": ["R_x", "R_y", "M_z"],
                   "a+a+a+": ["M_x", "M_y", "M_z"], "a-a-a-": ["R_x", "R_y", "R_z"], "a0b+c-": ["M_y", "R_z"]}


def amplitudes(atoms):
    framework_map = map_framework(atoms)
    return project_modes(iodine_displacements(atoms, framework_map), framework_map)[0]


@pytest.mark.parametrize("glazer, active", EXPECTED_ACTIVE.items())
@pytest.mark.parametrize("angle", [3.0, 12.0])
def test_known_angle_gives_known_amplitude_in_the_right_component(glazer, active, angle):
    atoms = build_perovskite("MA", (4, 4, 4), glazer=glazer, tilt_angle=angle)
    expected = np.array([atoms.info["bond_length"] * np.sin(np.deg2rad(angle))
                         if mode in active else 0.0 for mode in MODES])
    np.testing.assert_allclose(np.abs(amplitudes(atoms)), expected, atol=1e-10)


def test_amplitude_is_invariant_to_rigid_translation_and_wrapping():
    atoms = build_perovskite("Cs", (4, 4, 4), glazer="a-a-c+", tilt_angle=8.0)
    reference = amplitudes(atoms)
    moved = atoms.copy()
    moved.translate([1.3, -0.7, 2.9])
    moved.wrap()
    framework_map = map_framework(atoms)  # map of the unmoved structure, used on the moved frame
    np.testing.assert_allclose(project_modes(iodine_displacements(moved, framework_map),
                                             framework_map)[0], reference, atol=1e-10)


def test_amplitude_is_invariant_to_atom_reordering():
    atoms = build_perovskite("MA", (2, 2, 2), glazer="a0a0c-", tilt_angle=10.0)
    order = np.random.default_rng(0).permutation(len(atoms))
    shuffled = atoms[order]
    np.testing.assert_allclose(amplitudes(shuffled), amplitudes(atoms), atol=1e-10)


def test_homogeneous_strain_scales_amplitudes():
    atoms = build_perovskite("Cs", (2, 2, 2), glazer="a0a0c+", tilt_angle=10.0)
    strained = atoms.copy()
    strained.set_cell(atoms.cell * 1.03, scale_atoms=True)
    np.testing.assert_allclose(amplitudes(strained), 1.03 * amplitudes(atoms), atol=1e-10)


def test_sheared_cell_still_maps():
    atoms = build_perovskite("Cs", (2, 2, 2), glazer="a0a0c-", tilt_angle=10.0)
    sheared = atoms.copy()
    cell = atoms.cell.array.copy()
    cell[2, 0] += 0.4
    sheared.set_cell(cell, scale_atoms=True)
    q = amplitudes(sheared)
    assert abs(q[5]) > 0.5 and np.all(np.abs(q[:5]) < 1e-10)


def test_local_amplitudes_average_to_global_and_recover_layers():
    # a layered structure along z: R_z-tilted blocks below, M_z-tilted blocks above
    below = build_perovskite("Cs", (2, 2, 4), glazer="a0a0c-", tilt_angle=9.0)
    above = build_perovskite("Cs", (2, 2, 4), glazer="a0a0c+", tilt_angle=9.0)
    layered = below.copy()
    cells = below.arrays["cell_index"]
    top = cells[:, 2] >= 2
    layered.positions[top] = above.positions[top]
    framework_map = map_framework(layered)
    displacements = iodine_displacements(layered, framework_map)
    local = project_modes_local(displacements, framework_map)
    np.testing.assert_allclose(local.mean(axis=(2, 3, 4)), project_modes(displacements, framework_map),
                               atol=1e-12)
    profile = layer_profile(local, axis=2)[0]
    r_z, m_z = profile[MODES.index("R_z")], profile[MODES.index("M_z")]
    assert r_z[0] > 0.4 and m_z[0] < 0.2 * r_z[0]
    assert m_z[1] > 0.4 and r_z[1] < 0.2 * m_z[1]


def test_projection_handles_many_frames():
    atoms = build_perovskite("Cs", (2, 2, 2), glazer="a0a0c+", tilt_angle=5.0)
    framework_map = map_framework(atoms)
    frames = []
    rng = np.random.default_rng(1)
    for _ in range(5):
        frame = atoms.copy()
        frame.positions += rng.normal(0, 0.05, frame.positions.shape)
        frames.append(frame)
    q = project_modes(iodine_displacements(frames, framework_map), framework_map)
    assert q.shape == (5, 6)
    assert np.all(np.abs(q[:, MODES.index("M_z")] - 3.1446 * np.sin(np.deg2rad(5))) < 0.05)


def test_strongly_displaced_iodine_still_maps_onto_its_own_site():
    atoms = build_perovskite("Cs", (2, 2, 2))
    iodine = np.flatnonzero(np.array(atoms.get_chemical_symbols()) == "I")
    reference = map_framework(atoms)
    moved = atoms.copy()
    # 1.8 Å across the Pb-I-Pb bond, as a strongly tilted frame at 330 K has it
    bond_axis = reference.x_bond_axis[0]
    moved.positions[iodine[0]] += 1.8 * np.eye(3)[(bond_axis + 1) % 3]
    moved_map = map_framework(moved)
    np.testing.assert_array_equal(moved_map.x_cell, reference.x_cell)
    np.testing.assert_array_equal(moved_map.x_bond_axis, reference.x_bond_axis)


def test_frames_that_do_not_map_are_rejected():
    atoms = build_perovskite("Cs", (2, 2, 2))
    framework_map = map_framework(atoms)
    with pytest.raises(ValueError, match="has 39 atoms; the reference has 40"):
        iodine_displacements(atoms[:-1], framework_map)
    broken = atoms.copy()
    broken.positions[5, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        iodine_displacements(broken, framework_map)
    with pytest.raises(ValueError, match="non-finite"):
        map_framework(broken)
    far = atoms.copy()
    far.positions[10] += [2.6, 0.0, 0.0]
    with pytest.raises(ValueError, match="from its ideal site, more than the allowed"):
        map_framework(far)
    with pytest.raises(ValueError, match="supercell needs"):
        map_framework(atoms, repeat=(2, 2, 4))
    reordered = atoms[np.argsort(atoms.get_chemical_symbols())]
    with pytest.raises(ValueError, match="different species order"):
        iodine_displacements(reordered, framework_map)


def test_odd_repeat_has_no_local_blocks():
    atoms = build_perovskite("Cs", (3, 3, 3))
    framework_map = map_framework(atoms)
    with pytest.raises(ValueError, match="not divisible into blocks of 2"):
        project_modes_local(iodine_displacements(atoms, framework_map), framework_map)


def test_glazer_patterns_are_orthogonal_modes():
    atoms = build_perovskite("Cs", (2, 2, 2))
    from softlattice.perovskite.modes import mode_patterns
    patterns = mode_patterns(map_framework(atoms)).reshape(6, -1)
    gram = patterns @ patterns.T
    assert np.allclose(gram - np.diag(np.diag(gram)), 0)
    assert parse_glazer("a0a0c+")  # patterns share the sign convention of the builder


CSPBI3_MODEL = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "validation" / "cspbi3" / "nep.txt"


@pytest.mark.skipif(not CSPBI3_MODEL.exists(), reason="independent CsPbI3 NEP not present in "
                    "../shared/validation/cspbi3 (it cannot be shipped with this repository)")
def test_projection_agrees_with_dynasor_mode_projector():
    """dynasor projects on the phonon eigenvectors of cubic CsPbI3 (NEP force constants); its
    unstable bands at R (three-fold) and at each M point are the tilt modes. For any
    displacement, their power sum |Q|^2 (mass-weighted, Da Å^2) must equal m_I N Σ Q_mode^2 with
    our per-iodine amplitudes, N being the number of iodines a mode moves."""
    from ase import Atoms
    from calorine.tools import get_force_constants
    from dynasor.modes.mode_projector import ModeProjector

    from softlattice.md.calculators import nep_calculator

    primitive = build_perovskite("Cs", 1, lattice_constant=6.29)
    for name in ("a_site", "cell_index"):
        del primitive.arrays[name]
    phonopy = get_force_constants(primitive, nep_calculator(CSPBI3_MODEL), np.diag([2, 2, 2]))
    phonopy.symmetrize_force_constants()
    ideal = Atoms(phonopy.supercell.symbols, positions=phonopy.supercell.positions,
                  cell=phonopy.supercell.cell, pbc=True)
    ideal.info["repeat"] = [2, 2, 2]
    projector = ModeProjector(primitive, ideal, phonopy.force_constants)
    framework_map = map_framework(ideal)
    displaced = ideal.copy()
    displaced.positions += np.random.default_rng(3).normal(0, 0.06, displaced.positions.shape)
    ours = project_modes(iodine_displacements(displaced, framework_map), framework_map)[0]
    projector.update_from_atoms(displaced)
    power = np.abs(projector.get_Q()) ** 2 / 103.64269572045423  # dynasor mass unit -> Da
    iodine_mass = primitive.get_masses()[primitive.get_chemical_symbols().index("I")]
    moving = 2 * len(framework_map.x_indices) // 3
    for q_reduced, modes, bands in [((0.5, 0.5, 0.5), ["R_x", "R_y", "R_z"], 3),
                                    ((0.5, 0.5, 0.0), ["M_z"], 1), ((0.5, 0.0, 0.5), ["M_y"], 1),
                                    ((0.0, 0.5, 0.5), ["M_x"], 1)]:
        k = next(i for i, q in enumerate(projector.q_reduced) if np.allclose(q, q_reduced))
        assert np.all(projector(q_reduced).omegas[:bands] < 0)  # the unstable tilt bands
        expected = iodine_mass * moving * sum(ours[MODES.index(m)] ** 2 for m in modes)
        assert power[k, :bands].sum() == pytest.approx(expected, rel=1e-8)
