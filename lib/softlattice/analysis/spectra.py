"""Phonon power spectra: Lorentzian peak fits with uncertainties.

Units: frequencies in THz (any unit works if used consistently).

A mode whose coordinate is a damped oscillation has a Lorentzian power spectrum near its peak; the
peak position is the renormalised frequency and the full width at half maximum (FWHM) the
linewidth (inverse lifetime), as in the seed's finite-temperature phonons of Ag3SBr(x)I(1-x).
Spectra come from dynasor's mode projections (:mod:`softlattice.perovskite.modes`, ``dynasor.tools.acfs``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit


def lorentzian(frequency: np.ndarray, center: float, fwhm: float, height: float, background: float = 0.0) -> np.ndarray:
    """Peak of ``height`` at ``center`` with full width at half maximum ``fwhm``, on a constant."""
    half = 0.5 * fwhm
    return background + height * half ** 2 / ((np.asarray(frequency) - center) ** 2 + half ** 2)


@dataclass(frozen=True)
class PeakFit:
    """A Lorentzian fit: centre and FWHM with one-standard-deviation errors; ``converged`` False
    (and NaNs) when the fit failed, with the reason in ``message``."""

    center: float
    fwhm: float
    height: float
    center_error: float
    fwhm_error: float
    converged: bool
    message: str = ""


def fit_lorentzian(frequency: np.ndarray, power: np.ndarray, window: tuple[float, float] | None = None) -> PeakFit:
    """Least-squares Lorentzian (plus constant) fit of the largest peak of ``power`` inside
    ``window`` (default: everything), started from the maximum and its half-width."""
    frequency, power = np.asarray(frequency, dtype=float), np.asarray(power, dtype=float)
    if window is not None:
        keep = (frequency >= window[0]) & (frequency <= window[1])
        frequency, power = frequency[keep], power[keep]
    if frequency.size < 5 or not np.all(np.isfinite(power)):
        return PeakFit(*(np.nan,) * 5, False, f"{frequency.size} points or non-finite power in the window")
    peak = int(np.argmax(power))
    above = frequency[power >= 0.5 * power[peak]]
    guess_width = max(above.max() - above.min(), 2 * np.median(np.diff(frequency)))
    try:
        values, covariance = curve_fit(lorentzian, frequency, power,
                                       p0=(frequency[peak], guess_width, power[peak], float(np.min(power))),
                                       bounds=([frequency.min(), 0.0, 0.0, -np.inf],
                                               [frequency.max(), np.inf, np.inf, np.inf]), maxfev=20000)
    except (RuntimeError, ValueError) as error:
        return PeakFit(*(np.nan,) * 5, False, str(error))
    errors = np.sqrt(np.clip(np.diag(covariance), 0, None))
    return PeakFit(float(values[0]), float(values[1]), float(values[2]), float(errors[0]), float(errors[1]),
                   bool(np.all(np.isfinite(errors))))
