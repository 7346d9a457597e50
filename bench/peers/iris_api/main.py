"""The reference iris-api, rebuilt as the seed architecture describes it: FastAPI,
`/predict`, `/health`, `/metrics` (prometheus-client), an API key in `X-API-Key`,
the model loaded through MLflow.

It accepts the same request forms as spinflow's iris-api, so that both receive the
same bytes: one object with named features, or `{"features": [[...], ...]}`.

Environment: MODEL_PATH (an MLflow model directory), API_KEYS (comma-separated).
"""

import os
import secrets
import time
from typing import List, Union

import mlflow.sklearn
import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, Field

CLASS_NAMES = ["setosa", "versicolor", "virginica"]
MODEL_NAME = "iris"
MODEL_VERSION = "1"

REQUESTS = Counter("iris_api_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("iris_api_request_duration_seconds", "Request latency", ["route"])
PREDICTIONS = Counter("iris_api_predictions_total", "Predictions by class", ["class_name"])
MODEL_INFO = Gauge("iris_api_model_info", "Model served", ["name", "version"])

app = FastAPI(title="iris-api", version="1.0.0")
model = mlflow.sklearn.load_model(os.environ["MODEL_PATH"])
MODEL_INFO.labels(MODEL_NAME, MODEL_VERSION).set(1)
API_KEYS = [k for k in os.environ.get("API_KEYS", "dev-key").split(",") if k]
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


class IrisFeatures(BaseModel):
    sepal_length: float = Field(..., gt=0)
    sepal_width: float = Field(..., gt=0)
    petal_length: float = Field(..., gt=0)
    petal_width: float = Field(..., gt=0)


class IrisBatch(BaseModel):
    features: List[List[float]]


def require_api_key(key: str = Depends(api_key_header)) -> str:
    if not key or not any(secrets.compare_digest(key, k) for k in API_KEYS):
        raise HTTPException(status_code=401, detail="invalid or missing API key")
    return key


@app.middleware("http")
async def record_metrics(request: Request, call_next):
    start = time.perf_counter()
    response = await call_next(request)
    route = request.url.path
    LATENCY.labels(route).observe(time.perf_counter() - start)
    REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    return response


@app.get("/health")
def health():
    return {"status": "healthy", "model": {"name": MODEL_NAME, "version": MODEL_VERSION, "loaded": True}}


@app.get("/metrics")
def metrics():
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@app.post("/predict")
def predict(body: Union[IrisFeatures, IrisBatch], _key: str = Depends(require_api_key)):
    if isinstance(body, IrisFeatures):
        rows = [[body.sepal_length, body.sepal_width, body.petal_length, body.petal_width]]
    else:
        rows = body.features
        if not rows or any(len(r) != 4 for r in rows):
            raise HTTPException(status_code=422, detail="each row needs 4 features")
    probabilities = model.predict_proba(np.asarray(rows, dtype=np.float64))
    predictions = []
    for probs in probabilities:
        index = int(np.argmax(probs))
        PREDICTIONS.labels(CLASS_NAMES[index]).inc()
        predictions.append(
            {
                "class": CLASS_NAMES[index],
                "class_index": index,
                "probabilities": {name: float(p) for name, p in zip(CLASS_NAMES, probs)},
            }
        )
    return {
        "predictions": predictions,
        "model": {"name": MODEL_NAME, "version": MODEL_VERSION, "source": "mlflow"},
    }
