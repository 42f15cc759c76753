"""Guarded entry points: bad input is refused naming the value, before any work (issue 21's table)."""

import argparse
from pathlib import Path

import pytest

from softlattice.book.build import declared_parameters, execute_chapter
from softlattice.infra import profiles
from softlattice.infra.cli import positive_int, writable_folder
from softlattice.infra.paths import NOTEBOOKS_DIR, input_path
from softlattice.perovskite.structures import build_mixed_perovskite, check_fa_fraction


def test_a_misspelt_parameter_is_refused_before_the_kernel_starts(tmp_path):
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['supercel'\].*'supercell'"):
        execute_chapter("00_structures", tmp_path, profile="quick", overrides={"supercel": 4})
    assert not (tmp_path / "00_structures.ipynb").exists()


def test_a_parameter_injected_by_papermill_itself_is_refused_inside_the_notebook():
    declared = {"profile", "supercell", "In", "get_ipython"}
    namespace = {name: None for name in declared} | {"supercel": 4, "pd": argparse, "helper": print}
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['supercel'\]; this chapter's parameters: "
                                         r"\['profile', 'supercell'\]"):
        profiles.refuse_unknown_parameters(namespace, declared)
    profiles.refuse_unknown_parameters({k: v for k, v in namespace.items() if k != "supercel"}, declared)


