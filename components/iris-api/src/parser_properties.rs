//! Property tests of the prediction input parsers (`/predict`, MLflow scoring as JSON
//! and CSV, Open Inference Protocol): whatever the bytes, a parser answers rows or a
//! 4xx error, never a panic or a 5xx, and what it accepts respects the limits.
//!
//! Bounded by proptest's default of 256 cases per property (well under a second
//! each); run longer with e.g. `PROPTEST_CASES=100000 cargo test --release -p
//! iris-api parser_properties`.

use crate::error::ApiError;
use crate::input::{self, Row};
use crate::{json_body, oip, scoring};
use iris_model::FEATURE_NAMES;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

/// Every parser of a prediction body, as its route runs it, with the rows accepted.
fn every_parser(body: &[u8], max_rows: usize) -> Vec<(&'static str, Result<Vec<Row>, ApiError>)> {
    let json = || json_body::parse(body, max_rows);
    vec![
        (
            "/predict",
            json().and_then(|v| input::predict_rows(&v, max_rows)),
        ),
        (
            "/invocations json",
            json().and_then(|v| scoring::json_rows(&v, max_rows)),
        ),
        ("/invocations csv", scoring::csv_rows(body, max_rows)),
        (
            "oip",
            json().and_then(|v| {
                let request = oip::parse_infer(&v, max_rows)?;
                // The answer is bounded by the rows: each output at most once.
                let mut outputs = request.outputs.clone();
                outputs.sort_unstable();
                outputs.dedup();
                assert_eq!(outputs.len(), request.outputs.len(), "repeated outputs");
                assert!(outputs.iter().all(|o| oip::OUTPUTS.contains(o)));
                Ok(request.rows)
            }),
        ),
    ]
}

/// Rows within the limit, finite, or an error that is the client's (4xx).
fn check(body: &[u8], max_rows: usize) -> Result<usize, TestCaseError> {
    let mut accepted = 0;
    for (parser, result) in every_parser(body, max_rows) {
        match result {
            Ok(rows) => {
                prop_assert!(
                    !rows.is_empty() && rows.len() <= max_rows,
                    "{parser}: {} rows",
                    rows.len()
                );
                prop_assert!(rows.iter().flatten().all(|v| v.is_finite()), "{parser}");
                accepted += 1;
            }
            Err(e) => prop_assert!(
                (400..500).contains(&e.status) && !e.message.is_empty(),
                "{parser}: {e}"
            ),
        }
    }
    Ok(accepted)
}

const WORDS: &[&str] = &[
    "sepal_length",
    "sepal_width",
    "petal_length",
    "petal_width",
    "features",
    "instances",
    "inputs",
    "outputs",
    "name",
    "shape",
    "datatype",
    "data",
    "id",
    "parameters",
    "params",
    "dataframe_split",
    "dataframe_records",
    "columns",
    "index",
    "input",
    "label",
    "probabilities",
    "class_index",
    "FP16",
    "FP32",
    "FP64",
    "INT8",
    "INT64",
    "UINT8",
    "UINT64",
    "BOOL",
    "BYTES",
    "",
];

const DATATYPES: &[&str] = &[
    "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "FP16", "FP32",
    "FP64", "BOOL", "BYTES",
];

/// Numbers at the edges of the datatypes and of float32, and ordinary ones.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        select(vec![
            0.0, 1.0, -1.0, 5.1, 2.5, 300.0, 65504.0, 65505.0, 3.4e38, 1e39, 1e300, -1e300,
        ])
        .prop_map(|f| json!(f)),
        select(vec![
            0i64,
            1,
            4,
            -1,
            127,
            128,
            -129,
            255,
            256,
            65536,
            i64::from(i32::MAX) + 1,
            i64::MIN,
            i64::MAX
        ])
        .prop_map(|i| json!(i)),
        select(vec![u64::MAX, 4_294_967_297, 1_073_741_825, 4_294_967_300]).prop_map(|u| json!(u)),
        (-1000i64..1000).prop_map(|i| json!(i)),
        any::<f32>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => number(),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => select(WORDS).prop_map(|s| json!(s)),
    ]
}

/// Any JSON made of the words and numbers the parsers look for.
fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((select(WORDS), inner), 0..6).prop_map(|fields| {
                Value::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// Mostly a plausible measurement, sometimes anything.
fn feature() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => (0u8..80).prop_map(|tenths| json!(f32::from(tenths) / 10.0)),
        2 => (0u8..10).prop_map(|n| json!(n)),
        1 => leaf(),
    ]
}

fn row() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => prop::collection::vec(feature(), 4).prop_map(Value::Array),
        1 => prop::collection::vec(feature(), 3..=5).prop_map(Value::Array),
        3 => prop::collection::vec(feature(), 4).prop_map(|values| {
            Value::Object(FEATURE_NAMES.iter().map(|f| f.to_string()).zip(values).collect())
        }),
        1 => any_json(),
    ]
}

