"""Benchmark: chapter-06 labelling and training cost on 40-atom Ag3SBr(x)I(1-x) cells.

    .venv/bin/python benchmarks/cap_label_throughput.py [--structures 20] [--gaps 1] [--no-gpaw]

Prints labels per hour for each level of theory (reference energies/forces/stresses, GPAW gaps
at the two levels of the full profile: PBE single-zeta and GLLB-SC dzp), the CHGNet fine-tuning
time per structure and epoch, and the GNN training time per epoch. GPAW runs single-threaded
(set OMP_NUM_THREADS=1), as the full profile does with two of them side by side. Run on an idle
machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from softlattice.antiperovskite.structures import decorate, inequivalent_orderings


def _structures(count: int):
    structures = []
    for k in range(count):
        x = [0.0, 0.5, 1.0][k % 3]
        atoms = decorate(x, inequivalent_orderings(x)[0])
        atoms.rattle(0.08, seed=k)
        structures.append(atoms)
    return structures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--structures", type=int, default=20)
    parser.add_argument("--gaps", type=int, default=1, help="structures per GPAW level")
    parser.add_argument("--no-gpaw", action="store_true")
    args = parser.parse_args()
    from softlattice.models.reference import label_structures
    structures = _structures(args.structures)
    with tempfile.TemporaryDirectory() as work:
        label_structures(structures[:1], "chgnet-r2scan", cache_dir=work)  # load the model once
        started = time.perf_counter()
        labelled = label_structures(structures[1:], "chgnet-r2scan", cache_dir=work)
        seconds = (time.perf_counter() - started) / (len(structures) - 1)
        print(f"CHGNet-r2SCAN labels (E, F, stress): {seconds:.2f} s each, {3600 / seconds:.0f} per hour")

        from softlattice.models.finetune import FineTuneSettings, finetune_chgnet
        epochs = 2
        started = time.perf_counter()
        finetune_chgnet(labelled, FineTuneSettings(epochs=epochs, validation_percent=20), f"{work}/finetune")
        seconds = (time.perf_counter() - started) / epochs / len(labelled)
        print(f"CHGNet fine-tuning: {seconds:.3f} s per structure and epoch (set-up included)")

        if not args.no_gpaw:
            from softlattice.electronic.gaps import band_gap
            for level, basis in (("pbe", "sz(dzp)"), ("gllbsc", "dzp")):
                times = [band_gap(a, level, basis=basis).seconds for a in structures[: args.gaps]]
                print(f"GPAW {level} ({basis}, Γ): {np.mean(times):.0f} s each, {3600 / np.mean(times):.0f} per hour "
                      "per core")

    from softlattice.models.gap_gnn import GapGNN, Standardiser, TrainingSettings, structure_graph, train
    graphs = [structure_graph(a, gap=1.0 + 0.01 * k) for k, a in enumerate(structures)]
    started = time.perf_counter()
    train(GapGNN(), graphs, Standardiser(1.0, 0.1), TrainingSettings(epochs=10, batch_size=16))
    seconds = (time.perf_counter() - started) / 10
    print(f"GNN training: {seconds * 1000 / len(graphs):.1f} ms per graph and epoch")


if __name__ == "__main__":
    main()
