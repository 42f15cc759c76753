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
# # 01 · The potential: reference labels, active learning and checks
#
# The seed {cite}`hainer2025mpb` trains a NEP4 model (cutoffs 8/4 Å, 5 radial and 25 angular
# descriptor components, 30 hidden neurons) on 986 SCAN+rVV10 structures: strained and scaled
# structures of every phase and composition, then active learning with an ensemble of five models.
# It reports RMSEs of 3.9 meV/atom, 82 meV/Å and 134 MPa, FA rotation paths about three axes and
# phase energy differences against DFT (its Fig. 1).
#
# **Method of this page.** Labels: the reference named in the parameters (VASP SCAN+rVV10 cannot
# run here; which shipped or fine-tuned model is the best stand-in is measured in the last sections
# of this page, against DFT, an independent DFT-trained CsPbI3 potential and experiment, by a rule
# fixed before the measurement). Model: NEP4 with the seed's hyperparameters plus a ZBL core
# (below), trained on the CPU with neppo, evaluated with nep-adapters. Every error below is
# measured **against that reference, not against the seed's DFT**: a small error means the NEP
# reproduces its reference, whose own errors against DFT are measured at the end of the page.
#
# Structures whose reference forces exceed 25 eV/Å (near-collisions) are left out of training.
# The model carries a typewise ZBL repulsion (GPUMD's `zbl` form, factor 0.7 of the summed
# covalent radii) that the seed's model does not have: a guard against atoms collapsing in long
# MD where no training structure has close contacts; it is zero at ordinary distances. The recipe
# of the model on this page ({data}`softlattice.perovskite.workflows.potential.RECIPES`) follows
# from its parameters:

# %% tags=["parameters"]
profile = "full"  # "quick" or "full"
recipe = None  # a recipe of softlattice.perovskite.workflows.potential.RECIPES: v2 (the production student), v3-v5 (students tried), full (the first model), quick (tiny, from scratch)
reference = None  # reference method, e.g. "chgnet-r2scan", "sevennet-mf0-r2scan"
checks = None  # settings of the NEB, phase-energy and MD checks: a CheckSettings mapping or a check profile name, v1 or v2
_declared = set(globals())  # papermill injects its parameters after this cell: see the next cell

# %% tags=["remove-input"]
from softlattice.infra.profiles import refuse_unknown_parameters

refuse_unknown_parameters(globals(), _declared)

# %%
import json

import pandas as pd
from IPython.display import Markdown, display
from plotly.subplots import make_subplots

from softlattice.book import plotting
from softlattice.infra import profiles
from softlattice.infra.keys import file_hash
from softlattice.infra.paths import DATA_DIR
from softlattice.models.nep import error_metrics, errors_by_origin, load_sets, parity_data
from softlattice.perovskite.workflows.checks import check_settings, load_checks, obtain_checks, tilted_noise_references
from softlattice.perovskite.workflows.masscheck import mass_differences
from softlattice.perovskite.workflows.potential import (
    FIRST_MODEL, obtain_production_model, recipe_parameters, recipe_summary)
from softlattice.perovskite.workflows.teacher import page_reference_note

plotting.use_book_renderer()
settings = profiles.resolve("01_potential", profile, recipe=recipe, reference=reference, checks=checks)
parameters = recipe_parameters(settings["recipe"], reference=settings["reference"])
model = obtain_production_model(parameters, stored=sorted((DATA_DIR / "models").glob("*")))
folder = model.folder
train, test = load_sets(folder)
print(f"model: {model.source}; {len(train)} training and {len(test)} test structures")
chosen_teacher = json.loads((DATA_DIR / "reference" / "teacher" / "choice.json").read_text())["teacher"]
display(Markdown(f"**Recipe `{settings['recipe']}`** (labels: `{settings['reference']}`; command "
                 f"`python -m softlattice.perovskite.workflows.potential --recipe {settings['recipe']} --output DIR`):\n\n"
                 + recipe_summary(parameters) + "\n\n" + page_reference_note(settings["reference"], chosen_teacher, folder.name)))

# %% [markdown]
# ## The dataset
#
# Structures by origin, phase and composition. Systematic structures carry their starting tilt
# phase; MD snapshots are listed by the temperature of the run that produced them.

# %%
def label(atoms):
    if atoms.info.get("origin") == "md":
        pressure = atoms.info.get("pressure_GPa", 0.0)
        return f"MD {atoms.info.get('temperature', 0):.0f} K" + (f", {pressure:g} GPa" if pressure else "")
    return atoms.info.get("glazer", "?")


composition = pd.DataFrame([dict(set=name, x=a.info.get("fa_fraction"), phase=label(a),
                                 origin=a.info.get("origin", "?"))
                            for name, subset in (("train", train), ("test", test)) for a in subset])
composition.pivot_table(index="x", columns="phase", values="set", aggfunc="count", fill_value=0)

# %% [markdown]
# ## Active learning
#
# One row per generation: the training-set size, how many MD snapshots the exploration produced,
# the largest and median ensemble force spread over them (eV/Å) and how many were labelled.

# %%
generations = pd.read_csv(folder / "generations.csv")
generations.round(3)

# %% [markdown]
# The stopping rule compares the median spread with 0.15 eV/Å. Two things set how low it can go:
# the spread is the largest over a cell's atoms, so it grows with the number of atoms (cells of
# different sizes are listed apart below), and the members disagree even on structures like
# those they were trained on (`training_like_median`: the members on 120 of the systematic cells),
# a floor that more exploration alone does not lower.

# %%
if (folder / "spread_diagnostics.csv").exists():
    display(pd.read_csv(folder / "spread_diagnostics.csv").round(3))
else:
    print("this model's result set has no spread diagnostics (it was built before they were recorded)")

# %% [markdown]
# ## Training curve of the final model
#
# Root-mean-square errors on the training and test sets during training (neppo's reports).

# %%
history = pd.read_csv(folder / "history.csv")
figure = make_subplots(rows=1, cols=2, subplot_titles=("forces (eV/Å)", "energy (meV/atom)"))
for split, dash in (("train", "solid"), ("test", "dot")):
    figure.add_scatter(x=history.step, y=history[f"rmse_forces_{split}"], name=f"{split}",
                       line=dict(dash=dash, color="#3182bd"), row=1, col=1)
    figure.add_scatter(x=history.step, y=1000 * history[f"rmse_energy_{split}"], name=f"{split}",
                       line=dict(dash=dash, color="#e6550d"), row=1, col=2, showlegend=False)
figure.update_yaxes(type="log")
figure.update_xaxes(title_text="training step")
figure.update_layout(height=380)
figure.show()

# %% [markdown]
# ## Parity on the held-out test set
#
# The model against its reference on the test structures, beside the seed's numbers (measured
# against SCAN+rVV10 DFT on its own test set: a different reference and different data, so the
# comparison shows scale, not a ranking).

