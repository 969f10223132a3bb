"""mreg.inputs: `K=V` flags and params/metrics files, whatever they hold, become plain JSON values or
a one-line usage error (properties, hypothesis; testing.strategies)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mreg.errors import UsageError
from mreg.inputs import build_metrics, build_params, parse_data_refs, parse_pairs
from testing.strategies import FAST, FILE_CONTENT, FILES, KV, TRIED, expect_usage, recordable


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
            expect_usage(exc)
            continue
        recordable(out)
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


@pytest.mark.slow
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
            expect_usage(exc)
            assert str(f) in exc.message  # names the file
            continue
        assert isinstance(out, dict)
        recordable(out)
