"""Octahedral tilt patterns in Glazer notation: parsing, construction and measurement.

Conventions (used throughout the package):

- The pseudo-cubic axes x, y, z are the Cartesian axes and the supercell axes; the B cations
  (Pb) sit on a simple-cubic grid indexed by integer cell vectors ``n = (n1, n2, n3)``.
- A tilt about axis alpha rotates the octahedron at ``n`` by ``s_alpha(n) * phi_alpha`` with
  ``s_alpha(n) = (-1)**(sum of n_beta, beta != alpha)`` for an in-phase (``+``, M-point) tilt and
  ``s_alpha(n) = (-1)**(n1 + n2 + n3)`` for an out-of-phase (``-``, R-point) tilt. Corner sharing
  forces the alternation perpendicular to the axis; the sign along the axis is what Glazer's
  ``+``/``-`` states.
- Angles are in degrees, lengths in Å.

The structure is built through the X-site displacements of the M and R modes: the X atom on the
B-B bond along beta moves by ``sum_alpha s_alpha(n) d sin(phi_alpha) (alpha x beta)`` from the
bond midpoint, with ``d`` the B-X bond length, and the B-B distance along beta contracts to
``2 d sqrt(1 - sum_{alpha != beta} sin^2 phi_alpha)`` so that every B-X bond keeps the length
``d``. For a single tilt axis this is an exact rigid rotation of every octahedron; for several
axes it is the superposition of the mode displacements, which keeps all bond lengths exact and the
octahedra rigid to second order in the angles (Glazer, Acta Cryst. B 28, 3384 (1972); the space
groups are those of Howard and Stokes, Acta Cryst. B 54, 782 (1998)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

AXES = "xyz"
MAX_TILT_ANGLE = 30.0
"""Largest tilt angle accepted, in degrees. Halide perovskites tilt by up to ~20°; beyond ~30°
the X atoms of neighbouring octahedra approach each other unphysically."""

_GLAZER_RE = re.compile(r"^([abc])([+\-0])([abc])([+\-0])([abc])([+\-0])$")


@dataclass(frozen=True)
class GlazerPattern:
    """A Glazer tilt system such as ``a-a-c+``.

    Attributes
    ----------
    letters
        Magnitude letters for the x, y and z axes; equal letters mean equal tilt angles.
    phases
        ``'+'`` (in phase, M point), ``'-'`` (out of phase, R point) or ``'0'`` (no tilt) per axis.
    """

    letters: tuple[str, str, str]
    phases: tuple[str, str, str]

    def __str__(self) -> str:
        return "".join(letter + phase for letter, phase in zip(self.letters, self.phases))

    @property
    def tilted_axes(self) -> tuple[int, ...]:
        """Indices of the axes that carry a tilt."""
        return tuple(i for i, phase in enumerate(self.phases) if phase != "0")

    def required_even_repeats(self) -> tuple[bool, bool, bool]:
        """Which supercell repeats must be even to hold the pattern.

        A tilt about alpha alternates along both perpendicular axes; an out-of-phase tilt also
        alternates along alpha.
        """
        even = [False, False, False]
        for alpha in self.tilted_axes:
            for beta in range(3):
                if beta != alpha or self.phases[alpha] == "-":
                    even[beta] = True
        return tuple(even)


def parse_glazer(text: str) -> GlazerPattern:
    """Parse a Glazer symbol such as ``'a0a0c-'``, ``'a-a-c+'`` or ``'a^0 a^0 c^+'``.

    Each axis takes a letter in {a, b, c} and a phase in {+, -, 0}; carets and spaces are ignored.
    """
    cleaned = str(text).replace("^", "").replace(" ", "")
    match = _GLAZER_RE.match(cleaned)
    if match is None:
        raise ValueError(f"invalid Glazer symbol {text!r}; allowed: three letter+phase pairs with "
                         "letters a, b, c and phases +, -, 0, e.g. 'a0a0c-' or 'a-a-c+'")
    groups = match.groups()
    return GlazerPattern(letters=tuple(groups[0::2]), phases=tuple(groups[1::2]))


def tilt_angles_per_axis(pattern: GlazerPattern, tilt_angle: float | Sequence[float]) -> np.ndarray:
    """Tilt angle about x, y and z in degrees, checked against the pattern.

    Parameters
    ----------
    pattern
        Tilt system.
    tilt_angle
        One angle applied to every tilted axis, or three angles (zero on untilted axes, equal on
        axes that share a Glazer letter). Angles lie in [0, MAX_TILT_ANGLE]: the sense of rotation
        is a domain choice (the opposite sense is the same structure shifted by one cell), so
        negative angles carry no extra information and are rejected.
    """
    try:
        angles = np.atleast_1d(np.asarray(tilt_angle, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"tilt angle {tilt_angle!r} is not a number: give one number or three numbers "
                         "(x, y, z), in degrees") from None
    if angles.shape == (1,):
        angles = np.array([angles[0] if phase != "0" else 0.0 for phase in pattern.phases])
    if angles.shape != (3,) or not np.all(np.isfinite(angles)):
        raise ValueError(f"tilt angle {tilt_angle!r} must be one number or three numbers (x, y, z), "
                         "in degrees")
    bad = angles[(angles < 0) | (angles > MAX_TILT_ANGLE)]
    if bad.size:
        raise ValueError(f"tilt angle {bad[0]:g}° is outside the allowed range [0, {MAX_TILT_ANGLE:g}]°;"
                         " the rotation sense is set by the domain, not by the sign")
    for axis, (phase, angle) in enumerate(zip(pattern.phases, angles)):
        if phase == "0" and angle != 0.0:
            raise ValueError(f"tilt angle {angle:g}° about {AXES[axis]} contradicts {pattern}, which "
                             f"has no tilt about {AXES[axis]}")
    for i in range(3):
        for j in range(i + 1, 3):
            same_letter = pattern.letters[i] == pattern.letters[j]
            both_tilted = pattern.phases[i] != "0" and pattern.phases[j] != "0"
            if same_letter and both_tilted and not np.isclose(angles[i], angles[j]):
                raise ValueError(f"tilt angles {angles[i]:g}° and {angles[j]:g}° about {AXES[i]} and "
                                 f"{AXES[j]} differ, but {pattern} gives both the letter "
                                 f"{pattern.letters[i]!r}: use equal angles or different letters")
    return angles


def check_repeats_hold_pattern(pattern: GlazerPattern, repeat: Sequence[int]) -> None:
    """Raise a ValueError if a supercell of ``repeat`` cells cannot hold ``pattern``."""
    for axis, (even, count) in enumerate(zip(pattern.required_even_repeats(), repeat)):
        if even and count % 2:
            raise ValueError(f"supercell repeat {tuple(repeat)} has an odd number of cells ({count}) "
                             f"along {AXES[axis]}, but {pattern} alternates along {AXES[axis]} (M/R "
                             "modes double the cell): use an even repeat along that axis")


def tilt_signs(pattern: GlazerPattern, cell_indices: np.ndarray) -> np.ndarray:
    """Rotation sense s_alpha(n) of every octahedron about each axis.

    Parameters
    ----------
    pattern
        Tilt system.
    cell_indices
        Integer cell vectors of the octahedra, shape (N, 3).

    Returns
    -------
    Array of shape (N, 3) with entries +1 or -1 (0 for untilted axes).
    """
    cell_indices = np.asarray(cell_indices, dtype=int)
    signs = np.zeros(cell_indices.shape, dtype=int)
    for alpha in pattern.tilted_axes:
        exponent = cell_indices.sum(axis=1)
        if pattern.phases[alpha] == "+":
            exponent = exponent - cell_indices[:, alpha]
        signs[:, alpha] = 1 - 2 * (exponent % 2)
    return signs


def pseudocubic_spacings(bond_length: float, angles_deg: np.ndarray) -> np.ndarray:
    """B-B distance along x, y, z (Å) that keeps every B-X bond at ``bond_length``."""
    sin2 = np.sin(np.deg2rad(angles_deg)) ** 2
    return np.array([2 * bond_length * np.sqrt(1.0 - (sin2.sum() - sin2[beta])) for beta in range(3)])


def x_site_displacements(pattern: GlazerPattern, angles_deg: np.ndarray, bond_length: float,
                         cell_indices: np.ndarray) -> np.ndarray:
    """Displacements (Å) of the three X atoms owned by each octahedron.

    The octahedron at ``n`` owns the X atoms at ``n + e_beta / 2``.

    Returns
    -------
    Array of shape (N, 3, 3): octahedron, bond axis beta, Cartesian component.
    """
    signs = tilt_signs(pattern, cell_indices)
    unit = np.eye(3)
    displacement = np.zeros((len(signs), 3, 3))
    for alpha in pattern.tilted_axes:
        amplitude = bond_length * np.sin(np.deg2rad(angles_deg[alpha]))
        for beta in range(3):
            if beta != alpha:
                displacement[:, beta, :] += np.outer(signs[:, alpha] * amplitude,
                                                     np.cross(unit[alpha], unit[beta]))
    return displacement


@dataclass
class TiltMeasurement:
    """Tilt angles measured from B-X bond directions (degrees).

    Attributes
    ----------
    octahedron_angles
        Signed rotation of each octahedron about x, y and z, shape (N_B, 3).
    b_indices
        Atom index of the B cation of each octahedron, shape (N_B,).
    """

    octahedron_angles: np.ndarray
    b_indices: np.ndarray

    @property
    def mean_abs_angles(self) -> np.ndarray:
        """Mean absolute tilt angle about x, y and z over all octahedra, shape (3,)."""
        return np.abs(self.octahedron_angles).mean(axis=0)


def measure_tilt_angles(atoms: Atoms, b_symbol: str = "Pb", x_symbol: str = "I",
                        max_bond: float = 4.0) -> TiltMeasurement:
    """Measure octahedral tilt angles from a structure in the pseudo-cubic orientation.

    For each octahedron and axis alpha, the four B-X bonds perpendicular to alpha each give the
    angle ``arcsin((alpha x b0) . b / |b|)``, where ``b`` is the bond vector and ``b0`` its ideal
    direction (the Cartesian axis it is closest to); the octahedron's tilt about alpha is their
    mean. This is independent of how the structure was built, so it serves as a round-trip check.

    Parameters
    ----------
    atoms
        Structure whose pseudo-cubic axes are (close to) the Cartesian axes.
    b_symbol, x_symbol
        Chemical symbols of the octahedral centre and the corner anion.
    max_bond
        Largest B-X distance counted as a bond, Å.
    """
    symbols = np.array(atoms.get_chemical_symbols())
    b_indices = np.flatnonzero(symbols == b_symbol)
    if b_indices.size == 0 or not np.any(symbols == x_symbol):
        raise ValueError(f"structure has no {b_symbol}/{x_symbol} framework; found symbols "
                         f"{sorted(set(symbols))}")
    i, j, bond_vectors = neighbor_list("ijD", atoms, max_bond)
    keep = (symbols[i] == b_symbol) & (symbols[j] == x_symbol)
    i, bond_vectors = i[keep], bond_vectors[keep]
    bond_axis = np.argmax(np.abs(bond_vectors), axis=1)
    ideal = np.zeros_like(bond_vectors)
    ideal[np.arange(len(ideal)), bond_axis] = np.sign(bond_vectors[np.arange(len(ideal)), bond_axis])
    row_of_b = {index: row for row, index in enumerate(b_indices)}
    rows = np.array([row_of_b[index] for index in i])
    counts = np.bincount(rows, minlength=len(b_indices))
    if np.any(counts != 6):
        bad = b_indices[counts != 6][0]
        raise ValueError(f"{b_symbol} atom {bad} has {counts[counts != 6][0]} {x_symbol} neighbours "
                         f"within {max_bond} Å; an octahedron needs 6")
    lengths = np.linalg.norm(bond_vectors, axis=1)
    angles = np.zeros((len(b_indices), 3))
    unit = np.eye(3)
    for alpha in range(3):
        perpendicular = bond_axis != alpha
        lever = np.cross(unit[alpha], ideal[perpendicular])
        sines = np.einsum("ij,ij->i", lever, bond_vectors[perpendicular]) / lengths[perpendicular]
        per_bond = np.rad2deg(np.arcsin(np.clip(sines, -1.0, 1.0)))
        angles[:, alpha] = np.bincount(rows[perpendicular], weights=per_bond,
                                       minlength=len(b_indices)) / 4.0
    return TiltMeasurement(octahedron_angles=angles, b_indices=b_indices)
