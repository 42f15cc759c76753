"""Chapter 06's band-gap models compared: the seed-style GNN (:mod:`softlattice.models.gap_gnn`)
against three baselines on the same held-out structures, its architecture chosen by
cross-validation, and learning curves.

Units: Å, eV, K.

Inputs: the committed chapter-06 gaps (``gaps.csv.gz`` of
:func:`softlattice.antiperovskite.workflows.models.obtain_cap_models`; nothing here computes a
gap) and the structures they label, regenerated from the chapter-06 settings (the reference's
parent phonons and the seeded displacements, seconds; :func:`check_labelled_structures` proves
they are the labelled ones); with a ``label_set`` in the settings, also the frozen gaps of the
extended chapter-06 cells and of chapter 07's MD frames (:mod:`softlattice.antiperovskite.label_sets`,
regenerated and matched by structure hash).

Protocol, fixed before any test error was seen:

1. Architecture (:func:`select_architecture`): k-fold cross-validation over the cheap-level
   *training* structures; pooling first (at the first width and depth listed), then width (at
   the best pooling), then depth; the lowest mean validation MAE wins. The baselines are scored
   on the same folds.
2. Held-out test (:func:`held_out_comparison`): at each level the models are fitted on the
   level's training structures and scored on its held-out ones (chapter 06's split; the label
   set's: by structure hash for the extended cells, whole runs for MD frames); the GNN is
   trained in two stages (cheap, then accurate from those weights), for several seeds (the first
   is the stored model). Ablations: the same GNN blind to distances, and (accurate level) a GNN
   trained on the accurate gaps alone.
3. Accurate level, cross-validated (:func:`accurate_cross_validation`): the held-out accurate set
   is small (3 structures without a label set), so the same comparison is repeated by k-fold over the accurate training
   structures (stage 2 on each fold's training part, from the stage-1 model).
4. Learning curve (:func:`learning_curve`): held-out cheap MAE against the share of the cheap
   training set (nested random subsets, repeated).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms

from softlattice.antiperovskite import label_sets
from softlattice.antiperovskite import md_frame_gaps as md_frames
from softlattice.antiperovskite.dataset import CapDatasetSettings, dataset_structures
from softlattice.antiperovskite.gap_benchmark import (
    BASELINES,
    FittedGNN,
    GapProblem,
    cross_validated_mae,
    fine_tune,
    fit_baselines,
    fit_gnn,
    fit_ridge_two_stage,
    histogram_ridge,
)
from softlattice.antiperovskite.pinned_cells import (
    RETIRED_LABELS,
    cells_key,
    hashes_named_by_labels,
    pin_cells,
    retire_labels,
)
from softlattice.antiperovskite.workflows.models import (
    EXTENDED_LABELS,
    obtain_cap_models,
    training_structures,
)
from softlattice.electronic.gaps import GapCache
from softlattice.infra.cli import writable_folder
from softlattice.infra.keys import file_hash, json_key, structure_hash
from softlattice.infra.log import progress_printer
from softlattice.infra.paths import DATA_DIR
from softlattice.infra.profiles import resolve, settings_from_mapping
from softlattice.infra.resultsets import ResultSet, display_path, obtain
from softlattice.models import gap_gnn
from softlattice.models.gap_gnn import GapGNNConfig, TrainingSettings
from softlattice.models.gap_predictors import save_gap_model
from softlattice.models.metrics import paired_mae_difference, r2, rmse
from softlattice.models.splits import k_folds

TABLES = ("baselines_and_gnn", "verdict", "model_selection", "learning_curve", "predictions", "gnn_seeds",
          "gnn_losses", "labels")
"""Tables of the result set (one ``<name>.csv.gz`` each), beside ``gap-gnn.pt`` (the chosen GNN
after both stages), ``gap-gnn-cheap.pt`` (after stage 1), ``selection.json`` and the model chapter
07 takes its gaps from (:func:`chapter07_model`; :mod:`softlattice.models.gap_predictors`:
``gap-model.json``, and ``gap-ridge.npz`` when it is a ridge)."""

MODELS = {**BASELINES,
          "ridge_two_stage": "ridge on the cheap gaps, recalibrated (offset and slope) on the accurate ones",
          "gnn": "the GNN (chosen by cross-validation); accurate level: stage 1 cheap, stage 2 accurate",
          "gnn_geometry_blind": "the same GNN with every edge length set to 0 (species and neighbours only)",
          "gnn_accurate_only": "the same GNN trained on the accurate gaps alone (no stage 1)"}
"""Every model of the comparison, by name, with what it is."""
KINDS = {"constant": "baseline", "linear_xT": "baseline", "ridge_histogram": "baseline", "ridge_two_stage": "baseline",
         "gnn": "gnn", "gnn_geometry_blind": "ablation", "gnn_accurate_only": "ablation"}
HELD_OUT, CROSS_VALIDATED = "held-out test", "k-fold CV over the accurate training structures"
HELD_OUT_MD = "held-out test, MD frames only"
CHAPTER_06 = "chapter 06"
"""``source`` of the labels of chapter 06's committed result set in the ``labels`` table (the others
name their label set's source, 'extended' or 'md')."""
LABEL_COLUMNS = ["index", "hash", "source", "origin", "stage", "held_out", "br_fraction", "temperature_K", "gap_eV"]


def committed_gap_models(reference: str) -> Path:
    """Where the committed result set for chapter-06 reference ``reference`` lives."""
    return DATA_DIR / "gap_models" / reference


