"""A-site cations of the lead-iodide perovskites: geometry and placement.

Units: Å and degrees. Each cation is stored in a local frame whose centre of mass sits at the
origin and whose *axis* is the local x axis:

- MA, CH3NH3+: the axis runs from C to N (C-N 1.48 Å, C-H 1.09 Å, N-H 1.03 Å, tetrahedral
  angles, staggered methyl and ammonium groups).
- FA, HC(NH2)2+: a planar molecule in the local xy plane; the axis runs from one N to the other
  (C-N 1.32 Å, N-C-N 124°, C-H 1.09 Å, N-H 1.01 Å, sp2 angles of 120° at N), the C-H bond
  points along +y.
- Cs: a single atom.

Bond lengths are those of the relaxed cations in the MAPbI3/FAPbI3 crystal structures
(Weller et al., Chem. Commun. 51, 4180 (2015); Weber et al., Z. Naturforsch. 73, 1 (2018)
report the same values within 0.02 Å).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from scipy.spatial.transform import Rotation

A_SITE_CATIONS = ("MA", "FA", "Cs")

_TETRAHEDRAL = np.deg2rad(109.47)


def _methylammonium() -> tuple[list[str], np.ndarray]:
    carbon = np.array([-0.74, 0.0, 0.0])
    nitrogen = np.array([0.74, 0.0, 0.0])
    symbols = ["C", "N"]
    positions = [carbon, nitrogen]
    for psi in np.deg2rad([0.0, 120.0, 240.0]):
        # methyl H atoms point away from N; ammonium H atoms point away from C, staggered
        direction = np.array([np.cos(_TETRAHEDRAL), np.sin(_TETRAHEDRAL) * np.cos(psi),
                              np.sin(_TETRAHEDRAL) * np.sin(psi)])
        positions.append(carbon + 1.09 * direction)
        symbols.append("H")
    for psi in np.deg2rad([60.0, 180.0, 300.0]):
        direction = np.array([-np.cos(_TETRAHEDRAL), np.sin(_TETRAHEDRAL) * np.cos(psi),
                              np.sin(_TETRAHEDRAL) * np.sin(psi)])
        positions.append(nitrogen + 1.03 * direction)
        symbols.append("H")
    return symbols, np.array(positions)


def _formamidinium() -> tuple[list[str], np.ndarray]:
    half_angle = np.deg2rad(124.0 / 2)
    carbon = np.zeros(3)
    nitrogens = [np.array([sign * 1.32 * np.sin(half_angle), -1.32 * np.cos(half_angle), 0.0])
                 for sign in (-1.0, 1.0)]
    symbols = ["C", "H", "N", "N"]
    positions = [carbon, np.array([0.0, 1.09, 0.0]), *nitrogens]
    for nitrogen in nitrogens:
        to_carbon = (carbon - nitrogen) / np.linalg.norm(carbon - nitrogen)
        for angle in np.deg2rad([120.0, -120.0]):
            rotation = Rotation.from_rotvec(angle * np.array([0.0, 0.0, 1.0]))
            positions.append(nitrogen + 1.01 * rotation.apply(to_carbon))
            symbols.append("H")
    return symbols, np.array(positions)


def _cesium() -> tuple[list[str], np.ndarray]:
    return ["Cs"], np.zeros((1, 3))


_BUILDERS = {"MA": _methylammonium, "FA": _formamidinium, "Cs": _cesium}


def check_cation(name: str) -> str:
    """Return ``name`` if it is a known A-site cation, else raise a ValueError naming it."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown A-site cation {name!r}; allowed: {', '.join(A_SITE_CATIONS)}")
    return name


def cation_in_local_frame(name: str) -> Atoms:
    """Return the cation ``name`` ('MA', 'FA' or 'Cs') centred on its centre of mass.

    The molecular axis (C->N for MA, N->N for FA) is the local x axis; see the module docstring.
    """
    symbols, positions = _BUILDERS[check_cation(name)]()
    masses = np.array([atomic_masses[atomic_numbers[s]] for s in symbols])
    positions = positions - masses @ positions / masses.sum()
    return Atoms(symbols, positions=positions)


def candidate_rotations(rolls: int = 6) -> Rotation:
    """A fixed set of cation orientations: the molecular axis along each of the 13 directions
    <100>, <110>, <111> of the cubic cell, each rolled about the axis in ``rolls`` steps over 180°."""
    directions = [d for d in np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])).T.reshape(-1, 3)
                  if np.any(d) and next(c for c in d if c) > 0]
    rotations = []
    for direction in directions:
        base = orientation_rotation(direction, np.random.default_rng(0))
        for roll in np.linspace(0.0, np.pi, rolls, endpoint=False):
            rotations.append(base * Rotation.from_rotvec([roll, 0.0, 0.0]))
    return Rotation.concatenate(rotations)


def orientation_rotation(orientation: str | Sequence[float], rng: np.random.Generator) -> Rotation:
    """Rotation taking the local molecular frame to the crystal frame.

    Parameters
    ----------
    orientation
        ``'random'`` for a uniformly random orientation drawn from ``rng``, or a Cartesian
        direction (three numbers) for the molecular axis; the rest of the frame is then fixed
        deterministically (for FA the molecular plane contains the axis and the crystal axis least
        parallel to it).
    rng
        Random generator used for ``'random'``.
    """
    if isinstance(orientation, str):
        if orientation != "random":
            raise ValueError(f"unknown molecule orientation {orientation!r}; allowed: 'random' "
                             "or a direction given as three numbers")
        return Rotation.random(random_state=rng)
    axis = np.asarray(orientation, dtype=float)
    if axis.shape != (3,) or not np.all(np.isfinite(axis)) or np.linalg.norm(axis) < 1e-8:
        raise ValueError(f"molecule orientation {orientation!r} is not a non-zero 3-vector; "
                         "allowed: 'random' or a direction given as three numbers")
    axis = axis / np.linalg.norm(axis)
    helper = np.eye(3)[np.argmin(np.abs(axis))]
    in_plane = helper - (helper @ axis) * axis
    in_plane /= np.linalg.norm(in_plane)
    return Rotation.from_matrix(np.column_stack([axis, in_plane, np.cross(axis, in_plane)]))
