"""Band-gap models that read a structure, stored and loaded one way: what chapter 07 averages over
MD frames, whichever model chapter 06's comparison chose.

Units: Å, eV.

A stored model is a folder file ``gap-model.json`` naming the model and its weights file:
the GNN of :mod:`softlattice.models.gap_gnn` (``gap-gnn.pt``), or ridge regression on pair-distance
histograms (:mod:`softlattice.models.gap_baselines`, ``gap-ridge.npz``), possibly recalibrated by
an offset and a slope (ridge fitted on the cheap gaps, mapped onto the accurate ones). A folder
without ``gap-model.json`` holds a GNN (``gap-gnn.pt``, every result set written before the choice).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from ase import Atoms

from softlattice.models import gap_gnn
from softlattice.models.gap_baselines import Ridge, pair_histogram

DESCRIPTION_FILE = "gap-model.json"
GNN_FILE, RIDGE_FILE = "gap-gnn.pt", "gap-ridge.npz"


class StructureGapModel(Protocol):
    """Anything that gives gaps (eV) of structures."""

    name: str

    def predict(self, structures: Sequence[Atoms]) -> np.ndarray: ...


@dataclass
class GNNGaps:
    """A stored GNN (:func:`softlattice.models.gap_gnn.load_model`) as a :class:`StructureGapModel`."""

    model: object
    scaler: object
    name: str = "gnn"

    def predict(self, structures: Sequence[Atoms]) -> np.ndarray:
        return gap_gnn.predict_structures(self.model, self.scaler, structures)


@dataclass
class HistogramRidgeGaps:
    """Ridge on :func:`pair_histogram` descriptors, then ``offset + slope * ridge`` (eV).

    Attributes
    ----------
    ridge
        The fitted ridge (its features: the histograms below).
    species, cutoff, start, spacing, width
        The histogram's arguments (Å), exactly as in fitting.
    offset, slope
        Recalibration of the ridge's output (eV, dimensionless): 0 and 1 for a ridge fitted on
        the level it predicts.
    name
        The comparison's name of the model ('ridge_histogram' or 'ridge_two_stage').
    """

    ridge: Ridge
    species: tuple[str, ...]
    cutoff: float
    start: float
    spacing: float
    width: float
    offset: float = 0.0
    slope: float = 1.0
    name: str = "ridge_histogram"

    def features(self, structures: Sequence[Atoms]) -> np.ndarray:
        return np.array([pair_histogram(a, self.species, self.cutoff, start=self.start, spacing=self.spacing,
                                        width=self.width) for a in structures])

    def predict(self, structures: Sequence[Atoms]) -> np.ndarray:
        return self.offset + self.slope * self.ridge.predict(self.features(structures))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        np.savez(path, mean=self.ridge.mean, coefficients=self.ridge.coefficients,
                 numbers=np.array([self.ridge.scale, self.ridge.intercept, self.ridge.alpha, self.ridge.loo_rmse,
                                   self.cutoff, self.start, self.spacing, self.width, self.offset, self.slope]),
                 species=np.array(self.species), name=np.array(self.name))
        return path

    @classmethod
    def load(cls, path: str | Path) -> HistogramRidgeGaps:
        with np.load(Path(path)) as stored:
            scale, intercept, alpha, loo, cutoff, start, spacing, width, offset, slope = stored["numbers"].tolist()
            ridge = Ridge(stored["mean"], scale, intercept, stored["coefficients"], alpha, loo)
            return cls(ridge, tuple(str(s) for s in stored["species"]), cutoff, start, spacing, width, offset, slope,
                       str(stored["name"]))


def save_gap_model(folder: str | Path, model: StructureGapModel | str, **details) -> Path:
    """Record in ``folder`` which model predicts gaps: a :class:`HistogramRidgeGaps` (written to
    :data:`RIDGE_FILE`) or the name 'gnn' (its weights already in :data:`GNN_FILE`); ``details``
    (JSON-serialisable: the rule that chose it, its errors) are stored beside."""
    folder = Path(folder)
    if isinstance(model, str):
        if model != "gnn":
            raise ValueError(f"a model given by name must be 'gnn' (stored in {GNN_FILE}); got {model!r}")
        if not (folder / GNN_FILE).exists():
            raise FileNotFoundError(f"{folder / GNN_FILE} is missing: store the GNN before naming it")
        name, file = "gnn", GNN_FILE
    else:
        name, file = model.name, model.save(folder / RIDGE_FILE).name
    path = folder / DESCRIPTION_FILE
    path.write_text(json.dumps(dict(model=name, file=file, **details), indent=1))
    return path


def gap_model_name(folder: str | Path) -> str:
    """The name of the model stored in ``folder`` ('gnn' without :data:`DESCRIPTION_FILE`)."""
    path = Path(folder) / DESCRIPTION_FILE
    return json.loads(path.read_text())["model"] if path.exists() else "gnn"


def gap_model_file(folder: str | Path) -> Path:
    """The weights file of the model stored in ``folder``."""
    path = Path(folder) / DESCRIPTION_FILE
    return Path(folder) / (json.loads(path.read_text())["file"] if path.exists() else GNN_FILE)


def load_gap_model(folder: str | Path) -> StructureGapModel:
    """The model stored in ``folder`` (:func:`save_gap_model`; a GNN in ``gap-gnn.pt`` without a
    description)."""
    file = gap_model_file(folder)
    if file.name == GNN_FILE:
        return GNNGaps(*gap_gnn.load_model(file))
    return HistogramRidgeGaps.load(file)
