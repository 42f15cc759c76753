"""Execute the chapters with papermill and build the Jupyter Book from the executed notebooks.

Usage::

    python -m softlattice.book build                       # every chapter, profile 'full'
    python -m softlattice.book build --profile quick       # every chapter, quick profile
    python -m softlattice.book build --only 00_structures -p supercell 4
    python -m softlattice.book execute --only 00_structures --profile quick   # no HTML
    python -m softlattice.book build --jobs 1              # one chapter at a time

Each chapter's ``notebooks/NN_name.py`` (the jupytext source of truth) is converted in memory,
executed by papermill in the kernel of the running interpreter (the ``.venv`` one under ``make``)
with ``profile`` and any ``-p name value`` overrides (values are parsed as YAML, like papermill's
own ``-p``), and written to ``_build/stage/notebooks/NN_name.ipynb`` with a run record (parameters,
wall time, versions) inserted under its title. The stage also holds the book's prose, ``_config.yml``
and ``_toc.yml``; Jupyter Book then renders the stage with execution off. Chapters not executed in
this call keep their last executed version in the stage (or appear unexecuted if never run), so one
chapter can be re-run alone. Chapters are independent, so ``--jobs`` of them (one per CPU, at most two,
by default) execute at once, each kernel single-threaded. Any cell error stops the build naming the
notebook and the cell.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import jupytext
import nbformat
import papermill
import plotly
import yaml
from papermill.exceptions import PapermillExecutionError

from softlattice import __version__
from softlattice.infra.paths import BUILD_DIR, NOTEBOOKS_DIR, REPO_ROOT
from softlattice.infra.profiles import FULL_PENDING, PROFILE_NAMES
from softlattice.infra.provenance import git_commit

STAGED_TOP_LEVEL = ("_config.yml", "_toc.yml", "book")
RUN_RECORD_TAG = "run-record"
MAX_DEFAULT_JOBS = 2


class NotebookFailed(RuntimeError):
    """A chapter failed to execute; the message names the notebook and the cell."""


def book_config(root: Path = REPO_ROOT) -> dict[str, Any]:
    """The Jupyter Book configuration (``_config.yml``)."""
    return yaml.safe_load((root / "_config.yml").read_text())


def chapters_in_toc(root: Path = REPO_ROOT) -> list[str]:
    """Notebook stems listed in ``_toc.yml``, in reading order."""
    def files(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["file"]] if "file" in node else []
            for value in node.values():
                found += files(value)
            return found
        if isinstance(node, list):
            return [f for item in node for f in files(item)]
        return []

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return [Path(f).name for f in files(toc) if f.startswith("notebooks/")]


def parse_parameter_overrides(pairs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Turn ``[('supercell', '4'), ...]`` into ``{'supercell': 4, ...}`` (values read as YAML)."""
    return {name: yaml.safe_load(value) for name, value in pairs}


def _run_record_cell(parameters: dict[str, Any], wall_time: float, pending: str | None = None) -> nbformat.NotebookNode:
    rows = "\n".join(f"| `{name}` | `{json.dumps(value)}` |" for name, value in parameters.items())
    profile = parameters.get("profile")
    if pending:
        warning = ("\n\n**This page shows quick-profile results** (small, fast parameters used by the tests): "
                   "the production-scale runs of this chapter have not been computed yet. They are made by "
                   f"`{pending}`; the numbers below demonstrate the method, not the physics at scale.")
    elif profile == "quick":
        warning = ("\n\n**This page shows quick-profile results** (small, fast parameters used by the tests); "
                   "run `make book` for the production-scale version.")
    else:
        warning = ""
    text = (f":::{{admonition}} Run record\n:class: note\n\n"
            f"Executed {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC in **{wall_time:.1f} s** "
            f"with profile **{profile}**; softlattice {__version__} at commit `{git_commit()}`, "
            f"Python {platform.python_version()}, on {platform.machine()} "
            f"({platform.system()}).{warning}\n\n| parameter | value |\n|---|---|\n{rows}\n:::")
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = [RUN_RECORD_TAG]
    return cell


