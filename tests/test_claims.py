"""The results-at-a-glance page: every claim's data are committed, the verdict rule does what its
docstring says, and every chapter link points to a page of the book."""

import math

import pytest

from softlattice.book import claims
from softlattice.book.build import chapters_in_toc
from softlattice.book.claims import CLAIMS, Claim, Measurement, decide, decide_bound, decide_category, decide_number

MEASURED = [c for c in CLAIMS if c.reader is not None]


def finite(*values):
    return all(v is not None and math.isfinite(v) for v in values)


@pytest.mark.parametrize("claim", MEASURED, ids=[f"{c.figure}: {c.quantity}" for c in MEASURED])
def test_every_measured_claim_reads_its_value_from_committed_data(claim):
    measurement = claim.reader()  # a missing result set or table raises here
    assert isinstance(measurement, Measurement), f"{claim.quantity}: the committed data give no measurement"
    assert measurement.shown
    if not measurement.resolved:
        assert decide(claim, measurement) == claims.Verdict("not resolved", measurement.context)
        assert measurement.context, f"{claim.quantity}: unresolved without saying which check"
    elif claim.kind == "category":
        assert measurement.observations, f"{claim.quantity}: no observation in the committed data"
    elif measurement.found:
        assert finite(measurement.value), f"{claim.quantity}: our value is {measurement.value}"
    if claim.kind == "number" and measurement.found and measurement.resolved:
        assert finite(measurement.low, measurement.high)
        assert measurement.low <= measurement.value <= measurement.high
    assert decide(claim, measurement).label != "not measured"


def test_claims_without_data_say_which_chapter_would_measure_them():
    for claim in CLAIMS:
        if claim.reader is None:
            assert "chapter" in claim.pending
            assert decide(claim, None).label == "not measured"


def test_every_result_set_the_readers_use_is_committed():
    for folder in [*claims.RESULT_SETS.values()]:
        assert (folder / "provenance.json").is_file(), f"{folder} has no committed result set"
    assert claims.CAP_SEED_TABLE.is_file()


def test_the_table_has_one_row_per_claim_and_only_known_verdicts():
    table = claims.results_table()
    assert len(table) == len(CLAIMS)
    assert set(table.verdict) <= set(claims.VERDICTS)
    assert not table.ours.str.contains("nan").any()
    assert claims.verdict_counts(table).to_numpy().sum() == len(CLAIMS)


def test_every_chapter_link_points_to_a_notebook_in_the_toc():
    in_toc = set(chapters_in_toc())
    for claim in CLAIMS:
        assert claim.chapter in in_toc, f"{claim.quantity}: chapter {claim.chapter!r} is not in _toc.yml"
    assert "results" in in_toc
    html = claims.table_html(claims.results_table(CLAIMS[:1]))
    assert f'href="../notebooks/{CLAIMS[0].chapter}.html"' in html


# the decision rule on synthetic inputs

def test_a_number_inside_a_resolving_interval_is_reproduced():
    inside = Measurement("300 ± 10 K", value=300.0, low=290.0, high=310.0)
    assert decide_number(305.0, inside, tolerance=25.0, unit="K").label == "reproduced"
    assert decide_number((280.0, 295.0), inside, tolerance=25.0).label == "reproduced"  # a range that overlaps


def test_a_number_inside_an_interval_too_wide_to_resolve_it_is_partly():
    wide = Measurement("200-400 K", value=300.0, low=200.0, high=400.0)
    verdict = decide_number(385.0, wide, tolerance=25.0, unit="K")
    assert verdict.label == "partly" and "wider than" in verdict.reason


def test_a_number_within_twice_the_half_width_is_partly_and_farther_is_not_reproduced():
    ours = Measurement("300 ± 10 K", value=300.0, low=290.0, high=310.0)
    assert decide_number(315.0, ours, tolerance=25.0).label == "partly"
    assert decide_number(225.0, ours, tolerance=25.0).label == "not reproduced"


def test_a_quantity_our_data_do_not_show_is_not_reproduced_and_a_missing_number_is_not_measured():
    assert decide_number(0.27, Measurement("no crossover", found=False)).label == "not reproduced"
    assert decide_number(0.27, Measurement("?", value=math.nan, low=0.1, high=0.3)).label == "not measured"


def test_categories_all_some_none_and_missing():
    assert decide_category("a0a0c-", ("a0a0c-", "a0a0c-")).label == "reproduced"
    assert decide_category("a0a0c-", ("a0a0c-", "a0a0c+")).label == "partly"
    assert decide_category("a0a0c-", ("a0a0c+", "a0a0a0")).label == "not reproduced"
    assert decide_category("a0a0c-", ()).label == "not measured"


def test_bounds_compare_errors_and_score_shortfalls():
    assert decide_bound("at_most", 82.0, 60.0).label == "reproduced"
    assert decide_bound("at_most", 82.0, 112.0).label == "partly"
    assert decide_bound("at_most", 8.0, 20.0).label == "not reproduced"
    assert decide_bound("at_least", 0.84, 0.90).label == "reproduced"
    assert decide_bound("at_least", 0.84, 0.70).label == "partly"  # shortfall 0.30 < 2 x 0.16
    assert decide_bound("at_least", 0.84, 0.09).label == "not reproduced"
    assert decide_bound("at_most", 8.0, math.nan).label == "not measured"


def test_a_claim_without_data_is_not_measured_and_a_claim_must_say_why():
    claim = Claim("Ag3SBr/I", "Fig. 0", "something", 1.0, "1", "number", "07_cap_thermal", None,
                  pending="chapter 07 would measure it")
    assert decide(claim, None) == claims.Verdict("not measured", "chapter 07 would measure it")
    with pytest.raises(ValueError, match="no reader"):
        Claim("Ag3SBr/I", "Fig. 0", "something", 1.0, "1", "number", "07_cap_thermal", None)
    with pytest.raises(ValueError, match="unknown claim kind"):
        Claim("Ag3SBr/I", "Fig. 0", "something", 1.0, "1", "roughly", "07_cap_thermal", None, pending="x")


def test_the_page_states_the_rule_of_the_module():
    rule = claims.decision_rule()
    assert rule.startswith("- **not measured**") and "twice the half-width" in rule


def test_a_measurement_its_own_checks_contradict_is_not_resolved_whatever_its_value():
    claim = Claim("Ag3SBr/I", "Fig. 0", "something", 0.5, "0.5", "number", "07_cap_thermal", lambda: None,
                  tolerance=0.1)
    inside = Measurement("0.5", value=0.5, low=0.45, high=0.55)
    assert decide(claim, inside).label == "reproduced"
    contradicted = Measurement("0.5", value=0.5, low=0.45, high=0.55, resolved=False, context="direct checks differ")
    assert decide(claim, contradicted) == claims.Verdict("not resolved", "direct checks differ")


def test_an_unresolved_claims_reason_is_not_repeated(monkeypatch):
    claim = next(c for c in claims.CLAIMS if c.reader is not None)
    contradicted = Measurement("not resolved", resolved=False, context="direct checks differ")
    monkeypatch.setattr(claims, "measure", lambda _: contradicted)
    assert claims.evaluate(claim)["reason"] == "direct checks differ"
