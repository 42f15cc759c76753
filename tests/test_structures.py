"""Builders: atom counts, stoichiometry, molecular geometry, distances, substitution."""

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from softlattice.perovskite.molecules import cation_in_local_frame
from softlattice.perovskite.structures import (
    a_site_species,
    build_mixed_perovskite,
    build_perovskite,
    random_a_site_species,
    substitution_statistics,
    vegard_lattice_constant,
    warren_cowley_alpha,
)


def counts(atoms):
    symbols, numbers = np.unique(atoms.get_chemical_symbols(), return_counts=True)
    return dict(zip(symbols, numbers))


@pytest.mark.parametrize("a_site, per_cell", [("MA", 12), ("FA", 12), ("Cs", 5)])
@pytest.mark.parametrize("repeat", [(1, 1, 1), (2, 2, 2), (4, 2, 2)])
def test_atom_counts(a_site, per_cell, repeat):
    atoms = build_perovskite(a_site, repeat)
    assert len(atoms) == per_cell * np.prod(repeat)


def test_seed_cell_has_96_atoms_at_every_composition():
    for x in np.linspace(0, 1, 9):
        atoms = build_mixed_perovskite(x, (2, 2, 2), seed=3)
        assert len(atoms) == 96
        assert counts(atoms)["Pb"] == 8 and counts(atoms)["I"] == 24


@pytest.mark.parametrize("x", [0.0, 0.11, 0.27, 0.5, 0.81, 1.0])
def test_stoichiometry_matches_realised_fraction(x):
    atoms = build_mixed_perovskite(x, (4, 4, 4), seed=1)
    n_sites = 64
    n_fa = round(atoms.info["fa_fraction"] * n_sites)
    n_ma = n_sites - n_fa
    c = counts(atoms)
    assert c["Pb"] == n_sites and c["I"] == 3 * n_sites
    assert c.get("C", 0) == n_sites
    assert c.get("N", 0) == n_ma + 2 * n_fa
    assert c.get("H", 0) == 6 * n_ma + 5 * n_fa
    assert np.sum(a_site_species(atoms) == "FA") == n_fa


def test_fa_count_rounds_half_up_and_stays_within_half_a_site():
    for n_sites in (8, 64, 216):
        for x in np.linspace(0, 1, 41):
            n_fa = random_a_site_species(n_sites, x, seed=0).count("FA")
            assert n_fa == int(np.floor(x * n_sites + 0.5))
            assert abs(n_fa / n_sites - x) <= 0.5 / n_sites + 1e-12


def test_substitution_is_seeded():
    a = random_a_site_species(64, 0.4, seed=7)
    assert a == random_a_site_species(64, 0.4, seed=7)
    assert a != random_a_site_species(64, 0.4, seed=8)


def test_substitution_has_no_short_range_order():
    table = substitution_statistics([0.0, 0.4], 6, seeds=40)
    alphas = table[table.x_target == 0.4].alpha_1
    expected = -1 / (216 - 1)
    assert abs(alphas.mean() - expected) < 4 * alphas.std() / np.sqrt(len(alphas))
    assert table[table.x_target == 0.0].alpha_1.isna().all()  # undefined for a pure compound
    assert set(table.atoms) == {216 * 12}


def test_warren_cowley_detects_order():
    alternating = ["FA" if (i + j + k) % 2 else "MA"
                   for k in range(4) for j in range(4) for i in range(4)]
    atoms = build_perovskite(alternating, (4, 4, 4))
    assert warren_cowley_alpha(atoms) == pytest.approx(-1.0)


def bonds(atoms, cutoff=1.6):
    i, j, d = neighbor_list("ijd", atoms, cutoff)
    symbols = np.array(atoms.get_chemical_symbols())
    keep = i < j
    return symbols[i[keep]], symbols[j[keep]], d[keep]


@pytest.mark.parametrize("name, expected", [
    ("MA", {("C", "N"): 1.48, ("C", "H"): 1.09, ("H", "N"): 1.03}),
    ("FA", {("C", "N"): 1.32, ("C", "H"): 1.09, ("H", "N"): 1.01}),
])
def test_molecule_bond_lengths(name, expected):
    cation = cation_in_local_frame(name)
    si, sj, d = bonds(cation)
    found = {}
    for a, b, length in zip(si, sj, d):
        found.setdefault(tuple(sorted((a, b))), []).append(length)
    assert set(found) == set(expected)
    for pair, length in expected.items():
        np.testing.assert_allclose(found[pair], length, atol=1e-6)
    assert np.allclose(cation.get_center_of_mass(), 0, atol=1e-10)


def test_formamidinium_is_planar_with_nitrogen_angle():
    fa = cation_in_local_frame("FA")
    assert np.ptp(fa.positions[:, 2]) < 1e-12
    symbols = np.array(fa.get_chemical_symbols())
    c, (n1, n2) = np.flatnonzero(symbols == "C")[0], np.flatnonzero(symbols == "N")
    assert fa.get_angle(n1, c, n2) == pytest.approx(124.0)


@pytest.mark.parametrize("orientation", ["fit", "random"])
@pytest.mark.parametrize("glazer", ["a0a0a0", "a-a-c+"])
def test_minimum_distances_are_physical(orientation, glazer):
    atoms = build_mixed_perovskite(0.5, (2, 2, 2), glazer=glazer, tilt_angle=12,
                                   molecule_orientation=orientation, seed=5)
    distances = atoms.get_all_distances(mic=True)
    np.fill_diagonal(distances, np.inf)
    site = atoms.arrays["a_site"]
    different = (site[:, None] != site[None, :]) | (site[:, None] < 0)
    np.fill_diagonal(different, False)
    # closest approach between different units (H...I, H...H contacts); bonds inside a molecule
    assert distances[different].min() > 2.0
    assert distances.min() > 0.95
    symbols = np.array(atoms.get_chemical_symbols())
    framework = site < 0
    assert distances[np.ix_(framework & (symbols == "Pb"), framework & (symbols == "I"))].min() > 3.0


def test_vegard_interpolates_between_end_members():
    assert vegard_lattice_constant(0.0) < vegard_lattice_constant(0.5) < vegard_lattice_constant(1.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(a_site="K"), "unknown A-site cation 'K'"),
    (dict(a_site="MA", repeat=(2, 0, 2)), "supercell repeat"),
    (dict(a_site="MA", repeat=(2, 2)), "supercell repeat"),
    (dict(a_site="MA", lattice_constant=12.0), "lattice constant 12.0"),
    (dict(a_site="MA", molecule_orientation="sideways"), "unknown molecule orientation 'sideways'"),
    (dict(a_site="MA", molecule_orientation=(0, 0, 0)), "not a non-zero 3-vector"),
    (dict(a_site=["MA"] * 3), "3 A-site labels"),
    (dict(a_site="MA", b_site="Sn"), "not supported"),
])
def test_bad_builder_input(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_perovskite(**kwargs)


@pytest.mark.parametrize("x", [-0.1, 1.5, 2])
def test_fa_fraction_outside_unit_interval(x):
    with pytest.raises(ValueError, match=rf"FA fraction x = {x} is outside the allowed range \[0, 1\]"):
        build_mixed_perovskite(x)
