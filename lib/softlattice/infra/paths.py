"""Where the compendium's files live.

The package is installed in editable mode from the repository (``pip install -e .``), so the
repository root is three levels above this module. ``SOFTLATTICE_ROOT`` overrides it, e.g. for a
non-editable install next to a checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(os.environ.get("SOFTLATTICE_ROOT", Path(__file__).resolve().parents[3]))
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
DATA_DIR = REPO_ROOT / "data"
RUNS_DIR = REPO_ROOT / "runs"
BUILD_DIR = REPO_ROOT / "_build"
