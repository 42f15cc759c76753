"""Provenance records decide whether curated results may be reused."""

from softlattice.provenance import matches, read_provenance, write_provenance


def test_results_match_only_their_own_parameters_and_inputs(tmp_path):
    write_provenance(tmp_path, parameters={"repeat": 6, "rate": 5.0, "glazers": ["a0a0c+"]},
                     inputs={"model": "abc123"}, command="python -m something")
    record = read_provenance(tmp_path)
    assert record["command"] == "python -m something" and "numpy" in record["versions"]
    assert matches(tmp_path, {"repeat": 6, "rate": 5.0, "glazers": ["a0a0c+"]}, {"model": "abc123"})
    assert not matches(tmp_path, {"repeat": 4, "rate": 5.0, "glazers": ["a0a0c+"]}, {"model": "abc123"})
    assert not matches(tmp_path, {"repeat": 6, "rate": 5.0, "glazers": ["a0a0c+"]}, {"model": "changed"})
    assert not matches(tmp_path / "missing", {}, {})
