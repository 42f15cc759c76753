"""Error metrics of model predictions against reference labels.

Units follow the inputs (eV, eV/Å, ...); R^2 is dimensionless.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from ase import Atoms


def mae(truth: Sequence[float], predicted: Sequence[float]) -> float:
    """Mean absolute difference, in the inputs' unit."""
    return float(np.mean(np.abs(np.asarray(predicted, dtype=float) - np.asarray(truth, dtype=float))))


def rmse(truth: Sequence[float], predicted: Sequence[float]) -> float:
    """Root-mean-square difference, in the inputs' unit."""
    return float(np.sqrt(np.mean((np.asarray(predicted, dtype=float) - np.asarray(truth, dtype=float)) ** 2)))


def r2(truth: Sequence[float], predicted: Sequence[float]) -> float:
    """Coefficient of determination of ``predicted`` against ``truth`` (NaN for constant truth)."""
    truth = np.asarray(truth, dtype=float)
    variance = np.sum((truth - truth.mean()) ** 2)
    if variance == 0:
        return float("nan")
    return float(1.0 - np.sum((truth - np.asarray(predicted, dtype=float)) ** 2) / variance)


def species_offsets(structures: Sequence[Atoms], energies: np.ndarray, reference_energies: np.ndarray) -> dict[str, float]:
    """Chemical potentials (eV per atom of each species) that best map ``energies`` onto
    ``reference_energies`` in least squares: the constant part of the difference between two
    methods, which no property depends on."""
    species = sorted({s for a in structures for s in a.get_chemical_symbols()})
    counts = np.array([[a.get_chemical_symbols().count(s) for s in species] for a in structures], dtype=float)
    solution, *_ = np.linalg.lstsq(counts, np.asarray(reference_energies) - np.asarray(energies), rcond=None)
    return dict(zip(species, solution))


def paired_mae_difference(truth: Sequence[float], first: Sequence[float], second: Sequence[float],
                          resamples: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """MAE of ``first`` minus MAE of ``second`` against ``truth`` (same items), with a paired
    bootstrap percentile interval at ``level`` (items resampled with replacement, ``resamples``
    times, seeded). Negative: ``first`` is the better; an interval below zero says so beyond
    the resampling noise of this test set.

    Returns
    -------
    (difference, low, high), in the inputs' unit.
    """
    truth = np.asarray(truth, dtype=float)
    gain = np.abs(np.asarray(first, dtype=float) - truth) - np.abs(np.asarray(second, dtype=float) - truth)
    if gain.size == 0:
        raise ValueError("no items to compare")
    draws = np.random.default_rng(seed).integers(0, gain.size, size=(resamples, gain.size))
    means = gain[draws].mean(axis=1)
    tail = (1 - level) / 2
    return float(gain.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
