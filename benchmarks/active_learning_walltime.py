"""Wall time of each active-learning stage, read from the progress logs of the loop.

``python -m softlattice.perovskite.workflows.potential`` prints a time-stamped line as each stage
starts (training the members, exploring, labelling the selected snapshots, generation done, final
models). A stage lasts until the next line of the same log; a stage a killed process left
unfinished is not counted (the next line is then a restart's first, or there is none), its
resumed part is. Logs are read in the order given::

    python benchmarks/active_learning_walltime.py runs/v2_al.log runs/v2_al_s5.log

Prints minutes per generation and stage, and the generation totals.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

LINE = re.compile(r"^\[(\d\d:\d\d:\d\d)\] (.*)$")
RESTART = re.compile(r"labelling \d+ initial structures")  # the first line of every run
STAGES = {r"generation (\d+): training": "training", r"generation (\d+): exploring": "exploration",
          r"generation (\d+): labelling": "labelling", r"final models": "final training"}


def stage_of(message: str) -> tuple[str, str] | None:
    """(generation, stage) a progress line starts, or None for other lines."""
    for pattern, stage in STAGES.items():
        match = re.match(pattern, message)
        if match:
            return (match.group(1) if match.groups() else "final", stage)
    return None


def stage_minutes(log: Path) -> list[dict]:
    """One row per finished stage of one log: ``generation``, ``stage``, ``minutes``."""
    stamped = [(datetime.strptime(m.group(1), "%H:%M:%S"), m.group(2))
               for m in map(LINE.match, log.read_text(errors="replace").splitlines()) if m]
    rows = []
    for (start, message), (end, following) in zip(stamped, stamped[1:]):
        stage = stage_of(message)
        if stage is not None and not RESTART.match(following):
            elapsed = (end - start) % timedelta(days=1)  # stamps carry no date
            rows.append(dict(generation=stage[0], stage=stage[1], minutes=elapsed.total_seconds() / 60))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path)
    args = parser.parse_args()
    rows = [row for log in args.logs for row in stage_minutes(log)]
    if not rows:
        raise SystemExit(f"no finished stage in {', '.join(map(str, args.logs))}")
    table = pd.DataFrame(rows).pivot_table(index="generation", columns="stage", values="minutes", aggfunc="sum")
    table["total"] = table.sum(axis=1)
    print("active-learning wall time (minutes; finished stages only):")
    print(table.round(1).to_string())


if __name__ == "__main__":
    main()
