"""FA rotation paths, NEB end states, phase energies' input checks, stability-check bookkeeping."""

import numpy as np
import pandas as pd
import pytest
from ase.calculators.lj import LennardJones

from softlattice.perovskite.structures import build_mixed_perovskite
from softlattice.perovskite.workflows.checks import (
    ROTATION_AXES,
    CheckSettings,
    fa_axes,
    fa_rotation_neb,
    relaxed_phase_energies,
    rotation_images,
)


@pytest.fixture(scope="module")
def fapbi3():
    return build_mixed_perovskite(1.0, 2, seed=0)


def _molecule(atoms, site):
    indices = np.flatnonzero(atoms.arrays["a_site"] == site)
    carbon = indices[np.array(atoms.get_chemical_symbols())[indices] == "C"][0]
    return np.array(atoms.get_chemical_symbols())[indices], \
        atoms.get_distances(carbon, indices, mic=True, vector=True) + atoms.positions[carbon]


def test_axes_are_orthonormal(fapbi3):
    _, axes, _ = fa_axes(fapbi3, 0)
    matrix = np.array([axes[name] for name in ROTATION_AXES])
    np.testing.assert_allclose(matrix @ matrix.T, np.eye(3), atol=1e-12)


def test_rotation_is_rigid_and_c2_maps_the_molecule_onto_itself(fapbi3):
    path = rotation_images(fapbi3, 0, "C-H", images=3)
    symbols, start = _molecule(path[0], 0)
    start_distances = np.linalg.norm(start[:, None] - start[None], axis=-1)
    for image in path:
        _, positions = _molecule(image, 0)
        np.testing.assert_allclose(np.linalg.norm(positions[:, None] - positions[None], axis=-1),
                                   start_distances, atol=1e-9)
        others = image.arrays["a_site"] != 0
        np.testing.assert_allclose(image.positions[others], fapbi3.positions[others])
    _, end = _molecule(path[-1], 0)
    # the two-fold axis: every atom of the end state sits on an atom of the same species at the start
    for symbol, position in zip(symbols, end):
        same = start[symbols == symbol]
        assert np.linalg.norm(same - position, axis=1).min() < 1e-6
    _, quarter = _molecule(path[2], 0)
    assert np.abs(quarter - start).max() > 0.5  # halfway it is really turned


def test_symmetric_path_has_equal_end_energies(fapbi3):
    calculator = LennardJones(sigma=2.5, epsilon=0.01, rc=6.0, smooth=True)
    profile = fa_rotation_neb(fapbi3, calculator, "C-H", images=3, fmax=0.2, steps=5)
    assert len(profile) == 5 and profile.energy_meV.iloc[0] == 0.0
    assert profile.energy_meV.iloc[-1] == pytest.approx(0.0, abs=1e-6)


def test_bad_inputs(fapbi3):
    with pytest.raises(ValueError, match="unknown rotation axis 'z'"):
        rotation_images(fapbi3, 0, "z", images=3)
    mapbi3 = build_mixed_perovskite(0.0, 2, seed=0)
    with pytest.raises(ValueError, match="not formamidinium"):
        fa_axes(mapbi3, 0)
    with pytest.raises(ValueError, match="no FA cation"):
        fa_rotation_neb(mapbi3, LennardJones(), "C-H")
    with pytest.raises(ValueError, match="must include the reference phase 'a0a0a0'"):
        relaxed_phase_energies(LennardJones, [0.0], ["a0a0c+"])
    with pytest.raises(ValueError, match="unknown rotation axes"):
        CheckSettings(neb_axes=("x",))


def test_bond_and_site_bookkeeping_of_the_stability_check():
    from softlattice.perovskite.sites import site_shifts
    from softlattice.perovskite.workflows.checks import _bonded_pairs
    atoms = build_mixed_perovskite(0.5, 2, seed=1)
    assert len(_bonded_pairs(atoms)) == 7 * 8  # MA and FA both have seven bonds
    moved = atoms.copy()
    moved.positions += [1.5, -0.7, 3.0]  # the whole crystal drifts: no ion leaves its site
    site = moved.arrays["a_site"] == 3
    moved.positions[site] += [0.0, 0.0, 2.0 + moved.cell[2, 2]]  # a whole cell further: 2 Å shift
    iodine = np.flatnonzero(np.array(atoms.get_chemical_symbols()) == "I")[5]
    moved.positions[iodine] += [3.5, 0.0, 0.0]
    moved.wrap()
    cations, iodines = site_shifts(moved, atoms)
    cation_shifts, iodine_shifts = np.linalg.norm(cations, axis=1), np.linalg.norm(iodines, axis=1)
    assert cation_shifts[3] == pytest.approx(2.0) and np.delete(cation_shifts, 3).max() < 1e-9
    assert iodine_shifts[5] == pytest.approx(3.5) and np.delete(iodine_shifts, 5).max() < 1e-9


