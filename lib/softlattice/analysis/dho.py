"""Damped harmonic oscillators: autocorrelation functions of a coordinate and their fits.

Units: time in ps, angular frequencies and damping in rad/ps (1 THz = 2 pi rad/ps).

A mode coordinate Q(t) (e.g. a tilt amplitude sampled along an NVT run with real masses) has the normalised autocorrelation function ACF(t) = <Q(0)Q(t)>/<Q^2>
(dynasor's :func:`~dynasor.tools.acfs.compute_acf`). A damped harmonic oscillator of natural
frequency w0 and damping gamma has the position ACF of dynasor's
:func:`~dynasor.tools.damped_harmonic_oscillator.acf_position_dho`; it is underdamped when
2 w0 > gamma (the ACF oscillates), overdamped when 2 w0 < gamma (it decays without crossing zero),
critically damped in between. The seed classifies the M and R modes of the cubic phase this way
over composition and temperature (its Fig. 5).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit


@dataclass(frozen=True)
class DHOFit:
    """A DHO fit of an ACF.

    Attributes
    ----------
    w0, gamma
        Natural angular frequency and damping, rad/ps (NaN when the fit failed).
    w0_error, gamma_error
        One standard deviation from the fit's covariance, rad/ps.
    amplitude
        Fitted ACF amplitude (1 for a perfect DHO).
    converged
        False when no fit was found; ``message`` says why.
    """

    w0: float
    gamma: float
    w0_error: float
    gamma_error: float
    amplitude: float
    converged: bool
    message: str = ""

    @property
    def separable(self) -> bool:
        """Whether w0 and gamma are determined separately (each error below its value). Deep in
        the overdamped limit a DHO ACF tends to exp(-t w0^2 / gamma): only that ratio is
        determined, and the two errors blow up together."""
        return bool(separable(self.w0, self.gamma, self.w0_error, self.gamma_error))

    @property
    def regime(self) -> str:
        """'underdamped', 'overdamped', 'critical' (2 w0 and gamma within two standard
        deviations of each other), 'overdamped (limit)' when only w0^2/gamma is determined and
        gamma > 2 w0, 'undetermined' when neither is, or 'no fit'."""
        if not self.converged:
            return "no fit"
        if not self.separable:
            return "overdamped (limit)" if self.gamma > 2 * self.w0 else "undetermined"
        difference = 2 * self.w0 - self.gamma
        error = np.hypot(2 * self.w0_error, self.gamma_error)
        if abs(difference) <= 2 * error:
            return "critical"
        return "underdamped" if difference > 0 else "overdamped"


def mode_acf(signal: np.ndarray, timestep_ps: float, max_lag_ps: float,
             min_length_factor: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Normalised ACF of a mode coordinate up to ``max_lag_ps``.

    Parameters
    ----------
    signal
        Mode amplitude at equal time steps (Å); its mean is removed first.
    timestep_ps
        Time between samples, ps.
    max_lag_ps
        Longest lag to return, ps.
    min_length_factor
        The run must be at least this many times ``max_lag_ps`` long, or the ACF at long lags is
        noise.

    Returns
    -------
    Lags (ps) and ACF values.
    """
    from dynasor.tools.acfs import compute_acf
    signal = np.asarray(signal, dtype=float)
    duration = len(signal) * timestep_ps
    if duration < min_length_factor * max_lag_ps:
        raise ValueError(f"run of {duration:g} ps is too short for an ACF up to {max_lag_ps:g} ps: it must be "
                         f"at least {min_length_factor:g} times longer ({min_length_factor * max_lag_ps:g} ps)")
    lags, acf = compute_acf(signal - signal.mean(), delta_t=timestep_ps)
    keep = lags <= max_lag_ps + 1e-12
    return lags[keep], acf[keep]


