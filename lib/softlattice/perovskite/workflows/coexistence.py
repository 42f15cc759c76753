"""Fixed-temperature coexistence runs: which tilt grows at each (x, T), and the MPB from them.

``python -m softlattice.perovskite.workflows.coexistence --model M --profile full [--part i/n]``
runs (or resumes) the grid of the profile; ``--save DIR`` collects the finished runs into a
result set (per-window block states, the outcome of every run, the MPB fit and ``summary.json``).

Units: K, ps, Å.

Two kinds of run (:class:`CoexistenceTask`), both NPT:

* 'coexistence': the cell of :func:`softlattice.perovskite.coexistence.build_coexistence_cell`
  (half a0a0c-, half a0a0c+ along z) held at the temperature until one tilt holds more than
  ``stop_share`` of the blocks for ``stop_hold_ps`` or ``duration_ps`` is reached; its first
  window sets the one activation threshold for M and R
  (:func:`softlattice.perovskite.coexistence.initial_order_threshold`);
* 'quench': the seed's own protocol, the cubic cell dropped to the temperature and held,
  classified with the threshold of the coexistence run of the same composition, temperature and
  replica (:func:`calibration_task`).

Every run is checkpointed once per picosecond (a killed run resumes exactly) and stored under a
key of its parameters and the model's hash; a blow-up is recorded and not retried. The grid takes
longer than a session on two cores, so a result set carries the observations (and final states) of
its finished runs in ``finished_runs/`` (:data:`CARRIED_RUNS`), and ``--finished DIR`` restores them
into a new store before the grid goes on: a run finished on any machine is never run again.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from softlattice.infra.keys import file_hash, json_key
from softlattice.infra.log import progress_printer
from softlattice.infra.paths import RUNS_DIR
from softlattice.infra.provenance import read_provenance, write_provenance
from softlattice.infra.resultsets import RESULTS_DIR, ResultSet, obtain
from softlattice.md.calculators import model_species, nep_calculator
from softlattice.md.engine import MDSettings, run_md
from softlattice.md.protocols import hold
from softlattice.md.stored import export_finished, import_finished, stored_failure, stored_run
from softlattice.perovskite.coexistence import (
    BLOCK,
    LocalTiltObserver,
    BlockThreshold,
    block_states,
    build_coexistence_cell,
    coexistence_winner,
    initial_order_threshold,
    initial_state_seen,
    one_tilt_holds,
    stopping_time,
)
from softlattice.perovskite.modes import tilt_observers
from softlattice.perovskite.mpb import fit_mpb
from softlattice.perovskite.structures import build_mixed_perovskite

KINDS = ("coexistence", "quench")
NOT_SEEN = "initial tilts not seen"
"""Outcome of a coexistence run whose classifier misses the tilts the cell was built with: not
evidence for either tilt, left out of the MPB fit and the winners."""
MA_FA_SPECIES_NEEDED = {"H", "C", "N", "Pb", "I"}
CARRIED_RUNS = "finished_runs"
"""Folder of a result set that holds its finished runs (:func:`softlattice.md.stored.export_finished`)."""


@dataclass(frozen=True)
class CoexistenceTask:
    """One run.

    Attributes
    ----------
    fa_fraction
        FA fraction x in [0, 1].
    temperature
        Temperature of the run, K.
    kind
        One of :data:`KINDS`.
    replica
        Seed of the A-site arrangement, molecular orientations and thermostat.
    repeat
        Pseudo-cubic cells along x, y, z (z, the tilt axis, a multiple of 4).
    duration_ps
        Longest run, ps.
    timestep_fs, hydrogen_mass, sample_interval
        Integrator (H of ``hydrogen_mass`` amu; None for real masses) and sampling (steps).
    window_ps
        Classification window.
    stop_share, stop_hold_ps
        Early stop: one tilt above this share of the blocks for this long.
    tilt_angle
        Starting tilt of the halves, degrees.
    """

    fa_fraction: float
    temperature: float
    kind: str = "coexistence"
    replica: int = 0
    repeat: tuple[int, int, int] = (4, 4, 8)
    duration_ps: float = 60.0
    timestep_fs: float = 1.0
    hydrogen_mass: float | None = 4.0
    sample_interval: int = 20
    window_ps: float = 1.0
    stop_share: float = 0.9
    stop_hold_ps: float = 5.0
    tilt_angle: float = 8.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "repeat", tuple(int(r) for r in self.repeat))
        if not 0.0 <= self.fa_fraction <= 1.0:
            raise ValueError(f"FA fraction {self.fa_fraction!r} is outside [0, 1]")
        if not self.temperature > 0:
            raise ValueError(f"temperature {self.temperature!r} K must be > 0")
        if self.kind not in KINDS:
            raise ValueError(f"unknown run kind {self.kind!r}; allowed: {', '.join(KINDS)}")
        if len(self.repeat) != 3 or any(r < BLOCK or r % BLOCK for r in self.repeat) or self.repeat[2] % (2 * BLOCK):
            raise ValueError(f"repeat {self.repeat} cannot hold two halves of whole {BLOCK}x{BLOCK}x{BLOCK} blocks: "
                             f"the repeats must be even and the one along the tilt axis z a multiple of {2 * BLOCK}")
        if not self.duration_ps > 0 or not self.window_ps > 0:
            raise ValueError(f"duration ({self.duration_ps}) and window ({self.window_ps}) must be > 0 ps")
        if not 0.5 < self.stop_share <= 1.0:
            raise ValueError(f"stop share {self.stop_share!r} must lie in (0.5, 1]")

    @property
    def window(self) -> int:
        """Samples per classification window."""
        return max(1, int(round(self.window_ps * 1000 / (self.timestep_fs * self.sample_interval))))

    @property
    def grid(self) -> tuple[int, int, int]:
        """Block grid."""
        return tuple(r // BLOCK for r in self.repeat)

    @property
    def n_atoms(self) -> int:
        return 12 * int(np.prod(self.repeat))


def calibration_task(task: CoexistenceTask) -> CoexistenceTask:
    """The coexistence run whose first window sets ``task``'s threshold: itself, or for a quench
    the coexistence run of the same composition, temperature, replica and cell."""
    return replace(task, kind="coexistence")


def run_threshold(task: CoexistenceTask, calibration: pd.DataFrame) -> BlockThreshold:
    """``task``'s activation threshold from the observations of its :func:`calibration_task`."""
    return initial_order_threshold(calibration, task.window, task.grid)