# %%
parity = parity_data(folder / "nep.txt", test)
figure = make_subplots(rows=1, cols=3, subplot_titles=("energy (eV/atom)", "forces (eV/Å)", "stress (GPa)"))
for column, frame in enumerate(parity.values(), start=1):
    figure.add_scatter(x=frame.reference, y=frame.model, mode="markers", marker=dict(size=3),
                       showlegend=False, row=1, col=column)
    plotting.add_identity_line(figure, frame.to_numpy(), row=1, col=column)
figure.update_xaxes(title_text=f"{settings['reference']}")
figure.update_yaxes(title_text="NEP", row=1, col=1)
figure.update_layout(height=380)
figure.show()

metrics = {name: error_metrics(frame) for name, frame in parity.items()}
pd.DataFrame([
    dict(quantity="energy", unit="meV/atom", this_model=1000 * metrics["energy"]["rmse"], seed=3.9,
         this_r2=metrics["energy"]["r2"], seed_r2=0.9997),
    dict(quantity="forces", unit="meV/Å", this_model=1000 * metrics["forces"]["rmse"], seed=82.0,
         this_r2=metrics["forces"]["r2"], seed_r2=0.9896),
    dict(quantity="stress", unit="MPa", this_model=1000 * metrics["stress"]["rmse"], seed=134.0,
         this_r2=metrics["stress"]["r2"], seed_r2=0.9938),
]).round(4)

# %% [markdown]
# The same errors split by where the test structures came from (the seed's Fig. 1a groups its
# parity plot by structure type the same way): systematic cells (strained, rattled ideal phases)
# and MD snapshots selected by active learning, which are the harder, more anharmonic ones.

# %%
errors_by_origin(folder / "nep.txt", test).round(1)

# %% [markdown]
# ## Checks against the reference
#
# Three checks of what the seed's Fig. 1b-e shows, each computed with the NEP and with the
# reference on the same structures ({mod}`softlattice.perovskite.workflows.checks`). In the full profile they
# come from the committed result set next to the model when its provenance (settings, reference,
# model hash) matches, else they are computed now.

# %%
checks = obtain_checks(str(folder / "nep.txt"), settings["reference"], check_settings(settings["checks"]),
                       curated=str(folder / "checks"))
tables = load_checks(checks.folder)
print(f"checks: {checks.source}")

# %% [markdown]
# ### FA rotation paths
#
# One FA cation in cubic FAPbI3 (96 atoms, a frozen framework and frozen neighbours) turns by
# 180 degrees about its N-N axis, its C-H (two-fold) axis and the normal of its plane;
# climbing-image NEB (ASE) relaxes the path with the cation's atoms free. The seed's paths are
# computed in its own relaxed cells, so only shapes and scales compare. A negative energy along a
# path means the relaxed start is not the lowest orientation that method finds on the way: the
# NEB is only as good as its end states, which are local minima of each method separately.

# %%
neb = tables["neb"]
axes = list(dict.fromkeys(neb.axis))
figure = make_subplots(rows=1, cols=len(axes), subplot_titles=[f"about {a}" for a in axes], shared_yaxes=True)
for column, axis in enumerate(axes, start=1):
    for method, color in zip(dict.fromkeys(neb.method), ("#3182bd", "#e6550d")):
        path = neb[(neb.axis == axis) & (neb.method == method)]
        figure.add_scatter(x=path.rotation_deg, y=path.energy_meV, name=method, mode="lines+markers",
                           line=dict(color=color), showlegend=column == 1, row=1, col=column)
figure.update_xaxes(title_text="initial rotation (degrees)")
figure.update_yaxes(title_text="energy (meV)", row=1, col=1)
figure.update_layout(height=360)
figure.show()
barriers = neb.groupby(["axis", "method"]).agg(barrier_meV=("energy_meV", "max"),
                                               lowest_meV=("energy_meV", "min"),
                                               end_meV=("energy_meV", "last"),
                                               converged=("converged", "first")).unstack("method")
cell_atoms = len(test[0])
print(f"scale: the test energy RMSE, {1000 * metrics['energy']['rmse']:.2f} meV/atom, is "
      f"{1000 * metrics['energy']['rmse'] * cell_atoms:.0f} meV per {cell_atoms}-atom cell if the errors "
      "were uncorrelated; a path's relative energies can only be trusted where errors cancel "
      "between neighbouring images")
barriers.round(1)

# %% [markdown]
# ### Phase energy differences versus composition
#
# Energy per formula unit of each tilt phase relative to the untilted cell with the same A-site
# arrangement and molecular orientations, after relaxing positions and cell with each method.
# The mean absolute tilt after relaxation says whether the phase survived it; `steps` at the
# check's limit means the relaxation had not reached the force tolerance (soft molecular
# rotations relax slowly), so such energies are upper bounds of that local minimum.

# %%
phases = tables["phases"]
wide = phases.pivot_table(index=["fa_fraction", "glazer"], columns="method", values="energy_meV_per_fu")
methods = list(wide.columns)
figure = make_subplots(rows=1, cols=1)
for glazer in dict.fromkeys(phases.glazer):
    rows = wide.xs(glazer, level="glazer")
    figure.add_scatter(x=rows[settings["reference"]], y=rows["NEP"], mode="markers+text", name=glazer,
                       text=[f"x={x:g}" for x in rows.index], textposition="top center")
span = [wide.to_numpy().min() - 5, wide.to_numpy().max() + 5]
figure.add_scatter(x=span, y=span, mode="lines", line=dict(color="gray", dash="dot"), showlegend=False)
figure.update_xaxes(title_text=f"{settings['reference']} (meV per formula unit)")
figure.update_yaxes(title_text="NEP (meV per formula unit)")
figure.update_layout(height=420)
figure.show()
phases.pivot_table(index=["fa_fraction", "glazer"], columns="method",
                   values=["energy_meV_per_fu", "tilt_x_deg", "tilt_y_deg", "tilt_z_deg", "steps"]).round(1)

# %% [markdown]
# ### MD stability
#
# NPT at the stated temperature from the cubic cell (real masses, 0.5 fs), then NVE. The engine
# stops a run that becomes unphysical (atoms closer than 0.6 Å, temperature runaway, cell
# collapse). Dissociation shows as an intramolecular bond far longer than at the start
# (`longest_bond_ratio`). `largest_cation_shift_A` and `largest_iodine_shift_A` are the largest
# displacements of a cation's centroid and of an iodine from their starting sites relative to the
# lead framework (its mean displacement removed: the Langevin thermostat lets the whole crystal
# drift); thermal motion keeps them near 1-2 Å, and half the Pb-Pb distance (about 3.2 Å) or more
# means the ion left its site: a cation its cage (how FA would cluster), an iodine its corner.
# Check sets measured before this definition have no iodine column, and their cation column
# includes the drift.

