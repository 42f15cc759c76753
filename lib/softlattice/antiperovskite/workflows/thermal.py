"""Chapter 07 end to end: lowest orderings, 0 K and finite-temperature phonons, thermal band gaps
E_g(x, T) from MD snapshots and a gap model, and frozen-phonon gap changes (the seed's Sec. II E-F).

Units: Å, eV, K, fs/ps, THz.

Models come from chapter 06 (:func:`softlattice.antiperovskite.workflows.models.obtain_cap_models`): the fine-tuned
CHGNet relaxes, ranks and gives 0 K phonons; the gap model chosen in chapter 06's comparison (a GNN
or a ridge on distance histograms, :mod:`softlattice.models.gap_predictors`) gives gaps, and GPAW
the 0 K gaps of the relaxed cells. CHGNet is too slow on two cores for Langevin runs at six
temperatures and nine compositions (about 0.07 s per 40-atom step, some hundred times a NEP's),
so the MD uses a NEP student (neppo) trained on the fine-tuned CHGNet's
labels of chapter 06's structures, rattled relaxed cells and frames of its own exploratory MD
(:func:`nep_student`); its errors against its teacher are reported.
Every run is cached per settings (an interrupted chapter resumes at the run in progress).
"""

from __future__ import annotations

import argparse
import json
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from ase.io import read, write

from softlattice.analysis.statistics import integrated_correlation_samples, mean_and_standard_error
from softlattice.antiperovskite.structures import decorate, inequivalent_orderings
from softlattice.antiperovskite.thermal import (
    frozen_phonon_gap_changes,
    gamma_mode_displacements,
    ions_stay_on_sites,
    mode_momenta,
    mode_projector,
    nearest_distance,
    power_spectra,
    relax_and_rank,
    renormalised_phonons,
    species_msd,
)
from softlattice.antiperovskite.workflows.gap_models import STRUCTURE_MODELS, obtain_gap_models
from softlattice.antiperovskite.workflows.models import obtain_cap_models, training_structures
from softlattice.electronic.gaps import compute_gaps
from softlattice.infra.cli import writable_folder
from softlattice.infra.keys import file_hash, json_key, structure_hash
from softlattice.infra.paths import DATA_DIR, RUNS_DIR
from softlattice.infra.profiles import resolve
from softlattice.infra.resultsets import ResultSet, obtain
from softlattice.infra.shares import parse_share
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDBlowUp, MDSettings, run_md
from softlattice.md.protocols import hold
from softlattice.models.finetune import chgnet_calculator, label_errors, predictions
from softlattice.models.gap_predictors import StructureGapModel, gap_model_file, gap_model_name, load_gap_model
from softlattice.models.nep import NEPHyperparameters, train_nep
from softlattice.models.reference import label_structures
from softlattice.models.splits import split_structures

CAP_SPECIES = ("Ag", "S", "Br", "I")
MAX_TEACHER_FORCE = 25.0
"""eV/Å: exploration frames with a larger teacher force component are not learned (collapsed
atoms far outside anything the MD should visit)."""
TABLES = ("rankings", "student_errors", "phonons_0K", "zero_kelvin_gaps", "thermal_gaps", "gap_series",
          "correlation", "renormalised", "frozen", "spot_checks")
"""Tables of a chapter-07 result set (one ``<name>.csv.gz`` each)."""
HISTORY_TABLE = "student_history"
"""The student's generations (:func:`nep_student`), in result sets built since it was recorded."""


def committed_cap_models(settings06: dict) -> Path:
    """Where chapter 06's committed result set for this reference lives (used when its provenance
    matches ``settings06``; otherwise chapter 06 is computed)."""
    return DATA_DIR / "cap_models" / str(settings06["reference"])


def gap_model_folder(settings: dict, models06: str | Path) -> tuple[Path, str]:
    """Where chapter 07's gap model comes from, and what it is: with ``settings["gap_models"]`` (a
    profile of ``06_gap_models``) the model chosen for chapter 07 in chapter 06's comparison
    (:func:`softlattice.antiperovskite.workflows.gap_models.chapter07_model`; committed or
    computed), otherwise chapter 06's first GNN in ``models06``."""
    profile = settings.get("gap_models")
    if profile is None:
        return Path(models06), f"chapter 06's first GNN ({models06})"
    comparison = obtain_gap_models(resolve("06_gap_models", profile))
    name = gap_model_name(comparison.folder)
    return comparison.folder, (f"{STRUCTURE_MODELS[name]}, the model chosen for this chapter in chapter 06's "
                               f"comparison ({comparison.source})")