@pytest.mark.parametrize("stem", sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.py")))
def test_every_chapter_records_its_declared_names_and_checks_them_first(stem):
    source = (NOTEBOOKS_DIR / f"{stem}.py").read_text()
    assert "profile" in declared_parameters(NOTEBOOKS_DIR / f"{stem}.py")
    assert "_declared = set(globals())" in source
    # the guard is the cell right after the parameters cell (where papermill injects its own)
    after_parameters = source.split("_declared = set(globals())", 1)[1]
    first_cell = after_parameters.split("# %%", 2)[1]
    assert "refuse_unknown_parameters(globals(), _declared)" in first_cell and "import pandas" not in first_cell


def test_a_partial_nested_setting_is_merged_over_the_profile_not_replacing_it():
    quick = profiles.resolve("02_phase_diagram", "quick")
    merged = profiles.resolve("02_phase_diagram", "quick", ramp={"rate_K_per_ps": 100})["ramp"]
    assert merged == {**quick["ramp"], "rate_K_per_ps": 100}
    with pytest.raises(ValueError, match=r"parameter 'ramp': unknown key\(s\) \['rate'\]"):
        profiles.resolve("02_phase_diagram", "quick", ramp={"rate": 100})


@pytest.mark.parametrize("chapter, override, message", [
    ("02_phase_diagram", {"fa_fractions": 0.5}, r"'fa_fractions' = 0.5 must be a list \(e.g. \[0.5\]\)"),
    ("04_damping", {"temperatures": [-100]}, r"'temperatures' = \[-100\]: temperatures are in K and must be > 0"),
    ("00_structures", {"tilt_angle": "half"}, r"'tilt_angle' = 'half' must be a number"),
    ("00_structures", {"fa_fractions": [0.5, 1.5]}, r"FA fractions must lie in \[0, 1\]"),
])
def test_parameters_of_the_wrong_kind_or_range_are_named(chapter, override, message):
    with pytest.raises(ValueError, match=message):
        profiles.resolve(chapter, "quick", **override)


def test_builders_name_a_composition_or_angle_that_is_not_a_number():
    with pytest.raises(ValueError, match="FA fraction x = 'half' is not a number"):
        check_fa_fraction("half")
    with pytest.raises(ValueError, match="tilt angle 'half' is not a number"):
        build_mixed_perovskite(0.5, 2, glazer="a0a0c-", tilt_angle="half")


def test_a_model_path_typed_from_the_repository_root_is_found_from_the_notebooks_folder(monkeypatch):
    monkeypatch.chdir(NOTEBOOKS_DIR)
    found = input_path("data/models/mafa-chgnet-r2scan/nep.txt")
    assert found.is_file() and found.is_absolute()
    with pytest.raises(FileNotFoundError, match="neither in the working directory"):
        input_path("data/models/no-such-model/nep.txt")


def test_command_line_types_refuse_bad_values_before_work(tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="-2 must be at least 1"):
        positive_int("-2")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(argparse.ArgumentTypeError, match="cannot write into"):
        writable_folder(str(blocker / "results"))
    assert writable_folder(str(tmp_path / "new" / "folder")).is_dir()


@pytest.mark.parametrize("module, argv", [
    ("softlattice.perovskite.workflows.masscheck", ["--model", "{tmp}/m", "--ps", "-1"]),
    ("softlattice.perovskite.workflows.training", ["--output", "{tmp}/out", "--steps", "-1"]),
    ("softlattice.perovskite.workflows.phase_diagram", ["--model", "{tmp}/m", "--save", "{tmp}/s", "--workers", "-2"]),
    ("softlattice.antiperovskite.workflows.md_frames", ["--sample", "--per-run", "1"]),
])
def test_command_lines_refuse_negative_counts_at_once(module, argv, capsys, tmp_path):
    main = __import__(module, fromlist=["main"]).main
    with pytest.raises(SystemExit) as exit_info:
        main([a.format(tmp=tmp_path) for a in argv])
    assert exit_info.value.code == 2 and "must be" in capsys.readouterr().err


@pytest.mark.parametrize("module", [
    "softlattice.perovskite.workflows.phase_diagram", "softlattice.perovskite.workflows.damping",
    "softlattice.perovskite.workflows.band_edges", "softlattice.antiperovskite.workflows.models",
    "softlattice.antiperovskite.workflows.thermal", "softlattice.perovskite.workflows.teacher",
    "softlattice.perovskite.workflows.checks", "softlattice.perovskite.workflows.training",
    "softlattice.antiperovskite.workflows.md_frames",
])
def test_every_command_line_describes_itself_and_its_options(module, capsys):
    main = __import__(module, fromlist=["main"]).main
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    description = text.split("\n\n")[1]
    assert len(description.split()) >= 5, f"{module} --help has no description"


def test_a_cut_trajectory_file_is_refused_naming_it(tmp_path):
    from ase.build import bulk
    from ase.io import write

    from softlattice.md.engine import read_segment_ends
    frames = [bulk("Cu", cubic=True) for _ in range(3)]
    for k, frame in enumerate(frames):
        frame.info.update(time_ps=float(k), target_K=300.0)
    path = tmp_path / "segment_ends.extxyz"
    write(path, frames, format="extxyz")
    assert len(read_segment_ends(path)) == 3
    text = path.read_text()
    path.write_text(text[: int(len(text) * 0.8)])
    with pytest.raises(ValueError, match=r"segment_ends.extxyz' is damaged after frame 2"):
        read_segment_ends(path)


def test_appending_a_frame_is_atomic_when_the_write_dies_halfway(tmp_path, monkeypatch):
    from ase.build import bulk

    import softlattice.md.engine as engine
    path = tmp_path / "segment_ends.extxyz"
    first = bulk("Cu", cubic=True)
    first.info.update(time_ps=0.0, target_K=300.0)
    engine.append_frame(path, first)
    before = path.read_bytes()

    def dies_halfway(target, frame, **kwargs):
        with open(target, "a") as handle:
            handle.write("4\nLattice=")
        raise KeyboardInterrupt  # a kill between the frame and its end

    monkeypatch.setattr(engine, "write", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        engine.append_frame(path, first)
    assert path.read_bytes() == before and len(engine.read_segment_ends(path)) == 1


def test_a_validation_set_cut_at_a_frame_boundary_is_refused(tmp_path):
    import gzip
    import shutil

    from softlattice.perovskite.workflows.screening import VALIDATION_DIR, load_dft_validation
    shutil.copy(VALIDATION_DIR / "provenance.json", tmp_path / "provenance.json")
    with gzip.open(VALIDATION_DIR / "gpaw-pbe.extxyz.gz", "rt") as source:
        lines = source.read().splitlines(keepends=True)
    atoms_per_frame = int(lines[0]) + 2
    with gzip.open(tmp_path / "gpaw-pbe.extxyz.gz", "wt") as target:
        target.write("".join(lines[: 13 * atoms_per_frame]))
    with pytest.raises(ValueError, match="holds 13 structures, its provenance 114"):
        load_dft_validation(tmp_path)


def test_scheduler_none_offered_by_the_help_runs_a_plain_loop(tmp_path, monkeypatch):
    import softlattice.perovskite.workflows.phase_diagram as phase_diagram
    seen = {}

    class Result:
        source = "computed now"

        def copy_to(self, target):
            return target

    def fake_obtain(settings, model, store):
        seen.update(settings)
        return Result()

    monkeypatch.setattr(phase_diagram, "obtain_sweep", fake_obtain)
    with pytest.raises(SystemExit):  # a missing model is refused before anything runs
        phase_diagram.main(["--model", str(tmp_path / "m"), "--save", str(tmp_path / "s"), "--profile", "quick"])
    assert not seen
    (tmp_path / "m").write_text("nep4 5 H C N Pb I\n")
    phase_diagram.main(["--model", str(tmp_path / "m"), "--save", str(tmp_path / "s"), "--profile", "quick",
                        "--scheduler", "none"])
    assert seen["scheduler"] is None
