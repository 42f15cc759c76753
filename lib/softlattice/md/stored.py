"""MD runs stored by key: a finished run's observations are loaded, a blown-up run's message is
kept and the run not retried, and a run in progress resumes from its checkpoint (the caller's
``run_md`` with ``checkpoint_dir`` inside the run's folder).

Layout of a run's folder: ``observations.csv.gz`` (written last, atomically: its presence means
the run finished), ``task.json`` (what was run, with anything the caller records) or
``failed.json`` (the task and the blow-up message).

A store lives in ``runs/`` (not committed) and is lost with the machine; a grid that takes longer
than one session carries its finished runs in its committed result set
(:func:`export_finished`) and restores them into a new store before it goes on
(:func:`import_finished`), so that no finished run is computed twice. The carried observations
hold :data:`CARRIED_DIGITS` significant digits, and the store's copy is replaced by the carried
one, so that an analysis gives the same numbers on the machine that ran the MD and on any
machine that restored its runs.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

import numpy as np
import pandas as pd

from softlattice.md.engine import MDBlowUp


def stored_run(folder: str | Path, run: Callable[[], tuple[pd.DataFrame, dict[str, Any]]],
               task: dict[str, Any]) -> pd.DataFrame | None:
    """The observations of the run stored in ``folder``, computing them with ``run`` (which
    returns the observations and a record for ``task.json``) when they are not there yet; None
    when the run blew up (now or before: a blow-up is deterministic, so it is recorded in
    ``failed.json`` and not retried; delete the folder to try again, e.g. with another model)."""
    folder = Path(folder)
    result = folder / "observations.csv.gz"
    if result.exists():
        return pd.read_csv(result)
    if (folder / "failed.json").exists():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    try:
        observations, record = run()
    except MDBlowUp as error:
        (folder / "failed.json").write_text(json.dumps(dict(task=task, message=str(error)), indent=1))
        return None
    temporary = folder / "observations.tmp.csv.gz"
    observations.to_csv(temporary, index=False)
    (folder / "task.json").write_text(json.dumps(dict(task=task, **record), indent=1))
    os.replace(temporary, result)
    return observations


def stored_failure(folder: str | Path) -> str | None:
    """The blow-up message of the run stored in ``folder``, or None if it did not blow up."""
    path = Path(folder) / "failed.json"
    return json.loads(path.read_text())["message"] if path.exists() else None


FINAL_STATE = "final_state.npz"
"""File of a finished run's folder with its last positions and cell (Å), from its checkpoint
(:func:`keep_final_state`): a run continued from where another ended (e.g. frames grown from a
coexistence run) needs it, and the checkpoint itself, with momenta and every observation, is too large
to carry."""

CARRIED = {"observations.csv.gz": ".csv.gz", "task.json": ".json", "failed.json": ".failed.json",
           "checkpoint/segment_ends.extxyz": ".segment_ends.extxyz.gz", FINAL_STATE: ".final_state.npz"}
"""Files of a finished run's folder and the suffixes their copies carry (after the run's key); a
suffix ending in '.gz' where the file does not is a gzip copy."""


def keep_final_state(folder: str | Path) -> bool:
    """Write :data:`FINAL_STATE` (positions and cell, Å, float64) of the finished run in ``folder``
    from its checkpoint, unless it is there already; True when the run has a final state."""
    folder = Path(folder)
    target, checkpoint = folder / FINAL_STATE, folder / "checkpoint" / "state.npz"
    if target.exists():
        return True
    if not (folder / "observations.csv.gz").exists() or not checkpoint.exists():
        return False
    with np.load(checkpoint) as state:
        positions, cell = state["positions"], state["cell"]
    temporary = folder / f"final_state.{os.getpid()}.tmp.npz"
    np.savez_compressed(temporary, positions=positions, cell=cell)
    os.replace(temporary, target)
    return True


def read_final_state(folder: str | Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions (N x 3) and cell (3 x 3) of the finished run in ``folder`` (Å), or None when it
    has none (unfinished, or restored from a carry made before final states were carried)."""
    if not keep_final_state(folder):
        return None
    with np.load(Path(folder) / FINAL_STATE) as state:
        return state["positions"], state["cell"]


