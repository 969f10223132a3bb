"""Edits of the governed branch's YAML files that change only the lines they must (SPEC §3).

People write `models/<model>.yaml` and `mreg.yaml` by hand: comments, key order, flow style and
indentation are theirs. Promotion requests and `mreg policy` edit them through ruamel.yaml's
round-trip mode, so a reviewer's diff shows the one pin or rule that changed and nothing else.
Imported only by the commands that write these files.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from mreg.errors import UsageError


def edit(text: str | None, change: Callable[[Any], None], *, new: dict[str, Any]) -> bytes:
    """`text` (None: a new file starting as `new`) with `change` applied to its round-trip document."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.util import load_yaml_guess_indent

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    if text is None or not text.strip():
        doc: Any = CommentedMap(new)
        yaml.indent(mapping=2, sequence=4, offset=2)
    else:
        try:
            doc, indent, block_seq_indent = load_yaml_guess_indent(text)
        except (YAMLError, ValueError) as exc:  # ruamel's own error tree: the file is not YAML it can edit
            raise UsageError(f"cannot edit the file: {str(exc).splitlines()[0]}") from None
        if not isinstance(doc, CommentedMap):
            raise UsageError("cannot edit the file: it is not a mapping")
        seq = block_seq_indent if block_seq_indent is not None else 0
        yaml.indent(mapping=_mapping_indent(text), sequence=max(indent or 2, seq + 2), offset=seq)
    change(doc)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue().encode()


def _mapping_indent(text: str) -> int:
    """The indent of the first nested mapping key (ruamel guesses the sequence indent only)."""
    import re

    for line in text.splitlines():
        m = re.match(r"^( +)[^\s#-][^:]*:(\s|$)", line)
        if m:
            return len(m.group(1))
    return 2


def flow(value: dict[str, Any]) -> Any:
    """A mapping written inline (`{version: 7, digest: sha256:…}`), as people write pins and rules."""
    from ruamel.yaml.comments import CommentedMap

    m = CommentedMap(value)
    m.fa.set_flow_style()
    return m


def flow_list(items: list[Any]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def ensure_map(doc: Any, key: str) -> Any:
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(doc.get(key), dict):
        doc[key] = CommentedMap()
    return doc[key]
