"""Fine-tuning SevenNet recovers a synthetic functional (forces 1.5x, energies shifted per element),
keeps the anchors-style held-out frames out of training, and a retrained model gets its own label cache."""

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from softlattice.models import reference
from softlattice.models.finetune_sevennet import SevenNetFineTuneSettings, finetune_sevennet, sevennet_calculator

FORCE_FACTOR = 1.5
OFFSET_PER_ATOM = 2.0


@pytest.fixture(scope="module")
def synthetic_frames():
    """Rattled 10-atom CsPbI3 cells labelled by a 'stiffer functional': SevenNet-MF-0 (R2SCAN) energies
    and forces times 1.5, energies shifted by 2 eV per atom."""
    calculator = sevennet_calculator("7net-mf-0", "R2SCAN")
    rng = np.random.default_rng(0)
    base = Atoms("CsPbI3", scaled_positions=[[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]],
                 cell=[6.3] * 3, pbc=True).repeat((2, 1, 1))
    frames = []
    for _ in range(14):
        atoms = base.copy()
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        atoms.calc = calculator
        labelled = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
        labelled.calc = SinglePointCalculator(
            labelled, energy=FORCE_FACTOR * atoms.get_potential_energy() + OFFSET_PER_ATOM * len(atoms),
            forces=FORCE_FACTOR * atoms.get_forces(), stress=FORCE_FACTOR * atoms.get_stress())
        frames.append(labelled)
    return frames


def _predict(calculator, frames):
    forces, energies = [], []
    for atoms in frames:
        work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
        work.calc = calculator
        forces.append(work.get_forces())
        energies.append(work.get_potential_energy())
    return np.array(forces), np.array(energies)


def test_finetuning_moves_held_out_forces_and_energies_to_the_new_labels(synthetic_frames, tmp_path):
    training, held_out = synthetic_frames[:10], synthetic_frames[10:]
    settings = SevenNetFineTuneSettings(epochs=8, learning_rate=1e-3)
    path = finetune_sevennet(training, settings, tmp_path)
    truth = np.array([a.get_forces() for a in held_out])
    true_energy = np.array([a.get_potential_energy() for a in held_out])
    before_forces, before_energy = _predict(sevennet_calculator("7net-mf-0", "R2SCAN"), held_out)
    after_forces, after_energy = _predict(sevennet_calculator(path, "R2SCAN"), held_out)
    rmse = lambda a, b: float(np.sqrt(np.mean((a - b) ** 2)))  # noqa: E731
    assert rmse(after_forces, truth) < 0.5 * rmse(before_forces, truth)
    # the per-element shift is folded into the model: energies land in the labels' frame
    assert np.max(np.abs(after_energy - true_energy)) / 10 < 0.05 < np.min(np.abs(before_energy - true_energy)) / 10
    # same settings and data: reused, not retrained
    stamp = path.stat().st_mtime_ns
    assert finetune_sevennet(training, settings, tmp_path) == path and path.stat().st_mtime_ns == stamp


def test_unknown_modality_and_missing_labels_are_refused(synthetic_frames, tmp_path):
    with pytest.raises(ValueError, match="'r2scan' is not in .*R2SCAN"):
        finetune_sevennet(synthetic_frames, SevenNetFineTuneSettings(modal="r2scan", epochs=1), tmp_path)
    unlabelled = [Atoms(a.numbers, positions=a.positions, cell=a.cell, pbc=True) for a in synthetic_frames]
    with pytest.raises(ValueError, match="no energy, forces, stress label"):
        finetune_sevennet(unlabelled, SevenNetFineTuneSettings(epochs=1), tmp_path)


def test_a_retrained_model_never_reuses_the_labels_of_the_one_before(tmp_path, monkeypatch):
    model_file = tmp_path / "checkpoint.pth"
    monkeypatch.setitem(reference.MODEL_FILES, "sevennet-pw-ft", model_file)
    assert reference.cache_name("sevennet-pw-ft+d3") == "sevennet-pw-ft+d3"  # no checkpoint yet
    model_file.write_bytes(b"first")
    first = reference.cache_name("sevennet-pw-ft+d3")
    model_file.write_bytes(b"second")
    second = reference.cache_name("sevennet-pw-ft+d3")
    assert first != second and first.endswith("+d3") and second.startswith("sevennet-pw-ft@")
    assert reference.cache_name("chgnet-0.3.0+d3") == "chgnet-0.3.0+d3"


def test_finetuning_cells_exclude_the_held_out_anchors_and_spread_over_compositions():
    from softlattice.infra.keys import structure_hash
    from softlattice.perovskite.workflows.screening import load_dft_validation
    from softlattice.perovskite.workflows.teacher import anchor_structures, finetune_structures
    validation = load_dft_validation()
    cells = finetune_structures(validation)
    anchors = {structure_hash(a) for a in anchor_structures(validation)}
    assert len(cells) == len(validation) - len(anchors)
    assert not anchors & {structure_hash(a) for a in cells}
    group = lambda a: (float(a.info["fa_fraction"]), a.info["origin"], a.info["glazer"])  # noqa: E731
    groups = {group(a) for a in cells}
    assert {group(a) for a in cells[:len(groups)]} == groups  # one of each kind before a second of any


def test_freezing_keeps_early_blocks_at_their_pretrained_values(synthetic_frames, tmp_path):
    import torch
    from sevenn.util import load_checkpoint

    from softlattice.models.finetune_sevennet import freeze_early_blocks

    with pytest.raises(ValueError, match="trainable_blocks -1"):
        SevenNetFineTuneSettings(trainable_blocks=-1)
    path = finetune_sevennet(synthetic_frames[:10], SevenNetFineTuneSettings(epochs=2, learning_rate=1e-3,
                                                                             trainable_blocks=1), tmp_path)
    before = load_checkpoint("7net-mf-0").build_model().state_dict()
    after = torch.load(path, map_location="cpu", weights_only=False)["model_state_dict"]
    moved = {name for name in after if after[name].dtype.is_floating_point
             and not torch.allclose(after[name], before[name])}
    assert moved and all(name.startswith(("4_", "reduce_", "rescale_")) for name in moved)
    assert any(name.startswith("4_") for name in moved)
    with pytest.raises(ValueError, match="exceeds"):
        freeze_early_blocks(load_checkpoint("7net-mf-0").build_model(), 9)
