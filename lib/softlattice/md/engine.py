"""Molecular dynamics with a NEP potential (or any ASE calculator): ensembles, temperature
protocols, on-the-fly analysis, blow-up detection and resumable checkpoints.

Units: Å, fs (time steps), ps (durations), K, GPa, eV, amu.

A run is a list of :class:`Segment` s (a temperature ramp or hold each). Every
``sample_interval`` steps the run records temperature, energies, pressure, the cell (pseudo-cubic
lattice parameters) and whatever the run's observers add (a perovskite's six M/R tilt-mode
amplitudes, :class:`softlattice.perovskite.modes.TiltModeObserver`), so long runs need not store
trajectories. After each segment the dynamical state (positions, momenta, cell, barostat
momentum, random-generator state) and the observations so far are written atomically to the
checkpoint folder; a run started again with the same folder and parameters continues after the
last finished segment and gives the same numbers as an uninterrupted run.

Ensembles: ``npt`` uses ASE's LangevinBAOAB (Langevin thermostat on the atoms, Langevin-Hoover
barostat on a fully flexible cell, Leimkuhler & Matthews 2013; Quigley & Probert 2004), which
samples the isothermal-isobaric ensemble and lets the cell change shape, as tilt transitions
require. ``nvt`` is the same integrator with a fixed cell; ``nve`` is velocity Verlet. The seed
used GPUMD's Langevin thermostat with stochastic cell rescaling (Bernetti & Bussi 2020); both
sample the same ensemble, their dynamics differ only through the thermostat and barostat
couplings.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.io import write
from ase.md.langevinbaoab import LangevinBAOAB
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet
from ase.neighborlist import neighbor_list

from softlattice.infra.keys import json_key, structure_hash
from softlattice.infra.paths import read_frames
from softlattice.md.protocols import Segment

ENSEMBLES = ("npt", "nvt", "nve")


def _symmetric_expm(matrix: np.ndarray) -> np.ndarray:
    """exp of a symmetric 3x3 matrix through its eigendecomposition."""
    values, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    return (vectors * np.exp(values)) @ vectors.T


class FastLangevinBAOAB(LangevinBAOAB):
    """ASE's LangevinBAOAB with the 3x3 matrix exponentials done by eigendecomposition.

    Why: the cell and drag propagators need exp of a 3x3 matrix three times per step, and
    ``scipy.linalg.expm`` takes about 3.5 ms per 3x3 call on this machine (against 9 µs for
    ``numpy.linalg.eigh``); that made an NPT step of 1080-atom CsPbI3 three times slower than the
    force call. The matrices are symmetric (cell momentum and friction are built from symmetric
    stresses and a symmetrised random force), so the eigendecomposition is exact. Only the
    non-hydrostatic branches differ from ASE.
    """

    def _barostat_BAOAB_A(self) -> None:
        if self.hydrostatic:
            return super()._barostat_BAOAB_A()
        propagator = _symmetric_expm(0.5 * self.dt * self.p_eps / self.barostat_mass)
        self.atoms.set_cell(self.atoms.cell @ propagator.T, True)

    def _BAOAB_OU(self, drag_gamma_mod=0.0) -> None:
        if self.hydrostatic or np.ndim(drag_gamma_mod) == 0:
            return super()._BAOAB_OU(drag_gamma_mod)
        velocities = self.atoms.get_velocities()
        velocities = velocities @ _symmetric_expm(
            -(self.gamma * np.identity(3) + drag_gamma_mod) * self.dt).T
        if self.gamma != 0:
            masses = self.atoms.get_masses()
            velocities += self.BAOAB_prefactor * (self.rng.normal(size=velocities.shape).T
                                                  / np.sqrt(masses)).T
        self.atoms.set_velocities(velocities)


@dataclass(frozen=True)
class MDSettings:
    """Integrator and sampling settings.

    Attributes
    ----------
    ensemble
        'npt', 'nvt' or 'nve'.
    timestep_fs
        Time step, fs (0.5 fs with real hydrogen masses, as the seed; 2 fs for inorganic cells).
    sample_interval
        Steps between recorded samples.
    thermostat_fs
        Langevin time constant of the atoms, fs.
    barostat_fs
        Time constant of the cell, fs.
    pressure_GPa
        External pressure, GPa.
    hydrogen_mass
        Mass given to H atoms (amu), or None for the real mass. Heavier hydrogen allows a longer
        time step in runs that only need equilibrium averages (classical configurational averages
        do not depend on masses); never use it for dynamics.
    seed
        Seed of velocities and thermostat noise.
    min_distance
        Closest approach (Å) below which the run stops as blown up.
    distance_check_interval
        Check the closest approach every this many samples (the neighbour search is the most
        expensive part of the analysis; temperature, volume and finiteness are checked at every
        sample).
    max_temperature_factor
        The run stops when the instantaneous temperature exceeds this factor times the target
        plus 300 K.
    trajectory_interval
        Write every this many samples to ``trajectory.extxyz`` in the checkpoint folder (None: no
        trajectory).
    """

    ensemble: str = "npt"
    timestep_fs: float = 2.0
    sample_interval: int = 20
    thermostat_fs: float = 100.0
    barostat_fs: float = 1000.0
    pressure_GPa: float = 0.0
    hydrogen_mass: float | None = None
    seed: int = 0
    min_distance: float = 0.6
    distance_check_interval: int = 5
    max_temperature_factor: float = 3.0
    trajectory_interval: int | None = None

    def __post_init__(self) -> None:
        if self.ensemble not in ENSEMBLES:
            raise ValueError(f"unknown ensemble {self.ensemble!r}; allowed: {', '.join(ENSEMBLES)}")
        if not 0 < self.timestep_fs <= 5:
            raise ValueError(f"time step {self.timestep_fs!r} fs is outside the allowed range (0, 5] fs")
        for name in ("sample_interval", "distance_check_interval"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name.replace('_', ' ')} {value!r} must be a positive integer")
        for name in ("thermostat_fs", "barostat_fs"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} {getattr(self, name)!r} must be > 0")
        if self.hydrogen_mass is not None and not 1.0 <= self.hydrogen_mass <= 20.0:
            raise ValueError(f"hydrogen mass {self.hydrogen_mass!r} amu is outside [1, 20] amu")


Observer = Callable[[Atoms], dict[str, float]]
"""Analysis run at every sample: takes the current structure, returns columns for the record."""


class MDBlowUp(RuntimeError):
    """The run became unphysical; the message says how and when."""


def run_key(atoms: Atoms, segments: Sequence[Segment], settings: MDSettings, model_id: str) -> str:
    """Hash identifying a run: initial structure, protocol, settings and model."""
    return json_key(dict(atoms=structure_hash(atoms), segments=[asdict(s) for s in segments],
                         settings=asdict(settings), model=model_id))


def _write_atomically(path: Path, writer: Callable[[Path], None]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    writer(temporary)
    os.replace(temporary, path)


@dataclass
class _State:
    positions: np.ndarray
    momenta: np.ndarray
    cell: np.ndarray
    p_eps: np.ndarray
    force_eps: np.ndarray
    rng_state: dict
    segments_done: int
    observations: list[dict] = field(default_factory=list)
    md_seconds: float = 0.0
    atom_steps: float = 0.0


def _save_state(folder: Path, state: _State) -> None:
    def write(path: Path) -> None:
        with open(path, "wb") as handle:
            np.savez(handle, positions=state.positions, momenta=state.momenta, cell=state.cell,
                     p_eps=state.p_eps, force_eps=state.force_eps, segments_done=state.segments_done,
                     rng_state=json.dumps(state.rng_state),
                     observations=json.dumps(state.observations), md_seconds=state.md_seconds,
                     atom_steps=state.atom_steps)
    _write_atomically(folder / "state.npz", write)


def _load_state(folder: Path) -> _State | None:
    path = folder / "state.npz"
    if not path.exists():
        return None
    data = np.load(path, allow_pickle=False)
    return _State(positions=data["positions"], momenta=data["momenta"], cell=data["cell"],
                  p_eps=data["p_eps"], force_eps=data["force_eps"], rng_state=json.loads(str(data["rng_state"])),
                  segments_done=int(data["segments_done"]),
                  observations=json.loads(str(data["observations"])),
                  md_seconds=float(data["md_seconds"]) if "md_seconds" in data.files else 0.0,
                  atom_steps=float(data["atom_steps"]) if "atom_steps" in data.files else 0.0)


class _Sampler:
    """Records observables every sample interval and stops the run if it blows up."""

    def __init__(self, atoms: Atoms, observers: Sequence[Observer], repeat: np.ndarray,
                 settings: MDSettings, initial_volume: float):
        self.atoms = atoms
        self.observers = list(observers)
        self.repeat = repeat
        self.settings = settings
        self.initial_volume = initial_volume
        self.records: list[dict] = []
        self.analysis_seconds = 0.0
        self.target = 0.0
        self.time_ps = 0.0
        self.samples_taken = 0

    def __call__(self) -> None:
        started = time.perf_counter()
        atoms = self.atoms
        temperature = atoms.get_temperature()
        positions = atoms.positions
        if not np.all(np.isfinite(positions)) or not np.isfinite(temperature):
            raise MDBlowUp(f"non-finite positions or temperature at t = {self.time_ps:.3f} ps")
        limit = self.settings.max_temperature_factor * self.target + 300.0
        if temperature > limit:
            raise MDBlowUp(f"temperature runaway at t = {self.time_ps:.3f} ps: {temperature:.0f} K "
                           f"for a target of {self.target:.0f} K (limit {limit:.0f} K)")
        volume = atoms.get_volume()
        if not 0.5 < volume / self.initial_volume < 2.0:
            raise MDBlowUp(f"cell collapse or explosion at t = {self.time_ps:.3f} ps: volume "
                           f"{volume:.1f} Å^3, initially {self.initial_volume:.1f} Å^3")
        self.samples_taken += 1
        check_distances = self.samples_taken % self.settings.distance_check_interval == 0
        close = neighbor_list("d", atoms, self.settings.min_distance) if check_distances else np.empty(0)
        if close.size:
            raise MDBlowUp(f"atoms closer than {self.settings.min_distance} Å at t = "
                           f"{self.time_ps:.3f} ps (closest {close.min():.2f} Å)")
        stress = atoms.get_stress(include_ideal_gas=True, voigt=False)
        lengths = atoms.cell.lengths() / self.repeat
        record = dict(time_ps=self.time_ps, target_K=self.target, temperature_K=temperature,
                      epot_eV_per_atom=atoms.get_potential_energy() / len(atoms),
                      ekin_eV_per_atom=atoms.get_kinetic_energy() / len(atoms),
                      pressure_GPa=-np.trace(stress) / 3 / units.GPa,
                      a_A=lengths[0], b_A=lengths[1], c_A=lengths[2],
                      alpha_deg=atoms.cell.angles()[0], beta_deg=atoms.cell.angles()[1],
                      gamma_deg=atoms.cell.angles()[2],
                      volume_per_cell_A3=volume / float(np.prod(self.repeat)))
        for observer in self.observers:
            record.update(observer(atoms))
        self.records.append({k: float(v) for k, v in record.items()})
        self.analysis_seconds += time.perf_counter() - started


def append_frame(path: Path, frame: Atoms) -> None:
    """Append one frame to an extxyz file atomically (the whole file is rewritten through a
    temporary one and renamed): a kill leaves the old file or the new one, never half a frame."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as target:
        if path.exists():
            target.write(path.read_bytes())
    write(temporary, frame, format="extxyz", append=True)
    os.replace(temporary, path)


