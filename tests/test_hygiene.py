"""CI runs what pre-commit runs, with the same pins (issue 13): a check that passes locally passes in CI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def _hooks() -> dict[str, dict[str, object]]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}


def test_pre_commit_runs_ruff_format_mypy_and_import_linter() -> None:
    hooks = _hooks()
    for needed in ("ruff", "ruff-format", "mypy", "import-linter", "check-yaml", "end-of-file-fixer"):
        assert needed in hooks, needed
    assert "--check" in str(hooks["ruff-format"]["entry"])  # a check in CI, never a silent rewrite
    assert "stages" not in hooks["ruff-format"], "ruff format must run on every commit, not only by hand"


def test_the_ruff_pin_is_the_same_in_pre_commit_and_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    pinned = [d for d in dev if d.startswith("ruff")]
    assert len(pinned) == 1 and re.fullmatch(r"ruff==[0-9.]+", pinned[0]), dev
    for hook in ("ruff", "ruff-format"):
        assert _hooks()[hook]["additional_dependencies"] == [pinned[0]], hook


def test_ci_runs_pre_commit_then_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    test_command = ".venv/bin/python -m pytest"
    assert f"python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && {test_command}" in readme
    assert "pre-commit run --all-files" in ci
    assert ci.index("pre-commit run --all-files") < ci.index(test_command)
    assert re.search(r'if \[ "\$rc" -eq 5 \]', ci), "pytest's exit 5 must fail CI"


def test_the_version_is_defined_once() -> None:
    import mreg

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "mreg._version.__version__"}
    from importlib.metadata import version

    assert version("mreg") == mreg.__version__


def test_no_module_of_mreg_imports_itself_back() -> None:
    """No import cycle anywhere in the package, lazy (function-level) imports included: import-linter's
    layers keep layers apart; this keeps modules within a layer (and a package) acyclic too."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("mreg")
    cycles = sorted(
        {
            tuple(sorted((a, b)))
            for a in graph.modules
            for b in graph.find_modules_directly_imported_by(a)
            if graph.chain_exists(importer=b, imported=a)
        }
    )
    assert cycles == []


def test_every_result_is_exported_from_mreg_for_type_checkers_too() -> None:
    """`mreg.__init__` lists the results three ways (lazy lookup, TYPE_CHECKING imports, __all__):
    a result missing from the TYPE_CHECKING block works at run time but mypy says it does not exist."""
    import ast

    import mreg
    from mreg import results

    tree = ast.parse((ROOT / "src" / "mreg" / "__init__.py").read_text())
    typed = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "mreg.results"
        for alias in node.names
    }
    assert typed == set(results.__all__)
    assert set(results.__all__) <= set(mreg.__all__)
    for name in mreg.__all__:
        assert getattr(mreg, name) is not None, name


def test_examples_and_docs_pin_the_version_this_tree_is() -> None:
    """Workflows and docs that pin mreg name this version: a release bumps them with _version.py."""
    import mreg

    pins = []
    for path in [*sorted((ROOT / "examples").rglob("*.yml")), *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text()
        pins += [(path.name, v) for v in re.findall(r"mreg(?:\[[a-z0-9,]+\])?==([0-9][0-9a-z.]*)", text)]
        pins += [(path.name, v) for v in re.findall(r"rev: v([0-9][0-9a-z.]*)", text)]
        pins += [(path.name, v) for v in re.findall(r'(?<![\w-])version: "([0-9][0-9a-z.]*)"', text)]
    assert len(pins) >= 4, pins
    assert {v for _, v in pins} == {mreg.__version__}, pins
