"""Ag3SBr(x)I(1-x) chalcohalide antiperovskites: cells, halide orderings, thermal displacements.

Units: Å, K, amu.

The cubic Pm-3m antiperovskite Ag3SX has S at the cell centre, the halide X at the corner and Ag
at the face centres (the seed's Fig. 1d; 5 atoms). Solid solutions live in the 2x2x2 supercell
(40 atoms, 8 halide sites), so x runs in steps of 1/8. Orderings of Br and I on the halide sites
are enumerated exactly: all C(8, n_Br) of them, and the symmetry-inequivalent ones under the
operations of the undecorated supercell (spglib), as orbits.

Thermal displacements follow the seed's Eq. (1): each Cartesian component of each atom is
displaced by a uniform random number in [-1, 1] times its root-mean-square thermal displacement
at temperature T, sqrt(<u^2>), which phonopy computes from the force constants (harmonic, Bose
occupations, imaginary modes excluded).
"""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
from ase import Atoms

LATTICE_CONSTANTS = {"Br": 4.81, "I": 4.90}
"""Starting cubic lattice constants (Å) of Ag3SBr and Ag3SI, in the 4.8-4.9 Å range reported for
these antiperovskites; the reference method relaxes them. Mixed cells start from Vegard's law."""

HALIDES = ("Br", "I")