# %%
stability = tables["stability"]
observations = tables["stability_observations"]
figure = make_subplots(rows=1, cols=2, subplot_titles=("temperature (K)", "total energy, NVE (meV/atom)"))
for x in stability.fa_fraction:
    run = observations[observations.fa_fraction == x] if "time_ps" in observations else observations.iloc[:0]
    if run.empty:
        print(f"x = {x:g}: no observations (the run stopped before its first completed segment)")
        continue
    figure.add_scatter(x=run.time_ps, y=run.temperature_K, name=f"x = {x:g}", row=1, col=1)
    nve = run[run.stage == "nve"]
    if len(nve):
        total = 1000 * (nve.epot_eV_per_atom + nve.ekin_eV_per_atom)
        figure.add_scatter(x=nve.time_ps, y=total - total.iloc[0], name=f"x = {x:g}", showlegend=False,
                           row=1, col=2)
figure.update_xaxes(title_text="time (ps)")
figure.update_layout(height=360)
figure.show()
stability.round(4)

# %% [markdown]
# ### Heavy hydrogen for equilibrium runs
#
# Classical configurational averages do not depend on the masses, so runs that only need
# equilibrium averages (the phase diagram's lattice parameters and mode amplitudes) may give H a
# larger mass and take a longer time step. MAPbI3 in NPT, once with real masses at 0.5 fs and once
# with heavy hydrogen at a longer step: the mean pseudo-cubic lattice parameters with
# block-averaged standard errors ({func}`softlattice.perovskite.workflows.masscheck.compare_masses`).

# %%
masses = tables["masses"]
display(masses.round(4))
if {"a_A", "a_err"} <= set(masses.columns) and masses.a_A.notna().all():
    display(mass_differences(masses).round(4))
else:
    print("a run stopped early (see 'message'): no comparison")

# %% [markdown]
# ### Which tilt a cell ends in at 250 and 300 K
#
# The finite-temperature test of the teacher, run with its student: 768-atom NPT (real masses,
# 0.5 fs) of MAPbI3 started in the wrong tilt $a^0a^0c^+$ and of FAPbI3 started in $a^0a^0c^-$.
# Each 1 ps window of the second half is classified against the noise of the same composition's
# untilted stability run, with one threshold for the M and R families
# ({func}`softlattice.perovskite.workflows.checks.tilt_persistence`); the
# phase reported is the most frequent label there, with its share of the windows, and the
# pseudo-cubic lattice parameter is averaged over the same half. Experiment near these
# temperatures: MAPbI3 $a^0a^0c^-$ (I4/mcm), FAPbI3 $a^0a^0c^+$ (P4/mbm, below about 285 K).
#
# The threshold is only as good as its reference: a stability run that keeps the sign of a tilt
# over its 5 ps blocks ({func}`softlattice.perovskite.phases.persistent_tilts`: a block-mean
# amplitude more than four standard errors from zero) is not untilted, and a threshold from its
# noise lies above real tilts. The page checks every reference and says where one is tilted; all
# six amplitudes are in the table, so a tilt about another axis shows too.

# %%
if "tilts" in tables:
    tilts = tables["tilts"]
    display(tilts[["fa_fraction", "start", "temperature_K", "end_phase", "end_share", "abs_Q_M_x", "abs_Q_M_y",
                   "abs_Q_M_z", "abs_Q_R_x", "abs_Q_R_y", "abs_Q_R_z", "m_threshold_A", "pseudo_cubic_A"]].round(3))
    tilted_references = tilted_noise_references(tables["stability_observations"])
    display(Markdown(
        " ".join(f"**The noise reference of x = {x:g} {held}**: its threshold may lie above real tilts, so the "
                 f"end phases of x = {x:g} are not evidence." for x, held in tilted_references.items())
        or "Every noise reference is untilted by this test."))
    runs = tables["tilts_observations"]
    figure = make_subplots(rows=1, cols=len(tilts), shared_yaxes=True,
                           subplot_titles=[f"x = {r.fa_fraction:g} from {r.start}, {r.temperature_K:g} K"
                                           for r in tilts.itertuples()])
    for column, r in enumerate(tilts.itertuples(), start=1):
        run = runs[(runs.fa_fraction == r.fa_fraction) & (runs.temperature == r.temperature_K)]
        for mode, color in (("Q_M_z", "#e6550d"), ("Q_R_z", "#3182bd")):
            figure.add_scatter(x=run.time_ps, y=run[mode].abs(), line=dict(color=color, width=1), name=mode,
                               showlegend=column == 1, row=1, col=column)
    figure.update_yaxes(title_text="|Q| about z (Å)", row=1, col=1)
    figure.update_xaxes(title_text="time (ps)")
    figure.update_layout(height=340)
    figure.show()
else:
    print("the tilt test is not part of these check settings")

# %% [markdown]
# ### Against the targets set for this model
#
# The project set targets for the production model before NEP v2, the student of the chosen
# teacher, was trained ({mod}`softlattice.perovskite.student_criteria`): active learning ends by
# its own rule, forces and relaxed phase energies stay close to the teacher's, runs at the check
# temperature do not blow up, and the iodine transverse forces have DFT's scale. The model on this
# page is measured against them; the table states each target beside the measurement;
# `met` is empty where an item is only reported (the NVE drift, the tilt test, which tests the
# teacher as much as the student) or could not be decided (unconverged relaxations).

# %%
from softlattice.perovskite.workflows.checks import model_criteria
from softlattice.perovskite.workflows.screening import load_dft_validation
from softlattice.perovskite.workflows.teacher import nep_scale

own_scale = nep_scale(folder / "nep.txt", load_dft_validation())
criteria_table = model_criteria(folder, own_scale["slope_I_transverse"], checks.folder)
plotting.markdown_table(criteria_table)

# %% [markdown]
# ## What a soft teacher does
#
# The first production model was trained by the recipe `full` from `chgnet-r2scan`, before the
# teacher was chosen; its result set stays in `data/models/mafa-chgnet-r2scan`. Measured against
# the same targets (its checks ran with the settings of their day, against its own teacher):

# %%
first_nep = FIRST_MODEL
page_is_first = file_hash(first_nep) == file_hash(folder / "nep.txt")
if page_is_first:
    display(Markdown("This page's NEP *is* the first production model, so there is nothing to set beside it."))
else:
    first_scale = nep_scale(first_nep, load_dft_validation())
    first_criteria = model_criteria(first_nep.parent, first_scale["slope_I_transverse"])
    display(plotting.markdown_table(criteria_table[["criterion", "target", "measured"]].merge(
        first_criteria[["criterion", "measured"]], on="criterion", how="left",
        suffixes=(" (this page)", " (first NEP, student of chgnet-r2scan)"))))

