"""MLflow side of the bench (runs in bench/.peers-venv, never in mreg's venv).

mlflow_ops.py init     DB ARTROOT                   create the sqlite DB (pays migrations once)
mlflow_ops.py register DB ARTROOT FILE MODEL        log FILE as a run artifact (local store), then create_model_version
mlflow_ops.py fill     DB ARTROOT MODELS VERSIONS   registry of MODELS x VERSIONS with 3 aliases each
mlflow_ops.py resolve  DB MODEL ALIAS               print the version get_model_version_by_alias returns
"""

import os
import sys

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")


def client(db: str):
    from mlflow import MlflowClient

    uri = f"sqlite:///{db}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment(c, artroot: str) -> str:
    exp = c.get_experiment_by_name("bench")
    if exp is not None:
        return exp.experiment_id
    return c.create_experiment("bench", artifact_location=f"file://{artroot}")


def main() -> None:
    op, db = sys.argv[1], sys.argv[2]
    if op == "init":
        c = client(db)
        experiment(c, sys.argv[3])
    elif op == "register":
        artroot, path, model = sys.argv[3], sys.argv[4], sys.argv[5]
        c = client(db)
        run = c.create_run(experiment(c, artroot))
        c.log_artifact(run.info.run_id, path)
        try:
            c.get_registered_model(model)
        except Exception:
            c.create_registered_model(model)
        mv = c.create_model_version(
            model, f"{run.info.artifact_uri}/{os.path.basename(path)}", run_id=run.info.run_id
        )
        c.set_terminated(run.info.run_id)
        print(mv.version)
    elif op == "fill":
        artroot, models, versions = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        c = client(db)
        experiment(c, artroot)
        lag = {"production": 4, "staging": 2, "canary": 0}
        for m in range(1, models + 1):
            name = f"model-{m:04d}"
            c.create_registered_model(name)
            for v in range(1, versions + 1):
                c.create_model_version(name, f"file://{artroot}/{name}/{v}/model.safetensors")
            for alias, back in lag.items():
                c.set_registered_model_alias(name, alias, str(max(1, versions - back)))
    elif op == "resolve":
        print(client(db).get_model_version_by_alias(sys.argv[3], sys.argv[4]).version)
    else:
        raise SystemExit(f"unknown op {op}")


if __name__ == "__main__":
    main()
