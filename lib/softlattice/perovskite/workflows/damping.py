"""Chapter 04: tilt-mode damping over composition and temperature (NVT runs, ACFs of the M and R
mode coordinates, damped-harmonic-oscillator fits from :mod:`softlattice.analysis.dho`).

Units: time in ps, angular frequencies and damping in rad/ps.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from softlattice.analysis.dho import fit_dho, fit_windows, mode_acf, separable
from softlattice.infra.cli import writable_folder
from softlattice.infra.keys import file_hash, json_key
from softlattice.infra.log import progress_printer
from softlattice.infra.paths import RUNS_DIR
from softlattice.infra.profiles import resolve
from softlattice.infra.resultsets import ResultSet, obtain
from softlattice.infra.shares import parse_share, take_share
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDSettings, run_md
from softlattice.md.protocols import hold
from softlattice.md.stored import stored_failure, stored_run
from softlattice.perovskite.damping_map import crossing_table, mode_crossover
from softlattice.perovskite.modes import tilt_observers
from softlattice.perovskite.structures import build_mixed_perovskite
from softlattice.perovskite.workflows.boundaries import NoCubicPhase, cubic_boundaries
from softlattice.perovskite.workflows.phase_diagram import RampTask, run_sweep, task_failure


def family_acf(observations, family: str, max_lag_ps: float) -> tuple[np.ndarray, np.ndarray]:
    """ACF of the M or R family: the mean of the ACFs of the modes about x, y and z (equivalent
    in the cubic phase, so averaging them triples the statistics).

    Parameters
    ----------
    observations
        Observations of an NVT run (:func:`softlattice.md.engine.run_md`): ``time_ps`` and ``Q_<family>_<axis>``.
    family
        'M' or 'R'.
    max_lag_ps
        Longest lag, ps.
    """
    lags, position, _ = family_acfs(observations, family, max_lag_ps)
    return lags, position


def damping_ratios(fits):
    """The damping ratio gamma / (2 w0) (above 1 overdamped, below 1 underdamped) of the separable
    fits of a :func:`damping_table`, one row per run and one column per family."""
    kept = fits[(fits.regime != "run failed") & separable(fits.w0, fits.gamma, fits.w0_error, fits.gamma_error)]
    return kept.assign(damping_ratio=kept.gamma / (2 * kept.w0)).pivot_table(
        index=["fa_fraction", "temperature_K"], columns="family", values="damping_ratio")


def damping_table(tasks, observations, max_lag_ps: float, failures=None):
    """DHO fits of the M and R families for every NVT run.

    Parameters
    ----------
    tasks, observations
        :class:`softlattice.perovskite.workflows.phase_diagram.RampTask` objects of kind 'reference' and their observations
        (None for a run that blew up).
    max_lag_ps
        Longest ACF lag fitted, ps.
    failures
        Per task, why it blew up (or None); a failed run gets rows with NaN fits, regime 'run
        failed' and the reason, so it stays visible.

    Returns
    -------
    One row per run and family: ``fa_fraction``, ``temperature_K``, ``family``, the
    :class:`DHOFit` fields and ``regime``.
    """
    failures = list(failures) if failures is not None else [None] * len(tasks)
    rows = []
    for task, obs, failure in zip(tasks, observations, failures):
        for family in ("M", "R"):
            if obs is None:
                rows.append(dict(fa_fraction=task.fa_fraction, temperature_K=task.temperature_high, family=family,
                                 w0=np.nan, gamma=np.nan, w0_error=np.nan, gamma_error=np.nan, amplitude=np.nan,
                                 converged=False, message=f"run blew up: {failure or 'no observations'}",
                                 regime="run failed"))
                continue
            lags, acf = family_acf(obs, family, max_lag_ps)
            fit = fit_dho(lags, acf)
            rows.append(dict(fa_fraction=task.fa_fraction, temperature_K=task.temperature_high, family=family,
                             w0=fit.w0, gamma=fit.gamma, w0_error=fit.w0_error, gamma_error=fit.gamma_error,
                             amplitude=fit.amplitude, converged=fit.converged, message=fit.message,
                             regime=fit.regime))
    return pd.DataFrame(rows)


def nvt_tasks(fa_fractions, temperatures, run_ps: float, repeat: int = 4, seed: int = 0) -> list:
    """NVT runs of the cubic cell with real masses (0.5 fs steps, a sample every 5 fs) at every
    composition and temperature, as :class:`softlattice.perovskite.workflows.phase_diagram.RampTask` of kind 'reference'."""
    return [RampTask(float(x), "reference", temperature_low=1.0, temperature_high=float(t), repeat=repeat,
                     replica=seed, timestep_fs=0.5, hydrogen_mass=None, sample_interval=10, reference_ps=run_ps)
            for x in fa_fractions for t in temperatures]


def obtain_damping(settings: dict, model, curated=None, store=None) -> ResultSet:
    """ACFs and DHO fits for a chapter-04 profile (:func:`softlattice.infra.resultsets.obtain`,
    keyed by the settings and the model hash; the MD runs go through
    :func:`softlattice.perovskite.workflows.phase_diagram.run_sweep`, cached per run in ``store``).

    Returns
    -------
    A result set with tables ``fits`` (:func:`damping_table`) and ``acfs`` (long table:
    ``fa_fraction``, ``temperature_K``, ``family``, ``lag_ps``, ``acf``).
    """
    # how the runs are scheduled does not change them (each task has its own seed)
    physics = {k: v for k, v in settings.items() if k not in ("profile", "scheduler", "workers")}
    store = Path(store) if store else RUNS_DIR / "sweeps"

    def compute(folder: Path) -> None:
        tasks = nvt_tasks(settings["fa_fractions"], settings["temperatures"], settings["run_ps"], settings["repeat"])
        observations = run_sweep(tasks, model, store, scheduler=settings.get("scheduler"), progress=False)
        fits = damping_table(tasks, observations, settings["max_lag_ps"],
                             failures=[task_failure(task, model, store) for task in tasks])
        acfs = []
        for task, obs in zip(tasks, observations):
            if obs is None:
                continue
            for family in ("M", "R"):
                lags, acf = family_acf(obs, family, settings["max_lag_ps"])
                acfs.append(pd.DataFrame(dict(fa_fraction=task.fa_fraction, temperature_K=task.temperature_high,
                                              family=family, lag_ps=lags, acf=acf)))
        fits.to_csv(folder / "fits.csv", index=False)
        pd.concat(acfs, ignore_index=True).to_csv(folder / "acfs.csv.gz", index=False, float_format="%.6g")

    return obtain("damping", physics, {"model_sha256_16": file_hash(model)}, compute, committed=curated,
                  command="python -m softlattice.perovskite.workflows.damping")


def family_acfs(observations: pd.DataFrame, family: str, max_lag_ps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lags, and the position and velocity ACFs of the M or R family (each averaged over the three
    axes; velocities are the time derivative of the mode coordinate by central differences, so the
    samples must be closer than a tenth of a tilt period, e.g. 5 fs)."""
    if family not in ("M", "R"):
        raise ValueError(f"mode family {family!r} is not 'M' or 'R'")
    timestep = float(np.median(np.diff(observations.time_ps)))
    positions, velocities = [], []
    for axis in "xyz":
        q = observations[f"Q_{family}_{axis}"].to_numpy()
        lags, acf = mode_acf(q, timestep, max_lag_ps)
        positions.append(acf)
        velocities.append(mode_acf(np.gradient(q, timestep), timestep, max_lag_ps)[1])
    return lags, np.mean(positions, axis=0), np.mean(velocities, axis=0)


