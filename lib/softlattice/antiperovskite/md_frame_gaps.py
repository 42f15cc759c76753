"""Chapter 07's MD frames with direct band gaps, as the gap models read them (the sampling and
labelling are in :mod:`softlattice.antiperovskite.workflows.md_frames`).

Units: Å, eV, K.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from ase import Atoms
from ase.io import read

from softlattice.electronic.gaps import GapCache
from softlattice.infra.paths import DATA_DIR, RUNS_DIR

GAPS_STORE = RUNS_DIR / "cap_models" / "gaps"
"""Chapter 06's gap cache (chapter 06's labels and these frames' share it)."""

LABELS_CARRIED = DATA_DIR / "cap_models" / "labels"
"""Committed copies of the GPAW gap caches (one ``<cache>.jsonl.gz`` per level and basis,
:meth:`softlattice.electronic.band_edges.BandEdgeCache.export_to`): the labels take longer than a
session, so each session carries what it computed and the next restores it before going on."""

MD_FRAMES = DATA_DIR / "cap_md_frames" / "chgnet-r2scan"
"""The committed frames of the full profile (``frames.extxyz.gz``) and what they were taken from
(``provenance.json``); another profile's frames stay under ``runs/``."""


def frames_folder(profile: str) -> Path:
    """Where the frames of chapter 07's ``profile`` are kept."""
    return MD_FRAMES if profile == "full" else RUNS_DIR / "cap_md_frames" / profile


def load_frames(folder: str | Path = MD_FRAMES) -> list[Atoms]:
    """The MD frames in ``folder``
    (:func:`softlattice.antiperovskite.workflows.md_frames.save_frames`)."""
    path = Path(folder) / "frames.extxyz.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python -m softlattice.antiperovskite.workflows.md_frames "
                                "--sample` after chapter 07")
    return read(path, index=":")


HOLD_OUT_EVERY = 5
"""Every fifth run (in (x, T) order) is held out whole: its frames test the gap models and none of
them is learnt, so no held-out frame has a sibling of its own run in training."""


def md_frames_with_gaps(gap_settings: dict, offset: int, folder: str | Path = MD_FRAMES,
                        cache: str | Path = GAPS_STORE) -> tuple[list[Atoms], pd.DataFrame]:
    """The frames in ``folder`` and :func:`md_gap_table` of them, after restoring the carried labels
    (:data:`LABELS_CARRIED`) into the gap ``cache``: what a clean clone sees."""
    for stage in ("cheap", "accurate"):
        GapCache(gap_settings[stage], cache, basis=gap_settings[f"{stage}_basis"]).import_from(LABELS_CARRIED)
    frames = load_frames(folder)
    return frames, md_gap_table(frames, gap_settings, offset, cache)


def md_gap_table(frames: Sequence[Atoms], gap_settings: dict, offset: int, folder: str | Path = GAPS_STORE) -> pd.DataFrame:
    """Rows in the layout of chapter 06's gaps table for the frames whose gap at their stage's level
    is in the gap cache (the others are left out, so labels can arrive over several sessions):
    ``index`` is ``offset`` plus the frame's position, ``origin`` is 'md', ``held_out`` by run
    (:data:`HOLD_OUT_EVERY`)."""
    runs = sorted({(f.info["br_fraction"], f.info["temperature_K"]) for f in frames})
    held = {run for k, run in enumerate(runs) if k % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1}
    caches = {stage: GapCache(gap_settings[stage], folder, basis=gap_settings[f"{stage}_basis"])
              for stage in ("cheap", "accurate")}
    rows = []
    for position, frame in enumerate(frames):
        stage = frame.info["stage"]
        found = caches[stage].get(frame)
        if found is None:
            continue
        run = (frame.info["br_fraction"], frame.info["temperature_K"])
        rows.append(dict(index=offset + position, stage=stage, level=gap_settings[stage],
                         basis=gap_settings[f"{stage}_basis"], gap_eV=found.gap, held_out=run in held,
                         br_fraction=run[0], origin="md", temperature_K=run[1], excluded=False))
    return pd.DataFrame(rows, columns=["index", "stage", "level", "basis", "gap_eV", "held_out", "br_fraction",
                                       "origin", "temperature_K", "excluded"])


def runs_learnt(labels: pd.DataFrame) -> set[tuple[float, float]]:
    """(x, T in K) of the MD runs whose frames a gap model learnt: its ``labels`` table's rows of
    origin 'md' on the training side (``softlattice.antiperovskite.workflows.gap_models``)."""
    learnt = labels[(labels.origin == "md") & ~labels.held_out.astype(bool)]
    return {(float(x), float(t)) for x, t in zip(learnt.br_fraction, learnt.temperature_K)}


def how_learnt(hashes: Sequence[str], labels: pd.DataFrame) -> list[str]:
    """For each structure hash, how a gap model's ``labels`` table holds that very structure: its
    level ('cheap' or 'accurate') when learnt, 'held out' when only tested, '' when absent."""
    stage = dict(zip(labels.hash, labels.stage))
    held = dict(zip(labels.hash, labels.held_out.astype(bool)))
    return ["" if h not in stage else "held out" if held[h] else stage[h] for h in hashes]