def test_a_strained_cell_is_no_site_shift_but_a_hop_in_it_is():
    from softlattice.perovskite.sites import largest_site_shifts, site_shifts
    atoms = build_mixed_perovskite(0.0, 2, seed=1)
    strained = atoms.copy()
    strained.set_cell(atoms.cell * 1.03, scale_atoms=True)  # 3 %: ions far from the lead centre move by 0.2 Å
    assert np.linalg.norm(site_shifts(strained, atoms)[1], axis=1).max() > 0.15
    assert largest_site_shifts(strained, atoms) == pytest.approx((0.0, 0.0), abs=1e-9)
    iodine = np.flatnonzero(np.array(atoms.get_chemical_symbols()) == "I")[2]
    strained.positions[iodine] += [0.0, 3.3, 0.0]
    assert largest_site_shifts(strained, atoms)[1] == pytest.approx(3.3, abs=1e-6)


def test_the_first_site_loss_of_each_ramp_is_where_a_shift_first_reaches_the_limit():
    from softlattice.perovskite.sites import SITE_SHIFT_LIMIT_A, first_site_loss
    sites = pd.DataFrame(dict(fa_fraction=[1.0] * 4 + [0.0] * 2, kind=["heating"] * 6, replica=0,
                              target_K=[500.0, 525.0, 550.0, 575.0, 500.0, 525.0],
                              cation_shift_A=[1.0, SITE_SHIFT_LIMIT_A, 1.2, 4.0, 1.0, 1.1],
                              iodine_shift_A=[1.0, 1.0, 1.0, 1.0, 1.5, 1.6]))
    table = first_site_loss(sites).set_index("fa_fraction")
    assert table.first_loss_K[1.0] == 525.0 and table.largest_cation_shift_A[1.0] == 4.0
    assert np.isnan(table.first_loss_K[0.0]) and table.largest_iodine_shift_A[0.0] == 1.6


def test_tilt_test_settings_need_a_noise_run_and_temperatures():
    with pytest.raises(ValueError, match=r"FA fractions \[0.25\] have no stability run"):
        CheckSettings(tilt_cases=((0.25, "a0a0c+"),), tilt_temperatures=(250.0,))
    with pytest.raises(ValueError, match="no tilt_temperatures"):
        CheckSettings(tilt_cases=((0.0, "a0a0c+"),))
    with pytest.raises(ValueError, match="must all be > 0"):
        CheckSettings(tilt_cases=((0.0, "a0a0c+"),), tilt_temperatures=(0.0,))


