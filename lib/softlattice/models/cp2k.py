"""CP2K single points with the seed's functional, SCAN+rVV10 (and PBE for contrast).

Units: eV, eV/Å (ASE's CP2K calculator converts); cut-offs in Rydberg as CP2K states them.

The seed labelled with VASP SCAN+rVV10 (PAW, 520 eV). Here CP2K (Debian's package, Gaussian and
plane waves) stands in: GTH-SCAN pseudopotentials with DZVP-MOLOPT-SCAN basis sets (both from
CP2K's UZH files), SCAN exchange and correlation from libxc, and rVV10 non-local correlation
(b = 15.7, C = 0.0093: the SCAN+rVV10 parameters of Peng et al., PRX 6, 041005 (2016)), Gamma
point only. PBE uses GTH-PBE with DZVP-MOLOPT-SR-GTH and the same grids.

Each structure gets its own folder (named by its hash), where CP2K writes its wave functions every
five SCF steps and starts from them when they are there (CP2K falls back to atomic densities when
they are not): a single point that was killed or stopped at its time limit continues its SCF where
it stopped when it is run again.

A single point that does not converge its SCF raises :class:`SCFNotConverged` (CP2K 2023 only
warns, so the calculator reads the warning from CP2K's output), so the labelling loop records it as
failed and never stores it; finished labels are cached per
structure by :mod:`softlattice.models.reference`, so a killed run resumes at the next structure
(the SCF of the structure that was running starts again).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from ase.calculators.calculator import Calculator
from ase.calculators.cp2k import CP2K, Cp2kShell

from softlattice.infra.keys import structure_hash
from softlattice.infra.paths import RUNS_DIR

CP2K_DATA_DIR = Path(os.environ.get("CP2K_DATA_DIR", "/usr/share/cp2k"))
SHELL_COMMANDS = ("cp2k_shell.psmp", "cp2k_shell.ssmp", "cp2k_shell")

FUNCTIONALS = ("scan-rvv10", "pbe")

VALENCE = {"H": 1, "C": 4, "N": 5, "I": 7, "Pb": 4, "Cs": 9}
"""Valence electrons of the GTH pseudopotentials used, SCAN and PBE alike (for SCAN the smallest
core that has a MOLOPT-SCAN basis set)."""

RVV10_PARAMETERS = (15.7, 0.0093)
"""rVV10's b and C for SCAN+rVV10 (Peng et al. 2016)."""


@dataclass(frozen=True)
class CP2KSettings:
    """One CP2K setting: functional, finest-grid cut-off and relative cut-off (Ry), SCF target
    (Hartree), the number of orbital-transformation iterations allowed (inner x outer), and a
    wall-time limit per single point (s; None: none), after which CP2K is stopped and
    :class:`SCFTimeLimit` raised."""

    functional: str = "scan-rvv10"
    cutoff_Ry: float = 600.0
    rel_cutoff_Ry: float = 60.0
    eps_scf: float = 1e-5
    max_scf: int = 40
    max_outer_scf: int = 10
    time_limit_s: float | None = None

    def __post_init__(self):
        if self.functional not in FUNCTIONALS:
            raise ValueError(f"unknown CP2K functional {self.functional!r}; allowed: {', '.join(FUNCTIONALS)}")
        if not (self.cutoff_Ry > 0 and self.rel_cutoff_Ry > 0 and self.eps_scf > 0):
            raise ValueError(f"cut-offs and eps_scf must be positive; got {self.cutoff_Ry}, {self.rel_cutoff_Ry}, "
                             f"{self.eps_scf}")
        if self.time_limit_s is not None and not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s {self.time_limit_s} must be positive or None")
        if self.max_scf < 1 or self.max_outer_scf < 1:
            raise ValueError(f"max_scf {self.max_scf} and max_outer_scf {self.max_outer_scf} must be >= 1")


class SCFNotConverged(RuntimeError):
    """CP2K finished a single point without converging its SCF."""


class SCFTimeLimit(RuntimeError):
    """CP2K was stopped at its wall-time limit before the SCF converged."""


NOT_CONVERGED = "SCF run NOT converged"


