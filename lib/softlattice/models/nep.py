"""NEP models for any material: GPUMD-format training sets, neppo training, ensembles and their
spread, parity data and error metrics. The species are always given by the caller.

Units: eV, Å, GPa. Models are NEP4 in GPUMD's ``nep.txt`` format, trained on the CPU with neppo
(Österbacka & Erhart; models of Fan et al. 2021, 2022) and evaluated with calorine's CPUNEP or
nep-adapters.

The defaults are the seed's hyperparameters (Hainer et al., Methods): radial/angular cutoffs 8/4 Å,
5 radial and 25 angular descriptor components (n_max 4/4, three-body l_max 4 with the four- and
five-body terms), one hidden layer of 30 neurons.
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
from ase.io import read
from ase.units import GPa

from softlattice.infra.keys import file_hash, structure_hash
from softlattice.md.calculators import nep_calculator
from softlattice.models.splits import split_structures


@dataclass(frozen=True)
class NEPHyperparameters:
    """Model and training settings (defaults: the seed's model, neppo's optimiser).

    Attributes
    ----------
    radial_cutoff, angular_cutoff
        Cutoffs, Å.
    n_max_radial, n_max_angular
        Largest radial/angular component index (4 -> 5 functions each).
    l_max_3b, l_max_4b, l_max_5b
        Angular expansion (4, 2, 1: 5 x (4 + 1) = 25 angular components).
    neurons
        Hidden-layer width.
    batch_size
        Structures per training step.
    learning_rate
        Initial and final learning rate of the cosine schedule.
    zbl_typewise_factor
        If set, a ZBL repulsion is added (GPUMD's typewise form, read by CPUNEP and nep-adapters):
        for each pair it acts inside this factor times the sum of the covalent radii (at most
        ``zbl_outer_cutoff``). A guard against atoms collapsing in MD where the training data has
        no close contacts; the seed's model has none.
    zbl_outer_cutoff
        Largest ZBL cutoff, Å.
    """

    radial_cutoff: float = 8.0
    angular_cutoff: float = 4.0
    n_max_radial: int = 4
    n_max_angular: int = 4
    l_max_3b: int = 4
    l_max_4b: int = 2
    l_max_5b: int = 1
    neurons: int = 30
    batch_size: int = 16
    learning_rate: tuple[float, float] = (1e-2, 1e-4)
    zbl_typewise_factor: float | None = None
    zbl_outer_cutoff: float = 2.0

    def __post_init__(self) -> None:
        if self.zbl_typewise_factor is not None and not 0 < self.zbl_typewise_factor <= 1.5:
            raise ValueError(f"ZBL typewise factor {self.zbl_typewise_factor!r} must lie in (0, 1.5]")


def check_training_set(structures: Sequence[Atoms], species: Sequence[str]) -> None:
    """Raise a ValueError naming the first structure without energy, forces or stress, or with a
    species the model will not have."""
    if not structures:
        raise ValueError("the training set is empty")
    for index, atoms in enumerate(structures):
        unknown = sorted(set(atoms.get_chemical_symbols()) - set(species))
        if unknown:
            raise ValueError(f"structure {index} contains {unknown}; the model species are {list(species)}")
        results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
        missing = [key for key in ("energy", "forces", "stress") if key not in results]
        if missing:
            raise ValueError(f"structure {index} has no {', '.join(missing)}: label it first "
                             "(softlattice.models.reference.label_structures)")


def write_training_set(structures: Sequence[Atoms], path: str | Path) -> Path:
    """Write labelled structures as a GPUMD ``train.xyz``/``test.xyz`` with calorine's writer."""
    from calorine.nep import write_structures
    check_training_set(structures, species=sorted({s for a in structures for s in a.get_chemical_symbols()}))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_structures(str(path), list(structures))
    return path


DEFAULT_ENERGY_SIGMA = 1e-3
"""neppo's error scale of the energy per atom (eV/atom); the force scale is 0.03 eV/Å."""


def _training_key(structures: Sequence[Atoms], hyper: NEPHyperparameters, species: Sequence[str],
                  steps: int, seed: int, energy_sigma: float = DEFAULT_ENERGY_SIGMA) -> str:
    digest = hashlib.sha256()
    for atoms in structures:
        digest.update(structure_hash(atoms).encode())
        digest.update(np.round(atoms.get_forces(), 6).tobytes())
    record = dict(hyper=asdict(hyper), species=list(species), steps=steps, seed=seed)
    if energy_sigma != DEFAULT_ENERGY_SIGMA:  # trainings with the default keep the keys they always had
        record["energy_sigma"] = energy_sigma
    digest.update(json.dumps(record, sort_keys=True).encode())
    return digest.hexdigest()[:16]


@dataclass
class TrainingResult:
    """A trained model and its learning curve.

    Attributes
    ----------
    model_path
        ``nep.txt`` of the final model.
    history
        neppo's report rows (step, losses, ``rmse_energy_*`` eV/atom, ``rmse_forces_*`` eV/Å,
        ``rmse_stress_*`` GPa for train and test).
    stage_models
        ``nep.txt`` of every stage of a staged training (:func:`continue_nep`), in order.
    """

    model_path: Path
    history: pd.DataFrame
    stage_models: tuple[Path, ...] = ()


def train_nep(train: Sequence[Atoms], test: Sequence[Atoms], output_dir: str | Path, steps: int,
              hyper: NEPHyperparameters = NEPHyperparameters(), *, species: Sequence[str],
              seed: int = 0, report_interval: int = 100,
              energy_sigma: float = DEFAULT_ENERGY_SIGMA) -> TrainingResult:
    """Train a NEP4 model with neppo on the CPU; skip if this exact training is already done.

    Parameters
    ----------
    train, test
        Labelled structures (energy, forces, stress).
    output_dir
        Folder for ``nep.txt``, ``history.csv`` and ``training_key.json``.
    steps
        Training steps (one batch each).
    hyper
        Model and optimiser settings.
    species
        Model species, in model order.
    seed
        Seed of the initial parameters and of the batch order.
    report_interval
        Steps between entries of the learning curve.
    energy_sigma
        Error scale of the energy per atom in the loss, eV/atom (smaller: energies weigh more
        against forces, whose scale is 0.03 eV/Å).
    """
    import torch
    from neppo import StructureContainer, Trainer, write_model
    from neppo.losses import EnergyLoss, ForceLoss, StressLoss
    from neppo.models import NEP, Descriptor

    if steps < 1:
        raise ValueError(f"steps {steps!r} must be a positive integer")
    if not energy_sigma > 0:
        raise ValueError(f"energy error scale {energy_sigma!r} eV/atom must be > 0")
    check_training_set(train, species)
    check_training_set(test, species)
    output_dir = Path(output_dir)
    key = _training_key(train, hyper, species, steps, seed, energy_sigma)
    key_file = output_dir / "training_key.json"
    model_path = output_dir / "nep.txt"
    if key_file.exists() and json.loads(key_file.read_text())["key"] == key and model_path.exists():
        return TrainingResult(model_path, pd.read_csv(output_dir / "history.csv"))
    output_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    descriptor = Descriptor(list(species), radial_cutoff=hyper.radial_cutoff,
                            angular_cutoff=hyper.angular_cutoff, n_max_radial=hyper.n_max_radial,
                            n_max_angular=hyper.n_max_angular, l_max_3b=hyper.l_max_3b,
                            l_max_4b=hyper.l_max_4b, l_max_5b=hyper.l_max_5b)
    zbl = None
    if hyper.zbl_typewise_factor is not None:
        from neppo.models.zbl import ZBL
        zbl = ZBL(outer_cutoff=hyper.zbl_outer_cutoff, typewise_cutoff_factor=hyper.zbl_typewise_factor)
    model = NEP(descriptor, neurons=(hyper.neurons,), zbl=zbl)
    trainer = Trainer(model, EnergyLoss(sigma=energy_sigma) + ForceLoss() + StressLoss(),
                      StructureContainer(model, list(train)), StructureContainer(model, list(test)),
                      batch_size=hyper.batch_size, learning_rate=hyper.learning_rate, device="cpu",
                      seed=seed)
    trainer.train(steps=steps, report_interval=min(report_interval, steps))
    write_model(trainer.model, model_path)
    trainer.history.to_csv(output_dir / "history.csv", index=False)
    key_file.write_text(json.dumps(dict(key=key, hyper=asdict(hyper), steps=steps, seed=seed, energy_sigma=energy_sigma,
                                        n_train=len(train), n_test=len(test)), indent=1))
    return TrainingResult(model_path, trainer.history)


def _stage_checkpoint(folder: Path, stage: int) -> Path:
    return folder / f"stage_{stage}.pt"


def continue_nep(start_model: str | Path, train: Sequence[Atoms], test: Sequence[Atoms], output_dir: str | Path,
                 stages: int, steps_per_stage: int, *, learning_rate: tuple[float, float], batch_size: int,
                 species: Sequence[str], seed: int = 0, report_interval: int = 100,
                 energy_sigma: float = DEFAULT_ENERGY_SIGMA) -> TrainingResult:
    """Train a trained NEP further, in stages that survive an interruption.

    neppo's ``Trainer.train`` restarts AdamW and its cosine schedule at every call, so each stage is
    one call: ``steps_per_stage`` steps from ``learning_rate[0]`` down to ``learning_rate[1]``
    (cosine annealing with warm restarts), on a fresh trainer seeded ``seed + stage`` so that a
    stage's batch order depends on nothing but its number. After each stage the parameters
    (``stage_<k>.pt``, exact), the model (``stage_<k>.nep.txt``) and its learning curve
    (``stage_<k>.csv``) are saved; a run stopped anywhere resumes after its last finished stage and
    ends with the parameters of an uninterrupted run. ``stages`` is how far to go: asking a finished
    continuation for more stages trains only the new ones.

    Parameters
    ----------
    start_model
        ``nep.txt`` of the model to train further (its descriptor scaling is kept).
    train, test
        Labelled structures (energy, forces, stress).
    output_dir
        Folder for the stages, ``nep.txt`` (the last stage) and ``history.csv``.
    stages, steps_per_stage
        Number of stages and training steps (one batch each) per stage.
    learning_rate
        Initial and final learning rate of each stage's cosine cycle.
    batch_size
        Structures per training step.
    species
        Model species, in model order (must be the start model's).
    seed
        Seed of the first stage's batch order.
    report_interval
        Steps between entries of the learning curve.
    energy_sigma
        Error scale of the energy per atom in the loss, eV/atom.

    Returns
    -------
    The last stage's model and the learning curve of all stages (``step`` counted from the start of
    the continuation, ``stage`` added).
    """
    import torch
    from neppo import StructureContainer, Trainer, read_model, write_model
    from neppo.losses import EnergyLoss, ForceLoss, StressLoss

    if stages < 1 or steps_per_stage < 1:
        raise ValueError(f"stages {stages!r} and steps per stage {steps_per_stage!r} must be positive integers")
    if len(learning_rate) != 2 or not 0 < learning_rate[1] <= learning_rate[0]:
        raise ValueError(f"learning rate {learning_rate!r} must be (initial, final) with initial >= final > 0")
    if not energy_sigma > 0:
        raise ValueError(f"energy error scale {energy_sigma!r} eV/atom must be > 0")
    model = read_model(start_model)
    if list(model.types) != list(species):
        raise ValueError(f"{start_model} is a model of {list(model.types)}, not of the species {list(species)}")
    check_training_set(train, species)
    check_training_set(test, species)
    output_dir = Path(output_dir)
    key = _training_key(train, NEPHyperparameters(batch_size=batch_size, learning_rate=tuple(learning_rate)),
                        species, steps_per_stage, seed, energy_sigma)
    folder = output_dir / f"continuation_{hashlib.sha256((key + file_hash(start_model)).encode()).hexdigest()[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    done = 0
    while _stage_checkpoint(folder, done).exists() and done < stages:
        done += 1
    if done:
        model.load_state_dict(torch.load(_stage_checkpoint(folder, done - 1)))
    containers = None
    for stage in range(done, stages):
        if containers is None:
            containers = StructureContainer(model, list(train)), StructureContainer(model, list(test))
        trainer = Trainer(model, EnergyLoss(sigma=energy_sigma) + ForceLoss() + StressLoss(), *containers,
                          batch_size=batch_size, learning_rate=tuple(learning_rate), device="cpu", seed=seed + stage)
        trainer.train(steps=steps_per_stage, report_interval=min(report_interval, steps_per_stage))
        history = trainer.history.assign(step=trainer.history.step + stage * steps_per_stage, stage=stage)
        history.to_csv(folder / f"stage_{stage}.csv", index=False)
        write_model(model, folder / f"stage_{stage}.nep.txt")
        partial = folder / f"stage_{stage}.pt.partial"
        torch.save(model.state_dict(), partial)
        partial.replace(_stage_checkpoint(folder, stage))  # the checkpoint is the stage's commit point
    history = pd.concat([pd.read_csv(folder / f"stage_{k}.csv") for k in range(stages)], ignore_index=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    model_path = output_dir / "nep.txt"
    model_path.write_bytes((folder / f"stage_{stages - 1}.nep.txt").read_bytes())
    history.to_csv(output_dir / "history.csv", index=False)
    return TrainingResult(model_path, history, tuple(folder / f"stage_{k}.nep.txt" for k in range(stages)))


def train_ensemble(structures: Sequence[Atoms], output_dir: str | Path, steps: int, members: int = 5,
                   test_fraction: float = 0.1, hyper: NEPHyperparameters = NEPHyperparameters(),
                   *, species: Sequence[str], seed: int = 0) -> list[TrainingResult]:
    """Train ``members`` models on different random train/test splits (resumable per member; one
    member is a single model)."""
    if members < 1:
        raise ValueError(f"an ensemble needs at least 1 member, got {members}")
    results = []
    for member in range(members):
        train, test = split_structures(structures, test_fraction, seed=seed + member)
        results.append(train_nep(train, test, Path(output_dir) / f"member_{member}", steps, hyper,
                                 species=species, seed=seed + member))
    return results


def ensemble_spread(models: Sequence[str | Path], structures: Sequence[Atoms]) -> pd.DataFrame:
    """Disagreement of an ensemble on each structure.

    Returns
    -------
    Columns ``energy_std_meV_per_atom`` (standard deviation of the predicted energy per atom),
    ``force_std_max_eV_per_A`` (largest over atoms of the standard deviation of the force vector;
    a maximum, so it grows with the number of atoms) and ``n_atoms``.
    """
    calculators = [nep_calculator(m, "cpunep") for m in models]
    rows = []
    for atoms in structures:
        energies, forces = [], []
        for calculator in calculators:
            work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
            work.calc = calculator
            energies.append(work.get_potential_energy() / len(work))
            forces.append(work.get_forces())
        forces = np.array(forces)
        force_std = np.sqrt(((forces - forces.mean(axis=0)) ** 2).sum(axis=2).mean(axis=0))
        rows.append(dict(energy_std_meV_per_atom=1000 * np.std(energies),
                         force_std_max_eV_per_A=float(force_std.max()), n_atoms=len(atoms)))
    return pd.DataFrame(rows)


HYPERPARAMETER_PRESETS = {
    "seed": NEPHyperparameters(),
    "production": NEPHyperparameters(zbl_typewise_factor=0.7),
    "tiny": NEPHyperparameters(radial_cutoff=6.0, angular_cutoff=4.0, n_max_radial=2, n_max_angular=2,
                               l_max_3b=2, l_max_4b=0, l_max_5b=0, neurons=8, batch_size=4),
    "wide": NEPHyperparameters(n_max_radial=6, n_max_angular=6, neurons=50, zbl_typewise_factor=0.7),
}
"""'seed': the seed's model; 'production': the seed's model plus a typewise ZBL core; 'tiny': a small model
for the quick profile (minutes on 2 cores); 'wide': 'production' with seven radial and angular functions
and 50 neurons (about twice the cost per step), for a student whose error is limited by its capacity."""


def load_sets(folder: str | Path) -> tuple[list[Atoms], list[Atoms]]:
    """Training and test structures stored with a model (``train.xyz.gz``, ``test.xyz.gz``)."""
    folder = Path(folder)
    return read(folder / "train.xyz.gz", index=":"), read(folder / "test.xyz.gz", index=":")


def parity_data(model: str | Path, structures: Sequence[Atoms]) -> dict[str, pd.DataFrame]:
    """Reference vs model values for energies (eV/atom), force components (eV/Å) and stress
    components (GPa) of labelled ``structures``."""

    calculator = nep_calculator(model)
    energy, forces, stress = [], [], []
    for atoms in structures:
        work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        work.calc = calculator
        energy.append((atoms.get_potential_energy() / len(atoms), work.get_potential_energy() / len(work)))
        forces.append(np.column_stack([atoms.get_forces().ravel(), work.get_forces().ravel()]))
        stress.append(np.column_stack([atoms.get_stress() / GPa, work.get_stress() / GPa]))
    columns = ["reference", "model"]
    return dict(energy=pd.DataFrame(energy, columns=columns),
                forces=pd.DataFrame(np.vstack(forces), columns=columns),
                stress=pd.DataFrame(np.vstack(stress), columns=columns))


def error_metrics(frame: pd.DataFrame) -> dict[str, float]:
    """RMSE and coefficient of determination R^2 of ``model`` against ``reference``."""
    residual = frame["model"] - frame["reference"]
    total = ((frame["reference"] - frame["reference"].mean()) ** 2).sum()
    return dict(rmse=float(np.sqrt((residual ** 2).mean())),
                r2=float(1 - (residual ** 2).sum() / total) if total > 0 else float("nan"))


def errors_by_origin(model: str | Path, structures: Sequence[Atoms]) -> pd.DataFrame:
    """RMSEs of ``model`` against the labels of ``structures``, one row per ``info['origin']``
    ('systematic', 'md', ...): energy (meV/atom), forces (meV/Å), stress (MPa)."""
    rows = []
    for origin in sorted({a.info.get("origin", "?") for a in structures}):
        subset = [a for a in structures if a.info.get("origin", "?") == origin]
        parity = parity_data(model, subset)
        rows.append(dict(origin=origin, structures=len(subset),
                         energy_meV_per_atom=1000 * error_metrics(parity["energy"])["rmse"],
                         forces_meV_per_A=1000 * error_metrics(parity["forces"])["rmse"],
                         stress_MPa=1000 * error_metrics(parity["stress"])["rmse"]))
    return pd.DataFrame(rows)
