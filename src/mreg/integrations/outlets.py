"""Notification outlets (SPEC §12): which events an outlet wants, and the HTTP request that tells it.

Pure: configuration in, request out. Nothing here opens a socket (`mreg.integrations.delivery` sends
what `request_for` builds) or reads git (`mreg.ops.notify` derives the events).

An outlet in `mreg.yaml` (governed: changing one is reviewed) names its URL, token and signing
secret by environment variable, never by value: a Slack or Teams webhook URL *is* a credential
(whoever holds it can post to the channel). So no URL or token is ever written to git, and no
message of mreg's shows more of a URL than its scheme and host (`redact_url`).

- `slack`: an incoming-webhook message, `{"text": ..., "blocks": [...]}`; everything read from git is
  escaped for Slack's mrkdwn (`&`, `<`, `>`), so a reason cannot `<!channel>` or hide a link.
- `teams`: a Workflows ("Post to a channel when a webhook request is received") message carrying an
  Adaptive Card 1.4 (TextBlock, FactSet); Markdown emphasis and link syntax in values is escaped.
- `webhook`: the event JSON itself (compact UTF-8), signed the Standard Webhooks way.
- `github-dispatch`: `POST /repos/{owner}/{repo}/dispatches` with the event as `client_payload`;
  workflows on `repository_dispatch` start even when the workflow token made the tag.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from mreg._version import __version__
from mreg.errors import UsageError
from mreg.events import (
    ALIAS_MOVED,
    EVALUATION_ADDED,
    EVENT_TYPES,
    LIFECYCLE_CHANGED,
    REVIEW_REQUESTED,
    VERSION_REGISTERED,
    summary,
)
from mreg.secrets import strip_credentials, url_problem

SLACK, TEAMS, WEBHOOK, GITHUB_DISPATCH = "slack", "teams", "webhook", "github-dispatch"
OUTLET_TYPES = (SLACK, TEAMS, WEBHOOK, GITHUB_DISPATCH)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")  # also a ref component: refs/mreg/notify/<name>
ENV_RE = re.compile(r"^[A-Z_][A-Z0-9_]*\Z")
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
DEFAULT_EVENT_TYPE = "mreg"
DEFAULT_TOKEN_ENVS = ("GITHUB_TOKEN", "GH_TOKEN")  # as mreg's GitHub client reads them (forge/github.py)
GITHUB_API_VERSION = "2022-11-28"
# GitHub's repository_dispatch: `client_payload` has at most 10 top-level properties and the JSON
# payload must be smaller than 64 KB (REST docs, "Create a repository dispatch event"); event_type
# at most 100 characters. 64,000 bytes satisfies "KB" read either way.
DISPATCH_MAX_PROPERTIES = 10
DISPATCH_MAX_BYTES = 64_000
EVENT_TYPE_MAX = 100
# Standard Webhooks: secrets are `whsec_` + base64 of 24 to 64 random bytes.
WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_SECRET_MIN_BYTES = 24
# Slack Block Kit limits: a section's text 3000 characters, at most 10 fields of 2000 each.
SLACK_TEXT_MAX = 3000
SLACK_FIELDS_MAX = 10
VALUE_MAX = 500  # one value shown in a chat message; the whole event is in the webhook outlets
_KEYS = {
    "name",
    "type",
    "url_env",
    "secret_env",
    "token_env",
    "repository",
    "event_type",
    "events",
    "models",
    "aliases",
}
_ALLOWED = {  # keys each type takes beside name, type and the filters
    SLACK: {"url_env"},
    TEAMS: {"url_env"},
    WEBHOOK: {"url_env", "secret_env"},
    GITHUB_DISPATCH: {"token_env", "repository", "event_type"},
}
_REQUIRED = {
    SLACK: ("url_env",),
    TEAMS: ("url_env",),
    WEBHOOK: ("url_env", "secret_env"),
    GITHUB_DISPATCH: (),
}
_FILTERS = ("events", "models", "aliases")


@dataclass(frozen=True)
class Outlet:
    """One outlet of `mreg.yaml`'s `notify.outlets`: where to send, and which events.

    Every secret is named by the environment variable that holds it, never held here."""

    name: str  # [a-z0-9][a-z0-9-]{0,62}: also a git ref component (refs/mreg/notify/<name>)
    type: str  # slack | teams | webhook | github-dispatch
    url_env: str | None = None  # slack, teams, webhook: the variable holding the URL
    secret_env: str | None = None  # webhook: the variable holding the secret (`whsec_<base64>`)
    token_env: str | None = None  # github-dispatch: None = GITHUB_TOKEN, else GH_TOKEN
    repository: str | None = None  # github-dispatch: OWNER/REPO; None = the registry's own
    event_type: str = DEFAULT_EVENT_TYPE  # github-dispatch: repository_dispatch's event_type
    events: tuple[str, ...] = ()  # event types to send; empty = all
    models: tuple[str, ...] = ()  # glob patterns on the model; empty = all
    aliases: tuple[str, ...] = ()  # glob patterns on data.alias (alias.moved, review.requested); empty = all


def parse_outlets(config: Mapping[str, Any]) -> list[Outlet]:
    """The outlets of a whole `mreg.yaml` document (`notify: {outlets: [...]}`); [] without any.

    Raises UsageError naming the outlet and the key at fault, never the value (it may be a secret
    pasted where its variable's name belongs)."""
    notify = config.get("notify")
    if notify is None:
        return []
    if not isinstance(notify, Mapping):
        raise UsageError("mreg.yaml: notify must be a mapping with an 'outlets' list")
    unknown = sorted(str(k) for k in notify if k != "outlets")
    if unknown:
        raise UsageError(f"mreg.yaml: notify has an unknown key {unknown[0]!r}", hint="it takes 'outlets'")
    items = notify.get("outlets") or []
    if not isinstance(items, list):
        raise UsageError("mreg.yaml: notify.outlets must be a list")
    outlets: list[Outlet] = []
    for index, item in enumerate(items):
        outlet = _parse_outlet(item, index)
        if any(o.name == outlet.name for o in outlets):
            raise UsageError(f"mreg.yaml: two outlets are named {outlet.name!r}", hint="names must be unique")
        outlets.append(outlet)
    return outlets


def _parse_outlet(item: Any, index: int) -> Outlet:
    where = f"mreg.yaml: notify.outlets[{index}]"
    if not isinstance(item, Mapping):
        raise UsageError(f"{where} must be a mapping")
    name = item.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise UsageError(
            f"{where}: 'name' must be 1-63 lowercase letters, digits or '-', starting with a letter or digit",
            hint="the name is also a git ref: refs/mreg/notify/<name>",
        )
    where = f"mreg.yaml: outlet {name!r}"
    kind = item.get("type")
    if kind not in OUTLET_TYPES:
        raise UsageError(f"{where}: 'type' must be one of {', '.join(OUTLET_TYPES)}")
    for key in sorted(str(k) for k in item):
        if key not in _KEYS:
            raise UsageError(
                f"{where}: unknown key {key!r}",
                hint="URLs, tokens and secrets are never written in mreg.yaml: name the environment "
                "variable that holds them (url_env, secret_env, token_env)",
            )
        if key not in _ALLOWED[kind] and key not in ("name", "type", *_FILTERS):
            takes = ", ".join(sorted(_ALLOWED[kind]))
            raise UsageError(f"{where}: a {kind} outlet takes no {key!r} (it takes {takes})")
    for key in ("url_env", "secret_env", "token_env"):
        value = item.get(key)
        if key in item and (not isinstance(value, str) or not ENV_RE.match(value)):
            raise UsageError(
                f"{where}: {key!r} must name an environment variable (A-Z, 0-9 and _, not starting with a digit)",
                hint="the value itself lives in the environment (a CI secret), never in mreg.yaml",
            )
    for key in _REQUIRED[kind]:
        if key not in item:
            raise UsageError(
                f"{where}: a {kind} outlet needs {key!r}, the environment variable that holds it"
            )
    repository = item.get("repository")
    if repository is not None and (not isinstance(repository, str) or not REPOSITORY_RE.match(repository)):
        raise UsageError(f"{where}: 'repository' must be OWNER/REPO")
    event_type = item.get("event_type", DEFAULT_EVENT_TYPE)
    if (
        not isinstance(event_type, str)
        or not 0 < len(event_type) <= EVENT_TYPE_MAX
        or not event_type.isprintable()
    ):
        raise UsageError(f"{where}: 'event_type' must be 1-{EVENT_TYPE_MAX} printable characters")
    events = _strings(item, "events", where)
    for kind_name in events:
        if kind_name not in EVENT_TYPES:
            raise UsageError(
                f"{where}: unknown event type {kind_name!r} in 'events'", hint=", ".join(EVENT_TYPES)
            )
    return Outlet(
        name=name,
        type=kind,
        url_env=item.get("url_env"),
        secret_env=item.get("secret_env"),
        token_env=item.get("token_env"),
        repository=repository,
        event_type=event_type,
        events=events,
        models=_strings(item, "models", where),
        aliases=_strings(item, "aliases", where),
    )


def _strings(item: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = item.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"{where}: {key!r} must be a list of non-empty strings")
    return tuple(value)


def wants(outlet: Outlet, event: Mapping[str, Any]) -> bool:
    """Does the outlet take this event? Each filter that is set must match: `events` the type,
    `models` (globs) the model, `aliases` (globs) the alias of an event that has one — events without
    an alias (registrations, evaluations) pass `aliases`; narrow them with `events`."""
    if outlet.events and event.get("type") not in outlet.events:
        return False
    model = str(event.get("model") or "")
    if outlet.models and not any(fnmatchcase(model, p) for p in outlet.models):
        return False
    data = event.get("data")
    alias = data.get("alias") if isinstance(data, Mapping) else None
    return not (
        outlet.aliases and alias is not None and not any(fnmatchcase(str(alias), p) for p in outlet.aliases)
    )


# -- the request --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingRequest:
    """One POST. `url` and `headers` hold secrets (a webhook URL, a bearer token): print `label`,
    never them; the repr shows neither."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    label: str = field(default="")  # what to call the destination in a message: no secret in it

    @property
    def target(self) -> str:
        return self.label or redact_url(self.url)

    def __repr__(self) -> str:
        return (
            f"OutgoingRequest({self.target!r}, headers={sorted(self.headers)}, body={len(self.body)} bytes)"
        )


def request_for(
    outlet: Outlet,
    event: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    github_api: str | None,
    default_repository: str | None,
    now: float | None = None,
) -> OutgoingRequest:
    """The request that tells `outlet` about `event` (a `mreg.events.Event.to_json` dict).

    `github_api` is the GitHub API base URL of the registry's host (None when it is not GitHub),
    `default_repository` its OWNER/REPO; `now` (unix seconds) stamps a webhook's signature. Raises
    UsageError naming a missing or malformed environment variable, never its value."""
    where = f"outlet {outlet.name!r}"
    if outlet.type == GITHUB_DISPATCH:
        return _dispatch_request(outlet, event, env, github_api, default_repository)
    assert outlet.url_env is not None  # parse_outlets requires it of the other types
    url = _url_from(env, outlet.url_env, where)
    if outlet.type == SLACK:
        body = _json(slack_payload(event))
        return OutgoingRequest(url, _headers(), body, f"{where} (Slack, {redact_url(url)})")
    if outlet.type == TEAMS:
        body = _json(teams_payload(event))
        return OutgoingRequest(url, _headers(), body, f"{where} (Teams, {redact_url(url)})")
    if outlet.type == WEBHOOK:
        assert outlet.secret_env is not None
        key = webhook_key(_env(env, outlet.secret_env, where), outlet.secret_env, where)
        body = _json(dict(event))
        stamp = int(time.time() if now is None else now)
        msg_id = str(event.get("id") or "")
        headers = {
            **_headers(),
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(key, msg_id, stamp, body),
        }
        return OutgoingRequest(url, headers, body, f"{where} ({redact_url(url)})")
    raise UsageError(f"{where}: unknown outlet type {outlet.type!r}")  # parse_outlets refuses these


def _headers() -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": f"mreg/{__version__}"}


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _env(env: Mapping[str, str], name: str, where: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise UsageError(
            f"{where}: environment variable {name} is not set",
            hint=f"set {name} where `mreg notify` runs (a CI secret); mreg.yaml only names it",
        )
    return value


def _url_from(env: Mapping[str, str], name: str, where: str) -> str:
    url = _env(env, name, where)
    problem = url_problem(url)
    if problem:
        raise UsageError(
            f"{where}: {name} {problem}", hint="it must hold the full https:// URL the service gave"
        )
    return url


def redact_url(url: str) -> str:
    """scheme://host[:port] of `url`: what a message may show of a webhook URL, whose path and query
    are the credential (Slack's `/services/T../B../secret`, a Workflows URL's `sig=`)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(a URL that cannot be parsed)"
    if not parts.scheme or not host:
        return "(not a URL)"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


# -- webhook: Standard Webhooks signatures -------------------------------------------------------------


def webhook_key(secret: str, name: str = "the secret", where: str = "webhook") -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64 after an optional `whsec_` prefix."""
    text = secret.strip()
    if text.startswith(WEBHOOK_SECRET_PREFIX):
        text = text[len(WEBHOOK_SECRET_PREFIX) :]
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        key = b""
    if len(key) < WEBHOOK_SECRET_MIN_BYTES:
        raise UsageError(
            f"{where}: {name} does not hold a Standard Webhooks secret (whsec_ and the base64 of at least "
            f"{WEBHOOK_SECRET_MIN_BYTES} random bytes)",
            hint="make one: python -c \"import base64,secrets; print('whsec_'+base64.b64encode(secrets.token_bytes(32)).decode())\"",
        )
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`: the `webhook-signature` header."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


# -- github-dispatch -----------------------------------------------------------------------------------


def _dispatch_request(
    outlet: Outlet,
    event: Mapping[str, Any],
    env: Mapping[str, str],
    github_api: str | None,
    default_repository: str | None,
) -> OutgoingRequest:
    where = f"outlet {outlet.name!r}"
    if not github_api:
        raise UsageError(
            f"{where}: github-dispatch needs GitHub's API, and the registry's remote is not on a host known to be GitHub",
            hint="run where GITHUB_API_URL is set (GitHub Actions sets it), or from a clone of a GitHub remote",
        )
    problem = url_problem(github_api)
    if problem:
        raise UsageError(f"{where}: the GitHub API URL {problem}")
    repository = outlet.repository or default_repository
    if not repository or not REPOSITORY_RE.match(repository):
        raise UsageError(
            f"{where}: no repository to dispatch to",
            hint="give the outlet `repository: OWNER/REPO`, or set GITHUB_REPOSITORY",
        )
    names = (outlet.token_env,) if outlet.token_env else DEFAULT_TOKEN_ENVS
    token = next((v for v in ((env.get(n) or "").strip() for n in names) if v), None)
    if not token:
        raise UsageError(
            f"{where}: environment variable {' or '.join(names)} is not set",
            hint="a token that may write the repository's contents (the workflow's GITHUB_TOKEN with "
            "`contents: write` for its own repository)",
        )
    if any(c.isspace() or not c.isprintable() for c in token):
        raise UsageError(f"{where}: {' or '.join(names)} holds spaces or control characters")
    body = _json(dispatch_payload(event, outlet.event_type))
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": GITHUB_API_VERSION,
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "User-Agent": f"mreg/{__version__}",
    }
    api = github_api.rstrip("/")
    url = f"{api}/repos/{repository}/dispatches"
    return OutgoingRequest(
        url, headers, body, f"{where} (repository_dispatch to {repository} at {redact_url(api)})"
    )


def dispatch_payload(event: Mapping[str, Any], event_type: str = DEFAULT_EVENT_TYPE) -> dict[str, Any]:
    """`{"event_type": ..., "client_payload": <event>}` within GitHub's limits: at most 10 top-level
    properties (an event has 8; any beyond 9 would move under `extra`) and under 64 KB (long strings
    in `data` are cut, then `data` keeps only short values, with `"truncated": true`)."""
    payload = dict(event)
    if len(payload) > DISPATCH_MAX_PROPERTIES:
        keys = list(payload)
        keep, rest = keys[: DISPATCH_MAX_PROPERTIES - 1], keys[DISPATCH_MAX_PROPERTIES - 1 :]
        payload = {k: payload[k] for k in keep} | {"extra": {k: event[k] for k in rest}}
    document = {"event_type": event_type, "client_payload": payload}
    if len(_json(document)) < DISPATCH_MAX_BYTES:
        return document
    data = payload.get("data")
    data = dict(data) if isinstance(data, Mapping) else {}
    for limit in (1000, 100):
        cut = {k: _cut_deep(v, limit) for k, v in data.items()}
        payload["data"] = {**cut, "truncated": True}
        if len(_json(document)) < DISPATCH_MAX_BYTES:
            return document
    payload["data"] = {
        **{k: v for k, v in data.items() if isinstance(v, (int, float, bool)) or v is None},
        **{k: v[:100] for k, v in data.items() if isinstance(v, str)},
        "truncated": True,
    }
    if len(_json(document)) < DISPATCH_MAX_BYTES:
        return document
    payload["data"] = {"truncated": True}  # only a hostile event gets here: its other fields are bounded
    for key in ("subject", "registry", "model"):
        if isinstance(payload.get(key), str):
            payload[key] = payload[key][:1000]
    return document


def _cut_deep(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, Mapping):
        return {str(k)[:limit]: _cut_deep(v, limit) for k, v in list(value.items())[:limit]}
    if isinstance(value, list):
        return [_cut_deep(v, limit) for v in value[:limit]]
    return value


# -- chat messages -------------------------------------------------------------------------------------

_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def one_line(value: object, limit: int = VALUE_MAX) -> str:
    """One line of text read from git: control characters as spaces, no bidi overrides, bounded."""
    text = "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in str(value) if c not in _BIDI
    )
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def facts(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(title, value) pairs a person reads beside the summary line; plain text, not yet escaped."""
    data = event.get("data")
    data = data if isinstance(data, Mapping) else {}
    kind = event.get("type")
    rows: list[tuple[str, Any]] = [("Model", event.get("model"))]
    if kind in (ALIAS_MOVED, REVIEW_REQUESTED):
        rows.append(("Alias", data.get("alias")))
    version = data.get("version")
    if kind == ALIAS_MOVED and version is None:
        rows.append(("Version", "removed"))
    else:
        rows.append(("Version", f"v{version}" if isinstance(version, int) else version))
    if kind == ALIAS_MOVED:
        previous = data.get("previous")
        rows += [
            ("Previous", f"v{previous}" if isinstance(previous, int) else previous),
            ("Move", data.get("move")),
            ("Reviewed", "yes" if data.get("reviewed", True) else "NO: readers refuse this tag"),
            ("Request", data.get("request")),
            ("Reason", data.get("reason")),
        ]
    elif kind == REVIEW_REQUESTED:
        rows += [("Branch", data.get("branch")), ("Reason", data.get("reason"))]
    elif kind == EVALUATION_ADDED:
        metrics = data.get("metrics")
        shown = (
            ", ".join(f"{k}={v}" for k, v in list(metrics.items())[:12])
            if isinstance(metrics, Mapping)
            else None
        )
        rows += [("Dataset", data.get("dataset")), ("Metrics", shown), ("Message", data.get("message"))]
    elif kind == LIFECYCLE_CHANGED:
        freed = data.get("bytes_freed")
        rows += [("Lifecycle", data.get("event")), ("Reason", data.get("reason")), ("Bytes freed", freed)]
    elif kind == VERSION_REGISTERED:
        digest = data.get("digest")
        rows += [
            ("Digest", digest[:19] + "…" if isinstance(digest, str) and len(digest) > 20 else digest),
            ("Message", data.get("message")),
        ]
    rows.append(("By", data.get("by")))
    return [(title, one_line(value)) for title, value in rows if value is not None and value != ""]


def _footer(event: Mapping[str, Any]) -> str:
    registry = event.get("registry")
    parts = [event.get("time"), strip_credentials(str(registry)) if registry else None, event.get("id")]
    return " · ".join(one_line(p, 300) for p in parts if p)


def slack_escape(text: str) -> str:
    """Slack's three control characters: `&`, `<`, `>` (so no `<!channel>`, `<@U..>` or `<url|text>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(event: Mapping[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message: `text` (the notification's fallback) and Block Kit blocks — the
    summary, the facts as fields, and a context line (time, registry, event id)."""
    headline = slack_escape(one_line(summary(event), SLACK_TEXT_MAX - 100))
    fields = [
        {"type": "mrkdwn", "text": f"*{title}*\n{slack_escape(value)}"}
        for title, value in facts(event)[:SLACK_FIELDS_MAX]
    ]
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}}]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    footer = _footer(event)
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(footer)}]})
    return {"text": headline, "blocks": blocks}


