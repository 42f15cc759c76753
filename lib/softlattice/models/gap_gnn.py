"""A graph neural network for band gaps (the seed's architecture, PyTorch Geometric).

Units: Å, eV.

Graph of a structure: one node per atom with (atomic number, mass in amu, covalent radius in Å,
Pauling electronegativity), scaled to O(1); one edge per pair within ``cutoff`` (5.5 Å, periodic
images included) weighted by the inverse distance (PyG's ``GraphConv`` takes one scalar weight per
edge; the seed's edges carry distances, and nearer neighbours should weigh more).

Network (the seed's): two graph convolutions with 64 node features, each followed by batch norm
and ReLU; global max pooling; dropout 0.4; linear 64 -> 16, ReLU, linear 16 -> 1; sigmoid. The
output is the gap normalised to [0, 1] by :class:`GapScaler`. Training is two-stage: first on
many gaps of a cheaper level of theory, then the same weights are trained further on fewer gaps
of a better level (:func:`train`, called twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_masses, covalent_radii

PAULING = {"H": 2.20, "C": 2.55, "N": 3.04, "S": 2.58, "Br": 2.96, "Ag": 1.93, "I": 2.66, "Cs": 0.79,
           "Pb": 2.33}
"""Pauling electronegativities of the elements of this compendium (CRC Handbook values)."""


def node_features(atoms: Atoms) -> np.ndarray:
    """(N, 4) node features: Z / 100, mass / 200 amu, covalent radius / 2 Å, electronegativity / 4."""
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(PAULING))
    if unknown:
        raise ValueError(f"no electronegativity for {unknown}; known: {sorted(PAULING)}")
    numbers = atoms.numbers
    return np.column_stack([numbers / 100.0, atomic_masses[numbers] / 200.0, covalent_radii[numbers] / 2.0,
                            [PAULING[s] / 4.0 for s in atoms.get_chemical_symbols()]])


def periodic_pairs(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs (i, j, distance) closer than ``cutoff`` over periodic images, i != j or another
    image. For the 40-atom cells of this chapter a dense search over the few images the cutoff
    reaches is about 30 times faster than ASE's general ``neighbor_list`` (whose set-up dominates
    at this size), which is what makes the GNN cheap enough for thousands of MD snapshots; larger
    cells fall back to ASE."""
    if len(atoms) > 400:
        from ase.neighborlist import neighbor_list
        return neighbor_list("ijd", atoms, cutoff)
    cell = atoms.cell.array
    heights = atoms.cell.volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    reach = np.ceil(cutoff / heights).astype(int)
    shifts = np.array(np.meshgrid(*[np.arange(-n, n + 1) for n in reach], indexing="ij")).reshape(3, -1).T @ cell
    positions = atoms.positions
    vectors = positions[None, :, None, :] + shifts[None, None, :, :] - positions[:, None, None, :]
    distances = np.linalg.norm(vectors, axis=-1)  # (N, N, images)
    close = (distances < cutoff) & (distances > 1e-8)
    i, j, _ = np.nonzero(close)
    return i, j, distances[close]


def structure_graph(atoms: Atoms, cutoff: float = 5.5, gap: float | None = None):
    """A ``torch_geometric.data.Data`` graph of ``atoms`` (``y`` = ``gap`` in eV when given)."""
    from torch_geometric.data import Data
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
        """Range of ``gaps`` widened by ``margin`` of its width on each side, so unseen gaps a little
        outside the training range stay inside (0, 1) where the sigmoid can reach them."""
        gaps = np.asarray(gaps, dtype=float)
        width = max(gaps.max() - gaps.min(), 1e-3)
        return cls(float(gaps.min() - margin * width), float(gaps.max() + margin * width))

    def normalise(self, gaps):
        return (gaps - self.low) / (self.high - self.low)

    def restore(self, values):
        return self.low + values * (self.high - self.low)


class GapGNN(torch.nn.Module):
    """The seed's band-gap GNN; ``forward`` returns normalised gaps in (0, 1), shape (n_graphs,)."""

    def __init__(self, node_dim: int = 4, hidden: int = 64, dropout: float = 0.4):
        from torch_geometric.nn import GraphConv
        super().__init__()
        self.conv1, self.norm1 = GraphConv(node_dim, hidden), torch.nn.BatchNorm1d(hidden)
        self.conv2, self.norm2 = GraphConv(hidden, hidden), torch.nn.BatchNorm1d(hidden)
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Sequential(torch.nn.Linear(hidden, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))

    def forward(self, data) -> torch.Tensor:
        from torch_geometric.nn import global_max_pool
        h = torch.relu(self.norm1(self.conv1(data.x, data.edge_index, data.edge_weight)))
        h = torch.relu(self.norm2(self.conv2(h, data.edge_index, data.edge_weight)))
        pooled = self.dropout(global_max_pool(h, data.batch))
        return torch.sigmoid(self.head(pooled)).squeeze(-1)


def train(model: GapGNN, graphs: Sequence, scaler: GapScaler, epochs: int = 100, batch_size: int = 16,
          learning_rate: float = 1e-3, seed: int = 0) -> list[float]:
    """Train ``model`` in place on graphs with ``y`` (eV), mean-squared error on normalised gaps
    (Adam). A second call continues from the current weights (the second stage).

    Returns
    -------
    Mean training loss per epoch.
    """
    from torch_geometric.loader import DataLoader
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
def predict(model: GapGNN, graphs: Sequence, scaler: GapScaler, batch_size: int = 64) -> np.ndarray:
    """Gaps (eV) of ``graphs`` (evaluation mode: batch norm with running statistics, no dropout)."""
    from torch_geometric.loader import DataLoader
    model.eval()
    return np.concatenate([scaler.restore(model(batch)).numpy()
                           for batch in DataLoader(list(graphs), batch_size=batch_size)])
