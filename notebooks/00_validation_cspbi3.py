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
# # Validation: MD engine and tilt analysis on an independent CsPbI3 potential
#
# Before the MA/FA potential of this compendium exists, the molecular-dynamics engine
# ({mod}`softlattice.md.engine`) and the tilt-mode analysis ({mod}`softlattice.perovskite.modes`,
# {mod}`softlattice.perovskite.phases`) are checked on a potential nobody here trained: a published NEP4 model
# of CsPbI3 fitted to r2SCAN+rVV10 DFT. CsPbI3 has the same octahedral-tilt physics as MA/FA lead
# iodide: M- and R-point tilt instabilities of the cubic phase, and on heating the sequence
# orthorhombic $a^-a^-c^+$ → tetragonal $a^0a^0c^+$ → cubic $a^0a^0a^0$ seen in experiments
# {cite}`marronnier2018`.
#
# The summary below the setup cell is computed from the result set this page shows.

# %% tags=["parameters"]
profile = "full"  # "quick" or "full"
model = None  # path of the CsPbI3 nep.txt; None: ../shared/validation/cspbi3/nep.txt
repeat = None  # pseudo-cubic cells per axis, even and at least 4
rate_K_per_ps = None  # heating and cooling rate, K/ps
temperature_low = None  # K
temperature_high = None  # K
reference_ps = None  # length of the untilted reference run, ps
window = None  # samples per classification window
seed = None  # seed of velocities and thermostat noise
_declared = set(globals())  # papermill injects its parameters after this cell: see the next cell

# %% tags=["remove-input"]
from softlattice.infra.profiles import refuse_unknown_parameters

refuse_unknown_parameters(globals(), _declared)

# %%
import pandas as pd
from IPython.display import Markdown, display
from plotly.subplots import make_subplots

from softlattice.book import plotting
from softlattice.infra import profiles
from softlattice.perovskite.workflows.cspbi3 import (
    ValidationSettings, format_report, load_result_set, obtain_validation)

plotting.use_book_renderer()
settings = profiles.resolve(
    "00_validation_cspbi3", profile, repeat=repeat, rate_K_per_ps=rate_K_per_ps,
    temperature_low=temperature_low, temperature_high=temperature_high,
    reference_ps=reference_ps, window=window, seed=seed)
validation_settings = ValidationSettings(
    **{k: v for k, v in settings.items() if k != "profile"})
results = obtain_validation(validation_settings, model=model)
report, observations, windows_by_kind = load_result_set(results.folder)
print("results:", results.source)

# %% tags=["remove-input"]
def sequence(kind):
    steps = [report[f"{kind}_sequence"][0]]
    steps += [f"{t['to_phase']} ({t['temperature_K']:.0f} K)" for t in report[f"{kind}_transitions"]]
    return " → ".join(steps)


cubic = [h for h in report["hysteresis"] if h["high_phase"] == "a0a0a0" and pd.notna(h["heating_K"])
         and pd.notna(h["cooling_K"])]
display(Markdown(
    f"**In brief.** A {report['n_atoms']}-atom CsPbI3 cell heated and cooled at {report['settings']['rate_K_per_ps']:g} "
    f"K/ps with the independent NEP. Heating: {sequence('heating')}. Cooling: {sequence('cooling')}."
    + (f" The cubic phase appears at {cubic[0]['heating_K']:.0f} K on heating and is left at {cubic[0]['cooling_K']:.0f} K "
       f"on cooling, a hysteresis of {cubic[0]['hysteresis_K']:.0f} K." if cubic else "")))

# %% [markdown]
# ## Method
#
# NEP of CsPbI3 (third party; obtained from a public repository without a
# license file, so it is *not* part of this repository: it lives in `../shared/validation/cspbi3/`
# beside a checkout, and `-p model PATH` points elsewhere) evaluated by nep-adapters on the CPU; ASE
# LangevinBAOAB NPT with a fully flexible cell ({class}`softlattice.md.engine.FastLangevinBAOAB`), 2 fs time
# step; heating from $a^-a^-c^+$ and cooling from $a^0a^0a^0$ in continuous ramps. Mode amplitudes
# are the mean iodine displacement along each M/R tilt pattern; a mode is active when its window
# mean exceeds the thermal noise of a cubic reference run (mean + 5σ of window means, scaled with
# $\sqrt{T}$). Where the model is absent, the page shows the committed result set of the last run
# (see its provenance) and says so below.


# %% [markdown]
# The run's full report (click to expand):

# %% tags=["hide-output"]
print(format_report(report))

