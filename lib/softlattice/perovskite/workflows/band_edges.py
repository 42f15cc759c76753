"""Band-edge fluctuations vs composition: NEP MD snapshots, DFT band edges, statistics.

Units: eV, Å, K, ps.

The seed runs NEP MD at 330 K with fixed cell shape and volume, takes 20 snapshots per composition
and computes the VBM and CBM at the Gamma point of 768-atom cells; the standard deviation of each
edge across snapshots measures how strongly the lattice dynamics modulate it. Here the cells have
96 atoms (compositions in steps of 1/8), and each composition is sampled with several independent
A-site arrangements so that the spread is not one arrangement's. Snapshots are spaced further
apart than the decorrelation time of the tilt modes (:func:`decorrelation_time`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from tqdm import tqdm  # the plain bar: tqdm.auto warns in kernels without ipywidgets

from softlattice.electronic.band_edges import BandEdgeCache, SCFNotConverged, cached_band_edges
from softlattice.infra.cli import writable_folder
from softlattice.infra.keys import file_hash, json_key
from softlattice.infra.paths import DATA_DIR, RUNS_DIR
from softlattice.infra.profiles import resolve
from softlattice.infra.resultsets import ResultSet, display_path, obtain
from softlattice.infra.shares import parse_share
from softlattice.md.calculators import nep_calculator
from softlattice.md.engine import MDSettings, run_md
from softlattice.md.protocols import hold
from softlattice.perovskite.modes import tilt_observers
from softlattice.perovskite.structures import build_mixed_perovskite
from softlattice.perovskite.workflows.boundaries import cubic_boundaries


def representable(fa_fraction: float, repeat: int | Sequence[int] = 2, tolerance: float = 1e-6) -> bool:
    """True when ``fa_fraction`` is a whole number of FA cations in a cell of ``repeat`` pseudo-cubic
    cells (one number for a cube, or three)."""
    sites = int(np.prod(np.broadcast_to(repeat, 3)))
    return abs(fa_fraction * sites - round(fa_fraction * sites)) < tolerance


def md_snapshots(model: str | Path, fa_fraction: float, arrangement: int, snapshots: int, interval_ps: float,
                 equilibration_ps: float = 5.0, temperature: float = 330.0, repeat: int | Sequence[int] = 2,
                 timestep_fs: float = 0.5, checkpoint_dir: str | Path | None = None,
                 min_spacing_correlations: float | None = None) -> tuple[list[Atoms], pd.DataFrame]:
    """Snapshots of NVT MD with fixed cell shape and volume (the seed's protocol).

    The cell is first relaxed to the model's average volume by ``equilibration_ps`` of NPT with a
    fully flexible cell at the same temperature; the NVT run then keeps that cell. With
    ``min_spacing_correlations``, the tilt correlation time is measured on the second half of the
    NPT run (:func:`decorrelation_time`) and a spacing ``interval_ps`` shorter than that many
    correlation times is refused before the NVT run, naming the shortest allowed spacing.

    Returns
    -------
    ``snapshots`` structures (info: ``fa_fraction``, ``arrangement``, ``time_ps``) and the NVT
    observations (tilt amplitudes every sample) for the decorrelation analysis.
    """

    if not 0 <= fa_fraction <= 1:
        raise ValueError(f"FA fraction {fa_fraction!r} is outside [0, 1]")
    if not representable(fa_fraction, repeat):
        sides = np.broadcast_to(repeat, 3)
        raise ValueError(f"FA fraction {fa_fraction!r} is not representable in a {'x'.join(map(str, sides))} cell: "
                         f"use a multiple of 1/{int(np.prod(sides))}")
    if snapshots < 1 or interval_ps <= 0:
        raise ValueError(f"need snapshots >= 1 and interval_ps > 0, got {snapshots!r}, {interval_ps!r}")
    atoms = build_mixed_perovskite(fa_fraction, repeat, seed=arrangement)
    calculator = nep_calculator(model, atoms=atoms)
    model_id = file_hash(model)
    folder = Path(checkpoint_dir) if checkpoint_dir else None
    sample = max(1, int(round(0.01 * 1000 / timestep_fs)))  # 10 fs between samples
    npt = run_md(atoms, calculator, hold(temperature, equilibration_ps),
                 MDSettings(ensemble="npt", timestep_fs=timestep_fs, sample_interval=sample, seed=arrangement),
                 checkpoint_dir=folder / "npt" if folder else None, model_id=model_id,
                 observers=tilt_observers(atoms))
    if min_spacing_correlations is not None:
        check_spacing(interval_ps, decorrelation_time(npt.observations.iloc[len(npt.observations) // 2:]),
                      min_spacing_correlations)
    start = npt.final_atoms
    collected: list[Atoms] = []
    every = max(1, int(round(interval_ps * 1000 / timestep_fs / sample)))
    # one segment per snapshot: with a checkpoint folder the snapshots are the stored segment ends,
    # so a resumed (or finished) run returns them too
    nvt = run_md(start, calculator, hold(temperature, snapshots * interval_ps, segment_ps=interval_ps),
                 MDSettings(ensemble="nvt", timestep_fs=timestep_fs, sample_interval=sample, seed=arrangement + 1),
                 checkpoint_dir=folder / "nvt" if folder else None, model_id=model_id,
                 snapshots=None if folder else collected, snapshot_every=every, keep_segment_ends=folder is not None,
                 observers=tilt_observers(start))
    if folder is not None:
        from softlattice.md.engine import read_segment_ends
        collected = read_segment_ends(folder / "nvt" / "segment_ends.extxyz")
    for atoms_k in collected:
        atoms_k.info.update(fa_fraction=float(fa_fraction), arrangement=int(arrangement), n_atoms=len(atoms_k))
    return collected[-snapshots:], nvt.observations


def check_spacing(interval_ps: float, correlation_ps: float, factor: float = 2.0) -> None:
    """Refuse snapshots spaced by less than ``factor`` correlation times (both in ps)."""
    if interval_ps < factor * correlation_ps:
        raise ValueError(f"snapshot spacing {interval_ps:g} ps is shorter than {factor:g} tilt correlation times "
                         f"({correlation_ps:.2f} ps each, measured): use interval_ps >= "
                         f"{factor * correlation_ps:.2f}")


def decorrelation_time(observations: pd.DataFrame, columns: Sequence[str] = ("Q_M_x", "Q_M_y", "Q_M_z", "Q_R_x",
                                                                              "Q_R_y", "Q_R_z")) -> float:
    """Longest time (ps) at which the ACF of a tilt-mode amplitude first falls below 1/e."""
    from dynasor.tools.acfs import compute_acf
    timestep = float(np.median(np.diff(observations.time_ps)))
    times = []
    for column in columns:
        lags, acf = compute_acf(observations[column].to_numpy() - observations[column].mean(), delta_t=timestep)
        below = np.flatnonzero(acf < np.exp(-1))
        times.append(lags[below[0]] if below.size else np.inf)
    return float(max(times))


def edge_statistics(edges: pd.DataFrame, bootstrap: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Standard deviation of the VBM and CBM and the mean gap per composition, with bootstrap
    standard errors (resampling snapshots within each composition).

    Parameters
    ----------
    edges
        One row per snapshot: ``fa_fraction``, ``vbm``, ``cbm``, ``gap`` (eV, common reference).

    Returns
    -------
    Columns ``fa_fraction``, ``snapshots``, ``vbm_std``, ``vbm_std_error``, ``cbm_std``,
    ``cbm_std_error``, ``gap_mean``, ``gap_std`` (eV). A composition with a single snapshot has no
    spread: its standard deviations and their errors are NaN.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for x, group in edges.groupby("fa_fraction"):
        row = dict(fa_fraction=float(x), snapshots=len(group), gap_mean=group.gap.mean(), gap_std=group.gap.std(ddof=1))
        for edge in ("vbm", "cbm"):
            values = group[edge].to_numpy()
            if len(values) < 2:
                row[f"{edge}_std"] = row[f"{edge}_std_error"] = np.nan
                continue
            resampled = [values[rng.integers(0, len(values), len(values))].std(ddof=1) for _ in range(bootstrap)]
            row[f"{edge}_std"] = float(values.std(ddof=1))
            row[f"{edge}_std_error"] = float(np.std(resampled))
        rows.append(row)
    return pd.DataFrame(rows)


def spreads_by_cell(edge_sets: Sequence[pd.DataFrame], fa_fraction: float) -> pd.DataFrame:
    """The VBM and Pb-p CBM spreads at ``fa_fraction`` in each set of band edges (one per cell size,
    rows as :func:`compute_band_edges` writes them, with ``n_atoms`` and ``cbm_pb_p``; a set without
    ``n_atoms``, computed before snapshots recorded it, is of the default 96-atom cell).

    Returns
    -------
    One row per set: ``n_atoms``, ``snapshots``, ``vbm_std``, ``vbm_std_error``, ``cbm_pb_p_std``,
    ``cbm_pb_p_std_error`` (eV; bootstrap errors of :func:`edge_statistics`), and ``ratio_to_first``:
    the VBM spread over the first set's (1/sqrt(N) averaging of independent local fluctuations would
    make it sqrt(N_first / N)).
    """
    rows = []
    for edges in edge_sets:
        chosen = edges[np.isclose(edges.fa_fraction, fa_fraction)]
        if chosen.empty:
            raise ValueError(f"no band edges at x = {fa_fraction:g}; compositions: "
                             f"{sorted(set(edges.fa_fraction))}")
        sizes = set(chosen.n_atoms) if "n_atoms" in chosen else {96}
        if len(sizes) != 1:
            raise ValueError(f"a set of band edges mixes cells of {sorted(sizes)} atoms")
        vbm = edge_statistics(chosen).iloc[0]
        framework = chosen.dropna(subset=["cbm_pb_p"])
        cbm = edge_statistics(framework.assign(cbm=framework.cbm_pb_p)).iloc[0] if len(framework) else None
        rows.append(dict(n_atoms=int(sizes.pop()), snapshots=int(vbm.snapshots), vbm_std=vbm.vbm_std,
                         vbm_std_error=vbm.vbm_std_error,
                         cbm_pb_p_std=np.nan if cbm is None else cbm.cbm_std,
                         cbm_pb_p_std_error=np.nan if cbm is None else cbm.cbm_std_error))
    table = pd.DataFrame(rows)
    return table.assign(ratio_to_first=table.vbm_std / table.vbm_std.iloc[0],
                        independent_ratio=np.sqrt(table.n_atoms.iloc[0] / table.n_atoms))


def spread_peak(edges: pd.DataFrame, edge: str, bootstrap: int = 2000, confidence: float = 0.95,
                cluster: str | None = None, seed: int = 0) -> dict[str, float | bool | str]:
    """Whether the snapshot-to-snapshot spread (standard deviation) of a band edge has a maximum
    inside the composition range.

    Every composition's snapshots are resampled (or, with ``cluster``, whole groups of them, e.g.
    arrangements, since snapshots of one arrangement are correlated) and in each resample the
    composition of the largest spread and the peak height, the largest spread minus the larger of
    the two end members' spreads, are recorded.

    Returns
    -------
    ``argmax`` (composition of the largest spread in the data), ``argmax_low``/``argmax_high``
    (the central ``confidence`` interval of the resampled arg-max), ``height``,
    ``height_low``/``height_high`` (eV) and ``resolved``: True when the arg-max lies strictly
    inside the range and the lower end of the height interval is above zero; ``reason`` says why
    not otherwise.
    """
    if edge not in edges:
        raise ValueError(f"no column {edge!r} in the band-edge table; columns: {list(edges.columns)}")
    groups = {float(x): g for x, g in edges.groupby("fa_fraction")}
    xs = np.array(sorted(groups))
    if len(xs) < 3:
        raise ValueError(f"a maximum inside the range needs at least 3 compositions, got {xs.tolist()}")
    ends = [xs[0], xs[-1]]

    def spreads(pick) -> np.ndarray:
        return np.array([pick(groups[x]).std(ddof=1) for x in xs])

    rng = np.random.default_rng(seed)

    def resample(group: pd.DataFrame) -> np.ndarray:
        if cluster is None:
            values = group[edge].to_numpy()
            return values[rng.integers(0, len(values), len(values))]
        clusters = [c[edge].to_numpy() for _, c in group.groupby(cluster)]
        return np.concatenate([clusters[k] for k in rng.integers(0, len(clusters), len(clusters))])

    observed = spreads(lambda g: g[edge].to_numpy())
    height = float(observed.max() - max(observed[0], observed[-1]))
    draws = np.array([spreads(resample) for _ in range(bootstrap)])
    argmaxes = xs[np.argmax(draws, axis=1)]
    heights = draws.max(axis=1) - np.maximum(draws[:, 0], draws[:, -1])
    tail = 50 * (1 - confidence)
    argmax = float(xs[np.argmax(observed)])
    result = dict(argmax=argmax, argmax_low=float(np.percentile(argmaxes, tail)),
                  argmax_high=float(np.percentile(argmaxes, 100 - tail)), height=height,
                  height_low=float(np.percentile(heights, tail)), height_high=float(np.percentile(heights, 100 - tail)))
    if argmax in ends:
        reason = f"the largest spread is at an end member (x = {argmax:g})"
    elif result["height_low"] <= 0:
        reason = (f"the peak at x = {argmax:g} stands {1000 * height:.0f} meV above the end members, but its "
                  f"{100 * confidence:.0f} % interval reaches {1000 * result['height_low']:.0f} meV")
    else:
        reason = ""
    return dict(result, resolved=not reason, reason=reason)


EDGES_STORE = RUNS_DIR / "band_edges"
LABELS_CARRIED = DATA_DIR / "band_edges" / "labels"
"""Committed copy of the GPAW band-edge cache
(:meth:`softlattice.electronic.band_edges.BandEdgeCache.export_to`): the snapshots of a grid take
longer than a session, so each session carries the band edges it computed (``--carry-labels``) and
every run of the command restores them before it computes any."""


def compute_band_edges(snapshots: Sequence[Atoms], cache_dir: str | Path | None = None,
                       progress: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Band edges of every snapshot through the cache; a snapshot whose SCF fails twice is
    excluded and reported.

    Returns
    -------
    One row per converged snapshot (its info plus the :class:`softlattice.electronic.band_edges.BandEdges`
    fields, character left out) and the messages of the excluded ones.
    """

    cache = BandEdgeCache(folder=cache_dir or EDGES_STORE)
    rows, excluded = [], []
    for k, atoms in enumerate(tqdm(snapshots, desc="band edges", disable=not progress)):
        try:
            edges = cached_band_edges(atoms, cache)
        except SCFNotConverged as error:
            excluded.append(f"snapshot {k}: {error}")
            continue
        info = {key: value for key, value in atoms.info.items() if np.isscalar(value)}
        fields = {key: value for key, value in edges.__dict__.items() if key != "character"}
        rows.append(dict(info, **fields, vbm_character=max(edges.character.get("vbm", {"?": 1}),
                                                            key=edges.character.get("vbm", {"?": 1}).get),
                         cbm_character=max(edges.character.get("cbm", {"?": 1}),
                                           key=edges.character.get("cbm", {"?": 1}).get)))
    return pd.DataFrame(rows), excluded


