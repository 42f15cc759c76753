"""Frozen label sets: the extended selection keeps its held-out split as labels arrive, a set
never changes once written, and its rows land on the right regenerated structures."""

import pandas as pd
import pytest

from softlattice.antiperovskite.label_sets import (
    HELD_OUT_SALT,
    as_label_set,
    attach,
    extended_gap_table,
    freeze_label_set,
    label_costs,
    label_set_path,
    load_label_set,
)
from softlattice.antiperovskite.structures import build_antiperovskite
from softlattice.antiperovskite.workflows.models import gap_selection
from softlattice.electronic.gaps import GapCache, GapResult
from softlattice.infra.keys import structure_hash
from softlattice.models.splits import is_test

SETTINGS = dict(cheap="pbe", cheap_basis="sz(dzp)", accurate="gllbsc", accurate_basis="dzp",
                accurate_percent=25, max_cheap=12, max_accurate=4)


def cells(count: int, offset: int = 0) -> list:
    structures = []
    for k in range(count):
        atoms = build_antiperovskite("Br" if k % 2 else "I")
        atoms.rattle(0.05, seed=offset + k)
        atoms.info.update(br_fraction=float(k % 2), origin="thermal", temperature=100.0 * (1 + k % 3))
        structures.append(atoms)
    return structures


def label(cache_folder, structures, indices, stage, gap=lambda k: 1.0 + k):
    cache = GapCache(SETTINGS[stage], cache_folder, basis=SETTINGS[f"{stage}_basis"])
    for k in indices:
        cache.put(structures[k], GapResult(gap=gap(k), kohn_sham_gap=1.0, discontinuity=0.0, scf_iterations=10,
                                           attempts=1, seconds=1.0, level=SETTINGS[stage]))


def test_the_extended_table_keeps_each_structures_side_as_labels_arrive_and_skips_known_ones(tmp_path):
    structures = cells(16)
    chosen = gap_selection(structures, SETTINGS)
    full_folder, partial_folder = tmp_path / "all", tmp_path / "some"
    for stage, indices in chosen.items():
        label(full_folder, structures, indices, stage)
        label(partial_folder, structures, indices[::2], stage)
    complete = extended_gap_table(structures, SETTINGS, 25, set(), offset=100, folder=full_folder)
    assert len(complete) == len(chosen["cheap"]) + len(chosen["accurate"])
    assert (complete.gap_eV == 1.0 + complete["index"] - 100).all()
    assert list(complete.held_out) == [is_test(structures[i - 100], 25, HELD_OUT_SALT) for i in complete["index"]]
    assert 0 < complete.held_out.sum() < len(complete)
    partial = extended_gap_table(structures, SETTINGS, 25, set(), offset=100, folder=partial_folder)
    sides = complete.set_index("index").held_out
    assert len(partial) < len(complete)
    assert (partial.set_index("index").held_out == sides.loc[partial["index"]]).all()
    known = {structure_hash(structures[chosen["cheap"][0]])}
    without = extended_gap_table(structures, SETTINGS, 25, known, offset=100, folder=full_folder)
    assert 100 + chosen["cheap"][0] not in set(without["index"]) and len(without) == len(complete) - 1


def test_a_frozen_set_round_trips_onto_regenerated_structures_and_never_changes(tmp_path):
    extended, frames = cells(16), cells(6, offset=50)
    chosen = gap_selection(extended, SETTINGS)
    label(tmp_path / "cache", extended, chosen["cheap"], "cheap")
    rows = extended_gap_table(extended, SETTINGS, 25, set(), offset=0, folder=tmp_path / "cache")
    md_rows = pd.DataFrame(dict(index=[2, 5], stage="cheap", level="pbe", basis="sz(dzp)", gap_eV=[0.3, 0.4],
                                held_out=[False, True], br_fraction=0.0, origin="md", temperature_K=600.0,
                                excluded=False))
    table = pd.concat([as_label_set(rows, extended, "extended"), as_label_set(md_rows, frames, "md")])
    freeze_label_set("s1", table, tmp_path)
    assert freeze_label_set("s1", table.sample(frac=1.0, random_state=0), tmp_path).is_file()  # same labels
    with pytest.raises(FileExistsError, match="never changes"):
        freeze_label_set("s1", table.assign(gap_eV=table.gap_eV + 0.1), tmp_path)
    back = attach(load_label_set("s1", tmp_path), {"extended": extended, "md": frames}, {"extended": 1000, "md": 2000})
    md = back[back.origin == "md"].sort_values("index")
    assert list(md["index"]) == [2002, 2005] and list(md.gap_eV) == [0.3, 0.4]
    thermal = back[back.origin == "thermal"].set_index("index").sort_index()
    assert list(thermal.index) == sorted(1000 + i for i in chosen["cheap"])
    assert (thermal.gap_eV == 1.0 + thermal.index - 1000).all()
    with pytest.raises(ValueError, match="not among the 6 regenerated structures"):
        attach(load_label_set("s1", tmp_path), {"extended": extended, "md": cells(6, offset=90)},
               {"extended": 0, "md": 100})
    with pytest.raises(ValueError, match=r"source\(s\) \['md'\]"):
        attach(load_label_set("s1", tmp_path), {"extended": extended}, {"extended": 0})


def test_bad_label_set_names_and_missing_sets_are_refused(tmp_path):
    for bad in ("", "../x", ".hidden", "a b"):
        with pytest.raises(ValueError, match="is not allowed"):
            label_set_path(bad)
    with pytest.raises(FileNotFoundError, match="label set 'nope' is missing"):
        load_label_set("nope", tmp_path)


def test_label_costs_read_the_wall_time_each_carried_record_keeps(tmp_path):
    structures = cells(3)
    label(tmp_path / "cache", structures, range(3), "cheap")
    cache = GapCache("pbe", tmp_path / "cache", basis="sz(dzp)")
    assert cache.export_to(tmp_path / "carried") == 3
    costs = label_costs(tmp_path / "carried").iloc[0]
    assert costs["cache"] == "gap-pbe-basissz_dzp" and costs.gaps == 3 and costs.median_s == 1.0
    assert costs.core_hours == pytest.approx(3 / 3600) and costs.retried == 0
    assert label_costs(tmp_path / "empty").empty
