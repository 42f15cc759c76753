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
# # 00 · Structures: perovskite cells, tilt patterns and MA/FA mixing
#
# Every simulation in this book starts from a structure built here. The MA(1-x)FA(x)PbI3 study
# {cite}`hainer2025mpb` starts its molecular dynamics from a 96-atom cell, $2\times2\times2$
# pseudo-cubic perovskite cells of 12 atoms each (Pb, three I and one CH3NH3+ or HC(NH2)2+ cation),
# either untilted (cubic, $a^0a^0a^0$, for cooling runs) or orthorhombic ($a^-a^-c^+$, for heating
# runs), replicated to the desired size and with MA and FA placed at random on the A sites.
#
# This chapter shows the builders of {mod}`softlattice.perovskite.structures` and checks them:
#
# 1. the cations and the cubic cells of MAPbI3, FAPbI3 and CsPbI3 (the last for validation work);
# 2. octahedral tilt patterns in Glazer notation {cite}`glazer1972`, imposed through the iodine
#    displacements of the M (in-phase, $+$) and R (out-of-phase, $-$) modes, with the space group of
#    the Pb-I framework found by spglib and the tilt angle measured back from the bond geometry;
# 3. random MA/FA substitution, its count rounding and the absence of spatial correlation.
#
# Everything here is geometry: no energy model is involved, so both profiles compute this chapter
# from scratch (the run record under the title gives the time it took); the `full` profile only
# uses finer grids and more random seeds.

# %% tags=["parameters"]
profile = "full"  # "quick" or "full": named parameter sets in softlattice.infra.profiles
supercell = None  # repeats of the 12-atom cell along x, y, z for the phase gallery (even)
tilt_angle = None  # tilt angle in degrees for the phase gallery
angle_grid = None  # tilt angles in degrees for the round-trip check
fa_fractions = None  # target FA fractions x for the substitution check
substitution_repeat = None  # repeats of the cell for the substitution check
substitution_seeds = None  # number of random substitutions per x
seed = None  # seed of the random substitution and molecular orientations
_declared = set(globals())  # papermill injects its parameters after this cell: see the next cell

# %% tags=["remove-input"]
from softlattice.infra.profiles import refuse_unknown_parameters

refuse_unknown_parameters(globals(), _declared)

# %%
import pandas as pd
import plotly.graph_objects as go
from IPython.display import Markdown, display

from softlattice.book import plotting
from softlattice.infra import profiles
from softlattice.perovskite.molecules import cation_in_local_frame
from softlattice.perovskite.structures import (
    CUBIC_LATTICE_CONSTANTS, build_mixed_perovskite, build_perovskite,
    framework_spacegroup, substitution_statistics, tilt_round_trip)
from softlattice.perovskite.tilts import measure_tilt_angles

plotting.use_book_renderer()
settings = profiles.resolve(
    "00_structures", profile, supercell=supercell, tilt_angle=tilt_angle,
    angle_grid=angle_grid, fa_fractions=fa_fractions,
    substitution_repeat=substitution_repeat, substitution_seeds=substitution_seeds,
    seed=seed)
# the two checks over grids (shown in their sections below): imposed vs measured tilt
# angles, and the short-range order of many random MA/FA substitutions (the slow part)
round_trip = tilt_round_trip(["a0a0c-", "a0a0c+", "a-a-c+", "a-a-a-"],
                             settings["angle_grid"], repeat=settings["supercell"])
substitution = substitution_statistics(
    settings["fa_fractions"], settings["substitution_repeat"],
    settings["substitution_seeds"], first_seed=settings["seed"])
settings

# %% tags=["remove-input"]
EXPECTED_GROUPS = {"a0a0c-": "I4/mcm", "a0a0c+": "P4/mbm", "a-a-c+": "Pnma"}  # Howard and Stokes
found = {glazer: framework_spacegroup(build_perovskite("MA", settings["supercell"], glazer=glazer,
                                                       tilt_angle=settings["tilt_angle"]))
         for glazer in EXPECTED_GROUPS}
matching = [g for g in EXPECTED_GROUPS if found[g].startswith(EXPECTED_GROUPS[g])]
sizes = sorted({len(build_mixed_perovskite(x, settings["supercell"], seed=settings["seed"]))
                for x in settings["fa_fractions"]})
