"""Finite-temperature phonons of the antiperovskites: normal-mode decomposition of harmonic MD
recovers the harmonic frequencies; relax-and-rank orders structures by energy."""

import numpy as np
import pandas as pd
import pytest
from ase import units
from ase.calculators.calculator import Calculator, all_changes
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet

from softlattice.antiperovskite.structures import build_antiperovskite
from softlattice.antiperovskite.thermal import (
    harmonic_frequencies,
    mode_momenta,
    mode_projector,
    power_spectra,
    relax_and_rank,
    renormalised_phonons,
)


def spring_force_constants(supercell, cutoff=4.0, k=1.0):
    """Force constants (eV/Å^2) of central springs between all pairs within ``cutoff``: stable and
    translation invariant."""
    from ase.neighborlist import neighbor_list
    n = len(supercell)
    fc = np.zeros((n, n, 3, 3))
    for i, j, d in zip(*neighbor_list("ijD", supercell, cutoff)):
        e = d / np.linalg.norm(d)
        block = k * np.outer(e, e)
        fc[i, j] -= block
        fc[i, i] += block
    return fc


class Harmonic(Calculator):
    implemented_properties = ["energy", "forces"]

    def __init__(self, ideal, force_constants):
        super().__init__()
        self.ideal, self.matrix = ideal, force_constants.transpose(0, 2, 1, 3).reshape(3 * len(ideal), -1)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        u = (self.atoms.positions - self.ideal.positions).ravel()
        forces = -self.matrix @ u
        self.results = dict(energy=0.5 * u @ self.matrix @ u, forces=forces.reshape(-1, 3))


def test_normal_mode_decomposition_of_harmonic_md_recovers_the_harmonic_frequencies():
    primitive = build_antiperovskite("Br")
    supercell = primitive.repeat(2)
    force_constants = spring_force_constants(supercell)
    projector = mode_projector(primitive, supercell, force_constants)
    atoms = supercell.copy()
    atoms.calc = Harmonic(supercell, force_constants)
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    Stationary(atoms)  # no drift: displacements stay small
    dynamics = VelocityVerlet(atoms, 1.0 * units.fs)
    frames = []
    for _ in range(1000):
        dynamics.run(4)
        frames.append(atoms.copy())
    frequency, spectra = power_spectra(mode_momenta(projector, frames), frame_interval_fs=4.0)
    table = renormalised_phonons(projector, frequency, spectra, window_THz=1.0)
    stable = table[table.harmonic_THz > 1.0]
    assert len(stable) > 50 and stable.converged.all()
    # a harmonic crystal's spectral peaks sit at its harmonic frequencies (resolution 0.25 THz)
    np.testing.assert_allclose(stable.frequency_THz, stable.harmonic_THz, atol=0.1)
    assert harmonic_frequencies(projector).shape[0] == 8 * 15  # 8 q-points x 15 bands


def test_spectra_refuse_too_short_series():
    with pytest.raises(ValueError, match="too few for a spectrum"):
        power_spectra(np.zeros((8, 1, 3)), 1.0)
    with pytest.raises(ValueError, match="frame interval 0"):
        power_spectra(np.zeros((32, 1, 3)), 0)


def test_relax_and_rank_orders_by_energy():
    from ase.build import bulk
    from ase.calculators.emt import EMT
    compressed = bulk("Cu", cubic=True)
    compressed.set_cell(compressed.cell * 0.97, scale_atoms=True)
    rattled = bulk("Cu", cubic=True)
    rattled.rattle(0.05, seed=1)
    table, relaxed = relax_and_rank([compressed, rattled], EMT(), fmax=0.01, relax_cell=False)
    assert list(table["index"]) == [1, 0]  # the compressed cell stays compressed without cell relaxation
    assert table.relative_meV_per_atom.iloc[0] == 0 and table.relative_meV_per_atom.iloc[1] > 0
    assert table.converged.all() and len(relaxed) == 2
    with pytest.raises(ValueError, match="no structures"):
        relax_and_rank([], EMT())


