"""Notification outlets (SPEC §12, issue 16): configuration, filters, the payload of each outlet type
and its delivery with retries — against real HTTP endpoints on 127.0.0.1 (testing.receiver, and the
fake GitHub for github-dispatch, "against the documented API"), never a mocked HTTP layer."""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

import jsonschema
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from mreg._version import __version__
from mreg.errors import UsageError
from mreg.events import Event
from mreg.integrations.delivery import RETRY_AFTER_CAP, backoff_base, deliver
from mreg.integrations.outlets import (
    DISPATCH_MAX_BYTES,
    OutgoingRequest,
    Outlet,
    dispatch_payload,
    parse_outlets,
    redact_url,
    request_for,
    slack_escape,
    wants,
)
from mreg.manifest import REGISTRY_SCHEMA, schema_errors
from testing.adaptive_card import CARD_SUBSET, published_schema
from testing.fake_github import FakeGitHub
from testing.receiver import Answer, Receiver

REGISTRY = "https://github.com/acme/models.git"
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
HOSTILE = "beats v2 <!channel> & <https://evil.example|click> *bold* [link](https://evil.example)"


def _event(kind: str = "alias.moved", **data: Any) -> dict[str, Any]:
    defaults: dict[str, dict[str, Any]] = {
        "alias.moved": {
            "alias": "production",
            "version": 3,
            "previous": 2,
            "move": "promote",
            "digest": "sha256:" + "ab" * 32,
            "reason": HOSTILE,
            "request": "https://github.com/acme/models/pull/7",
            "reviewed": True,
            "by": "Ada Lovelace <ada@example.com>",
            "tag": "mreg/fraud/production/3",
        },
        "version.registered": {
            "version": 3,
            "digest": "sha256:" + "cd" * 32,
            "message": "retrained on November",
            "by": "Ada Lovelace <ada@example.com>",
            "commit": "c" * 40,
        },
        "evaluation.added": {
            "version": 3,
            "number": 1,
            "dataset": "holdout-2026-11",
            "metrics": {"auc": 0.93, "latency_ms": 21},
            "by": "CI <ci@example.com>",
            "commit": "d" * 40,
        },
        "review.requested": {
            "alias": "production",
            "version": 3,
            "branch": "mreg/promote/fraud/production",
            "head": "e" * 40,
            "reason": "better",
            "by": "Ada Lovelace <ada@example.com>",
        },
    }
    subject = "fraud@v3" if kind in ("version.registered", "evaluation.added") else "fraud@production"
    event = Event(kind, f"key-{kind}", 1_796_000_000, "fraud", subject, {**defaults[kind], **data})
    document = event.to_json(REGISTRY)
    jsonschema.validate(document, json.loads(_schema_text("event.schema.json")))
    return document


def _schema_text(name: str) -> str:
    from importlib import resources

    return resources.files("mreg").joinpath("schemas").joinpath(name).read_text("utf-8")


def _outlet(kind: str, **fields: Any) -> Outlet:
    env_fields = {"url_env": "HOOK_URL"} if kind != "github-dispatch" else {}
    if kind == "webhook":
        env_fields["secret_env"] = "HOOK_SECRET"
    return Outlet(name=f"{kind}-out", type=kind, **{**env_fields, **fields})


def _req(outlet: Outlet, event: dict[str, Any], url: str, **env: str) -> OutgoingRequest:
    return request_for(
        outlet,
        event,
        {"HOOK_URL": url, "HOOK_SECRET": SECRET, **env},
        github_api=None,
        default_repository=None,
    )


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MREG_NOTIFY_BACKOFF", "0.001")


# -- configuration ------------------------------------------------------------------------------------


