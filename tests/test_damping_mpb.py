"""DHO fits of synthetic ACFs, ACF length checks, the MPB fit on synthetic data, layer maps of a
synthetic layered framework."""

import numpy as np
import pytest
from dynasor.tools.damped_harmonic_oscillator import acf_position_dho

from softlattice.analysis.dho import fit_dho, mode_acf
from softlattice.perovskite.modes import layer_profile, map_framework, mode_patterns, project_modes_local
from softlattice.perovskite.mpb import fit_mpb, layer_assignment, logistic, r_share
from softlattice.perovskite.structures import build_perovskite


@pytest.mark.parametrize("w0, gamma, regime, max_lag", [
    (2.0, 0.8, "underdamped", 6.0),
    (2.0, 4.0, "critical", 6.0),
    (1.0, 8.0, "overdamped", 30.0),  # slow tail: decay time gamma / w0^2 = 8 ps
])
def test_dho_fit_recovers_known_parameters_from_noisy_acfs(w0, gamma, regime, max_lag):
    lags = np.arange(0, max_lag, 0.02)
    rng = np.random.default_rng(1)
    acf = acf_position_dho(lags, w0, gamma) + 0.01 * rng.normal(size=lags.size)
    fit = fit_dho(lags, acf)
    assert fit.converged
    # within 10 % or within the fit's own uncertainty (overdamped w0 and gamma are correlated)
    assert abs(fit.w0 - w0) <= max(0.1 * w0, 2.5 * fit.w0_error)
    assert abs(fit.gamma - gamma) <= max(0.1 * gamma, 2.5 * fit.gamma_error)
    assert fit.w0_error < 0.2 * w0
    assert fit.regime == regime


def test_acf_of_an_oscillating_signal_and_length_check():
    t = np.arange(0, 200.0, 0.01)
    lags, acf = mode_acf(np.cos(3.0 * t), 0.01, 4.0)
    assert acf[0] == pytest.approx(1.0)
    assert acf[np.argmin(np.abs(lags - np.pi / 3))] == pytest.approx(-1.0, abs=0.02)
    with pytest.raises(ValueError, match="too short for an ACF up to 50 ps"):
        mode_acf(np.cos(3.0 * t), 0.01, 50.0)


def test_failed_fit_is_reported_not_forced():
    fit = fit_dho(np.arange(10.0), np.full(10, np.nan))
    assert not fit.converged and fit.regime == "no fit" and "non-finite" in fit.message


def test_mpb_fit_recovers_the_centre_of_a_synthetic_crossover():
    rng = np.random.default_rng(0)
    x = np.repeat(np.linspace(0, 1, 9), 3)
    shares = logistic(x, 0.27, 0.06) + 0.03 * rng.normal(size=x.size)
    fit = fit_mpb(x, shares, bootstrap=200)
    assert fit.center == pytest.approx(0.27, abs=0.03)
    assert fit.center_low <= 0.27 <= fit.center_high
    with pytest.raises(ValueError, match="never crosses 1/2"):
        fit_mpb(x, np.full(x.size, 0.9))
    with pytest.raises(ValueError, match="no crossover resolved"):
        fit_mpb(x, 0.5 + 0.3 * rng.normal(size=x.size))  # scatter about 1/2: nothing to locate
    with pytest.raises(ValueError, match="at least 3 distinct compositions"):
        fit_mpb([0.0, 1.0], [1.0, 0.0])


def test_r_share_uses_the_primary_axis():
    share, axis = r_share(np.array([[0.0, 0.0, 0.3]]), np.array([[0.05, 0.0, 0.1]]))
    assert axis[0] == 2 and share[0] == pytest.approx(0.25)


def test_layer_map_recovers_a_synthetic_layer_sequence():
    atoms = build_perovskite("Cs", (4, 4, 8), lattice_constant=6.3)
    framework = map_framework(atoms)
    patterns = mode_patterns(framework)
    sequence = ["M", "R", "R", "M"]  # per 2-cell block layer along z
    block_layer = framework.x_cell[:, 2] // 2
    displacements = np.zeros((1,) + patterns.shape[1:])
    for layer, kind in enumerate(sequence):
        mask = (block_layer == layer)[:, None]
        displacements[0] += 0.3 * mask * patterns[2 if kind == "M" else 5]
    profile = layer_profile(project_modes_local(displacements, framework), axis=2)[0]
    assert layer_assignment(profile, axis=2, m_threshold=0.1, r_threshold=0.1) == sequence