def _fit_from_two_starts(model, x, data: np.ndarray, scale: float, amplitudes: int) -> DHOFit:
    """``curve_fit`` of ``model(x, w0, gamma, *amplitudes)`` from an underdamped and an overdamped
    start at frequency ``scale``; the smaller residual is kept, a failure returned with its reason."""
    lower, upper = [1e-6, 1e-6] + [0.0] * amplitudes, [np.inf, np.inf] + [2.0] * amplitudes
    best, errors = None, []
    for w0, gamma in ((scale, 0.5 * scale), (scale, 6.0 * scale)):
        try:
            values, covariance = curve_fit(model, x, data, p0=(w0, gamma) + (1.0,) * amplitudes,
                                           bounds=(lower, upper), maxfev=20000)
        except (RuntimeError, ValueError) as error:
            errors.append(str(error))
            continue
        residual = float(np.sum((model(x, *values) - data) ** 2))
        if best is None or residual < best[0]:
            best = (residual, values, covariance)
    if best is None:
        return DHOFit(np.nan, np.nan, np.nan, np.nan, np.nan, False, "; ".join(errors))
    _, values, covariance = best
    w0, gamma, amplitude = values[:3]
    sigma = np.sqrt(np.clip(np.diag(covariance), 0, None))
    if not np.all(np.isfinite(sigma[:2])):
        return DHOFit(w0, gamma, np.nan, np.nan, amplitude, False, "fit covariance is undefined")
    return DHOFit(float(w0), float(gamma), float(sigma[0]), float(sigma[1]), float(amplitude), True)


def fit_dho(lags: np.ndarray, acf: np.ndarray) -> DHOFit:
    """Least-squares DHO fit of an ACF (scipy ``curve_fit`` on dynasor's DHO position ACF).

    Fits are started from an underdamped and an overdamped guess, and the one with the smaller
    residual is kept; a failure is returned as ``converged=False`` with the reason, never
    dropped or forced.
    """
    from dynasor.tools.damped_harmonic_oscillator import acf_position_dho

    lags, acf = np.asarray(lags, dtype=float), np.asarray(acf, dtype=float)
    if len(lags) < 5 or not np.all(np.isfinite(acf)):
        return DHOFit(np.nan, np.nan, np.nan, np.nan, np.nan, False, f"ACF has {len(lags)} points or non-finite values")
    span = lags[-1] - lags[0]
    # a first zero crossing gives an oscillation period; without one the decay time sets the scale
    crossing = np.flatnonzero(acf < 0)
    scale = 2 * np.pi / (4 * lags[crossing[0]]) if crossing.size else 1.0 / max(span / 5, 1e-3)
    return _fit_from_two_starts(acf_position_dho, lags, acf, scale, amplitudes=1)


def fit_dho_joint(lags: np.ndarray, position_acf: np.ndarray, velocity_acf: np.ndarray,
                  position_window_ps: float, velocity_window_ps: float) -> DHOFit:
    """Least-squares DHO fit of the position and velocity ACFs together (dynasor's
    ``acf_position_dho`` and ``acf_velocity_dho`` with one w0 and gamma, an amplitude each), each
    over its own window.

    Why both: deep in the overdamped regime the position ACF is nearly one exponential of rate
    w0^2/gamma, so a position-only fit pins that ratio but not w0 and gamma apart; the velocity
    ACF decays at a rate set by gamma itself. On 50 ps Langevin-oscillator signals the joint fit
    recovers w0 and gamma where the position-only fit drifts along w0^2/gamma (tested).
    """
    from dynasor.tools.damped_harmonic_oscillator import acf_position_dho, acf_velocity_dho

    lags = np.asarray(lags, dtype=float)
    position, velocity = np.asarray(position_acf, dtype=float), np.asarray(velocity_acf, dtype=float)
    keep_p, keep_v = lags <= position_window_ps + 1e-12, lags <= velocity_window_ps + 1e-12
    if keep_p.sum() < 5 or keep_v.sum() < 5 or not (np.all(np.isfinite(position)) and np.all(np.isfinite(velocity))):
        return DHOFit(np.nan, np.nan, np.nan, np.nan, np.nan, False, "windows too short or non-finite ACFs")
    data = np.concatenate([position[keep_p], velocity[keep_v]])

    def model(_, w0, gamma, a_position, a_velocity):
        return np.concatenate([acf_position_dho(lags[keep_p], w0, gamma, a_position),
                               acf_velocity_dho(lags[keep_v], w0, gamma, a_velocity)])

    # the velocity ACF's first zero gives a frequency scale; its decay the damping scale
    crossing = np.flatnonzero(velocity[keep_v] < 0)
    scale = 2 * np.pi / (4 * lags[keep_v][crossing[0]]) if crossing.size else 1.0
    return _fit_from_two_starts(model, None, data, scale, amplitudes=2)


