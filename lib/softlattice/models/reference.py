"""Reference methods that label structures with energies, forces and stresses.

Units: eV, eV/Å, eV/Å^3 (ASE's stress convention).

The seed labelled its training set with VASP SCAN+rVV10, which cannot run here. The reference is
therefore a parameter: one of the named references below, all of which ship their weights or
data in registry packages, or any ASE calculator a user passes (a VASP user passes theirs) together
with a name that keys the label cache.

Named references
----------------
chgnet-r2scan        CHGNet transfer-learned to MP r2SCAN data (Deng et al. 2023): default
chgnet-0.3.0         CHGNet pretrained on MPtrj (PBE/PBE+U)
sevennet-mf0-r2scan  SevenNet-MF-0, r2SCAN modality
sevennet-0           SevenNet-0 (PBE)
gpaw-pbe             GPAW, LCAO dzp basis, PBE, Gamma point (slow; needs the GPAW install of chapter 05)
gpaw-pw-pbe          GPAW, plane waves (400 eV), PBE, Gamma point; gives stress (slower still)
gpaw-pw-pbe-k222     the same with a 2x2x2 k-point mesh
gpaw-pw-pbe-e600     gpaw-pw-pbe at a 600 eV cutoff (the basis-set convergence of the stress)
cp2k-scan-rvv10      CP2K, SCAN+rVV10 (the seed's functional), GTH-SCAN/DZVP-MOLOPT-SCAN, 600 Ry, Gamma
                     point, no stress (needs Debian's cp2k; :mod:`softlattice.models.cp2k`)
cp2k-pbe             CP2K, PBE, GTH-PBE/DZVP-MOLOPT-SR-GTH, same grids (the same code's PBE, for contrast)
sevennet-pw-ft       SevenNet-MF-0 fine-tuned on gpaw-pw-pbe labels (chapter 01's teacher step; the
                     committed checkpoint in data/reference/teacher/finetuned)
sevennet-pw-ft-ef    the same fine-tuned on energies and forces only (data/reference/teacher/finetuned-ef)
sevennet-pw-ft-ef-last  the same with only the last interaction block and the read-out trained
                     (data/reference/teacher/finetuned-ef-last)

Labels are cached on disk, one extxyz file per structure, keyed by a hash of the structure
(species, positions, cell) and the reference's cache name (:func:`cache_name`: the name, and for a
fine-tuned model also a hash of its checkpoint, so that a retrained model never reuses the labels of
the one before), and written atomically: a labelling run that
is interrupted keeps every finished label and resumes where it stopped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write
from ase.neighborlist import neighbor_list

from softlattice.infra.keys import file_hash, structure_hash
from softlattice.infra.paths import DATA_DIR, RUNS_DIR
from softlattice.models.cp2k import CP2KSettings, cp2k_calculator


def _chgnet(model_name: str) -> Callable[[], Calculator]:
    def make() -> Calculator:
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator
        return CHGNetCalculator(CHGNet.load(model_name=model_name, verbose=False, use_device="cpu"),
                                use_device="cpu")
    return make


def _sevennet(model: str, modal: str | None) -> Callable[[], Calculator]:
    def make() -> Calculator:
        from sevenn.calculator import SevenNetCalculator
        return SevenNetCalculator(model=model, modal=modal, device="cpu") if modal else \
            SevenNetCalculator(model=model, device="cpu")
    return make


GPAW_PARAMETERS: dict = dict(mode="lcao", basis="dzp", xc="PBE", kpts=(1, 1, 1), h=0.2)
"""GPAW settings of the 'gpaw-pbe' reference and of the band edges (LCAO, double-zeta polarised
basis, PBE, Gamma point only, real-space grid spacing 0.2 Å)."""


def gpaw_missing_message() -> str:
    return ("GPAW is not installed: run `make gpaw` (Debian/Ubuntu: installs libxc-dev and "
            "libopenblas-dev with apt as root, then pip install gpaw with lib/gpaw_siteconfig.py), "
            "or `conda install -c conda-forge gpaw`")


GPAW_PW_PARAMETERS: dict = dict(xc="PBE", kpts=(1, 1, 1), convergence={"energy": 1e-5, "density": 1e-5})
"""GPAW plane-wave settings of the 'gpaw-pw-pbe' references (cut-off :data:`GPAW_PW_CUTOFF_EV`);
they give stress, which LCAO does not, and no basis-set superposition error."""
GPAW_PW_CUTOFF_EV = 400.0


def _gpaw_pbe() -> Calculator:
    try:
        from gpaw import GPAW
    except ImportError as error:
        raise RuntimeError(gpaw_missing_message()) from error
    return GPAW(**GPAW_PARAMETERS, txt=None)


def _gpaw_pw_pbe(kpts: tuple[int, int, int], cutoff_eV: float = GPAW_PW_CUTOFF_EV) -> Callable[[], Calculator]:
    def make() -> Calculator:
        try:
            from gpaw import GPAW, PW
        except ImportError as error:
            raise RuntimeError(gpaw_missing_message()) from error
        return GPAW(mode=PW(cutoff_eV), **(GPAW_PW_PARAMETERS | {"kpts": kpts}), txt=None)
    return make


FINETUNED_DIR = DATA_DIR / "reference" / "teacher"
FINETUNED_TEACHERS: dict[str, Path] = {
    "sevennet-pw-ft": FINETUNED_DIR / "finetuned" / "checkpoint.pth",
    "sevennet-pw-ft-ef": FINETUNED_DIR / "finetuned-ef" / "checkpoint.pth",
    "sevennet-pw-ft-ef-last": FINETUNED_DIR / "finetuned-ef-last" / "checkpoint.pth",
}
"""The SevenNet checkpoints fine-tuned on plane-wave GPAW labels (``teacher finetune`` writes them):
on energies, forces and stresses; (``-ef``) on energies and forces only; (``-ef-last``) on energies
and forces with only the last interaction block and the read-out trained."""
FINETUNED_MODAL = "R2SCAN"
"""The modality of SevenNet-MF-0 that was fine-tuned (the candidate the teacher rule ranked first)."""


def _finetuned_sevennet(name: str) -> Callable[[], Calculator]:
    def make() -> Calculator:
        checkpoint = FINETUNED_TEACHERS[name]
        if not checkpoint.is_file():
            raise RuntimeError(f"the fine-tuned teacher {checkpoint} does not exist; make it with "
                               f"`python -m softlattice.perovskite.workflows.teacher finetune --variant {name}`")
        return _sevennet(str(checkpoint), FINETUNED_MODAL)()
    return make


REFERENCES: dict[str, Callable[[], Calculator]] = {
    "chgnet-r2scan": _chgnet("r2scan"),
    "chgnet-0.3.0": _chgnet("0.3.0"),
    "sevennet-mf0-r2scan": _sevennet("7net-mf-0", "R2SCAN"),
    "sevennet-0": _sevennet("7net-0", None),
    "gpaw-pbe": _gpaw_pbe,
    "gpaw-pw-pbe": _gpaw_pw_pbe((1, 1, 1)),
    "gpaw-pw-pbe-k222": _gpaw_pw_pbe((2, 2, 2)),
    "gpaw-pw-pbe-e600": _gpaw_pw_pbe((1, 1, 1), 600.0),
    "cp2k-scan-rvv10": lambda: cp2k_calculator(CP2KSettings(functional="scan-rvv10")),
    "cp2k-pbe": lambda: cp2k_calculator(CP2KSettings(functional="pbe")),
    **{name: _finetuned_sevennet(name) for name in FINETUNED_TEACHERS},
}
MODEL_FILES: dict[str, Path] = dict(FINETUNED_TEACHERS)
"""References whose weights are a file of this repository: their cache name carries its hash."""


def cache_name(reference: str) -> str:
    """The label-cache name of a named reference: the name itself, plus ``@<checkpoint hash>`` for a
    model whose weights are a file of this repository (:data:`MODEL_FILES`)."""
    base, plus, suffix = reference.partition("+")
    model_file = MODEL_FILES.get(base)
    if model_file is None or not model_file.is_file():
        return reference
    return f"{base}@{file_hash(model_file)[:12]}{plus}{suffix}"
DEFAULT_REFERENCE = "chgnet-r2scan"
WITHOUT_STRESS = {"gpaw-pbe", "cp2k-scan-rvv10", "cp2k-pbe"}
"""Named references that give no stress (GPAW's LCAO mode does not implement it; the CP2K
references do not ask for it)."""
MIN_DISTANCE = 0.6
"""Closest interatomic distance (Å) a structure may have to be labelled; shorter ones are
overlapping atoms that no reference describes."""


def reference_calculator(name: str) -> Calculator:
    """Calculator of a named reference (see the module docstring); ``+d3`` adds D3(BJ) dispersion
    from the ``dftd3`` package (simple-dftd3) when it is installed."""
    base, _, suffix = name.partition("+")
    if base not in REFERENCES or suffix not in ("", "d3"):
        raise ValueError(f"unknown reference {name!r}; allowed: {', '.join(REFERENCES)}, each "
                         "optionally with '+d3'")
    calculator = REFERENCES[base]()
    if suffix == "d3":
        try:
            from dftd3.ase import DFTD3
        except ImportError as error:
            raise RuntimeError("'+d3' needs the dftd3 package (pip install dftd3); it is not "
                               "installed") from error
        from ase.calculators.mixing import SumCalculator
        functional = "r2scan" if "r2scan" in base else "pbe"
        calculator = SumCalculator([calculator, DFTD3(method=functional, damping="d3bj")])
    return calculator


def check_labellable(atoms: Atoms, index: int = 0) -> None:
    """Raise a ValueError naming the structure if atoms overlap or positions are not finite."""
    if not np.all(np.isfinite(atoms.positions)):
        raise ValueError(f"structure {index} has non-finite positions")
    distances = neighbor_list("d", atoms, MIN_DISTANCE)
    if distances.size:
        raise ValueError(f"structure {index} has overlapping atoms ({distances.min():.2f} Å apart, "
                         f"less than {MIN_DISTANCE} Å): no reference can label it")


class LabelCache:
    """Labels of one reference on disk: ``<folder>/<reference>/<structure hash>.extxyz``."""

    def __init__(self, reference: str, folder: str | Path = RUNS_DIR / "labels"):
        if not reference or "/" in reference:
            raise ValueError(f"reference name {reference!r} must be non-empty and contain no '/'")
        self.folder = Path(folder) / reference
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, atoms: Atoms) -> Path:
        return self.folder / f"{structure_hash(atoms)}.extxyz"

    def get(self, atoms: Atoms) -> Atoms | None:
        path = self.path(atoms)
        return read(path) if path.exists() else None

    def put(self, labelled: Atoms) -> None:
        path = self.path(labelled)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # processes may store one record at once
        write(temporary, labelled, format="extxyz")
        os.replace(temporary, path)


def _gives_stress(name: str, calculator: Calculator) -> bool:
    if name.partition("+")[0] in WITHOUT_STRESS:
        return False
    return "stress" in getattr(calculator, "implemented_properties", ("stress",))


def label_structures(structures: Sequence[Atoms], reference: str | Calculator = DEFAULT_REFERENCE,
                     name: str | None = None, cache_dir: str | Path = RUNS_DIR / "labels",
                     progress: bool = False) -> list[Atoms]:
    """Energies, forces and stresses of ``structures`` from a reference, cached on disk.

    Parameters
    ----------
    structures
        Structures to label (not modified).
    reference
        A named reference (see :data:`REFERENCES`) or an ASE calculator.
    name
        Cache name of a calculator passed as ``reference`` (required then: it keys the cache).
    cache_dir
        Folder of the label cache.
    progress
        Show a progress bar.

    Returns
    -------
    Copies of the structures with a SinglePointCalculator holding energy, forces and stress (no
    stress from references in :data:`WITHOUT_STRESS` or calculators that do not implement it), and
    ``info['reference']``.
    """
    if isinstance(reference, str):
        name = name or cache_name(reference)
        if reference.partition("+")[0] not in REFERENCES:
            reference_calculator(reference)  # raises the error naming what is allowed
        calculator = None
    else:
        if not name:
            raise ValueError("a calculator passed as reference needs a name for the label cache")
        calculator = reference
    for index, atoms in enumerate(structures):
        check_labellable(atoms, index)
    cache = LabelCache(name, cache_dir)
    labelled = []
    iterator: Iterable = structures
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(structures, desc=f"labelling with {name}")
    for atoms in iterator:
        cached = cache.get(atoms)
        if cached is None:
            if calculator is None:
                calculator = reference_calculator(reference)
            work = atoms.copy()
            work.calc = calculator
            energy = work.get_potential_energy()
            forces = work.get_forces()
            stress = work.get_stress() if all(atoms.pbc) and _gives_stress(name, calculator) else None
            result = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
            result.calc = SinglePointCalculator(result, energy=energy, forces=forces, stress=stress)
            result.info.update(atoms.info)
            result.info["reference"] = name
            cache.put(result)
            # read back what was stored, so a fresh label and a cached one are the same numbers
            # (extxyz rounds): a resumed run then trains on exactly what an uninterrupted one did
            cached = cache.get(atoms)
        # the caller's tags (origin, phase, ...) describe this use of the structure; a cache entry
        # written by another caller may carry none
        cached.info.update(atoms.info)
        cached.info["reference"] = name
        labelled.append(cached)
    return labelled
