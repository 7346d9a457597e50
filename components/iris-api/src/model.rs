//! ONNX models through tract: preparing a downloaded model once, and loading and
//! running the prepared form (the embedded and the baked models are loaded at build
//! time, registry versions at run time; see `preload`).
//!
//! Preparing (once per model version, before it is cached) rewrites the graph so that
//! tract can run it and so that loading is cheap:
//! * the output becomes the class-probability tensor; for scikit-learn models exported
//!   with skl2onnx's default `ZipMap` (an operator tract lacks) that is the tensor that
//!   feeds the ZipMap;
//! * nodes that do not lead to that tensor (label outputs, casts to strings...) are
//!   dropped, so operators tract lacks on unused paths do not matter;
//! * the class labels are written into the metadata (`class_names`);
//! * every remaining operator must be one tract knows, else the model is refused with
//!   the operator's name; finally the model is run once on a dummy row.

use iris_model::{CLASS_NAMES, METADATA_CLASS_NAMES, N_FEATURES};
use prost::Message;
use std::collections::HashSet;
use std::sync::OnceLock;
use tract_onnx::pb;
use tract_onnx::prelude::*;

/// The embedded default model (`iris_model::DEFAULT_ONNX`) in its prepared form, made
/// ahead of time so that no request pays for [`prepare`] (a test checks it is current;
/// regenerate with `UPDATE_PREPARED_ONNX=1 cargo test --release -p iris-api`).
pub const EMBEDDED_PREPARED: &[u8] = include_bytes!("../model/iris-prepared.onnx");

/// A model in its prepared form, ready to run.
#[derive(Clone)]
pub struct Model {
    plan: std::sync::Arc<TypedRunnableModel>,
    class_names: Vec<String>,
}

/// Result of running a batch: per row, the probability of each class.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    pub class_names: Vec<String>,
    /// Row-major `[rows][classes]`.
    pub probabilities: Vec<Vec<f32>>,
}

impl Predictions {
    /// Index of the most probable class of each row (the first one on ties).
    pub fn class_indices(&self) -> Vec<usize> {
        self.probabilities
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .fold(0, |best, (i, v)| if *v > p[best] { i } else { best })
            })
            .collect()
    }
}

/// The identity of a prepared model: the SHA-256 of its bytes, in hex. A registry
/// version whose prepared bytes have the digest of the baked model is served by it.
pub fn digest(prepared: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(prepared))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Rewrites a user's ONNX model into the prepared form (see the module doc) and checks
/// that tract runs it. The error says why a model is refused.
pub fn prepare(onnx: &[u8]) -> Result<Vec<u8>, String> {
    let mut proto = pb::ModelProto::decode(onnx).map_err(|e| format!("not an ONNX model: {e}"))?;
    let graph = proto.graph.as_mut().ok_or("the ONNX model has no graph")?;

    let (probabilities, labels) = find_probabilities(graph)?;
    graph.output = vec![pb::ValueInfoProto {
        name: probabilities.clone(),
        ..Default::default()
    }];
    prune(graph, &probabilities);
    numeric_class_labels(graph);
    check_input(graph)?;
    check_operators(graph)?;

    let class_names = labels.unwrap_or_default();
    proto
        .metadata_props
        .retain(|p| p.key != METADATA_CLASS_NAMES || class_names.is_empty());
    if !class_names.is_empty() {
        proto.metadata_props.push(pb::StringStringEntryProto {
            key: METADATA_CLASS_NAMES.into(),
            value: serde_json::to_string(&class_names).expect("strings serialise"),
        });
    }
    let prepared = proto.encode_to_vec();

    let model =
        Model::load(&prepared).map_err(|e| format!("tract cannot load the model: {e:#}"))?;
    let check = model
        .predict(&[[0.0; N_FEATURES]])
        .map_err(|e| format!("tract cannot run the model: {e:#}"))?;
    let n_classes = check.probabilities[0].len();
    if n_classes != model.class_names.len() {
        return Err(format!(
            "the model outputs {n_classes} probabilities but names {} classes",
            model.class_names.len()
        ));
    }
    Ok(prepared)
}

/// The probability tensor and, when the graph says, the class labels.
fn find_probabilities(graph: &pb::GraphProto) -> Result<(String, Option<Vec<String>>), String> {
    if let Some(zipmap) = graph.node.iter().find(|n| n.op_type == "ZipMap") {
        let input = zipmap.input.first().ok_or("ZipMap node without input")?;
        return Ok((input.clone(), labels_of(zipmap)));
    }
    let classifier_labels = graph
        .node
        .iter()
        .filter(|n| n.op_type.ends_with("Classifier"))
        .find_map(labels_of);
    let is_float = |v: &&pb::ValueInfoProto| match v.r#type.as_ref().and_then(|t| t.value.as_ref())
    {
        Some(pb::type_proto::Value::TensorType(t)) => {
            t.elem_type == pb::tensor_proto::DataType::Float as i32
        }
        None => false,
    };
    let output = graph
        .output
        .iter()
        .filter(is_float)
        .find(|o| o.name.to_ascii_lowercase().contains("prob"))
        .or_else(|| graph.output.iter().find(is_float))
        .ok_or("the model has no float output to read class probabilities from")?;
    Ok((output.name.clone(), classifier_labels))
}

