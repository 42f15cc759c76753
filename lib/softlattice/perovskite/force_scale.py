"""Force scale of a model against a reference: least-squares slopes per species and, for iodine,
along and across the Pb-I-Pb axis.

Units: forces in eV/Å; slopes are dimensionless. A slope s fits ``reference = s * model`` through
the origin: s = 1 is the same scale, s = 2 means the model's forces are half the reference's (a
soft model). Iodine forces along the Pb-I-Pb axis (longitudinal: bond stretching) and across it
(transverse: the octahedral tilts) are fitted apart, because a model can get one right and not the
other.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

PB_I_CUTOFF = 4.2
"""Largest Pb-I distance (Å) counted as a bond when finding an iodine's two lead neighbours (the
bond is about 3.2 Å; the next Pb is beyond 5 Å)."""


def force_slope(model_forces: np.ndarray, reference_forces: np.ndarray) -> float:
    """Least-squares slope s of ``reference = s * model`` through the origin (dimensionless)."""
    model = np.asarray(model_forces, dtype=float).ravel()
    reference = np.asarray(reference_forces, dtype=float).ravel()
    if model.shape != reference.shape or model.size == 0:
        raise ValueError(f"force arrays must be non-empty and of one shape, got {model.shape} and "
                         f"{reference.shape}")
    return float(model @ reference / (model @ model))


def iodine_axes(atoms: Atoms) -> np.ndarray:
    """Unit vector of the Pb-I-Pb axis at every iodine, shape (n_I, 3), in the order of the I atoms
    (NaN for an iodine without two lead neighbours within :data:`PB_I_CUTOFF`)."""
    symbols = np.array(atoms.get_chemical_symbols())
    first, second, vectors = neighbor_list("ijD", atoms, PB_I_CUTOFF)
    iodines = np.flatnonzero(symbols == "I")
    axes = np.full((len(iodines), 3), np.nan)
    for row, index in enumerate(iodines):
        to_lead = vectors[(first == index) & (symbols[second] == "Pb")]
        if len(to_lead) < 2:
            continue
        nearest = to_lead[np.argsort(np.linalg.norm(to_lead, axis=1))[:2]]
        axis = nearest[0] - nearest[1]
        axes[row] = axis / np.linalg.norm(axis)
    return axes


def split_iodine_forces(atoms: Atoms, forces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Iodine forces along the Pb-I-Pb axis (shape (n,)) and across it (shape (n, 3)), for the
    iodines whose axis is defined."""
    axes = iodine_axes(atoms)
    iodine = np.asarray(forces)[np.array(atoms.get_chemical_symbols()) == "I"]
    defined = np.all(np.isfinite(axes), axis=1)
    axes, iodine = axes[defined], iodine[defined]
    longitudinal = np.einsum("ij,ij->i", iodine, axes)
    return longitudinal, iodine - longitudinal[:, None] * axes


def force_scale(structures: Sequence[Atoms], reference_forces: Sequence[np.ndarray],
                model_forces: Sequence[np.ndarray]) -> dict[str, float]:
    """Slopes of the reference's forces on the model's (and their correlations) for Pb, iodine
    along and across the Pb-I-Pb axis, the molecules' atoms (H, C, N) and Cs, where present."""
    parts: dict[str, tuple[list, list]] = {}

    def add(name: str, model: np.ndarray, reference: np.ndarray) -> None:
        if np.size(model):
            parts.setdefault(name, ([], []))
            parts[name][0].append(np.ravel(model))
            parts[name][1].append(np.ravel(reference))

    for atoms, reference, model in zip(structures, reference_forces, model_forces, strict=True):
        symbols = np.array(atoms.get_chemical_symbols())
        for name, species in (("Pb", ("Pb",)), ("molecules", ("H", "C", "N")), ("Cs", ("Cs",))):
            mask = np.isin(symbols, species)
            add(name, np.asarray(model)[mask], np.asarray(reference)[mask])
        model_long, model_trans = split_iodine_forces(atoms, model)
        reference_long, reference_trans = split_iodine_forces(atoms, reference)
        add("I_longitudinal", model_long, reference_long)
        add("I_transverse", model_trans, reference_trans)
    result = {}
    for name, (model, reference) in parts.items():
        model, reference = np.concatenate(model), np.concatenate(reference)
        result[f"slope_{name}"] = force_slope(model, reference)
        result[f"correlation_{name}"] = float(np.corrcoef(model, reference)[0, 1])
    return result
