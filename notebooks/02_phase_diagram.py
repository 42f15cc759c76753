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
# # 02 · The MA(1-x)FA(x)PbI3 phase diagram from heating and cooling
#
# The seed {cite}`hainer2025mpb` heats and cools cells of 12,000-96,000 atoms between 1 and 400 K
# at 7-15 K/ns, projects the iodine displacements on the M and R tilt modes of the cubic cell,
# and reads the phases from which modes are active: $R_z$ for $a^0a^0c^-$, $M_z$ for $a^0a^0c^+$,
# $R_x$, $R_y$ and $M_z$ for $a^-a^-c^+$ (its Fig. 2). MAPbI3 is cubic above about 385 K,
# $a^0a^0c^-$ down to about 225 K and $a^-a^-c^+$ below that on heating, while on cooling the
# orthorhombic phase never forms (a first-order transition, kinetically trapped). FAPbI3 goes
# cubic, $a^0a^0c^+$, $a^-a^-c^+$. Between them lies a morphotropic phase boundary (MPB) between
# the two tetragonal phases, at 27 % FA in the seed.
#
# **Method of this page.** Potential: the NEP of chapter 01 (trained on CHGNet-r2SCAN labels, not
# on the seed's SCAN+rVV10 DFT). MD: ASE with nep-adapters on the CPU, NPT (Langevin-BAOAB, fully
# flexible cell), hydrogen at 4 amu with 1 fs steps (configurational averages do not depend on
# masses; chapter 01 checks the lattice parameters for this model). Each composition is heated
# from $a^-a^-c^+$ (as in the seed) and cooled from the cubic cell, in replicas with different
# A-site arrangements, molecular orientations and thermostat noise. Phases come from the same
# projection and noise thresholds as the CsPbI3 validation chapter: a mode is active when its
# window-mean amplitude exceeds the thermal noise of an untilted cubic reference run of the same
# cell by five standard deviations. The tasks run on Dask {cite}`dask2016` (`softlattice.perovskite.workflows.phase_diagram`): a LocalCluster
# on this machine, any scheduler on a cluster.
#
# The cells and ramps are what two cores allow: 768 atoms (4×4×4) at 40 K/ps, about 3,000-6,000
# times faster than the seed's ramps and 15-100 times smaller cells. The last section measures what
# that does at one composition (a 2,592-atom cell, a ramp half as fast).

# %% tags=["parameters"]
profile = "full"  # "quick" or "full"
model = None  # NEP file; default: the production model of chapter 01
fa_fractions = None  # compositions of the grid
replicas = None  # independent runs per composition and direction
ramp = None  # RampTask settings: temperature_low/high (K), rate_K_per_ps, repeat, sample_interval, reference_ps
size_test = None  # dict(fa_fraction, kind, repeat, ...): one ramp in a larger cell (RampTask fields)
rate_test = None  # dict(fa_fraction, kind, rate_K_per_ps): one ramp at another rate
extra_tasks = None  # further ramps or references (RampTask fields), e.g. the largest cell for chapter 03
frame_temperatures = None  # ramp temperatures (K) whose structures are kept for chapter 03
window = None  # samples per classification window
n_sigma = None  # activation threshold in standard deviations of the untilted reference
scheduler = None  # None (a loop), "local" (Dask LocalCluster) or a scheduler address
workers = None  # LocalCluster workers (default: one per core)
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
from softlattice.infra.paths import DATA_DIR, input_path
from softlattice.infra.resultsets import display_path
from softlattice.perovskite.workflows.phase_diagram import (
    cubic_boundary,
    load_sweep,
    obtain_sweep,
    phase_at,
    transition_statistics,
)

plotting.use_book_renderer()
settings = profiles.resolve("02_phase_diagram", profile, fa_fractions=fa_fractions, replicas=replicas, ramp=ramp,
                            size_test=size_test, rate_test=rate_test, extra_tasks=extra_tasks,
                            frame_temperatures=frame_temperatures, window=window, n_sigma=n_sigma,
                            scheduler=scheduler, workers=workers)