def test_bose_einstein_amplitude_has_the_quantum_and_classical_limits():
    from ase import units

    from softlattice.antiperovskite.thermal import bose_einstein_amplitude
    frequency = 2.0  # THz
    omega = 2 * np.pi * frequency * 1e12 / units.s
    hbar = units._hbar * units.J * units.s
    assert bose_einstein_amplitude(frequency, 0.0) ** 2 == pytest.approx(hbar / (2 * omega))  # zero point
    hot = 5000.0  # kT >> hbar omega: equipartition, <Q^2> = kT / omega^2
    assert bose_einstein_amplitude(frequency, hot) ** 2 == pytest.approx(units.kB * hot / omega ** 2, rel=1e-3)
    with pytest.raises(ValueError, match="real, positive frequencies"):
        bose_einstein_amplitude(-1.0, 300.0)


def test_frozen_phonons_of_a_quadratic_gap_model_give_the_expected_change():
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    from softlattice.antiperovskite.thermal import frozen_phonon_gap_changes, gamma_mode_displacements
    atoms = build_antiperovskite("Br")
    unit = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                        scaled_positions=atoms.get_scaled_positions())
    phonon = Phonopy(unit, np.eye(3, dtype=int), primitive_matrix="P")
    phonon.force_constants = spring_force_constants(atoms.repeat(1), cutoff=4.0)
    cold, hot = (gamma_mode_displacements(atoms, phonon, t) for t in (0.0, 600.0))
    assert len(cold) == len(hot) > 0 and (hot.frequency_THz > 0.2).all()
    # a gap quadratic in the displacements changes by c <u^2>: linear terms cancel, hotter is larger
    ideal = atoms.positions.copy()
    changes = [frozen_phonon_gap_changes(atoms, modes, lambda a: 1.0 - 0.5 * np.sum((a.positions - ideal) ** 2)
                                         + 0.3 * np.sum(a.positions - ideal)) for modes in (cold, hot)]
    expected = [-0.5 * np.array([np.sum(d ** 2) for d in modes.displacements]) for modes in (cold, hot)]
    for change, target in zip(changes, expected):
        np.testing.assert_allclose(change.gap_change_eV, target, atol=1e-12)
    assert (changes[1].gap_change_eV < changes[0].gap_change_eV).all()


def test_standard_error_grows_with_correlation():
    from softlattice.analysis.statistics import mean_and_standard_error
    values = np.random.default_rng(0).normal(size=400)
    mean, independent = mean_and_standard_error(values)
    _, correlated = mean_and_standard_error(values, correlation_samples=8.0)
    assert abs(mean) < 0.2 and correlated == pytest.approx(4 * independent)
    with pytest.raises(ValueError, match="at least 2"):
        mean_and_standard_error(values[:1])


def test_integrated_correlation_time_of_an_ar1_series():
    from softlattice.analysis.statistics import integrated_correlation_samples
    rng = np.random.default_rng(1)
    phi = 0.8
    series = np.zeros(200_000)
    noise = rng.normal(size=series.size)
    for t in range(1, series.size):
        series[t] = phi * series[t - 1] + noise[t]
    expected = (1 + phi) / (2 * (1 - phi))  # 4.5 samples
    assert integrated_correlation_samples(series) == pytest.approx(expected, rel=0.1)
    assert integrated_correlation_samples(noise) == pytest.approx(0.5, abs=0.05)


