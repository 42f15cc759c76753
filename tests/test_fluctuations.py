"""Band-edge fluctuation statistics, decorrelation time, composition checks, fixed-cell snapshots."""

import numpy as np
import pandas as pd
import pytest

from softlattice.infra.paths import DATA_DIR
from softlattice.perovskite.workflows.band_edges import (
    decorrelation_time,
    edge_statistics,
    md_snapshots,
    representable,
    spread_peak,
)

MODEL = DATA_DIR / "models" / "mafa-chgnet-r2scan" / "nep.txt"


def test_compositions_must_fit_the_cell():
    assert representable(0.125, 2) and representable(0.5, 2) and not representable(0.3, 2)
    with pytest.raises(ValueError, match="not representable in a 2x2x2 cell: use a multiple of 1/8"):
        md_snapshots(MODEL, 0.3, 0, 2, 0.1)
    with pytest.raises(ValueError, match="outside"):
        md_snapshots(MODEL, 1.5, 0, 2, 0.1)


def test_statistics_recover_a_known_spread():
    rng = np.random.default_rng(0)
    edges = pd.DataFrame({"fa_fraction": np.repeat([0.0, 0.5], 400),
                          "vbm": np.concatenate([rng.normal(0, 0.02, 400), rng.normal(0, 0.05, 400)]),
                          "cbm": rng.normal(1.6, 0.03, 800)})
    edges["gap"] = edges.cbm - edges.vbm
    stats = edge_statistics(edges, bootstrap=200).set_index("fa_fraction")
    assert stats.loc[0.0, "vbm_std"] == pytest.approx(0.02, rel=0.1)
    assert stats.loc[0.5, "vbm_std"] == pytest.approx(0.05, rel=0.1)
    # standard error of a standard deviation: sigma / sqrt(2 (n - 1))
    assert stats.loc[0.5, "vbm_std_error"] == pytest.approx(0.05 / np.sqrt(2 * 399), rel=0.3)


def test_a_composition_with_one_snapshot_has_no_spread_and_no_warning():
    import warnings

    edges = pd.DataFrame({"fa_fraction": [0.0, 0.0, 0.5], "vbm": [0.0, 0.1, 0.2], "cbm": [1.6, 1.7, 1.5]})
    edges["gap"] = edges.cbm - edges.vbm
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = edge_statistics(edges, bootstrap=20).set_index("fa_fraction")
    assert np.isnan(stats.loc[0.5, "vbm_std"]) and np.isnan(stats.loc[0.5, "cbm_std_error"])
    assert stats.loc[0.0, "vbm_std"] == pytest.approx(np.std([0.0, 0.1], ddof=1))


def test_decorrelation_time_of_an_exponentially_correlated_signal():
    rng = np.random.default_rng(1)
    dt, tau, n = 0.01, 0.5, 200_000
    decay = np.exp(-dt / tau)
    signal = np.zeros(n)
    for k in range(1, n):
        signal[k] = decay * signal[k - 1] + np.sqrt(1 - decay ** 2) * rng.normal()
    observations = pd.DataFrame({"time_ps": dt * np.arange(n), "Q_R_z": signal})
    assert decorrelation_time(observations, ["Q_R_z"]) == pytest.approx(tau, rel=0.15)


def test_snapshots_keep_the_cell_fixed():
    snapshots, observations = md_snapshots(MODEL, 0.5, 0, 2, 0.05, equilibration_ps=0.1, timestep_fs=1.0)
    assert len(snapshots) == 2
    np.testing.assert_allclose(snapshots[0].cell.array, snapshots[1].cell.array)
    assert not np.allclose(snapshots[0].positions, snapshots[1].positions)
    assert snapshots[0].info["fa_fraction"] == 0.5 and "Q_R_z" in observations


def test_snapshots_come_back_from_a_finished_checkpointed_run(tmp_path):
    first, _ = md_snapshots(MODEL, 0.0, 0, 2, 0.05, equilibration_ps=0.1, timestep_fs=1.0, checkpoint_dir=tmp_path)
    again, _ = md_snapshots(MODEL, 0.0, 0, 2, 0.05, equilibration_ps=0.1, timestep_fs=1.0, checkpoint_dir=tmp_path)
    assert len(first) == len(again) == 2
    np.testing.assert_allclose(first[1].positions, again[1].positions)
    assert again[0].get_chemical_symbols() == first[0].get_chemical_symbols()