def coarse_to_fine(fa_fraction: float) -> tuple[int, float]:
    """Sort key of a composition: x = 0 and 1, then 1/2, then the quarters, the eighths, ..."""
    return Fraction(fa_fraction).limit_denominator(1024).denominator, fa_fraction


def grid_tasks(settings: dict[str, Any]) -> list[CoexistenceTask]:
    """The runs of a profile: coexistence runs at every (x, T) of ``grid`` (a list of
    ``[temperature, [x, ...]]``) and replica, and quench runs at ``quench`` (same form); in the
    order they are run: the grids as listed (the first grid first), within a grid the first replica
    at every composition before the second, and the compositions coarse to fine
    (:func:`coarse_to_fine`), so that an unfinished grid already spans x."""
    common = {key: settings[key] for key in ("repeat", "duration_ps", "timestep_fs", "hydrogen_mass",
                                             "sample_interval", "window_ps", "stop_share",
                                             "stop_hold_ps") if key in settings}
    tasks: list[CoexistenceTask] = []
    for kind, spec in (("coexistence", settings["grid"]), ("quench", settings.get("quench", []))):
        for temperature, fractions in spec:
            for replica in range(settings["replicas"]):
                for x in sorted(fractions, key=coarse_to_fine):
                    tasks.append(CoexistenceTask(float(x), float(temperature), kind, replica, **common))
    missing = [t for t in tasks if t.kind == "quench" and calibration_task(t) not in tasks]
    if missing:
        raise ValueError(f"quench runs without a coexistence run of the same (x, T, replica) to set their threshold: "
                         + ", ".join(f"x = {t.fa_fraction:g}, {t.temperature:g} K" for t in missing))
    return tasks


def select_tasks(tasks: Sequence[CoexistenceTask], **only: Sequence[Any] | None) -> list[CoexistenceTask]:
    """The ``tasks`` whose fields take one of the given values, e.g. ``fa_fraction=[0.0, 1.0],
    replica=[1]`` (a field given as None or not given is not restricted); in the order of ``tasks``.

    Raises
    ------
    ValueError
        For a field a task does not have, or a value no task takes (naming the values there are).
    """
    selected = list(tasks)
    for field, values in only.items():
        if values is None:
            continue
        if field not in CoexistenceTask.__dataclass_fields__:
            raise ValueError(f"coexistence runs have no field {field!r}")
        present = sorted({getattr(task, field) for task in tasks})
        absent = [value for value in values if value not in present]
        if absent:
            raise ValueError(f"no run of the grid has {field} = {', '.join(map(str, absent))}; "
                             f"the grid has {', '.join(map(str, present))}")
        selected = [task for task in selected if getattr(task, field) in values]
    return selected


