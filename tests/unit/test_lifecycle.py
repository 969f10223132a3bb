"""mreg.lifecycle: records validate, sit at their path, are bound to their version; the fold."""

from __future__ import annotations

import pytest

from mreg.errors import IntegrityError
from mreg.lifecycle import dump_lifecycle, fold, parse_lifecycle

DIGEST = "sha256:" + "a" * 64


def _record(**over: object) -> dict[str, object]:
    rec: dict[str, object] = {
        "schema": "mreg/lifecycle/v1",
        "model": "fraud",
        "version": 3,
        "version_digest": DIGEST,
        "event": "archive",
        "reason": "biased",
        "created_at": "2026-12-05T10:00:00Z",
        "created_by": "Ann <ann@example.com>",
    }
    rec.update(over)
    return rec


def test_a_record_round_trips() -> None:
    blob = dump_lifecycle(_record())
    got = parse_lifecycle(blob, where="w", model="fraud", version=3, version_digest=DIGEST)
    assert got["event"] == "archive" and got["reason"] == "biased"


@pytest.mark.parametrize(
    ("over", "at", "message"),
    [
        ({"event": "delete"}, ("fraud", 3, DIGEST), "invalid lifecycle record"),
        ({"reason": ""}, ("fraud", 3, DIGEST), "invalid lifecycle record"),
        ({}, ("fraud", 4, DIGEST), "its path is fraud@v4's"),
        ({}, ("fraud", 3, "sha256:" + "b" * 64), "a record of other bytes"),
        ({"objects": ["not a digest"]}, ("fraud", 3, DIGEST), "invalid lifecycle record"),
    ],
)
def test_a_bad_record_is_refused(over: dict[str, object], at: tuple[str, int, str], message: str) -> None:
    model, version, digest = at
    with pytest.raises(IntegrityError, match=message):
        parse_lifecycle(
            dump_lifecycle(_record(**over)), where="w", model=model, version=version, version_digest=digest
        )


def test_the_fold_takes_the_last_archive_or_unarchive_and_the_last_purge() -> None:
    assert fold([]).archived is None and fold([]).purge is None
    assert fold(["archive"]).archived == 0
    assert fold(["archive", "unarchive"]).archived is None
    assert fold(["archive", "unarchive", "archive"]).archived == 2
    assert fold(["archive", "archive"]).archived == 0  # the first archive still in force
    purging = fold(["purging"])
    assert purging.purge == 0 and not purging.purged
    done = fold(["archive", "purging", "purged"])
    assert done.purged and done.archived == 0


def test_records_read_are_bounded_per_version_and_per_model() -> None:
    from mreg.ops.lifecycle import MAX_RECORDS_PER_MODEL, MAX_RECORDS_PER_VERSION, _bounded

    specs = [(f"p/{v}/{n}", v, n) for v in (1, 2) for n in range(MAX_RECORDS_PER_VERSION + 7, 0, -1)]
    kept, over = _bounded(specs)
    assert over == {1: 7, 2: 7}
    assert [n for _, v, n in kept if v == 1] == list(range(1, MAX_RECORDS_PER_VERSION + 1))  # the first
    many = [(f"p/{v}/1", v, 1) for v in range(1, MAX_RECORDS_PER_MODEL + 3)]
    kept, over = _bounded(many)
    assert len(kept) == MAX_RECORDS_PER_MODEL and sum(over.values()) == 2
