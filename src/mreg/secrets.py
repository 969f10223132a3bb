"""Params whose names look like secrets are refused (issue 7): a manifest is pushed to every clone
and kept forever, so a password typed as `--param db_password=…` could never be taken back.

Also the one owner of taking credentials out of URLs (`strip_credentials`) and of which URLs may be
sent a secret at all (`url_problem`: the notification outlets and the GitHub client both ask it). Pure: no git, no disk. A key is secret-like when, lower-cased with `-` and `.` read as `_`, it is one
of SECRET_NAMES or ends with `_` + one of them. So `api_key`, `DB-Password`, `github.token` and
`client_secret` are refused while `max_tokens`, `tokenizer`, `num_tokens` and `secretary` pass.
Nested mappings (and mappings inside lists) are searched too; a key is named by its dotted path.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mreg.errors import UsageError

SECRET_NAMES = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "secret_key",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "token",
    "credential",
    "credentials",
    "key",
)
# `*_key` names that are ordinary ML parameters, not credentials (JAX PRNG keys, dataset columns).
NOT_SECRET = frozenset(
    {
        "key",
        "rng_key",
        "prng_key",
        "random_key",
        "seed_key",
        "sort_key",
        "primary_key",
        "group_key",
        "join_key",
        "label_key",
        "target_key",
        "text_key",
        "image_key",
        "input_key",
        "output_key",
        "feature_key",
        "id_key",
        "cache_key",
        "dict_key",
        "data_key",
        "metric_key",
        "monitor_key",
        "column_key",
        "audio_key",
        "video_key",
    }
)
_SEP = re.compile(r"[-._\s]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# A value that carries a credential: a URL with user:password@, or one of the query parameters
# capture.strip_credentials removes (a presigned URL, `?access_token=`).
_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@")
_MAX_DEPTH = 64  # deeper params are refused by inputs.py long before; this only bounds the walk


def is_secret_like(key: str) -> bool:
    """True for a name that looks like it holds a credential (whole name or separated suffix)."""
    norm = _SEP.sub("_", _CAMEL.sub("_", key.strip())).lower().strip("_")
    if norm in NOT_SECRET:
        return False
    return any(norm == name or norm.endswith("_" + name) for name in SECRET_NAMES)


def is_secret_value(value: Any) -> bool:
    """True for a string that holds a credential however innocent its key (`postgresql://admin:pw@…`)."""
    if not isinstance(value, str) or "://" not in value:
        return False
    if _USERINFO.search(value):
        return True
    return any(strip_credentials(word) != word for word in value.split() if "://" in word)


def secret_like_keys(params: Mapping[str, Any]) -> list[str]:
    """Dotted paths of every secret-like key in `params`, nested mappings and lists included."""
    return [path for path, key in _walk(params, "", 0) if is_secret_like(key)]


def secret_like_values(params: Mapping[str, Any]) -> list[str]:
    """Dotted paths of every value (nested too) that holds a credential."""
    return [path for path, value in _values(params, "", 0) if is_secret_value(value)]


def _values(value: Any, prefix: str, depth: int) -> Iterator[tuple[str, Any]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _values(v, f"{prefix}.{k}" if prefix else str(k), depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _values(v, f"{prefix}[{i}]", depth + 1)
    else:
        yield prefix, value


def _walk(value: Any, prefix: str, depth: int) -> Iterator[tuple[str, Any]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            yield path, str(k)
            yield from _walk(v, path, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{prefix}[{i}]", depth + 1)


def check_params(params: Mapping[str, Any], allow: Sequence[str] = ()) -> None:
    """Refuse (exit 2) the first secret-like key not named by `allow` (its dotted path or its own name).

    The message names the key, never its value.
    """
    allowed = {a.strip().lower() for a in allow}
    for path in secret_like_keys(params):
        if path.lower() in allowed or path.rsplit(".", 1)[-1].lower() in allowed:
            continue
        raise UsageError(
            f"param {path!r} looks like a secret; a manifest is pushed to every clone and kept forever",
            hint=f"keep credentials out of params; if {path!r} is not a secret, pass --allow-secret-like {path}",
        )
    for path in secret_like_values(params):  # never allowed: the value itself is the credential
        raise UsageError(
            f"param {path!r} holds a URL with credentials (user:password@ or a token in its query)",
            hint="record the URL without its credentials; the job reads them from its environment",
        )


# Query or fragment parameters that carry a credential: OAuth/GitLab/GitHub tokens, presigned S3 and
# GCS URLs, Azure SAS signatures, API keys. Matched case-insensitively on the parameter's name.
_SECRET_PARAMS = re.compile(
    r"^(?:.*token|auth|authorization|pass|password|passwd|pwd|.*secret|.*key|.*keyid|jwt|session|sessionid|"
    r"sig|signature|x_amz_(?:signature|credential|security_token)|x_goog_(?:signature|credential)|"
    r"credential|credentials|code)\Z",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(://)[^/?#]*@")


def strip_credentials(url: str) -> str:
    """Remove user:password@ and credential-carrying query/fragment parameters (`?access_token=`,
    presigned `X-Amz-Signature=`, `#token=`) from URLs: a secret must never reach a manifest."""
    if "://" not in url:
        # scp-like git@host:path keeps its user (no secret); anything else is returned untouched
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # unparseable (a raw '[' in a password, a bad port): drop what could hold a secret
        head = _URL_USERINFO.sub(r"\\1", url)
        return re.split(r"[?#]", head, maxsplit=1)[0]
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        netloc = (parts.hostname or "") + (f":{port}" if port else "")
    query, fragment = _drop_secret_params(parts.query), _drop_secret_params(parts.fragment)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _drop_secret_params(text: str) -> str:
    if "=" not in text:
        return text
    kept = [
        p
        for p in re.split(r"[&;]", text)
        if not _SECRET_PARAMS.match(p.split("=", 1)[0].replace("-", "_").strip())
    ]
    return "&".join(kept)


_LOOPBACK = re.compile(r"^(?:localhost|127(?:\.[0-9]{1,3}){3}|::1)\Z")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be sent a secret (a notification's URL and body, a GitHub token), in words that
    never repeat it; None when it can.

    https only, except plain http to this machine (127.0.0.0/8, ::1, localhost: tests, local relays)."""
    if any(unicodedata.category(c) in ("Cc", "Zs", "Zl", "Zp") for c in url):
        return "holds spaces or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- a malformed port raises here, not later in the middle of a delivery
    except ValueError:
        return "does not hold a URL"
    if parts.scheme not in ("https", "http") or not host:
        return "does not hold an https:// URL"
    if parts.scheme == "http" and not _LOOPBACK.match(host):
        return "holds a plain http:// URL; only https:// is sent secrets (http only to this machine)"
    return None
