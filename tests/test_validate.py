"""Short CsPbI3 validation run (the full one is `make validate`)."""

from pathlib import Path

import pytest

from softlattice.perovskite.workflows.cspbi3 import ValidationSettings, format_report, main, validate_cspbi3

MODEL = Path(__file__).resolve().parents[2] / "shared" / "validation" / "cspbi3" / "nep.txt"


@pytest.mark.skipif(not MODEL.exists(), reason="independent CsPbI3 NEP not present in "
                    "../shared/validation/cspbi3 (it cannot be shipped with this repository)")
def test_short_heating_and_cooling(tmp_path):
    settings = ValidationSettings(repeat=4, temperature_low=150.0, temperature_high=750.0,
                                  rate_K_per_ps=100.0, reference_ps=4.0, window=10)
    report = validate_cspbi3(MODEL, settings, tmp_path, jobs=1, progress=False)
    assert report["n_atoms"] == 320
    assert report["heating_sequence"][0] == "a-a-c+"  # starts where it was built, stays at 150 K
    assert report["cooling_sequence"][0] == "a0a0a0"
    assert report["heating_sequence"][-1] != "a-a-c+"  # the tilts melt on the way up
    lattice = report["heating_lattice"]
    volume = [row["a_A"] * row["b_A"] * row["c_A"] for row in lattice]
    assert volume[-1] > volume[0]  # thermal expansion
    text = format_report(report)
    assert "heating:" in text and "cooling:" in text
    again = validate_cspbi3(MODEL, settings, tmp_path, jobs=1, progress=False)  # resumes: no MD
    assert again["heating_transitions"] == report["heating_transitions"]


@pytest.mark.parametrize("argv, message", [
    (["cspbi3", "--model", "/nonexistent/nep.txt"], "does not exist"),
    (["cspbi3", "--model", __file__, "--repeat", "3"], "repeat 3 is not allowed"),
    (["cspbi3", "--model", __file__, "--rate", "0"], "ramp rate 0.0 K/ps must be > 0"),
    (["cspbi3", "--model", __file__, "--tmin", "500", "--tmax", "400"], "is empty"),
])
def test_bad_command_line(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_report_text_names_no_machine_path_and_only_measured_hysteresis():
    import json

    from softlattice.infra.paths import DATA_DIR, REPO_ROOT
    report = json.loads((DATA_DIR / "validation" / "cspbi3" / "report.json").read_text())
    text = format_report(dict(report, model=str(REPO_ROOT.parent / "shared" / "validation" / "cspbi3" / "nep.txt")))
    assert str(REPO_ROOT.parent) not in text and "../shared/validation/cspbi3/nep.txt" in text
    assert "nan" not in text and "seen on one ramp only" in text
