"""Fine-tuning SevenNet (a multi-fidelity foundation MLIP that ships its weights) on reference
labels: the MA/FA teacher's last step when no shipped model meets the teacher criteria.

Units: energies eV, forces eV/Å, stresses eV/Å^3 (ASE's convention) in and out; SevenNet's own
stress loss works in kbar.

The pretrained checkpoint is one modality (fidelity) of a multi-fidelity model; the fine-tuned
model keeps that modality's name but describes the new labels. Before any gradient step the
per-element energy shift of that modality is moved by the least-squares offset between the labels
and the pretrained predictions (a change of functional or of DFT code shifts total energies by
per-element constants), so that the network only has to learn what depends on geometry. The
epoch with the lowest validation force RMSE is kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from ase.data import atomic_numbers

from softlattice.infra.keys import structure_hash
from softlattice.models.finetune import check_training_settings
from softlattice.models.metrics import species_offsets
from softlattice.models.splits import split


@dataclass(frozen=True)
class SevenNetFineTuneSettings:
    """Hyper-parameters: SevenNet's own loss (Huber, delta 0.2; weights: energy 1, forces 1, stress
    0.01; a stress weight of 0 leaves the stresses out)
    with Adam at a tenth of pretraining's learning rate (0.005), for a few tens of epochs on a few
    tens of 96-atom cells (what one core affords in about half an hour).

    ``trainable_blocks``: None trains every weight; k trains only the last k interaction blocks and
    the energy read-out, the rest keep their pretrained values (fewer free weights on few cells)."""

    base_model: str = "7net-mf-0"
    modal: str = "R2SCAN"
    epochs: int = 20
    learning_rate: float = 5e-4
    batch_size: int = 2
    validation_percent: int = 20
    energy_weight: float = 1.0
    stress_weight: float = 0.01
    trainable_blocks: int | None = None
    seed: int = 0

    def __post_init__(self):
        check_training_settings(self)
        if self.trainable_blocks is not None and self.trainable_blocks < 0:
            raise ValueError(f"trainable_blocks {self.trainable_blocks} must be None (all) or >= 0")


def _checkpoint(base_model: str):
    from sevenn.util import load_checkpoint
    return load_checkpoint(base_model)


def _check_modal(checkpoint, modal: str) -> None:
    modal_map = checkpoint.config.get("_modal_map") or {}
    if modal_map and modal not in modal_map:
        raise ValueError(f"modal {modal!r} is not in {checkpoint.checkpoint_path}; allowed: "
                         f"{', '.join(modal_map)} (case-sensitive)")


def _graphs(labelled: Sequence[Atoms], cutoff: float, modal: str):
    """SevenNet graphs of labelled structures (energy, forces, stress from their calculators)."""
    from sevenn import _keys as KEY
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.train.dataload import atoms_to_graph

    graphs = []
    for atoms in labelled:
        graph = AtomGraphData.from_numpy_dict(atoms_to_graph(atoms, cutoff, transfer_info=False, y_from_calc=True))
        graph[KEY.DATA_MODALITY] = modal
        graphs.append(graph)
    return graphs


def _check_labels(labelled: Sequence[Atoms]) -> None:
    for atoms in labelled:
        missing = [p for p in ("energy", "forces", "stress") if atoms.calc is None or p not in atoms.calc.results]
        if missing:
            raise ValueError(f"structure {structure_hash(atoms)} has no {', '.join(missing)} label: "
                             "fine-tuning uses energies, forces and stresses")


def _move_energy_shift(model, checkpoint, modal: str, offsets: dict[str, float]) -> None:
    """Add ``offsets`` (eV/atom by element) to the modality's per-element energy shift, in place."""
    import torch
    type_map = checkpoint.config["_type_map"]
    modal_index = (checkpoint.config.get("_modal_map") or {}).get(modal)
    shift = model._modules["rescale_atomic_energy"].shift
    with torch.no_grad():
        for symbol, value in offsets.items():
            column = type_map[atomic_numbers[symbol]]
            if shift.dim() == 2:
                shift[modal_index, column] += value
            else:
                shift[column] += value


READOUT_PREFIXES = ("reduce_input_to_hidden", "reduce_hidden_to_energy", "rescale_atomic_energy")


def freeze_early_blocks(model, trainable_blocks: int | None) -> list[str]:
    """Freeze every weight of ``model`` except those of its last ``trainable_blocks`` interaction
    blocks (SevenNet names them '<i>_...') and of the read-out; None leaves everything trainable.

    Returns the names of the parameters that stay trainable."""
    names = [name for name, _ in model.named_parameters()]
    if trainable_blocks is None:
        return names
    blocks = sorted({int(name.split("_")[0]) for name in names if name.split("_")[0].isdigit()})
    if trainable_blocks > len(blocks):
        raise ValueError(f"trainable_blocks {trainable_blocks} exceeds the model's {len(blocks)} interaction blocks")
    kept = set(blocks[len(blocks) - trainable_blocks:])
    trainable = []
    for name, parameter in model.named_parameters():
        head = name.split("_")[0]
        keep = name.startswith(READOUT_PREFIXES) or (head.isdigit() and int(head) in kept)
        parameter.requires_grad_(keep)
        if keep:
            trainable.append(name)
    return trainable


def _force_rmse(model, loader) -> float:
    from sevenn import _keys as KEY
    squared, count = 0.0, 0
    model.eval()
    for batch in loader:
        output = model(batch)
        difference = (output[KEY.PRED_FORCE] - batch[KEY.FORCE]).detach()
        squared += float((difference ** 2).sum())
        count += difference.numel()
    return float(np.sqrt(squared / count))


