"""Validate the MD engine and the tilt analysis on an independent potential.

Usage::

    python -m softlattice.perovskite.workflows.cspbi3 cspbi3 --model ../shared/validation/cspbi3/nep.txt
    python -m softlattice.perovskite.workflows.cspbi3 cspbi3 --model PATH --repeat 4 --rate 20 --jobs 2

CsPbI3 is heated from the orthorhombic a-a-c+ phase and cooled from the cubic phase over the
temperature range, in NPT with a fully flexible cell. An NVT run of the cubic phase in a fixed
cubic cell at the top temperature gives the thermal noise that sets the activation thresholds
(:mod:`softlattice.perovskite.phases`). The command prints the phase sequence, the transition temperatures
on heating and on cooling (with the hysteresis, not averaged away) and the pseudo-cubic lattice
parameters, and writes the observations and a JSON report under ``--runs-dir``. Every run is
checkpointed per segment: start the same command again after an interruption and it resumes.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from softlattice import __version__
from softlattice.infra.keys import file_hash
from softlattice.infra.paths import DATA_DIR, REPO_ROOT, RUNS_DIR
from softlattice.infra.provenance import read_provenance, write_provenance
from softlattice.infra.resultsets import ResultSet, display_path, obtain, result_key
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDSettings, run_key, run_md
from softlattice.md.protocols import hold, ramp
from softlattice.perovskite.modes import tilt_observers
from softlattice.perovskite.phases import (
    classify_windows,
    hysteresis,
    noise_thresholds,
    phase_sequence,
    transition_temperatures,
)
from softlattice.perovskite.structures import build_perovskite


@dataclass(frozen=True)
class ValidationSettings:
    """Parameters of the CsPbI3 validation (temperatures in K, rate in K/ps, times in ps)."""

    repeat: int = 6
    temperature_low: float = 100.0
    temperature_high: float = 700.0
    rate_K_per_ps: float = 5.0
    reference_ps: float = 20.0
    window: int = 25
    n_sigma: float = 5.0
    lattice_constant: float = 6.29
    initial_tilt_deg: float = 10.0
    timestep_fs: float = 2.0
    sample_interval: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if self.repeat < 4 or self.repeat % 2:
            raise ValueError(f"repeat {self.repeat} is not allowed: the validation needs an even "
                             "number of at least 4 cells per axis (M and R modes double the cell)")
        if not 0 < self.temperature_low < self.temperature_high:
            raise ValueError(f"temperature range {self.temperature_low}-{self.temperature_high} K is "
                             "empty or not positive")
        if not self.rate_K_per_ps > 0:
            raise ValueError(f"ramp rate {self.rate_K_per_ps} K/ps must be > 0")


def _run(task: tuple[str, str, ValidationSettings, Path, bool]) -> pd.DataFrame:
    kind, model, settings, folder, progress = task
    md_settings = MDSettings(ensemble="nvt" if kind == "reference" else "npt",
                             timestep_fs=settings.timestep_fs,
                             sample_interval=settings.sample_interval, seed=settings.seed)
    if kind == "heating":
        atoms = build_perovskite("Cs", settings.repeat, glazer="a-a-c+",
                                 tilt_angle=settings.initial_tilt_deg,
                                 lattice_constant=settings.lattice_constant)
        segments = ramp(settings.temperature_low, settings.temperature_high, settings.rate_K_per_ps)
    else:
        atoms = build_perovskite("Cs", settings.repeat, lattice_constant=settings.lattice_constant)
        segments = (ramp(settings.temperature_high, settings.temperature_low, settings.rate_K_per_ps)
                    if kind == "cooling" else hold(settings.temperature_high, settings.reference_ps))
    calculator = nep_calculator(model, atoms=atoms)
    model_id = file_hash(model)
    key = run_key(atoms, segments, md_settings, model_id)
    result = run_md(atoms, calculator, segments, md_settings, checkpoint_dir=folder / f"{kind}-{key}",
                    model_id=model_id, progress=progress, observers=tilt_observers(atoms))
    observations = result.observations
    observations.attrs.update(atom_steps_per_second=result.atom_steps_per_second,
                              analysis_fraction=(result.analysis_seconds / result.md_seconds
                                                 if result.md_seconds else np.nan),
                              n_atoms=len(atoms))
    return observations


def validate_cspbi3(model: str | Path, settings: ValidationSettings = ValidationSettings(),
                    runs_dir: str | Path = RUNS_DIR / "validate" / "cspbi3", jobs: int = 1,
                    progress: bool = True) -> dict:
    """Heat and cool CsPbI3 with ``model`` and analyse the phases; see the module docstring.

    Returns
    -------
    Report with the phase sequences, transitions, hysteresis, lattice parameters and run sizes.
    """
    model = Path(model)
    folder = Path(runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    kinds = ("reference", "heating", "cooling")
    tasks = [(kind, str(model), settings, folder, progress and jobs == 1) for kind in kinds]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = dict(zip(kinds, pool.map(_run, tasks)))
    else:
        results = {kind: _run(task) for kind, task in zip(kinds, tasks)}
    thresholds = noise_thresholds(results["reference"], settings.window, settings.n_sigma)
    report: dict = dict(model=display_path(model), model_hash=file_hash(model), settings=asdict(settings),
                        thresholds=asdict(thresholds), softlattice=__version__,
                        python=platform.python_version(),
                        n_atoms=int(results["heating"].attrs["n_atoms"]))
    transitions = {}
    for kind in ("heating", "cooling"):
        windows = classify_windows(results[kind], thresholds)
        windows.to_csv(folder / f"{kind}_windows.csv", index=False)
        results[kind].to_csv(folder / f"{kind}_observations.csv", index=False)
        transitions[kind] = transition_temperatures(windows)
        report[f"{kind}_sequence"] = phase_sequence(windows)
        report[f"{kind}_transitions"] = transitions[kind].to_dict("records")
        report[f"{kind}_atom_steps_per_second"] = float(results[kind].attrs["atom_steps_per_second"])
        report[f"{kind}_analysis_fraction"] = float(results[kind].attrs["analysis_fraction"])
        report[f"{kind}_duration_ps"] = float(results[kind]["time_ps"].iloc[-1])
        lattice = []
        ordered = windows.sort_values("temperature_K")
        for temperature in np.arange(settings.temperature_low, settings.temperature_high + 1, 100.0):
            nearest = ordered.iloc[int(np.argmin(np.abs(ordered.temperature_K.to_numpy() - temperature)))]
            lattice.append(dict(temperature_K=float(temperature), phase=str(nearest.phase),
                                **{axis: float(np.interp(temperature, ordered.temperature_K, ordered[axis]))
                                   for axis in ("a_A", "b_A", "c_A")}))
        report[f"{kind}_lattice"] = lattice
    report["hysteresis"] = hysteresis(transitions["heating"], transitions["cooling"]).to_dict("records")
    (folder / "report.json").write_text(json.dumps(report, indent=1, default=float))
    return report


DEFAULT_MODEL = REPO_ROOT.parent / "shared" / "validation" / "cspbi3" / "nep.txt"
CURATED_DIR = DATA_DIR / "validation" / "cspbi3"


def obtain_validation(settings: ValidationSettings, model: str | Path | None = None,
                      curated: str | Path = CURATED_DIR, jobs: int = 2) -> ResultSet:
    """Results for ``settings`` (:func:`softlattice.infra.resultsets.obtain`, keyed by the settings
    and the model hash; the MD runs resume from ``runs/validate/cspbi3/<key>``), with ``model``
    (default: the shared CsPbI3 NEP). Read the tables with :func:`load_result_set`.

    When no model is available the curated set is returned as it is, and its ``source`` says that
    nothing could be recomputed; with neither a model nor a curated set this raises ValueError.
    """
    model = Path(model) if model else DEFAULT_MODEL
    parameters = asdict(settings)
    if model.is_file():
        inputs = {"model_sha256_16": file_hash(model)}
        work = RUNS_DIR / "validate" / "cspbi3" / result_key(parameters, inputs)

        def compute(folder: Path) -> None:
            validate_cspbi3(model, settings, work, jobs=jobs, progress=False)
            save_result_set(work, folder, command="python -m softlattice.perovskite.workflows.cspbi3")

        return obtain("cspbi3", parameters, inputs, compute, committed=curated,
                      command="python -m softlattice.perovskite.workflows.cspbi3")
    if read_provenance(curated) is None:
        raise ValueError(f"the CsPbI3 model {str(model)!r} is not available and there is no committed "
                         f"result set in {str(curated)!r}: nothing to show")
    same = read_provenance(curated)["parameters"] == json.loads(json.dumps(parameters))
    return ResultSet(Path(curated), "committed", note=(
        "the third-party model is not available here, so nothing was recomputed"
        + ("" if same else "; its parameters differ from the ones requested")))


RESULT_FILES = ("report.json", "heating_windows.csv", "cooling_windows.csv",
                "heating_observations.csv", "cooling_observations.csv")


def save_result_set(runs_dir: str | Path, target: str | Path, command: str) -> Path:
    """Copy a finished validation's report and tables from ``runs_dir`` into the curated result
    set ``target`` (observations gzip-compressed) with a provenance record."""
    runs_dir, target = Path(runs_dir), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    report = json.loads((runs_dir / "report.json").read_text())
    for name in RESULT_FILES:
        if name.endswith("observations.csv"):
            pd.read_csv(runs_dir / name).to_csv(target / (name + ".gz"), index=False,
                                                float_format="%.6g")
        else:
            (target / name).write_bytes((runs_dir / name).read_bytes())
    log = runs_dir / "run.log"
    if log.exists():
        (target / "run.log").write_bytes(log.read_bytes())
    write_provenance(target, parameters=report["settings"],
                     inputs={"model_sha256_16": report["model_hash"]}, command=command)
    return target


def load_result_set(folder: str | Path) -> tuple[dict, dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Report, observations and windows of a saved validation (curated or in ``runs/``)."""
    folder = Path(folder)
    report = json.loads((folder / "report.json").read_text())
    observations, windows = {}, {}
    for kind in ("heating", "cooling"):
        name = folder / f"{kind}_observations.csv"
        observations[kind] = pd.read_csv(name if name.exists() else name.with_suffix(".csv.gz"))
        windows[kind] = pd.read_csv(folder / f"{kind}_windows.csv")
    return report, observations, windows


