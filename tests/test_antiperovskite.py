"""Antiperovskite cells, halide orderings (all and inequivalent, checked by Burnside's lemma) and
thermal displacements (the Einstein solid's exact amplitudes)."""

from math import comb

import numpy as np
import pytest
from ase import units

from softlattice.antiperovskite.structures import (
    all_orderings,
    build_antiperovskite,
    decorate,
    halide_permutations,
    inequivalent_orderings,
    n_bromide,
    ordering_counts,
    rms_thermal_displacements,
    thermal_displacement_structures,
)


def test_cell_is_cubic_pm3m_with_five_atoms():
    import spglib
    atoms = build_antiperovskite("I")
    assert atoms.get_chemical_formula() == "Ag3IS"
    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    assert spglib.get_spacegroup(cell) == "Pm-3m (221)"
    with pytest.raises(ValueError, match="unknown halide 'Cl'"):
        build_antiperovskite("Cl")


def _burnside(permutations, k):
    """Orbits of k-subsets = mean over operations of the k-subsets each one fixes (unions of its
    cycles with k elements in all)."""
    total = 0
    for perm in permutations:
        seen, cycles = set(), []
        for start in range(len(perm)):
            if start in seen:
                continue
            length, site = 0, start
            while site not in seen:
                seen.add(site)
                site = perm[site]
                length += 1
            cycles.append(length)
        ways = np.zeros(len(perm) + 1, dtype=int)
        ways[0] = 1
        for length in cycles:
            ways[length:] = ways[length:] + ways[:-length].copy()
        total += ways[k]
    assert total % len(permutations) == 0
    return total // len(permutations)


def test_ordering_counts_all_and_inequivalent():
    counts = ordering_counts()
    assert [c["all"] for c in counts] == [comb(8, k) for k in range(9)]
    assert counts[4]["all"] == 70  # the seed's "70 distinct configurations" at x = 0.5
    permutations = halide_permutations()
    for row in counts:
        assert row["inequivalent"] == _burnside(permutations, row["n_br"])
    assert [c["inequivalent"] for c in counts] == [c["inequivalent"] for c in counts[::-1]]  # Br <-> I
    assert counts[0]["inequivalent"] == counts[1]["inequivalent"] == 1


def test_decorated_cells_and_bad_compositions():
    ordering = inequivalent_orderings(0.5)[0]
    atoms = decorate(0.5, ordering)
    assert len(atoms) == 40 and atoms.get_chemical_symbols().count("Br") == 4
    assert len(all_orderings(0.25)) == comb(8, 2)
    with pytest.raises(ValueError, match="not a whole number of Br on 8 halide sites .* the nearest is 0.25"):
        n_bromide(0.3)
    with pytest.raises(ValueError, match="must list 4 distinct halide sites"):
        decorate(0.5, (0, 0, 1, 2))


def test_thermal_displacements_of_an_einstein_solid_match_the_exact_amplitude():
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms
    atoms = build_antiperovskite("Br")
    unitcell = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                            scaled_positions=atoms.get_scaled_positions())
    phonon = Phonopy(unitcell, np.eye(3, dtype=int) * 2, primitive_matrix="P")
    k = 2.0  # eV/Å^2 on every atom, no coupling: every mode at omega = sqrt(k / m)
    n = len(phonon.supercell)
    force_constants = np.zeros((n, n, 3, 3))
    for i in range(n):
        force_constants[i, i] = k * np.eye(3)
    phonon.force_constants = force_constants
    masses = atoms.get_masses()
    for temperature in (100.0, 600.0):
        rms = rms_thermal_displacements(phonon, temperature, mesh=2)
        omega = np.sqrt(k / masses) * np.sqrt(units._e / units._amu) * 1e10  # rad/s
        hbar_omega = units._hbar * omega / units._e  # eV
        mean_square = units._hbar / (2 * masses * units._amu * omega) * 1e20 / np.tanh(
            hbar_omega / (2 * units.kB * temperature))
        np.testing.assert_allclose(rms, np.sqrt(mean_square)[:, None] * np.ones(3), rtol=1e-3)
    # classical limit: amplitude ~ sqrt(T)
    ratio = rms_thermal_displacements(phonon, 600.0, mesh=2) / rms_thermal_displacements(phonon, 150.0, mesh=2)
    assert np.all((ratio > 1.8) & (ratio <= 2.0))


def test_displaced_structures_stay_within_the_amplitude():
    atoms = build_antiperovskite("Br").repeat(2)
    rms = np.full((len(atoms), 3), 0.1)
    structures = thermal_displacement_structures(atoms, rms, 20, seed=1, temperature=300)
    shifts = np.array([s.positions - atoms.positions for s in structures])
    assert np.abs(shifts).max() <= 0.1 and np.abs(shifts).max() > 0.09
    assert abs(shifts.mean()) < 0.01 and structures[0].info["temperature"] == 300
    with pytest.raises(ValueError, match="do not match 40 atoms"):
        thermal_displacement_structures(atoms, rms[:5], 1)
