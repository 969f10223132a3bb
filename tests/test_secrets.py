"""Secrets (issue 7): secret-looking params are refused, and no credential reaches anything mreg writes
(mreg.secrets on its own: tests/unit/test_secrets.py).

The credentials planted here are unique strings; after a whole session of commands the test greps
every byte mreg could have written (the clone's .git except the config the user wrote the URL into,
the remote, the object store, the user cache) and every line it printed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testing.gitutil import Result, refs, run_mreg, snapshot_store
from testing.team import Team

URL_TOKEN = "ghp_urlSECRET0123456789abcdef"
ENV_TOKEN = "ghp_envSECRET0123456789abcdef"
AWS_SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY"
SECRETS = (URL_TOKEN, ENV_TOKEN, AWS_SECRET)


# -- through the CLI -----------------------------------------------------------------------------------
def _state(repo: Path) -> tuple[dict[str, str], dict[str, int]]:
    return refs(repo), snapshot_store(repo / ".git" / "mreg")


def test_register_refuses_a_secret_param_with_exit_2_and_changes_nothing(repo: Path, model_dir: Path) -> None:
    before = _state(repo)
    r = run_mreg(
        "register", "fraud", str(model_dir), "--param", "lr=0.1", "--param", "db_password=hunter2", cwd=repo
    )
    assert r.code == 2
    assert "'db_password'" in r.err and "hunter2" not in r.err and "Traceback" not in r.err
    assert r.err.startswith("mreg: error: param 'db_password' looks like a secret")
    assert _state(repo) == before


def test_nested_secret_in_a_params_file_is_refused_and_allowed_when_named(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    f = tmp_path / "params.yaml"
    f.write_text("model:\n  max_tokens: 512\n  tokenizer: bpe\nservice:\n  auth:\n    token: abc123\n")
    before = _state(repo)
    r = run_mreg("register", "fraud", str(model_dir), "--params", str(f), cwd=repo)
    assert r.code == 2 and "'service.auth.token'" in r.err and "abc123" not in r.err
    assert _state(repo) == before
    r = run_mreg(
        "register",
        "fraud",
        str(model_dir),
        "--params",
        str(f),
        "--param",
        "api_key=not-a-key",
        "--allow-secret-like",
        "service.auth.token",
        "--allow-secret-like",
        "api_key",
        "--json",
        cwd=repo,
    )
    assert r.code == 0, r.err
    params = json.loads(r.out)["manifest"]["params"]
    assert params["service"]["auth"]["token"] == "abc123" and params["api_key"] == "not-a-key"


def test_token_like_but_harmless_names_register(repo: Path, model_dir: Path) -> None:
    r = run_mreg(
        "register",
        "llm",
        str(model_dir),
        "--param",
        "max_tokens=4096",
        "--param",
        "tokenizer=bpe",
        "--param",
        "num_tokens=10",
        cwd=repo,
    )
    assert r.code == 0, r.err


# -- no credential in anything mreg writes or prints -------------------------------------------------
def _grep_tree(root: Path, *, skip: set[Path] = frozenset()) -> list[str]:  # type: ignore[assignment]
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and p not in skip:
            data = p.read_bytes()
            for s in SECRETS:
                if s.encode() in data:
                    hits.append(f"{p}: {s}")
    return hits


def _git_objects_text(git_dir: Path) -> str:
    """Every object's content, packed or loose (zlib hides plain-text hits from a byte grep)."""
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        check=True,
    ).stdout
    return out.decode("utf-8", "replace")


