"""Chapter 06's generated cells pinned as data, so that every machine labels and learns the same cells.

The displaced cells are built from the parents' CHGNet phonons, and CHGNet's forces differ in their
last digits between CPU types: on one machine the rms thermal amplitudes came out 3e-5 Å away from
those of the machine that labelled the cells. That moves no gap, but it changes every structure
hash (positions to 1e-6 Å), and the gap labels, the extended selection's order and its held-out
split are all keyed by hash. A pinned file holds the cells of one reference and dataset setting,
bit for bit (float64 in ``.npz``), and :func:`softlattice.antiperovskite.workflows.models.training_structures`
reads it instead of regenerating. Cells are pinned only from a machine whose regenerated cells carry
the hashes the committed labels name (:func:`pin_cells`), or after the labels of cells no machine
at hand builds are retired (:func:`retire_labels`): kept as a record, no longer used.

Units: Å.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Collection, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms

from softlattice.antiperovskite.dataset import CapDatasetSettings
from softlattice.infra.keys import json_key, structure_hash
from softlattice.infra.paths import DATA_DIR

PINNED_CELLS = DATA_DIR / "cap_models" / "pinned_cells"
"""Committed cells, one ``<key>.npz`` per reference and dataset setting (:func:`cells_key`)."""

RETIRED_LABELS = DATA_DIR / "cap_models" / "labels_retired"
"""Carried gaps of cells that were never pinned and that this code no longer builds (:func:`retire_labels`)."""


def cells_key(reference: str, dataset: CapDatasetSettings) -> str:
    """Key of the cells that ``dataset`` settings build from ``reference``'s phonons."""
    return json_key({"reference": reference, "dataset": asdict(dataset)})


def pinned_file(key: str, folder: str | Path = PINNED_CELLS) -> Path:
    """Where the cells of ``key`` are pinned."""
    return Path(folder) / f"{key}.npz"


def save_cells(structures: Sequence[Atoms], path: str | Path) -> Path:
    """Write ``structures`` (numbers, positions, cells, periodicity, ``info``) exactly, as float64."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, counts=np.array([len(a) for a in structures]),
                        numbers=np.concatenate([a.numbers for a in structures]),
                        positions=np.concatenate([a.positions for a in structures]),
                        cells=np.array([a.cell.array for a in structures]),
                        pbc=np.array([a.pbc for a in structures]),
                        info=np.array(json.dumps([a.info for a in structures])))
    return path


def load_cells(path: str | Path) -> list[Atoms]:
    """The cells :func:`save_cells` wrote, bit for bit."""
    with np.load(path) as data:
        starts = np.concatenate([[0], np.cumsum(data["counts"])])
        infos = json.loads(str(data["info"]))
        return [Atoms(numbers=data["numbers"][a:b], positions=data["positions"][a:b], cell=cell, pbc=pbc, info=info)
                for a, b, cell, pbc, info in zip(starts[:-1], starts[1:], data["cells"], data["pbc"], infos)]


def hashes_named_by_labels(carried: str | Path, frozen: str | Path | None = None,
                           leave_out: Collection[str] = ()) -> set[str]:
    """Hashes of the cells that labels name: every record of the carried gap caches
    (``*.jsonl.gz`` in ``carried``) and, with ``frozen``, every 'extended' row of the label sets
    (``*.csv.gz`` there), less ``leave_out`` (e.g. the MD frames' hashes)."""
    hashes = {json.loads(line)["hash"] for path in Path(carried).glob("*.jsonl.gz") for line in gzip.open(path, "rt")}
    for path in Path(frozen).glob("*.csv.gz") if frozen is not None else ():
        table = pd.read_csv(path, dtype={"hash": str})
        hashes |= set(table.loc[table.source == "extended", "hash"])
    return hashes - set(leave_out)


def pinned_hashes(folder: str | Path = PINNED_CELLS) -> set[str]:
    """Structure hashes of every cell pinned in ``folder`` (the same on every machine)."""
    return {structure_hash(atoms) for path in sorted(Path(folder).glob("*.npz")) for atoms in load_cells(path)}


def pin_cells(structures: Sequence[Atoms], key: str, labelled: Collection[str],
              folder: str | Path = PINNED_CELLS) -> Path:
    """Pin ``structures`` under ``key`` if they are the cells the labels name.

    Parameters
    ----------
    structures
        The cells as this machine regenerated them.
    labelled
        Hashes of cells of this list that committed labels name; every one must be among
        ``structures``.

    Raises
    ------
    ValueError
        If some labelled hash is not among the regenerated cells (this machine's CHGNet phonons
        differ from those of the machine that labelled them), or another file is pinned under ``key``.
    """
    hashes = {structure_hash(a) for a in structures}
    missing = set(labelled) - hashes
    if missing:
        raise ValueError(f"{len(missing)} of {len(set(labelled))} labelled cells (e.g. {min(missing)}) are not among "
                         f"the {len(structures)} cells regenerated here: this machine's CHGNet phonons differ from "
                         "those of the machine that labelled them; pin on a machine where every one is found")
    path = pinned_file(key, folder)
    if path.exists() and [structure_hash(a) for a in load_cells(path)] != [structure_hash(a) for a in structures]:
        raise ValueError(f"{path} already pins other cells under key {key}; pinned cells never change")
    return save_cells(structures, path)


def retire_labels(carried: str | Path, keep: Collection[str], retired: str | Path,
                  caches: Sequence[str | Path] = (), reason: str = "") -> dict[str, int]:
    """Move the carried gaps of every cell not in ``keep`` out of ``carried`` into ``retired``.

    The records keep their file (``<cache>.jsonl.gz``) and are merged with any retired before;
    ``retired/provenance.json`` lists the moves with ``reason``. The same records are deleted from
    the runtime ``caches`` (``<folder>/<cache>/<hash>.json``), which would otherwise carry them back.

    Returns
    -------
    How many records each carried file gave up (files that gave up none are left out).
    """
    carried, retired, keep = Path(carried), Path(retired), set(keep)
    moved = {}
    for path in sorted(carried.glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as lines:
            rows = [json.loads(line) for line in lines if line.strip()]
        kept = [row for row in rows if row["hash"] in keep]
        gone = [row for row in rows if row["hash"] not in keep]
        if not gone:
            continue
        target = retired / path.name
        before = []
        if target.exists():
            with gzip.open(target, "rt") as lines:
                before = [json.loads(line) for line in lines if line.strip()]
        _write_records(target, {row["hash"]: row for row in [*before, *gone]})
        _write_records(path, {row["hash"]: row for row in kept})
        for folder in caches:
            for row in gone:
                (Path(folder) / path.name.removesuffix(".jsonl.gz") / f"{row['hash']}.json").unlink(missing_ok=True)
        moved[path.name] = len(gone)
    if moved:
        log = retired / "provenance.json"
        history = json.loads(log.read_text()) if log.exists() else []
        log.write_text(json.dumps([*history, dict(reason=reason, moved=moved)], indent=1) + "\n")
    return moved


def _write_records(path: Path, records: dict[str, dict]) -> None:
    """``records`` (by hash) as sorted JSON lines, gzip without a timestamp (as the caches carry them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as packed:
        packed.write("".join(json.dumps(records[key]) + "\n" for key in sorted(records)).encode())
