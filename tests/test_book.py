"""The book pipeline: parameters, profiles, error reporting, run records, renderer."""

import json

import nbformat
import pytest

from softlattice.book import build as book
from softlattice.book.plotting import BOOK_RENDERER, structure_figure, use_book_renderer
from softlattice.infra import profiles
from softlattice.perovskite.structures import build_perovskite


def test_overrides_are_read_as_yaml():
    parsed = book.parse_parameter_overrides([("supercell", "4"), ("fa_fractions", "[0, 0.5]"),
                                             ("profile", "quick"), ("tilt_angle", "7.5")])
    assert parsed == {"supercell": 4, "fa_fractions": [0, 0.5], "profile": "quick", "tilt_angle": 7.5}


def test_toc_lists_every_notebook():
    stems = book.chapters_in_toc()
    on_disk = sorted(p.stem for p in book.NOTEBOOKS_DIR.glob("*.py"))
    assert sorted(stems) == on_disk


def test_profiles_fill_only_missing_values():
    quick = profiles.resolve("00_structures", "quick", supercell=4, seed=None)
    assert quick["supercell"] == 4
    assert quick["seed"] == profiles.PROFILES["00_structures"]["quick"]["seed"]
    assert quick["profile"] == "quick"


def test_every_chapter_profile_has_the_same_parameters():
    for chapter, sets in profiles.PROFILES.items():
        assert set(sets) == set(profiles.PROFILE_NAMES), chapter
        assert set(sets["quick"]) == set(sets["full"]), chapter


@pytest.mark.parametrize("call, message", [
    (lambda: profiles.resolve("00_structures", "medium"), "unknown profile 'medium'"),
    (lambda: profiles.resolve("99_nothing", "quick"), "unknown chapter '99_nothing'"),
    (lambda: profiles.resolve("00_structures", "quick", supercel=2), "unknown parameter"),
])
def test_bad_profile_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def write_notebook(folder, stem, cells):
    text = "\n\n".join(cells)
    (folder / f"{stem}.py").write_text(text)


def test_failing_cell_names_notebook_and_cell(tmp_path):
    write_notebook(tmp_path, "98_broken", [
        "# %% [markdown]\n# # Broken",
        '# %% tags=["parameters"]\nprofile = "full"',
        "# %%\nvalue = 1",
        "# %%\nraise ZeroDivisionError('boom')",
    ])
    with pytest.raises(book.NotebookFailed, match=r"notebook 98_broken failed in cell \d+ .*raise ZeroDivisionError.*"
                                                  r"ZeroDivisionError: boom"):
        book.execute_chapter("98_broken", tmp_path / "out", "quick", timeout=120,
                             notebooks_dir=tmp_path)


def test_executed_notebook_records_parameters_and_wall_time(tmp_path):
    write_notebook(tmp_path, "97_tiny", [
        "# %% [markdown]\n# # Tiny",
        '# %% tags=["parameters"]\nprofile = "full"\nsize = 1',
        "# %%\nprint(profile, size * 2)",
    ])
    path = book.execute_chapter("97_tiny", tmp_path / "out", "quick", {"size": 21}, timeout=120,
                                notebooks_dir=tmp_path)
    notebook = nbformat.read(path, as_version=4)
    record = notebook.cells[1]
    assert book.RUN_RECORD_TAG in record.metadata["tags"]
    assert "quick-profile results" in record.source and '`21`' in record.source
    assert notebook.metadata["softlattice"]["parameters"] == {"profile": "quick", "size": 21}
    assert notebook.metadata["softlattice"]["wall_time_s"] > 0
    assert notebook.cells[-1].outputs[0]["text"].strip() == "quick 42"


def test_unknown_chapter_and_profile(tmp_path):
    with pytest.raises(ValueError, match="unknown chapter '42_nope'"):
        book.execute_chapter("42_nope", tmp_path)
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        book.execute_chapter("00_structures", tmp_path, profile="huge")


def test_book_renderer_needs_no_cdn_and_no_requirejs():
    use_book_renderer()
    import plotly.io as pio
    assert pio.renderers.default == BOOK_RENDERER
    figure = structure_figure(build_perovskite("Cs", 1))
    bundle = pio.renderers[BOOK_RENDERER].to_mimebundle(figure.to_dict())
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html
    assert "require(" not in html and "cdn" not in html.lower()
    assert json.loads(json.dumps(bundle["application/vnd.plotly.v1+json"]))["data"]


def test_pending_chapters_exist_and_say_how_to_make_their_results():
    from softlattice.infra.profiles import FULL_PENDING
    for stem, command in FULL_PENDING.items():
        assert stem in book.chapters_in_toc() and command.startswith("python -m softlattice.")
    cell = book._run_record_cell({"profile": "quick"}, 1.0, pending="python -m softlattice.perovskite.workflows.damping")
    assert "have not been computed yet" in cell.source and "python -m softlattice.perovskite.workflows.damping" in cell.source