def test_parse_outlets_reads_each_type_with_its_defaults() -> None:
    config = {
        "schema": "mreg/registry/v1",
        "notify": {
            "outlets": [
                {
                    "name": "ml-alerts",
                    "type": "slack",
                    "url_env": "SLACK_WEBHOOK_URL",
                    "events": ["alias.moved"],
                },
                {"name": "teams", "type": "teams", "url_env": "TEAMS_URL", "models": ["fraud*"]},
                {"name": "hook", "type": "webhook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"},
                {"name": "deploy", "type": "github-dispatch", "aliases": ["production"]},
                {
                    "name": "other-repo",
                    "type": "github-dispatch",
                    "token_env": "DISPATCH_TOKEN",
                    "repository": "acme/deploy",
                    "event_type": "model-moved",
                },
            ]
        },
    }
    assert schema_errors(config, REGISTRY_SCHEMA) == []
    slack, teams, hook, deploy, other = parse_outlets(config)
    assert slack == Outlet("ml-alerts", "slack", url_env="SLACK_WEBHOOK_URL", events=("alias.moved",))
    assert teams.models == ("fraud*",) and teams.events == ()
    assert (hook.url_env, hook.secret_env) == ("HOOK_URL", "HOOK_SECRET")
    assert (deploy.token_env, deploy.repository, deploy.event_type, deploy.aliases) == (
        None,
        None,
        "mreg",
        ("production",),
    )
    assert (other.token_env, other.repository, other.event_type) == (
        "DISPATCH_TOKEN",
        "acme/deploy",
        "model-moved",
    )
    assert parse_outlets({"schema": "mreg/registry/v1"}) == []
    assert parse_outlets({"notify": {"outlets": []}}) == []


LEAK = "https://hooks.slack.com/services/T000/B000/sEcReTsEcReT"


@pytest.mark.parametrize(
    ("outlet", "message"),
    [
        ({"name": "Alerts", "type": "slack", "url_env": "U"}, r"'name' must be 1-63 lowercase"),
        ({"name": "a/b", "type": "slack", "url_env": "U"}, r"'name' must be"),
        ({"name": LEAK, "type": "slack", "url_env": "U"}, r"'name' must be"),
        ({"name": "a", "type": "email", "url_env": "U"}, r"outlet 'a': 'type' must be one of slack, teams"),
        ({"name": "a", "type": "slack"}, r"outlet 'a': a slack outlet needs 'url_env'"),
        ({"name": "a", "type": "teams"}, r"outlet 'a': a teams outlet needs 'url_env'"),
        (
            {"name": "a", "type": "slack", "url_env": "slack_url"},
            r"outlet 'a': 'url_env' must name an environment",
        ),
        ({"name": "a", "type": "slack", "url_env": LEAK}, r"outlet 'a': 'url_env' must name an environment"),
        ({"name": "a", "type": "slack", "url_env": "1URL"}, r"'url_env' must name an environment variable"),
        ({"name": "a", "type": "slack", "url_env": "U", "url": LEAK}, r"outlet 'a': unknown key 'url'"),
        ({"name": "a", "type": "webhook", "url_env": "U"}, r"a webhook outlet needs 'secret_env'"),
        (
            {"name": "a", "type": "webhook", "url_env": "U", "secret_env": "whsec_" + LEAK},
            r"'secret_env' must name",
        ),
        ({"name": "a", "type": "webhook", "url_env": "U", "secret": "whsec_x"}, r"unknown key 'secret'"),
        (
            {"name": "a", "type": "github-dispatch", "url_env": "U"},
            r"a github-dispatch outlet takes no 'url_env'",
        ),
        ({"name": "a", "type": "github-dispatch", "token": LEAK}, r"unknown key 'token'"),
        (
            {"name": "a", "type": "slack", "url_env": "U", "token_env": "T"},
            r"a slack outlet takes no 'token_env'",
        ),
        ({"name": "a", "type": "github-dispatch", "repository": LEAK}, r"'repository' must be OWNER/REPO"),
        ({"name": "a", "type": "github-dispatch", "event_type": "x" * 101}, r"'event_type' must be 1-100"),
        ({"name": "a", "type": "slack", "url_env": "U", "events": ["model.deleted"]}, r"unknown event type"),
        ({"name": "a", "type": "slack", "url_env": "U", "models": "fraud*"}, r"'models' must be a list"),
        (
            {"name": "a", "type": "slack", "url_env": "U", "aliases": [""]},
            r"'aliases' must be a list of non-empty",
        ),
    ],
)
def test_parse_outlets_refuses_bad_config_naming_the_outlet_never_the_value(
    outlet: dict[str, Any], message: str
) -> None:
    config = {"schema": "mreg/registry/v1", "notify": {"outlets": [outlet]}}
    with pytest.raises(UsageError, match=message) as info:
        parse_outlets(config)
    shown = f"{info.value.message} {info.value.hint}"
    assert "sEcReT" not in shown and "whsec_x" not in shown
    # the governed file's schema refuses the same document, and its messages do not repeat values either
    errors = schema_errors(config, REGISTRY_SCHEMA)
    assert errors, outlet
    assert not any("sEcReT" in e or "whsec_x" in e for e in errors), errors


