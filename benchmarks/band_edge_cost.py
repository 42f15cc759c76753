"""Benchmark: GPAW band-edge single points of chapter 05 in the 96-atom cell and the larger cells of
the cell-size check (issue 17).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/band_edge_cost.py [--repeats 2,2,2 2,2,4]

Prints, per cell, the wall time of one band-edge single point (GPAW LCAO dzp PBE at Gamma, with the
orbital characters, exactly as the chapter computes them) of MA(0.5)FA(0.5)PbI3 rattled by 0.05 Å,
single-threaded as the chapter's two processes run. Run on an idle machine.
"""

from __future__ import annotations

import argparse
import time

from softlattice.electronic.band_edges import band_edges
from softlattice.perovskite.structures import build_mixed_perovskite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", nargs="+", default=["2,2,2", "2,2,4"],
                        help="cells as nx,ny,nz pseudo-cubic cells (12 atoms each)")
    args = parser.parse_args()
    for text in args.repeats:
        repeat = tuple(int(n) for n in text.split(","))
        atoms = build_mixed_perovskite(0.5, repeat, seed=0)
        atoms.rattle(0.05, seed=1)
        start = time.perf_counter()
        edges = band_edges(atoms)
        seconds = time.perf_counter() - start
        print(f"{len(atoms):5d} atoms ({'x'.join(map(str, repeat))}): {seconds:7.1f} s per band-edge single point "
              f"(gap {edges.gap:.2f} eV)")


if __name__ == "__main__":
    main()
