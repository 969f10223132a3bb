"""Bad input (issue 2, SPEC §2, §8): the SPEC's exit code, one plain message naming the bad part,
no traceback, and a registry (refs and store) exactly as it was."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.env import isolate
from testing.gitutil import Result, make_repo, refs, run_mreg, snapshot_store


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One registry holding fraud@v1 for every test here: none of them may change it."""
    root = tmp_path_factory.mktemp("bad-input")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, root / "home")
        repo = root / "repo"
        make_repo(repo)
        from mreg import Registry

        Registry.open(repo).init()
        model = root / "model"
        model.mkdir()
        (model / "w.bin").write_bytes(b"weights")
        Registry.open(repo).register("fraud", [model], metrics=["auc=0.9"])
    yield repo


@pytest.fixture
def files(tmp_path: Path) -> Path:
    d = tmp_path / "inputs"
    d.mkdir()
    (d / "w.bin").write_bytes(b"new weights")
    (d / "empty").mkdir()
    (d / "bad.yaml").write_text("lr: [0.1,\nx: 1\n")
    (d / "bad.json").write_text('{"auc": }')
    (d / "words.yaml").write_text("auc: high\n")
    (d / "nan.yaml").write_text("auc: .nan\n")
    (d / "nan.json").write_text('{"auc": NaN}')
    (d / "inf.json").write_text('{"auc": Infinity}')
    (d / "list.yaml").write_text("- 0.9\n- 0.8\n")
    (d / "bool.yaml").write_text("auc: true\n")
    (d / "latin1.yaml").write_bytes("lr: 0.1\nname: caf\xe9\n".encode("latin-1"))
    (d / "python.yaml").write_text("lr: !!python/object/apply:os.getcwd []\n")
    return d


def _snapshot(repo: Path) -> tuple[dict[str, str], dict[str, int]]:
    return refs(repo), snapshot_store(repo / ".git" / "mreg" / "objects")


def assert_refused(r: Result, code: int, *names: str) -> None:
    assert r.code == code, (r.code, r.out, r.err)
    assert "Traceback" not in r.err + r.out
    lines = r.err.strip().splitlines()
    assert 1 <= len(lines) <= 2, r.err
    assert lines[0].startswith("mreg: error: "), r.err
    for name in names:
        assert name in lines[0], (name, r.err)


def refused_unchanged(
    repo: Path, code: int, names: tuple[str, ...], *args: str, cwd: Path | None = None
) -> Result:
    before = _snapshot(repo)
    r = run_mreg(*args, cwd=cwd or repo)
    assert_refused(r, code, *names)
    assert _snapshot(repo) == before, "a refused command changed the registry"
    return r


# -- names and references ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Fraud", "a..b", "-fraud", "a" * 65, "a.lock", "", "fraud/../x"])
def test_register_invalid_model_name_exits_2_naming_it(frozen: Path, files: Path, name: str) -> None:
    refused_unchanged(
        frozen, 2, ("invalid model name", repr(name)), "register", "--", name, str(files / "w.bin")
    )


@pytest.mark.parametrize(
    ("ref", "part"),
    [
        ("fraud@", "nothing after '@'"),
        ("fraud@v0", "'v0'"),
        ("fraud@-x", "'-x'"),
        ("fraud@@v1", "more than one '@'"),
        ("@v1", "missing model name"),
    ],
)
def test_resolve_invalid_reference_exits_2_naming_the_bad_part(frozen: Path, ref: str, part: str) -> None:
    refused_unchanged(frozen, 2, (part,), "resolve", "--", ref)


@pytest.mark.parametrize("alias", ["latest", "v3"])
def test_promote_to_reserved_alias_exits_2(frozen: Path, alias: str) -> None:
    refused_unchanged(frozen, 2, ("reserved", repr(alias)), "promote", "fraud@v1", "--to", alias)


def test_promote_to_invalid_alias_exits_2(frozen: Path) -> None:
    refused_unchanged(frozen, 2, ("invalid alias", "'Prod'"), "promote", "fraud@v1", "--to", "Prod")


def test_resolve_unknown_version_exits_3_naming_latest(frozen: Path) -> None:
    refused_unchanged(frozen, 3, ("v9", "latest is v1"), "resolve", "fraud@v9")


