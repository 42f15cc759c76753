"""Screening the reference methods: a DFT validation set, 0 K tilt energetics, finite-temperature tilts.

Units: eV, Å, K, ps; energies per formula unit (f.u., one APbI3) in meV.

The production NEP learns whatever its reference says. Which reference to trust is decided here on
three kinds of evidence:

1. errors of every candidate (and of the NEP) against real DFT (GPAW, LCAO dzp, PBE, Gamma point) on
   a validation set of 96-atom cells spanning phases, compositions and MD snapshots;
2. the relaxed (0 K) energies of the tilt phases of MAPbI3 and FAPbI3 for several molecular
   arrangements, and which tilts survive the relaxation;
3. short NPT MD of MAPbI3 and FAPbI3 in the tetragonal window, started from the tilt the seed
   finds there, and the tilt the reference keeps at temperature.

GPAW's LCAO mode gives energies and forces but no stress, so the DFT validation compares energies
and forces only. PBE and r2SCAN have different absolute energies, so energies are compared after
removing one chemical potential per species (least squares): what remains is the error in energy
differences between structures, the quantity MD feels.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.io import read, write

from softlattice.infra.keys import file_hash
from softlattice.infra.log import progress_printer
from softlattice.infra.paths import DATA_DIR, REPO_ROOT, RUNS_DIR, read_frames
from softlattice.infra.profiles import settings_from_mapping
from softlattice.infra.provenance import read_provenance, write_provenance
from softlattice.infra.resultsets import ResultSet, obtain
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDSettings, run_md
from softlattice.md.protocols import hold
from softlattice.models.active_learning import ExplorationCondition, explore
from softlattice.models.metrics import r2, rmse, species_offsets
from softlattice.models.nep import load_sets
from softlattice.models.reference import GPAW_PARAMETERS, REFERENCES, LabelCache, label_structures, reference_calculator
from softlattice.perovskite.modes import MODES, tilt_observers
from softlattice.perovskite.structures import build_mixed_perovskite
from softlattice.perovskite.training_sets import generate_structures
from softlattice.perovskite.workflows.checks import relaxed_phase_energies

VALIDATION_DIR = DATA_DIR / "reference" / "dft-validation"
SCREENING_DIR = DATA_DIR / "reference" / "screening"


def dft_validation_structures(model_folder: str | Path, systematic_fa_fractions: Sequence[float] = (0.0, 0.5, 1.0),
                              glazers: Sequence[str] = ("a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+"),
                              md_fa_fractions: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
                              md_temperature: float = 300.0, md_duration_ps: float = 3.0,
                              md_snapshot_interval_ps: float = 1.0, seed: int = 2026) -> list[Atoms]:
    """Unlabelled 96-atom structures for the DFT validation: none of them was trained on.

    - the held-out test set of the model in ``model_folder`` (systematic and MD structures);
    - fresh systematic cells (one per composition and Glazer pattern, 0.08 Å rattle, molecules
      rattled 0.3 times as much, random strain within 1 %), drawn with ``seed``;
    - snapshots of NPT MD with the model itself at ``md_temperature`` (start a0a0c+, 0.5 fs, real
      hydrogen masses), one run per composition, every ``md_snapshot_interval_ps`` after the
      first.

    Returns
    -------
    Structures without labels; ``info['validation_origin']`` is 'test-set', 'systematic' or 'md'.
    """

    folder = Path(model_folder)
    _, test = load_sets(folder)
    structures = []
    for atoms in test:
        plain = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
        plain.info.update({k: v for k, v in atoms.info.items() if k in ("glazer", "fa_fraction", "origin")})
        plain.info["validation_origin"] = "test-set"
        structures.append(plain)
    for atoms in generate_structures(systematic_fa_fractions, glazers, strains=[0.0], rattle=0.08, seed=seed,
                                     molecule_rattle_fraction=0.3):
        atoms.info["validation_origin"] = "systematic"
        structures.append(atoms)
    conditions = [ExplorationCondition(build_mixed_perovskite(x, (2, 2, 2), glazer="a0a0c+", tilt_angle=8.0,
                                                              seed=seed + k),
                                       md_temperature, md_duration_ps)
                  for k, x in enumerate(md_fa_fractions)]
    snapshots = explore(folder / "nep.txt", conditions, MDSettings(ensemble="npt", timestep_fs=0.5, seed=seed),
                        md_snapshot_interval_ps)
    for atoms in snapshots:
        if atoms.info.get("time_ps", 0.0) >= md_snapshot_interval_ps - 1e-9:
            atoms.info.update(validation_origin="md", glazer="a0a0c+",
                              fa_fraction=float(md_fa_fractions[atoms.info["condition"]]))
            structures.append(atoms)
    return structures


def label_shard(structures: Sequence[Atoms], reference: str, shard: int, shards: int,
                cache_dir: str | Path = RUNS_DIR / "labels") -> tuple[int, list[str]]:
    """Label every ``shards``-th structure starting at ``shard`` (cached, resumable); a structure
    whose reference calculation fails is reported and skipped, not retried in this call.

    Returns
    -------
    The number labelled (cached included) and one message per failure.
    """
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard!r} must lie in [0, {shards})")
    done, failures = 0, []
    for index in range(shard, len(structures), shards):
        try:
            label_structures([structures[index]], reference, cache_dir=cache_dir)
            done += 1
        except Exception as error:  # an SCF that does not converge must not stop the others
            failures.append(f"structure {index}: {type(error).__name__}: {error}")
            print(failures[-1], flush=True)
    return done, failures


def compare_with_dft(dft: Sequence[Atoms], methods: dict[str, Callable[[], Calculator]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Energies and forces of each method on the DFT-labelled structures.

    Parameters
    ----------
    dft
        Structures with DFT energy and forces (a SinglePointCalculator).
    methods
        Name -> factory of an ASE calculator (a NEP, a foundation model).

    Returns
    -------
    ``energies``: one row per method and structure (``energy_meV_per_atom`` of the method after
    removing species offsets fitted over all structures, ``dft_meV_per_atom`` relative to the
    mean, ``validation_origin``, ``fa_fraction``); ``forces``: one row per method and force
    component (``force``, ``dft_force``, eV/Å).
    """
    dft_energy = np.array([a.get_potential_energy() for a in dft])
    counts = np.array([len(a) for a in dft], dtype=float)
    energy_rows, force_rows = [], []
    for name, make in methods.items():
        calculator = make()
        energies, forces = [], []
        for atoms in dft:
            work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
            work.calc = calculator
            energies.append(work.get_potential_energy())
            forces.append(work.get_forces())
        energies = np.array(energies)
        offsets = species_offsets(dft, energies, dft_energy)
        shifted = energies + np.array([sum(offsets[s] for s in a.get_chemical_symbols()) for a in dft])
        mean = np.mean(dft_energy / counts)
        for k, atoms in enumerate(dft):
            energy_rows.append(dict(method=name, structure=k, validation_origin=atoms.info.get("validation_origin"),
                                    fa_fraction=float(atoms.info.get("fa_fraction", np.nan)),
                                    energy_meV_per_atom=1000 * (shifted[k] / counts[k] - mean),
                                    dft_meV_per_atom=1000 * (dft_energy[k] / counts[k] - mean)))
            force_rows.append(pd.DataFrame(dict(method=name, structure=k, force=forces[k].ravel(),
                                                dft_force=atoms.get_forces().ravel())))
    return pd.DataFrame(energy_rows), pd.concat(force_rows, ignore_index=True)


