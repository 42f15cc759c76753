"""Pinned chapter-06 cells: written and read back bit for bit, pinned only where they are the
labelled cells, never replaced."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from softlattice.antiperovskite import pinned_cells
from softlattice.antiperovskite.dataset import CapDatasetSettings
from softlattice.antiperovskite.structures import build_antiperovskite
from softlattice.antiperovskite.workflows import models
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


def test_the_hashes_labels_name_come_from_carried_caches_and_extended_rows_of_label_sets(tmp_path):
    carried, frozen = tmp_path / "labels", tmp_path / "sets"
    carried.mkdir()
    frozen.mkdir()
    with gzip.open(carried / "gap-pbe-basissz_dzp.jsonl.gz", "wt") as handle:
        handle.writelines(json.dumps(dict(hash=h, gap=0.5)) + "\n" for h in ("a", "md"))
    pd.DataFrame(dict(source=["extended", "md"], hash=["b", "md2"])).to_csv(frozen / "s.csv.gz", index=False)
    assert pinned_cells.hashes_named_by_labels(carried, leave_out={"md"}) == {"a"}
    assert pinned_cells.hashes_named_by_labels(carried, frozen, leave_out={"md"}) == {"a", "b"}


def test_extended_labelling_stops_where_the_cells_are_not_the_labelled_ones(tmp_path, monkeypatch, capsys):
    """A carried gap of a cell this machine does not build: the lanes refuse, naming the fix,
    instead of labelling another selection for hours."""
    carried = tmp_path / "labels"
    carried.mkdir()
    with gzip.open(carried / "gap-gllbsc-basisdzp.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(dict(hash="0123456789abcdef", gap=1.0, level="gllbsc")) + "\n")
    monkeypatch.setattr(models, "LABELS_CARRIED", carried)
    monkeypatch.setattr(models, "GAPS_STORE", tmp_path / "gaps")
    with pytest.raises(SystemExit, match="not labelling: 1 carried gaps of extended cells .* --pin-cells"):
        models.main(["--gaps-part", "0/2", "--labels", "extended", "--stages", "accurate"])


def test_retired_labels_leave_the_carried_files_and_the_runtime_cache_for_good(tmp_path):
    """Gaps of cells no machine at hand builds move out (kept as a record); a second retirement
    adds to the first; the runtime cache loses them, so the next carry cannot bring them back."""
    carried, retired, runtime = tmp_path / "labels", tmp_path / "retired", tmp_path / "gaps"
    carried.mkdir()
    (runtime / "gap-pbe").mkdir(parents=True)
    records = [dict(hash=h, gap=0.5 + k / 10, level="pbe") for k, h in enumerate(("built", "old1", "old2", "md"))]
    with gzip.open(carried / "gap-pbe.jsonl.gz", "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    for record in records:
        (runtime / "gap-pbe" / f"{record['hash']}.json").write_text(json.dumps(record))
    moved = pinned_cells.retire_labels(carried, {"built", "md", "old2"}, retired, caches=[runtime], reason="test")
    assert moved == {"gap-pbe.jsonl.gz": 1}
    assert pinned_cells.hashes_named_by_labels(carried) == {"built", "old2", "md"}
    assert sorted(p.stem for p in (runtime / "gap-pbe").glob("*.json")) == ["built", "md", "old2"]
    pinned_cells.retire_labels(carried, {"built", "md"}, retired, caches=[runtime], reason="again")
    kept = [json.loads(line) for line in gzip.open(retired / "gap-pbe.jsonl.gz", "rt")]
    assert [(r["hash"], r["gap"]) for r in kept] == [("old1", 0.6), ("old2", 0.7)]
    assert [entry["reason"] for entry in json.loads((retired / "provenance.json").read_text())] == ["test", "again"]
    assert pinned_cells.retire_labels(carried, {"built", "md"}, retired) == {}