def snapshot_set(model: str | Path, settings: dict, work: str | Path = RUNS_DIR / "fluctuations",
                 part: tuple[int, int] = (0, 1)) -> tuple[list[Atoms], pd.DataFrame]:
    """Every snapshot of a chapter-05 profile (``fa_fractions``, ``arrangements``, ``snapshots``,
    ``interval_ps``, ``equilibration_ps``, ``temperature``, ``timestep_fs``, and ``repeat`` where the
    cell is not the 96-atom 2x2x2 one), MD checkpointed under
    ``work``; and the decorrelation time of each run. ``part=(k, n)`` keeps every n-th MD run from
    the k-th, so n processes can share the work without touching each other's checkpoints.

    Returns
    -------
    The snapshots and a table with ``fa_fraction``, ``arrangement``, ``decorrelation_ps``,
    ``interval_ps``.
    """

    index, count = part
    if not 0 <= index < count:
        raise ValueError(f"part {index}/{count} is not one of 0/{count} .. {count - 1}/{count}")
    runs = [(x, arrangement) for x in settings["fa_fractions"] for arrangement in range(settings["arrangements"])]
    physics = {name: value for name, value in settings.items() if name != "profile"}
    snapshots, rows = [], []
    for x, arrangement in runs[index::count]:
        key = json_key([x, arrangement, physics, file_hash(model)], 12)
        taken, observations = md_snapshots(model, x, arrangement, settings["snapshots"], settings["interval_ps"],
                                           settings["equilibration_ps"], settings["temperature"],
                                           repeat=settings.get("repeat", 2),
                                           timestep_fs=settings["timestep_fs"], checkpoint_dir=Path(work) / key,
                                           min_spacing_correlations=settings.get("min_spacing_correlations"))
        snapshots += taken
        rows.append(dict(fa_fraction=x, arrangement=arrangement, decorrelation_ps=decorrelation_time(observations),
                         interval_ps=settings["interval_ps"]))
    return snapshots, pd.DataFrame(rows)


