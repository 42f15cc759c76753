"""Choosing the MA/FA teacher: candidate references screened on what the teacher itself can measure.

Units: eV, Å, K; tilt energies in meV per formula unit (f.u., one APbI3).

Three cheap measurements per candidate (a named reference of :mod:`softlattice.reference`,
optionally ``+d3``):

1. the force scale against an independent, DFT-trained yardstick for the Pb-I framework: the
   least-squares slope of the yardstick's forces (CsPbI3 NEP, r2SCAN+rVV10) on the candidate's
   forces over CsPbI3 frames from yardstick MD at several temperatures (1 means the same scale,
   2 means the candidate's forces are half the yardstick's);
2. the same slope against a DFT-labelled set (:func:`force_slope` on any labelled structures);
3. relaxed (positions and cell) tilt phases of MAPbI3 and FAPbI3 for several molecular
   arrangements: energies relative to a0a0a0 and pseudo-cubic lattice constants.

Every relaxation and every frame set is cached on disk, one file each, written atomically: an
interrupted screening resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.filters import FrechetCellFilter
from ase.io import read, write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.optimize import FIRE

from .md import nep_calculator
from .paths import RUNS_DIR
from .reference import REFERENCES, reference_calculator
from .structures import build_mixed_perovskite, build_perovskite
from .tilts import measure_tilt_angles

CANDIDATES = tuple(f"{base}{suffix}" for base in ("chgnet-r2scan", "chgnet-0.3.0", "sevennet-mf0-r2scan")
                   for suffix in ("", "+d3"))
GLAZERS = ("a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+")
SCREEN_DIR = RUNS_DIR / "teacher"


def check_candidate(name: str) -> str:
    """Return ``name`` if it names a reference (optionally ``+d3``), else raise naming the allowed."""
    base, _, suffix = name.partition("+")
    if base not in REFERENCES or suffix not in ("", "d3"):
        raise ValueError(f"unknown teacher {name!r}; allowed: {', '.join(REFERENCES)}, each optionally "
                         "with '+d3'")
    return name


def force_slope(model_forces: np.ndarray, reference_forces: np.ndarray) -> float:
    """Least-squares slope s of ``reference = s * model`` through the origin (dimensionless).

    s > 1: the model's forces are smaller than the reference's (a soft model).
    """
    model = np.asarray(model_forces, dtype=float).ravel()
    reference = np.asarray(reference_forces, dtype=float).ravel()
    if model.shape != reference.shape or model.size == 0:
        raise ValueError(f"force arrays must be non-empty and of one shape, got {model.shape} and "
                         f"{reference.shape}")
    return float(model @ reference / (model @ model))


def _write_atomically(path: Path, frames: Atoms | Sequence[Atoms]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    write(temporary, frames, format="extxyz")
    os.replace(temporary, path)


def yardstick_frames(model: str | Path, temperatures: Sequence[float] = (300.0, 450.0, 600.0),
                     frames_per_temperature: int = 4, repeat: int = 2, equilibration_ps: float = 2.0,
                     interval_ps: float = 1.0, seed: int = 0,
                     cache: Path | None = None) -> list[Atoms]:
    """CsPbI3 frames from Langevin MD with the yardstick NEP, labelled with its forces.

    Starts from cubic CsPbI3 (``repeat``^3 cells, the builder's lattice constant), 2 fs steps,
    friction 0.01/fs; after ``equilibration_ps`` one frame every ``interval_ps``.
    """
    if cache is not None and cache.exists():
        return read(cache, ":")
    calculator = nep_calculator(model)
    frames = []
    for k, temperature in enumerate(temperatures):
        if temperature <= 0:
            raise ValueError(f"temperature {temperature!r} K must be positive")
        atoms = build_perovskite("Cs", repeat, glazer="a0a0a0")
        atoms.calc = calculator
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=np.random.default_rng(seed + k))
        dynamics = Langevin(atoms, 2.0 * units.fs, temperature_K=temperature, friction=0.01 / units.fs, fixcm=False,
                            rng=np.random.default_rng(seed + 100 + k))
        dynamics.run(int(round(equilibration_ps * 500)))
        for _ in range(frames_per_temperature):
            dynamics.run(int(round(interval_ps * 500)))
            frame = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
            frame.calc = SinglePointCalculator(frame, energy=atoms.get_potential_energy(),
                                               forces=atoms.get_forces())
            frame.info["temperature"] = float(temperature)
            frames.append(frame)
    if cache is not None:
        _write_atomically(cache, frames)
    return frames


def yardstick_slopes(candidate: str, frames: Sequence[Atoms]) -> dict[str, float]:
    """Slopes of the yardstick's Pb and I forces (and all) on the candidate's, on ``frames``."""
    calculator = reference_calculator(check_candidate(candidate))
    model, reference, symbols = [], [], []
    for frame in frames:
        work = Atoms(frame.numbers, positions=frame.positions, cell=frame.cell, pbc=True)
        work.calc = calculator
        model.append(work.get_forces())
        reference.append(frame.get_forces())
        symbols += frame.get_chemical_symbols()
    model, reference, symbols = np.concatenate(model), np.concatenate(reference), np.array(symbols)
    return {"candidate": candidate,
            "yardstick_slope_all": force_slope(model, reference),
            **{f"yardstick_slope_{s}": force_slope(model[symbols == s], reference[symbols == s])
               for s in ("Pb", "I")},
            "yardstick_correlation_I": float(np.corrcoef(model[symbols == "I"].ravel(),
                                                          reference[symbols == "I"].ravel())[0, 1])}


def pseudo_cubic_lattice_constant(atoms: Atoms) -> float:
    """(V / N_f.u.)^(1/3) in Å, with one formula unit per Pb."""
    n_formula_units = atoms.get_chemical_symbols().count("Pb")
    if n_formula_units == 0:
        raise ValueError("structure has no Pb: not a lead-halide perovskite")
    return float((atoms.get_volume() / n_formula_units) ** (1.0 / 3.0))


def relax_phase(candidate: str, fa_fraction: float, glazer: str, arrangement: int, fmax: float = 0.01,
                steps: int = 1000, repeat: int = 2, tilt_angle: float = 8.0,
                folder: Path = SCREEN_DIR / "relaxed") -> Atoms:
    """Relax positions and cell (FIRE on FrechetCellFilter) of one tilt phase; cached.

    Arrangement 0 aligns the molecules to the cage ('fit'); k > 0 draws random orientations (and
    for mixed x the A-site order) with seed k. Returns the relaxed structure with ``info``:
    ``energy_eV``, ``converged``, ``steps``, ``fmax``, the tilt angles and the lattice constant.
    """
    check_candidate(candidate)
    if glazer not in GLAZERS:
        raise ValueError(f"unknown tilt phase {glazer!r}; allowed: {', '.join(GLAZERS)}")
    path = folder / candidate / f"x{fa_fraction:.4f}_{glazer}_arr{arrangement}_f{fmax:g}.extxyz"
    if path.exists():
        return read(path)
    atoms = build_mixed_perovskite(fa_fraction, repeat, glazer=glazer, tilt_angle=tilt_angle, seed=arrangement,
                                   molecule_orientation="fit" if arrangement == 0 else "random")
    atoms.calc = reference_calculator(candidate)
    optimiser = FIRE(FrechetCellFilter(atoms), logfile=None)
    converged = bool(optimiser.run(fmax=fmax, steps=steps))
    energy = atoms.get_potential_energy()
    tilts = measure_tilt_angles(atoms).mean_abs_angles
    result = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
    result.arrays.update({k: v for k, v in atoms.arrays.items() if k not in ("numbers", "positions")})
    result.info.update(candidate=candidate, fa_fraction=float(fa_fraction), glazer=glazer,
                       arrangement=int(arrangement), energy_eV=float(energy), converged=converged,
                       steps=int(optimiser.nsteps), fmax=float(fmax),
                       lattice_constant=pseudo_cubic_lattice_constant(atoms),
                       **{f"tilt_{k}_deg": float(v) for k, v in zip("xyz", tilts)})
    _write_atomically(path, result)
    return result


def relaxed_table(relaxed: Sequence[Atoms]) -> pd.DataFrame:
    """One row per relaxed phase, with ``energy_meV_per_fu`` relative to a0a0a0 of the same
    candidate, composition and arrangement (NaN where that reference is missing)."""
    keys = ("candidate", "fa_fraction", "glazer", "arrangement", "energy_eV", "converged", "steps",
            "lattice_constant", "tilt_x_deg", "tilt_y_deg", "tilt_z_deg")
    frame = pd.DataFrame([{k: a.info[k] for k in keys} | {"n_fu": a.get_chemical_symbols().count("Pb")}
                          for a in relaxed])
    group = ["candidate", "fa_fraction", "arrangement"]
    untilted = frame[frame.glazer == "a0a0a0"].set_index(group).energy_eV
    reference = frame.set_index(group).index.map(untilted.to_dict().get)
    frame["energy_meV_per_fu"] = 1000 * (frame.energy_eV - np.asarray(reference, dtype=float)) / frame.n_fu
    return frame.drop(columns=["energy_eV", "n_fu"])


def screen(candidates: Sequence[str], yardstick: Path, fa_fractions: Sequence[float] = (0.0, 1.0),
           arrangements: Sequence[int] = (0, 1), fmax: float = 0.01, folder: Path = SCREEN_DIR) -> None:
    """Run every measurement for every candidate, cheap ones first; everything cached."""
    for candidate in candidates:
        check_candidate(candidate)
    if not Path(yardstick).is_file():
        raise ValueError(f"yardstick model {str(yardstick)!r} does not exist")
    frames = yardstick_frames(yardstick, cache=folder / "yardstick_frames.extxyz")
    slopes_path = folder / "yardstick_slopes.json"
    slopes = json.loads(slopes_path.read_text()) if slopes_path.exists() else {}
    for candidate in candidates:
        if candidate not in slopes:
            slopes[candidate] = yardstick_slopes(candidate, frames)
            slopes_path.write_text(json.dumps(slopes, indent=1))
            print(f"{candidate}: {slopes[candidate]}", flush=True)
    for arrangement in arrangements:
        for candidate in candidates:
            for x in fa_fractions:
                for glazer in GLAZERS:
                    atoms = relax_phase(candidate, x, glazer, arrangement, fmax=fmax, folder=folder / "relaxed")
                    print(f"{candidate} x={x} {glazer} arr{arrangement}: steps {atoms.info['steps']} "
                          f"converged {atoms.info['converged']} a={atoms.info['lattice_constant']:.3f}",
                          flush=True)


def anchor_structures(validation: Sequence[Atoms], fa_fractions: Sequence[float] = (0.0, 0.5, 1.0),
                      per_kind: int = 2) -> list[Atoms]:
    """Structures for the plane-wave DFT anchors, drawn in file order from the LCAO validation set:
    for each composition, ``per_kind`` tilted cells (not from MD, glazer other than a0a0a0) and
    ``per_kind`` thermal ones (MD snapshots)."""
    chosen = []
    for x in fa_fractions:
        same_x = [a for a in validation if abs(float(a.info.get("fa_fraction", -1)) - x) < 1e-6]
        tilted = [a for a in same_x if a.info.get("origin") != "md" and a.info.get("glazer") != "a0a0a0"]
        # one cell of each tilt pattern before a second of any
        tilted.sort(key=lambda a: [b.info["glazer"] for b in tilted[:tilted.index(a) + 1]].count(a.info["glazer"]))
        thermal = [a for a in same_x if a.info.get("origin") == "md"]
        if len(tilted) < per_kind or len(thermal) < per_kind:
            raise ValueError(f"validation set has {len(tilted)} tilted and {len(thermal)} thermal cells at "
                             f"x = {x}; {per_kind} of each are needed")
        chosen += tilted[:per_kind] + thermal[:per_kind]
    return [Atoms(a.numbers, positions=a.positions, cell=a.cell, pbc=True, info=dict(a.info)) for a in chosen]


def label_anchors(reference: str, part: int, parts: int, count: int | None = None) -> None:
    """Label this process's share (every ``parts``-th, from ``part``) of the anchor structures
    with ``reference`` (cached per structure; an SCF failure is printed and skipped)."""
    from .reference import label_structures
    from .screening import load_dft_validation
    structures = anchor_structures(load_dft_validation())[:count]
    for index in range(part, len(structures), parts):
        try:
            label_structures([structures[index]], reference)
            print(f"{reference}: anchor {index} done", flush=True)
        except Exception as error:  # a failed SCF must not stop the others; it stays unlabelled
            print(f"{reference}: anchor {index} failed: {type(error).__name__}: {error}", flush=True)


def _share(text: str) -> tuple[int, int]:
    part, _, parts = text.partition("/")
    if not (part.isdigit() and parts.isdigit()) or not 0 <= int(part) < int(parts):
        raise argparse.ArgumentTypeError(f"share {text!r} must be K/N with 0 <= K < N")
    return int(part), int(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m softlattice.teacher",
        description="Screen candidate MA/FA teachers (force scale against the CsPbI3 yardstick, relaxed "
                    "tilt energetics and lattice constants) and label plane-wave DFT anchors; cached, "
                    "resumable.")
    commands = parser.add_subparsers(dest="command", required=True)
    screening = commands.add_parser("screen", help="yardstick slopes and relaxations of every candidate")
    screening.add_argument("--candidates", nargs="+", default=list(CANDIDATES),
                           help="reference names, each optionally with '+d3' (default: all six)")
    screening.add_argument("--yardstick", type=Path, default=Path("../shared/validation/cspbi3/nep.txt"),
                           help="CsPbI3 NEP trained on r2SCAN+rVV10 DFT")
    screening.add_argument("--fmax", type=float, default=0.01, help="relaxation force threshold, eV/Å")
    anchors = commands.add_parser("anchors", help="plane-wave GPAW labels of the anchor structures")
    anchors.add_argument("--reference", default="gpaw-pw-pbe", choices=["gpaw-pw-pbe", "gpaw-pw-pbe-k222"])
    anchors.add_argument("--part", type=_share, default=(0, 1), help="this process's share K/N")
    anchors.add_argument("--count", type=int, default=None, help="only the first COUNT anchors")
    args = parser.parse_args(argv)
    if args.command == "screen":
        if args.fmax <= 0:
            parser.error(f"--fmax {args.fmax} must be positive")
        screen(args.candidates, args.yardstick, fmax=args.fmax)
    else:
        label_anchors(args.reference, *args.part, count=args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
