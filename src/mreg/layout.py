"""Where things live in git (SPEC §3, §6): ref names and paths, built only from checked names."""

from __future__ import annotations

import re

from mreg.refs import MODEL_PATTERN

REGISTRY_BRANCH = "mreg/registry"
ALIASES_BRANCH = "mreg/aliases"
REGISTRY_REF = f"refs/heads/{REGISTRY_BRANCH}"
ALIASES_REF = f"refs/heads/{ALIASES_BRANCH}"
TAG_NAMESPACE = "refs/tags/mreg/"
# The last registry tip this clone verified as an append-only continuation (SPEC §3a.1), and the last
# commit it made with --offline: the only local-only registrations a write command republishes.
VERIFIED_REF = "refs/mreg/verified/registry"
OFFLINE_REF = "refs/mreg/offline/registry"
CONFIG_PATH = "mreg.yaml"
REVIEW_PREFIX = "mreg/promote/"
POLICY_PREFIX = "mreg/policy/"  # a policy proposal's branch: mreg/policy/<model>
PROPOSAL_HOLDER_PREFIX = "refs/mreg/proposal/"  # where `mreg policy` fetches an open proposal to stack on
CODEOWNERS_PATH = ".github/CODEOWNERS"
APPLY_WORKFLOW_PATH = ".github/workflows/mreg-apply.yml"


def manifest_path(model: str, version: int) -> str:
    return f"models/{model}/versions/{version}.yaml"


def versions_dir(model: str) -> str:
    return f"models/{model}/versions"


def evaluations_dir(model: str, version: int | None = None) -> str:
    """Where a version's evaluation records live (SPEC §11); all of a model's, without `version`."""
    return f"models/{model}/evaluations" + (f"/{version}" if version is not None else "")


def evaluation_path(model: str, version: int, number: int) -> str:
    return f"{evaluations_dir(model, version)}/{number}.yaml"


_VERSION_PATTERN = r"[1-9][0-9]{0,8}"  # no sign, no leading zero, no space
VERSION_FILE = re.compile(rf"^({_VERSION_PATTERN})\.yaml\Z")
# A manifest's path on the registry branch: a valid model name (no `..` in it), a version file.
RECORD_PATH = re.compile(rf"^models/(?!.*\.\.)({MODEL_PATTERN})/versions/({_VERSION_PATTERN})\.yaml\Z")
RECORD_PATH_BYTES = re.compile(RECORD_PATH.pattern.encode())  # the same rule for raw `git log` output
# An evaluation record's path: models/<model>/evaluations/<version>/<n>.yaml (SPEC §11)
EVALUATION_PATH = re.compile(
    rf"^models/(?!.*\.\.)({MODEL_PATTERN})/evaluations/({_VERSION_PATTERN})/({_VERSION_PATTERN})\.yaml\Z"
)
# A lifecycle record's path: models/<model>/lifecycle/<version>/<n>.yaml (archive, unarchive, purge)
LIFECYCLE_PATH = re.compile(
    rf"^models/(?!.*\.\.)({MODEL_PATTERN})/lifecycle/({_VERSION_PATTERN})/({_VERSION_PATTERN})\.yaml\Z"
)
# Every path the registry branch may ever gain (SPEC §3a.1): manifests, evaluation and lifecycle records
ADDABLE_PATH_BYTES = re.compile(
    f"(?:{RECORD_PATH.pattern})|(?:{EVALUATION_PATH.pattern})|(?:{LIFECYCLE_PATH.pattern})".encode()
)
ADDABLE_PATHS_TEXT = (
    "models/<model>/versions/<n>.yaml, models/<model>/evaluations/<n>/<k>.yaml "
    "or models/<model>/lifecycle/<n>/<k>.yaml"
)


def lifecycle_dir(model: str, version: int | None = None) -> str:
    """Where a version's lifecycle records live; all of a model's, without `version`."""
    return f"models/{model}/lifecycle" + (f"/{version}" if version is not None else "")


def lifecycle_path(model: str, version: int, number: int) -> str:
    return f"{lifecycle_dir(model, version)}/{number}.yaml"


def lifecycle_of_path(path: str) -> tuple[str, int, int] | None:
    """(model, version, number) of a lifecycle record's path; None for any other path."""
    m = LIFECYCLE_PATH.match(path)
    return (m.group(1), int(m.group(2)), int(m.group(3))) if m else None


def evaluation_of_path(path: str) -> tuple[str, int, int] | None:
    """(model, version, number) of an evaluation record's path; None for any other path."""
    m = EVALUATION_PATH.match(path)
    return (m.group(1), int(m.group(2)), int(m.group(3))) if m else None


def version_of_file(name: str) -> int | None:
    """The version a file name in `versions_dir` holds (`7.yaml` -> 7); None for anything else."""
    m = VERSION_FILE.match(name)
    return int(m.group(1)) if m else None


def record_of_path(path: str) -> tuple[str, int] | None:
    """(model, version) of a manifest path (`models/fraud/versions/7.yaml`); None for any other path."""
    m = RECORD_PATH.match(path)
    return (m.group(1), int(m.group(2))) if m else None


def review_branch(model: str, alias: str, version: int | None) -> str:
    """The branch of a promotion's proposal: mreg/promote/<model>/<alias>/v<n> (or .../demote)."""
    return f"{REVIEW_PREFIX}{model}/{alias}/" + (f"v{version}" if version is not None else "demote")


def policy_branch(model: str) -> str:
    return f"{POLICY_PREFIX}{model}"


def policy_path(model: str) -> str:
    return f"models/{model}.yaml"


def tag_prefix(model: str, alias: str | None = None) -> str:
    return f"{TAG_NAMESPACE}{model}/" + (f"{alias}/" if alias else "")


def tag_ref(model: str, alias: str, seq: int) -> str:
    return f"{TAG_NAMESPACE}{model}/{alias}/{seq}"


def tracking_ref(remote: str, branch: str) -> str:
    return f"refs/remotes/{remote}/{branch}"


def registry_refspecs(remote: str) -> list[str]:
    """What a fetch brings: both branches (into remote-tracking refs) and every alias tag (never moved)."""
    return [
        f"+{REGISTRY_REF}:{tracking_ref(remote, REGISTRY_BRANCH)}",
        f"+{ALIASES_REF}:{tracking_ref(remote, ALIASES_BRANCH)}",
        f"{TAG_NAMESPACE}*:{TAG_NAMESPACE}*",
        # open promotion requests (proposal branches): `resolve` mentions one waiting for review
        f"+refs/heads/{REVIEW_PREFIX}*:refs/remotes/{remote}/{REVIEW_PREFIX}*",
    ]
