"""mreg.store.s3_store: an S3 endpoint that does not answer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mreg.errors import RemoteError
from mreg.store import open_store

pytestmark = pytest.mark.s3


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_nothing_listening_is_exit_6_without_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    from testing.s3 import SECRET_KEY, use_endpoint

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use_endpoint(monkeypatch, f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    st = open_store("s3://nobody-home/p", default_dir=tmp_path)
    with pytest.raises(RemoteError) as err:
        st.exists(_digest(b"x"))
    assert err.value.exit_code == 6 and SECRET_KEY not in err.value.message
