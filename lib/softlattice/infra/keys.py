"""Content keys: short hashes that identify structures, files and parameter sets.

Every cache and result set of the compendium is keyed by these, so their digests must never
change: a changed digest orphans every cached label, run and committed result set keyed by it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms


def structure_hash(atoms: Atoms) -> str:
    """Hash (16 hex digits) of species, positions (1e-6 Å), cell and periodicity."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(atoms.numbers, dtype=np.int64).tobytes())
    digest.update(np.round(atoms.positions, 6).tobytes())
    digest.update(np.round(atoms.cell.array, 6).tobytes())
    digest.update(np.asarray(atoms.pbc, dtype=np.int8).tobytes())
    return digest.hexdigest()[:16]


def file_hash(path: str | Path, digits: int = 16) -> str:
    """SHA-256 (first ``digits`` hex digits) of a file, e.g. a model."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:digits]


def json_key(payload: Any, digits: int = 16) -> str:
    """SHA-256 (first ``digits`` hex digits) of ``payload`` as JSON with sorted keys (objects JSON
    cannot hold, such as paths, by their ``str``)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:digits]