def _snapshots(spreads, per_composition=60, arrangements=4, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for x, sigma in spreads.items():
        for k in range(per_composition):
            rows.append(dict(fa_fraction=x, arrangement=k % arrangements, vbm=rng.normal(0.0, sigma)))
    return pd.DataFrame(rows)


def test_spread_peak_recovers_a_synthetic_maximum_and_its_composition():
    edges = _snapshots({0.0: 0.10, 0.25: 0.13, 0.5: 0.20, 0.75: 0.13, 1.0: 0.10})
    peak = spread_peak(edges, "vbm", bootstrap=500, cluster="arrangement")
    assert peak["resolved"] and peak["argmax"] == 0.5
    assert peak["argmax_low"] <= 0.5 <= peak["argmax_high"] and peak["height_low"] > 0


def test_spread_peak_reports_no_peak_for_flat_spreads():
    flat = spread_peak(_snapshots({x: 0.15 for x in (0.0, 0.25, 0.5, 0.75, 1.0)}, seed=3), "vbm", bootstrap=500)
    assert not flat["resolved"] and flat["reason"]
    with pytest.raises(ValueError, match="at least 3 compositions"):
        spread_peak(_snapshots({0.0: 0.1, 1.0: 0.1}), "vbm")


def test_snapshots_closer_than_two_correlation_times_are_refused_naming_the_minimum():
    from softlattice.perovskite.workflows.band_edges import check_spacing
    check_spacing(3.0, 1.2)
    with pytest.raises(ValueError, match=r"spacing 1 ps is shorter than 2 tilt correlation times.*>= 2.40"):
        check_spacing(1.0, 1.2)


def test_a_short_spacing_is_refused_before_the_snapshot_run():
    with pytest.raises(ValueError, match="shorter than 2 tilt correlation times"):
        md_snapshots(MODEL, 0.0, 0, snapshots=2, interval_ps=0.001, equilibration_ps=0.4,
                     min_spacing_correlations=2.0)


def test_the_protocol_temperature_puts_every_composition_in_its_cubic_phase():
    from softlattice.perovskite.workflows.band_edges import protocol_temperature
    assert protocol_temperature({0.0: 380.0, 0.5: 340.0, 1.0: 300.0}, margin_K=20.0) == 400.0
    with pytest.raises(ValueError, match="no cubic boundaries"):
        protocol_temperature({})


def test_the_cubic_protocol_waits_for_the_end_member_ramps_and_a_page_never_starts_it(tmp_path, monkeypatch):
    import softlattice.perovskite.workflows.band_edges as workflow
    from softlattice.infra.profiles import resolve
    quick = workflow.cubic_protocol_settings(resolve("05_band_edges_cubic", "quick"), MODEL)
    assert quick["temperature"] == 320.0
    full = resolve("05_band_edges_cubic", "full")
    assert full["arrangements"] * full["snapshots"] >= 60 and full["min_spacing_correlations"] >= 2
    monkeypatch.setattr(workflow, "snapshot_set", lambda *a, **k: pytest.fail("a page started the snapshots"))
    assert workflow.obtain_band_edges(dict(full, temperature=400.0), MODEL, curated=tmp_path, compute=False) is None


def test_the_cell_size_check_takes_the_cubic_protocols_temperature_in_a_cell_of_192_atoms(tmp_path):
    import softlattice.perovskite.workflows.band_edges as workflow
    from softlattice.infra.profiles import resolve
    assert representable(0.5, (2, 2, 4)) and representable(1 / 16, (2, 2, 4)) and not representable(1 / 16, 2)
    with pytest.raises(ValueError, match="not representable in a 2x2x4 cell: use a multiple of 1/16"):
        md_snapshots(MODEL, 0.3, 0, 2, 0.1, repeat=(2, 2, 4))
    size = workflow.cubic_protocol_settings(resolve("05_band_edges_size", "quick"), MODEL)
    cubic = workflow.cubic_protocol_settings(resolve("05_band_edges_cubic", "quick"), MODEL)
    assert size["temperature"] == cubic["temperature"]
    snapshots, decorrelation = workflow.snapshot_set(MODEL, dict(size, repeat=[2, 2, 4]), work=tmp_path)
    assert [len(a) for a in snapshots] == [192] and snapshots[0].info["n_atoms"] == 192
    assert snapshots[0].info["fa_fraction"] == 0.5 and len(decorrelation) == 1
    full = resolve("05_band_edges_size", "full")
    assert int(np.prod(full["repeat"])) * 12 >= 192 and full["fa_fractions"] == [0.5]


def test_spreads_by_cell_compare_one_composition_and_refuse_mixed_or_missing_cells():
    from softlattice.perovskite.workflows.band_edges import spreads_by_cell
    rng = np.random.default_rng(0)

    def edges(n_atoms, spread, count=2000):
        vbm = rng.normal(0, spread, count)
        return pd.DataFrame(dict(fa_fraction=0.5, n_atoms=n_atoms, vbm=vbm, cbm=1.6 + vbm, cbm_pb_p=1.7 + vbm,
                                 gap=1.6))

    table = spreads_by_cell([edges(96, 0.04), edges(192, 0.04 / np.sqrt(2))], 0.5)
    assert list(table.n_atoms) == [96, 192]
    assert table.ratio_to_first.iloc[1] == pytest.approx(1 / np.sqrt(2), rel=0.1)
    assert table.independent_ratio.iloc[1] == pytest.approx(1 / np.sqrt(2))
    assert table.cbm_pb_p_std.iloc[0] == pytest.approx(table.vbm_std.iloc[0])
    with pytest.raises(ValueError, match="no band edges at x = 0.25"):
        spreads_by_cell([edges(96, 0.04)], 0.25)
    with pytest.raises(ValueError, match=r"mixes cells of \[96, 192\] atoms"):
        spreads_by_cell([pd.concat([edges(96, 0.04), edges(192, 0.03)])], 0.5)


def test_band_edges_computed_on_one_machine_are_restored_on_the_next(tmp_path, monkeypatch):
    import json

    import softlattice.perovskite.workflows.band_edges as workflow
    from softlattice.electronic.band_edges import BandEdgeCache
    monkeypatch.setattr(workflow, "LABELS_CARRIED", tmp_path / "labels")
    monkeypatch.setattr(workflow, "EDGES_STORE", tmp_path / "machine1")
    record = {"vbm": 4.0, "cbm": 5.6, "gap": 1.6}
    (BandEdgeCache(folder=tmp_path / "machine1").folder / "0123456789abcdef.json").write_text(json.dumps(record))
    assert workflow.main(["--model", str(MODEL), "--carry-labels"]) == 0
    monkeypatch.setattr(workflow, "EDGES_STORE", tmp_path / "machine2")
    workflow.main(["--model", str(MODEL), "--carry-labels"])  # any run restores the carried edges first
    restored = BandEdgeCache(folder=tmp_path / "machine2").folder / "0123456789abcdef.json"
    assert json.loads(restored.read_text()) == record