def scf_progress(text: str) -> tuple[int, float]:
    """The number of SCF (orbital transformation) steps in a piece of CP2K output, and the last
    step's convergence measure (Hartree; NaN before the first step)."""
    steps = [line.split() for line in text.splitlines() if re.match(r"\s+\d+\s+OT\s", line)]
    last = float(steps[-1][-3]) if steps else float("nan")
    return len(steps), last


class CheckedCP2K(CP2K):
    """ASE's CP2K calculator that runs each structure in its own folder (its saved wave functions
    restart a stopped SCF), stops CP2K at ``time_limit_s`` (:class:`SCFTimeLimit`) and raises
    :class:`SCFNotConverged` when CP2K's output of this evaluation says the SCF did not converge
    (the energy would otherwise be returned as if it had)."""

    time_limit_s: float | None = None
    scf_steps: int = 0

    def _enter_structure_folder(self, atoms) -> None:
        """Run CP2K in the folder of this structure (its restart wave functions live there)."""
        key = structure_hash(atoms)
        if key == getattr(self, "structure_key", None):
            return
        if self._shell is not None:
            self.close()
        folder = Path(self.base_folder) / key
        folder.mkdir(parents=True, exist_ok=True)
        self.command = self.command_template.format(folder=shlex.quote(str(folder)))
        self.directory_of_run, self.structure_key = str(folder), key

    def calculate(self, atoms=None, properties=None, system_changes=None):
        self._enter_structure_folder(atoms if atoms is not None else self.atoms)
        output = Path(self.directory_of_run) / (self.label + ".out")
        start = output.stat().st_size if output.exists() else 0
        stopped = threading.Event()

        def stop():
            stopped.set()
            if self._shell is not None:
                self._shell._child.kill()

        timer = threading.Timer(self.time_limit_s, stop) if self.time_limit_s else None
        if timer:
            if self._shell is None:  # start the shell first, so that the limit always has a process to stop
                self._shell = Cp2kShell(self.command, self._debug)
            timer.start()
        try:
            if system_changes is None:
                super().calculate(atoms, properties)
            else:
                super().calculate(atoms, properties, system_changes)
        except Exception as error:
            if stopped.is_set():
                self._shell, self._force_env_id = None, None
                steps, measure = scf_progress(_read_from(output, start))
                raise SCFTimeLimit(f"stopped at the {self.time_limit_s:g} s limit after {steps} SCF steps "
                                   f"(last convergence measure {measure:.1e} Ha)") from error
            raise
        finally:
            if timer:
                timer.cancel()
        text = _read_from(output, start)
        self.scf_steps, _ = scf_progress(text)
        if NOT_CONVERGED in text:
            raise SCFNotConverged(f"{NOT_CONVERGED} after {self.scf_steps} steps (see {output})")



def _read_from(path: Path, start: int) -> str:
    """What CP2K wrote to ``path`` after byte ``start`` (all of it if the file was started anew)."""
    if not path.exists():
        return ""
    with open(path, "rb") as handle:
        if handle.seek(0, 2) < start:
            start = 0
        handle.seek(start)
        return handle.read().decode(errors="replace")


def cp2k_missing_message() -> str:
    return ("CP2K is not installed (no cp2k_shell.psmp on PATH): install Debian's package as root with "
            "`apt-get install cp2k`; it ships the GTH-SCAN pseudopotentials, MOLOPT-SCAN basis sets and the "
            "rVV10 kernel table this reference uses")


def cp2k_shell_command() -> str:
    """The CP2K shell on PATH, or a RuntimeError that says how to install it."""
    for command in SHELL_COMMANDS:
        if shutil.which(command):
            return command
    raise RuntimeError(cp2k_missing_message())


def _kinds(settings: CP2KSettings, symbols: set[str]) -> str:
    unknown = sorted(symbols - set(VALENCE))
    if unknown:
        raise ValueError(f"no CP2K basis set chosen for {', '.join(unknown)}; allowed elements: {', '.join(VALENCE)}")
    blocks = []
    for symbol in sorted(symbols):
        q = VALENCE[symbol]
        if settings.functional == "scan-rvv10":
            basis, potential = f"DZVP-MOLOPT-SCAN-GTH-q{q}", f"GTH-SCAN-q{q}"
        else:
            basis, potential = "DZVP-MOLOPT-SR-GTH", f"GTH-PBE-q{q}"
        blocks.append(f"    &KIND {symbol}\n      BASIS_SET {basis}\n      POTENTIAL {potential}\n    &END KIND")
    return "\n".join(blocks)


