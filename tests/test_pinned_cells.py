"""Pinned chapter-06 cells: written and read back bit for bit, pinned only where they are the
labelled cells, never replaced."""

import numpy as np
import pytest

from softlattice.antiperovskite import pinned_cells
from softlattice.antiperovskite.dataset import CapDatasetSettings
from softlattice.antiperovskite.structures import build_antiperovskite
from softlattice.infra.keys import structure_hash


def cells(count: int, shift: float = 0.0):
    structures = []
    for k in range(count):
        atoms = build_antiperovskite("Br" if k % 2 else "I")
        atoms.rattle(0.05, seed=k)
        atoms.positions += shift
        # a coordinate half a rounding step from the hash's 1e-6 Å grid: a text format with 1e-8 Å
        # (extxyz) would move it across, an exact one keeps it
        atoms.positions[0, 0] = 1.2345674999
        atoms.info.update(br_fraction=float(k % 2), origin="thermal", temperature=100.0 * (k + 1), ordering="none")
        structures.append(atoms)
    return structures


def test_cells_round_trip_bit_for_bit_with_their_info(tmp_path):
    original = cells(5)
    loaded = pinned_cells.load_cells(pinned_cells.save_cells(original, tmp_path / "c.npz"))
    assert [structure_hash(a) for a in loaded] == [structure_hash(a) for a in original]
    for a, b in zip(original, loaded):
        assert np.array_equal(a.positions, b.positions) and np.array_equal(a.cell.array, b.cell.array)
        assert a.get_chemical_symbols() == b.get_chemical_symbols() and a.info == b.info


def test_cells_are_pinned_only_where_they_hold_every_labelled_cell(tmp_path):
    here = cells(4)
    labelled = {structure_hash(a) for a in here[:2]}
    elsewhere = cells(4, shift=3e-5)  # another CPU type: the same recipe, other last digits
    with pytest.raises(ValueError, match="2 of 2 labelled cells .* are not among the 4 cells regenerated here"):
        pinned_cells.pin_cells(elsewhere, "key", labelled, tmp_path)
    assert not pinned_cells.pinned_file("key", tmp_path).exists()
    path = pinned_cells.pin_cells(here, "key", labelled, tmp_path)
    assert [structure_hash(a) for a in pinned_cells.load_cells(path)] == [structure_hash(a) for a in here]
    pinned_cells.pin_cells(here, "key", labelled, tmp_path)  # the same cells again: nothing changes
    with pytest.raises(ValueError, match="already pins other cells"):
        pinned_cells.pin_cells(elsewhere, "key", (), tmp_path)


def test_the_key_names_the_reference_and_every_dataset_setting():
    base = pinned_cells.cells_key("chgnet-r2scan", CapDatasetSettings())
    assert pinned_cells.cells_key("chgnet-r2scan", CapDatasetSettings(per_temperature=10)) != base
    assert pinned_cells.cells_key("chgnet-0.3.0", CapDatasetSettings()) != base
    assert pinned_cells.cells_key("chgnet-r2scan", CapDatasetSettings()) == base