def test_lowest_orderings_are_the_same_in_the_process_that_computes_them_and_the_next(tmp_path, monkeypatch):
    import softlattice.antiperovskite.workflows.thermal as workflow
    from softlattice.antiperovskite.structures import decorate
    calls = []

    def fake_lowest(br_fractions, calculator, fmax):
        calls.append(tuple(br_fractions))
        cells = {x: decorate(x, ()) if x == 0 else decorate(x, tuple(range(8))) for x in br_fractions}
        for cell in cells.values():  # a relaxation's positions carry more digits than the stored file
            cell.positions += np.random.default_rng(1).normal(0.0, 0.05, cell.positions.shape)
        table = pd.DataFrame(dict(br_fraction=list(cells), ordering=[c.info["ordering"] for c in cells.values()],
                                  energy_eV_per_atom=[-1.0, -2.0]))
        return table, cells

    monkeypatch.setattr(workflow, "lowest_orderings", fake_lowest)
    settings = dict(br_fractions=[0.0, 1.0], relax_fmax=0.05)
    first_table, first = workflow.cached_lowest_orderings(settings, {"profile": "x"}, None, tmp_path)
    second_table, second = workflow.cached_lowest_orderings(settings, {"profile": "x"}, None, tmp_path)
    assert calls == [(0.0, 1.0)]  # the second call read the stored cells
    assert list(second_table["ordering"]) == ["none", "0,1,2,3,4,5,6,7"]
    for x in (0.0, 1.0):  # bit for bit: the student's training key hashes cells built from these
        assert second[x].get_chemical_formula() == first[x].get_chemical_formula()
        np.testing.assert_array_equal(second[x].positions, first[x].positions)
        np.testing.assert_array_equal(second[x].cell.array, first[x].cell.array)


def test_spot_check_compositions_spread_over_x():
    from softlattice.antiperovskite.workflows.thermal import spot_check_fractions
    fractions = [k / 8 for k in range(9)]
    assert spot_check_fractions(fractions, 3) == [0.0, 0.5, 1.0]
    assert spot_check_fractions(fractions, 1) == [0.0]
    assert spot_check_fractions(fractions, 20) == fractions
    assert spot_check_fractions(fractions, 0) == []
    with pytest.raises(ValueError, match="spot_checks -1"):
        spot_check_fractions(fractions, -1)


def test_largest_gap_reduction_and_stabilised_modes_are_read_from_the_tables():
    from softlattice.antiperovskite.thermal import largest_gap_reductions, stabilised_modes
    thermal = pd.DataFrame(dict(br_fraction=[0.0, 0.5, 0.0, 0.5, 0.0, 0.5], temperature_K=[0, 0, 300, 300, 600, 600],
                                gap_eV=[1.0, 1.2, 0.9, 0.9, 0.8, 0.85], error_eV=0.01,
                                relative_change=[0.0, 0.0, -0.1, -0.25, -0.2, -0.29]))
    largest = largest_gap_reductions(thermal)
    assert list(largest.temperature_K) == [300, 600]
    assert list(largest.br_fraction) == [0.5, 0.5]
    assert np.allclose(largest.relative_change, [-0.25, -0.29])
    modes = pd.DataFrame(dict(br_fraction=0.5, temperature_K=300, band=[0, 1, 2, 3],
                              harmonic_THz=[-1.0, -0.5, -0.4, 2.0], frequency_THz=[0.8, 0.3, 0.5, 2.1],
                              fwhm_THz=[0.4, 0.1, 0.9, 0.2], converged=[True, False, True, True]))
    row = stabilised_modes(modes).iloc[0]
    assert row.unstable_at_0K == 3 and row.real_peak_in_MD == 2 and row.underdamped_in_MD == 1


def test_silver_msd_sees_one_hop_through_the_periodic_boundary_and_ignores_drift():
    from ase import Atoms

    from softlattice.antiperovskite.thermal import ions_stay_on_sites, species_msd
    cell = np.eye(3) * 8.0
    start = Atoms("Ag4S", positions=[[0.5, 0.5, 0.5], [4, 0.5, 0.5], [0.5, 4, 0.5], [4, 4, 0.5], [2, 2, 4]],
                  cell=cell, pbc=True)
    frames = [start.copy()]
    for k in range(1, 11):  # every atom drifts, and the first Ag walks 4 Å in -x, across the boundary
        frame = start.copy()
        frame.positions += [0.1 * k, 0.0, 0.0]
        frame.positions[0, 0] -= 0.4 * k
        frame.wrap()
        frames.append(frame)
    msd = species_msd(frames, "Ag")
    masses = start.get_masses()
    drift_of_the_hop = masses[0] * 4.0 / masses.sum()  # the hop moves the centre of mass a little
    expected = ((4.0 - drift_of_the_hop) ** 2 + 3 * drift_of_the_hop ** 2) / 4
    assert msd[0] == 0 and msd[-1] == pytest.approx(expected, rel=1e-6)
    assert not ions_stay_on_sites(msd, nearest_site_distance=3.5)
    assert ions_stay_on_sites(species_msd(frames[:1] + [f.copy() for f in frames[:1]]), 3.5)
    with pytest.raises(ValueError, match="no Cu atoms"):
        species_msd(frames, "Cu")


