"""mreg.integrations.gto_import: GTO's stage events as alias moves, in the order they happened."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from mreg.integrations.gto_import import _moves

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
T1 = datetime(2024, 1, 2, 3, 4, 6, tzinfo=timezone.utc)


def _e(event: str, version: str, ref: str, when: datetime = T0, stage: str | None = "prod") -> dict[str, Any]:
    priority = {"assignment": 5, "unassignment": 6, "deregistration": 4, "deprecation": 2}[event]
    return {
        "event": event,
        "version": version,
        "stage": stage,
        "ref": ref,
        "timestamp": when,
        "priority": priority,
        "author": "A",
        "author_email": "a@x",
    }


def test_one_seconds_stage_tags_replay_in_counter_order_whatever_order_gto_lists_them() -> None:
    numbers = {"v1.0.0": 1, "v1.1.0": 2}
    # GTO lists one second's events per version: #1 and #3 (v1.0.0) before #2 (v1.1.0); #4 unassigns
    events = [
        _e("assignment", "v1.0.0", "m#prod#1"),
        _e("assignment", "v1.0.0", "m#prod#3"),
        _e("unassignment", "v1.0.0", "m#prod!#4"),
        _e("assignment", "v1.1.0", "m#prod#2"),
        _e("assignment", "v1.1.0", "m#prod#5"),
        _e("deregistration", "v1.1.0", "m@v1.1.0!", T1, None),
    ]
    problems: list[str] = []
    moves = _moves("m", events, numbers, problems)
    assert [(m.alias, m.version) for m in moves] == [
        ("prod", 1),  # #1
        ("prod", 2),  # #2
        ("prod", 1),  # #3
        ("prod", 2),  # #4 unassigns v1.0.0: back to v1.1.0, still assigned
        # #5 assigns v1.1.0 again: what prod shows does not change, no move
        ("prod", None),  # the deregistration of v1.1.0 leaves prod empty
    ]
    assert problems == []


def test_a_stage_that_cannot_be_an_alias_is_reported() -> None:
    problems: list[str] = []
    assert _moves("m", [_e("assignment", "v1", "m#latest#1", stage="latest")], {"v1": 1}, problems) == []
    assert problems == ["m: GTO stage 'latest' cannot be an mreg alias"]
