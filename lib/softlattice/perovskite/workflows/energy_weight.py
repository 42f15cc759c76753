"""Retrain a student on its own committed training set with energies weighted more (issue 16).

``python -m softlattice.perovskite.workflows.energy_weight --parent data/models/mafa-v2 --energy-sigma 0.0003
--output data/models/mafa-v2-e03`` trains one NEP on the parent's ``train.xyz.gz`` / ``test.xyz.gz`` with
the parent's hyperparameters, steps and seed, changing only the error scale of the energy per atom in
the loss (:func:`softlattice.models.nep.train_nep`), and writes ``nep.txt``, ``history.csv`` and the
provenance into ``--output``. A controlled experiment: same data, same model, one knob.

Why: on the coexistence path NEP v2's energy change differs from its teacher's by 1.5-3.2 meV/atom
(:mod:`softlattice.perovskite.workflows.tilt_preference`), of the order of its energy RMSE, while the
loss weighs forces about ten times more than energies at the end of training.

How a retrained student is judged, fixed before the first was trained (:func:`evaluate`): it must
(a) reproduce its teacher's energy change on NEP v2's coexistence frames at every composition
there (within two standard errors; frames no student learned), (b) keep the order of a0a0c- and
a0a0c+ at the teacher's relaxed cells in more pairs than NEP v2 with a smaller median difference,
and (c) keep its test force RMSE within 10 % of NEP v2's. Passing these is not enough for production
use: the 600 K stability check of chapter 01 comes first.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd
from ase.io import read

from softlattice.infra.keys import file_hash
from softlattice.infra.paths import DATA_DIR, RUNS_DIR
from softlattice.infra.provenance import read_provenance, write_provenance
from softlattice.models.nep import HYPERPARAMETER_PRESETS, load_sets, train_nep
from softlattice.perovskite.preference import energy_preference
from softlattice.perovskite.student_criteria import (
    phase_order_summary,
    retrained_student_verdict,
    tetragonal_order,
)
from softlattice.perovskite.training_sets import MA_FA_SPECIES
from softlattice.perovskite.workflows.checks import energies_at_reference_geometries, reference_relaxed
from softlattice.perovskite.workflows.tilt_preference import FRAMES_FILE, TEACHER, student_energies


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


PREFERENCE_FRAMES = DATA_DIR / "tilt_preference" / "mafa-v2"
"""The coexistence frames of NEP v2 with their teacher energies: a test no retrained student learned."""


def judged_frames(folder: str | Path = PREFERENCE_FRAMES) -> tuple[list[float], int]:
    """The compositions (FA fractions) and the coexistence replica of the frames retrained students
    are judged on (:func:`evaluate`)."""
    folder = Path(folder)
    fractions = sorted(set(pd.read_csv(folder / "energies.csv").fa_fraction.astype(float)))
    return fractions, int(read_provenance(folder)["parameters"]["replica"])


def student_on_frames(model: str | Path, folder: str | Path = PREFERENCE_FRAMES) -> pd.DataFrame:
    """The frames table of a tilt-preference result set (``energies.csv``, teacher energies kept) with
    the student energies of ``model`` instead (eV/atom), in the same frame order."""
    folder = Path(folder)
    table = pd.read_csv(folder / "energies.csv")
    frames = read(folder / FRAMES_FILE, index=":")
    if len(frames) != len(table):
        raise ValueError(f"{folder} holds {len(frames)} frames but {len(table)} rows of energies")
    return table.assign(e_student_eV=student_energies(frames, model))


def evaluate(model: str | Path, output: str | Path, reference: str = TEACHER) -> dict:
    """Judge a student on what NEP v2 failed: its energy change on the coexistence frames against the
    teacher's (``preference.csv``) and the order of a0a0c- and a0a0c+ at the teacher's relaxed cells
    (``phase_order.csv``); returns and writes ``evaluation.json`` into ``output``."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    preference = energy_preference(student_on_frames(model))
    preference.to_csv(output / "preference.csv", index=False, float_format="%.6g")
    at_reference = energies_at_reference_geometries(model, reference_relaxed(reference))
    at_reference.to_csv(output / "phase_order.csv", index=False)
    order = tetragonal_order(at_reference)
    summary = dict(model_sha256_16=file_hash(model), phase_order=phase_order_summary(at_reference),
                   order_kept=int(order.same_order.sum()), order_pairs=int(len(order)),
                   median_abs_difference_meV_per_fu=float(at_reference.difference_meV_per_fu.abs().median()),
                   coexistence_student_minus_teacher_meV=dict(zip(preference.fa_fraction.astype(str),
                                                                  preference.student_minus_teacher_meV)),
                   coexistence_reproduces=dict(zip(preference.fa_fraction.astype(str),
                                                   preference.reproduces.astype(bool))))
    (output / "evaluation.json").write_text(json.dumps(summary, indent=1))
    return summary


EXPERIMENTS = DATA_DIR / "student_experiments"
"""Retrained students, one folder each, and their parent's own evaluation (a folder without provenance)."""


