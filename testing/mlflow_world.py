"""A real MLflow model registry (sqlite backend, local artifact store) for the import tests, and
MLflow's own answers about it.

Run as a script in a subprocess (MLflow's import is slow and its warnings would fail pytest):
`python -m testing.mlflow_world build DIR` builds it and prints MLflow's answers as JSON;
`python -m testing.mlflow_world bench DIR N MIB` builds N versions of MIB MiB each.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _client(root: Path) -> Any:
    warnings.simplefilter("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow

    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(uri, uri)
    if client.get_experiment_by_name("train") is None:
        client.create_experiment("train", artifact_location=(root / "artifacts").as_uri())
    mlflow.set_experiment("train")
    return client


def _version(
    client: Any,
    name: str,
    files: dict[str, bytes],
    params: dict[str, Any],
    metrics: dict[str, float],
    *,
    dataset: bool = False,
) -> Any:
    import mlflow

    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
        for rel, data in files.items():
            p = Path(tmp, rel)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        mlflow.log_artifacts(tmp, artifact_path="model")
        mlflow.log_params(params)
        for k, v in metrics.items():
            mlflow.log_metric(k, v - 0.1, step=0)
            mlflow.log_metric(k, v, step=1)  # the latest value is the one a version keeps
        mlflow.set_tag("mlflow.source.git.commit", COMMIT)
        mlflow.set_tag("mlflow.source.git.repoURL", "https://github.com/acme/fraud.git")
        if dataset:
            import numpy as np
            from mlflow.data import from_numpy

            mlflow.log_input(
                from_numpy(np.arange(10), source="s3://acme-data/train.npy", name="train"), context="training"
            )
        return client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id)


def build(root: Path) -> dict[str, Any]:
    """Two models: `Fraud Detector` (v1..v5, v3 deleted: a gap; aliases, a stage, tags, a description,
    a dataset) and `churn` (v1, v2 whose artifacts are gone: a missing artifact)."""
    client = _client(root)
    client.create_registered_model("Fraud Detector")
    for n in range(1, 6):
        mv = _version(
            client,
            "Fraud Detector",
            {
                "MLmodel": b"flavors: {}\npython_version: 3.11.4\n",
                "model.bin": os.urandom(2048) + bytes([n]),
                "requirements.txt": f"scikit-learn==1.{n}\n".encode(),
            },
            {"lr": str(0.1 * n), "depth": n},
            {"auc": 0.8 + n / 100, "loss": 1.0 / n},
            dataset=n == 4,
        )
        assert str(mv.version) == str(n)
    client.set_model_version_tag("Fraud Detector", "4", "team", "risk")
    client.update_model_version("Fraud Detector", "4", description="the one with the new features")
    client.delete_model_version("Fraud Detector", "3")
    client.set_registered_model_alias("Fraud Detector", "champion", "4")
    client.set_registered_model_alias("Fraud Detector", "challenger", "5")
    client.transition_model_version_stage("Fraud Detector", "2", "Staging")
    client.transition_model_version_stage("Fraud Detector", "4", "Production")
    client.create_registered_model("churn")
    _version(client, "churn", {"weights.npy": b"w1" * 100}, {"k": 3}, {"f1": 0.7})
    gone = _version(client, "churn", {"weights.npy": b"w2" * 100}, {"k": 4}, {"f1": 0.72})
    shutil.rmtree(Path(gone.source.removeprefix("file://")))
    return answers(root)


def answers(root: Path) -> dict[str, Any]:
    """What MLflow itself says: every version's files (sha256), params, metrics, tags, stage, aliases."""
    from mlflow.artifacts import download_artifacts

    client = _client(root)
    out: dict[str, Any] = {"tracking_uri": f"sqlite:///{root / 'mlflow.db'}", "models": {}}
    for rm in client.search_registered_models():
        versions = {}
        for mv in client.search_model_versions(f"name='{rm.name}'"):
            run = client.get_run(mv.run_id)
            files: dict[str, str] | None = {}
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    got = Path(download_artifacts(artifact_uri=mv.source, dst_path=tmp))
                    for p in sorted(got.rglob("*")):
                        if p.is_file():
                            files[p.relative_to(got).as_posix()] = (
                                "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
                            )
                except Exception:
                    files = None
            versions[str(mv.version)] = {
                "files": files or None,
                "params": run.data.params,
                "metrics": run.data.metrics,
                "tags": mv.tags,
                "stage": mv.current_stage,
                "aliases": list(mv.aliases),
                "description": mv.description,
                "created": mv.creation_timestamp,
            }
        out["models"][rm.name] = {"aliases": dict(rm.aliases), "versions": versions}
    return out


def bench(root: Path, count: int, mib: int) -> None:
    client = _client(root)
    client.create_registered_model("bench")
    for n in range(count):
        _version(
            client, "bench", {"model.bin": os.urandom(mib * 1024 * 1024)}, {"n": n}, {"auc": 0.5 + n / 1000}
        )


if __name__ == "__main__":
    where = Path(sys.argv[2])
    where.mkdir(parents=True, exist_ok=True)
    if sys.argv[1] == "build":
        print(json.dumps(build(where)))
    elif sys.argv[1] == "set-alias":  # set-alias DIR MODEL ALIAS VERSION
        _client(where).set_registered_model_alias(sys.argv[3], sys.argv[4], sys.argv[5])
    elif sys.argv[1] == "answers":
        print(json.dumps(answers(where)))
    else:
        bench(where, int(sys.argv[3]), int(sys.argv[4]))