/// `classlabels_strings` or integer class labels of a ZipMap/classifier node.
fn labels_of(node: &pb::NodeProto) -> Option<Vec<String>> {
    node.attribute.iter().find_map(|a| match a.name.as_str() {
        "classlabels_strings" if !a.strings.is_empty() => Some(
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        ),
        "classlabels_int64s" | "classlabels_ints" if !a.ints.is_empty() => {
            Some(a.ints.iter().map(i64::to_string).collect())
        }
        _ => None,
    })
}

/// tract's ML classifiers cannot build a string label output; since the labels are
/// kept in our metadata and the label output is pruned, string labels become indices.
fn numeric_class_labels(graph: &mut pb::GraphProto) {
    use pb::attribute_proto::AttributeType;
    for node in graph
        .node
        .iter_mut()
        .filter(|n| n.op_type.ends_with("Classifier"))
    {
        let ints_name = match node.op_type.as_str() {
            "LinearClassifier" | "SVMClassifier" => "classlabels_ints",
            _ => "classlabels_int64s",
        };
        if let Some(attr) = node
            .attribute
            .iter_mut()
            .find(|a| a.name == "classlabels_strings")
        {
            let n = attr.strings.len() as i64;
            *attr = pb::AttributeProto {
                name: ints_name.into(),
                r#type: AttributeType::Ints as i32,
                ints: (0..n).collect(),
                ..Default::default()
            };
        }
    }
}

/// Keeps only the nodes and initializers that `output` depends on.
fn prune(graph: &mut pb::GraphProto, output: &str) {
    let mut needed: HashSet<String> = HashSet::from([output.to_string()]);
    let mut keep = vec![false; graph.node.len()];
    // Nodes are topologically sorted in ONNX, so one backward pass is enough.
    for (i, node) in graph.node.iter().enumerate().rev() {
        if node.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(node.input.iter().filter(|s| !s.is_empty()).cloned());
        }
    }
    let mut k = keep.into_iter();
    graph.node.retain(|_| k.next().unwrap_or(false));
    graph.initializer.retain(|t| needed.contains(&t.name));
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    graph
        .input
        .retain(|i| needed.contains(&i.name) || initializers.contains(i.name.as_str()));
    graph.value_info.clear();
}

/// Exactly one runtime input, of float features.
fn check_input(graph: &pb::GraphProto) -> Result<(), String> {
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !initializers.contains(i.name.as_str()))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(format!(
            "the model must take one input tensor, it takes {}",
            inputs.len()
        ));
    };
    if let Some(pb::type_proto::Value::TensorType(t)) =
        input.r#type.as_ref().and_then(|t| t.value.as_ref())
    {
        if t.elem_type != pb::tensor_proto::DataType::Float as i32 {
            return Err(format!(
                "the input {:?} must be float32 (tensor type {})",
                input.name, t.elem_type
            ));
        }
    }
    Ok(())
}

/// tract's ONNX framework (its operator registry), built once per instance rather than
/// per model load. A pre-initialised component has it in its snapshot.
fn onnx() -> &'static tract_onnx::Onnx {
    static ONNX: OnceLock<tract_onnx::Onnx> = OnceLock::new();
    ONNX.get_or_init(tract_onnx::onnx)
}

/// Every operator must be one tract implements; the error names the first that is not.
fn check_operators(graph: &pb::GraphProto) -> Result<(), String> {
    let onnx = onnx();
    for node in &graph.node {
        if !onnx.op_register.0.contains_key(&node.op_type) {
            let domain = if node.domain.is_empty() {
                "ai.onnx"
            } else {
                &node.domain
            };
            return Err(format!(
                "unsupported operator {} (domain {domain}, node {:?}): tract cannot run it",
                node.op_type, node.name
            ));
        }
    }
    Ok(())
}

impl Model {
    /// Whether two models run the same plan (not merely an equal one).
    #[cfg(test)]
    pub(crate) fn shares_plan_with(&self, other: &Model) -> bool {
        std::sync::Arc::ptr_eq(&self.plan, &other.plan)
    }

    /// Loads a prepared model (the output of [`prepare`]) into a runnable plan.
    pub fn load(prepared: &[u8]) -> TractResult<Self> {
        Self::load_for(prepared, None)
    }

