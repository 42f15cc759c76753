"""One MA/FA NEP without active learning: ``python -m softlattice.perovskite.workflows.training``.

Units: eV, Å.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from softlattice.infra.cli import positive_int, writable_folder
from softlattice.infra.paths import RUNS_DIR
from softlattice.infra.provenance import write_provenance
from softlattice.models.nep import NEPHyperparameters, TrainingResult, train_nep, write_training_set
from softlattice.models.reference import label_structures
from softlattice.models.splits import split_structures
from softlattice.perovskite.training_sets import MA_FA_SPECIES, generate_structures


def build_model(output_dir: str | Path, reference: str = "chgnet-r2scan",
                fa_fractions: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
                glazers: Sequence[str] = ("a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+"),
                strains: Sequence[float] = (-0.03, 0.0, 0.03), rattles: Sequence[float] = (0.03, 0.1),
                per_combination: int = 1, steps: int = 4000, test_fraction: float = 0.1,
                hyper: NEPHyperparameters = NEPHyperparameters(), seed: int = 0,
                command: str = "") -> TrainingResult:
    """Generate, label and train one NEP (no active learning), and store it with its data and a
    provenance record in ``output_dir`` (``nep.txt``, ``train.xyz.gz``, ``test.xyz.gz``,
    ``history.csv``, ``provenance.json``)."""
    structures = []
    for k, rattle in enumerate(rattles):
        structures += generate_structures(fa_fractions, glazers, strains=strains, rattle=rattle,
                                          per_combination=per_combination, seed=seed + 1000 * k)
    labelled = label_structures(structures, reference, progress=True)
    train, test = split_structures(labelled, test_fraction, seed)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    work = RUNS_DIR / "training" / output_dir.name  # checkpoints and uncompressed sets stay out of git
    result = train_nep(train, test, work, steps, hyper, species=MA_FA_SPECIES, seed=seed)
    shutil.copy2(result.model_path, output_dir / "nep.txt")
    result.history.to_csv(output_dir / "history.csv", index=False)
    for name, subset in (("train", train), ("test", test)):
        write_training_set(subset, work / f"{name}.xyz")
        with open(work / f"{name}.xyz", "rb") as source, gzip.open(output_dir / f"{name}.xyz.gz", "wb") as target:
            shutil.copyfileobj(source, target)
    last = result.history.iloc[-1]
    write_provenance(output_dir, parameters=dict(reference=reference, fa_fractions=list(fa_fractions),
                                                 glazers=list(glazers), strains=list(strains),
                                                 rattles=list(rattles), per_combination=per_combination,
                                                 steps=steps, test_fraction=test_fraction, seed=seed,
                                                 hyper=asdict(hyper)),
                     inputs={}, command=command, n_train=len(train), n_test=len(test),
                     n_atoms_train=int(sum(len(a) for a in train)),
                     final_rmse={k: float(v) for k, v in last.items() if str(k).startswith("rmse")})
    return TrainingResult(output_dir / "nep.txt", result.history)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m softlattice.perovskite.workflows.training --output DIR [--steps N] ...``."""
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.training",
                                     description="Generate, label and train a MA/FA NEP (one model).")
    parser.add_argument("--output", type=writable_folder, required=True, help="model folder to write")
    parser.add_argument("--reference", default="chgnet-r2scan", help="reference method that labels the structures")
    parser.add_argument("--steps", type=positive_int, default=4000, help="training steps")
    parser.add_argument("--per-combination", type=positive_int, default=1, help="structures per phase, x and strain")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    command = "python -m softlattice.perovskite.workflows.training " + " ".join(argv if argv is not None else sys.argv[1:])
    result = build_model(args.output, args.reference, per_combination=args.per_combination,
                         steps=args.steps, seed=args.seed, command=command)
    print(result.history.tail(1).T)
    print(f"model: {result.model_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
