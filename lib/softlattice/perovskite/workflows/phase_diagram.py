"""Heating/cooling sweeps over composition as independent tasks, in a loop or on Dask.

Units: K, K/ps, fs, ps, Å; compositions as the FA fraction x.

One :class:`RampTask` is one MD run of one cell: a heating ramp (started in the a-a-c+ phase, as
in the seed), a cooling ramp (started cubic), or the untilted reference (NVT of the cubic cell at
the top temperature) that sets the noise thresholds of the phase analysis
(:mod:`softlattice.perovskite.phases`). Its result, the observation table of :func:`softlattice.md.engine.run_md`,
is stored in ``<store>/<key>/observations.csv.gz``, where the key hashes the task and the model
file: a finished task is never recomputed, a changed model never reuses old results, and a task
that was interrupted resumes from its MD checkpoint (``<store>/<key>/checkpoint``).

:func:`run_sweep` runs the pending tasks in a plain loop or through ``dask.distributed``: a
LocalCluster sized to the machine, a scheduler address, or any ``Client`` (e.g. on a
``dask_jobqueue`` SLURM cluster). Each task is a pure function of its parameters and the model, so
both paths give the same numbers.

A sweep longer than a session is run in shares (``--part i/n``, one process each) that carry their
finished runs into the result set's ``finished_runs/`` folder (:data:`CARRIED_RUNS`); every run of the
command restores them into its store first, so a later session, on any machine, goes on where the
last one stopped and the last share's command (without ``--part``) analyses the whole sweep.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase.io import read, write

from softlattice.infra.cli import positive_int, writable_folder
from softlattice.infra.keys import file_hash, json_key
from softlattice.infra.paths import RUNS_DIR
from softlattice.infra.profiles import resolve
from softlattice.infra.resultsets import ResultSet, obtain
from softlattice.infra.shares import parse_share, take_share
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDSettings, read_segment_ends, run_md
from softlattice.md.protocols import hold, ramp
from softlattice.md.stored import export_finished, import_finished, stored_failure, stored_run
from softlattice.md.tasks import run_tasks
from softlattice.perovskite.coexistence import LABELS, LocalTiltObserver, block_noise_threshold, block_states
from softlattice.perovskite.modes import tilt_observers
from softlattice.perovskite.phases import (
    classify_windows,
    noise_thresholds,
    persistent_tilt_text,
    persistent_tilts,
    transition_temperatures,
)
from softlattice.perovskite.sites import largest_site_shifts
from softlattice.perovskite.structures import build_mixed_perovskite

KINDS = ("heating", "cooling", "reference")


@dataclass(frozen=True)
class RampTask:
    """One MD run of a sweep.

    Attributes
    ----------
    fa_fraction
        FA fraction x in [0, 1] (the cell holds the nearest multiple of 1/repeat^3).
    kind
        'heating' (from ``heating_start``), 'cooling' (from the cubic cell) or 'reference'
        (NVT of the cubic cell at ``temperature_high`` for ``reference_ps``).
    temperature_low, temperature_high
        Ramp end points, K.
    rate_K_per_ps
        Ramp rate, K/ps.
    repeat
        Supercell of the 12-atom cubic cell along each axis (even: M and R modes double the cell).
    replica
        Seed of the A-site arrangement, the molecular orientations and the thermostat.
    timestep_fs, hydrogen_mass, sample_interval
        Integrator (H of ``hydrogen_mass`` amu; None for real masses) and sampling (steps).
    reference_ps
        Length of the reference run, ps.
    heating_start, tilt_angle
        Starting phase of heating runs and its tilt, degrees.
    """

    fa_fraction: float
    kind: str
    temperature_low: float = 25.0
    temperature_high: float = 425.0
    rate_K_per_ps: float = 20.0
    repeat: int = 4
    replica: int = 0
    timestep_fs: float = 1.0
    hydrogen_mass: float | None = 4.0
    sample_interval: int = 25
    reference_ps: float = 5.0
    heating_start: str = "a-a-c+"
    tilt_angle: float = 8.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fa_fraction <= 1.0:
            raise ValueError(f"FA fraction {self.fa_fraction!r} is outside [0, 1]")
        if self.kind not in KINDS:
            raise ValueError(f"unknown task kind {self.kind!r}; allowed: {', '.join(KINDS)}")
        if not 0.0 < self.temperature_low < self.temperature_high:
            raise ValueError(f"temperature range {self.temperature_low}-{self.temperature_high} K is empty "
                             "or not positive")
        if not self.rate_K_per_ps > 0:
            raise ValueError(f"ramp rate {self.rate_K_per_ps!r} K/ps must be > 0")
        if self.repeat < 2 or self.repeat % 2:
            raise ValueError(f"repeat {self.repeat!r} must be even and >= 2 (M and R modes double the cell)")
        if self.reference_ps <= 0:
            raise ValueError(f"reference length {self.reference_ps!r} ps must be > 0")

    @property
    def n_atoms(self) -> int:
        return 12 * self.repeat ** 3

    @property
    def steps(self) -> int:
        """MD steps of this task."""
        duration = (self.reference_ps if self.kind == "reference"
                    else (self.temperature_high - self.temperature_low) / self.rate_K_per_ps)
        return int(round(duration * 1000 / self.timestep_fs))


def sweep_grid(fa_fractions: Sequence[float], replicas: int = 1, kinds: Sequence[str] = ("heating", "cooling"),
               **settings: Any) -> list[RampTask]:
    """Heating and cooling tasks for every composition and replica, plus one untilted reference
    per composition (replica 0), all with ``settings`` (:class:`RampTask` fields)."""
    if len(fa_fractions) == 0:
        raise ValueError("the composition grid is empty")
    if replicas < 1:
        raise ValueError(f"replicas {replicas!r} must be >= 1")
    tasks = [RampTask(float(x), kind, replica=r, **settings)
             for x in fa_fractions for r in range(replicas) for kind in kinds]
    tasks += [RampTask(float(x), "reference", **settings) for x in fa_fractions]
    return tasks


def task_key(task: RampTask, model_hash: str) -> str:
    """Hash (16 hex digits) of the task's parameters and the model file's hash."""
    return json_key(dict(task=asdict(task), model=model_hash))


def run_task(task: RampTask, model: str | Path, store: str | Path, progress: bool = False) -> pd.DataFrame | None:
    """Run (or resume, or load) one task and return its observations, or None when the run blew up
    (:class:`softlattice.md.engine.MDBlowUp`; the message is kept in ``<key>/failed.json``, see
    :func:`task_failure`).

    Parameters
    ----------
    task
        What to run.
    model
        NEP file.
    store
        Result store folder.
    progress
        Show the MD progress bar.
    """


    model_hash = file_hash(model)
    folder = Path(store) / task_key(task, model_hash)

    def run() -> tuple[pd.DataFrame, dict]:
        glazer = task.heating_start if task.kind == "heating" else "a0a0a0"
        atoms = build_mixed_perovskite(task.fa_fraction, task.repeat, glazer=glazer, tilt_angle=task.tilt_angle,
                                       seed=task.replica)
        if task.kind == "heating":
            segments = ramp(task.temperature_low, task.temperature_high, task.rate_K_per_ps)
        elif task.kind == "cooling":
            segments = ramp(task.temperature_high, task.temperature_low, task.rate_K_per_ps)
        else:
            segments = hold(task.temperature_high, task.reference_ps)
        settings = MDSettings(ensemble="nvt" if task.kind == "reference" else "npt", timestep_fs=task.timestep_fs,
                              sample_interval=task.sample_interval, hydrogen_mass=task.hydrogen_mass,
                              seed=task.replica)
        result = run_md(atoms, nep_calculator(model, atoms=atoms), segments, settings,
                        checkpoint_dir=folder / "checkpoint", model_id=model_hash, progress=progress,
                        keep_segment_ends=task.kind != "reference",
                        observers=[*tilt_observers(atoms), LocalTiltObserver(atoms)])
        return (result.observations.assign(fa_fraction_cell=float(atoms.info["fa_fraction"])),
                dict(model=str(model), model_hash=model_hash, atom_steps_per_second=result.atom_steps_per_second))

    return stored_run(folder, run, asdict(task))


def task_failure(task: RampTask, model: str | Path, store: str | Path) -> str | None:
    """Why a task failed (its blow-up message), or None if it did not."""
    return stored_failure(Path(store) / task_key(task, file_hash(model)))


def segment_ends(task: RampTask, model: str | Path, store: str | Path) -> list:
    """Structures at the end of every ramp segment (every 25 K) of a finished task, for local
    (per-block, per-layer) analysis; info ``time_ps`` and ``target_K``."""
    path = Path(store) / task_key(task, file_hash(model)) / "checkpoint" / "segment_ends.extxyz"
    if not path.exists():
        raise FileNotFoundError(f"no segment-end structures for {task} in {store}: run the task first")
    return read_segment_ends(path)


def run_sweep(tasks: Sequence[RampTask], model: str | Path, store: str | Path = RUNS_DIR / "sweeps",
              scheduler: Any = None, workers: int | None = None, progress: bool = True,
              timeout_s: float = 10.0) -> list[pd.DataFrame | None]:
    """Run every task (finished ones are loaded, not rerun) and return their observations in order
    (None for a task that blew up: the others go on), with :func:`softlattice.md.tasks.run_tasks`
    (a loop, or Dask with ``scheduler``; see there).

    Parameters
    ----------
    tasks
        From :func:`sweep_grid` or built by hand.
    model
        NEP file; results are keyed by its hash.
    store
        Result store folder.
    scheduler, workers, progress, timeout_s
        As in :func:`softlattice.md.tasks.run_tasks`.
    """
    model = Path(model)
    if not model.is_file():
        raise FileNotFoundError(f"model file {str(model)!r} does not exist")
    if not tasks:
        raise ValueError("no tasks to run")
    Path(store).mkdir(parents=True, exist_ok=True)
    return run_tasks(partial(run_task, model=str(model.resolve()), store=str(Path(store).resolve())), tasks,
                     scheduler=scheduler, workers=workers, progress=progress, timeout_s=timeout_s,
                     cost=lambda task: task.steps * task.n_atoms, name="sweep")


def task_table(tasks: Sequence[RampTask]) -> pd.DataFrame:
    """The tasks as a table (one row each, the :class:`RampTask` fields)."""
    return pd.DataFrame([asdict(t) for t in tasks])


def analyse_sweep(tasks: Sequence[RampTask], observations: Sequence[pd.DataFrame], window: int = 20,
                  n_sigma: float = 5.0, persistence: int = 2,
                  rule: str = "per-family") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Phase windows and transitions of every ramp, with thresholds from the reference run of the
    same composition and cell (:func:`softlattice.perovskite.phases.noise_thresholds` with ``rule``).
    Ramps whose observations are None (blown up), or whose reference is, are left out.

    A reference that keeps the sign of a tilt (:func:`softlattice.perovskite.phases.persistent_tilts`)
    is not untilted and its thresholds lie above real tilts: its ramps carry ``reference_tilt``
    (the persistent modes in words; '' for an untilted reference or one too short to tell), and
    :func:`cubic_boundary` leaves them out.

    Returns
    -------
    ``windows``: one row per window of every ramp (:func:`softlattice.perovskite.phases.classify_windows`
    plus the task's ``fa_fraction``, ``kind``, ``replica``, ``repeat``, ``rate_K_per_ps`` and
    ``reference_tilt``); ``transitions``: one row per transition of every ramp (from/to phase,
    temperature, resolution, and the same task columns).
    """

    def setup(task: RampTask) -> tuple:
        return (task.fa_fraction, task.repeat, task.temperature_high, task.sample_interval, task.timestep_fs,
                task.hydrogen_mass)

    references = {setup(t): obs for t, obs in zip(tasks, observations) if t.kind == "reference"}
    window_frames, transition_frames = [], []
    for task, obs in zip(tasks, observations):
        if task.kind == "reference" or obs is None:
            continue  # a ramp that blew up has no windows (the task table says why)
        if setup(task) in references and references[setup(task)] is None:
            continue  # its noise reference blew up: no thresholds for this cell
        if setup(task) not in references:
            raise ValueError(f"no reference run for x = {task.fa_fraction}, repeat {task.repeat}: add a "
                             "'reference' task with the same cell, top temperature and sampling")
        thresholds = noise_thresholds(references[setup(task)], window, n_sigma, rule)
        labels = dict(fa_fraction=task.fa_fraction, kind=task.kind, replica=task.replica, repeat=task.repeat,
                      rate_K_per_ps=task.rate_K_per_ps, reference_tilt=reference_tilt(references[setup(task)]))
        windows = classify_windows(obs, thresholds)
        if has_block_amplitudes(obs) and has_block_amplitudes(references[setup(task)]):
            windows = with_block_states(windows, obs, references[setup(task)], window, n_sigma, task.repeat)
        window_frames.append(windows.assign(**labels))
        transition_frames.append(transition_temperatures(windows, persistence).assign(**labels))
    if not window_frames:  # every ramp blew up or lost its reference
        columns = ["fa_fraction", "kind", "replica", "repeat", "rate_K_per_ps", "reference_tilt"]
        return (pd.DataFrame(columns=["temperature_K", "phase"] + columns),
                pd.DataFrame(columns=["from_phase", "to_phase", "temperature_K", "resolution_K"] + columns))
    return pd.concat(window_frames, ignore_index=True), pd.concat(transition_frames, ignore_index=True)


