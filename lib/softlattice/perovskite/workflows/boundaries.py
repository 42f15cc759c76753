"""Where each composition's cubic phase begins, for the runs that must start above it (chapter
04's damping map, chapter 05's band-edge snapshots): from chapter 02's slow end-member ramps.

Units: K.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from softlattice.infra.paths import DATA_DIR
from softlattice.infra.profiles import resolve
from softlattice.perovskite.workflows.phase_diagram import (
    cubic_boundary,
    obtain_sweep,
    profile_window_ps,
    reclassify_sweep,
)


class NoCubicPhase(ValueError):
    """A protocol that must run in the cubic phase finds none: a composition whose heating ramps
    never reach it against an untilted reference, or whose boundary leaves no room below the top
    temperature."""


def end_member_boundaries(transitions: pd.DataFrame, fa_fractions: Sequence[float]) -> dict[float, float]:
    """Cubic boundary (K) at each of ``fa_fractions``: the mean over replicas of where the heating
    ramps of the two end members enter the cubic phase (the upper edge of their hysteresis, so a
    run above it is in the cubic phase on either branch), linear in x between them.

    ``transitions`` are the (reclassified) transitions of the end-member ramps."""
    heating = cubic_boundary(transitions)
    heating = heating[heating.kind == "heating"].groupby("fa_fraction").temperature_K.mean()
    missing = [x for x in (0.0, 1.0) if x not in heating.index]
    if missing:
        listed = " and ".join(f"{x:g}" for x in missing)
        raise NoCubicPhase(f"no heating ramp of x = {listed} reaches the cubic phase against an untilted reference "
                           "(the end-member ramps): no cubic boundary to start above")
    return {float(x): float(np.interp(x, [0.0, 1.0], [heating[0.0], heating[1.0]])) for x in fa_fractions}


def crossings_text(boundary: pd.DataFrame, fa_fractions: Sequence[float], tilted_tops: pd.Series,
                   temperature_low: float, temperature_high: float) -> str:
    """Where the end-member ramps cross the cubic boundary, one clause per composition: the crossing
    temperature of each ramp (``boundary``: :func:`cubic_boundary` rows), a heating ramp still tilted
    at ``temperature_high`` or a cooling ramp still cubic at ``temperature_low`` (K) where it does not
    cross, and the reference's tilt where the top temperature is not untilted (``tilted_tops``:
    x -> tilt; no boundary is read there)."""
    clauses = []
    for x in fa_fractions:
        if x in tilted_tops.index:
            clauses.append(f"x = {x:g}: still tilted at the top, {temperature_high:g} K ({tilted_tops[x]})")
            continue
        ramps = []
        for kind in ("heating", "cooling"):
            crossed = boundary[(boundary.fa_fraction == x) & (boundary.kind == kind)].temperature_K
            if len(crossed):
                ramps.append(f"{kind} {crossed.mean():.0f} K")
            elif kind == "heating":
                ramps.append(f"heating still tilted at {temperature_high:g} K")
            else:
                ramps.append(f"cooling still cubic at {temperature_low:g} K")
        clauses.append(f"x = {x:g}: " + ", ".join(ramps))
    return "; ".join(clauses)


def cubic_boundaries(settings: dict, model: str | Path) -> dict[float, float] | None:
    """The cubic boundaries (x -> K) at the ``fa_fractions`` of a profile: those its
    ``boundary_source`` gives (a mapping), or for 'end_members' :func:`end_member_boundaries` of
    chapter 02's end-member ramps of the same profile for ``model`` (reclassified with one M/R
    threshold in 1 ps windows); None while those ramps are neither committed nor cached."""
    source = settings["boundary_source"]
    if isinstance(source, dict):
        return {float(x): float(t) for x, t in source.items()}
    if source != "end_members":
        raise ValueError(f"boundary source {source!r} must be 'end_members' or a mapping x -> K")
    ramps = resolve("02_end_members", settings.get("profile", "full"))
    sweep = obtain_sweep(ramps, model, curated=DATA_DIR / "end_member_ramps" / Path(model).parent.name, compute=False)
    if sweep is None:
        return None
    _, transitions = reclassify_sweep(sweep.folder, profile_window_ps(ramps), float(ramps["n_sigma"]), rule="equal")
    return end_member_boundaries(transitions, settings["fa_fractions"])
