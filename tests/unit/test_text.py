"""mreg.text: shown text carries no control character and no markup (issue 11; properties,
hypothesis; testing.strategies)."""

from __future__ import annotations

import re

from hypothesis import given

from testing.strategies import FAST, HOSTILE_TEXT, TRIED


@FAST
@given(HOSTILE_TEXT)
def test_shown_text_carries_no_control_character_and_no_markup(text: str) -> None:
    from mreg.text import md, term

    TRIED["shown text"] += 1
    for out in (term(text), md(text)):
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", out)
    m = md(text)
    assert (
        "<" not in m
        and "](" not in m.replace("\\](", "")
        and not re.search(r"(?<!\\)[`*_|\[\]]", m)
        and "@" not in m
    )


def test_an_email_in_markdown_reads_as_itself() -> None:
    """`@` and `#` are neutralised in one pass: the `#` of the `&#64;` written for an `@` is kept, so
    GitHub shows `ada@example.com`, never `ada&#64;example.com` (found by the issue-15 review)."""
    from mreg.text import md

    assert md("Ada <ada@example.com> #12") == "Ada &lt;ada&#64;example.com&gt; &#35;12"