def read_segment_ends(path: str | Path) -> list[Atoms]:
    """Segment-end structures written by :func:`run_md` (``keep_segment_ends``), one per time; a
    damaged file is a ValueError naming it (:func:`softlattice.infra.paths.read_frames`)."""
    frames: dict[float, Atoms] = {}
    for frame in read_frames(path):
        frames[round(float(frame.info["time_ps"]), 9)] = frame
    return [frames[t] for t in sorted(frames)]


@dataclass
class MDResult:
    """Observations of a run and its timing.

    Attributes
    ----------
    observations
        One row per sample: time, target and instantaneous temperature, energies per atom,
        pressure, pseudo-cubic lattice parameters and cell angles, and Q_<mode> amplitudes (Å).
    md_seconds, analysis_seconds
        Wall time of the dynamics and of the on-the-fly analysis in this call (not in earlier,
        resumed-from calls).
    atom_steps_per_second
        Throughput of the dynamics over the whole run, resumed parts included (NaN for a run
        without checkpoints that ran no step).
    final_atoms
        Structure at the end, with momenta.
    stopped_early
        ``stop_when`` ended the run before its last segment.
    """

    observations: pd.DataFrame
    md_seconds: float
    analysis_seconds: float
    atom_steps_per_second: float
    final_atoms: Atoms
    stopped_early: bool = False


