"""Generated MA(1-x)FA(x)PbI3 training structures: tilt phases, strains and rattles.

Units: Å.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from softlattice.perovskite.structures import build_mixed_perovskite

MA_FA_SPECIES = ("H", "C", "N", "I", "Pb")
"""Species of every MA/FA model."""
MIN_GENERATED_DISTANCE = 0.8
"""Closest approach (Å) accepted in generated structures (the shortest bond, N-H, is 1.01 Å)."""


def generate_structures(fa_fractions: Sequence[float], glazers: Sequence[str], tilt_angle: float = 10.0,
                        strains: Sequence[float] = (-0.03, 0.0, 0.03), rattle: float = 0.05,
                        repeat: tuple[int, int, int] = (2, 2, 2), per_combination: int = 1,
                        seed: int = 0, molecule_rattle_fraction: float = 1.0) -> list[Atoms]:
    """Strained, scaled and rattled cells of every tilt phase and composition.

    Each structure is a random MA/FA cell (:func:`build_mixed_perovskite`, random molecular
    orientations) of one Glazer pattern, scaled by an isotropic strain plus a random symmetric
    strain of up to 1 %, with Gaussian position noise of ``rattle`` Å, redrawn for atoms it brings
    closer than MIN_GENERATED_DISTANCE to another. H, C and N move by ``molecule_rattle_fraction``
    times that noise: their bonds are some 30 times stiffer than Pb-I, so a thermal displacement
    of the framework's size would compress N-H and C-H bonds far beyond anything MD visits.

    Returns
    -------
    Structures with ``info`` keys ``origin`` ('systematic'), ``glazer``, ``fa_fraction``, ``strain``.
    """
    if rattle < 0:
        raise ValueError(f"rattle amplitude {rattle!r} Å must be >= 0")
    if not 0 <= molecule_rattle_fraction <= 1:
        raise ValueError(f"molecule rattle fraction {molecule_rattle_fraction!r} must lie in [0, 1]")
    rng = np.random.default_rng(seed)
    structures = []
    for x in fa_fractions:
        for glazer in glazers:
            for strain in strains:
                if abs(strain) > 0.15:
                    raise ValueError(f"strain {strain!r} is outside the allowed range [-0.15, 0.15]")
                for _ in range(per_combination):
                    substitution_seed = int(rng.integers(2**31))
                    atoms = build_mixed_perovskite(x, repeat, glazer=glazer, tilt_angle=tilt_angle,
                                                   molecule_orientation="random", seed=substitution_seed)
                    random_strain = rng.uniform(-0.01, 0.01, (3, 3))
                    deformation = np.eye(3) * (1 + strain) + 0.5 * (random_strain + random_strain.T)
                    atoms.set_cell(atoms.cell.array @ deformation, scale_atoms=True)
                    scale = np.where(np.isin(atoms.numbers, (1, 6, 7)), molecule_rattle_fraction, 1.0)
                    _rattle_without_overlap(atoms, rattle * scale[:, None], rng)
                    atoms.info.update(origin="systematic", glazer=glazer, strain=float(strain))
                    structures.append(atoms)
    return structures


def _rattle_without_overlap(atoms: Atoms, amplitude: float | np.ndarray, rng: np.random.Generator,
                            tries: int = 200) -> None:
    """Gaussian noise of ``amplitude`` Å (a number, or one per atom as an (N, 1) array) on every
    position; the noise of atoms that end up closer than MIN_GENERATED_DISTANCE to another atom is
    drawn again."""
    ideal = atoms.positions.copy()
    amplitude = np.broadcast_to(np.asarray(amplitude, dtype=float), ideal.shape)
    noise = rng.normal(0.0, 1.0, ideal.shape) * amplitude
    for _ in range(tries):
        atoms.positions = ideal + noise
        close = np.unique(neighbor_list("i", atoms, MIN_GENERATED_DISTANCE))
        if close.size == 0:
            return
        noise[close] = rng.normal(0.0, 1.0, (close.size, 3)) * amplitude[close]
    raise ValueError(f"rattle amplitude {amplitude.max()} Å keeps pushing atoms closer than "
                     f"{MIN_GENERATED_DISTANCE} Å; use a smaller amplitude")
