"""Train/test splits of structure sets.

Two kinds: a seeded random split (:func:`split_structures`, used where a set is fixed once) and a
split by structure hash (:func:`split`), under which a structure never changes side when the set
grows or is regenerated in another order.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
from ase import Atoms

from softlattice.infra.keys import structure_hash


def split_structures(structures: Sequence[Atoms], test_fraction: float, seed: int) -> tuple[list[Atoms], list[Atoms]]:
    """Random train/test split (seeded)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction {test_fraction!r} must lie in (0, 1)")
    order = np.random.default_rng(seed).permutation(len(structures))
    n_test = max(1, int(round(test_fraction * len(structures))))
    return [structures[i] for i in order[n_test:]], [structures[i] for i in order[:n_test]]


def is_test(atoms: Atoms, test_percent: int = 10, salt: str = "test") -> bool:
    """Whether ``atoms`` belongs to the held-out set: decided by its structure hash, so the split of
    a structure never changes when the set grows or is regenerated in another order. Another
    ``salt`` draws an independent split (the validation set inside the training set)."""
    if not 0 < test_percent < 100:
        raise ValueError(f"test_percent {test_percent!r} must be in (0, 100)")
    return int(hashlib.sha256((salt + structure_hash(atoms)).encode()).hexdigest(), 16) % 100 < test_percent


def split(structures: list[Atoms], test_percent: int = 10, salt: str = "test") -> tuple[list[Atoms], list[Atoms]]:
    """(training, held-out) by :func:`is_test`."""
    flags = [is_test(a, test_percent, salt) for a in structures]
    return ([a for a, f in zip(structures, flags) if not f], [a for a, f in zip(structures, flags) if f])


def k_folds(count: int, folds: int, seed: int = 0) -> list[np.ndarray]:
    """``folds`` disjoint validation index sets covering ``range(count)`` (a seeded permutation cut
    into near-equal parts); training set k is everything outside fold k."""
    if not 2 <= folds <= count:
        raise ValueError(f"need 2 <= folds <= {count} items; got {folds} folds")
    return [np.sort(part) for part in np.array_split(np.random.default_rng(seed).permutation(count), folds)]