def test_block_modes_and_layer_table_of_a_layered_structure():
    from softlattice.perovskite.mpb import block_modes, layer_table
    atoms = build_perovskite("Cs", (4, 4, 8), lattice_constant=6.3)
    framework = map_framework(atoms)
    patterns = mode_patterns(framework)
    block_layer = framework.x_cell[:, 2] // 2
    displacement = np.zeros(patterns.shape[1:])
    for layer, kind in enumerate(["R", "M", "M", "R"]):
        displacement += 0.25 * (block_layer == layer)[:, None] * patterns[2 if kind == "M" else 5]
    layered = atoms.copy()
    layered.positions[framework.x_indices] += displacement
    blocks = block_modes(layered)
    assert (blocks.axis == 2).all() and len(blocks) == 2 * 2 * 4
    table = layer_table(blocks)
    assert table.label.tolist() == ["R", "M", "M", "R"]
    assert table.R.iloc[0] == pytest.approx(0.25, rel=0.05)


def test_family_acf_averages_axes_and_refuses_unknown_families():
    import pandas as pd

    from softlattice.perovskite.workflows.damping import family_acf
    t = np.arange(0, 100.0, 0.01)
    frame = pd.DataFrame({"time_ps": t, "Q_M_x": np.cos(2 * t), "Q_M_y": np.cos(2 * t + 1.0), "Q_M_z": np.sin(2 * t)})
    lags, acf = family_acf(frame, "M", 3.0)
    assert acf[np.argmin(np.abs(lags - np.pi / 2))] == pytest.approx(-1.0, abs=0.03)
    with pytest.raises(ValueError, match="mode family 'X'"):
        family_acf(frame, "X", 3.0)


def test_a_run_that_blew_up_stays_in_the_damping_table():
    import pandas as pd

    from softlattice.perovskite.workflows.damping import damping_table, nvt_tasks
    tasks = nvt_tasks([0.0], [350.0, 450.0], run_ps=10.0)
    time = np.arange(0, 10.0, 0.005)
    rng = np.random.default_rng(0)
    observations = pd.DataFrame({"time_ps": time, **{f"Q_{f}_{a}": np.cos(8 * time) + 0.01 * rng.normal(size=time.size)
                                                    for f in "MR" for a in "xyz"}})
    table = damping_table(tasks, [observations, None], max_lag_ps=1.0,
                          failures=[None, "atoms closer than 0.6 Å at t = 2.4 ps"])
    assert len(table) == 4
    failed = table[table.temperature_K == 450.0]
    assert (failed.regime == "run failed").all() and not failed.converged.any()
    assert failed.message.str.contains("closer than 0.6").all() and failed.w0.isna().all()
    assert table[table.temperature_K == 350.0].converged.all()


def test_a_pure_exponential_acf_is_the_overdamped_limit():
    from softlattice.analysis.dho import DHOFit
    lags = np.arange(0, 2.0, 0.005)
    fit = fit_dho(lags, np.exp(-lags / 0.3))  # no oscillation at all
    assert fit.converged and fit.regime.startswith("overdamped")
    assert fit.w0 ** 2 / fit.gamma == pytest.approx(1 / 0.3, rel=0.05)  # the relaxation rate is determined
    # a fit whose w0 and gamma are not separately determined says so
    assert DHOFit(80.0, 13000.0, 15000.0, 5e6, 1.0, True).regime == "overdamped (limit)"
    assert DHOFit(5.0, 1.0, 10.0, 10.0, 1.0, True).regime == "undetermined"
    assert DHOFit(5.0, 1.0, 0.1, 0.1, 1.0, True).regime == "underdamped"


