"""One result-set mechanism: committed, else cached, else computed (atomically, resumable)."""

import multiprocessing
import time
from pathlib import Path

import pandas as pd
import pytest

from softlattice.infra.provenance import write_provenance
from softlattice.infra.resultsets import ResultSet, display_path, obtain
from softlattice.md.tasks import run_tasks

PARAMETERS = {"temperatures": [100.0, 200.0], "seed": 0}
INPUTS = {"model_sha256_16": "0123456789abcdef"}


def counting_compute(calls):
    def compute(folder):
        calls.append(folder)
        pd.DataFrame({"t": PARAMETERS["temperatures"]}).to_csv(folder / "table.csv", index=False)
    return compute


def test_computed_then_cached_then_committed(tmp_path):
    calls = []
    first = obtain("demo", PARAMETERS, INPUTS, counting_compute(calls), results_dir=tmp_path / "runs")
    assert first.origin == "computed" and len(calls) == 1
    assert not first.folder.name.endswith(".partial") and (first.folder / "provenance.json").exists()
    assert list(first.table("table").t) == [100.0, 200.0]
    again = obtain("demo", PARAMETERS, INPUTS, counting_compute(calls), results_dir=tmp_path / "runs")
    assert again.origin == "cached" and again.folder == first.folder and len(calls) == 1
    committed = again.copy_to(tmp_path / "data" / "demo")
    taken = obtain("demo", PARAMETERS, INPUTS, counting_compute(calls), committed=committed,
                   results_dir=tmp_path / "runs")
    assert taken.origin == "committed" and taken.folder == committed and len(calls) == 1


def test_other_parameters_or_inputs_are_never_taken_for_these(tmp_path):
    calls = []
    obtain("demo", PARAMETERS, INPUTS, counting_compute(calls), results_dir=tmp_path)
    obtain("demo", dict(PARAMETERS, seed=1), INPUTS, counting_compute(calls), results_dir=tmp_path)
    obtain("demo", PARAMETERS, {"model_sha256_16": "fedcba9876543210"}, counting_compute(calls), results_dir=tmp_path)
    assert len(calls) == 3 and len({c for c in calls}) == 3


def slow_counted_obtain(root, barrier, origins):
    def compute(folder):
        with open(root / "computations.txt", "a") as log:
            log.write(f"{folder}\n")
        time.sleep(1.0)
        (folder / "table.csv").write_text("t\n1\n")

    barrier.wait()
    origins.put(obtain("demo", PARAMETERS, INPUTS, compute, results_dir=root / "runs").origin)


def test_processes_obtaining_one_set_at_once_compute_it_once(tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, origins = context.Barrier(2), context.Queue()
    workers = [context.Process(target=slow_counted_obtain, args=(tmp_path, barrier, origins)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0]
    assert len((tmp_path / "computations.txt").read_text().splitlines()) == 1
    assert sorted(origins.get(timeout=5) for _ in workers) == ["cached", "computed"]


def test_an_interrupted_computation_resumes_from_its_partial_folder_and_never_looks_finished(tmp_path):
    def interrupted(folder):
        (folder / "first.csv").write_text("a\n1\n")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        obtain("demo", PARAMETERS, INPUTS, interrupted, results_dir=tmp_path)
    seen = []

    def resumed(folder):
        seen.append((folder / "first.csv").exists())
        (folder / "second.csv").write_text("b\n2\n")

    result = obtain("demo", PARAMETERS, INPUTS, resumed, results_dir=tmp_path)
    assert seen == [True] and result.origin == "computed"
    assert result.table("first").a.tolist() == [1] and result.table("second").b.tolist() == [2]


def test_a_provenance_written_by_the_computation_is_kept(tmp_path):
    def compute(folder):
        write_provenance(folder, PARAMETERS, INPUTS, command="cmd", n_train=7)

    result = obtain("demo", PARAMETERS, INPUTS, compute, results_dir=tmp_path)
    assert result.json("provenance.json")["n_train"] == 7


def test_source_names_no_machine_path_and_missing_tables_name_the_set(tmp_path, monkeypatch):
    import softlattice.infra.resultsets as resultsets
    checkout = tmp_path / "elsewhere" / "repo"  # wherever the checkout is, tmp_path is not beside it here
    monkeypatch.setattr(resultsets, "REPO_ROOT", checkout)
    monkeypatch.setattr(resultsets, "RUNS_DIR", checkout / "runs")
    result = ResultSet(tmp_path / "a" / "b", "cached")
    assert str(tmp_path) not in result.source and "a/b" in result.source
    with pytest.raises(FileNotFoundError, match="no table 'fits'"):
        result.table("fits")
    with pytest.raises(ValueError, match="unknown result-set origin"):
        ResultSet(tmp_path, "guessed")
    assert display_path(tmp_path / "x") == f"{tmp_path.name}/x"


def test_bad_names_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="must be non-empty"):
        obtain("a/b", PARAMETERS, INPUTS, counting_compute([]), results_dir=tmp_path)


def square(x):
    return x * x


def test_task_runner_returns_results_in_task_order_whatever_the_cost_order():
    assert run_tasks(square, [1, 2, 3], progress=False, cost=lambda x: x) == [1, 4, 9]
    with pytest.raises(ValueError, match="workers 0"):
        run_tasks(square, [1], workers=0, progress=False)


def test_display_path_is_relative_to_the_repository_also_through_a_linked_runs(tmp_path, monkeypatch):
    from softlattice.infra import resultsets

    repository, cache = tmp_path / "clone", tmp_path / "elsewhere" / "cache_runs"
    (repository / "data" / "set").mkdir(parents=True)
    (cache / "results" / "demo" / "0123").mkdir(parents=True)
    (repository / "runs").symlink_to(cache)
    monkeypatch.setattr(resultsets, "REPO_ROOT", repository)
    monkeypatch.setattr(resultsets, "RUNS_DIR", repository / "runs")
    assert display_path(repository / "data" / "set") == "data/set"
    assert display_path(repository / "runs" / "results" / "demo" / "0123") == "runs/results/demo/0123"
    assert display_path(cache / "results" / "demo" / "0123") == "runs/results/demo/0123"
    assert display_path(tmp_path / "shared" / "nep.txt") == "../shared/nep.txt"
    assert str(tmp_path) not in ResultSet(cache / "results" / "demo" / "0123", "cached").source
    monkeypatch.setattr(resultsets, "REPO_ROOT", Path("/checkout"))  # beside "/" is everything
    assert display_path(tmp_path / "shared" / "nep.txt") == "shared/nep.txt"


def test_a_set_that_may_not_be_computed_is_none_until_it_exists(tmp_path):
    calls = []
    assert obtain("x", PARAMETERS, INPUTS, counting_compute(calls), results_dir=tmp_path, may_compute=False) is None
    assert not calls and not any(tmp_path.iterdir())
    made = obtain("x", PARAMETERS, INPUTS, counting_compute(calls), results_dir=tmp_path)
    assert obtain("x", PARAMETERS, INPUTS, counting_compute(calls), results_dir=tmp_path,
                  may_compute=False).folder == made.folder and len(calls) == 1