def test_identity_line_spans_every_finite_value_and_refuses_none():
    import numpy as np
    import plotly.graph_objects as go

    from softlattice.book.plotting import add_identity_line
    figure = add_identity_line(go.Figure(), [1.0, np.nan, 3.0], np.array([[-2.0], [0.5]]))
    assert list(figure.data[0].x) == [-2.0, 3.0] and list(figure.data[0].y) == [-2.0, 3.0]
    with pytest.raises(ValueError, match="no finite values"):
        add_identity_line(go.Figure(), [np.nan])


def test_math_is_served_by_the_book_itself():
    import importlib
    from pathlib import Path
    config = book.book_config()
    assert "sphinx-mathjax-offline" in config["sphinx"]["extra_extensions"]
    extension = importlib.import_module("sphinx-mathjax-offline")
    assert (Path(extension.__file__).parent / "static" / "mathjax" / "tex-chtml.js").is_file()


@pytest.mark.parametrize("text, problem", [
    (r"the \(a^0a^0c^-\) phase is lower", "raw TeX"),
    ("display $$E = mc^2$$ here", "raw TeX"),
    ("/tmp/ipykernel_12/3.py:4: FutureWarning: the default changed", "Python warning"),
    ("committed result set /work/clone/data/damping/x", "machine path"),
    ("written to /home/someone/book", "machine path"),
])
def test_what_a_reader_should_not_see_is_named(text, problem):
    from softlattice.book.browsercheck import text_problems
    found = text_problems(text)
    assert found and any(p.startswith(problem) for p in found)


def test_prose_with_relative_paths_units_and_links_passes():
    from softlattice.book.browsercheck import needs_figure, text_problems
    assert text_problems("data/phase_diagram/summary.csv holds 3/4 of the runs; see https://example.org/home/x; "
                         "a ~/work/x tilde path is the reader's own") == []
    assert needs_figure("notebooks/02_phase_diagram.html") and not needs_figure("notebooks/results.html")
    assert not needs_figure("book/methods.html")


@pytest.mark.parametrize("remote, url", [
    ("git@github.com:someone/softlattice.git", "https://github.com/someone/softlattice"),
    ("https://gitlab.com/group/softlattice.git\n", "https://gitlab.com/group/softlattice"),
    ("/work/main", ""),
])
def test_git_remotes_become_public_urls_or_nothing(remote, url):
    assert book.public_url(remote) == url


def test_launch_buttons_point_at_the_repository_or_are_left_out(tmp_path):
    config = book.book_config()
    assert config["launch_buttons"]["binderhub_url"] and config["html"]["use_repository_button"]
    filled, note = book.launch_settings(config, tmp_path, {"SOFTLATTICE_REPOSITORY_URL": "https://example.org/x/y",
                                                           "SOFTLATTICE_JUPYTERHUB_URL": "https://hub.example.org"})
    assert filled["repository"]["url"] == "https://example.org/x/y"
    assert filled["launch_buttons"]["jupyterhub_url"] == "https://hub.example.org"
    bare, note = book.launch_settings(config, tmp_path, {})  # tmp_path is no git repository: no remote
    assert "launch_buttons" not in bare and not bare["html"]["use_repository_button"] and "without" in note


def test_chapters_execute_in_parallel_single_threaded_and_a_failure_names_its_notebook(tmp_path):
    for stem in ("95_one", "96_two"):
        write_notebook(tmp_path, stem, [
            f"# %% [markdown]\n# # {stem}",
            '# %% tags=["parameters"]\nprofile = "full"',
            "# %%\nimport os\nprint(os.getpid(), os.environ.get('OMP_NUM_THREADS'))",
        ])
    walls = book.execute_chapters(["95_one", "96_two"], tmp_path / "out", "quick", jobs=2, notebooks_dir=tmp_path)
    assert set(walls) == {"95_one", "96_two"} and all(w > 0 for w in walls.values())
    printed = [nbformat.read(tmp_path / "out" / f"{stem}.ipynb", as_version=4).cells[-1].outputs[0]["text"].split()
               for stem in walls]
    assert [threads for _, threads in printed] == ["1", "1"]
    assert printed[0][0] != printed[1][0], "both chapters ran in one kernel"

    write_notebook(tmp_path, "98_broken", [
        "# %% [markdown]\n# # Broken",
        '# %% tags=["parameters"]\nprofile = "full"',
        "# %%\nraise ZeroDivisionError('boom')",
    ])
    queued = [f"9{k}_queued" for k in range(8)]
    for stem in queued:
        write_notebook(tmp_path, stem, [f"# %% [markdown]\n# # {stem}", '# %% tags=["parameters"]\nprofile = "full"'])
    with pytest.raises(book.NotebookFailed, match="notebook 98_broken failed"):
        book.execute_chapters(["98_broken", *queued], tmp_path / "out2", "quick", jobs=2, notebooks_dir=tmp_path)
    executed = [stem for stem in queued if (tmp_path / "out2" / f"{stem}.ipynb").exists()]
    assert len(executed) < len(queued), "the chapters queued behind the failure all ran"
    with pytest.raises(ValueError, match="jobs must be at least 1, got 0"):
        book.execute_chapters(["95_one"], tmp_path / "out3", jobs=0, notebooks_dir=tmp_path)
