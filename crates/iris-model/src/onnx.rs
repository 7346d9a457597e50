//! ONNX export of [`LogisticRegression`], written with tract-onnx's protobuf types.
//!
//! Graph: `input [N,4] -> Gemm(W [4,3], B [3]) -> Softmax(axis 1) -> probabilities [N,3]`
//! and `ArgMax(probabilities, axis 1) -> label [N]` (int64). Class and feature names go
//! into the model's metadata as JSON arrays.

use crate::names::{
    CLASS_NAMES, FEATURE_NAMES, METADATA_CLASS_NAMES, METADATA_FEATURE_NAMES, N_CLASSES,
    N_FEATURES, ONNX_INPUT, ONNX_LABEL, ONNX_PROBABILITIES,
};
use crate::train::LogisticRegression;
use prost::Message;
use tract_onnx::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType};

/// ONNX IR version 8 with opset 13: old enough for every runtime we test against.
const IR_VERSION: i64 = 8;
const OPSET: i64 = 13;

impl LogisticRegression {
    /// The model as an ONNX file (see [`crate::ONNX_INPUT`] and the output names).
    pub fn to_onnx(&self) -> Vec<u8> {
        encode(self)
    }
}

fn encode(model: &LogisticRegression) -> Vec<u8> {
    let weights: Vec<f32> = model.weights.iter().flatten().copied().collect();
    let graph = pb::GraphProto {
        name: "iris_logistic_regression".into(),
        initializer: vec![
            float_tensor("W", &[N_FEATURES as i64, N_CLASSES as i64], weights),
            float_tensor("B", &[N_CLASSES as i64], model.bias.to_vec()),
        ],
        node: vec![
            node("gemm", "Gemm", &[ONNX_INPUT, "W", "B"], "logits", vec![]),
            node(
                "softmax",
                "Softmax",
                &["logits"],
                ONNX_PROBABILITIES,
                vec![int_attr("axis", 1)],
            ),
            node(
                "argmax",
                "ArgMax",
                &[ONNX_PROBABILITIES],
                ONNX_LABEL,
                vec![int_attr("axis", 1), int_attr("keepdims", 0)],
            ),
        ],
        input: vec![value_info(
            ONNX_INPUT,
            DataType::Float,
            &[None, Some(N_FEATURES as i64)],
        )],
        output: vec![
            value_info(
                ONNX_PROBABILITIES,
                DataType::Float,
                &[None, Some(N_CLASSES as i64)],
            ),
            value_info(ONNX_LABEL, DataType::Int64, &[None]),
        ],
        ..Default::default()
    };
    pb::ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "spinflow-iris-model".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "Multinomial logistic regression on the Iris data set".into(),
        graph: Some(graph),
        metadata_props: vec![
            metadata(METADATA_CLASS_NAMES, &CLASS_NAMES),
            metadata(METADATA_FEATURE_NAMES, &FEATURE_NAMES),
        ],
        ..Default::default()
    }
    .encode_to_vec()
}

fn float_tensor(name: &str, dims: &[i64], data: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        float_data: data,
        ..Default::default()
    }
}

fn node(
    name: &str,
    op_type: &str,
    inputs: &[&str],
    output: &str,
    attribute: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        name: name.into(),
        op_type: op_type.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

fn int_attr(name: &str, value: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..Default::default()
    }
}

/// A tensor value; `None` dimensions are the symbolic batch size `N`.
fn value_info(name: &str, elem_type: DataType, dims: &[Option<i64>]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(n) => Value::DimValue(*n),
                None => Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: elem_type as i32,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The names as a JSON array of strings (they are plain identifiers: no escaping needed).
fn metadata(key: &str, names: &[&str]) -> pb::StringStringEntryProto {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    pb::StringStringEntryProto {
        key: key.into(),
        value: format!("[{}]", quoted.join(",")),
    }
}

#[cfg(test)]
mod tests {
    use crate::{iris, train, TrainConfig};
    use tract_onnx::prelude::*;

    #[test]
    fn tract_runs_the_export_and_agrees_with_the_rust_model() -> TractResult<()> {
        let config = TrainConfig::default();
        let model = train(&iris().split(config.test_fraction, config.seed).0, &config);
        let bytes = model.to_onnx();
        let plan = tract_onnx::onnx()
            .model_for_read(&mut bytes.as_slice())?
            .into_optimized()?
            .into_runnable()?;
        let data = iris();
        let rows: Vec<f32> = data.samples.iter().flat_map(|s| s.features).collect();
        let input = tract_ndarray::Array2::from_shape_vec((data.len(), 4), rows)?;
        let outputs = plan.run(tvec!(Tensor::from(input).into()))?;
        let probs = outputs[0].to_plain_array_view::<f32>()?;
        let labels = outputs[1].to_plain_array_view::<i64>()?;
        for (i, sample) in data.samples.iter().enumerate() {
            let expected = model.predict_proba(&sample.features);
            for k in 0..3 {
                assert!(
                    (probs[[i, k]] - expected[k]).abs() < 1e-5,
                    "row {i} class {k}"
                );
            }
            assert_eq!(labels[i] as usize, model.predict(&sample.features));
        }
        Ok(())
    }

    #[test]
    fn class_names_are_in_the_metadata() {
        use prost::Message;
        let config = TrainConfig::default();
        let model = train(&iris(), &config);
        let proto = tract_onnx::pb::ModelProto::decode(model.to_onnx().as_slice()).unwrap();
        let class_names = proto
            .metadata_props
            .iter()
            .find(|p| p.key == "class_names")
            .unwrap();
        assert_eq!(class_names.value, r#"["setosa","versicolor","virginica"]"#);
    }
}
