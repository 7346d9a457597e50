//! The ONNX file committed in `model/iris.onnx` (embedded by iris-api as its default
//! model) must be exactly what a fresh training with the default config writes.
//! Regenerate it with `UPDATE_IRIS_ONNX=1 cargo test --release -p iris-model`.

use iris_model::{iris, train, TrainConfig, DEFAULT_ONNX};

#[test]
fn committed_onnx_equals_a_fresh_training() {
    let config = TrainConfig::default();
    let (train_set, test_set) = iris().split(config.test_fraction, config.seed);
    let model = train(&train_set, &config);
    let fresh = model.to_onnx();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/model/iris.onnx");
    if std::env::var_os("UPDATE_IRIS_ONNX").is_some() {
        std::fs::write(path, &fresh).unwrap();
        eprintln!(
            "wrote {path}; held-out accuracy {}",
            model.evaluate(&test_set).accuracy
        );
        return;
    }
    let on_disk = std::fs::read(path).unwrap();
    assert_eq!(on_disk, DEFAULT_ONNX, "rebuild: the embedded copy is stale");
    assert!(
        fresh == on_disk,
        "model/iris.onnx differs from a fresh training; regenerate it (see this file's doc)"
    );
}