def check_labelled_structures(structures: Sequence[Atoms], gaps: pd.DataFrame) -> None:
    """Refuse regenerated ``structures`` that are not the ones chapter 06 labelled: every labelled
    ``index`` must exist and name a structure of the row's composition, origin and temperature.

    The cells are identified by their place in the generated list and by that recipe, not by their
    hashes: the parents' phonons come from CHGNet, whose forces differ in the last digits between
    CPU types, so the thermal amplitudes (and the cells) differ by about 1e-5 to 1e-4 Å from one
    machine to another (measured: 3e-5 Å in the rms amplitudes), far below what moves a gap, while
    the structure hash (positions to 1e-6 Å) and the hash order of
    :func:`~softlattice.antiperovskite.workflows.models.gap_selection` change.
    """
    labelled = gaps.dropna(subset=["gap_eV"]) if "gap_eV" in gaps else gaps
    outside = sorted(int(i) for i in labelled["index"] if not 0 <= int(i) < len(structures))
    if outside:
        raise ValueError(f"labelled index(es) {outside[:5]} are outside the {len(structures)} regenerated structures: "
                         "were the chapter-06 settings changed?")
    wrong = []
    for row in labelled.itertuples():
        info = structures[int(row.index)].info
        temperature = info.get("temperature", np.nan)
        same_temperature = (np.isnan(temperature) and pd.isna(row.temperature_K)) or temperature == row.temperature_K
        if not (math.isclose(info["br_fraction"], row.br_fraction) and info["origin"] == row.origin
                and same_temperature):
            wrong.append(int(row.index))
    if wrong:
        raise ValueError(f"the regenerated structures are not the ones chapter 06 labelled: {len(wrong)} labelled "
                         f"index(es) (first {wrong[:5]}) name a structure of another composition, origin or "
                         "temperature: were the chapter-06 settings or the structure generator changed?")


def gap_problem(settings: dict, histogram: dict) -> tuple[GapProblem, ResultSet, dict]:
    """The labelled structures of chapter 06 (profile ``settings['cap_models']``), plus those of the
    label set ``settings['label_set']`` when one is named, as a :class:`GapProblem`; the chapter-06
    result set and its settings."""
    settings06 = resolve("06_cap_models", settings["cap_models"])
    cap = obtain_cap_models(settings06, curated=DATA_DIR / "cap_models" / str(settings06["reference"]))
    gaps = cap.table("gaps")
    _, _, structures = training_structures(settings06)
    check_labelled_structures(structures, gaps)
    gaps = gaps.assign(source=CHAPTER_06)
    if settings.get("label_set"):
        table = label_sets.load_label_set(settings["label_set"])
        twice = set(table.hash) & labelled_hashes(structures, gaps)
        if twice:
            raise ValueError(f"label set {settings['label_set']!r} labels {len(twice)} structure(s) chapter 06 "
                             f"labels already (e.g. {min(twice)})")
        sources = extra_structures(settings["cap_models"])
        offsets = {"extended": len(structures), "md": len(structures) + len(sources["extended"])}
        gaps = pd.concat([gaps, label_sets.attach(table, sources, offsets)], ignore_index=True)
        structures = [*structures, *sources["extended"], *sources["md"]]
    gaps = gaps.assign(hash=[structure_hash(structures[int(i)]) for i in gaps["index"]])
    return GapProblem.build(structures, gaps, spacing=histogram["spacing"], width=histogram["width"]), cap, settings06


def labelled_hashes(structures: Sequence[Atoms], gaps: pd.DataFrame) -> set[str]:
    """Hashes of the ``structures`` that ``gaps`` gives a gap (at either level)."""
    return {structure_hash(structures[int(i)]) for i in gaps.dropna(subset=["gap_eV"])["index"]}


def extra_structures(cap_profile: str) -> dict[str, list[Atoms]]:
    """The structure lists a label set refers to: 'extended', chapter 06's cells with
    :data:`EXTENDED_LABELS` (regenerated), and 'md', chapter 07's committed MD frames."""
    extended = resolve("06_cap_models", cap_profile, **EXTENDED_LABELS)
    return {"extended": training_structures(extended)[2], "md": md_frames.load_frames(md_frames.MD_FRAMES)}


def labelled_extended_hashes(frozen: bool = True) -> set[str]:
    """Hashes of the extended cells that labels name: every carried gap that is not an MD frame's
    (:data:`md_frame_gaps.LABELS_CARRIED`) and, with ``frozen``, every 'extended' row of a label set."""
    md_hashes = {structure_hash(a) for a in md_frames.load_frames(md_frames.MD_FRAMES)}
    return hashes_named_by_labels(md_frames.LABELS_CARRIED, label_sets.LABEL_SETS if frozen else None, md_hashes)


