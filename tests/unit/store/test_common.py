"""mreg.store.common: what a store error says."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_unreachable_error_names_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mreg.store.common import unreachable

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekrit-value-123")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY")
    exc = OSError(
        "failed https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAEXAMPLEKEY%2F2026&X-Amz-Signature=abcdef0123456789abcdef"
        " key AKIAEXAMPLEKEY secret sekrit-value-123 at http://u:pw@host/x"
    )
    msg = unreachable("s3://b/p", exc).message
    for secret in ("sekrit-value-123", "AKIAEXAMPLEKEY", "abcdef0123456789abcdef", "u:pw@"):
        assert secret not in msg
    assert msg.startswith("store s3://b/p is unreachable")
