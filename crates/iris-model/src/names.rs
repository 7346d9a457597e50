//! The names and sizes of the model's inputs and outputs, shared by the data set, the
//! trainer, its evaluation and the ONNX export (and re-exported by the crate root). They live
//! in a module of their own so that those modules need not import the crate root, which
//! imports them.

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
