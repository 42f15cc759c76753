"""Train NEP v2 further on its own committed training set (issue 16): is 3,000 steps the limit?

``python -m softlattice.perovskite.workflows.longer_training --parent data/models/mafa-v2 --stages 6
--stage-steps 1000 --output data/student_experiments/mafa-v2-long`` starts from the parent's final
``nep.txt`` and trains it on the parent's ``train.xyz.gz`` / ``test.xyz.gz`` in stages
(:func:`softlattice.models.nep.continue_nep`: each stage a cosine cycle of the learning rate,
resumable after any stage), then evaluates every stage on what NEP v2 failed
(:func:`softlattice.perovskite.workflows.energy_weight.evaluate`) and writes ``stages.csv``,
``evaluation.json`` (the last stage, with its verdict), ``nep.txt``, ``history.csv`` and the provenance.

Why: NEP v2's energy change on the coexistence path differs from its teacher's by 1.5-3.2 meV/atom;
weighting energies more in the same 3,000 steps made energies and forces worse, training and test
alike, which points at a training that stopped early (the learning rate decays to its floor by step
3,000 while the loss still falls). Same data, same model, more steps.

Settings and the judgement, fixed before the first continuation was trained: stages of 1,000 steps
from a learning rate of 3e-3 (a third of the first training's peak, so that a restart does not undo
the fit) down to 1e-4; the last stage is judged by
:func:`softlattice.perovskite.student_criteria.retrained_student_verdict` against NEP v2's own
evaluation (``data/student_experiments/mafa-v2``); the earlier stages are reported as a curve, not
chosen from. Passing is not enough for production use: chapter 01's 600 K stability check comes first.

``--path-frames DIR [DIR ...]`` adds the frames of tilt-preference result sets (NEP v2's own coexistence
path, :mod:`softlattice.perovskite.workflows.tilt_preference`), labelled by the parent's teacher, to the
training set: the same continuation, plus the states where the student went wrong. Frames of the judging
frames' own runs (their compositions in their replica) are refused: they would be learned, then judged.
Frames at the judged compositions from another replica (another MD seed and, for 0 < x < 1, another
A-site arrangement) are allowed: the judged frames stay ones no student learned.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd
from ase import Atoms
from ase.io import read

from softlattice.infra.cli import positive_int
from softlattice.infra.keys import file_hash
from softlattice.infra.paths import DATA_DIR, RUNS_DIR
from softlattice.infra.provenance import read_provenance, write_provenance
from softlattice.infra.resultsets import display_path
from softlattice.models.nep import HYPERPARAMETER_PRESETS, continue_nep, load_sets, train_nep
from softlattice.models.reference import label_structures
from softlattice.perovskite.student_criteria import retrained_student_verdict
from softlattice.perovskite.training_sets import MA_FA_SPECIES
from softlattice.perovskite.workflows.energy_weight import PREFERENCE_FRAMES, evaluate, judged_frames
from softlattice.perovskite.workflows.tilt_preference import FRAMES_FILE

LEARNING_RATE = (3e-3, 1e-4)
"""Each stage's cosine cycle of the learning rate (initial, final)."""

PARENT_EVALUATION = DATA_DIR / "student_experiments" / "mafa-v2" / "evaluation.json"
"""NEP v2 judged by the same evaluation: the bar a longer training must clear."""


def _evaluated(model: Path, folder: Path) -> dict:
    """:func:`evaluate`, or its stored result for this very model."""
    stored = folder / "evaluation.json"
    if stored.exists() and json.loads(stored.read_text())["model_sha256_16"] == file_hash(model):
        return json.loads(stored.read_text())
    return evaluate(model, folder)


def path_frames_of(folder: str | Path, teacher: str) -> list[Atoms]:
    """The (unlabelled) frames of the tilt-preference result set in ``folder``, checked for use as
    training data of a student of ``teacher``.

    Raises
    ------
    ValueError
        If the set was labelled by another teacher, or holds a composition of the judging frames.
    """
    folder = Path(folder)
    record = read_provenance(folder)
    if record is None or not (folder / FRAMES_FILE).is_file():
        raise ValueError(f"{folder} is not a tilt-preference result set (no provenance.json or {FRAMES_FILE})")
    if record["parameters"]["reference"] != teacher:
        raise ValueError(f"{folder} was labelled by {record['parameters']['reference']!r}, not by the parent's "
                         f"teacher {teacher!r}")
    frames = read(folder / FRAMES_FILE, index=":")
    judged, judged_replica = judged_frames()
    shared = sorted({float(frame.info["fa_fraction"]) for frame in frames} & set(judged))
    if shared and record["parameters"]["replica"] == judged_replica:
        raise ValueError(f"{display_path(folder)} holds frames at x = {', '.join(f'{x:g}' for x in shared)} of replica "
                         f"{judged_replica}, where the students are judged ({display_path(PREFERENCE_FRAMES)}); use "
                         "frames of other compositions or of another replica")
    for frame in frames:
        frame.info["replica"] = int(record["parameters"]["replica"])
    return frames


def train_longer(parent: str | Path, stages: int, stage_steps: int, output: str | Path,
                 work: str | Path | None = None, path_frames: Sequence[str | Path] = (),
                 from_scratch: str | None = None) -> pd.DataFrame:
    """Continue the parent's final model on its committed sets (plus the labelled frames of the
    tilt-preference sets ``path_frames``), evaluate every stage and write the result set into
    ``output``; returns the per-stage table (``stages.csv``).

    With ``from_scratch`` (a name of :data:`~softlattice.models.nep.HYPERPARAMETER_PRESETS`), the
    stages continue a new model of that preset instead, trained first on the same sets for as many
    steps as the parent's final training, with the parent's schedule: the same data and judgement,
    another capacity."""
    parent, output = Path(parent), Path(output)
    record = json.loads((parent / "provenance.json").read_text())
    parameters = record["parameters"]
    if from_scratch is not None and from_scratch not in HYPERPARAMETER_PRESETS:
        raise ValueError(f"unknown preset {from_scratch!r}; allowed: {', '.join(HYPERPARAMETER_PRESETS)}")
    hyper = HYPERPARAMETER_PRESETS[from_scratch or parameters["hyper"]]
    train, test = load_sets(parent)
    path_frames = [Path(folder) for folder in path_frames]
    unlabelled = [frame for folder in path_frames for frame in path_frames_of(folder, parameters["reference"])]
    added = label_structures(unlabelled, parameters["reference"]) if unlabelled else []
    train = train + added
    work = Path(work) if work is not None else RUNS_DIR / "longer_training" / parent.name
    start = parent / "nep.txt"
    if from_scratch is not None:
        start = train_nep(train, test, work / f"scratch_{from_scratch}", parameters["final_steps"], hyper,
                          species=MA_FA_SPECIES, seed=parameters["seed"]).model_path
    result = continue_nep(start, train, test, work, stages, stage_steps,
                          learning_rate=LEARNING_RATE, batch_size=hyper.batch_size, species=MA_FA_SPECIES,
                          seed=parameters["seed"])
    parent_evaluation = json.loads(PARENT_EVALUATION.read_text())
    parent_force = float(record["final_rmse"]["rmse_forces_test"])
    output.mkdir(parents=True, exist_ok=True)
    rows = []
    for stage, model in enumerate(result.stage_models):
        last = result.history[result.history.stage == stage].iloc[-1]
        # the last stage is the judged model: its evaluation files belong to the result set
        summary = _evaluated(model, output if stage == stages - 1 else work / f"evaluation_{stage}")
        rows.append(dict(stage=stage, steps=int(last.step), rmse_energy_test_meV=1000 * last.rmse_energy_test,
                         rmse_forces_test_meV=1000 * last.rmse_forces_test, order_kept=summary["order_kept"],
                         median_abs_difference_meV_per_fu=summary["median_abs_difference_meV_per_fu"],
                         **{f"student_minus_teacher_meV_x{x}": value
                            for x, value in summary["coexistence_student_minus_teacher_meV"].items()}))
    table = pd.DataFrame(rows)
    table.to_csv(output / "stages.csv", index=False, float_format="%.6g")
    final = summary
    final_force = float(result.history.rmse_forces_test.iloc[-1])
    final["verdict"] = retrained_student_verdict(final, parent_evaluation, final_force, parent_force)
    (output / "evaluation.json").write_text(json.dumps(final, indent=1))
    shutil.copy2(result.model_path, output / "nep.txt")
    result.history.to_csv(output / "history.csv", index=False)
    inputs = {"parent_nep_sha256_16": file_hash(parent / "nep.txt"),
              "train_sha256_16": file_hash(parent / "train.xyz.gz")}
    for folder in path_frames:
        inputs[f"path_frames_{folder.name}_sha256_16"] = file_hash(folder / FRAMES_FILE)
    write_provenance(output, dict(parent=parent.name, stages=stages, stage_steps=stage_steps,
                                  learning_rate=list(LEARNING_RATE), hyper=from_scratch or parameters["hyper"],
                                  from_scratch_steps=parameters["final_steps"] if from_scratch else 0,
                                  seed=parameters["seed"],
                                  path_frames=[folder.name for folder in path_frames] or None,
                                  path_frames_added=len(added),
                                  path_frames_fa_fractions=sorted({float(a.info["fa_fraction"]) for a in unlabelled}),
                                  path_frames_replicas=sorted({int(a.info["replica"]) for a in unlabelled})),
                     inputs,
                     command="python -m softlattice.perovskite.workflows.longer_training "
                             + " ".join(sys.argv[1:]),
                     final_rmse={k: float(v) for k, v in result.history.iloc[-1].items() if k.startswith("rmse")})
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m softlattice.perovskite.workflows.longer_training",
        description="Train a committed student further on its own sets, in resumable stages.")
    parser.add_argument("--parent", type=Path, required=True, help="committed model folder (nep.txt, provenance, sets)")
    parser.add_argument("--stages", type=positive_int, required=True, help="stages to reach (extends a finished run)")
    parser.add_argument("--stage-steps", type=positive_int, default=1000, help="training steps per stage")
    parser.add_argument("--path-frames", type=Path, nargs="+", default=[],
                        help="tilt-preference result sets whose frames, labelled by the teacher, join the training set")
    parser.add_argument("--from-scratch", choices=sorted(HYPERPARAMETER_PRESETS), default=None,
                        help="continue a new model of this preset, first trained on the same sets, not the parent")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    for name in ("provenance.json", "train.xyz.gz", "test.xyz.gz"):
        if not (args.parent / name).is_file():
            parser.error(f"{args.parent} has no {name}: not a committed student folder")
    teacher = json.loads((args.parent / "provenance.json").read_text())["parameters"]["reference"]
    for folder in args.path_frames:
        try:
            path_frames_of(folder, teacher)
        except ValueError as error:
            parser.error(str(error))
    table = train_longer(args.parent, args.stages, args.stage_steps, args.output, path_frames=args.path_frames,
                         from_scratch=args.from_scratch)
    print(table.to_string(index=False))
    print(json.dumps(json.loads((args.output / "evaluation.json").read_text())["verdict"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
