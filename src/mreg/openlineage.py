"""A lineage as OpenLineage run events (`mreg lineage --format openlineage`), for teams that feed a
data catalog (Marquez, DataHub, OpenMetadata, …). Pure: data in, data out.

The mapping (docs/lineage.md says the same):

- each **version** is a completed run (`eventType` COMPLETE at its `created_at`) of the **job**
  named after its model, in the registry's namespace (its remote URL, or its path); its **inputs**
  are its training data refs and its parent (a version of this registry, or the external URI), its
  one **output** is the version itself, a dataset named `MODEL@vN` in the registry's namespace whose
  `version` facet is the version's digest;
- each **evaluation record** is a completed run of the job `MODEL.evaluate` whose inputs are the
  version and the evaluation dataset, with the figures in the run facet `mreg_evaluation`;
- a data URI `scheme://authority/path` is the dataset named `path` in namespace `scheme://authority`
  (`s3://bucket` + key, as OpenLineage names S3 objects); a `file://` URI is `path` in namespace
  `file`; the `version` facet is the digest, else the etag or version id the store reported;
- `runId` is a name-based UUID (v5) of the registry, the version and its digest (the record's path
  for an evaluation): exporting twice gives the same ids, so a catalog updates runs rather than
  duplicating them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mreg._version import __version__
from mreg.refs import is_external

if TYPE_CHECKING:
    from mreg.results import Evaluation, Lineage, LineageNode

PRODUCER = f"https://mreg.dev/mreg/{__version__}"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets"
_JOB_TYPE = f"{_FACETS}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
_SOURCE = f"{_FACETS}/1-0-1/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
_DATASET_VERSION = f"{_FACETS}/1-0-0/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
_CUSTOM = "https://mreg.dev/schemas/openlineage-facets.json#/$defs"


def run_events(lineage: Lineage) -> list[dict[str, Any]]:
    """One run event for each version of the lineage, then one for each of its evaluation records
    (external parents and parents that could not be read are inputs only, never runs)."""
    out = []
    for node in lineage.nodes:
        if node.external or node.model is None or node.problem is not None:
            continue
        out.append(_version_run(lineage.registry, node))
        for e in node.evaluations or ():
            out.append(_evaluation_run(lineage.registry, node, e))
    return out


def dataset_name(uri: str) -> tuple[str, str]:
    """(namespace, name) of a data URI, as OpenLineage names datasets by their location."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return "file", uri
    if scheme.lower() == "file":  # file:///abs/path (or file://host/abs/path): the path
        _, slash, path = rest.partition("/")
        return "file", slash + path or "/"
    authority, _, path = rest.partition("/")
    return f"{scheme}://{authority}", path or "/"


def _facet(schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": schema, **fields}


def _job_type(kind: str) -> dict[str, Any]:
    return _facet(_JOB_TYPE, processingType="BATCH", integration="MREG", jobType=kind)


def _run_id(*parts: str | None) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mreg:" + "\x00".join(p or "" for p in parts)))


def _data_input(ref: Mapping[str, Any]) -> dict[str, Any]:
    namespace, name = dataset_name(str(ref.get("uri") or ""))
    facets: dict[str, Any] = {
        "mreg_dataRef": _facet(
            f"{_CUSTOM}/MregDataRefDatasetFacet",
            **{k: ref[k] for k in ("name", "uri", "digest", "etag", "version", "size") if k in ref},
        )
    }
    version = ref.get("digest") or ref.get("etag") or ref.get("version")
    if version:
        facets["version"] = _facet(_DATASET_VERSION, datasetVersion=str(version))
    return {"namespace": namespace, "name": name, "facets": facets}


def _version_dataset(registry: str, ref: str, digest: str | None) -> dict[str, Any]:
    facets = {"version": _facet(_DATASET_VERSION, datasetVersion=digest)} if digest else {}
    return {"namespace": registry, "name": ref, "facets": facets}


def _parent_input(registry: str, node: LineageNode) -> dict[str, Any] | None:
    if not node.parent:
        return None
    if is_external(node.parent):
        namespace, name = dataset_name(node.parent)
        return {"namespace": namespace, "name": name, "facets": {}}
    return _version_dataset(registry, node.parent, None)


def _version_run(registry: str, node: LineageNode) -> dict[str, Any]:
    job_facets: dict[str, Any] = {"jobType": _job_type("TRAINING")}
    source = node.source or {}
    if source.get("repository"):
        location = {"type": "git", "url": source["repository"], "repoUrl": source["repository"]}
        if source.get("commit"):
            location["version"] = source["commit"]
        job_facets["sourceCodeLocation"] = _facet(_SOURCE, **location)
    run_facet: dict[str, Any] = {"ref": node.ref, "digest": node.digest, "createdBy": node.created_by}
    if node.environment is not None:
        run_facet["environment"] = dict(node.environment)
    if source:
        run_facet["dirty"] = bool(source.get("dirty"))
    inputs = [_data_input(d) for d in node.data]
    parent = _parent_input(registry, node)
    if parent is not None:
        inputs.append(parent)
    return {
        "eventType": "COMPLETE",
        "eventTime": node.created_at,
        "run": {
            "runId": _run_id(registry, node.ref, node.digest),
            "facets": {"mreg_version": _facet(f"{_CUSTOM}/MregVersionRunFacet", **run_facet)},
        },
        "job": {"namespace": registry, "name": node.model, "facets": job_facets},
        "inputs": inputs,
        "outputs": [_version_dataset(registry, node.ref, node.digest)],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


def _evaluation_run(registry: str, node: LineageNode, e: Evaluation) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": e.created_at,
        "run": {
            "runId": _run_id(registry, e.path, node.digest),
            "facets": {
                "mreg_evaluation": _facet(
                    f"{_CUSTOM}/MregEvaluationRunFacet",
                    ref=e.ref,
                    record=e.path,
                    number=e.number,
                    metrics=dict(e.metrics),
                    datasetIdentity=e.dataset_identity,
                    createdBy=e.created_by,
                    message=e.message,
                )
            },
        },
        "job": {
            "namespace": registry,
            "name": f"{node.model}.evaluate",
            "facets": {"jobType": _job_type("EVALUATION")},
        },
        "inputs": [_version_dataset(registry, node.ref, node.digest), _data_input(e.dataset)],
        "outputs": [],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }
