"""Is the tilt that NEP v2 grows in the coexistence cells its teacher's choice?

``python -m softlattice.perovskite.workflows.tilt_preference --model M --save DIR`` samples, for each
composition, frames of the coexistence cell early in a run ('built') and after the finished run of
the same (x, T, replica) ('grown'), evaluates every frame with the student and with the teacher, and
writes ``frames.extxyz.gz``, ``energies.csv`` and ``preference.csv``
(:func:`softlattice.perovskite.preference.energy_preference`) with provenance.

Units: K, ps, eV/atom, Å.

The grown frames start from the final state of a coexistence run (the machine that ran it, or a
coexistence result set that carries it: :data:`softlattice.md.stored.FINAL_STATE`); the frames are
part of the result set, and the command on another machine takes them from ``DIR`` (the teacher's
labels are recomputed or taken from the label cache). The short MD is NPT at the coexistence run's
temperature, time step and hydrogen mass, checkpointed per frame.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.io import read, write

from softlattice.infra.keys import file_hash, json_key
from softlattice.infra.paths import RUNS_DIR
from softlattice.infra.provenance import read_provenance, write_provenance
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDSettings, read_segment_ends, run_md
from softlattice.md.protocols import hold
from softlattice.md.stored import read_final_state
from softlattice.models.reference import label_structures
from softlattice.perovskite.coexistence import LocalTiltObserver, build_coexistence_cell
from softlattice.perovskite.preference import STATES, energy_preference
from softlattice.perovskite.workflows.coexistence import CoexistenceTask, check_model, task_key

TEACHER = "sevennet-pw-ft-ef-last+d3"
"""NEP v2's teacher (data/models/mafa-v2/provenance.json, 'reference')."""
FRAMES_FILE = "frames.extxyz.gz"


@dataclass(frozen=True)
class PreferenceSettings:
    """What is sampled: compositions, the coexistence run's (T, replica), and the frames.

    Attributes
    ----------
    fa_fractions
        Compositions; each needs a finished coexistence run at (x, temperature, replica).
    temperature
        K.
    replica
        Replica of the coexistence run (its A-site arrangement and MD seed).
    equilibrate_ps
        MD before the first frame of each state, ps.
    frames
        Frames per state.
    interval_ps
        Time between frames, ps (at least the tilt correlation time, about 1 ps).
    reference
        The teacher, a named reference of :mod:`softlattice.models.reference`.
    """

    fa_fractions: tuple[float, ...] = (0.0, 1.0)
    temperature: float = 250.0
    replica: int = 0
    equilibrate_ps: float = 1.0
    frames: int = 5
    interval_ps: float = 1.0
    reference: str = TEACHER

    def __post_init__(self) -> None:
        object.__setattr__(self, "fa_fractions", tuple(float(x) for x in self.fa_fractions))
        for x in self.fa_fractions:
            if not 0.0 <= x <= 1.0:
                raise ValueError(f"FA fraction {x!r} is outside [0, 1]")
        if not self.temperature > 0:
            raise ValueError(f"temperature {self.temperature!r} K must be > 0")
        if self.replica < 0:
            raise ValueError(f"replica {self.replica!r} must be >= 0")
        if self.frames < 2:
            raise ValueError(f"frames {self.frames!r}: at least two per state are needed for an error bar")
        if not (self.interval_ps > 0 and self.equilibrate_ps >= 0):
            raise ValueError(f"interval ({self.interval_ps}) must be > 0 ps and equilibration "
                             f"({self.equilibrate_ps}) >= 0 ps")

    def task(self, fa_fraction: float) -> CoexistenceTask:
        """The full-grid coexistence run these frames belong to."""
        return CoexistenceTask(fa_fraction, self.temperature, replica=self.replica)


def grown_start(task: CoexistenceTask, model: str | Path, store: str | Path) -> Atoms:
    """The final structure of the finished coexistence run ``task`` in ``store`` (computed there, or
    restored from a result set that carries its final state).

    Raises
    ------
    FileNotFoundError
        If the run has not finished in ``store``, or was restored without its final state.
    """
    folder = Path(store) / task_key(task, file_hash(model))
    run = f"the coexistence run x = {task.fa_fraction:g}, {task.temperature:g} K, replica {task.replica}"
    if not (folder / "observations.csv.gz").exists():
        raise FileNotFoundError(f"{run} has not finished in {folder}; run the coexistence grid first "
                                "(python -m softlattice.perovskite.workflows.coexistence)")
    final = read_final_state(folder)
    if final is None:
        raise FileNotFoundError(f"{run} in {folder} was restored from a result set without its final state "
                                "(carried before final states were); delete that folder and run it again "
                                "(python -m softlattice.perovskite.workflows.coexistence without --finished)")
    positions, cell = final
    atoms = build_coexistence_cell(task.fa_fraction, task.repeat, tilt_angle=task.tilt_angle, seed=task.replica)
    atoms.set_cell(cell, scale_atoms=False)
    atoms.positions = positions
    return atoms


