# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Over- and underdamped tilt dynamics
#
# This chapter reproduces the seed's analysis of the tilt dynamics in the cubic phase
# {cite}`hainer2025mpb` (its Fig. 5). Cubic MAPbI3 has imaginary phonons at M and R: harmonic theory
# says the cubic structure is unstable to tilting, and only anharmonic dynamics stabilise it above
# the transition. The seed follows the M and R mode coordinates in MD, fits their autocorrelation
# functions (ACFs) with a damped harmonic oscillator (DHO) and finds the modes heavily overdamped
# near the transition, underdamped far above it, with a region where M is overdamped and R is not;
# the composition where both change character at the same temperature coincides with the MPB. The
# summary below the setup cell is computed from the phonons and the result sets this page shows.
#
# As in chapters 02 and 03, two models appear: the **production model** of chapter 01 gives the
# harmonic phonons and the over/underdamped map (long runs from each composition's own cubic
# boundary), and the **first model** (trained on the soft teacher CHGNet-r2SCAN) the first, short
# NVT grid, kept as a labelled comparison.

# %% tags=["parameters"]
profile = "full"  # "quick" or "full"
fa_fractions = None  # compositions of the NVT grid
temperatures = None  # temperatures (K) of the NVT grid
run_ps = None  # length of each NVT run, ps
repeat = None  # cell: repeat^3 cubic cells
max_lag_ps = None  # longest ACF lag fitted, ps
supercell = None  # phonopy supercell of the 12-atom cell
model = None  # NEP file of the phonons and the damping map; default: the production model of chapter 01
first_model = None  # NEP file of the short NVT grid; default: the first model (a comparison)
damping_map = None  # overrides of the damping-map profile 04_damping_map (a dict)
_declared = set(globals())  # papermill injects its parameters after this cell: see the next cell

# %% tags=["remove-input"]
from softlattice.infra.profiles import refuse_unknown_parameters

refuse_unknown_parameters(globals(), _declared)

# %%
import json

import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from plotly.subplots import make_subplots

from softlattice.analysis.phonons import (
    band_structure, cubic_phonons, softest_mode, tilt_mode)
from softlattice.book import plotting
from softlattice.infra import profiles
from softlattice.infra.paths import DATA_DIR, input_path
from softlattice.infra.resultsets import display_path
from softlattice.perovskite.phonons import relaxed_cubic_cell
from softlattice.perovskite.workflows.boundaries import NoCubicPhase, cubic_boundaries
from softlattice.perovskite.workflows.damping import damping_ratios, obtain_damping, obtain_damping_map
from softlattice.perovskite.workflows.potential import FIRST_MODEL, production_model

plotting.use_book_renderer()
settings = profiles.resolve("04_damping", profile, fa_fractions=fa_fractions,
                            temperatures=temperatures, run_ps=run_ps, repeat=repeat,
                            max_lag_ps=max_lag_ps, supercell=supercell)
model_path = input_path(model) if model else production_model()
first_model_path = input_path(first_model) if first_model else FIRST_MODEL

# harmonic phonons of the relaxed cubic MAPbI3 cell; the tilt (mostly iodine) mode
cell = relaxed_cubic_cell(model_path)
phonon = cubic_phonons(cell, model_path, supercell=settings["supercell"])
bands = band_structure(phonon)
iodine = np.array(cell.get_chemical_symbols()) == "I"
soft = []
for name, q in (("Γ", (0, 0, 0)), ("X", (0.5, 0, 0)), ("M", (0.5, 0.5, 0)),
                ("R", (0.5, 0.5, 0.5))):
    frequency, vector = softest_mode(phonon, q)
    weight = np.sum(np.abs(vector) ** 2, axis=1)
    tilt_frequency, tilt_share = tilt_mode(phonon, q, cell)
    soft.append(dict(point=name, softest_THz=frequency,
                     softest_iodine_share=weight[iodine].sum() / weight.sum(),
                     tilt_THz=tilt_frequency, tilt_iodine_share=tilt_share))
soft = pd.DataFrame(soft).set_index("point")