# %% [markdown]
# ## Tilt-mode amplitudes on heating and cooling
#
# Window means of $|Q|$ for the six tilt modes (Å of mean iodine displacement). The dashed lines are
# the activation thresholds from the cubic reference. On heating, the two out-of-phase ($R$) tilts
# and one in-phase ($M$) tilt of $a^-a^-c^+$ are active at low temperature; the $R$ tilts vanish
# first, then the $M$ tilt.

# %% tags=["hide-input"]
thresholds = report["thresholds"]
figure = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("heating", "cooling"))
for column, kind in enumerate(("heating", "cooling"), start=1):
    windows = windows_by_kind[kind]
    plotting.add_mode_traces(figure, windows, 1, column, showlegend=column == 1)
    scale = (windows.temperature_K / thresholds["reference_K"]) ** 0.5
    for family, dash in (("m", "dash"), ("r", "dot")):
        figure.add_scatter(x=windows.temperature_K, y=thresholds[f"{family}_threshold"] * scale,
                           mode="lines", line=dict(color="gray", dash=dash),
                           name=f"{family.upper()} threshold", legendgroup=family,
                           showlegend=column == 1, row=1, col=column)
figure.update_xaxes(title_text="temperature (K)")
figure.update_yaxes(title_text="window mean |Q| (Å)", row=1, col=1)
figure.update_layout(height=450)
figure.show()

# %% [markdown]
# ## Pseudo-cubic lattice parameters
#
# Cell lengths divided by the number of cells along each axis. In $a^-a^-c^+$ the in-phase tilt
# axis ($c$) is longer than the two out-of-phase ones; the three converge as the tilts melt.

# %% tags=["hide-input"]
figure = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("heating", "cooling"))
for column, kind in enumerate(("heating", "cooling"), start=1):
    plotting.add_lattice_traces(figure, windows_by_kind[kind], 1, column, showlegend=column == 1)
figure.update_xaxes(title_text="temperature (K)")
figure.update_yaxes(title_text="pseudo-cubic lattice parameter (Å)", row=1, col=1)
figure.update_layout(height=420)
figure.show()

# %% [markdown]
# ## Transition temperatures and hysteresis
#
# A transition lies midway between the last window of one stable phase and the first window of
# the next (a phase must persist for two windows). Heating and cooling are reported separately:
# the difference is the hysteresis of these fast ramps, not averaged away. A hysteresis needs the
# same transition on both ramps; the transitions seen in one direction only are listed below the
# table.

# %%
columns = ["low_phase", "high_phase", "heating_K", "cooling_K", "hysteresis_K"]
hysteresis = pd.DataFrame(report["hysteresis"], columns=columns)
both_ways = hysteresis.dropna(subset=["heating_K", "cooling_K"])
plotting.markdown_table(both_ways.rename(columns=dict(zip(columns, [
    "low-temperature phase", "high-temperature phase", "heating (K)", "cooling (K)",
    "hysteresis (K)"]))), digits=0)

# %%
for kind, other in (("heating", "cooling"), ("cooling", "heating")):
    seen = hysteresis[hysteresis[f"{kind}_K"].notna() & hysteresis[f"{other}_K"].isna()]
    listed = [f"{r.low_phase} ↔ {r.high_phase} at {getattr(r, f'{kind}_K'):.0f} K"
              for r in seen.itertuples()]
    display(Markdown(f"Only on {kind}: {'; '.join(listed) or 'none'}."))

# %% [markdown]
# ## Reading these numbers
#
# - The sequence and the order of the transitions ($R$ tilts vanish before the $M$ tilt on
#   heating) are what the validation checks: they test the projection, the classification and the
#   NPT engine together, on a potential trained independently of this compendium.
# - The temperatures are those of *this* potential, cell and ramp. The ramps here are about
#   500 times faster than the seed's 7-15 K/ns and the cell holds about a thousand atoms, so
#   transitions are superheated on heating and undercooled on cooling; the hysteresis measures
#   this. Slower ramps and larger cells (`-p rate_K_per_ps`, `-p repeat`) narrow it. No parameter
#   was adjusted toward any expected temperature.
# - Cooling need not end in the single-domain $a^-a^-c^+$ ground state. When tilt domains of
#   different orientation form, the global amplitudes of several axes are partially active and hover
#   near the threshold (the label then flickers, e.g. between $a^0a^0c^+$ and $a^0b^+c^+$), and an
#   axis whose M and R amplitudes are both active is labelled `*` (coexisting in-phase and
#   out-of-phase regions, the kind of state the MA/FA study finds at its morphotropic boundary).
#   The per-block amplitudes of {func}`softlattice.perovskite.modes.project_modes_local` resolve such domains.