by_x = substitution.groupby("x_target").alpha_1
r = settings["substitution_repeat"]
random_value = -1 / (r ** 3 - 1)
deviation = ((by_x.mean() - random_value).abs() / by_x.sem()).replace([float("inf")], float("nan"))
display(Markdown(
    f"**In brief.** The {settings['supercell']}×{settings['supercell']}×{settings['supercell']} cell holds "
    f"{' or '.join(str(n) for n in sizes)} atoms at every one of the {len(settings['fa_fractions'])} compositions "
    f"built. The Pb-I frameworks of the three phases of the MA/FA study have the space groups "
    + ", ".join(f"{g}: {found[g]}" for g in EXPECTED_GROUPS)
    + f" ({len(matching)} of {len(EXPECTED_GROUPS)} as Howard and Stokes give them). Over "
    f"{len(round_trip)} built cells the tilt angle measured back from the bonds differs from the imposed one by at "
    f"most {(round_trip.measured_z_deg - round_trip.imposed_deg).abs().max():.1e}°. The random MA/FA substitution "
    f"({settings['substitution_seeds']} seeds per x in {r}×{r}×{r} supercells) has a "
    f"Warren-Cowley α₁ within {deviation.max():.1f} standard errors of the finite-cell random value "
    f"{random_value:.4f} at every x where it is defined (both cations present)."))

# %% [markdown]
# ## The A-site cations
#
# Methylammonium (MA, CH3NH3+) and formamidinium (FA, HC(NH2)2+) are built from the bond lengths
# and angles of the relaxed cations in the crystal structures; each is placed with its centre of
# mass on the A site. The table lists the bonds as built.

# %%
rows = []
for name in ("MA", "FA"):
    cation = cation_in_local_frame(name)
    distances = cation.get_all_distances()
    symbols = cation.get_chemical_symbols()
    for i in range(len(cation)):
        for j in range(i + 1, len(cation)):
            pair = "-".join(sorted((symbols[i], symbols[j]), key="CNH".index))
            if distances[i, j] < 1.6 and pair != "H-H":
                rows.append(dict(cation=name, bond=pair, length_A=distances[i, j]))
bonds = pd.DataFrame(rows).groupby(["cation", "bond"]).length_A.agg(["count", "mean"])
bonds.round(3)

# %% [markdown]
# ## Cubic cells
#
# The untilted ($a^0a^0a^0$) cells use the experimental cubic lattice constants: MAPbI3 at 352 K
# {cite}`weller2015ma`, FAPbI3 at 298 K {cite}`weller2015fa` and CsPbI3 at 645 K
# {cite}`marronnier2018`. Mixed cells follow Vegard's law. Later chapters relax or equilibrate the
# cell with the potential; these values only set a sensible start.

# %%
pd.DataFrame([dict(compound=f"{a}PbI3", lattice_constant_A=CUBIC_LATTICE_CONSTANTS[a],
                   atoms_per_cell=len(build_perovskite(a, 1)),
                   framework_space_group=framework_spacegroup(build_perovskite(a, 1)))
              for a in ("MA", "FA", "Cs")])

# %% tags=["hide-input"]
plotting.structure_figure(build_perovskite("FA", 1), title="Cubic FAPbI3, one 12-atom cell")

# %% [markdown]
# ## Tilt patterns
#
# A tilt about axis $\alpha$ rotates the octahedron at cell $\mathbf{n}$ by $s_\alpha(\mathbf{n})
# \varphi_\alpha$; the sign alternates between neighbours perpendicular to $\alpha$ (corner sharing
# forces it) and, for an out-of-phase ($-$, R point) tilt, also along $\alpha$. The iodine on the
# Pb-Pb bond along $\beta$ moves by $\sum_\alpha s_\alpha d\sin\varphi_\alpha\,(\hat\alpha\times
# \hat\beta)$ with $d$ the Pb-I bond length, and the cell shrinks so that every Pb-I bond keeps its
# length. For one tilt axis this is an exact rigid rotation of each octahedron.
#
# For each pattern the table gives the space group of the Pb-I framework found by spglib (the
# molecules are left out: their orientations break the symmetry) and the tilt angle measured back
# from the Pb-I bond directions, which does not use the builder's formulas. The expected groups
# are those of Howard and Stokes {cite}`howard1998`: $a^0a^0c^-$ → I4/mcm, $a^0a^0c^+$ → P4/mbm,
# $a^-a^-c^+$ → Pnma.

# %%
patterns = ["a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+", "a-a-a-", "a+a+a+", "a0b-b-"]
gallery = {}
rows = []
for glazer in patterns:
    atoms = build_perovskite("MA", settings["supercell"], glazer=glazer,
                             tilt_angle=settings["tilt_angle"])
    gallery[glazer] = atoms
    measured = measure_tilt_angles(atoms).mean_abs_angles
    rows.append(dict(glazer=glazer, atoms=len(atoms), formula=atoms.get_chemical_formula(),
                     framework_space_group=framework_spacegroup(atoms),
                     **{f"tilt_{axis}_deg": angle for axis, angle in zip("xyz", measured)},
                     **{f"{axis}_A": a for axis, a in zip("abc", atoms.cell.lengths())}))
phase_table = pd.DataFrame(rows)
phase_table.round(3)

