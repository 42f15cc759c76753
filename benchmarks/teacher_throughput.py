"""Benchmark: what the MA/FA teacher candidates cost, and what the DFT checks cost.

    .venv/bin/python benchmarks/teacher_throughput.py [--candidates sevennet-pw-ft-ef-last+d3 chgnet-r2scan]
        [--calls 3] [--teacher-dir data/reference/teacher]

Times ``--calls`` force calls (after one warm-up call, no label cache) of each candidate on a
96-atom and a 768-atom MA0.5FA0.5PbI3 cell, and of D3(BJ) alone; then prints the wall time per
96-atom DFT single point that the tilt check recorded (plane-wave GPAW, CP2K SCAN+rVV10) in the
committed teacher result set, with how many converged. Run it on an otherwise idle machine with the
thread count you mean to measure (OMP_NUM_THREADS); the numbers are measurements, not test assertions.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from ase import Atoms

from softlattice.models.reference import reference_calculator
from softlattice.perovskite.structures import build_mixed_perovskite


def seconds_per_call(calculator, atoms: Atoms, calls: int) -> float:
    work = atoms.copy()
    work.calc = calculator
    work.get_forces()  # warm-up: model load, graph compilation
    started = time.perf_counter()
    for k in range(calls):
        work.positions[0, 0] += 1e-3 * (k + 1)  # a new geometry each call: no calculator cache
        work.get_forces()
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", nargs="+", default=["sevennet-pw-ft-ef-last+d3", "sevennet-mf0-r2scan",
                                                             "chgnet-r2scan"])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--teacher-dir", type=Path, default=Path("data/reference/teacher"))
    args = parser.parse_args()
    if args.calls < 1:
        parser.error(f"--calls {args.calls} must be at least 1")

    cells = {n: build_mixed_perovskite(0.5, (r, r, r), glazer="a0a0c-", tilt_angle=8.0, seed=0)
             for n, r in ((96, 2), (768, 4))}
    rows = []
    for candidate in args.candidates:
        calculator = reference_calculator(candidate)
        for n, atoms in cells.items():
            rows.append(dict(method=candidate, atoms=n, seconds_per_call=seconds_per_call(calculator, atoms, args.calls)))
    from dftd3.ase import DFTD3
    for n, atoms in cells.items():
        rows.append(dict(method="D3(BJ) alone", atoms=n,
                         seconds_per_call=seconds_per_call(DFTD3(method="pbe", damping="d3bj"), atoms, args.calls)))
    table = pd.DataFrame(rows)
    table["atom_calls_per_s"] = table.atoms / table.seconds_per_call
    print(table.round(3).to_string(index=False))

    record = args.teacher_dir / "single_points.csv"
    if record.is_file():
        points = pd.read_csv(record)
        summary = points.groupby(["reference", "atoms"]).agg(
            single_points=("status", "size"), converged=("status", lambda s: int((s == "converged").sum())),
            median_seconds_converged=("seconds", lambda s: float(s[points.loc[s.index, "status"] == "converged"]
                                                                  .median())))
        print("\nDFT single points of the tilt check (one core each):")
        print(summary.round(0).to_string())
    else:
        print(f"\nno DFT single points recorded in {record}")


if __name__ == "__main__":
    main()