def load_finetuned(folder: str | Path):
    """An ASE calculator of the chapter-06 fine-tuned CHGNet (``chgnet-finetuned.pt``)."""
    import torch
    from chgnet.model import CHGNet

    return chgnet_calculator(CHGNet.from_dict(torch.load(Path(folder) / "chgnet-finetuned.pt", weights_only=False)))


def lowest_orderings(br_fractions: Sequence[float], calculator, fmax: float = 0.05,
                     steps: int = 300) -> tuple[pd.DataFrame, dict[float, Atoms]]:
    """Relax every symmetry-inequivalent ordering at each x (positions and cell) and rank them.

    Returns
    -------
    The ranking (``br_fraction``, ``ordering``, energies, ``converged``) and the lowest relaxed
    structure per x.
    """
    tables, lowest = [], {}
    for x in br_fractions:
        orderings = inequivalent_orderings(x)
        table, relaxed = relax_and_rank([decorate(x, o) for o in orderings], calculator, fmax=fmax, steps=steps)
        table.insert(0, "br_fraction", x)
        table.insert(1, "ordering", [",".join(map(str, orderings[i])) or "none" for i in table["index"]])
        tables.append(table)
        lowest[x] = relaxed[int(table["index"].iloc[0])]
    return pd.concat(tables, ignore_index=True), lowest


def cached_lowest_orderings(settings: dict, settings06: dict, calculator,
                            work: Path) -> tuple[pd.DataFrame, dict[float, Atoms]]:
    """:func:`lowest_orderings` for chapter 07's ``settings``, stored in ``work/rankings`` so the
    processes that share the MD (``--md-part``) and the final run start from the same cells.
    The process that computes them also returns the stored copies: the file keeps fewer digits
    than the relaxation, and every cell built from them (the student's rattled cells, its
    training key) must be the same in every process."""
    folder = work / "rankings" / json_key([settings06, settings["br_fractions"], settings["relax_fmax"]], 12)
    table, cells = folder / "rankings.csv", folder / "lowest.extxyz"
    if not (table.exists() and cells.exists()):
        rankings, lowest = lowest_orderings(settings["br_fractions"], calculator, settings["relax_fmax"])
        folder.mkdir(parents=True, exist_ok=True)
        write(folder / "lowest.extxyz.tmp", list(lowest.values()), format="extxyz")
        rankings.to_csv(folder / "rankings.csv.tmp", index=False)
        (folder / "lowest.extxyz.tmp").replace(cells)
        (folder / "rankings.csv.tmp").replace(table)
    rankings = pd.read_csv(table, keep_default_na=False)
    return rankings, {float(a.info["br_fraction"]): a for a in read(cells, index=":")}


def zero_kelvin_phonons(structures: dict[float, Atoms], calculator) -> tuple[pd.DataFrame, dict]:
    """Gamma-point phonons of each relaxed 40-atom cell (its own supercell; phonopy through
    calorine): one row per mode (``br_fraction``, ``band``, ``frequency_THz``), and the phonopy
    objects."""
    from calorine.tools import get_force_constants
    rows, phonons = [], {}
    for x, atoms in structures.items():
        phonon = get_force_constants(atoms, calculator, [1, 1, 1], kwargs_phonopy={"primitive_matrix": "P"},
                                     kwargs_generate_displacements={"distance": 0.01})
        # finite differences leave the matrix slightly asymmetric; the dynamical matrix must be
        # Hermitian for the mode projection
        phonon.symmetrize_force_constants()
        phonon.run_qpoints([[0.0, 0.0, 0.0]], with_eigenvectors=True)
        for band, frequency in enumerate(phonon.qpoints.frequencies[0]):
            rows.append(dict(br_fraction=x, band=band, frequency_THz=float(frequency)))
        phonons[x] = phonon
    return pd.DataFrame(rows), phonons


def student_structures(settings06: dict, lowest: dict[float, Atoms], rattled_per_x: int, seed: int = 0) -> list[Atoms]:
    """Training structures of the NEP student: chapter 06's displaced cells (rebuilt from its
    settings) plus ``rattled_per_x`` rattled copies (0.03-0.15 Å) of each relaxed lowest cell."""
    structures = [a for a in training_structures(settings06)[2] if a.info["origin"] != "equilibrium"]
    rng = np.random.default_rng(seed)
    for x, atoms in lowest.items():
        for k in range(rattled_per_x):
            rattled = atoms.copy()
            rattled.positions += rng.normal(0.0, 0.03 + 0.12 * k / max(1, rattled_per_x - 1), rattled.positions.shape)
            rattled.info.update(br_fraction=x, origin="rattled-relaxed")
            structures.append(rattled)
    return structures