# %% [markdown]
# The three phases of the MA/FA study in orthographic projection down the $z$ axis (drag to rotate,
# scroll to zoom). In $a^0a^0c^+$ the octahedra of successive layers along $z$ rotate in the same
# sense, so the iodines of all layers line up in this view; in $a^0a^0c^-$ they rotate in opposite
# senses and the iodines of successive layers appear side by side.

# %% tags=["hide-input"]
camera = dict(eye=dict(x=0.0, y=0.0, z=2.5), up=dict(x=0, y=1, z=0),
              projection=dict(type="orthographic"))
for glazer in ["a0a0c-", "a0a0c+", "a-a-c+"]:
    figure = plotting.structure_figure(gallery[glazer], title=f"MAPbI3, {glazer}, "
                                       f"{settings['tilt_angle']:g}° ({len(gallery[glazer])} atoms)")
    figure.update_layout(scene_camera=camera)
    figure.show()

# %% [markdown]
# ### Round trip: imposed vs measured angle
#
# Each pattern is built over a grid of angles and the angle is measured back. The single-axis
# patterns return the imposed angle to machine precision; for several tilt axes the measured
# angle is also exact because the construction keeps every Pb-I bond at its length and the
# measurement reads the angle from the bond direction.

# %% tags=["hide-input"]
figure = go.Figure()
for glazer, group in round_trip.groupby("glazer"):
    figure.add_scatter(x=group.imposed_deg, y=group.measured_z_deg, mode="markers+lines",
                       name=f"{glazer}, about z")
figure.add_scatter(x=[0, max(settings["angle_grid"])], y=[0, max(settings["angle_grid"])],
                   mode="lines", line=dict(dash="dot", color="gray"), name="measured = imposed")
figure.update_layout(xaxis_title="imposed tilt angle (°)", yaxis_title="measured tilt angle (°)",
                     height=420)
figure.show()

# %%
print(
    "largest |measured - imposed| about z over all patterns: "
    f"{(round_trip.measured_z_deg - round_trip.imposed_deg).abs().max():.2e}°"
)

# %% [markdown]
# ## Random MA/FA substitution
#
# {func}`softlattice.perovskite.structures.build_mixed_perovskite` puts $\lfloor xN + 1/2\rfloor$ FA cations
# on a uniformly random subset of the $N$ A sites (numpy's seeded generator), so the realised
# fraction differs from the target by at most $1/2N$. The seed requires no spatial correlation
# between MA and FA; the nearest-neighbour Warren-Cowley parameter $\alpha_1 = 1 - P(\mathrm{FA}
# \mid \mathrm{MA})/x$ measures it (0 for a random alloy, $-1/(N-1)$ in a finite cell drawn
# without replacement; negative for alternation, positive for clustering). The table per x is
# collapsed (click to expand); the figure below shows it.

# %% tags=["hide-output"]
repeat = settings["substitution_repeat"]
summary = substitution.groupby("x_target").agg(
    x_realised=("x_realised", "first"), atoms=("atoms", "first"),
    alpha_1_mean=("alpha_1", "mean"), alpha_1_sem=("alpha_1", "sem"))
summary["alpha_1_random"] = -1 / (repeat ** 3 - 1)
summary.round(4)

# %% tags=["hide-input"]
figure = go.Figure()
figure.add_scatter(x=summary.index, y=summary.alpha_1_mean, error_y=dict(array=summary.alpha_1_sem),
                   mode="markers", name="built cells (mean ± s.e.m. over seeds)")
figure.add_scatter(x=[0, 1], y=[-1 / (repeat ** 3 - 1)] * 2, mode="lines",
                   line=dict(dash="dot", color="gray"), name="random alloy in this cell")
figure.update_layout(xaxis_title="FA fraction x", yaxis_title="Warren-Cowley α₁ (FA)", height=380,
                     title=f"Short-range order of the substitution, {repeat}×{repeat}×{repeat} cells")
figure.show()

# %% [markdown]
# A mixed cell at the composition of the seed's morphotropic phase boundary (27 % FA), with
# random molecular orientations, in the 96-atom cell:

# %% tags=["hide-input"]
mixed = build_mixed_perovskite(0.27, settings["supercell"], seed=settings["seed"],
                               molecule_orientation="random")
plotting.structure_figure(mixed, title=f"MA/FA cell, target x = 0.27, realised x = "
                          f"{mixed.info['fa_fraction']:.3f} ({mixed.get_chemical_formula()})")

# %% [markdown]
# ## What this chapter establishes
#
# - The builders give the stoichiometry and atom counts of the seed's cells (96 atoms for the
#   $2\times2\times2$ cell at every x) and the expected framework space groups for each tilt system.
# - The imposed tilt angle is recovered from the bond geometry, so later chapters can trust the
#   builders as references for the mode projection.
# - The random substitution has no short-range order beyond the finite-cell value.