def task_key(task: CoexistenceTask, model_hash: str) -> str:
    return json_key(dict(task=asdict(task), model=model_hash))


def check_model(model: str | Path) -> None:
    """Refuse a model without the MA/FA species before any MD."""
    missing = MA_FA_SPECIES_NEEDED - set(model_species(model))
    if missing:
        raise ValueError(f"model {str(model)!r} has species {model_species(model)}; a MA/FA cell needs "
                         f"{sorted(MA_FA_SPECIES_NEEDED)} (missing {sorted(missing)})")


def run_task(task: CoexistenceTask, model: str | Path, store: str | Path,
             calibration: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """Run, resume or load one task; its observations, or None if it blew up (recorded in
    ``failed.json``, not retried). A quench run needs the observations of its
    :func:`calibration_task` for the early stop (a coexistence run calibrates itself)."""
    check_model(model)
    model_hash = file_hash(model)
    if task.kind == "quench" and calibration is None:
        raise ValueError("a quench run needs the observations of the coexistence run that sets its threshold")
    folder = Path(store) / task_key(task, model_hash)

    def run() -> tuple[pd.DataFrame, dict]:
        if task.kind == "coexistence":
            atoms = build_coexistence_cell(task.fa_fraction, task.repeat, tilt_angle=task.tilt_angle,
                                           seed=task.replica)
        else:
            atoms = build_mixed_perovskite(task.fa_fraction, task.repeat, seed=task.replica)
        def stop_when(observations: pd.DataFrame) -> bool:
            if len(observations) < task.window:
                return False
            threshold = run_threshold(task, observations if calibration is None else calibration)
            return one_tilt_holds(block_states(observations, threshold, task.grid), task.stop_share,
                                  task.stop_hold_ps) is not None

        settings = MDSettings(ensemble="npt", timestep_fs=task.timestep_fs,
                              sample_interval=task.sample_interval, hydrogen_mass=task.hydrogen_mass,
                              seed=task.replica)
        result = run_md(atoms, nep_calculator(model, atoms=atoms),
                        hold(task.temperature, task.duration_ps, segment_ps=task.window_ps), settings,
                        checkpoint_dir=folder / "checkpoint", model_id=model_hash,
                        observers=[*tilt_observers(atoms), LocalTiltObserver(atoms)], stop_when=stop_when)
        return (result.observations.assign(fa_fraction_cell=float(atoms.info["fa_fraction"])),
                dict(model=str(model), model_hash=model_hash, stopped_early=result.stopped_early,
                     atom_steps_per_second=result.atom_steps_per_second))

    return stored_run(folder, run, asdict(task))


def run_grid(tasks: Sequence[CoexistenceTask], model: str | Path, store: str | Path = RUNS_DIR / "coexistence",
             part: tuple[int, int] = (0, 1), progress: bool = False, finished: str | Path | None = None) -> None:
    """Run the tasks of ``part`` = (i, n): every run at the i-th, (i+n)-th, ... composition (in
    :func:`coarse_to_fine` order, so each part spans x; a quench and its calibrating coexistence
    run share a composition, so no two parts run the same run); runs in the order of ``tasks``.
    The finished runs a result set ``finished`` carries are restored into ``store`` first."""
    index, count = part
    if not 0 <= index < count:
        raise ValueError(f"part {index}/{count} does not exist: parts run from 0/{count} to {count - 1}/{count}")
    say = progress_printer(progress)
    if finished is not None:
        restored = import_finished(Path(finished) / CARRIED_RUNS, store)
        say(f"{restored} finished runs restored from {finished}")
    mine = sorted({t.fa_fraction for t in tasks}, key=coarse_to_fine)[index::count]
    for task in [t for t in tasks if t.fa_fraction in mine]:
        calibration = None
        if task.kind == "quench":
            calibration = run_task(calibration_task(task), model, store)
            if calibration is None:
                say(f"  the coexistence run of x = {task.fa_fraction:g}, {task.temperature:g} K blew up: "
                    "its quench cannot be classified, skipped")
                continue
        say(f"{task.kind} x = {task.fa_fraction:g}, {task.temperature:g} K, replica {task.replica}")
        run_task(task, model, store, calibration=calibration)


def analyse(tasks: Sequence[CoexistenceTask], model: str | Path, store: str | Path) -> dict[str, pd.DataFrame]:
    """Block states per window and the outcome of every finished run (``outcomes``: task fields,
    the run's last time, whether it stopped early, :func:`coexistence_winner`; blown-up runs with
    ``winner`` 'blew up'; coexistence runs whose first window the classifier does not read as
    tilted (:func:`~softlattice.perovskite.coexistence.initial_state_seen`) with ``winner``
    :data:`NOT_SEEN`). Unfinished runs (and quenches whose calibrating run is unfinished) are left out."""
    model_hash = file_hash(model)
    outcomes, states = [], []
    for task in tasks:
        folder = Path(store) / task_key(task, model_hash)
        fields = dict(fa_fraction=task.fa_fraction, temperature_K=task.temperature, kind=task.kind,
                      replica=task.replica)
        failure = stored_failure(folder)
        if failure is not None:
            outcomes.append(dict(fields, winner="blew up", message=failure))
            continue
        calibration_file = Path(store) / task_key(calibration_task(task), model_hash) / "observations.csv.gz"
        if not (folder / "observations.csv.gz").exists() or not calibration_file.exists():
            continue
        threshold = run_threshold(task, pd.read_csv(calibration_file))
        observations = pd.read_csv(folder / "observations.csv.gz")
        run_states = block_states(observations, threshold, task.grid)
        stop = stopping_time(run_states, task.stop_share, task.stop_hold_ps)
        if stop is not None:  # a run that ran past the stop rule (an older rule) is read up to it
            run_states = run_states[run_states.time_ps <= stop + 1e-9]
        outcome = dict(fields, duration_ps=float(run_states.time_ps.iloc[-1]),
                       stopped_early=stop is not None and stop < task.duration_ps - 1e-9,
                       threshold_A=threshold.at(task.temperature), **coexistence_winner(run_states, task.stop_hold_ps))
        if task.kind == "coexistence":
            outcome["initial_ordered_share"], seen = initial_state_seen(run_states)
            if not seen:
                outcome["winner"] = NOT_SEEN
        outcomes.append(outcome)
        states.append(run_states.assign(**fields))
    return dict(outcomes=pd.DataFrame(outcomes),
                states=pd.concat(states, ignore_index=True) if states else pd.DataFrame())


def mpb_summary(outcomes: pd.DataFrame, temperature: float, model: str) -> dict[str, Any]:
    """``summary.json`` content: the MPB at ``temperature`` from the coexistence runs (logistic fit
    of the R share vs x with a bootstrap over runs; null with the reason when unresolved), the
    winner of every coexistence run (with the share of blocks tilted about another axis than the
    run's: where it is large the cell is not a single-axis tetragonal phase), and the runs left out
    because the classifier did not see their initial tilts (``not_seen``)."""
    runs = (outcomes[(outcomes.kind == "coexistence") & ~outcomes.winner.isin(["blew up", NOT_SEEN])]
            if len(outcomes) else outcomes)
    at_t = runs[(runs.temperature_K == temperature) & runs.r_share.notna()] if len(runs) else runs
    mpb, reason = None, ""
    try:
        fit = fit_mpb(at_t.fa_fraction.to_numpy(), at_t.r_share.to_numpy(), bootstrap=500,
                      confidence=0.95)
        mpb = dict(temperature_K=float(temperature), center=fit.center, low=fit.center_low, high=fit.center_high)
    except (ValueError, AttributeError) as error:
        reason = str(error) if isinstance(error, ValueError) else "no finished runs"
    blind = (outcomes[(outcomes.kind == "coexistence") & (outcomes.winner == NOT_SEEN)]
             if len(outcomes) else outcomes)
    return dict(model=model, mpb=mpb, mpb_unresolved_because=reason or None,
                not_seen=[dict(fa_fraction=float(r.fa_fraction), temperature_K=float(r.temperature_K),
                               replica=int(r.replica), initial_ordered_share=float(r.initial_ordered_share))
                          for r in blind.itertuples()],
                tetragonal_winner=[dict(fa_fraction=float(r.fa_fraction), temperature_K=float(r.temperature_K),
                                        phase=str(r.winner), r_share=float(r.r_share),
                                        share_other_axis=float(r.share_other) if hasattr(r, "share_other") else None)
                                   for r in runs.itertuples()] if len(runs) else [])


def mpb_text(summary: dict[str, Any]) -> str:
    """The MPB of a ``summary.json`` (:func:`mpb_summary`) in words: 'MPB at 250 K at x = 0.40 (95 %
    interval 0.35-0.45)', or 'no MPB resolved (why)'."""
    mpb = summary["mpb"]
    if mpb:
        return (f"MPB at {mpb['temperature_K']:g} K at x = {mpb['center']:.2f} "
                f"(95 % interval {mpb['low']:.2f}-{mpb['high']:.2f})")
    return f"no MPB resolved ({summary['mpb_unresolved_because']})"


def winner_text(outcomes: pd.DataFrame, fa_fraction: float, temperature: float) -> str:
    """The tilt that grew in the coexistence runs at (``fa_fraction``, ``temperature``) in words,
    e.g. 'a0a0c+ in 2 of 2 runs (R share 0.05, 0.02; 52 %, 49 % of the blocks tilted about another
    axis)'; 'not run yet' when none has finished."""
    runs = outcomes[(outcomes.kind == "coexistence") & (outcomes.fa_fraction == fa_fraction)
                    & (outcomes.temperature_K == temperature)] if len(outcomes) else outcomes
    if not len(runs):
        return "not run yet"
    counts = runs.winner.value_counts()
    text = ", ".join(f"{winner} in {count} of {len(runs)} run{'s' if len(runs) > 1 else ''}"
                     for winner, count in counts.items())
    shares = ", ".join(f"{r:.2f}" for r in runs.r_share)
    if "share_other" in runs:
        return (text + f" (R share {shares}; " + ", ".join(f"{100 * o:.0f} %" for o in runs.share_other)
                + " of the blocks tilted about another axis)")
    return text + f" (R share {shares})"


def save_results(folder: str | Path, tasks: Sequence[CoexistenceTask], model: str | Path, store: str | Path,
                 settings: dict[str, Any], command: str = "") -> dict[str, Any]:
    """Write ``outcomes.csv``, ``states.csv.gz``, ``summary.json``, the finished runs
    (:data:`CARRIED_RUNS`) and the provenance into ``folder``. The runs ``folder`` already
    carries are restored into ``store`` first, so that rewriting a result set on a new machine
    never drops the runs finished on an earlier one."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    import_finished(folder / CARRIED_RUNS, store)
    model_hash = file_hash(model)
    # carried first: the store then holds the carried copies, so the tables are those of the set's runs
    export_finished(store, [task_key(task, model_hash) for task in tasks], folder / CARRIED_RUNS)
    tables = analyse(tasks, model, store)
    tables["outcomes"].to_csv(folder / "outcomes.csv", index=False)
    tables["states"].to_csv(folder / "states.csv.gz", index=False)
    summary = mpb_summary(tables["outcomes"], float(settings["mpb_temperature"]), str(model))
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    write_provenance(folder, settings, {"model_sha256_16": file_hash(model)}, command=command,
                     n_runs=len(tasks),
                     n_finished=int(len(tables["outcomes"])))
    return summary


PROFILES: dict[str, dict[str, Any]] = {
    "quick": dict(grid=[[250.0, [0.0, 1.0]]], quench=[], replicas=1, repeat=[2, 2, 4], duration_ps=0.6,
                  window_ps=0.1, stop_hold_ps=0.3, sample_interval=10, mpb_temperature=250.0),
    "full": dict(grid=[[250.0, [k / 8 for k in range(9)]], [300.0, [0.0, 0.25, 0.5, 0.75, 1.0]]],
                 quench=[[250.0, [0.0, 0.5, 1.0]]], replicas=2, repeat=[4, 4, 8], duration_ps=60.0,
                 window_ps=1.0, stop_hold_ps=5.0, sample_interval=20, mpb_temperature=250.0),
}
"""'full': issue 16's grid (250 K at every x in steps of 1/8, 300 K at five, two replicas, 1,536-atom
cells, <= 60 ps, seed-protocol quenches at three compositions);
'quick': the same code path in a tiny cell in seconds (tests)."""


COMMAND = "python -m softlattice.perovskite.workflows.coexistence"


def obtain_coexistence(profile: str, model: str | Path, curated: str | Path | None = None, compute: bool = True,
                       store: str | Path = RUNS_DIR / "coexistence", results_dir: str | Path = RESULTS_DIR
                       ) -> ResultSet | None:
    """The coexistence result set of ``profile`` (:data:`PROFILES`) and ``model``: the committed
    one in ``curated`` when its provenance matches, else cached or (``compute``) run now; None when
    it is neither committed nor cached and ``compute`` is False (a grid of hours is never started
    by a page)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown coexistence profile {profile!r}; allowed: {', '.join(PROFILES)}")
    settings = dict(PROFILES[profile], profile=profile)
    inputs = {"model_sha256_16": file_hash(model)}
    tasks = grid_tasks(settings)

    def run(folder: Path) -> None:
        check_model(model)
        run_grid(tasks, model, store)
        save_results(folder, tasks, model, store, settings, command=f"{COMMAND} --model {model} --profile {profile}")

    return obtain("coexistence", settings, inputs, run, committed=curated, results_dir=results_dir,
                  command=f"{COMMAND} --profile {profile}", may_compute=compute)


