"""Named parameter sets of the chapters: ``quick`` (minutes on 2 cores, from scratch; what the
tests run) and ``full`` (publication scale; the book's default).

A notebook's ``parameters`` cell sets ``profile`` and leaves every tunable parameter at ``None``;
:func:`resolve` fills each ``None`` from the profile, so ``papermill -p profile quick`` picks the
quick set while ``-p supercell 4`` still overrides a single value.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

PROFILE_NAMES = ("quick", "full")

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "00_structures": {
        "quick": dict(supercell=2, tilt_angle=10.0, angle_grid=[0.0, 5.0, 10.0, 15.0, 20.0],
                      fa_fractions=[0.0, 0.25, 0.5, 0.75, 1.0], substitution_repeat=4,
                      substitution_seeds=4, seed=0),
        "full": dict(supercell=2, tilt_angle=10.0,
                     angle_grid=[float(a) for a in range(0, 26)],
                     fa_fractions=[round(0.05 * k, 2) for k in range(21)], substitution_repeat=8,
                     substitution_seeds=16, seed=0),
    },
    "00_validation_cspbi3": {
        "quick": dict(repeat=4, rate_K_per_ps=100.0, temperature_low=150.0, temperature_high=750.0,
                      reference_ps=4.0, window=10, seed=0),
        "full": dict(repeat=6, rate_K_per_ps=5.0, temperature_low=100.0, temperature_high=700.0,
                     reference_ps=20.0, window=25, seed=0),
    },
    "01_potential": {
        "quick": dict(recipe="quick", reference="chgnet-r2scan",
                      checks=dict(neb_axes=["C-H"], neb_images=3, neb_steps=10, phase_fa_fractions=[0.0, 1.0],
                                  phase_glazers=["a0a0a0", "a0a0c+"], phase_steps=10,
                                  stability_fa_fractions=[0.5], stability_ps=0.5, stability_nve_ps=0.25,
                                  stability_repeat=2, mass_equilibration_ps=0.5, mass_production_ps=1.0),
                      screening=dict(references=["chgnet-r2scan"], compositions=[0.0], glazers=["a0a0a0", "a0a0c-"],
                                     arrangements=[0], relax_steps=5, md_runs=[[0.0, "a0a0c-", 300.0]], md_ps=0.05),
                      dft_set="small"),
        "full": dict(recipe="v2", reference="sevennet-pw-ft-ef-last+d3", checks="v2", screening={},
                     dft_set="data/reference/dft-validation/gpaw-pbe.extxyz.gz"),
    },
    "02_phase_diagram": {
        "quick": dict(fa_fractions=[0.0, 1.0], replicas=1,
                      ramp=dict(temperature_low=100.0, temperature_high=300.0, rate_K_per_ps=400.0, repeat=2,
                                sample_interval=10, reference_ps=0.5),
                      size_test=dict(fa_fraction=0.0, kind="cooling", repeat=4, temperature_low=200.0),
                      rate_test=dict(fa_fraction=0.0, kind="cooling", rate_K_per_ps=200.0),
                      window=5, n_sigma=5.0, frame_temperatures=[200.0], extra_tasks=[], scheduler=None,
                      workers=None),
        "full": dict(fa_fractions=[0.0, 0.25, 0.5, 0.75, 1.0], replicas=2,
                     ramp=dict(temperature_low=25.0, temperature_high=425.0, rate_K_per_ps=40.0, repeat=4,
                               sample_interval=25, reference_ps=5.0),
                     size_test=dict(fa_fraction=0.25, kind="cooling", repeat=6, temperature_low=200.0,
                                    reference_ps=2.0),
                     # the largest cell, for chapter 03's domains; its untilted reference blew up
                     # at 0.6 ps (atoms 0.52 Å apart), so it is analysed per block, not classified
                     extra_tasks=[dict(fa_fraction=0.25, kind="cooling", repeat=8, temperature_low=200.0,
                                       reference_ps=2.0),
                                  dict(fa_fraction=0.25, kind="reference", repeat=8, temperature_low=200.0,
                                       reference_ps=2.0)],
                     rate_test=dict(fa_fraction=0.25, kind="cooling", rate_K_per_ps=20.0),
                     window=10, n_sigma=5.0, frame_temperatures=[200.0, 250.0, 300.0], scheduler="local",
                     workers=None),
    },
}
PROFILES["02_end_members"] = {
    "quick": dict(fa_fractions=[0.0, 1.0], replicas=1,
                  ramp=dict(temperature_low=100.0, temperature_high=300.0, rate_K_per_ps=400.0, repeat=2,
                            sample_interval=10, reference_ps=0.5),
                  window=5, n_sigma=5.0, frame_temperatures=[], extra_tasks=[], scheduler=None, workers=None),
    "full": dict(fa_fractions=[0.0, 1.0], replicas=1,
                 ramp=dict(temperature_low=100.0, temperature_high=600.0, rate_K_per_ps=5.0, repeat=6,
                           sample_interval=25, reference_ps=20.0),
                 window=40, n_sigma=5.0, frame_temperatures=[], extra_tasks=[], scheduler="local", workers=None),
}
"""Chapter 02's end-member ramps (issue 16): MAPbI3 and FAPbI3 heated from a-a-c+ between 100 K and
600 K and cooled back from the cubic cell at 5 K/ps in 2,592-atom cells (6x6x6; the smallest even
cube above 1,536 atoms), 1 ps windows (40 samples of 25 fs), 20 ps references at the top. The top is
the temperature of chapter 01's stability check (the highest at which the model was checked): NEP
v2's 1,536-atom cells still carry a persistent tilt at 450 K (x = 0: R_x 0.14 Å, x = 1: M_y 0.17 Å,
20 ps means), so a ramp that stops there never leaves the tilted phase; run with
``python -m softlattice.perovskite.workflows.phase_diagram --sweep 02_end_members`` and committed,
so the page only loads them in the full profile."""
PROFILES["02_coexistence"] = {
    "quick": dict(profile="quick", compute=True),
    "full": dict(profile="full", compute=False),
}
"""Chapter 02's fixed-temperature coexistence runs: the profile of
:data:`softlattice.perovskite.workflows.coexistence.PROFILES` and whether the page may run it
(the quick grid takes seconds; the full grid takes many hours and is run with
``make coexistence``, then committed, so the page only loads it)."""
PROFILES["03_mpb"] = {
    "quick": dict(sweep={**PROFILES["02_phase_diagram"]["quick"], "fa_fractions": [0.0, 0.5, 1.0]},
                  temperatures=[200.0], map_temperature=200.0, bootstrap=100),
    "full": dict(sweep=PROFILES["02_phase_diagram"]["full"], temperatures=[150.0, 200.0, 250.0],
                 map_temperature=200.0, bootstrap=1000),
}
"""Chapter 03 analyses the sweeps of chapter 02 (the same settings, so the same result set)."""
PROFILES["04_damping"] = {
    "quick": dict(fa_fractions=[0.0], temperatures=[400.0], run_ps=1.0, repeat=2, max_lag_ps=0.2, supercell=2,
                  scheduler=None),
    "full": dict(fa_fractions=[0.0, 0.5, 1.0], temperatures=[350.0, 450.0, 550.0], run_ps=20.0, repeat=4,
                 max_lag_ps=2.0, supercell=2, scheduler="local"),
}
"""Chapter 04: NVT runs of the cubic cell with real masses (0.5 fs) over a composition x
temperature grid, run as 'reference' tasks of :mod:`softlattice.perovskite.workflows.phase_diagram`."""
PROFILES["04_damping_map"] = {
    "quick": dict(fa_fractions=[0.0, 1.0], boundary_source={"0": 350.0, "1": 350.0}, top_K=450.0, count=2,
                  margin_K=20.0, repeat=2, npt_ps=0.2, nvt_ps=0.6, max_lag_ps=0.1, factors=[1.0, 1.5]),
    "full": dict(fa_fractions=[0.0, 0.25, 0.5, 0.75, 1.0], boundary_source="end_members", top_K=600.0, count=4,
                 margin_K=20.0, repeat=4, npt_ps=10.0, nvt_ps=50.0, max_lag_ps=10.0, factors=[1.0, 1.5, 2.0]),
}
"""Chapter 04's damping map (issue 17): per composition, NVT at the NPT-equilibrated cell (real
masses, 0.5 fs; 768 atoms, 10 ps NPT then 50 ps NVT) at four temperatures from 20 K above the
cubic boundary to 600 K; the boundaries come from chapter 02's end-member ramps (heating into the
cubic phase, linear in x between MAPbI3 and FAPbI3; ``boundary_source`` 'end_members') or are
given (x -> K); joint DHO fits over 1, 1.5 and 2 decay lags, ACFs to 10 ps (a fifth of the run). Run with
``python -m softlattice.perovskite.workflows.damping --map`` (two processes with ``--part``), then
committed; the page only loads the full map."""
PROFILES["05_band_edges"] = {
    "quick": dict(fa_fractions=[0.0, 1.0], arrangements=1, snapshots=2, interval_ps=0.1, equilibration_ps=0.2,
                  temperature=330.0, timestep_fs=0.5),
    "full": dict(fa_fractions=[k / 8 for k in range(9)], arrangements=4, snapshots=5, interval_ps=1.0,
                 equilibration_ps=5.0, temperature=330.0, timestep_fs=0.5),
}
"""Chapter 05: 96-atom cells at 330 K (fixed cell), 4 arrangements x 5 snapshots per composition."""


PROFILES["05_band_edges_cubic"] = {
    "quick": dict(fa_fractions=[0.0, 0.5, 1.0], arrangements=1, snapshots=2, interval_ps=0.1, equilibration_ps=0.2,
                  timestep_fs=0.5, boundary_source={"0": 300.0, "0.5": 300.0, "1": 300.0}, margin_K=20.0,
                  min_spacing_correlations=None),
    "full": dict(fa_fractions=[k / 8 for k in range(9)], arrangements=4, snapshots=15, interval_ps=3.0,
                 equilibration_ps=5.0, timestep_fs=0.5, boundary_source="end_members", margin_K=20.0,
                 min_spacing_correlations=2.0),
}
"""Chapter 05's band edges at the seed's protocol point in this model's own cubic phase (issue 17):
one temperature for every composition, 20 K above the highest cubic boundary of chapter 02's
end-member ramps; 96-atom cells at the NPT volume, 4 arrangements x 15 snapshots per composition
(60), spaced by 3 ps and refused if that is under two measured tilt correlation times; run with
``python -m softlattice.perovskite.workflows.band_edges --protocol cubic`` (two processes with
``--part``), then committed; the page only loads it."""
PROFILES["05_band_edges_size"] = {
    "quick": dict(fa_fractions=[0.5], repeat=[1, 1, 2], arrangements=1, snapshots=1, interval_ps=0.1,
                  equilibration_ps=0.2, timestep_fs=0.5, boundary_source={"0": 300.0, "0.5": 300.0, "1": 300.0},
                  margin_K=20.0, min_spacing_correlations=None),
    "full": dict(fa_fractions=[0.5], repeat=[2, 2, 4], arrangements=2, snapshots=10, interval_ps=3.0,
                 equilibration_ps=5.0, timestep_fs=0.5, boundary_source="end_members", margin_K=20.0,
                 min_spacing_correlations=2.0),
}
"""Chapter 05's cell-size check (issue 17): the cubic protocol's temperature and spacing at x = 0.5 in a
192-atom cell (2x2x4) instead of 96 atoms, 2 arrangements x 10 snapshots; run with ``python -m
softlattice.perovskite.workflows.band_edges --protocol size``, then committed; the page only loads it
('quick': the same code path in a 24-atom cell)."""


PROFILES["06_cap_models"] = {
    "quick": dict(dataset=dict(br_fractions=[0.0, 1.0], orderings_per_x=1, temperatures=[300.0], per_temperature=4,
                               rattled=1, phonon_mesh=8),
                  reference="chgnet-r2scan", test_percent=25,
                  finetune=dict(epochs=2, batch_size=4, validation_percent=25),
                  phonon_compositions=[1.0],
                  gaps=dict(cheap="pbe", accurate="gllbsc", accurate_percent=30, max_cheap=6, max_accurate=5,
                            cheap_basis="sz(dzp)", accurate_basis="sz(dzp)"),
                  gnn=dict(stage1_epochs=30, stage2_epochs=30, learning_rate=1e-3, batch_size=4)),
    "full": dict(dataset=dict(), reference="chgnet-r2scan", test_percent=10,
                 finetune=dict(epochs=30, batch_size=8, validation_percent=10),
                 phonon_compositions=[1.0, 0.5],
                 gaps=dict(cheap="pbe", accurate="gllbsc", accurate_percent=20, max_cheap=240, max_accurate=30,
                           cheap_basis="sz(dzp)", accurate_basis="dzp"),
                 gnn=dict(stage1_epochs=300, stage2_epochs=200, learning_rate=1e-3, batch_size=16)),
}
"""Chapter 06: the full training set is every inequivalent ordering (22 over 9 compositions) x 6
temperatures x 2 cells, plus one rattled and one equilibrium cell each (308 structures); gaps at
the cheap level (PBE, single-zeta basis) for 240 and at the accurate level (GLLB-SC, dzp basis)
for 30 of them (distinct structures)."""


PROFILES["06_gap_models"] = {
    "quick": dict(cap_models="full", label_set=None,
                  gnn=dict(gaussians=32, head=16),
                  stage1=dict(epochs=15, batch_size=16, learning_rate=3e-3),
                  stage2=dict(epochs=15, batch_size=16, learning_rate=1e-3),
                  selection=dict(folds=2, poolings=["mean", "max"], widths=[32], depths=[2]),
                  histogram=dict(spacing=0.1, width=0.1),
                  learning_fractions=[0.5, 1.0], learning_repeats=1, seeds=[0], accurate_folds=3),
    "full": dict(cap_models="full", label_set="issue18-2",
                 gnn=dict(gaussians=32, head=16),
                 stage1=dict(epochs=30, batch_size=16, learning_rate=3e-3),
                 stage2=dict(epochs=100, batch_size=16, learning_rate=1e-3),
                 selection=dict(folds=3, poolings=["mean", "add", "max"], widths=[32, 64], depths=[2, 3]),
                 histogram=dict(spacing=0.1, width=0.1),
                 learning_fractions=[0.25, 0.5, 0.75, 1.0], learning_repeats=2, seeds=[0, 1, 2], accurate_folds=9),
}
"""Chapter 06's band-gap models compared (:mod:`softlattice.antiperovskite.workflows.gap_models`),
from the committed chapter-06 gaps (``cap_models`` names that chapter's profile; both profiles
here read its full, committed set, so neither computes a gap): the seed-style GNN against a
constant, a linear fit in (x, T) and ridge on distance histograms, on the same held-out
structures; pooling, width and depth chosen by k-fold cross-validation over the cheap training
structures, one step at a time in the order listed (the first value of each list is the start).
``label_set`` names a frozen set of further gaps (:mod:`softlattice.antiperovskite.label_sets`:
chapter 06's extended selection and chapter 07's MD frames), learnt beside chapter 06's; with it
the cheap training set is about four times larger, so the full profile's stage 1 runs 30 epochs
(about as many optimiser steps as 100 epochs over chapter 06's 216 cheap training gaps)."""


PROFILES["07_cap_thermal"] = {
    "quick": dict(cap_models="quick", br_fractions=[0.0, 1.0], relax_fmax=0.1, gap_models="full",
                  student=dict(steps=300, rattled_per_x=4, generations=1, explore_K=300.0, explore_ps=0.3,
                               explore_every_fs=50.0, hyper=dict(radial_cutoff=6.0, angular_cutoff=4.0,
                                                                       n_max_radial=2, n_max_angular=2, l_max_3b=2,
                                                                       l_max_4b=0, l_max_5b=0, neurons=8, batch_size=4)),
                  temperatures=[100.0, 300.0], run_ps=1.0, equilibration_ps=0.3, timestep_fs=1.0, snapshot_fs=10.0,
                  spectra_temperatures=[300.0], frozen_composition=1.0, frozen_temperatures=[300.0], spot_checks=1),
    "full": dict(cap_models="full", br_fractions=[k / 8 for k in range(9)], relax_fmax=0.02,
                 gap_models="full",
                 student=dict(steps=10000, rattled_per_x=10, generations=6, target_hot_mae_meV=100.0,
                              explore_K=600.0, explore_ps=5.0, explore_every_fs=100.0,
                              hyper=dict(radial_cutoff=6.0, angular_cutoff=4.0, l_max_4b=2, l_max_5b=0, batch_size=8,
                                         zbl_typewise_factor=0.7)),
                 temperatures=[100.0, 200.0, 300.0, 400.0, 500.0, 600.0], run_ps=20.0, equilibration_ps=5.0,
                 timestep_fs=1.0, snapshot_fs=20.0, spectra_temperatures=[100.0, 200.0, 400.0],
                 frozen_composition=0.5, frozen_temperatures=[300.0, 600.0], spot_checks=3),
}
"""Chapter 07: Langevin MD (1 fs, 0-600 K; 20 ps after 5 ps of equilibration, the seed ran 40 ps)
of the lowest ordering per x with a NEP student of the fine-tuned CHGNet (three- and four-body
descriptor, ZBL core; generations that learn the teacher's labels of the previous student's 600 K
MD until its force MAE on those frames, before learning them, is at most 100 meV/Å, at most six:
the first student drew atoms together within a picosecond; 10,000 training steps per generation:
with 3,000 the MAE stalled at 120-124 meV/Å from the third generation on, as large on frames it had
learnt as on new ones, so it underfitted); gaps every 20 fs from the model chapter 06's comparison
chooses for this chapter (``gap_models``: a profile of ``06_gap_models``; absent: chapter 06's first
GNN), 0 K gaps of the relaxed cells computed directly; spectra at 100-400 K."""


FULL_PENDING: dict[str, str] = {
}
"""Chapters whose full-profile results are not committed yet, with the command that makes them.
The book builds them with the quick profile and says so on the page; remove a chapter from here
when its result set lands in data/."""


def settings_from_mapping(cls: type, values: dict[str, Any], what: str = "setting") -> Any:
    """An instance of the frozen dataclass ``cls`` from a plain mapping (as a profile or a JSON
    record holds it): lists become tuples (nested ones too), unknown names are refused."""
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {what}(s) {sorted(unknown)}; allowed: {sorted(known)}")

    def as_tuple(value: Any) -> Any:
        return tuple(as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value

    return cls(**{name: as_tuple(value) for name, value in values.items()})


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _values(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def check_override(name: str, default: Any, value: Any) -> Any:
    """``value`` for parameter ``name`` if it has the kind of the profile's ``default`` (number,
    list, mapping, string, boolean) and lies in the physical range its name implies (temperatures
    positive, FA fractions in [0, 1]); else a ValueError naming the parameter, the value and what
    is allowed. A mapping is merged over the profile's mapping, never replacing it."""
    if default is not None and _kind(value) != _kind(default):
        example = f" (e.g. [{value!r}])" if _kind(default) == "a list" and _kind(value) != "a list" else ""
        raise ValueError(f"parameter {name!r} = {value!r} must be {_kind(default)}{example}, like the "
                         f"profile's {default!r}")
    if isinstance(value, dict) and isinstance(default, dict):
        unknown = set(value) - set(default)
        if default and unknown:
            raise ValueError(f"parameter {name!r}: unknown key(s) {sorted(unknown)}; allowed: {sorted(default)}")
        return {**default, **{k: check_override(f"{name}.{k}", default.get(k), v) for k, v in value.items()}}
    numbers = [v for v in _values(value) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if "temperature" in name and any(not v > 0 for v in numbers):
        raise ValueError(f"parameter {name!r} = {value!r}: temperatures are in K and must be > 0")
    if "fa_fraction" in name and any(not 0 <= v <= 1 for v in numbers):
        raise ValueError(f"parameter {name!r} = {value!r}: FA fractions must lie in [0, 1]")
    return value


IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def refuse_unknown_parameters(namespace: dict[str, Any], declared: set[str]) -> None:
    """Raise a ValueError naming every parameter injected into a notebook (by papermill, the book
    command or ``make chapter``) that its ``parameters`` cell does not declare.

    ``declared`` is ``set(globals())`` taken at the end of the parameters cell; papermill injects
    its cell right after that one, so any name that appears in between is a parameter the chapter
    does not have (a misspelling would otherwise run silently with the defaults). Names bound to
    anything but a literal (modules, functions and classes imported since) are not parameters."""
    literals = (type(None), bool, int, float, str, list, tuple, dict)  # what papermill can inject
    unknown = sorted(name for name in set(namespace) - declared
                     if not name.startswith("_") and isinstance(namespace[name], literals))
    if unknown:
        known = sorted(n for n in declared if not n.startswith("_") and n not in IPYTHON_NAMES)
        raise ValueError(f"unknown parameter(s) {unknown}; this chapter's parameters: {known}")


def resolve(chapter: str, profile: str, **overrides: Any) -> dict[str, Any]:
    """Parameters of ``chapter`` under ``profile``, with every non-None override applied.

    Parameters
    ----------
    chapter
        Notebook stem, e.g. '00_structures'.
    profile
        'quick' or 'full'.
    overrides
        Parameter values; ``None`` means "take the profile's value". Each is checked by
        :func:`check_override` (kind and range; a mapping is merged over the profile's).
    """
    if chapter not in PROFILES:
        raise ValueError(f"unknown chapter {chapter!r}; known: {', '.join(sorted(PROFILES))}")
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILE_NAMES)}")
    settings = dict(PROFILES[chapter][profile])
    unknown = set(overrides) - set(settings)
    if unknown:
        raise ValueError(f"unknown parameter(s) {sorted(unknown)} for {chapter}; allowed: "
                         f"{sorted(settings)}")
    settings.update({name: check_override(name, settings[name], value)
                     for name, value in overrides.items() if value is not None})
    settings["profile"] = profile
    return settings