def sample_frames(start: Atoms, task: CoexistenceTask, model: str | Path, settings: PreferenceSettings,
                  folder: str | Path) -> list[Atoms]:
    """NPT frames of ``start`` under ``task``'s conditions, ``settings.interval_ps`` apart after
    ``settings.equilibrate_ps`` (resumable in ``folder``)."""
    md = MDSettings(ensemble="npt", timestep_fs=task.timestep_fs, sample_interval=task.sample_interval,
                    hydrogen_mass=task.hydrogen_mass, seed=task.replica)
    duration = settings.equilibrate_ps + settings.frames * settings.interval_ps
    run_md(start, nep_calculator(model, atoms=start), hold(task.temperature, duration, segment_ps=settings.interval_ps),
           md, checkpoint_dir=folder, model_id=file_hash(model), keep_segment_ends=True)
    frames = [f for f in read_segment_ends(Path(folder) / "segment_ends.extxyz")
              if f.info["time_ps"] > settings.equilibrate_ps + 1e-6]
    return frames[-settings.frames:]


def block_tilts(frame: Atoms, observer: LocalTiltObserver) -> dict[str, float]:
    """Mean |amplitude| (Å) over the blocks of each half (lower, upper along z) of the tilts about z
    (M_z, R_z) and the largest in-phase tilt about another axis (M_xy)."""
    values = observer(frame)
    n_blocks = int(np.prod(observer.grid))
    upper = (np.arange(n_blocks) % observer.grid[2]) >= observer.grid[2] // 2
    amplitude = {mode: np.abs([values[f"q_{mode}_b{k}"] for k in range(n_blocks)]) for mode in ("M_x", "M_y", "M_z", "R_z")}
    amplitude["M_xy"] = np.maximum(amplitude.pop("M_x"), amplitude.pop("M_y"))
    return {f"{mode}_{half}_A": float(a[mask].mean()) for mode, a in amplitude.items()
            for half, mask in (("lower", ~upper), ("upper", upper))}


def collect_frames(model: str | Path, settings: PreferenceSettings, store: str | Path, work: str | Path) -> list[Atoms]:
    """The built and grown frames of every composition, each with ``info`` fa_fraction, state, time_ps."""
    frames = []
    for x in settings.fa_fractions:
        task = settings.task(x)
        built = build_coexistence_cell(x, task.repeat, tilt_angle=task.tilt_angle, seed=task.replica)
        grown = grown_start(task, model, store)
        for state, start in zip(STATES, (built, grown)):
            folder = Path(work) / json_key(dict(asdict(settings), fa_fraction=x, state=state, model=file_hash(model)))
            for frame in sample_frames(start, task, model, settings, folder):
                frame.info.update(fa_fraction=x, state=state)
                frames.append(frame)
    return frames


def student_energies(frames: Sequence[Atoms], model: str | Path) -> list[float]:
    """Potential energy per atom (eV) of each frame from the NEP ``model`` (one calculator for all)."""
    if not frames:
        return []
    calculator = nep_calculator(model, atoms=frames[0])
    energies = []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = calculator
        energies.append(atoms.get_potential_energy() / len(atoms))
    return energies


def frame_energies(frames: Sequence[Atoms], model: str | Path, reference: str | Calculator,
                   repeat: Sequence[int], reference_name: str | None = None,
                   cache_dir: str | Path = RUNS_DIR / "labels") -> pd.DataFrame:
    """One row per frame: composition, state, time, the student's and the teacher's potential energy
    per atom (eV) and the block tilts of each half (:func:`block_tilts`) of cells of ``repeat``.
    ``reference`` is a named reference or a calculator with its cache name ``reference_name``."""
    teacher = label_structures(frames, reference, name=reference_name, cache_dir=cache_dir, progress=True)
    observers: dict[float, LocalTiltObserver] = {}  # mapping a 1,536-atom framework is not free: once per x
    rows = []
    for frame, labelled, student in zip(frames, teacher, student_energies(frames, model)):
        x = float(frame.info["fa_fraction"])
        observer = observers.setdefault(x, LocalTiltObserver(build_coexistence_cell(x, repeat)))
        rows.append(dict(fa_fraction=x, state=frame.info["state"], time_ps=float(frame.info["time_ps"]),
                         e_student_eV=student, e_teacher_eV=labelled.get_potential_energy() / len(frame),
                         **block_tilts(frame, observer)))
    return pd.DataFrame(rows)


