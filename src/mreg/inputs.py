"""User input for `register`: K=V flags, params and metrics files, data references."""

from __future__ import annotations

import json
import math
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mreg.errors import UsageError

MAX_INPUT_FILE = 16 * 1024 * 1024


def _scalar(text: str) -> Any:
    """`K=V` values: numbers and booleans as such, anything else stays a string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def parse_pairs(items: Sequence[str], *, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"{flag} {item!r}: expected KEY=VALUE")
        if any(c in key for c in "\n\r\0"):
            raise UsageError(f"{flag} {item!r}: the key contains a control character")
        out[key] = value
    return out


def load_mapping_file(path: str, *, flag: str) -> dict[str, Any]:
    """A YAML or JSON mapping from a file (JSON is YAML), with the file named in every error."""
    p = Path(path)
    try:
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"{flag} {path}: is a directory, expected a YAML or JSON file")
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{flag} {path}: not a regular file")
        if st.st_size > MAX_INPUT_FILE:
            raise UsageError(f"{flag} {path}: file is larger than {MAX_INPUT_FILE // (1024 * 1024)} MiB")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{flag} {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{flag} {path}: is a directory, expected a YAML or JSON file") from None
    except PermissionError:
        raise UsageError(f"{flag} {path}: permission denied") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{flag} {path}: not UTF-8 text") from None
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{flag} {path}: invalid JSON: {exc}") from None
        except RecursionError:
            raise UsageError(f"{flag} {path}: nested too deeply") from None
    else:
        from mreg.manifest import load_yaml

        try:
            data = load_yaml(text, where=f"{flag} {path}")
        except RecursionError:
            raise UsageError(f"{flag} {path}: nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{flag} {path}: expected a mapping of names to values, got {type(data).__name__}")
    return mapping_input(data, flag=f"{flag} {path}")


def mapping_input(data: Any, *, flag: str) -> dict[str, Any]:
    """A mapping from a file or from Python: string keys, values that can be recorded as JSON; checked
    per key, so the message names the bad one."""
    if not isinstance(data, dict):
        data = dict(data)
    for key in data:
        if not isinstance(key, str):
            raise UsageError(f"{flag}: key {key!r} is not a string")
    for key, value in data.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{flag}: {key!r} is not a finite number ({value})")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{flag}: {key!r}: value cannot be recorded: {exc}") from None
        except RecursionError:
            raise UsageError(f"{flag}: {key!r} is nested too deeply") from None
    return dict(data)


def metric_mapping(data: Any) -> dict[str, float | int]:
    return {
        k: _number(v, where=f"metrics: {k!r}")
        for k, v in flatten_metrics(mapping_input(data, flag="metrics")).items()
    }


def build_params(files: Sequence[str], pairs: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for f in files:
        params.update(load_mapping_file(f, flag="--params"))
    params.update({k: _scalar(v) for k, v in parse_pairs(pairs, flag="--param").items()})
    return params


def flatten_metrics(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metrics (`{val: {auc: 0.9}}`, as evaluation libraries write them) as dotted names
    (`val.auc`), which gates name the same way."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_metrics(value, name + "."))
        else:
            out[name] = value
    return out


def build_metrics(files: Sequence[str], pairs: Sequence[str]) -> dict[str, float | int]:
    metrics: dict[str, float | int] = {}
    for f in files:
        for key, value in flatten_metrics(load_mapping_file(f, flag="--metrics")).items():
            metrics[key] = _number(value, where=f"--metrics {f}: metric {key!r}")
    for key, value in parse_pairs(pairs, flag="--metric").items():
        metrics[key] = _number(_scalar(value), where=f"--metric {key}={value}")
    return metrics


def _number(value: Any, *, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{where} is not a number ({str(value)[:80]!r})")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise UsageError(f"{where} is an integer beyond 64 bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{where} is not a finite number")
    return value


def parse_data_refs(items: Sequence[str]) -> list[tuple[str, str]]:
    refs = []
    seen = set()
    for name, uri in parse_pairs(items, flag="--data").items():
        if not uri:
            raise UsageError(f"--data {name}=: missing URI")
        if name in seen:
            raise UsageError(f"--data {name}: named twice")
        seen.add(name)
        refs.append((name, uri))
    return refs