@dataclass(frozen=True)
class DampingTask:
    """One damping run: NPT to equilibrate the cell, then NVT at the mean NPT cell.

    Attributes
    ----------
    fa_fraction, temperature
        Composition and temperature (K).
    cubic_boundary_K
        The composition's cubic transition temperature from the phases chapter (NaN: unknown); a
        run below it is labelled, not fitted as cubic.
    repeat, npt_ps, nvt_ps, timestep_fs, sample_interval, seed
        Cell (pseudo-cubic cells per edge), run lengths, integrator (real masses) and sampling.
    """

    fa_fraction: float
    temperature: float
    cubic_boundary_K: float = float("nan")
    repeat: int = 4
    npt_ps: float = 10.0
    nvt_ps: float = 50.0
    timestep_fs: float = 0.5
    sample_interval: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fa_fraction <= 1.0:
            raise ValueError(f"FA fraction {self.fa_fraction!r} is outside [0, 1]")
        if not self.temperature > 0:
            raise ValueError(f"temperature {self.temperature!r} K must be > 0")
        if self.npt_ps <= 0 or self.nvt_ps <= 0:
            raise ValueError(f"run lengths ({self.npt_ps}, {self.nvt_ps} ps) must be > 0")

    @property
    def below_transition(self) -> bool:
        """The run lies below the composition's cubic transition (a tilted phase, not the cubic one)."""
        return bool(np.isfinite(self.cubic_boundary_K) and self.temperature < self.cubic_boundary_K)


