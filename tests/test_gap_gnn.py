"""Band-gap GNN: graphs, the smooth cutoff, standardised targets, learning geometry at fixed
composition (which a geometry-blind network cannot), two-stage training on two fidelities, and
the first model (GraphConv) that chapter 06's committed result set holds."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.neighborlist import neighbor_list
from torch_geometric.loader import DataLoader

from softlattice.antiperovskite.structures import build_antiperovskite, decorate, inequivalent_orderings
from softlattice.models import gap_gnn_graphconv
from softlattice.models.gap_gnn import (
    GapGNN,
    GapGNNConfig,
    Standardiser,
    TrainingSettings,
    load_model,
    periodic_pairs,
    predict,
    predict_structures,
    save_model,
    structure_graph,
    train,
    two_stage,
)

SMALL = GapGNNConfig(hidden=16, layers=2, gaussians=16, head=8)
"""A network small enough for tests of a few seconds."""


@pytest.fixture(scope="module")
def mixed_cells():
    rng = np.random.default_rng(0)
    structures = []
    for k in range(9):
        for ordering in inequivalent_orderings(k / 8)[:2]:
            atoms = decorate(k / 8, ordering)
            atoms.rattle(0.05, seed=int(rng.integers(1000)))
            structures.append(atoms)
    return structures


def bond_strain(atoms: Atoms, ideal: float) -> float:
    """Mean squared deviation (Å^2) of the Ag-S nearest-neighbour distances (pairs closer than
    3 Å) from the ideal ``ideal``."""
    i, j, d = neighbor_list("ijd", atoms, 3.0)
    symbols = np.array(atoms.get_chemical_symbols())
    return float(np.mean((d[(symbols[i] == "Ag") & (symbols[j] == "S")] - ideal) ** 2))


@pytest.fixture(scope="module")
def rattled_ag3sbr():
    """140 rattled 5-atom Ag3SBr cells (one composition) and a gap made up from their geometry
    alone: it closes with the mean squared Ag-S bond deviation."""
    cells = []
    for seed in range(140):
        atoms = build_antiperovskite("Br")
        atoms.rattle(0.08, seed=seed)
        cells.append(atoms)
    ideal = build_antiperovskite("Br").cell[0, 0] / 2
    gaps = 1.0 - 20.0 * np.array([bond_strain(a, ideal) for a in cells])
    return cells, gaps


def test_graph_edges_carry_lengths_within_the_cutoff():
    atoms = build_antiperovskite("Br").repeat(2)
    graph = structure_graph(atoms, gap=1.5)
    assert graph.x.shape == (40, 4) and graph.y.item() == pytest.approx(1.5)
    assert graph.edge_index.shape == (2, graph.edge_length.numel())
    assert graph.edge_length.min() > 2.3 and graph.edge_length.max() < 5.5
    with pytest.raises(ValueError, match="no electronegativity for \\['Xe'\\]"):
        structure_graph(Atoms("Xe", cell=[3, 3, 3], pbc=True))
    with pytest.raises(ValueError, match="unknown pooling 'sum'"):
        GapGNNConfig(pooling="sum")


def test_a_neighbour_crossing_the_cutoff_changes_the_prediction_smoothly():
    torch.manual_seed(0)
    model = GapGNN(GapGNNConfig(hidden=16, gaussians=16, cutoff=4.0)).eval()
    scale = Standardiser(1.0, 0.1)

    def gap(distance):
        return predict_structures(model, scale, [Atoms("AgS", positions=[[0, 0, 0], [distance, 0, 0]],
                                                       cell=[20, 20, 20], pbc=True)])[0]

    inside, outside, far = gap(3.999), gap(4.001), gap(6.0)
    assert outside == pytest.approx(far, abs=1e-9)  # beyond the cutoff nothing is seen
    assert abs(gap(2.5) - far) > 1000 * abs(inside - outside)  # a neighbour matters, one at the cutoff hardly


def test_standardiser_is_a_z_score(mixed_cells):
    scale = Standardiser.fit([1.0, 2.0, 3.0])
    assert scale.mean == pytest.approx(2.0) and scale.std == pytest.approx(np.std([1.0, 2.0, 3.0]))
    values = torch.tensor([0.5, 2.0, 4.0])
    assert torch.allclose(scale.restore(scale.normalise(values)), values)
    model = GapGNN(SMALL)
    batch = next(iter(DataLoader([structure_graph(a) for a in mixed_cells[:5]], batch_size=5)))
    assert model(batch).shape == (5,)


@pytest.mark.parametrize("pooling", ["mean", "add", "max"])
def test_every_pooling_runs_and_round_trips_through_a_file(mixed_cells, pooling, tmp_path):
    torch.manual_seed(0)
    model = GapGNN(GapGNNConfig(hidden=8, gaussians=8, head=4, pooling=pooling))
    scale = Standardiser(1.2, 0.3)
    before = predict_structures(model, scale, mixed_cells[:3])
    loaded, loaded_scale = load_model(save_model(tmp_path / "gnn.pt", model, scale))
    assert isinstance(loaded, GapGNN) and loaded.config == model.config and loaded_scale == scale
    assert np.allclose(predict_structures(loaded, loaded_scale, mixed_cells[:3]), before)


def _fit_and_score(config, cells, gaps, train_count=100, epochs=60):
    graphs = [structure_graph(a, config.cutoff, gap=g) for a, g in zip(cells, gaps)]
    train_graphs, test_graphs = graphs[:train_count], graphs[train_count:]
    torch.manual_seed(0)
    model = GapGNN(config)
    scale = Standardiser.fit(gaps[:train_count])
    train(model, train_graphs, scale, TrainingSettings(epochs=epochs, learning_rate=5e-3))
    truth = gaps[train_count:]
    return np.abs(predict(model, test_graphs, scale) - truth).mean(), np.abs(truth - gaps[:train_count].mean()).mean()


def test_the_gnn_learns_a_gap_set_by_displacements_at_fixed_composition(rattled_ag3sbr):
    cells, gaps = rattled_ag3sbr
    mae, constant = _fit_and_score(SMALL, cells, gaps)
    assert mae < 0.5 * constant, (mae, constant)


def test_a_geometry_blind_gnn_cannot_learn_it(rattled_ag3sbr):
    cells, gaps = rattled_ag3sbr
    mae, constant = _fit_and_score(GapGNNConfig(**{**SMALL.__dict__, "geometry": False}), cells, gaps)
    assert mae > 0.8 * constant, (mae, constant)


def test_stage_two_on_few_accurate_gaps_beats_stage_one_alone_and_training_from_scratch(rattled_ag3sbr):
    """Two fidelities: accurate = cheap + a smooth shift (0.8 eV plus a part growing with the
    cheap gap). Stage 1 sees 90 cheap gaps, stage 2 ten accurate ones of other structures."""
    cells, cheap = rattled_ag3sbr
    accurate = cheap + 0.8 + 0.5 * (cheap - 1.0)
    graphs_cheap = [structure_graph(a, gap=g) for a, g in zip(cells[:90], cheap[:90])]
    graphs_accurate = [structure_graph(a, gap=g) for a, g in zip(cells[90:100], accurate[90:100])]
    test = [structure_graph(a) for a in cells[100:]]
    truth = accurate[100:]
    stage1 = TrainingSettings(epochs=60, learning_rate=5e-3)
    stage2 = TrainingSettings(epochs=40, learning_rate=1e-3)
    model, cheap_scale, accurate_scale, losses = two_stage(SMALL, graphs_cheap, graphs_accurate, stage1, stage2)
    assert len(losses) == 2 and losses[1][-1] < losses[1][0]
    two_stage_mae = np.abs(predict(model, test, accurate_scale) - truth).mean()
    only_stage1, scale1, *_ = two_stage(SMALL, graphs_cheap, [], stage1, stage2)
    stage1_mae = np.abs(predict(only_stage1, test, scale1) - truth).mean()
    torch.manual_seed(0)
    scratch = GapGNN(SMALL)
    train(scratch, graphs_accurate, accurate_scale, stage1)
    scratch_mae = np.abs(predict(scratch, test, accurate_scale) - truth).mean()
    constant_mae = np.abs(truth - accurate[90:100].mean()).mean()
    assert two_stage_mae < 0.5 * stage1_mae and two_stage_mae < 0.7 * scratch_mae, (two_stage_mae, stage1_mae,
                                                                                      scratch_mae)
    assert two_stage_mae < 0.6 * constant_mae, (two_stage_mae, constant_mae)


def test_fast_pair_search_agrees_with_ase(mixed_cells):
    atoms = mixed_cells[3]
    mine = sorted(zip(*[np.round(a, 6).tolist() for a in periodic_pairs(atoms, 5.5)]))
    reference = sorted(zip(*[np.round(a, 6).tolist() for a in neighbor_list("ijd", atoms, 5.5)]))
    assert mine == reference


def test_the_first_model_still_trains_and_loads_from_its_old_file_format(mixed_cells, tmp_path):
    graphs = [gap_gnn_graphconv.structure_graph(a, gap=1.0 + 0.8 * a.get_chemical_symbols().count("Br") / 8)
              for a in mixed_cells]
    scaler = gap_gnn_graphconv.GapScaler.fit([g.y.item() for g in graphs])
    model = gap_gnn_graphconv.GraphConvGapGNN()
    losses = gap_gnn_graphconv.train(model, graphs, scaler, epochs=5, batch_size=8)
    assert len(losses) == 5 and all(np.isfinite(losses))
    out = gap_gnn_graphconv.predict(model, graphs, scaler)
    assert np.all((out > scaler.low) & (out < scaler.high))
    torch.save(dict(state_dict=model.state_dict(), low=scaler.low, high=scaler.high), tmp_path / "gap-gnn.pt")
    loaded, loaded_scaler = load_model(tmp_path / "gap-gnn.pt")
    assert isinstance(loaded, gap_gnn_graphconv.GraphConvGapGNN) and loaded_scaler == scaler
    assert np.allclose(predict_structures(loaded, loaded_scaler, mixed_cells), out, atol=1e-6)
