"""Reference labels (cache), training-set writer, tiny NEP training, ensemble spread."""

import numpy as np
import pytest
from ase.calculators.lj import LennardJones

from softlattice.infra.keys import structure_hash
from softlattice.models.nep import (
    NEPHyperparameters,
    check_training_set,
    continue_nep,
    ensemble_spread,
    train_ensemble,
    train_nep,
    write_training_set,
)
from softlattice.models.reference import LabelCache, label_structures, reference_calculator
from softlattice.models.splits import split_structures
from softlattice.perovskite.structures import build_perovskite
from softlattice.perovskite.training_sets import MA_FA_SPECIES, generate_structures

TINY = NEPHyperparameters(radial_cutoff=5.0, angular_cutoff=4.0, n_max_radial=2, n_max_angular=2,
                          l_max_3b=2, l_max_4b=0, l_max_5b=0, neurons=6, batch_size=4)


class CountingLJ(LennardJones):
    """Lennard-Jones that counts its evaluations (a cheap stand-in reference for the tests)."""

    calls = 0

    def calculate(self, *args, **kwargs):
        CountingLJ.calls += 1
        super().calculate(*args, **kwargs)


def lj():
    return CountingLJ(sigma=2.9, epsilon=0.05, rc=6.0, smooth=True)


CSPBI3 = ("Cs", "Pb", "I")


def rattled_cspbi3(count, rattle, strain, seed):
    """CsPbI3 cells (no hydrogen: Lennard-Jones labels stay physical) with strain and noise."""
    rng = np.random.default_rng(seed)
    structures = []
    for _ in range(count):
        atoms = build_perovskite("Cs", (2, 2, 1), glazer="a0a0c+", tilt_angle=8.0)
        atoms.set_cell(atoms.cell * (1 + strain), scale_atoms=True)
        atoms.positions += rng.normal(0, rattle, atoms.positions.shape)
        structures.append(atoms)
    return structures


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    structures = rattled_cspbi3(12, 0.05, -0.01, seed=1) + rattled_cspbi3(12, 0.05, 0.01, seed=2)
    return label_structures(structures, lj(), name="lj-test", cache_dir=tmp_path_factory.mktemp("labels"))


def test_generated_structures_cover_phases_and_compositions():
    structures = generate_structures([0.0, 0.5], ["a0a0a0", "a-a-c+"], strains=(-0.02, 0.02),
                                     rattle=0.1, per_combination=2, seed=3)
    assert len(structures) == 2 * 2 * 2 * 2
    assert {a.info["glazer"] for a in structures} == {"a0a0a0", "a-a-c+"}
    assert {a.info["fa_fraction"] for a in structures} == {0.0, 0.5}
    for atoms in structures:
        assert len(atoms) == 96
        distances = atoms.get_all_distances(mic=True)
        np.fill_diagonal(distances, np.inf)
        assert distances.min() >= 0.8
    with pytest.raises(ValueError, match="strain 0.3 is outside"):
        generate_structures([0.0], ["a0a0a0"], strains=(0.3,))
    with pytest.raises(ValueError, match="molecule rattle fraction 2"):
        generate_structures([0.0], ["a0a0a0"], molecule_rattle_fraction=2)


def test_molecules_rattle_less_than_the_framework():
    ideal = generate_structures([0.5], ["a0a0a0"], strains=(0.0,), rattle=0.0, per_combination=4, seed=5)
    noisy = generate_structures([0.5], ["a0a0a0"], strains=(0.0,), rattle=0.1, per_combination=4, seed=5,
                                molecule_rattle_fraction=0.25)
    shifts = {"molecule": [], "framework": []}
    for a, b in zip(ideal, noisy):
        # same seed: same cell and arrangement; the random strain is the same too, so compare
        # positions in fractional coordinates of each cell
        delta = (b.get_scaled_positions(wrap=False) - a.get_scaled_positions(wrap=False)) @ b.cell.array
        molecular = np.isin(b.numbers, (1, 6, 7))
        shifts["molecule"] += list(np.linalg.norm(delta[molecular], axis=1))
        shifts["framework"] += list(np.linalg.norm(delta[~molecular], axis=1))
    ratio = np.sqrt(np.mean(np.square(shifts["molecule"])) / np.mean(np.square(shifts["framework"])))
    assert ratio == pytest.approx(0.25, rel=0.15)


