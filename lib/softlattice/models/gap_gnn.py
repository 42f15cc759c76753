"""A band-gap graph neural network of the kind the seed describes (PyTorch Geometric): element
features on the nodes, distances on the edges weighting the messages, a global pooling and a
fully connected head, trained in two stages.

Units: Å, eV.

Graph of a structure (:func:`structure_graph`): one node per atom with the seed's four element
features (atomic number, mass, covalent radius, electronegativity; :mod:`softlattice.models.crystal_graphs`);
one directed edge per pair closer than the cutoff (5.5 Å, the seed's, periodic images included)
carrying its length. The network expands each length in Gaussians (``gaussians`` centres on
[0, cutoff]) and multiplies by the cosine cutoff 0.5 (cos(pi d / cutoff) + 1), so an edge's
message fades to zero at the cutoff and a neighbour crossing it changes nothing abruptly.

Network (:class:`GapGNN`): a linear embedding of the node features; ``layers`` residual
message-passing layers with SchNet's continuous filter (PyG's ``InteractionBlock``: the message
from a neighbour is its features times a filter that an MLP computes from the edge's Gaussians,
times the cosine cutoff), so the messages depend on the distances themselves and vanish smoothly
at the cutoff (CGCNN's gated ``CGConv`` would not: its gate stays open for an edge whose
features are zero); a global pooling (``'mean'``, ``'add'`` or ``'max'``; the seed uses max); a
fully connected head hidden -> ``head`` -> 1. The output is the gap standardised by
:class:`Standardiser` (z-score of the training gaps).

Two-stage training (:func:`two_stage`): stage 1 on the many gaps of the cheap level; stage 2
continues from those weights on the few gaps of the accurate level (distinct structures), with
the target standardised by the accurate training gaps, so the stage-1 network already maps
structures onto the right scale up to the levels' different means and spreads.

Where this differs from the seed's Methods: no batch norm and no dropout by default (a few hundred
graphs, batches of 16), and z-scored targets instead of a sigmoid on a min-max range (a sigmoid
cannot reach gaps outside the training range). Pooling, width and depth are chosen by
cross-validation (:mod:`softlattice.antiperovskite.workflows.gap_models`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool
from torch_geometric.nn.models.schnet import GaussianSmearing, InteractionBlock

from softlattice.models import gap_gnn_graphconv
from softlattice.models.crystal_graphs import NODE_FEATURES, PAULING, node_features, periodic_pairs

__all__ = ["CUTOFF", "PAULING", "GapGNN", "GapGNNConfig", "Standardiser", "TrainingSettings", "load_model",
           "node_features", "periodic_pairs", "predict", "predict_structures", "save_model", "structure_graph",
           "train", "two_stage"]

CUTOFF = 5.5
"""Graph cutoff radius (Å), the seed's."""
POOLINGS = {"mean": global_mean_pool, "add": global_add_pool, "max": global_max_pool}
FORMAT = "gap-gnn-2"
"""Tag of a file written by :func:`save_model` (a file without it is the first model's)."""


@dataclass(frozen=True)
class GapGNNConfig:
    """Architecture of :class:`GapGNN`.

    Attributes
    ----------
    hidden
        Node features in the message-passing layers.
    layers
        Message-passing layers.
    pooling
        'mean', 'add' or 'max' over the atoms of a structure.
    gaussians
        Gaussians of the edge-length expansion, centred evenly on [0, ``cutoff``].
    cutoff
        Graph cutoff radius, Å.
    head
        Width of the hidden layer of the fully connected head.
    dropout
        Dropout on the pooled features (0: none).
    geometry
        False gives a geometry-blind ablation: every edge is given length 0 (the same Gaussians
        and no cutoff damping), so the network sees species and who neighbours whom, not how far.
    """

    hidden: int = 64
    layers: int = 2
    pooling: str = "mean"
    gaussians: int = 32
    cutoff: float = CUTOFF
    head: int = 16
    dropout: float = 0.0
    geometry: bool = True

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; allowed: {', '.join(POOLINGS)}")
        if min(self.hidden, self.layers, self.head) < 1 or self.gaussians < 2:
            raise ValueError(f"need hidden, layers, head >= 1 and gaussians >= 2; got {self.hidden}, {self.layers}, "
                             f"{self.head}, {self.gaussians}")
        if not self.cutoff > 0 or not 0 <= self.dropout < 1:
            raise ValueError(f"need cutoff > 0 Å and 0 <= dropout < 1; got {self.cutoff!r}, {self.dropout!r}")