def test_parse_outlets_refuses_duplicate_names_and_a_malformed_notify() -> None:
    two = {"name": "a", "type": "slack", "url_env": "U"}
    with pytest.raises(UsageError, match="two outlets are named 'a'"):
        parse_outlets({"notify": {"outlets": [two, dict(two)]}})
    with pytest.raises(UsageError, match="notify must be a mapping"):
        parse_outlets({"notify": [two]})
    with pytest.raises(UsageError, match="unknown key 'hooks'"):
        parse_outlets({"notify": {"hooks": [two]}})
    with pytest.raises(UsageError, match="outlets must be a list"):
        parse_outlets({"notify": {"outlets": two}})


# -- filters ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "event", "wanted"),
    [
        ({}, ("version.registered", "fraud", None), True),
        ({"events": ("alias.moved",)}, ("alias.moved", "fraud", "production"), True),
        ({"events": ("alias.moved",)}, ("version.registered", "fraud", None), False),
        ({"events": ("alias.moved", "review.requested")}, ("review.requested", "fraud", "production"), True),
        ({"models": ("fraud*",)}, ("version.registered", "fraud-eu", None), True),
        ({"models": ("fraud*",)}, ("version.registered", "churn", None), False),
        ({"models": ("churn", "fraud")}, ("alias.moved", "fraud", "staging"), True),
        (
            {"models": ("Fraud",)},
            ("alias.moved", "fraud", "staging"),
            False,
        ),  # case matters: names are lowercase
        ({"aliases": ("production",)}, ("alias.moved", "fraud", "production"), True),
        ({"aliases": ("production",)}, ("alias.moved", "fraud", "staging"), False),
        ({"aliases": ("prod*",)}, ("review.requested", "fraud", "production-eu"), True),
        ({"aliases": ("production",)}, ("review.requested", "fraud", "staging"), False),
        # events without an alias pass the alias filter: narrow them with `events`
        ({"aliases": ("production",)}, ("version.registered", "fraud", None), True),
        (
            {"aliases": ("production",), "events": ("alias.moved",)},
            ("version.registered", "fraud", None),
            False,
        ),
        (
            {"events": ("alias.moved",), "models": ("fraud",), "aliases": ("production",)},
            ("alias.moved", "fraud", "production"),
            True,
        ),
        (
            {"events": ("alias.moved",), "models": ("churn",), "aliases": ("production",)},
            ("alias.moved", "fraud", "production"),
            False,
        ),
    ],
)
def test_wants_matches_every_filter_that_is_set(
    filters: dict[str, tuple[str, ...]], event: tuple[str, str, str | None], wanted: bool
) -> None:
    kind, model, alias = event
    data = {} if alias is None else {"alias": alias}
    document = {"type": kind, "model": model, "subject": f"{model}@x", "data": data}
    assert wants(Outlet("o", "slack", url_env="U", **filters), document) is wanted


# -- payloads, delivered to a real endpoint -----------------------------------------------------------


