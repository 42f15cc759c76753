"""Display rules of the book's figures and tables (softlattice.book.plotting)."""

import numpy as np
import pandas as pd
import pytest

from softlattice.book import plotting


def test_seed_phases_keep_their_colours_and_others_get_distinct_ones():
    labels = ["a0b-c+", "a0a0a0", "a-a-c+", "a0a0c*", "a0a0c+", "a0a0c-", "a0b-c+", "a+b*b*"]
    colors = plotting.phase_colors(labels)
    for phase, color in plotting.SEED_PHASE_COLORS.items():
        assert colors[phase] == color
    assert len(set(colors.values())) == len(colors) == 7
    assert colors == plotting.phase_colors(reversed(labels))  # order of appearance does not matter
    # the commonest extra phase gets the first extra colour; ties go alphabetically
    assert colors["a0b-c+"] == plotting.OTHER_PHASE_COLORS[0]
    assert plotting.phase_order(labels) == ["a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+", "a0b-c+", "a+b*b*", "a0a0c*"]
    many = plotting.phase_colors([f"p{k:02d}" for k in range(len(plotting.OTHER_PHASE_COLORS) + 1)])
    assert many["p00"] == many[f"p{len(plotting.OTHER_PHASE_COLORS):02d}"]  # reused, not an error


def test_sequential_colours_follow_the_order_of_the_values():
    colors = plotting.sequential_colors([600, 100, 300, 100])
    assert list(colors) == [100, 300, 600]
    assert colors[100] != colors[600]
    assert len(plotting.sequential_colors([5])) == 1 and plotting.sequential_colors([]) == {}


def test_phase_segments_merge_consecutive_windows_and_tile_the_range():
    windows = pd.DataFrame(dict(fa_fraction=0.0, kind="cooling", replica=0,
                                temperature_K=[400.0, 350.0, 300.0, 250.0, 200.0],
                                phase=["a0a0a0", "a0a0a0", "a0a0c-", "a0a0a0", "a0a0c-"]))
    segments = plotting.phase_segments(windows)
    assert segments.phase.tolist() == ["a0a0c-", "a0a0a0", "a0a0c-", "a0a0a0"]
    assert segments.temperature_low.tolist() == [175.0, 225.0, 275.0, 325.0]
    assert segments.temperature_high.tolist() == [225.0, 275.0, 325.0, 425.0]
    assert segments.windows.tolist() == [1, 1, 1, 2]
    single = plotting.phase_segments(windows.iloc[:1])
    assert single.temperature_low.iloc[0] < 400.0 < single.temperature_high.iloc[0]


def test_phase_diagram_has_one_trace_per_phase_and_the_boundary_markers():
    windows = pd.DataFrame([dict(fa_fraction=x, kind=k, replica=r, temperature_K=t,
                                 phase="a0a0a0" if t > 250 else ("a0a0c-" if x == 0 else "a0a0c+"))
                            for x in (0.0, 1.0) for k in ("heating", "cooling") for r in (0, 1)
                            for t in (100.0, 200.0, 300.0, 400.0)])
    boundary = pd.DataFrame(dict(fa_fraction=[0.0, 1.0], kind=["heating", "cooling"], temperature_K=[250.0, 250.0],
                                 error_K=[10.0, 10.0]))
    figure = plotting.phase_diagram_figure(windows, boundary)
    names = [trace.name for trace in figure.data]
    assert names == ["a0a0a0", "a0a0c-", "a0a0c+", "cubic boundary, heating", "cubic boundary, cooling"]
    heating_marker, cooling_marker = figure.data[-2:]
    assert heating_marker.x[0] < 0.0 and cooling_marker.x[0] > 1.0  # beside the strips of their direction


def test_unresolved_fits_and_axis_ranges():
    values = np.array([2.0, 3.0, 0.5, np.nan])
    errors = np.array([0.1, 6000.0, 0.49, 0.1])
    assert plotting.resolved(values, errors).tolist() == [True, False, True, False]
    assert plotting.padded_range([0.0, 10.0], [np.nan], pad=0.1) == [-1.0, 11.0]
    low, high = plotting.padded_range([2.0])
    assert low < 2.0 < high
    with pytest.raises(ValueError, match="no finite values"):
        plotting.padded_range([np.nan])


def test_small_multiples_lists_each_series_once():
    table = pd.DataFrame([dict(x=x, T=t, time=s, gap=1.0 + s) for x in (0.0, 0.5, 1.0, 0.25)
                          for t in (100, 300) for s in (0.0, 1.0)])
    figure = plotting.small_multiples(table, "x", "T", "time", "gap", columns=2)
    assert len(figure.data) == 8
    assert sum(trace.showlegend for trace in figure.data) == 2


def test_markdown_table_escapes_pipes_and_marks_missing_values():
    table = pd.DataFrame(dict(name=["a|b", "c", "d", "e", "f"], value=[1.23456, np.nan, 350.0, 0.25, -1.9967]))
    text = plotting.markdown_table(table, digits=2).data
    assert text.splitlines()[0] == "| name | value |"
    assert "a\\|b | 1.23" in text and "| c | – |" in text and "| d | 350 |" in text and "| e | 0.25 |" in text
    assert "| f | -2 |" in text  # rounded to a whole number: no dangling point


