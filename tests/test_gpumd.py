"""GPUMD backend inputs (GPUMD itself cannot run on this machine)."""

import numpy as np
import pytest
from calorine.gpumd import read_runfile, read_xyz

from softlattice.md.engine import MDSettings
from softlattice.md.gpumd import gpumd_executable, run_gpumd, write_gpumd_inputs
from softlattice.md.protocols import ramp
from softlattice.perovskite.structures import build_perovskite


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "source" / "nep.txt"
    path.parent.mkdir()
    path.write_text("nep4 3 Cs Pb I\ncutoff 6 5\n")
    return path


def test_inputs_follow_the_protocol(tmp_path, model):
    atoms = build_perovskite("Cs", (4, 4, 4), glazer="a-a-c+", tilt_angle=8.0)
    segments = ramp(100, 200, 10.0, segment_K=50)
    settings = MDSettings(timestep_fs=2.0, sample_interval=20, thermostat_fs=100, barostat_fs=1000)
    folder = write_gpumd_inputs(atoms, model, segments, settings, tmp_path / "run")
    commands = read_runfile(folder / "run.in")
    keywords = [k for k, _ in commands]
    assert keywords[:3] == ["potential", "velocity", "time_step"]
    ensembles = [v for k, v in commands if k == "ensemble"]
    runs = [v for k, v in commands if k == "run"]
    assert len(ensembles) == len(segments) == 2
    first = ensembles[0]
    assert first[0] == "npt_scr" and float(first[1]) == 100 and float(first[2]) == 150
    assert float(first[3]) == 50  # 100 fs in 2 fs steps
    assert float(first[-1]) == 500  # 1000 fs in 2 fs steps
    assert len(first) == 1 + 3 + 12 + 1  # triclinic: 6 pressures, 6 elastic constants
    assert [int(r) for r in runs] == [2500, 2500]  # 5 ps each at 2 fs
    structure = read_xyz(str(folder / "model.xyz"))
    assert len(structure) == len(atoms)
    np.testing.assert_allclose(structure.cell.array, atoms.cell.array)
    assert (folder / "nep.txt").exists()


def test_nvt_and_bad_inputs(tmp_path, model):
    atoms = build_perovskite("Cs", (2, 2, 2))
    folder = write_gpumd_inputs(atoms, model, ramp(300, 400, 50.0), MDSettings(ensemble="nvt"),
                                tmp_path / "nvt")
    assert any(k == "ensemble" and v[0] == "nvt_lan" for k, v in read_runfile(folder / "run.in"))
    with pytest.raises(ValueError, match="heavy hydrogen"):
        write_gpumd_inputs(atoms, model, ramp(300, 400, 50.0), MDSettings(hydrogen_mass=4.0),
                           tmp_path / "h")
    with pytest.raises(ValueError, match=r"structure contains \['C', 'H', 'N'\]"):
        write_gpumd_inputs(build_perovskite("MA", 1), model, ramp(300, 400, 50.0), MDSettings(),
                           tmp_path / "ma")


@pytest.mark.skipif(gpumd_executable() is not None, reason="GPUMD is installed here")
def test_missing_gpumd_is_a_clear_error(tmp_path, model):
    with pytest.raises(RuntimeError, match="GPUMD is not installed"):
        run_gpumd(build_perovskite("Cs", 2), model, ramp(300, 400, 50.0), MDSettings(), tmp_path)
