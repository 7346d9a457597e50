//! mlflow-wire
