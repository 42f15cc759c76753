"""Frozen label sets: the direct gaps of issue 18's extra structures (chapter 06's extended
selection, :data:`~softlattice.antiperovskite.workflows.models.EXTENDED_LABELS`, and chapter 07's
MD frames), fixed under a name so that the band-gap models learn a set that does not move while
labelling goes on over several sessions.

The carried labels (:data:`~softlattice.antiperovskite.md_frame_gaps.LABELS_CARRIED`) grow with
every session; a label set is a snapshot of what they held, one row per structure keyed by its
hash, read back onto structures regenerated from the settings. A set, once written, never changes:
more labels make a new set under a new name.

Units: eV, K.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms

from softlattice.antiperovskite.md_frame_gaps import LABELS_CARRIED
from softlattice.antiperovskite.workflows.models import gap_selection
from softlattice.electronic.gaps import GapCache
from softlattice.infra.keys import structure_hash
from softlattice.infra.paths import DATA_DIR
from softlattice.models.splits import is_test

LABEL_SETS = DATA_DIR / "cap_models" / "label_sets"
"""Committed label sets, one ``<name>.csv.gz`` each."""

HELD_OUT_SALT = "gaps"
"""Salt of the extended selection's held-out split (independent of chapter 06's MLIP split)."""

COLUMNS = ("source", "hash", "stage", "level", "basis", "gap_eV", "held_out", "br_fraction", "origin",
           "temperature_K")
"""Columns of a label set: ``source`` names the structure list a row belongs to ('extended' or
'md'), ``hash`` the structure in it; the rest as in chapter 06's gaps table."""


def extended_gap_table(structures: Sequence[Atoms], gap_settings: dict, test_percent: float, known: set[str],
                       offset: int, folder: str | Path) -> pd.DataFrame:
    """Rows in the layout of chapter 06's gaps table for the structures :func:`gap_selection` picks
    from ``structures`` whose gap at their stage's level is in the gap cache under ``folder``.

    Structures whose hash is in ``known`` (labelled elsewhere, at either level) are left out, so
    no structure is labelled twice. ``held_out`` is decided by the structure's hash
    (:func:`softlattice.models.splits.is_test` with salt :data:`HELD_OUT_SALT`), not by its place in
    the selection: the labels arrive in shares, so chapter 06's rule (the last ``test_percent`` of
    the selection) would hold out nothing until the last share ends, and a structure's side never
    changes as labels arrive. ``index`` is ``offset`` plus the position in ``structures``.
    """
    rows = []
    for stage, chosen in gap_selection(structures, gap_settings).items():
        level, basis = gap_settings[stage], gap_settings[f"{stage}_basis"]
        cache = GapCache(level, folder, basis=basis)
        for index in chosen:
            atoms = structures[index]
            if structure_hash(atoms) in known:
                continue
            found = cache.get(atoms)
            if found is None:
                continue
            rows.append(dict(index=offset + index, stage=stage, level=level, basis=basis, gap_eV=found.gap,
                             held_out=is_test(atoms, test_percent, HELD_OUT_SALT),
                             br_fraction=atoms.info["br_fraction"], origin=atoms.info["origin"],
                             temperature_K=atoms.info.get("temperature", float("nan")), excluded=False))
    return pd.DataFrame(rows, columns=["index", "stage", "level", "basis", "gap_eV", "held_out", "br_fraction",
                                       "origin", "temperature_K", "excluded"])


def as_label_set(gaps: pd.DataFrame, structures: Sequence[Atoms], source: str) -> pd.DataFrame:
    """``gaps`` (rows whose ``index`` points into ``structures``) as label-set rows of ``source``."""
    hashes = [structure_hash(structures[int(i)]) for i in gaps["index"]]
    return gaps.assign(source=source, hash=hashes).loc[:, list(COLUMNS)].reset_index(drop=True)


