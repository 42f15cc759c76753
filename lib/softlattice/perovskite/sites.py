"""Whether ions stay on their lattice sites: shifts from a reference cell relative to the lead
framework.

Units: Å.

A soft lattice at high temperature may still be a crystal whose molecules or iodines hop between
sites; a tilt projection of such a cell has lost its meaning. The shift of an ion is its
displacement from the reference position with the mean lead displacement removed (so a drift of
the whole crystal is no shift) and taken as the shortest periodic image; a molecular cation is
represented by its centroid. Half the Pb-Pb distance (about 3.2 Å) is the scale of a hop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ase import Atoms

SITE_SHIFT_LIMIT_A = 3.2
"""Å: half the Pb-Pb distance; an ion displaced this far from its site relative to the lead
framework has left it (thermal motion keeps the largest shifts near 1-2 Å)."""


def site_shifts(atoms: Atoms, reference: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Displacements (Å) from ``reference`` relative to the lead framework (the mean lead
    displacement removed; each displacement taken as the shortest periodic image): of each cation's
    centroid (one row per A site of ``reference.arrays['a_site']``) and of each iodine."""
    sites = reference.arrays["a_site"]
    symbols = np.array(reference.get_chemical_symbols())
    shifts = atoms.positions - reference.positions
    fractional = np.linalg.solve(atoms.cell.T, shifts.T).T
    shifts = (fractional - np.round(fractional)) @ atoms.cell.array
    shifts -= shifts[symbols == "Pb"].mean(axis=0)
    cations = np.array([shifts[sites == s].mean(axis=0) for s in range(sites.max() + 1)])
    return cations, shifts[symbols == "I"]


def largest_site_shifts(atoms: Atoms, reference: Atoms) -> tuple[float, float]:
    """The largest cation and iodine shift (Å, :func:`site_shifts`) of ``atoms`` from the sites of
    ``reference`` strained to ``atoms``' cell first, so that a homogeneous strain of the cell
    (NPT) is no shift."""
    strained = reference.copy()
    strained.set_cell(atoms.cell, scale_atoms=True)
    cations, iodines = site_shifts(atoms, strained)
    return float(np.linalg.norm(cations, axis=1).max()), float(np.linalg.norm(iodines, axis=1).max())


def first_site_loss(sites: pd.DataFrame, keys: tuple[str, ...] = ("fa_fraction", "kind", "replica"),
                    limit: float = SITE_SHIFT_LIMIT_A) -> pd.DataFrame:
    """Per run of ``sites`` (rows of ``target_K``, ``cation_shift_A``, ``iodine_shift_A`` in time
    order, e.g. :func:`softlattice.perovskite.workflows.phase_diagram.ramp_site_shifts`): the
    largest shifts, and the first ``target_K`` at which a cation or an iodine had left its site
    (a shift of ``limit`` or more; NaN when none did)."""
    rows = []
    for key, run in sites.groupby(list(keys), sort=True):
        left = run[(run.cation_shift_A >= limit) | (run.iodine_shift_A >= limit)]
        rows.append(dict(zip(keys, key if isinstance(key, tuple) else (key,)),
                         largest_cation_shift_A=float(run.cation_shift_A.max()),
                         largest_iodine_shift_A=float(run.iodine_shift_A.max()),
                         first_loss_K=float(left.target_K.iloc[0]) if len(left) else float("nan")))
    return pd.DataFrame(rows, columns=[*keys, "largest_cation_shift_A", "largest_iodine_shift_A", "first_loss_K"])
