"""Ag3SBr(x)I(1-x) at finite temperature: relax-and-rank of orderings, 0 K phonons and
renormalised phonons from MD by normal-mode decomposition (the seed's Sec. II E).

Units: Å, eV, fs for MD; frequencies in THz (imaginary ones negative, phonopy's convention).

The seed projects MD velocities on the harmonic eigenvectors with DynaPhoPy and fits Lorentzians to
the power spectra of the mode momenta. dynasor's ``ModeProjector`` does the same projection (mass
weighting, every commensurate q-point of the supercell) from phonopy force constants, so it is used
here; the Lorentzian fits are :func:`softlattice.analysis.spectra.fit_lorentzian`. A mode with an imaginary
harmonic frequency that is dynamically stabilised shows a real peak at finite temperature: the
seed's stabilisation by 200 K.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from ase import Atoms, units
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS

from softlattice.analysis.spectra import fit_lorentzian

THZ_PER_RAD_PER_FS = 1000.0 / (2.0 * np.pi)
"""An angular frequency in rad/fs (dynasor's unit) times this is a frequency in THz."""


def relax_and_rank(structures: Sequence[Atoms], calculator, fmax: float = 0.05, steps: int = 300,
                   relax_cell: bool = True) -> tuple[pd.DataFrame, list[Atoms]]:
    """Relax every structure (BFGS, positions and, with ``relax_cell``, the cell shape and volume:
    ASE's ``FrechetCellFilter``) and rank them by energy per atom.

    Returns
    -------
    A table sorted by energy (``index`` into ``structures``, ``energy_eV_per_atom``,
    ``relative_meV_per_atom`` to the lowest, ``converged``, ``steps``) and the relaxed structures in
    the input order.
    """
    if not structures:
        raise ValueError("no structures to relax")
    rows, relaxed = [], []
    for index, atoms in enumerate(structures):
        work = atoms.copy()
        work.calc = calculator
        optimiser = BFGS(FrechetCellFilter(work) if relax_cell else work, logfile=None)
        converged = bool(optimiser.run(fmax=fmax, steps=steps))
        energy = work.get_potential_energy() / len(work)
        work.calc = None
        relaxed.append(work)
        rows.append(dict(index=index, energy_eV_per_atom=energy, converged=converged, steps=optimiser.nsteps))
    table = pd.DataFrame(rows).sort_values("energy_eV_per_atom", ignore_index=True)
    table.insert(2, "relative_meV_per_atom", 1000 * (table.energy_eV_per_atom - table.energy_eV_per_atom.min()))
    return table, relaxed


def mode_projector(primitive: Atoms, supercell: Atoms, force_constants: np.ndarray):
    """dynasor's ``ModeProjector`` for ``supercell`` (an ideal repetition of ``primitive``) with
    phonopy force constants of shape (N, N, 3, 3), eV/Å^2."""
    from dynasor.modes.mode_projector import ModeProjector
    return ModeProjector(primitive, supercell, np.asarray(force_constants))


def harmonic_frequencies(projector) -> pd.DataFrame:
    """Harmonic frequency (THz) of every mode of the projector: ``q_index``, ``q`` (reduced,
    as text), ``band``, ``harmonic_THz``."""
    omegas = projector.omegas * THZ_PER_RAD_PER_FS
    rows = [dict(q_index=qi, q=" ".join(f"{v:g}" for v in projector.q_reduced[qi]), band=band,
                 harmonic_THz=float(omegas[qi, band]))
            for qi in range(omegas.shape[0]) for band in range(omegas.shape[1])]
    return pd.DataFrame(rows)


def mode_momenta(projector, frames: Iterable[Atoms]) -> np.ndarray:
    """Mode momenta P(t) of every frame (positions and velocities in the ideal supercell's atom
    order), shape (n_frames, Nq, Nb), complex, √eV."""
    momenta = []
    for atoms in frames:
        projector.update_from_atoms(atoms)
        momenta.append(projector.get_P())
    if not momenta:
        raise ValueError("no frames to project")
    return np.array(momenta)


def power_spectra(momenta: np.ndarray, frame_interval_fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrum |P(f)|^2 of each mode from its momentum series (Hann window), folded onto
    positive frequencies (a complex mode coordinate at q != -q rotates one way, so its power sits
    at +f or -f), normalised per mode to unit area.

    Returns
    -------
    Frequencies (THz), shape (F,), and spectra, shape (F, Nq, Nb).
    """
    if momenta.shape[0] < 16:
        raise ValueError(f"{momenta.shape[0]} frames are too few for a spectrum (need at least 16)")
    if not frame_interval_fs > 0:
        raise ValueError(f"frame interval {frame_interval_fs!r} fs must be > 0")
    series = momenta - momenta.mean(axis=0)
    window = np.hanning(series.shape[0])[:, None, None]
    transform = np.fft.fft(series * window, axis=0)
    frequency = np.fft.fftfreq(series.shape[0], d=frame_interval_fs) * 1000.0  # 1/fs -> THz
    positive = frequency > 0
    mirrored = np.searchsorted(frequency[frequency < 0], -frequency[positive])  # index of -f among f < 0
    power = np.abs(transform[positive]) ** 2 + np.abs(transform[frequency < 0][mirrored]) ** 2
    area = np.trapezoid(power, frequency[positive], axis=0)
    return frequency[positive], power / np.where(area > 0, area, 1.0)


def renormalised_phonons(projector, frequency: np.ndarray, spectra: np.ndarray, window_THz: float = 2.0) -> pd.DataFrame:
    """Lorentzian fit of every mode's spectrum: the table of :func:`harmonic_frequencies` plus
    ``frequency_THz``, ``fwhm_THz``, their errors, ``converged`` and ``message``.

    The fit window is ``window_THz`` around the harmonic frequency for a stable mode, and from 0
    to ``window_THz`` above the spectrum's maximum for an imaginary one (its finite-temperature
    peak is where the MD puts it, not near the harmonic value). A failed fit is kept as a row with
    ``converged`` False and the reason.
    """
    table = harmonic_frequencies(projector)
    results = []
    for row in table.itertuples():
        power = spectra[:, row.q_index, row.band]
        if row.harmonic_THz > 0:
            window = (max(0.0, row.harmonic_THz - window_THz), row.harmonic_THz + window_THz)
        else:
            window = (0.0, float(frequency[np.argmax(power)]) + window_THz)
        fit = fit_lorentzian(frequency, power, window)
        results.append(dict(frequency_THz=fit.center, fwhm_THz=fit.fwhm, frequency_error_THz=fit.center_error,
                            fwhm_error_THz=fit.fwhm_error, converged=fit.converged, message=fit.message))
    return pd.concat([table, pd.DataFrame(results)], axis=1)


def bose_einstein_amplitude(frequency_THz: np.ndarray, temperature: float) -> np.ndarray:
    """Root-mean-square normal-mode amplitude sqrt(<Q^2>) (sqrt(amu) Å) of harmonic modes of
    frequency ``frequency_THz`` at ``temperature`` (K): <Q^2> = hbar (2 n + 1) / (2 omega), with n
    the Bose-Einstein occupation (zero-point motion included; kT / omega^2 when kT >> hbar omega)."""
    frequency_THz = np.asarray(frequency_THz, dtype=float)
    if np.any(frequency_THz <= 0):
        raise ValueError("Bose-Einstein amplitudes need real, positive frequencies")
    if temperature < 0:
        raise ValueError(f"temperature {temperature!r} K must be >= 0")
    hbar = units._hbar * units.J * units.s  # eV x ASE time
    omega = 2 * np.pi * frequency_THz * 1e12 / units.s  # 1 / ASE time
    if temperature == 0:
        occupation = np.zeros_like(omega)
    else:
        occupation = 1.0 / np.expm1(hbar * omega / (units.kB * temperature))
    return np.sqrt(hbar * (2 * occupation + 1) / (2 * omega))  # ASE time^2 eV = amu Å^2


def gamma_mode_displacements(atoms: Atoms, phonon, temperature: float, min_frequency_THz: float = 0.2) -> pd.DataFrame:
    """Frozen Gamma-point phonons of ``atoms`` (the phonopy object's unit cell, used as its own
    supercell) at their Bose-Einstein RMS amplitude: the seed's Fig. 8 construction.

    Returns
    -------
    One row per real mode above ``min_frequency_THz``: ``band``, ``frequency_THz`` and
    ``displacements`` (array (N, 3), Å: eigenvector / sqrt(mass) times the amplitude).
    """
    phonon.run_qpoints([[0.0, 0.0, 0.0]], with_eigenvectors=True)
    frequencies, eigenvectors = phonon.qpoints.frequencies[0], phonon.qpoints.eigenvectors[0]
    masses = atoms.get_masses()
    rows = []
    for band, frequency in enumerate(frequencies):
        if frequency < min_frequency_THz:
            continue
        direction = np.real(eigenvectors[:, band]).reshape(-1, 3) / np.sqrt(masses)[:, None]
        amplitude = float(bose_einstein_amplitude(frequency, temperature))
        rows.append(dict(band=band, frequency_THz=float(frequency), displacements=amplitude * direction))
    return pd.DataFrame(rows)


def frozen_phonon_gap_changes(atoms: Atoms, modes: pd.DataFrame, gap) -> pd.DataFrame:
    """Gap change of each frozen mode: the mean of the gaps at +u and -u minus the undisplaced
    gap (the symmetric average removes the linear term, which averages out thermally).

    Parameters
    ----------
    modes
        From :func:`gamma_mode_displacements`.
    gap
        Callable structure -> gap (eV): the GNN, or the electronic-structure backend.
    """
    reference = gap(atoms)
    changes = []
    for row in modes.itertuples():
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions += row.displacements
        minus.positions -= row.displacements
        changes.append(0.5 * (gap(plus) + gap(minus)) - reference)
    return modes[["band", "frequency_THz"]].assign(gap_change_eV=changes)


def largest_gap_reductions(thermal_gaps: pd.DataFrame) -> pd.DataFrame:
    """Per temperature, the composition with the largest relative gap reduction.

    Parameters
    ----------
    thermal_gaps
        Rows with ``br_fraction``, ``temperature_K``, ``gap_eV``, ``error_eV`` and
        ``relative_change`` ((E_g(T) - E_g(0)) / E_g(0)).

    Returns
    -------
    One row per temperature above 0 K: ``temperature_K``, ``br_fraction``, ``relative_change``,
    ``gap_eV``, ``error_eV``.
    """
    hot = thermal_gaps[thermal_gaps.temperature_K > 0]
    rows = hot.loc[hot.groupby("temperature_K").relative_change.idxmin()]
    return rows[["temperature_K", "br_fraction", "relative_change", "gap_eV", "error_eV"]].reset_index(drop=True)


def reductions_tied_with_largest(thermal_gaps: pd.DataFrame, temperature: float, model_mae_eV: float) -> list[float]:
    """Compositions whose relative gap change at ``temperature`` (K) cannot be told from the
    largest reduction there: within the combined error of the two, each the model's MAE
    (``model_mae_eV``) over that composition's 0 K gap (the error of one relative change).

    Returns
    -------
    The Br fractions tied with the largest reduction, without it (empty: its place is resolved).
    """
    at = thermal_gaps[thermal_gaps.temperature_K == temperature].set_index("br_fraction").relative_change
    zero = thermal_gaps[thermal_gaps.temperature_K == 0].set_index("br_fraction").gap_eV
    if at.empty:
        raise ValueError(f"no gaps at {temperature} K; temperatures: {sorted(thermal_gaps.temperature_K.unique())}")
    largest = at.idxmin()
    error = model_mae_eV / zero
    return [float(x) for x in at.index
            if x != largest and at[x] - at[largest] < np.hypot(error[x], error[largest])]


def largest_reduction_text(thermal_gaps: pd.DataFrame, temperatures: Sequence[float], model_mae_eV: float) -> str:
    """A clause (no full stop) on the largest relative gap reduction at each of ``temperatures``
    (K) and, per temperature, the compositions :func:`reductions_tied_with_largest` cannot tell
    from it."""
    largest = largest_gap_reductions(thermal_gaps).set_index("temperature_K")
    parts = []
    for temperature in temperatures:
        row = largest.loc[temperature]
        tied = reductions_tied_with_largest(thermal_gaps, temperature, model_mae_eV)
        parts.append(f"{100 * row.relative_change:+.0f} % at {temperature:.0f} K (x = {row.br_fraction:g}"
                     + (f"; x = {', '.join(f'{x:g}' for x in tied)} within the model's error of it, so where it is "
                        "largest is not resolved)" if tied else ")"))
    return ", ".join(parts)


def step_and_temperature_changes(thermal_gaps: pd.DataFrame) -> pd.DataFrame:
    """Per composition, the gap change split into the step from the relaxed 0 K cell to the
    coldest MD temperature and the change from there to the hottest (eV).

    Parameters
    ----------
    thermal_gaps
        Rows with ``br_fraction``, ``temperature_K`` (0 K: the relaxed cell) and ``gap_eV``.

    Returns
    -------
    One row per x with every temperature: ``br_fraction``, ``coldest_K``, ``hottest_K``,
    ``step_eV`` (E_g(coldest) - E_g(0)) and ``temperature_eV`` (E_g(hottest) - E_g(coldest)).
    Differences, not ratios: the two parts can have opposite signs.
    """
    rows = []
    for x, group in thermal_gaps.dropna(subset=["gap_eV"]).groupby("br_fraction"):
        gaps = group.set_index("temperature_K").gap_eV.sort_index()
        if 0.0 not in gaps.index or len(gaps) < 3:
            continue
        coldest, hottest = gaps.index[1], gaps.index[-1]
        rows.append(dict(br_fraction=x, coldest_K=coldest, hottest_K=hottest, step_eV=gaps[coldest] - gaps[0.0],
                         temperature_eV=gaps[hottest] - gaps[coldest]))
    return pd.DataFrame(rows, columns=["br_fraction", "coldest_K", "hottest_K", "step_eV", "temperature_eV"])


def step_and_temperature_text(changes: pd.DataFrame, resolution_eV: float) -> str:
    """A sentence on :func:`step_and_temperature_changes`: medians over x, and at how many x the
    step exceeds ``resolution_eV`` (the gap model's error, eV) either way."""
    if changes.empty:
        return "No composition has gaps at 0 K and at two MD temperatures, so the drop cannot be split."
    coldest, hottest = changes.coldest_K.iloc[0], changes.hottest_K.iloc[0]
    up, down = int((changes.step_eV > resolution_eV).sum()), int((changes.step_eV < -resolution_eV).sum())
    return (f"Median over x, the gap changes by {changes.step_eV.median():+.2f} eV from the relaxed 0 K cell to "
            f"{coldest:.0f} K and by {changes.temperature_eV.median():+.2f} eV from {coldest:.0f} to {hottest:.0f} K. "
            f"The step is larger than the model's error ({resolution_eV:.2f} eV) at {up + down} of {len(changes)} "
            f"compositions: down at {down}, up at {up}" + (
                f" (x = {', '.join(f'{x:g}' for x in changes[changes.step_eV > resolution_eV].br_fraction)})"
                if up else "") + ".")


def stabilised_modes(renormalised: pd.DataFrame, unstable_below_THz: float = -0.1) -> pd.DataFrame:
    """Per composition and temperature: modes imaginary at 0 K (harmonic frequency below
    ``unstable_below_THz``), how many of them have a converged Lorentzian peak at a positive
    frequency in the MD spectra, and how many of those peaks are underdamped (FWHM below the peak
    frequency: dynamically stabilised vibrations)."""
    unstable = renormalised[renormalised.harmonic_THz < unstable_below_THz]
    real_peak = unstable.converged.astype(bool) & (unstable.frequency_THz > 0)
    # a velocity spectrum always has weight at positive frequency; a peak narrower than its
    # frequency (underdamped) is the stronger sign of a restored vibration
    underdamped = real_peak & (unstable.fwhm_THz < unstable.frequency_THz)
    table = unstable.assign(real_peak=real_peak, underdamped=underdamped).groupby(["br_fraction", "temperature_K"]).agg(
        unstable_at_0K=("band", "size"), real_peak_in_MD=("real_peak", "sum"),
        underdamped_in_MD=("underdamped", "sum"), lowest_peak_THz=("frequency_THz", "min"))
    return table.reset_index()


def species_msd(frames: Sequence[Atoms], species: str = "Ag") -> np.ndarray:
    """Mean-square displacement (Å^2) of the ``species`` atoms from their positions in the first
    frame, per frame, with the centre-of-mass drift of the whole cell removed.

    Displacements are unwrapped frame to frame by the minimum image (frames must be close enough
    in time that no atom moves half a cell between two of them), so an ion that hops to a
    neighbouring site shows its full displacement.
    """
    if not frames:
        raise ValueError("no frames: the MSD needs at least one")
    selected = np.array(frames[0].get_chemical_symbols()) == species
    if not selected.any():
        raise ValueError(f"no {species} atoms in {frames[0].get_chemical_formula()}")
    masses = frames[0].get_masses()
    unwrapped = frames[0].positions.copy()
    previous = frames[0].positions
    msd = np.zeros(len(frames))
    for k, frame in enumerate(frames[1:], start=1):
        step = frame.positions - previous
        fractional = np.linalg.solve(frame.cell.T, step.T).T
        unwrapped += (fractional - np.round(fractional)) @ frame.cell.array
        previous = frame.positions
        displacement = unwrapped - frames[0].positions
        displacement -= masses @ displacement / masses.sum()
        msd[k] = float(np.mean(np.sum(displacement[selected] ** 2, axis=1)))
    return msd


def ions_stay_on_sites(msd: np.ndarray, nearest_site_distance: float, fraction: float = 0.25) -> bool:
    """Whether the ions stayed on their sites: the final MSD below (``fraction`` times the distance
    to the nearest equivalent site)^2. A hop to a neighbouring site adds that distance squared
    divided by the number of ions, so with ``fraction`` 1/4 in a cell of up to 16 such ions one hop
    is caught."""
    return bool(msd[-1] < (fraction * nearest_site_distance) ** 2)


def nearest_distance(atoms: Atoms, species: str) -> float:
    """Shortest distance (Å, periodic) between two atoms of ``species``: the distance to the
    nearest equivalent site, the scale of a hop."""
    indices = [i for i, symbol in enumerate(atoms.get_chemical_symbols()) if symbol == species]
    if len(indices) < 2:
        raise ValueError(f"{atoms.get_chemical_formula()} has fewer than two {species} atoms")
    distances = atoms.get_all_distances(mic=True)[np.ix_(indices, indices)]
    return float(distances[~np.eye(len(indices), dtype=bool)].min())
