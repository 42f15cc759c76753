"""Fine-tuning a foundation MLIP (CHGNet, which ships its weights) on reference labels, and the
error metrics that compare the pretrained and the fine-tuned model.

Units: energies eV (errors in meV/atom), forces eV/Å (meV/Å), stresses eV/Å^3 (meV/Å^3, ASE's
sign convention: positive is tensile).

The seed fine-tunes MACE-MPA-0 (pretrained on PBE data) on PBEsol labels. The analogue here
fine-tunes CHGNet 0.3.0 (pretrained on PBE/PBE+U data, MPtrj) on labels of the chosen reference.
Following CHGNet's own fine-tuning recipe, the embeddings and the first three atom-convolution
layers are frozen and the rest trained; the per-element reference energies (``AtomRef``) are
first shifted by a least-squares fit to the labels and then retrained too, since a change of
functional mostly shifts them (the seed's "systematic offset").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.data import atomic_numbers

from softlattice.infra.keys import structure_hash
from softlattice.models.metrics import r2, species_offsets
from softlattice.models.splits import split


@dataclass(frozen=True)
class FineTuneSettings:
    """CHGNet fine-tuning hyper-parameters (CHGNet's loss weights: energy 1, forces 1, stress 0.1)."""

    base_model: str = "0.3.0"
    epochs: int = 30
    learning_rate: float = 1e-3
    batch_size: int = 8
    validation_percent: int = 10
    freeze_lower_layers: bool = True
    seed: int = 0

    def __post_init__(self):
        check_training_settings(self)


def check_training_settings(settings) -> None:
    """Refuse fine-tuning settings outside their ranges, naming the value (any dataclass with
    ``epochs``, ``batch_size``, ``learning_rate`` and ``validation_percent``)."""
    if settings.epochs < 1 or settings.batch_size < 1 or not settings.learning_rate > 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1, learning_rate > 0; got {settings.epochs}, "
                         f"{settings.batch_size}, {settings.learning_rate}")
    if not 0 < settings.validation_percent < 100:
        raise ValueError(f"validation_percent {settings.validation_percent!r} must be in (0, 100)")


def _structure_data(labelled: Sequence[Atoms], graph_converter):
    """CHGNet's ``StructureData``: energies per atom, forces, and stresses in VASP's convention
    (kbar, compressive positive), which CHGNet's dataset converts back to GPa."""
    from chgnet.data.dataset import StructureData
    missing = [i for i, a in enumerate(labelled) if a.calc is None or "stress" not in a.calc.results]
    if missing:
        raise ValueError(f"structures {missing[:5]} have no stress label: fine-tuning uses energies, forces and stresses")
    return StructureData(structures=[_pymatgen(a) for a in labelled],
                         energies=[a.get_potential_energy() / len(a) for a in labelled],
                         forces=[a.get_forces() for a in labelled],
                         stresses=[-10.0 * a.get_stress(voigt=False) / units.GPa for a in labelled],
                         graph_converter=graph_converter, shuffle=False)


def shift_atom_reference(model, labelled: Sequence[Atoms]) -> np.ndarray:
    """Move CHGNet's per-element reference energies (``AtomRef``, eV/atom) by the least-squares
    per-element offset between ``labelled`` energies and the model's own predictions, in place.

    A change of functional shifts total energies by per-element constants (here up to eV/atom)
    that gradient steps remove only slowly; fitting them first leaves the network to learn the
    rest. Elements that appear in fixed ratios (Ag3S) get the minimum-norm split of their shared
    offset, which is all the data can determine.

    Returns
    -------
    The offsets added, shape (94,) eV/atom (zero for elements absent from ``labelled``).
    """
    import torch

    predicted = [len(a) * float(model.predict_structure(_pymatgen(a), task="e")["e"]) for a in labelled]
    found = species_offsets(labelled, predicted, [a.get_potential_energy() for a in labelled])
    offsets = np.zeros(94)
    for symbol, value in found.items():
        offsets[atomic_numbers[symbol] - 1] = value
    with torch.no_grad():
        model.composition_model.fc.weight += torch.tensor(offsets, dtype=model.composition_model.fc.weight.dtype)
    return offsets


def _pymatgen(atoms: Atoms):
    from pymatgen.io.ase import AseAtomsAdaptor
    return AseAtomsAdaptor.get_structure(atoms)