def test_label_cache_hits_and_misses(tmp_path):
    structures = [build_perovskite("Cs", 1, lattice_constant=6.3 + 0.01 * k) for k in range(3)]
    CountingLJ.calls = 0
    first = label_structures(structures, lj(), name="lj", cache_dir=tmp_path)
    assert CountingLJ.calls == 3
    again = label_structures(structures + [build_perovskite("Cs", 1, lattice_constant=6.5)], lj(),
                             name="lj", cache_dir=tmp_path)
    assert CountingLJ.calls == 4  # three hits, one miss
    np.testing.assert_allclose(again[0].get_forces(), first[0].get_forces())
    assert LabelCache("lj", tmp_path).get(structures[1]) is not None
    assert LabelCache("other", tmp_path).get(structures[1]) is None  # keyed by reference name
    moved = structures[0].copy()
    moved.positions[0, 0] += 0.01
    assert structure_hash(moved) != structure_hash(structures[0])
    tagged = structures[2].copy()
    tagged.info["origin"] = "systematic"
    assert label_structures([tagged], lj(), name="lj", cache_dir=tmp_path)[0].info["origin"] == "systematic"
    assert CountingLJ.calls == 4  # a hit written by an untagged caller still carries this caller's tags


@pytest.mark.parametrize("call, message", [
    (lambda d: label_structures([build_perovskite("Cs", 1)], "vasp-scan", cache_dir=d), "unknown reference 'vasp-scan'"),
    (lambda d: label_structures([build_perovskite("Cs", 1)], lj(), cache_dir=d), "needs a name"),
    (lambda d: reference_calculator("chgnet-r2scan+d4"), "unknown reference 'chgnet-r2scan\\+d4'"),
])
def test_bad_reference_input(tmp_path, call, message):
    with pytest.raises(ValueError, match=message):
        call(tmp_path)


def test_overlapping_atoms_are_refused_before_any_work(tmp_path):
    good = build_perovskite("Cs", 1)
    bad = good.copy()
    bad.positions[1] = bad.positions[0] + [0.2, 0, 0]
    CountingLJ.calls = 0
    with pytest.raises(ValueError, match="structure 1 has overlapping atoms"):
        label_structures([good, bad], lj(), name="lj", cache_dir=tmp_path)
    assert CountingLJ.calls == 0


def test_zbl_factor_is_checked():
    with pytest.raises(ValueError, match="ZBL typewise factor 3"):
        NEPHyperparameters(zbl_typewise_factor=3)


def test_training_set_checks(labelled):
    check_training_set(labelled, CSPBI3)
    with pytest.raises(ValueError, match="structure 0 has no energy, forces, stress"):
        check_training_set([build_perovskite("MA", 1)], MA_FA_SPECIES)
    with pytest.raises(ValueError, match=r"contains \['Cs'\]"):
        check_training_set([build_perovskite("Cs", 1)], MA_FA_SPECIES)
    with pytest.raises(ValueError, match="empty"):
        check_training_set([], MA_FA_SPECIES)


def test_writer_round_trip(labelled, tmp_path):
    """calorine writes GPUMD's train.xyz (extxyz with energy, forces and stress); reading it back
    gives the labels unchanged."""
    from ase.io import read
    path = write_training_set(labelled[:4], tmp_path / "train.xyz")
    back = read(path, index=":")
    assert len(back) == 4
    for original, copy in zip(labelled[:4], back):
        np.testing.assert_allclose(copy.positions, original.positions, atol=1e-6)
        assert copy.get_potential_energy() == pytest.approx(original.get_potential_energy(), rel=1e-7)
        np.testing.assert_allclose(copy.get_forces(), original.get_forces(), atol=1e-6)
        np.testing.assert_allclose(copy.get_stress(), original.get_stress(), atol=1e-8)


def squeezed(atoms, distance):
    """A copy with the first iodine moved to ``distance`` Å from its nearest Pb (inside the ZBL core)."""
    atoms = atoms.copy()
    iodine = atoms.get_chemical_symbols().index("I")
    lead = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Pb"]
    vectors = atoms.get_distances(iodine, lead, mic=True, vector=True)
    nearest = vectors[np.argmin(np.linalg.norm(vectors, axis=1))]
    atoms.positions[iodine] += nearest * (1 - distance / np.linalg.norm(nearest))
    return atoms


