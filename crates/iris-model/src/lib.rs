//! The Iris model of spinflow: the data set, a deterministic multinomial logistic
//! regression, its evaluation and its export to ONNX.
//!
//! Typical use (what `spinflow train` does):
//!
//! ```
//! # #[cfg(feature = "train")] {
//! use iris_model::{iris, TrainConfig};
//! let config = TrainConfig::default();
//! let (train_set, test_set) = iris().split(config.test_fraction, config.seed);
//! let model = iris_model::train(&train_set, &config);
//! let report = model.evaluate(&test_set);
//! assert!(report.accuracy > 0.9);
//! let onnx: Vec<u8> = model.to_onnx();
//! # let _ = onnx; }
//! ```
//!
//! Without the default `train` feature the crate only offers the data, the names and
//! the committed ONNX file ([`DEFAULT_ONNX`]); that is what the wasm component uses.

mod data;
#[cfg(feature = "train")]
mod evaluate;
mod names;
#[cfg(feature = "train")]
mod onnx;
mod rng;
#[cfg(feature = "train")]
mod train;

pub use data::{iris, DataError, Dataset, Sample};
#[cfg(feature = "train")]
pub use evaluate::{ClassReport, Evaluation};
pub use names::{
    CLASS_NAMES, FEATURE_NAMES, METADATA_CLASS_NAMES, METADATA_FEATURE_NAMES, N_CLASSES,
    N_FEATURES, ONNX_INPUT, ONNX_LABEL, ONNX_PROBABILITIES,
};
#[cfg(feature = "train")]
pub use train::{train, LogisticRegression, TrainConfig};

/// The ONNX model trained with [`TrainConfig::default`], as committed in
/// `crates/iris-model/model/iris.onnx` (a test checks it equals a fresh training).
pub const DEFAULT_ONNX: &[u8] = include_bytes!("../model/iris.onnx");