_TEAMS_MD = re.compile(r"([\\*_\[\]])")


def teams_escape(text: str) -> str:
    """Adaptive Card TextBlocks and facts render a Markdown subset (emphasis, links): backslash its
    characters so text from git stays text."""
    return _TEAMS_MD.sub(r"\\\1", text)


ADAPTIVE_CARD_VERSION = "1.4"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def teams_payload(event: Mapping[str, Any]) -> dict[str, Any]:
    """A Teams Workflows webhook message: one Adaptive Card attachment (title, facts, context)."""
    data = event.get("data")
    unreviewed = isinstance(data, Mapping) and data.get("reviewed") is False
    title: dict[str, Any] = {
        "type": "TextBlock",
        "text": teams_escape(one_line(summary(event), 1000)),
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    if unreviewed:
        title["color"] = "Attention"
    body: list[dict[str, Any]] = [title]
    rows = [{"title": title_, "value": teams_escape(value)} for title_, value in facts(event)]
    if rows:
        body.append({"type": "FactSet", "facts": rows})
    footer = _footer(event)
    if footer:
        body.append(
            {
                "type": "TextBlock",
                "text": teams_escape(footer),
                "isSubtle": True,
                "size": "Small",
                "wrap": True,
            }
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "fallbackText": one_line(summary(event), 1000),
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }
