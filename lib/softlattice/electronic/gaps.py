"""Band gaps at two levels of theory for the GNN's two training stages, cached per structure.

Units: eV.

The seed labels many structures with PBEsol gaps and fewer with HSEsol gaps. Neither VASP nor a
hybrid functional is affordable here; the compendium's electronic-structure backend (GPAW, LCAO,
dzp basis, Gamma point: :data:`softlattice.models.reference.GPAW_PARAMETERS`) offers:

- ``'pbe'``: the Kohn-Sham gap of PBE, the cheap semilocal level (underestimates gaps, as PBEsol does);
- ``'gllbsc'``: GLLB-SC (Gritsenko-van Leeuwen-van Lenthe-Baerends with PBEsol correlation), whose
  quasi-particle gap adds the derivative discontinuity to the Kohn-Sham gap and lands near hybrid
  and experimental gaps for many semiconductors at a few times the cost of PBE: the "more
  accurate" level, standing in for the seed's hybrid.

Both use the Gamma point of the 40-atom cell, which folds the cubic Gamma, X, M and R points.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from softlattice.electronic.band_edges import BandEdgeCache, SCFNotConverged, gpaw_calculator
from softlattice.infra.paths import RUNS_DIR

GAP_LEVELS: dict[str, dict] = {"pbe": dict(xc="PBE"), "gllbsc": dict(xc="GLLBSC")}
"""GPAW settings that differ between the two levels (the rest: :func:`electronic.gpaw_calculator`)."""

GAP_GRID_SPACING = 0.3
"""Real-space grid spacing (Å) of the gap calculations: coarser than the 0.2 Å of the band edges,
since the gap of a 40-atom Ag3SBr0.5I0.5 cell changes by 0.6 meV between the two (measured) at
half the cost."""


@dataclass
class GapResult:
    """Band gap of one structure.

    Attributes
    ----------
    gap
        The level's gap, eV: Kohn-Sham for 'pbe', quasi-particle (Kohn-Sham + discontinuity) for
        'gllbsc'.
    kohn_sham_gap, discontinuity
        The two parts, eV (discontinuity 0 for 'pbe').
    scf_iterations, attempts, seconds
        SCF bookkeeping and wall time.
    level
        'pbe' or 'gllbsc'.
    """

    gap: float
    kohn_sham_gap: float
    discontinuity: float
    scf_iterations: int
    attempts: int
    seconds: float
    level: str


def check_level(level: str) -> None:
    if level not in GAP_LEVELS:
        raise ValueError(f"unknown gap level {level!r}; allowed: {', '.join(GAP_LEVELS)}")


def band_gap(atoms: Atoms, level: str = "pbe", **overrides) -> GapResult:
    """Gap of ``atoms`` at ``level`` (GPAW; ``overrides`` change other GPAW settings).

    Raises
    ------
    SCFNotConverged
        When neither the default nor the safer SCF settings converge.
    """
    check_level(level)
    if not all(atoms.pbc):
        raise ValueError("band gaps are computed here for periodic structures only")
    started = time.perf_counter()
    errors = []
    for attempt, safer in enumerate((False, True), start=1):
        work = atoms.copy()
        calculator = gpaw_calculator(safer=safer, **{"h": GAP_GRID_SPACING, **GAP_LEVELS[level], **overrides})
        work.calc = calculator
        try:
            work.get_potential_energy()
        except Exception as error:  # KohnShamConvergenceError or another SCF failure
            errors.append(f"{type(error).__name__}: {error}")
            continue
        homo, lumo = calculator.get_homo_lumo()
        kohn_sham = float(lumo - homo)
        discontinuity = 0.0
        if level == "gllbsc":
            response = calculator.hamiltonian.xc.response
            kohn_sham, discontinuity = (float(v) for v in response.calculate_discontinuity(
                response.calculate_discontinuity_potential(homo, lumo)))
        return GapResult(gap=kohn_sham + discontinuity, kohn_sham_gap=kohn_sham, discontinuity=discontinuity,
                         scf_iterations=int(calculator.get_number_of_iterations() or 0), attempts=attempt,
                         seconds=time.perf_counter() - started, level=level)
    raise SCFNotConverged(f"SCF of {atoms.get_chemical_formula()} at level {level} did not converge with the default "
                          f"or the safer settings: {'; '.join(errors)}")


class GapCache(BandEdgeCache):
    """Gaps on disk: ``<folder>/gap-<level>[-<overrides>]/<structure hash>.json``."""

    record = GapResult

    def __init__(self, level: str, folder: str | Path = RUNS_DIR / "gaps", **overrides):
        check_level(level)
        suffix = "".join(f"-{k}{v}" for k, v in sorted(overrides.items())).replace("(", "_").replace(")", "")
        super().__init__(f"gap-{level}{suffix}", folder)


def compute_gaps(structures: Sequence[Atoms], level: str, folder: str | Path = RUNS_DIR / "gaps",
                 progress: bool = False, **overrides) -> tuple[np.ndarray, list[str]]:
    """Gaps of ``structures`` at ``level`` through the cache (an interrupted run loses at most the
    structure in progress).

    ``overrides`` change GPAW settings (e.g. ``basis='sz(dzp)'`` for a quick run) and key the cache.

    Returns
    -------
    Gaps (eV; NaN where the SCF failed) and one message per failed structure (excluded, counted,
    never kept).
    """
    cache = GapCache(level, folder, **overrides)
    gaps, failures = np.full(len(structures), np.nan), []
    iterator = enumerate(structures)
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(iterator, total=len(structures), desc=f"{level} gaps")
    for index, atoms in iterator:
        found = cache.get(atoms)
        if found is None:
            try:
                found = band_gap(atoms, level, **overrides)
            except SCFNotConverged as error:
                failures.append(f"structure {index}: {error}")
                continue
            cache.put(atoms, found)
        gaps[index] = found.gap
    return gaps, failures