model_path = input_path(model) if model else DATA_DIR / "models" / "mafa-chgnet-r2scan" / "nep.txt"
sweep = obtain_sweep(settings, model_path, curated=DATA_DIR / "phase_diagram" / "mafa-chgnet-r2scan")
tables, source = load_sweep(sweep.folder), sweep.source
tasks, windows, transitions = tables["tasks"], tables["windows"], tables["transitions"]
base = settings["ramp"]
main_grid = (windows.repeat == base["repeat"]) & (windows.rate_K_per_ps == base["rate_K_per_ps"])
display(Markdown(f"Results: {source}. Model: `{display_path(model_path)}`. {len(tasks)} MD tasks, "
                 f"{int(tasks.eval('repeat**3 * 12').max())} atoms in the largest cell."))
failed = tasks[~tasks.completed.astype(bool)] if "completed" in tasks else tasks.iloc[:0]
if len(failed):
    display(Markdown(f"**{len(failed)} task(s) blew up** (the MD engine stopped them; they are left out of "
                     "everything below):"))
    display(failed[["fa_fraction", "kind", "repeat", "replica", "rate_K_per_ps", "failure"]])

# %% [markdown]
# ## Mode activation and lattice parameters of MAPbI3 and FAPbI3
#
# Window means of $|Q|$ for the six tilt modes (replica 0), heating as solid lines and cooling
# dashed, beside the pseudo-cubic lattice parameters (cell lengths per cubic cell). The seed's
# Fig. 2a-c and e-g show the same quantities for its larger, slower runs.

# %%
colors = dict(M_x="#fdae6b", M_y="#e6550d", M_z="#a63603", R_x="#9ecae1", R_y="#3182bd", R_z="#08519c")
ends = [x for x in (0.0, 1.0) if x in set(windows.fa_fraction)]
figure = make_subplots(rows=len(ends), cols=2, shared_xaxes=True, horizontal_spacing=0.08,
                       subplot_titles=[f"{name}, x = {x:g}" for x in ends for name in ("modes", "lattice")])
for row, x in enumerate(ends, start=1):
    for kind, dash in (("heating", "solid"), ("cooling", "dash")):
        ramp_windows = windows[main_grid & (windows.fa_fraction == x) & (windows.kind == kind) & (windows.replica == 0)]
        for mode, color in colors.items():
            figure.add_scatter(x=ramp_windows.temperature_K, y=ramp_windows[f"abs_Q_{mode}"], mode="lines",
                               line=dict(color=color, dash=dash), name=f"{mode} {kind}", legendgroup=mode,
                               showlegend=row == 1 and kind == "heating", row=row, col=1)
        for axis, color in zip("abc", ("#1b9e77", "#d95f02", "#7570b3")):
            figure.add_scatter(x=ramp_windows.temperature_K, y=ramp_windows[f"{axis}_A"], mode="lines",
                               line=dict(color=color, dash=dash), name=f"{axis} {kind}", legendgroup=axis,
                               showlegend=row == 1 and kind == "heating", row=row, col=2)
    figure.update_yaxes(title_text="|Q| (Å)", row=row, col=1)
    figure.update_yaxes(title_text="a, b, c (Å)", row=row, col=2)
figure.update_xaxes(title_text="temperature (K)", row=len(ends))
figure.update_layout(height=330 * len(ends))
figure.show()

# %% [markdown]
# ## The x-T phase diagram
#
# Every classification window of every ramp, coloured by its Glazer label (heating left of each
# composition, cooling right; replicas side by side), with the transition temperatures averaged
# over replicas (error bars: standard error over replicas combined with the window resolution).
# A `*` marks an axis with both M and R active (coexisting in-phase and out-of-phase regions);
# labels such as $a^0b^-c^+$ are tilt systems the projection finds but the seed does not report.

