"""Which alias tags a reader may follow (SPEC §3a.2-4): the one owner of "backed".

Any tag: annotated, canonical seq (`git.tags.read_events` drops the rest), pointing at a commit in
the verified registry history whose manifest is the very blob at the verified tip and has the
digest the tag records (`tag_problem`). A protected alias's tag must also be *backed*: its
(version, digest) equals the pin on the governed branch — the current pin, or, while a merged
change is not applied yet, the pin before it — and, when `mreg.yaml` lists `signers`, its
signature verifies against them. Everything else is refused, never followed.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any

from mreg.errors import MregError
from mreg.git.repo import GitRepo
from mreg.git.tags import AliasEvent
from mreg.layout import ALIASES_BRANCH, policy_path
from mreg.policy import Pin, parse_policy, pins_of

MAX_POLICY_HISTORY = 200  # first-parent revisions of one policy file searched for its previous pin
_FPR = re.compile(r"^[0-9A-Fa-f]{40}(?:[0-9A-Fa-f]{24})?\Z")


@dataclass(frozen=True)
class Standing:
    """Where a protected alias stands: `backed` (follow `event`), `pending` (follow `event`, the
    approved change in `approved_in` is merged but not applied), `unbacked` (refuse `event`),
    `unset` (no tag; `pin` may still ask for one)."""

    state: str
    event: AliasEvent | None
    pin: Pin | None
    problem: str | None = None
    approved_in: str | None = None


def assess(
    git: GitRepo,
    governed: str | None,
    model: str,
    alias: str,
    current: AliasEvent | None,
    *,
    policy: dict[str, Any] | None,
    signers: tuple[str, ...] = (),
    events: list[AliasEvent] | None = None,
) -> Standing:
    """The standing of a protected alias whose newest tag is `current`, judged by the governed
    branch at `governed` (its tip, or its state at a `--at` time) and its `policy` there.

    The pin before the current one backs `current` only while the current pin is not applied yet:
    once a tag (of `events`, the alias's tags) applied the current pin — it names a governed commit at
    or after the change — a later tag with the older value is a forged rollback, not a pending merge.
    """
    pin = pins_of(policy).get(alias)
    if current is None:
        return Standing("unset", None, pin)
    if signers and not signature_ok(git, current, signers):
        return Standing(
            "unbacked", current, pin, f"tag {current.tag} is not signed by a signer listed in mreg.yaml"
        )
    if pin is not None and pin.matches(current):
        return Standing("backed", current, pin)
    if governed is not None:
        previous, changed_in = previous_pin(git, governed, model, alias, pin)
        if previous is not None and changed_in is not None and previous.matches(current):
            applied = pin is not None and any(
                e.seq < current.seq
                and e.alias == alias
                and pin.matches(e)
                and e.governed is not None
                and (e.governed == changed_in or git.is_ancestor(changed_in, e.governed))
                for e in events or []
            )
            if not applied:
                return Standing("pending", current, pin, approved_in=changed_in)
            return Standing(
                "unbacked",
                current,
                pin,
                f"tag {current.tag} by {current.tagger or 'unknown'} goes back to {previous.describe()}, but "
                f"{ALIASES_BRANCH} approves {pin.describe() if pin else '(nothing)'}, which was applied already",
            )
    what = "removes it" if current.version is None else f"sets v{current.version}"
    approves = pin.describe() if pin is not None else "nothing (no pin for it)"
    return Standing(
        "unbacked",
        current,
        pin,
        f"tag {current.tag} by {current.tagger or 'unknown'} {what}, but {ALIASES_BRANCH} approves {approves}",
    )


def previous_pin(
    git: GitRepo, governed: str, model: str, alias: str, now: Pin | None
) -> tuple[Pin | None, str | None]:
    """The pin before the current one on the governed branch's first-parent history, and the commit
    that changed it (a merge, for a reviewed pull request)."""

    path = policy_path(model)
    commits = [sha for sha, _ in git.first_parent_log(governed, path, limit=MAX_POLICY_HISTORY)]
    if not commits:
        return None, None
    blobs = git.read_blobs([f"{c}^:{path}" for c in commits])
    for commit, blob in zip(commits, blobs, strict=True):
        if blob is None:
            return (Pin(None), commit) if now is not None else (None, None)
        try:
            before = pins_of(parse_policy(blob, where=f"{ALIASES_BRANCH}:{path}")).get(alias)
        except MregError:  # an old, broken revision approves nothing
            before = None
        if before != now:
            return before, commit
    return None, None


def approved_ever(git: GitRepo, governed: str, e: AliasEvent, *, signers: tuple[str, ...] = ()) -> bool:
    """For history views (`log`): whether a past tag applied a pin that the governed branch held.
    The tag's `governed` commit must be on the governed branch and pin exactly this value there;
    a tag written before records named their commit is matched against any past pin of its alias."""

    if signers and not signature_ok(git, e, signers):
        return False
    path = policy_path(e.model)
    if e.governed is not None:
        if not is_ancestor_cached(git, e.governed, governed):
            return False
        candidates = [e.governed]
    else:
        candidates = policy_revisions(git, governed, path)
    for pins in pins_at(git, candidates, path):
        pin = pins.get(e.alias)
        if pin is not None and pin.matches(e):
            return True
    return False


# What `log` asks once per tag, asked of git once per process: every key names immutable objects.
_ancestry: dict[tuple[str, str], bool] = {}
_revisions: dict[tuple[str, str], list[str]] = {}
_pins: dict[tuple[str, str], dict[str, Pin]] = {}


_history: dict[str, frozenset[str]] = {}
_asked: dict[str, int] = {}  # how many ancestry questions git answered about each newer commit
HISTORY_SET_FROM = 3  # ancestry questions about one commit, from which its whole history is read once


def is_ancestor_cached(git: GitRepo, older: str, newer: str) -> bool:
    """`older` is `newer` or one of its ancestors (`older`: a full commit id, as tag records name
    them). A few questions ask git each; past that, the history of `newer` is read once (one
    `rev-list`: the governed branch is small) and every later question is a set look-up, so `report`
    over 100 models asks git once, not once a tag."""
    if newer in _history:
        return older in _history[newer]
    key = (older, newer)
    if key not in _ancestry:
        if _asked.get(newer, 0) >= HISTORY_SET_FROM:
            _history[newer] = frozenset(git.rev_list(newer))
            return older in _history[newer]
        _asked[newer] = _asked.get(newer, 0) + 1
        _ancestry[key] = older == newer or git.is_ancestor(older, newer)
    return _ancestry[key]


def policy_revisions(git: GitRepo, governed: str, path: str) -> list[str]:
    key = (governed, path)
    if key not in _revisions:
        _revisions[key] = [sha for sha, _ in git.first_parent_log(governed, path, limit=MAX_POLICY_HISTORY)]
    return _revisions[key]


def pins_at(git: GitRepo, commits: list[str], path: str) -> list[dict[str, Pin]]:
    """The pins of the policy file at each commit ({} where it is missing or broken: it approves nothing)."""
    missing = [c for c in commits if (c, path) not in _pins]
    blobs = git.read_blobs([f"{c}:{path}" for c in missing]) if missing else []
    for commit, blob in zip(missing, blobs, strict=True):
        pins: dict[str, Pin] = {}
        if blob is not None:
            try:
                pins = pins_of(parse_policy(blob, where=f"{ALIASES_BRANCH}:{path}"))
            except MregError:  # a broken revision approves nothing
                pins = {}
        _pins[(commit, path)] = pins
    return [_pins[(c, path)] for c in commits]


# -- signatures (SPEC §3a.4) -----------------------------------------------------------------------
_verified: dict[tuple[str, tuple[str, ...]], bool] = {}


def signature_ok(git: GitRepo, e: AliasEvent, signers: tuple[str, ...]) -> bool:
    """The tag's signature verifies against a listed signer: SSH allowed-signers lines (checked by
    git with that list as its allowed-signers file) or OpenPGP fingerprints (git's gpg reports the
    key's fingerprint, which must be listed)."""
    key = (e.tag, signers)
    if key in _verified:
        return _verified[key]
    ok = False
    if e.signed:
        ssh = [s for s in signers if not _FPR.match(s.replace(" ", ""))]
        fingerprints = {s.replace(" ", "").upper() for s in signers if _FPR.match(s.replace(" ", ""))}
        fd, allowed = tempfile.mkstemp(prefix="mreg-signers-", dir=git.git_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write("".join(line.strip() + "\n" for line in ssh))
            accepted, status = git.verify_tag_with(e.tag, allowed_signers_file=allowed)
        finally:
            os.unlink(allowed)
        if accepted:
            if e.signature_kind == "ssh":  # git checked it against exactly the listed SSH keys
                ok = bool(ssh)
            elif e.signature_kind == "pgp":  # any key in the keyring verifies: it must be a listed one
                valid = re.findall(r"^\[GNUPG:\] VALIDSIG ([0-9A-F]+)", status, re.M)
                ok = any(v.upper() in fingerprints or v.upper()[-40:] in fingerprints for v in valid)
    _verified[key] = ok
    return ok
