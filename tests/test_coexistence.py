"""Coexistence cells and the block classifier: halves built as asked, labels of synthetic states,
the early-stop rule, the equal M/R threshold."""

import numpy as np
import pandas as pd
import pytest

from softlattice.perovskite.coexistence import (
    BlockThreshold,
    LocalTiltObserver,
    block_labels,
    block_noise_threshold,
    block_states,
    build_coexistence_cell,
    coexistence_winner,
    initial_order_threshold,
    initial_state_seen,
    one_tilt_holds,
)
from softlattice.perovskite.modes import MODES
from softlattice.perovskite.phases import classify_windows


@pytest.fixture(scope="module")
def cell():
    return build_coexistence_cell(0.5, (4, 4, 8), seed=3)


def test_lower_half_is_out_of_phase_and_upper_half_in_phase(cell):
    amplitudes = np.array(list(LocalTiltObserver(cell)(cell).values())).reshape(6, 2, 2, 4)
    r_z, m_z = amplitudes[MODES.index("R_z")], amplitudes[MODES.index("M_z")]
    assert np.all(np.abs(r_z[:, :, :2]) > 0.3) and np.all(np.abs(m_z[:, :, :2]) < 0.05)  # z < 4: c-
    assert np.all(np.abs(m_z[:, :, 2:]) > 0.3) and np.all(np.abs(r_z[:, :, 2:]) < 0.05)  # z >= 4: c+
    others = np.delete(amplitudes, [MODES.index("R_z"), MODES.index("M_z")], axis=0)
    assert np.abs(others).max() < 0.05
    assert cell.info["interfaces_z"] == [0, 4] and set(cell.arrays["half"]) == {0, 1}
    assert len(cell) == 4 * 4 * 8 * 12


def test_bad_cells_are_refused_before_building():
    with pytest.raises(ValueError, match=r"repeat \(4, 4, 6\) cannot hold two halves"):
        build_coexistence_cell(0.5, (4, 4, 6))
    with pytest.raises(ValueError, match="not a single-axis tilt phase"):
        build_coexistence_cell(0.5, (4, 4, 8), upper="a-a-c+")
    with pytest.raises(ValueError, match="fa_fraction|FA fraction"):
        build_coexistence_cell(1.5, (4, 4, 8))


def synthetic(r_blocks, m_blocks, n_blocks=8, samples=40, noise=0.02, amplitude=0.3, seed=0, axis="z",
              flipping=()):
    """Observations of ``samples`` frames at 250 K: blocks in r_blocks hold R about ``axis``, in
    m_blocks M, blocks in ``flipping`` tilt by ``amplitude`` with a random sign every sample
    (disordered), the rest only noise."""
    rng = np.random.default_rng(seed)
    data = {"time_ps": 0.05 * np.arange(1, samples + 1), "target_K": np.full(samples, 250.0)}
    for m, mode in enumerate(MODES):
        for k in range(n_blocks):
            value = rng.normal(0, noise, samples)
            if (mode == f"R_{axis}" and k in r_blocks) or (mode == f"M_{axis}" and k in m_blocks):
                value += amplitude
            if mode == f"R_{axis}" and k in flipping:
                value += amplitude * rng.choice([-1.0, 1.0], samples)
            data[f"q_{mode}_b{k}"] = value
    return pd.DataFrame(data)


def test_labels_follow_the_synthetic_state_with_one_threshold_for_m_and_r():
    reference = synthetic([], [], samples=200, seed=1)
    threshold = block_noise_threshold(reference, window=10)
    assert 0 < threshold.threshold < 0.1
    states = block_states(synthetic([0, 1, 2, 3, 4, 5], [6]), threshold, grid=(2, 2, 2))
    assert np.allclose(states.share_R, 6 / 8) and np.allclose(states.share_M, 1 / 8)
    assert np.allclose(states.share_none, 1 / 8) and np.allclose(states.r_share, 6 / 7)
    # blocks in C order of the grid, z fastest: layer 0 holds blocks 0, 2, 4, 6; layer 1 blocks 1, 3, 5, 7
    assert np.allclose(states.r_share_layer0, 3 / 4) and np.allclose(states.r_share_layer1, 1.0)
    assert np.allclose(states.r_fraction_layer0, 3 / 4) and np.allclose(states.m_fraction_layer0, 1 / 4)
    assert np.allclose(states.r_fraction_layer1, 3 / 4) and np.allclose(states.m_fraction_layer1, 0.0)  # one untilted
    untilted = block_states(synthetic([], []), threshold, grid=(2, 2, 2))
    assert np.allclose(untilted.share_none, 1.0) and coexistence_winner(untilted)["winner"] == "untilted"
    # the same amplitude is active in either family: no family is favoured by its threshold
    labels = block_labels(np.array([[[0.0], [0.0], [0.06], [0.0], [0.0], [0.0]],
                                    [[0.0], [0.0], [0.0], [0.0], [0.0], [0.06]]]), 0.05)
    assert labels.ravel().tolist() == ["M", "R"]


