"""The transcribed experimental transitions as chapter 02 reads them."""

import pandas as pd

from softlattice.perovskite.experiments import (
    experimental_mpb_text,
    experimental_phase_at,
    experimental_transition_text,
    load_experiments,
)


def test_the_phase_at_a_temperature_lies_between_the_transitions_around_it():
    experiments = load_experiments()
    assert experimental_phase_at(experiments, 0.0, 250.0) == "a0a0c-"  # between 162 and 327 K
    assert experimental_phase_at(experiments, 0.0, 100.0) == "a-a-c+"
    assert experimental_phase_at(experiments, 0.0, 400.0) == "a0a0a0"
    assert experimental_phase_at(experiments, 1.0, 250.0) == "a0a0c+"
    assert experimental_phase_at(experiments, 0.5, 250.0) is None  # only ranges are transcribed there


def test_transitions_and_the_mpb_in_words():
    experiments = load_experiments()
    assert experimental_transition_text(experiments, 0.0, "a0a0a0") == "327 K (Poglitsch and Weber 1987)"
    assert experimental_transition_text(experiments, 0.0, "a0a0c-", from_phase="a-a-c+").startswith("162 K")
    assert experimental_transition_text(experiments, 0.5, "a0a0a0") == "not transcribed"
    assert experimental_mpb_text(experiments).startswith("x = 0.2-0.3 (Francisco-Lopez")
    ranged = pd.DataFrame(dict(source=["S"], fa_fraction_low=[1.0], fa_fraction_high=[1.0], temperature_low_K=[130.0],
                               temperature_high_K=[200.0], from_phase=["low-T"], to_phase=["a0a0c+"]))
    assert experimental_transition_text(ranged, 1.0, "a0a0c+") == "130-200 K (S)"
    assert experimental_mpb_text(ranged) == "not transcribed"
