"""`mreg --help` must stay fast (issue 2: ≤ 150 ms): it may not import the heavy libraries."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HEAVY = (
    "git",
    "yaml",
    "fsspec",
    "s3fs",
    "jsonschema",
    "botocore",
    "boto3",
    "pydantic",
    "rich",
    "mlflow",
    "gto",
)

_WRAPPER = """
import runpy, sys
sys.argv = ["mreg", *sys.argv[1:]]
try:
    runpy.run_module("mreg", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("\\n".join(sorted(sys.modules)), file=sys.stderr)
print("EXIT", code, file=sys.stderr)
"""


def _modules_after(*args: str) -> tuple[set[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    lines = proc.stderr.splitlines()
    assert lines and lines[-1] == "EXIT 0", proc.stderr[-2000:]
    return set(lines[:-1]), proc.stdout


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_help_imports_no_heavy_library() -> None:
    modules, out = _modules_after("--help")
    assert "register" in out and "resolve" in out
    assert "mreg.cli.app" in modules  # the wrapper really ran the CLI
    assert _heavy(modules) == []


def test_register_help_imports_no_heavy_library() -> None:
    modules, out = _modules_after("register", "--help")
    assert "--metric" in out
    assert _heavy(modules) == []


def test_import_mreg_is_light() -> None:
    code = "import sys, mreg; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert _heavy(set(out.split())) == []
    assert "typer" not in out.split()


def test_help_via_importtime_lists_no_heavy_library() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mreg", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    imported = {
        line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")
    }
    assert _heavy(imported) == []


@pytest.mark.slow
def test_plain_resolve_skips_typer_and_answers_like_the_full_cli(repo: object, model_dir: object) -> None:
    """The fast path for `resolve` gives the same answers and errors as the typer CLI."""
    from pathlib import Path

    from testing.gitutil import run_mreg

    cwd = Path(str(repo))
    assert run_mreg("register", "fraud", str(model_dir), cwd=cwd).code == 0
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=cwd).code == 0
    modules, out = _modules_after("resolve", "fraud@staging", "--offline", "--repo", str(cwd))
    assert out.strip() == "fraud@v1"
    assert "typer" not in {m.split(".")[0] for m in modules} and "mreg.cli.app" not in modules
    # nothing heavy, not even PyYAML: register remembered the manifest's parsed document with its
    # validation (cache/valid.py), so resolve reads it with json
    assert {m.split(".")[0] for m in _heavy(modules)} == set()
    # same exit codes and one-line messages as through typer (where --json forces the full CLI)
    for extra in ([], ["--json"]):
        r = run_mreg("resolve", "fraud@nope", "--offline", *extra, cwd=cwd)
        assert r.code == 3 and r.err.startswith("mreg: error: ") and "nope" in r.err
        r = run_mreg("resolve", "fraud", "--at", "not-a-date", *extra, cwd=cwd)
        assert r.code == 2 and "--at" in r.err
    r = run_mreg("resolve", "fraud", "--bogus", cwd=cwd)  # unknown options: typer's usage error
    assert r.code == 2 and "--bogus" in r.err


def test_import_help_imports_neither_mlflow_nor_gto() -> None:
    """MLflow (~1.5 s to import) and GTO are loaded only when an import runs (SPEC §14)."""
    for which in ("mlflow", "gto"):
        modules, out = _modules_after("import", which, "--help")
        assert "--dry-run" in out
        assert _heavy(modules) == []
