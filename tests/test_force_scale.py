"""Force scale against a reference: synthetic ground truth recovered per component."""

import numpy as np
import pytest

from softlattice.perovskite.force_scale import force_scale, force_slope, iodine_axes, split_iodine_forces
from softlattice.perovskite.structures import build_perovskite


def test_the_axis_of_each_iodine_in_a_cubic_cell_is_a_cartesian_axis():
    atoms = build_perovskite("Cs", 2, lattice_constant=6.3)
    axes = np.abs(iodine_axes(atoms))
    assert axes.shape == (24, 3)
    np.testing.assert_allclose(np.sort(axes, axis=1), np.tile([0.0, 0.0, 1.0], (24, 1)), atol=1e-9)
    assert sorted(np.argmax(axes, axis=1).tolist()) == [0] * 8 + [1] * 8 + [2] * 8


def test_longitudinal_and_transverse_slopes_recover_a_model_soft_only_along_the_bonds():
    rng = np.random.default_rng(0)
    structures, references, models = [], [], []
    for seed in range(3):
        atoms = build_perovskite("Cs", 2, glazer="a0a0c-", tilt_angle=6.0, lattice_constant=6.3)
        atoms.rattle(0.05, seed=seed)
        reference = rng.normal(size=(len(atoms), 3))
        model = reference.copy()
        iodine = np.flatnonzero(np.array(atoms.get_chemical_symbols()) == "I")
        axes = iodine_axes(atoms)
        along = np.einsum("ij,ij->i", reference[iodine], axes)
        model[iodine] -= 0.5 * along[:, None] * axes  # half the force along the axis, all across it
        model[np.array(atoms.get_chemical_symbols()) == "Pb"] /= 2.0
        structures.append(atoms), references.append(reference), models.append(model)
    result = force_scale(structures, references, models)
    assert result["slope_I_longitudinal"] == pytest.approx(2.0)
    assert result["slope_I_transverse"] == pytest.approx(1.0)
    assert result["slope_Pb"] == pytest.approx(2.0)
    assert result["slope_Cs"] == pytest.approx(1.0) and "slope_molecules" not in result
    longitudinal, transverse = split_iodine_forces(structures[0], references[0])
    assert np.allclose(np.einsum("ij,ij->i", transverse, iodine_axes(structures[0])), 0.0)


def test_slope_refuses_mismatched_or_empty_forces():
    assert force_slope([1.0, 2.0], [2.0, 4.0]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="one shape"):
        force_slope([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="non-empty"):
        force_slope([], [])


def test_kpoint_error_pairs_cells_by_structure_and_recovers_a_scale():
    from ase.calculators.singlepoint import SinglePointCalculator

    from softlattice.perovskite.workflows.teacher import kpoint_error
    rng = np.random.default_rng(1)
    gamma, kpoints = [], []
    for seed in range(2):
        atoms = build_perovskite("Cs", 1, lattice_constant=6.3)
        atoms.rattle(0.05, seed=seed)
        forces = rng.normal(size=(len(atoms), 3))
        at_gamma, with_k = atoms.copy(), atoms.copy()
        at_gamma.calc = SinglePointCalculator(at_gamma, forces=forces)
        with_k.calc = SinglePointCalculator(with_k, forces=1.1 * forces)
        gamma.append(at_gamma), kpoints.append(with_k)
    table = kpoint_error(gamma, kpoints[:1]).set_index("species")  # only the cell labelled both ways
    assert (table.cells == 1).all() and table.loc["I", "slope_k_on_gamma"] == pytest.approx(1.1)
    assert kpoint_error(gamma, []).empty