def dft_errors(energies: pd.DataFrame, forces: pd.DataFrame) -> pd.DataFrame:
    """RMSE and R^2 of energies (meV/atom) and forces (meV/Å) per method against DFT."""
    rows = []
    for name, group in energies.groupby("method", sort=False):
        force = forces[forces.method == name]
        rows.append(dict(method=name, structures=len(group),
                         energy_rmse_meV_per_atom=rmse(group.dft_meV_per_atom, group.energy_meV_per_atom),
                         energy_r2=r2(group.dft_meV_per_atom, group.energy_meV_per_atom),
                         force_rmse_meV_per_A=1000 * rmse(force.dft_force, force.force),
                         force_r2=r2(force.dft_force, force.force)))
    return pd.DataFrame(rows)


def force_errors_by_species(forces: pd.DataFrame, dft: Sequence[Atoms]) -> pd.DataFrame:
    """Force RMSE (meV/Å) per method and chemical species; ``forces`` is the table of
    :func:`compare_with_dft` for the structures ``dft`` (rows in structure, atom, component order)."""
    symbols = {k: np.repeat(atoms.get_chemical_symbols(), 3) for k, atoms in enumerate(dft)}
    frames = []
    for (method, structure), group in forces.groupby(["method", "structure"], sort=False):
        frames.append(group.assign(symbol=symbols[int(structure)]))
    tagged = pd.concat(frames)
    table = tagged.groupby(["method", "symbol"], sort=False).apply(
        lambda g: 1000 * rmse(g.dft_force, g.force), include_groups=False)
    return table.rename("force_rmse_meV_per_A").reset_index().pivot(index="method", columns="symbol",
                                                                    values="force_rmse_meV_per_A")


