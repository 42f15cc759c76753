"""The teacher rule: qualifies only on measured criteria, picks the transverse slope closest to 1."""

import numpy as np
import pandas as pd

from softlattice.perovskite.teacher_criteria import (
    choose_teacher,
    criteria_table,
    lowest_phase_lattice,
    tilt_energy_difference,
)

EXPERIMENT = {0.0: 6.20}


def scales(candidate, yardstick, dft, dft_set="gpaw-lcao"):
    rows = [dict(candidate=candidate, reference_set="yardstick", **{f"slope_{k}": v for k, v in yardstick.items()})]
    if dft is not None:
        rows.append(dict(candidate=candidate, reference_set=dft_set, **{f"slope_{k}": v for k, v in dft.items()}))
    return rows


def relaxed(candidate, a_ma, a_fa=6.4, converged=True):
    rows = []
    for x, a in ((0.0, a_ma), (1.0, a_fa)):
        for glazer, energy, shift in (("a0a0c-", -0.02, 0.0), ("a0a0c+", -0.01, 0.05), ("a0a0a0", 0.0, 0.1)):
            rows.append(dict(candidate=candidate, fa_fraction=x, glazer=glazer, arrangement=0, converged=converged,
                             energy_eV_per_fu=energy, lattice_constant=a + shift))
    return rows


GOOD = dict(Pb=1.0, I_longitudinal=1.1, I_transverse=1.05)
SOFT = dict(Pb=2.0, I_longitudinal=2.4, I_transverse=2.1)


def test_only_a_candidate_that_meets_every_measured_criterion_is_chosen():
    table = pd.DataFrame(scales("soft", SOFT, SOFT) + scales("good", GOOD, GOOD)
                         + scales("better", GOOD, dict(GOOD, I_transverse=0.98), dft_set="gpaw-pw")
                         + scales("unmeasured", GOOD, None))
    phases = pd.DataFrame(relaxed("soft", 6.45) + relaxed("good", 6.25) + relaxed("better", 6.21)
                          + relaxed("unmeasured", 6.2))
    criteria = criteria_table(table, phases, EXPERIMENT).set_index("candidate")
    assert criteria.loc["soft", "pass_yardstick"] is False or not criteria.loc["soft", "pass_yardstick"]
    assert criteria.loc["better", "dft_set"] == "gpaw-pw"
    assert criteria.loc["good", "a_error_MAPbI3"] == np.float64(6.25 / 6.20 - 1)
    assert not criteria.loc["unmeasured", "qualifies"] and criteria.loc["unmeasured", "pass_dft"] is None
    chosen, reason = choose_teacher(criteria.reset_index())
    assert chosen == "better" and "0.98" in reason


def test_no_teacher_when_none_qualifies_and_the_reason_names_what_failed():
    table = pd.DataFrame(scales("soft", SOFT, SOFT) + scales("half", GOOD, None))
    phases = pd.DataFrame(relaxed("soft", 6.5) + relaxed("half", 6.2))
    chosen, reason = choose_teacher(criteria_table(table, phases, EXPERIMENT))
    assert chosen is None
    assert "soft fails yardstick, dft, lattice" in reason and "not yet measured in full: half" in reason


def test_lattice_comes_from_the_lowest_converged_phase_and_tilt_differences_pair_arrangements():
    phases = pd.DataFrame(relaxed("m", 6.2))
    lowest = lowest_phase_lattice(phases).set_index("fa_fraction")
    assert lowest.loc[0.0, "glazer"] == "a0a0c-" and lowest.loc[0.0, "lattice_constant"] == 6.2
    difference = tilt_energy_difference(phases).set_index("fa_fraction")
    assert difference.loc[0.0, "c_minus_minus_c_plus_meV"] == -10.0
    only_minus = phases[phases.glazer == "a0a0c-"]
    assert tilt_energy_difference(only_minus).empty
    unconverged = pd.DataFrame(relaxed("m", 6.2, converged=False))
    assert lowest_phase_lattice(unconverged).empty and tilt_energy_difference(unconverged).empty


def test_a_candidate_whose_relaxations_break_the_framework_fails_the_lattice_criterion():
    table = pd.DataFrame(scales("broken", GOOD, GOOD))
    phases = pd.DataFrame(relaxed("broken", 6.25, converged=False)).assign(framework_intact=False)
    row = criteria_table(table, phases, EXPERIMENT).set_index("candidate").loc["broken"]
    assert row.pass_lattice == False and not row.qualifies  # noqa: E712 (numpy bool)
    chosen, reason = choose_teacher(criteria_table(table, phases, EXPERIMENT))
    assert chosen is None and "broken fails lattice" in reason
    # merely unconverged but intact: not measured, not failed
    intact = phases.assign(framework_intact=True)
    assert criteria_table(table, intact, EXPERIMENT).set_index("candidate").loc["broken"].pass_lattice is None


def test_pressures_are_compared_on_the_same_cells_and_relaxations_say_what_broke():
    from softlattice.perovskite.workflows.teacher import pressure_comparison, relaxation_summary
    pressures = pd.DataFrame(dict(anchor=[0, 1, 2, 0], setting=["400", "400", "400", "600"],
                                  reference="r", fa_fraction=0.0, pressure_GPa=[-3.0, -1.0, -8.0, 1.0]))
    row = pressure_comparison(pressures, base="400").iloc[0]
    assert row.cells == 1 and row.base_mean_GPa == -3.0 and row.setting_mean_GPa == 1.0
    phases = pd.DataFrame(relaxed("m", 6.25)).assign(framework_intact=[True, True, True, False, True, True])
    text = relaxation_summary(phases, "m")
    assert "MAPbI3 a0a0c-: a = 6.250 Å, converged" in text and text.count("framework broke") == 1
    assert "not been relaxed" in relaxation_summary(phases, "other")


def test_tilt_energy_spread_is_max_minus_min_over_converged_arrangements():
    from softlattice.perovskite.teacher_criteria import tilt_energy_spread
    rows = [dict(candidate="m", fa_fraction=0.5, glazer="a0a0c-", arrangement=k, converged=c, energy_meV_per_fu=e)
            for k, (c, e) in enumerate([(True, -10.0), (True, -16.0), (False, -99.0), (True, -13.0)])]
    rows.append(dict(candidate="other", fa_fraction=0.5, glazer="a0a0c-", arrangement=0, converged=True,
                     energy_meV_per_fu=50.0))
    table = tilt_energy_spread(pd.DataFrame(rows), "m")
    assert len(table) == 1
    row = table.iloc[0]
    assert row.spread_meV_per_fu == 6.0 and row.arrangements == 3 and row.mean_meV_per_fu == -13.0