@pytest.mark.parametrize("zbl", [None, 0.7])
def test_tiny_training_reproduces_neppo_predictions_in_cpunep(labelled, tmp_path, zbl):
    from dataclasses import replace

    from ase import Atoms
    from calorine.calculators import CPUNEP
    from neppo import predict, read_model
    train, test = split_structures(labelled, 0.25, seed=0)
    hyper = replace(TINY, zbl_typewise_factor=zbl)
    result = train_nep(train, test, tmp_path / "model", steps=40, hyper=hyper, species=CSPBI3,
                       report_interval=20)
    assert result.model_path.exists() and len(result.history) == 2
    assert result.history.rmse_forces_train.iloc[-1] < result.history.rmse_forces_train.iloc[0]
    assert ("zbl" in result.model_path.read_text().split()[0]) == (zbl is not None)
    probes = test + [squeezed(test[0], 1.6)]  # the last one puts a Pb-I pair inside the ZBL core
    predicted = predict(read_model(result.model_path, dtype=__import__("torch").float64), probes)
    for structure, prediction in zip(probes, predicted):
        work = Atoms(structure.numbers, positions=structure.positions, cell=structure.cell, pbc=True)
        work.calc = CPUNEP(str(result.model_path))
        assert work.get_potential_energy() / len(work) == pytest.approx(
            prediction.info["energy_predicted"], abs=1e-8)
        np.testing.assert_allclose(work.get_forces(), prediction.arrays["force_predicted"], atol=1e-7)
    again = train_nep(train, test, tmp_path / "model", steps=40, hyper=hyper, species=CSPBI3,
                      report_interval=20)
    assert again.history.equals(result.history)  # done already: loaded, not retrained


