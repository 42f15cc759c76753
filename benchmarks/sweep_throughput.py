"""Benchmark: sweep tasks per hour, Dask overhead over a plain loop, scaling from 1 to 2 workers.

    .venv/bin/python benchmarks/sweep_throughput.py [--model data/models/mafa-chgnet-r2scan/nep.txt]
        [--tasks 4] [--repeat 4] [--steps 2000]

Runs ``--tasks`` identical-size heating ramps (different replicas, so none is cached) three ways,
each in a fresh result store: a plain loop in this process, a Dask LocalCluster with one worker
(all cores to its force calls), and one with two single-threaded workers (each cluster started
before the clock starts; its start-up time is printed separately). Prints wall times,
tasks/hour, atom-steps/s, the Dask overhead (one worker vs the loop) and the 1 -> 2 worker
speed-up, then what a seed-scale sweep would cost at the best measured rate. Run it on an
otherwise idle machine; numbers are measurements, not test assertions.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from softlattice.md.tasks import local_client
from softlattice.perovskite.workflows.phase_diagram import RampTask, run_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("data/models/mafa-chgnet-r2scan/nep.txt"))
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2000, help="MD steps per task (1 fs)")
    parser.add_argument("--gpu-rate", type=float, default=1e7,
                        help="atom-steps/s assumed for GPUMD on one GPU in the seed-scale estimate")
    args = parser.parse_args()

    rate = 50.0 / (args.steps / 1000)  # a 50 K ramp in --steps steps
    tasks = [RampTask(0.5, "heating", temperature_low=200.0, temperature_high=250.0, rate_K_per_ps=rate,
                      repeat=args.repeat, replica=k, sample_interval=25) for k in range(args.tasks)]
    atom_steps = sum(t.n_atoms * t.steps for t in tasks)
    rows = []
    for label, workers in (("loop", None), ("dask, 1 worker", 1), ("dask, 2 workers", 2)):
        client, startup = None, 0.0
        if workers:
            started = time.perf_counter()
            client = local_client(workers)
            startup = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as store:
            started = time.perf_counter()
            run_sweep(tasks, args.model, store, scheduler=client, progress=False)
            seconds = time.perf_counter() - started
        if client is not None:
            client.close()
            client.cluster.close()
        rows.append((label, seconds))
        print(f"{label:16s} {seconds:7.1f} s  {3600 * len(tasks) / seconds:6.1f} tasks/h  "
              f"{atom_steps / seconds:9.0f} atom-steps/s" + (f"  (cluster start-up {startup:.1f} s, not included)"
                                                            if workers else ""), flush=True)
    times = dict(rows)
    print(f"Dask overhead (1 worker vs loop): {100 * (times['dask, 1 worker'] / times['loop'] - 1):+.1f} %")
    print(f"speed-up 1 -> 2 workers: {times['dask, 1 worker'] / times['dask, 2 workers']:.2f}x")
    best = atom_steps / min(times.values())
    seed_scale = 11 * 2 * 12_000 * (400 / 10.0) * 1e6 / 0.5  # 11 x, heat + cool, 12k atoms, 40 ns ramps, 0.5 fs
    print(f"tasks of {tasks[0].n_atoms} atoms x {tasks[0].steps} steps; best rate {best:.0f} atom-steps/s")
    print(f"seed-scale sweep (11 compositions, heating and cooling, 12,000 atoms, 1-400 K at 10 K/ns, "
          f"0.5 fs): {seed_scale:.2e} atom-steps = {seed_scale / best / 86400 / 365:.1f} years here; "
          f"{seed_scale / args.gpu_rate / 86400:.1f} days at {args.gpu_rate:.0e} atom-steps/s (--gpu-rate: an "
          "assumed GPUMD rate on one GPU, not measured here)")


if __name__ == "__main__":
    main()