def load_preference(folder: str | Path, model: str | Path) -> dict[str, Any] | None:
    """The ``energies`` and ``preference`` tables and the ``parameters`` of the result set in ``folder``,
    or None when there is none or it was made with another model (its provenance holds the model's hash)."""
    record = read_provenance(folder)
    if record is None or record["inputs"].get("model_sha256_16") != file_hash(model):
        return None
    folder = Path(folder)
    return dict(energies=pd.read_csv(folder / "energies.csv"), preference=pd.read_csv(folder / "preference.csv"),
                parameters=record["parameters"])


def load_preferences(root: str | Path, model: str | Path, replica: int = 0) -> dict[str, Any] | None:
    """:func:`load_preference` of every result set under ``root`` made with ``model`` from the
    coexistence runs of ``replica``, together: the ``energies`` and ``preference`` tables of all of
    them (compositions in order), the ``parameters`` of the first, the ``folders`` read; None when
    there is none. The sets must share their sampling (temperature, frames, spacing, teacher).
    Sets of other replicas (training frames of retrained students) are left out."""
    folders = sorted(folder for folder in Path(root).iterdir() if folder.is_dir()) if Path(root).is_dir() else []
    found = {folder: check for folder in folders if (check := load_preference(folder, model)) is not None
             and check["parameters"]["replica"] == replica}
    if not found:
        return None
    sampling = [{k: v for k, v in check["parameters"].items() if k != "fa_fractions"} for check in found.values()]
    if any(other != sampling[0] for other in sampling[1:]):
        raise ValueError(f"the tilt-preference sets {[str(f) for f in found]} of one model sample differently: "
                         f"{sampling}")
    checks = list(found.values())
    return dict(energies=pd.concat([c["energies"] for c in checks]).sort_values("fa_fraction", kind="stable")
                .reset_index(drop=True),
                preference=pd.concat([c["preference"] for c in checks]).sort_values("fa_fraction")
                .reset_index(drop=True),
                parameters=checks[0]["parameters"], folders=list(found))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.tilt_preference",
                                     description="Student and teacher energies of coexistence cells before and after "
                                                 "one tilt grew (issue 16); resumable.")
    parser.add_argument("--model", required=True, type=Path, help="the student's nep.txt")
    parser.add_argument("--save", required=True, type=Path, help="result set folder (its frames are reused)")
    parser.add_argument("--fa-fractions", type=float, nargs="+", default=list(PreferenceSettings.fa_fractions))
    parser.add_argument("--replica", type=int, default=PreferenceSettings.replica,
                        help="replica of the coexistence runs (0 judges retrained students; others may train them)")
    parser.add_argument("--store", type=Path, default=RUNS_DIR / "coexistence", help="store of the coexistence runs")
    args = parser.parse_args(argv)
    check_model(args.model)
    settings = PreferenceSettings(fa_fractions=tuple(args.fa_fractions), replica=args.replica)
    saved_frames = args.save / FRAMES_FILE
    if saved_frames.exists():
        frames = read(saved_frames, index=":")
        held = sorted({float(frame.info["fa_fraction"]) for frame in frames})
        if held != sorted(settings.fa_fractions):
            parser.error(f"{saved_frames} holds the compositions {held}, not {sorted(settings.fa_fractions)}; "
                         "save into another folder")
        record = read_provenance(args.save)
        if record is not None and record["parameters"]["replica"] != settings.replica:
            parser.error(f"{saved_frames} holds frames of replica {record['parameters']['replica']}, not "
                         f"{settings.replica}; save into another folder")
    else:
        frames = collect_frames(args.model, settings, args.store, RUNS_DIR / "tilt_preference")
        args.save.mkdir(parents=True, exist_ok=True)
        write(saved_frames, frames, format="extxyz")
    table = frame_energies(frames, args.model, settings.reference, settings.task(0.0).repeat)
    table.to_csv(args.save / "energies.csv", index=False, float_format="%.8g")
    preference = energy_preference(table)
    preference.to_csv(args.save / "preference.csv", index=False, float_format="%.6g")
    write_provenance(args.save, asdict(settings), {"model_sha256_16": file_hash(args.model)},
                     command="python -m softlattice.perovskite.workflows.tilt_preference " + " ".join(argv or sys.argv[1:]))
    print(preference.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
