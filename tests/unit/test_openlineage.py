"""OpenLineage naming (mreg.openlineage): datasets by location, as the OpenLineage naming spec says."""

from __future__ import annotations

import pytest

from mreg.openlineage import dataset_name


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/fraud/2026-11.parquet", ("s3://bucket", "fraud/2026-11.parquet")),
        ("gs://bucket", ("gs://bucket", "/")),
        ("file:///data/holdout.csv", ("file", "/data/holdout.csv")),
        ("file://host/data/x", ("file", "/data/x")),
        ("hf://org/model", ("hf://org", "model")),
        ("https://example.com/a/b?x=1", ("https://example.com", "a/b?x=1")),
        ("relative/path", ("file", "relative/path")),
    ],
)
def test_a_data_uri_is_a_namespace_and_a_name(uri: str, expected: tuple[str, str]) -> None:
    assert dataset_name(uri) == expected