def protocol_temperature(boundaries: dict[float, float], margin_K: float = 20.0) -> float:
    """One temperature (K) at which every composition is cubic: ``margin_K`` above the highest of
    the cubic ``boundaries`` (x -> K)."""
    if not boundaries:
        raise ValueError("no cubic boundaries: the protocol temperature cannot be chosen")
    return float(max(boundaries.values()) + margin_K)


def cubic_protocol_settings(settings: dict, model: str | Path) -> dict | None:
    """A ``05_band_edges_cubic`` profile with its ``temperature`` resolved from the model's cubic
    boundaries (:func:`softlattice.perovskite.workflows.boundaries.cubic_boundaries`); None while
    those are unknown."""
    boundaries = cubic_boundaries(settings, model)
    if boundaries is None:
        return None
    return dict(settings, temperature=protocol_temperature(boundaries, settings["margin_K"]))


def obtain_band_edges(settings: dict, model: str | Path, curated: str | Path | None = None,
                      compute: bool = True) -> ResultSet | None:
    """Band edges of every snapshot of a chapter-05 profile (:func:`softlattice.infra.resultsets.obtain`,
    keyed by the settings and the model hash; MD, then GPAW per snapshot, cached, so an interrupted
    run loses at most the snapshot in progress).

    Returns
    -------
    A result set with tables ``edges`` (one row per converged snapshot) and ``decorrelation`` (per
    run), and ``excluded.json`` (the messages of excluded snapshots); None when ``compute`` is
    False and it is neither committed nor cached.
    """
    def run(folder: Path) -> None:
        snapshots, decorrelation = snapshot_set(model, settings)
        edges, excluded = compute_band_edges(snapshots)
        save_band_edges(folder, edges, decorrelation, excluded)

    physics = {k: v for k, v in settings.items() if k != "profile"}
    inputs = {"model_sha256_16": file_hash(model)}
    return obtain("band_edges", physics, inputs, run, committed=curated,
                  command="python -m softlattice.perovskite.workflows.band_edges", may_compute=compute)


