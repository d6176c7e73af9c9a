"""The code's shape as checked rules: layering contracts, module size, a thin CLI.

docs/architecture.md describes the layers; pyproject.toml holds the import-linter
contracts that enforce them.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "b2release"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_MODULE_LINES = 400


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(root)})


@pytest.fixture(scope="module")
def needs_lint_imports():
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")


def test_the_layering_contracts_hold(needs_lint_imports):
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    # An adapter reaching up into a command.
    ("stores/base.py", "import b2release.stages.build", "cli > stages > library"),
    # One command importing another.
    ("stages/promote.py", "from b2release.stages import rollback", "No command module imports another"),
    # Core importing an adapter.
    ("formats/manifest.py", "import b2release.stores.local", "cli > stages > library"),
])
def test_a_wrong_import_breaks_a_contract(tmp_path, needs_lint_imports, module, line, broken):
    root = tmp_path / "tree"
    shutil.copytree(PACKAGE, root / "b2release", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    target = root / "b2release" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = lint_imports(root)
    assert result.returncode != 0, result.stdout
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout


def test_no_module_is_over_the_size_limit():
    sizes = {p.relative_to(REPO).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def _functions_using(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    users = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node)):
                users.add(node.name)
    return users


def test_the_cli_reads_argv_once_and_loops_over_no_stages():
    cli = PACKAGE / "cli"
    argv_users = {f"{p.name}:{fn}" for p in cli.glob("*.py") for fn in _functions_using(p, "argv")}
    assert argv_users == {"app.py:main"}  # handed to Typer once; nothing re-parses it
    for path in cli.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "PIPELINE" not in text and "run_command(" not in text, f"{path.name} runs stages itself"


def test_help_imports_no_command_module():
    code = ("import sys; from b2release.cli import main\n"
            "main(['--help'])\n"
            "print('LOADED=' + ','.join(sorted(m for m in sys.modules if m.startswith('b2release.stages.'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "LOADED=\n" in proc.stdout, proc.stdout


# The starting design lived outside this repository; docs/architecture.md is its home now.
# The name is assembled so that this file does not cite it either.
OUTSIDE_DESIGN = "DESIGN" + ".md"


def test_nothing_cites_a_design_file_outside_the_repo():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True).stdout.split()
    citing = [f for f in tracked if (REPO / f).is_file()
              and OUTSIDE_DESIGN in (REPO / f).read_text(encoding="utf-8", errors="replace")]
    assert citing == [], f"cite docs/architecture.md instead: {citing}"
