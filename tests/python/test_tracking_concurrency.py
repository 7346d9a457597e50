"""Eight clients logging at once lose nothing: 8 writers x 1,000 metric points, each
point a separate log-metric request, into one shared run and one run per writer."""

import threading

import mlflow
from mlflow import MlflowClient

from tracking_helpers import experiment_id, tracking_uri  # noqa: F401

WRITERS = 8
POINTS = 1000


def test_eight_concurrent_writers_lose_nothing(tracking_uri, experiment_id):
    setup = MlflowClient(tracking_uri)
    shared = setup.create_run(experiment_id).info.run_id
    own = [setup.create_run(experiment_id).info.run_id for _ in range(WRITERS)]
    errors = []

    def writer(w):
        c = MlflowClient(tracking_uri)
        try:
            for i in range(POINTS):
                run = shared if i % 2 == 0 else own[w]
                c.log_metric(run, f"w{w}", float(w * POINTS + i), timestamp=1_000 + i, step=i)
        except Exception as exc:  # surfaced below with the writer number
            errors.append((w, exc))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    for w in range(WRITERS):
        in_shared = setup.get_metric_history(shared, f"w{w}")
        in_own = setup.get_metric_history(own[w], f"w{w}")
        assert sorted(m.step for m in in_shared) == list(range(0, POINTS, 2))
        assert sorted(m.step for m in in_own) == list(range(1, POINTS, 2))
        assert all(m.value == w * POINTS + m.step for m in in_shared + in_own)
        assert setup.get_run(shared).data.metrics[f"w{w}"] == w * POINTS + POINTS - 2
