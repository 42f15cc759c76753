"""Benchmark: MD throughput per engine and ensemble beside the bare force-call rate, tilt-mode
projection speed, and the share of MD time spent in on-the-fly analysis.

    .venv/bin/python benchmarks/md_throughput.py [--model PATH] [--sizes 4 8 12] [--steps 60]

Uses the independent CsPbI3 NEP (../shared/validation/cspbi3/nep.txt by default); cells of
4x4x4, 8x8x8 and 12x12x12 pseudo-cubic cells hold 320, 2560 and 8640 atoms. Prints a table; run
it on an otherwise idle machine. Numbers are measurements, not test assertions.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDSettings, run_md
from softlattice.md.protocols import hold
from softlattice.perovskite.modes import iodine_displacements, map_framework, project_modes
from softlattice.perovskite.structures import build_perovskite

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "shared" / "validation" / "cspbi3" / "nep.txt"


def force_call_rate(atoms, calculator, calls: int) -> float:
    """Bare force-call throughput in atom-evaluations per second."""
    atoms = atoms.copy()
    atoms.calc = calculator
    atoms.get_forces()
    started = time.perf_counter()
    for _ in range(calls):
        atoms.positions[0, 0] += 1e-6
        atoms.get_forces()
        atoms.get_stress()
    return len(atoms) * calls / (time.perf_counter() - started)


def projection_rate(atoms, frames: int = 50) -> float:
    framework_map = map_framework(atoms)
    rng = np.random.default_rng(0)
    batch = []
    for _ in range(frames):
        frame = atoms.copy()
        frame.positions += rng.normal(0, 0.05, frame.positions.shape)
        batch.append(frame)
    started = time.perf_counter()
    project_modes(iodine_displacements(batch, framework_map), framework_map)
    return len(atoms) * frames / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 12])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--engines", nargs="+", default=["nep-adapters", "cpunep"])
    parser.add_argument("--mafa-model", type=Path, nargs="+", default=[],
                        help="MA/FA nep.txt files: adds rows at 96, 768 and 6144 atoms (x = 0.5), the models "
                             "side by side in one run (absolute rates differ between machines)")
    parser.add_argument("--mafa-sizes", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args()
    if not args.model.is_file():
        raise SystemExit(f"no CsPbI3 model at {args.model}; pass --model")
    warnings.filterwarnings("ignore")
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cores {os.cpu_count()}")
    print(f"{'atoms':>6} {'engine':>13} {'ensemble':>8} {'force calls':>12} {'MD':>10} {'MD/force':>9} "
          f"{'analysis':>9}   (atom-steps/s)")
    for n in args.sizes:
        atoms = build_perovskite("Cs", n, glazer="a-a-c+", tilt_angle=8.0, lattice_constant=6.29)
        for engine in args.engines:
            calculator = nep_calculator(args.model, engine, atoms=atoms)
            bare = force_call_rate(atoms, calculator, calls=max(3, args.steps // 4))
            for ensemble in ("npt", "nvt", "nve"):
                duration = args.steps * 2.0 / 1000
                result = run_md(atoms, calculator, hold(300, duration),
                                MDSettings(ensemble=ensemble, sample_interval=args.steps // 3))
                share = result.analysis_seconds / (result.md_seconds + result.analysis_seconds)
                print(f"{len(atoms):>6} {engine:>13} {ensemble:>8} {bare:>12.0f} "
                      f"{result.atom_steps_per_second:>10.0f} {result.atom_steps_per_second / bare:>9.2f} "
                      f"{100 * share:>8.1f}%", flush=True)
        print(f"{len(atoms):>6} projection: {projection_rate(atoms):.3g} atom-frames/s")
    if not args.mafa_model:
        print("MA/FA rows: pass --mafa-model data/models/<name>/nep.txt [...]")
        return
    from softlattice.perovskite.structures import build_mixed_perovskite
    print(f"{'atoms':>6} {'engine':>13} {'model':>22} {'force calls':>12} {'NPT MD':>10} {'MD/force':>9} "
          f"{'analysis':>9}   (MA/FA x = 0.5, atom-steps/s)")
    for n in args.mafa_sizes:
        atoms = build_mixed_perovskite(0.5, n, seed=0)
        for engine in args.engines:
            for model in args.mafa_model:
                calculator = nep_calculator(model, engine, atoms=atoms)
                bare = force_call_rate(atoms, calculator, calls=max(3, args.steps // 4))
                result = run_md(atoms, calculator, hold(300, args.steps * 0.5 / 1000),
                                MDSettings(ensemble="npt", timestep_fs=0.5, sample_interval=args.steps // 3))
                share = result.analysis_seconds / (result.md_seconds + result.analysis_seconds)
                print(f"{len(atoms):>6} {engine:>13} {model.parent.name[-22:]:>22} {bare:>12.0f} "
                      f"{result.atom_steps_per_second:>10.0f} {result.atom_steps_per_second / bare:>9.2f} "
                      f"{100 * share:>8.1f}%", flush=True)

if __name__ == "__main__":
    main()