# %% [markdown]
# ## Screening the reference
#
# The NEP can only be as right as its labels. This first screening, run before the teacher was
# chosen, set three kinds of evidence on the candidate references that ship their weights
# ({mod}`softlattice.perovskite.workflows.screening`), each computed for the first NEP (the student
# of CHGNet-r2SCAN, the "NEP" of its tables) too; the teacher chosen below is measured against the
# same DFT set in its own sections:
#
# 1. **Errors against real DFT.** GPAW (LCAO, dzp basis, PBE, Gamma point) on a validation set of
#    96-atom cells none of the models was trained on: the first NEP's held-out test set, fresh
#    systematic cells, and NPT snapshots of that NEP at 300 K. GPAW's LCAO mode gives no stress,
#    so energies and forces only. PBE and r2SCAN differ in absolute energies, so each method's
#    energies are compared after removing one constant per species (least squares): what is left
#    is the error in energy *differences*, which is what MD feels. PBE is not the seed's
#    SCAN+rVV10 either: this measures agreement with a common, independent DFT, not with the seed.
# 2. **Tilt energetics at 0 K.** Relaxed energies of the four tilt phases of MAPbI3 and FAPbI3
#    for two molecular arrangements each, and the tilt left after relaxation.
# 3. **Tilts at temperature.** A short NPT run of MAPbI3 from $a^0a^0c^-$ at 300 K and of FAPbI3
#    from $a^0a^0c^+$ at 250 K (inside the seed's tetragonal windows) with each method: does the
#    seed's tetragonal tilt survive?

# %%
from softlattice.perovskite.workflows.screening import (
    dft_errors,
    force_errors_by_species,
    load_screening,
    obtain_screening,
    screening_settings,
    small_dft_set,
    tilt_summary,
)

if settings["dft_set"] == "small":
    dft_set = small_dft_set(DATA_DIR.parent / "runs" / "screening" / "small-gpaw-pbe.extxyz.gz")
else:
    dft_set = DATA_DIR.parent / settings["dft_set"]
if dft_set is None:
    from softlattice.models.reference import gpaw_missing_message
    print(f"no DFT comparison: {gpaw_missing_message()}")
screening_results = obtain_screening(screening_settings(settings["screening"]), FIRST_MODEL, dft_set,
                                     curated=DATA_DIR / "reference" / "screening")
screening = load_screening(screening_results.folder)
print(f"screening: {screening_results.source}")

# %% [markdown]
# ### Errors against GPAW-PBE

# %%
if "dft_energies" in screening:
    from ase.io import read
    energies, forces = screening["dft_energies"], screening["dft_forces"]
    display(dft_errors(energies, forces).round(3))
    display(Markdown("Force RMSE per species (meV/Å): the framework (Pb, I) carries the tilts."))
    display(force_errors_by_species(forces, read(dft_set, index=":")).round(0))
    names = list(dict.fromkeys(energies.method))
    figure = make_subplots(rows=2, cols=len(names), subplot_titles=names, vertical_spacing=0.12)
    for column, name in enumerate(names, start=1):
        part = energies[energies.method == name]
        for origin, group in part.groupby("validation_origin"):
            figure.add_scatter(x=group.dft_meV_per_atom, y=group.energy_meV_per_atom, mode="markers",
                               marker=dict(size=4), name=origin, legendgroup=origin, showlegend=column == 1,
                               row=1, col=column)
        force = forces[forces.method == name].iloc[::7]  # every 7th component keeps the page light
        figure.add_scatter(x=force.dft_force, y=force.force, mode="markers", marker=dict(size=2, color="#555"),
                           showlegend=False, row=2, col=column)
    figure.update_xaxes(title_text="GPAW-PBE")
    figure.update_yaxes(title_text="energy (meV/atom, offsets removed)", row=1, col=1)
    figure.update_yaxes(title_text="force component (eV/Å)", row=2, col=1)
    figure.update_layout(height=620)
    figure.show()

# %% [markdown]
# ### Tilt energetics at 0 K
#
# Energy of each phase relative to the untilted cell of the same arrangement (meV per formula
# unit), and the largest mean tilt left after relaxation: a phase whose tilt relaxed away below
# about 2 degrees is not a minimum of that method.

# %%
energetics = screening["energetics"].copy()
energetics["tilt_deg"] = energetics[["tilt_x_deg", "tilt_y_deg", "tilt_z_deg"]].max(axis=1)
energetics["compound"] = energetics.fa_fraction.map({0.0: "MAPbI3", 1.0: "FAPbI3"})
methods_screened = list(dict.fromkeys(energetics.method))
figure = make_subplots(rows=1, cols=len(methods_screened), subplot_titles=methods_screened, shared_yaxes=True)
for column, name in enumerate(methods_screened, start=1):
    for (compound, arrangement), group in energetics[energetics.method == name].groupby(["compound", "arrangement"]):
        figure.add_scatter(x=group.glazer, y=group.energy_meV_per_fu, mode="markers+lines",
                           name=f"{compound}, arrangement {arrangement}",
                           line=dict(color="#3182bd" if compound == "MAPbI3" else "#e6550d",
                                     dash="solid" if arrangement == 0 else "dot"),
                           text=[f"tilt {t:.1f}°" for t in group.tilt_deg], showlegend=column == 1,
                           legendgroup=f"{compound}{arrangement}", row=1, col=column)
figure.update_yaxes(title_text="E - E(a0a0a0) (meV/f.u.)", row=1, col=1)
figure.update_layout(height=420)
figure.show()
energetics.pivot_table(index=["compound", "glazer"], columns="method",
                       values=["energy_meV_per_fu", "tilt_deg"], aggfunc="mean").round(1)

# %% [markdown]
# ### Tilts at temperature
#
# Mean $|Q|$ of each tilt mode over the second half of each run: the seed's MAPbI3 keeps $R_z$ (out of
# phase, $a^0a^0c^-$) and its FAPbI3 keeps $M_z$ (in phase, $a^0a^0c^+$) at these temperatures.
# Each run is 2×2×2 cells (96 atoms) and short, so these are indications, not phase assignments.

# %%
md_observations = screening["md_observations"]
summary = tilt_summary(md_observations)
figure = make_subplots(rows=1, cols=2, subplot_titles=[f"x = {x:g} from {start} at {t:.0f} K" for x, start, t in
                                                       dict.fromkeys(zip(md_observations.fa_fraction,
                                                                         md_observations.start,
                                                                         md_observations.temperature))])