def _open_checkpoint(folder: Path | None, key: str, settings: MDSettings, segments: Sequence[Segment],
                     model_id: str) -> _State | None:
    """The saved state of the run ``key`` in ``folder`` (None: start afresh); a folder holding
    another run is refused."""
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "run_key.json"
    if not key_file.exists():
        key_file.write_text(json.dumps(dict(key=key, settings=asdict(settings), segments=[asdict(s) for s in segments],
                                            model=model_id), indent=1))
        return None
    stored = json.loads(key_file.read_text())["key"]
    if stored != key:
        raise ValueError(f"checkpoint folder {str(folder)!r} holds a run with other parameters, structure or "
                         f"model (key {stored}, now {key}); use another folder or delete it")
    return _load_state(folder)


def _initial_state(atoms: Atoms, temperature: float, rng: np.random.Generator) -> _State:
    """Maxwell-Boltzmann momenta at ``temperature`` (K) without centre-of-mass motion."""
    thermalize_momenta(atoms, temperature_K=temperature, rng=rng)
    Stationary(atoms)
    return _State(positions=atoms.positions.copy(), momenta=atoms.get_momenta(), cell=atoms.cell.array.copy(),
                  p_eps=np.zeros((3, 3)), force_eps=np.full((3, 3), np.nan), rng_state=rng.bit_generator.state,
                  segments_done=0)


