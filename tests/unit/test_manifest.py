"""SPEC §4: the manifest's digest is its identity, and a manifest read from git is validated."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest
from hypothesis import given

from mreg.errors import IntegrityError, MregError, UsageError
from mreg.manifest import MANIFEST_SCHEMA, artifact_set_digest, dump_manifest, load_yaml, parse_manifest
from testing.strategies import FAST, JSONISH, TRIED

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64


def _artifacts() -> list[dict[str, Any]]:
    return [
        {"path": "weights.bin", "size": 10, "digest": D1},
        {"path": "sub/config.json", "size": 3, "digest": D2},
    ]


def _manifest(**over: Any) -> dict[str, Any]:
    arts = over.pop("artifacts", _artifacts())
    m = {
        "schema": MANIFEST_SCHEMA,
        "model": "fraud",
        "version": 1,
        "digest": artifact_set_digest(arts),
        "created_at": "2026-01-01T00:00:00Z",
        "created_by": "Test User <test@example.com>",
        "message": None,
        "source": {"repository": None, "commit": "a" * 40, "dirty": False},
        "artifacts": arts,
        "environment": {"python": "cpython 3.11.7", "platform": "linux-x86_64", "packages": D3},
        "data": [],
        "params": {"lr": 0.1},
        "metrics": {"auc": 0.9},
        "parent": None,
        "labels": {},
    }
    m.update(over)
    return m


def test_artifact_set_digest_does_not_depend_on_listing_order() -> None:
    arts = _artifacts()
    assert artifact_set_digest(arts) == artifact_set_digest(list(reversed(arts)))


@pytest.mark.parametrize(
    "change",
    [
        {"path": "weights2.bin"},
        {"size": 11},
        {"digest": D3},
    ],
)
def test_artifact_set_digest_changes_when_any_path_size_or_digest_changes(change: dict[str, Any]) -> None:
    arts = _artifacts()
    changed = [{**arts[0], **change}, arts[1]]
    assert artifact_set_digest(changed) != artifact_set_digest(arts)


def test_artifact_set_digest_is_a_sha256_digest() -> None:
    d = artifact_set_digest(_artifacts())
    assert d.startswith("sha256:") and len(d) == 71


def test_parse_manifest_round_trips_a_written_manifest() -> None:
    m = _manifest()
    assert parse_manifest(dump_manifest(m), where="x") == m


def test_written_manifest_validates_against_shipped_json_schema() -> None:
    schema = json.loads(resources.files("mreg").joinpath("schemas", "manifest.schema.json").read_text())
    assert schema["$id"]
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = load_yaml(dump_manifest(_manifest()), where="x")
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)


def test_parse_manifest_python_object_tag_is_refused_not_built() -> None:
    text = (
        dump_manifest(_manifest()).decode() + "evil: !!python/object/apply:os.system ['touch /tmp/pwned']\n"
    )
    with pytest.raises(IntegrityError, match="YAML"):
        parse_manifest(text.encode(), where="models/fraud/versions/1.yaml")


def test_load_yaml_python_tag_in_user_file_is_bad_input() -> None:
    with pytest.raises(UsageError) as exc:
        load_yaml("a: !!python/object:collections.OrderedDict {}\n", where="--params p.yaml")
    assert "--params p.yaml" in exc.value.message


@pytest.mark.parametrize("schema", ["mreg/manifest/v0", "other/thing/v1", None])
def test_parse_manifest_wrong_schema_id_is_an_integrity_error(schema: str | None) -> None:
    with pytest.raises(IntegrityError, match="schema"):
        parse_manifest(dump_manifest(_manifest(schema=schema)), where="m.yaml")


def test_parse_manifest_newer_schema_asks_for_an_upgrade() -> None:
    with pytest.raises(IntegrityError, match="upgrade"):
        parse_manifest(dump_manifest(_manifest(schema="mreg/manifest/v2")), where="m.yaml")


def test_parse_manifest_digest_mismatch_is_an_integrity_error() -> None:
    m = _manifest()
    m["artifacts"][0]["size"] = 999  # the bytes' listing no longer matches the recorded identity
    with pytest.raises(IntegrityError, match="digest"):
        parse_manifest(dump_manifest(m), where="models/fraud/versions/1.yaml")


def test_parse_manifest_duplicate_artifact_path_is_refused() -> None:
    arts = [{"path": "a", "size": 1, "digest": D1}, {"path": "a", "size": 1, "digest": D2}]
    with pytest.raises(IntegrityError, match="duplicate"):
        parse_manifest(dump_manifest(_manifest(artifacts=arts)), where="m.yaml")


@pytest.mark.parametrize("path", ["../etc/passwd", "/abs", "a/../b", "a//b", "a\\b", "./a"])
def test_parse_manifest_artifact_path_escaping_destination_is_refused(path: str) -> None:
    arts = [{"path": path, "size": 1, "digest": D1}]
    with pytest.raises(IntegrityError):
        parse_manifest(dump_manifest(_manifest(artifacts=arts)), where="m.yaml")


def test_parse_manifest_non_numeric_metric_is_refused() -> None:
    with pytest.raises(IntegrityError, match="metrics"):
        parse_manifest(dump_manifest(_manifest(metrics={"auc": "high"})), where="m.yaml")


def test_parse_manifest_not_yaml_is_an_integrity_error_naming_the_file() -> None:
    with pytest.raises(IntegrityError) as exc:
        parse_manifest(b"schema: [unclosed\n", where="models/fraud/versions/1.yaml")
    assert "models/fraud/versions/1.yaml" in exc.value.message
    assert exc.value.exit_code == 5


def test_parse_manifest_list_document_is_refused() -> None:
    with pytest.raises(IntegrityError, match="mapping"):
        parse_manifest(b"- a\n- b\n", where="m.yaml")


def test_dump_manifest_writes_fields_in_spec_order() -> None:
    text = dump_manifest(dict(reversed(list(_manifest().items())))).decode()
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith((" ", "-"))]
    assert keys[:4] == ["schema", "model", "version", "digest"]


# -- properties (hypothesis) -------------------------------------------------------------------
@pytest.mark.slow
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


def test_a_key_named_twice_is_refused_not_silently_the_last() -> None:
    """YAML keeps the last value of a repeated key, while a reviewer reading the file sees the first
    (found by the issue-15 review with `auc: 0.10` ... `auc: 0.99` in an evaluation record)."""
    import pytest

    from mreg.errors import UsageError
    from mreg.manifest import load_yaml

    with pytest.raises(UsageError, match=r"line 3\): found the key 'auc' twice"):
        load_yaml(b"auc: 0.10\nf1: 0.5\nauc: 0.99\n", where="r.yaml")
    with pytest.raises(UsageError, match="twice"):
        load_yaml(b"metrics: {a: 1, a: 2}\n", where="r.yaml")
    assert load_yaml(b"base: &b {x: 1}\nd:\n  <<: *b\n  x: 2\n", where="r.yaml")["d"] == {
        "x": 2
    }  # a merge key overrides