def build_antiperovskite(halide: str = "Br", lattice_constant: float | None = None) -> Atoms:
    """The 5-atom cubic Ag3SX cell (X at the corner, S at the centre, Ag at the face centres)."""
    if halide not in HALIDES:
        raise ValueError(f"unknown halide {halide!r}; allowed: {', '.join(HALIDES)}")
    a = LATTICE_CONSTANTS[halide] if lattice_constant is None else lattice_constant
    if not a > 0:
        raise ValueError(f"lattice constant {a!r} Å must be > 0")
    scaled = [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
    return Atoms([halide, "S", "Ag", "Ag", "Ag"], scaled_positions=scaled, cell=np.eye(3) * a, pbc=True)


def halide_sites(atoms: Atoms) -> np.ndarray:
    """Indices of the halide sites of an (undecorated or decorated) antiperovskite cell."""
    return np.flatnonzero(np.isin(atoms.get_chemical_symbols(), HALIDES))


def n_bromide(x: float, sites: int = 8) -> int:
    """Number of Br on ``sites`` halide sites for Br fraction ``x``; refuses x that does not fit."""
    if not 0 <= x <= 1:
        raise ValueError(f"Br fraction {x!r} is outside [0, 1]")
    count = x * sites
    if abs(count - round(count)) > 1e-9:
        nearest = round(count) / sites
        raise ValueError(f"Br fraction {x!r} is not a whole number of Br on {sites} halide sites (x must be a "
                         f"multiple of 1/{sites}); the nearest is {nearest:g}, or use a larger supercell")
    return int(round(count))


def parent_supercell(repeat: int = 2, lattice_constant: float | None = None) -> Atoms:
    """The undecorated supercell (all halide sites Br) whose symmetry the orderings respect."""
    return build_antiperovskite("Br", lattice_constant).repeat(repeat)


def all_orderings(x: float, repeat: int = 2) -> list[tuple[int, ...]]:
    """Every choice of Br sites (as positions in the list of halide sites) for Br fraction ``x``:
    C(n_sites, n_Br) of them."""
    sites = repeat ** 3
    return list(itertools.combinations(range(sites), n_bromide(x, sites)))


def halide_permutations(repeat: int = 2, symprec: float = 1e-5) -> np.ndarray:
    """How each symmetry operation of the parent supercell permutes its halide sites, shape
    (n_operations, n_sites): row g maps site i to site ``perm[g, i]`` (spglib operations,
    pure translations included)."""
    import spglib
    parent = parent_supercell(repeat)
    sites = halide_sites(parent)
    fractional = parent.get_scaled_positions()[sites]
    cell = (parent.cell.array, parent.get_scaled_positions(), parent.numbers)
    symmetry = spglib.get_symmetry(cell, symprec=symprec)
    permutations = []
    for rotation, translation in zip(symmetry["rotations"], symmetry["translations"]):
        image = (fractional @ rotation.T + translation) % 1.0
        difference = image[:, None, :] - fractional[None, :, :]
        difference -= np.round(difference)
        match = np.argmin(np.linalg.norm(difference, axis=2), axis=1)
        permutations.append(match)
    return np.unique(np.array(permutations), axis=0)


def inequivalent_orderings(x: float, repeat: int = 2) -> list[tuple[int, ...]]:
    """One representative (the lexicographically smallest) of every orbit of orderings under the
    parent supercell's symmetry."""
    permutations = halide_permutations(repeat)
    representatives = {min(tuple(sorted(int(i) for i in perm[list(ordering)])) for perm in permutations)
                       for ordering in all_orderings(x, repeat)}
    return sorted(representatives)


def ordering_counts(repeat: int = 2) -> list[dict]:
    """Per composition: all orderings (C(n, k)) and inequivalent ones."""
    sites = repeat ** 3
    return [dict(x=k / sites, n_br=k, all=comb(sites, k), inequivalent=len(inequivalent_orderings(k / sites, repeat)))
            for k in range(sites + 1)]


def decorate(x: float, ordering: tuple[int, ...], repeat: int = 2) -> Atoms:
    """The supercell with Br on the halide sites listed in ``ordering`` and I elsewhere, at the
    Vegard's-law lattice constant; info ``br_fraction`` and ``ordering`` (the Br sites, comma
    separated; 'none' for pure Ag3SI)."""
    count = n_bromide(x, repeat ** 3)
    if len(ordering) != count or len(set(ordering)) != count or not all(0 <= s < repeat ** 3 for s in ordering):
        raise ValueError(f"ordering {ordering!r} must list {count} distinct halide sites in [0, {repeat ** 3})")
    a = x * LATTICE_CONSTANTS["Br"] + (1 - x) * LATTICE_CONSTANTS["I"]
    atoms = parent_supercell(repeat, a)
    sites = halide_sites(atoms)
    symbols = np.array(atoms.get_chemical_symbols(), dtype=object)
    symbols[sites] = "I"
    symbols[sites[list(ordering)]] = "Br"
    atoms.set_chemical_symbols(list(symbols))
    # "none" rather than an empty string, which extxyz cannot read back
    atoms.info.update(br_fraction=float(x), ordering=",".join(map(str, ordering)) or "none")
    return atoms


def rms_thermal_displacements(phonon, temperature: float, mesh: int = 8, freq_min: float = 0.05) -> np.ndarray:
    """Root-mean-square thermal displacement (Å) of every atom of the phonopy primitive cell along
    x, y, z at ``temperature`` (K), shape (N, 3) (phonopy's thermal displacements on a
    ``mesh``^3 q-point mesh; imaginary modes and modes below ``freq_min`` THz contribute nothing).

    ``freq_min`` keeps the three acoustic modes at Γ out: their frequencies are zero up to the
    numerical noise of the force constants, and 1/ω^2 would turn that noise into amplitude (with
    1e-3 THz the result changed by 2 % between one and two threads). The result is rounded to
    1e-5 Å, so float noise cannot change the structures generated from it (and their hashes)."""
    if not temperature > 0:
        raise ValueError(f"temperature {temperature!r} K must be > 0")
    phonon.run_mesh([mesh] * 3, with_eigenvectors=True, is_mesh_symmetry=False)
    phonon.run_thermal_displacements(temperatures=[temperature], freq_min=freq_min)
    mean_square = np.asarray(phonon.thermal_displacements.thermal_displacements[0])
    return np.round(np.sqrt(mean_square.reshape(-1, 3)), 5)


def thermal_displacement_structures(atoms: Atoms, rms: np.ndarray, count: int, seed: int = 0,
                                    temperature: float | None = None) -> list[Atoms]:
    """The seed's Eq. (1): ``count`` copies of ``atoms`` with each coordinate displaced by
    U[-1, 1] times its RMS thermal displacement.

    Parameters
    ----------
    atoms
        Structure to displace (N atoms).
    rms
        RMS displacements, shape (N, 3) Å; for a supercell of the phonopy primitive cell, tile
        :func:`rms_thermal_displacements` onto the supercell's atoms first.
    """
    rms = np.asarray(rms, dtype=float)
    if rms.shape != (len(atoms), 3):
        raise ValueError(f"RMS displacements of shape {rms.shape} do not match {len(atoms)} atoms (need (N, 3))")
    rng = np.random.default_rng(seed)
    structures = []
    for _ in range(count):
        displaced = atoms.copy()
        displaced.positions += rng.uniform(-1.0, 1.0, rms.shape) * rms
        if temperature is not None:
            displaced.info["temperature"] = float(temperature)
        displaced.info["origin"] = "thermal"
        structures.append(displaced)
    return structures
