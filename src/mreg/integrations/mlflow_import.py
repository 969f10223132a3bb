"""Read an MLflow model registry through MLflow's own client (SPEC §14): the adapter.

MLflow is imported here and only here, when `mreg import mlflow` runs (`mreg --help` never pays
for it). Only MLflow's exceptions are translated: a tracking server that cannot be reached is exit 6,
a model it does not know exit 3, an artifact it cannot hand over `ArtifactMissing` (listed at the
end by the use case, never skipped silently).
"""

from __future__ import annotations

import contextlib
import json
import logging
import posixpath
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mreg.errors import MregError, NotFoundError, RemoteError, UsageError
from mreg.integrations.foreign import (
    LATEST,
    ArtifactMissing,
    ArtifactRefused,
    ForeignMove,
    ForeignRegistry,
    ForeignVersion,
    alias_name,
    bounded,
    map_names,
    model_name,
    require,
    utc,
)
from mreg.secrets import strip_credentials

SYSTEM = "MLflow"
STAGES = ("Staging", "Production")  # legacy stages replayed as aliases; Archived and None are labels only
_HEX = re.compile(r"^[0-9a-f]{40,64}\Z")
_PAGE = 1000


def _load() -> None:
    """Import MLflow (only here: ~1.5 s), or say how to install it."""
    import os

    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # mreg shows its own progress
    require(
        "mlflow", command="mreg import mlflow", needs="MLflow's client", extra="mlflow"
    )  # its import registers the stores
    logging.getLogger("mlflow").setLevel(logging.ERROR)


def _absolute(tracking_uri: str) -> str:
    """A relative `sqlite:///mlflow.db` as the file in the current directory, wherever --repo points."""
    if not tracking_uri.startswith("sqlite:///"):
        return tracking_uri
    path, query, rest = tracking_uri.removeprefix("sqlite:///").partition("?")
    if not path or Path(path).is_absolute():
        return tracking_uri
    return f"sqlite:///{Path.cwd() / path}{query}{rest}"


def _client(tracking_uri: str) -> Any:
    from mlflow import MlflowClient

    if tracking_uri.startswith("sqlite:///"):  # MLflow would create an empty database for a typo
        path = Path(tracking_uri.removeprefix("sqlite:///").partition("?")[0])
        if not path.is_file():
            raise UsageError(f"--tracking-uri {tracking_uri}: no such database file {str(path)!r}")
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _translate(exc: Exception, what: str) -> MregError:
    """MLflow's exception as mreg's: not found (3), unreachable (6), anything else bad input (2)."""
    text = _short(exc)
    code = getattr(exc, "error_code", "")
    if code == "RESOURCE_DOES_NOT_EXIST":
        return NotFoundError(f"{what}: MLflow says: {text}")
    if (
        isinstance(exc, (ConnectionError, OSError))
        or "Max retries exceeded" in text
        or "connect" in text.lower()
    ):
        return RemoteError(f"{what}: the tracking server cannot be reached: {text}")
    return UsageError(f"{what}: MLflow refused: {text}")


def read(tracking_uri: str, names: Sequence[str] = ()) -> ForeignRegistry:
    """Every registered model (or those named), each version with its run's facts, and the aliases and
    stages as moves: what `ops.import_` needs, nothing downloaded yet."""
    _load()
    from mlflow.exceptions import MlflowException

    tracking_uri = _absolute(tracking_uri)
    where = strip_credentials(tracking_uri)
    versions: list[ForeignVersion] = []
    moves: list[ForeignMove] = []
    problems: list[str] = []
    try:
        client = _client(tracking_uri)
        registered = [client.get_registered_model(n) for n in names] if names else list(_all_models(client))
        mapping, collided = map_names((rm.name for rm in registered), model_name, "MLflow models", "model")
        problems += collided
        for rm in registered:
            mapped = mapping.get(rm.name)
            if rm.name not in mapping:
                continue  # listed: another MLflow model maps to the same mreg name
            if mapped is None:
                problems.append(f"MLflow model {rm.name!r}: no mreg model name can be made of it")
                continue
            if "'" in rm.name:
                problems.append(f"MLflow model {rm.name!r}: MLflow cannot search for a name with a quote")
                continue
            found = [mv for mv in _versions(client, rm.name) if _in_range(mapped, mv, problems)]
            read_ = [_version(client, tracking_uri, mapped, mv, problems) for mv in found]
            versions += read_
            moves += _moves(mapped, rm, found, {v.version: v.created_by for v in read_}, problems)
    except MlflowException as exc:
        raise _translate(exc, f"MLflow registry at {where}") from None
    except OSError as exc:
        raise _translate(exc, f"MLflow registry at {where}") from None
    if not registered:
        raise NotFoundError(f"MLflow registry at {where} has no registered models")
    moves.sort(key=lambda m: m.at)
    return ForeignRegistry(SYSTEM, versions, moves, problems, history=False)


