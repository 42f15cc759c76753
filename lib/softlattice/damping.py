"""Tilt-mode dynamics: autocorrelation functions and damped-harmonic-oscillator fits.

Units: time in ps, angular frequencies and damping in rad/ps (1 THz = 2 pi rad/ps).

A mode coordinate Q(t) (an M or R amplitude from :mod:`softlattice.modes`, sampled along an NVT
run with real masses) has the normalised autocorrelation function ACF(t) = <Q(0)Q(t)>/<Q^2>
(dynasor's :func:`~dynasor.tools.acfs.compute_acf`). A damped harmonic oscillator of natural
frequency w0 and damping gamma has the position ACF of dynasor's
:func:`~dynasor.tools.damped_harmonic_oscillator.acf_position_dho`; it is underdamped when
2 w0 > gamma (the ACF oscillates), overdamped when 2 w0 < gamma (it decays without crossing zero),
critically damped in between. The seed classifies the M and R modes of the cubic phase this way
over composition and temperature (its Fig. 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def fit_dho(lags: np.ndarray, acf: np.ndarray) -> DHOFit:
    """Least-squares DHO fit of an ACF (scipy ``curve_fit`` on dynasor's DHO position ACF).

    Fits are started from an underdamped and an overdamped guess, and the one with the smaller
    residual is kept; a failure is returned as ``converged=False`` with the reason, never
    dropped or forced.
    """
    from dynasor.tools.damped_harmonic_oscillator import acf_position_dho
    from scipy.optimize import curve_fit

    lags, acf = np.asarray(lags, dtype=float), np.asarray(acf, dtype=float)
    if len(lags) < 5 or not np.all(np.isfinite(acf)):
        return DHOFit(np.nan, np.nan, np.nan, np.nan, np.nan, False, f"ACF has {len(lags)} points or non-finite values")
    span = lags[-1] - lags[0]
    # a first zero crossing gives an oscillation period; without one the decay time sets the scale
    crossing = np.flatnonzero(acf < 0)
    scale = 2 * np.pi / (4 * lags[crossing[0]]) if crossing.size else 1.0 / max(span / 5, 1e-3)
    best, errors = None, []
    for w0, gamma in ((scale, 0.5 * scale), (scale, 6.0 * scale)):
        try:
            values, covariance = curve_fit(lambda t, w, g, a: acf_position_dho(t, w, g, a), lags, acf,
                                           p0=(w0, gamma, 1.0), bounds=([1e-6, 1e-6, 0.0], [np.inf, np.inf, 2.0]),
                                           maxfev=20000)
        except (RuntimeError, ValueError) as error:
            errors.append(str(error))
            continue
        residual = float(np.sum((acf_position_dho(lags, *values) - acf) ** 2))
        if best is None or residual < best[0]:
            best = (residual, values, covariance)
    if best is None:
        return DHOFit(np.nan, np.nan, np.nan, np.nan, np.nan, False, "; ".join(errors))
    _, (w0, gamma, amplitude), covariance = best
    sigma = np.sqrt(np.clip(np.diag(covariance), 0, None))
    if not np.all(np.isfinite(sigma)):
        return DHOFit(w0, gamma, np.nan, np.nan, amplitude, False, "fit covariance is undefined")
    return DHOFit(float(w0), float(gamma), float(sigma[0]), float(sigma[1]), float(amplitude), True)


def family_acf(observations, family: str, max_lag_ps: float) -> tuple[np.ndarray, np.ndarray]:
    """ACF of the M or R family: the mean of the ACFs of the modes about x, y and z (equivalent
    in the cubic phase, so averaging them triples the statistics).

    Parameters
    ----------
    observations
        Observations of an NVT run (:func:`softlattice.md.run_md`): ``time_ps`` and ``Q_<family>_<axis>``.
    family
        'M' or 'R'.
    max_lag_ps
        Longest lag, ps.
    """
    if family not in ("M", "R"):
        raise ValueError(f"mode family {family!r} is not 'M' or 'R'")
    timestep = float(np.median(np.diff(observations.time_ps)))
    acfs = [mode_acf(observations[f"Q_{family}_{axis}"].to_numpy(), timestep, max_lag_ps) for axis in "xyz"]
    return acfs[0][0], np.mean([acf for _, acf in acfs], axis=0)


def separable(w0, gamma, w0_error, gamma_error):
    """Whether DHO fits determine w0 and gamma separately (each error below its value); works on
    numbers and on table columns alike."""
    return (w0_error < w0) & (gamma_error < gamma)


def damping_ratios(fits):
    """The damping ratio gamma / (2 w0) (above 1 overdamped, below 1 underdamped) of the separable
    fits of a :func:`damping_table`, one row per run and one column per family."""
    kept = fits[(fits.regime != "run failed") & separable(fits.w0, fits.gamma, fits.w0_error, fits.gamma_error)]
    return kept.assign(damping_ratio=kept.gamma / (2 * kept.w0)).pivot_table(
        index=["fa_fraction", "temperature_K"], columns="family", values="damping_ratio")


def damping_table(tasks, observations, max_lag_ps: float, failures=None):
    """DHO fits of the M and R families for every NVT run.

    Parameters
    ----------
    tasks, observations
        :class:`softlattice.sweep.RampTask` objects of kind 'reference' and their observations
        (None for a run that blew up).
    max_lag_ps
        Longest ACF lag fitted, ps.
    failures
        Per task, why it blew up (or None); a failed run gets rows with NaN fits, regime 'run
        failed' and the reason, so it stays visible.

    Returns
    -------
    One row per run and family: ``fa_fraction``, ``temperature_K``, ``family``, the
    :class:`DHOFit` fields and ``regime``.
    """
    import pandas as pd
    failures = list(failures) if failures is not None else [None] * len(tasks)
    rows = []
    for task, obs, failure in zip(tasks, observations, failures):
        for family in ("M", "R"):
            if obs is None:
                rows.append(dict(fa_fraction=task.fa_fraction, temperature_K=task.temperature_high, family=family,
                                 w0=np.nan, gamma=np.nan, w0_error=np.nan, gamma_error=np.nan, amplitude=np.nan,
                                 converged=False, message=f"run blew up: {failure or 'no observations'}",
                                 regime="run failed"))
                continue
            lags, acf = family_acf(obs, family, max_lag_ps)
            fit = fit_dho(lags, acf)
            rows.append(dict(fa_fraction=task.fa_fraction, temperature_K=task.temperature_high, family=family,
                             w0=fit.w0, gamma=fit.gamma, w0_error=fit.w0_error, gamma_error=fit.gamma_error,
                             amplitude=fit.amplitude, converged=fit.converged, message=fit.message,
                             regime=fit.regime))
    return pd.DataFrame(rows)


def nvt_tasks(fa_fractions, temperatures, run_ps: float, repeat: int = 4, seed: int = 0) -> list:
    """NVT runs of the cubic cell with real masses (0.5 fs steps, a sample every 5 fs) at every
    composition and temperature, as :class:`softlattice.sweep.RampTask` of kind 'reference'."""
    from .sweep import RampTask
    return [RampTask(float(x), "reference", temperature_low=1.0, temperature_high=float(t), repeat=repeat,
                     replica=seed, timestep_fs=0.5, hydrogen_mass=None, sample_interval=10, reference_ps=run_ps)
            for x in fa_fractions for t in temperatures]


def obtain_damping(settings: dict, model, curated=None, store=None):
    """ACFs and DHO fits for a chapter-04 profile: the curated folder when its provenance matches
    (settings and model hash), else computed now (MD through :func:`softlattice.sweep.run_sweep`).

    Returns
    -------
    ``fits`` (:func:`damping_table`), ``acfs`` (long table: ``fa_fraction``, ``temperature_K``,
    ``family``, ``lag_ps``, ``acf``) and a sentence saying where they came from.
    """
    import hashlib
    import json
    from pathlib import Path

    import pandas as pd

    from .md import file_hash
    from .paths import RUNS_DIR
    from .provenance import matches, write_provenance
    from .sweep import run_sweep, task_failure

    # how the runs are scheduled does not change them (each task has its own seed)
    physics = {k: v for k, v in settings.items() if k not in ("profile", "scheduler", "workers")}
    inputs = {"model_sha256_16": file_hash(model)}
    if curated is not None and matches(curated, physics, inputs):
        return (pd.read_csv(Path(curated) / "fits.csv"), pd.read_csv(Path(curated) / "acfs.csv.gz"),
                f"committed result set {curated} (settings and model hash match)")
    tasks = nvt_tasks(settings["fa_fractions"], settings["temperatures"], settings["run_ps"], settings["repeat"])
    store = Path(store) if store else RUNS_DIR / "sweeps"
    observations = run_sweep(tasks, model, store, scheduler=settings.get("scheduler"), progress=False)
    fits = damping_table(tasks, observations, settings["max_lag_ps"],
                         failures=[task_failure(task, model, store) for task in tasks])
    acfs = []
    for task, obs in zip(tasks, observations):
        if obs is None:
            continue
        for family in ("M", "R"):
            lags, acf = family_acf(obs, family, settings["max_lag_ps"])
            acfs.append(pd.DataFrame(dict(fa_fraction=task.fa_fraction, temperature_K=task.temperature_high,
                                          family=family, lag_ps=lags, acf=acf)))
    acfs = pd.concat(acfs, ignore_index=True)
    key = hashlib.sha256(json.dumps([physics, inputs], sort_keys=True).encode()).hexdigest()[:12]
    folder = store / "damping" / key
    folder.mkdir(parents=True, exist_ok=True)
    fits.to_csv(folder / "fits.csv", index=False)
    acfs.to_csv(folder / "acfs.csv.gz", index=False, float_format="%.6g")
    write_provenance(folder, physics, inputs, command="softlattice.damping.obtain_damping")
    return fits, acfs, f"computed now in {folder}"


def main(argv=None) -> int:
    """``python -m softlattice.damping --model M --save DIR [--profile full]``: run the chapter-04
    NVT grid (resumable) and store fits and ACFs with provenance in DIR."""
    import argparse
    import shutil
    import sys
    from pathlib import Path

    from .profiles import resolve
    parser = argparse.ArgumentParser(prog="python -m softlattice.damping")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--save", type=Path, required=True)
    parser.add_argument("--profile", default="full")
    args = parser.parse_args(argv)
    settings = resolve("04_damping", args.profile)
    *_, source = obtain_damping(settings, args.model)
    folder = Path(source.removeprefix("computed now in "))
    args.save.mkdir(parents=True, exist_ok=True)
    for name in ("fits.csv", "acfs.csv.gz", "provenance.json"):
        shutil.copy2(folder / name, args.save / name)
    print(f"{source}; stored in {args.save} ({' '.join(sys.argv[1:])})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
