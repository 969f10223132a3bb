"""mreg.gates (SPEC §9): rules as data → verdicts."""

from __future__ import annotations

from mreg.gates import Baseline, evaluate, markdown_table

MANIFEST = {
    "metrics": {"auc": 0.91, "latency_ms": 40},
    "data": [{"name": "train", "uri": "s3://x"}],
    "environment": {"python": "3.11"},
}


def _ok(rules: list[dict], manifest: dict = MANIFEST, **baselines: Baseline) -> list[bool]:
    return [v.ok for v in evaluate(rules, manifest, baselines)]


def test_min_max_and_missing_metrics() -> None:
    assert _ok([{"metric": "auc", "min": 0.9}, {"metric": "latency_ms", "max": 50}]) == [True, True]
    assert _ok([{"metric": "auc", "min": 0.95}, {"metric": "latency_ms", "max": 39}]) == [False, False]
    assert _ok([{"metric": "auc", "min": 0.5, "max": 0.9}]) == [True, False]  # one rule, two checks
    v = evaluate([{"metric": "f1", "min": 0.1}], MANIFEST, {})[0]
    assert not v.ok and v.actual == "missing"


def test_not_worse_than_with_tolerance_and_direction() -> None:
    prod = Baseline("production", 3, {"auc": 0.915, "latency_ms": 35})
    higher = {"metric": "auc", "not_worse_than": "production", "tolerance": 0.005}
    assert _ok([higher], production=prod) == [True]  # 0.91 >= 0.915 - 0.005
    assert _ok([{**higher, "tolerance": 0.001}], production=prod) == [False]
    lower = {"metric": "latency_ms", "not_worse_than": "production", "direction": "lower", "tolerance": 5}
    assert _ok([lower], production=prod) == [True]  # 40 <= 35 + 5
    assert _ok([{**lower, "tolerance": 1}], production=prod) == [False]
    verdict = evaluate([higher], MANIFEST, {"production": prod})[0]
    assert verdict.expected == ">= 0.91 (production v3: 0.915)" and verdict.note == "delta -0.005"
    # nothing to compare with: passes and says why; a baseline without the metric fails and says why
    unset = evaluate([higher], MANIFEST, {"production": Baseline("production", None, {})})[0]
    assert unset.ok and "not set" in unset.note
    assert _ok([higher], production=Baseline("production", 1, {})) == [False]


def test_require_dotted_fields() -> None:
    assert _ok([{"require": ["data", "environment.python"]}]) == [True, True]
    assert _ok([{"require": ["environment.lockfile", "params"]}]) == [False, False]
    table = markdown_table(evaluate([{"require": ["environment.lockfile"]}], MANIFEST, {}))
    assert "| require environment.lockfile | ❌ FAIL | missing | present |" in table