def test_nearest_distance_is_periodic():
    from ase import Atoms

    from softlattice.antiperovskite.thermal import nearest_distance
    atoms = Atoms("Ag2S", positions=[[0.2, 0, 0], [5.8, 0, 0], [3, 3, 3]], cell=np.eye(3) * 6.0, pbc=True)
    assert nearest_distance(atoms, "Ag") == pytest.approx(0.4)
    with pytest.raises(ValueError, match="fewer than two S atoms"):
        nearest_distance(atoms, "S")


def _labelled_cells(count, origin):
    from ase.calculators.singlepoint import SinglePointCalculator
    cells = []
    for k in range(count):
        atoms = build_antiperovskite("I")
        atoms.calc = SinglePointCalculator(atoms, energy=-float(k), forces=np.zeros((len(atoms), 3)))
        atoms.info.update(origin=origin, index=k)
        cells.append(atoms)
    return cells


def _student_loop(monkeypatch, tmp_path, hot_maes, generations, target):
    """Run :func:`nep_student` with its training, exploration and teacher replaced by stand-ins: the
    student of generation g has force MAE ``hot_maes[g]`` (meV/Å) on the frames it explores."""
    import softlattice.antiperovskite.workflows.thermal as workflow
    trained = []

    class Trained:
        def __init__(self, folder):
            self.model_path = folder / "nep.txt"

    def fake_train(train, test, folder, steps, hyper, species):
        trained.append(len(train))
        return Trained(folder)

    def fake_explore(model, lowest, options, generation, folder):
        return _labelled_cells(10, f"explored-{generation}")

    maes = iter(hot_maes)
    monkeypatch.setattr(workflow, "student_structures", lambda *a, **k: _labelled_cells(20, "chapter06"))
    monkeypatch.setattr(workflow, "label_structures", lambda frames, *a, **k: list(frames))
    monkeypatch.setattr(workflow, "train_nep", fake_train)
    monkeypatch.setattr(workflow, "_cached_exploration", fake_explore)
    monkeypatch.setattr(workflow, "nep_calculator", lambda model: None)
    monkeypatch.setattr(workflow, "predictions", lambda frames, calculator: None)
    monkeypatch.setattr(workflow, "label_errors", lambda frames, predicted: dict(forces_mae=next(maes)))
    student = dict(steps=1, rattled_per_x=0, generations=generations, explore_K=600.0, explore_ps=1.0,
                   explore_every_fs=100.0, **({} if target is None else dict(target_hot_mae_meV=target)))
    model, test, history = workflow.nep_student(dict(student=student), {}, {}, None, tmp_path)
    return model, history, trained


def test_student_generations_stop_at_the_first_student_that_meets_the_hot_frame_target(monkeypatch, tmp_path):
    model, history, trained = _student_loop(monkeypatch, tmp_path, [240.0, 130.0, 95.0, 60.0], 6, 100.0)
    # generation 2's student meets 100 meV/Å on frames it had not learnt: it is kept, nothing more is trained
    assert list(history.generation) == [0, 1, 2] and list(history.hot_force_mae_meV) == [240.0, 130.0, 95.0]
    assert model.parent.name == "generation_2" and len(trained) == 3
    assert trained == sorted(trained) and trained[1] > trained[0]  # each generation adds the frames it explored


def test_student_generations_that_run_out_report_the_last_student_as_unmeasured(monkeypatch, tmp_path):
    model, history, trained = _student_loop(monkeypatch, tmp_path, [240.0, 130.0], 2, 100.0)
    assert list(history.generation) == [0, 1, 2] and np.isnan(history.hot_force_mae_meV.iloc[-1])
    assert model.parent.name == "generation_2" and len(trained) == 3
    _, history, _ = _student_loop(monkeypatch, tmp_path / "no-target", [10.0, 10.0], 2, None)
    assert len(history) == 3  # without a target every generation is trained, however good


