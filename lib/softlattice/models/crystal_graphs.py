"""Periodic neighbour pairs and per-atom element features: the raw material of the band-gap graphs.

Units: Å, amu.

The seed builds its graphs with a radius cutoff (5.5 Å, periodic images included) and four
chemical features per node: atomic number, atomic mass, atomic radius and electronegativity,
each scaled to O(1). Both graph networks of :mod:`softlattice.models.gap_gnn` (and the first
model, :mod:`softlattice.models.gap_gnn_graphconv`) start from these pairs and features.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, covalent_radii
from ase.neighborlist import neighbor_list

PAULING = {"H": 2.20, "C": 2.55, "N": 3.04, "S": 2.58, "Br": 2.96, "Ag": 1.93, "I": 2.66, "Cs": 0.79,
           "Pb": 2.33}
"""Pauling electronegativities of the elements of this compendium (CRC Handbook values)."""

NODE_FEATURES = 4
"""Features per node of :func:`node_features`."""


def node_features(atoms: Atoms) -> np.ndarray:
    """(N, 4) node features: Z / 100, mass / 200 amu, covalent radius / 2 Å, electronegativity / 4.

    Raises
    ------
    ValueError
        For an element without an entry in :data:`PAULING`.
    """
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(PAULING))
    if unknown:
        raise ValueError(f"no electronegativity for {unknown}; known: {sorted(PAULING)}")
    numbers = atoms.numbers
    return np.column_stack([numbers / 100.0, atomic_masses[numbers] / 200.0, covalent_radii[numbers] / 2.0,
                            [PAULING[s] / 4.0 for s in atoms.get_chemical_symbols()]])


def periodic_pairs(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ordered pairs (i, j, distance in Å) closer than ``cutoff`` (Å) over periodic images,
    i != j or another image.

    For the 40-atom cells of the antiperovskite chapters a dense search over the few images the
    cutoff reaches is about 30 times faster than ASE's general ``neighbor_list`` (whose set-up
    dominates at this size), which is what makes a GNN cheap enough for thousands of MD
    snapshots; larger cells fall back to ASE.
    """
    if len(atoms) > 400:
        return neighbor_list("ijd", atoms, cutoff)
    cell = atoms.cell.array
    heights = atoms.cell.volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    reach = np.ceil(cutoff / heights).astype(int)
    shifts = np.array(np.meshgrid(*[np.arange(-n, n + 1) for n in reach], indexing="ij")).reshape(3, -1).T @ cell
    positions = atoms.positions
    vectors = positions[None, :, None, :] + shifts[None, None, :, :] - positions[:, None, None, :]
    distances = np.linalg.norm(vectors, axis=-1)  # (N, N, images)
    close = (distances < cutoff) & (distances > 1e-8)
    i, j, _ = np.nonzero(close)
    return i, j, distances[close]
