"""`mreg notify` end to end (SPEC §12, issue 16): events derived from git reach real HTTP receivers on
127.0.0.1 — signed, in order, at least once — through retries, concurrent runs, kills, a dead outlet
and a long outage; secrets never leave their environment variables.

A team with a bare remote and a fake GitHub (testing.team); outlets configured in mreg.yaml on the
governed branch as a merged PR would leave them; receivers from testing.receiver.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from testing.attacker import forged_record
from testing.fake_github import push_files, show
from testing.gitutil import MREG, run_mreg
from testing.receiver import Answer, Receiver
from testing.team import Team
from testing.world import World

pytestmark = pytest.mark.github

# Read at import: each test runs in a scrubbed environment (testing.fixtures.isolated_env)
KILL_TRIALS = int(os.environ.get("MREG_NOTIFY_TRIALS", "12"))
FAILURES = int(os.environ.get("MREG_NOTIFY_FAILURES", "40"))
SECRET = "whsec_" + base64.b64encode(b"a test secret that is 32 bytes!!").decode()


def _configure(team: Team, *outlets: dict) -> None:
    """mreg.yaml with these outlets, as a merged pull request on the governed branch leaves it."""
    config = yaml.safe_load(show(team.bare, "mreg/aliases:mreg.yaml"))
    config["notify"] = {"outlets": list(outlets)}
    push_files(
        team.bare, "mreg/aliases", {"mreg.yaml": yaml.safe_dump(config, sort_keys=False)}, "notify outlets"
    )
    time.sleep(
        1.05
    )  # events in the second the outlet appeared are sent; this keeps the test's events clearly after


def _hook(name: str = "audit", url_env: str = "HOOK_URL", **extra: object) -> dict:
    return {"name": name, "type": "webhook", "url_env": url_env, "secret_env": "HOOK_SECRET", **extra}


@pytest.fixture
def hooked(team: Team, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Team:
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hooks/s3cr3t-path-token")
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("MREG_NOTIFY_BACKOFF", "0.01")
    _configure(team, _hook())
    return team


def _events(receiver: Receiver) -> list[dict]:
    return [r.json() for r in receiver.requests]


def test_every_kind_of_event_reaches_a_signed_webhook_in_order(hooked: Team, receiver: Receiver) -> None:
    from jsonschema import Draft202012Validator
    from standardwebhooks import Webhook

    team = hooked
    assert team.register({"auc": 0.9}) == "fraud@v1"  # register's hook delivers
    assert team.mreg("promote", "fraud@v1", "--to", "staging", "--reason", "canary").code == 0
    holdout = team.tmp / "holdout.csv"
    holdout.write_text("a,b\n1,0\n")
    assert (
        team.mreg("eval", "add", "fraud@v1", "--dataset", f"holdout={holdout}", "--metric", "auc=0.88").code
        == 0
    )
    assert (
        team.mreg("promote", "fraud@v1", "--to", "production", "--reason", "ship").code == 0
    )  # a review branch
    got = _events(receiver)
    assert [e["type"] for e in got] == [
        "version.registered",
        "alias.moved",
        "evaluation.added",
        "review.requested",
    ]
    assert [e["subject"] for e in got] == ["fraud@v1", "fraud@staging", "fraud@v1", "fraud@production"]
    moved = got[1]["data"]
    assert (
        moved["alias"] == "staging"
        and moved["version"] == 1
        and moved["reviewed"] is True
        and moved["reason"] == "canary"
    )
    assert got[2]["data"]["metrics"] == {"auc": 0.88} and got[2]["data"]["dataset"] == "holdout"
    assert len({e["id"] for e in got}) == 4
    schema = json.loads(Path(__file__).resolve().parents[1].joinpath("schemas/event.schema.json").read_text())
    for e in got:
        assert not list(Draft202012Validator(schema).iter_errors(e)), e
    hook = Webhook(SECRET)
    for r in receiver.requests:
        assert hook.verify(r.body, {k: v for k, v in r.headers.items()}) is not None
        assert r.headers["webhook-id"] == r.json()["id"]
    # nothing new: a rerun sends nothing, and a dry run says so
    r = team.mreg("notify")
    assert r.code == 0 and "audit: delivered 0 event(s)" in r.out, r.out + r.err
    assert len(receiver.requests) == 4


def test_a_failing_receiver_gets_every_event_once_it_answers(hooked: Team, receiver: Receiver) -> None:
    receiver.answer(500, 500, 500)  # then 200
    team = hooked
    assert team.register({"auc": 0.9}) == "fraud@v1"
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 4 and len(set(ids)) == 1  # one event, retried three times, then delivered
    receiver.answer(*[Answer(503)] * 5)  # down through every retry: the register still succeeds, warned
    r = run_mreg("register", "fraud", str(team.tmp / "model-0"), "--metric", "auc=0.91", cwd=team.repo)
    assert r.code == 0 and "notify: outlet audit stopped" in r.err and "mreg notify" in r.err, r.err
    assert "s3cr3t" not in r.err
    # back: its script is spent, it answers 200
    r = team.mreg("notify")
    assert r.code == 0 and "delivered 1 event(s)" in r.out, r.out + r.err
    assert [e["subject"] for e in _events(receiver)][-1] == "fraud@v2"
    assert {e["subject"] for e in _events(receiver)} == {"fraud@v1", "fraud@v2"}


def test_two_notify_runs_at_once_deliver_each_event_exactly_once(
    hooked: Team, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = hooked
    monkeypatch.setenv("MREG_NO_NOTIFY", "1")
    for i in range(4):
        assert team.register({"auc": 0.9 + i / 100}) == f"fraud@v{i + 1}"
    monkeypatch.delenv("MREG_NO_NOTIFY")
    receiver.answer(*[Answer(200, delay=0.3)] * 4)  # slow enough for the runs to overlap
    results: list[object] = []

    def run() -> None:
        results.append(run_mreg("notify", cwd=team.repo))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r.code == 0 for r in results), [r.err for r in results]  # type: ignore[attr-defined]
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 4 and len(set(ids)) == 4, ids
    assert [e["subject"] for e in _events(receiver)] == [f"fraud@v{i}" for i in range(1, 5)]


def test_a_dead_outlet_never_blocks_the_others_and_catches_up_after_a_day(
    team: Team, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 24-hour outage of one outlet: the other gets everything meanwhile; once it is back, the dead
    one gets every event of the day, in order, from where it stopped."""
    day_ago = time.time() - 26 * 3600
    monkeypatch.setenv("MREG_NOTIFY_BACKOFF", "0.01")
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("A_URL", receiver.url + "/a")
    monkeypatch.setenv("B_URL", "http://127.0.0.1:9/b")  # nothing listens there
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(day_ago))
    monkeypatch.setenv("GIT_COMMITTER_DATE", when)
    monkeypatch.setenv("GIT_AUTHOR_DATE", when)
    _configure(team, _hook("a", "A_URL"), _hook("b", "B_URL"))
    for i in range(3):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(day_ago + 3600 * (i + 1)))
        monkeypatch.setenv("GIT_COMMITTER_DATE", stamp)
        monkeypatch.setenv("GIT_AUTHOR_DATE", stamp)
        r = run_mreg("register", "fraud", str(_model(team, i)), cwd=team.repo)
        assert r.code == 0 and "outlet b stopped" in r.err, r.err
    assert [e["subject"] for e in _events(receiver)] == ["fraud@v1", "fraud@v2", "fraud@v3"]
    r = team.mreg("notify")
    assert r.code == 6 and "b failed" in r.err and "a: delivered 0" in r.out, r.out + r.err
    with Receiver() as back:
        monkeypatch.setenv("B_URL", back.url + "/b")
        r = team.mreg("notify")
        assert r.code == 0 and "b: delivered 3 event(s)" in r.out, r.out + r.err
        assert [e["subject"] for e in _events(back)] == ["fraud@v1", "fraud@v2", "fraud@v3"]
    assert len(receiver.requests) == 3  # a got nothing twice


