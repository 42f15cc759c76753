"""The relaxed 12-atom cubic perovskite cell whose phonons chapter 04 shows.

Units: Å, eV/Å.
"""

from __future__ import annotations

from pathlib import Path

from ase import Atoms
from calorine.tools import relax_structure

from softlattice.md.calculators import nep_calculator
from softlattice.perovskite.structures import build_perovskite


def relaxed_cubic_cell(model: str | Path, a_site: str = "MA", lattice_constant: float | None = None,
                       fmax: float = 0.005, steps: int = 500) -> Atoms:
    """The 12-atom cubic cell with positions relaxed at fixed cubic lattice (calorine's
    ``relax_structure``); the lattice constant is the builder's experimental one unless given."""
    kwargs = {} if lattice_constant is None else {"lattice_constant": lattice_constant}
    atoms = build_perovskite(a_site, 1, **kwargs)
    # a symmetric start can sit on a saddle of the molecular rotation with zero force: break it
    atoms.rattle(0.02, seed=0)
    atoms.calc = nep_calculator(model, atoms=atoms)
    relax_structure(atoms, fmax=fmax, steps=steps, constant_cell=True)
    return atoms
