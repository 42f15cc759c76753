"""Band-gap GNN: graphs, forward shape and range, normaliser round trip, two-stage training."""

import numpy as np
import pytest
import torch
from ase import Atoms

from softlattice.antiperovskite.structures import build_antiperovskite, decorate, inequivalent_orderings
from softlattice.models.gap_gnn import GapGNN, GapScaler, predict, structure_graph, train


@pytest.fixture(scope="module")
def cells():
    rng = np.random.default_rng(0)
    structures = []
    for k in range(9):
        x = k / 8
        for ordering in inequivalent_orderings(x)[:2]:
            atoms = decorate(x, ordering)
            atoms.rattle(0.05, seed=int(rng.integers(1000)))
            structures.append(atoms)
    return structures


def _toy_gap(atoms, offset=0.0):
    """A made-up, learnable target for the training test only: linear in the Br fraction."""
    return 1.0 + 0.8 * atoms.get_chemical_symbols().count("Br") / 8 + offset


def test_graph_nodes_edges_and_weights():
    atoms = build_antiperovskite("Br").repeat(2)
    graph = structure_graph(atoms, gap=1.5)
    assert graph.x.shape == (40, 4) and graph.y.item() == pytest.approx(1.5)
    assert graph.edge_index.shape[0] == 2 and (graph.edge_weight > 1 / 5.5).all()
    with pytest.raises(ValueError, match="no electronegativity for \\['Xe'\\]"):
        structure_graph(Atoms("Xe", cell=[3, 3, 3], pbc=True))


def test_forward_shape_range_and_scaler_round_trip(cells):
    from torch_geometric.loader import DataLoader
    model = GapGNN()
    model.eval()
    batch = next(iter(DataLoader([structure_graph(a) for a in cells[:5]], batch_size=5)))
    out = model(batch)
    assert out.shape == (5,) and torch.all((out > 0) & (out < 1))
    scaler = GapScaler.fit([1.0, 2.0])
    gaps = torch.tensor([1.0, 1.5, 2.0])
    assert torch.allclose(scaler.restore(scaler.normalise(gaps)), gaps)
    assert 0 < scaler.normalise(torch.tensor(1.0)) < scaler.normalise(torch.tensor(2.0)) < 1


def test_two_stage_training_reduces_the_error_on_its_data(cells):
    low = [structure_graph(a, gap=_toy_gap(a)) for a in cells]
    high = [structure_graph(a, gap=_toy_gap(a, offset=0.3)) for a in cells[::2]]
    scaler = GapScaler.fit([g.y.item() for g in low + high])
    model = GapGNN()
    truth_high = np.array([g.y.item() for g in high])
    before = np.abs(predict(model, high, scaler) - truth_high).mean()
    first = train(model, low, scaler, epochs=60, batch_size=8)
    after_first = np.abs(predict(model, low, scaler) - np.array([g.y.item() for g in low])).mean()
    second = train(model, high, scaler, epochs=60, batch_size=4)
    after_second = np.abs(predict(model, high, scaler) - truth_high).mean()
    assert first[-1] < first[0] and second[-1] < second[0]
    assert after_first < 0.5 * before and after_second < before


def test_fast_pair_search_agrees_with_ase(cells):
    from ase.neighborlist import neighbor_list

    from softlattice.models.gap_gnn import periodic_pairs
    atoms = cells[3]
    mine = sorted(zip(*[np.round(a, 6).tolist() for a in periodic_pairs(atoms, 5.5)]))
    reference = sorted(zip(*[np.round(a, 6).tolist() for a in neighbor_list("ijd", atoms, 5.5)]))
    assert mine == reference
