"""`mreg --help` must stay fast (issue 2: ≤ 150 ms): it may not import the heavy libraries."""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("git", "yaml", "fsspec", "s3fs", "jsonschema", "botocore", "boto3", "pydantic", "rich")

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
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *args], capture_output=True, text=True, env=dict(os.environ), timeout=60)
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
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mreg", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert _heavy(imported) == []