fn rows() -> impl Strategy<Value = Value> {
    prop::collection::vec(row(), 0..5).prop_map(Value::Array)
}

fn tensor() -> impl Strategy<Value = Value> {
    (
        select(WORDS),
        prop::collection::vec(prop_oneof![(0u64..6), number().prop_map(|n| n.as_u64().unwrap_or(4))], 0..4),
        select(DATATYPES),
        prop_oneof![
            prop::collection::vec(leaf(), 0..16).prop_map(Value::Array),
            prop::collection::vec(prop::collection::vec(leaf(), 4), 0..4)
                .prop_map(|rows| json!(rows)),
        ],
    )
        .prop_map(|(name, shape, datatype, data)| {
            json!({"name": name, "shape": shape, "datatype": datatype, "data": data})
        })
}

/// An OIP request with one `[N, 4]` tensor, mostly well formed.
fn oip_matrix() -> impl Strategy<Value = Value> {
    (
        1usize..4,
        select(DATATYPES),
        prop_oneof![4 => Just(0isize), 1 => -1isize..=1],
        prop::collection::vec(select(oip::OUTPUTS.to_vec()), 0..6),
        prop::collection::vec(prop_oneof![3 => (0u8..10).prop_map(|n| json!(n)), 1 => number()], 16),
    )
        .prop_map(|(n, datatype, off_by, outputs, numbers)| {
            let count = (n * 4).saturating_add_signed(off_by);
            let data: Vec<Value> = numbers.into_iter().cycle().take(count).collect();
            let outputs: Vec<Value> = outputs.iter().map(|o| json!({ "name": o })).collect();
            json!({"id": "p", "inputs": [{"name": "input", "shape": [n, 4], "datatype": datatype, "data": data}], "outputs": outputs})
        })
}

/// Bodies close to the documented forms, with wrong parts mixed in.
fn body_like_a_request() -> impl Strategy<Value = Value> {
    let outputs =
        prop::collection::vec(select(WORDS).prop_map(|name| json!({ "name": name })), 0..8);
    prop_oneof![
        row(),
        rows().prop_map(|r| json!({ "features": r })),
        rows().prop_map(|r| json!({ "instances": r })),
        (
            select(vec!["instances", "inputs", "dataframe_records"]),
            rows()
        )
            .prop_map(|(k, r)| json!({ k: r })),
        (rows(), prop::option::of(any_json())).prop_map(|(r, index)| {
            let mut split = json!({"columns": FEATURE_NAMES, "data": r});
            if let Some(index) = index {
                split["index"] = index;
            }
            json!({ "dataframe_split": split })
        }),
        oip_matrix(),
        (
            prop::collection::vec(tensor(), 0..5),
            prop::option::of(outputs),
            prop::option::of(leaf())
        )
            .prop_map(|(inputs, outputs, id)| {
                let mut body = json!({ "inputs": inputs });
                if let Some(outputs) = outputs {
                    body["outputs"] = json!(outputs);
                }
                if let Some(id) = id {
                    body["id"] = id;
                }
                body
            }),
        any_json(),
    ]
}

