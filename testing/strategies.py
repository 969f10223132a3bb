"""Hypothesis inputs for the property-based bad-input tests (issue 7, issue 11): strategies for what a
user types or feeds in a file and for what someone else may have written into a registry by hand, the
settings each kind of test runs with (derandomize=True: CI runs the same examples every time), and
TRIED, the count of inputs tried, which the testing.fixtures plugin prints at the end of a run and
the README records (Security and reliability)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mreg.cli._report import one_line
from mreg.errors import MregError, UsageError

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


def nested(depth: int, kind: str) -> str:
    return {
        "flow": "[" * depth + "]" * depth,
        "map": "{a: " * depth + "1" + "}" * depth,
        "dash": "- " * depth + "x",
        "json": '{"a":' + "[" * depth + "]" * depth + "}",
    }[kind]


def bomb(levels: int) -> str:
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
        nested,
        st.sampled_from([1, 50, 99, 100, 101, 1000, 30_000, 100_000]),
        st.sampled_from(["flow", "map", "dash", "json"]),
    ),
    st.builds(bomb, st.integers(1, 9)),
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


def expect_usage(exc: BaseException) -> None:
    assert isinstance(exc, MregError), f"{type(exc).__name__}: {exc}"
    assert isinstance(exc, UsageError) and exc.exit_code == 2, (
        f"{type(exc).__name__} (exit {exc.exit_code}): {exc}"
    )
    assert exc.message and "\n" not in one_line(exc.message)


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


def recordable(value: Any) -> None:
    json.dumps(value, allow_nan=False)  # what the manifest's YAML/JSON can carry
