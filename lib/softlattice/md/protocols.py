"""Temperature protocols of an MD run: ramps and holds as segments.

Units: K, ps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

MAX_SEGMENT_PS = 1.0e4
"""Longest segment accepted, ps (10 ns: far beyond any checkpointed stretch of CPU MD; longer ones
come from a mistyped rate or duration)."""


@dataclass(frozen=True)
class Segment:
    """A stretch of a run at a linearly changing target temperature.

    Attributes
    ----------
    temperature_start, temperature_end
        Target temperature at the start and end, K.
    duration_ps
        Length, ps.
    """

    temperature_start: float
    temperature_end: float
    duration_ps: float

    def __post_init__(self) -> None:
        for name, value in (("start temperature", self.temperature_start), ("end temperature", self.temperature_end)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"segment {name} {value!r} K must be finite and > 0")
        if not (np.isfinite(self.duration_ps) and 0 < self.duration_ps <= MAX_SEGMENT_PS):
            raise ValueError(f"segment duration {float(self.duration_ps)!r} ps must lie in (0, {MAX_SEGMENT_PS:g}] ps "
                             "(a slower ramp rate or a longer hold than that is a typing error)")

    def temperature_at(self, fraction: float) -> float:
        return self.temperature_start + fraction * (self.temperature_end - self.temperature_start)


def ramp(temperature_start: float, temperature_end: float, rate_K_per_ps: float,
         segment_K: float = 25.0) -> list[Segment]:
    """Continuous heating or cooling ramp, split into checkpointed segments of ``segment_K``."""
    for name, value in (("start temperature", temperature_start), ("end temperature", temperature_end)):
        if not value > 0:
            raise ValueError(f"{name} {value!r} K must be > 0")
    if not (np.isfinite(rate_K_per_ps) and rate_K_per_ps > 0):
        raise ValueError(f"ramp rate {rate_K_per_ps!r} K/ps must be finite and > 0 (the sign follows from the "
                         "start and end temperatures)")
    if temperature_start == temperature_end:
        raise ValueError(f"ramp from {temperature_start} K to {temperature_end} K is empty; use hold()")
    if min(segment_K, abs(temperature_end - temperature_start)) / rate_K_per_ps > MAX_SEGMENT_PS:
        raise ValueError(f"ramp rate {rate_K_per_ps!r} K/ps makes segments longer than {MAX_SEGMENT_PS:g} ps: "
                         "a rate that slow is a typing error (rates are in K/ps)")
    n = max(1, int(np.ceil(abs(temperature_end - temperature_start) / segment_K)))
    edges = np.linspace(temperature_start, temperature_end, n + 1)
    return [Segment(float(a), float(b), abs(b - a) / rate_K_per_ps) for a, b in zip(edges[:-1], edges[1:])]


def stepwise(temperatures: Sequence[float], hold_ps: float) -> list[Segment]:
    """Stepwise protocol: hold each temperature for ``hold_ps``."""
    return [segment for t in temperatures for segment in hold(t, hold_ps, segment_ps=hold_ps)]


def hold(temperature: float, duration_ps: float, segment_ps: float = 5.0) -> list[Segment]:
    """Fixed-temperature run, split into checkpointed segments of at most ``segment_ps``."""
    if not temperature > 0:
        raise ValueError(f"temperature {temperature!r} K must be > 0")
    if not (np.isfinite(duration_ps) and duration_ps > 0):
        raise ValueError(f"duration {duration_ps!r} ps must be finite and > 0")
    if not (np.isfinite(segment_ps) and segment_ps > 0):
        raise ValueError(f"segment length {segment_ps!r} ps must be finite and > 0")
    n = max(1, int(np.ceil(duration_ps / segment_ps - 1e-9)))
    return [Segment(float(temperature), float(temperature), duration_ps / n)] * n
