"""Train the peers' model once: scikit-learn LogisticRegression on Iris, saved in
MLflow's sklearn format so that the FastAPI app and `mlflow models serve` load the
very same model.

Usage: python train.py OUT_DIR
"""

import sys

import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split


def main(out_dir: str) -> None:
    iris = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.2, random_state=42, stratify=iris.target
    )
    model = LogisticRegression(max_iter=1000, random_state=42).fit(x_train, y_train)
    print(f"held-out accuracy {model.score(x_test, y_test):.3f}")
    mlflow.sklearn.save_model(model, out_dir)


if __name__ == "__main__":
    main(sys.argv[1])
