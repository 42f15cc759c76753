"""The JupyterHub/Binder environment is the tested one: environment.yml pins only Python and torch,
both as the Makefile and pyproject.toml do; binder/ installs the package from pyproject.toml and GPAW
at the Makefile's version with the Makefile's apt packages."""

import re
import tomllib

import yaml

from softlattice.infra.paths import REPO_ROOT

MAKEFILE = (REPO_ROOT / "Makefile").read_text()


def make_variable(name: str) -> str:
    return re.search(rf"^{name} \?= (\S+)", MAKEFILE, re.M).group(1)


def test_environment_pins_python_and_torch_as_the_tested_install():
    environment = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    python = next(d for d in conda if d.startswith("python="))
    minimum = re.search(r">=(\d+\.\d+)", project["requires-python"]).group(1)
    assert python == f"python={minimum}" and re.search(r"python3\.11", MAKEFILE)
    assert sorted(conda) == ["pip", python], "pin packages in pyproject.toml, not in environment.yml"
    packages = [p for p in pip if not p.startswith("-")]
    assert packages == [f"torch=={make_variable('TORCH_VERSION')}"]


def test_binder_installs_pyproject_and_the_makefiles_gpaw():
    post_build = (REPO_ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-cache-dir -e '.[test]'" in post_build
    assert f"gpaw=={make_variable('GPAW_VERSION')}" in post_build and "gpaw_siteconfig.py" in post_build
    apt = (REPO_ROOT / "binder" / "apt.txt").read_text().split()
    apt_in_make = re.search(r"apt-get install -y -qq \\\s*\n\s*([^>]+)>", MAKEFILE).group(1).split()
    assert sorted(apt) == sorted(apt_in_make)