# the production model's damping map (computed outside the page in the full profile; None until
# committed, or while chapter 02's end-member ramps that set its lower ends are missing)
map_settings = profiles.resolve("04_damping_map", profile, **(damping_map or {}))
no_cubic_phase = None  # why the map cannot be run with this model, if it cannot
try:
    map_boundary = cubic_boundaries(map_settings, model_path)
    damping_result = None if map_boundary is None else obtain_damping_map(
        map_settings, model_path, map_boundary, curated=DATA_DIR / "damping_map" / model_path.parent.name,
        compute=profile != "full")
except NoCubicPhase as error:
    map_boundary, damping_result, no_cubic_phase = None, None, str(error)
map_summary = None if damping_result is None else json.loads((damping_result.folder / "summary.json").read_text())

# the first model's short NVT grid and its DHO fits
damping = obtain_damping(settings, first_model_path,
                         curated=DATA_DIR / "damping" / first_model_path.parent.name)
fits, acfs, source = damping.table("fits"), damping.table("acfs"), damping.source
display(Markdown(f"Production model: `{display_path(model_path)}`; damping map: "
                 f"{damping_result.source if damping_result is not None else 'not computed yet'}. First model: "
                 f"`{display_path(first_model_path)}`; its short NVT grid: {source}."))

# %% tags=["remove-input"]
runs = fits.drop_duplicates(["fa_fraction", "temperature_K"])
failed_runs = runs[runs.regime == "run failed"]
fitted = fits[fits.regime != "run failed"]
regime_counts = fitted.regime.value_counts()
if no_cubic_phase:
    map_brief = f"its over/underdamped map cannot be run: {no_cubic_phase}."
elif map_summary is None:
    map_brief = "its over/underdamped map is not computed yet."
else:
    crossover = map_summary["crossover"]
    map_brief = (f"over/underdamped map from {len(map_summary['boundaries_K'])} compositions' cubic boundaries; "
                 + (f"mode crossover at x = {crossover['crossover']:.2f} (interval {crossover['low']:.2f}-"
                    f"{crossover['high']:.2f})." if crossover and np.isfinite(crossover["crossover"]) else
                    "no mode crossover: " + (crossover["reason"] if crossover else "no crossing table") + "."))
display(Markdown(
    f"**In brief: the production model** (`{model_path.parent.name}`). In its cubic MAPbI3 the tilt modes at M "
    f"and R are at {soft.tilt_THz['M']:.2f} and {soft.tilt_THz['R']:.2f} THz (negative: imaginary), the seed's "
    f"harmonic instability; {map_brief}"))
display(Markdown(
    f"**The first model, short NVT grid** (a comparison). Of {len(runs)} NVT runs of the cubic cell ({len(set(runs.fa_fraction))} compositions × "
    f"{len(set(runs.temperature_K))} temperatures), {len(failed_runs)} blew up before the end; the "
    f"{len(fitted)} fitted mode families are "
    + ", ".join(f"{n} {regime.replace('overdamped (limit)', 'overdamped with γ unresolved')}"
                for regime, n in regime_counts.items())
    + ". The seed's underdamped region and its M/R crossover are "
    + ("not reached by the finished runs." if "underdamped" not in regime_counts else
       "compared at the end of the page.")))

# %% [markdown]
# ## Method
#
# Potentials: the NEPs of chapter 01 (production model: phonons and the map; first model, trained
# on CHGNet-r2SCAN labels: the short grid). Phonons:
# phonopy {cite}`togo2023phonopy` through calorine's `get_force_constants` on the 12-atom MAPbI3
# cell (positions relaxed in the fixed cubic cell), 2×2×2 supercell. Dynamics: NVT of the cubic
# cell with **real masses** (0.5 fs steps, a sample every 5 fs; dynamics depend on masses),
# run as tasks of {mod}`softlattice.perovskite.workflows.phase_diagram`; ACFs with dynasor {cite}`fransson2021dynasor`, DHO fits
# with scipy ({mod}`softlattice.perovskite.workflows.damping`), averaged over the three equivalent axes.

# %% [markdown]
# ## Harmonic phonons of cubic MAPbI3
#
# Negative frequencies stand for imaginary ones; bands that dip below zero are orange. The axis
# shows the imaginary branches and the lead-iodide framework band up to 4 THz, where the tilts
# live; the molecules' modes lie far above (zoom out, or double-click the plot, to see them). The
# table lists, at each high-symmetry point, the softest mode and the softest mostly-iodine mode (the
# tilt), with the iodine share of each eigenvector: a tilt moves iodine, a libration moves the
# molecule; where the softest mode is imaginary and not a tilt, it is a molecular libration (the
# molecule, relaxed in a fixed cubic cell, need not sit at a minimum of its orientation); the seed's
# figure shows the framework branches. Production model.