def pin_chapter06_cells(cap_profile: str, retire_unbuilt: bool = False) -> list[Path]:
    """Pin the cells of chapter 06's profile ``cap_profile`` and of its :data:`EXTENDED_LABELS`
    selection as this machine builds them, if they are the labelled ones: every extended cell that
    labels name (:func:`labelled_extended_hashes`) is among them, and chapter 06's cells, built from the
    same phonons, are among the extended ones.

    With ``retire_unbuilt``, the carried gaps of extended cells this machine does not build are
    retired first (:func:`pinned_cells.retire_labels`, into :data:`pinned_cells.RETIRED_LABELS`), and
    label sets that name such cells are reported, not checked: they can no longer be attached.

    Raises
    ------
    ValueError
        Where this machine's cells are not the labelled ones (:func:`pinned_cells.pin_cells`).
    """
    extended = resolve("06_cap_models", cap_profile, **EXTENDED_LABELS)
    _, phonons, extended_cells = training_structures(extended, pinned=False)
    built = {}
    for name, settings in (("extended", extended), ("chapter 06", resolve("06_cap_models", cap_profile))):
        dataset_settings = settings_from_mapping(CapDatasetSettings, settings["dataset"], "dataset setting")
        cells = extended_cells if name == "extended" else dataset_structures(dataset_settings, phonons)
        built[name] = (cells_key(settings["reference"], dataset_settings), cells)
    extended_hashes = {structure_hash(a) for a in built["extended"][1]}
    outside = [a for a in built["chapter 06"][1] if structure_hash(a) not in extended_hashes]
    if outside:
        raise ValueError(f"{len(outside)} of chapter 06's {len(built['chapter 06'][1])} cells are not among the "
                         "extended cells: the two lists were not built from the same phonons and settings")
    if retire_unbuilt:
        md_hashes = {structure_hash(a) for a in md_frames.load_frames(md_frames.MD_FRAMES)}
        moved = retire_labels(md_frames.LABELS_CARRIED, extended_hashes | md_hashes, RETIRED_LABELS,
                              caches=[md_frames.GAPS_STORE],
                              reason=f"cells of another CPU type than {cpu_description()}, never pinned; the "
                                     f"cells were pinned as this CPU type builds them ({built['extended'][0]})")
        print(f"retired {moved or 'nothing'} into {display_path(RETIRED_LABELS)}")
        for path in sorted(label_sets.LABEL_SETS.glob("*.csv.gz")):
            table = pd.read_csv(path, dtype={"hash": str})
            unbuilt = set(table.loc[table.source == "extended", "hash"]) - extended_hashes
            if unbuilt:
                print(f"label set {path.name} names {len(unbuilt)} extended cells that are not pinned: "
                      "a profile that uses it cannot be recomputed")
    labelled = labelled_extended_hashes(frozen=not retire_unbuilt)
    return [pin_cells(built["extended"][1], built["extended"][0], labelled),
            pin_cells(built["chapter 06"][1], built["chapter 06"][0], ())]


def cpu_description() -> str:
    """This machine's CPU model, and whether it has AVX-512 (Linux; 'unknown CPU' elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")),
                 "unknown CPU")
    return f"{model} ({'with' if ' avx512f' in text else 'without'} AVX-512)"


def carried_label_set(cap_profile: str) -> pd.DataFrame:
    """Label-set rows of every gap the carried labels (:data:`md_frame_gaps.LABELS_CARRIED`) hold for
    the extended selection and the MD frames, read through a private cache (so gaps computed but
    not carried are not in it), leaving out structures chapter 06's committed set labels."""
    settings06 = resolve("06_cap_models", cap_profile)
    extended = resolve("06_cap_models", cap_profile, **EXTENDED_LABELS)
    cap = obtain_cap_models(settings06, curated=DATA_DIR / "cap_models" / str(settings06["reference"]))
    _, _, structures = training_structures(settings06)
    known = labelled_hashes(structures, cap.table("gaps"))
    sources = extra_structures(cap_profile)
    lost = labelled_extended_hashes(frozen=False) - {structure_hash(a) for a in sources["extended"]}
    if lost:  # a set frozen here would leave them out without a word
        raise ValueError(f"{len(lost)} carried gaps of extended cells name cells that are not among the "
                         f"{len(sources['extended'])} built here (CHGNet's phonons differ between CPU types): pin the "
                         "cells on a machine that builds the labelled ones (--pin-cells) before freezing a label set")
    with tempfile.TemporaryDirectory() as private:
        for stage in ("cheap", "accurate"):
            GapCache(extended["gaps"][stage], private, basis=extended["gaps"][f"{stage}_basis"]).import_from(
                md_frames.LABELS_CARRIED)
        rows = label_sets.extended_gap_table(sources["extended"], extended["gaps"], extended["test_percent"], known,
                                             0, private)
        md_rows = md_frames.md_gap_table(sources["md"], settings06["gaps"], 0, private)
    return pd.concat([label_sets.as_label_set(rows, sources["extended"], "extended"),
                      label_sets.as_label_set(md_rows, sources["md"], "md")], ignore_index=True)


def with_md_protocol(predictions: pd.DataFrame, problem: GapProblem) -> pd.DataFrame:
    """``predictions`` plus the held-out test restricted to MD frames as its own protocol
    (:data:`HELD_OUT_MD`): what chapter 07 needs of a gap model. Unchanged without MD frames."""
    md = set(problem.gaps.loc[problem.gaps.origin == "md", "index"].astype(int))
    chosen = predictions[(predictions.protocol == HELD_OUT) & predictions["index"].astype(int).isin(md)]
    return pd.concat([predictions, chosen.assign(protocol=HELD_OUT_MD)], ignore_index=True)


