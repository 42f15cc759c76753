"""Active learning of a NEP: explore with MD, select by ensemble disagreement, label, retrain.

Units: eV, Å, K, ps.

One generation (as in the seed's SI): train an ensemble on the current labelled set (members on
different random splits, :func:`softlattice.training.train_ensemble`); run short MD with the first
member over a list of conditions (structure, temperature), keeping snapshots, including those up to
a blow-up; evaluate the ensemble's force disagreement on every snapshot; label the
``select_per_generation`` most uncertain snapshots above ``force_spread_threshold`` with the
reference and add them. The loop stops when no snapshot exceeds the threshold (the ensemble agrees
everywhere the MD went) or after ``generations``. Every generation is stored in its own folder
(selected structures, spreads, summary) and skipped when found, so an interrupted loop resumes
without relabelling or retraining what is done (labels are also cached by
:func:`softlattice.reference.label_structures`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.io import read, write

from .md import MDBlowUp, MDSettings, hold, nep_calculator, run_md
from .reference import label_structures
from .training import NEPHyperparameters, ensemble_spread, train_ensemble


@dataclass(frozen=True)
class ExplorationCondition:
    """One MD exploration: a starting structure at a temperature for a duration (ps)."""

    structure: Atoms
    temperature: float
    duration_ps: float


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
        Integrator settings of the exploration.
    seed
        Seed of splits and training.
    """

    generations: int = 3
    members: int = 5
    steps: int = 4000
    select_per_generation: int = 50
    force_spread_threshold: float = 0.1
    snapshot_interval_ps: float = 0.1
    md: MDSettings = MDSettings(ensemble="npt", timestep_fs=0.5, sample_interval=40)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.generations < 1 or self.select_per_generation < 1:
            raise ValueError(f"generations ({self.generations}) and select_per_generation "
                             f"({self.select_per_generation}) must be positive")
        if not self.force_spread_threshold > 0:
            raise ValueError(f"force spread threshold {self.force_spread_threshold!r} eV/Å must be > 0")


def explore(model: str | Path, conditions: Sequence[ExplorationCondition], settings: MDSettings,
            snapshot_interval_ps: float) -> list[Atoms]:
    """MD snapshots from each condition with ``model``; a run that blows up contributes the
    snapshots taken before it (they are the most informative ones)."""
    snapshots: list[Atoms] = []
    for index, condition in enumerate(conditions):
        calculator: Calculator = nep_calculator(model, atoms=condition.structure)
        collected: list[Atoms] = []
        interval_steps = max(1, int(round(snapshot_interval_ps * 1000 / settings.timestep_fs)))
        sample = max(1, min(settings.sample_interval, interval_steps))
        md_settings = MDSettings(**{**asdict(settings), "sample_interval": sample,
                                    "seed": settings.seed + index})
        try:
            run_md(condition.structure, calculator, hold(condition.temperature, condition.duration_ps),
                   md_settings, snapshot_every=max(1, interval_steps // sample), snapshots=collected)
        except MDBlowUp:
            pass  # the snapshots taken before the blow-up are in `collected`
        for atoms in collected:
            atoms.info.update(origin="md", temperature=condition.temperature, condition=index)
        snapshots += collected
    return snapshots


def run_active_learning(initial: Sequence[Atoms], conditions: Sequence[ExplorationCondition],
                        output_dir: str | Path, reference: str | Calculator = "chgnet-r2scan",
                        reference_name: str | None = None, settings: ActiveLearningSettings = ActiveLearningSettings(),
                        hyper: NEPHyperparameters = NEPHyperparameters(),
                        species: Sequence[str] = ("H", "C", "N", "I", "Pb"),
                        label_cache: str | Path | None = None) -> pd.DataFrame:
    """Run the loop; return one row per generation (training-set size, spreads, selected count,
    test RMSEs of the first member, whether the stopping rule fired)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    cache = label_cache if label_cache is not None else output_dir / "labels"
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
            if summary["stopped"]:
                break
            continue
        members = train_ensemble(labelled, folder / "ensemble", settings.steps, settings.members,
                                 hyper=hyper, species=species, seed=settings.seed)
        models = [m.model_path for m in members]
        candidates = explore(models[0], conditions, settings.md, settings.snapshot_interval_ps)
        spread = ensemble_spread(models, candidates) if candidates else pd.DataFrame(
            columns=["energy_std_meV_per_atom", "force_std_max_eV_per_A"])
        order = np.argsort(-spread.force_std_max_eV_per_A.to_numpy()) if len(spread) else np.array([], int)
        chosen = [int(k) for k in order[:settings.select_per_generation]
                  if spread.force_std_max_eV_per_A.iloc[k] > settings.force_spread_threshold]
        stopped = not chosen
        folder.mkdir(parents=True, exist_ok=True)
        spread.to_csv(folder / "candidate_spread.csv", index=False)
        if chosen:
            selected = [candidates[k] for k in chosen]
            write(folder / "selected.extxyz", selected)
            labelled += label_structures(selected, reference, name=reference_name, cache_dir=cache)
        last = members[0].history.iloc[-1]
        summary = dict(generation=generation, n_training_structures=len(labelled) - len(chosen),
                       n_candidates=len(candidates), n_selected=len(chosen),
                       max_force_spread=float(spread.force_std_max_eV_per_A.max()) if len(spread) else 0.0,
                       median_force_spread=float(spread.force_std_max_eV_per_A.median()) if len(spread) else 0.0,
                       rmse_forces_test=float(last.get("rmse_forces_test", np.nan)),
                       rmse_energy_test=float(last.get("rmse_energy_test", np.nan)), stopped=stopped)
        summary_file.write_text(json.dumps(summary, indent=1))
        rows.append(summary)
        if stopped:
            break
    return pd.DataFrame(rows)
