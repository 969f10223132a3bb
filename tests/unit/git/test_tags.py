"""mreg.git.tags: a tag record written by hand parses to plain values or to nothing (issue 11;
properties, hypothesis; testing.strategies)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testing.strategies import FAST, HOSTILE_TEXT, RECORD_VALUES, TRIED


@pytest.mark.slow
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


def test_extra_record_keys_follow_the_record_and_never_override_it() -> None:
    from mreg.git.tags import format_record, parse_record

    record = {"event": "promote", "model": "m", "alias": "staging", "version": 2, "digest": None, "at": "x"}
    text = format_record(record, {"imported_from": "GTO", "by": "Alice <a@x>", "version": 9})
    body = text.split("\n\n", 1)[1]
    assert body.splitlines()[-2:] == ['imported_from: "GTO"', 'by: "Alice <a@x>"']
    assert parse_record(body)["version"] == 2  # an extra key never replaces a record key
