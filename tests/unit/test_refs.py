"""SPEC §2: names, references and --at values, checked before they reach a path, a ref or a shell."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mreg.errors import UsageError
from mreg.refs import (
    EXTERNAL_URI_RE,
    MAX_EXTERNAL_URI,
    MODEL_RE,
    Ref,
    check_alias,
    check_external,
    check_model,
    is_external,
    parse_at,
    parse_ref,
    parse_version,
)
from testing.strategies import AT_TEXT, FAST, TEXT, TRIED, expect_usage


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fraud", Ref("fraud")),
        ("fraud@latest", Ref("fraud")),
        ("fraud@v3", Ref("fraud", version=3)),
        ("fraud@3", Ref("fraud", version=3)),
        ("fraud@production", Ref("fraud", alias="production")),
        ("fraud-detector.v2_x@v12", Ref("fraud-detector.v2_x", version=12)),
        ("a@b", Ref("a", alias="b")),
    ],
)
def test_parse_ref_valid_reference_parses_to_model_and_selector(text: str, expected: Ref) -> None:
    assert parse_ref(text) == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("fraud@", "nothing after '@'"),
        ("fraud@v0", "v0"),
        ("fraud@0", "'0'"),
        ("fraud@-x", "-x"),
        ("fraud@@v1", "more than one '@'"),
        ("@v1", "missing model name"),
        ("Fraud@v1", "Fraud"),
        ("fraud@Prod", "Prod"),
        ("fraud@prod\n", "prod"),
        ("fraud\n@v1", "fraud"),
    ],
)
def test_parse_ref_invalid_reference_is_refused_naming_the_bad_part(text: str, names: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_ref(text)
    assert names in exc.value.message
    assert exc.value.exit_code == 2
    assert "\n" not in exc.value.message


def test_ref_str_round_trips_through_parse_ref() -> None:
    for r in (Ref("m"), Ref("m", version=4), Ref("m", alias="staging")):
        assert parse_ref(str(r)) == r


@pytest.mark.parametrize("name", ["a", "fraud", "x9", "a.b_c-d", "a" * 64, "0model"])
def test_check_model_valid_name_is_accepted(name: str) -> None:
    assert check_model(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "Fraud",
        "a..b",
        "-fraud",
        "fraud-",
        ".fraud",
        "a" * 65,
        "a.lock",
        "",
        "fr aud",
        "fr/aud",
        "fraud\n",
        "ünï",
        "a:b",
    ],
)
def test_check_model_invalid_name_is_refused_with_exit_2(name: str) -> None:
    with pytest.raises(UsageError) as exc:
        check_model(name)
    assert exc.value.exit_code == 2
    assert repr(name) in exc.value.message


@pytest.mark.parametrize("name", ["production", "staging", "a", "canary-2", "a" * 32])
def test_check_alias_valid_alias_is_accepted(name: str) -> None:
    assert check_alias(name) == name


@pytest.mark.parametrize("name", ["latest", "v3", "v0", "v123"])
def test_check_alias_reserved_alias_is_refused_as_reserved(name: str) -> None:
    with pytest.raises(UsageError, match="reserved"):
        check_alias(name)


@pytest.mark.parametrize(
    "name", ["Production", "1prod", "-x", "prod-", "a" * 33, "", "pro_d", "pro.d", "prod\n"]
)
def test_check_alias_invalid_alias_is_refused(name: str) -> None:
    with pytest.raises(UsageError, match="invalid alias"):
        check_alias(name)


def test_parse_version_accepts_v_prefix_and_bare_number() -> None:
    assert parse_version("v7") == 7
    assert parse_version("7") == 7
    for bad in ("v0", "0", "-1", "v", "seven", "v07"):
        with pytest.raises(UsageError):
            parse_version(bad)


NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=timezone.utc)


def test_parse_at_bare_date_means_end_of_that_day_utc() -> None:
    assert parse_at("2026-01-02", now=NOW) == datetime(2026, 1, 2, 23, 59, 59, tzinfo=timezone.utc)


def test_parse_at_datetime_with_z_is_utc() -> None:
    assert parse_at("2026-01-02T10:30:00Z", now=NOW) == datetime(2026, 1, 2, 10, 30, tzinfo=timezone.utc)


def test_parse_at_datetime_with_offset_keeps_the_instant() -> None:
    got = parse_at("2026-01-02T12:30:00+02:00", now=NOW)
    assert got == datetime(2026, 1, 2, 10, 30, tzinfo=timezone.utc)


def test_parse_at_naive_datetime_is_taken_as_utc() -> None:
    assert parse_at("2026-01-02T10:30:00", now=NOW) == datetime(2026, 1, 2, 10, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "delta"), [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2))]
)
def test_parse_at_relative_age_counts_back_from_now(text: str, delta: timedelta) -> None:
    assert parse_at(text, now=NOW) == NOW - delta


@pytest.mark.parametrize("text", ["yesterday", "", "30x", "2026-13-01", "2026-01-01T25:00", "-3d", "d30"])
def test_parse_at_unparsable_value_is_refused_naming_it(text: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_at(text, now=NOW)
    assert "--at" in exc.value.message
    assert repr(text) in exc.value.message


# -- properties (hypothesis) -------------------------------------------------------------------
@FAST
@given(TEXT)
def test_model_names(text: str) -> None:
    TRIED["model"] += 1
    try:
        assert check_model(text) == text
    except Exception as exc:
        expect_usage(exc)
        return
    assert MODEL_RE.match(text) and ".." not in text and "/" not in text and text == text.strip()


@FAST
@given(TEXT)
def test_aliases(text: str) -> None:
    TRIED["alias"] += 1
    try:
        assert check_alias(text) == text
    except Exception as exc:
        expect_usage(exc)
        return
    assert re.fullmatch(r"[a-z][a-z0-9-]*", text) and text != "latest" and not re.fullmatch(r"v[0-9]+", text)


@FAST
@given(st.one_of(TEXT, st.builds(lambda m, s: f"{m}@{s}", TEXT, TEXT)))
def test_references(text: str) -> None:
    TRIED["reference"] += 1
    try:
        ref = parse_ref(text)
    except Exception as exc:
        expect_usage(exc)
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
        expect_usage(exc)


@FAST
@given(AT_TEXT)
def test_at_values(text: str) -> None:
    TRIED["--at"] += 1
    try:
        when = parse_at(text)
    except Exception as exc:
        expect_usage(exc)
        return
    assert when.tzinfo is not None
    when.timestamp()  # usable as a git --before value


@pytest.mark.parametrize(
    "uri", ["hf://org/model", "s3://bucket/base/", "https://example.com/m?rev=2", "git+ssh://h/r"]
)
def test_an_external_parent_is_any_scheme_uri_kept_as_given(uri: str) -> None:
    assert is_external(uri) and check_external(uri) == uri


@pytest.mark.parametrize(
    "text",
    ["hf://org/my model", "hf://org/m\nx", "hf://\x1b", "://x", "1x://y", "hf://" + "a" * 2048, "hf://"],
)
def test_an_external_parent_with_blanks_controls_or_no_scheme_is_refused(text: str) -> None:
    with pytest.raises(UsageError) as exc:
        check_external(text)
    assert "\n" not in exc.value.message and "\x1b" not in exc.value.message


def test_the_schema_and_the_code_agree_on_an_external_parent() -> None:
    import json
    from importlib import resources

    schema = json.loads(resources.files("mreg").joinpath("schemas/manifest.schema.json").read_text())
    external = schema["properties"]["parent"]["anyOf"][2]
    assert external["pattern"].rstrip("$") == EXTERNAL_URI_RE.pattern.removesuffix("\\Z").rstrip("$")
    assert external["maxLength"] == MAX_EXTERNAL_URI
