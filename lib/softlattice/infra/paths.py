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


def input_path(path: str | Path) -> Path:
    """An input file named by a user: absolute as given; relative to the working directory if it
    exists there, else to the repository root (chapters run in ``notebooks/``, so a path such as
    ``data/models/NAME/nep.txt`` typed from the repository root still works). A file found in
    neither place is a FileNotFoundError naming both."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"input file {str(path)!r} does not exist")
        return path
    from_root = REPO_ROOT / path
    if from_root.exists():
        return from_root
    raise FileNotFoundError(f"input file {str(path)!r} exists neither in the working directory "
                            f"({Path.cwd()}) nor under the repository root ({REPO_ROOT})")


def read_frames(path: str | Path) -> list:
    """Every frame of an extxyz file (plain or .gz); a damaged file (a frame cut in the middle) is
    a ValueError naming it and how many frames could be read before the damage."""
    from ase.io import iread

    frames = []
    try:
        for frame in iread(str(path), index=":"):
            frames.append(frame)
    except FileNotFoundError:
        raise
    except Exception as error:  # ase raises XYZError, EOFError, ValueError or IndexError on a cut frame
        raise ValueError(f"{str(path)!r} is damaged after frame {len(frames)} ({type(error).__name__}: {error}); "
                         "restore or recompute it") from None
    return frames
