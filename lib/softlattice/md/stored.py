"""MD runs stored by key: a finished run's observations are loaded, a blown-up run's message is
kept and the run not retried, and a run in progress resumes from its checkpoint (the caller's
``run_md`` with ``checkpoint_dir`` inside the run's folder).

Layout of a run's folder: ``observations.csv.gz`` (written last, atomically: its presence means
the run finished), ``task.json`` (what was run, with anything the caller records) or
``failed.json`` (the task and the blow-up message).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

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
