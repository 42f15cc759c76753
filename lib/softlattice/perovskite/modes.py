"""Projection of iodine displacements onto the M and R octahedral-tilt modes of the cubic perovskite.

Units and shapes, used throughout: lengths in Å; ``N_I`` iodine atoms, ``N_F`` frames; mode index
order ``MODES = ('M_x', 'M_y', 'M_z', 'R_x', 'R_y', 'R_z')``.

The tilt mode about axis alpha moves the iodine on the B-B bond along beta (beta != alpha) in the
direction ``alpha x beta`` with the sign ``s_alpha(n)`` of its octahedron n (see
:mod:`softlattice.perovskite.tilts`): in phase along alpha for M_alpha, out of phase for R_alpha. The amplitude
of a mode is the mean, over the iodines it moves, of ``s_alpha(n) (alpha x beta) . u``, with ``u``
the displacement of the iodine from its ideal cubic site. For a rigid tilt by phi it equals
``d sin(phi)`` (d = Pb-I bond length), i.e. the average iodine displacement along the mode; the seed
(Hainer et al., Methods, "Phonon mode projection") normalises its projection the same way, per
iodine, up to a constant factor set by its eigenvector normalisation.

Ideal sites are defined in fractional coordinates of the frame's own cell, so strained and sheared
cells are handled; the mean displacement of the Pb-I framework is removed from every frame, so a
drifting centre of mass does not enter; displacements use the minimum image, so wrapping does not
matter. Local amplitudes are the same projection restricted to blocks of 2x2x2 pseudo-cubic cells
(the seed's 96-atom cell), the smallest volume on which both M and R patterns are defined.

Why not dynasor's ModeProjector alone: it needs force constants and projects the whole supercell
onto q-point eigenmodes, so it gives neither per-block (local) amplitudes nor a reference that
follows a strained cell frame by frame. The tilt patterns are fixed by symmetry, so this module
projects onto them directly; a test shows that both give the same tilt-mode power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from softlattice.perovskite.tilts import parse_glazer, tilt_signs

MODES = ("M_x", "M_y", "M_z", "R_x", "R_y", "R_z")


@dataclass(frozen=True)
class FrameworkMap:
    """Assignment of the Pb and I atoms of a structure to the sites of the ideal cubic perovskite.

    Attributes
    ----------
    repeat
        Pseudo-cubic cells along the three cell vectors.
    b_indices, x_indices
        Atom indices of the Pb atoms (N_B) and I atoms (N_I).
    b_fractional, x_fractional
        Ideal fractional coordinates of those atoms, shapes (N_B, 3) and (N_I, 3).
    x_cell
        Integer cell vector n of the octahedron owning each iodine, shape (N_I, 3).
    x_bond_axis
        Axis (0, 1, 2) of the Pb-Pb bond each iodine sits on, shape (N_I,).
    n_atoms
        Number of atoms of the structure the map was made for.
    b_symbol, x_symbol
        Chemical symbols of the mapped B and X atoms.
    """

    repeat: tuple[int, int, int]
    b_indices: np.ndarray
    x_indices: np.ndarray
    b_fractional: np.ndarray
    x_fractional: np.ndarray
    x_cell: np.ndarray
    x_bond_axis: np.ndarray
    n_atoms: int
    b_symbol: str = "Pb"
    x_symbol: str = "I"


def _minimum_image_fractional(delta: np.ndarray) -> np.ndarray:
    return delta - np.round(delta)


def map_framework(atoms: Atoms, repeat: tuple[int, int, int] | None = None, b_symbol: str = "Pb",
                  x_symbol: str = "I", max_displacement: float | None = None) -> FrameworkMap:
    """Assign every Pb and I atom to its ideal cubic site.

    Parameters
    ----------
    atoms
        A structure whose cell vectors span ``repeat`` pseudo-cubic cells (any strain or shear).
    repeat
        Cells along each cell vector; by default ``atoms.info['repeat']`` or, failing that, the
        cube root of the number of Pb atoms for a cubic supercell.
    b_symbol, x_symbol
        Symbols of the octahedral centre and the anion.
    max_displacement
        Largest accepted distance (Å) of an atom from its site; by default half the distance
        between neighbouring I sites (a/(2 sqrt 2), 0.35 of the pseudo-cubic lattice parameter), so
        every atom is nearer its own site than any other: the assignment stays unambiguous for the
        large transverse I displacements of a strongly tilted frame.

    Raises
    ------
    ValueError
        If the counts do not fit ``repeat``, two atoms claim one site, or an atom is farther than
        ``max_displacement`` from its site.
    """
    symbols = np.array(atoms.get_chemical_symbols())
    b_indices = np.flatnonzero(symbols == b_symbol)
    x_indices = np.flatnonzero(symbols == x_symbol)
    if repeat is None:
        if "repeat" in atoms.info:
            repeat = tuple(int(r) for r in atoms.info["repeat"])
        else:
            side = round(len(b_indices) ** (1 / 3))
            repeat = (side, side, side)
    repeat = tuple(int(r) for r in repeat)
    n_cells = int(np.prod(repeat))
    if len(b_indices) != n_cells or len(x_indices) != 3 * n_cells:
        raise ValueError(f"structure has {len(b_indices)} {b_symbol} and {len(x_indices)} {x_symbol} "
                         f"atoms; a {repeat} supercell needs {n_cells} and {3 * n_cells}")
    positions = atoms.get_positions()
    if not np.all(np.isfinite(positions)):
        raise ValueError("structure has non-finite (NaN or inf) positions")
    cell = atoms.cell.array
    lengths = np.linalg.norm(cell, axis=1) / np.asarray(repeat)
    if max_displacement is None:
        max_displacement = lengths.mean() / (2 * np.sqrt(2))

    scaled = atoms.cell.scaled_positions(positions) * repeat
    b_site = np.round(scaled[b_indices]).astype(int) % repeat
    x_scaled = scaled[x_indices]
    candidates = []
    for beta in range(3):
        half = 0.5 * np.eye(3)[beta]
        site = np.round(x_scaled - half) + half
        delta = (x_scaled - site) / repeat @ cell
        candidates.append((site, np.linalg.norm(delta, axis=1)))
    distances = np.stack([c[1] for c in candidates], axis=1)
    x_bond_axis = np.argmin(distances, axis=1)
    x_site = np.stack([candidates[b][0][k] for k, b in enumerate(x_bond_axis)])
    x_cell = np.floor(x_site).astype(int) % repeat

    b_delta = _minimum_image_fractional((scaled[b_indices] - np.round(scaled[b_indices])) / repeat) @ cell
    worst = max(np.linalg.norm(b_delta, axis=1).max(), distances.min(axis=1).max())
    if worst > max_displacement:
        raise ValueError(f"an atom is {worst:.2f} Å from its ideal site, more than the allowed "
                         f"{max_displacement:.2f} Å (half the I-I site distance): the frame does not map onto a "
                         f"{repeat} perovskite")
    b_keys = np.ravel_multi_index(b_site.T, repeat)
    x_keys = np.ravel_multi_index(x_cell.T, repeat) * 3 + x_bond_axis
    if len(np.unique(b_keys)) != n_cells or len(np.unique(x_keys)) != 3 * n_cells:
        raise ValueError("two atoms map onto the same ideal site: the frame does not map onto a "
                         f"{repeat} perovskite")
    return FrameworkMap(repeat=repeat, b_indices=b_indices, x_indices=x_indices,
                        b_fractional=b_site / repeat,
                        x_fractional=((x_cell + 0.5 * np.eye(3)[x_bond_axis]) / repeat),
                        x_cell=x_cell, x_bond_axis=x_bond_axis, n_atoms=len(atoms),
                        b_symbol=b_symbol, x_symbol=x_symbol)


def iodine_displacements(frames: Atoms | list[Atoms], framework_map: FrameworkMap) -> np.ndarray:
    """Displacements (Å) of the iodines from their ideal sites, shape (N_F, N_I, 3).

    The ideal sites follow each frame's cell; the mean displacement of the Pb-I framework
    (centre-of-mass drift) is removed.
    """
    frames = [frames] if isinstance(frames, Atoms) else list(frames)
    out = np.empty((len(frames), len(framework_map.x_indices), 3))
    for k, atoms in enumerate(frames):
        if len(atoms) != framework_map.n_atoms:
            raise ValueError(f"frame {k} has {len(atoms)} atoms; the reference has "
                             f"{framework_map.n_atoms}")
        symbols = np.array(atoms.get_chemical_symbols())
        if np.any(symbols[framework_map.x_indices] != framework_map.x_symbol) or \
                np.any(symbols[framework_map.b_indices] != framework_map.b_symbol):
            raise ValueError(f"frame {k} has a different species order than the reference")
        positions = atoms.get_positions()
        if not np.all(np.isfinite(positions)):
            raise ValueError(f"frame {k} has non-finite (NaN or inf) positions")
        cell = atoms.cell.array
        scaled = atoms.cell.scaled_positions(positions)
        delta_x = _minimum_image_fractional(scaled[framework_map.x_indices] - framework_map.x_fractional)
        delta_b = _minimum_image_fractional(scaled[framework_map.b_indices] - framework_map.b_fractional)
        drift = np.concatenate([delta_x, delta_b]).mean(axis=0)
        out[k] = (delta_x - drift) @ cell
    return out


def mode_patterns(framework_map: FrameworkMap) -> np.ndarray:
    """Signed unit displacement directions of each iodine in each mode, shape (6, N_I, 3).

    Rows follow ``MODES``; an iodine that a mode does not move has a zero row.
    """
    unit = np.eye(3)
    patterns = np.zeros((6, len(framework_map.x_indices), 3))
    for kind, phase in enumerate("+-"):
        for alpha in range(3):
            glazer = "".join(("a" + (phase if axis == alpha else "0")) for axis in range(3))
            signs = tilt_signs(parse_glazer(glazer), framework_map.x_cell)[:, alpha]
            moving = framework_map.x_bond_axis != alpha
            directions = np.cross(unit[alpha], unit[framework_map.x_bond_axis])
            patterns[3 * kind + alpha, moving] = signs[moving, None] * directions[moving]
    return patterns


def project_modes(displacements: np.ndarray, framework_map: FrameworkMap) -> np.ndarray:
    """Global mode amplitudes Q (Å) per frame, shape (N_F, 6), columns ordered as ``MODES``."""
    patterns = mode_patterns(framework_map)
    moving = np.count_nonzero(np.any(patterns != 0, axis=2), axis=1)
    return np.einsum("fia,mia->fm", displacements, patterns) / moving


def block_indices(framework_map: FrameworkMap, block: int = 2) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Index of the ``block``^3-cell block of each iodine's octahedron, and the block grid shape."""
    repeat = np.asarray(framework_map.repeat)
    if np.any(repeat % block):
        raise ValueError(f"supercell repeat {tuple(repeat)} is not divisible into blocks of {block} "
                         "cells; M and R local amplitudes need even repeats")
    grid = tuple(int(g) for g in repeat // block)
    return np.ravel_multi_index((framework_map.x_cell // block).T, grid), grid


def project_modes_local(displacements: np.ndarray, framework_map: FrameworkMap,
                        block: int = 2) -> np.ndarray:
    """Local mode amplitudes (Å) per block of ``block``^3 cells.

    Returns
    -------
    Array of shape (N_F, 6, g1, g2, g3), with g = repeat / block the block grid; the mean over
    the grid equals the global amplitude.
    """
    patterns = mode_patterns(framework_map)
    index, grid = block_indices(framework_map, block)
    per_iodine = np.einsum("fia,mia->fmi", displacements, patterns)
    moving = np.any(patterns != 0, axis=2)
    n_blocks = int(np.prod(grid))
    sums = np.zeros(per_iodine.shape[:2] + (n_blocks,))
    for m in range(6):
        np.add.at(sums[:, m], (slice(None), index), per_iodine[:, m])
    counts = np.stack([np.bincount(index[moving[m]], minlength=n_blocks) for m in range(6)])
    return (sums / counts[None]).reshape(per_iodine.shape[:2] + grid)


def layer_profile(local: np.ndarray, axis: int) -> np.ndarray:
    """Mean |local amplitude| per layer of blocks perpendicular to ``axis`` (0, 1, 2).

    Parameters
    ----------
    local
        Output of :func:`project_modes_local`, shape (N_F, 6, g1, g2, g3).

    Returns
    -------
    Array of shape (N_F, 6, g_axis).
    """
    other = tuple(2 + a for a in range(3) if a != axis)
    return np.abs(local).mean(axis=other)


class TiltModeObserver:
    """MD observer (:func:`softlattice.md.engine.run_md`): the six M/R tilt-mode amplitudes
    ``Q_<mode>`` (Å) of each sampled frame, projected on the framework of the starting cell."""

    def __init__(self, atoms: Atoms):
        self.framework_map = map_framework(atoms)

    def __call__(self, atoms: Atoms) -> dict[str, float]:
        amplitudes = project_modes(iodine_displacements(atoms, self.framework_map), self.framework_map)[0]
        return {f"Q_{mode}": float(q) for mode, q in zip(MODES, amplitudes)}


def tilt_observers(atoms: Atoms) -> list[TiltModeObserver]:
    """The tilt-mode observer for a perovskite supercell from :mod:`softlattice.perovskite.structures`
    (Pb and I present, ``info['repeat']`` set); no observer for anything else."""
    if {"Pb", "I"} <= set(atoms.get_chemical_symbols()) and "repeat" in atoms.info:
        return [TiltModeObserver(atoms)]
    return []