def select_architecture(problem: GapProblem, base: GapGNNConfig, stage1: TrainingSettings,
                        selection: dict, say: Callable[[str], None] = lambda message: None
                        ) -> tuple[pd.DataFrame, GapGNNConfig]:
    """Pooling, then width, then depth, each by the mean MAE over ``selection['folds']`` folds of
    the cheap training structures; the baselines on the same folds for comparison (``say`` is
    told each architecture's score as it comes).

    Returns
    -------
    The table (one row per architecture tried and per baseline: fold MAEs in eV, their mean and
    standard deviation, the steps that tried it, ``chosen``) and the chosen configuration.
    """
    train = problem.indices("cheap", held_out=False)
    folds = selection["folds"]
    scores: dict[GapGNNConfig, list[float]] = {}
    steps: dict[GapGNNConfig, list[str]] = {}

    def score(config: GapGNNConfig, step: str) -> float:
        if config not in scores:
            scores[config] = cross_validated_mae(problem, train, folds,
                                                 lambda part: fit_gnn(problem, part, config, stage1).predictor(problem))
            say(f"{config.pooling} pooling, width {config.hidden}, depth {config.layers}: "
                f"CV MAE {np.mean(scores[config]):.4f} eV")
        steps.setdefault(config, []).append(step)
        return float(np.mean(scores[config]))

    best = replace(base, hidden=selection["widths"][0], layers=selection["depths"][0])
    for step, field, values in (("pooling", "pooling", selection["poolings"]), ("width", "hidden", selection["widths"]),
                                ("depth", "layers", selection["depths"])):
        best = min((replace(best, **{field: value}) for value in values), key=lambda c: score(c, step))
    rows = [dict(model="gnn", kind="gnn", pooling=c.pooling, hidden=c.hidden, layers=c.layers, steps=",".join(steps[c]),
                 **_fold_columns(maes), chosen=c == best) for c, maes in scores.items()]
    for name in BASELINES:
        maes = cross_validated_mae(problem, train, folds, lambda part: fit_baselines(problem, part)[name])
        rows.append(dict(model=name, kind="baseline", steps="", **_fold_columns(maes), chosen=False))
    return pd.DataFrame(rows), best


def _fold_columns(maes: Sequence[float]) -> dict[str, float]:
    return {**{f"fold{k}_mae_eV": m for k, m in enumerate(maes)}, "cv_mae_eV": float(np.mean(maes)),
            "cv_mae_std_eV": float(np.std(maes))}


def _prediction_rows(problem: GapProblem, protocol: str, level: str, model: str, indices: Sequence[int],
                     predicted: np.ndarray, seed: int | None = None, fold: int | None = None) -> pd.DataFrame:
    return pd.DataFrame(dict(protocol=protocol, level=level, model=model, seed=seed, fold=fold,
                             index=np.asarray(indices, dtype=int), gap_eV=problem.truth(indices), predicted_eV=predicted))


def held_out_comparison(problem: GapProblem, config: GapGNNConfig, stage1: TrainingSettings, stage2: TrainingSettings,
                        seeds: Sequence[int]) -> tuple[pd.DataFrame, dict[str, FittedGNN]]:
    """Every model fitted on each level's training structures and predicting its held-out ones.

    Returns
    -------
    Predictions (``protocol``, ``level``, ``model``, ``seed``, ``index``, ``gap_eV``,
    ``predicted_eV``) and the fitted GNNs of the first seed: 'cheap' (after stage 1),
    'accurate' (after stage 2) and 'blind' (the geometry-blind GNN after stage 1).
    """
    cheap_train, cheap_test = problem.indices("cheap", False), problem.indices("cheap", True)
    accurate_train, accurate_test = problem.indices("accurate", False), problem.indices("accurate", True)
    frames, kept = [], {}
    for level, train, test in (("cheap", cheap_train, cheap_test), ("accurate", accurate_train, accurate_test)):
        for name, predictor in fit_baselines(problem, train).items():
            frames.append(_prediction_rows(problem, HELD_OUT, level, name, test, predictor(test)))
    two_stage = fit_ridge_two_stage(problem, cheap_train, accurate_train)
    frames.append(_prediction_rows(problem, HELD_OUT, "accurate", "ridge_two_stage", accurate_test,
                                   two_stage(accurate_test)))
    for seed in seeds:
        cheap = fit_gnn(problem, cheap_train, config, stage1, seed)
        accurate = fine_tune(cheap, problem, accurate_train, stage2)
        frames.append(_prediction_rows(problem, HELD_OUT, "cheap", "gnn", cheap_test,
                                       cheap.predictor(problem)(cheap_test), seed))
        frames.append(_prediction_rows(problem, HELD_OUT, "accurate", "gnn", accurate_test,
                                       accurate.predictor(problem)(accurate_test), seed))
        kept = kept or dict(cheap=cheap, accurate=accurate)
    blind = fit_gnn(problem, cheap_train, replace(config, geometry=False), stage1, seeds[0])
    frames.append(_prediction_rows(problem, HELD_OUT, "cheap", "gnn_geometry_blind", cheap_test,
                                   blind.predictor(problem)(cheap_test), seeds[0]))
    frames.append(_prediction_rows(problem, HELD_OUT, "accurate", "gnn_geometry_blind", accurate_test,
                                   fine_tune(blind, problem, accurate_train, stage2).predictor(problem)(accurate_test),
                                   seeds[0]))
    alone = fit_gnn(problem, accurate_train, config, stage1, seeds[0])
    frames.append(_prediction_rows(problem, HELD_OUT, "accurate", "gnn_accurate_only", accurate_test,
                                   alone.predictor(problem)(accurate_test), seeds[0]))
    return pd.concat(frames, ignore_index=True), dict(kept, blind=blind)