def damping_grid(boundaries: dict[float, float], top_K: float = 600.0, count: int = 4, margin_K: float = 20.0,
                 **fields) -> list[DampingTask]:
    """Runs from ``margin_K`` above each composition's cubic boundary (K; a composition -> boundary
    map) up to ``top_K`` in ``count`` evenly spaced temperatures."""
    tasks = []
    for x, boundary in boundaries.items():
        low = boundary + margin_K
        if low >= top_K:
            raise NoCubicPhase(f"x = {x:g}: the cubic boundary {boundary:g} K + {margin_K:g} K is not below {top_K:g} K")
        tasks += [DampingTask(float(x), float(t), float(boundary), **fields) for t in np.linspace(low, top_K, count)]
    return tasks


def mean_cell(observations: pd.DataFrame, repeat: int) -> np.ndarray:
    """The supercell (Å) of the mean pseudo-cubic lengths and angles of ``observations``."""
    from ase.geometry import cellpar_to_cell
    parameters = [observations[c].mean() * (repeat if c.endswith("_A") else 1)
                  for c in ("a_A", "b_A", "c_A", "alpha_deg", "beta_deg", "gamma_deg")]
    return cellpar_to_cell(parameters)


def damping_run_folder(task: DampingTask, model_hash: str, store: str | Path) -> Path:
    """Where the run of ``task`` with the model of hash ``model_hash`` is stored."""
    return Path(store) / json_key(dict(task=asdict(task), model=model_hash))


