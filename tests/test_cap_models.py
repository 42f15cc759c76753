"""Chapter 06 pieces: the displaced training set, the held-out split, CHGNet fine-tuning and its
error metrics, and gaps at two levels (GPAW)."""

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator

from softlattice.antiperovskite.dataset import CapDatasetSettings, dataset_structures, site_rms
from softlattice.antiperovskite.structures import (
    build_antiperovskite,
    decorate,
    inequivalent_orderings,
)
from softlattice.models.splits import is_test, split


def _parents(scale=1.0):
    """Parent phonopy objects of an Einstein solid (no coupling, k = 2 eV/Å² on every atom)."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms
    parents = {}
    for halide in ("Br", "I"):
        atoms = build_antiperovskite(halide)
        unit = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                            scaled_positions=atoms.get_scaled_positions())
        phonon = Phonopy(unit, np.eye(3, dtype=int) * 2, primitive_matrix="P")
        n = len(phonon.supercell)
        force_constants = np.zeros((n, n, 3, 3))
        for i in range(n):
            force_constants[i, i] = np.eye(3) * 2.0 * scale
        phonon.force_constants = force_constants
        parents[halide] = phonon
    return parents


def test_site_amplitudes_follow_each_site_and_the_composition():
    from softlattice.antiperovskite.structures import rms_thermal_displacements
    parents = _parents()
    rms = {h: rms_thermal_displacements(p, 300.0, mesh=2) for h, p in parents.items()}
    rms["I"] = rms["I"] * 2  # make the parents differ, so the mapping is visible
    atoms = decorate(0.5, inequivalent_orderings(0.5)[0])
    per_atom = site_rms(atoms, rms)
    symbols = np.array(atoms.get_chemical_symbols())
    for symbol, expected in (("Br", rms["Br"][0]), ("I", rms["I"][0]), ("S", 0.5 * (rms["Br"][1] + rms["I"][1]))):
        chosen = per_atom[symbols == symbol]
        np.testing.assert_allclose(chosen, np.broadcast_to(expected, chosen.shape))
    with pytest.raises(ValueError, match="not a whole number of 5-atom"):
        site_rms(atoms[:-1], rms)


def test_dataset_counts_origins_and_temperature_scaling():
    settings = CapDatasetSettings(br_fractions=(0.0, 0.5), orderings_per_x=2, temperatures=(100.0, 400.0),
                                  per_temperature=20, rattled=1, phonon_mesh=2)
    structures = dataset_structures(settings, _parents())
    assert len(structures) == 3 * (1 + 2 * 20 + 1)  # 1 + 2 orderings, each: equilibrium, thermal, rattled
    origins = [a.info["origin"] for a in structures]
    assert origins.count("equilibrium") == 3 and origins.count("rattled") == 3
    ideal = {a.info["ordering"]: a for a in structures if a.info["origin"] == "equilibrium"}

    def spread(temperature):
        return np.std(np.concatenate([(a.positions - ideal[a.info["ordering"]].positions).ravel() for a in structures
                                      if a.info.get("temperature") == temperature]))
    # classical limit of the Einstein solid: <u^2> grows linearly with T (quantum zero-point adds
    # a little at 100 K, so the ratio is a bit below 2)
    assert 1.6 < spread(400.0) / spread(100.0) < 2.05
    with pytest.raises(ValueError, match="not a whole number of Br on 8 halide sites"):
        CapDatasetSettings(br_fractions=(0.3,))
    with pytest.raises(ValueError, match="parent phonons missing"):
        dataset_structures(settings, {"Br": _parents()["Br"]})


def test_split_is_stable_and_salts_are_independent():
    settings = CapDatasetSettings(br_fractions=(0.5,), orderings_per_x=6, temperatures=(300.0,), per_temperature=10,
                                  rattled=0, equilibrium=False, phonon_mesh=2)
    structures = dataset_structures(settings, _parents())
    training, held_out = split(structures, 20)
    assert len(training) + len(held_out) == len(structures) and 0 < len(held_out) < len(structures)
    # the same structure lands on the same side whatever else is in the set
    assert [is_test(a, 20) for a in held_out] == [True] * len(held_out)
    assert split(structures[::-1], 20)[1][::-1] == held_out
    inner = split(training, 20, salt="validation")[1]
    assert inner  # a second salt draws a different split of the same structures
    with pytest.raises(ValueError, match="test_percent 0"):
        is_test(structures[0], 0)


def _labelled(atoms, energy, forces, stress):
    labelled = atoms.copy()
    labelled.calc = SinglePointCalculator(labelled, energy=energy, forces=forces, stress=stress)
    return labelled


def test_label_errors_are_zero_for_identical_labels_and_see_an_offset():
    from softlattice.models.finetune import label_errors
    rng = np.random.default_rng(0)
    atoms = decorate(1.0, (0, 1, 2, 3, 4, 5, 6, 7))
    reference = [_labelled(atoms, rng.normal(), rng.normal(size=(40, 3)), rng.normal(size=6)) for _ in range(5)]
    errors = label_errors(reference, reference)
    assert errors["energy_mae"] == errors["forces_mae"] == errors["stress_mae"] == 0.0
    shifted = [_labelled(atoms, a.get_potential_energy() + 40 * 0.01, a.get_forces(), a.get_stress()) for a in reference]
    assert label_errors(reference, shifted)["energy_mae"] == pytest.approx(10.0)  # 10 meV/atom
    with pytest.raises(ValueError, match="same non-zero number"):
        label_errors(reference, reference[:2])


def test_atom_reference_shift_removes_a_per_species_offset():
    from chgnet.model import CHGNet

    from softlattice.models.finetune import _pymatgen, shift_atom_reference
    model = CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False)
    structures = [decorate(x, inequivalent_orderings(x)[0]) for x in (0.0, 0.5, 1.0)]
    offsets = {"Ag": -0.3, "S": -0.3, "Br": 0.8, "I": -1.1}  # eV per atom of each species
    predicted = [len(a) * float(model.predict_structure(_pymatgen(a), task="e")["e"]) for a in structures]
    labelled = [_labelled(a, e + sum(offsets[s] for s in a.get_chemical_symbols()), np.zeros((40, 3)), np.zeros(6))
                for a, e in zip(structures, predicted)]
    shift_atom_reference(model, labelled)
    after = [len(a) * float(model.predict_structure(_pymatgen(a), task="e")["e"]) for a in structures]
    np.testing.assert_allclose(after, [a.get_potential_energy() for a in labelled], atol=1e-3)


def test_finetune_settings_refuse_bad_values():
    from softlattice.models.finetune import FineTuneSettings
    with pytest.raises(ValueError, match="need epochs >= 1"):
        FineTuneSettings(epochs=0)
    with pytest.raises(ValueError, match="validation_percent 100"):
        FineTuneSettings(validation_percent=100)


def test_gaps_at_two_levels_and_their_cache(tmp_path):
    pytest.importorskip("gpaw", reason="GPAW is not installed: run `make gpaw`")
    from softlattice.electronic.gaps import GapCache, band_gap, compute_gaps
    atoms = decorate(1.0, (0, 1, 2, 3, 4, 5, 6, 7))
    quick = dict(basis="sz(dzp)", h=0.35)
    gaps, failures = compute_gaps([atoms], "pbe", tmp_path, **quick)
    assert not failures and 0.1 < gaps[0] < 3.0  # a semiconductor at the PBE level
    assert GapCache("pbe", tmp_path, **quick).get(atoms) is not None
    assert GapCache("pbe", tmp_path).get(atoms) is None  # other settings, another cache entry
    again, _ = compute_gaps([atoms], "pbe", tmp_path, **quick)
    assert again[0] == gaps[0]
    corrected = band_gap(atoms, "gllbsc", **quick)
    # GLLB-SC's Kohn-Sham gap is already wider than PBE's, and the discontinuity opens it further
    assert corrected.discontinuity > 0 and corrected.gap > corrected.kohn_sham_gap > gaps[0]
    with pytest.raises(ValueError, match="unknown gap level 'hse'"):
        band_gap(atoms, "hse")


def test_gnn_held_out_counts_are_exact():
    from softlattice.antiperovskite.workflows.models import gnn_held_out
    assert gnn_held_out(6, 25) == [False] * 4 + [True] * 2
    assert gnn_held_out(2, 25) == [False, True]
    assert gnn_held_out(1, 25) == [False]
    assert sum(gnn_held_out(160, 10)) == 16


def test_constant_gap_baseline_is_the_mean_absolute_deviation_from_the_training_mean():
    import pandas as pd

    from softlattice.antiperovskite.workflows.models import constant_gap_baseline
    table = pd.DataFrame(dict(stage=["cheap"] * 4 + ["accurate"] * 3,
                              held_out=[False, False, True, True, False, False, True],
                              gap_eV=[1.0, 3.0, 2.5, 0.5, 2.0, 4.0, 3.5],
                              after_cheap=[0.0] * 2 + [2.5, 1.5] + [0.0] * 3,
                              after_accurate=[0.0] * 6 + [3.0]))
    baseline = constant_gap_baseline(table).set_index("stage")
    assert baseline.loc["cheap", "training_mean_eV"] == 2.0
    assert baseline.loc["cheap", "constant_mae_eV"] == 1.0  # |2.5 - 2| and |0.5 - 2|
    assert baseline.loc["cheap", "gnn_mae_eV"] == 0.5
    assert baseline.loc["accurate", "constant_mae_eV"] == 0.5
    assert baseline.loc["accurate", "gnn_mae_eV"] == 0.5
    # 0.5 < 0.8 * 1.0 wins; a tie (0.5 against 0.5) does not
    assert baseline.loc["cheap", "beats_constant"] and not baseline.loc["accurate", "beats_constant"]


def test_phonon_errors_against_the_reference_model():
    import pandas as pd

    from softlattice.antiperovskite.workflows.models import phonon_errors
    table = pd.DataFrame(dict(structure="A", distance=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0], band=[0, 1] * 3, segment=0,
                              model=["reference (r)"] * 2 + ["pretrained"] * 2 + ["fine-tuned"] * 2,
                              frequency_THz=[-1.0, 2.0, -0.5, 2.5, -1.0, 2.0]))
    errors = phonon_errors(table).set_index("model")
    assert errors.loc["pretrained", "mae_THz"] == 0.5 and errors.loc["fine-tuned", "mae_THz"] == 0.0
    assert errors.loc["pretrained", "lowest_model_THz"] == -0.5 and errors.loc["pretrained", "lowest_reference_THz"] == -1.0


def test_committed_gaps_are_keyed_by_level_basis_and_structure(tmp_path):
    import pandas as pd
    from ase.build import bulk

    from softlattice.antiperovskite.workflows.models import committed_gaps
    from softlattice.infra.keys import structure_hash
    structures = [bulk("Cu", cubic=True), bulk("Ag", cubic=True)]
    pd.DataFrame(dict(index=[1, 0, 0], stage=["cheap", "accurate", "cheap"], level=["pbe", "gllbsc", "pbe"],
                      basis=["sz(dzp)", "dzp", "sz(dzp)"], gap_eV=[1.5, 2.0, float("nan")])) \
        .to_csv(tmp_path / "gaps.csv.gz", index=False)
    known = committed_gaps(tmp_path, structures)
    assert known == {("cheap", "pbe", "sz(dzp)", structure_hash(structures[1])): 1.5,
                     ("accurate", "gllbsc", "dzp", structure_hash(structures[0])): 2.0}  # failed gaps are not known


def test_gap_labels_computed_on_one_machine_are_restored_on_the_next(tmp_path, monkeypatch):
    import json

    from ase.build import bulk

    import softlattice.antiperovskite.workflows.models as workflow
    from softlattice.antiperovskite.pinned_cells import save_cells
    from softlattice.infra.keys import structure_hash
    from softlattice.infra.profiles import resolve
    pinned = bulk("Ag", cubic=True)
    save_cells([pinned], tmp_path / "pinned" / "cells.npz")
    monkeypatch.setattr(workflow, "PINNED_CELLS", tmp_path / "pinned")
    monkeypatch.setattr(workflow, "LABELS_CARRIED", tmp_path / "labels")
    monkeypatch.setattr(workflow, "GAPS_STORE", tmp_path / "machine1")
    cheap, accurate = workflow.gap_caches(resolve("06_cap_models", "quick")["gaps"], ("cheap", "accurate"))
    record = dict(gap=1.5, kohn_sham_gap=1.5, discontinuity=0.0, scf_iterations=12, attempts=1, seconds=20.0,
                  level="pbe")
    (cheap.folder / f"{structure_hash(pinned)}.json").write_text(json.dumps(record))
    (cheap.folder / "0123456789abcdef.json").write_text(json.dumps(record))  # a test cell's gap: not carried
    assert workflow.main(["--profile", "quick", "--carry-labels"]) == 0
    monkeypatch.setattr(workflow, "GAPS_STORE", tmp_path / "machine2")
    workflow.main(["--profile", "quick", "--carry-labels"])  # any run restores the carried labels first
    restored = workflow.gap_caches(resolve("06_cap_models", "quick")["gaps"], ("cheap",))[0]
    assert restored.folder.parent == tmp_path / "machine2"
    assert json.loads((restored.folder / f"{structure_hash(pinned)}.json").read_text()) == record
    assert not (restored.folder / "0123456789abcdef.json").exists()
    assert not any(accurate.folder.iterdir())
