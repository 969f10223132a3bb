"""Hostile input, round two (issue 11): what a collaborator with push rights, or a crafted file, can
put in front of mreg. Each case ends in a one-line error with its SPEC §8 exit code, or in output
where the hostile bytes are shown escaped — never a crash, an injected line, a secret on disk."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from mreg.manifest import artifact_set_digest, dump_manifest
from testing.fake_github import push_files, show
from testing.gitutil import refs, run_mreg
from testing.team import Team

ESC = "\x1b"
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")


def _no_raw_control(text: str) -> None:
    assert not RAW_CONTROL.search(text), repr(text[:400])


def _git(repo: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, input=input
    ).stdout.strip()


def _manifest(repo: Path, version: int = 1) -> dict:
    return dict(yaml.safe_load(_git(repo, "show", f"mreg/registry:models/fraud/versions/{version}.yaml")))


def _registered(repo: Path, model_dir: Path) -> Path:
    r = run_mreg("register", "fraud", str(model_dir), cwd=repo)
    assert r.code == 0, r.err
    return repo


def _tag(repo: Path, name: str, message: str, target: str = "mreg/registry") -> None:
    _git(repo, "tag", "-a", "-F", "-", name, target, input=message)


def _record(alias: str, version: object, digest: object, **extra: object) -> str:
    rec = {
        "event": "promote",
        "model": "fraud",
        "alias": alias,
        "version": version,
        "digest": digest,
        **extra,
    }
    return f"promote fraud to {alias}\n\n" + "\n".join(f"{k}: {json.dumps(v)}" for k, v in rec.items()) + "\n"


# -- crashes that blocked everyone ------------------------------------------------------------------
@pytest.mark.slow
def test_unicode_digits_and_odd_records_crash_nothing(repo: Path, model_dir: Path) -> None:
    _registered(repo, model_dir)
    digest = _manifest(repo)["digest"]
    _tag(repo, "mreg/fraud/staging/²", _record("staging", 1, digest))
    _tag(repo, "mreg/fraud/production/²", _record("production", 1, digest))
    _tag(repo, "mreg/fraud/canary/1", _record("canary", 1, ["a"]))
    _tag(repo, "mreg/fraud/canary/2", _record("canary", "1", digest))
    push_files(
        repo,
        "mreg/registry",
        {"models/fraud/versions/².yaml": "x: 1\n", "models/fraud/versions/999999999.yaml\n": "x: 1\n"},
        "register fraud v²",
    )
    for args in (
        ["list"],
        ["check"],
        ["show", "fraud"],
        ["log", "fraud"],
        ["resolve", "fraud"],
        ["resolve", "fraud@staging"],
        ["resolve", "fraud@production"],
        ["resolve", "fraud@canary"],
        ["gate", "fraud@v1", "--to", "production"],
    ):
        r = run_mreg(*args, cwd=repo)
        assert r.code in (0, 1, 3), (args, r.err)
        assert "internal error" not in r.err and "Traceback" not in r.err, (args, r.err)
    assert run_mreg("resolve", "fraud", cwd=repo).out.strip() == "fraud@v1"  # no v999999999, no v²
    r = run_mreg("check", cwd=repo)
    assert "mreg/fraud/staging/² has a non-canonical seq" in r.out
    d = model_dir.parent / "m2"
    d.mkdir()
    (d / "w.bin").write_bytes(b"2")
    assert run_mreg("register", "fraud", str(d), cwd=repo).out.strip() == "fraud@v2"


def test_a_file_and_a_directory_of_the_same_name_is_an_invalid_manifest(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    _registered(repo, model_dir)
    m = _manifest(repo)
    art = m["artifacts"][0]
    arts = [{**art, "path": "a"}, {**art, "path": "a/b"}]
    doc = {**m, "version": 2, "artifacts": arts, "digest": artifact_set_digest(arts)}
    push_files(
        repo,
        "mreg/registry",
        {"models/fraud/versions/2.yaml": dump_manifest(doc).decode()},
        "register fraud v2",
    )
    out = tmp_path / "out"
    r = run_mreg("pull", "fraud@v2", "-o", str(out), cwd=repo)
    assert r.code == 5 and "both a file and a directory" in r.err and not out.exists()
    assert "both a file and a directory" in run_mreg("check", cwd=repo).out


def test_a_store_that_cannot_be_reached_is_exit_6(repo: Path, model_dir: Path) -> None:
    r = run_mreg("register", "fraud", str(model_dir), cwd=repo, env={"MREG_STORE": "ftp://nowhere.invalid/x"})
    assert r.code == 6 and "unreachable" in r.err and "Traceback" not in r.err


# -- output injection -------------------------------------------------------------------------------
@pytest.mark.slow
def test_terminal_output_shows_control_characters_escaped(repo: Path, tmp_path: Path) -> None:
    d = tmp_path / "evil"
    (d / "x\nfake  row").mkdir(parents=True)
    (d / "x\nfake  row" / f"w{ESC}[2J.bin").write_bytes(b"1")
    r = run_mreg(
        "register",
        "fraud",
        str(d),
        "-m",
        f"hi{ESC}]0;owned\x07\rREVIEWED",
        "--param",
        f"lr{ESC}[31m=0.1",
        "--metric",
        f"auc{ESC}[1A=0.9",
        "--data",
        f"train=s3://b/x{ESC}[2K.csv",
        cwd=repo,
    )
    assert r.code == 0, r.err
    assert (
        run_mreg(
            "promote",
            "fraud@v1",
            "--to",
            "staging",
            "--reason",
            f"ok{ESC}[1A{ESC}[2Kpromote production -> v9",
            cwd=repo,
        ).code
        == 0
    )
    (d / "x\nfake  row" / f"w{ESC}[2J.bin").write_bytes(b"2")
    assert run_mreg("register", "fraud", str(d), cwd=repo).code == 0
    for args in (
        ["show", "fraud@v1"],
        ["log", "fraud"],
        ["list"],
        ["diff", "fraud@v1", "fraud@v2"],
        ["check"],
        ["resolve", "fraud@staging"],
    ):
        r = run_mreg(*args, cwd=repo)
        assert r.code in (0, 1), (args, r.err)
        _no_raw_control(r.out)
        _no_raw_control(r.err)
    show_out = run_mreg("show", "fraud@v1", cwd=repo).out
    assert "\\x1b" in show_out and "\\r" in show_out
    log = run_mreg("log", "fraud", cwd=repo).out.splitlines()
    assert len(log) == 2 + 3  # header, rule, two registrations, one move: no injected row
    assert len(run_mreg("list", cwd=repo).out.splitlines()) == 3


def test_under_actions_no_hostile_line_becomes_a_workflow_command(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    _registered(repo, model_dir)
    m = _manifest(repo)
    art = m["artifacts"][0]
    evil_path = "w\n::add-mask::x\n::stop-commands::abc\n::error::fake ![img](https://evil.example/x.png) [link](https://evil.example)"
    arts = [{**art, "path": evil_path}]
    doc = {
        **m,
        "version": 2,
        "artifacts": arts,
        "digest": artifact_set_digest(arts),
        "message": "<!-- hide -->",
    }
    push_files(
        repo,
        "mreg/registry",
        {"models/fraud/versions/2.yaml": dump_manifest(doc).decode()},
        "register fraud v2",
    )
    summary = tmp_path / "summary.md"
    r = run_mreg("check", cwd=repo, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert r.code == 1
    commands = [line for line in r.out.splitlines() if line.startswith("::")]
    assert commands and all(line.startswith("::error ") or line.startswith("::error::") for line in commands)
    assert not any("::add-mask::" in line[2:].split("::", 1)[0] for line in commands)
    assert not re.search(r"^::(add-mask|stop-commands)", r.out, re.M)
    text = summary.read_text()
    assert "![img](" not in text and "](https://evil" not in text and "https://evil" not in text


@pytest.mark.slow
@pytest.mark.github
def test_a_pull_request_body_escapes_what_came_from_users(team: Team, tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "w.bin").write_bytes(b"1")
    r = run_mreg(
        "register",
        "fraud",
        str(d),
        "--metric",
        "auc=0.9",
        "--metric",
        "latency_ms=1",
        "--data",
        "train=s3://b/t",
        "--param",
        "note=[click](https://evil.example) @acme/everyone ![x](https://evil.example/p.png)",
        cwd=team.repo,
    )
    assert r.code == 0, r.err
    r = team.mreg(
        "promote",
        "fraud@v1",
        "--to",
        "production",
        "--reason",
        "fine <!-- the gate table is below, hidden",
    )
    assert r.code == 0, r.err
    body = team.gh.pulls[1]["body"]
    assert "<!-- the gate" not in body and "&lt;\\!-- the gate" in body
    assert "[click](https" not in body and "![x]" not in body and "@acme/everyone" not in body
    assert "### Gate for `production`" in body


# -- secrets ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--data", "train=https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&X-Amz-Credential=def"],
            "credentials",
        ),
        (["--param", "dbPassword=x"], "dbPassword"),
        (["--param", "githubToken=x"], "githubToken"),
        (["--param", "wandb_key=x"], "wandb_key"),
        (["--param", "credentials=x"], "credentials"),
        (["--param", "db=postgresql://admin:hunter2@db.internal/x"], "credentials"),
        (["--param", "src=https://h.example/x?access_token=abc"], "credentials"),
    ],
)
def test_secret_looking_inputs_are_refused(repo: Path, model_dir: Path, args: list[str], needle: str) -> None:
    before = refs(repo)
    r = run_mreg("register", "fraud", str(model_dir), *args, cwd=repo)
    assert r.code == 2 and needle in r.err
    assert "hunter2" not in r.err and "abc" not in r.err
    assert refs(repo) == before


def test_innocent_names_still_pass(repo: Path, model_dir: Path) -> None:
    r = run_mreg(
        "register",
        "fraud",
        str(model_dir),
        "--param",
        "max_tokens=5",
        "--param",
        "rng_key=1",
        "--param",
        "tokenizer=gpt2",
        "--param",
        "url=https://h.example/x?tokenizer=gpt2",
        cwd=repo,
    )
    assert r.code == 0, r.err


@pytest.mark.slow
def test_query_string_secrets_never_reach_a_manifest_or_config(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    _git(
        repo,
        "remote",
        "add",
        "origin",
        "https://github.example/acme/models.git?access_token=s3cr3t#token=t0k",
    )
    r = run_mreg("register", "fraud", str(model_dir), "--offline", cwd=repo)
    assert r.code == 0, r.err
    assert _manifest(repo)["source"]["repository"] == "https://github.example/acme/models.git"
    r = run_mreg("init", "--store", "s3://bucket/prefix?token=s3cr3t", "--offline", cwd=repo)
    assert r.code == 2
    cache = tmp_path / "cache"
    r = run_mreg(
        "resolve",
        "fraud",
        "--registry",
        "https://user:s3cr3t@127.0.0.1:1/x.git",
        cwd=repo,
        env={"XDG_CACHE_HOME": str(cache)},
    )
    assert r.code == 6 and "s3cr3t" not in r.err
    found = [p for p in cache.rglob("*") if p.is_file() and b"s3cr3t" in p.read_bytes()]
    assert found == []


# -- memory and size ----------------------------------------------------------------------------------
def test_a_huge_object_named_as_a_package_lock_is_not_read(repo: Path, model_dir: Path) -> None:
    _registered(repo, model_dir)
    store = repo / ".git" / "mreg" / "objects"
    big = os.urandom(5 * 1024 * 1024)
    import hashlib

    digest = "sha256:" + hashlib.sha256(big).hexdigest()
    obj = store / "sha256" / digest[7:9] / digest[9:]
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(big)
    m = _manifest(repo)
    doc = {**m, "version": 2, "environment": {**m["environment"], "packages": digest}}
    push_files(
        repo,
        "mreg/registry",
        {"models/fraud/versions/2.yaml": dump_manifest(doc).decode()},
        "register fraud v2",
    )
    r = run_mreg("diff", "fraud@v1", "fraud@v2", "--json", cwd=repo)
    assert r.code == 0, r.err
    assert "more than a lock can be" in json.loads(r.out)["packages_unavailable"]


@pytest.mark.slow
def test_an_alias_bomb_of_big_strings_is_refused_before_it_is_built(repo: Path, model_dir: Path) -> None:
    _registered(repo, model_dir)
    text = yaml.safe_dump(_manifest(repo), sort_keys=False).replace("version: 1", "version: 2")
    text += "labels:\n  a: &s " + "x" * (1024 * 1024) + "\n  b: [" + ", ".join(["*s"] * 40) + "]\n"
    push_files(repo, "mreg/registry", {"models/fraud/versions/2.yaml": text}, "register fraud v2")
    for args in (["show", "fraud@v2"], ["resolve", "fraud@v2", "--json"], ["check"]):
        r = run_mreg(*args, cwd=repo)
        assert r.code in (1, 5) and "MemoryError" not in r.err, (args, r.err)
    assert "aliases repeat too much" in run_mreg("show", "fraud@v2", cwd=repo).err


@pytest.mark.slow
def test_register_refuses_a_manifest_every_reader_would_refuse(repo: Path, tmp_path: Path) -> None:
    d = tmp_path / "many"
    d.mkdir()
    name = "f" * 200
    for i in range(32_000):
        (d / f"{name}{i}").write_bytes(b"")
    store = repo / ".git" / "mreg" / "objects"
    before = refs(repo)
    r = run_mreg("register", "fraud", str(d), cwd=repo)
    assert r.code == 2 and "readers refuse more than 8 MiB" in r.err and "archive" in r.err
    assert refs(repo) == before and not any(p.is_file() for p in store.rglob("*")) if store.exists() else True


@pytest.mark.slow
def test_nan_and_yaml_only_values_in_a_manifest_are_invalid(repo: Path, model_dir: Path) -> None:
    _registered(repo, model_dir)
    text = yaml.safe_dump(_manifest(repo), sort_keys=False).replace("version: 1", "version: 2")
    for extra, needle in (
        ("metrics:\n  auc: .nan\n", "finite"),
        ("params:\n  1: x\n", "not a string"),
        ("params:\n  when: 2026-01-01\n", "plain data"),
    ):
        body = re.sub(r"^(metrics|params):.*?(?=^\S)", "", text, flags=re.S | re.M) + extra
        push_files(repo, "mreg/registry", {"models/fraud/versions/2.yaml": body}, "register fraud v2")
        r = run_mreg("show", "fraud@v2", "--json", cwd=repo)
        assert r.code == 5 and needle in r.err, (extra, r.err)
        assert "NaN" not in r.out


def test_an_empty_validation_marker_is_not_a_pass(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    _registered(repo, model_dir)
    cache = tmp_path / "cache"
    env = {"XDG_CACHE_HOME": str(cache)}
    text = yaml.safe_dump({**_manifest(repo), "version": 2, "digest": "sha256:" + "0" * 64}, sort_keys=False)
    push_files(repo, "mreg/registry", {"models/fraud/versions/2.yaml": text}, "register fraud v2")
    assert run_mreg("show", "fraud@v2", cwd=repo, env=env).code == 5
    for marker_dir in (cache / "mreg" / "validated").glob("*"):
        for marker in marker_dir.iterdir():
            marker.write_bytes(b"")
    # forge a marker for the invalid bytes too: an empty file where a pass would be remembered
    from mreg.cache.valid import _key
    from mreg.manifest import MANIFEST_SCHEMA

    key = _key(text.encode(), MANIFEST_SCHEMA)
    forged = cache / "mreg" / "validated" / key[:2] / key[2:]
    forged.parent.mkdir(parents=True, exist_ok=True)
    forged.write_bytes(b"")
    assert run_mreg("show", "fraud@v2", cwd=repo, env=env).code == 5


def test_a_huge_tag_message_is_ignored_not_read(repo: Path, model_dir: Path) -> None:
    _registered(repo, model_dir)
    digest = _manifest(repo)["digest"]
    _tag(repo, "mreg/fraud/staging/1", _record("staging", 1, digest, reason="x" * (200 * 1024)))
    r = run_mreg("resolve", "fraud@staging", cwd=repo)
    assert r.code == 3
    assert "more than a tag record may be" in run_mreg("check", cwd=repo).out


# -- gate --------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.github
def test_gate_changed_fails_a_promotion_that_also_loosens_protection(team: Team) -> None:
    team.register({"auc": 0.9, "latency_ms": 10})
    base = _git(team.bare, "rev-parse", "mreg/aliases")
    policy = yaml.safe_load(show(team.bare, "mreg/aliases:models/fraud.yaml"))
    digest = json.loads(team.mreg("resolve", "fraud@v1", "--json").out)["manifest"]["digest"]
    policy["aliases"] = {"production": {"version": 1, "digest": digest}}
    config = (
        show(team.bare, "mreg/aliases:mreg.yaml")
        .replace("- production", "[]")
        .replace("protected_aliases:\n", "protected_aliases: ")
    )
    head = push_files(
        team.bare,
        "mreg/aliases",
        {"models/fraud.yaml": yaml.safe_dump(policy), "mreg.yaml": config},
        "sneaky",
    )
    assert team.mreg("check").code in (0, 1)  # fetch the branch
    r = team.mreg("gate", "--changed", "--base", base, "--head", head)
    assert (
        r.code == 1
        and "mreg.yaml: loosens protection: FAILED" in r.out
        and "no longer protects production" in r.out
    )
    # alone, the same change is shown to reviewers but does not block
    head2 = push_files(
        team.bare,
        "mreg/aliases",
        {"models/fraud.yaml": show(team.bare, f"{base}:models/fraud.yaml")},
        "only config",
    )
    team.mreg("check")
    r = team.mreg("gate", "--changed", "--base", head, "--head", head2)
    assert r.code == 0


@pytest.mark.slow
def test_an_oversized_manifest_is_refused_without_being_read(repo: Path, model_dir: Path) -> None:
    _registered(repo, model_dir)
    text = yaml.safe_dump({**_manifest(repo), "version": 2}) + "# " + "x" * (20 * 1024 * 1024) + "\n"
    push_files(repo, "mreg/registry", {"models/fraud/versions/2.yaml": text}, "register fraud v2")
    for args in (["show", "fraud@v2"], ["resolve", "fraud", "--json"]):
        r = run_mreg(*args, cwd=repo)
        assert r.code == 5 and "more than the 8 MiB a manifest may be" in r.err, (args, r.err)
    r = run_mreg("check", cwd=repo)
    assert r.code == 1 and "more than the 8 MiB" in r.out


# -- found by a cold review session ------------------------------------------------------------------
@pytest.mark.parametrize("where", [".git", ".git/mreg", ".git/mreg/objects"])
def test_pull_never_replaces_a_repositorys_own_files(repo: Path, model_dir: Path, where: str) -> None:
    _registered(repo, model_dir)
    r = run_mreg("pull", "fraud", "-o", where, cwd=repo)
    assert r.code == 2 and "git repository" in r.err
    assert run_mreg("verify", cwd=repo).code == 0 and (repo / ".git" / "HEAD").is_file()


def test_pull_never_replaces_a_bare_repository(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    _registered(repo, model_dir)
    bare = tmp_path / "b.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    assert run_mreg("pull", "fraud", "-o", str(bare), cwd=repo).code == 2
    assert (bare / "HEAD").is_file()


@pytest.mark.slow
def test_no_value_becomes_a_workflow_command_under_actions(repo: Path, tmp_path: Path) -> None:
    m = tmp_path / "m"
    m.mkdir()
    (m / "::stop-commands::pwn").write_text("x")
    (m / "##[add-mask]fraud").write_text("y")
    assert (
        run_mreg(
            "register",
            "fraud",
            str(m),
            "--metric",
            "::add-mask::auc=1",
            "-m",
            "see ##[stop-commands]tok",
            cwd=repo,
        ).code
        == 0
    )
    (m / "::stop-commands::pwn").write_text("z")
    assert run_mreg("register", "fraud", str(m), cwd=repo).code == 0
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"),
        "GITHUB_OUTPUT": str(tmp_path / "o"),
    }
    for args in (["show", "fraud@v1"], ["diff", "fraud@v1", "fraud@v2"], ["log", "fraud"], ["check"]):
        r = run_mreg(*args, cwd=repo, env=env)
        for line in (r.out + r.err).splitlines():
            assert "##[" not in line, (args, line)
            assert not line.lstrip().startswith("::") or line.startswith("::error "), (args, line)


def test_annotations_and_error_lines_carry_no_raw_control_or_bidi(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    _registered(repo, model_dir)
    push_files(repo, "mreg/registry", {"models/junk": "x\n"}, "stray")
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=ev\x1b[2Jil\u202e",
            "-c",
            "user.email=e@b",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    r = run_mreg(
        "check", cwd=repo, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")}
    )
    assert r.code == 1
    _no_raw_control(r.out)
    r = run_mreg("register", "fraud", "/nonexistent\u202e", cwd=repo)
    assert r.code == 2 and "\u202e" not in r.err and "\\u202e" in r.err


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["register", "fraud", "{model}", "--metric", "auc=" + "9" * 400], 2),
        (["init", "--store", "s3://"], 2),
        (["pull", "fraud", "-o", "a" * 300], 2),
        (["pull", "fraud", "-o", "/proc/x"], 2),
    ],
)
def test_odd_values_are_one_line_errors_not_crashes(
    repo: Path, model_dir: Path, args: list[str], code: int
) -> None:
    _registered(repo, model_dir)
    r = run_mreg(*[a.replace("{model}", str(model_dir)) for a in args], cwd=repo)
    assert r.code == code and "internal error" not in r.err, r.err


@pytest.mark.slow
def test_huge_numbers_in_a_manifest_or_policy_are_invalid_not_crashes(repo: Path, model_dir: Path) -> None:
    _registered(repo, model_dir)
    m = _manifest(repo)
    text = yaml.safe_dump({**m, "version": 2, "metrics": {"auc": 2**70}}, sort_keys=False)
    push_files(repo, "mreg/registry", {"models/fraud/versions/2.yaml": text}, "register fraud v2")
    for args in (["show", "fraud@v2"], ["resolve", "fraud@v2", "--json"], ["diff", "fraud@v1", "fraud@v2"]):
        r = run_mreg(*args, cwd=repo)
        assert r.code == 5 and "64 bits" in r.err, (args, r.err)
    push_files(
        repo,
        "mreg/aliases",
        {
            "models/fraud.yaml": "schema: mreg/model/v1\ngates:\n  staging:\n    - {metric: auc, min: 0x"
            + "f" * 300
            + "}\n"
        },
        "g",
    )
    r = run_mreg("gate", "fraud@v1", "--to", "staging", cwd=repo)
    assert r.code == 5 and "internal error" not in r.err
    assert "64 bits" in run_mreg("check", cwd=repo).out


def test_a_manifest_size_that_lies_is_caught_at_pull(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    _registered(repo, model_dir)
    m = _manifest(repo)
    arts = [{**a, "size": a["size"] + 1} for a in m["artifacts"]]
    doc = {**m, "version": 2, "artifacts": arts, "digest": artifact_set_digest(arts)}
    push_files(
        repo,
        "mreg/registry",
        {"models/fraud/versions/2.yaml": dump_manifest(doc).decode()},
        "register fraud v2",
    )
    r = run_mreg("pull", "fraud@v2", "-o", str(tmp_path / "o"), cwd=repo)
    assert r.code == 5 and "its manifest says" in r.err and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "uri",
    [
        "https://user:pa[SECRET@127.0.0.1/x",
        "https://127.0.0.1/x?a=1;sig=SECRET",
        "https://h.example/x?api-key=SECRET",
    ],
)
def test_credentials_in_odd_urls_are_refused(repo: Path, model_dir: Path, uri: str) -> None:
    r = run_mreg("register", "fraud", str(model_dir), "--data", f"d={uri}", cwd=repo)
    assert r.code == 2 and "SECRET" not in r.err


@pytest.mark.slow
def test_credentials_in_an_unparseable_remote_url_stay_out(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "remote", "add", "origin", "https://user:pa[SECRET@127.0.0.1:1/x.git"],
        check=True,
    )
    assert run_mreg("register", "fraud", str(model_dir), "--offline", cwd=repo).code == 0
    assert "SECRET" not in _git(repo, "show", "mreg/registry:models/fraud/versions/1.yaml")
    cache = tmp_path / "cache"
    r = run_mreg(
        "list",
        "--registry",
        "https://user:SECRET@127.0.0.1:99999/x.git",
        cwd=repo,
        env={"XDG_CACHE_HOME": str(cache)},
    )
    assert r.code != 0 and "SECRET" not in r.err
    assert [p for p in cache.rglob("*") if p.is_file() and b"SECRET" in p.read_bytes()] == []


def test_a_huge_author_name_is_cut_before_log_reads_it(repo: Path, model_dir: Path) -> None:
    _registered(repo, model_dir)
    (model_dir / "weights.bin").write_bytes(b"new")
    r = run_mreg(
        "register",
        "fraud",
        str(model_dir),
        cwd=repo,
        env={"GIT_AUTHOR_NAME": "A" * 100_000, "GIT_COMMITTER_NAME": "A" * 100_000},
    )
    assert r.code == 0
    r = run_mreg("log", "fraud", "--json", cwd=repo)
    assert r.code == 0 and max(len(e["by"]) for e in json.loads(r.out)) < 300


@pytest.mark.slow
def test_a_pipe_as_metrics_file_and_fd_transports_never_hang(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = run_mreg("register", "fraud", str(model_dir), "--metrics", str(fifo), cwd=repo, timeout=30)
    assert r.code == 2 and "not a regular file" in r.err
    r = run_mreg(
        "list", "--registry", "fd::17", cwd=repo, timeout=30, env={"XDG_CACHE_HOME": str(tmp_path / "c")}
    )
    assert r.code != 0 and "internal error" not in r.err
