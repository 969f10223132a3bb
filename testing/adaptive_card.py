"""Checking the Adaptive Cards that Teams outlets send.

`CARD_SUBSET` is a JSON Schema written here, from the Adaptive Cards schema explorer's documented
elements (adaptivecards.io, schema 1.5), for exactly what mreg's cards use: the card (`type`,
`version`, `$schema`, `fallbackText`, `body`), TextBlock and FactSet/Fact — with no unknown
property anywhere, the enumerations of the published schema, and the Teams Workflows message
envelope around it. It is stricter than the published schema (which also allows every other
element), so a card that passes it uses only documented properties with documented values.

The published schema itself (microsoft/AdaptiveCards, `schemas/1.5.0/adaptive-card.json`, MIT) is
not committed to this repository: point ADAPTIVE_CARD_SCHEMA at a copy to validate against it too
(`published_schema()`; the test is skipped without it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SCHEMA_ENV = "ADAPTIVE_CARD_SCHEMA"


def _enum(*values: str) -> dict[str, Any]:
    # the published schema accepts each value case-insensitively; its examples capitalise them
    return {"type": "string", "enum": [*values, *(v[0].upper() + v[1:] for v in values)]}


_ELEMENT_COMMON = {
    "id": {"type": "string"},
    "spacing": _enum("default", "none", "small", "medium", "large", "extraLarge", "padding"),
    "separator": {"type": "boolean"},
    "isVisible": {"type": "boolean"},
}

CARD_SUBSET: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Teams Workflows message with the Adaptive Card subset mreg sends",
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "attachments"],
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["contentType", "content"],
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "contentUrl": {"type": "null"},
                    "content": {"$ref": "#/$defs/AdaptiveCard"},
                },
            },
        },
    },
    "$defs": {
        "AdaptiveCard": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "version", "body"],
            "properties": {
                "$schema": {"const": "http://adaptivecards.io/schemas/adaptive-card.json"},
                "type": {"const": "AdaptiveCard"},
                "version": {"enum": ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"]},
                "fallbackText": {"type": "string"},
                "body": {
                    "type": "array",
                    "items": {"anyOf": [{"$ref": "#/$defs/TextBlock"}, {"$ref": "#/$defs/FactSet"}]},
                },
            },
        },
        "TextBlock": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "text"],
            "properties": {
                "type": {"const": "TextBlock"},
                "text": {"type": "string"},
                "color": _enum("default", "dark", "light", "accent", "good", "warning", "attention"),
                "size": _enum("default", "small", "medium", "large", "extraLarge"),
                "weight": _enum("default", "lighter", "bolder"),
                "isSubtle": {"type": "boolean"},
                "wrap": {"type": "boolean"},
                "maxLines": {"type": "number"},
                **_ELEMENT_COMMON,
            },
        },
        "FactSet": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "facts"],
            "properties": {
                "type": {"const": "FactSet"},
                "facts": {"type": "array", "items": {"$ref": "#/$defs/Fact"}},
                **_ELEMENT_COMMON,
            },
        },
        "Fact": {
            "type": "object",
            "additionalProperties": False,
            "required": ["title", "value"],
            "properties": {
                "type": {"const": "Fact"},
                "title": {"type": "string"},
                "value": {"type": "string"},
            },
        },
    },
}


def published_schema() -> dict[str, Any] | None:
    """The published Adaptive Card schema from the file ADAPTIVE_CARD_SCHEMA names, or None."""
    path = os.environ.get(SCHEMA_ENV, "").strip()
    if not path or not Path(path).is_file():
        return None
    document: dict[str, Any] = json.loads(Path(path).read_text("utf-8"))
    return document
