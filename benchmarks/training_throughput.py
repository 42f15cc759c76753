"""Benchmark: reference labelling rate, NEP training rate, and time to a force RMSE.

    .venv/bin/python benchmarks/training_throughput.py [--model-dir data/models/mafa-chgnet-r2scan]
        [--reference chgnet-r2scan] [--structures 20] [--steps 100] [--target 0.15]

Labels ``--structures`` fresh 96-atom MA/FA cells with the reference (no cache), times neppo training
steps (``--steps`` and three times as many, so the set-up drops out) with the production hyperparameters on the model's stored training set, and
reads from the model's learning curve the first step at which the test force RMSE falls below
``--target`` eV/Å, converted to minutes at the measured rate. Run it on an otherwise idle machine
(training and labelling both use every core); numbers are measurements, not test assertions.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from softlattice.models.nep import HYPERPARAMETER_PRESETS, load_sets, train_nep
from softlattice.models.reference import label_structures
from softlattice.perovskite.training_sets import MA_FA_SPECIES, generate_structures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=Path("data/models/mafa-chgnet-r2scan"))
    parser.add_argument("--reference", default="chgnet-r2scan")
    parser.add_argument("--structures", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--target", type=float, default=0.15, help="test force RMSE, eV/Å")
    args = parser.parse_args()

    structures = generate_structures([0.0, 0.5, 1.0], ["a0a0c+", "a-a-c+"], strains=(0.0,), rattle=0.05,
                                     per_combination=max(1, args.structures // 6), seed=12345,
                                     molecule_rattle_fraction=0.3)[: args.structures]
    with tempfile.TemporaryDirectory() as scratch:
        label_structures(structures[:1], args.reference, cache_dir=Path(scratch) / "warm")  # model load
        started = time.perf_counter()
        label_structures(structures, args.reference, cache_dir=Path(scratch) / "labels")
        labelling = len(structures) / (time.perf_counter() - started)

        train, test = load_sets(args.model_dir)
        elapsed = {}
        for steps in (args.steps, 3 * args.steps):
            # two lengths: the difference removes the set-up (descriptor neighbour lists of the
            # whole training set), which does not grow with the number of steps
            started = time.perf_counter()
            train_nep(train, test[:16], Path(scratch) / f"train_{steps}", steps=steps,
                      hyper=HYPERPARAMETER_PRESETS["production"], species=MA_FA_SPECIES,
                      report_interval=steps)
            elapsed[steps] = time.perf_counter() - started
        steps_per_second = 2 * args.steps / (elapsed[3 * args.steps] - elapsed[args.steps])
        setup_seconds = elapsed[args.steps] - args.steps / steps_per_second

    history = pd.read_csv(args.model_dir / "history.csv")
    below = history[history.rmse_forces_test < args.target]
    reached = int(below.step.iloc[0]) if len(below) else None
    print(f"labelling with {args.reference}: {labelling:.2f} structures/s (96 atoms)")
    print(f"training (production hyperparameters, batch "
          f"{HYPERPARAMETER_PRESETS['production'].batch_size}): {steps_per_second:.2f} steps/s, "
          f"set-up {setup_seconds:.0f} s for {len(train)} structures")
    if reached is None:
        print(f"test force RMSE never fell below {args.target} eV/Å in {args.model_dir / 'history.csv'}")
    else:
        print(f"test force RMSE < {args.target} eV/Å after {reached} steps = "
              f"{(setup_seconds + reached / steps_per_second) / 60:.1f} min at this rate, set-up included")


if __name__ == "__main__":
    main()