def structure_graph(atoms: Atoms, cutoff: float = CUTOFF, gap: float | None = None) -> Data:
    """A graph of ``atoms``: ``x`` (N, 4) element features, ``edge_index`` (2, E) directed pairs
    closer than ``cutoff`` (Å), ``edge_length`` (E,) in Å, ``y`` = ``gap`` (eV) when given."""
    i, j, d = periodic_pairs(atoms, cutoff)
    data = Data(x=torch.tensor(node_features(atoms), dtype=torch.float32),
                edge_index=torch.tensor(np.vstack([j, i]), dtype=torch.long),  # messages flow j -> i
                edge_length=torch.tensor(d, dtype=torch.float32))
    if gap is not None:
        data.y = torch.tensor([float(gap)], dtype=torch.float32)
    return data


class GapGNN(torch.nn.Module):
    """Band gaps from graphs; ``forward`` returns standardised gaps, shape (n_graphs,)."""

    def __init__(self, config: GapGNNConfig = GapGNNConfig()):
        super().__init__()
        self.config = config
        self.embed = torch.nn.Linear(NODE_FEATURES, config.hidden)
        self.expand = GaussianSmearing(0.0, config.cutoff, config.gaussians)
        self.convs = torch.nn.ModuleList(InteractionBlock(config.hidden, config.gaussians, config.hidden, config.cutoff)
                                         for _ in range(config.layers))
        self.dropout = torch.nn.Dropout(config.dropout)
        self.head = torch.nn.Sequential(torch.nn.Linear(config.hidden, config.head), torch.nn.SiLU(),
                                        torch.nn.Linear(config.head, 1))

    def graph(self, atoms: Atoms, gap: float | None = None) -> Data:
        """The graph this model reads (:func:`structure_graph` at its cutoff)."""
        return structure_graph(atoms, self.config.cutoff, gap)

    def forward(self, data) -> torch.Tensor:
        length = data.edge_length if self.config.geometry else torch.zeros_like(data.edge_length)
        gaussians = self.expand(length)
        h = self.embed(data.x)
        for conv in self.convs:
            h = h + conv(h, data.edge_index, length, gaussians)  # the block applies the cosine cutoff
        pooled = self.dropout(POOLINGS[self.config.pooling](h, data.batch))
        return self.head(pooled).squeeze(-1)


@dataclass(frozen=True)
class Standardiser:
    """z-score of gaps: (gap - mean) / std, mean and std in eV."""

    mean: float
    std: float

    @classmethod
    def fit(cls, gaps: Sequence[float]) -> Standardiser:
        """Mean and standard deviation (eV) of ``gaps``; a spread below 1 meV counts as 1 meV."""
        gaps = np.asarray(gaps, dtype=float)
        if gaps.size == 0:
            raise ValueError("no gaps to standardise")
        return cls(float(gaps.mean()), float(max(gaps.std(), 1e-3)))

    def normalise(self, gaps):
        """Gaps (eV) -> z-scores."""
        return (gaps - self.mean) / self.std

    def restore(self, values):
        """z-scores -> gaps (eV)."""
        return self.mean + values * self.std


@dataclass(frozen=True)
class TrainingSettings:
    """One training stage: Adam with a cosine decay of the learning rate to
    ``learning_rate * final_fraction`` over ``epochs``; mean-squared error of standardised gaps."""

    epochs: int = 200
    batch_size: int = 16
    learning_rate: float = 2e-3
    final_fraction: float = 0.05
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 0 or self.batch_size < 1 or not self.learning_rate > 0:
            raise ValueError(f"need epochs >= 0, batch_size >= 1 and learning_rate > 0; got {self.epochs}, "
                             f"{self.batch_size}, {self.learning_rate}")


