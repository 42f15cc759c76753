"""Band edges of snapshots from DFT, on a common energy reference, cached per snapshot.

Units: eV, Å.

The embedded backend is GPAW in LCAO mode (dzp basis, PBE, Gamma point only; the settings are
:data:`softlattice.models.reference.GPAW_PARAMETERS`). A 2x2x2 cell of the cubic perovskite folds the R
point, where the gap of the cubic phase sits, onto Gamma, as the seed's cells do. PBE without
spin-orbit coupling gives gaps near experiment for lead iodides by a known error cancellation
(spin-orbit lowers the CBM by about 1 eV, the missing exchange raises it by about as much): only
trends and fluctuations are meaningful here, as in the seed.

**Common reference.** Eigenvalues of a periodic calculation have a code- and structure-dependent
zero (the average electrostatic potential of that cell), so the band edges of two snapshots are
compared only after each is referred to a level that moves with the potential, not with the band
edges: here the mean electrostatic potential at the Pb nuclei
(``get_atomic_electrostatic_potentials``, a core-level proxy; Pb carries the CBM and its
potential averages over all octahedra). ``vbm`` and ``cbm`` are reported relative to it;
``vbm_raw`` and ``cbm_raw`` are the raw eigenvalues. The spread of the band edges across
snapshots depends on this choice; the gap does not.

**Orbital character** of each edge: the squared PAW projections of the band, summed per species
and angular momentum and normalised, e.g. ``I-p`` 0.8 at the VBM.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from softlattice.infra.keys import structure_hash
from softlattice.infra.paths import RUNS_DIR
from softlattice.models.reference import GPAW_PARAMETERS, gpaw_missing_message

OCCUPIED = 1.0
"""Occupation (electrons per band, spin-paired) above which a band counts as occupied."""

PB_P_SHARE = 0.3
"""Share of Pb-p character from which an empty state counts as the Pb-p conduction-band edge."""

PI_STAR_SHARE = 0.5
"""Share of C-p plus N-p character from which an empty state counts as the molecular pi* level."""

CONDUCTION_BANDS_SEARCHED = 16
"""Empty bands (from the lowest) whose character is read when looking for those two states."""


@dataclass
class BandEdges:
    """Band edges of one snapshot.

    Attributes
    ----------
    vbm, cbm
        Valence-band maximum and conduction-band minimum relative to ``reference_level``, eV.
    gap
        ``cbm - vbm``, eV.
    vbm_raw, cbm_raw
        Eigenvalues as the code gives them, eV.
    reference_level
        Mean electrostatic potential at the Pb nuclei, eV.
    vbm_degeneracy, cbm_degeneracy
        Number of bands within 10 meV of each edge.
    character
        Orbital character of each edge: ``{'vbm': {'I-p': 0.8, ...}, 'cbm': {...}}``.
    scf_iterations, converged, attempts
        SCF bookkeeping (``attempts`` > 1 when safer mixing was needed).
    backend
        Name of the method.
    cbm_pb_p, pi_star
        Lowest empty state with at least :data:`PB_P_SHARE` Pb-p character (the conduction-band edge
        of the framework) and lowest with at least :data:`PI_STAR_SHARE` C-p + N-p character (FA's
        pi* level), relative to ``reference_level``, eV; None when none is among the
        :data:`CONDUCTION_BANDS_SEARCHED` lowest empty bands or no projections exist.
    """

    vbm: float
    cbm: float
    gap: float
    vbm_raw: float
    cbm_raw: float
    reference_level: float
    vbm_degeneracy: int
    cbm_degeneracy: int
    character: dict = field(default_factory=dict)
    scf_iterations: int = 0
    converged: bool = True
    attempts: int = 1
    backend: str = "gpaw-lcao-pbe"
    cbm_pb_p: float | None = None
    pi_star: float | None = None


class SCFNotConverged(RuntimeError):
    """The SCF did not converge, not even with the safer settings."""


def gpaw_calculator(safer: bool = False, **overrides):
    """A GPAW calculator with the compendium's settings; ``safer`` mixes more gently and allows
    more SCF iterations (the retry for a snapshot that did not converge)."""
    try:
        from gpaw import GPAW
    except ImportError as error:
        raise RuntimeError(gpaw_missing_message()) from error
    settings = dict(GPAW_PARAMETERS, txt=None, **overrides)
    if safer:
        from gpaw import Mixer
        settings.update(mixer=Mixer(beta=0.02, nmaxold=5, weight=100.0), maxiter=600)
    return GPAW(**settings)


def _band_characters(calculator, atoms: Atoms, bands: Sequence[int]) -> list[dict[str, float]]:
    """Orbital character of each of ``bands``: squared PAW projections summed per species and
    angular momentum, normalised, shares above 0.5 % (GPAW only)."""
    from gpaw.dos import IBZWaveFunctions, get_projector_numbers
    wave_functions = IBZWaveFunctions(calculator)
    symbols = atoms.get_chemical_symbols()
    weights: list[dict[str, float]] = [{} for _ in bands]
    for a, setup in enumerate(calculator.setups):
        for ell in range(3):
            indices = get_projector_numbers(setup, ell)
            if indices:
                per_band = wave_functions.pdos_weights(a, indices)[0, :, 0]
                key = f"{symbols[a]}-{'spd'[ell]}"
                for k, band in enumerate(bands):
                    weights[k][key] = weights[k].get(key, 0.0) + float(per_band[band])
    characters = []
    for band_weights in weights:
        total = sum(band_weights.values()) or 1.0
        characters.append({k: round(v / total, 4) for k, v in sorted(band_weights.items(), key=lambda kv: -kv[1])
                           if v / total > 0.005})
    return characters


def lowest_state_with(characters: list[dict[str, float]], orbitals: tuple[str, ...], min_share: float) -> int | None:
    """Index of the first state (states ordered by energy) whose summed share of ``orbitals``
    (keys such as 'Pb-p') is at least ``min_share``; None when there is none."""
    for index, character in enumerate(characters):
        if sum(character.get(orbital, 0.0) for orbital in orbitals) >= min_share:
            return index
    return None


def band_edges(atoms: Atoms, calculator_factory: Callable[..., object] | None = None,
               backend: str = "gpaw-lcao-pbe") -> BandEdges:
    """Band edges of one structure at the Gamma point.

    Parameters
    ----------
    atoms
        Periodic structure containing Pb (the reference level is the potential at the Pb nuclei).
    calculator_factory
        Makes the calculator; called with ``safer=True`` for the retry. Default
        :func:`gpaw_calculator`. A GPAW user may pass other GPAW settings here; another code must
        provide ``get_eigenvalues``, ``get_occupation_numbers`` and
        ``get_atomic_electrostatic_potentials``.
    backend
        Name stored with the result (and keying the cache).

    Raises
    ------
    SCFNotConverged
        When neither the default nor the safer SCF settings converge.
    """
    if "Pb" not in atoms.get_chemical_symbols():
        raise ValueError(f"structure {atoms.get_chemical_formula()} has no Pb: the band-edge reference is "
                         "the electrostatic potential at the Pb nuclei")
    if not all(atoms.pbc):
        raise ValueError("band edges are defined here for periodic structures only")
    factory = calculator_factory or gpaw_calculator
    errors = []
    for attempt, safer in enumerate((False, True), start=1):
        work = atoms.copy()
        calculator = factory(safer=safer)
        work.calc = calculator
        try:
            work.get_potential_energy()
        except Exception as error:  # GPAW's KohnShamConvergenceError, or any SCF failure of another code
            errors.append(f"{type(error).__name__}: {error}")
            continue
        eigenvalues = np.asarray(calculator.get_eigenvalues())
        occupations = np.asarray(calculator.get_occupation_numbers())
        occupied = np.flatnonzero(occupations > OCCUPIED)
        if occupied.size == 0 or occupied[-1] + 1 >= eigenvalues.size:
            raise ValueError(f"no band gap can be read: {occupied.size} occupied of {eigenvalues.size} bands")
        homo, lumo = int(occupied[-1]), int(occupied[-1] + 1)
        potentials = np.asarray(calculator.get_atomic_electrostatic_potentials())
        lead = np.array(atoms.get_chemical_symbols()) == "Pb"
        reference_level = float(potentials[lead].mean())
        vbm_raw, cbm_raw = float(eigenvalues[homo]), float(eigenvalues[lumo])
        character, empty_states = {}, {}
        try:
            empty = list(range(lumo, min(lumo + CONDUCTION_BANDS_SEARCHED, eigenvalues.size)))
            vbm_character, *characters = _band_characters(calculator, atoms, [homo, *empty])
            character = {"vbm": vbm_character, "cbm": characters[0]}
            for name, orbitals, share in (("cbm_pb_p", ("Pb-p",), PB_P_SHARE),
                                          ("pi_star", ("C-p", "N-p"), PI_STAR_SHARE)):
                found = lowest_state_with(characters, orbitals, share)
                if found is not None:
                    empty_states[name] = float(eigenvalues[lumo + found]) - reference_level
        except (ImportError, AttributeError):
            pass  # not GPAW: no projections
        iterations = calculator.get_number_of_iterations() if hasattr(calculator, "get_number_of_iterations") else 0
        return BandEdges(vbm=vbm_raw - reference_level, cbm=cbm_raw - reference_level, gap=cbm_raw - vbm_raw,
                         vbm_raw=vbm_raw, cbm_raw=cbm_raw, reference_level=reference_level,
                         vbm_degeneracy=int(np.sum(np.abs(eigenvalues[: homo + 1] - vbm_raw) < 0.01)),
                         cbm_degeneracy=int(np.sum(np.abs(eigenvalues[lumo:] - cbm_raw) < 0.01)),
                         character=character, scf_iterations=int(iterations or 0), converged=True,
                         attempts=attempt, backend=backend, **empty_states)
    raise SCFNotConverged(f"SCF of {atoms.get_chemical_formula()} did not converge with the default or the "
                          f"safer settings: {'; '.join(errors)}")


class BandEdgeCache:
    """Band edges on disk: ``<folder>/<backend>/<structure hash>.json``, written atomically
    (subclasses store another dataclass by setting ``record``)."""

    record: type = BandEdges

    def __init__(self, backend: str = "gpaw-lcao-pbe", folder: str | Path = RUNS_DIR / "band_edges"):
        if not backend or "/" in backend:
            raise ValueError(f"backend name {backend!r} must be non-empty and contain no '/'")
        self.folder = Path(folder) / backend
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, atoms: Atoms) -> Path:
        return self.folder / f"{structure_hash(atoms)}.json"

    def get(self, atoms: Atoms) -> BandEdges | None:
        path = self.path(atoms)
        return self.record(**json.loads(path.read_text())) if path.exists() else None

    def put(self, atoms: Atoms, edges) -> None:
        path = self.path(atoms)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # processes may store one record at once
        temporary.write_text(json.dumps(asdict(edges), indent=1))
        os.replace(temporary, path)

    def carried_file(self, folder: str | Path) -> Path:
        """The file in ``folder`` that carries this cache's records (:meth:`export_to`)."""
        return Path(folder) / f"{self.folder.name}.jsonl.gz"

    def export_to(self, folder: str | Path, keep: Collection[str] | None = None) -> int:
        """Write every record of this cache, and those ``folder`` already carries, into
        :meth:`carried_file` (one JSON object per line with the structure hash as ``hash``, sorted
        by it), so that labels computed over several sessions can be committed and restored on a
        new machine (:meth:`import_from`). With ``keep``, only the records of those structure hashes
        are carried (the cache also holds records of test and quick-profile cells). Returns the
        number of records it carries."""
        records = self._carried(folder)
        for path in self.folder.glob("*.json"):
            records[path.stem] = json.loads(path.read_text())
        if keep is not None:
            records = {key: record for key, record in records.items() if key in keep}
        target = self.carried_file(folder)
        if not records and not target.exists():
            return 0
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        # the header names the target, not the temporary file, so an unchanged carry is byte-identical
        with open(temporary, "wb") as raw, gzip.GzipFile(target.name, "wb", fileobj=raw, mtime=0) as packed:
            packed.write("".join(json.dumps(dict(hash=key, **records[key])) + "\n" for key in sorted(records)).encode())
        os.replace(temporary, target)
        return len(records)

    def import_from(self, folder: str | Path) -> int:
        """Restore the records :meth:`carried_file` in ``folder`` holds and this cache lacks;
        returns how many (none when ``folder`` carries nothing for this cache)."""
        restored = 0
        for key, record in self._carried(folder).items():
            path = self.folder / f"{key}.json"
            if not path.exists():
                temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                temporary.write_text(json.dumps(record, indent=1))
                os.replace(temporary, path)
                restored += 1
        return restored

    def _carried(self, folder: str | Path) -> dict[str, dict]:
        path = self.carried_file(folder)
        if not path.exists():
            return {}
        with gzip.open(path, "rt") as lines:
            rows = [json.loads(line) for line in lines if line.strip()]
        return {row.pop("hash"): row for row in rows}


def cached_band_edges(atoms: Atoms, cache: BandEdgeCache | None = None,
                      calculator_factory: Callable[..., object] | None = None) -> BandEdges:
    """:func:`band_edges` through the cache (a hit costs nothing; a miss computes and stores)."""
    cache = cache or BandEdgeCache()
    found = cache.get(atoms)
    if found is None:
        found = band_edges(atoms, calculator_factory, backend=cache.folder.name)
        cache.put(atoms, found)
    return found
