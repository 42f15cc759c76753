"""Builders for ABX3 lead-iodide perovskites: cubic cells, supercells, tilts and MA/FA mixing.

Units: Å and degrees. Composition is given as the FA fraction x of MA(1-x)FA(x)PbI3.

Every structure carries, besides positions:

- ``atoms.arrays['a_site']``: index of the A site an atom belongs to (-1 for B and X atoms), so
  that molecules can be found again without a bond search;
- ``atoms.arrays['cell_index']``: the integer pseudo-cubic cell vector n of the B site, A site or
  owning octahedron of each atom, shape (N, 3);
- ``atoms.info``: ``glazer``, ``tilt_angles`` (deg, x/y/z), ``repeat``, ``bond_length`` (Å),
  ``a_site_species`` (string such as 'MA' or 'MA/FA'), ``fa_fraction`` (realised x, for MA/FA
  cells) and ``fa_fraction_target``.

Atoms are ordered B atoms first, then X atoms (x, y, z bond of each cell in turn), then the A-site
cations molecule by molecule.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from ase import Atoms
from calorine.tools import get_spacegroup
from scipy.spatial.transform import Rotation

from softlattice.perovskite.molecules import (
    candidate_rotations,
    cation_in_local_frame,
    check_cation,
    orientation_rotation,
)
from softlattice.perovskite.tilts import (
    check_repeats_hold_pattern,
    measure_tilt_angles,
    parse_glazer,
    pseudocubic_spacings,
    tilt_angles_per_axis,
    x_site_displacements,
)

CUBIC_LATTICE_CONSTANTS = {"MA": 6.3285, "FA": 6.3620, "Cs": 6.2894}
"""Experimental cubic lattice constants in Å: MAPbI3 at 352 K (Weller et al., Chem. Commun. 51,
4180 (2015)), FAPbI3 at 298 K (Weller et al., J. Phys. Chem. Lett. 6, 3209 (2015)) and CsPbI3 at
645 K (Marronnier et al., ACS Nano 12, 3477 (2018)). Mixed MA/FA cells use Vegard's law."""

B_SITE_SPECIES = ("Pb",)
X_SITE_SPECIES = ("I",)


def _check_repeat(repeat: int | Sequence[int]) -> tuple[int, int, int]:
    values = (repeat,) * 3 if np.isscalar(repeat) else tuple(repeat)
    if len(values) != 3 or not all(float(v).is_integer() and int(v) >= 1 for v in values):
        raise ValueError(f"supercell repeat {repeat!r} must be one or three positive integers")
    return tuple(int(v) for v in values)


def check_fa_fraction(fa_fraction: float) -> float:
    """Return ``fa_fraction`` as a float if it lies in [0, 1], else raise a ValueError naming it."""
    try:
        value = float(fa_fraction)
    except (TypeError, ValueError):
        raise ValueError(f"FA fraction x = {fa_fraction!r} is not a number; allowed: [0, 1]") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"FA fraction x = {fa_fraction!r} is outside the allowed range [0, 1]")
    return value


def vegard_lattice_constant(fa_fraction: float) -> float:
    """Cubic lattice constant (Å) of MA(1-x)FA(x)PbI3 interpolated linearly between the ends."""
    x = check_fa_fraction(fa_fraction)
    return (1 - x) * CUBIC_LATTICE_CONSTANTS["MA"] + x * CUBIC_LATTICE_CONSTANTS["FA"]


def random_a_site_species(n_sites: int, fa_fraction: float, seed: int = 0) -> list[str]:
    """MA/FA labels for ``n_sites`` A sites with FA fraction as close to ``fa_fraction`` as possible.

    The FA count is ``floor(x * n_sites + 0.5)`` (halves round up, so the realised fraction
    differs from x by at most 1 / (2 n_sites)); the FA sites are a uniformly random subset drawn
    with ``numpy.random.default_rng(seed)``, so there is no spatial correlation between them.
    """
    x = check_fa_fraction(fa_fraction)
    n_fa = int(np.floor(x * n_sites + 0.5))
    rng = np.random.default_rng(seed)
    species = np.array(["MA"] * n_sites, dtype=object)
    species[rng.choice(n_sites, size=n_fa, replace=False)] = "FA"
    return list(species)


MIN_CATION_CONTACT = 2.2
"""Closest approach (Å) of a cation atom to the framework that 'random' orientations accept;
H...I contacts in the MAPbI3/FAPbI3 crystal structures are 2.6-3.0 Å."""


