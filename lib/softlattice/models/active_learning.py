"""Active learning of a NEP: explore with MD, select by ensemble disagreement, label, retrain.

Units: eV, Å, K, ps.

One generation (as in the seed's SI): train an ensemble on the current labelled set (members on
different random splits, :func:`softlattice.models.nep.train_ensemble`); run short MD with the first
member over a list of conditions (structure, temperature), keeping snapshots, including those up to
a blow-up; evaluate the ensemble's force disagreement on every snapshot; label the
``select_per_generation`` most uncertain snapshots above ``force_spread_threshold`` with the
reference and add them. The loop stops when no snapshot exceeds the threshold (the ensemble agrees
everywhere the MD went) or after ``generations``. Every generation is stored in its own folder
(selected structures, spreads, summary) and skipped when found, so an interrupted loop resumes
without relabelling or retraining what is done (labels are also cached by
:func:`softlattice.models.reference.label_structures`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.io import read, write

from softlattice.infra.log import progress_printer
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDBlowUp, MDSettings, run_md
from softlattice.md.protocols import hold
from softlattice.models.nep import NEPHyperparameters, ensemble_spread, train_ensemble
from softlattice.models.reference import check_labellable, label_structures


@dataclass(frozen=True)
class ExplorationCondition:
    """One MD exploration: a starting structure at a temperature (K) and pressure (GPa) for a
    duration (ps)."""

    structure: Atoms
    temperature: float
    duration_ps: float
    pressure_GPa: float = 0.0


@dataclass(frozen=True)
class ActiveLearningSettings:
    """Settings of the loop.

    Attributes
    ----------
    generations
        Largest number of generations.
    members
        Ensemble size (the seed: 5).
    steps
        Training steps per member and generation.
    select_per_generation
        Largest number of snapshots labelled per generation.
    force_spread_threshold
        Ensemble force disagreement (eV/Å, largest per-atom standard deviation) above which a
        snapshot is worth labelling.
    snapshot_interval_ps
        Time between exploration snapshots, ps.
    md
        Integrator settings of the exploration (the pressure comes from each condition).
    seed
        Seed of splits and training.
    max_per_condition
        Largest number of snapshots selected from one exploration run (None: no limit), so one run
        that wandered off does not take the whole generation.
    test_fraction
        Share of the labelled structures each member holds out as its test set.
    max_reference_force
        Labelled structures with a larger reference force component (eV/Å) are left out of
        training (None: keep all); such near-collisions dominate the force loss.
    stop_median_spread
        The loop also stops when the median force spread over a generation's snapshots is at or
        below this (eV/Å; None: only when no snapshot exceeds ``force_spread_threshold``). The
        selected snapshots of that generation are still labelled and trained on.
    stop_spread_gain
        The loop also stops when a generation's explorations all ran to the end and, in every cell
        size, the median force spread of the snapshots fell by less than this fraction from the
        generation before (None: no such rule): more of the same data no longer teaches the
        ensemble much, although its spread stays above ``stop_median_spread`` (the spread the
        members have on structures like their own training data sets a floor no amount of
        labelling removes).
    """

    generations: int = 3
    members: int = 5
    steps: int = 4000
    select_per_generation: int = 50
    force_spread_threshold: float = 0.1
    snapshot_interval_ps: float = 0.1
    md: MDSettings = MDSettings(ensemble="npt", timestep_fs=0.5, sample_interval=40)
    seed: int = 0
    max_per_condition: int | None = None
    max_reference_force: float | None = None
    test_fraction: float = 0.1
    stop_median_spread: float | None = None
    stop_spread_gain: float | None = None

    def __post_init__(self) -> None:
        if self.generations < 1 or self.select_per_generation < 1:
            raise ValueError(f"generations ({self.generations}) and select_per_generation "
                             f"({self.select_per_generation}) must be positive")
        if not self.force_spread_threshold > 0:
            raise ValueError(f"force spread threshold {self.force_spread_threshold!r} eV/Å must be > 0")
        if self.stop_median_spread is not None and not self.stop_median_spread > 0:
            raise ValueError(f"stop_median_spread {self.stop_median_spread!r} eV/Å must be > 0 or None")
        if self.stop_spread_gain is not None and not 0 < self.stop_spread_gain < 1:
            raise ValueError(f"stop_spread_gain {self.stop_spread_gain!r} must be a fraction between 0 and 1, or None")


def stopping_reason(spread: pd.DataFrame, chosen: Sequence[int], settings: ActiveLearningSettings,
                    previous: pd.DataFrame | None = None, blew_up: bool = False) -> str | None:
    """Why the loop stops after this generation, or None if it goes on.

    Parameters
    ----------
    spread
        This generation's snapshot spreads (``force_std_max_eV_per_A``, eV/Å, and ``n_atoms``).
    chosen
        Indices of the snapshots selected for labelling.
    settings
        The stopping thresholds.
    previous
        The generation before's snapshot spreads (None for the first generation).
    blew_up
        Whether any of this generation's explorations blew up.

    Returns
    -------
    'nothing uncertain', 'median spread' (at or below ``stop_median_spread``), 'spread saturated'
    (below ``stop_spread_gain`` improvement in every cell size, no blow-up), or None.
    """
    if not chosen:
        return "nothing uncertain"
    median = float(spread.force_std_max_eV_per_A.median()) if len(spread) else 0.0
    if settings.stop_median_spread is not None and median <= settings.stop_median_spread:
        return "median spread"
    if settings.stop_spread_gain is None or previous is None or blew_up or not len(spread):
        return None
    for n_atoms, group in spread.groupby("n_atoms"):
        before = previous.force_std_max_eV_per_A[previous.n_atoms == n_atoms]
        if before.empty:
            return None
        if 1 - group.force_std_max_eV_per_A.median() / before.median() >= settings.stop_spread_gain:
            return None
    return "spread saturated"


def exploration_records(folder: str | Path) -> pd.DataFrame:
    """The per-condition records an exploration folder holds (``condition``, ``n_atoms``,
    ``blew_up``, ``temperature``, ``n_snapshots``)."""
    files = sorted(Path(folder).glob("condition_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    return pd.DataFrame([dict(condition=int(p.stem.split("_")[1]), **json.loads(p.read_text())) for p in files])


def candidate_spreads(generation_folder: str | Path) -> pd.DataFrame:
    """A finished generation's snapshot spreads with each snapshot's cell size (``n_atoms``; read
    from the exploration records where the table predates the column)."""
    folder = Path(generation_folder)
    spread = pd.read_csv(folder / "candidate_spread.csv")
    if "n_atoms" not in spread and len(spread):
        sizes = exploration_records(folder / "exploration").set_index("condition").n_atoms
        spread["n_atoms"] = spread.condition.map(sizes)
    return spread


def explore(model: str | Path, conditions: Sequence[ExplorationCondition], settings: MDSettings,
            snapshot_interval_ps: float, run_folder: str | Path | None = None) -> list[Atoms]:
    """MD snapshots from each condition with ``model``; a run that blows up contributes the
    snapshots taken before it (they are the most informative ones).

    With ``run_folder``, each finished condition's snapshots are stored there
    (``condition_<i>.extxyz`` and a ``condition_<i>.json`` record of the model's hash, the snapshot
    count and whether the run blew up) and reused when the same model explores again, so an
    interrupted exploration resumes at the first unfinished condition.
    """
    snapshots: list[Atoms] = []
    folder = Path(run_folder) if run_folder is not None else None
    model_hash = hashlib.sha256(Path(model).read_bytes()).hexdigest()[:16]
    for index, condition in enumerate(conditions):
        record_file = folder / f"condition_{index}.json" if folder is not None else None
        if record_file is not None and record_file.exists():
            record = json.loads(record_file.read_text())
            if record["model_sha256"] == model_hash:
                snapshots += (read(folder / f"condition_{index}.extxyz", index=":")
                              if record["n_snapshots"] else [])
                continue
        calculator: Calculator = nep_calculator(model, atoms=condition.structure)
        collected: list[Atoms] = []
        interval_steps = max(1, int(round(snapshot_interval_ps * 1000 / settings.timestep_fs)))
        sample = max(1, min(settings.sample_interval, interval_steps))
        md_settings = MDSettings(**{**asdict(settings), "sample_interval": sample,
                                    "seed": settings.seed + index,
                                    "pressure_GPa": condition.pressure_GPa})
        blew_up = False
        try:
            run_md(condition.structure, calculator, hold(condition.temperature, condition.duration_ps),
                   md_settings, snapshot_every=max(1, interval_steps // sample), snapshots=collected)
        except MDBlowUp:
            blew_up = True  # the snapshots taken before the blow-up are in `collected`
        for atoms in collected:
            atoms.info.update(origin="md", temperature=condition.temperature,
                              pressure_GPa=condition.pressure_GPa, condition=index)
        if record_file is not None:
            folder.mkdir(parents=True, exist_ok=True)
            if collected:
                write(folder / f"condition_{index}.extxyz", collected)
                collected = read(folder / f"condition_{index}.extxyz", index=":")  # as a resumed run sees them
            record_file.write_text(json.dumps(dict(model_sha256=model_hash, n_snapshots=len(collected),
                                                   blew_up=blew_up, temperature=condition.temperature,
                                                   n_atoms=len(condition.structure))))
        snapshots += collected
    return snapshots


def select_uncertain(spread: pd.DataFrame, candidates: Sequence[Atoms], settings: ActiveLearningSettings) -> list[int]:
    """Indices of the snapshots to label: most uncertain first, above the threshold, at most
    ``select_per_generation`` in all and ``max_per_condition`` per exploration run, and only
    structures a reference can label (a run's last snapshots before a blow-up may overlap)."""
    chosen: list[int] = []
    per_condition: dict[int, int] = {}
    for k in np.argsort(-spread.force_std_max_eV_per_A.to_numpy(), kind="stable"):
        if len(chosen) == settings.select_per_generation:
            break
        if spread.force_std_max_eV_per_A.iloc[k] <= settings.force_spread_threshold:
            break
        condition = int(candidates[k].info.get("condition", -1))
        if settings.max_per_condition is not None and per_condition.get(condition, 0) >= settings.max_per_condition:
            continue
        try:
            check_labellable(candidates[k], int(k))
        except ValueError:
            continue
        chosen.append(int(k))
        per_condition[condition] = per_condition.get(condition, 0) + 1
    return chosen


def trainable(labelled: Sequence[Atoms], max_reference_force: float | None) -> list[Atoms]:
    """The labelled structures whose largest reference force component is at most
    ``max_reference_force`` eV/Å (all of them for None)."""
    if max_reference_force is None:
        return list(labelled)
    return [a for a in labelled if np.abs(a.get_forces()).max() <= max_reference_force]


@dataclass
class ActiveLearningResult:
    """What the loop produced.

    Attributes
    ----------
    summary
        One row per generation (training-set size, candidate count, spreads, selected count, test
        RMSEs of the first member, whether the stopping rule fired).
    labelled
        Every labelled structure (initial and selected), before the force filter.
    final
        The ensemble trained on all trainable structures after the last generation (None when
        ``final_steps`` was not given).
    """

    summary: pd.DataFrame
    labelled: list[Atoms]
    final: list | None = None


def run_active_learning(initial: Sequence[Atoms], conditions: Sequence[ExplorationCondition],
                        output_dir: str | Path, reference: str | Calculator = "chgnet-r2scan",
                        reference_name: str | None = None, settings: ActiveLearningSettings = ActiveLearningSettings(),
                        hyper: NEPHyperparameters = NEPHyperparameters(), *,
                        species: Sequence[str],
                        label_cache: str | Path | None = None, final_steps: int | None = None,
                        final_members: int | None = None, refinement: Sequence[Atoms] = (),
                        progress: bool = False) -> ActiveLearningResult:
    """Run the loop (resumable: finished generations, trainings and labels are reused).

    Parameters
    ----------
    initial
        Structures labelled before the first generation.
    conditions
        MD explorations of every generation.
    output_dir
        Folder of the generations (``generation_<g>/``), the label cache and the final ensemble.
    reference, reference_name
        Named reference, or an ASE calculator with a cache name.
    settings, hyper, species
        Loop, model and species settings.
    label_cache
        Label cache folder (default ``output_dir/labels``).
    final_steps
        If given, train final models for this many steps on everything labelled (in
        ``output_dir/final``).
    final_members
        Number of final models (default ``settings.members``; 1 trains a single model).
    refinement
        Structures labelled after the loop has stopped and added to what the final models learn:
        targeted cells that the explorations do not reach (relaxed phases). The generations do not
        see them, so adding them reuses a finished loop.
    progress
        Print one line per stage.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    cache = label_cache if label_cache is not None else output_dir / "labels"

    say = progress_printer(progress)

    say(f"labelling {len(initial)} initial structures")
    labelled = list(label_structures(list(initial), reference, name=reference_name, cache_dir=cache))
    rows = []
    for generation in range(settings.generations):
        folder = output_dir / f"generation_{generation}"
        summary_file = folder / "summary.json"
        if summary_file.exists():
            summary = json.loads(summary_file.read_text())
            selected_file = folder / "selected.extxyz"
            if selected_file.exists():
                selected = read(selected_file, index=":")
                labelled += label_structures(selected, reference, name=reference_name, cache_dir=cache)
            rows.append(summary)
            say(f"generation {generation} found: {summary}")
            if summary["stopped"]:
                break
            continue
        training_set = trainable(labelled, settings.max_reference_force)
        say(f"generation {generation}: training {settings.members} members on {len(training_set)} structures")
        members = train_ensemble(training_set, folder / "ensemble", settings.steps, settings.members,
                                 test_fraction=settings.test_fraction, hyper=hyper, species=species,
                                 seed=settings.seed)
        models = [m.model_path for m in members]
        say(f"generation {generation}: exploring {len(conditions)} conditions")
        candidates = explore(models[0], conditions, settings.md, settings.snapshot_interval_ps,
                             run_folder=folder / "exploration")
        spread = ensemble_spread(models, candidates) if candidates else pd.DataFrame(
            columns=["energy_std_meV_per_atom", "force_std_max_eV_per_A"])
        if len(spread):
            spread["condition"] = [int(a.info["condition"]) for a in candidates]
            spread["temperature"] = [float(a.info["temperature"]) for a in candidates]
            spread["n_atoms"] = [len(a) for a in candidates]
        chosen = select_uncertain(spread, candidates, settings) if len(spread) else []
        before = output_dir / f"generation_{generation - 1}"
        previous = candidate_spreads(before) if (before / "candidate_spread.csv").exists() else None
        blew_up = bool(exploration_records(folder / "exploration").get("blew_up", pd.Series(dtype=bool)).any())
        stop_reason = stopping_reason(spread, chosen, settings, previous, blew_up)
        stopped = stop_reason is not None
        folder.mkdir(parents=True, exist_ok=True)
        spread.to_csv(folder / "candidate_spread.csv", index=False)
        if chosen:
            write(folder / "selected.extxyz", [candidates[k] for k in chosen])
            # labelled as read back (positions to 1e-8 Å), as a resumed run reads them: the label
            # cache keys on positions, and the unrounded ones would miss it after a restart
            selected = read(folder / "selected.extxyz", index=":")
            say(f"generation {generation}: labelling {len(selected)} selected snapshots")
            labelled += label_structures(selected, reference, name=reference_name, cache_dir=cache)
        last = members[0].history.iloc[-1]
        summary = dict(generation=generation, n_training_structures=len(training_set),
                       n_candidates=len(candidates), n_selected=len(chosen),
                       max_force_spread=float(spread.force_std_max_eV_per_A.max()) if len(spread) else 0.0,
                       median_force_spread=float(spread.force_std_max_eV_per_A.median()) if len(spread) else 0.0,
                       rmse_forces_test=float(last.get("rmse_forces_test", np.nan)),
                       rmse_energy_test=float(last.get("rmse_energy_test", np.nan)), stopped=stopped,
                       stop_reason=stop_reason)
        summary_file.write_text(json.dumps(summary, indent=1))
        rows.append(summary)
        say(f"generation {generation} done: {summary}")
        if stopped:
            break
    if len(refinement):
        say(f"labelling {len(refinement)} refinement structures")
        labelled += label_structures(list(refinement), reference, name=reference_name, cache_dir=cache)
    final = None
    if final_steps is not None:
        training_set = trainable(labelled, settings.max_reference_force)
        count = final_members or settings.members
        say(f"final models: {count}, {final_steps} steps on {len(training_set)} structures")
        final = train_ensemble(training_set, output_dir / "final", final_steps, count,
                               test_fraction=settings.test_fraction, hyper=hyper, species=species,
                               seed=settings.seed)
    return ActiveLearningResult(pd.DataFrame(rows), labelled, final)
