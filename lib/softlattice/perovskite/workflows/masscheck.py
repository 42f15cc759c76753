"""Check that heavy hydrogen leaves equilibrium lattice parameters unchanged.

Usage::

    python -m softlattice.perovskite.workflows.masscheck --model data/models/<name>/nep.txt [--repeat 2] [--ps 20]

Classical configurational averages do not depend on the masses, so runs that only need
equilibrium averages may give hydrogen a larger mass and take a longer time step
(:attr:`softlattice.md.engine.MDSettings.hydrogen_mass`). This command runs MAPbI3 in NPT at one
temperature twice, with real masses at 0.5 fs and with ``--hydrogen-mass`` at
``--heavy-timestep``, and compares the mean pseudo-cubic lattice parameters with block-averaged
standard errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from softlattice.analysis.statistics import block_standard_error
from softlattice.infra.cli import positive_float, positive_int
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDBlowUp, MDSettings, run_md
from softlattice.md.protocols import hold
from softlattice.perovskite.modes import tilt_observers
from softlattice.perovskite.structures import build_perovskite


def compare_masses(model: str | Path, temperature: float = 300.0, repeat: int = 2,
                   equilibration_ps: float = 5.0, production_ps: float = 20.0,
                   hydrogen_mass: float = 4.0, heavy_timestep_fs: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Mean lattice parameters (Å) with standard errors for real and heavy hydrogen.

    Returns
    -------
    One row per run: ``masses``, ``timestep_fs``, ``a_A``, ``a_err`` ... ``c_err``,
    ``atom_steps_per_second``, ``message`` (why a run stopped early; its averages are then NaN).
    """
    atoms = build_perovskite("MA", repeat, glazer="a0a0c-", tilt_angle=8.0)
    calculator = nep_calculator(model, atoms=atoms)
    rows = []
    for label, mass, timestep in (("real", None, 0.5), (f"H = {hydrogen_mass:g} amu", hydrogen_mass,
                                                        heavy_timestep_fs)):
        settings = MDSettings(ensemble="npt", timestep_fs=timestep, sample_interval=int(round(10 / timestep)),
                              hydrogen_mass=mass, seed=seed)
        try:
            result = run_md(atoms, calculator, hold(temperature, equilibration_ps + production_ps),
                            settings, observers=tilt_observers(atoms))
        except MDBlowUp as error:
            rows.append(dict(masses=label, timestep_fs=timestep, message=str(error)))
            continue
        production = result.observations[result.observations.time_ps > equilibration_ps]
        row = dict(masses=label, timestep_fs=timestep,
                   atom_steps_per_second=result.atom_steps_per_second, message="")
        for axis in "abc":
            values = production[f"{axis}_A"].to_numpy()
            row[f"{axis}_A"] = values.mean()
            row[f"{axis}_err"] = block_standard_error(values)
        rows.append(row)
    return pd.DataFrame(rows)


def mass_differences(table: pd.DataFrame) -> pd.DataFrame:
    """Heavy minus real lattice parameter per axis (Å), its combined standard error and the
    difference in units of that error, from a :func:`compare_masses` table (real first)."""
    rows = []
    for axis in "abc":
        difference = table[f"{axis}_A"].iloc[1] - table[f"{axis}_A"].iloc[0]
        error = float(np.hypot(table[f"{axis}_err"].iloc[0], table[f"{axis}_err"].iloc[1]))
        rows.append(dict(axis=axis, heavy_minus_real_A=difference, error_A=error,
                         sigmas=abs(difference) / error))
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.masscheck", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="NEP model file (nep.txt)")
    parser.add_argument("--temperature", type=positive_float, default=300.0, help="K")
    parser.add_argument("--repeat", type=positive_int, default=2, help="cells along each axis")
    parser.add_argument("--ps", type=positive_float, default=20.0, help="production length, ps")
    parser.add_argument("--hydrogen-mass", type=positive_float, default=4.0, help="amu")
    parser.add_argument("--heavy-timestep", type=positive_float, default=1.0, help="fs, with heavy hydrogen")
    args = parser.parse_args(argv)
    table = compare_masses(args.model, args.temperature, args.repeat, production_ps=args.ps,
                           hydrogen_mass=args.hydrogen_mass, heavy_timestep_fs=args.heavy_timestep)
    print(table.round(4).to_string(index=False))
    print(mass_differences(table).round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