# %% tags=["hide-input"]
FRAMEWORK_BAND_THz = 4.0  # the Pb-I framework (and its tilts) lies below this; the molecules' modes above
plotting.dispersion_figure(bands, y_range=plotting.low_frequency_range(bands.frequency_THz, FRAMEWORK_BAND_THz)).show()

# %%
soft.round(3)

# %% [markdown]
# ## The over/underdamped map
#
# With the production model. The first model's runs (below) are short (their ACFs are cut before
# they decay) and start at fixed temperatures that ignore where each composition's cubic phase
# begins. The map follows the protocol of issue 17: for each composition, runs from 20 K above its cubic boundary (where heating enters the
# cubic phase in chapter 02's slow end-member ramps, linear in x between MAPbI3 and FAPbI3) up to
# 600 K; each run equilibrates the cell in NPT, then runs NVT at the mean NPT cell for 50 ps (real
# masses, 0.5 fs, 768 atoms); ACFs of the mode coordinates and of their velocities to 10 ps are
# fitted jointly by a DHO over windows of 1, 1.5 and 2 times the lag where each ACF has decayed
# below 0.05 ({func}`softlattice.analysis.dho.fit_windows`; a fit that depends on the window says
# so in the table). The crossing temperature of a family is where its damping ratio passes 1
# (interpolated in log ratio; its interval from resampling each ratio within its error), and the
# mode crossover is the composition where the M and R crossings meet
# ({mod}`softlattice.perovskite.damping_map`), compared with chapter 02's MPB where both exist.

# %% tags=["hide-input"]
from softlattice.book.damping_plots import damping_ratio_figure
from softlattice.perovskite.workflows.coexistence import mpb_text, obtain_coexistence
from softlattice.perovskite.workflows.damping import damping_ratio_table

if no_cubic_phase:
    display(Markdown(f"**Cannot be run with this model**: the map samples the cubic phase from {map_settings['margin_K']:g} K "
                     f"above each composition's transition up to {map_settings['top_K']:g} K, and {no_cubic_phase}."))
elif map_boundary is None:
    display(Markdown("**Not computed yet for this model**: the map's lower ends come from chapter 02's end-member "
                     "ramps, which have not been run for it."))
elif damping_result is None:
    display(Markdown(f"**Not computed yet for this model**: {len(map_settings['fa_fractions'])} compositions × "
                     f"{map_settings['count']} temperatures of {map_settings['npt_ps']:g} + {map_settings['nvt_ps']:g} ps "
                     "are run outside the page (`python -m softlattice.perovskite.workflows.damping --map --part K/N`, "
                     "two processes, resumable), then committed."))
else:
    map_fits = pd.read_csv(damping_result.folder / "fits.csv")
    crossings = pd.read_csv(damping_result.folder / "crossings.csv")
    display(Markdown(f"Runs: {damping_result.source}; cubic boundaries used (K): "
                     + ", ".join(f"x = {x}: {t:.0f}" for x, t in map_summary["boundaries_K"].items()) + "."))
    map_ratios = damping_ratio_table(map_fits, map_settings["factors"][0])
    if len(map_ratios):
        damping_ratio_figure(map_ratios).show()
    window_names = map_fits.factor.map(lambda f: f"{f:g} × decay lag" if np.isfinite(f) else "no window")
    by_window = map_fits.assign(window=window_names).pivot_table(
        index=["fa_fraction", "temperature_K", "family"], columns="window", values="regime", aggfunc="first")
    display(Markdown("Regime of every fit per window ('no window': the ACF never decayed, or the run failed):"))
    display(plotting.markdown_table(by_window, index=True))
    display(plotting.markdown_table(crossings) if len(crossings) else
            Markdown("No run has a converged fit with a resolved damping ratio, so no crossing can be read."))
    crossover = map_summary["crossover"]
    coexistence_result = obtain_coexistence(profiles.resolve("02_coexistence", profile)["profile"], model_path,
                                            curated=DATA_DIR / "coexistence" / model_path.parent.name, compute=False)
    coexistence_summary = (json.loads((coexistence_result.folder / "summary.json").read_text())
                           if coexistence_result is not None else None)
    if crossover and np.isfinite(crossover["crossover"]):
        text = (f"Mode crossover at x = {crossover['crossover']:.2f} (interval {crossover['low']:.2f}-"
                f"{crossover['high']:.2f}); the seed puts it next to its MPB at x = 0.27.")
        if coexistence_summary is not None:
            text += f" This model's coexistence runs: {mpb_text(coexistence_summary)}."
    else:
        text = "No mode crossover: " + (crossover["reason"] if crossover else "no crossing table") + "."
    display(Markdown(text))

