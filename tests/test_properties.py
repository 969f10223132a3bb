"""Property-based bad input (issue 7): whatever a user types or feeds in a file, mreg either does the
job or refuses with the SPEC §8 exit code and a one-line message; never another exception, never a
traceback, and a refusal changes nothing.

Volume runs in-process (the parsers and `Registry.register`); a smaller sample goes through the real
CLI. derandomize=True: CI runs the same examples every time; the counts tried are printed at the end
of the module (pytest -s) and recorded in docs/security.md.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mreg.cli._report import one_line
from mreg.errors import MregError, NotFoundError, UsageError
from mreg.inputs import build_metrics, build_params, parse_data_refs, parse_pairs
from mreg.refs import MODEL_RE, check_alias, check_model, parse_at, parse_ref, parse_version
from mreg.registry import Registry
from testing.gitutil import make_repo, refs, run_mreg, snapshot_store

TRIED: Counter[str] = Counter()
FAST = settings(
    max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
FILES = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
REGISTRY = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
CLI = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module", autouse=True)
def _print_counts() -> Iterator[None]:
    yield
    print(f"\n[properties] inputs tried: {dict(TRIED)}; total {sum(TRIED.values())}")


# -- strategies ------------------------------------------------------------------------------------
# Text that argv and a file name can carry (no NUL, no lone surrogates), biased towards the
# characters that matter to names, refs and paths.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80)
NAME_CHARS = "abcz019._-@/\\:~^?*[ \n\t.A"
NAMEISH = st.text(st.sampled_from(NAME_CHARS), max_size=70)
TEXT = st.one_of(
    ANY_TEXT,
    NAMEISH,
    st.sampled_from(
        [
            "",
            "a",
            "fraud",
            "Fraud",
            "fraud..v1",
            "..",
            ".",
            "-a",
            "a-",
            "a" * 64,
            "a" * 65,
            "fraud.lock",
            "fraud\n",
            "fraud/../x",
            "/etc/passwd",
            "fraud@",
            "@v1",
            "fraud@v0",
            "fraud@v01",
            "fraud@-1",
            "fraud@v1@v2",
            "fraud@latest",
            "fraud@LATEST",
            "fraud@v999999999",
            "fraud@v1234567890",
            "fraud@production",
            "fraud@v",
            "fraud@vv1",
            "fraud@ 1",
            "ｆｒａｕｄ",
            "fraud\u200b",
            "fraud@prod\u0000",
            "frau d",
            "fraud;rm -rf /",
            "$(id)",
            "`id`",
            "fraud@{0}",
            "fraud@~1",
        ]
    ),
)
AT_TEXT = st.one_of(
    ANY_TEXT,
    st.sampled_from(
        [
            "30d",
            "0s",
            "999999w",
            "1000000d",
            "12h",
            "-1d",
            "1.5d",
            "2026-11-01",
            "9999-12-31",
            "0001-01-01",
            "0000-01-01",
            "2026-13-01",
            "2026-02-30",
            "2026-11-01T25:00",
            "2026-11-01T12:00:00Z",
            "2026-11-01T12:00:00+14:00",
            "2026-11-01T12:00:00-99:00",
            "2026-11-01 12:00",
            "20261101",
            "2026-W01-1",
            "yesterday",
            "now",
            "1e9",
            "",
        ]
    ),
    st.builds(lambda n, u: f"{n}{u}", st.integers(-10, 10**8), st.sampled_from("smhdwy")),
)
KV = st.one_of(
    ANY_TEXT,
    st.builds(lambda k, v: f"{k}={v}", ANY_TEXT, ANY_TEXT),
    st.sampled_from(
        [
            "=",
            "=1",
            "a=",
            "a==b",
            "a=1=2",
            " a =1",
            "a\n=1",
            "lr=nan",
            "lr=inf",
            "lr=-inf",
            "lr=1e999",
            "lr=0x10",
            "lr=1_000",
            "n=99999999999999999999999999",
            "b=true",
            "b=False",
            "x=None",
            "x=null",
            "x=[1,2]",
            "x={a: 1}",
            "password=hunter2",
            "max_tokens=10",
            "a.b=1",
        ]
    ),
)
YAML_CHARS = "[]{}:,-?!&*#|>'\"%@` \n\t\\ab01.eE~+"
YAML_TAGS = [
    "!!python/object/apply:os.system ['echo pwned']",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!timestamp 2026-01-01",
    "!!float .nan",
    "!!float .inf",
    "!!omap [a: 1]",
    "!!str 1",
    "!custom x",
    "2026-01-01",
    "&a [*a]",
    "*undefined",
    "0x1F",
    "0o17",
    "1_000",
    "~",
    "=",
    "<<: {a: 1}",
]


def _nested(depth: int, kind: str) -> str:
    return {
        "flow": "[" * depth + "]" * depth,
        "map": "{a: " * depth + "1" + "}" * depth,
        "dash": "- " * depth + "x",
        "json": '{"a":' + "[" * depth + "]" * depth + "}",
    }[kind]


def _bomb(levels: int) -> str:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


JSONISH = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30), st.floats(), ANY_TEXT
    ),
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(ANY_TEXT, kids, max_size=4)),
    max_leaves=20,
)
FILE_CONTENT = st.one_of(
    st.binary(max_size=200),
    st.text(st.sampled_from(YAML_CHARS), max_size=200),
    st.builds(lambda k, t: f"{k}: {t}\n", NAMEISH, st.sampled_from(YAML_TAGS)),
    st.builds(lambda d: json.dumps(d, allow_nan=True), JSONISH),
    st.builds(
        _nested,
        st.sampled_from([1, 50, 99, 100, 101, 1000, 30_000, 100_000]),
        st.sampled_from(["flow", "map", "dash", "json"]),
    ),
    st.builds(_bomb, st.integers(1, 9)),
    st.sampled_from(
        [
            b"",
            b"\xff\xfe\x00a",
            b"\xef\xbb\xbfa: 1",
            "a: 1\na: 2\n",
            "- 1\n- 2\n",
            "just text",
            "1",
            "null",
            "[]",
            "{}",
            "a: 1e999",
            "a: .inf",
            "a: -.nan",
            '{"a": NaN}',
            '{"a": Infinity}',
            "a: 99999999999999999999999999999",
            "? [1, 2]\n: 3",
            "1: one",
            "true: yes",
            "a: !!binary aGVsbG8=",
            "---\na: 1\n---\nb: 2\n",
            "a: 1\n...\njunk: [",
            "a:\n  b:\n    c:\n      d: 1",
            "x" * 100_000,
            "a: " + "x" * 1_000_000,
            "a: 'unterminated",
            "\t- a",
        ]
    ),
)


def _expect_usage(exc: BaseException) -> None:
    assert isinstance(exc, MregError), f"{type(exc).__name__}: {exc}"
    assert isinstance(exc, UsageError) and exc.exit_code == 2, (
        f"{type(exc).__name__} (exit {exc.exit_code}): {exc}"
    )
    assert exc.message and "\n" not in one_line(exc.message)


# -- names, references, --at ----------------------------------------------------------------------
@FAST
@given(TEXT)
def test_model_names(text: str) -> None:
    TRIED["model"] += 1
    try:
        assert check_model(text) == text
    except Exception as exc:
        _expect_usage(exc)
        return
    assert MODEL_RE.match(text) and ".." not in text and "/" not in text and text == text.strip()


@FAST
@given(TEXT)
def test_aliases(text: str) -> None:
    TRIED["alias"] += 1
    try:
        assert check_alias(text) == text
    except Exception as exc:
        _expect_usage(exc)
        return
    assert re.fullmatch(r"[a-z][a-z0-9-]*", text) and text != "latest" and not re.fullmatch(r"v[0-9]+", text)


@FAST
@given(st.one_of(TEXT, st.builds(lambda m, s: f"{m}@{s}", TEXT, TEXT)))
def test_references(text: str) -> None:
    TRIED["reference"] += 1
    try:
        ref = parse_ref(text)
    except Exception as exc:
        _expect_usage(exc)
        return
    check_model(ref.model)  # whatever parses names a valid model and exactly one selector at most
    assert not (ref.version is not None and ref.alias is not None)
    if ref.version is not None:
        assert ref.version >= 1
    if ref.alias is not None:
        check_alias(ref.alias) if ref.alias != "latest" else None
    try:
        parse_version(text.partition("@")[2])
    except Exception as exc:
        _expect_usage(exc)


@FAST
@given(AT_TEXT)
def test_at_values(text: str) -> None:
    TRIED["--at"] += 1
    try:
        when = parse_at(text)
    except Exception as exc:
        _expect_usage(exc)
        return
    assert when.tzinfo is not None
    when.timestamp()  # usable as a git --before value


# -- K=V flags and params/metrics files -------------------------------------------------------------
def _recordable(value: Any) -> None:
    json.dumps(value, allow_nan=False)  # what the manifest's YAML/JSON can carry


@FAST
@given(st.lists(KV, max_size=5), st.lists(KV, max_size=5), st.lists(KV, max_size=3))
def test_key_value_flags(params: list[str], metrics: list[str], data: list[str]) -> None:
    TRIED["K=V flags"] += 1
    for fn, items in (
        (lambda x: build_params([], x), params),
        (lambda x: build_metrics([], x), metrics),
        (parse_data_refs, data),
        (lambda x: parse_pairs(x, flag="--param"), params),
    ):
        try:
            out = fn(items)
        except Exception as exc:
            _expect_usage(exc)
            continue
        _recordable(out)
    try:
        metrics_out = build_metrics([], metrics)
    except UsageError:
        return
    assert all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in metrics_out.values()
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    return tmp_path


@FILES
@given(FILE_CONTENT, st.sampled_from([".yaml", ".json", ".yml", ""]))
def test_params_and_metrics_files(scratch: Path, content: str | bytes, suffix: str) -> None:
    TRIED["params/metrics file"] += 1
    f = scratch / f"input{suffix}"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    for fn in (build_params, build_metrics):
        try:
            out = fn([str(f)], [])
        except Exception as exc:
            _expect_usage(exc)
            assert str(f) in exc.message  # names the file
            continue
        assert isinstance(out, dict)
        _recordable(out)


# -- Registry.register: a refusal changes nothing ----------------------------------------------------
def _state(repo: Path) -> tuple[dict[str, str], dict[str, int]]:
    return refs(repo), snapshot_store(repo / ".git" / "mreg" / "objects" / "sha256")


@pytest.fixture
def registry_repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path).close()  # GitPython keeps cat-file processes open until closed
    assert run_mreg("init", cwd=path).code == 0
    (path / "w.bin").write_bytes(b"weights")
    Registry.open(path).register("fraud", [path / "w.bin"])
    return path


def _no_urls(items: list[str]) -> bool:
    return not any(
        re.search(r"[A-Za-z][A-Za-z0-9+.-]*::?//", i) for i in items
    )  # never the network from a test


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
    (repo / "deep.json").write_text(_nested(100_000, "json"))
    (repo / "deep.yaml").write_text(_nested(100_000, "flow"))
    (repo / "dashes.yaml").write_text(_nested(100_000, "dash"))
    (repo / "bomb.yaml").write_text(_bomb(9))
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


# -- what is read from git: tag names and records, file names, commit subjects, manifest values ------
# (issue 11) Everything below comes from a registry someone else may have written by hand.
HOSTILE_TEXT = st.one_of(
    ANY_TEXT,
    st.text(
        st.sampled_from(
            "0123456789²³¹٣۳߃१০੩௩౩೩൩๓໓༣၃႓០᠐٠\u0660\uff11\x1b\r\n\t\x7f\x85\u202e\u2028[];:!<>@|`*_#"
        ),
        max_size=30,
    ),
    st.sampled_from(
        ["1", "01", "003", "²", "1\n", "9" * 9, "9" * 10, "0", "-1", "1 ", " 1", "１", "1e3", "\u0661"]
    ),
)
RECORD_VALUES = st.one_of(
    JSONISH, st.sampled_from(['"sha256:' + "a" * 64 + '"', '["a"]', "{}", "NaN", "1e999", '"\\u001b[2J"'])
)


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "event",
                    "model",
                    "alias",
                    "version",
                    "digest",
                    "previous",
                    "reason",
                    "request",
                    "governed",
                    "at",
                    "junk",
                ]
            ),
            RECORD_VALUES,
        ),
        max_size=10,
    ),
    HOSTILE_TEXT,
)
def test_tag_records_parse_to_plain_values_or_nothing(fields: list[tuple[str, Any]], tail: str) -> None:
    from mreg.git.tags import _parse_tag, parse_record

    TRIED["tag records"] += 1
    body = "\n".join(f"{k}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in fields) + "\n" + tail
    rec = parse_record(body)
    assert set(rec) <= {
        "event",
        "model",
        "alias",
        "version",
        "digest",
        "previous",
        "reason",
        "request",
        "governed",
        "at",
    }
    raw = f"object {'a' * 40}\ntype commit\ntag x\ntagger M <m@x> {tail[:12]} +0000\n\nsubject\n\n{body}".encode(
        "utf-8", "surrogatepass"
    )
    tag = _parse_tag("refs/tags/mreg/a/b/1", ("0" * 40, "tag", len(raw)), raw)
    assert tag is not None and isinstance(tag.timestamp, int)


@FAST
@given(
    st.binary(max_size=120),
    st.builds(
        lambda m, n, s: f"models/{m}/versions/{n}{s}".encode("utf-8", "surrogatepass"),
        HOSTILE_TEXT,
        HOSTILE_TEXT,
        st.sampled_from([".yaml", ".yaml\n", ".yml", ""]),
    ),
)
def test_only_canonical_manifest_paths_count_as_records(raw: bytes, shaped: bytes) -> None:
    from mreg.git.history import is_record_path

    for path in (raw, shaped):
        TRIED["registry file names"] += 1
        if is_record_path(path):
            text = path.decode("ascii")  # bytes outside ASCII never pass
            m = re.fullmatch(r"models/([^/]+)/versions/([1-9][0-9]{0,8})\.yaml", text)
            assert m and MODEL_RE.match(m.group(1)) and ".." not in m.group(1)


@FAST
@given(JSONISH, JSONISH)
def test_manifest_values_are_plain_json_or_the_manifest_is_invalid(params: Any, metrics: Any) -> None:
    from mreg.manifest import MANIFEST_SCHEMA, artifact_set_digest, validate_manifest

    TRIED["manifest values"] += 1
    arts = [{"path": "w.bin", "size": 1, "digest": "sha256:" + "a" * 64}]
    doc = {
        "schema": MANIFEST_SCHEMA,
        "model": "fraud",
        "version": 1,
        "digest": artifact_set_digest(arts),
        "created_at": "2026-01-01T00:00:00Z",
        "created_by": "a <a@b>",
        "message": None,
        "source": None,
        "artifacts": arts,
        "environment": {"python": "3.12", "platform": "linux", "packages": "sha256:" + "b" * 64},
        "data": [],
        "params": params,
        "metrics": metrics,
        "parent": None,
        "labels": {},
    }
    try:
        valid = validate_manifest(doc, where="t")
    except MregError as exc:
        assert exc.exit_code == 5
        return
    json.dumps(valid, allow_nan=False)  # whatever validates can go out as --json


@FAST
@given(HOSTILE_TEXT)
def test_shown_text_carries_no_control_character_and_no_markup(text: str) -> None:
    from mreg.text import md, term

    TRIED["shown text"] += 1
    for out in (term(text), md(text)):
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", out)
    m = md(text)
    assert (
        "<" not in m
        and "](" not in m.replace("\\](", "")
        and not re.search(r"(?<!\\)[`*_|\[\]]", m)
        and "@" not in m
    )


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
