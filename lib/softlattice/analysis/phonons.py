"""Harmonic phonons with a NEP (phonopy through calorine): force constants, dispersions, modes.

Units: Å, eV, THz (imaginary frequencies are returned as negative numbers, phonopy's convention).

The seed's Fig. 5a shows the dispersion of cubic MAPbI3 with imaginary branches at M and R: the
tilt instabilities that freeze in below the cubic phase. The 12-atom cell with one MA is not
truly cubic (the molecule lowers the symmetry), so branches at points that cubic symmetry makes
equivalent differ slightly; the positions are relaxed in the fixed cubic cell first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms

from softlattice.md.calculators import nep_calculator

CUBIC_PATH: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("Γ", (0.0, 0.0, 0.0)), ("X", (0.5, 0.0, 0.0)), ("M", (0.5, 0.5, 0.0)), ("Γ", (0.0, 0.0, 0.0)),
    ("R", (0.5, 0.5, 0.5)), ("X", (0.5, 0.0, 0.0)))
"""High-symmetry path of the simple cubic Brillouin zone (reduced coordinates)."""


def cubic_phonons(atoms: Atoms, model: str | Path, supercell: int = 2, displacement: float = 0.01):
    """A ``Phonopy`` object with force constants of ``atoms`` from ``model``
    (:func:`calorine.tools.get_force_constants`)."""
    from calorine.tools import get_force_constants

    if supercell < 2 or supercell % 2:
        raise ValueError(f"supercell {supercell!r} must be even and >= 2: M and R are zone-boundary points")
    # primitive_matrix 'P': the 12-atom cell is the primitive cell (phonopy 4 would search for one)
    return get_force_constants(atoms, nep_calculator(model), [supercell] * 3,
                               kwargs_phonopy={"primitive_matrix": "P"},
                               kwargs_generate_displacements={"distance": displacement})


def _modes(phonon, q_points) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (THz), shape (Nq, 3N), and eigenvectors, shape (Nq, 3N, 3N), at ``q_points``."""
    phonon.run_qpoints(np.asarray(q_points, dtype=float), with_eigenvectors=True)
    result = phonon.get_qpoints_dict()
    return result["frequencies"], result["eigenvectors"]


def band_structure(phonon, path: Sequence[tuple[str, Sequence[float]]] = CUBIC_PATH, points: int = 41) -> pd.DataFrame:
    """Frequencies along a path of straight segments.

    Returns
    -------
    Long table: ``distance`` (cumulative, 1/Å), ``band``, ``frequency_THz``, ``segment`` ('Γ-X' ...).
    """
    labels = [name for name, _ in path]
    q_points = [np.asarray(q, dtype=float) for _, q in path]
    reciprocal = np.linalg.inv(phonon.primitive.cell).T
    rows, start = [], 0.0
    for k in range(len(path) - 1):
        qs = np.linspace(q_points[k], q_points[k + 1], points)
        frequencies = _modes(phonon, qs)[0]
        steps = np.linalg.norm(np.diff(qs @ reciprocal.T, axis=0), axis=1)
        distances = start + np.concatenate([[0.0], np.cumsum(steps)])
        for band in range(frequencies.shape[1]):
            rows.append(pd.DataFrame(dict(distance=distances, band=band, frequency_THz=frequencies[:, band],
                                          segment=f"{labels[k]}-{labels[k + 1]}")))
        start = distances[-1]
    return pd.concat(rows, ignore_index=True)


def tilt_mode(phonon, q_point: Sequence[float], atoms: Atoms, min_iodine_share: float = 0.5) -> tuple[float, float]:
    """Frequency (THz) and iodine share of the lowest mode at ``q_point`` that is mostly an
    iodine motion (share of the eigenvector's weight on I above ``min_iodine_share``): the
    octahedral tilt, as opposed to molecular librations that can be softer."""
    frequencies, eigenvectors = (a[0] for a in _modes(phonon, [q_point]))
    iodine = np.array(atoms.get_chemical_symbols()) == "I"
    for index in np.argsort(frequencies):
        weight = np.sum(np.abs(eigenvectors[:, index].reshape(-1, 3)) ** 2, axis=1)
        share = float(weight[iodine].sum() / weight.sum())
        if share > min_iodine_share:
            return float(frequencies[index]), share
    raise ValueError(f"no mode at q = {tuple(q_point)} has an iodine share above {min_iodine_share}")


def softest_mode(phonon, q_point: Sequence[float]) -> tuple[float, np.ndarray]:
    """Lowest frequency (THz, negative when imaginary) at ``q_point`` and its eigenvector as
    complex displacement directions per atom of the primitive cell, shape (N, 3)."""
    frequencies, eigenvectors = (a[0] for a in _modes(phonon, [q_point]))
    lowest = int(np.argmin(frequencies))
    return float(frequencies[lowest]), eigenvectors[:, lowest].reshape(-1, 3)