# %%
grid_windows = windows[main_grid].copy()
offsets = {("heating", r): -0.05 - 0.02 * r for r in range(settings["replicas"])}
offsets.update({("cooling", r): 0.05 + 0.02 * r for r in range(settings["replicas"])})
grid_windows["x_plot"] = grid_windows.fa_fraction + [offsets[(k, r)] for k, r in
                                                     zip(grid_windows.kind, grid_windows.replica)]
figure = make_subplots()
for phase, group in grid_windows.groupby("phase"):
    figure.add_scatter(x=group.x_plot, y=group.temperature_K, mode="markers", name=phase,
                       marker=dict(symbol="square", size=7), hovertext=group.kind)
statistics = transition_statistics(transitions)
grid_statistics = statistics[(statistics.repeat == base["repeat"]) & (statistics.rate_K_per_ps == base["rate_K_per_ps"])]
for kind, symbol in (("heating", "triangle-up"), ("cooling", "triangle-down-open")):
    chosen = grid_statistics[grid_statistics.kind == kind]
    figure.add_scatter(x=chosen.fa_fraction + (-0.12 if kind == "heating" else 0.12), y=chosen.temperature_K,
                       error_y=dict(array=chosen.error_K), mode="markers", name=f"transition ({kind})",
                       marker=dict(symbol=symbol, size=10, color="black"),
                       hovertext=chosen.from_phase + " → " + chosen.to_phase)
figure.update_layout(height=560, xaxis_title="FA fraction x", yaxis_title="temperature (K)")
figure.show()

# %%
columns = ["fa_fraction", "kind", "from_phase", "to_phase", "temperature_K", "error_K", "replicas"]
grid_statistics[columns].round(1).reset_index(drop=True)

# %% [markdown]
# ## Against experiment
#
# The cubic boundary of every ramp (heating: into $a^0a^0a^0$; cooling: out of it) against the
# experimental points in `data/reference/experiments.csv`: the end members' transitions
# (MAPbI3 {cite}`poglitsch1987`; FAPbI3 {cite}`weber2018`), and ranges from Francisco-López et al.
# {cite}`franciscolopez2020` as the seed's text quotes them. The compositional series of Weber et
# al. {cite}`weber2016`, Zheng et al. {cite}`zheng2017` and Mohanty et al. {cite}`mohanty2019`
# could not be transcribed here (their tables were not accessible); they are left out rather than
# read off a figure.

# %%
experiments = pd.read_csv(DATA_DIR / "reference" / "experiments.csv")
boundary = cubic_boundary(transitions[(transitions.repeat == base["repeat"]) &
                                      (transitions.rate_K_per_ps == base["rate_K_per_ps"])])
figure = make_subplots()
for kind, symbol in (("heating", "triangle-up"), ("cooling", "triangle-down")):
    chosen = boundary[boundary.kind == kind] if len(boundary) else boundary
    if len(chosen):
        figure.add_scatter(x=chosen.fa_fraction, y=chosen.temperature_K, error_y=dict(array=chosen.resolution_K),
                           mode="markers", marker=dict(symbol=symbol, size=10), name=f"this NEP, cubic boundary ({kind})")
points = experiments.dropna(subset=["temperature_low_K"])
for (label, method), group in points.groupby(["source", "method"], sort=False):
    x = 0.5 * (group.fa_fraction_low + group.fa_fraction_high)
    y = 0.5 * (group.temperature_low_K + group.temperature_high_K)
    figure.add_scatter(x=x, y=y, mode="markers", name=f"{label}",
                       error_x=dict(array=0.5 * (group.fa_fraction_high - group.fa_fraction_low)),
                       error_y=dict(array=0.5 * (group.temperature_high_K - group.temperature_low_K)),
                       marker=dict(symbol="diamond", size=9),
                       hovertext=group.from_phase + " ↔ " + group.to_phase + " (" + group.method + ")")
figure.update_layout(height=480, xaxis_title="FA fraction x", yaxis_title="temperature (K)")
figure.show()