for column, (x, start) in enumerate(dict.fromkeys(zip(md_observations.fa_fraction, md_observations.start)), start=1):
    mode = "Q_R_z" if start.endswith("-") else "Q_M_z"
    for name, color in zip(dict.fromkeys(md_observations.method), ("#3182bd", "#e6550d", "#31a354", "#756bb1")):
        run = md_observations[(md_observations.method == name) & (md_observations.fa_fraction == x)]
        figure.add_scatter(x=run.time_ps, y=run[mode].abs(), name=name, line=dict(color=color),
                           showlegend=column == 1, legendgroup=name, row=1, col=column)
    figure.update_yaxes(title_text=f"|{mode}| (Å)", row=1, col=column)
figure.update_xaxes(title_text="time (ps)")
figure.update_layout(height=380)
figure.show()
summary.round(3)

# %% [markdown]
# ## Choosing the teacher: force scale, lattice and tilts
#
# Errors mix scale and noise; a soft reference shows more plainly in the force *scale*: the
# least-squares slope $s$ of the reference's forces on the model's (through the origin), fitted
# apart for Pb, for iodine along the Pb-I-Pb axis (bond stretching) and across it (the octahedral
# tilts) ({mod}`softlattice.perovskite.force_scale`). $s = 1$ is the reference's scale; $s = 2$ means
# the model's forces are half as large. Three references:
#
# 1. **yardstick**: an independent NEP for CsPbI3 trained on r2SCAN+rVV10 DFT (the seed's
#    functional family; third-party, not shipped with this repository), on CsPbI3 frames of its own
#    MD at 300, 450 and 600 K: a check of the Pb-I framework that does not depend on our DFT;
# 2. **gpaw-lcao**: GPAW PBE (LCAO dzp, Γ) on the MA/FA validation set of the section above;
# 3. **gpaw-pw**: GPAW PBE with plane waves (stress included) on anchor cells drawn from that set
#    (end members and x = 0.5, tilted and thermal), which also measure LCAO's own force error.
#
# Each candidate is also relaxed (positions and cell) from the tilt phases $a^0a^0a^0$, $a^0a^0c^-$,
# $a^0a^0c^+$ and $a^-a^-c^+$ of MAPbI3 and FAPbI3 ({mod}`softlattice.perovskite.workflows.teacher`), for the 0 K lattice constant and the
# $a^0a^0c^-$ / $a^0a^0c^+$ energy order. The rule's thresholds were set (in the project's issue)
# before any candidate was measured; the numbers come from the committed result set `data/reference/teacher`
# (`python -m softlattice.perovskite.workflows.teacher screen`, then `... collect`).

# %%
from softlattice.perovskite import teacher_criteria
from softlattice.perovskite.workflows.teacher import (RESULT_DIR, experimental_pseudo_cubic, load_teacher_screen,
                                                      pressure_comparison, relaxation_summary, single_point_summary,
                                                      teacher_outlook)

low, high = teacher_criteria.SLOPE_RANGE
display(Markdown(
    f"**Rule** ({{mod}}`softlattice.perovskite.teacher_criteria`). A candidate qualifies when the Pb, iodine "
    f"longitudinal and iodine transverse slopes against the yardstick and against DFT (plane waves where "
    f"measured, else LCAO) all lie in [{low}, {high}], and the 0 K pseudo-cubic lattice constant of each end "
    f"member lies within {100 * teacher_criteria.LATTICE_TOLERANCE:.0f} % of low-temperature experiment where "
    "one is sourced; a criterion not yet measured disqualifies. Among qualifying candidates the teacher is "
    "the one whose DFT transverse iodine slope is closest to 1."))
display(experimental_pseudo_cubic()[["source", "reference", "fa_fraction", "temperature_K", "space_group",
                                     "pseudo_cubic_A"]].round(3))
teacher = load_teacher_screen(RESULT_DIR)
scales, criteria = teacher["scales"], teacher["criteria"]
students = {f"NEP of this page (student of {settings['reference']})": (settings["reference"], own_scale)}
if not page_is_first:
    students["first production NEP (student of chgnet-r2scan)"] = ("chgnet-r2scan", first_scale)
nep_rows = [dict(candidate=name, reference_set="gpaw-lcao", **scale) for name, (_, scale) in students.items()]
# %% [markdown]
# Slopes of each reference's forces on each candidate's (rows: candidates; the NEPs, trained on
# their teachers' labels, are measured against LCAO the same way), per component:

# %%
slope_columns = {"slope_I_transverse": "I across", "slope_I_longitudinal": "I along", "slope_Pb": "Pb",
                 "slope_molecules": "H, C, N"}
with_nep = pd.concat([scales, pd.DataFrame(nep_rows)], ignore_index=True)
slope_table = with_nep.pivot_table(index="candidate", columns="reference_set",
                                   values=[c for c in slope_columns if c in with_nep]).rename(columns=slope_columns)
display(slope_table.round(2))
display(Markdown("Structures behind each slope: " + ", ".join(
    f"{name} {int(count)}" for name, count in scales.groupby("reference_set").structures.first().items())
    + " (the plane-wave anchors computed so far; their compositions: "
    + ", ".join(f"x = {x:g}" for x in sorted({a.info['fa_fraction'] for a in teacher['anchors']})) + ")."))
figure = make_subplots()
for reference_set, symbol in (("yardstick", "diamond"), ("gpaw-lcao", "circle"), ("gpaw-pw", "square")):
    part = with_nep[with_nep.reference_set == reference_set]
    if len(part):
        figure.add_scatter(x=part.candidate, y=part.slope_I_transverse, mode="markers", name=reference_set,
                           marker=dict(symbol=symbol, size=11))
figure.add_hrect(y0=low, y1=high, fillcolor="#31a354", opacity=0.12, line_width=0)
figure.add_hline(y=1.0, line=dict(color="grey", dash="dot"))
figure.update_layout(height=420, yaxis_title="slope of reference on candidate, iodine across Pb-I-Pb",
                     title="Iodine tilt forces: 1 = the reference's scale, 2 = half of it (band: the rule's range)")
figure.show()

# %% [markdown]
# How good is LCAO itself? Plane-wave GPAW on the anchor cells, per species: the RMSE of LCAO's
# forces and the slope of the plane-wave forces on LCAO's.

# %%
lcao_vs_pw = teacher["lcao_vs_pw"]
if len(lcao_vs_pw):
    display(lcao_vs_pw.round(3))
    by_species = lcao_vs_pw.set_index("species")
    iodine, lead = by_species.loc["I"], by_species.loc["Pb"]
    display(Markdown(
        f"On {int(teacher['provenance']['anchors'])} plane-wave anchor cells, LCAO's forces differ by "
        f"{1000 * iodine.rmse_eV_per_A:.0f} meV/Å RMS on iodine and {1000 * lead.rmse_eV_per_A:.0f} meV/Å on Pb; "
        f"the plane-wave forces are {iodine.slope_pw_on_lcao:.2f} and {lead.slope_pw_on_lcao:.2f} times LCAO's: "
        "LCAO-dzp overestimates the framework's forces somewhat, so a candidate's LCAO slope overstates its "
        "softness by that factor. The rule therefore uses the plane-wave slopes where they exist."))