def test_md_runs_are_reused_when_only_settings_outside_the_md_change(monkeypatch, tmp_path):
    import softlattice.antiperovskite.workflows.thermal as workflow
    folders = []
    monkeypatch.setattr(workflow, "thermal_run", lambda *a, folder, **k: folders.append(folder))
    atoms = build_antiperovskite("Br")
    atoms.info["br_fraction"] = 0.5
    student, other = tmp_path / "a.txt", tmp_path / "b.txt"
    student.write_text("student a")
    other.write_text("student b")
    base = dict(run_ps=20.0, equilibration_ps=5.0, timestep_fs=1.0, snapshot_fs=20.0, gap_models="full",
                spectra_temperatures=[100.0])
    for settings, model in [(base, student), ({**base, "gap_models": None, "spectra_temperatures": []}, student),
                            ({**base, "run_ps": 40.0}, student), (base, other)]:
        workflow._thermal_run(atoms, model, 300.0, settings, tmp_path)
    assert folders[0] == folders[1]  # another gap model or spectra: the same MD
    assert len({folders[0], folders[2], folders[3]}) == 3  # a longer run or another student: new MD


def test_the_student_sentence_says_whether_the_hot_frame_target_was_met():
    from softlattice.antiperovskite.workflows.thermal import student_text
    errors = pd.DataFrame(dict(forces_mae=[87.4]))
    student = dict(generations=6, target_hot_mae_meV=100.0, explore_K=600.0, hyper=dict(l_max_4b=2, l_max_5b=0))
    met = pd.DataFrame(dict(generation=[0, 1, 2], hot_force_mae_meV=[240.0, 130.0, 95.0]))
    text = student_text(met, student, errors)
    assert "three- and four-body" in text and "240 → 130 → 95 meV/Å" in text
    assert "meeting the 100 meV/Å target at generation 2" in text and "87 meV/Å" in text
    missed = pd.DataFrame(dict(generation=[0, 1, 2], hot_force_mae_meV=[240.0, 130.0, np.nan]))
    assert "never meeting the 100 meV/Å target" in student_text(missed, student, errors)
    assert "three-body" in student_text(met, {**student, "hyper": dict(l_max_4b=0, l_max_5b=0)}, errors)


def test_spot_checks_far_outside_the_models_error_say_the_gaps_are_not_resolved():
    from softlattice.antiperovskite.workflows.thermal import spot_check_agreement, spot_check_text
    far = pd.DataFrame(dict(model_eV=[1.32, 1.30, 1.35], computed_eV=[0.72, 0.64, 1.06]))
    agreement = spot_check_agreement(far, 0.076)
    assert agreement["frames"] == 3 and not agreement["agrees"] and agreement["ratio"] > 6
    assert agreement["mean_eV"] == pytest.approx(0.5167, abs=1e-3) and agreement["largest_eV"] == pytest.approx(0.66)
    assert "not resolved" in spot_check_text(agreement, "GLLB-SC")
    assert "has not learnt" in spot_check_text(agreement, "GLLB-SC")
    assert "even after learning MD frames at these compositions and temperatures" in spot_check_text(agreement, "GLLB-SC", learnt_md=True)
    near = far.assign(computed_eV=far.model_eV + [0.05, -0.08, 0.1])
    assert spot_check_agreement(near, 0.076)["agrees"]
    assert "consistent" in spot_check_text(spot_check_agreement(near, 0.076), "GLLB-SC")
    assert spot_check_agreement(far.assign(computed_eV=np.nan), 0.076)["agrees"] is None
    # one frame far off while the mean agrees: reported on its own
    mixed = pd.DataFrame(dict(br_fraction=[0.0, 0.5, 1.0], temperature_K=600.0, model_eV=[0.67, 0.74, 0.92],
                              computed_eV=[0.72, 0.64, 1.30]))
    lenient = spot_check_agreement(mixed, 0.15)
    assert lenient["agrees"] and lenient["outliers"] == [(1.0, 600.0, pytest.approx(-0.38))]
    assert "but x = 1 at 600 K (-0.38 eV) differs by more than 2 times" in spot_check_text(lenient, "GLLB-SC")
    with pytest.raises(ValueError, match="must be > 0"):
        spot_check_agreement(far, 0.0)