def test_slack_message_has_the_documented_shape_and_escapes_what_came_from_git(receiver: Receiver) -> None:
    event = _event("alias.moved", by="Mallory <@U123> & co")
    req = _req(_outlet("slack"), event, receiver.url + "/services/T0/B0/secret")
    result = deliver(req)
    assert (result.ok, result.status, result.attempts, result.error) == (True, 200, 1, None)
    (got,) = receiver.requests
    assert got.method == "POST" and got.path == "/services/T0/B0/secret"
    assert got.headers["content-type"] == "application/json; charset=utf-8"
    assert got.headers["user-agent"] == f"mreg/{__version__}"
    message = got.json()
    assert set(message) == {"text", "blocks"}
    assert message["text"].startswith("fraud@production now v3 (was v2) by Mallory &lt;@U123&gt; &amp; co")
    head, fields, context = message["blocks"]
    assert head == {"type": "section", "text": {"type": "mrkdwn", "text": f"*{message['text']}*"}}
    assert fields["type"] == "section" and 1 <= len(fields["fields"]) <= 10
    assert all(f["type"] == "mrkdwn" and len(f["text"]) <= 2000 for f in fields["fields"])
    texts = {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in fields["fields"]}
    assert texts["*Reason*"] == slack_escape(HOSTILE)
    assert texts["*Version*"] == "v3" and texts["*Previous*"] == "v2" and texts["*Reviewed*"] == "yes"
    assert context["type"] == "context" and len(context["elements"]) == 1
    assert context["elements"][0]["text"] == f"2026-11-30T00:53:20Z · {REGISTRY} · {event['id']}"
    # nothing from git can open one of Slack's <...> controls: no mention, no channel ping, no link
    raw = got.body.decode()
    assert "<!channel>" not in raw and "<@U123>" not in raw and "<https://evil" not in raw
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in raw


@pytest.mark.parametrize(
    "kind", ["version.registered", "alias.moved", "review.requested", "evaluation.added"]
)
def test_slack_and_teams_describe_every_event_type(kind: str, receiver: Receiver) -> None:
    event = _event(kind)
    for outlet in (_outlet("slack"), _outlet("teams")):
        assert deliver(_req(outlet, event, receiver.url)).ok
    slack, teams = (r.json() for r in receiver.requests)
    jsonschema.validate(teams, CARD_SUBSET)
    facts = {f["title"]: f["value"] for f in teams["attachments"][0]["content"]["body"][1]["facts"]}
    assert facts["Model"] == "fraud" and facts["Version"] == "v3"
    if kind == "evaluation.added":
        assert facts["Metrics"] == "auc=0.93, latency\\_ms=21" and "holdout-2026-11" in slack["text"]


def test_teams_message_is_a_workflows_adaptive_card_that_validates(receiver: Receiver) -> None:
    event = _event("alias.moved", reviewed=False, move="rollback", version=1, previous=3)
    req = _req(
        _outlet("teams"), event, receiver.url + "/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3tsig"
    )
    assert deliver(req).ok
    message = receiver.requests[0].json()
    jsonschema.validate(message, CARD_SUBSET)
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert (card["$schema"], card["type"], card["version"]) == (
        "http://adaptivecards.io/schemas/adaptive-card.json",
        "AdaptiveCard",
        "1.4",
    )
    title, facts, footer = card["body"]
    assert title["type"] == "TextBlock" and title["weight"] == "Bolder"
    assert title["text"].startswith("fraud@production rolled back to v1 (was v3)")
    assert title["text"].endswith("UNREVIEWED") and title["color"] == "Attention"
    values = {f["title"]: f["value"] for f in facts["facts"]}
    # Markdown emphasis and link syntax from git are escaped: a reason cannot become a link
    assert (
        values["Reason"]
        == r"beats v2 <!channel> & <https://evil.example|click> \*bold\* \[link\](https://evil.example)"
    )
    assert values["Reviewed"] == "NO: readers refuse this tag"
    assert footer["isSubtle"] is True and event["id"].replace("_", "\\_") in footer["text"]


