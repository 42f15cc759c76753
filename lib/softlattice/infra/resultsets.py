"""Result sets: a committed folder if its provenance matches, else the cache, else computed now.

A result set is a folder of tables and files with a ``provenance.json`` (see
:mod:`softlattice.infra.provenance`) recording the parameters and input hashes it was computed from.
Every chapter obtains its results through :func:`obtain`:

1. a committed result set under ``data/`` whose provenance matches the requested parameters and
   inputs is used as it is (the book's full profile, in seconds);
2. else a finished result set in the cache (``runs/results/<name>/<key>``) with the same key;
3. else ``compute(folder)`` fills a work folder (``<key>.partial``, kept across interruptions so a
   computation that resumes from its own files goes on), the provenance is written, and the folder
   is renamed into place at once: a cached result set is always complete.

Processes that obtain the same result set at once (chapters executed side by side, ``make test``'s
workers) take turns on a lock file beside it (``<key>.lock``): the first computes, the others then find it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pandas as pd

from softlattice.infra.keys import json_key
from softlattice.infra.paths import REPO_ROOT, RUNS_DIR
from softlattice.infra.provenance import matches, write_provenance

ORIGINS = ("committed", "cached", "computed")
RESULTS_DIR = RUNS_DIR / "results"


def display_path(path: str | Path) -> str:
    """``path`` relative to the repository when it lies inside it (no machine paths in the book),
    else its last two components.

    ``runs/`` may be a symbolic link to a cache elsewhere: a path under its target is shown as
    ``runs/...``, as it is reached from the repository. A file beside the checkout (the third-party
    models in ``../shared/``) is shown as ``../...``."""
    given = Path(os.path.abspath(path))
    resolved = Path(path).resolve()
    for candidate, root, prefix in ((given, REPO_ROOT.absolute(), Path()),
                                    (resolved, REPO_ROOT.resolve(), Path()),
                                    (resolved, RUNS_DIR.resolve(), Path(RUNS_DIR.name)),
                                    (given, REPO_ROOT.absolute().parent, Path("..")),
                                    (resolved, REPO_ROOT.resolve().parent, Path(".."))):
        if root == Path(root.anchor):  # a checkout at the top level has no "beside" to show
            continue
        try:
            return str(prefix / candidate.relative_to(root))
        except ValueError:
            continue
    return str(Path(*resolved.parts[-2:]))


@dataclass(frozen=True)
class ResultSet:
    """A folder of results and where it came from.

    Attributes
    ----------
    folder
        The folder holding the tables and ``provenance.json``.
    origin
        'committed' (a matching set under ``data/``), 'cached' (a finished earlier computation) or
        'computed' (computed in this call).
    note
        Anything the reader must know about the set, appended to :attr:`source`.
    """

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"unknown result-set origin {self.origin!r}; allowed: {', '.join(ORIGINS)}")

    folder: Path
    origin: str
    note: str = ""

    def path(self, name: str) -> Path:
        """The file ``name`` of the set (it need not exist)."""
        return self.folder / name

    def table(self, name: str) -> pd.DataFrame:
        """Table ``name`` (``name.csv`` or ``name.csv.gz``); a missing table is a FileNotFoundError
        naming the set."""
        for candidate in (self.folder / f"{name}.csv", self.folder / f"{name}.csv.gz"):
            if candidate.exists():
                return pd.read_csv(candidate)
        raise FileNotFoundError(f"result set {display_path(self.folder)} has no table {name!r} "
                                f"({name}.csv or {name}.csv.gz)")

    def tables(self, names: Sequence[str]) -> dict[str, pd.DataFrame]:
        """The tables ``names`` by name."""
        return {name: self.table(name) for name in names}

    def json(self, name: str) -> Any:
        """The JSON file ``name`` of the set, parsed."""
        return json.loads((self.folder / name).read_text())

    def copy_to(self, target: str | Path) -> Path:
        """Copy the set (files and provenance) into ``target`` (e.g. ``data/...`` to commit it)."""
        target = Path(target)
        if target.resolve() != self.folder.resolve():
            shutil.copytree(self.folder, target, dirs_exist_ok=True)
        return target

    @property
    def source(self) -> str:
        """A sentence for the book saying where the results came from (no absolute paths)."""
        where = display_path(self.folder)
        if self.note:
            return f"{self.origin} result set {where} ({self.note})"
        return {"committed": f"committed result set {where} (parameters and inputs match its provenance)",
                "cached": f"cached result set {where} (computed earlier with the same parameters and inputs)",
                "computed": f"computed now, stored in {where}"}[self.origin]


def result_key(parameters: dict[str, Any], inputs: dict[str, Any]) -> str:
    """Key (12 hex digits) of a parameter set and its input hashes."""
    return json_key(json.loads(json.dumps([parameters, inputs], default=str)), digits=12)


def _find_result(name: str, parameters: dict[str, Any], inputs: dict[str, Any],
                 committed: str | Path | Sequence[str | Path] | None, results_dir: str | Path) -> ResultSet | None:
    """The committed or cached result set of ``parameters`` and ``inputs``, or None."""
    if not name or "/" in name:
        raise ValueError(f"result-set name {name!r} must be non-empty and contain no '/'")
    candidates = [] if committed is None else [committed] if isinstance(committed, (str, Path)) else list(committed)
    for folder in candidates:
        if matches(folder, parameters, inputs):
            return ResultSet(Path(folder), "committed")
    folder = Path(results_dir) / name / result_key(parameters, inputs)
    if matches(folder, parameters, inputs):
        return ResultSet(folder, "cached")
    return None


def obtain(name: str, parameters: dict[str, Any], inputs: dict[str, Any], compute: Callable[[Path], None],
           committed: str | Path | Sequence[str | Path] | None = None, results_dir: str | Path = RESULTS_DIR,
           command: str = "", may_compute: bool = True) -> ResultSet | None:
    """The result set of ``parameters`` and ``inputs``: committed, cached or computed now.

    Parameters
    ----------
    name
        Name of the kind of result (a folder under ``results_dir``), e.g. 'damping'.
    parameters, inputs
        What the results depend on (JSON-serialisable; inputs are content hashes of files).
    compute
        Writes the result files into the folder it is given (resuming from what it finds there, if
        it can); the provenance record is written afterwards unless ``compute`` wrote a matching one
        (with extra fields) itself.
    committed
        Committed folder(s) to try first, in order.
    results_dir
        Root of the cache.
    command
        Command recorded in the provenance of a computed set.
    may_compute
        False: return None instead of computing (a page that shows a computation of hours only
        once it has been run and committed).
    """
    found = _find_result(name, parameters, inputs, committed, results_dir)
    if found is not None or not may_compute:
        return found
    folder = Path(results_dir) / name / result_key(parameters, inputs)
    with _held(folder.with_name(folder.name + ".lock")):
        found = _find_result(name, parameters, inputs, committed, results_dir)  # computed while we waited
        if found is not None:
            return found
        work = folder.with_name(folder.name + ".partial")
        work.mkdir(parents=True, exist_ok=True)
        compute(work)
        if not matches(work, parameters, inputs):  # a computation may record more itself; keep that
            write_provenance(work, parameters, inputs, command=command)
        if folder.exists():  # an incomplete set from an older layout: the new one replaces it
            shutil.rmtree(folder)
        os.replace(work, folder)
    return ResultSet(folder, "computed")


@contextlib.contextmanager
def _held(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` (waiting for another process that holds it)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
