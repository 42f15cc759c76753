"""NEP v2's criteria table from synthetic result tables: each criterion can pass and fail."""

import numpy as np
import pandas as pd
import pytest

from softlattice.perovskite.student_criteria import phase_energy_agreement, student_criteria


def phases(nep_shift=0.0, unconverged=()):
    rows = []
    for method, shift in (("NEP", nep_shift), ("teacher", 0.0)):
        for x in (0.0, 1.0):
            for glazer, energy in (("a0a0a0", 0.0), ("a0a0c-", -40.0), ("a0a0c+", -20.0)):
                rows.append(dict(fa_fraction=x, glazer=glazer, method=method,
                                 energy_meV_per_fu=energy + (shift if glazer == "a0a0c-" and x == 1.0 else 0.0),
                                 converged=(method, x, glazer) not in unconverged))
    return pd.DataFrame(rows)


def table(agreement, median=0.1, rmse=0.09, survived=(True, True), slope=1.1, tilts=None, tilted_references=None):
    generations = pd.DataFrame(dict(median_force_spread=[0.3, median], stopped=[False, median <= 0.15]))
    stability = pd.DataFrame(dict(fa_fraction=[0.0, 1.0], survived=list(survived),
                                  reached_ps=[50.0 if s else 12.0 for s in survived],
                                  nve_drift_meV_per_atom_per_ps=[0.01, 0.02]))
    return student_criteria(generations, rmse, agreement, stability, 50.0, slope, tilts,
                            tilted_references=tilted_references).set_index("criterion")


def test_a_model_meeting_every_target_passes_them_all():
    met = table(phase_energy_agreement(phases(3.0), "teacher")).met
    assert met.dropna().all() and met.notna().sum() == 5


@pytest.mark.parametrize("change, criterion", [
    (dict(median=0.2), "active learning stops by its rule"),
    (dict(rmse=0.13), "force RMSE against the teacher (test set)"),
    (dict(survived=(True, False)), "NPT stability"),
    (dict(slope=2.1), "iodine transverse slope against GPAW"),
])
def test_each_target_can_fail(change, criterion):
    result = table(phase_energy_agreement(phases(), "teacher"), **change)
    assert result.met[criterion] is False
    assert result.met.drop(criterion).dropna().all()


def test_phase_energies_fail_beyond_tolerance_and_unconverged_pairs_are_not_evidence():
    agreement = phase_energy_agreement(phases(7.0), "teacher")
    assert agreement.difference_meV_per_fu.abs().max() == pytest.approx(7.0)
    assert table(agreement).met["phase energies against the teacher"] is False
    # the only bad pair did not converge: neither pass nor fail
    agreement = phase_energy_agreement(phases(7.0, unconverged={("teacher", 1.0, "a0a0c-")}), "teacher")
    assert table(agreement).met["phase energies against the teacher"] is None
    # an unconverged a0a0a0 makes every pair of that composition unconverged
    agreement = phase_energy_agreement(phases(0.0, unconverged={("NEP", 0.0, "a0a0a0")}), "teacher")
    assert not agreement[agreement.fa_fraction == 0.0].converged.any()


def test_tilt_rows_name_the_experimental_phase_and_a_missing_reference_is_refused():
    tilts = pd.DataFrame(dict(fa_fraction=[0.0], start=["a0a0c+"], temperature_K=[250.0], end_phase=["a0a0c-"],
                              end_share=[0.9]))
    result = table(phase_energy_agreement(phases(), "teacher"), tilts=tilts)
    assert "experiment: a0a0c-" in result.target["x = 0 started a0a0c+, 250 K"]
    with pytest.raises(ValueError, match="no phase energies of the reference 'other'"):
        phase_energy_agreement(phases(), "other")


def test_a_tilt_test_classified_against_a_tilted_noise_reference_is_not_evidence():
    tilts = pd.DataFrame(dict(fa_fraction=[0.0, 1.0], start=["a0a0c+", "a0a0c-"], temperature_K=[300.0, 300.0],
                              end_phase=["a0a0c+", "a0a0a0"], end_share=[1.0, 0.7]))
    result = table(phase_energy_agreement(phases(), "teacher"), tilts=tilts, tilted_references={1.0: "holds a persistent tilt (Q_M_y +0.27 Å)"})
    assert "not evidence" in result.measured["x = 1 started a0a0c-, 300 K"]
    assert "Q_M_y +0.27 Å" in result.measured["x = 1 started a0a0c-, 300 K"]
    assert "not evidence" not in result.measured["x = 0 started a0a0c+, 300 K"]


