"""Generated MA(1-x)FA(x)PbI3 training structures: tilt phases, strains and rattles, and tilt
phases relaxed by a model.

Units: Å, eV.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.filters import FrechetCellFilter
from ase.neighborlist import neighbor_list
from ase.optimize import LBFGS

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


def relaxed_tilt_phases(calculator: Calculator, fa_fractions: Sequence[float], glazers: Sequence[str],
                        seeds: Sequence[int], strains: Sequence[float] = (-0.015, 0.015), path_frames: int = 2,
                        fmax: float = 0.02, steps: int = 300, tilt_angle: float = 8.0,
                        repeat: tuple[int, int, int] = (2, 2, 2)) -> list[Atoms]:
    """Tilt phases relaxed (positions and cell) by ``calculator``, with points on the way and
    strained copies: the low-temperature minima and the paths into them, which rattled ideal cells
    and MD at finite temperature hardly visit, but on which the phase order rests.

    For every composition, Glazer pattern and seed (random molecular orientations and A-site order,
    :func:`build_mixed_perovskite`), L-BFGS on ASE's ``FrechetCellFilter`` runs from the ideal
    tilted cell (``tilt_angle`` degrees) to ``fmax`` eV/Å or ``steps`` steps. Kept: the relaxed cell,
    ``path_frames`` cells evenly spaced along the way (start excluded), and the relaxed cell under
    each isotropic ``strains`` (atoms scaled with it). Labelled by the reference, they teach the
    student the reference's energies where the student itself puts the minima.

    Returns
    -------
    Structures with ``info`` keys ``origin`` ('relaxed'), ``glazer``, ``fa_fraction``, ``strain``,
    ``relax_step`` and ``relax_converged``.
    """
    if path_frames < 0:
        raise ValueError(f"path_frames {path_frames!r} must be >= 0")
    if any(abs(strain) > 0.15 for strain in strains):
        raise ValueError(f"strains {list(strains)} must lie in [-0.15, 0.15]")
    structures = []
    for x in fa_fractions:
        for glazer in glazers:
            for seed in seeds:
                atoms = build_mixed_perovskite(x, repeat, glazer=glazer, tilt_angle=tilt_angle,
                                               molecule_orientation="random", seed=int(seed))
                atoms.calc = calculator
                path: list[Atoms] = []
                optimiser = LBFGS(FrechetCellFilter(atoms), logfile=None)
                optimiser.attach(lambda: path.append(atoms.copy()), interval=1)
                converged = bool(optimiser.run(fmax=fmax, steps=steps))
                relaxed = path[-1]
                picks = np.linspace(0, len(path) - 1, path_frames + 2)[1:-1].round().astype(int)
                kept = [(path[k], k, 0.0) for k in picks] + [(relaxed, len(path) - 1, 0.0)]
                for strain in strains:
                    strained = relaxed.copy()
                    strained.set_cell(relaxed.cell.array * (1 + strain), scale_atoms=True)
                    kept.append((strained, len(path) - 1, float(strain)))
                for cell, step, strain in kept:
                    cell = Atoms(cell.numbers, positions=cell.positions, cell=cell.cell, pbc=True)
                    cell.info.update(origin="relaxed", glazer=glazer, fa_fraction=float(atoms.info["fa_fraction"]),
                                     strain=strain, relax_step=int(step), relax_converged=converged)
                    structures.append(cell)
    return structures


def perturbed_copies(cells: Sequence[Atoms], strains: Sequence[float], rattles: Sequence[float], copies: int,
                     seed: int = 0, molecule_rattle_fraction: float = 0.3, origin: str = "teacher-relaxed"
                     ) -> list[Atoms]:
    """Each of ``cells`` as it is, under each isotropic strain (atoms scaled with the cell), and
    ``copies`` times rattled by each amplitude (Å; H, C and N by ``molecule_rattle_fraction`` of it,
    see :func:`generate_structures`): the neighbourhood of given minima, e.g. a reference's own
    relaxed phases.

    Returns
    -------
    ``len(cells) * (1 + len(strains) + copies * len(rattles))`` structures with the cells' ``info``
    plus ``origin``, ``strain`` and ``rattle``.
    """
    if copies < 0 or any(r <= 0 for r in rattles):
        raise ValueError(f"copies {copies!r} must be >= 0 and rattles {list(rattles)} Å > 0")
    if any(abs(strain) > 0.15 for strain in strains):
        raise ValueError(f"strains {list(strains)} must lie in [-0.15, 0.15]")
    rng = np.random.default_rng(seed)
    structures = []
    for cell in cells:
        plain = Atoms(cell.numbers, positions=cell.positions, cell=cell.cell, pbc=True)
        plain.info.update(cell.info, origin=origin, strain=0.0, rattle=0.0)
        structures.append(plain)
        for strain in strains:
            strained = plain.copy()
            strained.set_cell(plain.cell.array * (1 + strain), scale_atoms=True)
            strained.info.update(strain=float(strain))
            structures.append(strained)
        scale = np.where(np.isin(plain.numbers, (1, 6, 7)), molecule_rattle_fraction, 1.0)[:, None]
        for rattle in rattles:
            for _ in range(copies):
                rattled = plain.copy()
                _rattle_without_overlap(rattled, rattle * scale, rng)
                rattled.info.update(rattle=float(rattle))
                structures.append(rattled)
    return structures