def reference_tilt(reference: pd.DataFrame) -> str:
    """The persistent tilt of an untilted reference run in words
    (:func:`softlattice.perovskite.phases.persistent_tilt_text`), '' when it holds none or is too
    short to tell."""
    try:
        return persistent_tilt_text(persistent_tilts(reference))
    except ValueError:
        return ""


def has_block_amplitudes(observations: pd.DataFrame) -> bool:
    """Whether a run recorded the local amplitudes of :class:`softlattice.perovskite.coexistence.LocalTiltObserver`
    (runs made before it was attached did not)."""
    return any(column.startswith("q_M_x_b") for column in observations.columns)


def with_block_states(windows: pd.DataFrame, observations: pd.DataFrame, reference: pd.DataFrame, window: int,
                      n_sigma: float, repeat: int) -> pd.DataFrame:
    """``windows`` with the block shares of each window (``blocks_<label>``, the run's
    ``tilt_axis``; :func:`softlattice.perovskite.coexistence.block_states`), and the ``phase`` of a
    window whose global amplitudes read untilted replaced by 'multi-domain' when most blocks
    hold an ordered tilt, or 'disordered' when most tilt without order: a cell whose domains
    cancel is never reported cubic."""
    states = block_states(observations, block_noise_threshold(reference, window, n_sigma), (repeat // 2,) * 3)
    shares = states[[f"share_{label}" for label in LABELS]].rename(columns=lambda c: "blocks_" + c[6:])
    merged = pd.concat([windows.reset_index(drop=True), shares.iloc[:len(windows)].reset_index(drop=True)], axis=1)
    merged["tilt_axis"] = states.tilt_axis.iloc[0] if len(states) else ""
    ordered = merged.blocks_R + merged.blocks_M + merged.blocks_other
    untilted = merged.phase == "a0a0a0"
    merged.loc[untilted & (ordered > 0.5), "phase"] = "multi-domain"
    merged.loc[untilted & (merged.blocks_disordered > 0.5), "phase"] = "disordered"
    return merged


def transition_statistics(transitions: pd.DataFrame) -> pd.DataFrame:
    """Mean transition temperature per composition, direction and transition over replicas, with
    its error: the standard error over replicas combined with the window resolution.

    Returns
    -------
    Columns ``fa_fraction``, ``kind``, ``from_phase``, ``to_phase``, ``temperature_K``,
    ``error_K``, ``replicas`` (how many replicas show the transition).
    """
    rows = []
    keys = ["fa_fraction", "repeat", "rate_K_per_ps", "kind", "from_phase", "to_phase"]
    for key, group in transitions.groupby(keys, sort=True):
        values = group.temperature_K.to_numpy()
        spread = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
        rows.append(dict(zip(keys, key), temperature_K=float(values.mean()),
                         error_K=float(np.hypot(spread, group.resolution_K.max())), replicas=len(values)))
    return pd.DataFrame(rows, columns=keys + ["temperature_K", "error_K", "replicas"])


def cubic_boundary(transitions: pd.DataFrame) -> pd.DataFrame:
    """The transition into the cubic phase on each heating ramp (the last one ending in a0a0a0)
    and out of it on each cooling ramp (the first one leaving a0a0a0).

    Returns
    -------
    One row per ramp: the task columns, ``from_phase``, ``to_phase``, ``temperature_K``,
    ``resolution_K``; ramps that never reach (or leave) the cubic phase, and ramps classified
    against a tilted reference (a non-empty ``reference_tilt``), are absent (with none, an empty
    table with those columns).
    """
    rows = []
    if "reference_tilt" in transitions:
        transitions = transitions[transitions.reference_tilt.fillna("") == ""]
    for _, ramp_transitions in transitions.groupby(["fa_fraction", "kind", "replica", "repeat", "rate_K_per_ps"]):
        heating = ramp_transitions.kind.iloc[0] == "heating"
        chosen = ramp_transitions[ramp_transitions.to_phase == "a0a0a0"] if heating else \
            ramp_transitions[ramp_transitions.from_phase == "a0a0a0"]
        if len(chosen):
            rows.append(chosen.iloc[-1] if heating else chosen.iloc[0])
    return pd.DataFrame(rows, columns=transitions.columns).reset_index(drop=True)


def cubic_boundary_statistics(transitions: pd.DataFrame) -> pd.DataFrame:
    """The cubic boundary (:func:`cubic_boundary`) averaged over replicas per composition,
    direction, cell and rate, whichever tilted phase lies on the other side in each ramp, with
    the error of :func:`transition_statistics`.

    Returns
    -------
    The columns of :func:`transition_statistics`, ``from_phase``/``to_phase`` being 'a0a0a0' and
    'tilted'; ``replicas`` counts the ramps that cross the boundary.
    """
    boundary = cubic_boundary(transitions)
    if not len(boundary):
        return transition_statistics(transitions.iloc[:0])
    heating = (boundary.kind == "heating").to_numpy()
    return transition_statistics(boundary.assign(from_phase=np.where(heating, "tilted", "a0a0a0"),
                                                 to_phase=np.where(heating, "a0a0a0", "tilted")))


def phase_at(windows: pd.DataFrame, temperature: float) -> pd.DataFrame:
    """The phase label of each ramp in the window nearest ``temperature`` (K).

    Returns
    -------
    Columns ``fa_fraction``, ``kind``, ``replica``, ``repeat``, ``rate_K_per_ps``, ``temperature_K``,
    ``phase``.
    """
    keys = ["fa_fraction", "kind", "replica", "repeat", "rate_K_per_ps"]
    rows = []
    for key, group in windows.groupby(keys):
        nearest = group.iloc[int(np.argmin(np.abs(group.temperature_K.to_numpy() - temperature)))]
        rows.append(dict(zip(keys, key), temperature_K=float(nearest.temperature_K), phase=nearest.phase))
    return pd.DataFrame(rows)


def with_settings(tasks: Sequence[RampTask], **changes: Any) -> list[RampTask]:
    """Copies of ``tasks`` with some fields changed (e.g. a larger cell for a finite-size test)."""
    return [replace(task, **changes) for task in tasks]


def phase_diagram_tasks(settings: dict[str, Any]) -> list[RampTask]:
    """Every task of the phase-diagram chapter from its profile settings: the composition grid
    (:func:`sweep_grid` with ``replicas``), a ramp in a larger cell (``size_test``: any
    :class:`RampTask` fields over the grid's, ``fa_fraction`` and ``kind`` required; its own untilted
    reference is added), a ramp at another rate (``rate_test``, the same way), and any
    ``extra_tasks`` (the same fields, each task as given)."""
    ramp_settings = dict(settings["ramp"])
    tasks = sweep_grid(settings["fa_fractions"], settings["replicas"], **ramp_settings)
    size, rate = settings.get("size_test"), settings.get("rate_test")
    if size:
        larger = {**ramp_settings, **{k: v for k, v in size.items() if k not in ("fa_fraction", "kind")}}
        tasks += [RampTask(size["fa_fraction"], size["kind"], **larger),
                  RampTask(size["fa_fraction"], "reference", **larger)]
    if rate:
        other = {**ramp_settings, **{k: v for k, v in rate.items() if k not in ("fa_fraction", "kind")}}
        tasks.append(RampTask(rate["fa_fraction"], rate["kind"], **other))
    for extra in settings.get("extra_tasks", ()):
        tasks.append(RampTask(extra["fa_fraction"], extra["kind"],
                              **{**ramp_settings, **{k: v for k, v in extra.items() if k not in ("fa_fraction", "kind")}}))
    return list(dict.fromkeys(tasks))  # a test that repeats a grid task is run once


SWEEP_FILES = ("tasks.csv", "observations.csv.gz", "windows.csv", "transitions.csv")
CARRIED_RUNS = "finished_runs"
"""Folder of a saved sweep that holds its finished runs (:func:`softlattice.md.stored.export_finished`)."""
SWEEP_PROFILES = ("02_phase_diagram", "02_end_members")
"""The sweeps chapter 02 shows (profile names of :data:`softlattice.infra.profiles.PROFILES`)."""


def collect_frames(tasks: Sequence[RampTask], model: str | Path, store: str | Path,
                   temperatures: Sequence[float]) -> list:
    """Segment-end structures of every ramp at the given target temperatures (K), tagged with
    the task index (info ``task``) and ``target_K``."""
    frames = []
    wanted = {round(float(t), 6) for t in temperatures}
    for index, task in enumerate(tasks):
        if task.kind == "reference" or task_failure(task, model, store):
            continue
        for frame in segment_ends(task, model, store):
            if round(float(frame.info["target_K"]), 6) in wanted:
                frame.info["task"] = index
                frames.append(frame)
    return frames


def ramp_site_shifts(tasks: Sequence[RampTask], model: str | Path, store: str | Path) -> pd.DataFrame:
    """Whether the ions of each finished ramp stay on their sites: at every segment end, the
    largest cation and iodine shift (Å) from the sites of the cell the ramp started from, relative
    to the lead framework (:func:`softlattice.perovskite.sites.largest_site_shifts`).

    Returns
    -------
    Columns ``task`` (index into ``tasks``), ``fa_fraction``, ``kind``, ``replica``, ``repeat``,
    ``rate_K_per_ps``, ``target_K``, ``cation_shift_A``, ``iodine_shift_A``; references and ramps
    that blew up or kept no segment ends are absent.
    """
    rows = []
    for index, task in enumerate(tasks):
        if task.kind == "reference" or task_failure(task, model, store):
            continue
        try:
            frames = segment_ends(task, model, store)
        except FileNotFoundError:
            continue
        start = build_mixed_perovskite(task.fa_fraction, task.repeat,
                                       glazer=task.heating_start if task.kind == "heating" else "a0a0a0",
                                       tilt_angle=task.tilt_angle, seed=task.replica)
        for frame in frames:
            cation, iodine = largest_site_shifts(frame, start)
            rows.append(dict(task=index, fa_fraction=task.fa_fraction, kind=task.kind, replica=task.replica,
                             repeat=task.repeat, rate_K_per_ps=task.rate_K_per_ps,
                             target_K=float(frame.info["target_K"]), cation_shift_A=cation, iodine_shift_A=iodine))
    return pd.DataFrame(rows, columns=["task", "fa_fraction", "kind", "replica", "repeat", "rate_K_per_ps", "target_K",
                                       "cation_shift_A", "iodine_shift_A"])


def save_sweep(folder: str | Path, tasks: Sequence[RampTask], observations: Sequence[pd.DataFrame | None],
               window: int, n_sigma: float, frames: Sequence | None = None,
               failures: dict[int, str] | None = None, sites: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Analyse a finished sweep and write :data:`SWEEP_FILES` (and ``frames.extxyz.gz`` when
    ``frames`` are given, ``sites.csv`` when ``sites``, :func:`ramp_site_shifts`, are) into
    ``folder``; return the tables. ``failures`` (task index -> message) goes into the task table's
    ``failure`` column."""

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if frames:
        with gzip.GzipFile(folder / "frames.extxyz.gz", "wb", mtime=0) as binary, io.TextIOWrapper(binary) as text:
            write(text, list(frames), format="extxyz")
    windows, transitions = analyse_sweep(tasks, observations, window, n_sigma)
    table = task_table(tasks).assign(completed=[obs is not None for obs in observations],
                                     failure=[failures.get(k, "") for k in range(len(tasks))] if failures else "")
    merged = pd.concat([obs.assign(task=k) for k, obs in enumerate(observations) if obs is not None],
                       ignore_index=True)
    table.to_csv(folder / "tasks.csv", index_label="task")
    merged.to_csv(folder / "observations.csv.gz", index=False, float_format="%.6g")
    windows.to_csv(folder / "windows.csv", index=False, float_format="%.6g")
    transitions.to_csv(folder / "transitions.csv", index=False)
    if sites is not None:
        sites.to_csv(folder / "sites.csv", index=False, float_format="%.4g")
    return load_sweep(folder)


def load_sweep(folder: str | Path) -> dict[str, pd.DataFrame]:
    """The tables of a saved sweep, keyed by file stem."""
    return {name.split(".")[0]: pd.read_csv(Path(folder) / name) for name in SWEEP_FILES}


def reclassify_sweep(folder: str | Path, window_ps: float, n_sigma: float = 5.0, rule: str = "equal",
                     persistence: int = 2, repeat: int | None = None,
                     rate_K_per_ps: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Windows and transitions of a saved sweep analysed again from its observations, with windows
    of ``window_ps`` (whole samples) and the threshold ``rule``; the same tables as
    :func:`analyse_sweep`. ``repeat`` and ``rate_K_per_ps`` restrict it to the ramps of one cell
    and rate (and their references)."""
    tables = load_sweep(folder)
    task_rows = tables["tasks"]
    if repeat is not None:
        task_rows = task_rows[task_rows.repeat == repeat]
    if rate_K_per_ps is not None:
        task_rows = task_rows[(task_rows.rate_K_per_ps == rate_K_per_ps) | (task_rows.kind == "reference")]
    fields = set(RampTask.__dataclass_fields__)
    tasks = [RampTask(**{k: v for k, v in row.items() if k in fields and pd.notna(v)})
             for row in task_rows.to_dict("records")]
    by_task = dict(tuple(tables["observations"].groupby("task")))
    # the saved table holds every task's columns: a smaller cell's block columns are empty
    observations = [by_task[k].drop(columns="task").dropna(axis=1, how="all").reset_index(drop=True)
                    if k in by_task else None for k in task_rows["task"]]
    windows_per_task = {round(window_ps * 1000 / (t.timestep_fs * t.sample_interval)) for t in tasks}
    if len(windows_per_task) != 1:
        raise ValueError(f"the sweep's tasks sample at different intervals: {window_ps} ps windows would hold "
                         f"{sorted(windows_per_task)} samples")
    return analyse_sweep(tasks, observations, max(1, windows_per_task.pop()), n_sigma, persistence, rule)


def profile_window_ps(settings: dict[str, Any]) -> float:
    """Length (ps) of a sweep profile's classification window: ``window`` samples of
    ``ramp.sample_interval`` steps of the ramp's time step."""
    ramp = settings["ramp"]
    return settings["window"] * ramp["sample_interval"] * ramp.get("timestep_fs", RampTask.timestep_fs) / 1000


def load_sweep_sites(folder: str | Path) -> pd.DataFrame | None:
    """The site shifts a saved sweep kept (:func:`ramp_site_shifts`), or None for a sweep saved
    without them."""
    path = Path(folder) / "sites.csv"
    return pd.read_csv(path) if path.exists() else None


def load_sweep_frames(folder: str | Path) -> list:
    """The structures a saved sweep kept (:func:`collect_frames`), or [] when it kept none."""
    path = Path(folder) / "frames.extxyz.gz"
    return read(path, index=":") if path.exists() else []


def obtain_sweep(settings: dict[str, Any], model: str | Path, curated: str | Path | None = None,
                 store: str | Path = RUNS_DIR / "sweeps", compute: bool = True) -> ResultSet | None:
    """The analysed phase-diagram sweep for ``settings`` (a chapter profile) and ``model``
    (:func:`softlattice.infra.resultsets.obtain`, keyed by the settings and the model hash; the MD
    runs are cached per task in ``store``, so an interrupted sweep loses no finished run).

    Returns
    -------
    A result set with the tables of :data:`SWEEP_FILES` (:func:`load_sweep`) and its kept
    structures (:func:`load_sweep_frames`); None when ``compute`` is False and the sweep is
    neither committed nor cached.
    """
    # how the runs are scheduled does not change them (each task has its own seed)
    physics = {k: v for k, v in settings.items() if k not in ("scheduler", "workers", "profile")}

    def run(folder: Path) -> None:
        tasks = phase_diagram_tasks(settings)
        observations = run_sweep(tasks, model, store, scheduler=settings.get("scheduler"),
                                 workers=settings.get("workers"), progress=False)
        frames = collect_frames(tasks, model, store, settings.get("frame_temperatures", ()))
        failures = {k: task_failure(t, model, store) for k, t in enumerate(tasks) if observations[k] is None}
        save_sweep(folder, tasks, observations, settings["window"], settings["n_sigma"], frames, failures,
                   ramp_site_shifts(tasks, model, store))

    inputs = {"model_sha256_16": file_hash(model)}
    return obtain("sweep", physics, inputs, run, committed=curated,
                  command="python -m softlattice.perovskite.workflows.phase_diagram", may_compute=compute)


def run_part(tasks: Sequence[RampTask], model: str | Path, store: str | Path, part: tuple[int, int],
             carry_into: str | Path | None = None) -> list[RampTask]:
    """Run (or resume, or load) the tasks of ``part`` = (i, n) (:func:`softlattice.infra.shares.take_share`)
    in a plain loop; returns them. Parts share no task, so n processes can run at once. With
    ``carry_into``, each run is carried into that result set as soon as it finishes, so a session that
    ends mid-part loses only the run in progress."""
    mine = take_share(tasks, part)
    for task in mine:
        run_task(task, model, store)
        if carry_into is not None:
            carry_runs(tasks, model, store, carry_into)
    return mine


def carry_runs(tasks: Sequence[RampTask], model: str | Path, store: str | Path, folder: str | Path) -> int:
    """Copy the finished runs of ``tasks`` from ``store`` into the result set ``folder``
    (:data:`CARRIED_RUNS`); returns how many it holds."""
    model_hash = file_hash(model)
    return export_finished(store, [task_key(task, model_hash) for task in tasks], Path(folder) / CARRIED_RUNS)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m softlattice.perovskite.workflows.phase_diagram --model M --profile full --save DIR``: run the chapter-02
    sweep (resumable: rerun the same command) and store the analysed tables with provenance."""
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.phase_diagram",
                                     description="Chapter 02: heating/cooling sweeps over composition (resumable "
                                                 "per run), analysed into phases and transitions.")
    parser.add_argument("--model", type=Path, required=True, help="NEP model file (nep.txt)")
    parser.add_argument("--profile", default="full", choices=["quick", "full"], help="parameter profile")
    parser.add_argument("--sweep", default="02_phase_diagram", choices=SWEEP_PROFILES,
                        help="which sweep: the composition grid of chapter 02, or the slow end-member ramps")
    parser.add_argument("--save", type=writable_folder, required=True,
                        help="folder to store the result set in; the finished runs it carries are not run again")
    parser.add_argument("--part", type=parse_share, default=None, metavar="I/N",
                        help="i/n: run only the i-th share of the tasks (one process each, e.g. 0/2 and 1/2), "
                             "carry the finished runs into --save, and analyse nothing")
    parser.add_argument("--scheduler", default=None,
                        help="'local' (a Dask LocalCluster), a scheduler address, or 'none' (a plain loop)")
    parser.add_argument("--workers", type=positive_int, default=None, help="Dask workers of a local cluster")
    parser.add_argument("--store", type=Path, default=RUNS_DIR / "sweeps", help="cache of the MD runs")
    args = parser.parse_args(argv)
    part = args.part
    if not args.model.is_file():
        parser.error(f"model file {str(args.model)!r} does not exist")
    settings = resolve(args.sweep, args.profile)
    if args.scheduler is not None:
        settings["scheduler"] = None if args.scheduler.lower() == "none" else args.scheduler
    if args.workers is not None:
        settings["workers"] = args.workers
    tasks = phase_diagram_tasks(settings)
    restored = import_finished(Path(args.save) / CARRIED_RUNS, args.store)
    if part is not None:
        mine = run_part(tasks, args.model, args.store, part, carry_into=args.save)
        carried = carry_runs(tasks, args.model, args.store, args.save)
        print(f"part {part[0]}/{part[1]}: {len(mine)} of {len(tasks)} tasks finished ({restored} restored from {args.save}); "
              f"{args.save} carries {carried} finished runs")
        return 0
    carry_runs(tasks, args.model, args.store, args.save)  # the store then holds the carried copies
    result = obtain_sweep(settings, args.model, store=args.store)
    result.copy_to(args.save)
    carry_runs(tasks, args.model, args.store, args.save)
    print(f"{result.source}; stored in {args.save} ({' '.join(argv if argv is not None else sys.argv[1:])})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
