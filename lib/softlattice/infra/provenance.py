"""Provenance records for curated results under ``data/``.

A result set is a folder with its files and a ``provenance.json``: the parameters and input hashes
that produced it, the versions of the packages that matter, the git commit and the command that
regenerates it. A chapter's full profile loads a result set only when :func:`matches` says the
parameters and inputs it asks for are those recorded; otherwise it recomputes.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from softlattice.infra.paths import REPO_ROOT

TRACKED_PACKAGES = ("softlattice", "ase", "numpy", "calorine", "nep-adapters", "dynasor", "phonopy",
                    "spglib", "torch")
PROVENANCE_FILE = "provenance.json"


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the numbers."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["python"] = platform.python_version()
    return versions


def git_commit() -> str:
    """Commit of the checkout ('+dirty' with uncommitted changes), or 'unknown'."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_provenance(folder: str | Path, parameters: dict[str, Any], inputs: dict[str, str],
                     command: str, **extra: Any) -> Path:
    """Write ``provenance.json`` into ``folder``.

    Parameters
    ----------
    folder
        Result-set folder.
    parameters
        Everything that sets the numbers (JSON-serialisable).
    inputs
        Input name -> content hash (e.g. the model file's SHA-256).
    command
        Shell command that regenerates the result set.
    extra
        Anything else worth recording (timings, machine).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = dict(parameters=parameters, inputs=inputs, command=command, git_commit=git_commit(),
                  created_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  machine=f"{platform.machine()} {platform.system()}", versions=package_versions(),
                  **extra)
    path = folder / PROVENANCE_FILE
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return path


def read_provenance(folder: str | Path) -> dict[str, Any] | None:
    """The provenance record of a result set, or None if there is none."""
    path = Path(folder) / PROVENANCE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def matches(folder: str | Path, parameters: dict[str, Any], inputs: dict[str, str]) -> bool:
    """True when ``folder`` holds a result set made with exactly these parameters and inputs."""
    record = read_provenance(folder)
    if record is None:
        return False
    normalise = lambda value: json.loads(json.dumps(value, default=str))  # noqa: E731
    return normalise(record["parameters"]) == normalise(parameters) and record["inputs"] == inputs