def run_damping_task(task: DampingTask, model: str | Path, store: str | Path) -> pd.DataFrame | None:
    """Run, resume or load one task: NPT for ``npt_ps``, the final structure scaled to the mean cell
    of the NPT run's second half, NVT for ``nvt_ps``; the NVT observations (None if it blew up,
    recorded in ``failed.json``)."""
    model_hash = file_hash(model)
    folder = damping_run_folder(task, model_hash, store)

    def run() -> tuple[pd.DataFrame, dict]:
        atoms = build_mixed_perovskite(task.fa_fraction, task.repeat, seed=task.seed)
        calculator = nep_calculator(model, atoms=atoms)
        settings = dict(timestep_fs=task.timestep_fs, sample_interval=task.sample_interval, hydrogen_mass=None)
        npt = run_md(atoms, calculator, hold(task.temperature, task.npt_ps),
                     MDSettings(ensemble="npt", seed=task.seed, **settings), checkpoint_dir=folder / "npt",
                     model_id=model_hash, observers=tilt_observers(atoms))
        start = npt.final_atoms
        start.set_cell(mean_cell(npt.observations.iloc[len(npt.observations) // 2:], task.repeat), scale_atoms=True)
        nvt = run_md(start, calculator, hold(task.temperature, task.nvt_ps),
                     MDSettings(ensemble="nvt", seed=task.seed + 1, **settings), checkpoint_dir=folder / "nvt",
                     model_id=model_hash, observers=tilt_observers(start))
        return nvt.observations, dict(model=str(model), model_hash=model_hash)

    return stored_run(folder, run, asdict(task))


def joint_damping_table(tasks: Sequence[DampingTask], observations: Sequence[pd.DataFrame | None],
                        max_lag_ps: float, factors: tuple[float, ...] = (1.0, 1.5, 2.0),
                        failures: Sequence[str | None] | None = None) -> pd.DataFrame:
    """Joint position+velocity DHO fits (:func:`softlattice.analysis.dho.fit_windows`) of both
    families for every run, one row per run, family and window. A run that blew up keeps rows
    with regime 'run failed'; a run below its composition's cubic transition gets regime 'below
    transition' and is not fitted."""
    failures = list(failures) if failures is not None else [None] * len(tasks)
    frames = []
    for task, obs, failure in zip(tasks, observations, failures):
        for family in ("M", "R"):
            keys = dict(fa_fraction=task.fa_fraction, temperature_K=task.temperature, family=family,
                        cubic_boundary_K=task.cubic_boundary_K)
            if obs is None:
                frames.append(pd.DataFrame([dict(keys, regime="run failed", converged=False,
                                                 message=f"run blew up: {failure or 'no observations'}")]))
            elif task.below_transition:
                frames.append(pd.DataFrame([dict(keys, regime="below transition", converged=False,
                                                 message=f"{task.temperature:g} K is below the cubic boundary "
                                                         f"{task.cubic_boundary_K:g} K: not the cubic phase")]))
            else:
                lags, position, velocity = family_acfs(obs, family, max_lag_ps)
                frames.append(fit_windows(lags, position, velocity, factors).assign(**keys))
    return pd.concat(frames, ignore_index=True)


def damping_ratio_table(fits: pd.DataFrame, factor: float = 1.0) -> pd.DataFrame:
    """The damping ratio gamma / (2 w0) and its error (propagated from the fit errors) of every
    converged joint fit over the window ``factor`` times the decay lag: one row per run and
    family, for :func:`softlattice.perovskite.damping_map.crossing_table`."""
    kept = fits[(fits.factor == factor) & fits.converged.astype(bool)
                & separable(fits.w0, fits.gamma, fits.w0_error, fits.gamma_error)]
    ratio = kept.gamma / (2 * kept.w0)
    error = ratio * np.sqrt((kept.gamma_error / kept.gamma) ** 2 + (kept.w0_error / kept.w0) ** 2)
    return kept[["fa_fraction", "temperature_K", "family"]].assign(damping_ratio=ratio, damping_ratio_error=error)


def run_damping_map(tasks: Sequence[DampingTask], model: str | Path, store: str | Path,
                    part: tuple[int, int] = (0, 1), progress: bool = False) -> None:
    """Run (or resume) the tasks of share ``part`` = (K, N): every N-th from the K-th."""
    say = progress_printer(progress)
    for task in take_share(list(tasks), part):
        say(f"damping x = {task.fa_fraction:g}, {task.temperature:.0f} K")
        run_damping_task(task, model, store)


def save_damping_map(folder: str | Path, tasks: Sequence[DampingTask], model: str | Path, store: str | Path,
                     max_lag_ps: float, factors: Sequence[float]) -> dict:
    """Analyse the finished runs into ``folder``: ``fits.csv`` (:func:`joint_damping_table`),
    ``acfs.csv.gz`` (position and velocity ACFs per run and family), ``crossings.csv``
    (:func:`softlattice.perovskite.damping_map.crossing_table` of the window ``factors[0]``) and
    ``summary.json`` (the boundaries and the mode crossover); returns the summary."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_hash = file_hash(model)
    observations, failures, acfs = [], [], []
    for task in tasks:
        run_folder = damping_run_folder(task, model_hash, store)
        failure = stored_failure(run_folder)
        if failure is None and not (run_folder / "observations.csv.gz").exists():
            raise ValueError(f"damping run x = {task.fa_fraction:g}, {task.temperature:g} K has not run yet: "
                             "run the grid first")
        obs = None if failure is not None else pd.read_csv(run_folder / "observations.csv.gz")
        observations.append(obs)
        failures.append(failure)
        for family in ("M", "R") if obs is not None else ():
            lags, position, velocity = family_acfs(obs, family, max_lag_ps)
            acfs.append(pd.DataFrame(dict(fa_fraction=task.fa_fraction, temperature_K=task.temperature, family=family,
                                          lag_ps=lags, position_acf=position, velocity_acf=velocity)))
    fits = joint_damping_table(tasks, observations, max_lag_ps, tuple(factors), failures)
    crossings = crossing_table(damping_ratio_table(fits, factors[0]))
    fits.to_csv(folder / "fits.csv", index=False)
    if acfs:
        pd.concat(acfs, ignore_index=True).to_csv(folder / "acfs.csv.gz", index=False, float_format="%.6g")
    crossings.to_csv(folder / "crossings.csv", index=False)
    summary = dict(boundaries_K={f"{t.fa_fraction:g}": t.cubic_boundary_K for t in tasks},
                   crossover=mode_crossover(crossings) if len(crossings) else None,
                   runs=len(tasks), failed=int(sum(f is not None for f in failures)))
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    return summary


def obtain_damping_map(settings: dict, model: str | Path, boundaries: dict[float, float],
                       curated: str | Path | None = None, compute: bool = True,
                       store: str | Path = RUNS_DIR / "damping_map") -> ResultSet | None:
    """The damping map of a profile (``04_damping_map``) for ``model`` with the cubic
    ``boundaries`` (x -> K; :func:`softlattice.perovskite.workflows.boundaries.cubic_boundaries`):
    committed, cached, or (``compute``) run now; None when it is neither and ``compute`` is False."""
    physics = dict({k: v for k, v in settings.items() if k != "profile"},
                   boundaries={f"{x:g}": float(b) for x, b in sorted(boundaries.items())})
    inputs = {"model_sha256_16": file_hash(model)}
    tasks = damping_map_tasks(settings, boundaries)

    def run(folder: Path) -> None:
        run_damping_map(tasks, model, store)
        save_damping_map(folder, tasks, model, store, settings["max_lag_ps"], settings["factors"])

    return obtain("damping_map", physics, inputs, run, committed=curated,
                  command="python -m softlattice.perovskite.workflows.damping --map", may_compute=compute)


def damping_map_tasks(settings: dict, boundaries: dict[float, float]) -> list[DampingTask]:
    """The runs of a ``04_damping_map`` profile (:func:`damping_grid`) at the compositions of the
    profile, from the ``boundaries`` given."""
    missing = [x for x in settings["fa_fractions"] if float(x) not in boundaries]
    if missing:
        raise ValueError(f"no cubic boundary for x = {missing}; boundaries are known at {sorted(boundaries)}")
    return damping_grid({float(x): boundaries[float(x)] for x in settings["fa_fractions"]}, settings["top_K"],
                        settings["count"], settings["margin_K"], repeat=settings["repeat"], npt_ps=settings["npt_ps"],
                        nvt_ps=settings["nvt_ps"])


def main(argv=None) -> int:
    """``python -m softlattice.perovskite.workflows.damping --model M --save DIR [--profile full]``: run the chapter-04
    NVT grid (resumable) and store fits and ACFs with provenance in DIR."""
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.damping",
                                     description="Chapter 04: NVT runs of the tilt modes over composition and "
                                                 "temperature, their ACFs and damped-oscillator fits (resumable).")
    parser.add_argument("--model", type=Path, required=True, help="NEP model file (nep.txt)")
    parser.add_argument("--save", type=writable_folder, default=None, help="folder to store the result set in")
    parser.add_argument("--profile", default="full", choices=["quick", "full"], help="parameter profile")
    parser.add_argument("--map", action="store_true",
                        help="the damping map (profile 04_damping_map: boundaries from the end-member ramps)")
    parser.add_argument("--part", type=parse_share, default=None, metavar="K/N",
                        help="with --map: run only this share of the runs (no --save needed)")
    args = parser.parse_args(argv)
    if args.save is None and not (args.map and args.part is not None):
        parser.error("--save DIR is needed (or --map --part K/N)")
    if args.map:
        settings = resolve("04_damping_map", args.profile)
        boundaries = cubic_boundaries(settings, args.model)
        if boundaries is None:
            raise SystemExit("the end-member ramps of this model are neither committed nor cached: run "
                             "'python -m softlattice.perovskite.workflows.phase_diagram --sweep 02_end_members' first")
        if args.part is not None:
            run_damping_map(damping_map_tasks(settings, boundaries), args.model, RUNS_DIR / "damping_map", args.part,
                            progress=True)
            return 0
        result = obtain_damping_map(settings, args.model, boundaries)
        result.copy_to(args.save)
        print(f"{result.source}; stored in {args.save} ({' '.join(sys.argv[1:])})")
        return 0
    result = obtain_damping(resolve("04_damping", args.profile), args.model)
    result.copy_to(args.save)
    print(f"{result.source}; stored in {args.save} ({' '.join(sys.argv[1:])})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
