"""Statistics of correlated time series: means, standard errors, correlation times.

Units follow the inputs; correlation times are in samples.
"""

from __future__ import annotations

import numpy as np


def mean_and_standard_error(values: np.ndarray, correlation_samples: float = 0.5) -> tuple[float, float]:
    """Mean of a time series and its standard error, for an integrated autocorrelation time of
    ``correlation_samples`` samples (0.5 for independent samples; effective count n / (2 tau))."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        raise ValueError(f"{values.size} value(s): a standard error needs at least 2")
    effective = values.size / max(1.0, 2.0 * correlation_samples)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(max(effective, 1.0)))


def integrated_correlation_samples(series: np.ndarray) -> float:
    """Integrated autocorrelation time (in samples) of a series: 1/2 + sum of the ACF (dynasor's
    ``compute_acf``) up to its first negative value (Sokal's initial-positive-sequence estimate);
    0.5 for white noise."""
    # dynasor pulls in numba and MDAnalysis (whose tqdm import warns in kernels): only when needed
    from dynasor.tools.acfs import compute_acf

    series = np.asarray(series, dtype=float) - np.mean(series)
    if series.size < 4 or not np.any(series):
        return 0.5
    acf = compute_acf(series)[1][1: series.size // 2]
    negative = np.flatnonzero(acf <= 0)
    return float(0.5 + acf[: negative[0] if negative.size else acf.size].sum())


def block_standard_error(values: np.ndarray, blocks: int = 5) -> float:
    """Standard error of the mean from ``blocks`` contiguous block means."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2 * blocks:
        raise ValueError(f"{len(values)} samples are too few for {blocks} blocks")
    means = np.array([chunk.mean() for chunk in np.array_split(values, blocks)])
    return float(means.std(ddof=1) / np.sqrt(blocks))