def langevin_frames(atoms: Atoms, model: str | Path, temperature: float, total_ps: float, timestep_fs: float,
                    sample_interval: int, seed: int, frames: list[Atoms], segment_ps: float | None = None) -> None:
    """NVT Langevin MD (200 fs thermostat) of a copy of ``atoms`` with the NEP ``model``, appending
    a frame (positions, momenta, ``info['time_ps']``) to ``frames`` every ``sample_interval`` steps;
    raises :class:`softlattice.md.engine.MDBlowUp` with the frames so far kept in ``frames``."""
    start = atoms.copy()
    start.info.pop("repeat", None)
    run_md(start, nep_calculator(model, atoms=start), hold(temperature, total_ps, segment_ps=segment_ps or total_ps),
           MDSettings(ensemble="nvt", timestep_fs=timestep_fs, sample_interval=sample_interval, seed=seed,
                      thermostat_fs=200.0), snapshots=frames)


def thermal_run(atoms: Atoms, model: str | Path, temperature: float, run_ps: float, equilibration_ps: float,
                timestep_fs: float, snapshot_fs: float, seed: int, folder: Path) -> list[Atoms]:
    """NVT Langevin MD of ``atoms`` (fixed relaxed cell) with the NEP ``model``: the frames after
    ``equilibration_ps``, every ``snapshot_fs`` (positions and momenta), cached in ``folder``
    (a run is short: an interrupted one is redone, finished ones are read back). A run that blows
    up raises :class:`softlattice.md.engine.MDBlowUp`, now and on every later call."""

    done, failed = folder / "frames.extxyz", folder / "failed.txt"
    if done.exists():
        return read(done, index=":")
    if failed.exists():
        raise MDBlowUp(failed.read_text())
    frames: list[Atoms] = []
    try:
        langevin_frames(atoms, model, temperature, equilibration_ps + run_ps, timestep_fs,
                        max(1, int(round(snapshot_fs / timestep_fs))), seed, frames, segment_ps=run_ps)
    except MDBlowUp as error:  # deterministic: remembered, so it is reported rather than rerun
        folder.mkdir(parents=True, exist_ok=True)
        failed.write_text(str(error))
        raise
    kept = [f for f in frames if f.info["time_ps"] > equilibration_ps + 1e-9]
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "frames.extxyz.tmp", kept, format="extxyz")
    (folder / "frames.extxyz.tmp").replace(done)
    return kept