def test_deeply_overdamped_fits_show_bounds_not_numbers():
    # a fit of the committed damping set: only w0^2/gamma is determined
    shown = plotting.describe_dho_fit(92.766, 21140.812, 57001.348, 2.59766e7, "overdamped (limit)")
    rate = 92.766 ** 2 / 21140.812
    assert shown["regime"] == f"overdamped, γ unresolved (> {2 * rate:.2g})"
    assert "21140" not in "".join(shown.values())
    resolved_fit = plotting.describe_dho_fit(1.176, 2.657, 0.014, 0.076, "overdamped")
    assert resolved_fit == dict(w0="1.18 ± 0.01", gamma="2.66 ± 0.08", regime="overdamped")
    assert plotting.describe_dho_fit(np.nan, np.nan, np.nan, np.nan, "run failed")["gamma"] == "–"


def test_slow_decay_rate_is_exact_and_bounds_the_parameters():
    w0, gamma = 3.0, 10.0
    rate = plotting.slow_decay_rate(w0, gamma)
    assert rate == pytest.approx(gamma / 2 - np.sqrt(gamma ** 2 / 4 - w0 ** 2))
    assert w0 >= rate and gamma >= 2 * rate
    assert plotting.slow_decay_rate(1.0, 1e8) == pytest.approx(1e-8, rel=1e-6)
    assert np.isnan(plotting.slow_decay_rate(3.0, 1.0))


def test_dho_fit_table_keeps_the_run_keys():
    fits = pd.DataFrame(dict(fa_fraction=[0.0, 1.0], temperature_K=[350.0, 450.0], family=["M", "R"],
                             w0=[1.18, 79.7], gamma=[2.66, 13110.0], w0_error=[0.01, 15768.0],
                             gamma_error=[0.08, 5.2e6], regime=["overdamped", "overdamped (limit)"]))
    table = plotting.dho_fit_table(fits)
    assert list(table.columns) == ["fa_fraction", "temperature_K", "family", "ω0 (rad/ps)", "γ (rad/ps)", "regime"]
    assert table.regime.iloc[1].startswith("overdamped, γ unresolved (> ")


def test_low_frequency_range_keeps_the_imaginary_branches_in_view():
    assert plotting.low_frequency_range([-1.0, 0.5, 95.0], upper_THz=4.0) == [-1.1, 4.0]
    assert plotting.low_frequency_range([0.2, 95.0], upper_THz=4.0, pad=0.2) == [-0.2, 4.0]


def test_dispersion_marks_imaginary_bands_and_groups_models():
    bands = pd.DataFrame([dict(distance=d, band=b, frequency_THz=f, segment=s, model=m)
                          for m in ("reference", "fine-tuned") for b, f in ((0, -1.0), (1, 2.0))
                          for d, s in ((0.0, "Γ-X"), (0.5, "Γ-X"), (0.5, "X-M"), (1.0, "X-M"))])
    plain = plotting.dispersion_figure(bands[bands.model == "reference"], y_range=[-2, 4])
    assert [trace.line.color for trace in plain.data] == ["#e6550d", "#3182bd"]
    assert list(plain.layout.xaxis.ticktext) == ["Γ", "X", "M"] and list(plain.layout.yaxis.range) == [-2, 4]
    grouped = plotting.dispersion_figure(bands, group="model", colors={"reference": "black", "fine-tuned": "red"})
    assert sum(trace.showlegend for trace in grouped.data) == 2


def test_tables_render_as_html_in_the_book_and_cut_nothing():
    long = "phases at 250 K on cooling: " + "; ".join(f"x = {x}: a0a0a0" for x in range(12))
    table = plotting.markdown_table(pd.DataFrame(dict(quantity=["MPB"], this_page=[long])))
    html = table._repr_html_()
    assert "<table" in html and long in html and "..." not in html
    assert table._repr_markdown_().splitlines()[1] == "|---|---|"


def test_coexistence_figures_have_a_line_per_run_and_a_row_per_layer():
    import pandas as pd

    from softlattice.book.plotting import coexistence_figure, layer_map_figure
    states = pd.DataFrame(dict(fa_fraction=[0.0] * 3 + [1.0] * 3, temperature_K=250.0, replica=0,
                               time_ps=[1.0, 2.0, 3.0] * 2, r_share=[0.5, 0.7, 0.9, 0.5, 0.3, 0.1],
                               r_share_layer0=[1, 1, 1, 1, 0, 0], r_share_layer1=[0, 0.5, 1, 0, 0, 0]))
    assert len(coexistence_figure(states).data) == 2
    heatmap = layer_map_figure(states[states.fa_fraction == 0.0]).data[0]
    assert heatmap.z.shape == (2, 3) and list(heatmap.z[1]) == [0, 0.5, 1]


def test_ramp_modes_figure_has_six_modes_and_three_lengths_per_ramp_and_a_row_per_composition():
    rows = []
    for x in (0.0, 1.0):
        for kind in ("heating", "cooling"):
            for t in (100.0, 200.0):
                rows.append(dict(fa_fraction=x, kind=kind, replica=0, temperature_K=t, a_A=6.3, b_A=6.3, c_A=6.3,
                                 **{f"abs_Q_{m}": 0.1 for m in ("M_x", "M_y", "M_z", "R_x", "R_y", "R_z")}))
    figure = plotting.ramp_modes_figure(pd.DataFrame(rows), [0.0, 1.0])
    assert len(figure.data) == 2 * 2 * (6 + 3)
    assert {trace.line.dash for trace in figure.data} == {"solid", "dash"}
    assert [a.text for a in figure.layout.annotations] == ["modes, x = 0", "lattice, x = 0", "modes, x = 1",
                                                          "lattice, x = 1"]
