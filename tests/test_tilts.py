"""Glazer tilt patterns: symmetry, angle round trip, phase of neighbouring octahedra, bad input."""

import numpy as np
import pytest

from softlattice.perovskite.structures import build_perovskite, framework_spacegroup
from softlattice.perovskite.tilts import measure_tilt_angles, parse_glazer

# Howard & Stokes, Acta Cryst. B 54, 782 (1998)
SPACE_GROUPS = {
    "a0a0a0": "Pm-3m (221)",
    "a0a0c-": "I4/mcm (140)",
    "a0a0c+": "P4/mbm (127)",
    "a-a-c+": "Pnma (62)",
    "a-a-a-": "R-3c (167)",
    "a+a+a+": "Im-3 (204)",
    "a0b-b-": "Imma (74)",
    "a0b+b+": "I4/mmm (139)",
}


@pytest.mark.parametrize("glazer, expected", SPACE_GROUPS.items())
@pytest.mark.parametrize("a_site", ["MA", "Cs"])
def test_framework_space_group(glazer, expected, a_site):
    atoms = build_perovskite(a_site, (2, 2, 2), glazer=glazer, tilt_angle=9.0)
    assert framework_spacegroup(atoms) == expected


@pytest.mark.parametrize("glazer", ["a0a0c-", "a0a0c+", "a-a-c+", "a-a-a-", "a+a+a+", "a0b+c-"])
@pytest.mark.parametrize("angle", [0.5, 7.0, 15.0, 25.0])
def test_tilt_angle_round_trip(glazer, angle):
    atoms = build_perovskite("MA", (4, 4, 4), glazer=glazer, tilt_angle=angle)
    pattern = parse_glazer(glazer)
    expected = [angle if phase != "0" else 0.0 for phase in pattern.phases]
    np.testing.assert_allclose(measure_tilt_angles(atoms).mean_abs_angles, expected, atol=1e-9)


def test_round_trip_table():
    from softlattice.perovskite.structures import tilt_round_trip
    table = tilt_round_trip(["a0a0c-", "a-a-a-"], [4.0, 11.0])
    assert len(table) == 4
    np.testing.assert_allclose(table.measured_z_deg, table.imposed_deg, atol=1e-9)


def test_round_trip_with_distinct_angles_per_axis():
    atoms = build_perovskite("Cs", (2, 2, 2), glazer="a-a-c+", tilt_angle=(6.0, 6.0, 11.0))
    np.testing.assert_allclose(measure_tilt_angles(atoms).mean_abs_angles, [6, 6, 11], atol=1e-9)


def test_bonds_keep_their_length():
    atoms = build_perovskite("Cs", (2, 2, 2), glazer="a-a-c+", tilt_angle=14.0, lattice_constant=6.3)
    from ase.neighborlist import neighbor_list
    i, j, d = neighbor_list("ijd", atoms, 3.6)
    symbols = np.array(atoms.get_chemical_symbols())
    pb_i = (symbols[i] == "Pb") & (symbols[j] == "I")
    np.testing.assert_allclose(d[pb_i], 3.15, atol=1e-12)


@pytest.mark.parametrize("phase, same_sign_along_z", [("+", True), ("-", False)])
def test_neighbouring_layers_rotate_in_or_out_of_phase(phase, same_sign_along_z):
    atoms = build_perovskite("Cs", (2, 2, 4), glazer=f"a0a0c{phase}", tilt_angle=8.0)
    measured = measure_tilt_angles(atoms)
    cells = atoms.arrays["cell_index"][measured.b_indices]
    by_cell = {tuple(c): angle for c, angle in zip(cells, measured.octahedron_angles[:, 2])}
    for (i, j, k), angle in by_cell.items():
        above = by_cell[(i, j, (k + 1) % 4)]
        beside = by_cell[((i + 1) % 2, j, k)]
        assert np.sign(angle) == -np.sign(beside)
        assert (np.sign(angle) == np.sign(above)) == same_sign_along_z


def test_glazer_parsing_accepts_carets_and_spaces():
    assert str(parse_glazer("a^0 a^0 c^+")) == "a0a0c+"


@pytest.mark.parametrize("text", ["a0a0d+", "a0a0c*", "a0a0", "abc", "", "a-a-c+x"])
def test_bad_glazer_symbol(text):
    with pytest.raises(ValueError, match="invalid Glazer symbol"):
        parse_glazer(text)


@pytest.mark.parametrize("glazer, repeat, axis", [
    ("a0a0c+", (3, 2, 2), "x"), ("a0a0c+", (2, 1, 1), "y"), ("a0a0c-", (2, 2, 3), "z"),
    ("a-a-c+", (2, 2, 1), "z"),
])
def test_odd_repeat_cannot_hold_tilt(glazer, repeat, axis):
    with pytest.raises(ValueError, match=f"odd number of cells .* along {axis}"):
        build_perovskite("MA", repeat, glazer=glazer, tilt_angle=5.0)


def test_in_phase_tilt_allows_odd_repeat_along_its_axis():
    assert len(build_perovskite("Cs", (2, 2, 3), glazer="a0a0c+", tilt_angle=5.0)) == 60


@pytest.mark.parametrize("angle, message", [
    (-5.0, r"tilt angle -5° is outside the allowed range \[0, 30\]°"),
    (45.0, r"tilt angle 45° is outside the allowed range"),
    ((5.0, 0.0, 5.0), r"contradicts a0a0c-"),
    ((0.0, 0.0, float("nan")), r"must be one number or three numbers"),
])
def test_bad_tilt_angles(angle, message):
    with pytest.raises(ValueError, match=message):
        build_perovskite("MA", (2, 2, 2), glazer="a0a0c-", tilt_angle=angle)


def test_same_letter_needs_same_angle():
    with pytest.raises(ValueError, match="give both the letter 'a'|gives both the letter 'a'"):
        build_perovskite("MA", (2, 2, 2), glazer="a-a-c+", tilt_angle=(5.0, 7.0, 9.0))


def test_measure_needs_a_framework():
    from ase.build import bulk
    with pytest.raises(ValueError, match="no Pb/I framework"):
        measure_tilt_angles(bulk("Cu"))
