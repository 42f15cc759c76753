"""Timestamped progress lines for long background commands (model building, checks)."""

from __future__ import annotations

import datetime as dt
from typing import Callable


def progress_printer(enabled: bool) -> Callable[[str], None]:
    """A function printing ``[HH:MM:SS] message`` (flushed, so ``nohup`` logs show it at once)
    when ``enabled``, and doing nothing otherwise."""
    def say(message: str) -> None:
        if enabled:
            print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)
    return say
