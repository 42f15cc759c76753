"""Frames of chapter 07's MD with direct band gaps, for the gap model to learn and be tested on.

Units: Å, eV, K, ps.

Chapter 06's gap models learn harmonic displacements about the relaxed cells; chapter 07's MD
visits other structures (its direct spot checks differ from the GNN by about half an eV). This
module takes a few frames of every chapter-07 run (evenly spaced inside the run, after its
equilibration), commits them, and labels them at chapter 06's two levels through the same gap
cache as chapter 06 (so ``python -m softlattice.antiperovskite.workflows.models --carry-labels``
carries them too). Per run, the last of the sampled frames is for the accurate level and the
others for the cheap one: the two levels label distinct structures, as in chapter 06.

``python -m softlattice.antiperovskite.workflows.md_frames --sample`` (once chapter 07's runs are
cached) writes :data:`MD_FRAMES`; ``--gaps-part K/N`` labels a share of them (resumable).
The gap models learn them with ``md_frames=True`` in their settings (:func:`softlattice.antiperovskite.md_frame_gaps.md_gap_table`:
whole runs held out).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from ase.io import write

from softlattice.antiperovskite.md_frame_gaps import GAPS_STORE, MD_FRAMES, frames_folder, md_frames_with_gaps
from softlattice.antiperovskite.workflows.thermal import MD_SETTINGS, _thermal_run, prepare_md
from softlattice.electronic.gaps import compute_gaps
from softlattice.infra.keys import file_hash
from softlattice.infra.paths import RUNS_DIR
from softlattice.infra.profiles import resolve
from softlattice.infra.shares import parse_share


def pick_frames(frames: Sequence[Atoms], per_run: int) -> list[Atoms]:
    """``per_run`` frames evenly spaced inside a run (neither its first nor its last frame), the
    last of them marked for the accurate level (``info['stage']``), the others for the cheap one."""
    if per_run < 2:
        raise ValueError(f"per_run {per_run!r} must be >= 2: at least one cheap and one accurate frame per run")
    if len(frames) < per_run + 2:
        raise ValueError(f"a run of {len(frames)} frames cannot give {per_run} inside it")
    indices = np.linspace(0, len(frames) - 1, per_run + 2).round().astype(int)[1:-1]
    picked = []
    for k, index in enumerate(indices):
        frame = frames[int(index)].copy()
        frame.info.update(origin="md", stage="accurate" if k == per_run - 1 else "cheap")
        picked.append(frame)
    return picked


def sample_md_frames(settings07: dict, per_run: int) -> tuple[list[Atoms], dict]:
    """:func:`pick_frames` of every cached chapter-07 run (T > 0) of ``settings07``, tagged with
    ``br_fraction`` and ``temperature_K``, and the record of what they come from."""
    lowest, student = prepare_md(settings07)
    work = RUNS_DIR / "cap_thermal"
    picked = []
    for x, atoms in sorted(lowest.items()):
        for temperature in settings07["temperatures"]:
            for frame in pick_frames(_thermal_run(atoms, student, temperature, settings07, work), per_run):
                frame.info.update(br_fraction=float(x), temperature_K=float(temperature))
                picked.append(frame)
    record = dict(student_hash=file_hash(student), md={name: settings07[name] for name in MD_SETTINGS},
                  per_run=per_run, temperatures=list(settings07["temperatures"]), compositions=sorted(lowest))
    return picked, record


def save_frames(frames: Sequence[Atoms], record: dict, folder: str | Path = MD_FRAMES) -> Path:
    """Write ``frames`` (``frames.extxyz.gz``) and ``record`` (``provenance.json``) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "frames.extxyz.gz", list(frames), format="extxyz")
    (folder / "provenance.json").write_text(json.dumps(record, indent=1) + "\n")
    return folder


