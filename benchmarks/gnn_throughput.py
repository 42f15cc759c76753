"""Benchmark: band-gap GNN graph construction and inference rate on 40-atom Ag3SBr(x)I(1-x) cells.

    .venv/bin/python benchmarks/gnn_throughput.py [--graphs 400]

Builds ``--graphs`` rattled 2x2x2 cells, times graph construction (neighbour lists within 5.5 Å)
and batched inference of an untrained network of the default size (weights do not change the
cost). Goal from the antiperovskite issue: >= 200 graphs/s on 2 cores. Run on an idle machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from softlattice.antiperovskite.structures import decorate, inequivalent_orderings
from softlattice.models.gap_gnn import GapGNN, Standardiser, predict, structure_graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphs", type=int, default=400)
    args = parser.parse_args()
    base = decorate(0.5, inequivalent_orderings(0.5)[0])
    structures = []
    for k in range(args.graphs):
        atoms = base.copy()
        atoms.rattle(0.1, seed=k)
        structures.append(atoms)
    started = time.perf_counter()
    graphs = [structure_graph(a) for a in structures]
    built = time.perf_counter() - started
    model, scaler = GapGNN(), Standardiser(1.0, 0.1)
    predict(model, graphs[:8], scaler)  # warm-up
    started = time.perf_counter()
    gaps = predict(model, graphs, scaler)
    inferred = time.perf_counter() - started
    assert np.all(np.isfinite(gaps))
    print(f"graph construction: {args.graphs / built:.0f} graphs/s")
    print(f"inference (batches of 64): {args.graphs / inferred:.0f} graphs/s")
    print(f"construction + inference: {args.graphs / (built + inferred):.0f} graphs/s (goal >= 200)")


if __name__ == "__main__":
    main()