@pytest.mark.parametrize(
    "command", [("resolve", "nosuch"), ("show", "nosuch@v1"), ("pull", "nosuch"), ("log", "nosuch")]
)
def test_unknown_model_exits_3(frozen: Path, command: tuple[str, ...]) -> None:
    refused_unchanged(frozen, 3, ("'nosuch'",), *command)


def test_resolve_unknown_alias_exits_3(frozen: Path) -> None:
    refused_unchanged(frozen, 3, ("'production'",), "resolve", "fraud@production")


def test_register_unknown_parent_exits_3_and_stores_nothing(frozen: Path, files: Path) -> None:
    refused_unchanged(frozen, 3, ("v7",), "register", "fraud", str(files / "w.bin"), "--parent", "fraud@v7")


@pytest.mark.parametrize(
    ("parent", "code", "part"),
    [
        ("fraud@v7", 3, "--parent fraud@v7: model 'fraud' has no version v7 (latest is v1)"),
        ("nosuch@v1", 3, "--parent nosuch@v1: no model named 'nosuch'"),
        ("fraud@production", 3, "--parent fraud@production: model 'fraud' has no alias 'production'"),
        ("Fraud@v1", 2, "--parent: invalid model name 'Fraud'"),
        ("hf://org/my model", 2, "not a URI"),
        ("hf://org/\x1bmodel", 2, "not a URI"),
        ("https://user:secret@example.com/m", 2, "credentials"),
    ],
)
def test_register_bad_parent_is_one_line_naming_it(
    frozen: Path, files: Path, parent: str, code: int, part: str
) -> None:
    r = refused_unchanged(
        frozen, code, (part,), "register", "fraud", str(files / "w.bin"), "--parent", parent
    )
    assert "secret" not in r.err


@pytest.mark.parametrize(
    ("args", "code", "part"),
    [
        ((), 2, "lineage needs REF"),
        (("fraud", "--dataset", "s3://b/k"), 2, "without REF"),
        (("--down", "--dataset", "s3://b/k"), 2, "without REF"),
        (("--dataset", "sha256:abc"), 2, "not a digest"),
        (("hf://org/model",), 2, "has no parents in this registry"),
        (("hf://org/my model", "--down"), 2, "not a URI"),
        (("fraud", "--format", "xml"), 2, "--format 'xml'"),
        (("fraud", "--json", "--format", "openlineage"), 2, "choose one"),
        (("nosuch",), 3, "'nosuch'"),
        (("fraud@v9",), 3, "latest is v1"),
        (("fraud@production", "--down"), 3, "'production'"),
    ],
)
def test_lineage_bad_input_is_one_line_naming_it(
    frozen: Path, args: tuple[str, ...], code: int, part: str
) -> None:
    refused_unchanged(frozen, code, (part,), "lineage", *args)


# -- paths ---------------------------------------------------------------------------------------------


def test_register_missing_path_exits_2_naming_it(frozen: Path, files: Path) -> None:
    missing = files / "nope.bin"
    refused_unchanged(frozen, 2, (str(missing),), "register", "fraud", str(files / "w.bin"), str(missing))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_register_unreadable_path_exits_2_naming_it(frozen: Path, files: Path) -> None:
    locked = files / "locked.bin"
    locked.write_bytes(b"secret")
    locked.chmod(0)
    refused_unchanged(frozen, 2, ("locked.bin", "permission denied"), "register", "fraud", str(locked))


def test_register_empty_directory_exits_2(frozen: Path, files: Path) -> None:
    refused_unchanged(frozen, 2, ("empty", "no files"), "register", "fraud", str(files / "empty"))


def test_register_same_artifact_path_twice_exits_2(frozen: Path, files: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "w.bin").write_bytes(b"other")
    refused_unchanged(
        frozen, 2, ("'w.bin'", "twice"), "register", "fraud", str(files / "w.bin"), str(other / "w.bin")
    )


def test_register_missing_lockfile_exits_2(frozen: Path, files: Path) -> None:
    refused_unchanged(
        frozen,
        2,
        ("--lockfile", "nope.lock"),
        "register",
        "fraud",
        str(files / "w.bin"),
        "--lockfile",
        str(files / "nope.lock"),
    )


