"""The student-teacher energy comparison of coexistence cells (softlattice.perovskite.preference)."""

import numpy as np
import pandas as pd
import pytest

from softlattice.perovskite.preference import energy_preference, preference_text, preference_verdict


def synthetic_frames(teacher_change_meV: float, student_change_meV: float, noise_meV: float = 0.3,
                     model_noise_meV: float = 0.05, frames: int = 8, seed: int = 0) -> pd.DataFrame:
    """Frames whose teacher energy drops by ``teacher_change_meV`` from built to grown, with thermal
    noise shared by both models and a small independent student error."""
    rng = np.random.default_rng(seed)
    rows = []
    for state, teacher_mean, student_mean in (("built", 0.0, 0.0), ("grown", teacher_change_meV, student_change_meV)):
        thermal = rng.normal(0.0, noise_meV, frames)
        teacher = -4.0 + 1e-3 * (teacher_mean + thermal)
        student = -4.1 + 1e-3 * (student_mean + thermal + rng.normal(0.0, model_noise_meV, frames))
        rows += [dict(fa_fraction=0.0, state=state, e_teacher_eV=t, e_student_eV=s) for t, s in zip(teacher, student)]
    return pd.DataFrame(rows)


def test_a_student_that_follows_its_teacher_is_told_from_one_that_invents_the_preference():
    follows = energy_preference(synthetic_frames(-2.0, -2.0)).iloc[0]
    assert follows.teacher_prefers == follows.student_prefers == "grown"
    assert follows.de_teacher_meV == pytest.approx(-2.0, abs=0.5)
    assert follows.reproduces
    invents = energy_preference(synthetic_frames(0.0, -2.0)).iloc[0]
    assert invents.student_prefers == "grown" and invents.teacher_prefers == "unresolved"
    assert not invents.reproduces
    # the shared thermal noise cancels in the difference: it is resolved far below the noise of either change
    assert invents.se_difference_meV < 0.2 * invents.se_teacher_meV
    assert "does not reproduce" in preference_text(invents, "in-phase")
    opposite = energy_preference(synthetic_frames(+2.0, -2.0)).iloc[0]
    assert opposite.teacher_prefers == "built" and not opposite.reproduces


def test_energy_preference_refuses_tables_it_cannot_judge():
    frames = synthetic_frames(-1.0, -1.0)
    with pytest.raises(ValueError, match="e_teacher_eV"):
        energy_preference(frames.drop(columns="e_teacher_eV"))
    with pytest.raises(ValueError, match="heated"):
        energy_preference(frames.assign(state="heated"))
    with pytest.raises(ValueError, match="at least two frames"):
        energy_preference(frames.drop(index=frames.index[frames.state == "grown"][1:]))


def test_the_verdict_names_the_teacher_only_when_it_prefers_the_grown_state_and_is_reproduced():
    follows = energy_preference(pd.concat([synthetic_frames(-2.0, -2.0), synthetic_frames(-1.5, -1.5, seed=1)
                                           .assign(fa_fraction=1.0)]))
    assert "the preference is the teacher's" in preference_verdict(follows)
    invents = energy_preference(pd.concat([synthetic_frames(-2.0, -2.0), synthetic_frames(0.0, -2.0, seed=1)
                                           .assign(fa_fraction=1.0)]))
    assert preference_verdict(invents).startswith("at x = 1 the student's energy drops")
    assert "a fitting error" in preference_verdict(invents)
    exaggerates = energy_preference(synthetic_frames(-2.0, -4.0))
    assert preference_verdict(exaggerates).startswith("at x = 0 both prefer the grown state, the student by more")
    assert "a fitting error its teacher does not share" in preference_verdict(exaggerates)
    both = energy_preference(pd.concat([synthetic_frames(-2.0, -4.0), synthetic_frames(0.0, -2.0, seed=1)
                                        .assign(fa_fraction=1.0)]))
    assert preference_verdict(both).startswith("at x = 1 the student's energy drops from the built to the grown "
                                               "state while its teacher's does not drop beyond two standard errors; "
                                               "at x = 0 both")
    opposite = energy_preference(synthetic_frames(-2.0, 0.0))  # the student misses its teacher's preference
    assert preference_verdict(opposite).startswith("at x = 0 the student's energy change differs")
    assert "not (only) the teacher's" in preference_verdict(opposite)
    flat = energy_preference(synthetic_frames(0.0, 0.0))
    assert "not resolved" in preference_verdict(flat)
