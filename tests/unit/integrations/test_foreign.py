"""mreg.integrations.foreign: foreign names as mreg names, or nothing (never a guess that breaks a rule)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mreg.integrations.foreign import MAX_TEXT, alias_name, bounded, model_name, utc
from mreg.refs import ALIAS_RE, MODEL_RE, RESERVED_ALIAS_RE, check_model
from testing.strategies import FAST, HOSTILE_TEXT


@pytest.mark.parametrize(
    ("name", "mapped"),
    [
        ("Fraud Detector", "fraud-detector"),
        ("churn", "churn"),
        ("team/model.v2", "team-model.v2"),
        ("..hidden..", "hidden"),
        ("a..b", "a.b"),
        ("---", None),
        ("Ünïcode", "n-code"),
    ],
)
def test_model_names(name: str, mapped: str | None) -> None:
    assert model_name(name) == mapped


@pytest.mark.parametrize(
    ("name", "mapped"),
    [("Production", "production"), ("prod_EU", "prod-eu"), ("latest", None), ("v2", None), ("9lives", None)],
)
def test_alias_names(name: str, mapped: str | None) -> None:
    assert alias_name(name) == mapped


@FAST
@given(HOSTILE_TEXT)
def test_whatever_comes_in_a_mapped_name_is_valid(text: str) -> None:
    model = model_name(text)
    if model is not None:
        assert MODEL_RE.match(model) and check_model(model) == model
    alias = alias_name(text)
    if alias is not None:
        assert ALIAS_RE.match(alias) and not RESERVED_ALIAS_RE.match(alias)


@given(st.text(max_size=3 * MAX_TEXT))
def test_text_is_bounded(text: str) -> None:
    assert len(bounded(text)) <= MAX_TEXT


def test_times_are_utc_seconds() -> None:
    assert utc(0) == "1970-01-01T00:00:00Z"
    assert utc(1_700_000_000.75) == "2023-11-14T22:13:20Z"


def test_names_that_map_to_one_are_all_left_out_and_listed_once() -> None:
    from mreg.integrations.foreign import map_names

    mapped, problems = map_names(["fraud", "Fraud", "churn", "!!!"], model_name, "GTO artifacts", "model")
    assert mapped == {"!!!": None, "churn": "churn"}
    assert problems == [
        "GTO artifacts 'Fraud' and 'fraud' both map to the mreg model 'fraud'; none of them is imported"
    ]