# %% [markdown]
# ## The first model: a short NVT grid
#
# From here to the end: the first protocol with the first model, a comparison. NVT runs of the cubic
# cell at fixed temperatures (the same at every composition), with real masses.

# %% [markdown]
# ### Mode autocorrelation functions
#
# ACFs of the M and R families in the cubic cell at each composition and temperature (darker:
# hotter), with the DHO fits (dotted). An underdamped ACF oscillates through zero; an overdamped one
# decays without crossing it.

# %% tags=["hide-input"]
from dynasor.tools.damped_harmonic_oscillator import acf_position_dho

compositions = sorted(set(acfs.fa_fraction))
figure = make_subplots(rows=1, cols=len(compositions), subplot_titles=[f"x = {x:g}" for x in compositions],
                       shared_yaxes=True)
palette = dict(M="#e6550d", R="#3182bd")
for column, x in enumerate(compositions, start=1):
    for (temperature, family), group in acfs[acfs.fa_fraction == x].groupby(["temperature_K", "family"]):
        figure.add_scatter(x=group.lag_ps, y=group.acf, mode="lines", name=f"{family} {temperature:.0f} K",
                           line=dict(color=palette[family]), opacity=0.4 + 0.6 * temperature / acfs.temperature_K.max(),
                           showlegend=column == 1, row=1, col=column)
        fit = fits[(fits.fa_fraction == x) & (fits.temperature_K == temperature) & (fits.family == family)].iloc[0]
        if fit.converged:
            figure.add_scatter(x=group.lag_ps, y=acf_position_dho(group.lag_ps.to_numpy(), fit.w0, fit.gamma, fit.amplitude),
                               mode="lines", line=dict(color=palette[family], dash="dot"), showlegend=False,
                               row=1, col=column)
figure.update_xaxes(title_text="lag (ps)")
figure.update_yaxes(title_text="ACF", row=1, col=1)
figure.update_layout(height=420)
figure.show()

# %% [markdown]
# ### Fitted frequencies, damping and regime
#
# $\omega_0$ and $\gamma$ in rad/ps with one-standard-deviation errors from the fit; the regime is
# 'critical' when $2\omega_0$ and $\gamma$ agree within two standard deviations. Deep in the
# overdamped limit the ACF is $e^{-\lambda t}$ with $\lambda \approx \omega_0^2/\gamma$, and only
# $\lambda$ is determined: the fit then returns $\omega_0$ and $\gamma$ with errors larger than
# themselves. Such fits are shown with the bounds the data do set ($\omega_0 \ge \lambda$,
# $\gamma \ge 2\lambda$ for any overdamped oscillator), as "overdamped, γ unresolved (> 2λ)", not
# with the fitted numbers. Fits that failed, and runs that blew up, are listed with the reason, not
# dropped.

# %%
fit_table = plotting.dho_fit_table(fits)  # overdamped-limit fits as bounds, not numbers
plotting.markdown_table(fit_table.rename(columns={"fa_fraction": "x",
                                                 "temperature_K": "T (K)"}))

# %% [markdown]
# The raw fits, with the fit messages (click to expand):

# %% tags=["hide-output"]
display(fits.round(3))
fits.pivot_table(index=["fa_fraction", "temperature_K"], columns="family", values="regime",
                 aggfunc="first")

# %% [markdown]
# ### The regimes over (x, T), on chapter 02's phase diagram
#
# Each NVT run as a point, coloured by the pair of regimes of its M and R families, with the cubic
# boundary of chapter 02's heating ramps (the same profile, the first model). The seed's three regions
# are both underdamped, only M overdamped, and both overdamped; its mode crossover (M and R
# changing character at the same temperature) lies at the MPB.

# %%
from softlattice.perovskite.workflows.phase_diagram import (
    cubic_boundary, load_sweep, obtain_sweep)

