"""mreg.git.history: only canonical manifest paths count as records (issue 11; properties,
hypothesis; testing.strategies)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mreg.refs import MODEL_RE
from testing.strategies import FAST, HOSTILE_TEXT, TRIED


@FAST
@given(
    st.binary(max_size=120),
    st.builds(
        lambda m, n, s: f"models/{m}/versions/{n}{s}".encode("utf-8", "surrogatepass"),
        HOSTILE_TEXT,
        HOSTILE_TEXT,
        st.sampled_from([".yaml", ".yaml\n", ".yml", ""]),
    ),
)
def test_only_canonical_manifest_paths_count_as_records(raw: bytes, shaped: bytes) -> None:
    from mreg.git.history import is_record_path

    for path in (raw, shaped):
        TRIED["registry file names"] += 1
        if is_record_path(path):
            text = path.decode("ascii")  # bytes outside ASCII never pass
            m = re.fullmatch(r"models/([^/]+)/versions/([1-9][0-9]{0,8})\.yaml", text)
            assert m and MODEL_RE.match(m.group(1)) and ".." not in m.group(1)
