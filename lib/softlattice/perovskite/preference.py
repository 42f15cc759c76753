"""Whose preference is it? The energy change of a coexistence cell seen by the student and its teacher.

The coexistence runs of NEP v2 grow one tilt from a cell built half a0a0c-, half a0a0c+. Whether
that preference is the teacher's or an error of the student is a question about energies along the
student's own path: frames sampled at the start of a run ('built', both halves still there) and at
its end ('grown'), each evaluated by the student and by the teacher. If the student's energy change
matches the teacher's on the same frames, the student reproduces its teacher's landscape where the
transformation happens; if not, the preference is (at least in part) the student's.

Units: energies per atom; the table in eV, the summary in meV.

Decision rules, fixed before any measurement:

* a model *prefers the grown state* when its mean energy change (grown minus built) is below minus
  two standard errors, *the built state* when above plus two, else *no preference resolved*;
* the student *reproduces* the teacher when the difference of their changes lies within two
  standard errors of the per-frame differences (student minus teacher on the same frame).

The standard errors treat frames as independent; the frames are spaced by at least the tilt
correlation time (about 1 ps), so this holds roughly, not exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STATES = ("built", "grown")
"""'built': the coexistence cell early in its run (both halves present); 'grown': the end of the run."""
REQUIRED = ("fa_fraction", "state", "e_student_eV", "e_teacher_eV")
N_SIGMA = 2.0


def _change(grown: np.ndarray, built: np.ndarray) -> tuple[float, float]:
    """Mean of ``grown`` minus mean of ``built`` and its standard error (Welch), in the units given."""
    if len(grown) < 2 or len(built) < 2:
        raise ValueError(f"need at least two frames of each state, got {len(built)} built and {len(grown)} grown")
    change = float(np.mean(grown) - np.mean(built))
    error = float(np.sqrt(np.var(grown, ddof=1) / len(grown) + np.var(built, ddof=1) / len(built)))
    return change, error


def _preference(change: float, error: float) -> str:
    if change < -N_SIGMA * error:
        return "grown"
    if change > N_SIGMA * error:
        return "built"
    return "unresolved"


def energy_preference(frames: pd.DataFrame) -> pd.DataFrame:
    """Per composition, the energy change (grown minus built, meV/atom) of student and teacher.

    Parameters
    ----------
    frames
        One row per frame: ``fa_fraction``, ``state`` (one of :data:`STATES`), ``e_student_eV`` and
        ``e_teacher_eV`` (potential energy per atom, eV).

    Returns
    -------
    One row per composition: ``de_student_meV``, ``se_student_meV``, ``de_teacher_meV``,
    ``se_teacher_meV``, ``student_minus_teacher_meV`` and its ``se_difference_meV``, the frame counts,
    ``student_prefers``/``teacher_prefers`` ('grown', 'built' or 'unresolved') and ``reproduces``
    (the student's change within two standard errors of the teacher's).

    Raises
    ------
    ValueError
        If a column is missing, a state is not one of :data:`STATES`, or a composition has fewer than
        two frames of a state.
    """
    missing = [column for column in REQUIRED if column not in frames]
    if missing:
        raise ValueError(f"frame table lacks the columns {missing}; needed: {', '.join(REQUIRED)}")
    unknown = sorted(set(frames["state"]) - set(STATES))
    if unknown:
        raise ValueError(f"unknown states {unknown}; allowed: {', '.join(STATES)}")
    rows = []
    for x, group in frames.groupby("fa_fraction", sort=True):
        built, grown = (group[group.state == state] for state in STATES)
        student = _change(1e3 * grown.e_student_eV.to_numpy(), 1e3 * built.e_student_eV.to_numpy())
        teacher = _change(1e3 * grown.e_teacher_eV.to_numpy(), 1e3 * built.e_teacher_eV.to_numpy())
        difference = _change(1e3 * (grown.e_student_eV - grown.e_teacher_eV).to_numpy(),
                             1e3 * (built.e_student_eV - built.e_teacher_eV).to_numpy())
        rows.append(dict(fa_fraction=float(x), n_built=len(built), n_grown=len(grown),
                         de_student_meV=student[0], se_student_meV=student[1],
                         de_teacher_meV=teacher[0], se_teacher_meV=teacher[1],
                         student_minus_teacher_meV=difference[0], se_difference_meV=difference[1],
                         student_prefers=_preference(*student), teacher_prefers=_preference(*teacher),
                         reproduces=bool(abs(difference[0]) <= N_SIGMA * difference[1])))
    return pd.DataFrame(rows)


def preference_text(row: pd.Series | dict, grown_phase: str) -> str:
    """One sentence on a row of :func:`energy_preference`; ``grown_phase`` names what the run grew."""
    def change(name: str) -> str:
        return f"{row[f'de_{name}_meV']:+.2f} ± {row[f'se_{name}_meV']:.2f} meV/atom"

    said = {"grown": f"lower in the grown {grown_phase} state", "built": "lower in the built half-and-half state",
            "unresolved": "not resolved"}
    agreement = ("the student reproduces its teacher's change" if row["reproduces"] else
                 "the student does not reproduce its teacher's change")
    return (f"x = {row['fa_fraction']:g}: energy change from built to grown {change('student')} for the student, "
            f"{change('teacher')} for the teacher (teacher: {said[row['teacher_prefers']]}); {agreement} "
            f"(difference {row['student_minus_teacher_meV']:+.2f} ± {row['se_difference_meV']:.2f} meV/atom).")


def _compositions(rows: pd.DataFrame) -> str:
    return ", ".join(f"{x:g}" for x in rows.fa_fraction)


def preference_verdict(table: pd.DataFrame) -> str:
    """What the rows of :func:`energy_preference` say together about the origin of the grown tilt: the
    teacher's (it prefers the grown state and the student reproduces it everywhere), the student's (the
    student prefers it where the teacher does not, or does not reproduce the teacher), or not resolved."""
    compositions = _compositions(table)
    teacher_grown = (table.teacher_prefers == "grown").all()
    if teacher_grown and table.reproduces.all():
        return (f"at x = {compositions} the teacher's energy drops from the built to the grown state as the student's "
                "does: the preference is the teacher's, not a fitting error of the student")
    if (~table.reproduces).any():
        off = table[~table.reproduces]
        student_grown = off.student_prefers == "grown"
        invented = off[student_grown & (off.teacher_prefers != "grown")]
        exaggerated = off[student_grown & (off.teacher_prefers == "grown") & (off.student_minus_teacher_meV < 0)]
        other = off.drop(index=invented.index.union(exaggerated.index))
        parts = []
        if len(invented):
            parts.append(f"at x = {_compositions(invented)} the student's energy drops from the built to the grown "
                         "state while its teacher's does not drop beyond two standard errors")
        if len(exaggerated):
            parts.append(f"at x = {_compositions(exaggerated)} both prefer the grown state, the student by more "
                         "than its teacher")
        if len(other):
            parts.append(f"at x = {_compositions(other)} the student's energy change differs from its teacher's by "
                         "more than two standard errors")
        verdict = "; ".join(parts)
        if other.empty:
            return (verdict + ", and the two differ by more than two standard errors: the student over-stabilises "
                    "the grown state, a fitting error its teacher does not share (potential energies only; the "
                    "teacher's free energy is not measured)")
        return verdict + ": the student's preference is not (only) the teacher's"
    return (f"at x = {compositions} the student reproduces its teacher's energy change, but the teacher's preference "
            "for the grown state is not resolved at every composition")