def separable(w0, gamma, w0_error, gamma_error):
    """Whether DHO fits determine w0 and gamma separately (each error below its value); works on
    numbers and on table columns alike."""
    return (w0_error < w0) & (gamma_error < gamma)


def decay_lag(lags: np.ndarray, acf: np.ndarray, threshold: float = 0.05, hold_ps: float = 0.5) -> float:
    """The first lag (ps) from which the mean of |ACF| over the next ``hold_ps`` is below
    ``threshold``: an oscillating ACF crosses zero long before it has decayed, and a noisy tail
    dips below any threshold now and then. NaN when that never happens within the lags given,
    i.e. the ACF was cut before it decayed (or its noise floor is above ``threshold``: the run is
    too short for it)."""
    lags, acf = np.asarray(lags, dtype=float), np.asarray(acf, dtype=float)
    step = float(np.median(np.diff(lags)))
    width = max(1, int(round(hold_ps / step)) + 1)
    if width > len(acf):
        return float("nan")
    running = np.convolve(np.abs(acf), np.ones(width) / width, mode="valid")  # running[k]: lags k .. k+width-1
    below = np.flatnonzero(running < threshold)
    return float(lags[below[0]]) if below.size else float("nan")


def fit_windows(lags: np.ndarray, position_acf: np.ndarray, velocity_acf: np.ndarray,
                factors: tuple[float, ...] = (1.0, 1.5, 2.0), threshold: float = 0.05) -> pd.DataFrame:
    """Joint DHO fits (:func:`fit_dho_joint`) over windows of ``factors`` times each ACF's decay lag
    (:func:`decay_lag`), so a reader sees whether the regime depends on where the fit stops.

    Returns
    -------
    One row per window: ``factor``, ``position_window_ps``, ``velocity_window_ps``, the
    :class:`DHOFit` fields and ``regime``. A single row with regime 'not decayed' when either ACF
    never falls below ``threshold`` within ``lags`` (fitting it would bias the fit), and 'window
    too long' for a window beyond the lags computed.
    """
    lags = np.asarray(lags, dtype=float)
    decays = decay_lag(lags, position_acf, threshold), decay_lag(lags, velocity_acf, threshold)
    empty = dict(w0=np.nan, gamma=np.nan, w0_error=np.nan, gamma_error=np.nan, amplitude=np.nan, converged=False)
    if not all(np.isfinite(decays)):
        which = "position" if not np.isfinite(decays[0]) else "velocity"
        return pd.DataFrame([dict(factor=np.nan, position_window_ps=np.nan, velocity_window_ps=np.nan, **empty,
                                  message=f"the {which} ACF's |mean| does not fall below {threshold} within "
                                          f"{lags[-1]:g} ps", regime="not decayed")])
    minimum = 5 * float(np.median(np.diff(lags)))
    rows = []
    for factor in factors:
        windows = [max(factor * d, minimum) for d in decays]
        fields = dict(factor=factor, position_window_ps=windows[0], velocity_window_ps=windows[1])
        if max(windows) > lags[-1] + 1e-12:
            rows.append(dict(fields, **empty, message=f"window beyond the computed lags ({lags[-1]:g} ps)",
                             regime="window too long"))
            continue
        fit = fit_dho_joint(lags, position_acf, velocity_acf, *windows)
        rows.append(dict(fields, **asdict(fit), regime=fit.regime))
    return pd.DataFrame(rows)