def format_report(report: dict) -> str:
    """Human-readable summary of :func:`validate_cspbi3`'s report."""
    s = report["settings"]
    model = report["model"]  # reports written before models were stored repository-relative hold an absolute path
    model = display_path(model) if Path(model).is_absolute() else model
    lines = [f"CsPbI3 validation with {model} (sha256 {report['model_hash']})",
             f"cell {s['repeat']}x{s['repeat']}x{s['repeat']} ({report['n_atoms']} atoms), ramps "
             f"{s['temperature_low']:.0f}-{s['temperature_high']:.0f} K at {s['rate_K_per_ps']} K/ps "
             f"({report['heating_duration_ps']:.0f} ps each), time step {s['timestep_fs']} fs",
             f"thresholds at {report['thresholds']['reference_K']:.0f} K: M {report['thresholds']['m_threshold']:.3f} Å, "
             f"R {report['thresholds']['r_threshold']:.3f} Å (scaled with sqrt(T))"]
    for kind in ("heating", "cooling"):
        lines.append(f"{kind}: {' -> '.join(report[f'{kind}_sequence'])}")
        for t in report[f"{kind}_transitions"]:
            lines.append(f"  {t['from_phase']} -> {t['to_phase']} at {t['temperature_K']:.0f} "
                         f"+/- {t['resolution_K']:.0f} K")
        speed, analysis = report[f"{kind}_atom_steps_per_second"], report[f"{kind}_analysis_fraction"]
        if np.isfinite(speed) and np.isfinite(analysis):
            lines.append(f"  speed {speed:.0f} atom-steps/s, analysis {100 * analysis:.1f}% of MD time")
        else:
            lines.append("  speed: not measured in this call (resumed from finished checkpoints; "
                         "see the run log)")
    lines.append("hysteresis (heating - cooling) of the transitions seen on both ramps:")
    one_way = 0
    for h in report["hysteresis"]:
        if not (pd.notna(h["heating_K"]) and pd.notna(h["cooling_K"])):
            one_way += 1
            continue
        lines.append(f"  {h['low_phase']} <-> {h['high_phase']}: heating {h['heating_K']:.0f} K, "
                     f"cooling {h['cooling_K']:.0f} K, difference {h['hysteresis_K']:.0f} K")
    if one_way:
        lines.append(f"  ({one_way} transition(s) seen on one ramp only: see the transitions above)")
    lines.append("pseudo-cubic lattice parameters on heating (Å):")
    for row in report["heating_lattice"]:
        lines.append(f"  {row['temperature_K']:.0f} K: a {row['a_A']:.3f} b {row['b_A']:.3f} "
                     f"c {row['c_A']:.3f} ({row['phase']})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.cspbi3", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system", choices=["cspbi3"])
    parser.add_argument("--model", type=Path, required=True, help="GPUMD nep.txt for CsPbI3")
    defaults = ValidationSettings()
    parser.add_argument("--repeat", type=int, default=defaults.repeat)
    parser.add_argument("--rate", type=float, default=defaults.rate_K_per_ps, help="K/ps")
    parser.add_argument("--tmin", type=float, default=defaults.temperature_low)
    parser.add_argument("--tmax", type=float, default=defaults.temperature_high)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--jobs", type=int, default=1, help="run the three MD runs in parallel")
    parser.add_argument("--runs-dir", type=Path, default=None)
    parser.add_argument("--save", type=Path, default=None,
                        help="also store the report and tables as a curated result set here "
                             "(with provenance), e.g. data/validation/cspbi3")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        parser.error(f"model file {str(args.model)!r} does not exist")
    try:
        settings = ValidationSettings(repeat=args.repeat, rate_K_per_ps=args.rate,
                                      temperature_low=args.tmin, temperature_high=args.tmax,
                                      seed=args.seed)
    except ValueError as error:
        parser.error(str(error))
    runs_dir = args.runs_dir or RUNS_DIR / "validate" / "cspbi3" / f"r{args.repeat}-v{args.rate:g}-s{args.seed}"
    report = validate_cspbi3(args.model, settings, runs_dir, jobs=args.jobs)
    print(format_report(report))
    print(f"report: {runs_dir / 'report.json'}")
    if args.save is not None:
        command = "python -m softlattice.perovskite.workflows.cspbi3 " + " ".join(argv if argv is not None else sys.argv[1:])
        print(f"curated result set: {save_result_set(runs_dir, args.save, command)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