sweep_settings = profiles.resolve("02_phase_diagram", profile)
sweep = obtain_sweep(sweep_settings, first_model_path,
                     curated=DATA_DIR / "phase_diagram" / first_model_path.parent.name)
sweep_tables, sweep_source = load_sweep(sweep.folder), sweep.source
ramp = sweep_settings["ramp"]
sweep_transitions = sweep_tables["transitions"]
boundary = cubic_boundary(sweep_transitions[
    (sweep_transitions.repeat == ramp["repeat"])
    & (sweep_transitions.rate_K_per_ps == ramp["rate_K_per_ps"])])
regimes = fits.pivot_table(index=["fa_fraction", "temperature_K"], columns="family",
                           values="regime", aggfunc="first")
display(Markdown(f"Phase boundary: {sweep_source}."))

# %% tags=["hide-input"]
heating = boundary[boundary.kind == "heating"] if len(boundary) else boundary
figure = make_subplots()
if len(heating):
    mean_boundary = heating.groupby("fa_fraction").temperature_K.agg(["mean", "min", "max"]).reset_index()
    figure.add_scatter(x=mean_boundary.fa_fraction, y=mean_boundary["mean"], mode="lines+markers",
                       error_y=dict(array=mean_boundary["max"] - mean_boundary["mean"],
                                    arrayminus=mean_boundary["mean"] - mean_boundary["min"]),
                       name="cubic boundary on heating (chapter 02)", line=dict(color="black"))
pairs = regimes.reset_index().replace({"overdamped (limit)": "overdamped, γ unresolved"})
pairs["pair"] = "M " + pairs["M"].astype(str) + ", R " + pairs["R"].astype(str)
for pair, group in pairs.groupby("pair"):
    figure.add_scatter(x=group.fa_fraction, y=group.temperature_K, mode="markers", name=pair,
                       marker=dict(size=16, symbol="square"))
figure.update_layout(height=460, xaxis_title="FA fraction x", yaxis_title="temperature (K)",
                     title="Damping regimes of the NVT runs")
figure.show()

# %% [markdown]
# ### Reading the first model's results

# %% tags=["remove-input"]
display(Markdown(
    f"{len(runs)} NVT runs, {len(failed_runs)} blew up before the end: "
    + (", ".join(f"x = {r.fa_fraction:g} at {r.temperature_K:.0f} K ({r.message.removeprefix('run blew up: ')})"
                 for r in failed_runs.itertuples()) or "none")
    + ". Regimes of the fitted families: " + ", ".join(f"{regime} {n}" for regime, n in regime_counts.items())
    + ". The damping ratio γ/2ω0 of the fits that determine both (above 1 overdamped, below 1 underdamped):"))

# %%
damping_ratios(fits).round(2)  # gamma / (2 w0): above 1 overdamped, below 1 underdamped

# %% [markdown]
# - **No underdamped tilt mode in this grid** (see the counts above): in every run that finished,
#   both families are overdamped, critical, or so overdamped that only $\omega_0^2/\gamma$ (the
#   relaxation rate) is determined. The seed's three regions, and the composition where M and R
#   change character at the same temperature, lie at temperatures this grid does not reach with
#   finished runs: the hottest runs with real masses blew up (two atoms closer than 0.6 Å). So the
#   crossover composition cannot be located and compared with an MPB, which chapter 03 does not
#   resolve either. The failures mark a limit of this potential at high temperature with real
#   masses (chapter 02's phase-diagram ramps, with heavy hydrogen and to lower temperatures, did
#   not blow up in the same way).
# - The damping ratio $\gamma/2\omega_0$ (table above) falls with temperature for M, toward the
#   underdamped side, while R stays much more overdamped wherever both are fitted: the opposite
#   asymmetry to the seed's intermediate region, where only M is overdamped.
# - The runs start from the cubic cell. For MAPbI3 the lowest temperature lies below chapter 02's
#   cubic boundary on heating, so there the tilt can begin to condense during the run, which makes
#   its ACF long and overdamped-looking.
# - The grid is coarse (real masses need 0.5 fs steps, half the phase-diagram runs' step), so
#   the boundaries between regimes are bracketed at best; a run must be many times longer than
#   the slowest decay for a stable fit (the ACF code refuses lags longer than a fifth of the run).
