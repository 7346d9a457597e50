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
#[cfg(feature = "train")]
mod onnx;
mod rng;
#[cfg(feature = "train")]
mod train;

pub use data::{iris, DataError, Dataset, Sample};
#[cfg(feature = "train")]
pub use evaluate::{ClassReport, Evaluation};
#[cfg(feature = "train")]
pub use train::{train, LogisticRegression, TrainConfig};

/// Feature names in input column order (all in cm).
pub const FEATURE_NAMES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

/// Class names; a class index is a position in this array.
pub const CLASS_NAMES: [&str; 3] = ["setosa", "versicolor", "virginica"];

/// Number of input features.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// Number of classes.
pub const N_CLASSES: usize = CLASS_NAMES.len();

/// Name of the ONNX graph input: a float tensor `[N, 4]`.
pub const ONNX_INPUT: &str = "input";
/// Name of the ONNX output holding class probabilities: float `[N, 3]`.
pub const ONNX_PROBABILITIES: &str = "probabilities";
/// Name of the ONNX output holding the predicted class index: int64 `[N]`.
pub const ONNX_LABEL: &str = "label";
/// ONNX metadata key whose value is the JSON array of class names.
pub const METADATA_CLASS_NAMES: &str = "class_names";
/// ONNX metadata key whose value is the JSON array of feature names.
pub const METADATA_FEATURE_NAMES: &str = "feature_names";

/// The ONNX model trained with [`TrainConfig::default`], as committed in
/// `crates/iris-model/model/iris.onnx` (a test checks it equals a fresh training).
pub const DEFAULT_ONNX: &[u8] = include_bytes!("../model/iris.onnx");
