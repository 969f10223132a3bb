"""Property-based bad input (issue 7) through `Registry.register` and the real CLI: whatever a user
types or feeds in a file, mreg either does the job or refuses with the SPEC §8 exit code and a
one-line message; never another exception, never a traceback, and a refusal changes nothing.

The volume runs in-process against one module at a time, in tests/unit (refs, inputs, manifest,
text, git.tags, git.history); the strategies, settings and the count of inputs tried are in
testing.strategies (the count is printed at the end of a run and recorded in docs/security.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mreg.cli._report import one_line
from mreg.errors import NotFoundError, UsageError
from mreg.registry import Registry
from testing.gitutil import refs, run_mreg, snapshot_store
from testing.strategies import (
    AT_TEXT,
    CLI,
    FILE_CONTENT,
    HOSTILE_TEXT,
    KV,
    RECORD_VALUES,
    REGISTRY,
    TEXT,
    TRIED,
    bomb,
    nested,
)


# -- Registry.register: a refusal changes nothing ----------------------------------------------------
def _state(repo: Path) -> tuple[dict[str, str], dict[str, int]]:
    return refs(repo), snapshot_store(repo / ".git" / "mreg" / "objects" / "sha256")


@pytest.fixture
def registry_repo(repo: Path) -> Path:
    """`repo` with fraud v1 (w.bin, in the work tree)."""
    (repo / "w.bin").write_bytes(b"weights")
    Registry.open(repo).register("fraud", [repo / "w.bin"])
    return repo


def _no_urls(items: list[str]) -> bool:
    return not any(
        re.search(r"[A-Za-z][A-Za-z0-9+.-]*::?//", i) for i in items
    )  # never the network from a test


@pytest.mark.slow
@REGISTRY
@given(
    model=st.one_of(TEXT, st.sampled_from(["fraud", "churn"])),
    params=st.lists(KV, max_size=3),
    metrics=st.lists(KV, max_size=3),
    data=st.lists(KV, max_size=2),
    parent=st.one_of(st.none(), TEXT),
    params_file=st.one_of(st.none(), FILE_CONTENT),
    allow=st.lists(st.sampled_from(["password", "x", ""]), max_size=2),
)
def test_register_in_process(
    registry_repo: Path,
    model: str,
    params: list[str],
    metrics: list[str],
    data: list[str],
    parent: str | None,
    params_file: str | bytes | None,
    allow: list[str],
) -> None:
    assume(_no_urls(data))
    TRIED["register (in-process)"] += 1
    repo = registry_repo
    files = []
    if params_file is not None:
        f = repo.parent / "p.yaml"
        f.write_bytes(params_file if isinstance(params_file, bytes) else params_file.encode())
        files.append(str(f))
    before = _state(repo)
    try:
        Registry.open(repo).register(
            model,
            [repo / "w.bin"],
            params=params,
            metrics=metrics,
            data=data,
            parent=parent,
            params_files=files,
            allow_secret_like=allow,
        )
    except Exception as exc:
        assert isinstance(exc, (UsageError, NotFoundError)), f"{type(exc).__name__}: {exc}"
        assert exc.message and "\n" not in one_line(exc.message)
        assert _state(repo) == before, "a refused register changed the registry"


# -- the same through the real CLI --------------------------------------------------------------------
def _argv_safe(*texts: str) -> bool:
    return all("\x00" not in t for t in texts)


COMMANDS = st.one_of(
    st.builds(lambda r: ["resolve", "--", r], TEXT),
    st.builds(lambda r: ["show", "--", r], TEXT),
    st.builds(lambda r: ["log", "--", r], TEXT),
    st.builds(
        lambda r, at: ["resolve", f"--at={at}", "--", r], st.sampled_from(["fraud", "fraud@v1"]), AT_TEXT
    ),
    st.builds(lambda r, a: ["promote", f"--to={a}", "--", r], st.one_of(TEXT, st.just("fraud@v1")), TEXT),
    st.builds(
        lambda m, kv: ["register", f"--param={kv}", "--", m, "w.bin"], st.one_of(TEXT, st.just("fraud")), KV
    ),
    st.builds(lambda kv: ["register", f"--metric={kv}", "--", "fraud", "w.bin"], KV),
    st.builds(lambda r: ["pull", "-o", "out", "--", r], TEXT),
)


@pytest.mark.slow
@CLI
@given(COMMANDS)
def test_cli_sample(registry_repo: Path, argv: list[str]) -> None:
    assume(_argv_safe(*argv))
    TRIED["CLI"] += 1
    repo = registry_repo
    before = _state(repo)
    r = run_mreg(*argv, cwd=repo, timeout=60)
    assert "Traceback" not in r.err, r.err
    assert r.code in (0, 2, 3), (argv, r.code, r.err)
    if r.code != 0:
        lines = r.err.strip().splitlines()
        assert 1 <= len(lines) <= 2 and lines[0].startswith("mreg: error: "), (argv, r.err)
        if len(lines) == 2:
            assert lines[1].startswith("  hint: ")
        assert _state(repo) == before, f"{argv} failed with exit {r.code} but changed the registry"
    elif argv[0] not in ("register", "promote", "pull"):
        assert _state(repo) == before


# -- hand-picked: the cases, each named, each through the CLI ---------------------------------
HAND_PICKED = [
    (["resolve", "--", "Fraud"], 2, "invalid model name 'Fraud'"),
    (["resolve", "--", "fraud@v0"], 2, "invalid version 'v0'"),
    (["resolve", "--", "fraud@v1@v2"], 2, "more than one '@'"),
    (["resolve", "--", "../etc@v1"], 2, "invalid model name '../etc'"),
    (["resolve", "fraud", "--at", "999999w"], 2, "invalid --at value '999999w'"),
    (["resolve", "fraud", "--at", "2026-02-30"], 2, "invalid --at value '2026-02-30'"),
    (["promote", "fraud@v1", "--to", "latest"], 2, "alias 'latest' is reserved"),
    (["promote", "fraud@v1", "--to", "Prod"], 2, "invalid alias 'Prod'"),
    (["register", "fraud", "w.bin", "--param", "noequals"], 2, "--param 'noequals': expected KEY=VALUE"),
    (["register", "fraud", "w.bin", "--metric", "auc=high"], 2, "is not a number"),
    (["register", "fraud", "w.bin", "--metric", "auc=nan"], 2, "is not a number"),
    (["register", "fraud", "w.bin", "--param", "api_key=x"], 2, "param 'api_key' looks like a secret"),
    (["register", "fraud", "w.bin", "--params", "deep.json"], 2, "nested too deeply"),
    (["register", "fraud", "w.bin", "--params", "deep.yaml"], 2, "nested more than 100 levels deep"),
    (["register", "fraud", "w.bin", "--params", "dashes.yaml"], 2, "nested more than 100 levels deep"),
    (["register", "fraud", "w.bin", "--params", "bomb.yaml"], 2, "expands to more than"),
    (["register", "fraud", "w.bin", "--params", "evil.yaml"], 2, "invalid YAML"),
    (["register", "fraud", "w.bin", "--params", "latin1.yaml"], 2, "not UTF-8"),
    (["register", "fraud", "w.bin", "--params", "list.yaml"], 2, "expected a mapping"),
    (["register", "fraud", "w.bin", "--metrics", "inf.json"], 2, "not a finite number"),
    (["register", "fraud", "w.bin", "--parent", "fraud@v9"], 3, "no version v9"),
]


@pytest.mark.parametrize("argv,code,message", HAND_PICKED, ids=[" ".join(a) for a, _, _ in HAND_PICKED])
def test_hand_picked_bad_input(registry_repo: Path, argv: list[str], code: int, message: str) -> None:
    repo = registry_repo
    (repo / "deep.json").write_text(nested(100_000, "json"))
    (repo / "deep.yaml").write_text(nested(100_000, "flow"))
    (repo / "dashes.yaml").write_text(nested(100_000, "dash"))
    (repo / "bomb.yaml").write_text(bomb(9))
    (repo / "evil.yaml").write_text("a: !!python/object/apply:os.system ['touch pwned']\n")
    (repo / "latin1.yaml").write_bytes("a: caf\xe9\n".encode("latin-1"))
    (repo / "list.yaml").write_text("- 1\n- 2\n")
    (repo / "inf.json").write_text('{"auc": Infinity}')
    before = _state(repo)
    r = run_mreg(*argv, cwd=repo, timeout=60)
    TRIED["hand-picked CLI"] += 1
    assert r.code == code, (r.code, r.err)
    assert "Traceback" not in r.err and message in r.err.splitlines()[0], r.err
    assert len(r.err.strip().splitlines()) <= 2
    assert _state(repo) == before
    assert not (repo / "pwned").exists()


# -- what is read from git: tags and commits made by hand (issue 11) -----------------------------------


@pytest.mark.slow
@CLI
@given(HOSTILE_TEXT, HOSTILE_TEXT, RECORD_VALUES, HOSTILE_TEXT)
def test_hand_made_tags_and_commits_crash_no_reader(
    registry_repo: Path, alias: str, seq: str, version: Any, subject: str
) -> None:
    import subprocess

    TRIED["tags and commits via git"] += 1
    git = lambda *a, **k: subprocess.run(["git", *a], cwd=registry_repo, capture_output=True, **k)  # noqa: E731
    name = f"mreg/fraud/{alias}/{seq}"
    message = f'promote\n\nevent: "promote"\nmodel: "fraud"\nalias: {json.dumps(alias)}\nversion: {json.dumps(version)}\n'
    tagged = (
        git(
            "tag",
            "-a",
            "-F",
            "-",
            "--",
            name,
            "mreg/registry",
            input=message.encode("utf-8", "surrogatepass"),
        ).returncode
        == 0
    )
    tree = git("rev-parse", "mreg/registry^{tree}").stdout.decode().strip()
    parent = git("rev-parse", "mreg/registry").stdout.decode().strip()
    commit = (
        git(
            "commit-tree",
            tree,
            "-p",
            parent,
            "-F",
            "-",
            input=subject.encode("utf-8", "surrogatepass") or b"x",
        )
        .stdout.decode()
        .strip()
    )
    assume(tagged or commit)
    if commit:  # an empty commit with that subject on the registry branch: `log` reads paths, never subjects
        git("update-ref", "refs/heads/mreg/registry", commit, parent)
    for args in (["list"], ["log", "fraud"], ["check"], ["resolve", "fraud"]):
        r = run_mreg(*args, cwd=registry_repo)
        assert r.code in (0, 1, 3, 5), (args, r.err)
        assert "internal error" not in r.err and "Traceback" not in r.err, (args, r.err)
    if tagged:
        git("tag", "-d", "--", name)