def _integrator(atoms: Atoms, settings: MDSettings, segments: Sequence[Segment], state: _State,
                rng: np.random.Generator):
    """The ASE integrator of ``settings.ensemble``, with the barostat state of a resumed NPT run."""
    timestep = settings.timestep_fs * units.fs
    if settings.ensemble == "nve":
        return VelocityVerlet(atoms, timestep)
    npt = settings.ensemble == "npt"
    start = segments[state.segments_done].temperature_start if state.segments_done < len(segments) \
        else segments[-1].temperature_end
    with warnings.catch_warnings():  # ASE announces its heuristic barostat mass; that is intended
        warnings.simplefilter("ignore", UserWarning)
        dynamics = FastLangevinBAOAB(atoms, timestep, temperature_K=start,
                                     externalstress=-settings.pressure_GPa * units.GPa if npt else None,
                                     T_tau=settings.thermostat_fs * units.fs,
                                     P_tau=settings.barostat_fs * units.fs if npt else None, rng=rng)
    if npt and state.segments_done:
        # the barostat's cell momentum and force are state: restoring them (the force was
        # computed before the last velocity half step) makes a resumed run continue exactly
        dynamics.p_eps = np.array(state.p_eps)
        dynamics.force_eps = np.array(state.force_eps)
    return dynamics


def _steps_in(segment: Segment, settings: MDSettings) -> int:
    """Steps of a segment: a whole number of sample intervals, at least one."""
    intervals = int(round(segment.duration_ps * 1000 / settings.timestep_fs / settings.sample_interval))
    return max(1, intervals) * settings.sample_interval


def _frame(atoms: Atoms, info: dict, with_momenta: bool = False) -> Atoms:
    """A calculator-free copy of the current structure (with masses and momenta if asked)."""
    extra = dict(masses=atoms.get_masses(), momenta=atoms.get_momenta()) if with_momenta else {}
    frame = Atoms(atoms.numbers, positions=atoms.positions.copy(), cell=atoms.cell.array.copy(), pbc=atoms.pbc,
                  **extra)
    frame.info.update(info)
    return frame