def test_register_missing_local_data_exits_2_and_stores_nothing(frozen: Path, files: Path) -> None:
    refused_unchanged(
        frozen,
        2,
        ("--data", "train"),
        "register",
        "fraud",
        str(files / "w.bin"),
        "--data",
        f"train={files / 'nope.csv'}",
    )


def test_register_data_uri_with_credentials_exits_2_and_stores_nothing(frozen: Path, files: Path) -> None:
    r = refused_unchanged(
        frozen,
        2,
        ("--data", "credentials"),
        "register",
        "fraud",
        str(files / "w.bin"),
        "--data",
        "lake=https://u:s3cret@example.com/d",
    )
    assert "s3cret" not in r.err


def test_register_image_with_whitespace_exits_2(frozen: Path, files: Path) -> None:
    refused_unchanged(
        frozen, 2, ("--image",), "register", "fraud", str(files / "w.bin"), "--image", "not an image"
    )


def test_pull_output_that_is_a_file_exits_2(frozen: Path, files: Path) -> None:
    refused_unchanged(
        frozen, 2, ("-o", "w.bin", "not a directory"), "pull", "fraud@v1", "-o", str(files / "w.bin")
    )


# -- params and metrics --------------------------------------------------------------------------------


def api_refused(repo: Path, code: int, words: tuple[str, ...], *paths: Path, **options: object) -> None:
    """The same check in-process, through the Python API (SPEC §10): a typed error, nothing written."""
    from mreg import MregError, Registry

    before = _snapshot(repo)
    with pytest.raises(MregError) as exc:
        Registry.open(repo).register("fraud", list(paths), **options)
    assert exc.value.exit_code == code, exc.value.message
    assert "\n" not in exc.value.message
    for word in words:
        assert word in exc.value.message, (word, exc.value.message)
    assert _snapshot(repo) == before, "a refused register changed the registry"


@pytest.mark.parametrize(
    ("flag", "name", "words"),
    [
        ("--params", "bad.yaml", ("bad.yaml", "invalid YAML", "line")),
        ("--metrics", "bad.yaml", ("bad.yaml", "invalid YAML")),
        ("--params", "bad.json", ("bad.json", "invalid JSON")),
        ("--metrics", "bad.json", ("bad.json", "invalid JSON")),
        ("--metrics", "words.yaml", ("words.yaml", "'auc'", "not a number")),
        ("--metrics", "bool.yaml", ("bool.yaml", "'auc'", "not a number")),
        ("--metrics", "nan.yaml", ("nan.yaml", "'auc'", "finite")),
        ("--metrics", "nan.json", ("nan.json", "'auc'")),
        ("--metrics", "inf.json", ("inf.json", "'auc'")),
        ("--metrics", "list.yaml", ("list.yaml", "mapping")),
        ("--params", "list.yaml", ("list.yaml", "mapping")),
        ("--params", "latin1.yaml", ("latin1.yaml", "UTF-8")),
        ("--params", "python.yaml", ("python.yaml",)),
        ("--params", "missing.yaml", ("missing.yaml", "no such file")),
        ("--params", "empty", ("empty", "directory")),
    ],
)
def test_register_malformed_params_or_metrics_file_is_bad_input_naming_it(
    frozen: Path, files: Path, flag: str, name: str, words: tuple[str, ...]
) -> None:
    key = "params_files" if flag == "--params" else "metrics_files"
    api_refused(frozen, 2, (flag, *words), files / "w.bin", **{key: [str(files / name)]})


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("metrics", "auc=high", ("--metric", "auc", "not a number")),
        ("metrics", "auc=nan", ("--metric", "auc")),
        ("metrics", "auc=inf", ("--metric", "auc")),
        ("metrics", "auc=true", ("--metric", "auc")),
        ("metrics", "auc", ("--metric", "'auc'", "KEY=VALUE")),
        ("params", "lr", ("--param", "'lr'", "KEY=VALUE")),
        ("params", "=0.1", ("--param", "KEY=VALUE")),
        ("data", "train", ("--data", "KEY=VALUE")),
    ],
)
def test_register_bad_flag_value_is_bad_input_naming_it(
    frozen: Path, files: Path, option: str, value: str, words: tuple[str, ...]
) -> None:
    api_refused(frozen, 2, words, files / "w.bin", **{option: [value]})


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--params", "bad.yaml"), ("--params", "bad.yaml", "invalid YAML")),
        (("--metrics", "words.yaml"), ("--metrics", "words.yaml", "'auc'", "not a number")),
        (("--metrics", "nan.json"), ("--metrics", "nan.json", "'auc'")),
        (("--metrics", "list.yaml"), ("--metrics", "list.yaml", "mapping")),
        (("--params", "latin1.yaml"), ("--params", "latin1.yaml", "UTF-8")),
        (("--metric", "auc=nan"), ("--metric", "auc")),
        (("--param", "lr"), ("--param", "'lr'", "KEY=VALUE")),
    ],
)
def test_register_cli_bad_params_or_metrics_exit_2_with_one_line(
    frozen: Path, files: Path, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    flag, value = args
    if flag in ("--params", "--metrics"):
        value = str(files / value)
    refused_unchanged(frozen, 2, words, "register", "fraud", str(files / "w.bin"), flag, value)


# -- time travel -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["yesterday", "2026-13-45", "5 days"])
def test_resolve_unparsable_at_exits_2_naming_it(frozen: Path, when: str) -> None:
    refused_unchanged(frozen, 2, ("--at", repr(when)), "resolve", "fraud", "--at", when)


def test_resolve_at_before_registry_existed_exits_3(frozen: Path) -> None:
    refused_unchanged(frozen, 3, ("did not exist",), "resolve", "fraud", "--at", "2001-01-01")


# -- repositories ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [("init",), ("list",), ("resolve", "fraud"), ("register", "fraud", "w.bin")]
)
def test_command_outside_a_git_repo_exits_2(tmp_path: Path, command: tuple[str, ...]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "w.bin").write_bytes(b"w")
    r = run_mreg(*command, cwd=plain)
    assert_refused(r, 2, "not inside a git repository")
    assert not (plain / ".git").exists()