def test_teams_card_validates_against_the_published_adaptive_card_schema() -> None:
    schema = published_schema()
    if schema is None:
        pytest.skip(
            "set ADAPTIVE_CARD_SCHEMA to a copy of microsoft/AdaptiveCards schemas/1.5.0/adaptive-card.json"
        )
    from mreg.integrations.outlets import teams_payload

    for kind in ("version.registered", "alias.moved", "review.requested", "evaluation.added"):
        card = teams_payload(_event(kind, **({"reviewed": False} if kind == "alias.moved" else {})))
        jsonschema.Draft6Validator(schema).validate(card["attachments"][0]["content"])


def test_webhook_body_is_the_event_signed_the_standard_webhooks_way(receiver: Receiver) -> None:
    event = _event("alias.moved", reason="naïve → better")
    req = _req(_outlet("webhook"), event, receiver.url + "/hook")
    assert deliver(req).ok
    (got,) = receiver.requests
    assert got.body == json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    assert got.headers["content-type"].startswith("application/json")
    assert got.headers["webhook-id"] == event["id"]
    assert got.headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(got.body, got.headers) == event  # the package a receiver would use
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(got.body.replace(b"better", b"worse!"), got.headers)
    other = "whsec_" + base64.b64encode(b"another secret of 32 bytes!!!!!!").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(got.body, got.headers)
    # the same event keeps its id on a redelivery, so a receiver can drop the duplicate
    assert deliver(_req(_outlet("webhook"), event, receiver.url + "/hook")).ok
    assert receiver.requests[1].headers["webhook-id"] == event["id"]


@pytest.mark.parametrize(
    "secret", ["", "not-base64!", "whsec_" + base64.b64encode(b"short").decode(), "whsec_"]
)
def test_webhook_secret_must_be_a_standard_webhooks_secret(secret: str) -> None:
    outlet = _outlet("webhook")
    with pytest.raises(UsageError, match="HOOK_SECRET") as info:
        request_for(
            outlet,
            _event(),
            {"HOOK_URL": "https://hooks.example/x", "HOOK_SECRET": secret},
            github_api=None,
            default_repository=None,
        )
    assert len(secret) <= len("whsec_") or secret not in info.value.message


def test_a_missing_or_unusable_url_names_the_variable_never_the_value() -> None:
    outlet = _outlet("slack")
    with pytest.raises(UsageError, match="environment variable HOOK_URL is not set"):
        request_for(outlet, _event(), {}, github_api=None, default_repository=None)
    for url in (
        "http://hooks.example/services/sEcReT",
        "ftp://hooks.example/sEcReT",
        "sEcReT",
        "https:///sEcReT",
    ):
        with pytest.raises(UsageError, match="HOOK_URL") as info:
            request_for(outlet, _event(), {"HOOK_URL": url}, github_api=None, default_repository=None)
        assert "sEcReT" not in f"{info.value.message} {info.value.hint}"
    req = request_for(outlet, _event(), {"HOOK_URL": LEAK + "\n"}, github_api=None, default_repository=None)
    assert req.url == LEAK  # stripped of the newline a secret store may leave
    assert "sEcReT" not in repr(req) and "sEcReT" not in req.target
    assert req.target == "outlet 'slack-out' (Slack, https://hooks.slack.com)"


def test_redact_url_keeps_scheme_and_host_only() -> None:
    assert redact_url("https://hooks.slack.com/services/T/B/x?y=z#f") == "https://hooks.slack.com"
    assert redact_url("https://prod-1.westus.logic.azure.com:443/workflows/x?sig=s") == (
        "https://prod-1.westus.logic.azure.com:443"
    )
    assert redact_url("https://user:pw@example.com/x") == "https://example.com"
    assert redact_url("http://[::1]:8080/x") == "http://[::1]:8080"
    assert redact_url("no url") == "(not a URL)"


# -- retries ------------------------------------------------------------------------------------------


