"""Band-gap models of Ag3SBr(x)I(1-x) compared on the same structures: the graph network of
:mod:`softlattice.models.gap_gnn` and the baselines of :mod:`softlattice.models.gap_baselines`.

Units: Å, eV, K.

A :class:`GapProblem` holds the labelled structures of chapter 06 (their graphs, pair-distance
histograms and the columns of the linear baseline) and the gaps of each level. Every model is
fitted on a list of structure indices and predicts another, so the baselines and the GNN are
always trained and scored on exactly the same structures.

The linear baseline is linear in the Br fraction x and the temperature T of the thermal
displacement (Eq. 1 of the seed); an equilibrium cell has T = 0 K, and a rattled cell (Gaussian
displacements, no temperature) gets T = 0 K and its own offset (a third column, 1 for rattled).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from ase import Atoms
from torch_geometric.data import Data

from softlattice.models import gap_baselines, gap_gnn
from softlattice.models.gap_gnn import GapGNN, GapGNNConfig, Standardiser, TrainingSettings
from softlattice.models.gap_predictors import HistogramRidgeGaps
from softlattice.models.splits import k_folds

SPECIES = ("Ag", "S", "Br", "I")
HISTOGRAM_START = 1.5
"""Å: the first Gaussian centre of the distance histograms (no Ag3SBr(x)I(1-x) pair is shorter)."""
LEVELS = ("cheap", "accurate")
Predictor = Callable[[Sequence[int]], np.ndarray]
"""A fitted model: structure indices -> gaps (eV)."""


@dataclass
class GapProblem:
    """Labelled structures and what each model reads of them.

    Attributes
    ----------
    gaps
        One row per labelled structure: ``index`` (into the structure list), ``stage`` ('cheap' or
        'accurate'), ``gap_eV``, ``held_out``, ``br_fraction``, ``origin``, ``temperature_K``.
    graphs
        Per structure index, its :func:`softlattice.models.gap_gnn.structure_graph` with ``y`` = its gap.
    histograms
        Per structure index, its :func:`softlattice.models.gap_baselines.pair_histogram`.
    linear
        Per structure index, the linear baseline's columns (x, T in K, rattled 0/1).
    histogram
        The :func:`~softlattice.models.gap_baselines.pair_histogram` arguments of ``histograms``
        (``cutoff``, ``start``, ``spacing``, ``width``, Å).
    """

    gaps: pd.DataFrame
    graphs: dict[int, Data]
    histograms: dict[int, np.ndarray]
    linear: dict[int, np.ndarray]
    histogram: dict = field(default_factory=dict)

    @classmethod
    def build(cls, structures: Sequence[Atoms], gaps: pd.DataFrame, cutoff: float = gap_gnn.CUTOFF,
              spacing: float = 0.1, width: float = 0.1) -> GapProblem:
        """From the structure list and a gaps table (rows with a missing gap are dropped); the
        histograms reach ``cutoff`` (Å) with Gaussians of ``width`` every ``spacing`` (Å)."""
        gaps = gaps.dropna(subset=["gap_eV"]).reset_index(drop=True)
        if gaps["index"].duplicated().any():
            raise ValueError("a structure is labelled twice; the two levels must label distinct structures")
        graphs, histograms, linear = {}, {}, {}
        histogram = dict(cutoff=cutoff, start=HISTOGRAM_START, spacing=spacing, width=width)
        for row in gaps.itertuples():
            atoms = structures[int(row.index)]
            graphs[int(row.index)] = gap_gnn.structure_graph(atoms, cutoff, gap=row.gap_eV)
            histograms[int(row.index)] = gap_baselines.pair_histogram(atoms, SPECIES, **histogram)
            temperature = 0.0 if pd.isna(row.temperature_K) else float(row.temperature_K)
            linear[int(row.index)] = np.array([row.br_fraction, temperature, float(row.origin == "rattled")])
        return cls(gaps, graphs, histograms, linear, histogram)

    def indices(self, level: str, held_out: bool) -> np.ndarray:
        """Structure indices of ``level`` on the given side of its held-out split (table order)."""
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}; allowed: {', '.join(LEVELS)}")
        part = self.gaps[(self.gaps.stage == level) & (self.gaps.held_out == held_out)]
        return part["index"].to_numpy(dtype=int)

    def truth(self, indices: Sequence[int]) -> np.ndarray:
        """Gaps (eV) of structures ``indices``."""
        return np.array([self.graphs[int(i)].y.item() for i in indices])

    def graph_list(self, indices: Sequence[int]) -> list[Data]:
        return [self.graphs[int(i)] for i in indices]

    def histogram_matrix(self, indices: Sequence[int]) -> np.ndarray:
        return np.array([self.histograms[int(i)] for i in indices])

    def linear_matrix(self, indices: Sequence[int]) -> np.ndarray:
        return np.array([self.linear[int(i)] for i in indices])


BASELINES = {"constant": "constant (mean gap of the training structures)",
             "linear_xT": "least squares, linear in x and T (+ an offset for rattled cells)",
             "ridge_histogram": "ridge regression on per-pair Gaussian-smeared distance histograms"}
"""The baselines every level gets, by name, with what they are."""


def fit_baselines(problem: GapProblem, train: Sequence[int]) -> dict[str, Predictor]:
    """The :data:`BASELINES` fitted on structures ``train`` (their gaps, of one level)."""
    y = problem.truth(train)
    constant = gap_baselines.Constant.fit(y)
    linear = gap_baselines.Linear.fit(problem.linear_matrix(train), y)
    ridge = gap_baselines.Ridge.fit(problem.histogram_matrix(train), y)
    return {"constant": lambda idx: constant.predict(np.zeros((len(idx), 1))),
            "linear_xT": lambda idx: linear.predict(problem.linear_matrix(idx)),
            "ridge_histogram": lambda idx: ridge.predict(problem.histogram_matrix(idx))}


def histogram_ridge(problem: GapProblem, train: Sequence[int],
                    recalibrate_on: Sequence[int] | None = None) -> HistogramRidgeGaps:
    """Ridge on the distance histograms of structures ``train`` (their gaps), as a model that
    reads structures; with ``recalibrate_on`` (structures of another level), its output mapped
    onto their gaps by an offset and a slope: ridge's analogue of two-stage training."""
    ridge = gap_baselines.Ridge.fit(problem.histogram_matrix(train), problem.truth(train))
    model = HistogramRidgeGaps(ridge, SPECIES, **problem.histogram)
    if recalibrate_on is None:
        return model
    line = gap_baselines.Linear.fit(ridge.predict(problem.histogram_matrix(recalibrate_on))[:, None],
                                    problem.truth(recalibrate_on))
    return HistogramRidgeGaps(ridge, SPECIES, **problem.histogram, offset=line.intercept,
                              slope=float(line.coefficients[0]), name="ridge_two_stage")