def _cage_vectors(centre: np.ndarray, framework_positions: np.ndarray, box: np.ndarray,
                  radius: float = 7.0) -> np.ndarray:
    """Minimum-image vectors (Å) from an A-site centre to the framework atoms within ``radius``."""
    vectors = framework_positions - centre
    vectors -= box * np.round(vectors / box)
    return vectors[np.linalg.norm(vectors, axis=1) < radius]


def _closest_contacts(rotations: Rotation, local_positions: np.ndarray, cage: np.ndarray) -> np.ndarray:
    """Closest cation-framework distance (Å) for each of ``rotations`` (a stack of N)."""
    placed = np.einsum("rij,aj->rai", rotations.as_matrix().reshape(-1, 3, 3), local_positions)
    return np.linalg.norm(placed[:, :, None, :] - cage[None, None], axis=-1).min(axis=(1, 2))


def _least_crowded(candidates: Rotation, local_positions: np.ndarray, cage: np.ndarray) -> Rotation:
    return candidates[int(np.argmax(_closest_contacts(candidates, local_positions, cage)))]


def _random_without_clash(local_positions: np.ndarray, cage: np.ndarray, rng: np.random.Generator,
                          tries: int = 200) -> Rotation:
    """A uniformly random orientation whose closest framework contact is at least
    MIN_CATION_CONTACT (rejection sampling; the best of ``tries`` draws if none qualifies)."""
    draws = Rotation.random(tries, random_state=rng)
    contacts = _closest_contacts(draws, local_positions, cage)
    accepted = np.flatnonzero(contacts >= MIN_CATION_CONTACT)
    return draws[int(accepted[0]) if accepted.size else int(np.argmax(contacts))]