SCREENED_REFERENCES = ("chgnet-r2scan", "chgnet-0.3.0", "sevennet-mf0-r2scan")
GLAZERS = ("a0a0a0", "a0a0c-", "a0a0c+", "a-a-c+")


def tilt_energetics(calculator_factory: Callable[[], Calculator], compositions: Sequence[float] = (0.0, 1.0),
                    glazers: Sequence[str] = GLAZERS, arrangements: Sequence[int] = (0, 1),
                    steps: int = 100, fmax: float = 0.05) -> pd.DataFrame:
    """Relaxed energies of the tilt phases (meV/f.u. relative to a0a0a0 of the same arrangement)
    and the tilts left after relaxation, for several molecular arrangements.

    Arrangement 0 has the molecules aligned to the cage ('fit'); arrangement k > 0 has random
    molecular orientations drawn with seed k (:func:`softlattice.perovskite.structures.build_mixed_perovskite`;
    for mixed x the seed also sets the A-site order). Every phase of one arrangement shares it, so
    differences within an arrangement come from the tilts.

    Returns
    -------
    The rows of :func:`softlattice.perovskite.workflows.checks.relaxed_phase_energies` with ``arrangement``.
    """
    frames = []
    for arrangement in arrangements:
        frame = relaxed_phase_energies(calculator_factory, compositions, glazers, steps=steps, fmax=fmax,
                                       seed=arrangement, molecule_orientation="fit" if arrangement == 0 else "random")
        frames.append(frame.assign(arrangement=arrangement))
    return pd.concat(frames, ignore_index=True)


def tilts_at_temperature(calculator: Calculator, fa_fraction: float, glazer: str, temperature: float,
                         duration_ps: float = 1.5, timestep_fs: float = 1.0, hydrogen_mass: float = 4.0,
                         seed: int = 0) -> pd.DataFrame:
    """NPT MD of a 2x2x2 cell started in ``glazer`` (8 degree tilts): the tilt-mode amplitudes
    over time.

    Hydrogen weighs ``hydrogen_mass`` amu so that 1 fs steps are stable; configurational averages
    do not depend on masses (chapter 01 checks this for the NEP).

    Returns
    -------
    The observations of :func:`softlattice.md.engine.run_md` (``time_ps``, ``Q_M_x`` ... ``Q_R_z`` in Å,
    lattice parameters) with ``fa_fraction``, ``start``, ``temperature``.
    """
    atoms = build_mixed_perovskite(fa_fraction, (2, 2, 2), glazer=glazer, tilt_angle=8.0, seed=seed)
    settings = MDSettings(ensemble="npt", timestep_fs=timestep_fs, sample_interval=10,
                          hydrogen_mass=hydrogen_mass, seed=seed)
    result = run_md(atoms, calculator, hold(temperature, duration_ps), settings, observers=tilt_observers(atoms))
    return result.observations.assign(fa_fraction=fa_fraction, start=glazer, temperature=temperature)


