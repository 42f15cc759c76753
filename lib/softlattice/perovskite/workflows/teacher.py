"""Choosing the MA/FA teacher: candidate references screened on what the teacher itself can measure.

Units: eV, Å, K; tilt energies in meV per formula unit (f.u., one APbI3).

Three cheap measurements per candidate (a named reference of :mod:`softlattice.models.reference`,
optionally ``+d3``):

1. the force scale against an independent, DFT-trained yardstick for the Pb-I framework: the
   least-squares slopes (:mod:`softlattice.perovskite.force_scale`) of the yardstick's forces
   (CsPbI3 NEP, r2SCAN+rVV10) on the candidate's over CsPbI3 frames from yardstick MD at several
   temperatures (1 means the same scale, 2 means the candidate's forces are half the yardstick's);
2. the same slopes against DFT-labelled MA/FA cells (GPAW LCAO and plane waves);
3. relaxed (positions and cell) tilt phases of MAPbI3 and FAPbI3 for several molecular
   arrangements: energies relative to a0a0a0 and pseudo-cubic lattice constants.

Every relaxation and every frame set is cached on disk, one file each, written atomically: an
interrupted screening resumes where it stopped.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
import sys
import time
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
from ase.optimize import LBFGS

from softlattice.infra.cli import positive_int
from softlattice.infra.keys import file_hash, structure_hash
from softlattice.infra.paths import DATA_DIR, RUNS_DIR
from softlattice.infra.provenance import read_provenance, write_provenance
from softlattice.infra.resultsets import display_path
from softlattice.infra.shares import parse_share
from softlattice.md.calculators import nep_calculator
from softlattice.models.cp2k import CP2KSettings, SCFNotConverged, SCFTimeLimit, cp2k_calculator
from softlattice.models.finetune_sevennet import SevenNetFineTuneSettings, finetune_sevennet
from softlattice.models.reference import (
    FINETUNED_MODAL,
    FINETUNED_TEACHERS,
    GPAW_PW_CUTOFF_EV,
    REFERENCES,
    LabelCache,
    cache_name,
    label_structures,
    reference_calculator,
)
from softlattice.perovskite import teacher_criteria
from softlattice.perovskite.force_scale import force_scale, force_slope
from softlattice.perovskite.structures import build_mixed_perovskite, build_perovskite
from softlattice.perovskite.student_criteria import phase_order_summary, tetragonal_order
from softlattice.perovskite.teacher_criteria import choose_teacher, criteria_table
from softlattice.perovskite.tilts import measure_tilt_angles
from softlattice.perovskite.workflows.screening import VALIDATION_DIR, load_dft_validation

CANDIDATES = tuple(f"{base}{suffix}" for base in ("chgnet-r2scan", "chgnet-0.3.0", "sevennet-mf0-r2scan")
                   for suffix in ("", "+d3"))
FINETUNE_VARIANTS = {"sevennet-pw-ft": dict(stress_weight=0.01), "sevennet-pw-ft-ef": dict(stress_weight=0.0),
                     "sevennet-pw-ft-ef-last": dict(stress_weight=0.0, trainable_blocks=1)}
"""Fine-tuning variants by reference name: on energies, forces and stresses; on energies and
forces only; and on energies and forces with only the last interaction block and the read-out
trained (plane-wave PBE labels; with '+d3', D3 with PBE damping)."""


def default_candidates() -> list[str]:
    """The shipped candidates, and each fine-tuned one (with and without D3) once its checkpoint exists."""
    return list(CANDIDATES) + [f"{name}{suffix}" for name in FINETUNE_VARIANTS if FINETUNED_TEACHERS[name].is_file()
                               for suffix in ("", "+d3")]
GLAZERS = ("a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+")
SCREEN_DIR = RUNS_DIR / "teacher"


def check_candidate(name: str) -> str:
    """Return ``name`` if it names a reference (optionally ``+d3``), else raise naming the allowed."""
    base, _, suffix = name.partition("+")
    if base not in REFERENCES or suffix not in ("", "d3"):
        raise ValueError(f"unknown teacher {name!r}; allowed: {', '.join(REFERENCES)}, each optionally "
                         "with '+d3'")
    return name


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


def candidate_forces(candidate: str, structures: Sequence[Atoms]) -> list[np.ndarray]:
    """Forces (eV/Å) of a candidate on ``structures`` (through the label cache, so resumable)."""
    plain = [Atoms(a.numbers, positions=a.positions, cell=a.cell, pbc=True) for a in structures]
    return [labelled.get_forces() for labelled in label_structures(plain, check_candidate(candidate))]


def nep_scale(model: str | Path, labelled: Sequence[Atoms]) -> dict[str, float]:
    """:func:`softlattice.perovskite.force_scale.force_scale` of a NEP model against the forces
    stored with ``labelled``."""
    calculator = nep_calculator(model)
    forces = []
    for atoms in labelled:
        work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
        work.calc = calculator
        forces.append(work.get_forces())
    return force_scale(labelled, [a.get_forces() for a in labelled], forces)


def scale_against(candidate: str, labelled: Sequence[Atoms]) -> dict[str, float]:
    """:func:`softlattice.perovskite.force_scale.force_scale` of a candidate against the forces
    stored with ``labelled`` (DFT or the yardstick)."""
    return force_scale(labelled, [a.get_forces() for a in labelled], candidate_forces(candidate, labelled))


def pseudo_cubic_lattice_constant(atoms: Atoms) -> float:
    """(V / N_f.u.)^(1/3) in Å, with one formula unit per Pb."""
    n_formula_units = atoms.get_chemical_symbols().count("Pb")
    if n_formula_units == 0:
        raise ValueError("structure has no Pb: not a lead-halide perovskite")
    return float((atoms.get_volume() / n_formula_units) ** (1.0 / 3.0))


def relaxation_path(candidate: str, fa_fraction: float, glazer: str, arrangement: int, fmax: float,
                    folder: Path = SCREEN_DIR / "relaxed") -> Path:
    """Where :func:`relax_phase` caches one relaxation."""
    return folder / cache_name(candidate) / f"x{fa_fraction:.4f}_{glazer}_arr{arrangement}_f{fmax:g}.extxyz"


def relax_phase(candidate: str, fa_fraction: float, glazer: str, arrangement: int, fmax: float = 0.01,
                steps: int = 600, repeat: int = 2, tilt_angle: float = 8.0,
                folder: Path = SCREEN_DIR / "relaxed") -> Atoms:
    """Relax positions and cell (L-BFGS on FrechetCellFilter) of one tilt phase; cached.

    Arrangement 0 aligns the molecules to the cage ('fit'); k > 0 draws random orientations (and
    for mixed x the A-site order) with seed k. Returns the relaxed structure with ``info``:
    ``energy_eV``, ``converged`` (False also when the relaxation broke the PbI6 framework, recorded in
    ``framework_intact``), ``steps``, ``fmax``, the tilt angles and the lattice constant.
    """
    check_candidate(candidate)
    if glazer not in GLAZERS:
        raise ValueError(f"unknown tilt phase {glazer!r}; allowed: {', '.join(GLAZERS)}")
    path = relaxation_path(candidate, fa_fraction, glazer, arrangement, fmax, folder)
    if path.exists():
        return read(path)
    atoms = build_mixed_perovskite(fa_fraction, repeat, glazer=glazer, tilt_angle=tilt_angle, seed=arrangement,
                                   molecule_orientation="fit" if arrangement == 0 else "random")
    atoms.calc = reference_calculator(candidate)
    optimiser = LBFGS(FrechetCellFilter(atoms), logfile=None)
    converged = bool(optimiser.run(fmax=fmax, steps=steps))
    energy = atoms.get_potential_energy()
    try:
        tilts = measure_tilt_angles(atoms).mean_abs_angles
        intact = True
    except ValueError as error:  # the model broke the framework: recorded, never used as a phase
        print(f"{candidate} x={fa_fraction:g} {glazer} arr{arrangement}: framework broken ({error})", flush=True)
        tilts, intact = np.full(3, np.nan), False
    result = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
    result.arrays.update({k: v for k, v in atoms.arrays.items() if k not in ("numbers", "positions")})
    result.info.update(candidate=candidate, fa_fraction=float(fa_fraction), glazer=glazer,
                       arrangement=int(arrangement), energy_eV=float(energy), converged=converged and intact,
                       framework_intact=intact,
                       steps=int(optimiser.nsteps), fmax=float(fmax),
                       lattice_constant=pseudo_cubic_lattice_constant(atoms),
                       **{f"tilt_{k}_deg": float(v) for k, v in zip("xyz", tilts)})
    _write_atomically(path, result)
    return result


def relaxed_table(relaxed: Sequence[Atoms]) -> pd.DataFrame:
    """One row per relaxed phase: ``energy_eV_per_fu`` (absolute) and ``energy_meV_per_fu``
    relative to a0a0a0 of the same candidate, composition and arrangement (NaN where that reference
    is missing or did not converge), lattice constant, tilts, steps and convergence."""
    keys = ("candidate", "fa_fraction", "glazer", "arrangement", "energy_eV", "converged", "steps",
            "lattice_constant", "tilt_x_deg", "tilt_y_deg", "tilt_z_deg")
    frame = pd.DataFrame([{k: a.info[k] for k in keys} | {"n_fu": a.get_chemical_symbols().count("Pb"),
                          "framework_intact": bool(a.info.get("framework_intact", True))} for a in relaxed])
    frame["energy_eV_per_fu"] = frame.energy_eV / frame.n_fu
    group = ["candidate", "fa_fraction", "arrangement"]
    untilted = frame[(frame.glazer == "a0a0a0") & frame.converged.astype(bool)].set_index(group).energy_eV_per_fu
    reference = frame.set_index(group).index.map(untilted.to_dict().get)
    frame["energy_meV_per_fu"] = 1000 * (frame.energy_eV_per_fu - np.asarray(reference, dtype=float))
    return frame.drop(columns=["energy_eV", "n_fu"])


RELAX_ORDER = ("a0a0c-", "a0a0c+", "a-a-c+", "a0a0a0")
"""Order of the relaxations: the two tetragonal phases first (their energy difference and lattice
constants are the criteria), the untilted reference last."""


def _cached_scales(path: Path, candidates: Sequence[str], labelled: Sequence[Atoms]) -> dict[str, dict]:
    scales = json.loads(path.read_text()) if path.exists() else {}
    for candidate in candidates:
        if cache_name(candidate) not in scales:
            scales[cache_name(candidate)] = scale_against(candidate, labelled)
            path.write_text(json.dumps(scales, indent=1))
            print(f"{path.stem} {candidate}: {scales[cache_name(candidate)]}", flush=True)
    return scales


def screen(candidates: Sequence[str], yardstick: Path, fa_fractions: Sequence[float] = (0.0, 1.0),
           arrangements: Sequence[int] = (0, 1), fmax: float = 0.01, folder: Path = SCREEN_DIR,
           relax: bool = True) -> None:
    """Every measurement of every candidate, cheap ones first: force scales against the yardstick,
    the LCAO validation set and the plane-wave anchors, then (``relax``) the relaxations (all
    candidates per phase before the next phase); everything cached, so a rerun resumes."""
    for candidate in candidates:
        check_candidate(candidate)
    if not Path(yardstick).is_file():
        raise ValueError(f"yardstick model {str(yardstick)!r} does not exist")
    frames = yardstick_frames(yardstick, cache=folder / "yardstick_frames.extxyz")
    _cached_scales(folder / "scale_yardstick.json", candidates, frames)
    _cached_scales(folder / "scale_gpaw-lcao.json", candidates, load_dft_validation())
    anchors = pw_anchors()
    if anchors:
        _cached_scales(folder / "scale_gpaw-pw.json", candidates, anchors)
    for arrangement in arrangements if relax else ():
        for glazer in RELAX_ORDER:
            for x in fa_fractions:
                for candidate in candidates:
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
        glazers = [a.info["glazer"] for a in tilted]
        order = sorted(range(len(tilted)), key=lambda k: glazers[:k + 1].count(glazers[k]))
        tilted = [tilted[k] for k in order]
        thermal = [a for a in same_x if a.info.get("origin") == "md"]
        if len(tilted) < per_kind or len(thermal) < per_kind:
            raise ValueError(f"validation set has {len(tilted)} tilted and {len(thermal)} thermal cells at "
                             f"x = {x}; {per_kind} of each are needed")
        chosen += tilted[:per_kind] + thermal[:per_kind]
    anchors = []
    for atoms in chosen:
        plain = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True, info=dict(atoms.info))
        plain.arrays["lcao_forces"] = atoms.get_forces()
        anchors.append(plain)
    return anchors


def label_share(structures: Sequence[Atoms], reference: str, part: int, parts: int, what: str) -> None:
    """Label this process's share (every ``parts``-th, from ``part``) of ``structures`` with
    ``reference`` (cached per structure; an SCF failure is printed and the structure skipped)."""
    for index in range(part, len(structures), parts):
        try:
            label_structures([structures[index]], reference)
            print(f"{reference}: {what} {index} done", flush=True)
        except Exception as error:  # a failed SCF must not stop the others; it stays unlabelled
            print(f"{reference}: {what} {index} failed: {type(error).__name__}: {error}", flush=True)


def finetune_structures(validation: Sequence[Atoms]) -> list[Atoms]:
    """The validation cells that are not plane-wave anchors (the anchors stay held out to judge a
    fine-tuned teacher), interleaved so that any prefix spreads over composition, origin and tilt:
    the first cell of every (x, origin, glazer) group, then the second of each, and so on."""
    anchor_keys = {structure_hash(a) for a in anchor_structures(validation)}
    rest = [a for a in validation if structure_hash(a) not in anchor_keys]
    groups = [(float(a.info.get("fa_fraction", -1)), str(a.info.get("origin")), str(a.info.get("glazer")))
              for a in rest]
    rank = [groups[:k + 1].count(groups[k]) for k in range(len(rest))]
    order = sorted(range(len(rest)), key=lambda k: (rank[k], groups[k]))
    return [Atoms(rest[k].numbers, positions=rest[k].positions, cell=rest[k].cell, pbc=True,
                  info=dict(rest[k].info)) for k in order]


MIN_FINETUNE_LABELS = 10


def finetune_labels() -> list[Atoms]:
    """The fine-tuning cells labelled so far with plane-wave GPAW (never an anchor)."""
    cache = LabelCache("gpaw-pw-pbe")
    found = []
    for atoms in finetune_structures(load_dft_validation()):
        labelled = cache.get(atoms)
        if labelled is not None:
            labelled.info.update(atoms.info)
            found.append(labelled)
    return found


def finetune_teacher(variant: str = "sevennet-pw-ft", epochs: int = SevenNetFineTuneSettings.epochs) -> Path:
    """Fine-tune SevenNet-MF-0 (the rule's first-ranked candidate, its R2SCAN modality) on every
    plane-wave label of the fine-tuning cells, as ``variant`` (:data:`FINETUNE_VARIANTS`) says; the
    anchors stay held out for the criteria."""
    if variant not in FINETUNE_VARIANTS:
        raise ValueError(f"unknown fine-tuning variant {variant!r}; allowed: {', '.join(FINETUNE_VARIANTS)}")
    labelled = finetune_labels()
    if len(labelled) < MIN_FINETUNE_LABELS:
        raise ValueError(f"{len(labelled)} plane-wave labelled fine-tuning cells; at least {MIN_FINETUNE_LABELS} "
                         "are needed (run `teacher finetune-labels` first)")
    settings = SevenNetFineTuneSettings(modal=FINETUNED_MODAL, epochs=epochs, **FINETUNE_VARIANTS[variant])
    return finetune_sevennet(labelled, settings, FINETUNED_TEACHERS[variant].parent)


TETRAGONAL = ("a0a0c-", "a0a0c+")


def tetragonal_relaxations(candidate: str, arrangements: Sequence[int] = (0,), fmax: float = 0.01,
                           folder: Path = SCREEN_DIR) -> list[Atoms]:
    """Every converged a0a0c- and a0a0c+ end-member relaxation of the candidate found so far (a phase
    whose partner is not relaxed yet included), MAPbI3 first, a0a0c- before a0a0c+."""
    found = []
    for x in sorted(teacher_criteria.END_MEMBERS):
        for arrangement in arrangements:
            for glazer in TETRAGONAL:
                path = relaxation_path(candidate, x, glazer, arrangement, fmax, folder / "relaxed")
                if path.exists() and (atoms := read(path)).info["converged"]:
                    found.append(atoms)
    return found


def relaxed_tetragonal(candidate: str, arrangements: Sequence[int] = (0,), fmax: float = 0.01,
                       folder: Path = SCREEN_DIR) -> list[Atoms]:
    """The a0a0c-, a0a0c+ pairs of :func:`tetragonal_relaxations` (only compositions and arrangements
    converged in both phases), flattened: minus, plus, minus, plus, ..."""
    found = {(a.info["fa_fraction"], a.info["arrangement"], a.info["glazer"]): a
             for a in tetragonal_relaxations(candidate, arrangements, fmax, folder)}
    minus, plus = TETRAGONAL
    return [atoms for (x, k, glazer), first in found.items() if glazer == minus and (x, k, plus) in found
            for atoms in (first, found[(x, k, plus)])]


TILT_CHECK_REFERENCES = {"gpaw-pw-pbe": "pbe", "cp2k-scan-rvv10": "scan_rvv10", "cp2k-pbe": "cp2k_pbe"}
"""The DFT single points of the tilt check, by reference name, and their column prefix."""


SINGLE_POINTS_FILE = SCREEN_DIR / "single_points.csv"


def tilt_check_calculator(reference: str, time_limit_min: float | None = None):
    """The calculator of a DFT tilt-check reference: CP2K ones with the wall-time limit, GPAW ones
    as named (the limit applies to CP2K only)."""
    if reference not in TILT_CHECK_REFERENCES:
        raise ValueError(f"unknown tilt-check reference {reference!r}; allowed: {', '.join(TILT_CHECK_REFERENCES)}")
    if reference.startswith("cp2k-"):
        return cp2k_calculator(CP2KSettings(functional=reference.removeprefix("cp2k-"),
                                            time_limit_s=None if time_limit_min is None else 60 * time_limit_min))
    return reference_calculator(reference)


def label_dft_tilts(candidate: str, reference: str = "gpaw-pw-pbe", arrangements: Sequence[int] = (0,),
                    time_limit_min: float | None = None, record: Path = SINGLE_POINTS_FILE,
                    folder: Path = SCREEN_DIR, cache_dir: Path = RUNS_DIR / "labels") -> None:
    """DFT single points of the candidate's relaxed tetragonal end members (cached per structure).

    Each single point computed is recorded in ``record`` (one row: reference, structure, wall time
    in s, SCF steps where the code reports them, and ``status``: converged, SCF not converged, time
    limit, or failed, with the reason); a failure is printed and the structure skipped, never stored."""
    structures = tetragonal_relaxations(candidate, arrangements, folder=folder)
    if not structures:
        raise ValueError(f"no converged a0a0c-/a0a0c+ relaxation of {candidate!r} in {folder / 'relaxed'}: run "
                         "`teacher screen` for it first")
    calculator = tilt_check_calculator(reference, time_limit_min)
    cache = LabelCache(reference, cache_dir)
    for atoms in structures:
        plain = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
        if cache.get(plain) is not None:
            continue
        what = f"{candidate} x={atoms.info['fa_fraction']:g} {atoms.info['glazer']} arr{atoms.info['arrangement']}"
        start = time.perf_counter()
        try:
            label_structures([plain], calculator, name=reference, cache_dir=cache_dir)
            status, detail = "converged", ""
        except SCFNotConverged as error:
            status, detail = "SCF not converged", str(error)
        except SCFTimeLimit as error:
            status, detail = "time limit", str(error)
        except Exception as error:  # a failed single point must not stop the others; it stays unlabelled
            status, detail = "failed", f"{type(error).__name__}: {error}"
        row = dict(reference=reference, candidate=candidate, fa_fraction=atoms.info["fa_fraction"],
                   glazer=atoms.info["glazer"], arrangement=atoms.info["arrangement"], atoms=len(atoms),
                   seconds=round(time.perf_counter() - start, 1), scf_steps=getattr(calculator, "scf_steps", None),
                   status=status, detail=detail)
        record.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame([row]).to_csv(record, mode="a", header=not record.exists(), index=False)
        print(f"{reference}: {what} {status} in {row['seconds']:.0f} s {detail}", flush=True)
    if hasattr(calculator, "close"):
        calculator.close()


def d3_energy(atoms: Atoms, functional: str = "pbe") -> float:
    """D3(BJ) dispersion energy (eV) of a structure with the functional's damping parameters."""
    from dftd3.ase import DFTD3
    work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
    work.calc = DFTD3(method=functional, damping="d3bj")
    return float(work.get_potential_energy())


def dft_tilt_table(candidates: Sequence[str], arrangements: Sequence[int] = (0,)) -> pd.DataFrame:
    """E(a0a0c-) - E(a0a0c+) in meV/f.u. at each candidate's relaxed geometries: the candidate's own,
    and each DFT single point of :data:`TILT_CHECK_REFERENCES` on the same structures (plane-wave PBE
    also with D3(BJ) added); a row for every candidate pair with at least one DFT pair, NaN where a
    reference has not labelled both phases."""
    caches = {reference: LabelCache(reference) for reference in TILT_CHECK_REFERENCES}
    columns = ["candidate", "fa_fraction", "arrangement", "candidate_meV_per_fu", "pbe_meV_per_fu",
               "pbe_d3_meV_per_fu", "scan_rvv10_meV_per_fu", "cp2k_pbe_meV_per_fu"]
    rows = []
    for candidate in candidates:
        pairs = relaxed_tetragonal(candidate, arrangements)
        for minus, plus in zip(pairs[::2], pairs[1::2]):
            n_fu = minus.get_chemical_symbols().count("Pb")
            row = dict(candidate=candidate, fa_fraction=minus.info["fa_fraction"],
                       arrangement=minus.info["arrangement"],
                       candidate_meV_per_fu=1000 * (minus.info["energy_eV"] - plus.info["energy_eV"]) / n_fu)
            for reference, prefix in TILT_CHECK_REFERENCES.items():
                labelled = [caches[reference].get(Atoms(a.numbers, positions=a.positions, cell=a.cell, pbc=True))
                            for a in (minus, plus)]
                if any(label is None for label in labelled):
                    continue
                energies = [label.get_potential_energy() for label in labelled]
                row[f"{prefix}_meV_per_fu"] = 1000 * (energies[0] - energies[1]) / n_fu
                if reference == "gpaw-pw-pbe":
                    dispersion = [d3_energy(a) for a in (minus, plus)]
                    row["pbe_d3_meV_per_fu"] = row["pbe_meV_per_fu"] + 1000 * (dispersion[0] - dispersion[1]) / n_fu
            if len(row) > 4:
                rows.append(row)
    return pd.DataFrame(rows, columns=columns)


EXPERIMENT_FILE = DATA_DIR / "reference" / "lattice_experiments.csv"
RESULT_DIR = DATA_DIR / "reference" / "teacher"
RESULT_TABLES = ("scales", "relaxed", "lcao_vs_pw", "kpoint_error", "criteria", "dft_tilts", "pw_pressures",
                 "basis_error", "single_points")


def experimental_lattice(path: str | Path = EXPERIMENT_FILE, below_K: float = 150.0) -> dict[float, float]:
    """Sourced pseudo-cubic lattice constants (Å) of the end members measured below ``below_K``,
    by FA fraction (an end member without such a measurement is absent)."""
    cold = experimental_pseudo_cubic(path).query("temperature_K <= @below_K")
    return {float(x): float(a) for x, a in zip(cold.fa_fraction, cold.pseudo_cubic_A)}


def experimental_pseudo_cubic(path: str | Path = EXPERIMENT_FILE) -> pd.DataFrame:
    """The sourced cells with their pseudo-cubic lattice constant (V / formula units)^(1/3), Å."""
    table = pd.read_csv(path)
    return table.assign(pseudo_cubic_A=(table.a_A * table.b_A * table.c_A / table.formula_units) ** (1 / 3))


def pw_anchors(reference: str = "gpaw-pw-pbe") -> list[Atoms]:
    """The anchor structures labelled so far with ``reference`` (with their LCAO forces in
    ``arrays['lcao_forces']``)."""
    cache = LabelCache(reference)
    found = []
    for atoms in anchor_structures(load_dft_validation()):
        labelled = cache.get(atoms)
        if labelled is not None:
            labelled.info.update(atoms.info)
            labelled.arrays["lcao_forces"] = atoms.arrays["lcao_forces"]
            found.append(labelled)
    return found


def lcao_against_pw(anchors: Sequence[Atoms]) -> pd.DataFrame:
    """Per species, the LCAO-dzp force error against plane waves on the same cells: RMSE (eV/Å) and
    the slope of the plane-wave forces on the LCAO ones."""
    symbols = np.concatenate([a.get_chemical_symbols() for a in anchors])
    lcao = np.concatenate([a.arrays["lcao_forces"] for a in anchors])
    pw = np.concatenate([a.get_forces() for a in anchors])
    rows = []
    for species in sorted(set(symbols)):
        mask = symbols == species
        rows.append(dict(species=species, components=int(3 * mask.sum()),
                         rmse_eV_per_A=float(np.sqrt(np.mean((lcao[mask] - pw[mask]) ** 2))),
                         slope_pw_on_lcao=force_slope(lcao[mask], pw[mask])))
    return pd.DataFrame(rows)


def force_change(reference: Sequence[Atoms], other: Sequence[Atoms], slope_column: str) -> pd.DataFrame:
    """Per species, how the forces of ``other`` differ from those of ``reference`` on the same cells
    (matched by structure): the RMSE in eV/Å and the slope of ``other``'s forces on ``reference``'s."""
    by_hash = {structure_hash(a): a for a in other}
    pairs = [(a, by_hash[structure_hash(a)]) for a in reference if structure_hash(a) in by_hash]
    if not pairs:
        return pd.DataFrame()
    symbols = np.concatenate([a.get_chemical_symbols() for a, _ in pairs])
    first = np.concatenate([a.get_forces() for a, _ in pairs])
    second = np.concatenate([b.get_forces() for _, b in pairs])
    return pd.DataFrame([{"species": s, "cells": len(pairs),
                          "rmse_eV_per_A": float(np.sqrt(np.mean((first[symbols == s] - second[symbols == s]) ** 2))),
                          slope_column: force_slope(first[symbols == s], second[symbols == s])}
                         for s in sorted(set(symbols))])


def kpoint_error(gamma: Sequence[Atoms], kpoints: Sequence[Atoms]) -> pd.DataFrame:
    """Per species, the force error of Gamma-only plane waves against the 2x2x2 k-point mesh on the
    same cells (RMSE in eV/Å and the slope of the k-point forces on the Gamma ones)."""
    return force_change(gamma, kpoints, "slope_k_on_gamma")


def basis_error(low: Sequence[Atoms], high: Sequence[Atoms]) -> pd.DataFrame:
    """Per species, the force error of the 400 eV plane-wave labels against 600 eV on the same cells
    (RMSE in eV/Å and the slope of the 600 eV forces on the 400 eV ones)."""
    return force_change(low, high, "slope_600_on_400")


PRESSURE_REFERENCES = {"gpaw-pw-pbe": "400 eV, Γ", "gpaw-pw-pbe-k222": "400 eV, 2×2×2", "gpaw-pw-pbe-e600": "600 eV, Γ"}


def pw_pressures(references: dict[str, str] = PRESSURE_REFERENCES) -> pd.DataFrame:
    """Pressure (GPa, -trace(stress)/3) of each anchor cell under each plane-wave setting that has
    labelled it: how far the stress labels are from converged in basis and k-points. One row per
    anchor and setting (``anchor`` is the anchor's index)."""
    from ase.units import GPa
    rows = []
    for reference, setting in references.items():
        cache = LabelCache(reference)
        for index, atoms in enumerate(anchor_structures(load_dft_validation())):
            labelled = cache.get(atoms)
            if labelled is not None:
                rows.append(dict(anchor=index, setting=setting, reference=reference, fa_fraction=atoms.info["fa_fraction"],
                                 pressure_GPa=float(-labelled.get_stress()[:3].mean() / GPa)))
    return pd.DataFrame(rows, columns=["anchor", "setting", "reference", "fa_fraction", "pressure_GPa"])


def pressure_comparison(pressures: pd.DataFrame, base: str = PRESSURE_REFERENCES["gpaw-pw-pbe"]) -> pd.DataFrame:
    """For each plane-wave setting other than ``base``: how many anchors it computed, and the mean
    pressure (GPa) of those same anchors under ``base`` and under the setting."""
    wide = pressures.pivot_table(index="anchor", columns="setting", values="pressure_GPa")
    rows = [dict(setting=setting, cells=int(wide[setting].notna().sum()),
                 base_mean_GPa=float(wide.loc[wide[setting].notna(), base].mean()),
                 setting_mean_GPa=float(wide[setting].mean()))
            for setting in wide.columns if setting != base]
    return pd.DataFrame(rows, columns=["setting", "cells", "base_mean_GPa", "setting_mean_GPa"])


def relaxation_summary(relaxed: pd.DataFrame, candidate: str) -> str:
    """One sentence on a candidate's relaxations (:func:`relaxed_table` rows): per phase the
    pseudo-cubic lattice constant and whether it converged or broke the PbI6 framework."""
    own = relaxed[relaxed.candidate == candidate] if len(relaxed) else relaxed
    if not len(own):
        return "It has not been relaxed yet, so the lattice criterion is unmeasured."
    parts = []
    for run in own.itertuples():
        compound = teacher_criteria.END_MEMBERS.get(run.fa_fraction, f"x = {run.fa_fraction:g}")
        state = ("converged" if run.converged else "not converged") if getattr(run, "framework_intact", True) \
            else "the PbI6 framework broke (an iodine left its octahedron)"
        start = f"{run.glazer}" + (f" (arrangement {run.arrangement})" if getattr(run, "arrangement", 0) else "")
        parts.append(f"{compound} {start}: a = {run.lattice_constant:.3f} Å, {state}")
    return "Relaxations: " + "; ".join(parts) + "."


def single_point_summary(single_points: pd.DataFrame) -> str:
    """One sentence per reference of the tilt check's single points: how many converged, their
    median wall time, and what stopped the others (from the recorded ``status`` and ``detail``)."""
    sentences = []
    for reference, rows in single_points.groupby("reference", sort=False):
        done = rows[rows.status == "converged"]
        text = f"{reference}: {len(done)} of {len(rows)} single points converged"
        if len(done):
            text += (f", median {done.seconds.median() / 60:.0f} min per {int(done.atoms.median())}-atom cell on one "
                     "core")
        for status, group in rows[rows.status != "converged"].groupby("status"):
            text += f"; {len(group)} {status} ({group.detail.iloc[-1]})"
        sentences.append(text + ".")
    return " ".join(sentences)


def page_reference_note(page_reference: str, chosen: str | None, model_name: str = "") -> str:
    """Chapter 01's note on whose student the page's NEP (the model folder ``model_name``) is: the
    chosen teacher's or another reference's (then the force-scale section says how that reference
    compares)."""
    if chosen and page_reference.lower() == chosen.lower():
        return (f":::{{note}}\nThe NEP on this page{f' (`{model_name}`)' if model_name else ''} is the student of "
                f"**{chosen}**, the teacher the rule at the end of this page chooses; the section *Does a student keep "
                "its teacher's phase order?* there says why this student was kept among the teacher's students. The "
                "first production model, the student of `chgnet-r2scan`, is kept for comparison in the section *What "
                "a soft teacher does*.\n:::")
    return (f":::{{note}}\nThe NEP on this page is the student of `{page_reference}`, "
            + (f"not of the teacher the rule at the end of this page chooses (**{chosen}**). The force-scale table "
               f"there shows how `{page_reference}`'s iodine forces compare with DFT's, and whether its NEP inherits "
               "that." if chosen else "and no candidate passes the rule at the end of this page yet.")
            + "\n:::")


def students_of(reference: str, models_dir: str | Path = DATA_DIR / "models") -> list[Path]:
    """The committed model folders whose provenance names ``reference`` as their labels."""
    found = []
    for folder in sorted(Path(models_dir).glob("*")):
        record = read_provenance(folder)
        if record is not None and str(record.get("parameters", {}).get("reference", "")).lower() == reference.lower():
            found.append(folder)
    return found


def students_phase_order(students: Sequence[Path]) -> pd.DataFrame:
    """The a0a0c-/a0a0c+ order of each student at its teacher's relaxed cells
    (:func:`softlattice.perovskite.student_criteria.tetragonal_order` of ``<student>/checks/phase_order.csv``),
    one row per student, composition and arrangement, with column ``model`` (the folder's name) and
    ``summary`` (:func:`softlattice.perovskite.student_criteria.phase_order_summary`); students
    without that table are left out."""
    frames = []
    for folder in students:
        path = Path(folder) / "checks" / "phase_order.csv"
        if path.is_file():
            table = pd.read_csv(path)
            frames.append(tetragonal_order(table).assign(model=Path(folder).name, summary=phase_order_summary(table)))
    columns = ["fa_fraction", "arrangement", "reference_meV_per_fu", "nep_meV_per_fu", "same_order", "model", "summary"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def teacher_outlook(chosen: str | None, default_reference: str = "chgnet-r2scan",
                    students: Sequence[Path] = ()) -> str:
    """The closing paragraph of chapter 01's teacher section, for the rule's choice (None: none),
    the reference the page's NEP was trained on (``default_reference``) and the committed
    students of the chosen teacher (:func:`students_of`)."""
    if chosen and chosen.lower() == default_reference.lower():
        return (f"What this does *not* establish: that **{chosen}**, the rule's choice and the teacher of this page's "
                "NEP, reproduces SCAN+rVV10 at temperature. The choice rests on the relaxations listed above and on "
                "plane-wave labels at 400 eV and the Γ point, whose basis-set and k-point errors are shown above; the "
                "checks and the targets table earlier on this page say how far its student keeps the teacher's "
                "physics, and the tilt test there is the first finite-temperature test of the teacher itself.")
    if chosen and students:
        trained = ", ".join(f"`{display_path(path)}`" for path in students)
        return ("What this does *not* establish yet: a potential for the MD chapters. "
                f"The rule chooses **{chosen}**, and "
                f"its students are trained ({trained}); which of them the MD chapters should use is decided in the "
                "section above, and the runs of chapters 02-05 with it are not committed yet, so this page and those "
                "chapters still "
                f"show the student of {default_reference}, and inherit that reference's softness. The choice rests on "
                "the relaxations listed above and on plane-wave labels at 400 eV and the Γ point, whose basis-set and "
                "k-point errors are shown above.")
    if chosen:
        return (f"What this does *not* establish yet: a potential for the MD chapters. The rule chooses **{chosen}**; "
                f"the NEP on this page is still the student of {default_reference}, and NEP v2, trained from the "
                "chosen teacher by the recipe `v2` (`python -m softlattice.perovskite.workflows.potential --recipe "
                "v2`), is the next step. Until it exists, the phase diagram of chapter 02 inherits the default "
                "reference's softness. The choice rests on the relaxations listed above and on plane-wave labels at "
                "400 eV and the Γ point, whose basis-set and k-point errors are shown above.")
    return ("What this does *not* establish: that any reference reproduces SCAN+rVV10's tilt energetics "
            "quantitatively. No candidate passes the rule yet (the bullets above say which criterion each fails), "
            "and until the NEP is retrained from a teacher that passes it, the phase diagram of chapter 02 "
            f"inherits the default reference's ({default_reference}'s) softness.")


def collect(candidates: Sequence[str], yardstick: Path, folder: Path = SCREEN_DIR, target: Path = RESULT_DIR,
            command: str = "") -> Path:
    """Store what the screening has measured so far as a result set in ``target``: force scales,
    relaxed phases (tables and structures), the plane-wave anchors and LCAO's error against them,
    the criteria table and the choice (:mod:`softlattice.perovskite.teacher_criteria`)."""
    frames = read(folder / "yardstick_frames.extxyz", ":")
    lcao = load_dft_validation()
    anchors = pw_anchors()
    kpoint_anchors = pw_anchors("gpaw-pw-pbe-k222")
    rows = []
    for candidate in candidates:
        sets = {"yardstick": frames, "gpaw-lcao": lcao} | ({"gpaw-pw": anchors} if anchors else {})
        for name, labelled in sets.items():
            rows.append(dict(candidate=candidate, reference_set=name, structures=len(labelled),
                             **scale_against(candidate, labelled)))
    scales = pd.DataFrame(rows)
    relaxed_structures = [read(p) for c in candidates
                          for p in sorted((folder / "relaxed" / cache_name(c)).glob("*.extxyz"))]
    relaxed = relaxed_table(relaxed_structures) if relaxed_structures else pd.DataFrame(
        columns=["candidate", "fa_fraction", "glazer", "arrangement", "converged", "energy_eV_per_fu",
                 "lattice_constant"])
    criteria = criteria_table(scales, relaxed, experimental_lattice())
    chosen, reason = choose_teacher(criteria)
    target.mkdir(parents=True, exist_ok=True)
    scales.to_csv(target / "scales.csv", index=False, float_format="%.5g")
    relaxed.to_csv(target / "relaxed.csv", index=False, float_format="%.6g")
    (lcao_against_pw(anchors) if anchors else pd.DataFrame()).to_csv(target / "lcao_vs_pw.csv", index=False,
                                                                     float_format="%.5g")
    criteria.to_csv(target / "criteria.csv", index=False, float_format="%.5g")
    kpoint_error(anchors, kpoint_anchors).to_csv(target / "kpoint_error.csv", index=False, float_format="%.5g")
    dft_tilt_table(candidates).to_csv(target / "dft_tilts.csv", index=False, float_format="%.5g")
    if SINGLE_POINTS_FILE.is_file():
        shutil.copyfile(SINGLE_POINTS_FILE, target / "single_points.csv")
    pw_pressures().to_csv(target / "pw_pressures.csv", index=False, float_format="%.5g")
    basis_error(anchors, pw_anchors("gpaw-pw-pbe-e600")).to_csv(target / "basis_error.csv", index=False,
                                                                float_format="%.5g")
    for name, checkpoint in FINETUNED_TEACHERS.items():
        if checkpoint.is_file() and checkpoint.parent.parent.resolve() != target.resolve():
            shutil.copytree(checkpoint.parent, target / checkpoint.parent.name, dirs_exist_ok=True)
    (target / "choice.json").write_text(json.dumps(dict(teacher=chosen, reason=reason), indent=1) + "\n")
    for name, structures in (("relaxed_structures", relaxed_structures), ("anchors_gpaw-pw-pbe", anchors)):
        with gzip.GzipFile(target / f"{name}.extxyz.gz", "wb", mtime=0) as binary, io.TextIOWrapper(binary) as text:
            write(text, list(structures), format="extxyz")
    write_provenance(target, dict(candidates=list(candidates), glazers=list(RELAX_ORDER), relax_fmax=0.01,
                                  relax_steps=600, optimiser="LBFGS on FrechetCellFilter",
                                  pw_cutoff_eV=GPAW_PW_CUTOFF_EV, pw_kpts=[1, 1, 1]),
                     {"yardstick_sha256_16": file_hash(yardstick), "lcao_set_sha256_16": file_hash(
                         VALIDATION_DIR / "gpaw-pbe.extxyz.gz")}
                     | {f"{name}_checkpoint_sha256_16": file_hash(path) for name, path in FINETUNED_TEACHERS.items()
                        if path.is_file()}, command=command,
                     relaxations=len(relaxed_structures), anchors=len(anchors))
    return target


def load_teacher_screen(folder: str | Path = RESULT_DIR) -> dict:
    """The committed screening: its tables by name, ``choice`` (teacher and reason), ``provenance``,
    ``anchors`` (the plane-wave-labelled cells) and ``finetune`` (by fine-tuned reference name: its
    training history, settings and training-set size; empty before any exists)."""
    folder = Path(folder)
    finetune = {}
    for name, checkpoint in FINETUNED_TEACHERS.items():
        tuned = folder / checkpoint.parent.name
        if (tuned / "history.csv").is_file():
            key = json.loads((tuned / "settings.json").read_text())
            finetune[name] = dict(history=pd.read_csv(tuned / "history.csv"), settings=key["settings"],
                                  structures=len(key["data"]), checkpoint=tuned / checkpoint.name)
    # a table with nothing measured yet is stored empty (or, from before it existed, absent)
    tables = {name: pd.read_csv(path) if path.is_file() and path.stat().st_size > 1 else pd.DataFrame()
              for name in RESULT_TABLES for path in [folder / f"{name}.csv"]}
    anchors = folder / "anchors_gpaw-pw-pbe.extxyz.gz"
    return tables | {"choice": json.loads((folder / "choice.json").read_text()),
                     "provenance": read_provenance(folder),
                     "anchors": read(anchors, ":") if anchors.stat().st_size > 40 else [],
                     "finetune": finetune}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m softlattice.perovskite.workflows.teacher",
        description="Chapter 01: screen candidate MA/FA teachers (force scale against the CsPbI3 yardstick "
                    "and DFT, relaxed tilt phases and lattice constants), label the plane-wave DFT anchors, "
                    "and store what was measured as a result set; cached, resumable.")
    commands = parser.add_subparsers(dest="command", required=True)
    screening = commands.add_parser("screen", help="force scales and relaxations of every candidate")
    collecting = commands.add_parser("collect", help="store the measurements so far in data/reference/teacher")
    for sub in (screening, collecting):
        sub.add_argument("--candidates", nargs="+", default=default_candidates(),
                         help="reference names, each optionally with '+d3' (default: the six shipped ones and, "
                              "once it exists, the fine-tuned one with and without D3)")
        sub.add_argument("--yardstick", type=Path, default=Path("../shared/validation/cspbi3/nep.txt"),
                         help="CsPbI3 NEP trained on r2SCAN+rVV10 DFT")
    screening.add_argument("--fmax", type=float, default=0.01, help="relaxation force threshold, eV/Å")
    screening.add_argument("--no-relax", action="store_true", help="force scales only, no relaxations")
    screening.add_argument("--fa-fractions", type=float, nargs="+", default=[0.0, 1.0],
                           help="compositions to relax (default: the end members)")
    screening.add_argument("--arrangements", type=int, nargs="+", default=[0, 1],
                           help="molecular arrangements (0: aligned to the cage; k > 0: random with seed k)")
    collecting.add_argument("--save", type=Path, default=RESULT_DIR, help="result-set folder")
    anchors = commands.add_parser("anchors", help="plane-wave GPAW labels of the anchor structures")
    anchors.add_argument("--reference", default="gpaw-pw-pbe", choices=["gpaw-pw-pbe", "gpaw-pw-pbe-k222", "gpaw-pw-pbe-e600"],
                         help="plane-wave reference (Gamma point, 2x2x2 k-points, or a 600 eV cutoff)")
    anchors.add_argument("--part", type=parse_share, default=(0, 1), metavar="K/N",
                         help="this process's share: every N-th anchor from the K-th")
    anchors.add_argument("--count", type=int, default=None, help="only the first COUNT anchors")
    tuning = commands.add_parser("finetune-labels",
                                 help="plane-wave GPAW labels of the validation cells that are not anchors")
    tuning.add_argument("--part", type=parse_share, default=(0, 1), metavar="K/N",
                        help="this process's share: every N-th cell from the K-th")
    tuning.add_argument("--count", type=int, default=None, help="only the first COUNT cells")
    tilts = commands.add_parser("dft-tilts", help="DFT single points (plane-wave GPAW or CP2K) of a candidate's "
                                                  "relaxed a0a0c- and a0a0c+ end members")
    tilts.add_argument("--candidate", required=True, help="a screened candidate, e.g. sevennet-mf0-r2scan+d3")
    tilts.add_argument("--reference", default="gpaw-pw-pbe", choices=list(TILT_CHECK_REFERENCES),
                       help="the DFT single points: plane-wave GPAW PBE, or CP2K SCAN+rVV10 or PBE")
    tilts.add_argument("--time-limit-min", type=float, default=None,
                       help="CP2K only: stop a single point after this many minutes and record it as such")
    tuning_model = commands.add_parser("finetune", help="fine-tune SevenNet-MF-0 on the plane-wave labels so far")
    tuning_model.add_argument("--epochs", type=positive_int, default=SevenNetFineTuneSettings.epochs)
    tuning_model.add_argument("--variant", default="sevennet-pw-ft", choices=list(FINETUNE_VARIANTS),
                              help="with stresses (sevennet-pw-ft), energies and forces only (-ef), or "
                                   "energies and forces with only the last block trained (-ef-last)")
    args = parser.parse_args(argv)
    if args.command in ("screen", "collect"):
        for candidate in args.candidates:
            try:
                check_candidate(candidate)
            except ValueError as error:
                parser.error(str(error))
        if not args.yardstick.is_file():
            parser.error(f"--yardstick {str(args.yardstick)!r} does not exist")
    if args.command == "screen":
        if args.fmax <= 0:
            parser.error(f"--fmax {args.fmax} must be positive")
        bad = [x for x in args.fa_fractions if not 0 <= x <= 1]
        if bad:
            parser.error(f"--fa-fractions {bad} must lie in [0, 1]")
        if any(k < 0 for k in args.arrangements):
            parser.error(f"--arrangements {args.arrangements} must be >= 0")
        screen(args.candidates, args.yardstick, fa_fractions=args.fa_fractions, arrangements=args.arrangements,
               fmax=args.fmax, relax=not args.no_relax)
    elif args.command == "collect":
        command = "python -m softlattice.perovskite.workflows.teacher " + " ".join(argv if argv is not None
                                                                                     else sys.argv[1:])
        print(f"stored in {collect(args.candidates, args.yardstick, target=args.save, command=command)}")
    elif args.command == "dft-tilts":
        try:
            if args.time_limit_min is not None and args.time_limit_min <= 0:
                parser.error(f"--time-limit-min {args.time_limit_min} must be positive")
            label_dft_tilts(check_candidate(args.candidate), args.reference, time_limit_min=args.time_limit_min)
        except ValueError as error:
            parser.error(str(error))
    elif args.command == "finetune":
        try:
            path = finetune_teacher(args.variant, args.epochs)
        except ValueError as error:
            parser.error(str(error))
        print(f"fine-tuned teacher: {path}")
    else:
        if args.count is not None and args.count < 1:
            parser.error(f"--count {args.count} must be at least 1")
        if args.command == "anchors":
            label_share(anchor_structures(load_dft_validation())[:args.count], args.reference, *args.part, "anchor")
        else:
            label_share(finetune_structures(load_dft_validation())[:args.count], "gpaw-pw-pbe", *args.part,
                        "fine-tuning cell")
    return 0


if __name__ == "__main__":
    sys.exit(main())