def build_perovskite(a_site: str | Sequence[str] = "MA", repeat: int | Sequence[int] = (2, 2, 2), *,
                     glazer: str = "a0a0a0", tilt_angle: float | Sequence[float] = 0.0,
                     lattice_constant: float | None = None,
                     molecule_orientation: str | Sequence[float] = "fit",
                     b_site: str = "Pb", x_site: str = "I", seed: int = 0) -> Atoms:
    """Build an ABX3 perovskite supercell with an octahedral tilt pattern.

    Parameters
    ----------
    a_site
        'MA', 'FA' or 'Cs' for a pure compound, or one label per A site (in cell order, x fastest)
        for a mixed one; see :func:`build_mixed_perovskite`.
    repeat
        Number of pseudo-cubic cells along x, y and z. The seed's 96-atom cell is (2, 2, 2).
    glazer
        Tilt system in Glazer notation, e.g. 'a0a0a0', 'a0a0c-', 'a0a0c+', 'a-a-c+'.
    tilt_angle
        Tilt angle in degrees: one value for every tilted axis or three values (x, y, z); see
        :func:`softlattice.perovskite.tilts.tilt_angles_per_axis`.
    lattice_constant
        Cubic lattice constant in Å of the untilted cell (twice the B-X bond length); by default
        the experimental cubic value (Vegard's law for MA/FA mixtures).
    molecule_orientation
        How the cations are oriented. 'fit' (default): each cation takes, from a fixed set of
        orientations along the cubic <100>, <110> and <111> directions, the one farthest from the
        framework atoms of its (possibly tilted) cage. 'random': independent uniformly random
        orientations drawn from ``seed``, redrawn while an atom comes closer than
        MIN_CATION_CONTACT to the framework. Three numbers: every molecular axis (C->N for MA,
        N->N for FA) along that direction, as is.
    b_site, x_site
        B cation and X anion; only Pb and I are supported.
    seed
        Seed for random molecular orientations.

    Returns
    -------
    The supercell; see the module docstring for the arrays and info it carries.
    """
    if b_site not in B_SITE_SPECIES or x_site not in X_SITE_SPECIES:
        raise ValueError(f"B/X sites {b_site!r}/{x_site!r} are not supported; allowed: "
                         f"{B_SITE_SPECIES}/{X_SITE_SPECIES}")
    repeat = _check_repeat(repeat)
    n_sites = int(np.prod(repeat))
    species = [a_site] * n_sites if isinstance(a_site, str) else list(a_site)
    if len(species) != n_sites:
        raise ValueError(f"{len(species)} A-site labels given for a {repeat} supercell with "
                         f"{n_sites} A sites")
    for name in species:
        check_cation(name)
    if isinstance(molecule_orientation, str) and molecule_orientation not in ("fit", "random"):
        raise ValueError(f"unknown molecule orientation {molecule_orientation!r}; allowed: 'fit', "
                         "'random' or a direction given as three numbers")
    if not isinstance(molecule_orientation, str):
        orientation_rotation(molecule_orientation, np.random.default_rng(0))  # validates the vector
    pattern = parse_glazer(glazer)
    angles = tilt_angles_per_axis(pattern, tilt_angle)
    check_repeats_hold_pattern(pattern, repeat)
    if lattice_constant is None:
        fa_share = species.count("FA") / n_sites
        lattice_constant = (CUBIC_LATTICE_CONSTANTS["Cs"] if "Cs" in species
                            else vegard_lattice_constant(fa_share))
    if not 4.0 <= lattice_constant <= 8.0:
        raise ValueError(f"lattice constant {lattice_constant!r} Å is outside the allowed range "
                         "[4, 8] Å for lead-iodide perovskites")
    bond_length = lattice_constant / 2
    spacing = pseudocubic_spacings(bond_length, angles)

    grid = np.stack(np.meshgrid(*[np.arange(r) for r in repeat], indexing="ij"), axis=-1)
    cells = grid.reshape(-1, 3, order="F")  # x runs fastest
    b_positions = cells * spacing
    x_positions = (b_positions[:, None, :] + np.diag(spacing / 2)[None, :, :]
                   + x_site_displacements(pattern, angles, bond_length, cells))
    a_centres = b_positions + spacing / 2

    rng = np.random.default_rng(seed)
    symbols = [b_site] * n_sites + [x_site] * (3 * n_sites)
    positions = [b_positions, x_positions.reshape(-1, 3)]
    framework_positions = np.vstack(positions)
    box = spacing * np.array(repeat)
    candidates = candidate_rotations() if molecule_orientation == "fit" else None
    a_site_index = [-1] * (4 * n_sites)
    cell_index = [cells, np.repeat(cells, 3, axis=0)]
    for site, (name, centre) in enumerate(zip(species, a_centres)):
        cation = cation_in_local_frame(name)
        cage = _cage_vectors(centre, framework_positions, box)
        if molecule_orientation == "fit":
            rotation = _least_crowded(candidates, cation.positions, cage)
        elif molecule_orientation == "random":
            rotation = _random_without_clash(cation.positions, cage, rng)
        else:
            rotation = orientation_rotation(molecule_orientation, rng)
        positions.append(centre + rotation.apply(cation.positions))
        symbols.extend(cation.get_chemical_symbols())
        a_site_index.extend([site] * len(cation))
        cell_index.append(np.repeat(cells[site:site + 1], len(cation), axis=0))

    atoms = Atoms(symbols, positions=np.vstack(positions), cell=np.diag(spacing * repeat), pbc=True)
    atoms.wrap()
    atoms.arrays["a_site"] = np.array(a_site_index, dtype=int)
    atoms.arrays["cell_index"] = np.vstack(cell_index).astype(int)
    unique = sorted(set(species), key=["MA", "FA", "Cs"].index)
    atoms.info.update(glazer=str(pattern), tilt_angles=angles.tolist(), repeat=list(repeat),
                      bond_length=bond_length, a_site_species="/".join(unique))
    return atoms


def build_mixed_perovskite(fa_fraction: float, repeat: int | Sequence[int] = (2, 2, 2), *,
                           seed: int = 0, **kwargs) -> Atoms:
    """Build MA(1-x)FA(x)PbI3 with MA and FA placed at random on the A sites.

    Parameters
    ----------
    fa_fraction
        Target FA fraction x in [0, 1]; the realised fraction (see :func:`random_a_site_species`
        for the rounding) is stored in ``atoms.info['fa_fraction']``.
    repeat
        Number of pseudo-cubic cells along x, y and z.
    seed
        Seed of the substitution (and of random molecular orientations).
    kwargs
        Passed to :func:`build_perovskite` (glazer, tilt_angle, lattice_constant,
        molecule_orientation).
    """
    x = check_fa_fraction(fa_fraction)
    repeat = _check_repeat(repeat)
    species = random_a_site_species(int(np.prod(repeat)), x, seed=seed)
    atoms = build_perovskite(species, repeat, seed=seed, **kwargs)
    atoms.info["fa_fraction"] = species.count("FA") / len(species)
    atoms.info["fa_fraction_target"] = x
    return atoms


def framework(atoms: Atoms) -> Atoms:
    """The inorganic B-X framework of a structure (the A-site cations removed)."""
    return atoms[atoms.arrays["a_site"] < 0]