def test_500_three_times_then_200_is_one_delivery_after_four_attempts(receiver: Receiver) -> None:
    receiver.answer(500, 502, 503, 200)
    waits: list[float] = []
    req = _req(_outlet("webhook"), _event(), receiver.url + "/hook")
    result = deliver(req, sleep=waits.append)
    assert (result.ok, result.status, result.attempts, result.error) == (True, 200, 4, None)
    assert len(receiver.requests) == 4
    assert (
        len({(r.body, r.headers["webhook-id"], r.headers["webhook-signature"]) for r in receiver.requests})
        == 1
    )
    # exponential with jitter: the n-th wait is between half and all of base * 2**(n-1)
    base = 0.001
    assert [base * 2**n / 2 <= w <= base * 2**n for n, w in enumerate(waits)] == [True, True, True]


def test_backoff_base_comes_from_mreg_notify_backoff(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MREG_NOTIFY_BACKOFF", "0.01")
    assert backoff_base() == 0.01
    receiver.answer(500, 500)
    assert deliver(_req(_outlet("slack"), _event(), receiver.url)).attempts == 3  # real sleeps, 30 ms at most
    for bad in ("fast", "-1", "nan", "inf"):
        monkeypatch.setenv("MREG_NOTIFY_BACKOFF", bad)
        assert backoff_base() == 1.0
    monkeypatch.delenv("MREG_NOTIFY_BACKOFF")
    assert backoff_base() == 1.0


def test_429_waits_as_long_as_retry_after_says(receiver: Receiver) -> None:
    receiver.answer((429, {"Retry-After": "7"}, b"rate_limited"), (503, {"Retry-After": "0"}), 200)
    waits: list[float] = []
    result = deliver(_req(_outlet("slack"), _event(), receiver.url), sleep=waits.append)
    assert (result.ok, result.attempts) == (True, 3)
    assert waits == [7.0, 0.0]


def test_a_retry_after_beyond_the_cap_leaves_the_event_for_the_next_run(receiver: Receiver) -> None:
    receiver.answer((429, {"Retry-After": "3600"}, b"rate_limited"), 200)
    waits: list[float] = []
    result = deliver(_req(_outlet("slack"), _event(), receiver.url), sleep=waits.append)
    assert (result.ok, result.status, result.attempts, waits) == (False, 429, 1, [])
    assert (
        result.error is not None and "3600 s" in result.error and f"{RETRY_AFTER_CAP:.0f} s" in result.error
    )
    assert len(receiver.requests) == 1


def test_a_400_is_not_retried_and_says_what_the_service_said(receiver: Receiver) -> None:
    receiver.answer((400, {}, b"invalid_payload"), 200)
    waits: list[float] = []
    result = deliver(
        _req(_outlet("slack"), _event(), receiver.url + "/services/T/B/sEcReTsEcReT"), sleep=waits.append
    )
    assert (result.ok, result.status, result.attempts, waits) == (False, 400, 1, [])
    assert (
        result.error
        == "outlet 'slack-out' (Slack, " + receiver.url + ") answered 400 Bad Request: invalid_payload"
    )
    assert len(receiver.requests) == 1


def test_a_refused_connection_is_retried_then_reported_without_the_secret_path() -> None:
    with socket.socket() as s:  # a port nobody listens on: bound, then closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    url = f"http://127.0.0.1:{port}/services/T000/B000/sEcReTsEcReT"
    result = deliver(_req(_outlet("slack"), _event(), url), sleep=waits.append, attempts=5)
    assert (result.ok, result.status, result.attempts, len(waits)) == (False, None, 5, 4)
    assert result.error is not None and "\n" not in result.error
    assert result.error.startswith(f"cannot reach outlet 'slack-out' (Slack, http://127.0.0.1:{port}): ")
    assert result.error.endswith("(after 5 attempts)") and "sEcReT" not in result.error


def test_a_timeout_is_retried(receiver: Receiver) -> None:
    receiver.answer(Answer(200, delay=0.5), 200)
    result = deliver(_req(_outlet("slack"), _event(), receiver.url), timeout=0.1, sleep=lambda s: None)
    assert (result.ok, result.attempts) == (True, 2)


def test_a_redirect_is_never_followed(receiver: Receiver) -> None:
    receiver.answer((302, {"Location": "https://elsewhere.example/steal?sig=x"}, b""))
    result = deliver(_req(_outlet("webhook"), _event(), receiver.url + "/hook"), sleep=lambda s: None)
    assert (result.ok, result.status, result.attempts) == (False, 302, 1)
    assert (
        result.error is not None
        and "redirected to https://elsewhere.example, which mreg does not follow" in result.error
    )
    assert "steal" not in result.error
    assert len(receiver.requests) == 1


def test_errors_never_show_the_url_secret_or_the_token_even_when_a_server_echoes_them(
    receiver: Receiver, tmp_path: Any
) -> None:
    path = "/services/T000/B000/sEcReTsEcReT"
    receiver.answer(
        (500, {}, f"no such hook {path} at {receiver.url}{path}".encode()), (404, {}, b"sEcReTsEcReT gone")
    )
    result = deliver(_req(_outlet("slack"), _event(), receiver.url + path), attempts=2, sleep=lambda s: None)
    assert not result.ok and result.error is not None
    assert "sEcReT" not in result.error and "B000" not in result.error
    gh = FakeGitHub(tmp_path, tokens={"ghp_t0kenValue": "write"})
    req = request_for(
        _outlet("github-dispatch"),
        _event(),
        {"GITHUB_TOKEN": "ghp_t0kenValue"},
        github_api=receiver.url,
        default_repository="acme/models",
    )
    receiver.answer((500, {}, b'{"message": "token ghp_t0kenValue and Bearer ghp_t0kenValue refused"}'))
    result = deliver(req, attempts=1)
    assert result.error is not None and "ghp_t0kenValue" not in result.error and "refused" in result.error
    assert "ghp_t0kenValue" not in repr(req) and gh.dispatches == []


# -- github-dispatch, against the documented API ------------------------------------------------------


@pytest.mark.github
def test_github_dispatch_sends_the_event_as_client_payload(tmp_path: Any) -> None:
    gh = FakeGitHub(tmp_path).start()
    try:
        event = _event("alias.moved")
        env = {"GITHUB_TOKEN": "t0ken"}
        req = request_for(
            _outlet("github-dispatch"), event, env, github_api=gh.url + "/", default_repository="acme/models"
        )
        assert req.url == f"{gh.url}/repos/acme/models/dispatches"
        result = deliver(req)
        assert (result.ok, result.status, result.attempts) == (True, 204, 1)
        assert gh.dispatches == [{"event_type": "mreg", "client_payload": event}]
        (call,) = gh.requests
        assert (call.method, call.path) == ("POST", "/repos/acme/models/dispatches")
        assert call.headers["accept"] == "application/vnd.github+json"
        assert call.headers["x-github-api-version"] == "2022-11-28"
        assert call.headers["authorization"] == "Bearer t0ken"
        assert call.headers["user-agent"] == f"mreg/{__version__}"
        # an outlet may name its own repository, token variable and event type; GH_TOKEN is the fallback
        named = _outlet(
            "github-dispatch", repository="acme/models", event_type="model-moved", token_env="DEPLOY_TOKEN"
        )
        assert deliver(
            request_for(named, event, {"DEPLOY_TOKEN": "t0ken"}, github_api=gh.url, default_repository="x/y")
        ).ok
        fallback = request_for(
            _outlet("github-dispatch"),
            event,
            {"GH_TOKEN": "t0ken"},
            github_api=gh.url,
            default_repository="acme/models",
        )
        assert deliver(fallback).ok
        assert [d["event_type"] for d in gh.dispatches] == ["mreg", "model-moved", "mreg"]
        # a token GitHub refuses: 401, not retried, never shown
        waits: list[float] = []
        bad = request_for(
            _outlet("github-dispatch"),
            event,
            {"GITHUB_TOKEN": "ghp_wrongTokenValue"},
            github_api=gh.url,
            default_repository="acme/models",
        )
        result = deliver(bad, sleep=waits.append)
        assert (result.ok, result.status, result.attempts, waits) == (False, 401, 1, [])
        assert (
            result.error is not None and "Bad credentials" in result.error and "ghp_wrong" not in result.error
        )
        missing = request_for(
            _outlet("github-dispatch"), event, env, github_api=gh.url, default_repository="acme/nope"
        )
        assert deliver(missing).status == 404
    finally:
        gh.stop()


@pytest.mark.github
def test_github_dispatch_stays_within_githubs_limits(tmp_path: Any) -> None:
    gh = FakeGitHub(tmp_path).start()
    try:
        import urllib.error
        import urllib.request

        # the documented limit, as the fake enforces it: no more than 10 top-level properties
        body = json.dumps({"event_type": "mreg", "client_payload": {f"k{i}": i for i in range(11)}}).encode()
        raw = urllib.request.Request(gh.url + "/repos/acme/models/dispatches", data=body, method="POST")
        raw.add_header("Authorization", "Bearer t0ken")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(raw, timeout=5)
        assert info.value.code == 422 and "No more than 10 properties" in info.value.read().decode()
        info.value.close()

        event = _event("alias.moved")
        assert len(event) == 8 and len(dispatch_payload(event)["client_payload"]) == 8
        wide = {**event, **{f"x{i}": i for i in range(4)}}  # 12 top-level keys: a future event shape
        payload = dispatch_payload(wide)["client_payload"]
        assert len(payload) == 10 and payload["extra"] == {"x1": 1, "x2": 2, "x3": 3}
        # an event whose data is too big for 64 KB is cut, says so, and is accepted
        huge = _event("version.registered", message="m" * 200_000)
        document = dispatch_payload(huge)
        size = len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())
        assert size < DISPATCH_MAX_BYTES
        data = document["client_payload"]["data"]
        assert data["truncated"] is True and data["version"] == 3 and data["message"].endswith("…")
        req = request_for(
            _outlet("github-dispatch"),
            huge,
            {"GITHUB_TOKEN": "t0ken"},
            github_api=gh.url,
            default_repository="acme/models",
        )
        assert deliver(req).ok and gh.dispatches[-1]["client_payload"]["id"] == huge["id"]
        many = _event("evaluation.added", metrics={f"m{i:05d}": i / 7 for i in range(20_000)})
        assert len(json.dumps(dispatch_payload(many)).encode()) < DISPATCH_MAX_BYTES
    finally:
        gh.stop()


def test_github_dispatch_needs_an_api_a_repository_and_a_token() -> None:
    outlet, event = _outlet("github-dispatch"), _event()
    with pytest.raises(UsageError, match="needs GitHub's API"):
        request_for(outlet, event, {"GITHUB_TOKEN": "t"}, github_api=None, default_repository="acme/models")
    with pytest.raises(UsageError, match="no repository to dispatch to"):
        request_for(
            outlet, event, {"GITHUB_TOKEN": "t"}, github_api="https://api.github.com", default_repository=None
        )
    with pytest.raises(UsageError, match="GITHUB_TOKEN or GH_TOKEN is not set"):
        request_for(outlet, event, {}, github_api="https://api.github.com", default_repository="acme/models")
    named = _outlet("github-dispatch", token_env="DEPLOY_TOKEN")
    with pytest.raises(UsageError, match="DEPLOY_TOKEN is not set"):
        request_for(
            named, event, {"GITHUB_TOKEN": "t"}, github_api="https://api.github.com", default_repository="a/b"
        )
    with pytest.raises(UsageError, match="plain http"):
        request_for(
            outlet, event, {"GITHUB_TOKEN": "t"}, github_api="http://api.example", default_repository="a/b"
        )
