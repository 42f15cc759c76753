"""What a band-gap GNN has to beat: a constant, least squares on a few columns, and ridge
regression on a distance-histogram descriptor.

Units: Å, eV.

The descriptor (:func:`pair_histogram`) is, per unordered species pair, the radial distribution
of pair distances up to the cutoff smeared by Gaussians on a grid, per atom of the cell: it
sees composition (how many pairs of each kind) and geometry (where their distances lie), with no
learned representation. Ridge's penalty is chosen by leave-one-out error on the training set
alone (exact for ridge, from one singular value decomposition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np
from ase import Atoms

from softlattice.models.crystal_graphs import periodic_pairs

RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-4, 4, 33))
"""Penalties tried by :meth:`Ridge.fit` (on features of unit overall RMS deviation)."""


def pair_histogram(atoms: Atoms, species: Sequence[str], cutoff: float = 5.5, start: float = 1.5,
                   spacing: float = 0.1, width: float = 0.1) -> np.ndarray:
    """Gaussian-smeared pair-distance histogram of ``atoms``, per unordered pair of ``species``.

    Parameters
    ----------
    atoms
        A periodic cell.
    species
        Chemical symbols, in the order the pairs are listed (every symbol of ``atoms`` must be one).
    cutoff
        Largest distance, Å.
    start, spacing
        Gaussian centres start, start + spacing, ... below ``cutoff``, Å.
    width
        Standard deviation of each Gaussian, Å.

    Returns
    -------
    Flat array, (pairs x centres): for each pair (A, B) and centre r, the sum over ordered
    neighbour pairs of kinds (A, B) or (B, A) of exp(-(d - r)^2 / (2 width^2)), divided by the
    number of atoms (a per-atom, size-independent descriptor).
    """
    symbols = np.array(atoms.get_chemical_symbols())
    unknown = sorted(set(symbols.tolist()) - set(species))
    if unknown:
        raise ValueError(f"species {unknown} are not among {list(species)}")
    centres = np.arange(start, cutoff, spacing)
    pairs = list(combinations_with_replacement(range(len(species)), 2))
    index = {s: k for k, s in enumerate(species)}
    kinds = np.array([index[s] for s in symbols])
    i, j, d = periodic_pairs(atoms, cutoff)
    low, high = np.minimum(kinds[i], kinds[j]), np.maximum(kinds[i], kinds[j])
    smeared = np.exp(-((d[:, None] - centres[None, :]) ** 2) / (2 * width ** 2))
    histogram = np.zeros((len(pairs), len(centres)))
    for k, (a, b) in enumerate(pairs):
        histogram[k] = smeared[(low == a) & (high == b)].sum(axis=0)
    return (histogram / len(atoms)).ravel()


@dataclass(frozen=True)
class Constant:
    """Always the mean of the training targets (eV)."""

    value: float

    @classmethod
    def fit(cls, y: Sequence[float]) -> Constant:
        return cls(float(np.mean(y)))

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.full(len(features), self.value)


@dataclass(frozen=True)
class Linear:
    """Ordinary least squares with an intercept: y = intercept + features @ coefficients."""

    intercept: float
    coefficients: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray, y: Sequence[float]) -> Linear:
        design = np.column_stack([np.ones(len(features)), features])
        solution, *_ = np.linalg.lstsq(design, np.asarray(y, dtype=float), rcond=None)
        return cls(float(solution[0]), solution[1:])

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.intercept + np.asarray(features, dtype=float) @ self.coefficients


@dataclass(frozen=True)
class Ridge:
    """Ridge regression on centred features divided by one common scale (their overall RMS
    deviation, so the penalties of :data:`RIDGE_ALPHAS` mean the same for any descriptor), the
    penalty chosen by exact leave-one-out error.

    The features are not standardised one by one: a histogram bin that is nearly constant over
    the training set (a distance hardly ever seen) would be blown up to unit variance, and a test
    structure with a pair at that distance would then get an absurd prediction."""

    mean: np.ndarray
    scale: float
    intercept: float
    coefficients: np.ndarray
    alpha: float
    loo_rmse: float

    @classmethod
    def fit(cls, features: np.ndarray, y: Sequence[float], alphas: Sequence[float] = RIDGE_ALPHAS) -> Ridge:
        """Fit for each penalty in ``alphas``, keep the one with the lowest leave-one-out RMSE.

        Leave-one-out residuals of ridge with an (unpenalised) intercept are
        r_i / (1 - H_ii - 1/n) for hat matrix H of the centred problem.
        """
        features, y = np.asarray(features, dtype=float), np.asarray(y, dtype=float)
        if len(y) < 3:
            raise ValueError(f"{len(y)} training points: ridge's leave-one-out choice needs at least 3")
        mean = features.mean(axis=0)
        scale = float(np.sqrt(np.mean((features - mean) ** 2))) or 1.0
        x = (features - mean) / scale
        y_mean = y.mean()
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        uy = u.T @ (y - y_mean)
        best = None
        for alpha in alphas:
            shrink = s ** 2 / (s ** 2 + alpha)
            fitted = u @ (shrink * uy)
            leverage = (u ** 2) @ shrink + 1.0 / len(y)
            rmse = float(np.sqrt(np.mean(((y - y_mean - fitted) / (1.0 - leverage)) ** 2)))
            if best is None or rmse < best[1]:
                best = (alpha, rmse)
        alpha, rmse = best
        coefficients = vt.T @ (s / (s ** 2 + alpha) * uy)
        return cls(mean, scale, float(y_mean), coefficients, float(alpha), rmse)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.intercept + ((np.asarray(features, dtype=float) - self.mean) / self.scale) @ self.coefficients
