"""The compendium's first band-gap GNN (GraphConv, scalar 1/d edge weights), kept so that the
committed chapter-06 result set (``data/cap_models/chgnet-r2scan``, its ``gap-gnn.pt``) is
reproduced by its own code and still loads. New work uses :mod:`softlattice.models.gap_gnn`.

Units: Å, eV.

Graph of a structure: one node per atom with the four element features of
:func:`softlattice.models.crystal_graphs.node_features`; one edge per pair within ``cutoff``
(5.5 Å, periodic images included) weighted by the inverse distance (PyG's ``GraphConv`` takes one
scalar weight per edge).

Network: two ``GraphConv`` layers with 64 node features, each followed by batch norm and ReLU;
global max pooling; dropout 0.4; linear 64 -> 16, ReLU, linear 16 -> 1; sigmoid. The output is
the gap normalised to [0, 1] by :class:`GapScaler`. It is *not* the seed's network: its edges
carry one scalar each and no distance expansion, and held out it did not beat a constant
predictor (chapter 06, issue 18).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.nn import GraphConv, global_max_pool

from softlattice.models.crystal_graphs import NODE_FEATURES, node_features, periodic_pairs


def structure_graph(atoms: Atoms, cutoff: float = 5.5, gap: float | None = None) -> Data:
    """A graph of ``atoms`` with ``edge_weight`` = 1 / distance (1/Å); ``y`` = ``gap`` (eV) when given."""
    i, j, d = periodic_pairs(atoms, cutoff)
    data = Data(x=torch.tensor(node_features(atoms), dtype=torch.float32),
                edge_index=torch.tensor(np.vstack([i, j]), dtype=torch.long),
                edge_weight=torch.tensor(1.0 / d, dtype=torch.float32))
    if gap is not None:
        data.y = torch.tensor([float(gap)], dtype=torch.float32)
    return data


@dataclass(frozen=True)
class GapScaler:
    """Linear map of gaps (eV) onto [0, 1] and back: (gap - low) / (high - low)."""

    low: float
    high: float

    @classmethod
    def fit(cls, gaps: Sequence[float], margin: float = 0.1) -> GapScaler:
        """Range of ``gaps`` (eV) widened by ``margin`` of its width on each side, so unseen gaps a
        little outside the training range stay inside (0, 1) where the sigmoid can reach them."""
        gaps = np.asarray(gaps, dtype=float)
        width = max(gaps.max() - gaps.min(), 1e-3)
        return cls(float(gaps.min() - margin * width), float(gaps.max() + margin * width))

    def normalise(self, gaps):
        """Gaps (eV) -> [0, 1]."""
        return (gaps - self.low) / (self.high - self.low)

    def restore(self, values):
        """[0, 1] -> gaps (eV)."""
        return self.low + values * (self.high - self.low)


class GraphConvGapGNN(torch.nn.Module):
    """The first band-gap GNN; ``forward`` returns normalised gaps in (0, 1), shape (n_graphs,)."""

    def __init__(self, node_dim: int = NODE_FEATURES, hidden: int = 64, dropout: float = 0.4):
        super().__init__()
        self.conv1, self.norm1 = GraphConv(node_dim, hidden), torch.nn.BatchNorm1d(hidden)
        self.conv2, self.norm2 = GraphConv(hidden, hidden), torch.nn.BatchNorm1d(hidden)
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Sequential(torch.nn.Linear(hidden, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))

    @staticmethod
    def graph(atoms: Atoms, gap: float | None = None) -> Data:
        """The graph this model reads (:func:`structure_graph`)."""
        return structure_graph(atoms, gap=gap)

    def forward(self, data) -> torch.Tensor:
        h = torch.relu(self.norm1(self.conv1(data.x, data.edge_index, data.edge_weight)))
        h = torch.relu(self.norm2(self.conv2(h, data.edge_index, data.edge_weight)))
        pooled = self.dropout(global_max_pool(h, data.batch))
        return torch.sigmoid(self.head(pooled)).squeeze(-1)


def train(model: GraphConvGapGNN, graphs: Sequence, scaler: GapScaler, epochs: int = 100, batch_size: int = 16,
          learning_rate: float = 1e-3, seed: int = 0) -> list[float]:
    """Train ``model`` in place on graphs with ``y`` (eV), mean-squared error on normalised gaps
    (Adam). A second call continues from the current weights (the second stage).

    Returns
    -------
    Mean training loss per epoch.
    """
    if len(graphs) < 2:
        raise ValueError(f"{len(graphs)} graph(s): batch norm needs at least 2 per batch")
    torch.manual_seed(seed)
    loader = DataLoader(list(graphs), batch_size=batch_size, shuffle=True, drop_last=len(graphs) % batch_size == 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    model.train()
    for _ in range(epochs):
        total, count = 0.0, 0
        for batch in loader:
            optimiser.zero_grad()
            loss = torch.nn.functional.mse_loss(model(batch), scaler.normalise(batch.y))
            loss.backward()
            optimiser.step()
            total += loss.item() * batch.num_graphs
            count += batch.num_graphs
        losses.append(total / count)
    return losses


@torch.no_grad()
def predict(model: GraphConvGapGNN, graphs: Sequence, scaler: GapScaler, batch_size: int = 64) -> np.ndarray:
    """Gaps (eV) of ``graphs`` (evaluation mode: batch norm with running statistics, no dropout)."""
    model.eval()
    return np.concatenate([scaler.restore(model(batch)).numpy()
                           for batch in DataLoader(list(graphs), batch_size=batch_size)])