def tilt_summary(observations: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute M and R amplitudes (Å) about each axis over the second half of each run."""
    keys = [k for k in ("method", "fa_fraction", "start", "temperature") if k in observations.columns]

    def late_mean(run: pd.DataFrame) -> pd.Series:
        late = run[run.time_ps >= 0.5 * run.time_ps.max()]
        return late[[f"Q_{m}" for m in MODES]].abs().mean()

    return observations.groupby(keys)[["time_ps"] + [f"Q_{m}" for m in MODES]].apply(late_mean).reset_index()


@dataclass(frozen=True)
class ScreeningSettings:
    """What :func:`run_screening` computes.

    Attributes
    ----------
    references
        Named references to screen (:data:`softlattice.models.reference.REFERENCES`).
    compositions, glazers, arrangements, relax_steps, relax_fmax
        The 0 K tilt energetics (:func:`tilt_energetics`).
    md_runs
        Finite-temperature runs as (FA fraction, starting Glazer pattern, temperature in K): by
        default MAPbI3 from a0a0c- at 300 K and FAPbI3 from a0a0c+ at 250 K, inside the seed's
        tetragonal windows (MAPbI3 225-385 K; FAPbI3's tetragonal phase lies below its cubic
        transition near 280-300 K).
    md_ps, md_timestep_fs, hydrogen_mass
        Length, step and hydrogen mass of those runs.
    seed
        Seed of arrangements and MD.
    """

    references: tuple[str, ...] = SCREENED_REFERENCES
    compositions: tuple[float, ...] = (0.0, 1.0)
    glazers: tuple[str, ...] = GLAZERS
    arrangements: tuple[int, ...] = (0, 1)
    relax_steps: int = 100
    relax_fmax: float = 0.05
    md_runs: tuple[tuple[float, str, float], ...] = ((0.0, "a0a0c-", 300.0), (1.0, "a0a0c+", 250.0))
    md_ps: float = 1.0
    md_timestep_fs: float = 1.0
    hydrogen_mass: float = 4.0
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [r for r in self.references if r.partition("+")[0] not in REFERENCES]
        if unknown:
            raise ValueError(f"unknown reference(s) {unknown}; allowed: {', '.join(REFERENCES)}")
        if self.md_ps <= 0:
            raise ValueError(f"MD length {self.md_ps!r} ps must be > 0")


def screening_settings(values: dict) -> ScreeningSettings:
    """:class:`ScreeningSettings` from a plain mapping (lists become tuples; unknown names refused)."""
    return settings_from_mapping(ScreeningSettings, values, "screening setting")


SCREENING_FILES = ("energetics.csv", "md_observations.csv.gz")
DFT_FILES = ("dft_energies.csv", "dft_forces.csv.gz")


def run_screening(settings: ScreeningSettings, output_dir: str | Path, model: str | Path | None = None,
                  dft: Sequence[Atoms] | None = None, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Tilt energetics and finite-temperature tilts of every reference (and of ``model``, a NEP
    file, when given), and their errors against the DFT-labelled structures ``dft``.

    Resumable: every method's part is kept in ``output_dir/parts``; every table has a ``method``
    column. Returns the tables keyed by file stem (:data:`SCREENING_FILES`, and :data:`DFT_FILES`
    when ``dft`` is given).
    """

    say = progress_printer(progress)
    output_dir = Path(output_dir)
    parts = output_dir / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    methods: dict[str, Callable[[], Calculator]] = {
        name: (lambda name=name: reference_calculator(name)) for name in settings.references}
    if model is not None:
        methods["NEP"] = lambda: nep_calculator(model)
    for name, make in methods.items():
        part = parts / f"energetics_{name}.csv"
        if not part.exists():
            say(f"tilt energetics {name}")
            tilt_energetics(make, settings.compositions, settings.glazers, settings.arrangements,
                            settings.relax_steps, settings.relax_fmax).assign(method=name).to_csv(part, index=False)
        part = parts / f"md_{name}.csv.gz"
        if not part.exists():
            calculator = make()
            frames = []
            for x, glazer, temperature in settings.md_runs:
                say(f"MD {name} x = {x} from {glazer} at {temperature} K")
                frames.append(tilts_at_temperature(calculator, x, glazer, temperature, settings.md_ps,
                                                   settings.md_timestep_fs, settings.hydrogen_mass, settings.seed))
            pd.concat(frames).assign(method=name).to_csv(part, index=False)
    tables = {"energetics": pd.concat([pd.read_csv(parts / f"energetics_{m}.csv") for m in methods]),
              "md_observations": pd.concat([pd.read_csv(parts / f"md_{m}.csv.gz") for m in methods])}
    if dft is not None:
        for name, make in methods.items():
            if not (parts / f"dft_forces_{name}.csv.gz").exists():
                say(f"DFT validation {name}")
                energies, forces = compare_with_dft(dft, {name: make})
                energies.to_csv(parts / f"dft_energies_{name}.csv", index=False)
                forces.to_csv(parts / f"dft_forces_{name}.csv.gz", index=False)
        tables["dft_energies"] = pd.concat([pd.read_csv(parts / f"dft_energies_{m}.csv") for m in methods])
        tables["dft_forces"] = pd.concat([pd.read_csv(parts / f"dft_forces_{m}.csv.gz") for m in methods])
    for stem, table in tables.items():
        table.to_csv(output_dir / (f"{stem}.csv.gz" if stem in ("md_observations", "dft_forces") else f"{stem}.csv"),
                     index=False)
    return tables


def load_screening(folder: str | Path) -> dict[str, pd.DataFrame]:
    """The tables of a finished screening folder, keyed by file stem."""
    folder = Path(folder)
    return {name.split(".")[0]: pd.read_csv(folder / name) for name in SCREENING_FILES + DFT_FILES
            if (folder / name).exists()}


def obtain_screening(settings: ScreeningSettings, model: str | Path | None, dft_set: str | Path | None,
                     curated: str | Path | None = None) -> ResultSet:
    """The screening for these inputs (:func:`softlattice.infra.resultsets.obtain`, keyed by the
    settings, the model hash and the DFT set hash).

    Returns
    -------
    A result set with the screening tables (:func:`load_screening`).
    """
    inputs = {"model_sha256_16": file_hash(model) if model else None,
              "dft_set_sha256_16": file_hash(dft_set) if dft_set else None}

    def compute(folder: Path) -> None:
        run_screening(settings, folder, model, read(dft_set, index=":") if dft_set else None)

    return obtain("screening", asdict(settings), inputs, compute, committed=curated,
                  command="python -m softlattice.perovskite.workflows.screening screen")


def small_dft_set(path: str | Path, fa_fractions: Sequence[float] = (0.0, 1.0), seed: int = 0) -> Path | None:
    """A tiny DFT set for the quick profile: one rattled 12-atom cubic cell per composition,
    labelled with 'gpaw-pbe' (seconds each) and written to ``path`` (extxyz.gz). Returns None when
    GPAW is not installed."""


    try:
        import gpaw  # noqa: F401
    except ImportError:
        return None
    structures = generate_structures(fa_fractions, ["a0a0a0"], strains=[0.0], rattle=0.05, repeat=(1, 1, 1),
                                     seed=seed, molecule_rattle_fraction=0.3)
    for atoms in structures:
        atoms.info["validation_origin"] = "systematic"
    labelled = label_structures(structures, "gpaw-pbe")
    for atoms, label in zip(structures, labelled):
        label.info.update(atoms.info)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as binary, io.TextIOWrapper(binary) as handle:
        write(handle, labelled, format="extxyz")
    return path


def load_dft_validation(folder: str | Path = VALIDATION_DIR, reference: str = "gpaw-pbe") -> list[Atoms]:
    """The curated DFT-labelled validation set (``<folder>/<reference>.extxyz.gz``)."""
    path = Path(folder) / f"{reference}.extxyz.gz"
    if not path.exists():
        raise FileNotFoundError(f"no DFT validation set at {path}: build it with "
                                "`python -m softlattice.perovskite.workflows.screening label` (see its --help)")
    structures = read_frames(path)
    expected = (read_provenance(folder) or {}).get("n_labelled")
    if expected is not None and len(structures) != expected:
        raise ValueError(f"DFT validation set {path} holds {len(structures)} structures, its provenance "
                         f"{expected}: the file is truncated or was changed; restore it from git")
    return structures


def main(argv: Sequence[str] | None = None) -> int:
    """Command line.

    ``python -m softlattice.perovskite.workflows.screening structures`` writes the validation structures;
    ``... label --shard K --shards N`` labels a share of them with the DFT reference (run N of
    these side by side, each single-threaded; rerun to resume); ``... collect`` stores the labelled
    set under data/ with provenance.
    """



    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.screening")
    parser.add_argument("action", choices=["structures", "label", "collect", "screen"])
    parser.add_argument("--model", type=Path, default=DATA_DIR / "models" / "mafa-chgnet-r2scan")
    parser.add_argument("--reference", default="gpaw-pbe")
    parser.add_argument("--shard", type=int, default=0)
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--work", type=Path, default=RUNS_DIR / "screening")
    parser.add_argument("--output", type=Path, default=VALIDATION_DIR)
    parser.add_argument("--save", type=Path, default=SCREENING_DIR, help="screen: result folder")
    parser.add_argument("--no-dft", action="store_true", help="screen: skip the DFT comparison")
    args = parser.parse_args(argv)
    command = "python -m softlattice.perovskite.workflows.screening " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.action == "screen":
        from softlattice.infra.keys import file_hash
        settings = ScreeningSettings()
        model = args.model / "nep.txt"
        dft_set = None if args.no_dft else args.output / f"{args.reference}.extxyz.gz"
        dft = None if dft_set is None else load_dft_validation(args.output, args.reference)
        run_screening(settings, args.save, model, dft, progress=True)
        if dft is not None:
            write_provenance(args.save, asdict(settings), {"model_sha256_16": file_hash(model),
                                                           "dft_set_sha256_16": file_hash(dft_set)}, command=command)
        return 0
    structures_path = args.work / "validation_structures.extxyz"
    if args.action == "structures":
        args.work.mkdir(parents=True, exist_ok=True)
        structures = dft_validation_structures(args.model)
        write(structures_path, structures, format="extxyz")
        print(f"{len(structures)} structures -> {structures_path}")
        return 0
    if not structures_path.exists():
        raise SystemExit(f"no {structures_path}: run `python -m softlattice.perovskite.workflows.screening structures` first")
    structures = read(structures_path, index=":")
    if args.action == "label":
        done, failures = label_shard(structures, args.reference, args.shard, args.shards)
        print(f"shard {args.shard}/{args.shards}: {done} labelled, {len(failures)} failed")
        return 0
    cache = LabelCache(args.reference)
    labelled = [cache.get(atoms) for atoms in structures]
    for atoms, label in zip(structures, labelled):
        if label is not None:
            label.info.update(atoms.info)
    present = [label for label in labelled if label is not None]
    args.output.mkdir(parents=True, exist_ok=True)
    plain = args.work / f"{args.reference}.extxyz"
    write(plain, present, format="extxyz")
    # mtime=0: the same labels give the same bytes, so the file hash keys results computed from it
    with open(plain, "rb") as source, gzip.GzipFile(args.output / f"{args.reference}.extxyz.gz", "wb",
                                                    mtime=0) as target:
        shutil.copyfileobj(source, target)
    origins = pd.Series([a.info.get("validation_origin") for a in present]).value_counts().to_dict()
    model = args.model.resolve()
    write_provenance(args.output, parameters={"reference": args.reference, "gpaw": GPAW_PARAMETERS,
                                              "model": str(model.relative_to(REPO_ROOT)
                                                           if model.is_relative_to(REPO_ROOT) else model)},
                     inputs={"model_sha256_16": file_hash(model / "nep.txt")},
                     command=command + " (after `structures` and `label --shard K --shards 2`; see `make screening`)",
                     n_structures=len(structures), n_labelled=len(present), origins=origins)
    print(json.dumps(dict(labelled=len(present), of=len(structures), origins=origins)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
