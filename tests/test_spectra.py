"""Lorentzian peak fits on synthetic spectra."""

import numpy as np
import pytest

from softlattice.analysis.spectra import fit_lorentzian, lorentzian


def test_lorentzian_fit_recovers_peak_and_width_from_a_noisy_spectrum():
    frequency = np.linspace(0, 10, 2001)
    rng = np.random.default_rng(0)
    power = lorentzian(frequency, 3.2, 0.4, 5.0, 0.1) * (1 + 0.05 * rng.normal(size=frequency.size))
    fit = fit_lorentzian(frequency, power, window=(1.0, 6.0))
    assert fit.converged
    assert fit.center == pytest.approx(3.2, abs=max(0.01, 3 * fit.center_error))
    assert fit.fwhm == pytest.approx(0.4, rel=0.05)
    assert 0 < fit.center_error < 0.01


def test_failed_fit_is_reported():
    fit = fit_lorentzian(np.arange(3.0), np.ones(3))
    assert not fit.converged and "points" in fit.message