def fit_ridge_two_stage(problem: GapProblem, cheap_train: Sequence[int], accurate_train: Sequence[int]) -> Predictor:
    """:func:`histogram_ridge` on the cheap gaps, recalibrated on the accurate ones, as a predictor."""
    model = histogram_ridge(problem, cheap_train, recalibrate_on=accurate_train)
    return lambda idx: model.offset + model.slope * model.ridge.predict(problem.histogram_matrix(idx))


@dataclass
class FittedGNN:
    """A trained GNN with the standardiser of the level it was last trained on, and its losses."""

    model: GapGNN
    standardiser: Standardiser
    losses: list[list[float]]

    def predictor(self, problem: GapProblem) -> Predictor:
        return lambda idx: gap_gnn.predict(self.model, problem.graph_list(idx), self.standardiser)


def fit_gnn(problem: GapProblem, train: Sequence[int], config: GapGNNConfig, settings: TrainingSettings,
            seed: int = 0) -> FittedGNN:
    """A new GNN (weights seeded by ``seed``) trained on structures ``train``."""
    torch.manual_seed(seed)
    model = GapGNN(config)
    standardiser = Standardiser.fit(problem.truth(train))
    losses = gap_gnn.train(model, problem.graph_list(train), standardiser, settings)
    return FittedGNN(model, standardiser, [losses])


def fine_tune(fitted: FittedGNN, problem: GapProblem, train: Sequence[int], settings: TrainingSettings) -> FittedGNN:
    """Stage 2: a copy of ``fitted`` trained further on structures ``train`` (another level),
    the target standardised by their gaps; ``fitted`` itself is left as it is."""
    model = copy.deepcopy(fitted.model)
    standardiser = Standardiser.fit(problem.truth(train))
    losses = gap_gnn.train(model, problem.graph_list(train), standardiser, settings)
    return FittedGNN(model, standardiser, fitted.losses + [losses])


def cross_validated_mae(problem: GapProblem, indices: Sequence[int], folds: int, fit: Callable[[np.ndarray], Predictor],
                        seed: int = 0) -> list[float]:
    """MAE (eV) on each of ``folds`` validation folds of structures ``indices`` (:func:`k_folds`,
    seeded) of the model that ``fit(training indices)`` returns."""
    indices = np.asarray(indices, dtype=int)
    errors = []
    for fold in k_folds(len(indices), folds, seed):
        training, validation = np.delete(indices, fold), indices[fold]
        predictor = fit(training)
        errors.append(float(np.mean(np.abs(predictor(validation) - problem.truth(validation)))))
    return errors