@pytest.mark.slow
@pytest.mark.github
def test_no_credential_reaches_a_manifest_tag_cache_store_or_message(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, bare = team.repo, team.bare
    # The clone's origin carries a token in its URL (as CI checkouts often do); git is told to reach
    # it at the local bare repo, so mreg sees the credentialed URL and git still works offline.
    token_url = f"https://x-access-token:{URL_TOKEN}@github.com/acme/models.git"
    subprocess.run(["git", "remote", "set-url", "origin", token_url], cwd=repo, check=True)
    subprocess.run(["git", "config", f"url.{bare}.insteadOf", token_url], cwd=repo, check=True)
    team.gh.tokens[ENV_TOKEN] = "write"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    outputs: list[Result] = []

    def mreg(*args: str, expect: int | None = 0) -> Result:
        r = team.mreg(*args, token=ENV_TOKEN)
        outputs.append(r)
        if expect is not None:
            assert r.code == expect, (args, r.err)
        return r

    model = tmp_path / "m"
    model.mkdir()
    (model / "w.bin").write_bytes(b"w" * 1000)
    lock = tmp_path / "requirements.txt"
    lock.write_text("numpy==2.0\n")
    mreg(
        "register",
        "fraud",
        str(model),
        "--metric",
        "auc=0.9",
        "--param",
        "lr=0.1",
        "--lockfile",
        str(lock),
        "--data",
        f"train={model}",
        "-m",
        "first",
    )
    (model / "w.bin").write_bytes(b"x" * 1000)
    mreg(
        "register",
        "fraud",
        str(model),
        "--metric",
        "auc=0.95",
        "--metric",
        "latency_ms=10",
        "--data",
        "train=s3://b/t.parquet",
    )
    mreg("register", "fraud", str(model), "--param", "password=x", expect=2)
    mreg(
        "register",
        "fraud",
        str(model),
        "--data",
        f"train=https://user:{URL_TOKEN}@example.com/d.csv",
        expect=2,
    )
    mreg("promote", "fraud@v1", "--to", "staging", "--reason", "try")
    mreg(
        "promote", "fraud@v1", "--to", "production", "--no-review", expect=2
    )  # refused: the registry has a remote
    mreg(
        "promote", "fraud@v2", "--to", "production"
    )  # a protected move: a PR on the fake GitHub, with the token
    for args in (
        ["list"],
        ["show", "fraud@v2"],
        ["resolve", "fraud@production", "--json"],
        ["log", "fraud"],
        ["diff", "fraud@v1", "fraud@v2"],
        ["verify"],
        ["gate", "fraud@v2", "--to", "production"],
        ["pull", "fraud@v1", "-o", str(tmp_path / "out")],
        ["gc", "--dry-run"],
        ["apply", "--dry-run"],
        ["check"],
    ):
        mreg(*args, expect=None)
    r = mreg("resolve", "fraud@v2", "--json")
    assert json.loads(r.out)["manifest"]["source"]["repository"] == "https://github.com/acme/models.git"
    assert all("Traceback" not in o.err for o in outputs)

    printed = [f"{i}: {s}" for i, o in enumerate(outputs) for s in SECRETS if s in o.out or s in o.err]
    assert printed == []
    git_dir = repo / ".git"
    assert _grep_tree(git_dir, skip={git_dir / "config"}) == []  # refs, logs, mreg store, caches
    assert _grep_tree(bare) == []
    assert not [s for s in SECRETS if s in _git_objects_text(git_dir)], "a credential is inside a git object"
    assert not [s for s in SECRETS if s in _git_objects_text(bare)], "a credential reached the remote"
    assert _grep_tree(Path.home()) == []  # the user cache (~/.cache/mreg) and anything else under HOME
    assert _grep_tree(tmp_path / "out") == []


def test_unreachable_credentialed_remote_is_named_without_its_token(
    repo: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file:https:http")
    monkeypatch.setenv("GITHUB_TOKEN", ENV_TOKEN)
    for url in (f"https://oauth2:{URL_TOKEN}@127.0.0.1:9/acme/models.git",):
        subprocess.run(["git", "remote", "remove", "origin"], cwd=repo, capture_output=True)
        subprocess.run(["git", "remote", "add", "origin", url], cwd=repo, check=True)
        for args in (
            ["register", "fraud", str(model_dir)],
            ["resolve", "fraud"],
            ["list"],
            ["promote", "fraud@v1", "--to", "staging"],
        ):
            r = run_mreg(*args, cwd=repo, timeout=60)
            assert r.code == 6, (args, r.code, r.err)
            assert "Traceback" not in r.err and len(r.err.strip().splitlines()) <= 2
            assert URL_TOKEN not in r.err + r.out and ENV_TOKEN not in r.err + r.out, r.err
            assert "127.0.0.1" in r.err or "origin" in r.err  # it still says where
    assert _grep_tree(repo / ".git", skip={repo / ".git" / "config"}) == []