# %% [markdown]
# ## The seed's numbers and ours
#
# Transition temperatures of the end members and the tetragonal phase just below the cubic
# boundary at each composition (the phase on either side of the MPB), as the seed reports them and
# as this potential gives them with the ramps above. Reference method here: CHGNet-r2SCAN through
# the NEP of chapter 01; seed: SCAN+rVV10 through its NEP.

# %%
def mean_temperature(x, kind, to_phase=None, from_phase=None):
    chosen = grid_statistics[(grid_statistics.fa_fraction == x) & (grid_statistics.kind == kind)]
    if to_phase:
        chosen = chosen[chosen.to_phase == to_phase]
    if from_phase:
        chosen = chosen[chosen.from_phase == from_phase]
    if not len(chosen):
        return "not seen"
    row = chosen.iloc[-1]
    return f"{row.temperature_K:.0f} ± {row.error_K:.0f} K ({row.from_phase} → {row.to_phase})"


below_cubic = phase_at(grid_windows[grid_windows.kind == "cooling"], 250.0)
tetragonal = below_cubic.groupby("fa_fraction").phase.agg(lambda p: ", ".join(sorted(set(p))))
comparison = pd.DataFrame([
    dict(quantity="MAPbI3 cubic boundary, heating", seed="≈ 385 K", this_work=mean_temperature(0.0, "heating", to_phase="a0a0a0")),
    dict(quantity="MAPbI3 cubic boundary, cooling", seed="≈ 385 K", this_work=mean_temperature(0.0, "cooling", from_phase="a0a0a0")),
    dict(quantity="MAPbI3 a0a0c- → a-a-c+ (heating only)", seed="≈ 225 K (heating); absent on cooling",
         this_work=mean_temperature(0.0, "heating", to_phase="a0a0c-")),
    dict(quantity="FAPbI3 cubic boundary, heating", seed="see its Fig. 2e-g", this_work=mean_temperature(1.0, "heating", to_phase="a0a0a0")),
    dict(quantity="MPB (c- ↔ c+ below the cubic boundary)", seed="x = 0.27 at 250 K",
         this_work="phases at 250 K on cooling: " + "; ".join(f"x={x:g}: {p}" for x, p in tetragonal.items())),
])
comparison

# %% [markdown]
# ## Finite size and ramp rate
#
# One composition cooled three ways: the grid's cell and rate, a larger cell at the same rate
# (cooled only to 200 K: its cost grows with the cube of the repeat), and the grid's cell at half
# the rate. A transition that moves by more than its error between them is controlled by the
# simulation, not the potential. Chapter 03 analyses a still larger cell (6,144 atoms) for domains.

# %%
if settings.get("size_test"):
    x_test, kind_test = settings["size_test"]["fa_fraction"], settings["size_test"]["kind"]
    tests = statistics[(statistics.fa_fraction == x_test) & (statistics.kind == kind_test)]
    tests = tests.assign(atoms=12 * tests.repeat ** 3)
    display(Markdown(f"x = {x_test:g}, {kind_test}:"))
    display(tests[["repeat", "atoms", "rate_K_per_ps", "from_phase", "to_phase", "temperature_K", "error_K",
                   "replicas"]].round(1).reset_index(drop=True))

# %% [markdown]
# ## Reading these numbers
#
# - Which tetragonal phase a composition picks and where the cubic boundary lies are properties
#   of the potential, hence of its reference (CHGNet-r2SCAN, see the screening in chapter 01), and
#   of the ramp: at 40 K/ps transitions are superheated on heating and undercooled on cooling, and
#   the heating/cooling gap is the measure of that. Nothing here was adjusted toward the seed's or
#   the experiments' numbers.
# - A 768-atom cell holds 64 A sites: x = 0.25 is 16 FA cations in one arrangement per replica.
#   Replicas with other arrangements give the error bars; the seed's cells average over thousands.
# - Labels with `*` or with tilts about two or three axes on cooling are domain states (several
#   orientations of the tetragonal tilt in one cell); chapter 03 resolves them per layer and cell.