def test_md_frames_are_picked_inside_the_run_with_distinct_frames_for_each_level():
    from softlattice.antiperovskite.workflows.md_frames import pick_frames
    frames = []
    for k in range(11):
        atoms = build_antiperovskite("Br")
        atoms.info["time_ps"] = float(k)
        frames.append(atoms)
    picked = pick_frames(frames, 3)
    assert [f.info["time_ps"] for f in picked] == [2.0, 5.0, 8.0]  # evenly inside, neither end
    assert [f.info["stage"] for f in picked] == ["cheap", "cheap", "accurate"]
    assert "stage" not in frames[2].info  # the run's frames are not modified
    with pytest.raises(ValueError, match="per_run 1 must be >= 2"):
        pick_frames(frames, 1)
    with pytest.raises(ValueError, match="a run of 11 frames cannot give 10"):
        pick_frames(frames, 10)


def test_md_frame_gaps_hold_out_whole_runs_and_skip_frames_without_a_gap(tmp_path):
    from softlattice.antiperovskite.md_frame_gaps import HOLD_OUT_EVERY, md_gap_table
    from softlattice.electronic.gaps import GapCache, GapResult
    settings = dict(cheap="pbe", cheap_basis="sz(dzp)", accurate="gllbsc", accurate_basis="dzp")
    frames = []
    for run in range(HOLD_OUT_EVERY * 2):
        for stage in ("cheap", "cheap", "accurate"):
            atoms = build_antiperovskite("Br")
            atoms.rattle(0.05, seed=len(frames))
            atoms.info.update(br_fraction=run / 10, temperature_K=300.0, stage=stage)
            frames.append(atoms)
    caches = {stage: GapCache(settings[stage], tmp_path, basis=settings[f"{stage}_basis"]) for stage in ("cheap", "accurate")}
    for k, frame in enumerate(frames[:-1]):  # the last frame has no gap yet
        caches[frame.info["stage"]].put(frame, GapResult(gap=1.0 + k, kohn_sham_gap=1.0, discontinuity=0.0,
                                                        scf_iterations=10, attempts=1, seconds=1.0,
                                                        level=settings[frame.info["stage"]]))
    table = md_gap_table(frames, settings, offset=100, folder=tmp_path)
    assert len(table) == len(frames) - 1 and list(table["index"]) == list(range(100, 100 + len(frames) - 1))
    assert (table.gap_eV == 1.0 + table["index"] - 100).all() and set(table.origin) == {"md"}
    assert list(table.stage[:3]) == ["cheap", "cheap", "accurate"] and list(table.level[:3]) == ["pbe", "pbe", "gllbsc"]
    held = table.groupby("br_fraction").held_out.agg(["all", "any"])
    assert (held["all"] == held["any"]).all()  # a run is held out whole or not at all
    assert held["all"].sum() == 2  # every fifth run of ten


def test_the_md_protocol_repeats_only_the_held_out_md_rows():
    from softlattice.antiperovskite.gap_benchmark import GapProblem
    from softlattice.antiperovskite.workflows.gap_models import HELD_OUT, HELD_OUT_MD, with_md_protocol
    gaps = pd.DataFrame(dict(index=[0, 1, 2, 3], origin=["thermal", "thermal", "md", "md"]))
    problem = GapProblem(gaps, {}, {}, {})
    predictions = pd.DataFrame(dict(protocol=[HELD_OUT, HELD_OUT, HELD_OUT, "k-fold"], index=[1, 2, 3, 2],
                                    model="gnn", mae=[0.1, 0.2, 0.3, 0.4]))
    extended = with_md_protocol(predictions, problem)
    md = extended[extended.protocol == HELD_OUT_MD]
    assert list(md["index"]) == [2, 3] and len(extended) == len(predictions) + 2
    no_md = GapProblem(gaps.assign(origin="thermal"), {}, {}, {})
    assert len(with_md_protocol(predictions, no_md)) == len(predictions)