def run_cap_thermal(settings: dict, folder: str | Path, work: str | Path = RUNS_DIR / "cap_thermal") -> dict[str, pd.DataFrame]:
    """Run chapter 07 for ``settings`` and store its tables in ``folder``."""


    folder, work = Path(folder), Path(work)
    folder.mkdir(parents=True, exist_ok=True)
    settings06 = resolve("06_cap_models", settings["cap_models"])
    models06 = obtain_cap_models(settings06, curated=committed_cap_models(settings06))
    source06, models = models06.source, models06.folder
    tuned = load_finetuned(models)
    gap_folder, gap_source = gap_model_folder(settings, models)
    gap_model: StructureGapModel = load_gap_model(gap_folder)
    tables: dict[str, pd.DataFrame] = {}

    tables["rankings"], lowest = cached_lowest_orderings(settings, settings06, tuned, work)
    tables["phonons_0K"], phonons = zero_kelvin_phonons(lowest, tuned)
    student, test, tables["student_history"] = nep_student(settings, settings06, lowest, tuned, work)
    tables["student_errors"] = _student_errors(student, test)

    # every relative change starts from the 0 K gap: computed directly (nine structures are affordable),
    # with the model's beside it to show how far the model is from the relaxed cells it has not learnt
    level, basis = settings06["gaps"]["accurate"], settings06["gaps"]["accurate_basis"]
    tables["zero_kelvin_gaps"] = zero_kelvin_gaps(lowest, gap_model, level, basis)
    references = tables["zero_kelvin_gaps"].set_index("br_fraction")
    series_rows, gap_rows, correlation_rows, spectra_rows, spot = [], [], [], [], []
    spot_fractions = spot_check_fractions(list(lowest), settings["spot_checks"])
    for x, atoms in lowest.items():
        reference_gap, source = float(references.loc[x, "gap_eV"]), str(references.loc[x, "source"])
        gap_rows.append(dict(br_fraction=x, temperature_K=0.0, gap_eV=reference_gap, error_eV=0.0, snapshots=1,
                             correlation_samples=0.0, relative_change=0.0, failure="", source=source))
        for temperature in settings["temperatures"]:
            try:
                frames = _thermal_run(atoms, student, temperature, settings, work)
            except MDBlowUp as error:
                gap_rows.append(dict(br_fraction=x, temperature_K=temperature, gap_eV=np.nan, error_eV=np.nan,
                                     snapshots=0, correlation_samples=np.nan, relative_change=np.nan,
                                     failure=f"MD blew up: {error}"))
                continue
            gaps = gap_model.predict(frames)
            tau = integrated_correlation_samples(gaps)
            mean, error = mean_and_standard_error(gaps, tau)
            msd = species_msd(frames, "Ag")
            on_sites = ions_stay_on_sites(msd, nearest_distance(atoms, "Ag"))
            gap_rows.append(dict(br_fraction=x, temperature_K=temperature, gap_eV=mean, error_eV=error,
                                 snapshots=len(frames), correlation_samples=tau,
                                 relative_change=(mean - reference_gap) / reference_gap, failure="", source="model",
                                 ag_msd_A2=float(msd[-1]), ions_on_sites=on_sites))
            correlation_rows.append(dict(br_fraction=x, temperature_K=temperature, correlation_fs=tau * settings["snapshot_fs"],
                                         snapshot_fs=settings["snapshot_fs"]))
            series_rows.append(pd.DataFrame(dict(br_fraction=x, temperature_K=temperature,
                                                 time_ps=[f.info["time_ps"] for f in frames], gap_eV=gaps)))
            if temperature in settings["spectra_temperatures"] and on_sites:  # modes lose meaning once ions hop
                spectra_rows.append(_renormalised(atoms, phonons[x], frames, settings["snapshot_fs"]).assign(
                    br_fraction=x, temperature_K=temperature))
            if temperature == max(settings["temperatures"]) and x in spot_fractions:  # farthest from training
                spot.append((x, temperature, frames[len(frames) // 2]))
    tables["thermal_gaps"] = pd.DataFrame(gap_rows)
    tables["gap_series"] = (pd.concat(series_rows, ignore_index=True) if series_rows
                            else pd.DataFrame(columns=["br_fraction", "temperature_K", "time_ps", "gap_eV"]))
    tables["correlation"] = pd.DataFrame(correlation_rows)
    tables["renormalised"] = pd.concat(spectra_rows, ignore_index=True) if spectra_rows else pd.DataFrame()

    x_frozen = settings["frozen_composition"]
    frozen = []
    for temperature in settings["frozen_temperatures"]:
        modes = gamma_mode_displacements(lowest[x_frozen], phonons[x_frozen], temperature)
        changes = frozen_phonon_gap_changes(lowest[x_frozen], modes, lambda a: float(gap_model.predict([a])[0]))
        frozen.append(changes.assign(br_fraction=x_frozen, temperature_K=temperature))
    tables["frozen"] = pd.concat(frozen, ignore_index=True)

    # the gap model against the electronic-structure backend on a few hot MD snapshots (is it extrapolating?)
    computed, failures = compute_gaps([f for *_, f in spot], level, RUNS_DIR / "cap_models" / "gaps", basis=basis)
    predicted = gap_model.predict([f for *_, f in spot])
    tables["spot_checks"] = pd.DataFrame(dict(br_fraction=[s[0] for s in spot], temperature_K=[s[1] for s in spot],
                                              level=level, computed_eV=computed, model_eV=predicted,
                                              hash=[structure_hash(f) for *_, f in spot]))
    (folder / "spot_check_failures.json").write_text(json.dumps(failures, indent=1))
    (folder / "models.txt").write_text(f"chapter 06 models: {source06}\ngap model: {gap_source}\n"
                                       f"NEP student: {student} (copied to nep-student.txt)\n")
    shutil.copyfile(student, folder / "nep-student.txt")
    for name in (*TABLES, HISTORY_TABLE):
        tables[name].to_csv(folder / f"{name}.csv.gz", index=False, float_format="%.6g")
    return tables


def zero_kelvin_gaps(lowest: dict[float, Atoms], gap_model: StructureGapModel, level: str, basis: str,
                     folder: str | Path = RUNS_DIR / "cap_models" / "gaps") -> pd.DataFrame:
    """The 0 K gap of each relaxed lowest cell: computed directly at ``level`` (``basis``; cached in
    ``folder``), the gap model's beside it.

    Returns
    -------
    One row per x: ``direct_eV``, ``model_eV``, ``gap_eV`` (the direct gap; the model's where the
    calculation failed), ``source`` ('direct' or 'model'), ``level`` and ``hash``.
    """
    fractions, cells = list(lowest), list(lowest.values())
    direct, _ = compute_gaps(cells, level, folder, basis=basis)
    model = gap_model.predict(cells)
    found = np.isfinite(direct)
    return pd.DataFrame(dict(br_fraction=fractions, direct_eV=direct, model_eV=model,
                             gap_eV=np.where(found, direct, model), source=np.where(found, "direct", "model"),
                             largest_ag_shift_A=[largest_site_shift(a, "Ag") for a in cells],
                             level=level, hash=[structure_hash(a) for a in cells]))


def ordering_sites(value) -> tuple[int, ...]:
    """The Br sites of an ``ordering`` info entry as :func:`decorate` writes it ('0,7'; 'none'),
    or as extxyz reads it back (an integer for one site, an integer array for several)."""
    if isinstance(value, str):
        return () if value == "none" else tuple(int(site) for site in value.split(","))
    return tuple(int(site) for site in np.atleast_1d(value))


def largest_site_shift(relaxed: Atoms, species: str) -> float:
    """The largest distance (Å) of an atom of ``species`` in a relaxed cell from its site in the
    ideal decorated cell of the same ordering (``info`` ``br_fraction`` and ``ordering``), both in
    the relaxed lattice: how far the relaxation took the structure from chapter 06's ideal cells."""
    ordering = ordering_sites(relaxed.info["ordering"])
    ideal = decorate(float(relaxed.info["br_fraction"]), ordering)
    if ideal.get_chemical_symbols() != relaxed.get_chemical_symbols():
        raise ValueError(f"the relaxed cell of x = {relaxed.info['br_fraction']}, ordering {ordering} does not list "
                         "its atoms as the decorated cell does")
    shift = relaxed.get_scaled_positions(wrap=False) - ideal.get_scaled_positions(wrap=False)
    shift -= np.round(shift)
    chosen = np.array(relaxed.get_chemical_symbols()) == species
    return float(np.linalg.norm(shift[chosen] @ relaxed.cell[:], axis=1).max())


def zero_kelvin_text(table: pd.DataFrame, level: str) -> str:
    """A sentence on :func:`zero_kelvin_gaps`: where the 0 K gaps come from and how far the gap
    model is from them."""
    direct = table[table.source == "direct"]
    if direct.empty:
        return "No relaxed cell has a direct gap, so the 0 K gaps are the model's, unchecked."
    difference = direct.model_eV - direct.direct_eV
    worst = direct.loc[difference.abs().idxmax()]
    missing = table[table.source != "direct"].br_fraction
    return (f"The 0 K gaps are direct {level} gaps of the relaxed cells ({len(direct)} of {len(table)} compositions"
            + (f"; the model's at x = {', '.join(f'{x:g}' for x in missing)}, where it failed" if len(missing) else "")
            + f"). The gap model differs from them by {difference.abs().mean():.2f} eV on average "
            f"(model minus direct: {difference.mean():+.2f} eV; largest {worst.model_eV - worst.direct_eV:+.2f} eV at "
            f"x = {worst.br_fraction:g}): it has learnt displaced cells and MD frames, not relaxed ones"
            f"; relaxing the cells moves Ag by up to {table.largest_ag_shift_A.max():.2f} Å from the ideal sites "
            "of chapter 06's cells.")


def spot_check_fractions(br_fractions: Sequence[float], count: int) -> list[float]:
    """``count`` compositions spread evenly over ``br_fractions`` (both ends first): those whose
    hottest MD run gets a direct gap calculation."""
    ordered = sorted(br_fractions)
    if count < 0:
        raise ValueError(f"spot_checks {count!r} must be >= 0")
    if count == 0 or not ordered:
        return []
    picks = np.unique(np.linspace(0, len(ordered) - 1, min(count, len(ordered))).round().astype(int))
    return [ordered[i] for i in picks]


def exploration_frames(model: str | Path, lowest: dict[float, Atoms], temperature: float, run_ps: float,
                       every_fs: float, seed: int = 0) -> list[Atoms]:
    """Frames every ``every_fs`` of a short NVT run of each lowest cell with the NEP ``model``; a
    run that blows up keeps its frames up to then (the ones the next student most needs)."""
    frames: list[Atoms] = []
    for x, atoms in lowest.items():
        run_frames: list[Atoms] = []
        try:
            langevin_frames(atoms, model, temperature, run_ps, 1.0, max(1, int(round(every_fs))),
                            seed + int(1000 * x), run_frames)
        except MDBlowUp:
            pass
        for frame in run_frames:
            frame.info.update(br_fraction=x, origin="student-exploration")
        frames.extend(run_frames)
    return frames


def _cached_exploration(model: Path, lowest: dict[float, Atoms], options: dict, generation: int,
                        folder: Path) -> list[Atoms]:
    """:func:`exploration_frames` of ``model``, stored under the hash of the model file: MD with
    another thread count gives other frames, and every later process must learn the same ones."""
    digest = file_hash(model, 12)
    path = folder / f"exploration-{digest}.extxyz"
    if path.exists():
        return read(path, index=":")
    frames = exploration_frames(model, lowest, options["explore_K"], options["explore_ps"],
                                options["explore_every_fs"], seed=generation)
    folder.mkdir(parents=True, exist_ok=True)
    write(path.with_name(path.name + ".tmp"), frames, format="extxyz")
    path.with_name(path.name + ".tmp").replace(path)
    return read(path, index=":")  # as stored (extxyz rounds), so this process learns what later ones read


def nep_student(settings: dict, settings06: dict, lowest: dict[float, Atoms], teacher,
                work: Path) -> tuple[Path, list[Atoms], pd.DataFrame]:
    """The NEP student of ``teacher`` (each generation cached by its settings and data), its
    held-out labelled cells, and the history of its generations.

    Generation 0 learns chapter 06's cells and rattled relaxed cells. Each further generation
    (at most ``student["generations"]``) runs the previous student at ``student["explore_K"]`` for
    ``student["explore_ps"]`` per composition, labels its frames (every ``explore_every_fs``)
    with the teacher and retrains on everything: where the student has holes (atoms drawn
    together), its own MD finds them and the teacher's labels fill them. Before they are learnt,
    those frames measure the student on hot structures it has not seen: the history's
    ``hot_force_mae_meV``. With ``student["target_hot_mae_meV"]`` the loop stops as soon as a
    student meets it.

    Returns
    -------
    The model file, the held-out cells, and one row per student: ``generation``,
    ``training_structures``, ``hot_frames``, ``hot_force_mae_meV`` (NaN for the last student when
    the loop ran out of generations before exploring with it).
    """
    options = settings["student"]
    name, cache = f"chgnet-finetuned-{json_key([settings06], 12)}", work / "labels"
    structures = student_structures(settings06, lowest, options["rattled_per_x"])
    train, test = split_structures(label_structures(structures, teacher, name=name, cache_dir=cache), 0.1, seed=0)
    hyper = NEPHyperparameters(**options.get("hyper", {}))
    folder = work / "student" / json_key([settings06, options], 12)
    model = train_nep(train, test, folder, options["steps"], hyper=hyper, species=CAP_SPECIES).model_path
    target = options.get("target_hot_mae_meV")
    history = []
    for generation in range(1, int(options.get("generations", 0)) + 1):
        frames = _cached_exploration(model, lowest, options, generation, folder / f"generation_{generation}")
        labelled = [a for a in label_structures(frames, teacher, name=name, cache_dir=cache)
                    if np.abs(a.get_forces()).max() < MAX_TEACHER_FORCE]
        mae = label_errors(labelled, predictions(labelled, nep_calculator(model)))["forces_mae"] if labelled else np.nan
        history.append(dict(generation=generation - 1, training_structures=len(train), hot_frames=len(labelled),
                            hot_force_mae_meV=mae))
        if target is not None and mae <= target:
            break
        new_train, new_test = split_structures(labelled, 0.1, seed=generation)
        train, test = train + new_train, test + new_test
        model = train_nep(train, test, folder / f"generation_{generation}", options["steps"], hyper=hyper,
                          species=CAP_SPECIES).model_path
    else:
        history.append(dict(generation=int(options.get("generations", 0)), training_structures=len(train),
                            hot_frames=0, hot_force_mae_meV=np.nan))
    return model, test, pd.DataFrame(history)


MD_SETTINGS = ("run_ps", "equilibration_ps", "timestep_fs", "snapshot_fs")
"""The settings an MD run depends on (with the student file, x and T): changing anything else (the
gap model, the spectra) reuses the runs."""


def student_text(history: pd.DataFrame, student: dict, errors: pd.DataFrame) -> str:
    """Sentences on the NEP student of :func:`nep_student`: its descriptor, its generations, its
    force MAE on hot frames it had not learnt against the target (``student``: the settings), and
    its held-out force MAE (``errors``: :func:`_student_errors`)."""
    hyper = {**vars(NEPHyperparameters()), **student.get("hyper", {})}
    bodies = "three-, four- and five-body" if hyper["l_max_5b"] else "three- and four-body" if hyper["l_max_4b"] \
        else "three-body"
    measured = history.dropna(subset=["hot_force_mae_meV"])
    trained = int(history.generation.max())
    text = (f"The MD student ({bodies} descriptor) is generation {trained} of at most "
            f"{int(student.get('generations', 0))}; its force MAE on the {student['explore_K']:.0f} K frames of its "
            "own MD before learning them went " + " → ".join(f"{v:.0f}" for v in measured.hot_force_mae_meV)
            + " meV/Å over the generations")
    target = student.get("target_hot_mae_meV")
    if target is not None:
        met = measured[measured.hot_force_mae_meV <= target]
        text += (f", meeting the {target:.0f} meV/Å target at generation {int(met.generation.iloc[0])}" if len(met)
                 else f", never meeting the {target:.0f} meV/Å target (the last student is not measured on "
                      "frames of its own)")
    return text + f". Its force MAE on held-out labelled cells is {float(errors.forces_mae.iloc[0]):.0f} meV/Å."


SPOT_CHECK_TOLERANCE = 2.0
"""The direct gaps of hot MD frames agree with the gap model when their mean absolute difference
is at most this many times the model's own error at the accurate level (fixed before the checks
were seen)."""


def spot_check_agreement(spot: pd.DataFrame, model_mae_eV: float) -> dict:
    """How the gap model's gaps of the checked hot MD frames (``spot``: ``model_eV``,
    ``computed_eV``) compare with direct calculations, against the model's own accurate-level MAE
    (eV): ``frames``, ``mean_eV`` (model - direct), ``largest_eV`` (largest absolute difference),
    ``ratio`` (mean absolute difference over ``model_mae_eV``), ``agrees``
    (:data:`SPOT_CHECK_TOLERANCE`) and ``outliers`` ((x, T, difference) of every frame beyond that
    tolerance on its own, reported even when the mean agrees)."""
    if not model_mae_eV > 0:
        raise ValueError(f"model MAE {model_mae_eV!r} eV must be > 0")
    checked = spot.assign(difference=spot.model_eV - spot.computed_eV).dropna(subset=["difference"])
    if checked.empty:
        return dict(frames=0, outliers=[], mean_eV=np.nan, largest_eV=np.nan, ratio=np.nan, agrees=None)
    difference = checked.difference
    ratio = float(difference.abs().mean() / model_mae_eV)
    far = checked[difference.abs() > SPOT_CHECK_TOLERANCE * model_mae_eV]
    outliers = [(float(r.get("br_fraction", np.nan)), float(r.get("temperature_K", np.nan)), float(r.difference))
                for _, r in far.iterrows()]
    return dict(frames=len(difference), outliers=outliers, mean_eV=float(difference.mean()),
                largest_eV=float(difference.abs().max()), ratio=ratio, agrees=ratio <= SPOT_CHECK_TOLERANCE)


def spot_check_text(agreement: dict, level: str, learnt_md: bool = False) -> str:
    """A sentence on :func:`spot_check_agreement` (``level``: the accurate level's name;
    ``learnt_md``: whether the gap model learnt MD frames at the compositions and temperatures of this
    page's runs)."""
    if not agreement["frames"]:
        return "No checked frame has a direct gap, so whether the gap model extrapolates is not known."
    head = (f"Direct {level} gaps of {agreement['frames']} hot MD frames differ from the gap model's by "
            f"{agreement['mean_eV']:+.2f} eV on average (model minus direct; largest {agreement['largest_eV']:.2f} eV), "
            f"the mean absolute difference {agreement['ratio']:.1f} times the model's own error")
    if agreement["agrees"]:
        far = agreement.get("outliers", [])
        return head + f": within {SPOT_CHECK_TOLERANCE:g} times, consistent with its held-out skill" + (
            "; but " + ", ".join(f"x = {x:g} at {t:.0f} K ({d:+.2f} eV)" for x, t, d in far)
            + f" differ{'s' if len(far) == 1 else ''} by more than {SPOT_CHECK_TOLERANCE:g} times that error."
            if far else ".")
    cause = ("even after learning MD frames at these compositions and temperatures, the model misses some of "
             "these structures" if learnt_md else
             "the MD visits structures the model has not learnt (its training cells are displacements about the "
             "relaxed cells)")
    return (head + f": {cause}, so the E_g(x, T) of this page is not resolved: its numbers are the model's, shown to "
            "make that visible.")


def _thermal_run(atoms: Atoms, student: Path, temperature: float, settings: dict, work: Path) -> list[Atoms]:
    x = float(atoms.info["br_fraction"])
    md = {name: settings[name] for name in MD_SETTINGS}
    return thermal_run(atoms, student, temperature, settings["run_ps"], settings["equilibration_ps"],
                       settings["timestep_fs"], settings["snapshot_fs"], seed=int(1000 * x + temperature),
                       folder=work / "md" / json_key([x, temperature, md, file_hash(student)], 12))


def prepare_md(settings: dict, work: str | Path = RUNS_DIR / "cap_thermal") -> tuple[dict[float, Atoms], Path]:
    """The lowest relaxed cell per x and the trained NEP student (both cached in ``work``)."""
    settings06 = resolve("06_cap_models", settings["cap_models"])
    tuned = load_finetuned(obtain_cap_models(settings06, curated=committed_cap_models(settings06)).folder)
    _, lowest = cached_lowest_orderings(settings, settings06, tuned, Path(work))
    return lowest, nep_student(settings, settings06, lowest, tuned, Path(work))[0]


def run_md_share(settings: dict, part: int, parts: int, work: str | Path = RUNS_DIR / "cap_thermal") -> int:
    """Only the MD runs of share ``part`` of ``parts`` (into the cache), so several
    single-threaded processes can share the slowest step; run :func:`prepare_md` first, once."""
    work = Path(work)
    lowest, student = prepare_md(settings, work)
    runs = [(x, temperature) for x in lowest for temperature in settings["temperatures"]]
    for x, temperature in runs[part::parts]:
        try:
            _thermal_run(lowest[x], student, temperature, settings, work)
            print(f"MD x={x:g} T={temperature:g} K done", flush=True)
        except MDBlowUp as error:
            print(f"MD x={x:g} T={temperature:g} K blew up: {error}", flush=True)
    return len(runs[part::parts])


def _student_errors(model: str | Path, test: Sequence[Atoms]) -> pd.DataFrame:
    errors = label_errors(test, predictions(test, nep_calculator(model)))
    return pd.DataFrame([dict(model="NEP student vs fine-tuned CHGNet", structures=len(test), **errors)])


def _renormalised(atoms: Atoms, phonon, frames: Sequence[Atoms], snapshot_fs: float) -> pd.DataFrame:
    """Gamma-point modes of the 40-atom cell from the MD velocities (dynasor's projector with the
    0 K force constants; the cell is its own supercell, so only Gamma is resolved)."""

    with warnings.catch_warnings():  # dynasor notes that primitive and supercell coincide: intended
        warnings.simplefilter("ignore", UserWarning)
        projector = mode_projector(atoms, atoms, phonon.force_constants)
    frequency, spectra = power_spectra(mode_momenta(projector, frames), snapshot_fs)
    return renormalised_phonons(projector, frequency, spectra)


def obtain_cap_thermal(settings: dict, curated: str | Path | None = None,
                       work: str | Path = RUNS_DIR / "cap_thermal") -> ResultSet:
    """Chapter 07's result set for ``settings`` (:func:`softlattice.infra.resultsets.obtain`, keyed by
    the settings; rankings, the student and every MD run are cached under ``work``).

    Returns
    -------
    A result set with the tables of :data:`TABLES` and ``nep-student.txt``.
    """
    physics = {k: v for k, v in settings.items() if k != "profile"}
    inputs = {}
    if settings.get("gap_models") is not None:  # another comparison (more gaps) is another gap model
        settings06 = resolve("06_cap_models", settings["cap_models"])
        gap_folder, _ = gap_model_folder(settings, committed_cap_models(settings06))
        inputs["gap_model"] = file_hash(gap_model_file(gap_folder))
    return obtain("cap_thermal", physics, inputs, lambda folder: run_cap_thermal(settings, folder, work),
                  committed=curated, command="python -m softlattice.antiperovskite.workflows.thermal --profile "
                                             f"{settings.get('profile', 'full')}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m softlattice.antiperovskite.workflows.thermal --profile full --save DIR``: run chapter 07
    (resumable: rerun the same command) and copy the result set to ``DIR``."""

    parser = argparse.ArgumentParser(prog="python -m softlattice.antiperovskite.workflows.thermal",
                                     description="Chapter 07: lowest orderings, the NEP student, MD, thermal band "
                                                 "gaps, renormalised phonons and spot checks (resumable).")
    parser.add_argument("--profile", default="full", choices=["quick", "full"], help="parameter profile")
    parser.add_argument("--save", type=writable_folder, default=None, help="folder to store the result set in")
    parser.add_argument("--prepare", action="store_true", help="only rank the orderings and train the student")
    parser.add_argument("--md-part", type=parse_share, default=None, metavar="K/N",
                        help="run only this share of the MD runs (every N-th from the K-th)")
    args = parser.parse_args(argv)
    if args.prepare:
        lowest, student = prepare_md(resolve("07_cap_thermal", args.profile))
        print(f"lowest orderings for x = {sorted(lowest)}; NEP student {student}")
        return 0
    if args.md_part:
        done = run_md_share(resolve("07_cap_thermal", args.profile), *args.md_part)
        print(f"{done} MD runs in share {args.md_part[0]}/{args.md_part[1]}")
        return 0
    if args.save is None:
        raise SystemExit("--save DIR is needed (or --md-part K/N)")
    result = obtain_cap_thermal(resolve("07_cap_thermal", args.profile))
    result.copy_to(args.save)
    print(f"{result.source}; result set in {args.save}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
