"""Physical checks of a MA/FA potential against its reference: FA rotation barriers (NEB), phase
energy differences versus composition, and MD stability.

Units: eV, Å, K, ps; energies are reported in meV (per path or per formula unit).

The seed (Hainer et al., Fig. 1b-e) shows NEB paths of one FA cation rotating about three axes
and NEP-vs-DFT phase energy differences grouped by FA fraction. Here the same quantities come from
any two ASE calculators (the NEP and its reference) on the same structures.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.constraints import FixAtoms
from ase.filters import FrechetCellFilter
from ase.io import read
from ase.mep import NEB
from ase.neighborlist import neighbor_list
from ase.optimize import FIRE
from scipy.spatial.transform import Rotation

from softlattice.infra.cli import positive_int, writable_folder
from softlattice.infra.keys import file_hash, json_key
from softlattice.infra.log import progress_printer
from softlattice.infra.paths import DATA_DIR
from softlattice.infra.profiles import settings_from_mapping
from softlattice.infra.provenance import read_provenance, write_provenance
from softlattice.infra.resultsets import ResultSet, obtain
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDBlowUp, MDSettings, read_segment_ends, run_md
from softlattice.md.protocols import hold
from softlattice.models.reference import reference_calculator
from softlattice.perovskite.modes import tilt_observers
from softlattice.perovskite.phases import classify_windows, noise_thresholds, persistent_tilt_text, persistent_tilts
from softlattice.perovskite.sites import site_shifts
from softlattice.perovskite.student_criteria import phase_energy_agreement, student_criteria
from softlattice.perovskite.structures import a_site_species, build_mixed_perovskite
from softlattice.perovskite.tilts import measure_tilt_angles

ROTATION_AXES = ("N-N", "C-H", "normal")
"""Axes of FA: along N...N, along the C-H bond (the molecule's two-fold axis) and normal to the
molecular plane; each path turns the molecule by 180 degrees about one of them."""


def fa_axes(atoms: Atoms, site: int) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Indices, the three unit axes (:data:`ROTATION_AXES`) and the centroid (Å) of the FA cation on
    A site ``site`` (positions unwrapped around its carbon atom)."""
    indices = np.flatnonzero(atoms.arrays["a_site"] == site)
    symbols = np.array(atoms.get_chemical_symbols())[indices]
    if sorted(symbols) != sorted(["C", "N", "N", "H", "H", "H", "H", "H"]):
        raise ValueError(f"A site {site} holds {''.join(sorted(symbols))}, not formamidinium")
    carbon = indices[symbols == "C"][0]
    local = atoms.get_distances(carbon, indices, mic=True, vector=True) + atoms.positions[carbon]
    nitrogens = local[symbols == "N"]
    n_n = nitrogens[1] - nitrogens[0]
    n_n /= np.linalg.norm(n_n)
    carbon_position = local[list(indices).index(carbon)]
    bonded_h = local[symbols == "H"][np.argmin(np.linalg.norm(local[symbols == "H"] - carbon_position, axis=1))]
    c_h = bonded_h - carbon_position
    c_h -= c_h.dot(n_n) * n_n
    c_h /= np.linalg.norm(c_h)
    return indices, {"N-N": n_n, "C-H": c_h, "normal": np.cross(n_n, c_h)}, local.mean(axis=0)


def rotation_images(atoms: Atoms, site: int, axis: str, images: int, angle: float = 180.0) -> list[Atoms]:
    """``images + 2`` copies of ``atoms`` with the FA on ``site`` turned rigidly by 0..``angle``
    degrees about ``axis`` through its centroid (the NEB's initial path)."""
    if axis not in ROTATION_AXES:
        raise ValueError(f"unknown rotation axis {axis!r}; allowed: {', '.join(ROTATION_AXES)}")
    if images < 1:
        raise ValueError(f"images {images!r} must be a positive integer")
    indices, axes, centre = fa_axes(atoms, site)
    carbon = indices[np.array(atoms.get_chemical_symbols())[indices] == "C"][0]
    local = atoms.get_distances(carbon, indices, mic=True, vector=True) + atoms.positions[carbon] - centre
    path = []
    for theta in np.linspace(0.0, angle, images + 2):
        image = atoms.copy()
        image.positions[indices] = centre + Rotation.from_rotvec(np.deg2rad(theta) * axes[axis]).apply(local)
        image.info["rotation_deg"] = float(theta)
        path.append(image)
    return path


def fa_rotation_neb(atoms: Atoms, calculator: Calculator, axis: str, site: int | None = None,
                    images: int = 5, fmax: float = 0.05, steps: int = 200) -> pd.DataFrame:
    """Minimum-energy path of one FA cation turning by 180 degrees about ``axis`` inside a frozen
    framework (climbing-image NEB, ASE), with only that cation's atoms free.

    The end states are relaxed first (the cation alone), so the path starts and ends in minima of
    the same calculator.

    Parameters
    ----------
    atoms
        Perovskite cell from :mod:`softlattice.perovskite.structures` holding at least one FA.
    calculator
        Any ASE calculator (shared by all images).
    axis
        One of :data:`ROTATION_AXES`.
    site
        A site of the cation (default: the first FA).
    images, fmax, steps
        Interior images, force tolerance (eV/Å) and largest number of optimiser steps.

    Returns
    -------
    One row per image: ``image``, initial ``rotation_deg``, ``energy_meV`` relative to the first end
    state, plus ``converged`` (bool, same on all rows).
    """

    if site is None:
        fa_sites = np.flatnonzero(a_site_species(atoms) == "FA")
        if fa_sites.size == 0:
            raise ValueError("the structure holds no FA cation")
        site = int(fa_sites[0])
    path = rotation_images(atoms, site, axis, images)
    free = np.flatnonzero(atoms.arrays["a_site"] == site)
    for image in path:
        image.set_constraint(FixAtoms(mask=~np.isin(np.arange(len(image)), free)))
        image.calc = calculator
    for end in (path[0], path[-1]):
        FIRE(end, logfile=None).run(fmax=fmax, steps=steps)
    neb = NEB(path, climb=True, allow_shared_calculator=True, method="improvedtangent")
    converged = bool(FIRE(neb, logfile=None).run(fmax=fmax, steps=steps))
    energies = np.array([image.get_potential_energy() for image in path])
    return pd.DataFrame(dict(image=np.arange(len(path)), rotation_deg=[i.info["rotation_deg"] for i in path],
                             energy_meV=1000 * (energies - energies[0]), converged=converged))


def relaxed_phase_energies(calculator_factory: Callable[[], Calculator], fa_fractions: Sequence[float],
                           glazers: Sequence[str], repeat: int = 2, tilt_angle: float = 8.0,
                           fmax: float = 0.05, steps: int = 150, seed: int = 0,
                           molecule_orientation: str = "fit", cache_dir: str | Path | None = None) -> pd.DataFrame:
    """Energy per formula unit of each tilt phase relative to the untilted cell of the same
    composition and molecular arrangement, after relaxing positions and cell (FIRE on ASE's
    FrechetCellFilter).

    Every phase of one composition shares its A-site arrangement and molecular orientations
    (same ``seed``), so the differences come from the tilts and what the relaxation does to them.
    ``molecule_orientation`` is passed to :func:`softlattice.perovskite.structures.build_mixed_perovskite`
    ('fit': aligned to the cage; 'random': drawn with ``seed``). With ``cache_dir`` each finished
    relaxation is kept there (keyed by its settings), so an interrupted call redoes none of them.

    Returns
    -------
    Rows ``fa_fraction``, ``glazer``, ``energy_meV_per_fu`` (relative to 'a0a0a0'),
    ``tilt_<axis>_deg`` after relaxation (mean absolute octahedral tilt about x, y, z), ``steps``,
    ``converged``.
    """


    if "a0a0a0" not in glazers:
        raise ValueError(f"glazers {list(glazers)} must include the reference phase 'a0a0a0'")
    rows = []
    for x in fa_fractions:
        for glazer in glazers:
            key = json_key(dict(x=float(x), glazer=glazer, repeat=repeat, tilt_angle=tilt_angle, fmax=fmax,
                                steps=steps, seed=seed, molecule_orientation=molecule_orientation))
            cached = Path(cache_dir) / f"{key}.json" if cache_dir is not None else None
            if cached is not None and cached.exists():
                rows.append(json.loads(cached.read_text()))
                continue
            atoms = build_mixed_perovskite(x, repeat, glazer=glazer, tilt_angle=tilt_angle, seed=seed,
                                           molecule_orientation=molecule_orientation)
            n_formula_units = int(atoms.arrays["a_site"].max() + 1)
            atoms.calc = calculator_factory()
            optimiser = FIRE(FrechetCellFilter(atoms), logfile=None)
            converged = bool(optimiser.run(fmax=fmax, steps=steps))
            tilts = measure_tilt_angles(atoms).mean_abs_angles
            rows.append(dict(fa_fraction=float(x), glazer=glazer,
                             energy_eV_per_fu=float(atoms.get_potential_energy()) / n_formula_units,
                             **{f"tilt_{k}_deg": float(v) for k, v in zip("xyz", tilts)},
                             steps=int(optimiser.nsteps), converged=converged))
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.with_suffix(".tmp").write_text(json.dumps(rows[-1]))
                cached.with_suffix(".tmp").replace(cached)
    frame = pd.DataFrame(rows)
    untilted = frame[frame.glazer == "a0a0a0"].set_index("fa_fraction").energy_eV_per_fu
    frame["energy_meV_per_fu"] = 1000 * (frame.energy_eV_per_fu - frame.fa_fraction.map(untilted))
    return frame.drop(columns="energy_eV_per_fu")


@dataclass
class StabilityResult:
    """Outcome of :func:`stability_check`.

    Attributes
    ----------
    survived
        The NPT run reached its end without the engine's blow-up checks firing.
    reached_ps
        Time reached in the NPT run, ps.
    longest_bond_ratio
        Largest intramolecular bond length seen over the snapshots, relative to its starting
        length (dissociation shows as values far above 1).
    largest_cation_shift, largest_iodine_shift
        Largest distance (Å) of a cation's centroid, and of an iodine, from its starting position
        relative to the lead framework (the mean lead displacement removed: the Langevin thermostat
        does not conserve momentum, so the whole crystal drifts). Thermal motion keeps them near
        1-2 Å; half the Pb-Pb distance (about 3.2 Å) or more means the ion left its site: a cation
        its cage (how FA would cluster), an iodine its octahedral corner.
    message
        Why the run stopped, if it did.
    nve_drift_meV_per_atom_per_ps
        Slope of the total energy in the NVE continuation (NaN if it was not reached).
    observations
        The NPT and NVE observations, with a ``stage`` column.
    """

    survived: bool
    reached_ps: float
    longest_bond_ratio: float
    largest_cation_shift: float
    largest_iodine_shift: float
    message: str
    nve_drift_meV_per_atom_per_ps: float
    observations: pd.DataFrame


def _bonded_pairs(atoms: Atoms) -> np.ndarray:
    """Intramolecular bonded pairs (i, j) of the starting structure (within 1.6 Å, same A site)."""
    i, j = neighbor_list("ij", atoms, 1.6)
    sites = atoms.arrays["a_site"]
    keep = (i < j) & (sites[i] >= 0) & (sites[i] == sites[j])
    return np.column_stack([i[keep], j[keep]])


def stability_check(model: str, fa_fraction: float, temperature: float = 400.0, duration_ps: float = 20.0,
                    nve_ps: float = 5.0, repeat: int = 4, seed: int = 0,
                    engine: str = "auto", checkpoint_dir: str | Path | None = None) -> StabilityResult:
    """NPT at ``temperature`` for ``duration_ps`` (0.5 fs, real masses) from the cubic mixed cell,
    then NVE for ``nve_ps``; report dissociation, cation escape, arrangement and energy drift.

    With ``checkpoint_dir`` the NPT run is checkpointed every 5 ps and resumes after a kill; the
    bond and cation checks then see the snapshots of the resumed part and every segment end."""

    atoms = build_mixed_perovskite(fa_fraction, repeat, glazer="a0a0a0", seed=seed)
    pairs = _bonded_pairs(atoms)
    start_lengths = atoms.get_distances(pairs[:, 0], pairs[:, 1], mic=True) if len(pairs) else np.ones(0)
    calculator = nep_calculator(model, engine, atoms=atoms)
    snapshots: list[Atoms] = []
    frames = []
    survived, nve_drift, message = True, float("nan"), ""
    settings = MDSettings(ensemble="npt", timestep_fs=0.5, sample_interval=40, seed=seed)
    try:
        result = run_md(atoms, calculator, hold(temperature, duration_ps), settings,
                        checkpoint_dir=checkpoint_dir, model_id=file_hash(model),
                        keep_segment_ends=checkpoint_dir is not None,
                        snapshots=snapshots, snapshot_every=5, observers=tilt_observers(atoms))
        if checkpoint_dir is not None:
            snapshots += read_segment_ends(Path(checkpoint_dir) / "segment_ends.extxyz")
        frames.append(result.observations.assign(stage="npt"))
        continuation = result.final_atoms.copy()
        nve = run_md(continuation, calculator, hold(temperature, nve_ps),
                     MDSettings(ensemble="nve", timestep_fs=0.5, sample_interval=40, seed=seed + 1))
        frames.append(nve.observations.assign(stage="nve"))
        total = nve.observations.epot_eV_per_atom + nve.observations.ekin_eV_per_atom
        nve_drift = float(1000 * np.polyfit(nve.observations.time_ps, total, 1)[0])
        snapshots.append(nve.final_atoms)
    except MDBlowUp as error:
        survived, message = False, str(error)
    reached = float(duration_ps) if survived else float(snapshots[-1].info["time_ps"] if snapshots else 0.0)
    longest, cation_shift, iodine_shift = 1.0, 0.0, 0.0
    for snapshot in snapshots:
        if len(pairs):
            lengths = snapshot.get_distances(pairs[:, 0], pairs[:, 1], mic=True)
            longest = max(longest, float((lengths / start_lengths).max()))
        cations, iodines = site_shifts(snapshot, atoms)
        cation_shift = max(cation_shift, float(np.linalg.norm(cations, axis=1).max()))
        iodine_shift = max(iodine_shift, float(np.linalg.norm(iodines, axis=1).max()))
    return StabilityResult(survived, reached, longest, cation_shift, iodine_shift, message, nve_drift,
                           pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())


def tilt_persistence(model: str, fa_fraction: float, start: str, temperature: float, noise_reference: pd.DataFrame,
                     duration_ps: float = 20.0, repeat: int = 4, window_ps: float = 1.0, n_sigma: float = 5.0,
                     seed: int = 0, checkpoint_dir: str | Path | None = None) -> tuple[dict, pd.DataFrame]:
    """Which tilt a cell started in ``start`` ends in after NPT at ``temperature`` (K).

    The cell (``repeat``^3 pseudo-cubic cells, 0.5 fs, real masses) is classified in windows of
    ``window_ps`` (:func:`softlattice.perovskite.phases.classify_windows`) against the noise of
    ``noise_reference``, the observations of an untilted run of the same composition, with one
    threshold for M and R (the 'equal' rule, so neither tilt is favoured by its noise; scaled to
    ``temperature`` as thermal amplitudes, sqrt(T)). The phase it ends in
    is the most frequent window label of the second half of the run, with that label's share of the
    second half; the pseudo-cubic lattice parameter (volume per cell)^(1/3) is averaged there too.

    Returns
    -------
    A row (``fa_fraction``, ``start``, ``temperature_K``, ``end_phase``, ``end_share``, mean
    |Q| of every mode over the second half in Å, ``pseudo_cubic_A``, ``a_A``, ``b_A``, ``c_A``,
    ``survived``, ``message``) and the run's observations.
    """
    settings = MDSettings(ensemble="npt", timestep_fs=0.5, sample_interval=40, seed=seed)
    window = max(1, int(round(window_ps * 1000 / (settings.timestep_fs * settings.sample_interval))))
    thresholds = noise_thresholds(noise_reference, window, n_sigma, rule="equal")
    atoms = build_mixed_perovskite(fa_fraction, repeat, glazer=start, tilt_angle=8.0, seed=seed)
    row = dict(fa_fraction=float(fa_fraction), start=start, temperature_K=float(temperature), survived=True,
               message="")
    try:
        result = run_md(atoms, nep_calculator(model, atoms=atoms), hold(temperature, duration_ps), settings,
                        checkpoint_dir=checkpoint_dir, model_id=file_hash(model), observers=tilt_observers(atoms))
    except MDBlowUp as error:
        return dict(row, survived=False, message=str(error), end_phase="blew up", end_share=np.nan), pd.DataFrame()
    observations = result.observations
    second_half = observations.iloc[len(observations) // 2:]
    windows = classify_windows(second_half, thresholds)
    counts = windows.phase.value_counts()
    means = {f"abs_{column}": float(np.abs(second_half[column]).mean())
             for column in second_half.columns if column.startswith("Q_")}
    return dict(row, end_phase=str(counts.index[0]), end_share=float(counts.iloc[0] / len(windows)), **means,
                pseudo_cubic_A=float(np.cbrt(second_half.volume_per_cell_A3).mean()),
                a_A=float(second_half.a_A.mean()), b_A=float(second_half.b_A.mean()),
                c_A=float(second_half.c_A.mean()),
                m_threshold_A=float(thresholds.at(temperature)[0]),
                r_threshold_A=float(thresholds.at(temperature)[1])), observations


@dataclass(frozen=True)
class CheckSettings:
    """What :func:`run_checks` computes.

    Attributes
    ----------
    neb_fa_fraction, neb_repeat
        Cell of the rotation paths (FA fraction, supercell of the cubic cell).
    neb_axes, neb_images, neb_fmax, neb_steps
        Rotation axes, interior images, force tolerance (eV/Å), largest number of steps.
    phase_fa_fractions, phase_glazers, phase_fmax, phase_steps
        Compositions and phases of the relaxed energy differences.
    stability_fa_fractions, stability_temperature, stability_ps, stability_nve_ps, stability_repeat
        MD stability runs (K, ps; supercell 4 gives 768 atoms).
    mass_temperature, mass_repeat, mass_equilibration_ps, mass_production_ps, hydrogen_mass,
    heavy_timestep_fs
        The heavy-hydrogen check (:func:`softlattice.perovskite.workflows.masscheck.compare_masses`): MAPbI3 NPT with
        real masses at 0.5 fs and with H of ``hydrogen_mass`` amu at ``heavy_timestep_fs``.
    tilt_cases, tilt_temperatures, tilt_ps, tilt_repeat, tilt_window_ps, tilt_n_sigma
        The finite-temperature tilt test (:func:`tilt_persistence`): NPT of each (FA fraction,
        starting phase) case at each temperature (K) for ``tilt_ps``; the phase it ends in is read
        from windows of ``tilt_window_ps`` against noise thresholds of ``tilt_n_sigma`` from the
        stability run of the same composition (so every case's composition must be one of
        ``stability_fa_fractions``). No cases: no test.
    seed
        Seed of arrangements and MD.
    """

    neb_fa_fraction: float = 1.0
    neb_repeat: int = 2
    neb_axes: tuple[str, ...] = ROTATION_AXES
    neb_images: int = 5
    neb_fmax: float = 0.05
    neb_steps: int = 80
    phase_fa_fractions: tuple[float, ...] = (0.0, 0.5, 1.0)
    phase_glazers: tuple[str, ...] = ("a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+")
    phase_fmax: float = 0.05
    phase_steps: int = 100
    stability_fa_fractions: tuple[float, ...] = (0.0, 0.5, 1.0)
    stability_temperature: float = 400.0
    stability_ps: float = 20.0
    stability_nve_ps: float = 2.0
    stability_repeat: int = 4
    mass_temperature: float = 300.0
    mass_repeat: int = 2
    mass_equilibration_ps: float = 5.0
    mass_production_ps: float = 20.0
    hydrogen_mass: float = 4.0
    heavy_timestep_fs: float = 1.0
    tilt_cases: tuple[tuple[float, str], ...] = ()
    tilt_temperatures: tuple[float, ...] = ()
    tilt_ps: float = 20.0
    tilt_repeat: int = 4
    tilt_window_ps: float = 1.0
    tilt_n_sigma: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        orphans = sorted({float(x) for x, _ in self.tilt_cases} - {float(x) for x in self.stability_fa_fractions})
        if orphans:
            raise ValueError(f"tilt cases at FA fractions {orphans} have no stability run for their noise "
                             f"thresholds; stability_fa_fractions are {list(self.stability_fa_fractions)}")
        if self.tilt_cases and not self.tilt_temperatures:
            raise ValueError("tilt cases are given but no tilt_temperatures")
        if any(not t > 0 for t in self.tilt_temperatures):
            raise ValueError(f"tilt temperatures {list(self.tilt_temperatures)} K must all be > 0")
        unknown = set(self.neb_axes) - set(ROTATION_AXES)
        if unknown:
            raise ValueError(f"unknown rotation axes {sorted(unknown)}; allowed: {', '.join(ROTATION_AXES)}")
        if self.stability_ps <= 0 or self.stability_nve_ps <= 0:
            raise ValueError(f"stability durations ({self.stability_ps}, {self.stability_nve_ps} ps) must be > 0")


NEP_V2_CHECKS: dict = dict(
    phase_fa_fractions=[k / 8 for k in range(9)], phase_steps=150,
    stability_temperature=600.0, stability_ps=50.0, stability_nve_ps=5.0,
    tilt_cases=[[0.0, "a0a0c+"], [1.0, "a0a0c-"]], tilt_temperatures=[250.0, 300.0], tilt_ps=20.0)
"""The checks issue 15 asks of NEP v2: phase energies at every x in steps of 1/8, 50 ps NPT at
600 K in 768 atoms with an NVE continuation, and the finite-temperature tilt test (MAPbI3 started
in the wrong tilt a0a0c+, FAPbI3 in a0a0c-, 20 ps at 250 and 300 K)."""

CHECK_PROFILES: dict[str, dict] = {"v1": {}, "v2": NEP_V2_CHECKS}
"""Named check settings for the command line: 'v1' the defaults the first production model was
checked with, 'v2' :data:`NEP_V2_CHECKS`."""


def check_settings(values: dict | str) -> CheckSettings:
    """:class:`CheckSettings` from a plain mapping (lists become tuples; unknown names are refused)
    or from the name of one of :data:`CHECK_PROFILES`."""
    if isinstance(values, str):
        if values not in CHECK_PROFILES:
            raise ValueError(f"unknown check profile {values!r}; allowed: {', '.join(CHECK_PROFILES)}")
        values = CHECK_PROFILES[values]
    return settings_from_mapping(CheckSettings, values, "check setting")


CHECK_FILES = ("neb.csv", "phases.csv", "stability.csv", "stability_observations.csv.gz", "masses.csv")
TILT_FILES = ("tilts.csv", "tilts_observations.csv.gz")
OPTIONAL_FILES = TILT_FILES + ("phase_order.csv",)
TEACHER_RELAXED = DATA_DIR / "reference" / "teacher" / "relaxed_structures.extxyz.gz"
"""The teacher screen's relaxed tilt phases (every candidate's), the geometries of ``phase_order.csv``."""


def reference_relaxed(reference: str, path: str | Path = TEACHER_RELAXED) -> list[Atoms]:
    """The relaxed tilt phases of ``reference`` in the teacher screen's result set (empty when it
    relaxed none there)."""
    if not Path(path).is_file():
        return []
    return [a for a in read(path, ":") if a.info.get("candidate") == reference]


def _stability_part(model: str, x: float, settings: CheckSettings, parts: Path) -> None:
    """One composition's stability run, written to ``parts`` (a unit of :func:`run_checks`)."""
    result = stability_check(model, x, settings.stability_temperature, settings.stability_ps,
                             settings.stability_nve_ps, settings.stability_repeat, settings.seed,
                             checkpoint_dir=parts / f"stability_{x:g}_md")
    result.observations.assign(fa_fraction=x).to_csv(parts / f"stability_{x:g}_observations.csv.gz", index=False)
    pd.DataFrame([dict(fa_fraction=x, survived=result.survived, reached_ps=result.reached_ps,
                       longest_bond_ratio=result.longest_bond_ratio,
                       largest_cation_shift_A=result.largest_cation_shift,
                       largest_iodine_shift_A=result.largest_iodine_shift,
                       nve_drift_meV_per_atom_per_ps=result.nve_drift_meV_per_atom_per_ps,
                       message=result.message, method="NEP")]).to_csv(parts / f"stability_{x:g}.csv", index=False)


def _tilt_part(model: str, x: float, start: str, temperature: float, noise: pd.DataFrame, settings: CheckSettings,
               parts: Path) -> None:
    """One tilt-persistence run, written to ``parts`` (a unit of :func:`run_checks`)."""
    name = f"tilt_{x:g}_{start}_{temperature:g}K"
    row, observations = tilt_persistence(model, x, start, temperature, noise, settings.tilt_ps, settings.tilt_repeat,
                                         settings.tilt_window_ps, settings.tilt_n_sigma, settings.seed,
                                         checkpoint_dir=parts / f"{name}_md")
    observations.assign(fa_fraction=x, start=start, temperature=temperature) \
        .to_csv(parts / f"{name}_observations.csv.gz", index=False)
    pd.DataFrame([dict(row, method="NEP")]).to_csv(parts / f"{name}.csv", index=False)


def _read_or_empty(path: Path) -> pd.DataFrame:
    """A part's table, or an empty one where the part had nothing to write (a run not made)."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _run_each(function: Callable, tasks: Sequence[tuple], workers: int) -> None:
    """``function(*task)`` for every task: in this process, or ``workers`` processes at a time
    (each task writes its own part file, so a kill loses only the unfinished ones)."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            function(*task)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(function, *task) for task in tasks]:
            future.result()


def run_checks(model: str | None, reference: str, settings: CheckSettings, output_dir: str,
               progress: bool = False, workers: int = 1) -> dict[str, pd.DataFrame] | None:
    """Compute the checks for ``model`` (NEP file) and ``reference`` (named reference) and write
    :data:`CHECK_FILES` into ``output_dir``; every table has a ``method`` column ('NEP' or the
    reference name).

    Resumable: each method's part of the NEB and phase tables is kept in ``output_dir/parts`` and
    each table is skipped when written. The MD runs (stability per composition, tilt tests) run
    ``workers`` at a time (one core each). With ``model=None`` only the reference's parts are computed
    (they do not depend on the model, so they can run while the model trains) and None is returned.
    """


    output_dir = Path(output_dir)
    parts = output_dir / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    methods = {reference: lambda: reference_calculator(reference)}
    if model is not None:
        methods["NEP"] = lambda: nep_calculator(model)

    say = progress_printer(progress)

    def neb_part(method: str, make: Callable[[], Calculator]) -> pd.DataFrame:
        cell = build_mixed_perovskite(settings.neb_fa_fraction, settings.neb_repeat, seed=settings.seed)
        calculator = make()
        frames = []
        for axis in settings.neb_axes:
            say(f"NEB {method} {axis}")
            frames.append(fa_rotation_neb(cell, calculator, axis, images=settings.neb_images,
                                          fmax=settings.neb_fmax, steps=settings.neb_steps)
                          .assign(method=method, axis=axis))
        return pd.concat(frames)

    def phase_part(method: str, make: Callable[[], Calculator]) -> pd.DataFrame:
        say(f"phase energies {method}")
        return relaxed_phase_energies(make, settings.phase_fa_fractions, settings.phase_glazers,
                                      fmax=settings.phase_fmax, steps=settings.phase_steps, seed=settings.seed,
                                      cache_dir=parts / f"phases_{method}_relaxations").assign(method=method)

    for table, compute in (("neb", neb_part), ("phases", phase_part)):
        if (output_dir / f"{table}.csv").exists():
            continue
        for method, make in methods.items():
            part = parts / f"{table}_{method}.csv"
            if not part.exists():
                compute(method, make).to_csv(part, index=False)
        if model is not None:
            pd.concat([pd.read_csv(parts / f"{table}_{m}.csv") for m in ("NEP", reference)]) \
                .to_csv(output_dir / f"{table}.csv", index=False)
    if model is None:
        return None
    if not (output_dir / "stability.csv").exists():
        todo = [x for x in settings.stability_fa_fractions if not (parts / f"stability_{x:g}.csv").exists()]
        say(f"stability x = {', '.join(f'{x:g}' for x in todo)} ({workers} at a time)")
        _run_each(_stability_part, [(model, x, settings, parts) for x in todo], workers)
        xs = settings.stability_fa_fractions
        pd.concat([pd.read_csv(parts / f"stability_{x:g}_observations.csv.gz") for x in xs]) \
            .to_csv(output_dir / "stability_observations.csv.gz", index=False)
        pd.concat([pd.read_csv(parts / f"stability_{x:g}.csv") for x in xs]) \
            .to_csv(output_dir / "stability.csv", index=False)
    if settings.tilt_cases and not (output_dir / "tilts.csv").exists():
        stability = pd.read_csv(output_dir / "stability_observations.csv.gz")
        tasks = []
        for x, start in settings.tilt_cases:
            noise = noise_reference(stability, x)
            for temperature in settings.tilt_temperatures:
                name = f"tilt_{x:g}_{start}_{temperature:g}K"
                if (parts / f"{name}.csv").exists():
                    continue
                if noise.empty:  # the untilted run blew up: no noise to classify against
                    pd.DataFrame().to_csv(parts / f"{name}_observations.csv.gz", index=False)
                    pd.DataFrame([dict(fa_fraction=float(x), start=start, temperature_K=float(temperature),
                                       survived=False, end_phase="not run", end_share=np.nan, method="NEP",
                                       message=f"no noise reference: the {settings.stability_temperature:g} K run "
                                               f"at x = {x:g} blew up")]).to_csv(parts / f"{name}.csv", index=False)
                    continue
                tasks.append((model, x, start, temperature, noise, settings, parts))
        say(f"tilt tests: {len(tasks)} to run ({workers} at a time)")
        _run_each(_tilt_part, tasks, workers)
        names = [f"tilt_{x:g}_{start}_{t:g}K" for x, start in settings.tilt_cases for t in settings.tilt_temperatures]
        pd.concat([_read_or_empty(parts / f"{n}_observations.csv.gz") for n in names]) \
            .to_csv(output_dir / "tilts_observations.csv.gz", index=False)
        pd.concat([pd.read_csv(parts / f"{n}.csv") for n in names]).to_csv(output_dir / "tilts.csv", index=False)
    relaxed = reference_relaxed(reference)
    if relaxed and not (output_dir / "phase_order.csv").exists():
        say(f"phase order at {len(relaxed)} relaxed cells of {reference}")
        energies_at_reference_geometries(model, relaxed).to_csv(output_dir / "phase_order.csv", index=False)
    if not (output_dir / "masses.csv").exists():
        from softlattice.perovskite.workflows.masscheck import compare_masses
        say("heavy-hydrogen check")
        compare_masses(model, settings.mass_temperature, settings.mass_repeat, settings.mass_equilibration_ps,
                       settings.mass_production_ps, settings.hydrogen_mass, settings.heavy_timestep_fs,
                       settings.seed).assign(method="NEP").to_csv(output_dir / "masses.csv", index=False)
    return load_checks(output_dir)


def load_checks(folder: str) -> dict[str, pd.DataFrame]:
    """The tables of a finished check folder, keyed by file stem ('neb', 'phases', ...; 'tilts'
    and 'tilts_observations' where the finite-temperature tilt test was run, 'phase_order' where
    the reference's relaxed cells were there to test it)."""
    names = CHECK_FILES + tuple(name for name in OPTIONAL_FILES if (Path(folder) / name).exists())
    return {name.split(".")[0]: _read_or_empty(Path(folder) / name) for name in names}


def energies_at_reference_geometries(model: str | Path, relaxed: Sequence[Atoms]) -> pd.DataFrame:
    """The NEP's single-point energies at a reference's relaxed cells, against the reference's own.

    ``relaxed`` are the reference's relaxed structures (info: ``fa_fraction``, ``glazer``,
    ``arrangement``, ``energy_eV``, ``converged``; the teacher screen's ``relaxed/`` folder), one
    ``a0a0a0`` among them per composition and arrangement. Comparing energies at the same
    geometries tests whether the NEP keeps the reference's phase order without the noise of two
    relaxations that stop at different places.

    Returns
    -------
    One row per tilted structure: ``fa_fraction``, ``arrangement``, ``glazer``, ``reference_meV_per_fu``
    and ``nep_meV_per_fu`` (relative to the same arrangement's a0a0a0), ``difference_meV_per_fu``,
    ``converged`` (both relaxations of the pair converged).
    """
    calculator = nep_calculator(model)
    rows = []
    for atoms in relaxed:
        work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
        work.calc = calculator
        units = len(atoms) // 12
        rows.append(dict(fa_fraction=float(atoms.info["fa_fraction"]), arrangement=int(atoms.info["arrangement"]),
                         glazer=str(atoms.info["glazer"]), converged=bool(atoms.info.get("converged", False)),
                         reference=1000 * float(atoms.info["energy_eV"]) / units,
                         nep=1000 * float(work.get_potential_energy()) / units))
    table = pd.DataFrame(rows)
    keys = ["fa_fraction", "arrangement"]
    untilted = table[table.glazer == "a0a0a0"].set_index(keys)
    if untilted.index.duplicated().any():
        raise ValueError("more than one a0a0a0 cell for one composition and arrangement")
    tilted = table[table.glazer != "a0a0a0"].join(untilted[["reference", "nep", "converged"]].add_suffix("_untilted"),
                                                  on=keys).dropna(subset=["reference_untilted"])
    return pd.DataFrame(dict(
        fa_fraction=tilted.fa_fraction, arrangement=tilted.arrangement, glazer=tilted.glazer,
        reference_meV_per_fu=tilted.reference - tilted.reference_untilted,
        nep_meV_per_fu=tilted.nep - tilted.nep_untilted,
        difference_meV_per_fu=(tilted.nep - tilted.nep_untilted) - (tilted.reference - tilted.reference_untilted),
        converged=tilted.converged & tilted.converged_untilted.astype(bool))).reset_index(drop=True)


def noise_reference(stability_observations: pd.DataFrame, fa_fraction: float) -> pd.DataFrame:
    """The part of the stability run at ``fa_fraction`` that serves the tilt test as its untilted
    noise reference: the NPT stage past its first quarter (past the ideal start); empty when the
    run blew up."""
    if "stage" not in stability_observations:
        return stability_observations.iloc[:0]
    noise = stability_observations[(stability_observations.fa_fraction == fa_fraction)
                                   & (stability_observations.stage == "npt")]
    return noise[noise.time_ps > noise.time_ps.max() / 4] if len(noise) else noise


def tilted_noise_references(stability_observations: pd.DataFrame) -> dict[float, str]:
    """The compositions whose noise reference (:func:`noise_reference`) cannot be trusted as
    untilted, with why in words ('holds a persistent tilt (Q_M_y +0.27 Å)', from
    :func:`softlattice.perovskite.phases.persistent_tilts`, or 'is too short to tell ...'): a tilt
    test classified against such a reference may have an inflated threshold."""
    doubtful = {}
    for x in sorted(stability_observations.fa_fraction.unique()):
        noise = noise_reference(stability_observations, float(x))
        if not len(noise):
            continue
        try:
            text = persistent_tilt_text(persistent_tilts(noise))
        except ValueError:
            doubtful[float(x)] = (f"is too short to tell a persistent tilt from a slow fluctuation "
                                  f"({noise.time_ps.iloc[-1] - noise.time_ps.iloc[0]:.0f} ps)")
            continue
        if text:
            doubtful[float(x)] = f"holds a persistent tilt ({text})"
    return doubtful


def model_criteria(model_folder: str | Path, transverse_slope: float, checks_folder: str | Path | None = None
                   ) -> pd.DataFrame:
    """:func:`softlattice.perovskite.student_criteria.student_criteria` of a stored model: its
    ``generations.csv``, final test RMSE (``history.csv``), and the checks in ``checks_folder``
    (default ``<model_folder>/checks``) against the reference they were computed with (their
    provenance), at the NPT length they asked for. ``transverse_slope`` is the model's iodine
    slope against GPAW (:func:`softlattice.perovskite.workflows.teacher.nep_scale`)."""
    model_folder = Path(model_folder)
    checks_folder = Path(checks_folder) if checks_folder is not None else model_folder / "checks"
    provenance = read_provenance(checks_folder)
    if provenance is None:
        raise ValueError(f"{checks_folder} holds no provenance record: its reference and settings are unknown")
    parameters = provenance["parameters"]
    tables = load_checks(str(checks_folder))
    history = pd.read_csv(model_folder / "history.csv")
    return student_criteria(pd.read_csv(model_folder / "generations.csv"), float(history.iloc[-1].rmse_forces_test),
                            phase_energy_agreement(tables["phases"], parameters["reference"]), tables["stability"],
                            float(parameters["stability_ps"]), transverse_slope, tables.get("tilts"),
                            tables.get("phase_order"), tilted_noise_references(tables["stability_observations"]))


def obtain_checks(model: str, reference: str, settings: CheckSettings, curated: str | None = None) -> ResultSet:
    """The checks of ``model`` against ``reference`` (:func:`softlattice.infra.resultsets.obtain`,
    keyed by the parameters, the reference and the model hash; resumable per table).

    Returns
    -------
    A result set with the tables of :data:`CHECK_FILES` (:func:`load_checks`).
    """
    parameters = dict(asdict(settings), reference=reference)
    return obtain("checks", parameters, {"model_sha256_16": file_hash(model)},
                  lambda folder: run_checks(model, reference, settings, str(folder)), committed=curated,
                  command="python -m softlattice.perovskite.workflows.checks")


def model_reference(model: str | None) -> str:
    """The reference a NEP was trained on, from the provenance record next to ``model``."""
    if model is None:
        raise SystemExit("--reference is needed without --model (it names whose parts to compute)")
    provenance = read_provenance(Path(model).parent)
    reference = (provenance or {}).get("parameters", {}).get("reference")
    if not reference:
        raise SystemExit(f"no provenance with a reference next to {model}: pass --reference")
    return reference


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m softlattice.perovskite.workflows.checks --model M --reference R --save DIR``: compute the
    full checks (resumable per table) and store them with a provenance record."""

    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.checks",
                                     description="Chapter 01: checks of a MA/FA NEP against its reference (FA rotation "
                                                 "paths, phase energies, MD stability, heavy hydrogen); resumable.")
    parser.add_argument("--model", default=None, help="NEP file; without it only the reference's parts run")
    parser.add_argument("--reference", default=None,
                        help="reference method (default: the one the model was trained on, from its provenance)")
    parser.add_argument("--save", type=writable_folder, required=True, help="folder to store the tables in")
    parser.add_argument("--profile", default="v1", choices=sorted(CHECK_PROFILES),
                        help="check settings: 'v1' those of the first production model, 'v2' those of NEP v2")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="MD runs (stability per composition, tilt tests) at a time, one core each")
    parser.add_argument("--phase-order-only", action="store_true",
                        help="only the NEP's energies at the reference's relaxed tilt phases (seconds; "
                             "phase_order.csv); a later full run keeps them")
    args = parser.parse_args(argv)
    if args.reference is None:
        args.reference = model_reference(args.model)
    settings = check_settings(CHECK_PROFILES[args.profile])
    if args.phase_order_only:
        relaxed = reference_relaxed(args.reference)
        if args.model is None or not relaxed:
            parser.error(f"--phase-order-only needs --model and relaxed cells of {args.reference!r} "
                         f"in {TEACHER_RELAXED}")
        energies_at_reference_geometries(args.model, relaxed).to_csv(Path(args.save) / "phase_order.csv", index=False)
        existing = read_provenance(args.save)
        if existing is not None and not existing["parameters"].get("phase_order_only"):
            # a full check set: its record stays; only the teacher cells its phase order now rests on change
            existing["teacher_relaxed_sha256_16"] = file_hash(TEACHER_RELAXED)
            (Path(args.save) / "provenance.json").write_text(json.dumps(existing, indent=1, default=str) + "\n")
            return 0
    else:
        run_checks(args.model, args.reference, settings, args.save, progress=True, workers=args.workers)
    if args.model is None:
        return 0
    # the teacher cells' hash is a record, not an input: obtain_checks keys a check set by its model alone
    extra = ({"teacher_relaxed_sha256_16": file_hash(TEACHER_RELAXED)}
             if (Path(args.save) / "phase_order.csv").exists() else {})
    # a folder with the phase order alone must not pass for a full check set of these settings
    parameters = (dict(reference=args.reference, phase_order_only=True) if args.phase_order_only
                  else dict(asdict(settings), reference=args.reference))
    write_provenance(args.save, parameters, {"model_sha256_16": file_hash(args.model)},
                     command="python -m softlattice.perovskite.workflows.checks " + " ".join(argv or sys.argv[1:]),
                     **extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
