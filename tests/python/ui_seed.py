"""Seeds a tracking server with the official MLflow client for the web UI tests
(test_ui_*.py): an experiment with two runs (params, metrics with a 5-step history,
tags, a description, a text and a PNG artifact), a scikit-learn model logged as an
MLflow 3 logged model and registered as `iris` version 1 with the alias `champion`."""

import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
from mlflow import MlflowClient

EXPERIMENT = "ui-browser"
MODEL_NAME = "iris"
ALIAS = "champion"
TEXT_ARTIFACT = "notes/readme.txt"
TEXT_CONTENT = "spinflow UI artifact preview: hello from run one"
PNG_ARTIFACT = "plots/square.png"
RUN_DESCRIPTION = "Baseline run seeded for the browser tests"
LOSS_HISTORY = [0.9, 0.7, 0.5, 0.35, 0.25]


def png(width=32, height=32, rgb=(200, 40, 40)) -> bytes:
    """A solid-colour RGB PNG, written by hand (no imaging library needed)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


@dataclass
class Seeded:
    experiment_id: str
    run_ids: list = field(default_factory=list)
    run_names: list = field(default_factory=list)
    model_id: str = ""
    model_name: str = ""
    version: str = ""


def seed(tracking_uri: str) -> Seeded:
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    exp_id = client.create_experiment(EXPERIMENT, tags={"mlflow.note.content": "Experiment of the UI tests"})
    out = Seeded(experiment_id=exp_id)
    for i, (lr, depth) in enumerate([("0.01", "3"), ("0.1", "5")]):
        name = f"run-{'one' if i == 0 else 'two'}"
        with mlflow.start_run(experiment_id=exp_id, run_name=name) as run:
            mlflow.log_params({"learning_rate": lr, "max_depth": depth})
            mlflow.set_tags({"team": "spinflow", "mlflow.note.content": f"{RUN_DESCRIPTION} ({name})"})
            for step, loss in enumerate(LOSS_HISTORY):
                mlflow.log_metric("loss", loss + i * 0.05, step=step)
            mlflow.log_metric("accuracy", 0.91 + i * 0.03)
            mlflow.log_text(TEXT_CONTENT if i == 0 else "run two", TEXT_ARTIFACT)
            with tempfile.TemporaryDirectory() as d:
                p = Path(d) / Path(PNG_ARTIFACT).name
                p.write_bytes(png(rgb=(200, 40, 40) if i == 0 else (40, 40, 200)))
                mlflow.log_artifact(str(p), str(Path(PNG_ARTIFACT).parent))
            out.run_ids.append(run.info.run_id)
            out.run_names.append(name)
    # A logged model (MLflow 3), registered as iris v1 with an alias.
    from sklearn.linear_model import LogisticRegression
    import numpy as np

    x = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])
    y = np.array([0, 2, 1])
    # Resuming a run checks it against the active experiment, which other tests in the
    # same process may have set to theirs.
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_run(run_id=out.run_ids[0]):
        info = mlflow.sklearn.log_model(
            LogisticRegression(max_iter=200).fit(x, y), name="iris_model",
            registered_model_name=MODEL_NAME, params={"C": "1.0"})
        mlflow.log_metric("model_accuracy", 0.97, model_id=info.model_id)
    out.model_id = info.model_id
    out.model_name = info.name
    out.version = str(info.registered_model_version)
    client.set_registered_model_alias(MODEL_NAME, ALIAS, out.version)
    return out


if __name__ == "__main__":
    import sys
    print(seed(sys.argv[1]))