    /// Like [`Model::load`], for batches of exactly `rows` rows when given: a concrete
    /// shape is cheaper to type and optimise than the symbolic batch size.
    pub fn load_for(prepared: &[u8], rows: Option<usize>) -> TractResult<Self> {
        let proto = pb::ModelProto::decode(prepared)?;
        let class_names = proto
            .metadata_props
            .iter()
            .find(|p| p.key == METADATA_CLASS_NAMES)
            .and_then(|p| serde_json::from_str::<Vec<String>>(&p.value).ok());
        let inference = onnx().model_for_proto_model(&proto)?;
        let batch = match rows {
            Some(n) => n.to_dim(),
            None => inference.symbols.sym("N").to_dim(),
        };
        let plan = inference
            .with_input_fact(0, f32::fact([batch, N_FEATURES.to_dim()]).into())?
            .into_optimized()?
            .into_runnable()?;
        let mut model = Self {
            plan,
            class_names: class_names.unwrap_or_default(),
        };
        if model.class_names.is_empty() {
            model.class_names = default_class_names(model.n_classes()?);
        }
        Ok(model)
    }

    fn n_classes(&self) -> TractResult<usize> {
        let out = self.predict(&[[0.0; N_FEATURES]])?;
        Ok(out.probabilities[0].len())
    }

    /// Class names in probability-column order.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Class probabilities for each row.
    pub fn predict(&self, rows: &[[f32; N_FEATURES]]) -> TractResult<Predictions> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let input = Tensor::from_shape(&[rows.len(), N_FEATURES], &flat)?;
        let outputs = self.plan.run(tvec!(input.into()))?;
        let probs = outputs[0].cast_to::<f32>()?;
        let view = probs.to_plain_array_view::<f32>()?;
        let classes = view.len() / rows.len().max(1);
        let view = view.into_shape_with_order((rows.len(), classes))?;
        Ok(Predictions {
            class_names: self.class_names.clone(),
            probabilities: view.outer_iter().map(|r| r.to_vec()).collect(),
        })
    }
}

/// Integer labels 0..3 of a three-class model are the Iris classes; otherwise indices.
fn default_class_names(n: usize) -> Vec<String> {
    if n == CLASS_NAMES.len() {
        CLASS_NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        (0..n).map(|i| i.to_string()).collect()
    }
}

/// Class names for a prepared model whose labels are integers: `"0","1","2"` become
/// the Iris names, which is what a scikit-learn model trained on `load_iris().target` means.
pub fn display_names(names: &[String]) -> Vec<String> {
    if names == ["0", "1", "2"] {
        CLASS_NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        names.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_model::{iris, DEFAULT_ONNX};

    #[test]
    fn the_default_model_prepares_and_predicts_setosa() {
        let prepared = prepare(DEFAULT_ONNX).unwrap();
        let model = Model::load(&prepared).unwrap();
        assert_eq!(model.class_names(), ["setosa", "versicolor", "virginica"]);
        let out = model
            .predict(&[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
            .unwrap();
        assert_eq!(out.class_indices(), vec![0, 2]);
        assert!((out.probabilities[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn the_embedded_prepared_model_is_the_default_model_prepared() {
        let fresh = prepare(DEFAULT_ONNX).unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/model/iris-prepared.onnx");
        if std::env::var_os("UPDATE_PREPARED_ONNX").is_some() {
            std::fs::write(path, &fresh).unwrap();
            return;
        }
        assert!(
            fresh == EMBEDDED_PREPARED,
            "model/iris-prepared.onnx is stale; regenerate it (see EMBEDDED_PREPARED)"
        );
    }

    #[test]
    fn the_default_model_is_accurate_on_all_rows() {
        let model = Model::load(&prepare(DEFAULT_ONNX).unwrap()).unwrap();
        let data = iris();
        let rows: Vec<[f32; 4]> = data.samples.iter().map(|s| s.features).collect();
        let predicted = model.predict(&rows).unwrap().class_indices();
        let correct = predicted
            .iter()
            .zip(&data.samples)
            .filter(|(p, s)| **p == s.label)
            .count();
        assert!(correct >= 140, "{correct}/150");
    }

    #[test]
    fn an_unknown_operator_is_named() {
        let mut proto = pb::ModelProto::decode(DEFAULT_ONNX).unwrap();
        let graph = proto.graph.as_mut().unwrap();
        graph.node[1].op_type = "FancySoftmax".into();
        let err = prepare(&proto.encode_to_vec()).unwrap_err();
        assert!(err.contains("FancySoftmax"), "{err}");
    }

    #[test]
    fn garbage_is_refused() {
        assert!(prepare(b"definitely not onnx")
            .unwrap_err()
            .contains("not an ONNX model"));
    }
}