def _change(parameters: dict) -> str:
    if "energy_sigma" in parameters:
        return f"energy error scale {1000 * parameters['energy_sigma']:g} meV/atom instead of 1"
    if "stages" in parameters:
        change = f"{parameters['stages'] * parameters['stage_steps']:,} more steps in {parameters['stages']} stages"
        if parameters.get("from_scratch_steps"):
            hyper = HYPERPARAMETER_PRESETS[parameters["hyper"]]
            change = (f"a new model of preset '{parameters['hyper']}', n_max {hyper.n_max_radial}/{hyper.n_max_angular} and "
                      f"{hyper.neurons} neurons, trained {parameters['from_scratch_steps']:,} steps from scratch, then "
                      + change)
        if parameters.get("path_frames_added"):
            fractions = parameters["path_frames_fa_fractions"]
            change += (f" with {parameters['path_frames_added']} teacher-labelled coexistence frames at x = "
                       + ", ".join(f"{x:g}" for x in fractions))
            judged, judged_replica = judged_frames()
            shared = sorted(set(fractions) & set(judged))
            if shared:  # allowed only from another replica than the judged frames' (longer_training.path_frames_of)
                change += (f" (at x = {' and '.join(f'{x:g}' for x in shared)} from replica "
                           + ", ".join(str(r) for r in parameters["path_frames_replicas"] if r != judged_replica)
                           + f", not the judged frames' replica {judged_replica})")
        return change
    return "?"


def retrained_students(root: str | Path = EXPERIMENTS) -> pd.DataFrame:
    """One row per evaluated student under ``root``: the change made to its parent, test RMSEs
    (meV/atom, meV/Å), the student - teacher energy change on the coexistence frames per composition
    (meV/atom), the a0a0c-/a0a0c+ order at the teacher's relaxed cells, and the verdict of
    :func:`~softlattice.perovskite.student_criteria.retrained_student_verdict` against the parent
    (``parent`` and ``verdict`` None for the parent itself, a folder with an evaluation and no
    provenance)."""
    root = Path(root)
    evaluations = {folder.name: json.loads((folder / "evaluation.json").read_text())
                   for folder in sorted(root.iterdir()) if (folder / "evaluation.json").is_file()}
    rows = []
    for name, evaluation in evaluations.items():
        provenance = root / name / "provenance.json"
        if provenance.is_file():
            record = json.loads(provenance.read_text())
            parent_name, change = record["parameters"]["parent"], _change(record["parameters"])
        else:
            record = json.loads((DATA_DIR / "models" / name / "provenance.json").read_text())
            parent_name, change = None, "parent"
        rmse = record["final_rmse"]
        row = dict(student=name, parent=parent_name, change=change,
                   rmse_energy_test_meV=1000 * rmse["rmse_energy_test"],
                   rmse_forces_test_meV=1000 * rmse["rmse_forces_test"],
                   **{f"student_minus_teacher_meV_x{x}": value
                      for x, value in evaluation["coexistence_student_minus_teacher_meV"].items()},
                   order_kept=f"{evaluation['order_kept']} of {evaluation['order_pairs']}",
                   median_abs_difference_meV_per_fu=evaluation["median_abs_difference_meV_per_fu"], verdict=None)
        if parent_name is not None:
            parent_force = json.loads((DATA_DIR / "models" / parent_name / "provenance.json").read_text())
            verdict = retrained_student_verdict(evaluation, evaluations[parent_name], row["rmse_forces_test_meV"],
                                                1000 * parent_force["final_rmse"]["rmse_forces_test"])
            failed = [rule.replace("_", " ") for rule, kept in verdict.items() if rule != "passes" and not kept]
            row["verdict"] = "passes" if verdict["passes"] else f"fails ({', '.join(failed)})"
        rows.append(row)
    return pd.DataFrame(rows)


def retrained_students_text(table: pd.DataFrame) -> str:
    """A clause (lower case, no full stop) on the verdicts of :func:`retrained_students`; the parent's
    row is skipped."""
    judged = table[table.parent.notna()]
    if judged.empty:
        return "no retrained student has been judged"
    if len(judged) == 1:
        row = judged.iloc[0]
        return f"the one retrained student, `{row.student}` ({row.change}), {row.verdict}"
    passing = int((judged.verdict == "passes").sum())
    lead = f"{passing} of {len(judged)} retrained students pass" if passing else \
        f"none of the {len(judged)} retrained students passes"
    return lead + ": " + "; ".join(f"`{r.student}` ({r.change}) {r.verdict}" for r in judged.itertuples())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.energy_weight",
                                     description="Retrain a student's final NEP with another energy weight.")
    parser.add_argument("--parent", type=Path, required=True, help="committed model folder (nep.txt, provenance, sets)")
    parser.add_argument("--energy-sigma", type=float, default=None, help="energy error scale, eV/atom (default 0.001)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--evaluate-only", action="store_true",
                        help="judge the parent itself (no training): writes the evaluation into --output")
    args = parser.parse_args(argv)
    if args.evaluate_only:
        print(json.dumps(evaluate(args.parent / "nep.txt", args.output), indent=1))
        return 0
    for name in ("provenance.json", "train.xyz.gz", "test.xyz.gz"):
        if not (args.parent / name).is_file():
            parser.error(f"{args.parent} has no {name}: not a committed student folder")
    if args.energy_sigma is None or not args.energy_sigma > 0:
        parser.error(f"--energy-sigma {args.energy_sigma!r} must be > 0 eV/atom")
    model = retrain(args.parent, args.energy_sigma, args.output)
    print(json.dumps(evaluate(model, args.output), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
