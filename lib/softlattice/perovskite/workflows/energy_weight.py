"""Retrain a student on its own committed training set with energies weighted more (issue 16).

``python -m softlattice.perovskite.workflows.energy_weight --parent data/models/mafa-v2 --energy-sigma 0.0003
--output data/models/mafa-v2-e03`` trains one NEP on the parent's ``train.xyz.gz`` / ``test.xyz.gz`` with
the parent's hyperparameters, steps and seed, changing only the error scale of the energy per atom in
the loss (:func:`softlattice.models.nep.train_nep`), and writes ``nep.txt``, ``history.csv`` and the
provenance into ``--output``. A controlled experiment: same data, same model, one knob.

Why: on the coexistence path NEP v2's energy change differs from its teacher's by 1.5-3.2 meV/atom
(:mod:`softlattice.perovskite.workflows.tilt_preference`), of the order of its energy RMSE, while the
loss weighs forces about ten times more than energies at the end of training.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Sequence

from softlattice.infra.keys import file_hash
from softlattice.infra.paths import RUNS_DIR
from softlattice.infra.provenance import write_provenance
from softlattice.models.nep import HYPERPARAMETER_PRESETS, load_sets, train_nep
from softlattice.perovskite.training_sets import MA_FA_SPECIES


def retrain(parent: str | Path, energy_sigma: float, output: str | Path, work: str | Path | None = None) -> Path:
    """Train the parent model's final NEP again with ``energy_sigma`` (eV/atom); returns ``nep.txt``."""
    parent, output = Path(parent), Path(output)
    record = json.loads((parent / "provenance.json").read_text())
    parameters = record["parameters"]
    hyper = HYPERPARAMETER_PRESETS[parameters["hyper"]]
    train, test = load_sets(parent)
    work = Path(work) if work is not None else RUNS_DIR / "energy_weight" / f"{parent.name}-{energy_sigma:g}"
    result = train_nep(train, test, work, parameters["final_steps"], hyper, species=MA_FA_SPECIES,
                       seed=parameters["seed"], energy_sigma=energy_sigma)
    output.mkdir(parents=True, exist_ok=True)
    shutil.copy2(result.model_path, output / "nep.txt")
    result.history.to_csv(output / "history.csv", index=False)
    write_provenance(output, dict(parent=parent.name, energy_sigma=energy_sigma, hyper=parameters["hyper"],
                                  steps=parameters["final_steps"], seed=parameters["seed"]),
                     {"parent_nep_sha256_16": file_hash(parent / "nep.txt"),
                      "train_sha256_16": file_hash(parent / "train.xyz.gz")},
                     command="python -m softlattice.perovskite.workflows.energy_weight "
                             + " ".join(sys.argv[1:]),
                     final_rmse={k: float(v) for k, v in result.history.iloc[-1].items() if k.startswith("rmse")})
    return output / "nep.txt"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.energy_weight",
                                     description="Retrain a student's final NEP with another energy weight.")
    parser.add_argument("--parent", type=Path, required=True, help="committed model folder (nep.txt, provenance, sets)")
    parser.add_argument("--energy-sigma", type=float, required=True, help="energy error scale, eV/atom (default 0.001)")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    for name in ("provenance.json", "train.xyz.gz", "test.xyz.gz"):
        if not (args.parent / name).is_file():
            parser.error(f"{args.parent} has no {name}: not a committed student folder")
    if not args.energy_sigma > 0:
        parser.error(f"--energy-sigma {args.energy_sigma!r} must be > 0 eV/atom")
    print(retrain(args.parent, args.energy_sigma, args.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