def declared_parameters(source: Path) -> list[str]:
    """Names assigned in the cell tagged ``parameters`` of a jupytext notebook."""
    cells = [c for c in jupytext.read(source).cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{source} must have exactly one cell tagged 'parameters', found {len(cells)}")
    return re.findall(r"^([A-Za-z]\w*)\s*=", cells[0].source, re.M)


def execute_chapter(stem: str, output_dir: Path, profile: str = "full",
                    overrides: dict[str, Any] | None = None, timeout: int | None = None,
                    notebooks_dir: Path = NOTEBOOKS_DIR, pending: str | None = None) -> Path:
    """Execute ``notebooks/<stem>.py`` with papermill and write the executed notebook.

    Parameters
    ----------
    stem
        Notebook name without extension, e.g. '00_structures'.
    output_dir
        Folder that receives ``<stem>.ipynb``.
    profile
        'quick' or 'full'.
    overrides
        Extra papermill parameters.
    timeout
        Per-cell timeout in seconds (``execute.timeout`` of ``_config.yml`` by default).
    notebooks_dir
        Folder holding ``<stem>.py``; the notebook runs with it as working directory.
    pending
        Command that makes the chapter's missing full-profile results, said on the page (see
        :data:`softlattice.infra.profiles.FULL_PENDING`).

    Returns
    -------
    Path of the executed notebook.
    """
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILE_NAMES)}")
    source = notebooks_dir / f"{stem}.py"
    if not source.exists():
        known = sorted(p.stem for p in notebooks_dir.glob("*.py"))
        raise ValueError(f"unknown chapter {stem!r}; known: {', '.join(known)}")
    declared = declared_parameters(source)
    unknown = sorted(set(overrides or {}) - set(declared))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for chapter {stem}; its parameters: {declared}")
    if timeout is None:
        timeout = int(book_config()["execute"]["timeout"])
    parameters = {"profile": profile, **(overrides or {})}
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / f"{stem}.ipynb"
    started = time.perf_counter()
    try:
        papermill.execute_notebook(jupytext.read(source), str(output), parameters=parameters,
                                   kernel_name="python3", language="python", cwd=str(notebooks_dir), progress_bar=False,
                                   execution_timeout=timeout)
    except PapermillExecutionError as error:
        first_line = str(error.source).strip().splitlines()[0] if error.source else ""
        raise NotebookFailed(f"notebook {stem} failed in cell {error.exec_count} (index "
                             f"{error.cell_index}, starting {first_line!r}): {error.ename}: "
                             f"{error.evalue}. Executed copy with the traceback: {output}") from None
    wall_time = time.perf_counter() - started
    notebook = nbformat.read(output, as_version=4)
    notebook.cells = [c for c in notebook.cells if RUN_RECORD_TAG not in c.metadata.get("tags", [])]
    title_index = next((k for k, c in enumerate(notebook.cells)
                        if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), -1)
    notebook.cells.insert(title_index + 1, _run_record_cell(parameters, wall_time, pending))
    notebook.metadata.setdefault("softlattice", {}).update(parameters=parameters,
                                                           wall_time_s=round(wall_time, 2))
    nbformat.write(notebook, output)
    return output


def public_url(remote: str) -> str:
    """An https URL for a git remote (``git@host:owner/name.git`` or ``https://host/owner/name.git``);
    empty for a local path, which no reader can open."""
    remote = remote.strip()
    scp_like = re.fullmatch(r"[\w.-]+@([\w.-]+):(.+?)(?:\.git)?/?", remote)
    if scp_like:
        return f"https://{scp_like.group(1)}/{scp_like.group(2)}"
    if re.match(r"https?://", remote):
        return re.sub(r"\.git/?$", "", remote)
    return ""


def launch_settings(config: dict[str, Any], root: Path = REPO_ROOT,
                    environment: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    """The book configuration with the repository and launch buttons filled in, and a note for the
    build log. The repository URL comes from ``SOFTLATTICE_REPOSITORY_URL`` or the git remote
    ``origin``; ``SOFTLATTICE_JUPYTERHUB_URL`` adds a JupyterHub button. Without a public URL the
    repository and launch buttons are removed (they would point nowhere)."""
    import copy
    environment = os.environ if environment is None else environment
    config = copy.deepcopy(config)
    url = environment.get("SOFTLATTICE_REPOSITORY_URL", "")
    if not url:
        remote = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True,
                                text=True)
        url = public_url(remote.stdout) if remote.returncode == 0 else ""
    hub = environment.get("SOFTLATTICE_JUPYTERHUB_URL", "")
    if not url:
        config.pop("launch_buttons", None)
        config.setdefault("html", {})["use_repository_button"] = False
        config.pop("repository", None)
        return config, ("no public repository URL (set SOFTLATTICE_REPOSITORY_URL or a git remote 'origin'): "
                        "the book is built without repository and launch buttons")
    config.setdefault("repository", {})["url"] = url
    config.setdefault("launch_buttons", {})["jupyterhub_url"] = hub
    return config, f"repository and launch buttons point at {url}" + (f" (JupyterHub {hub})" if hub else "")