def test_damping_ratios_keep_only_separable_fits_of_finished_runs():
    import pandas as pd

    from softlattice.perovskite.workflows.damping import damping_ratios
    fits = pd.DataFrame(dict(fa_fraction=[0.0, 0.0, 0.5, 0.5], temperature_K=300.0, family=["M", "R", "M", "R"],
                             w0=[2.0, 1.0, 1.0, np.nan], gamma=[2.0, 8.0, 1.0, np.nan],
                             w0_error=[0.1, 2.0, 0.1, np.nan], gamma_error=[0.1, 9.0, 0.1, np.nan],
                             regime=["underdamped", "overdamped (limit)", "underdamped", "run failed"]))
    ratios = damping_ratios(fits)
    assert ratios.loc[(0.0, 300.0), "M"] == 0.5 and ratios.loc[(0.5, 300.0), "M"] == 0.5
    assert "R" not in ratios.columns  # the only finished R fit is not separable: no ratio


def test_damping_grid_starts_above_each_boundary_and_refuses_a_boundary_above_the_top():
    from softlattice.perovskite.workflows.boundaries import NoCubicPhase
    from softlattice.perovskite.workflows.damping import damping_grid
    tasks = damping_grid({0.0: 380.0, 1.0: 300.0}, top_K=600.0, count=4)
    assert [t.temperature for t in tasks[:4]] == pytest.approx([400.0, 466.67, 533.33, 600.0], abs=0.01)
    assert not any(t.below_transition for t in tasks)
    with pytest.raises(NoCubicPhase, match="x = 0.5: the cubic boundary 590 K"):
        damping_grid({0.5: 590.0})


def test_equilibrated_nvt_runs_at_the_mean_npt_cell_and_runs_below_the_transition_are_not_fitted(tmp_path):
    from softlattice.infra.paths import DATA_DIR
    from softlattice.perovskite.workflows.damping import DampingTask, joint_damping_table, run_damping_task
    model = DATA_DIR / "models" / "mafa-chgnet-r2scan" / "nep.txt"
    task = DampingTask(0.0, 400.0, repeat=2, npt_ps=0.2, nvt_ps=0.3, sample_interval=4)
    observations = run_damping_task(task, model, tmp_path)
    assert np.ptp(observations.volume_per_cell_A3) < 1e-6  # NVT: one cell throughout
    again = run_damping_task(task, model, tmp_path)
    assert again.equals(observations)
    cold = DampingTask(0.0, 200.0, cubic_boundary_K=350.0, repeat=2)
    table = joint_damping_table([cold, task], [observations, None], max_lag_ps=0.05, failures=[None, "boom"])
    assert set(table[table.temperature_K == 200.0].regime) == {"below transition"}
    assert set(table[table.temperature_K == 400.0].regime) == {"run failed"}


def test_end_member_boundaries_interpolate_the_heating_boundaries_and_need_both_end_members():
    import pandas as pd

    from softlattice.perovskite.workflows.boundaries import NoCubicPhase, end_member_boundaries

    def ramp(x, kind, replica, temperature):
        phases = ("a0a0c-", "a0a0a0") if kind == "heating" else ("a0a0a0", "a0a0c-")
        return dict(fa_fraction=x, kind=kind, replica=replica, repeat=6, rate_K_per_ps=5.0, from_phase=phases[0],
                    to_phase=phases[1], temperature_K=temperature, resolution_K=5.0)

    transitions = pd.DataFrame([ramp(0.0, "heating", 0, 380.0), ramp(0.0, "heating", 1, 400.0),
                                ramp(0.0, "cooling", 0, 250.0), ramp(1.0, "heating", 0, 300.0)])
    boundaries = end_member_boundaries(transitions, [0.0, 0.25, 1.0])
    assert boundaries == pytest.approx({0.0: 390.0, 0.25: 367.5, 1.0: 300.0})
    with pytest.raises(NoCubicPhase, match="no heating ramp of x = 1 reaches"):
        end_member_boundaries(transitions[transitions.fa_fraction == 0.0], [0.0])
    # a heating ramp classified against a tilted reference is no boundary either
    tilted = transitions.assign(reference_tilt=np.where(transitions.fa_fraction == 1.0, "Q_M_y +0.27 Å", ""))
    with pytest.raises(NoCubicPhase, match="no heating ramp of x = 1 reaches"):
        end_member_boundaries(tilted, [0.0, 1.0])


