"""Provenance records decide whether curated results may be reused."""

import pytest

from softlattice.infra.provenance import matches, read_provenance, write_provenance


def test_results_match_only_their_own_parameters_and_inputs(tmp_path):
    write_provenance(tmp_path, parameters={"repeat": 6, "rate": 5.0, "glazers": ["a0a0c+"]},
                     inputs={"model": "abc123"}, command="python -m something")
    record = read_provenance(tmp_path)
    assert record["command"] == "python -m something" and "numpy" in record["versions"]
    assert matches(tmp_path, {"repeat": 6, "rate": 5.0, "glazers": ["a0a0c+"]}, {"model": "abc123"})
    assert not matches(tmp_path, {"repeat": 4, "rate": 5.0, "glazers": ["a0a0c+"]}, {"model": "abc123"})
    assert not matches(tmp_path, {"repeat": 6, "rate": 5.0, "glazers": ["a0a0c+"]}, {"model": "changed"})
    assert not matches(tmp_path / "missing", {}, {})


def test_shares_split_tasks_without_overlap_and_refuse_bad_values():
    import argparse

    from softlattice.infra.shares import parse_share, take_share
    items = list(range(10))
    shares = [take_share(items, parse_share(f"{k}/3")) for k in range(3)]
    assert sorted(sum(shares, [])) == items
    for bad in ("3/3", "-1/2", "a/2", "1", "1/0"):
        with pytest.raises(argparse.ArgumentTypeError, match=repr(bad).strip("'")):
            parse_share(bad)