/// Bodies that some parser accepts, to be broken by byte edits.
fn valid_bodies() -> Vec<String> {
    let named =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2});
    vec![
        named.to_string(),
        json!({"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}).to_string(),
        json!({"instances": [named, [6.7, 3.0, 5.2, 2.3]]}).to_string(),
        json!({"dataframe_split": {"columns": FEATURE_NAMES, "data": [[5.1, 3.5, 1.4, 0.2]], "index": [0]}}).to_string(),
        json!({"inputs": {"sepal_length": [5.1], "sepal_width": [3.5], "petal_length": [1.4], "petal_width": [0.2]}}).to_string(),
        json!({"id": "1", "inputs": [{"name": "input", "shape": [2, 4], "datatype": "INT8", "data": [5, 3, 1, 0, 6, 3, 5, 2]}], "outputs": [{"name": "label"}]}).to_string(),
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n".into(),
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn apply(body: &str, edits: &[Edit]) -> Vec<u8> {
    let mut bytes = body.as_bytes().to_vec();
    for edit in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match *edit {
            Edit::Replace(i, b) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes[i] = b;
            }
            Edit::Insert(i, b) => bytes.insert(at(i, bytes.len() + 1), b),
            Edit::Delete(i) if !bytes.is_empty() => {
                bytes.remove(at(i, bytes.len()));
            }
            _ => {}
        }
    }
    bytes
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        select(b"{}[],:\"0123456789.-eE \\ntfn".to_vec()),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

/// The range of an integer datatype, computed apart from the code under test.
fn integer_range(datatype: &str) -> Option<(i128, i128)> {
    let bits = |s: &str| s.parse::<u32>().ok();
    if let Some(n) = datatype.strip_prefix("UINT").and_then(bits) {
        return Some((0, (1i128 << n) - 1));
    }
    let n = datatype.strip_prefix("INT").and_then(bits)?;
    Some((-(1i128 << (n - 1)), (1i128 << (n - 1)) - 1))
}

proptest! {
    #[test]
    fn any_bytes_give_rows_or_a_4xx(body in prop::collection::vec(any::<u8>(), 0..256), max_rows in 1usize..20) {
        check(&body, max_rows)?;
    }

    #[test]
    fn request_like_json_gives_rows_or_a_4xx(body in body_like_a_request(), max_rows in 1usize..8) {
        check(body.to_string().as_bytes(), max_rows)?;
    }

    #[test]
    fn broken_valid_bodies_give_rows_or_a_4xx(which in 0usize..7, edits in prop::collection::vec(edit(), 0..6), max_rows in 1usize..4) {
        let body = apply(&valid_bodies()[which], &edits);
        let accepted = check(&body, max_rows)?;
        // Untouched, every one of them is accepted by one parser at least.
        if edits.is_empty() && max_rows >= 2 {
            prop_assert!(accepted >= 1);
        }
    }

    #[test]
    fn a_repeated_key_is_refused(body in body_like_a_request(), pick in any::<usize>()) {
        let Value::Object(fields) = &body else { return Ok(()) };
        let Some(key) = fields.keys().nth(pick % fields.len().max(1)) else { return Ok(()) };
        let text = body.to_string();
        let repeated = format!("{{{}:0,{}", Value::String(key.clone()), &text[1..]);
        for (parser, result) in every_parser(repeated.as_bytes(), 10) {
            if parser == "/invocations csv" {
                continue;
            }
            let e = result.expect_err("a repeated key is accepted");
            prop_assert!(e.status == 400 && e.message.contains("duplicate key"), "{parser}: {e}");
        }
    }

    #[test]
    fn oip_shapes_must_hold_the_data_exactly(
        shape in prop::collection::vec(prop_oneof![0u64..6, Just(4), select(vec![1u64 << 32, (1 << 32) + 1, (1 << 30) + 1, u64::MAX])], 1..4),
        sent in 0usize..24,
        as_if_wrapped in any::<bool>(),
        max_rows in 1usize..8,
    ) {
        // What a 32-bit product of the shape would claim: the data a wrapping parser
        // would accept.
        let wrapped = shape.iter().fold(1u32, |n, d| n.wrapping_mul(*d as u32)) as usize;
        let values = if as_if_wrapped { wrapped.min(64) } else { sent };
        let body = json!({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32", "data": vec![1.5; values]}]});
        let result = oip::parse_infer(&body, max_rows);
        let fits = matches!(shape.as_slice(), [n, 4] if *n >= 1 && *n <= max_rows as u64 && n * 4 == values as u64);
        match result {
            Ok(request) => {
                prop_assert!(fits, "accepted shape {shape:?} with {values} values");
                prop_assert_eq!(request.rows.len() as u64, shape[0]);
            }
            Err(e) => {
                prop_assert!(!fits, "refused shape {shape:?} with {values} values: {e}");
                prop_assert_eq!(e.status, 400);
            }
        }
    }

    #[test]
    fn oip_data_is_in_its_datatype_range(datatype in select(DATATYPES), value in number()) {
        let data = vec![value.clone(); 4];
        let body = json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": datatype, "data": data}]});
        let accepted = oip::parse_infer(&body, 10).is_ok();
        let expected = match integer_range(datatype) {
            Some((min, max)) => {
                let int = value.as_i64().map(i128::from).or(value.as_u64().map(i128::from));
                int.is_some_and(|v| (min..=max).contains(&v))
            }
            None => {
                let f = value.as_f64().unwrap_or(f64::NAN);
                match datatype {
                    "FP16" => f.abs() <= 65504.0,
                    "FP32" | "FP64" => (f as f32).is_finite(),
                    _ => false,
                }
            }
        };
        prop_assert_eq!(accepted, expected, "{} {}", datatype, value);
    }
}

/// The generators reach the accepting paths too, not only the refusals: otherwise
/// the properties above would say little about what is accepted.
#[test]
fn the_generated_bodies_are_often_accepted() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = body_like_a_request();
    let mut accepted = std::collections::BTreeMap::new();
    for _ in 0..2000 {
        let body = strategy
            .new_tree(&mut runner)
            .unwrap()
            .current()
            .to_string();
        for (parser, result) in every_parser(body.as_bytes(), 8) {
            *accepted.entry(parser).or_insert(0) += usize::from(result.is_ok());
        }
    }
    for parser in ["/predict", "/invocations json", "oip"] {
        assert!(accepted[parser] >= 40, "{accepted:?}");
    }
}