def test_early_stop_needs_the_share_held_for_the_whole_span():
    states = pd.DataFrame(dict(time_ps=np.arange(1.0, 11.0), share_R=[0.5] * 4 + [0.95] * 6,
                               share_M=[0.5] * 4 + [0.05] * 6))
    assert one_tilt_holds(states, 0.9, 5.0) == "a0a0c-"
    assert one_tilt_holds(states.iloc[:8], 0.9, 5.0) is None
    flipped = states.rename(columns=dict(share_R="share_M", share_M="share_R"))
    assert one_tilt_holds(flipped, 0.9, 5.0) == "a0a0c+"


def test_a_run_calibrated_on_its_own_first_window_sees_its_halves_and_follows_the_growing_tilt():
    # grid (2, 2, 2), z fastest: blocks 0, 2, 4, 6 form the lower half (built c-), 1, 3, 5, 7 the upper (c+)
    built = synthetic([0, 2, 4, 6], [1, 3, 5, 7], samples=40, noise=0.02, amplitude=0.3, seed=4)
    threshold = initial_order_threshold(built, window=10, grid=(2, 2, 2))
    assert threshold.threshold == pytest.approx(0.15, abs=0.01) and threshold.at(250.0) == threshold.threshold
    assert initial_state_seen(block_states(built, threshold, (2, 2, 2))) == (1.0, True)
    # the c+ half takes over the lower layer at reduced amplitude; an R remnant too weak to count
    grown = pd.concat([built, synthetic([], range(8), samples=40, amplitude=0.2, seed=5)
                       .assign(time_ps=lambda f: f.time_ps + 2.0)], ignore_index=True)
    for k in (0, 2):
        grown.loc[40:, f"q_R_z_b{k}"] += 0.1
    states = block_states(grown, initial_order_threshold(grown, 10, (2, 2, 2)), (2, 2, 2))
    assert np.allclose(states.r_share.iloc[-4:], 0.0) and coexistence_winner(states, 2.0)["winner"] == "a0a0c+"
    # a cell built the other way round is calibrated on the other modes
    swapped = initial_order_threshold(built, 10, (2, 2, 2), lower="a0a0c+")
    assert swapped.threshold < 0.05
    with pytest.raises(ValueError, match="grid"):
        initial_order_threshold(built, 10, (2, 2, 4))
    with pytest.raises(ValueError, match="share 1.5"):
        initial_order_threshold(built, 10, (2, 2, 2), share=1.5)


def test_a_cell_that_takes_one_family_about_another_axis_stops_and_is_read_up_to_the_stop():
    from softlattice.perovskite.coexistence import stopping_time
    threshold = BlockThreshold(0.1, 250.0, 10)
    halves = synthetic([0, 2, 4, 6], [1, 3, 5, 7], samples=40, seed=6)
    # then every block tilts in phase, half of them about y: no single-axis label reaches 90 %
    in_phase = synthetic([], [1, 3, 5, 7], samples=120, seed=7).assign(time_ps=lambda f: f.time_ps + 2.0)
    for k in (0, 2, 4, 6):
        in_phase[f"q_M_y_b{k}"] += 0.3
    states = block_states(pd.concat([halves, in_phase], ignore_index=True), threshold, (2, 2, 2))
    assert np.allclose(states.share_M_family.iloc[-1], 1.0) and np.allclose(states.share_M.iloc[-1], 0.5)
    assert one_tilt_holds(states, 0.9, 2.0) == "in phase"
    stop = stopping_time(states, 0.9, 2.0)
    assert stop == pytest.approx(4.0)  # in-phase windows from 2.0 ps on (0.5 ps each): held for 2 ps at 4.0 ps
    assert one_tilt_holds(states[states.time_ps < stop], 0.9, 2.0) is None
    assert stopping_time(states.iloc[:4], 0.9, 2.0) is None


def test_threshold_scales_as_a_thermal_amplitude():
    assert BlockThreshold(0.1, 400.0, 10).at(100.0) == pytest.approx(0.05)


def test_a_cell_of_unordered_large_tilts_is_disordered_not_untilted():
    threshold = block_noise_threshold(synthetic([], [], samples=400, seed=1), window=40)  # windows as in production
    states = block_states(synthetic([0], [], flipping=range(1, 8), samples=160, seed=2), threshold, grid=(2, 2, 2))
    assert np.allclose(states.share_disordered, 7 / 8) and np.allclose(states.share_R, 1 / 8)
    assert coexistence_winner(states)["winner"] == "disordered"


