//! The datatypes of Open Inference Protocol input tensors, and the values each holds.
//!
//! The model takes float32 features, but a tensor's datatype is a promise about its
//! data: INT8 data holding 300, or UINT8 data holding -1 or 2.5, is a wrong request,
//! not something to convert silently. Integers must be JSON integers in the
//! datatype's range; FP16 values must be finite and within ±65504; FP32 and FP64
//! values must fit the model's float32 input. BOOL and BYTES hold no measurements.

use crate::error::ApiError;
use crate::input;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Datatype {
    /// A signed integer type with its bounds.
    Int {
        name: &'static str,
        min: i64,
        max: i64,
    },
    /// An unsigned integer type with its upper bound.
    Uint {
        name: &'static str,
        max: u64,
    },
    Fp16,
    Fp32,
    Fp64,
}

/// Largest finite IEEE half-precision value.
const FP16_MAX: f64 = 65504.0;

impl Datatype {
    /// The datatype named `name`, if it can carry the model's features.
    pub fn parse(name: &str, input_name: &str) -> Result<Self, ApiError> {
        let int = |name, min, max| Self::Int { name, min, max };
        let uint = |name, max| Self::Uint { name, max };
        Ok(match name {
            "INT8" => int("INT8", i8::MIN.into(), i8::MAX.into()),
            "INT16" => int("INT16", i16::MIN.into(), i16::MAX.into()),
            "INT32" => int("INT32", i32::MIN.into(), i32::MAX.into()),
            "INT64" => int("INT64", i64::MIN, i64::MAX),
            "UINT8" => uint("UINT8", u8::MAX.into()),
            "UINT16" => uint("UINT16", u16::MAX.into()),
            "UINT32" => uint("UINT32", u32::MAX.into()),
            "UINT64" => uint("UINT64", u64::MAX),
            "FP16" => Self::Fp16,
            "FP32" => Self::Fp32,
            "FP64" => Self::Fp64,
            other => {
                return Err(ApiError::bad_request(format!(
                    "input {input_name:?} has datatype {other:?}; the features are numbers: \
                     use FP32 (or FP16, FP64, INT8..INT64, UINT8..UINT64)"
                )))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Int { name, .. } | Self::Uint { name, .. } => name,
            Self::Fp16 => "FP16",
            Self::Fp32 => "FP32",
            Self::Fp64 => "FP64",
        }
    }

    /// One element of the tensor's data as the model's float32, checked against the
    /// datatype; `what` names the element for messages.
    pub fn value(self, value: &Value, what: impl Fn() -> String) -> Result<f32, ApiError> {
        let out_of_range = || {
            ApiError::bad_request(format!(
                "{} is {value}, out of the range of datatype {}",
                what(),
                self.name()
            ))
        };
        let not_integer = || {
            ApiError::bad_request(format!(
                "{} must be an integer for datatype {}, got {}",
                what(),
                self.name(),
                short(value)
            ))
        };
        match self {
            Self::Int { min, max, .. } => match value {
                Value::Number(n) if n.is_i64() => {
                    let v = n.as_i64().expect("is_i64");
                    if (min..=max).contains(&v) {
                        Ok(v as f32)
                    } else {
                        Err(out_of_range())
                    }
                }
                // Past i64::MAX: an integer, but not of this type.
                Value::Number(n) if n.is_u64() => Err(out_of_range()),
                _ => Err(not_integer()),
            },
            Self::Uint { max, .. } => match value {
                Value::Number(n) if n.is_u64() => {
                    let v = n.as_u64().expect("is_u64");
                    if v <= max {
                        Ok(v as f32)
                    } else {
                        Err(out_of_range())
                    }
                }
                // Negative integers.
                Value::Number(n) if n.is_i64() => Err(out_of_range()),
                _ => Err(not_integer()),
            },
            Self::Fp16 => {
                let v = input::number(value, &what)?;
                if f64::from(v).abs() <= FP16_MAX {
                    Ok(v)
                } else {
                    Err(out_of_range())
                }
            }
            // FP64 values are checked against the model's float32 input by `number`.
            Self::Fp32 | Self::Fp64 => input::number(value, what),
        }
    }
}

/// A value for a message, without echoing a whole list or object back.
fn short(value: &Value) -> String {
    match value {
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        Value::String(s) if s.len() > 40 => "a string".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(datatype: &str, value: Value) -> Result<f32, String> {
        Datatype::parse(datatype, "input")
            .and_then(|d| d.value(&value, || "value 0".into()))
            .map_err(|e| {
                assert_eq!(e.status, 400);
                e.message
            })
    }

    #[test]
    fn integers_are_checked_against_their_type() {
        assert_eq!(check("INT8", json!(127)), Ok(127.0));
        assert_eq!(check("INT8", json!(-128)), Ok(-128.0));
        assert!(check("INT8", json!(300))
            .unwrap_err()
            .contains("out of the range of datatype INT8"));
        assert!(check("INT8", json!(-129)).is_err());
        assert!(check("INT16", json!(32768)).is_err());
        assert!(check("INT32", json!(2147483648u64)).is_err());
        assert_eq!(check("INT64", json!(i64::MIN)), Ok(i64::MIN as f32));
        assert!(check("INT64", json!(u64::MAX))
            .unwrap_err()
            .contains("out of the range"));
        assert_eq!(check("UINT8", json!(255)), Ok(255.0));
        assert!(check("UINT8", json!(256)).is_err());
        assert!(check("UINT8", json!(-1))
            .unwrap_err()
            .contains("out of the range of datatype UINT8"));
        assert!(check("UINT16", json!(65536)).is_err());
        assert!(check("UINT32", json!(4294967296u64)).is_err());
        assert_eq!(check("UINT64", json!(u64::MAX)), Ok(u64::MAX as f32));
        assert!(check("INT32", json!(2.5))
            .unwrap_err()
            .contains("must be an integer"));
        assert!(check("UINT8", json!(1.0))
            .unwrap_err()
            .contains("must be an integer"));
        assert!(check("INT8", json!("1"))
            .unwrap_err()
            .contains("must be an integer"));
        assert!(check("INT8", json!(true)).is_err());
    }

    #[test]
    fn floats_are_checked_against_their_type_and_the_model_input() {
        assert_eq!(check("FP16", json!(65504.0)), Ok(65504.0));
        assert!(check("FP16", json!(65505.0)).unwrap_err().contains("FP16"));
        assert!(check("FP16", json!(-1e6)).is_err());
        assert_eq!(check("FP32", json!(5)), Ok(5.0));
        assert!(check("FP32", json!(1e39))
            .unwrap_err()
            .contains("out of range"));
        assert!(check("FP64", json!(1e300))
            .unwrap_err()
            .contains("out of range"));
        assert!(check("FP32", json!(null))
            .unwrap_err()
            .contains("must be a number"));
        assert!(check("FP64", json!(false)).is_err());
    }

    #[test]
    fn only_numeric_datatypes_carry_features() {
        for name in ["BOOL", "BYTES", "BF16", "fp32", ""] {
            assert!(
                check(name, json!(1)).unwrap_err().contains("datatype"),
                "{name}"
            );
        }
    }
}
