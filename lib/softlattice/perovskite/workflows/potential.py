"""The MA/FA production potential: initial set, active learning, final ensemble, stored model.

Units: eV, Å, K, GPa, ps.

``python -m softlattice.perovskite.workflows.potential --output data/models/mafa-chgnet-r2scan`` runs the recipe
(:data:`RECIPES`) in a resumable work folder under ``runs/`` (labels cached per structure,
trainings keyed by their data, generations skipped when done), then stores in the output folder the
final model (``nep.txt``, member 0 of the final ensemble), the whole ensemble
(``ensemble/member_<k>.txt``), member 0's train/test sets (compressed), its learning curve, the
generation summary and a provenance record. Stop it at any time; the same command goes on.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from ase import Atoms
from ase.io import read, write

from softlattice.infra import profiles
from softlattice.infra.keys import file_hash, json_key, structure_hash
from softlattice.infra.paths import DATA_DIR, RUNS_DIR
from softlattice.infra.provenance import read_provenance, write_provenance
from softlattice.infra.resultsets import ResultSet, obtain, result_key
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDSettings
from softlattice.models.active_learning import (
    ActiveLearningSettings,
    ExplorationCondition,
    candidate_spreads,
    explore,
    run_active_learning,
    trainable,
)
from softlattice.models.nep import HYPERPARAMETER_PRESETS, ensemble_spread, write_training_set
from softlattice.models.reference import label_structures
from softlattice.models.splits import split_structures
from softlattice.perovskite.structures import build_mixed_perovskite
from softlattice.perovskite.student_criteria import runs_survived, tetragonal_order
from softlattice.perovskite.training_sets import (
    MA_FA_SPECIES,
    generate_structures,
    perturbed_copies,
    relaxed_tilt_phases,
)
from softlattice.perovskite.workflows.checks import TEACHER_RELAXED

RECIPES: dict[str, dict[str, Any]] = {
    "full": dict(
        reference="chgnet-r2scan", hyper="production",
        fa_fractions=[0.0, 0.25, 0.5, 0.75, 1.0], glazers=["a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+"],
        strains=[-0.03, -0.015, 0.0, 0.015, 0.03], rattles=[0.04, 0.08, 0.14],
        molecule_rattle_fraction=0.3, per_combination=2,
        exploration=dict(fa_fractions=[0.0, 0.5, 1.0],
                         runs=[[150.0, "a-a-c+", 0.0], [300.0, "a0a0c+", 0.0], [300.0, "a0a0c-", 0.0],
                               [450.0, "a0a0a0", 0.0], [350.0, "a0a0a0", 0.5]],
                         duration_ps=8.0, repeat=[2, 2, 2]),
        generations=3, members=5, steps=2000, final_steps=3000, final_members=1, select_per_generation=90,
        max_per_condition=10, force_spread_threshold=0.15, snapshot_interval_ps=0.1,
        max_reference_force=25.0, test_fraction=0.1, seed=0),
    "quick": dict(
        reference="chgnet-r2scan", hyper="tiny",
        fa_fractions=[0.0, 1.0], glazers=["a0a0a0", "a-a-c+"], strains=[0.0], rattles=[0.04],
        molecule_rattle_fraction=0.3, per_combination=2,
        exploration=dict(fa_fractions=[0.5], runs=[[300.0, "a0a0c+", 0.0]], duration_ps=0.4,
                         repeat=[2, 2, 2]),
        generations=1, members=2, steps=150, final_steps=150, final_members=1, select_per_generation=4,
        max_per_condition=4, force_spread_threshold=0.0001, snapshot_interval_ps=0.05,
        max_reference_force=25.0, test_fraction=0.25, seed=0),
    "v2": dict(
        reference=None, hyper="production",
        fa_fractions=[k / 8 for k in range(9)], glazers=["a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+"],
        strains=[-0.03, -0.015, 0.0, 0.015, 0.03], rattles=[0.04, 0.08, 0.14],
        molecule_rattle_fraction=0.3, per_combination=2,
        exploration=dict(fa_fractions=[0.0, 0.5, 1.0],
                         runs=[[150.0, "a-a-c+", 0.0], [250.0, "a0a0c+", 0.0], [250.0, "a0a0c-", 0.0],
                               [450.0, "a0a0a0", 0.0], [600.0, "a0a0a0", 0.0], [350.0, "a0a0a0", 0.5],
                               [300.0, "a0a0c-", 0.0, [4, 4, 4]], [600.0, "a0a0a0", 0.0, [4, 4, 4]]],
                         duration_ps=8.0, repeat=[2, 2, 2]),
        generations=8, members=5, steps=2000, final_steps=3000, final_members=1, select_per_generation=90,
        max_per_condition=10, force_spread_threshold=0.15, stop_median_spread=0.15, stop_spread_gain=0.25,
        snapshot_interval_ps=0.1,
        max_reference_force=25.0, test_fraction=0.1, seed=0),
}
RECIPES["v3"] = dict(
    RECIPES["v2"],
    relaxed=dict(relaxer="mafa-v2", fa_fractions=[k / 8 for k in range(9)],
                 glazers=["a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+"], seeds=[101, 102], strains=[-0.015, 0.015],
                 path_frames=2, fmax=0.02, steps=1000))
RECIPES["v4"] = dict(
    RECIPES["v3"],
    teacher_relaxed=dict(fa_fractions=[0.0, 1.0], strains=[-0.015, 0.015], rattles=[0.02, 0.05], copies=3))
RECIPES["v5"] = dict(
    RECIPES["v4"],
    failure_runs=dict(explorer="mafa-v4", temperature=600.0, fa_fractions=[0.0, 0.5, 1.0], repeat=[4, 4, 4],
                      duration_ps=12.0, snapshot_interval_ps=0.4))
"""'full': the committed model (>= 800 structures after 3 generations with an ensemble of five; one
final model trained on everything, the last generation's five kept as the uncertainty ensemble);
'quick': the same code path in a few minutes (tiny model, CI); 'v2': NEP v2 from the teacher the
rule of chapter 01 chose (1,080 strained and rattled cells of the four tilt phases at x = 0 to 1 in
steps of 1/8, explorations up to 600 K and in 768-atom cells labelled whole, generations until the
median ensemble force spread is at or below 0.15 eV/Å, or until a generation whose explorations all
ran to the end cut the median spread of every cell size by less than a quarter); its reference must
be given or chosen. The second rule was added after generation 1, once the members' spread on
structures like their own training data (0.20-0.23 eV/Å, ``spread_diagnostics``) showed that the
first cannot fire; it was fixed before generation 2's explorations ran. 'v3': v2's loop (the same
generations) and, before the final model, the tilt phases relaxed by NEP v2 at every x with two
random arrangements, with points on the way and strained copies, labelled by the teacher
(:func:`softlattice.perovskite.training_sets.relaxed_tilt_phases`): NEP v2 put the FAPbI3 phases in
the wrong order at the teacher's own relaxed geometries, and its training set held no relaxed
cell. 'v4': v3 and, also before the final model, the teacher's own relaxed tilt phases of the
end members (its screen's result set) with strained and rattled copies: NEP v3 put the teacher's
minima 12-22 meV/atom above the teacher, and relaxing from them moved its hydrogens by 0.7 Å on
average, so the teacher's basins lie where no training cell was. The mixed compositions' teacher
cells stay out of training, as the test. 'v5': v4 and, also before the final model, snapshots of
NEP v4's own NPT runs at 600 K in 768-atom cells (x = 0, 0.5, 1), every 0.4 ps up to where they blow
up, labelled whole by the teacher: v4 keeps the teacher's phase order better than v2 but its 600 K
runs blew up after 7-15 ps, so its failures are the cells to learn. Which student the chapters use
is decided by :func:`student_replaces` and :func:`choose_student`."""

MAX_FORCE_RMSE_RATIO = 1.10
"""How much higher a later student's test force RMSE may be than the kept one's, in the rule of
:func:`student_replaces` (fixed before NEP v3 was measured)."""


def student_replaces(order_old: pd.DataFrame, order_new: pd.DataFrame, rmse_old: float, rmse_new: float,
                     trained_fa_fractions: Sequence[float] = ()) -> tuple[bool, str]:
    """Whether a later student replaces the one kept, by the rule fixed before NEP v3 was measured:
    at the same teacher cells (two ``phase_order.csv`` tables) it keeps the a0a0c-/a0a0c+ order in
    more pairs, has the smaller median |difference|, and its test force RMSE (eV/Å) is at most
    :data:`MAX_FORCE_RMSE_RATIO` times the kept one's. Returns the verdict and a sentence that says
    why.

    Compositions in ``trained_fa_fractions`` (those whose teacher cells the new student learned)
    are left out of both tables: the rule judges on cells neither model was trained on."""
    def held_out(table: pd.DataFrame) -> pd.DataFrame:
        trained = np.isclose(table.fa_fraction.to_numpy()[:, None], np.asarray(trained_fa_fractions, float)).any(1) \
            if len(trained_fa_fractions) else np.zeros(len(table), bool)
        return table[~trained]
    tables = {"old": held_out(order_old), "new": held_out(order_new)}
    if tables["new"].empty:
        raise ValueError(f"no teacher cells outside the trained compositions {list(trained_fa_fractions)}")
    kept = {name: int(tetragonal_order(table).same_order.sum()) for name, table in tables.items()}
    pairs = len(tetragonal_order(tables["new"]))
    median = {name: float(table.difference_meV_per_fu.abs().median()) for name, table in tables.items()}
    ratio = rmse_new / rmse_old
    verdict = (kept["new"] > kept["old"] and median["new"] < median["old"]
               and ratio <= MAX_FORCE_RMSE_RATIO)
    where = (f" at x outside {', '.join(f'{x:g}' for x in trained_fa_fractions)}" if len(trained_fa_fractions)
             else "")
    reason = (f"order kept in {kept['new']} of {pairs} pairs{where} (before: {kept['old']}), median |difference| "
              f"{median['new']:.1f} meV/f.u. (before: {median['old']:.1f}), test force RMSE {1000 * rmse_new:.0f} "
              f"meV/Å ({100 * (ratio - 1):+.0f} % against before)")
    return verdict, reason


def refinement_items(parameters: dict[str, Any], first: int = 3) -> list[str]:
    """The numbered Markdown items (from ``first``) of what a recipe adds after its active-learning
    loop and before its final model: relaxed phases, the teacher's own cells, failure snapshots
    (empty for a recipe that adds nothing)."""
    relaxed = parameters.get("relaxed")
    items = [] if not relaxed else [
        f"{first}. relaxed phases (added after the loop, before the final model): the tilt phases relaxed by "
        f"`{relaxed['relaxer']}` (positions and cell, to {relaxed['fmax']:g} eV/Å or {relaxed['steps']} steps) at "
        f"x = {', '.join(f'{x:g}' for x in relaxed['fa_fractions'])} with {len(relaxed['seeds'])} random "
        f"arrangements each; kept: the relaxed cell, {relaxed['path_frames']} cells on the way, and the relaxed "
        f"cell strained by {', '.join(f'{100 * e:+g} %' for e in relaxed['strains'])} "
        f"({relaxed_count(parameters)} cells), labelled by the teacher;"]
    teacher = parameters.get("teacher_relaxed")
    if teacher:
        cells = len(teacher_relaxed_cells(parameters))
        per_cell = 1 + len(teacher["strains"]) + teacher["copies"] * len(teacher["rattles"])
        items.append(
            f"{first + len(items)}. the teacher's own relaxed tilt phases at x = "
            f"{', '.join(f'{x:g}' for x in teacher['fa_fractions'])} ({cells} cells of its screen), as they are, "
            f"strained by {', '.join(f'{100 * e:+g} %' for e in teacher['strains'])}, and {teacher['copies']} copies "
            f"rattled by each of {', '.join(f'{r:g}' for r in teacher['rattles'])} Å ({cells * per_cell} cells), "
            "labelled by the teacher; its cells at the other compositions stay out of training, as the test of the "
            "phase order;")
    failures = parameters.get("failure_runs")
    if failures:
        items.append(
            f"{first + len(items)}. snapshots of `{failures['explorer']}`'s own NPT runs at "
            f"{failures['temperature']:g} K from the untilted cell (x = "
            f"{', '.join(f'{x:g}' for x in failures['fa_fractions'])}; "
            f"{int(np.prod(failures['repeat'])) * 12} atoms, {failures['duration_ps']:g} ps), every "
            f"{failures['snapshot_interval_ps']:g} ps up to the end or to where a run blows up, labelled whole by the "
            "teacher;")
    return items


def recipe_summary(parameters: dict[str, Any]) -> str:
    """The recipe ``parameters`` (from :func:`recipe_parameters`) as a Markdown list, in the
    words chapter 01 uses: systematic structures, active learning and its stopping rules, final
    model."""
    n_cells = len(parameters["rattles"]) * parameters["per_combination"] * len(parameters["fa_fractions"]) \
        * len(parameters["glazers"]) * len(parameters["strains"])
    spec = parameters["exploration"]
    sizes = sorted({int(np.prod(run[3] if len(run) > 3 else spec["repeat"])) * 12 for run in spec["runs"]})
    temperatures = sorted({float(run[0]) for run in spec["runs"]})
    pressures = sorted({float(run[2]) for run in spec["runs"]})
    rules = [f"no snapshot's spread exceeds {parameters['force_spread_threshold']:g} eV/Å"]
    if parameters.get("stop_median_spread"):
        rules.append(f"the median spread is at or below {parameters['stop_median_spread']:g} eV/Å")
    if parameters.get("stop_spread_gain"):
        rules.append(f"a generation whose explorations all ran to the end lowers the median spread of every "
                     f"cell size by less than {100 * parameters['stop_spread_gain']:.0f} %")
    relaxed_item = refinement_items(parameters)
    return "\n".join([
        f"1. systematic structures ({n_cells} cells of 96 atoms): the tilt phases "
        + ", ".join(f"`{g}`" for g in parameters["glazers"]) + " at x = "
        + ", ".join(f"{x:g}" for x in parameters["fa_fractions"]) + f", {len(parameters['strains'])} strains "
        f"({', '.join(f'{100 * e:+g} %' if e else '0 %' for e in parameters['strains'])}), rattle amplitudes "
        + ", ".join(f"{r:g}" for r in parameters["rattles"])
        + f" Å (molecular atoms {parameters['molecule_rattle_fraction']:g} "
        f"times as much as Pb and I, since their bonds are about 30 times stiffer), {parameters['per_combination']} "
        "random arrangements each;",
        f"2. at most {parameters['generations']} active-learning generations: an ensemble of "
        f"{parameters['members']} trained on random splits ({parameters['steps']} steps each); NPT MD (0.5 fs, real "
        f"masses, {spec['duration_ps']:g} ps) with the first member at {temperatures[0]:g}-{temperatures[-1]:g} K and "
        + " and ".join(f"{p:g}" for p in pressures) + " GPa, x = " + ", ".join(f"{x:g}" for x in spec["fa_fractions"])
        + " in cells of " + " and ".join(str(n) for n in sizes) + " atoms"
        + (" (labelled whole)" if len(sizes) > 1 else "")
        + "; the snapshots where the "
        f"members disagree most (largest per-atom force spread, at most {parameters['max_per_condition']} per run and "
        f"{parameters['select_per_generation']} per generation) are labelled and added. The loop stops when "
        + ", or when ".join(rules) + ";",
        *relaxed_item,
        f"{3 + len(relaxed_item)}. "
        + ("one final model" if parameters["final_members"] == 1 else f"{parameters['final_members']} final models")
        + f" trained for {parameters['final_steps']} steps on everything "
        f"labelled; the last generation's {parameters['members']} members are kept beside it (`ensemble/`) for "
        "uncertainty estimates in later chapters.",
    ])


def relaxed_count(recipe: dict[str, Any]) -> int:
    """Number of cells the recipe's ``relaxed`` entry adds (0 without one)."""
    spec = recipe.get("relaxed")
    if not spec:
        return 0
    per_relaxation = spec["path_frames"] + 1 + len(spec["strains"])
    return len(spec["fa_fractions"]) * len(spec["glazers"]) * len(spec["seeds"]) * per_relaxation


def stability_passed(folder: str | Path) -> bool | None:
    """Whether a committed student survived its stability check (every run of
    ``checks/stability.csv`` reached the length its checks asked for without blowing up); None
    where that check is not committed."""
    checks = Path(folder) / "checks"
    record = read_provenance(checks)
    if not (checks / "stability.csv").is_file() or record is None or "stability_ps" not in record["parameters"]:
        return None
    stability = pd.read_csv(checks / "stability.csv")
    return bool(runs_survived(stability, float(record["parameters"]["stability_ps"])).all())


def choose_student(folders: Sequence[str | Path]) -> tuple[Path, list[str]]:
    """The student kept after walking ``folders`` (committed model folders of one teacher, each
    with ``checks/phase_order.csv`` and a provenance record) in order: each one replaces the one
    kept so far when :func:`student_replaces` says so, judged outside the compositions whose teacher
    cells it learned (its recipe's ``teacher_relaxed`` entry), and when it passed its stability
    check (:func:`stability_passed`; the issue's no-blow-up requirement, which the phase-order rule
    presumes). Returns the kept folder and one sentence per comparison (and one more if the kept
    student itself failed its stability check)."""
    folders = [Path(f) for f in folders]
    if not folders:
        raise ValueError("no student to choose from")
    kept, lines = folders[0], []
    for candidate in folders[1:]:
        parameters = read_provenance(candidate)["parameters"]
        learned = (parameters.get("teacher_relaxed") or {}).get("fa_fractions", [])
        verdict, reason = student_replaces(
            pd.read_csv(kept / "checks" / "phase_order.csv"), pd.read_csv(candidate / "checks" / "phase_order.csv"),
            read_provenance(kept)["final_rmse"]["rmse_forces_test"],
            read_provenance(candidate)["final_rmse"]["rmse_forces_test"], trained_fa_fractions=learned)
        stable = stability_passed(candidate)
        if verdict and stable is False:
            reason += f"; but {candidate.name} blew up in its stability check"
        elif verdict and stable is None:
            reason += f"; but {candidate.name}'s stability check is not committed yet"
        replaces = verdict and stable is True
        lines.append(f"{candidate.name} against {kept.name}: {reason}; "
                     + (f"{candidate.name} replaces {kept.name}" if replaces else f"{kept.name} stays"))
        kept = candidate if replaces else kept
    if stability_passed(kept) is False:
        lines.append(f"{kept.name}, the student kept, blew up in its own stability check: no student of this "
                     "teacher is fit for the MD chapters yet")
    return kept, lines


def failure_snapshots(recipe: dict[str, Any], run_folder: str | Path) -> list[Atoms]:
    """Snapshots of the recipe's ``failure_runs``: NPT MD with the model ``data/models/<explorer>``
    at one temperature from the untilted cell of each composition, every ``snapshot_interval_ps``
    up to the end or to where the run blows up (:func:`softlattice.models.active_learning.explore`,
    resumable per run in ``run_folder``); none without the entry."""
    spec = recipe.get("failure_runs")
    if not spec:
        return []
    explorer = DATA_DIR / "models" / spec["explorer"] / "nep.txt"
    if not explorer.exists():
        raise FileNotFoundError(f"explorer model {explorer} not found: the recipe's failure runs need it")
    conditions = [ExplorationCondition(build_mixed_perovskite(x, tuple(spec["repeat"]), glazer="a0a0a0",
                                                              seed=recipe["seed"] + k),
                                       float(spec["temperature"]), float(spec["duration_ps"]))
                  for k, x in enumerate(spec["fa_fractions"])]
    snapshots = explore(explorer, conditions, MDSettings(ensemble="npt", timestep_fs=0.5, sample_interval=20),
                        float(spec["snapshot_interval_ps"]), run_folder=run_folder)
    for atoms in snapshots:
        atoms.info["origin"] = "failure-md"
    return snapshots


TEACHER_RELAXED_ARRANGEMENTS = (0, 1)
"""The molecular arrangements of the teacher's relaxed cells a recipe learns unless it names its own;
the teacher screen's further arrangements stay held out."""


def teacher_relaxed_cells(recipe: dict[str, Any]) -> list[Atoms]:
    """The relaxed tilt phases of the recipe's reference at the compositions (and arrangements,
    default :data:`TEACHER_RELAXED_ARRANGEMENTS`) of its ``teacher_relaxed`` entry, from the teacher
    screen's result set (none without the entry)."""
    spec = recipe.get("teacher_relaxed")
    if not spec:
        return []
    arrangements = spec.get("arrangements", TEACHER_RELAXED_ARRANGEMENTS)
    cells = [a for a in read(TEACHER_RELAXED, ":") if a.info.get("candidate") == recipe["reference"]
             and any(abs(float(a.info["fa_fraction"]) - x) < 1e-9 for x in spec["fa_fractions"])
             and int(a.info["arrangement"]) in arrangements]
    if not cells:
        raise ValueError(f"no relaxed cells of {recipe['reference']!r} at x = {spec['fa_fractions']} in "
                         f"{TEACHER_RELAXED}: run the teacher screen and collect first")
    return cells


def recipe_inputs(recipe: dict[str, Any]) -> dict[str, str]:
    """What a recipe's model depends on beyond its parameters, by content hash: the relaxer model
    of its relaxed phases, and the teacher cells it learns (their structure hashes, so that cells
    added to the screen's file later do not change the key); empty without either."""
    inputs = {}
    if recipe.get("relaxed"):
        inputs["relaxer"] = file_hash(DATA_DIR / "models" / recipe["relaxed"]["relaxer"] / "nep.txt")
    if recipe.get("teacher_relaxed"):
        inputs["teacher_cells"] = json_key(sorted(structure_hash(a) for a in teacher_relaxed_cells(recipe)))
    if recipe.get("failure_runs"):
        inputs["explorer"] = file_hash(DATA_DIR / "models" / recipe["failure_runs"]["explorer"] / "nep.txt")
    return inputs


def refinement_structures(recipe: dict[str, Any], work_dir: str | Path) -> list[Atoms]:
    """The recipe's relaxed phases (:func:`relaxed_tilt_phases` with the model ``data/models/<relaxer>``)
    and, with a ``teacher_relaxed`` entry, the teacher's relaxed cells and their copies
    (:func:`perturbed_copies`), written once to ``work_dir/refinement.extxyz`` and read back from
    there (a resumed run labels the same cells, to the digit); none without a ``relaxed`` entry."""
    spec = recipe.get("relaxed")
    if not spec:
        return []
    path = Path(work_dir) / "refinement.extxyz"
    if not path.exists():
        relaxer = DATA_DIR / "models" / spec["relaxer"] / "nep.txt"
        if not relaxer.exists():
            raise FileNotFoundError(f"relaxer model {relaxer} not found: the recipe's relaxed phases need it")
        structures = relaxed_tilt_phases(nep_calculator(relaxer), spec["fa_fractions"], spec["glazers"],
                                         spec["seeds"], strains=spec["strains"], path_frames=spec["path_frames"],
                                         fmax=spec["fmax"], steps=spec["steps"])
        teacher = recipe.get("teacher_relaxed")
        if teacher:
            structures += perturbed_copies(teacher_relaxed_cells(recipe), teacher["strains"], teacher["rattles"],
                                           teacher["copies"], seed=recipe["seed"])
        structures += failure_snapshots(recipe, Path(work_dir) / "failure_runs")
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path.with_suffix(".tmp.extxyz"), structures)
        path.with_suffix(".tmp.extxyz").rename(path)
    return read(path, index=":")


def initial_structures(recipe: dict[str, Any]) -> list[Atoms]:
    """Strained and rattled cells of every phase and composition of ``recipe`` (one batch per
    rattle amplitude, each with its own seed)."""
    structures: list[Atoms] = []
    for k, rattle in enumerate(recipe["rattles"]):
        structures += generate_structures(recipe["fa_fractions"], recipe["glazers"], strains=recipe["strains"],
                                          rattle=rattle, per_combination=recipe["per_combination"],
                                          seed=recipe["seed"] + 1000 * k,
                                          molecule_rattle_fraction=recipe["molecule_rattle_fraction"])
    return structures


def exploration_conditions(recipe: dict[str, Any]) -> list[ExplorationCondition]:
    """MD explorations: every (temperature, starting phase, pressure[, cell repeat]) run at every
    composition (cells of the exploration's ``repeat`` unless the run names its own)."""
    spec = recipe["exploration"]
    conditions = []
    for i, x in enumerate(spec["fa_fractions"]):
        for j, (temperature, glazer, pressure, *cell) in enumerate(spec["runs"]):
            repeat = tuple(cell[0]) if cell else tuple(spec["repeat"])
            start = build_mixed_perovskite(x, repeat, glazer=glazer, tilt_angle=8.0,
                                           seed=recipe["seed"] + 100 * i + j)
            conditions.append(ExplorationCondition(start, float(temperature), float(spec["duration_ps"]),
                                                   float(pressure)))
    return conditions


def recipe_parameters(name: str, **overrides: Any) -> dict[str, Any]:
    """The parameters of recipe ``name`` with ``overrides`` (None values ignored), as recorded in a
    model's provenance: ``recipe`` (the name), every recipe entry, and ``hyper_values`` (the
    hyperparameters the preset stands for)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; allowed: {', '.join(RECIPES)}")
    recipe = dict(RECIPES[name])
    unknown = set(overrides) - set(recipe)
    if unknown:
        raise ValueError(f"unknown recipe parameter(s) {sorted(unknown)}; allowed: {sorted(recipe)}")
    recipe.update({key: value for key, value in overrides.items() if value is not None})
    if recipe["reference"] is None:
        raise ValueError(f"recipe {name!r} has no reference of its own: pass one (the teacher chosen in chapter 01, "
                         "data/reference/teacher/choice.json)")
    if recipe["hyper"] not in HYPERPARAMETER_PRESETS:
        raise ValueError(f"unknown hyperparameter preset {recipe['hyper']!r}; allowed: "
                         f"{', '.join(HYPERPARAMETER_PRESETS)}")
    return dict(recipe=name, **recipe, hyper_values=asdict(HYPERPARAMETER_PRESETS[recipe["hyper"]]))


def spread_diagnostics(work_dir: str | Path, sample: Sequence[Atoms]) -> pd.DataFrame:
    """Per finished generation of an active-learning folder: the median ensemble force spread
    (eV/Å, largest over atoms) of that generation's members on ``sample`` (structures like those
    they were trained on: the spread the ensemble has where it has data, a floor for the stopping
    rule), beside the median spread of its MD candidates per cell size (the largest over atoms
    grows with the number of atoms, so cells of different sizes are not pooled)."""
    rows = []
    folders = sorted(Path(work_dir).glob("generation_*"), key=lambda p: int(p.name.split("_")[1]))
    for folder in folders:
        members = sorted((folder / "ensemble").glob("member_*/nep.txt"))
        if not members or not (folder / "candidate_spread.csv").exists():
            continue
        candidates = candidate_spreads(folder)
        row = dict(generation=int(folder.name.split("_")[1]),
                   training_like_median=float(ensemble_spread(members, sample).force_std_max_eV_per_A.median()))
        for n_atoms, group in candidates.groupby("n_atoms"):
            row[f"md_median_{int(n_atoms)}_atoms"] = float(group.force_std_max_eV_per_A.median())
        rows.append(row)
    return pd.DataFrame(rows)


def build_production_model(output_dir: str | Path, parameters: dict[str, Any], work_dir: str | Path | None = None,
                           command: str = "", progress: bool = True) -> Path:
    """Run the recipe ``parameters`` (from :func:`recipe_parameters`) and store the model in
    ``output_dir``; return the path of ``nep.txt``."""
    recipe = parameters
    hyper = HYPERPARAMETER_PRESETS[recipe["hyper"]]
    output_dir = Path(output_dir)
    work_dir = Path(work_dir) if work_dir is not None else RUNS_DIR / "production" / output_dir.name
    settings = ActiveLearningSettings(
        generations=recipe["generations"], members=recipe["members"], steps=recipe["steps"],
        select_per_generation=recipe["select_per_generation"],
        force_spread_threshold=recipe["force_spread_threshold"],
        snapshot_interval_ps=recipe["snapshot_interval_ps"],
        md=MDSettings(ensemble="npt", timestep_fs=0.5, sample_interval=20),
        seed=recipe["seed"], max_per_condition=recipe["max_per_condition"],
        max_reference_force=recipe["max_reference_force"], test_fraction=recipe["test_fraction"],
        stop_median_spread=recipe.get("stop_median_spread"), stop_spread_gain=recipe.get("stop_spread_gain"))
    initial = initial_structures(recipe)
    refinement = refinement_structures(recipe, work_dir)
    result = run_active_learning(initial, exploration_conditions(recipe), work_dir,
                                 reference=recipe["reference"], settings=settings, hyper=hyper,
                                 species=MA_FA_SPECIES, label_cache=RUNS_DIR / "labels", final_steps=recipe["final_steps"],
                                 final_members=recipe["final_members"], refinement=refinement, progress=progress)
    final = result.final
    output_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(final[0].model_path, output_dir / "nep.txt")
    # the uncertainty ensemble: the final models if there are several, else the last generation's
    last_generation = work_dir / f"generation_{len(result.summary) - 1}" / "ensemble"
    ensemble = ([m.model_path for m in final] if len(final) > 1
                else sorted(last_generation.glob("member_*/nep.txt")))
    (output_dir / "ensemble").mkdir(exist_ok=True)
    for k, path in enumerate(ensemble):
        shutil.copy2(path, output_dir / "ensemble" / f"member_{k}.txt")
    final[0].history.to_csv(output_dir / "history.csv", index=False)
    result.summary.to_csv(output_dir / "generations.csv", index=False)
    sample = [initial[k] for k in np.random.default_rng(recipe["seed"]).choice(
        len(initial), min(120, len(initial)), replace=False)]
    spread_diagnostics(work_dir, sample).to_csv(output_dir / "spread_diagnostics.csv", index=False)
    training_set = trainable(result.labelled, settings.max_reference_force)
    # member 0 trained on split seed + 0 (train_ensemble); store exactly that split
    train, test = split_structures(training_set, settings.test_fraction, seed=settings.seed)
    for name, subset in (("train", train), ("test", test)):
        plain = work_dir / f"{name}.xyz"
        write_training_set(subset, plain)
        with open(plain, "rb") as source, gzip.open(output_dir / f"{name}.xyz.gz", "wb") as target:
            shutil.copyfileobj(source, target)
    origins = pd.Series([a.info.get("origin", "?") for a in training_set]).value_counts().to_dict()
    last = final[0].history.iloc[-1]
    write_provenance(output_dir, parameters=parameters, inputs=recipe_inputs(parameters), command=command,
                     n_labelled=len(result.labelled), n_trainable=len(training_set), n_train=len(train),
                     n_test=len(test), n_left_out_by_force=len(result.labelled) - len(training_set),
                     origins=origins,
                     final_rmse={k: float(v) for k, v in last.items() if str(k).startswith("rmse")})
    return output_dir / "nep.txt"


def obtain_production_model(parameters: dict[str, Any], stored: Sequence[str | Path] = (),
                            compute: bool = True) -> ResultSet | None:
    """A model folder for ``parameters`` (from :func:`recipe_parameters`): the first of ``stored``
    whose provenance matches, else built now (:func:`softlattice.infra.resultsets.obtain`; the active
    learning resumes from ``runs/production/<recipe>-<key>``), or None when ``compute`` is False.

    Returns
    -------
    A result set holding ``nep.txt``, the training and test sets and the learning history.
    """
    work_dir = RUNS_DIR / "production" / f"{parameters['recipe']}-{result_key(parameters, {})}"
    return obtain("models", parameters, recipe_inputs(parameters),
                  lambda folder: build_production_model(folder, parameters, work_dir=work_dir, progress=False,
                                                        command="python -m softlattice.perovskite.workflows.potential"),
                  committed=stored, command="python -m softlattice.perovskite.workflows.potential",
                  may_compute=compute)


FIRST_MODEL = DATA_DIR / "models" / "mafa-chgnet-r2scan" / "nep.txt"
"""The first production model (recipe 'full', labelled by the soft teacher CHGNet-r2SCAN): chapters
02-05 keep its results from the first protocols as a labelled comparison."""


def production_model(models_dir: str | Path = DATA_DIR / "models") -> Path:
    """``nep.txt`` of the production model, the default of chapters 02-05: the committed model (in
    ``models_dir``) of the recipe and reference of chapter 01's full profile.

    Raises
    ------
    FileNotFoundError
        When no committed model matches that recipe, naming the command that builds it.
    """
    settings = profiles.resolve("01_potential", "full")
    parameters = recipe_parameters(settings["recipe"], reference=settings["reference"])
    found = obtain_production_model(parameters, stored=sorted(Path(models_dir).glob("*")), compute=False)
    if found is None:
        raise FileNotFoundError(
            f"no model in {str(models_dir)!r} was built by chapter 01's recipe {settings['recipe']!r} from "
            f"{settings['reference']!r}; build it with `python -m softlattice.perovskite.workflows.potential "
            f"--recipe {settings['recipe']} --output {models_dir}/NAME` or pass a model")
    return found.folder / "nep.txt"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m softlattice.perovskite.workflows.potential --output DIR [--recipe full|quick]``."""
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.potential",
                                     description="Build the MA/FA NEP by active learning (resumable).")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--recipe", default="full", choices=sorted(RECIPES))
    parser.add_argument("--reference", default=None,
                        help="reference method (default: the recipe's; for 'v2' and 'v3' the teacher chosen in "
                             "chapter 01)")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default runs/production/<name>)")
    parser.add_argument("--label-only", action="store_true",
                        help="only label the recipe's initial structures with its reference (cached; the active "
                             "learning finds them there), then stop")
    args = parser.parse_args(argv)
    command = "python -m softlattice.perovskite.workflows.potential " + " ".join(argv if argv is not None else sys.argv[1:])
    reference = args.reference
    if reference is None and RECIPES[args.recipe]["reference"] is None:
        choice = json.loads((DATA_DIR / "reference" / "teacher" / "choice.json").read_text())
        reference = choice["teacher"]
    try:
        parameters = recipe_parameters(args.recipe, reference=reference)
    except ValueError as error:
        parser.error(str(error))
    if args.label_only:
        structures = initial_structures(parameters)
        label_structures(structures, parameters["reference"], cache_dir=RUNS_DIR / "labels", progress=True)
        print(f"{len(structures)} initial structures labelled with {parameters['reference']}")
        return 0
    path = build_production_model(args.output, parameters, args.work, command=command)
    print(json.dumps(json.loads((args.output / "provenance.json").read_text())["final_rmse"], indent=1))
    print(f"model: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