def stage_book(stage: Path, root: Path = REPO_ROOT) -> None:
    """Copy the book's prose and configuration into ``stage`` (the configuration with its repository
    and launch buttons filled in) and add plotly.js to its _static."""
    stage.mkdir(parents=True, exist_ok=True)
    for name in STAGED_TOP_LEVEL:
        source, target = root / name, stage / name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
    notebooks = stage / "notebooks"
    notebooks.mkdir(exist_ok=True)
    for stem in chapters_in_toc(root):
        if not (notebooks / f"{stem}.ipynb").exists():
            jupytext.write(jupytext.read(root / "notebooks" / f"{stem}.py"), notebooks / f"{stem}.ipynb")
    config, note = launch_settings(book_config(root), root)
    (stage / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    print(f"[softlattice.book.build] {note}", flush=True)
    static = stage / "_static"
    static.mkdir(exist_ok=True)
    shutil.copy2(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", static / "plotly.min.js")


def build_html(stage: Path, build_dir: Path) -> Path:
    """Run ``jupyter-book build`` on the stage (execution off); return the HTML folder."""
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(stage), "--path-output",
               str(build_dir), "--warningiserror", "--keep-going"]
    result = subprocess.run(command)
    if result.returncode:
        raise RuntimeError(f"jupyter-book build failed (exit {result.returncode}): {' '.join(command)}")
    return build_dir / "_build" / "html"


def default_jobs() -> int:
    """Chapters to execute at once by default: one per CPU, at most :data:`MAX_DEFAULT_JOBS`."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


def _execute_one(stem: str, output_dir: Path, profile: str, overrides: dict[str, Any],
                 single_threaded: bool, notebooks_dir: Path) -> tuple[str, float]:
    if single_threaded:
        # the kernel inherits this; two kernels with a thread per core each would fight for the cores
        os.environ["OMP_NUM_THREADS"] = "1"
    pending = FULL_PENDING.get(stem) if profile == "full" else None
    chapter_profile = "quick" if pending else profile
    print(f"[softlattice.book.build] executing {stem} (profile {chapter_profile}"
          + (f", overrides {overrides}" if overrides else "") + ")"
          + (f": full-profile results not committed yet (make them with: {pending})" if pending else ""),
          flush=True)
    path = execute_chapter(stem, output_dir, chapter_profile, overrides, notebooks_dir=notebooks_dir,
                           pending=pending)
    return stem, nbformat.read(path, as_version=4).metadata["softlattice"]["wall_time_s"]


def execute_chapters(stems: Sequence[str], output_dir: Path, profile: str = "full",
                     overrides: dict[str, Any] | None = None, jobs: int = 1,
                     notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, float]:
    """Execute chapters (each as :func:`execute_chapter`, ``jobs`` at a time) into ``output_dir``.

    A chapter whose full-profile results are not committed (:data:`FULL_PENDING`) runs with the quick
    profile and says so. Chapters are independent of one another, so their order does not matter; the
    first failure is raised once the chapters already running have finished.

    Returns
    -------
    Wall time of each chapter in seconds, by stem.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    overrides = overrides or {}
    walls: dict[str, float] = {}
    if jobs == 1 or len(stems) == 1:
        for stem in stems:
            walls[stem] = _execute_one(stem, output_dir, profile, overrides, False, notebooks_dir)[1]
            print(f"[softlattice.book.build] {stem} done in {walls[stem]:.1f} s", flush=True)
        return walls
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_execute_one, stem, output_dir, profile, overrides, True, notebooks_dir)
                   for stem in stems]
        try:
            for future in concurrent.futures.as_completed(futures):
                stem, wall = future.result()
                walls[stem] = wall
                print(f"[softlattice.book.build] {stem} done in {wall:.1f} s", flush=True)
        except BaseException:
            for future in futures:  # chapters not started yet are not started
                future.cancel()
            raise
    return walls


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softlattice.book.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["build", "execute"],
                        help="execute chapters and build HTML, or only execute")
    parser.add_argument("--profile", default="full", choices=PROFILE_NAMES)
    parser.add_argument("--only", nargs="+", metavar="STEM", help="chapters to execute (default: all)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="papermill parameter override (YAML value)")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="chapters executed at once, each kernel single-threaded when more than one "
                             f"(default: the CPU count, at most {MAX_DEFAULT_JOBS})")
    args = parser.parse_args(argv)

    stems = args.only or chapters_in_toc()
    listed = set(chapters_in_toc())
    unknown = [s for s in stems if s not in listed]
    if unknown:
        parser.error(f"chapter(s) {unknown} are not in _toc.yml; known: {sorted(listed)}")
    overrides = parse_parameter_overrides(args.parameter)
    stage = args.build_dir / "stage"
    try:
        execute_chapters(stems, stage / "notebooks", args.profile, overrides, jobs=args.jobs)
        if args.action == "build":
            stage_book(stage)
            html = build_html(stage, args.build_dir)
            print(f"[softlattice.book.build] HTML in {html}")
    except (NotebookFailed, RuntimeError, ValueError) as error:
        print(f"[softlattice.book.build] ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