def accurate_cross_validation(problem: GapProblem, fitted: dict[str, FittedGNN], config: GapGNNConfig,
                              stage1: TrainingSettings, stage2: TrainingSettings, folds: int,
                              seed: int = 0) -> pd.DataFrame:
    """Out-of-fold predictions of every accurate-level model over the accurate training
    structures (``folds`` folds): stage 2 from the stage-1 GNNs in ``fitted`` ('cheap', 'blind')
    on each fold's training part; the cheap-level ridge of ``ridge_two_stage`` sees no accurate gap."""
    cheap_train, accurate_train = problem.indices("cheap", False), problem.indices("accurate", False)
    frames = []
    for k, fold in enumerate(k_folds(len(accurate_train), folds, seed)):
        train, test = np.delete(accurate_train, fold), accurate_train[fold]
        predictors = fit_baselines(problem, train)
        predictors["ridge_two_stage"] = fit_ridge_two_stage(problem, cheap_train, train)
        predictors["gnn"] = fine_tune(fitted["cheap"], problem, train, stage2).predictor(problem)
        predictors["gnn_geometry_blind"] = fine_tune(fitted["blind"], problem, train, stage2).predictor(problem)
        predictors["gnn_accurate_only"] = fit_gnn(problem, train, config, stage1, seed).predictor(problem)
        for name, predictor in predictors.items():
            frames.append(_prediction_rows(problem, CROSS_VALIDATED, "accurate", name, test, predictor(test),
                                           seed if name.startswith("gnn") else None, k))
    return pd.concat(frames, ignore_index=True)


def learning_curve(problem: GapProblem, config: GapGNNConfig, stage1: TrainingSettings, fractions: Sequence[float],
                   repeats: int, full_gnn: FittedGNN) -> pd.DataFrame:
    """Held-out cheap MAE and RMSE (eV) of the GNN and the baselines trained on nested random
    shares of the cheap training structures (``repeats`` orders; the whole set once, where the
    GNN is ``full_gnn``, the stored stage-1 model)."""
    train, test = problem.indices("cheap", False), problem.indices("cheap", True)
    truth, rows = problem.truth(test), []
    for repeat in range(repeats):
        order = np.random.default_rng(repeat).permutation(train)
        for fraction in fractions:
            if fraction >= 1 and repeat > 0:
                continue  # the whole set in another order: the same models
            part = train if fraction >= 1 else order[:max(3, math.ceil(fraction * len(train)))]
            predictors = fit_baselines(problem, part)
            gnn = full_gnn if fraction >= 1 else fit_gnn(problem, part, config, stage1)
            predictors["gnn"] = gnn.predictor(problem)
            for name, predictor in predictors.items():
                predicted = predictor(test)
                rows.append(dict(fraction=fraction, repeat=repeat, n_train=len(part), n_test=len(test), model=name,
                                 mae_eV=float(np.mean(np.abs(predicted - truth))), rmse_eV=rmse(truth, predicted)))
    return pd.DataFrame(rows)


def comparison_table(predictions: pd.DataFrame, problem: GapProblem, resamples: int = 2000) -> pd.DataFrame:
    """Per protocol, level and model: n_train, n_test, MAE, RMSE, R^2 (eV), and against the GNN
    (its first seed) on the same structures: the GNN's MAE minus the model's with a paired
    bootstrap 95 % interval, and ``gnn_better`` (the GNN's MAE strictly lower)."""
    rows = []
    for (protocol, level), part in predictions.groupby(["protocol", "level"], sort=False):
        first_seed = part.loc[part.model == "gnn", "seed"].min()
        gnn = part[(part.model == "gnn") & (part.seed == first_seed)].set_index("index").predicted_eV
        n_train = len(problem.indices(level, held_out=False))
        if protocol == CROSS_VALIDATED:
            n_train = n_train - n_train // max(part.fold.nunique(), 1)
        for model, group in part.groupby("model", sort=False):
            if model == "gnn":
                group = group[group.seed == first_seed]
            group = group.set_index("index")
            truth, predicted = group.gap_eV.to_numpy(), group.predicted_eV.to_numpy()
            difference, low, high = paired_mae_difference(truth, gnn.loc[group.index].to_numpy(), predicted, resamples)
            rows.append(dict(protocol=protocol, level=level, model=model, kind=KINDS[model], description=MODELS[model],
                             n_train=n_train, n_test=len(group), mae_eV=float(np.mean(np.abs(predicted - truth))),
                             rmse_eV=rmse(truth, predicted), r2=r2(truth, predicted),
                             gnn_minus_model_mae_eV=difference, ci95_low_eV=low, ci95_high_eV=high,
                             gnn_better=bool(difference < 0)))
    return pd.DataFrame(rows)