def test_a_continued_training_stopped_anywhere_ends_where_an_uninterrupted_one_does(labelled, tmp_path, monkeypatch):
    import neppo
    import torch
    train, test = split_structures(labelled, 0.25, seed=0)
    start = train_nep(train, test, tmp_path / "start", steps=20, hyper=TINY, species=CSPBI3).model_path
    settings = dict(learning_rate=(3e-3, 1e-4), batch_size=4, species=CSPBI3, report_interval=5)
    whole = continue_nep(start, train, test, tmp_path / "whole", stages=3, steps_per_stage=10, **settings)
    assert list(whole.history.step) == [5, 10, 15, 20, 25, 30] and list(whole.history.stage) == [0, 0, 1, 1, 2, 2]
    assert whole.history.rmse_forces_train.iloc[-1] < whole.history.rmse_forces_train.iloc[0]

    calls = []
    original = neppo.Trainer.train

    def killed_in_the_second_stage(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(neppo.Trainer, "train", killed_in_the_second_stage)
    with pytest.raises(KeyboardInterrupt):
        continue_nep(start, train, test, tmp_path / "resumed", stages=3, steps_per_stage=10, **settings)
    monkeypatch.setattr(neppo.Trainer, "train", original)
    shorter = continue_nep(start, train, test, tmp_path / "resumed", stages=2, steps_per_stage=10, **settings)
    assert len(shorter.history) == 4  # stage 0 was kept, stage 1 trained
    resumed = continue_nep(start, train, test, tmp_path / "resumed", stages=3, steps_per_stage=10, **settings)
    assert resumed.model_path.read_text() == whole.model_path.read_text()
    last = {run: torch.load(next((tmp_path / run).glob("continuation_*/stage_2.pt"))) for run in ("whole", "resumed")}
    for name, value in last["whole"].items():
        assert torch.equal(value, last["resumed"][name]), name
    assert resumed.history.equals(whole.history)


def test_a_continued_training_refuses_bad_settings_before_training(labelled, tmp_path):
    train, test = split_structures(labelled, 0.25, seed=0)
    start = train_nep(train, test, tmp_path / "start", steps=5, hyper=TINY, species=CSPBI3).model_path
    settings = dict(learning_rate=(3e-3, 1e-4), batch_size=4, report_interval=5)
    with pytest.raises(ValueError, match=r"not of the species \['Cs', 'I', 'Pb'\]"):
        continue_nep(start, train, test, tmp_path / "c", 1, 5, species=("Cs", "I", "Pb"), **settings)
    with pytest.raises(ValueError, match="stages 0 and steps per stage 5 must be positive"):
        continue_nep(start, train, test, tmp_path / "c", 0, 5, species=CSPBI3, **settings)
    with pytest.raises(ValueError, match=r"learning rate \(0.0001, 0.003\) must be \(initial, final\)"):
        continue_nep(start, train, test, tmp_path / "c", 1, 5, species=CSPBI3,
                     **{**settings, "learning_rate": (1e-4, 3e-3)})
    assert not (tmp_path / "c").exists()


def test_ensemble_disagrees_more_off_distribution(labelled, tmp_path):
    members = train_ensemble(labelled, tmp_path / "ensemble", steps=300, members=3, hyper=TINY,
                             species=CSPBI3)
    models = [m.model_path for m in members]
    assert all(m.history.rmse_forces_train.iloc[-1] < m.history.rmse_forces_train.iloc[0] for m in members)
    inside = ensemble_spread(models, labelled[:8])
    outside = ensemble_spread(models, rattled_cspbi3(8, 0.25, -0.06, seed=9))
    assert outside.force_std_max_eV_per_A.median() > 2 * inside.force_std_max_eV_per_A.median()
    with pytest.raises(ValueError, match="at least 1 member, got 0"):
        train_ensemble(labelled, tmp_path / "none", steps=5, members=0, hyper=TINY, species=CSPBI3)


def test_errors_by_origin_split_the_set(labelled, tmp_path):
    from softlattice.models.nep import errors_by_origin
    train, test = split_structures(labelled, 0.25, seed=0)
    model = train_nep(train, test, tmp_path / "model", steps=20, hyper=TINY, species=CSPBI3,
                      report_interval=20).model_path
    tagged = [a.copy() for a in labelled[:6]]
    for k, atoms in enumerate(tagged):
        atoms.calc = labelled[k].calc
        atoms.info["origin"] = "md" if k < 2 else "systematic"
    table = errors_by_origin(model, tagged)
    assert list(table.origin) == ["md", "systematic"] and list(table.structures) == [2, 4]
    assert (table[["energy_meV_per_atom", "forces_meV_per_A", "stress_MPa"]] > 0).all().all()


def test_nep_v2_recipe_needs_a_teacher_and_spans_what_the_issue_asks():
    from softlattice.perovskite.workflows.potential import exploration_conditions, initial_structures, recipe_parameters
    with pytest.raises(ValueError, match="no reference of its own"):
        recipe_parameters("v2")
    recipe = recipe_parameters("v2", reference="chgnet-0.3.0")
    structures = initial_structures(recipe)
    assert len(structures) >= 1000
    assert sorted({round(float(a.info["fa_fraction"]) * 8) for a in structures}) == list(range(9))
    conditions = exploration_conditions(recipe)
    assert max(c.temperature for c in conditions) >= 600 and max(len(c.structure) for c in conditions) >= 768
    assert recipe["stop_median_spread"] == 0.15


def test_label_only_fills_the_label_cache_and_trains_nothing(tmp_path, monkeypatch):
    from softlattice.perovskite.workflows import potential
    monkeypatch.setattr(potential, "RUNS_DIR", tmp_path / "runs")
    assert potential.main(["--output", str(tmp_path / "model"), "--recipe", "quick", "--label-only"]) == 0
    expected = len(potential.initial_structures(potential.recipe_parameters("quick")))
    assert len(list((tmp_path / "runs" / "labels" / "chgnet-r2scan").glob("*.extxyz"))) == expected
    assert not (tmp_path / "model").exists()


def test_the_recipe_summary_states_what_each_recipe_does():
    from softlattice.perovskite.workflows.potential import recipe_parameters, recipe_summary
    v2 = recipe_summary(recipe_parameters("v2", reference="teacher"))
    assert "1080 cells" in v2 and "150-600 K" in v2 and "96 and 768 atoms" in v2 and "less than 25 %" in v2
    assert "x = 0, 0.125, 0.25" in v2 and "one final model" in v2
    first = recipe_summary(recipe_parameters("full"))
    assert "600 cells" in first and "150-450 K" in first and "less than" not in first and "at most 3 " in first


def test_relaxed_phases_go_downhill_keep_the_path_and_strain_the_minimum():
    from softlattice.infra.paths import DATA_DIR
    from softlattice.md.calculators import nep_calculator
    from softlattice.perovskite.training_sets import relaxed_tilt_phases
    calculator = nep_calculator(DATA_DIR / "models" / "mafa-v2" / "nep.txt")
    cells = relaxed_tilt_phases(calculator, [0.5], ["a0a0c+"], [7], strains=(-0.02, 0.02), path_frames=2, steps=40)
    assert len(cells) == 2 + 1 + 2
    assert {a.info["origin"] for a in cells} == {"relaxed"} and {a.info["glazer"] for a in cells} == {"a0a0c+"}
    steps = [a.info["relax_step"] for a in cells]
    assert steps[0] < steps[1] < steps[2] == steps[3] == steps[4] == 40
    energies = []
    for atoms in cells[:3]:
        atoms.calc = calculator
        energies.append(atoms.get_potential_energy())
    start = build_perovskite_like(cells[0])
    start.calc = calculator
    assert energies[2] < energies[0] < start.get_potential_energy()  # downhill along the way
    relaxed = cells[2]
    for strained, strain in zip(cells[3:], (-0.02, 0.02)):
        assert strained.info["strain"] == strain
        assert np.isclose(strained.get_volume(), relaxed.get_volume() * (1 + strain) ** 3)
        assert np.allclose(strained.get_scaled_positions(), relaxed.get_scaled_positions())
    with pytest.raises(ValueError, match="path_frames"):
        relaxed_tilt_phases(calculator, [0.5], ["a0a0c+"], [7], path_frames=-1)
    with pytest.raises(ValueError, match="strains"):
        relaxed_tilt_phases(calculator, [0.5], ["a0a0c+"], [7], strains=(0.3,))


def build_perovskite_like(cell):
    """The ideal tilted start of :func:`relaxed_tilt_phases` for ``cell`` (seed 7, 8 degrees)."""
    from softlattice.perovskite.structures import build_mixed_perovskite
    return build_mixed_perovskite(0.5, (2, 2, 2), glazer=cell.info["glazer"], tilt_angle=8.0,
                                  molecule_orientation="random", seed=7)


def test_refinement_cells_are_written_once_and_read_back(tmp_path, monkeypatch):
    from softlattice.perovskite.workflows import potential
    recipe = potential.recipe_parameters(
        "v3", reference="teacher",
        relaxed=dict(relaxer="mafa-v2", fa_fractions=[0.0], glazers=["a0a0c-"], seeds=[3], strains=[0.01],
                     path_frames=1, fmax=0.05, steps=20))
    first = potential.refinement_structures(recipe, tmp_path)
    assert len(first) == potential.relaxed_count(recipe) == 1 * 1 * 1 * (1 + 1 + 1)
    monkeypatch.setattr(potential, "relaxed_tilt_phases", lambda *a, **k: pytest.fail("relaxed again"))
    again = potential.refinement_structures(recipe, tmp_path)
    assert all(np.array_equal(a.positions, b.positions) and np.array_equal(a.cell, b.cell)
               for a, b in zip(first, again))
    assert potential.refinement_structures(potential.recipe_parameters("v2", reference="t"), tmp_path) == []
    from softlattice.infra.keys import file_hash
    relaxer = potential.DATA_DIR / "models" / "mafa-v2" / "nep.txt"
    assert potential.recipe_inputs(recipe) == {"relaxer": file_hash(relaxer)}
    assert potential.recipe_inputs(potential.recipe_parameters("v2", reference="t")) == {}
    v3 = potential.recipe_summary(potential.recipe_parameters("v3", reference="teacher"))
    assert "3. relaxed phases" in v3 and "relaxed by `mafa-v2`" in v3 and "(360 cells)" in v3
    assert "4. one final model" in v3


def test_the_v3_rule_needs_better_order_smaller_differences_and_no_worse_forces():
    import pandas as pd

    from softlattice.perovskite.workflows.potential import student_replaces

    def order(nep_minus, nep_plus):
        return pd.DataFrame([dict(fa_fraction=1.0, arrangement=0, glazer=g, reference_meV_per_fu=r, nep_meV_per_fu=n,
                                  difference_meV_per_fu=n - r) for g, r, n in (("a0a0c-", -30, nep_minus),
                                                                               ("a0a0c+", -20, nep_plus))])
    reversed_, kept = order(-5, -25), order(-29, -21)
    verdict, reason = student_replaces(reversed_, kept, 0.130, 0.135)
    assert verdict and "order kept in 1 of 1 pairs (before: 0)" in reason and "+4 %" in reason
    assert not student_replaces(reversed_, kept, 0.130, 0.150)[0]  # forces 15 % worse
    assert not student_replaces(kept, reversed_, 0.130, 0.120)[0]  # order lost
    assert not student_replaces(kept, kept, 0.130, 0.120)[0]  # nothing gained
    # cells of a composition the new student learned do not count
    mixed = pd.concat([reversed_.assign(fa_fraction=0.5), kept])
    learned = pd.concat([reversed_.assign(fa_fraction=0.5), kept])
    verdict, reason = student_replaces(mixed, learned, 0.130, 0.130, trained_fa_fractions=[1.0])
    assert not verdict and "order kept in 0 of 1 pairs at x outside 1 (before: 0)" in reason
    with pytest.raises(ValueError, match="no teacher cells outside"):
        student_replaces(kept, kept, 0.1, 0.1, trained_fa_fractions=[1.0])


def test_perturbed_copies_keep_the_cell_strain_it_and_rattle_it_without_overlaps():
    from softlattice.perovskite.structures import build_mixed_perovskite
    from softlattice.perovskite.training_sets import perturbed_copies
    cell = build_mixed_perovskite(1.0, 2, glazer="a0a0c-", tilt_angle=8.0, seed=1)
    cell.info["glazer"] = "a0a0c-"
    copies = perturbed_copies([cell], strains=[-0.015, 0.015], rattles=[0.02, 0.05], copies=3, seed=0)
    assert len(copies) == 1 + 2 + 3 * 2
    assert np.array_equal(copies[0].positions, cell.positions) and copies[0].info["origin"] == "teacher-relaxed"
    assert np.isclose(copies[1].get_volume(), cell.get_volume() * 0.985 ** 3)
    heavy = ~np.isin(cell.numbers, (1, 6, 7))
    for rattled, amplitude in zip(copies[3:], [0.02] * 3 + [0.05] * 3):
        shift = rattled.positions - cell.positions
        assert rattled.info["rattle"] == amplitude and rattled.info["glazer"] == "a0a0c-"
        assert 0.5 * amplitude < shift[heavy].std() < 1.5 * amplitude  # Pb and I by the amplitude
        assert shift[~heavy].std() < 0.5 * amplitude  # molecules by 0.3 of it
    assert not np.array_equal(copies[3].positions, copies[4].positions)
    with pytest.raises(ValueError, match="rattles"):
        perturbed_copies([cell], [], [0.0], 1)


def test_v4_learns_the_teachers_end_member_cells_and_keeps_the_mixed_ones_out():
    from softlattice.perovskite.workflows import potential
    from softlattice.perovskite.workflows.checks import reference_relaxed
    teacher = "sevennet-pw-ft-ef-last+d3"
    recipe = potential.recipe_parameters("v4", reference=teacher)
    cells = potential.teacher_relaxed_cells(recipe)
    assert cells and {float(a.info["fa_fraction"]) for a in cells} <= {0.0, 1.0}
    assert len(cells) == sum(float(a.info["fa_fraction"]) in (0.0, 1.0) and int(a.info["arrangement"]) in (0, 1)
                             for a in reference_relaxed(teacher))
    assert "teacher_cells" in potential.recipe_inputs(recipe) and "4. the teacher's own relaxed" in \
        potential.recipe_summary(recipe) and "5. one final model" in potential.recipe_summary(recipe)
    with pytest.raises(ValueError, match="no relaxed cells of 'nobody'"):
        potential.teacher_relaxed_cells(potential.recipe_parameters("v4", reference="nobody"))


def test_choose_student_walks_the_students_and_keeps_the_one_the_rule_prefers(tmp_path):
    import pandas as pd

    from softlattice.infra.provenance import write_provenance
    from softlattice.perovskite.workflows.potential import choose_student

    def student(name, minus, plus, rmse, learned=None, stable=None):
        rows = [dict(fa_fraction=x, arrangement=0, glazer=g, reference_meV_per_fu=r, nep_meV_per_fu=n,
                     difference_meV_per_fu=n - r, converged=True)
                for x in (0.5, 1.0) for g, r, n in (("a0a0c-", -30, minus), ("a0a0c+", -20, plus))]
        (tmp_path / name / "checks").mkdir(parents=True)
        pd.DataFrame(rows).to_csv(tmp_path / name / "checks" / "phase_order.csv", index=False)
        parameters = dict(reference="t") | ({"teacher_relaxed": {"fa_fractions": learned}} if learned else {})
        write_provenance(tmp_path / name, parameters, {}, command="test", final_rmse={"rmse_forces_test": rmse})
        if stable is not None:
            write_provenance(tmp_path / name / "checks", dict(stability_ps=50.0, reference="t"), {}, command="test")
            pd.DataFrame([dict(fa_fraction=0.0, survived=stable, reached_ps=50.0 if stable else 6.8)]).to_csv(
                tmp_path / name / "checks" / "stability.csv", index=False)
        return tmp_path / name
    first = student("a", -5, -25, 0.13, stable=True)  # reversed order everywhere
    no_better = student("b", -6, -24, 0.13, stable=True)
    better = student("c", -29, -21, 0.14, learned=[1.0], stable=True)
    kept, lines = choose_student([first, no_better, better])
    assert kept == better and len(lines) == 2
    assert lines[0].endswith("a stays") and "at x outside 1" in lines[1] and lines[1].endswith("c replaces a")
    assert choose_student([first])[0] == first
    unstable = student("d", -29, -21, 0.14, learned=[1.0], stable=False)
    unchecked = student("e", -29, -21, 0.14, learned=[1.0])
    kept, lines = choose_student([first, unstable, unchecked])
    assert kept == first and "but d blew up in its stability check; a stays" in lines[0]
    assert "but e's stability check is not committed yet; a stays" in lines[1]
    kept, lines = choose_student([unstable])
    assert kept == unstable and "no student of this teacher is fit" in lines[-1]
    with pytest.raises(ValueError, match="no student"):
        choose_student([])


def test_failure_snapshots_come_from_the_explorers_own_runs_and_resume(tmp_path, monkeypatch):
    from softlattice.perovskite.workflows import potential
    recipe = potential.recipe_parameters(
        "v5", reference="sevennet-pw-ft-ef-last+d3",
        failure_runs=dict(explorer="mafa-v2", temperature=600.0, fa_fractions=[0.0, 1.0], repeat=[2, 2, 2],
                          duration_ps=0.1, snapshot_interval_ps=0.025))
    snapshots = potential.failure_snapshots(recipe, tmp_path)
    assert len(snapshots) == 2 * 5 and {a.info["origin"] for a in snapshots} == {"failure-md"}  # 0.1 ps / 0.025 ps, both ends
    assert {len(a) for a in snapshots} == {96} and {a.info["temperature"] for a in snapshots} == {600.0}
    from softlattice.models import active_learning
    monkeypatch.setattr(active_learning, "run_md", lambda *a, **k: pytest.fail("ran again"))
    again = potential.failure_snapshots(recipe, tmp_path)  # read back, nothing run again
    assert all(np.array_equal(a.positions, b.positions) for a, b in zip(snapshots, again))
    assert "5. snapshots of `mafa-v2`'s own NPT runs at 600 K" in potential.recipe_summary(recipe)
    assert potential.failure_snapshots(potential.recipe_parameters("v4", reference="t"), tmp_path) == []


def test_the_production_model_is_chapter_01s_committed_model_and_a_missing_one_is_named(tmp_path):
    from softlattice.infra import profiles
    from softlattice.infra.provenance import read_provenance
    from softlattice.perovskite.workflows.potential import production_model

    chosen = production_model()
    recipe = profiles.resolve("01_potential", "full")["recipe"]
    assert chosen.name == "nep.txt" and read_provenance(chosen.parent)["parameters"]["recipe"] == recipe
    with pytest.raises(FileNotFoundError, match=f"recipe '{recipe}'.*--recipe {recipe}"):
        production_model(tmp_path)