def test_the_end_member_crossings_are_told_per_composition_and_ramp():
    import pandas as pd

    from softlattice.perovskite.workflows.boundaries import crossings_text
    boundary = pd.DataFrame(dict(fa_fraction=[1.0, 0.5, 0.5], kind=["cooling", "heating", "heating"],
                                 temperature_K=[545.0, 390.0, 410.0]))
    text = crossings_text(boundary, [0.0, 0.5, 1.0], pd.Series({0.0: "Q_R_z +0.06 Å"}), 100.0, 600.0)
    assert text == ("x = 0: still tilted at the top, 600 K (Q_R_z +0.06 Å); "
                    "x = 0.5: heating 400 K, cooling still cubic at 100 K; "
                    "x = 1: heating still tilted at 600 K, cooling 545 K")


def test_damping_ratio_errors_propagate_from_the_fit_and_only_the_chosen_window_counts():
    import pandas as pd

    from softlattice.perovskite.workflows.damping import damping_ratio_table
    fits = pd.DataFrame(dict(fa_fraction=0.0, temperature_K=[400.0, 400.0, 400.0], family="M", factor=[1.0, 1.5, 1.0],
                             w0=[2.0, 2.0, np.nan], gamma=[8.0, 6.0, np.nan], w0_error=[0.2, 0.2, np.nan],
                             gamma_error=[0.4, 0.4, np.nan], converged=[True, True, False]))
    table = damping_ratio_table(fits)
    assert len(table) == 1 and table.damping_ratio.iloc[0] == pytest.approx(2.0)
    assert table.damping_ratio_error.iloc[0] == pytest.approx(2.0 * np.hypot(0.05, 0.1))


def test_quick_damping_map_runs_in_shares_and_is_summarised_only_when_every_run_is_done(tmp_path, monkeypatch):
    import json

    import pandas as pd

    import softlattice.perovskite.workflows.damping as workflow
    from softlattice.infra.paths import DATA_DIR
    from softlattice.infra.profiles import resolve
    model = DATA_DIR / "models" / "mafa-chgnet-r2scan" / "nep.txt"
    settings = resolve("04_damping_map", "quick")
    boundaries = workflow.cubic_boundaries(settings, model)
    tasks = workflow.damping_map_tasks(settings, boundaries)
    assert [(t.fa_fraction, t.temperature) for t in tasks] == [(0.0, 370.0), (0.0, 450.0), (1.0, 370.0), (1.0, 450.0)]
    with pytest.raises(ValueError, match="has not run yet"):
        workflow.save_damping_map(tmp_path / "early", tasks, model, tmp_path / "store", 0.1, [1.0])
    for part in ((0, 2), (1, 2)):
        workflow.run_damping_map(tasks, model, tmp_path / "store", part)
    summary = workflow.save_damping_map(tmp_path / "map", tasks, model, tmp_path / "store", settings["max_lag_ps"],
                                        settings["factors"])
    fits = pd.read_csv(tmp_path / "map" / "fits.csv")
    assert set(zip(fits.fa_fraction, fits.temperature_K)) == {(t.fa_fraction, t.temperature) for t in tasks}
    assert summary["runs"] == 4 and json.loads((tmp_path / "map" / "summary.json").read_text())["boundaries_K"] == \
        {"0": 350.0, "1": 350.0}
    monkeypatch.setattr(workflow, "run_damping_map", lambda *a, **k: pytest.fail("a page started the full map"))
    full = resolve("04_damping_map", "full")
    assert workflow.obtain_damping_map(full, model, {x: 300.0 for x in full["fa_fractions"]}, compute=False) is None
    with pytest.raises(ValueError, match=r"no cubic boundary for x = \[0.25"):
        workflow.damping_map_tasks(full, {0.0: 300.0, 1.0: 300.0})