def seed_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Held-out MAE (eV) of the GNN per level and seed."""
    gnn = predictions[(predictions.model == "gnn") & (predictions.protocol == HELD_OUT)]
    return (gnn.assign(error=(gnn.predicted_eV - gnn.gap_eV).abs()).groupby(["level", "seed"], sort=False)
            .error.mean().rename("mae_eV").reset_index())


def verdict_table(comparison: pd.DataFrame, seeds: pd.DataFrame) -> pd.DataFrame:
    """Per protocol and level: the GNN's MAE, the best baseline, and whether the GNN beats every
    baseline (strictly lower MAE), clearly (every paired-bootstrap interval below zero) and, on
    the held-out test, for every seed."""
    rows = []
    for (protocol, level), part in comparison.groupby(["protocol", "level"], sort=False):
        baselines = part[part.kind == "baseline"]
        best = baselines.loc[baselines.mae_eV.idxmin()]
        gnn_mae = float(part.loc[part.model == "gnn", "mae_eV"].iloc[0])
        seed_maes = seeds.loc[seeds.level == level, "mae_eV"] if protocol == HELD_OUT else pd.Series([gnn_mae])
        rows.append(dict(protocol=protocol, level=level, n_test=int(best.n_test), gnn_mae_eV=gnn_mae,
                         best_baseline=best.model, best_baseline_mae_eV=float(best.mae_eV),
                         gnn_beats_all_baselines=bool(baselines.gnn_better.all()),
                         gnn_beats_all_clearly=bool((baselines.ci95_high_eV < 0).all()),
                         gnn_beats_all_every_seed=bool((seed_maes < baselines.mae_eV.min()).all()),
                         gnn_seed_mae_min_eV=float(seed_maes.min()), gnn_seed_mae_max_eV=float(seed_maes.max())))
    return pd.DataFrame(rows)


def beaten_clause(row) -> str:
    """How the GNN of one :func:`verdict_table` row fares against the baselines, in a few words."""
    if row.gnn_beats_all_clearly:
        return "beaten clearly"
    return "beaten, but within the noise" if row.gnn_beats_all_baselines else "not beaten"


LEARNING_CURVE_GAIN = 0.10
"""The GNN's held-out MAE must fall by more than this fraction from half to all of the cheap
training set for the learning curve to count as still falling (fixed before the curve was seen)."""


def learning_curve_text(curve: pd.DataFrame) -> str:
    """A sentence on the GNN's learning curve (:func:`learning_curve`, averaged over repeats):
    its held-out MAE at the smallest, half and full training set, and whether it still falls by
    :data:`LEARNING_CURVE_GAIN` over the last doubling."""
    mean = curve[curve.model == "gnn"].groupby("n_train").mae_eV.mean().sort_index()
    if len(mean) < 2:
        raise ValueError(f"a learning curve needs two or more training-set sizes; got {list(mean.index)}")
    full = mean.iloc[-1]
    half = mean.iloc[int(np.argmin(np.abs(mean.index.to_numpy() - mean.index[-1] / 2)))]
    falling = full < (1 - LEARNING_CURVE_GAIN) * half
    return (f"From {mean.index[0]} to {mean.index[-1]} cheap training structures the GNN's held-out MAE goes "
            f"{mean.iloc[0]:.3f} → {half:.3f} → {full:.3f} eV (smallest, about half, all): "
            + ("still falling over the last doubling, so more gaps of this kind should help."
               if falling else f"less than {LEARNING_CURVE_GAIN:.0%} lower over the last doubling, so more gaps "
               "of this kind alone would help little."))


def linear_baseline_text(comparison: pd.DataFrame, level: str = "cheap") -> str:
    """A sentence on whether the GNN learns more than a straight line in (x, T) on the held-out
    test at ``level`` (:func:`comparison_table`): 'clearly' only when the paired-bootstrap
    interval of the MAE difference lies below zero."""
    row = comparison[(comparison.protocol == HELD_OUT) & (comparison.level == level) & (comparison.model == "linear_xT")]
    if row.empty:
        raise ValueError(f"the comparison has no held-out linear_xT row at the {level} level")
    row = row.iloc[0]
    verdict = ("learns clearly more than composition and temperature explain" if row.ci95_high_eV < 0 else
               "is clearly worse than a straight line in composition and temperature" if row.ci95_low_eV > 0 else
               "cannot be told from a straight line in composition and temperature")
    return (f"At the {level} level the GNN {verdict} (held-out MAE difference {row.gnn_minus_model_mae_eV:+.3f} eV, "
            f"95 % interval {row.ci95_low_eV:+.3f} to {row.ci95_high_eV:+.3f} eV).")


STRUCTURE_MODELS = {"gnn": "the GNN",
                    "ridge_histogram": "ridge regression on distance histograms",
                    "ridge_two_stage": "ridge regression on distance histograms fitted to the cheap gaps and mapped "
                                       "onto the accurate ones"}
"""The models chapter 07 can take its gaps from, with a name for prose: those that read a
structure's geometry. The constant and the line in (x, T) would give every MD frame of a run the
value they were fitted to at its x and T, so an average over frames would only return that line."""


def accurate_protocol(comparison: pd.DataFrame) -> str:
    """The accurate-level protocol of ``comparison`` (:func:`comparison_table`) with the most test
    structures: the one a model's accurate-level error is read from."""
    rows = comparison[comparison.level == "accurate"]
    if rows.empty:
        raise ValueError("the comparison has no accurate-level row")
    return str(rows.sort_values("n_test", kind="stable").protocol.iloc[-1])


def accurate_level_error(comparison: pd.DataFrame, model: str = "gnn") -> float:
    """The MAE (eV) of ``model`` at the accurate level on :func:`accurate_protocol`: the error a
    page that uses its gaps is judged against."""
    rows = comparison[(comparison.level == "accurate") & (comparison.protocol == accurate_protocol(comparison))
                      & (comparison.model == model)]
    if rows.empty:
        raise ValueError(f"the comparison has no accurate-level row of model {model!r}; it has "
                         f"{sorted(comparison.model.unique())}")
    return float(rows.mae_eV.iloc[0])


CHAPTER07_RULE = ("the GNN when it beats every baseline at the accurate level on every protocol; otherwise, of the "
                  "models that read a structure, the one with the lowest accurate-level MAE on the accurate "
                  "protocol with the most test structures")
"""How chapter 07's gap model is chosen (fixed before the comparison on the second label set was run)."""


