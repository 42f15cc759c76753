"""GPUMD backend: the same temperature protocol as :func:`softlattice.md.engine.run_md`, run by GPUMD
where a ``gpumd`` executable is on PATH (a GPU machine).

Units as in :mod:`softlattice.md.engine`. GPUMD's ``npt_scr`` ensemble (Langevin-type thermostat with
Bussi's velocity rescaling and stochastic cell rescaling, Bernetti & Bussi 2020) is what the seed
used; each :class:`~softlattice.md.protocols.Segment` becomes one ``ensemble npt_scr T_start T_end ...`` /
``run`` pair, so GPUMD ramps the target temperature linearly within it. Files are written with
calorine's helpers (``write_xyz`` converts velocities to GPUMD units, ``write_runfile`` writes
``run.in``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from ase import Atoms
from ase.io import read
from calorine.gpumd import read_thermo, write_runfile, write_xyz

from softlattice.md.calculators import model_species
from softlattice.md.engine import MDSettings, Observer
from softlattice.md.protocols import Segment

DUMP_FILE = "dump.xyz"


def gpumd_executable() -> str | None:
    """Path of the ``gpumd`` executable, or None when GPUMD is not installed."""
    return shutil.which("gpumd")


def gpumd_run_parameters(segments: Sequence[Segment], settings: MDSettings, model_name: str = "nep.txt",
                         elastic_GPa: float = 20.0) -> list[tuple[str, object]]:
    """``run.in`` commands for ``segments`` as (keyword, values) pairs.

    Parameters
    ----------
    segments
        Temperature protocol.
    settings
        Integrator settings; ``thermostat_fs`` and ``barostat_fs`` become GPUMD's coupling
        constants in units of the time step, ``pressure_GPa`` the target pressure.
    model_name
        File name of the potential inside the run folder.
    elastic_GPa
        Elastic constant estimate GPUMD's barostat needs for every stress component, GPa
        (lead-iodide perovskites: bulk moduli of 12-20 GPa).
    """
    if settings.hydrogen_mass is not None:
        raise ValueError("GPUMD runs use the masses of model.xyz; heavy hydrogen is only supported by "
                         "the ASE engine")
    steps_per_sample = settings.sample_interval
    t_coup = settings.thermostat_fs / settings.timestep_fs
    p_coup = settings.barostat_fs / settings.timestep_fs
    p = settings.pressure_GPa
    commands: list[tuple[str, object]] = [("potential", model_name),
                                          ("velocity", segments[0].temperature_start),
                                          ("time_step", settings.timestep_fs)]
    for segment in segments:
        steps = max(steps_per_sample, int(round(segment.duration_ps * 1000 / settings.timestep_fs
                                                / steps_per_sample)) * steps_per_sample)
        if settings.ensemble == "npt":
            ensemble = ("npt_scr", segment.temperature_start, segment.temperature_end, t_coup,
                        p, p, p, 0, 0, 0, *([elastic_GPa] * 6), p_coup)
        elif settings.ensemble == "nvt":
            ensemble = ("nvt_lan", segment.temperature_start, segment.temperature_end, t_coup)
        else:
            ensemble = ("nve",)
        commands += [("ensemble", ensemble), ("dump_thermo", steps_per_sample),
                     ("dump_exyz", (steps_per_sample, 0, 0)), ("run", steps)]
    return commands


def write_gpumd_inputs(atoms: Atoms, model: str | Path, segments: Sequence[Segment],
                       settings: MDSettings, folder: str | Path) -> Path:
    """Write ``model.xyz``, ``run.in`` and the potential into ``folder``; return the folder."""
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(model_species(model)))
    if unknown:
        raise ValueError(f"structure contains {unknown}, which the model {str(model)!r} does not describe")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(model, folder / "nep.txt")
    structure = atoms.copy()
    for name in list(structure.arrays):
        if name not in ("numbers", "positions", "momenta"):
            del structure.arrays[name]
    structure.info = {}
    write_xyz(str(folder / "model.xyz"), structure)
    write_runfile(folder / "run.in", gpumd_run_parameters(segments, settings))
    return folder


def run_gpumd(atoms: Atoms, model: str | Path, segments: Sequence[Segment], settings: MDSettings,
              folder: str | Path, observers: Sequence[Observer] = ()) -> pd.DataFrame:
    """Run the protocol with GPUMD and analyse its dump like :func:`softlattice.md.engine.run_md`.

    Returns
    -------
    Observations with ``time_ps``, ``temperature_K``, ``pressure_GPa`` (from ``thermo.out``),
    pseudo-cubic ``a_A``, ``b_A``, ``c_A`` and the columns of ``observers`` applied to each dumped
    frame (e.g. a perovskite's ``Q_<mode>``).
    """
    executable = gpumd_executable()
    if executable is None:
        raise RuntimeError("GPUMD is not installed (no `gpumd` on PATH); use softlattice.md.engine.run_md")
    folder = write_gpumd_inputs(atoms, model, segments, settings, folder)
    subprocess.run([executable], cwd=folder, check=True, capture_output=True)
    thermo = read_thermo(str(folder / "thermo.out"), natoms=len(atoms))
    frames = read(folder / DUMP_FILE, index=":")
    repeat = np.asarray(atoms.info.get("repeat", (1, 1, 1)), dtype=float)
    frame = pd.DataFrame(dict(time_ps=np.arange(1, len(thermo) + 1) * settings.sample_interval
                              * settings.timestep_fs / 1000,
                              temperature_K=thermo["temperature"].to_numpy(),
                              pressure_GPa=thermo["pressure"].to_numpy()))
    lengths = np.array([f.cell.lengths() for f in frames]) / repeat
    n = min(len(frame), len(frames))
    frame = frame.iloc[:n].copy()
    frame[["a_A", "b_A", "c_A"]] = lengths[:n]
    if observers:
        observed = pd.DataFrame([{k: v for observer in observers for k, v in observer(f).items()}
                                 for f in frames[:n]], index=frame.index)
        frame = pd.concat([frame, observed], axis=1)
    return frame