def test_a_run_that_keeps_the_sign_of_its_tilt_is_not_an_untilted_reference():
    from softlattice.perovskite.phases import persistent_tilt_text, persistent_tilts
    from softlattice.perovskite.workflows.checks import tilted_noise_references

    def run(offset_m_y, seed, ps=40.0, dt=0.02, tau=2.0, sigma=0.1):
        rng = np.random.default_rng(seed)
        n = int(ps / dt)
        frame = dict(time_ps=dt * np.arange(1, n + 1))
        for column in [f"Q_{k}_{a}" for k in "MR" for a in "xyz"]:
            values = np.zeros(n)  # slow (tau ps) zero-mean fluctuation, as of an untilted cell near its transition
            for i in range(1, n):
                values[i] = values[i - 1] * np.exp(-dt / tau) + sigma * np.sqrt(1 - np.exp(-2 * dt / tau)) * rng.normal()
            frame[column] = values + (offset_m_y if column == "Q_M_y" else 0.0)
        return pd.DataFrame(frame)

    false_alarms = sum(persistent_tilts(run(0.0, seed)).persistent.any() for seed in range(10))
    assert false_alarms <= 1
    tilted = persistent_tilts(run(0.25, 11))
    assert tilted.set_index("mode").persistent["M_y"] and persistent_tilt_text(tilted).startswith("Q_M_y +0.2")
    with pytest.raises(ValueError, match="fewer than three 5 ps blocks"):
        persistent_tilts(run(0.0, 0, ps=12.0))
    observations = pd.concat([run(0.0, 12).assign(fa_fraction=0.0), run(0.25, 13).assign(fa_fraction=1.0)])
    observations = observations.assign(stage="npt")
    assert tilted_noise_references(observations) == {1.0: "holds a persistent tilt (" + persistent_tilt_text(
        persistent_tilts(observations[(observations.fa_fraction == 1.0) & (observations.time_ps > 10.0)])) + ")"}
    short = run(0.0, 14, ps=16.0).assign(fa_fraction=0.5, stage="npt")
    assert "too short to tell" in tilted_noise_references(short)[0.5]


def test_a_loop_stopped_by_saturation_says_so_and_misses_the_spread_target():
    generations = pd.DataFrame(dict(median_force_spread=[0.3, 0.25], stopped=[False, True],
                                    stop_reason=[None, "spread saturated"]))
    stability = pd.DataFrame(dict(fa_fraction=[0.0], survived=[True], reached_ps=[50.0],
                                  nve_drift_meV_per_atom_per_ps=[0.01]))
    row = student_criteria(generations, 0.09, phase_energy_agreement(phases(3.0), "teacher"), stability, 50.0,
                           1.1, None).set_index("criterion").loc["active learning stops by its rule"]
    assert "spread saturated" in row.measured and not row.met


def test_phase_order_at_the_teachers_cells_counts_kept_and_reversed_orders():
    from softlattice.perovskite.student_criteria import phase_order_summary, tetragonal_order
    rows = []
    # arrangement 0 keeps a0a0c- below a0a0c+ (both), arrangement 1 reverses it
    cases = [(-30, -10, -28, -12), (-20, -10, -5, -15)]
    for arrangement, (ref_minus, ref_plus, nep_minus, nep_plus) in enumerate(cases):
        for glazer, ref, nep in (("a0a0c-", ref_minus, nep_minus), ("a0a0c+", ref_plus, nep_plus)):
            rows.append(dict(fa_fraction=1.0, arrangement=arrangement, glazer=glazer, reference_meV_per_fu=ref,
                             nep_meV_per_fu=nep, difference_meV_per_fu=nep - ref, converged=True))
    table = pd.DataFrame(rows)
    order = tetragonal_order(table)
    assert list(order.reference_meV_per_fu) == [-20, -10] and list(order.nep_meV_per_fu) == [-16, 10]
    assert list(order.same_order) == [True, False]
    summary = phase_order_summary(table)
    assert "largest 15.0 meV/f.u. (a0a0c- at x = 1)" in summary and "kept in 1 of 2" in summary


def test_arrangement_spread_finds_where_the_references_order_changes_sign():
    from softlattice.perovskite.student_criteria import arrangement_spread
    order = pd.DataFrame(dict(fa_fraction=[0.0, 0.0, 1.0, 1.0], arrangement=[0, 1, 0, 1],
                              reference_meV_per_fu=[-20.0, 5.0, -3.0, -9.0], nep_meV_per_fu=0.0))
    spread = arrangement_spread(order)
    assert list(spread.changes_sign) == [True, False] and list(spread.arrangements) == [2, 2]
    assert list(spread.min_meV_per_fu) == [-20.0, -9.0] and list(spread.max_meV_per_fu) == [5.0, -3.0]


def test_the_site_row_counts_runs_where_an_ion_left_its_site_and_is_absent_for_old_check_sets():
    from softlattice.perovskite.student_criteria import SITE_SHIFT_LIMIT_A, sites_summary
    stability = pd.DataFrame(dict(fa_fraction=[0.0, 0.5, 1.0], largest_cation_shift_A=[1.4, 5.0, 1.2],
                                  largest_iodine_shift_A=[1.1, 4.0, SITE_SHIFT_LIMIT_A]))
    text = sites_summary(stability)
    assert "x = 0.5: 5.0, 4.0 Å" in text and "an ion left its site in 2 of 3 runs" in text
    assert "ions on their sites in the stability runs" not in table(phase_energy_agreement(phases(), "teacher")).index