def label_share(frames: Sequence[Atoms], gap_settings: dict, stages: Sequence[str], part: int, parts: int,
                folder: str | Path = GAPS_STORE) -> dict[str, int]:
    """Direct gaps of share ``part`` of ``parts`` of the frames of each of ``stages`` (into the gap
    cache; resumable). Returns the number of failed SCFs per stage."""
    failed = {}
    for stage in stages:
        chosen = [f for f in frames if f.info["stage"] == stage][part::parts]
        _, failures = compute_gaps(chosen, gap_settings[stage], folder, progress=True,
                                   basis=gap_settings[f"{stage}_basis"])
        failed[stage] = len(failures)
    return failed


def committed_md_gaps(gap_settings: dict, student: str | Path, folder: str | Path = MD_FRAMES) -> pd.DataFrame | None:
    """The direct gaps the committed MD frames in ``folder`` have so far (the carried labels are
    restored into the gap cache first), in :func:`~softlattice.antiperovskite.md_frame_gaps.md_gap_table`'s layout; None without frames or
    when they come from another student than ``student`` (the NEP file of the MD they describe)."""
    record = Path(folder) / "provenance.json"
    if not record.is_file() or json.loads(record.read_text())["student_hash"] != file_hash(student):
        return None
    return md_frames_with_gaps(gap_settings, offset=0, folder=folder)[1]


def md_gap_trend_text(md_gaps: pd.DataFrame, stage: str, level: str) -> str:
    """A sentence on the mean direct gap of the MD frames of ``stage`` per temperature (``level``:
    the level's name): 'falls' only when every step between neighbouring temperatures falls."""
    means = md_gaps[md_gaps.stage == stage].groupby("temperature_K").gap_eV.agg(["mean", "size"])
    if len(means) < 2:
        return f"Too few temperatures have direct {level} gaps of MD frames to show a trend."
    steps = np.diff(means["mean"].to_numpy())
    trend = "falls at every step" if (steps < 0).all() else "rises at every step" if (steps > 0).all() else \
        "does not change monotonically"
    return (f"The direct {level} gap of the MD frames, averaged over x, {trend} from "
            f"{means['mean'].iloc[0]:.2f} eV at {means.index[0]:.0f} K to {means['mean'].iloc[-1]:.2f} eV at "
            f"{means.index[-1]:.0f} K ({', '.join(f'{m:.2f}' for m in means['mean'])} eV; "
            f"{_count(means['size'])} frames per temperature).")


def _count(sizes: pd.Series) -> str:
    low, high = int(sizes.min()), int(sizes.max())
    return f"{low}" if low == high else f"{low}-{high}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softlattice.antiperovskite.workflows.md_frames",
                                     description="Frames of chapter 07's MD, labelled with direct band gaps.")
    parser.add_argument("--profile", default="full", choices=["quick", "full"], help="chapter 07's profile")
    parser.add_argument("--sample", action="store_true", help=f"write the frames into {MD_FRAMES} and stop")
    parser.add_argument("--per-run", type=int, default=3, help="frames per run (the last for the accurate level)")
    parser.add_argument("--gaps-part", type=parse_share, default=None, metavar="K/N",
                        help="label only this share of the frames (every N-th from the K-th)")
    parser.add_argument("--stages", nargs="+", default=["cheap", "accurate"], choices=["cheap", "accurate"],
                        help="with --gaps-part: the levels to label, in this order")
    args = parser.parse_args(argv)
    if args.per_run < 2:
        parser.error(f"--per-run {args.per_run} must be >= 2 (one cheap and one accurate frame at least)")
    settings07 = resolve("07_cap_thermal", args.profile)
    if args.sample:
        frames, record = sample_md_frames(settings07, args.per_run)
        print(f"{len(frames)} frames in {save_frames(frames, record, frames_folder(args.profile))}")
        return 0
    if args.gaps_part is None:
        parser.error("--sample or --gaps-part K/N is needed")
    gap_settings = resolve("06_cap_models", settings07["cap_models"])["gaps"]
    frames, _ = md_frames_with_gaps(gap_settings, 0, frames_folder(args.profile))  # carried labels restored
    failed = label_share(frames, gap_settings, args.stages, *args.gaps_part)
    print(f"failed SCFs per stage: {failed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