def label_set_path(name: str, folder: str | Path = LABEL_SETS) -> Path:
    """Where label set ``name`` is kept."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name or ""):
        raise ValueError(f"label set name {name!r} is not allowed: letters, digits, '-' and '_', starting with a "
                         "letter or digit")
    return Path(folder) / f"{name}.csv.gz"


def freeze_label_set(name: str, table: pd.DataFrame, folder: str | Path = LABEL_SETS) -> Path:
    """Write ``table`` (:data:`COLUMNS`) as label set ``name``; rewriting the same labels is a no-op,
    other labels under an existing name are refused (a frozen set never changes)."""
    path = label_set_path(name, folder)
    table = table.loc[:, list(COLUMNS)].sort_values(["source", "stage", "hash"]).reset_index(drop=True)
    if table["hash"].duplicated().any():
        raise ValueError(f"label set {name!r} labels a structure twice: {table.hash[table.hash.duplicated()].iloc[0]}")
    text = table.to_csv(index=False, float_format="%.6g")
    if path.exists():
        with gzip.open(path, "rt") as stored:
            if stored.read() != text:
                raise FileExistsError(f"label set {name!r} exists ({path}) with other labels; a frozen set never "
                                      "changes: freeze the new labels under a new name")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as packed:
        packed.write(text.encode())
    return path


def load_label_set(name: str, folder: str | Path = LABEL_SETS) -> pd.DataFrame:
    """Label set ``name`` (:data:`COLUMNS`)."""
    path = label_set_path(name, folder)
    if not path.is_file():
        known = sorted(p.name.removesuffix(".csv.gz") for p in Path(folder).glob("*.csv.gz"))
        raise FileNotFoundError(f"label set {name!r} is missing ({path}); committed sets: {known or 'none'}. "
                                "Freeze one with `python -m softlattice.antiperovskite.workflows.gap_models "
                                "--freeze-labels NAME`")
    return pd.read_csv(path, dtype={"hash": str})


def attach(table: pd.DataFrame, sources: Mapping[str, Sequence[Atoms]], offsets: Mapping[str, int]) -> pd.DataFrame:
    """Label-set rows onto regenerated structures: chapter 06's gaps-table layout (and ``source``)
    with ``index`` = ``offsets[source]`` plus the position of the row's hash in ``sources[source]``.

    Raises
    ------
    ValueError
        A source the set names is not given, or a hash is not among its structures (the structures
        were regenerated from other settings or code).
    """
    missing = sorted(set(table.source) - set(sources))
    if missing:
        raise ValueError(f"the label set has rows of source(s) {missing}; given: {sorted(sources)}")
    positions = {source: {structure_hash(a): k for k, a in enumerate(structures)}
                 for source, structures in sources.items()}
    indices = []
    for row in table.itertuples():
        position = positions[row.source].get(row.hash)
        if position is None:
            raise ValueError(f"structure {row.hash} of the label set's {row.source!r} rows is not among the "
                             f"{len(sources[row.source])} regenerated structures: were the settings or the "
                             "structure generator changed, or were they regenerated on another CPU type (the "
                             "parents' CHGNet phonons, and so the cells, differ in the last digits between CPU "
                             "types)?")
        indices.append(offsets[row.source] + position)
    return table.assign(index=indices, excluded=False).loc[:, ["index", "stage", "level", "basis", "gap_eV", "held_out",
                                                               "br_fraction", "origin", "temperature_K", "excluded",
                                                               "source"]]


def label_costs(folder: str | Path = LABELS_CARRIED) -> pd.DataFrame:
    """What the carried gap labels cost, from the wall time each record keeps: per cache
    (``gap-<level>-basis<basis>``) the number of gaps, the median and range of seconds per gap,
    the total in core-hours (one single-threaded process per gap) and how many needed a retry."""
    rows = []
    for path in sorted(Path(folder).glob("gap-*.jsonl.gz")):
        with gzip.open(path, "rt") as lines:
            records = [json.loads(line) for line in lines if line.strip()]
        seconds = np.array([r["seconds"] for r in records], dtype=float)
        if not records:
            continue
        rows.append(dict(cache=path.name.removesuffix(".jsonl.gz"), gaps=len(records),
                         median_s=float(np.median(seconds)), min_s=float(seconds.min()), max_s=float(seconds.max()),
                         core_hours=float(seconds.sum() / 3600), retried=sum(r.get("attempts", 1) > 1 for r in records)))
    return pd.DataFrame(rows, columns=["cache", "gaps", "median_s", "min_s", "max_s", "core_hours", "retried"])