else:
    display(Markdown("No plane-wave anchor has been computed yet: the DFT slopes above are LCAO's."))
kpoints = teacher["kpoint_error"]
if len(kpoints):
    display(Markdown(f"Γ-only against a 2×2×2 k-point mesh on {int(kpoints.cells.iloc[0])} anchor cell(s), per species "
                     "(RMSE of the Γ forces, slope of the k-point forces on them):"))
    display(kpoints.round(3))
    k_by_species = kpoints.set_index("species")
    display(Markdown(
        f"With k-points the iodine forces are {k_by_species.loc['I', 'slope_k_on_gamma']:.2f} times and the Pb forces "
        f"{k_by_species.loc['Pb', 'slope_k_on_gamma']:.2f} times the Γ-only ones on this sample: until more cells are "
        "computed, the Γ-only slopes of the candidates carry an uncertainty of that size."))
else:
    display(Markdown("The k-point check (2×2×2 against Γ) has not finished on any anchor yet."))

# %% [markdown]
# Relaxed tilt phases (0 K, positions and cell, L-BFGS to 0.01 eV/Å): pseudo-cubic lattice
# constant $(V/N_{f.u.})^{1/3}$ and the energy of $a^0a^0c^-$ relative to $a^0a^0c^+$ per candidate
# and end member (arrangement 0: molecules aligned to the cage; k > 0: random orientations drawn with seed k).
# Unconverged relaxations are not used. A phase is named by the tilt pattern its relaxation starts
# from: nothing holds the symmetry, so a relaxation may end in another pattern; the mean tilt angles
# about x, y and z where each ended are listed for the chosen teacher below.

# %%
relaxed = teacher["relaxed"]
if len(relaxed):
    relaxed = relaxed.assign(compound=relaxed.fa_fraction.map(teacher_criteria.END_MEMBERS))
    display(relaxed.pivot_table(index="candidate", columns=["compound", "glazer"], values="lattice_constant",
                                aggfunc="mean").round(3))
    display(Markdown(f"{int(relaxed.converged.sum())} of {len(relaxed)} relaxations converged."))
display(criteria.set_index("candidate")[[c for c in criteria.columns if c.startswith(("pass_", "a_", "qualifies",
                                                                                    "c_minus"))]].round(3))
chosen, reason = teacher["choice"]["teacher"], teacher["choice"]["reason"]
if chosen and len(relaxed):
    display(Markdown(f"Where the relaxations of {chosen} ended (tilt angles in degrees, energies relative to the "
                     "relaxation started untilted, meV/f.u.):"))
    display(relaxed[relaxed.candidate == chosen][["fa_fraction", "glazer", "arrangement", "converged",
                                                  "lattice_constant", "energy_meV_per_fu", "tilt_x_deg", "tilt_y_deg",
                                                  "tilt_z_deg"]]
            .sort_values(["fa_fraction", "arrangement", "glazer"]).round(2).reset_index(drop=True))
    spread = teacher_criteria.tilt_energy_spread(relaxed, chosen)
    display(Markdown(f"Energies of {chosen}'s phases relative to the untilted start, over the molecular arrangements "
                     "relaxed (mean, max - min, meV/f.u.; converged relaxations only):"))
    display(spread.round(1))
display(Markdown(f"**Teacher chosen by the rule:** {teacher['choice']['teacher'] or 'none yet'}. "
                 f"{reason[:1].upper() + reason[1:]}."))

# %% [markdown]
# ### Fine-tuning the first-ranked candidate on plane-wave DFT
#
# When no shipped model qualifies, the next step is the one seed 002 takes for its own MLIP:
# fine-tune a foundation model on DFT of the system itself. The candidate fine-tuned is the one the
# tie-break ranks first among the shipped ones (its transverse iodine slope closest to 1),
# SevenNet-MF-0 in its R2SCAN modality ({mod}`softlattice.models.finetune_sevennet`; SevenNet's own
# loss and trainer, the per-element energy shift fitted first, the epoch with the lowest validation
# force RMSE kept). Its labels are plane-wave GPAW PBE energies, forces and stresses of validation
# cells that are **not** anchors: the anchors stay held out, so a fine-tuned model's plane-wave
# slopes in the tables above are measured on cells it never saw. Since its labels are PBE, its
# dispersion correction is D3(BJ) with PBE's damping parameters (`+d3`). Three variants, each made
# after the one before had failed a criterion: on energies, forces and stresses (`sevennet-pw-ft`);
# on energies and forces only (`sevennet-pw-ft-ef`), after the first relaxed to a far too small
# lattice (the pressures of the labels below show why); and on energies and forces with only the
# last of SevenNet's five interaction blocks and the energy read-out trained
# (`sevennet-pw-ft-ef-last`), after the second's relaxations broke octahedra: the few labelled cells
# are too few for every weight of the network, and the frozen blocks keep what the pretrained model knows about
# structures far from the labels.

# %%
pressures = teacher["pw_pressures"]
if len(pressures):
    display(Markdown("Pressure of the plane-wave anchor cells (GPa, $-\\mathrm{tr}\\,\\sigma/3$; negative: the cell "
                     "pulls inward) under each plane-wave setting computed:"))
    display(pressures.pivot_table(index=["anchor", "fa_fraction"], columns="setting", values="pressure_GPa").round(2))
    display(Markdown(
        f"At the 400 eV cutoff of the labels the anchors' mean pressure is "
        f"{pressures[pressures.reference == 'gpaw-pw-pbe'].pressure_GPa.mean():.2f} GPa. "
        + "".join(f"On the {r.cells} cell(s) computed with {r.setting}: {r.base_mean_GPa:.2f} GPa at 400 eV, Γ "
                  f"against {r.setting_mean_GPa:.2f} GPa. " for r in pressure_comparison(pressures).itertuples())
        + "Stresses that change this much with the basis are not converged; a model fine-tuned on them learns the "
          "basis error as a pressure (below)."))
basis = teacher["basis_error"]
if len(basis):
    display(Markdown(f"Forces at 400 eV against 600 eV on {int(basis.cells.iloc[0])} anchor cell(s), per species "
                     "(RMSE, and the slope of the 600 eV forces on the 400 eV ones):"))
    display(basis.round(3))
    framework = basis[basis.species.isin(["Pb", "I"])]
    molecular = basis[basis.species.isin(["C", "H", "N"])]
    display(Markdown(
        f"The Pb and I forces, on which the force-scale criteria rest, change by at most "
        f"{1000 * framework.rmse_eV_per_A.max():.0f} meV/Å RMS (slopes {framework.slope_600_on_400.min():.3f}-"
        f"{framework.slope_600_on_400.max():.3f}); the molecular forces by up to "
        f"{1000 * molecular.rmse_eV_per_A.max():.0f} meV/Å (slopes {molecular.slope_600_on_400.min():.2f}-"
        f"{molecular.slope_600_on_400.max():.2f}): 400 eV is enough for the framework, not for the molecules "
        "or the stress."))
