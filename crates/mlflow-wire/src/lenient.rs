//! Serde helpers for MLflow's proto-JSON conventions.
//!
//! The same request types are filled from JSON bodies (POST) and from query strings
//! (GET, where every value is a string and a repeated key becomes a list), so the
//! deserializers here accept both spellings: `5` or `"5"`, `true` or `"true"`,
//! `"a"` or `["a", "b"]`. Doubles follow proto3 JSON: NaN and infinities travel as the
//! strings `"NaN"`, `"Infinity"` and `"-Infinity"`.

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::Deserialize;
use serde_json::Value;

fn type_error<E: de::Error>(what: &str, got: &Value) -> E {
    E::custom(format!("expected {what}, got {got}"))
}

/// An int64 as protobuf's JSON parser reads it: an integral number (`5`, `5.0`,
/// `"5"`) within the int64 range. A value out of range is refused, as protobuf refuses
/// it ("Value out of range"), never clamped (`1e300 as i64` would be i64::MAX).
fn value_to_i64<E: de::Error>(v: &Value) -> Result<i64, E> {
    // 2^63 is exact in f64, and every integral f64 strictly between -2^63 and 2^63
    // converts exactly. -2^63 itself is excluded: integer literals below i64::MIN (which
    // serde_json reads as doubles) round to it; i64::MIN written as an integer is an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let out_of_range = || E::custom(format!("int64 value out of range: {v}"));
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Ok(i),
            (None, Some(_), _) => Err(out_of_range()),
            (None, None, Some(f)) if f.fract() != 0.0 || !f.is_finite() => {
                Err(type_error("an integer", v))
            }
            (None, None, Some(f)) if f > -LIMIT && f < LIMIT => Ok(f as i64),
            _ => Err(out_of_range()),
        },
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => Ok(i),
            Err(e)
                if matches!(
                    e.kind(),
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
                ) =>
            {
                Err(out_of_range())
            }
            Err(_) => Err(type_error("an integer", v)),
        },
        _ => Err(type_error("an integer", v)),
    }
}

/// `Option<i64>` from a number, a decimal string or null.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => value_to_i64(&v).map(Some),
    }
}

/// `Option<bool>` from a bool or the strings `true`/`false`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(type_error("true or false", &v)),
    }
}

/// `Option<String>` from a string, or from a number/bool written without quotes.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(v) => Err(type_error("a string", &v)),
    }
}

/// `String` from a string or a number written without quotes (a version number that
/// some servers send as `3`); null or absent is the empty string.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_string(d).map(Option::unwrap_or_default)
}

/// `Vec<String>` from a list of strings or a single string (one query-string value).
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    fn one<E: de::Error>(v: Value) -> Result<String, E> {
        match v {
            Value::String(s) => Ok(s),
            Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
            other => Err(type_error("a string", &other)),
        }
    }
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.into_iter().map(one).collect(),
        Some(v) => Ok(vec![one(v)?]),
    }
}

/// Parses a proto3 JSON double: a number, a numeric string, `NaN`, `Infinity`, `-Infinity`.
pub fn parse_double(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.trim() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        _ => None,
    }
}

/// `Option<f64>` in proto3 JSON form (see [`parse_double`]). Booleans are refused,
/// as MLflow refuses them for metric values.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_double(&v)
            .map(Some)
            .ok_or_else(|| type_error("a number", &v)),
    }
}

/// Writes a double as proto3 JSON does: finite values as numbers, the rest as strings.
pub fn ser_f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if *v == f64::INFINITY {
        s.serialize_str("Infinity")
    } else if *v == f64::NEG_INFINITY {
        s.serialize_str("-Infinity")
    } else {
        s.serialize_f64(*v)
    }
}

/// [`ser_f64`] for optional doubles (`None` is skipped by the field attribute).
pub fn ser_opt_f64<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => ser_f64(v, s),
        None => s.serialize_none(),
    }
}

/// Deserializes a required double in proto3 form.
pub fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = Value::deserialize(d)?;
    parse_double(&v).ok_or_else(|| type_error("a number", &v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "opt_i64")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "opt_bool")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "string_list")]
        l: Vec<String>,
        #[serde(default, deserialize_with = "opt_f64")]
        f: Option<f64>,
    }

    fn probe(json: &str) -> Result<Probe, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn accepts_query_string_spellings() {
        let p = probe(r#"{"n":"42","b":"true","l":"x","f":"NaN"}"#).unwrap();
        assert_eq!(p.n, Some(42));
        assert_eq!(p.b, Some(true));
        assert_eq!(p.l, vec!["x"]);
        assert!(p.f.unwrap().is_nan());
        let p = probe(r#"{"n":7,"b":false,"l":["a","b"],"f":"-Infinity"}"#).unwrap();
        assert_eq!((p.n, p.b, p.l.len()), (Some(7), Some(false), 2));
        assert_eq!(p.f, Some(f64::NEG_INFINITY));
    }

    #[test]
    fn rejects_wrong_types() {
        assert!(probe(r#"{"n":"abc"}"#).is_err());
        assert!(probe(r#"{"n":1.5}"#).is_err());
        assert!(probe(r#"{"b":"yes"}"#).is_err());
        assert!(probe(r#"{"f":true}"#).is_err());
        assert!(probe(r#"{"l":[{}]}"#).is_err());
    }

    #[test]
    fn int64_out_of_range_is_refused_not_clamped() {
        for bad in [
            r#"{"n":1e300}"#,
            r#"{"n":9223372036854775808}"#,
            r#"{"n":18446744073709551615}"#,
            r#"{"n":-9.3e18}"#,
            r#"{"n":"9223372036854775808"}"#,
        ] {
            let e = probe(bad).err().expect("refused").to_string();
            assert!(e.contains("out of range"), "{bad}: {e}");
        }
        assert_eq!(
            probe(r#"{"n":9223372036854775807}"#).unwrap().n,
            Some(i64::MAX)
        );
        assert_eq!(
            probe(r#"{"n":-9223372036854775808}"#).unwrap().n,
            Some(i64::MIN)
        );
        assert_eq!(
            probe(r#"{"n":9.2e18}"#).unwrap().n,
            Some(9_200_000_000_000_000_000)
        );
        assert!(probe(r#"{"n":-9223372036854775809}"#).is_err());
    }

    #[test]
    fn writes_special_doubles_as_strings() {
        #[derive(serde::Serialize)]
        struct D(#[serde(serialize_with = "ser_f64")] f64);
        assert_eq!(serde_json::to_string(&D(f64::NAN)).unwrap(), "\"NaN\"");
        assert_eq!(
            serde_json::to_string(&D(f64::INFINITY)).unwrap(),
            "\"Infinity\""
        );
        assert_eq!(serde_json::to_string(&D(1.5)).unwrap(), "1.5");
    }
}