def test_tilt_test_reads_the_phase_a_cold_cell_keeps(tmp_path):
    """A cell started in a0a0c+ and held at 30 K keeps its tilt; a kill-free rerun from the
    checkpoint gives the same row. The noise comes from a short untilted run of the same cell."""
    from pathlib import Path

    from softlattice.perovskite.workflows.checks import stability_check, tilt_persistence
    model = str(Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-chgnet-r2scan" / "nep.txt")
    noise = stability_check(model, 0.0, temperature=300.0, duration_ps=1.2, nve_ps=0.1, repeat=2).observations
    noise = noise[noise.stage == "npt"]
    row, observations = tilt_persistence(model, 0.0, "a0a0c+", 30.0, noise, duration_ps=0.8, repeat=2,
                                         window_ps=0.1, checkpoint_dir=tmp_path / "md")
    assert row["survived"] and row["end_phase"] == "a0a0c+" and row["end_share"] == 1.0
    assert row["abs_Q_M_z"] > 5 * max(row["abs_Q_R_z"], row["abs_Q_M_x"], row["abs_Q_M_y"])
    assert 5.9 < row["pseudo_cubic_A"] < 6.7 and len(observations) == 40
    again, _ = tilt_persistence(model, 0.0, "a0a0c+", 30.0, noise, duration_ps=0.8, repeat=2, window_ps=0.1,
                                checkpoint_dir=tmp_path / "md")
    assert again == row


def test_interrupted_phase_relaxations_resume_without_redoing_finished_ones(tmp_path):
    made = []

    def lennard_jones():
        made.append(1)
        return LennardJones(sigma=2.5, epsilon=0.01, rc=6.0)

    def dies_on_the_second():
        if made:
            raise KeyboardInterrupt  # the run is killed as the second relaxation starts
        return lennard_jones()

    with pytest.raises(KeyboardInterrupt):
        relaxed_phase_energies(dies_on_the_second, [0.0], ["a0a0a0", "a0a0c+"], steps=2, cache_dir=tmp_path)
    made.clear()
    table = relaxed_phase_energies(lennard_jones, [0.0], ["a0a0a0", "a0a0c+"], steps=2, cache_dir=tmp_path)
    assert len(made) == 1 and len(table) == 2  # only the unfinished relaxation ran again
    again = relaxed_phase_energies(lennard_jones, [0.0], ["a0a0a0", "a0a0c+"], steps=2, cache_dir=tmp_path)
    assert len(made) == 1 and again.equals(table)


def test_phase_relaxations_are_cached_when_the_calculator_returns_single_precision(tmp_path):
    class SinglePrecisionLennardJones(LennardJones):  # NEP through calorine reports float32 energies
        def calculate(self, *args, **kwargs):
            super().calculate(*args, **kwargs)
            self.results["energy"] = np.float32(self.results["energy"])

    def factory():
        return SinglePrecisionLennardJones(sigma=2.5, epsilon=0.01, rc=6.0)

    table = relaxed_phase_energies(factory, [0.0], ["a0a0a0"], steps=1, cache_dir=tmp_path)
    again = relaxed_phase_energies(factory, [0.0], ["a0a0a0"], steps=1, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 1 and again.equals(table)


def test_checks_default_to_the_reference_the_model_was_trained_on(tmp_path):
    from pathlib import Path

    from softlattice.perovskite.workflows.checks import model_reference
    committed = Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-chgnet-r2scan" / "nep.txt"
    assert model_reference(str(committed)) == "chgnet-r2scan"
    (tmp_path / "nep.txt").write_text("")
    with pytest.raises(SystemExit, match="pass --reference"):
        model_reference(str(tmp_path / "nep.txt"))
    with pytest.raises(SystemExit, match="--reference is needed"):
        model_reference(None)


def test_a_stored_model_is_measured_against_the_targets_with_its_own_checks(tmp_path):
    from pathlib import Path

    import pandas as pd

    from softlattice.perovskite.workflows.checks import model_criteria
    folder = Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-chgnet-r2scan"
    table = model_criteria(folder, 2.0).set_index("criterion")
    rmse = 1000 * pd.read_csv(folder / "history.csv").iloc[-1].rmse_forces_test
    assert table.loc["force RMSE against the teacher (test set)", "measured"] == f"{rmse:.0f} meV/Å"
    assert table.loc["iodine transverse slope against GPAW", "met"] is False
    with pytest.raises(ValueError, match="no provenance"):
        model_criteria(folder, 2.0, checks_folder=tmp_path)


def test_a_model_measured_at_its_own_geometries_agrees_with_itself_exactly():
    from pathlib import Path

    from softlattice.md.calculators import nep_calculator
    from softlattice.perovskite.workflows.checks import energies_at_reference_geometries
    model = Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-chgnet-r2scan" / "nep.txt"
    cells = []
    for glazer in ("a0a0a0", "a0a0c-", "a0a0c+"):
        atoms = build_mixed_perovskite(0.5, 2, glazer=glazer, tilt_angle=8.0, seed=0)
        atoms.calc = nep_calculator(model)
        atoms.info.update(fa_fraction=0.5, glazer=glazer, arrangement=0, converged=glazer != "a0a0c+",
                          energy_eV=float(atoms.get_potential_energy()))
        cells.append(atoms)
    table = energies_at_reference_geometries(model, cells)
    assert list(table.glazer) == ["a0a0c-", "a0a0c+"]
    assert np.allclose(table.difference_meV_per_fu, 0.0, atol=1e-6)
    assert list(table.converged) == [True, False]
    with pytest.raises(ValueError, match="more than one a0a0a0"):
        energies_at_reference_geometries(model, cells + cells[:1])


def test_phase_order_only_measures_the_nep_at_its_teachers_committed_cells(tmp_path):
    import json
    from pathlib import Path

    from softlattice.perovskite.workflows.checks import TEACHER_RELAXED, main, reference_relaxed
    model = Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-v2" / "nep.txt"
    teacher = json.loads((model.parent / "provenance.json").read_text())["parameters"]["reference"]
    assert main(["--model", str(model), "--profile", "v2", "--save", str(tmp_path), "--phase-order-only"]) == 0
    table = pd.read_csv(tmp_path / "phase_order.csv")
    relaxed = reference_relaxed(teacher)
    untilted = {(a.info["fa_fraction"], a.info["arrangement"]) for a in relaxed if a.info["glazer"] == "a0a0a0"}
    assert len(table) == sum(a.info["glazer"] != "a0a0a0" and (a.info["fa_fraction"], a.info["arrangement"]) in untilted
                             for a in relaxed)  # every tilted cell with an untilted one to compare with
    assert "a0a0a0" not in set(table.glazer)
    record = json.loads((tmp_path / "provenance.json").read_text())
    assert record["teacher_relaxed_sha256_16"] and list(record["inputs"]) == ["model_sha256_16"]
    assert record["parameters"] == {"reference": teacher, "phase_order_only": True}
    assert not (tmp_path / "stability.csv").exists()  # nothing else ran
    assert reference_relaxed("no-such-teacher") == [] and reference_relaxed(teacher, tmp_path / "none.gz") == []
    with pytest.raises(SystemExit):
        main(["--model", str(model), "--reference", "chgnet-r2scan+d3x", "--save", str(tmp_path / "b"),
              "--phase-order-only"])
    assert TEACHER_RELAXED.is_file()


def test_stability_runs_in_two_processes_write_what_one_process_writes(tmp_path):
    from pathlib import Path

    from softlattice.perovskite.workflows.checks import _run_each, _stability_part, check_settings
    model = str(Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-v2" / "nep.txt")
    settings = check_settings(dict(stability_fa_fractions=[0.0, 1.0], stability_ps=0.1, stability_nve_ps=0.05,
                                   stability_repeat=2))
    for workers in (1, 2):
        parts = tmp_path / f"workers_{workers}"
        parts.mkdir()
        _run_each(_stability_part, [(model, x, settings, parts) for x in (0.0, 1.0)], workers)
    for name in ("stability_0.csv", "stability_1.csv", "stability_0_observations.csv.gz",
                 "stability_1_observations.csv.gz"):
        one, two = (pd.read_csv(tmp_path / f"workers_{w}" / name) for w in (1, 2))
        pd.testing.assert_frame_equal(one, two)
    assert pd.read_csv(tmp_path / "workers_2" / "stability_1.csv").fa_fraction.iloc[0] == 1.0


def test_check_settings_by_profile_name():
    from softlattice.perovskite.workflows.checks import NEP_V2_CHECKS, check_settings
    assert check_settings("v2") == check_settings(NEP_V2_CHECKS) and check_settings("v1") == CheckSettings()
    with pytest.raises(ValueError, match="unknown check profile 'v9'; allowed: v1, v2"):
        check_settings("v9")


def test_a_blown_up_stability_run_leaves_its_tilt_tests_not_run_and_said_so(tmp_path):
    from softlattice.perovskite.student_criteria import student_criteria
    from softlattice.perovskite.workflows.checks import check_settings, run_checks
    for name in ("neb.csv", "phases.csv", "masses.csv"):
        pd.DataFrame({"method": ["NEP"]}).to_csv(tmp_path / name, index=False)
    pd.DataFrame([dict(fa_fraction=0.0, survived=False, reached_ps=6.8, longest_bond_ratio=3.9,
                       largest_cation_shift_A=6.0, nve_drift_meV_per_atom_per_ps=np.nan,
                       message="atoms closer than 0.6 Å", method="NEP")]).to_csv(tmp_path / "stability.csv", index=False)
    pd.DataFrame({"fa_fraction": []}).to_csv(tmp_path / "stability_observations.csv.gz", index=False)
    settings = check_settings(dict(stability_fa_fractions=[0.0], tilt_cases=[[0.0, "a0a0c+"]],
                                   tilt_temperatures=[250.0, 300.0]))
    tables = run_checks("no-model-needed.txt", "no-such-reference", settings, str(tmp_path))
    tilts = tables["tilts"]
    assert list(tilts.end_phase) == ["not run", "not run"] and tilts.message.str.contains("400 K run at x = 0").all()
    generations = pd.DataFrame([dict(median_force_spread=0.2, stopped=True, stop_reason="spread saturated")])
    criteria = student_criteria(generations, 0.14, pd.DataFrame(columns=["fa_fraction", "glazer", "converged",
                                                                         "difference_meV_per_fu"]),
                                tables["stability"], 50.0, 1.0, tilts)
    assert criteria.measured.str.startswith("not run: no noise reference").sum() == 2


def test_phase_order_only_keeps_a_full_check_sets_record(tmp_path):
    import json
    from pathlib import Path

    from softlattice.infra.provenance import write_provenance
    from softlattice.perovskite.workflows.checks import main
    model = Path(__file__).resolve().parents[1] / "data" / "models" / "mafa-v2" / "nep.txt"
    write_provenance(tmp_path, dict(stability_ps=50.0, reference="r"), {"model_sha256_16": "m"}, command="full checks",
                     teacher_relaxed_sha256_16="old")
    assert main(["--model", str(model), "--save", str(tmp_path), "--phase-order-only"]) == 0
    record = json.loads((tmp_path / "provenance.json").read_text())
    assert record["command"] == "full checks" and record["parameters"] == dict(stability_ps=50.0, reference="r")
    assert record["teacher_relaxed_sha256_16"] != "old" and (tmp_path / "phase_order.csv").exists()