def framework_spacegroup(atoms: Atoms, symprec: float = 1e-3) -> str:
    """Space group of the B-X framework alone, e.g. 'I4/mcm (140)', found with spglib.

    Parameters
    ----------
    atoms
        Structure built by this module (or any structure with an ``a_site`` array).
    symprec
        Distance tolerance in Å.
    """
    return get_spacegroup(framework(atoms), symprec=symprec)


def a_site_species(atoms: Atoms) -> np.ndarray:
    """Cation label ('MA', 'FA' or 'Cs') of every A site, ordered by site index."""
    sites = atoms.arrays["a_site"]
    symbols = np.array(atoms.get_chemical_symbols())
    labels = []
    for site in range(sites.max() + 1):
        members = symbols[sites == site]
        labels.append("Cs" if "Cs" in members else "FA" if np.sum(members == "N") == 2 else "MA")
    return np.array(labels)


def warren_cowley_alpha(atoms: Atoms, species: str = "FA") -> float:
    """Nearest-neighbour Warren-Cowley parameter of ``species`` on the simple-cubic A-site lattice.

    ``alpha = 1 - P(neighbour is species | site is not species) / c``, with c the concentration of
    ``species``: 0 for a random arrangement (up to the finite-cell value -1/(N-1)), negative for
    alternation, positive for clustering. Needs at least 3 cells along each axis so that the 6
    neighbours of a site are distinct.
    """
    repeat = np.asarray(atoms.info["repeat"])
    if np.any(repeat < 3):
        raise ValueError(f"supercell repeat {tuple(repeat)} is too small for nearest-neighbour "
                         "statistics; allowed: at least 3 cells along each axis")
    labels = a_site_species(atoms) == species
    concentration = labels.mean()
    if concentration in (0.0, 1.0):
        raise ValueError(f"short-range order is undefined for a {species} concentration of "
                         f"{concentration:g}; allowed: strictly between 0 and 1")
    cells = atoms.arrays["cell_index"][atoms.arrays["a_site"] >= 0]
    sites = atoms.arrays["a_site"][atoms.arrays["a_site"] >= 0]
    site_cell = np.zeros((labels.size, 3), dtype=int)
    site_cell[sites] = cells
    flat = np.ravel_multi_index(site_cell.T, repeat, order="F")
    lookup = np.empty(labels.size, dtype=int)
    lookup[flat] = np.arange(labels.size)
    neighbour_hits = []
    for axis in range(3):
        for step in (-1, 1):
            shifted = site_cell.copy()
            shifted[:, axis] = (shifted[:, axis] + step) % repeat[axis]
            neighbour = lookup[np.ravel_multi_index(shifted.T, repeat, order="F")]
            neighbour_hits.append(labels[neighbour][~labels])
    return float(1.0 - np.mean(neighbour_hits) / concentration)


def tilt_round_trip(glazers: Sequence[str], angles: Sequence[float], a_site: str = "Cs",
                    repeat: int | Sequence[int] = 2) -> pd.DataFrame:
    """Build each pattern at each angle and measure the angles back from the bonds.

    Returns
    -------
    Columns ``glazer``, ``imposed_deg`` and ``measured_x_deg``, ``measured_y_deg``,
    ``measured_z_deg`` (mean absolute tilt about each axis).
    """
    rows = []
    for glazer in glazers:
        for angle in angles:
            atoms = build_perovskite(a_site, repeat, glazer=glazer, tilt_angle=angle)
            measured = measure_tilt_angles(atoms).mean_abs_angles
            rows.append(dict(glazer=glazer, imposed_deg=float(angle),
                             **{f"measured_{axis}_deg": value for axis, value in zip("xyz", measured)}))
    return pd.DataFrame(rows)


def substitution_statistics(fa_fractions: Sequence[float], repeat: int, seeds: int,
                            first_seed: int = 0) -> pd.DataFrame:
    """Realised FA fraction and nearest-neighbour Warren-Cowley parameter of random MA/FA cells.

    Returns
    -------
    One row per (x, seed): ``x_target``, ``x_realised``, ``atoms``, ``formula``, ``alpha_1``
    (NaN for the pure compounds, where it is undefined).
    """
    rows = []
    for x in fa_fractions:
        for k in range(seeds):
            atoms = build_mixed_perovskite(x, repeat, seed=first_seed + k)
            realised = atoms.info["fa_fraction"]
            rows.append(dict(x_target=x, x_realised=realised, atoms=len(atoms),
                             formula=atoms.get_chemical_formula(),
                             alpha_1=warren_cowley_alpha(atoms) if 0 < realised < 1 else np.nan))
    return pd.DataFrame(rows)