def _in_range(model: str, mv: Any, problems: list[str]) -> bool:
    """A version whose times mreg can record (a time past year 9999 is listed, the version not imported)."""
    for what, ms in (("creation", mv.creation_timestamp), ("last update", mv.last_updated_timestamp)):
        if ms is not None and not isinstance(ms, bool) and float(ms) / 1000 > LATEST:
            problems.append(f"{model} v{mv.version}: its {what} time in MLflow ({ms} ms) is past year 9999")
            return False
    return True


def _all_models(client: Any) -> Iterator[Any]:
    token = None
    while True:
        page = client.search_registered_models(max_results=_PAGE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _versions(client: Any, name: str) -> list[Any]:
    out: list[Any] = []
    token = None
    while True:
        page = client.search_model_versions(f"name='{name}'", max_results=_PAGE, page_token=token)
        out += list(page)
        token = page.token
        if not token:
            break
    return sorted(out, key=lambda mv: int(mv.version))


def _version(client: Any, tracking_uri: str, model: str, mv: Any, problems: list[str]) -> ForeignVersion:
    from mlflow.exceptions import MlflowException

    run = None
    if mv.run_id:
        try:
            run = client.get_run(mv.run_id)
        except MlflowException as exc:
            problems.append(
                f"{model} v{mv.version}: its run {mv.run_id} cannot be read ({_short(exc)}); no params or metrics"
            )
    labels = {bounded(k): bounded(v) for k, v in sorted((mv.tags or {}).items())}
    labels.update(
        {
            "mlflow.model": bounded(mv.name),
            "import.source": SYSTEM,
            "import.id": f"{bounded(mv.name)}/{mv.version}",
        }
    )
    if mv.current_stage and mv.current_stage != "None":
        labels["mlflow.stage"] = bounded(mv.current_stage)
    if mv.run_id:
        labels["mlflow.run_id"] = bounded(mv.run_id)
    params: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    source = None
    data: list[dict[str, Any]] = []
    user = mv.user_id or None
    if run is not None:
        params = {bounded(k): bounded(v) for k, v in sorted(run.data.params.items())}
        metrics = dict(sorted(run.data.metrics.items()))
        source = _source(run.data.tags)
        data = _datasets(run)
        user = user or run.info.user_id or None
    number = int(mv.version)

    def fetch(dest: Path) -> Path:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from mlflow.artifacts import download_artifacts

                uri = _own_location(client, tracking_uri, mv, run)
                got = Path(
                    download_artifacts(artifact_uri=uri, dst_path=str(dest), tracking_uri=tracking_uri)
                )
        except (MlflowException, OSError) as exc:
            raise ArtifactMissing(_short(exc)) from None
        if not got.exists() or (got.is_dir() and not any(p.is_file() for p in got.rglob("*"))):
            raise ArtifactMissing("the artifact store holds no files for it")
        return got

    return ForeignVersion(
        model=model,
        version=number,
        key=labels["import.id"],
        created_at=utc(mv.creation_timestamp / 1000),
        created_by=bounded(user or "unknown (MLflow recorded no user)"),
        message=bounded(mv.description) if mv.description else None,
        params=params,
        metrics=metrics,
        source=source,
        data=data,
        labels=labels,
        fetch=fetch,
        environment=environment,
    )


_LOCAL_SCHEMES = ("", "file")


def _own_location(client: Any, tracking_uri: str, mv: Any, run: Any) -> str:
    """The version's download URI as MLflow's registry resolves it, when it lies under the version's
    own artifact location: its run's `artifact_uri`, its logged model's `artifact_location`, or (a
    remote server) `mlflow-artifacts:` that the server itself serves. Anything else (a path on this
    machine named by a remote server, another bucket read with the importer's credentials, `..`) is
    refused before a byte is read."""
    from mlflow.exceptions import MlflowException

    uri = str(client.get_model_version_download_uri(mv.name, str(mv.version)))
    target = _location(uri)
    shown = strip_credentials(uri)[:200]
    if target is None:
        raise ArtifactRefused(f"its artifact location {shown!r} climbs out with '..'")
    server = _location(tracking_uri)
    remote = server is not None and server[0] not in (
        *_LOCAL_SCHEMES,
        "sqlite",
        "postgresql",
        "mysql",
        "mssql",
    )
    if remote and target[0] in _LOCAL_SCHEMES:
        raise ArtifactRefused(
            f"the tracking server names {shown!r}, a path on this machine; it is never read"
        )
    if remote and server is not None and target[0] == "mlflow-artifacts" and target[1] in ("", server[1]):
        return uri  # served by the tracking server from its own artifact root
    if target[0] == "runs" and mv.run_id and target[2].split("/")[1:2] == [str(mv.run_id)]:
        return uri  # MLflow resolves it under the version's own run's artifact location
    anchors = [str(run.info.artifact_uri)] if run is not None and run.info.artifact_uri else []
    model_id = getattr(mv, "model_id", None)
    if model_id:
        with contextlib.suppress(MlflowException, AttributeError):  # an older server: no logged models
            anchors.append(str(client.get_logged_model(model_id).artifact_location))
    for anchor in anchors:
        own = _location(anchor)
        if own is not None and own[:2] == target[:2] and _under(target[2], own[2]):
            return uri
    if not anchors:
        raise ArtifactRefused(
            f"its artifact location {shown!r} belongs to no run or logged model it could be checked against; it is never read"
        )
    raise ArtifactRefused(
        f"its artifact location {shown!r} is outside its run's artifact location "
        f"{strip_credentials(anchors[0])[:200]!r}; it is never read"
    )


def _location(uri: str) -> tuple[str, str, str] | None:
    """(scheme, host, normalised path) of a URI (a bare path is `file`); None when a segment is `..`."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme, path = "file", uri
    else:
        path = unquote(parts.path)
    if ".." in path.replace("\\", "/").split("/"):
        return None
    netloc = parts.netloc.rpartition("@")[2].lower()
    return ("file" if scheme == "" else scheme), netloc, posixpath.normpath("/" + path.lstrip("/"))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


_PYTHON = re.compile(r"^\s*python_version:\s*['\"]?([0-9][0-9A-Za-z.+-]{0,30})", re.M)
MAX_REQUIREMENTS = 1024 * 1024


def environment(root: Path) -> tuple[str | None, str | None]:
    """What an MLflow model directory records of its environment: `python_version` in `MLmodel`,
    and `requirements.txt` (the package list it was logged with)."""
    if not root.is_dir():
        return None, None
    python = None
    mlmodel = root / "MLmodel"
    if mlmodel.is_file() and mlmodel.stat().st_size <= MAX_REQUIREMENTS:
        m = _PYTHON.search(mlmodel.read_text("utf-8", "replace"))
        python = m.group(1) if m else None
    req = root / "requirements.txt"
    packages = None
    if req.is_file() and req.stat().st_size <= MAX_REQUIREMENTS:
        packages = req.read_text("utf-8", "replace")
    return python, packages


def _short(exc: BaseException) -> str:
    """MLflow's message in one line, without credentials of any URL it names."""
    words = [strip_credentials(w) if "://" in w else w for w in str(exc).split()]
    return " ".join(words)[:200] or type(exc).__name__


def _source(tags: dict[str, str]) -> dict[str, Any] | None:
    commit = tags.get("mlflow.source.git.commit")
    repository = tags.get("mlflow.source.git.repoURL") or tags.get("mlflow.source.name")
    if not commit and not repository:
        return None
    return {
        "repository": bounded(strip_credentials(repository)) if repository else None,
        "commit": commit if commit and _HEX.match(commit) else None,
    }


def _datasets(run: Any) -> list[dict[str, Any]]:
    """The run's logged datasets as data references: MLflow's source URI, its digest as `version`."""
    out = []
    inputs = getattr(run, "inputs", None)
    for di in getattr(inputs, "dataset_inputs", None) or []:
        ds = di.dataset
        uri = None
        try:
            src = json.loads(ds.source) if ds.source else {}
            if isinstance(src, dict):
                uri = src.get("uri") or src.get("url") or src.get("path")
        except ValueError:
            uri = ds.source
        ref: dict[str, Any] = {
            "name": bounded(ds.name or "dataset"),
            "uri": bounded(strip_credentials(str(uri))) if uri else f"mlflow-dataset:{bounded(ds.name)}",
        }
        if ds.digest:
            ref["version"] = f"mlflow-digest:{bounded(ds.digest)}"
        out.append(ref)
    return out


def _aliases(rm: Any) -> list[tuple[str, int]]:
    """A registered model's aliases (a mapping in MLflow ≥ 2.9's client, objects in older ones)."""
    raw = getattr(rm, "aliases", None) or {}
    if isinstance(raw, dict):
        return sorted((str(a), int(v)) for a, v in raw.items())
    return sorted((str(a.alias), int(a.version)) for a in raw)


def _moves(
    model: str, rm: Any, versions: list[Any], users: dict[int, str], problems: list[str]
) -> list[ForeignMove]:
    """Current aliases and legacy stages as moves. MLflow keeps no alias history: each move is dated
    by its version's last update, by the version's user. An alias beats a stage of the same name."""
    moves: list[ForeignMove] = []
    by_number = {int(mv.version): mv for mv in versions}
    current = _aliases(rm)
    mapping, collided = map_names((a for a, _ in current), alias_name, f"{model}: MLflow aliases", "alias")
    problems += collided
    explicit = {
        m for m in map(alias_name, (a for a, _ in current)) if m is not None
    }  # a stage never fills in
    for a, number in current:
        if a not in mapping:
            continue  # listed: another alias maps to the same mreg alias
        mapped = mapping[a]
        if mapped is None:
            problems.append(f"{model}: MLflow alias {a!r} cannot be an mreg alias")
            continue
        mv = by_number.get(number)
        at = mv.last_updated_timestamp / 1000 if mv is not None else 0.0
        moves.append(ForeignMove(model, mapped, number, at, users.get(number, "unknown")))
    for mv in versions:
        if mv.current_stage in STAGES:
            mapped = alias_name(mv.current_stage)
            if mapped is not None and mapped not in explicit:
                moves.append(
                    ForeignMove(
                        model,
                        mapped,
                        int(mv.version),
                        mv.last_updated_timestamp / 1000,
                        mv.user_id or "unknown",
                    )
                )
    return moves