def test_repo_option_that_does_not_exist_exits_2(tmp_path: Path) -> None:
    r = run_mreg("list", "--repo", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert_refused(r, 2, "nowhere")


@pytest.mark.parametrize(
    "command",
    [
        ("list",),
        ("resolve", "fraud"),
        ("show", "fraud"),
        ("pull", "fraud"),
        ("verify",),
        ("register", "fraud", "w.bin"),
    ],
)
def test_command_in_uninitialised_repo_exits_3_with_init_hint(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    repo = tmp_path / "fresh"
    make_repo(repo)
    (repo / "w.bin").write_bytes(b"w")
    before = refs(repo)
    r = run_mreg(*command, cwd=repo)
    assert r.code == 3, r
    assert "Traceback" not in r.err
    assert "no mreg registry" in r.err and "mreg init" in r.err
    assert refs(repo) == before
    assert not (repo / ".git" / "mreg" / "objects").exists() or not snapshot_store(
        repo / ".git" / "mreg" / "objects"
    )


def test_register_bad_input_in_uninitialised_repo_reports_bad_input_first(tmp_path: Path) -> None:
    repo = tmp_path / "fresh"
    make_repo(repo)
    r = run_mreg("register", "Fraud", "nothing", cwd=repo)
    assert_refused(r, 2, "'Fraud'")


@pytest.mark.parametrize(
    "args,named",
    [
        (["resolve", "fraud", "--bogus"], "--bogus"),
        (["log"], "MODEL"),
        (["nosuch"], "nosuch"),
        (["pull", "fraud", "-j", "0"], "--jobs"),
        (["promote", "fraud@v1"], "--to"),
    ],
)
def test_usage_errors_are_one_line_and_a_hint(frozen: Path, args: list[str], named: str) -> None:
    """SPEC §8: one or two plain lines, exit 2 — not click's four-line usage block."""
    before = refs(frozen)
    r = run_mreg(*args, cwd=frozen)
    lines = r.err.splitlines()
    assert r.code == 2 and len(lines) == 2, r.err
    assert lines[0].startswith("mreg: error: ") and named in lines[0]
    assert lines[1].startswith("  hint: run 'mreg") and lines[1].endswith("--help' for usage")
    assert refs(frozen) == before
