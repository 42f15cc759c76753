"""ASE calculators for GPUMD ``nep.txt`` models on CPUs.

Units: eV, Å.
"""

from __future__ import annotations

from pathlib import Path

from ase import Atoms
from ase.calculators.calculator import Calculator
from calorine.nep import read_model

ENGINES = ("nep-adapters", "cpunep")


def model_species(model: str | Path) -> list[str]:
    """Chemical species of a GPUMD ``nep.txt`` model, read from its header line."""
    path = Path(model)
    if not path.is_file():
        raise ValueError(f"NEP model file {str(path)!r} does not exist")
    header = path.read_text().split("\n", 1)[0].split()
    if not header or not header[0].startswith("nep") or len(header) < 3:
        raise ValueError(f"{str(path)!r} is not a GPUMD nep.txt model (header {' '.join(header)!r})")
    return header[2:2 + int(header[1])]


def check_nep_model(model: str | Path) -> list[str]:
    """The species of a complete GPUMD ``nep.txt``; a missing, malformed or truncated file is a
    ValueError naming it. Checked before any engine loads the file: the compiled engines read a
    truncated one past its end and crash the process."""
    species = model_species(model)
    try:
        read_model(str(model))
    except (ValueError, IndexError, KeyError) as error:
        raise ValueError(f"NEP model file {str(model)!r} is incomplete or malformed ({error}); "
                         "copy or train it again") from error
    return species


def nep_calculator(model: str | Path, engine: str = "auto", atoms: Atoms | None = None) -> Calculator:
    """ASE calculator for a GPUMD ``nep.txt`` model.

    Parameters
    ----------
    model
        Path of the ``nep.txt`` file.
    engine
        'nep-adapters' (fastest on CPUs, numerically identical to CPUNEP), 'cpunep' (calorine), or
        'auto' (nep-adapters when installed, else CPUNEP).
    atoms
        If given, checked to contain only species the model knows.
    """
    if engine not in ENGINES + ("auto",):
        raise ValueError(f"unknown MD engine {engine!r}; allowed: auto, {', '.join(ENGINES)}")
    species = model_species(model)
    if atoms is not None:
        unknown = sorted(set(atoms.get_chemical_symbols()) - set(species))
        if unknown:
            raise ValueError(f"structure contains {unknown}, which the model {str(model)!r} "
                             f"(species {species}) does not describe")
    check_nep_model(model)
    if engine in ("auto", "nep-adapters"):
        try:
            from nep_adapters.ase import NepAseCalculator
            return NepAseCalculator(str(model))
        except ImportError:
            if engine == "nep-adapters":
                raise
    from calorine.calculators import CPUNEP
    return CPUNEP(str(model))
