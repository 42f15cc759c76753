"""Harmonic phonons of cubic MAPbI3 with the production NEP: the tilt instabilities at M and R."""

import pytest

from softlattice.analysis.phonons import band_structure, cubic_phonons, tilt_mode
from softlattice.infra.paths import DATA_DIR
from softlattice.perovskite.phonons import relaxed_cubic_cell

MODEL = DATA_DIR / "models" / "mafa-chgnet-r2scan" / "nep.txt"


@pytest.fixture(scope="module")
def cubic():
    cell = relaxed_cubic_cell(MODEL)
    return cell, cubic_phonons(cell, MODEL)


def test_cubic_cell_is_unstable_to_tilts_at_m_and_r_but_not_at_gamma(cubic):
    cell, phonon = cubic
    for q in ((0.5, 0.5, 0.0), (0.5, 0.5, 0.5)):
        frequency, share = tilt_mode(phonon, q, cell)
        assert frequency < 0 and share > 0.9
    # the acoustic sum rule: three modes at zero at Gamma
    from softlattice.analysis.phonons import _modes
    frequencies = sorted(abs(f) for f in _modes(phonon, [(0, 0, 0)])[0][0])
    assert max(frequencies[:3]) < 0.05


def test_band_path_is_continuous_and_complete(cubic):
    _, phonon = cubic
    bands = band_structure(phonon, points=5)
    assert bands.band.nunique() == 36 and list(dict.fromkeys(bands.segment)) == ["Γ-X", "X-M", "M-Γ", "Γ-R", "R-X"]
    assert bands.groupby("band").distance.apply(lambda d: (d.diff().dropna() >= 0).all()).all()


def test_odd_supercell_is_refused(cubic):
    cell, _ = cubic
    with pytest.raises(ValueError, match="supercell 3 must be even"):
        cubic_phonons(cell, MODEL, supercell=3)