def cp2k_input(settings: CP2KSettings, symbols: set[str]) -> str:
    """The input template (everything but coordinates and cell, which ASE adds)."""
    if settings.functional == "scan-rvv10":
        b, c = RVV10_PARAMETERS
        xc = f"""      &XC_FUNCTIONAL
        &MGGA_X_SCAN
        &END MGGA_X_SCAN
        &MGGA_C_SCAN
        &END MGGA_C_SCAN
      &END XC_FUNCTIONAL
      &VDW_POTENTIAL
        POTENTIAL_TYPE NON_LOCAL
        &NON_LOCAL
          TYPE RVV10
          PARAMETERS {b} {c}
          KERNEL_FILE_NAME {CP2K_DATA_DIR / 'rVV10_kernel_table.dat'}
          CUTOFF 400
        &END NON_LOCAL
      &END VDW_POTENTIAL"""
    else:
        xc = """      &XC_FUNCTIONAL PBE
      &END XC_FUNCTIONAL"""
    return f"""&GLOBAL
  PRINT_LEVEL LOW
&END GLOBAL
&FORCE_EVAL
  &DFT
    &MGRID
      REL_CUTOFF {settings.rel_cutoff_Ry}
      NGRIDS 5
    &END MGRID
    &QS
      EPS_DEFAULT 1.0E-12
    &END QS
    &SCF
      SCF_GUESS RESTART
      EPS_SCF {settings.eps_scf}
      &OT
        MINIMIZER DIIS
        PRECONDITIONER FULL_SINGLE_INVERSE
      &END OT
      &OUTER_SCF
        EPS_SCF {settings.eps_scf}
        MAX_SCF {settings.max_outer_scf}
      &END OUTER_SCF
      &PRINT
        &RESTART
          BACKUP_COPIES 0
          &EACH
            QS_SCF 5
          &END EACH
        &END RESTART
      &END PRINT
    &END SCF
    &XC
{xc}
    &END XC
  &END DFT
  &SUBSYS
{_kinds(settings, symbols)}
  &END SUBSYS
&END FORCE_EVAL
"""


def cp2k_calculator(settings: CP2KSettings, symbols: set[str] = frozenset(VALENCE),
                    directory: str | Path = RUNS_DIR / "cp2k") -> Calculator:
    """ASE's CP2K calculator (through the CP2K shell, single-threaded) for ``settings``.

    Parameters
    ----------
    symbols
        Elements the structures contain (their basis sets and pseudopotentials go in the input).
    directory
        Where CP2K writes its output and wave functions: a folder per setting, in it one per structure.
    """
    command = cp2k_shell_command()
    folder = (Path(directory) / f"{settings.functional}_{settings.cutoff_Ry:g}Ry").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    # the CP2K shell reads commands of limited length: it runs inside the structure's folder and is given
    # short names
    template = f"cd {{folder}} && exec env OMP_NUM_THREADS=1 CP2K_DATA_DIR={CP2K_DATA_DIR} {command}"
    calculator = CheckedCP2K(
                command=template.format(folder=shlex.quote(str(folder))),
                inp=cp2k_input(settings, set(symbols)), label="cp2k", xc=None, basis_set=None,
                pseudo_potential=None, basis_set_file="BASIS_MOLOPT_UZH" if settings.functional == "scan-rvv10"
                else "BASIS_MOLOPT", potential_file="POTENTIAL_UZH" if settings.functional == "scan-rvv10"
                else "GTH_POTENTIALS", cutoff=settings.cutoff_Ry * 13.605693122994, max_scf=settings.max_scf,
                stress_tensor=False, print_level=None)
    calculator.base_folder, calculator.command_template = str(folder), template
    calculator.directory_of_run = str(folder)
    calculator.time_limit_s = settings.time_limit_s
    return calculator