def test_the_md_gap_trend_says_falls_only_when_every_step_falls():
    from softlattice.antiperovskite.workflows.md_frames import md_gap_trend_text
    table = pd.DataFrame(dict(stage="cheap", temperature_K=[100.0, 100.0, 300.0, 300.0, 600.0, 600.0],
                              gap_eV=[0.5, 0.5, 0.4, 0.4, 0.3, 0.3]))
    text = md_gap_trend_text(table, "cheap", "PBE")
    assert "falls at every step from 0.50 eV at 100 K to 0.30 eV at 600 K" in text and "; 2 frames per" in text
    bumpy = table.assign(gap_eV=[0.5, 0.5, 0.6, 0.6, 0.3, 0.3])
    assert "does not change monotonically" in md_gap_trend_text(bumpy, "cheap", "PBE")
    assert "Too few" in md_gap_trend_text(table, "accurate", "GLLB-SC")


def test_md_frame_gaps_of_another_student_are_not_shown(tmp_path):
    from softlattice.antiperovskite.workflows.md_frames import committed_md_gaps
    student = tmp_path / "nep.txt"
    student.write_text("another student")
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "provenance.json").write_text('{"student_hash": "0000000000000000"}')
    assert committed_md_gaps({}, student, tmp_path / "frames") is None
    assert committed_md_gaps({}, student, tmp_path / "missing") is None


def test_runs_learnt_are_the_md_runs_on_the_training_side():
    from softlattice.antiperovskite.md_frame_gaps import runs_learnt
    labels = pd.DataFrame(dict(origin=["md", "md", "md", "thermal"], held_out=[False, True, False, False],
                               br_fraction=[0.0, 0.5, 1.0, 0.25], temperature_K=[600.0, 600.0, 100.0, 300.0]))
    assert runs_learnt(labels) == {(0.0, 600.0), (1.0, 100.0)}


def test_how_learnt_names_the_level_a_structure_was_learnt_at():
    from softlattice.antiperovskite.md_frame_gaps import how_learnt
    labels = pd.DataFrame(dict(hash=["a", "b", "c"], stage=["cheap", "accurate", "cheap"], held_out=[False, False, True]))
    assert how_learnt(["a", "b", "c", "d"], labels) == ["cheap", "accurate", "held out", ""]


def test_zero_kelvin_gaps_are_direct_where_computed_and_the_model_is_measured_against_them(monkeypatch):
    from softlattice.antiperovskite.workflows import thermal as workflow
    from softlattice.antiperovskite.structures import decorate
    lowest = {x: decorate(x, tuple(range(int(8 * x)))) for x in (0.0, 0.5, 1.0)}
    lowest[0.5].positions[[a.index for a in lowest[0.5] if a.symbol == "Ag"][0]] += [0.3, 0.0, 0.0]

    class Model:
        name = "test"

        def predict(self, structures):
            return np.array([2.0 + a.cell[0, 0] for a in structures])

    def fake_gaps(cells, level, folder, basis):
        assert level == "gllbsc" and basis == "dzp"
        return np.array([7.0, np.nan, 6.5]), ["structure 1: SCF did not converge"]

    monkeypatch.setattr(workflow, "compute_gaps", fake_gaps)
    table = workflow.zero_kelvin_gaps(lowest, Model(), "gllbsc", "dzp")
    assert table.source.tolist() == ["direct", "model", "direct"]
    model = Model().predict(list(lowest.values()))
    assert table.gap_eV.tolist() == pytest.approx([7.0, model[1], 6.5])
    text = workflow.zero_kelvin_text(table, "GLLB-SC")
    assert "(2 of 3 compositions; the model's at x = 0.5, where it failed)" in text
    differences = model[[0, 2]] - [7.0, 6.5]
    assert f"by {np.abs(differences).mean():.2f} eV on average" in text
    assert "no relaxed cell has a direct gap" in workflow.zero_kelvin_text(table.assign(source="model"), "x").lower()
    assert table.largest_ag_shift_A.tolist() == pytest.approx([0.0, 0.3, 0.0]) and "up to 0.30 Å" in text