def finetune_sevennet(training: Sequence[Atoms], settings: SevenNetFineTuneSettings, folder: str | Path) -> Path:
    """Fine-tune SevenNet on labelled structures, or reuse the result when ``folder`` already holds
    one made with the same settings and data.

    Parameters
    ----------
    training
        Labelled structures (energy eV, forces eV/Å, stress eV/Å^3); ``settings.validation_percent``
        of them (by structure hash) are the validation set that picks the best epoch.
    folder
        Where ``checkpoint.pth`` (a SevenNet checkpoint), ``history.csv`` (force RMSE per epoch,
        eV/Å, training and validation) and ``settings.json`` go.

    Returns
    -------
    The path of the fine-tuned checkpoint (load it with :func:`sevennet_calculator`).
    """
    import sevenn
    import torch
    from sevenn.train.loss import get_loss_functions_from_config
    from sevenn.train.trainer import Trainer
    from torch_geometric.loader import DataLoader

    folder = Path(folder)
    key = dict(settings=asdict(settings), data=sorted(structure_hash(a) for a in training))
    done = folder / "checkpoint.pth"
    if done.exists() and json.loads((folder / "settings.json").read_text()) == key:
        return done
    _check_labels(training)
    checkpoint = _checkpoint(settings.base_model)
    _check_modal(checkpoint, settings.modal)
    train_set, validation_set = split(list(training), settings.validation_percent, salt="validation")
    if len(train_set) < 2 or not validation_set:
        raise ValueError(f"{len(training)} structures give {len(train_set)} for training and {len(validation_set)} "
                         "for validation: need at least 2 and 1")
    torch.manual_seed(settings.seed)
    pretrained = sevennet_calculator(checkpoint.checkpoint_path, settings.modal)
    predicted = []
    for atoms in train_set:
        work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
        work.calc = pretrained
        predicted.append(work.get_potential_energy())
    offsets = species_offsets(train_set, np.array(predicted), np.array([a.get_potential_energy() for a in train_set]))

    model = checkpoint.build_model()
    _move_energy_shift(model, checkpoint, settings.modal, offsets)
    freeze_early_blocks(model, settings.trainable_blocks)
    cutoff = float(checkpoint.config["cutoff"])
    training_loader = DataLoader(_graphs(train_set, cutoff, settings.modal), batch_size=settings.batch_size,
                                 shuffle=True)
    validation_loader = DataLoader(_graphs(validation_set, cutoff, settings.modal), batch_size=settings.batch_size)
    from sevenn.train.loss import PerAtomEnergyLoss
    losses = get_loss_functions_from_config(dict(loss="huber", loss_param=dict(delta=0.2), force_loss_weight=1.0,
                                                 stress_loss_weight=settings.stress_weight,
                                                 is_train_stress=settings.stress_weight > 0))
    losses = [(loss, settings.energy_weight if isinstance(loss, PerAtomEnergyLoss) else weight)
              for loss, weight in losses]
    trainer = Trainer(model, losses, torch.optim.Adam, dict(lr=settings.learning_rate), device="cpu")
    history = [dict(epoch=0, train_force_rmse=_force_rmse(trainer.model, training_loader),
                    validation_force_rmse=_force_rmse(trainer.model, validation_loader))]
    best = (history[0]["validation_force_rmse"], {k: v.clone() for k, v in trainer.model.state_dict().items()})
    for epoch in range(1, settings.epochs + 1):
        trainer.run_one_epoch(training_loader, is_train=True)
        row = dict(epoch=epoch, train_force_rmse=_force_rmse(trainer.model, training_loader),
                   validation_force_rmse=_force_rmse(trainer.model, validation_loader))
        history.append(row)
        print(f"epoch {epoch}: force RMSE train {row['train_force_rmse']:.4f}, validation "
              f"{row['validation_force_rmse']:.4f} eV/Å", flush=True)
        if row["validation_force_rmse"] < best[0]:
            best = (row["validation_force_rmse"], {k: v.clone() for k, v in trainer.model.state_dict().items()})
    folder.mkdir(parents=True, exist_ok=True)
    stored = torch.load(checkpoint.checkpoint_path, map_location="cpu", weights_only=False)
    stored["model_state_dict"] = best[1]
    # the weights come from a model built by this sevenn, already in its layout: an old version
    # tag would make sevenn re-sort the convolution weights on loading
    stored["config"]["version"] = sevenn.__version__
    stored.pop("optimizer_state_dict", None)
    stored.pop("scheduler_state_dict", None)
    torch.save(stored, folder / "checkpoint.pth.tmp")
    pd.DataFrame(history).to_csv(folder / "history.csv", index=False)
    (folder / "energy_offsets.json").write_text(json.dumps(offsets, indent=1))
    (folder / "settings.json").write_text(json.dumps(key))
    (folder / "checkpoint.pth.tmp").replace(done)
    return done


def sevennet_calculator(checkpoint: str | Path, modal: str | None):
    """An ASE calculator (CPU) for a SevenNet checkpoint file or a pretrained model's name."""
    from sevenn.calculator import SevenNetCalculator
    if modal:
        return SevenNetCalculator(model=str(checkpoint), modal=modal, device="cpu")
    return SevenNetCalculator(model=str(checkpoint), device="cpu")