def train(model: GapGNN, graphs: Sequence[Data], standardiser: Standardiser,
          settings: TrainingSettings = TrainingSettings()) -> list[float]:
    """Train ``model`` in place on graphs with ``y`` (eV); a second call continues from the
    current weights (the second stage).

    Returns
    -------
    Mean training loss (standardised gaps squared) per epoch.
    """
    if not graphs:
        raise ValueError("no graphs to train on")
    generator = torch.Generator().manual_seed(settings.seed)
    loader = DataLoader(list(graphs), batch_size=settings.batch_size, shuffle=True, generator=generator)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(settings.epochs, 1),
                                                          eta_min=settings.learning_rate * settings.final_fraction)
    losses = []
    model.train()
    for _ in range(settings.epochs):
        total, count = 0.0, 0
        for batch in loader:
            optimiser.zero_grad()
            loss = torch.nn.functional.mse_loss(model(batch), standardiser.normalise(batch.y))
            loss.backward()
            optimiser.step()
            total += loss.item() * batch.num_graphs
            count += batch.num_graphs
        schedule.step()
        losses.append(total / count)
    return losses


@torch.no_grad()
def predict(model: torch.nn.Module, graphs: Sequence[Data], scaler, batch_size: int = 64) -> np.ndarray:
    """Gaps (eV) of ``graphs`` by ``model`` in evaluation mode; ``scaler`` maps the network's
    output back to eV (:class:`Standardiser`, or the first model's ``GapScaler``)."""
    model.eval()
    return np.concatenate([np.asarray(scaler.restore(model(batch)).numpy(), dtype=float)
                           for batch in DataLoader(list(graphs), batch_size=batch_size)])


def predict_structures(model: torch.nn.Module, scaler, structures: Sequence[Atoms]) -> np.ndarray:
    """Gaps (eV) of ``structures``, each turned into the graph ``model`` reads (``model.graph``)."""
    return predict(model, [model.graph(a) for a in structures], scaler)


def two_stage(config: GapGNNConfig, cheap: Sequence[Data], accurate: Sequence[Data], stage1: TrainingSettings,
              stage2: TrainingSettings, seed: int = 0) -> tuple[GapGNN, Standardiser, Standardiser, list[list[float]]]:
    """The seed's two-stage training of a new :class:`GapGNN`: stage 1 on ``cheap`` graphs, stage 2
    (same weights) on ``accurate`` ones (with ``y`` in eV; distinct structures).

    Returns
    -------
    The model after stage 2, the standardisers of the two stages (the model after stage 1 is not
    kept: predict it by calling this with ``accurate=[]``) and the losses per epoch of each stage.
    """
    torch.manual_seed(seed)
    model = GapGNN(config)
    cheap_scale = Standardiser.fit([g.y.item() for g in cheap])
    losses = [train(model, cheap, cheap_scale, stage1)]
    if not accurate:
        return model, cheap_scale, cheap_scale, losses
    accurate_scale = Standardiser.fit([g.y.item() for g in accurate])
    losses.append(train(model, accurate, accurate_scale, stage2))
    return model, cheap_scale, accurate_scale, losses


def save_model(path: str | Path, model: GapGNN, standardiser: Standardiser) -> Path:
    """Store ``model`` (configuration and weights) and its ``standardiser`` in one torch file."""
    path = Path(path)
    torch.save(dict(format=FORMAT, config=asdict(model.config), state_dict=model.state_dict(),
                    mean=standardiser.mean, std=standardiser.std), path)
    return path


def load_model(path: str | Path) -> tuple[torch.nn.Module, object]:
    """A stored gap model in evaluation mode and its scaler: a :class:`GapGNN` with its
    :class:`Standardiser` from :func:`save_model`, or the first model
    (:class:`softlattice.models.gap_gnn_graphconv.GraphConvGapGNN`, ``GapScaler``) from an older
    file (chapter 06's ``gap-gnn.pt``). Either pair works with :func:`predict_structures`."""
    stored = torch.load(Path(path), weights_only=False)
    if stored.get("format") == FORMAT:
        model, scaler = GapGNN(GapGNNConfig(**stored["config"])), Standardiser(stored["mean"], stored["std"])
    else:
        model = gap_gnn_graphconv.GraphConvGapGNN()
        scaler = gap_gnn_graphconv.GapScaler(stored["low"], stored["high"])
    model.load_state_dict(stored["state_dict"])
    model.eval()
    return model, scaler