def test_the_site_shift_is_periodic_and_refuses_a_cell_of_another_ordering(tmp_path):
    from ase.io import read, write

    from softlattice.antiperovskite.structures import decorate
    from softlattice.antiperovskite.workflows.thermal import largest_site_shift
    # as the chapter reads its relaxed cells: back from extxyz, whose orderings come back as numbers
    write(tmp_path / "cells.extxyz", [decorate(x, tuple(range(int(8 * x)))) for x in (0.0, 0.125, 0.25)])
    for cell in read(tmp_path / "cells.extxyz", index=":"):
        assert largest_site_shift(cell, "Ag") == pytest.approx(0.0, abs=1e-6)
    cell = decorate(0.25, (0, 7))
    silver = [a.index for a in cell if a.symbol == "Ag"]
    cell.positions[silver[1]] -= [0.0, 0.4, 0.0]
    cell.positions[silver[2]] += 2 * cell.cell[0]  # a whole lattice vector: no shift
    cell.set_cell(cell.cell * 1.02, scale_atoms=True)  # a relaxed lattice: shifts are read in it
    assert largest_site_shift(cell, "Ag") == pytest.approx(0.4 * 1.02)
    other = decorate(0.25, (0, 1))
    other.info["ordering"] = "0,7"
    other.set_chemical_symbols(list(reversed(other.get_chemical_symbols())))
    with pytest.raises(ValueError, match="does not list its atoms"):
        largest_site_shift(other, "Ag")


def test_the_drop_is_split_into_differences_that_may_have_opposite_signs():
    from softlattice.antiperovskite.thermal import step_and_temperature_changes, step_and_temperature_text
    thermal = pd.DataFrame(dict(br_fraction=[0.0] * 3 + [0.5] * 3 + [1.0] * 2,
                                temperature_K=[0.0, 100.0, 600.0] * 2 + [0.0, 100.0],
                                gap_eV=[1.5, 1.1, 0.8, 0.7, 1.2, 0.8, 1.9, 1.4]))
    changes = step_and_temperature_changes(thermal)
    assert changes.br_fraction.tolist() == [0.0, 0.5]  # x = 1 has one MD temperature: no split
    assert changes.step_eV.tolist() == pytest.approx([-0.4, 0.5])
    assert changes.temperature_eV.tolist() == pytest.approx([-0.3, -0.4])
    text = step_and_temperature_text(changes, 0.1)
    assert "by +0.05 eV from the relaxed 0 K cell to 100 K and by -0.35 eV from 100 to 600 K" in text
    assert "at 2 of 2 compositions: down at 1, up at 1 (x = 0.5)" in text
    assert "cannot be split" in step_and_temperature_text(changes.iloc[:0], 0.1)


def test_a_largest_reduction_within_the_models_error_of_another_is_not_resolved():
    from softlattice.antiperovskite.thermal import largest_reduction_text, reductions_tied_with_largest
    thermal = pd.DataFrame(dict(br_fraction=[0.0, 0.0, 0.5, 0.5, 1.0, 1.0], temperature_K=[0.0, 300.0] * 3,
                                gap_eV=[1.5, 0.93, 1.5, 1.2, 2.0, 1.2],
                                relative_change=[0.0, -0.38, 0.0, -0.20, 0.0, -0.40], error_eV=0.01))
    # errors of one relative change: 0.1/1.5 and 0.1/2.0, combined 0.083: x = 0 (0.02 away) is tied, x = 0.5 is not
    assert reductions_tied_with_largest(thermal, 300.0, 0.1) == [0.0]
    assert reductions_tied_with_largest(thermal, 300.0, 0.01) == []
    text = largest_reduction_text(thermal, [300.0], 0.1)
    assert "-40 % at 300 K (x = 1; x = 0 within the model's error of it" in text
    assert largest_reduction_text(thermal, [300.0], 0.01) == "-40 % at 300 K (x = 1)"
    with pytest.raises(ValueError, match="no gaps at 600.0 K"):
        reductions_tied_with_largest(thermal, 600.0, 0.1)
