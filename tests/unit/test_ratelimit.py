"""mreg.ratelimit: reading GitHub's rate-limit answers and Retry-After (REST docs, "Rate limits for
the REST API" and "Best practices": retry-after first, else x-ratelimit-reset when remaining is 0,
else at least a minute)."""

from __future__ import annotations

import pytest

from mreg import ratelimit

NOW = 1_800_000_000.0


def test_retry_after_as_seconds_or_as_an_http_date() -> None:
    assert ratelimit.retry_after({"Retry-After": "7"}, NOW) == 7.0
    assert ratelimit.retry_after({"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}, 1_800_000_000.0) == 30.0
    assert ratelimit.retry_after({"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}, NOW + 60) == 0.0
    for bad in ("", "soon", "-3", "1.5", "Fri, 15 Jan 2027 08:00:30"):
        assert ratelimit.retry_after({"Retry-After": bad}, NOW) is None


@pytest.mark.parametrize(
    ("status", "headers", "message", "limited"),
    [
        (429, {}, "", True),
        (403, {"x-ratelimit-remaining": "0"}, "API rate limit exceeded for user ID 1.", True),
        (403, {"x-ratelimit-remaining": "4000", "retry-after": "60"}, "", True),
        (403, {}, "You have exceeded a secondary rate limit. Please wait a few minutes", True),
        (403, {"x-ratelimit-remaining": "4000"}, "Resource not accessible by integration", False),
        (404, {"x-ratelimit-remaining": "0"}, "", False),
    ],
)
def test_a_rate_limit_is_told_from_a_refused_token(
    status: int, headers: dict[str, str], message: str, limited: bool
) -> None:
    assert ratelimit.is_rate_limit(status, headers, message) is limited


def test_the_wait_follows_githubs_order() -> None:
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 90)}
    assert ratelimit.limit_wait({**reset, "retry-after": "5"}, NOW) == 5.0  # retry-after first
    assert ratelimit.limit_wait(reset, NOW) == 90.0
    assert ratelimit.limit_wait({**reset, "x-ratelimit-reset": str(int(NOW) - 5)}, NOW) == 0.0
    assert ratelimit.limit_wait({"x-ratelimit-remaining": "12"}, NOW) is None
    assert ratelimit.limit_wait({}, NOW, secondary_default=60.0) == 60.0


def test_backoff_is_bounded_and_its_base_read_safely() -> None:
    assert ratelimit.backoff_base("X", 1.0, {"X": "0.01"}) == 0.01
    for bad in ("", "nan", "inf", "-1", "fast"):
        assert ratelimit.backoff_base("X", 1.0, {"X": bad}) == 1.0
    assert all(0 <= ratelimit.backoff(1.0, n) <= ratelimit.BACKOFF_CAP for n in range(1, 80))
    assert ratelimit.backoff(0.0, 3) == 0.0