def _packed(raw: BinaryIO) -> gzip.GzipFile:
    """A gzip writer into the open file ``raw`` with neither timestamp nor file name in its header,
    so that the same content always gives the same bytes, whatever temporary name it is written to."""
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``, gzipping or gunzipping where exactly one name ends in '.gz'
    (gzip without a timestamp, so that the same file always gives the same bytes). The target is
    replaced atomically, since parts running at once may carry the same run."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    if target.suffix == ".gz" and source.suffix != ".gz":
        with open(source, "rb") as raw, open(temporary, "wb") as out, _packed(out) as packed:
            shutil.copyfileobj(raw, packed)
    elif source.suffix == ".gz" and target.suffix != ".gz":
        with gzip.open(source, "rb") as packed, open(temporary, "wb") as raw:
            shutil.copyfileobj(packed, raw)
    else:
        shutil.copyfile(source, temporary)
    os.replace(temporary, target)


CARRIED_DIGITS = 7
"""Significant digits of carried observations: 1e-7 relative (a 0.3 Å tilt to 3e-8 Å, an energy
of -4.3 eV/atom to 1e-6 eV/atom), about half the size of full precision."""


def _carried_observations(source: Path, target: Path) -> None:
    """Write the observations ``source`` as :data:`CARRIED_DIGITS`-digit gzip CSV without a
    timestamp into ``target`` (the same table always gives the same bytes)."""
    table = pd.read_csv(source)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as out, _packed(out) as packed:
        packed.write(table.to_csv(index=False, float_format=f"%.{CARRIED_DIGITS}g").encode())
    os.replace(temporary, target)


def export_finished(store: str | Path, keys: Iterable[str], destination: str | Path) -> int:
    """Copy the runs ``keys`` of ``store`` that finished or blew up into ``destination`` as
    ``<key>.csv.gz`` (observations to :data:`CARRIED_DIGITS` digits, which then replace the store's
    copy) and ``<key>.json`` (or ``<key>.failed.json``), the segment-end structures where the run
    kept them and its final state where this store holds it (:data:`CARRIED`,
    :func:`keep_final_state`); unfinished runs are skipped. Returns the number of runs copied."""
    destination = Path(destination)
    copied = 0
    for key in keys:
        folder = Path(store) / key
        finished = (folder / "observations.csv.gz").exists() or (folder / "failed.json").exists()
        if not finished:
            continue
        keep_final_state(folder)
        destination.mkdir(parents=True, exist_ok=True)
        for name, suffix in CARRIED.items():
            if not (folder / name).exists():
                continue
            if name == "observations.csv.gz":
                carried = destination / f"{key}{suffix}"
                if not carried.exists():
                    _carried_observations(folder / name, carried)
                if (folder / name).read_bytes() != carried.read_bytes():
                    temporary = folder / f"observations.{os.getpid()}.tmp.csv.gz"  # parts may export at once
                    _copy(carried, temporary)
                    os.replace(temporary, folder / name)
            else:
                _copy(folder / name, destination / f"{key}{suffix}")
        copied += 1
    return copied


def import_finished(source: str | Path, store: str | Path) -> int:
    """Restore into ``store`` every run that ``source`` (written by :func:`export_finished`) holds
    and ``store`` has not finished, so that :func:`stored_run` loads it instead of running it; a
    partial checkpoint of the same run in the store is left alone (it is never read once the
    observations are there). Returns the number of runs restored."""
    source = Path(source)
    keys = sorted({path.name.split(".")[0] for pattern in ("*.csv.gz", "*.failed.json")
                   for path in (source.glob(pattern) if source.is_dir() else [])})
    restored = 0
    for key in keys:
        folder = Path(store) / key
        if (folder / "observations.csv.gz").exists() or (folder / "failed.json").exists():
            continue
        for name, suffix in CARRIED.items():
            if name != "observations.csv.gz" and (source / f"{key}{suffix}").exists():
                _copy(source / f"{key}{suffix}", folder / name)
        if (source / f"{key}.csv.gz").exists():  # last: its presence marks the run finished
            temporary = folder / f"observations.{os.getpid()}.tmp.csv.gz"  # two parts may restore at once
            _copy(source / f"{key}.csv.gz", temporary)
            os.replace(temporary, folder / "observations.csv.gz")
        restored += 1
    return restored