def test_a_new_outlet_starts_when_it_is_configured(
    team: Team, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", receiver.url)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    assert team.register({"auc": 0.9}) == "fraud@v1"
    time.sleep(1.05)
    _configure(team, _hook())
    assert team.register({"auc": 0.91}) == "fraud@v2"
    assert [e["subject"] for e in _events(receiver)] == ["fraud@v2"]


def test_secrets_stay_in_their_environment_variables(
    hooked: Team, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = hooked
    config = show(team.bare, "mreg/aliases:mreg.yaml")
    assert "s3cr3t" not in config and "whsec_" not in config and "HOOK_URL" in config
    receiver.answer(*[Answer(404, body=b"no route for /hooks/s3cr3t-path-token")] * 3)
    r = run_mreg("register", "fraud", str(_model(team, 0)), cwd=team.repo)
    assert r.code == 0 and "stopped" in r.err
    for text in (r.out, r.err):
        assert "s3cr3t" not in text and SECRET not in text
    r = team.mreg("notify", "--dry-run")
    assert r.code == 0 and "would deliver 1 event(s)" in r.out and "s3cr3t" not in r.out + r.err
    monkeypatch.delenv("HOOK_SECRET")
    r = team.mreg("notify")
    assert r.code == 6 and "HOOK_SECRET" in r.out + r.err and "Traceback" not in r.err, r.out + r.err


def test_a_registry_without_a_remote_keeps_its_cursors_in_the_clone(
    repo: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mreg.git.repo import GitRepo
    from mreg.layout import ALIASES_REF

    monkeypatch.setenv("HOOK_URL", receiver.url)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    g = GitRepo.discover(repo)
    base = g.rev_parse(ALIASES_REF)
    config = yaml.safe_load(g.read_blob(f"{base}:mreg.yaml") or b"")
    config["notify"] = {"outlets": [_hook()]}
    tree = g.write_tree(g.rev_parse(f"{base}^{{tree}}"), {"mreg.yaml": yaml.safe_dump(config).encode()})
    assert g.update_ref(ALIASES_REF, g.commit_tree(tree, [base], "outlets\n"), base)
    time.sleep(1.05)
    (repo / "w.bin").write_bytes(b"weights")
    assert run_mreg("register", "m", "w.bin", cwd=repo).code == 0
    assert [e["subject"] for e in _events(receiver)] == ["m@v1"]
    assert (
        g.rev_parse("refs/mreg/notify/audit") is not None
        and g.rev_parse("refs/mreg/notify-lease/audit") is None
    )


def _model(team: Team, i: int) -> Path:
    d = team.tmp / f"notify-model-{i}"
    d.mkdir(exist_ok=True)
    (d / "weights.bin").write_bytes(f"weights {i}".encode() * 100)
    return d


@pytest.mark.slow
def test_notify_killed_at_random_points_loses_no_event(
    hooked: Team, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL `mreg notify` (and its git processes) at random points while it delivers: a later run
    completes the delivery, every event arrives at least once, and first arrivals are in order.
    MREG_NOTIFY_TRIALS sets how many kills (the issue-16 note reports 100)."""
    team = hooked
    monkeypatch.setenv("MREG_NOTIFY_LEASE", "3")  # a killed run's lease lapses in 3 s, not 10 min
    trials = KILL_TRIALS
    rng = random.Random(f"notify-kill-{trials}")
    monkeypatch.setenv("MREG_NO_NOTIFY", "1")
    expected: list[str] = []
    outcomes: Counter[str] = Counter()
    for i in range(trials):
        r = run_mreg("register", "fraud", str(_model(team, i)), cwd=team.repo)
        assert r.code == 0, r.err
        expected.append(r.out.strip())
        receiver.answer(*[Answer(200, delay=rng.uniform(0.05, 0.4)) for _ in range(3)])
        proc = subprocess.Popen(
            [*MREG, "notify"],
            cwd=team.repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.3, 1.6))  # start-up, then the deliveries
        outcomes["finished" if proc.poll() is not None else "killed"] += 1
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    monkeypatch.setenv("MREG_NOTIFY_WAIT", "1")
    deadline = time.time() + 120
    while True:
        r = run_mreg("notify", cwd=team.repo)
        if r.code == 0 and "another 'mreg notify' is delivering" not in r.out:
            break
        assert time.time() < deadline, r.out + r.err
        time.sleep(1)
    first_seen: list[str] = []
    for e in _events(receiver):
        if e["subject"] not in first_seen:
            first_seen.append(e["subject"])
    assert first_seen == expected, (first_seen, expected)
    dupes = len(receiver.requests) - len(expected)
    print(
        f"\n[notify kills] {trials} trials: {dict(outcomes)}, {len(expected)} events, 0 lost, {dupes} redelivered"
    )


@pytest.mark.slow
def test_a_receiver_failing_half_the_time_loses_nothing(
    hooked: Team, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every answer a coin toss between 500 and 200: runs stop where their retries run out, the next
    run resumes there; in the end every event arrived, first arrivals in order, nothing lost.
    MREG_NOTIFY_FAILURES sets how many 500s to serve (the issue-16 note reports 500)."""
    team = hooked
    failures = FAILURES
    rng = random.Random(f"notify-500-{failures}")
    monkeypatch.setenv("MREG_NO_NOTIFY", "1")
    expected = []
    for i in range(max(4, failures // 20)):
        r = run_mreg("register", "fraud", str(_model(team, i)), cwd=team.repo)
        assert r.code == 0, r.err
        expected.append(r.out.strip())
    script = [500] * failures + [200] * (failures + len(expected))
    rng.shuffle(script)
    receiver.answer(*script)
    runs = 0
    while True:
        runs += 1
        r = run_mreg("notify", cwd=team.repo)
        if r.code == 0:
            break
        assert r.code == 6 and "audit failed" in r.err, r.out + r.err
        assert runs < failures + 10
    first_seen: list[str] = []
    for e in _events(receiver):
        if e["subject"] not in first_seen:
            first_seen.append(e["subject"])
    assert first_seen == expected
    print(f"\n[notify 500s] {failures} answers of 500 over {len(expected)} events: {runs} runs, 0 lost")


# -- what a collaborator who is not a reviewer can do to notifications (the issue-16 review) ---------
def _attacked(world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hook")
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("MREG_NOTIFY_BACKOFF", "0.01")
    _configure(world.team, _hook())


def test_a_replayed_approval_is_announced_as_unreviewed(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mallory copies the record of production's first (reviewed) tag into a new tag: a "rollback"
    to v1 naming the old approval. Readers refuse it; the event must not say `reviewed: true`."""
    _attacked(world, receiver, monkeypatch)
    world.team.approve("fraud@v2")  # a second reviewed move: production/2 -> v2
    mallory = world.mallory
    mallory.fetch()
    first = mallory.git("cat-file", "-p", "mreg/fraud/production/1")
    record = first.split("\n\n", 1)[1].split("\n\n", 1)[1]
    forged = "rollback fraud production to v1\n\n" + record.replace(
        'event: "promote"', 'event: "rollback"'
    ).replace("previous: null", "previous: 2")
    target = mallory.git("rev-parse", "mreg/fraud/production/1^{commit}")
    mallory.tag("mreg/fraud/production/3", target, forged)
    assert world.mreg("resolve", "fraud@production").code == 5  # what readers do
    r = world.mreg("notify")
    assert r.code == 0, r.out + r.err
    moves = {e["data"]["tag"]: e["data"]["reviewed"] for e in _events(receiver) if e["type"] == "alias.moved"}
    assert moves["mreg/fraud/production/2"] is True
    assert moves["mreg/fraud/production/3"] is False


def test_a_backdated_tag_is_still_announced(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Times are what a tagger claims: once an outlet has a cursor, positions alone decide."""
    _attacked(world, receiver, monkeypatch)
    assert world.team.mreg("notify").code == 0  # the cursor exists
    mallory = world.mallory
    mallory.fetch()
    digest = mallory.manifest("fraud", 2)["digest"]
    target = mallory.git("rev-parse", "origin/mreg/registry")
    old = {**os.environ, "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z"}
    subprocess.run(
        ["git", "tag", "-a", "-F", "-", "mreg/fraud/production/2", target],
        cwd=mallory.work,
        input=forged_record("fraud", "production", 2, digest, reason="", request=""),
        text=True,
        env=old,
        check=True,
        capture_output=True,
    )
    mallory.git("push", "--quiet", "origin", "refs/tags/mreg/fraud/production/2")
    assert world.mreg("notify").code == 0
    moved = [e for e in _events(receiver) if e["type"] == "alias.moved"]
    assert [(e["data"]["tag"], e["data"]["reviewed"]) for e in moved] == [("mreg/fraud/production/2", False)]


def test_hostile_cursors_and_leases_never_fail_a_write(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _attacked(world, receiver, monkeypatch)
    mallory = world.mallory

    def push_ref(ref: str, files: dict[str, bytes]) -> None:
        tree = mallory.git(
            "mktree",
            input="".join(
                f"100644 blob {mallory.git('hash-object', '-w', '--stdin', input=data.decode())}\t{name}\n"
                for name, data in files.items()
            ),
        )
        commit = mallory.git("commit-tree", tree, "-m", "x")
        mallory.git("push", "--quiet", "--force", "origin", f"{commit}:{ref}")

    push_ref("refs/mreg/notify/audit", {"cursor.json": b"[" * 200_000 + b"]" * 200_000})
    r = run_mreg("register", "fraud", str(_model(world.team, 7)), cwd=world.team.repo)
    assert r.code == 0 and r.out.strip() == "fraud@v3" and "Traceback" not in r.err, r.err
    assert "refs/mreg/notify/audit" in r.err and "not a cursor" in r.err
    r = world.mreg("notify")
    assert r.code == 6 and "delete that ref" in r.out + r.err, r.out + r.err
    r = world.mreg("check")  # CI sees it too
    assert "refs/mreg/notify/audit" in r.out and "not a cursor" in r.out, r.out
    mallory.git("push", "--quiet", "origin", ":refs/mreg/notify/audit")
    push_ref("refs/mreg/notify-lease/audit", {"lease": b"holder mallory\nexpires 99999999999\n"})
    r = world.mreg("check")
    assert "refs/mreg/notify-lease/audit: holds a lease no run would take" in r.out, r.out
    t = time.monotonic()
    r = world.mreg("notify")
    assert r.code == 0 and "another 'mreg notify'" not in r.out, r.out + r.err  # a forged lease is taken over
    assert time.monotonic() - t < 20


def test_notify_offline_refuses_rather_than_send_twice(hooked: Team) -> None:
    r = hooked.mreg("notify", "--offline")
    assert r.code == 2 and "--dry-run" in r.err, r.err
    assert hooked.mreg("notify", "--offline", "--dry-run").code == 0


def test_a_review_branch_for_nothing_registered_announces_nothing(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _attacked(world, receiver, monkeypatch)
    assert world.team.mreg("notify").code == 0
    mallory = world.mallory
    mallory.fetch()
    head = mallory.git("rev-parse", "origin/mreg/aliases")
    for branch in ("mreg/promote/fraud/production/v9", "mreg/promote/nosuch/production/v1"):
        mallory.git("push", "--quiet", "origin", f"{head}:refs/heads/{branch}")
    assert world.mreg("notify").code == 0
    assert [e for e in _events(receiver) if e["type"] == "review.requested"] == []


def test_check_sees_a_cursor_moved_past_what_exists(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _attacked(world, receiver, monkeypatch)
    assert world.team.mreg("notify").code == 0
    mallory = world.mallory
    mallory.git("fetch", "--quiet", "origin", "+refs/mreg/notify/audit:refs/mreg/notify/audit")
    cursor = json.loads(mallory.git("show", "refs/mreg/notify/audit:cursor.json"))
    cursor["tags"]["fraud/production"] = 2**40  # every production move from now on: never sent
    blob = mallory.git("hash-object", "-w", "--stdin", input=json.dumps(cursor))
    tree = mallory.git("mktree", input=f"100644 blob {blob}\tcursor.json\n")
    mallory.git(
        "push",
        "--quiet",
        "--force",
        "origin",
        f"{mallory.git('commit-tree', tree, '-m', 'x')}:refs/mreg/notify/audit",
    )
    r = world.mreg("check")
    assert "claims fraud/production seq 1099511627776 was sent, but its tags end at 1" in r.out, r.out