for name, tuned in teacher["finetune"].items():
    history = tuned["history"]
    best = history.loc[history.validation_force_rmse.idxmin()]
    display(Markdown(
        f"**{name}**: fine-tuned on {tuned['structures']} plane-wave cells ({tuned['settings']['validation_percent']} % "
        f"of them held back to pick the epoch), stress weight {tuned['settings'].get('stress_weight', 0.01):g}, "
        f"{int(history.epoch.max())} epochs at learning rate {tuned['settings']['learning_rate']:g}: the validation force "
        f"RMSE went from {1000 * history.validation_force_rmse.iloc[0]:.0f} meV/Å (pretrained, after the energy shift) "
        f"to {1000 * best.validation_force_rmse:.0f} meV/Å (epoch {int(best.epoch)})."))
    figure = make_subplots()
    for column, label in (("train_force_rmse", "training cells"), ("validation_force_rmse", "validation cells")):
        figure.add_scatter(x=history.epoch, y=1000 * history[column], mode="lines+markers", name=label)
    figure.update_layout(height=320, xaxis_title="epoch (0: pretrained)",
                         yaxis_title="force RMSE vs plane-wave PBE, meV/Å", title=f"Fine-tuning: {name}")
    figure.show()
if teacher["finetune"]:
    tuned_rows = [c for c in criteria.candidate if c.startswith("sevennet")]
    display(criteria.set_index("candidate").loc[tuned_rows, [c for c in criteria.columns if c.startswith(
        ("yardstick_", "dft_I", "dft_Pb", "a_MA", "a_FA", "pass_", "qualifies"))]].round(3))
else:
    display(Markdown("No fine-tuned teacher has been made yet (`python -m softlattice.perovskite.workflows."
                     "teacher finetune-labels`, then `... finetune`)."))

# %% [markdown]
# ### DFT check of the tilt energetics
#
# The relaxed $a^0a^0c^-$ and $a^0a^0c^+$ end members of a candidate, recomputed at the candidate's
# own geometries (single points): with plane-wave GPAW PBE, with and without D3(BJ), and with the
# seed's own functional, SCAN+rVV10, in CP2K ({mod}`softlattice.models.cp2k`: GTH-SCAN
# pseudopotentials, DZVP-MOLOPT-SCAN basis sets, 600 Ry, Γ only, orbital transformation with a
# full single-inverse preconditioner, SCF to $10^{-5}$ Ha, one core per single point; a wall-time
# limit stops a single point that runs too long, and it is recorded as such). Does DFT order the two tilts as the candidate does?

# %%
dft_tilts = teacher["dft_tilts"]
if len(dft_tilts):
    display(Markdown("E($a^0a^0c^-$) − E($a^0a^0c^+$), meV per formula unit (negative: $a^0a^0c^-$ lower), at each "
                     "candidate's relaxed geometries:"))
    display(dft_tilts.assign(compound=dft_tilts.fa_fraction.map(teacher_criteria.END_MEMBERS)).rename(columns={
        "candidate_meV_per_fu": "model", "pbe_meV_per_fu": "PBE", "pbe_d3_meV_per_fu": "PBE+D3",
        "scan_rvv10_meV_per_fu": "SCAN+rVV10 (CP2K)"})
        [["candidate", "compound", "arrangement", "model", "PBE", "PBE+D3", "SCAN+rVV10 (CP2K)"]].round(1))
    same_order = (dft_tilts.candidate_meV_per_fu > 0) == (dft_tilts.pbe_d3_meV_per_fu > 0)
    scan = dft_tilts.dropna(subset=["scan_rvv10_meV_per_fu"])
    scan_order = (scan.candidate_meV_per_fu > 0) == (scan.scan_rvv10_meV_per_fu > 0)
    display(Markdown(f"PBE+D3 orders the two tilts as the candidate does in {int(same_order.sum())} of "
                     f"{len(dft_tilts)} cases; SCAN+rVV10 in {int(scan_order.sum())} of the {len(scan)} "
                     "computed so far."))
else:
    display(Markdown("No DFT single point of a relaxed tilt phase has finished yet "
                     "(`python -m softlattice.perovskite.workflows.teacher dft-tilts --candidate NAME`)."))
single_points = teacher["single_points"]
if len(single_points):
    display(Markdown("Every single point of this check that was recorded (wall time on one core, SCF steps where "
                     "the code reports them):"))
    display(single_points.assign(compound=single_points.fa_fraction.map(teacher_criteria.END_MEMBERS))[
        ["reference", "candidate", "compound", "glazer", "atoms", "seconds", "scf_steps", "status", "detail"]])
    display(Markdown(single_point_summary(single_points)))

# %% [markdown]
# ### What this page establishes about its reference
#
# Read from the tables above (every number below is computed from them):

# %%
def slope(candidate, reference_set, component="slope_I_transverse"):
    row = with_nep[(with_nep.candidate == candidate) & (with_nep.reference_set == reference_set)]
    return float(row[component].iloc[0]) if len(row) else float("nan")


lines = [
    f"- **Force scale of the NEPs.** Iodine slopes against LCAO DFT along Pb-I-Pb and across it: "
    + "; ".join(f"{name} {slope(name, 'gpaw-lcao', 'slope_I_longitudinal'):.2f} and {slope(name, 'gpaw-lcao'):.2f} "
                f"(its teacher {teacher_name}: {slope(teacher_name, 'gpaw-lcao', 'slope_I_longitudinal'):.2f} and "
                f"{slope(teacher_name, 'gpaw-lcao'):.2f}; against the independent yardstick, across: "
                f"{slope(teacher_name, 'yardstick'):.2f})" for name, (teacher_name, _) in students.items()) + ".",
]
softest = scales[scales.reference_set == "gpaw-lcao"].set_index("candidate").slope_I_transverse
lines.append(f"- **Candidates.** The DFT (LCAO) transverse iodine slopes run from {softest.min():.2f} "
             f"({softest.idxmin()}) to {softest.max():.2f} ({softest.idxmax()}); D3 dispersion changes them by at most "
             f"{max(abs(softest[c + '+d3'] - softest[c]) for c in softest.index if c + '+d3' in softest.index):.2f}.")
energetics0 = energetics[energetics.arrangement == 0]
for name in methods_screened:
    own = energetics0[energetics0.method == name]
    lowest = {compound: group.loc[group.energy_meV_per_fu.idxmin(), "glazer"] for compound, group in own.groupby("compound")}
    shown = "first NEP" if name == "NEP" else name  # the screening's NEP is the first production model
    lines.append(f"- **0 K tilts ({shown}, molecules aligned to the cage, 100 relaxation steps).** Lowest phase: "
                 + ", ".join(f"{c} {g}" for c, g in lowest.items()) + ".")
