"""Independent tasks (MD runs, one per state point) run in a loop or on a Dask cluster.

The task function does the work and its own caching (a finished task is loaded, not rerun), so an
interrupted run loses nothing; this module only distributes the calls.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Callable, Sequence, TypeVar

from tqdm import tqdm  # the plain bar: tqdm.auto warns in kernels without ipywidgets

Task = TypeVar("Task")
Result = TypeVar("Result")


def local_client(workers: int | None = None):
    """A ``distributed.Client`` on a new LocalCluster of ``workers`` single-threaded worker
    processes (default: one per core), the cores shared equally among their force calls."""
    return _client("local", workers, 10.0)[0]


def _client(scheduler: Any, workers: int | None, timeout_s: float):
    """A dask Client for ``scheduler``: 'local' (a LocalCluster of ``workers`` single-threaded
    processes, default one per core), an address string, or a Client/cluster passed through."""
    from distributed import Client, LocalCluster
    if isinstance(scheduler, Client):
        return scheduler, False
    if scheduler == "local":
        n_workers = workers or os.cpu_count() or 1
        # each worker's force calls (OpenMP in nep-adapters) get an equal share of the cores.
        # Dask's nanny copies its pre-spawn variables into *this* process's environment and lets
        # an existing OMP_NUM_THREADS win over its config, so the variable is set here, for the
        # spawn only, and restored afterwards
        previous = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // n_workers))
        try:
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        return Client(cluster), True
    if isinstance(scheduler, str):
        try:
            return Client(scheduler, timeout=f"{timeout_s}s"), True
        except (OSError, TimeoutError) as error:
            raise ConnectionError(f"no Dask scheduler answers at {scheduler!r} within {timeout_s:g} s: "
                                  "start one (dask scheduler), pass 'local', or run without a scheduler") from error
    return Client(scheduler), True  # a cluster object, e.g. dask_jobqueue.SLURMCluster


def run_tasks(function: Callable[[Task], Result], tasks: Sequence[Task], scheduler: Any = None,
              workers: int | None = None, progress: bool = True, timeout_s: float = 10.0,
              cost: Callable[[Task], float] | None = None, name: str = "tasks") -> list[Result]:
    """``[function(task) for task in tasks]``, in a loop or on Dask, in the order of ``tasks``.

    Parameters
    ----------
    function
        Runs one task; must be picklable for Dask (a module-level function or a
        ``functools.partial`` of one).
    tasks
        The tasks.
    scheduler
        None: a plain loop in this process. 'local': a Dask LocalCluster with ``workers``
        single-threaded worker processes (default: one per core). A scheduler address
        ('tcp://host:8786'), a ``distributed.Client`` or a cluster object (dask_jobqueue).
    workers
        Workers of the LocalCluster.
    progress
        Show a progress bar over tasks.
    timeout_s
        How long to wait for a scheduler address to answer.
    cost
        Expected cost of a task: the costliest start first, so that on several workers the big
        tasks do not run alone at the end.
    name
        Label of the progress bar and of the Dask keys.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers {workers!r} must be at least 1")
    order = sorted(range(len(tasks)), key=lambda k: -cost(tasks[k])) if cost else list(range(len(tasks)))
    results: dict[int, Result] = {}
    if scheduler is None:
        for k in tqdm(order, desc=name, disable=not progress):
            results[k] = function(tasks[k])
        return [results[k] for k in range(len(tasks))]
    from distributed import as_completed
    client, owned = _client(scheduler, workers, timeout_s)
    batch = uuid.uuid4().hex[:8]
    try:
        futures = {client.submit(function, tasks[k], key=f"{name}-{batch}-{k}", pure=False, retries=2): k
                   for k in order}
        for future in tqdm(as_completed(futures), total=len(futures), desc=name, disable=not progress):
            results[futures[future]] = future.result()
    finally:
        if owned:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    return [results[k] for k in range(len(tasks))]
