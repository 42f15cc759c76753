"""Training structures for the Ag3SBr(x)I(1-x) models: parent phonons, thermally displaced and
rattled cells, and a stable held-out split (the seed's Sec. II B).

Units: Å, K, eV.

The seed displaces the cubic 2x2x2 cells (40 atoms) by the thermal amplitudes of Eq. (1), from
phonopy force constants of the parents Ag3SBr and Ag3SI, at 100-600 K, and adds rattled and
equilibrium cells. Here the force constants come from the chosen reference calculator (any ASE
calculator; the default is the compendium's embedded reference). A mixed cell takes, per atom,
the RMS displacement of its site in the parent of its own halide (halide sites) or the
composition-weighted mean of the two parents (Ag and S sites), and the Vegard's-law lattice
constant between the parents relaxed with the same reference.

Imaginary parent modes (the cubic antiperovskites are dynamically unstable at 0 K, the seed's
Fig. 6b) contribute no amplitude: phonopy's harmonic thermal displacements skip them. The
displacements along the unstable directions are therefore only those of the stable branches,
as in the seed's harmonic construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS

from softlattice.antiperovskite.structures import (
    HALIDES,
    build_antiperovskite,
    decorate,
    inequivalent_orderings,
    n_bromide,
    rms_thermal_displacements,
    thermal_displacement_structures,
)

BASIS_SITES = 5
"""Atoms of the 5-atom antiperovskite cell: halide, S, Ag, Ag, Ag (ASE's ``repeat`` keeps this
order within every copy)."""


@dataclass(frozen=True)
class CapDatasetSettings:
    """What the training set contains.

    Attributes
    ----------
    br_fractions
        Compositions x (multiples of 1/8).
    orderings_per_x
        At most this many symmetry-inequivalent Br/I orderings per x (a random choice, seeded,
        where there are more).
    temperatures
        Temperatures (K) of the thermal displacements of Eq. (1).
    per_temperature
        Displaced cells per ordering and temperature.
    rattled
        Cells per ordering with Gaussian displacements of ``rattle_std`` Å on every coordinate.
    equilibrium
        Include the undisplaced cell of every ordering (the seed uses these for the GNN only).
    phonon_mesh
        q-point mesh (per direction) of the thermal amplitudes.
    seed
        Seed of every random choice.
    """

    br_fractions: tuple[float, ...] = tuple(k / 8 for k in range(9))
    orderings_per_x: int = 6
    temperatures: tuple[float, ...] = (100.0, 200.0, 300.0, 400.0, 500.0, 600.0)
    per_temperature: int = 2
    rattled: int = 1
    rattle_std: float = 0.05
    equilibrium: bool = True
    phonon_mesh: int = 8
    seed: int = 0

    def __post_init__(self):
        for x in self.br_fractions:
            n_bromide(x)  # raises naming the composition that does not fit 8 halide sites
        if self.orderings_per_x < 1 or self.per_temperature < 0 or self.rattled < 0:
            raise ValueError(f"need orderings_per_x >= 1 and per_temperature, rattled >= 0; got "
                             f"{self.orderings_per_x}, {self.per_temperature}, {self.rattled}")
        if any(not t > 0 for t in self.temperatures):
            raise ValueError(f"temperatures {self.temperatures} K must all be > 0")
        if not self.rattle_std >= 0:
            raise ValueError(f"rattle_std {self.rattle_std!r} Å must be >= 0")


def relaxed_parent(halide: str, calculator, fmax: float = 0.002, steps: int = 200) -> Atoms:
    """The cubic 5-atom Ag3SX cell at the lattice constant where ``calculator`` has no pressure
    (positions stay at their Pm-3m sites, where symmetry makes every force vanish), rounded to
    1e-4 Å: the relaxation's last digits depend on float noise (e.g. the thread count), and the
    generated structures, their hashes and every cache keyed by them must not."""
    atoms = build_antiperovskite(halide)
    atoms.calc = calculator
    BFGS(FrechetCellFilter(atoms, hydrostatic_strain=True), logfile=None).run(fmax=fmax, steps=steps)
    return build_antiperovskite(halide, round(float(np.cbrt(atoms.get_volume())), 4))


def parent_phonons(halide: str, calculator, supercell: int = 2, displacement: float = 0.01):
    """Phonopy object of the relaxed parent Ag3SX with force constants from ``calculator``
    (calorine's ``get_force_constants``: phonopy finite displacements in a ``supercell``^3 cell)."""
    from calorine.tools import get_force_constants
    if halide not in HALIDES:
        raise ValueError(f"unknown halide {halide!r}; allowed: {', '.join(HALIDES)}")
    parent = relaxed_parent(halide, calculator)
    phonon = get_force_constants(parent, calculator, [supercell] * 3, kwargs_phonopy={"primitive_matrix": "P"},
                                 kwargs_generate_displacements={"distance": displacement})
    phonon.symmetrize_force_constants()  # exact acoustic sum rule and index symmetry
    return phonon


def lattice_constant(phonon) -> float:
    """Cubic lattice constant (Å) of a parent phonopy object's unit cell."""
    return float(np.cbrt(abs(np.linalg.det(phonon.unitcell.cell))))


def site_rms(atoms: Atoms, parent_rms: dict[str, np.ndarray]) -> np.ndarray:
    """RMS thermal displacement (Å) of every atom of a decorated supercell, shape (N, 3).

    Parameters
    ----------
    atoms
        A cell from :func:`softlattice.antiperovskite.structures.decorate` (atoms in the order of the 5-atom
        basis, repeated), with ``info['br_fraction']``.
    parent_rms
        Per halide, the (5, 3) RMS displacements of the parent's basis atoms at one temperature.
    """
    if len(atoms) % BASIS_SITES:
        raise ValueError(f"{len(atoms)} atoms is not a whole number of {BASIS_SITES}-atom antiperovskite cells")
    x = float(atoms.info["br_fraction"])
    mixed = x * parent_rms["Br"] + (1 - x) * parent_rms["I"]
    symbols = atoms.get_chemical_symbols()
    rms = np.empty((len(atoms), 3))
    for index, symbol in enumerate(symbols):
        basis = index % BASIS_SITES
        rms[index] = parent_rms[symbol][basis] if symbol in HALIDES else mixed[basis]
    return rms


def ordering_choice(x: float, limit: int, seed: int = 0) -> list[tuple[int, ...]]:
    """At most ``limit`` symmetry-inequivalent orderings at ``x`` (all when there are fewer; a
    seeded random subset, in enumeration order, otherwise)."""
    orderings = inequivalent_orderings(x)
    if len(orderings) <= limit:
        return orderings
    chosen = np.random.default_rng(seed).choice(len(orderings), size=limit, replace=False)
    return [orderings[i] for i in sorted(chosen)]


def dataset_structures(settings: CapDatasetSettings, phonons: dict[str, object]) -> list[Atoms]:
    """Every structure of the training set.

    Parameters
    ----------
    settings
        What to generate.
    phonons
        Parent phonopy objects with force constants, keyed 'Br' and 'I' (:func:`parent_phonons`).

    Returns
    -------
    Cells with ``info``: ``br_fraction``, ``ordering``, ``origin`` ('thermal', 'rattled' or
    'equilibrium'), ``temperature`` (thermal ones).
    """
    missing = [h for h in HALIDES if h not in phonons]
    if missing:
        raise ValueError(f"parent phonons missing for {missing}; need both of {HALIDES}")
    constants = {h: lattice_constant(phonons[h]) for h in HALIDES}
    amplitudes = {t: {h: rms_thermal_displacements(phonons[h], t, settings.phonon_mesh) for h in HALIDES}
                  for t in settings.temperatures}
    rng = np.random.default_rng(settings.seed)
    structures = []
    for x in settings.br_fractions:
        for ordering in ordering_choice(x, settings.orderings_per_x, settings.seed):
            ideal = decorate(x, ordering)
            vegard = x * constants["Br"] + (1 - x) * constants["I"]
            ideal.set_cell(np.eye(3) * 2 * vegard, scale_atoms=True)
            if settings.equilibrium:
                equilibrium = ideal.copy()
                equilibrium.info["origin"] = "equilibrium"
                structures.append(equilibrium)
            for temperature in settings.temperatures:
                structures += thermal_displacement_structures(
                    ideal, site_rms(ideal, amplitudes[temperature]), settings.per_temperature,
                    seed=int(rng.integers(2 ** 31)), temperature=temperature)
            for _ in range(settings.rattled):
                rattled = ideal.copy()
                rattled.positions += rng.normal(0.0, settings.rattle_std, rattled.positions.shape)
                rattled.info["origin"] = "rattled"
                structures.append(rattled)
    return structures