kept = []
for run in summary.itertuples():
    started, other = ("Q_R_z", "Q_M_z") if run.start.endswith("-") else ("Q_M_z", "Q_R_z")
    compound = teacher_criteria.END_MEMBERS.get(run.fa_fraction, f"x = {run.fa_fraction:g}")
    kept.append(f"{'first NEP' if run.method == 'NEP' else run.method}: {compound} {'keeps' if getattr(run, started) > getattr(run, other) else 'loses'} "
                f"${started[2:]}$ at {run.temperature:.0f} K")
lines.append("- **Short runs at temperature** (96 atoms, 1 ps; indications only): " + "; ".join(kept) + ".")
for tuned_name in [c for c in criteria.candidate if c.startswith("sevennet-pw-ft")]:
    row = criteria.set_index("candidate").loc[tuned_name]
    pretrained_name = "sevennet-mf0-r2scan+d3" if tuned_name.endswith("+d3") else "sevennet-mf0-r2scan"
    lines.append(
        f"- **Fine-tuned teacher ({tuned_name}).** Slopes Pb / I along / I across against plane-wave DFT on the "
        f"held-out anchors: {slope(tuned_name, 'gpaw-pw', 'slope_Pb'):.2f} / "
        f"{slope(tuned_name, 'gpaw-pw', 'slope_I_longitudinal'):.2f} / {slope(tuned_name, 'gpaw-pw'):.2f} "
        f"(pretrained {slope(pretrained_name, 'gpaw-pw', 'slope_Pb'):.2f} / "
        f"{slope(pretrained_name, 'gpaw-pw', 'slope_I_longitudinal'):.2f} / {slope(pretrained_name, 'gpaw-pw'):.2f}); "
        f"against the CsPbI3 yardstick, on a compound it was never fine-tuned on: "
        f"{slope(tuned_name, 'yardstick', 'slope_Pb'):.2f} / {slope(tuned_name, 'yardstick', 'slope_I_longitudinal'):.2f} / "
        f"{slope(tuned_name, 'yardstick'):.2f}. "
        + relaxation_summary(teacher["relaxed"], tuned_name)
        + f" Qualifies: {'yes' if bool(row.qualifies) else 'no'}.")
lines.append(f"- **Choice.** {reason[:1].upper() + reason[1:]}.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ### Does a student keep its teacher's phase order?
#
# The phase energies of the checks above come from relaxations that each method runs on its own,
# and most stop before they converge; two relaxations that stop in different places differ by more
# than the few meV/f.u. at stake. The cleaner test evaluates each student of the chosen teacher at
# the cells the **teacher** relaxed (the tilt-phase relaxations in this page's teacher result set) and
# compares energies there, relative to the same arrangement's a0a0a0 cell
# ({func}`softlattice.perovskite.workflows.checks.energies_at_reference_geometries`; seconds per model:
# `python -m softlattice.perovskite.workflows.checks --model data/models/NAME/nep.txt --phase-order-only
# --save data/models/NAME/checks`). The table gives E(a0a0c-) - E(a0a0c+) in meV/f.u. per composition
# and arrangement (negative: a0a0c- lower), for the teacher and for each student at the teacher's cells.

# %% tags=["remove-input"]
from softlattice.perovskite.workflows import teacher as teacher_workflow
from softlattice.infra.provenance import read_provenance
from softlattice.perovskite.student_criteria import arrangement_spread
from softlattice.perovskite.workflows.potential import choose_student, refinement_items

chosen_students = [] if not teacher["choice"]["teacher"] else teacher_workflow.students_of(teacher["choice"]["teacher"])
student_orders = teacher_workflow.students_phase_order(chosen_students)
if student_orders.empty:
    display(Markdown("No committed student of the chosen teacher has been measured at the teacher's cells "
                     "yet."))
else:
    order_table = student_orders.pivot_table(index=["fa_fraction", "arrangement"], columns="model",
                                             values="nep_meV_per_fu").round(1)
    teacher_order = student_orders.groupby(["fa_fraction", "arrangement"]).reference_meV_per_fu.first()
    order_table.insert(0, "teacher", teacher_order.round(1))
    display(plotting.markdown_table(order_table.reset_index().rename(columns={"fa_fraction": "x"})))
    def student_line(model, group):
        parameters = read_provenance(DATA_DIR / "models" / model)["parameters"]
        added = refinement_items(parameters, first=1)
        return (f"- **{model}** (recipe `{parameters['recipe']}`): {group.summary.iloc[0]}."
                + (" Its active learning is v2's; before its final model it adds:" if added else "")
                + "".join(f"\n   {item}" for item in added))
    display(Markdown("\n".join(student_line(model, group)
                                for model, group in student_orders.groupby("model", sort=False))))
    spread = arrangement_spread(student_orders.drop_duplicates(["fa_fraction", "arrangement"]))
    both_signs = spread[spread.changes_sign].fa_fraction
    display(Markdown(
        "Over the arrangements relaxed, the teacher's own difference runs "
        + "; ".join(f"from {row.min_meV_per_fu:.1f} to {row.max_meV_per_fu:.1f} meV/f.u. at x = {row.fa_fraction:g} "
                    f"({row.arrangements} arrangements)" for row in spread.itertuples())
        + (f". It changes sign with the arrangement at x = {', '.join(f'{x:g}' for x in both_signs)}: at 0 K, "
           "which tilt such a cell prefers depends on how its molecules sit as much as on how many FA it holds, so a "
           "phase order read from one arrangement says little." if len(both_signs)
           else ". Its sign does not change with the arrangement at any x.")))
    kept_student, verdicts = choose_student(chosen_students)
    display(Markdown(
        "Which student the MD chapters should use is decided by a rule fixed before NEP v3 was measured "
        "(`softlattice.perovskite.workflows.potential.student_replaces`): a later student replaces the one "
        "kept so far if it keeps the teacher's order in more pairs, with a smaller median difference, and a test "
        "force RMSE at most 10 % higher; judged on the teacher cells of compositions it did not learn (a clause "
        "added before NEP v4, the first student to learn teacher cells, was measured); and only if it passed its "
        "stability check (the issue's no-blow-up requirement, which the rule presumed; written into it after NEP v4 "
        "became the first student to fail it). Walking the students in order:\n\n" + "\n".join(f"- {line}." for line in verdicts)
        + f"\n\nKept: **{kept_student.name}**."))

# %% tags=["remove-input"]
display(Markdown(teacher_outlook(teacher["choice"]["teacher"], settings["reference"], chosen_students)))