def finetune_chgnet(training: Sequence[Atoms], settings: FineTuneSettings, folder: str | Path):
    """Fine-tune CHGNet on labelled structures, or load the result when ``folder`` already holds
    one made with the same settings and data.

    Parameters
    ----------
    training
        Labelled structures (energy, forces, stress); ``settings.validation_percent`` of them
        (by structure hash) are the validation set that picks the best epoch.
    folder
        Where ``model.pt`` (weights and arguments), ``history.csv`` and ``settings.json`` go.

    Returns
    -------
    The fine-tuned ``CHGNet`` and its training history (MAE per epoch, train and validation).
    """
    import torch
    from chgnet.model import CHGNet
    from chgnet.trainer import Trainer
    from torch.utils.data import DataLoader

    folder = Path(folder)
    key = dict(settings=asdict(settings), data=sorted(structure_hash(a) for a in training))
    done = folder / "model.pt"
    if done.exists() and json.loads((folder / "settings.json").read_text()) == key:
        return CHGNet.from_dict(torch.load(done, weights_only=False)), pd.read_csv(folder / "history.csv")
    train_set, validation_set = split(list(training), settings.validation_percent, salt="validation")
    if len(train_set) < 2 or not validation_set:
        raise ValueError(f"{len(training)} structures give {len(train_set)} for training and {len(validation_set)} "
                         "for validation: need at least 2 and 1")
    torch.manual_seed(settings.seed)
    model = CHGNet.load(model_name=settings.base_model, use_device="cpu", verbose=False)
    shift_atom_reference(model, train_set)
    if settings.freeze_lower_layers:
        for layer in [model.atom_embedding, model.bond_embedding, model.angle_embedding, model.bond_basis_expansion,
                      model.angle_basis_expansion, model.atom_conv_layers[:3], model.bond_conv_layers,
                      model.angle_layers]:
            for parameter in layer.parameters():
                parameter.requires_grad = False
    from chgnet.data.dataset import collate_graphs

    def loader(structures, shuffle):
        return DataLoader(_structure_data(structures, model.graph_converter), batch_size=settings.batch_size,
                          shuffle=shuffle, collate_fn=collate_graphs)

    trainer = Trainer(model=model, targets="efs", optimizer="Adam", scheduler="CosLR", criterion="MSE",
                      epochs=settings.epochs, learning_rate=settings.learning_rate, use_device="cpu",
                      torch_seed=settings.seed, print_freq=10 ** 6)
    folder.mkdir(parents=True, exist_ok=True)
    import contextlib
    with open(folder / "training.log", "w") as log, contextlib.redirect_stdout(log):  # CHGNet prints every epoch
        training_loader, validation_loader = loader(train_set, True), loader(validation_set, False)
        trainer.train(training_loader, validation_loader, save_dir=str(folder / "checkpoints"),
                      train_composition_model=True)
    best = trainer.get_best_model()
    history = pd.DataFrame({f"{target}_{part}": values for target, parts in trainer.training_history.items()
                            for part, values in parts.items() if len(values)})
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    torch.save(best.as_dict(), folder / "model.pt.tmp")
    history.to_csv(folder / "history.csv", index=False)
    (folder / "settings.json").write_text(json.dumps(key))
    (folder / "model.pt.tmp").replace(done)
    return best, history


def chgnet_calculator(model):
    """An ASE calculator for a ``CHGNet`` model object (CPU)."""
    from chgnet.model import CHGNetCalculator
    return CHGNetCalculator(model=model, use_device="cpu")


def predictions(structures: Sequence[Atoms], calculator) -> list[Atoms]:
    """Copies of ``structures`` labelled by ``calculator`` (energy, forces, stress)."""
    out = []
    for atoms in structures:
        work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        work.calc = calculator
        results = dict(energy=work.get_potential_energy(), forces=work.get_forces(), stress=work.get_stress())
        work.calc = SinglePointCalculator(work, **results)
        out.append(work)
    return out


def label_errors(reference: Sequence[Atoms], predicted: Sequence[Atoms]) -> dict[str, float]:
    """MAE and R^2 of energies per atom (meV/atom), force components (meV/Å) and stress
    components (meV/Å^3) of ``predicted`` against ``reference`` (same structures, same order)."""
    if len(reference) != len(predicted) or not len(reference):
        raise ValueError(f"need the same non-zero number of structures, got {len(reference)} and {len(predicted)}")
    energy = [np.array([a.get_potential_energy() / len(a) for a in s]) * 1000 for s in (reference, predicted)]
    forces = [np.concatenate([a.get_forces().ravel() for a in s]) * 1000 for s in (reference, predicted)]
    stress = [np.concatenate([a.get_stress() for a in s]) * 1000 for s in (reference, predicted)]
    result = {}
    for name, (truth, guess) in dict(energy=energy, forces=forces, stress=stress).items():
        result[f"{name}_mae"] = float(np.mean(np.abs(truth - guess)))
        result[f"{name}_r2"] = r2(truth, guess)
    return result


def parity_table(reference: Sequence[Atoms], predicted: Sequence[Atoms], model: str) -> pd.DataFrame:
    """Long table for parity plots: ``quantity`` ('energy' meV/atom, 'forces' meV/Å, 'stress'
    meV/Å^3), ``reference``, ``predicted``, ``model``."""
    frames = []
    for quantity, get in (("energy", lambda a: [a.get_potential_energy() / len(a)]),
                          ("forces", lambda a: a.get_forces().ravel()), ("stress", lambda a: a.get_stress())):
        truth = np.concatenate([get(a) for a in reference]) * 1000
        guess = np.concatenate([get(a) for a in predicted]) * 1000
        frames.append(pd.DataFrame(dict(quantity=quantity, reference=truth, predicted=guess, model=model)))
    return pd.concat(frames, ignore_index=True)