def chapter07_model(verdict: pd.DataFrame, comparison: pd.DataFrame) -> str:
    """The model chapter 07 takes its gaps from, by :data:`CHAPTER07_RULE`: 'gnn' when it beats
    every baseline at the accurate level on every protocol of ``verdict`` (:func:`verdict_table`);
    otherwise, of :data:`STRUCTURE_MODELS`, the one with the lowest :func:`accurate_level_error`
    in ``comparison`` (:func:`comparison_table`)."""
    accurate = verdict[verdict.level == "accurate"]
    if accurate.empty:
        raise ValueError("the verdict has no accurate-level row")
    if accurate.gnn_beats_all_baselines.astype(bool).all():
        return "gnn"
    return min(STRUCTURE_MODELS, key=lambda model: accurate_level_error(comparison, model))


def chapter07_model_text(verdict: pd.DataFrame, comparison: pd.DataFrame, chosen: str) -> str:
    """A sentence naming the model chapter 07 takes its gaps from (``chosen``, from
    :func:`chapter07_model`) and why."""
    accurate = verdict[verdict.level == "accurate"]
    protocol, n_test = accurate_protocol(comparison), int(accurate.n_test.max())
    if chosen == "gnn":
        clearly = accurate.gnn_beats_all_clearly.astype(bool)
        margin = ("" if clearly.all() else
                  f" (by a margin outside the paired-bootstrap noise on "
                  f"{'none of them' if not clearly.any() else f'{int(clearly.sum())} of {len(accurate)}'}: "
                  "the rule, fixed before the comparison, asks for the lowest MAE, not for a resolved margin)")
        return (f"The GNN has the lowest accurate-level MAE of every model on every protocol{margin}, so chapter 07 "
                "takes its gaps from it.")
    lost = int((~accurate.gnn_beats_all_baselines.astype(bool)).sum())
    return (f"The GNN does not beat every baseline at the accurate level ({lost} of {len(accurate)} protocols), so "
            f"chapter 07 takes its gaps from the model that reads a structure and has the lowest accurate-level MAE "
            f"on the {protocol} ({n_test} structures): {STRUCTURE_MODELS[chosen]} ('{chosen}', "
            f"{accurate_level_error(comparison, chosen):.3f} eV against the GNN's "
            f"{accurate_level_error(comparison):.3f} eV).")


def chapter07_gap_model(chosen: str, problem: GapProblem):
    """The fitted model ``chosen`` (:func:`chapter07_model`) for storing: 'gnn' (already stored
    as ``gap-gnn.pt``), or a ridge fitted on the training structures of the held-out test, so its
    held-out errors are its own."""
    cheap, accurate = problem.indices("cheap", False), problem.indices("accurate", False)
    if chosen == "gnn":
        return "gnn"
    if chosen == "ridge_histogram":
        return histogram_ridge(problem, accurate)
    if chosen == "ridge_two_stage":
        return histogram_ridge(problem, cheap, recalibrate_on=accurate)
    raise ValueError(f"chapter 07 cannot take its gaps from {chosen!r}; allowed: {', '.join(STRUCTURE_MODELS)}")


def accurate_level_text(verdict: pd.DataFrame) -> str:
    """A clause (no full stop) on the GNN against the best baseline at the accurate level, for
    every protocol of ``verdict`` (:func:`verdict_table`): what bounds a page that uses its gaps."""
    rows = verdict[verdict.level == "accurate"]
    return "; ".join(f"{r.protocol} ({r.n_test} structures): GNN MAE {r.gnn_mae_eV:.3f} eV against "
                     f"{r.best_baseline_mae_eV:.3f} eV for the best baseline ({r.best_baseline}), {beaten_clause(r)}"
                     for r in rows.itertuples())


