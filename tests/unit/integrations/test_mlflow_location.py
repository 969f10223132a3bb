"""mreg.integrations.mlflow_import: where a version's bytes may be read from (review 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mreg.integrations.mlflow_import import _absolute, _location, _under


@pytest.mark.parametrize(
    ("uri", "root", "inside"),
    [
        ("file:///m/1/r/artifacts/model", "file:///m/1/r/artifacts", True),
        ("file:///m/1/r/artifacts", "file:///m/1/r/artifacts", True),
        ("file:///m/1/r/artifacts-evil/x", "file:///m/1/r/artifacts", False),
        ("file:///home/u/.ssh", "file:///m/1/r/artifacts", False),
        ("s3://other/1/r/artifacts/model", "s3://bucket/1/r/artifacts", False),
        ("s3://bucket/1/r/artifacts/model", "s3://bucket/1/r/artifacts", True),
        ("/m/1/r/artifacts/model", "file:///m/1/r/artifacts", True),
    ],
)
def test_only_a_location_under_the_versions_own_is_inside(uri: str, root: str, inside: bool) -> None:
    target, own = _location(uri), _location(root)
    assert target is not None and own is not None
    assert (target[:2] == own[:2] and _under(target[2], own[2])) is inside


@pytest.mark.parametrize("uri", ["file:///m/r/artifacts/../../../home/u", "s3://b/r/%2e%2e/x"])
def test_a_location_that_climbs_out_is_none(uri: str) -> None:
    assert _location(uri) is None


def test_a_relative_sqlite_uri_is_the_file_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _absolute("sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert _absolute("sqlite:////abs/mlflow.db") == "sqlite:////abs/mlflow.db"
    assert _absolute("http://server:5000") == "http://server:5000"
