"""Paired notebooks are in sync, committed without outputs, and every chapter runs (quick)."""

import jupytext
import nbformat
import pytest

from softlattice.book import build as book

STEMS = sorted(p.stem for p in book.NOTEBOOKS_DIR.glob("*.py"))


def cell_sources(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


@pytest.mark.parametrize("stem", STEMS)
def test_pair_is_in_sync(stem):
    from_py = jupytext.read(book.NOTEBOOKS_DIR / f"{stem}.py")
    ipynb_path = book.NOTEBOOKS_DIR / f"{stem}.ipynb"
    assert ipynb_path.exists(), f"{ipynb_path.name} missing: run `make sync`"
    from_ipynb = nbformat.read(ipynb_path, as_version=4)
    assert cell_sources(from_py) == cell_sources(from_ipynb), f"{stem} out of sync: run `make sync`"


@pytest.mark.parametrize("stem", STEMS)
def test_ipynb_has_no_outputs_and_one_parameters_cell(stem):
    notebook = nbformat.read(book.NOTEBOOKS_DIR / f"{stem}.ipynb", as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and 'profile = "full"' in tagged[0].source


@pytest.mark.notebook
@pytest.mark.parametrize("stem", STEMS)
def test_chapter_runs_from_scratch_with_quick_profile(stem, tmp_path):
    path = book.execute_chapter(stem, tmp_path, profile="quick")
    notebook = nbformat.read(path, as_version=4)
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    figures = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert figures, f"{stem} drew no plotly figure"