def save_band_edges(folder: str | Path, edges: pd.DataFrame, decorrelation: pd.DataFrame, excluded: list[str]) -> None:
    """Write the chapter-05 tables into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    edges.to_csv(folder / "edges.csv", index=False)
    decorrelation.to_csv(folder / "decorrelation.csv", index=False)
    (folder / "excluded.json").write_text(json.dumps(excluded, indent=1))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m softlattice.perovskite.workflows.band_edges --model M --save DIR [--profile full]``: NEP snapshots and
    their GPAW band edges (hours; resumable per snapshot: rerun the same command), stored with
    provenance. Run two of these side by side with OMP_NUM_THREADS=1 and different --part."""
    parser = argparse.ArgumentParser(prog="python -m softlattice.perovskite.workflows.band_edges",
                                     description="Chapter 05: NEP MD snapshots and their GPAW band edges "
                                                 "(resumable per snapshot).")
    parser.add_argument("--model", type=Path, required=True, help="NEP model file (nep.txt)")
    parser.add_argument("--save", type=writable_folder, default=None, help="folder to store the result set in")
    parser.add_argument("--profile", default="full", choices=["quick", "full"], help="parameter profile")
    parser.add_argument("--protocol", default="fixed", choices=["fixed", "cubic", "size"],
                        help="'fixed': the profile's temperature (05_band_edges); 'cubic': 20 K above this model's "
                             "cubic boundary, 60 snapshots per composition (05_band_edges_cubic); 'size': the cubic "
                             "protocol's temperature in a larger cell at one composition (05_band_edges_size)")
    parser.add_argument("--part", type=parse_share, default=(0, 1), metavar="K/N",
                        help="run every N-th MD run (and its snapshots) from the K-th, for N processes side by "
                             "side; only a whole run (0/1) stores the result set")
    parser.add_argument("--carry-labels", action="store_true",
                        help=f"copy every cached band edge into {display_path(LABELS_CARRIED)} (to commit) and stop")
    args = parser.parse_args(argv)
    cache = BandEdgeCache(folder=EDGES_STORE)
    print(f"{cache.import_from(LABELS_CARRIED)} band edges restored from {display_path(LABELS_CARRIED)}")
    if args.carry_labels:
        print(f"{display_path(cache.carried_file(LABELS_CARRIED))}: {cache.export_to(LABELS_CARRIED)} band edges")
        return 0
    settings = resolve("05_band_edges", args.profile)
    if args.protocol in ("cubic", "size"):
        settings = cubic_protocol_settings(resolve(f"05_band_edges_{args.protocol}", args.profile), args.model)
        if settings is None:
            raise SystemExit("the end-member ramps of this model are neither committed nor cached: run "
                             "'python -m softlattice.perovskite.workflows.phase_diagram --sweep 02_end_members' first")
    if args.part != (0, 1):
        snapshots, _ = snapshot_set(args.model, settings, part=args.part)
        edges, excluded = compute_band_edges(snapshots, progress=True)
        print(f"share {args.part[0]}/{args.part[1]}: {len(edges)} snapshots with band edges, {len(excluded)} excluded")
        return 0
    result = obtain_band_edges(settings, args.model)
    if args.save is not None:
        result.copy_to(args.save)
    print(f"{result.source}: {len(result.table('edges'))} snapshots with band edges, "
          f"{len(result.json('excluded.json'))} excluded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