def run_gap_models(settings: dict, folder: str | Path, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Compute the comparison for ``settings`` (a profile of ``06_gap_models``) into ``folder``
    (``progress``: print a timestamped line per step)."""
    say = progress_printer(progress)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    problem, cap, _ = gap_problem(settings, settings["histogram"])
    say(f"{len(problem.gaps)} labelled structures; choosing the architecture")
    tables = {"labels": problem.gaps.loc[:, LABEL_COLUMNS]}
    base = settings_from_mapping(GapGNNConfig, settings["gnn"], "GNN setting")
    stage1 = settings_from_mapping(TrainingSettings, settings["stage1"], "stage-1 setting")
    stage2 = settings_from_mapping(TrainingSettings, settings["stage2"], "stage-2 setting")
    tables["model_selection"], config = select_architecture(problem, base, stage1, settings["selection"], say)
    say(f"chosen {config}; held-out comparison")
    predictions, fitted = held_out_comparison(problem, config, stage1, stage2, settings["seeds"])
    say("accurate level cross-validated")
    predictions = pd.concat([predictions, accurate_cross_validation(problem, fitted, config, stage1, stage2,
                                                                    settings["accurate_folds"], settings["seeds"][0])],
                            ignore_index=True)
    tables["predictions"] = predictions = with_md_protocol(predictions, problem)
    tables["gnn_seeds"] = seed_table(predictions)
    tables["baselines_and_gnn"] = comparison_table(predictions, problem)
    tables["verdict"] = verdict_table(tables["baselines_and_gnn"], tables["gnn_seeds"])
    say("learning curve")
    tables["learning_curve"] = learning_curve(problem, config, stage1, settings["learning_fractions"],
                                              settings["learning_repeats"], fitted["cheap"])
    tables["gnn_losses"] = pd.concat([pd.DataFrame(dict(stage=stage, epoch=np.arange(1, len(losses) + 1), loss=losses))
                                      for stage, losses in zip(("cheap", "accurate"), fitted["accurate"].losses)],
                                     ignore_index=True)
    gap_gnn.save_model(folder / "gap-gnn.pt", fitted["accurate"].model, fitted["accurate"].standardiser)
    gap_gnn.save_model(folder / "gap-gnn-cheap.pt", fitted["cheap"].model, fitted["cheap"].standardiser)
    chosen = chapter07_model(tables["verdict"], tables["baselines_and_gnn"])
    save_gap_model(folder, chapter07_gap_model(chosen, problem), rule=CHAPTER07_RULE,
                   protocol=accurate_protocol(tables["baselines_and_gnn"]),
                   accurate_mae_eV=accurate_level_error(tables["baselines_and_gnn"], chosen))
    (folder / "selection.json").write_text(json.dumps(dict(
        chosen=asdict(config), seed=settings["seeds"][0], gaps_from=cap.source,
        protocol=__doc__.split("Protocol, fixed before any test error was seen:", 1)[1].strip()), indent=1))
    for name in TABLES:
        tables[name].to_csv(folder / f"{name}.csv.gz", index=False, float_format="%.6g")
    return tables


def obtain_gap_models(settings: dict, curated: str | Path | None = None, progress: bool = False) -> ResultSet:
    """The comparison's result set for ``settings`` (:func:`softlattice.infra.resultsets.obtain`,
    keyed by the settings and the hash of the chapter-06 gaps it learns from).

    Returns
    -------
    A result set with the tables of :data:`TABLES`, ``gap-gnn.pt``, ``gap-gnn-cheap.pt`` and
    ``selection.json``.
    """
    physics = {k: v for k, v in settings.items() if k != "profile"}
    settings06 = resolve("06_cap_models", settings["cap_models"])
    cap = obtain_cap_models(settings06, curated=DATA_DIR / "cap_models" / str(settings06["reference"]))
    inputs = {"cap_models_gaps": file_hash(cap.path("gaps.csv.gz")),
              "cap_models_settings": json_key({k: v for k, v in settings06.items() if k != "profile"})}
    if settings.get("label_set"):
        label_sets.load_label_set(settings["label_set"])  # a clear error when it is missing
        inputs["label_set"] = file_hash(label_sets.label_set_path(settings["label_set"]))
    if curated is None:
        curated = committed_gap_models(str(settings06["reference"]))
    return obtain("gap_models", physics, inputs, lambda folder: run_gap_models(settings, folder, progress),
                  committed=curated,
                  command="python -m softlattice.antiperovskite.workflows.gap_models --profile "
                          f"{settings.get('profile', 'full')}")


def label_set_name(name: str) -> str:
    """``name`` if it can name a label set (:func:`label_sets.label_set_path`), for argparse."""
    try:
        label_sets.label_set_path(name)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m softlattice.antiperovskite.workflows.gap_models --profile full --save DIR``:
    compute (or find) the comparison and copy the result set with its provenance to ``DIR``."""
    parser = argparse.ArgumentParser(prog="python -m softlattice.antiperovskite.workflows.gap_models",
                                     description="Chapter 06's band-gap GNN against baselines, architecture by "
                                                 "cross-validation, learning curves (from the committed gaps).")
    parser.add_argument("--profile", default="full", choices=["quick", "full"], help="parameter profile")
    parser.add_argument("--save", type=writable_folder, default=None, help="folder to store the result set in")
    parser.add_argument("--freeze-labels", metavar="NAME", type=label_set_name, default=None,
                        help="write the carried gaps of the extended selection and of the MD frames as label set NAME "
                             f"({display_path(label_sets.LABEL_SETS)}) and stop")
    parser.add_argument("--pin-cells", action="store_true",
                        help="pin chapter 06's cells and the extended selection's as this machine builds them, if "
                             "they are the labelled ones, and stop")
    parser.add_argument("--retire-unbuilt-labels", action="store_true",
                        help="with --pin-cells: first move the carried gaps of extended cells this machine does not "
                             f"build into {display_path(RETIRED_LABELS)} (they are no longer used)")
    args = parser.parse_args(argv)
    if args.retire_unbuilt_labels and not args.pin_cells:
        parser.error("--retire-unbuilt-labels goes with --pin-cells")
    if args.pin_cells:
        try:
            pinned = pin_chapter06_cells(resolve("06_gap_models", args.profile)["cap_models"],
                                         retire_unbuilt=args.retire_unbuilt_labels)
        except ValueError as error:
            raise SystemExit(f"not pinned: {error}") from None
        print("\n".join(f"pinned {display_path(path)}" for path in pinned))
        return 0
    if args.freeze_labels:
        try:
            table = carried_label_set(resolve("06_gap_models", args.profile)["cap_models"])
        except ValueError as error:
            raise SystemExit(f"not frozen: {error}") from None
        path = label_sets.freeze_label_set(args.freeze_labels, table)
        counts = ", ".join(f"{n} {source} {stage}" for (source, stage), n in table.groupby(["source", "stage"]).size().items())
        print(f"{display_path(path)}: {counts}")
        return 0
    result = obtain_gap_models(resolve("06_gap_models", args.profile), progress=True)
    if args.save is not None:
        result.copy_to(args.save)
    print(f"{result.source}" + (f"; result set in {args.save}" if args.save else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
