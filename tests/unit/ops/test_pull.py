"""mreg.ops.pull: where a manifest's paths may land."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_pull_manifest_path_escaping_destination_is_refused(tmp_path: Path) -> None:
    from mreg import IntegrityError
    from mreg.ops.pull import safe_target

    dest = tmp_path / "d"
    dest.mkdir()
    for bad in ("../x", "/etc/passwd", "a/../../x", "a//b"):
        with pytest.raises(IntegrityError):
            safe_target(dest, bad)
    (dest / "link").symlink_to(tmp_path)
    with pytest.raises(IntegrityError):
        safe_target(dest, "link/x")