def run_md(atoms: Atoms, calculator: Calculator, segments: Sequence[Segment],
           settings: MDSettings = MDSettings(), checkpoint_dir: str | Path | None = None,
           model_id: str = "", progress: bool = False, snapshots: list[Atoms] | None = None,
           snapshot_every: int = 1, keep_segment_ends: bool = False,
           observers: Sequence[Observer] = (),
           stop_when: Callable[[pd.DataFrame], bool] | None = None) -> MDResult:
    """Run molecular dynamics through ``segments`` with on-the-fly analysis and checkpoints.

    Parameters
    ----------
    atoms
        Initial structure (not modified). ``info['repeat']`` (supercell repeats), if present,
        turns the recorded cell lengths into lengths per primitive cell.
    calculator
        Any ASE calculator giving forces (and stress, for NPT), e.g. :func:`nep_calculator`.
    segments
        Temperature protocol, e.g. ``ramp(100, 700, 10)`` or ``hold(300, 20)``.
    settings
        Integrator and sampling settings.
    checkpoint_dir
        Folder for resumable state; None disables checkpoints.
    model_id
        Identifies the potential in the checkpoint key (e.g. :func:`file_hash` of the model), so
        results of another model are never resumed from.
    progress
        Show a tqdm progress bar over segments.
    snapshots
        If given, copies of the structure (positions, cell, masses and momenta, so velocities
        serve mode projections; no calculator) are appended to it every ``snapshot_every``
        samples as the run goes, so they survive an :class:`MDBlowUp`.
    snapshot_every
        Samples between snapshots.
    keep_segment_ends
        Append the structure at the end of every segment (info ``time_ps``, ``target_K``) to
        ``segment_ends.extxyz`` in the checkpoint folder, once per finished segment (a resumed run
        does not repeat the ones already written; :func:`read_segment_ends` drops a frame written
        twice by a kill between the frame and the checkpoint).
    observers
        Callables ``observer(atoms) -> {column: value}`` called at every sample; their columns join
        the observations (the way analysis attaches to ASE's ``Dynamics.attach``).
    stop_when
        Called with the observations so far before every segment (a resumed run included, so a
        run stopped early and resumed stops at the same point); True ends the run there.
    """
    if not segments:
        raise ValueError("no segments to run: the temperature protocol is empty")
    atoms = atoms.copy()
    atoms.calc = calculator
    if settings.hydrogen_mass is not None:
        masses = atoms.get_masses()
        masses[np.array(atoms.get_chemical_symbols()) == "H"] = settings.hydrogen_mass
        atoms.set_masses(masses)
    repeat = np.asarray(atoms.info.get("repeat", (1, 1, 1)), dtype=float)

    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    state = _open_checkpoint(folder, run_key(atoms, segments, settings, model_id), settings, segments, model_id)
    rng = np.random.default_rng(settings.seed)
    if state is None:
        state = _initial_state(atoms, segments[0].temperature_start, rng)
    atoms.positions = state.positions
    atoms.set_cell(state.cell, scale_atoms=False)
    atoms.set_momenta(state.momenta)
    rng.bit_generator.state = state.rng_state
    dynamics = _integrator(atoms, settings, segments, state, rng)
    sampler = _Sampler(atoms, observers, repeat, settings, initial_volume=atoms.get_volume())
    observations = list(state.observations)
    elapsed_ps = sum(s.duration_ps for s in segments[:state.segments_done])
    trajectory = (folder / "trajectory.extxyz") if folder is not None and settings.trajectory_interval else None

    iterator = range(state.segments_done, len(segments))
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(iterator, initial=state.segments_done, total=len(segments), desc="MD segments")
    md_seconds = 0.0
    steps_done = 0
    analysis_before = 0.0
    stopped_early = False
    for index in iterator:
        if stop_when is not None and observations and stop_when(pd.DataFrame(observations)):
            stopped_early = True
            break
        segment = segments[index]
        n_steps = _steps_in(segment, settings)
        sampler.records = []
        started = time.perf_counter()
        for block in range(n_steps // settings.sample_interval):
            fraction = (block + 0.5) / (n_steps // settings.sample_interval)
            target = segment.temperature_at(fraction)
            if settings.ensemble != "nve":
                dynamics.set_temperature(target)
            dynamics.run(settings.sample_interval)
            sampler.target = target
            sampler.time_ps = elapsed_ps + (block + 1) * settings.sample_interval * settings.timestep_fs / 1000
            sampler()
            if snapshots is not None and sampler.samples_taken % snapshot_every == 0:
                snapshots.append(_frame(atoms, dict(atoms.info, time_ps=sampler.time_ps), with_momenta=True))
            if trajectory is not None and len(sampler.records) % settings.trajectory_interval == 0:
                write(trajectory, atoms, append=True)
        md_seconds += time.perf_counter() - started - (sampler.analysis_seconds - analysis_before)
        analysis_before = sampler.analysis_seconds
        steps_done += n_steps
        elapsed_ps += segment.duration_ps
        observations.extend(sampler.records)
        if folder is not None and keep_segment_ends:
            append_frame(folder / "segment_ends.extxyz",
                         _frame(atoms, dict(time_ps=elapsed_ps, target_K=segment.temperature_end)))
        if folder is not None:
            _save_state(folder, _State(
                positions=atoms.positions.copy(), momenta=atoms.get_momenta(), cell=atoms.cell.array.copy(),
                p_eps=np.broadcast_to(getattr(dynamics, "p_eps", 0.0), (3, 3)).astype(float),
                force_eps=np.broadcast_to(getattr(dynamics, "force_eps", np.nan), (3, 3)).astype(float),
                rng_state=rng.bit_generator.state, segments_done=index + 1, observations=observations,
                md_seconds=state.md_seconds + md_seconds, atom_steps=state.atom_steps + len(atoms) * steps_done))
    # throughput over the whole run, resumed parts included
    total_seconds = state.md_seconds + md_seconds
    rate = (state.atom_steps + len(atoms) * steps_done) / total_seconds if total_seconds > 0 else float("nan")
    final = atoms.copy()
    final.calc = None
    return MDResult(observations=pd.DataFrame(observations), md_seconds=md_seconds,
                    analysis_seconds=sampler.analysis_seconds, atom_steps_per_second=rate,
                    final_atoms=final, stopped_early=stopped_early)