def test_the_tilt_axis_is_found_whichever_axis_the_cell_picks():
    threshold = block_noise_threshold(synthetic([], [], samples=200, seed=1), window=10)
    states = block_states(synthetic([0, 1, 2, 3, 4], [5, 6, 7], axis="x", seed=3), threshold, grid=(2, 2, 2))
    assert set(states.tilt_axis) == {"x"} and np.allclose(states.share_R, 5 / 8)
    assert np.allclose(states.share_M, 3 / 8) and np.allclose(states.share_other, 0.0)


def test_a_cell_whose_domains_cancel_is_multi_domain_never_cubic():
    from softlattice.perovskite.phases import noise_thresholds
    from softlattice.perovskite.workflows.phase_diagram import with_block_states

    def with_globals(frame, seed):
        rng = np.random.default_rng(seed)
        for mode in MODES:  # the global amplitude is the mean over blocks
            frame[f"Q_{mode}"] = frame[[f"q_{mode}_b{k}" for k in range(8)]].mean(axis=1) + rng.normal(0, 0.01, len(frame))
        return frame.assign(a_A=6.3, b_A=6.3, c_A=6.3)

    reference = with_globals(synthetic([], [], samples=400, seed=1), 1)
    domains = synthetic([0, 1, 2, 3, 4, 5, 6, 7], [], samples=160, seed=2)
    for k in range(4):  # half the blocks tilt the other way: the global R_z cancels
        domains[f"q_R_z_b{k}"] -= 0.6
    domains = with_globals(domains, 3)
    windows = classify_windows(domains, noise_thresholds(reference, 40))
    assert set(windows.phase) == {"a0a0a0"}  # the global amplitudes alone read cubic
    labelled = with_block_states(windows, domains, reference, 40, 5.0, repeat=4)
    assert set(labelled.phase) == {"multi-domain"} and np.allclose(labelled.blocks_R, 1.0)


def test_a_layered_cell_is_told_from_one_that_only_passes_through_layers():
    from softlattice.perovskite.coexistence import layered_windows, layering_summary
    times = np.arange(1.0, 21.0)

    def layers(r_fractions, m_fractions):
        return pd.DataFrame(dict(time_ps=times, **{f"r_fraction_layer{k}": v for k, v in enumerate(r_fractions)},
                                 **{f"m_fraction_layer{k}": v for k, v in enumerate(m_fractions)}))

    kept = layers([1.0, 0.0, 0.25], [0.0, 1.0, 0.25])
    passing = layers([1.0, np.where(times < 8, 0.0, 1.0), 0.5], [0.0, np.where(times < 8, 1.0, 0.0), 0.5])
    # one R block among blocks tilted about another axis is not an R layer (its R share would be 1)
    lone = layers([0.25, 0.0, 0.0], [0.0, 1.0, 1.0])
    assert layered_windows(kept).all() and layered_windows(passing).sum() == 7 and not layered_windows(lone).any()
    runs = pd.concat([kept.assign(fa_fraction=0.25, temperature_K=250.0, kind="coexistence", replica=0),
                      passing.assign(fa_fraction=0.5, temperature_K=250.0, kind="coexistence", replica=0),
                      lone.assign(fa_fraction=1.0, temperature_K=250.0, kind="coexistence", replica=0)])
    summary = layering_summary(runs, last_ps=10.0).set_index("fa_fraction")
    assert summary.layered_share[0.25] == 1.0 and summary.layered_share[0.5] == 0.0
    assert summary.layered_share[1.0] == 0.0 and summary.r_layers_at_end[1.0] == 0
    # over the whole run: the passing cell was layered for its first 7 ps only
    assert (summary.layered_ps[0.5], summary.last_layered_ps[0.5], summary.run_ps[0.5]) == (7.0, 7.0, 20.0)
    assert summary.layered_ps[0.25] == 20.0 and np.isnan(summary.last_layered_ps[1.0])
    assert (summary.r_layers_at_end[0.25], summary.m_layers_at_end[0.25]) == (1, 1)
    assert (summary.r_layers_at_end[0.5], summary.m_layers_at_end[0.5]) == (2, 0)
    with pytest.raises(ValueError, match="ordered share 0.4"):
        layered_windows(kept, ordered=0.4)
    with pytest.raises(ValueError, match="no per-layer block fractions"):
        layered_windows(pd.DataFrame(dict(time_ps=times, r_share_layer0=1.0)))


def test_the_compositions_next_to_the_mpb_come_from_the_fit_or_else_from_the_balance():
    from softlattice.perovskite.coexistence import compositions_near_mpb
    outcomes = pd.DataFrame(dict(fa_fraction=[0.0, 0.25, 0.5, 0.75, 1.0, 0.5], temperature_K=250.0,
                                 kind="coexistence", r_share=[1.0, 0.9, 0.6, 0.2, 0.0, 0.55]))
    assert compositions_near_mpb(outcomes, dict(center=0.62), 250.0) == [0.5, 0.75]
    assert compositions_near_mpb(outcomes, None, 250.0) == [0.5, 0.75]
    assert compositions_near_mpb(outcomes, None, 300.0) == []