def load_coexistence(folder: str | Path) -> dict[str, Any]:
    """The tables of a coexistence result set: ``outcomes``, ``states``, ``summary`` (the parsed
    ``summary.json``) and ``progress`` (finished runs and runs of the grid, from its provenance)."""
    folder = Path(folder)
    record = read_provenance(folder) or {}
    outcomes = pd.read_csv(folder / "outcomes.csv")
    return dict(outcomes=outcomes, states=pd.read_csv(folder / "states.csv.gz"),
                summary=json.loads((folder / "summary.json").read_text()),
                progress=(int(record.get("n_finished", len(outcomes))), int(record.get("n_runs", len(outcomes)))))


def progress_text(tables: dict[str, Any]) -> str:
    """How much of the grid a coexistence result set (:func:`load_coexistence`) holds, in words:
    'all 34 runs finished' or '1 of 34 runs finished'."""
    finished, total = tables["progress"]
    return f"all {total} runs finished" if finished == total else f"{finished} of {total} runs finished"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.coexistence",
                                     description="Fixed-temperature coexistence runs (issue 16); resumable.")
    parser.add_argument("--model", required=True, help="NEP file")
    parser.add_argument("--profile", default="full", choices=sorted(PROFILES))
    parser.add_argument("--part", default="0/1", help="i/n: run the i-th of n shares of the runs (two processes: "
                                                      "0/2 and 1/2, one core each)")
    parser.add_argument("--store", type=Path, default=RUNS_DIR / "coexistence")
    parser.add_argument("--save", type=Path, default=None, help="collect the finished runs into this result set")
    parser.add_argument("--fa-fractions", type=float, nargs="+", default=None, help="run only the runs at these x")
    parser.add_argument("--temperatures", type=float, nargs="+", default=None, help="run only the runs at these K")
    parser.add_argument("--replicas", type=int, nargs="+", default=None, help="run only the runs of these replicas")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=None, help="run only the runs of these kinds")
    parser.add_argument("--finished", type=Path, default=None,
                        help="result set whose finished runs are restored into the store first (not run again)")
    args = parser.parse_args(argv)
    try:
        index, count = (int(v) for v in args.part.split("/"))
    except ValueError:
        parser.error(f"--part {args.part!r} is not of the form i/n")
    settings = PROFILES[args.profile]
    tasks = grid_tasks(settings)
    selection = dict(fa_fraction=args.fa_fractions, temperature=args.temperatures, replica=args.replicas,
                     kind=args.kinds)
    if args.save is not None and any(values is not None for values in selection.values()):
        parser.error("--save collects the whole grid: leave out --fa-fractions, --temperatures, --replicas, --kinds")
    try:
        selected = select_tasks(tasks, **selection)
    except ValueError as error:
        parser.error(str(error))
    check_model(args.model)
    if args.save is not None:
        summary = save_results(args.save, tasks, args.model, args.store, dict(settings, profile=args.profile),
                               command=f"{COMMAND} " + " ".join(argv or sys.argv[1:]))
        print(json.dumps(summary, indent=1))
        return 0
    run_grid(selected, args.model, args.store, (index, count), progress=True, finished=args.finished)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
