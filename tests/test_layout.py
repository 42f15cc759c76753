"""The package layout is the architecture: import rules between its layers (lib/softlattice/README.md)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "softlattice"
SHARED = ("infra", "md", "models", "analysis", "electronic")
STUDIES = ("perovskite", "antiperovskite")
RESULT_SETS = ("softlattice.infra.profiles", "softlattice.infra.provenance", "softlattice.infra.resultsets")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path) -> set[str]:
    """Every ``softlattice...`` module a file imports, at the top or inside functions."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; the layout test reads absolute ones only")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("softlattice"):
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names if a.name.startswith("softlattice"))
    return imported


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


MODULES = {_module_name(p): internal_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def violations(modules: dict[str, set[str]]) -> list[str]:
    """Each import that breaks a rule, as 'importer -> imported (rule)'."""
    found = []
    for importer, imported in modules.items():
        for target in sorted(imported):
            source_layer, target_layer = layer(importer), layer(target)
            if source_layer in SHARED and target_layer in STUDIES + ("book",):
                found.append(f"{importer} -> {target} (shared layers never import a study or the book)")
            if source_layer in STUDIES and target_layer in STUDIES and source_layer != target_layer:
                found.append(f"{importer} -> {target} (the studies never import each other)")
            if source_layer == "infra" and target_layer not in ("infra", ""):
                found.append(f"{importer} -> {target} (infra imports only infra)")
            if any(target.startswith(r) for r in RESULT_SETS) and source_layer in STUDIES \
                    and ".workflows" not in importer:
                found.append(f"{importer} -> {target} (only workflows touch profiles and result sets)")
    return found


def test_the_package_follows_its_import_rules():
    assert MODULES, "no modules found"
    assert violations(MODULES) == []


@pytest.mark.parametrize("importer, imported, rule", [
    ("softlattice.md.engine", "softlattice.perovskite.modes", "shared layers"),
    ("softlattice.perovskite.workflows.damping", "softlattice.antiperovskite.thermal", "each other"),
    ("softlattice.infra.paths", "softlattice.md.engine", "infra imports only infra"),
    ("softlattice.perovskite.mpb", "softlattice.infra.profiles", "only workflows"),
])
def test_the_rules_catch_each_kind_of_violation(importer, imported, rule):
    found = violations({importer: {imported}})
    assert len(found) == 1 and rule in found[0]


def test_every_study_chapter_has_a_workflow_module():
    for study in STUDIES:
        workflows = [m for m in MODULES if m.startswith(f"softlattice.{study}.workflows.")]
        assert workflows, f"no workflow modules in softlattice.{study}.workflows"


def test_the_finished_runs_and_labels_carried_across_machines_are_not_ignored_by_git():
    import shutil
    import subprocess

    from softlattice.infra.paths import DATA_DIR, REPO_ROOT
    from softlattice.perovskite.workflows import coexistence, phase_diagram
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    from softlattice.antiperovskite.workflows.models import LABELS_CARRIED
    from softlattice.md.stored import CARRIED
    from softlattice.perovskite.workflows.band_edges import LABELS_CARRIED as EDGES_CARRIED
    carried_files = [DATA_DIR / name / "model" / module.CARRIED_RUNS / f"0123456789abcdef{suffix}"
                     for module, name in ((coexistence, "coexistence"), (phase_diagram, "end_member_ramps"))
                     for suffix in CARRIED.values()]
    for carried in carried_files + [LABELS_CARRIED / "gap-pbe.jsonl.gz", EDGES_CARRIED / "gpaw-lcao-pbe.jsonl.gz"]:
        ignored = subprocess.run(["git", "check-ignore", "-q", str(carried)], cwd=REPO_ROOT).returncode == 0
        assert not ignored, f"{carried.relative_to(REPO_ROOT)} would never be committed: .gitignore matches it"
