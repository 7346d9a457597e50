//! JSON request bodies, read in one serde pass that refuses what `serde_json` alone
//! lets through:
//!
//! - a key given twice in one object (serde_json keeps the last one silently, so
//!   `{"petal_width": 0.2, "petal_width": 9}` would predict with 9);
//! - more values than a request of `max_batch_rows` rows can need. The body size
//!   limit alone does not bound the memory of the parsed tree: a one-field object
//!   is 7 bytes of JSON but a whole map node, many times that. Counting values as
//!   they are read refuses such a body before its tree is built
//!   (`tests/python/test_reliability_predict.py` checks the host's peak memory).
//!
//! Nesting depth stays bounded by serde_json's recursion limit (128).

use crate::error::ApiError;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::cell::Cell;
use std::fmt;

/// Values (numbers, strings, lists, objects...) allowed per accepted row, and for
/// everything around the rows. The largest legitimate form is four OIP column
/// tensors of shape `[N, 1]`: 8 values per row.
const VALUES_PER_ROW: usize = 10;
const VALUES_AROUND_ROWS: usize = 1024;

/// How many JSON values a body may hold when a request takes at most `max_rows` rows.
pub fn value_limit(max_rows: usize) -> usize {
    max_rows
        .saturating_mul(VALUES_PER_ROW)
        .saturating_add(VALUES_AROUND_ROWS)
}

/// Parses a JSON body of at most [`value_limit`]`(max_rows)` values with no repeated
/// key. JSON has no NaN or infinity; a body that tries to send them (as Python's
/// `json.dumps` does) gets a message saying so rather than a parse error.
pub fn parse(body: &[u8], max_rows: usize) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "request body is empty; send a JSON object",
        ));
    }
    let limit = value_limit(max_rows);
    let values_left = Cell::new(limit);
    let mut reader = serde_json::Deserializer::from_slice(body);
    let value = Strict {
        values_left: &values_left,
        limit,
    }
    .deserialize(&mut reader)
    .and_then(|v| reader.end().map(|()| v));
    value.map_err(|e| explain(body, &e))
}

fn explain(body: &[u8], e: &serde_json::Error) -> ApiError {
    let text = e.to_string();
    // Our own refusals (repeated key, too many values) already say what is wrong.
    if e.is_data() {
        return ApiError::bad_request(text);
    }
    if text.contains("recursion limit exceeded") {
        return ApiError::bad_request(format!(
            "the JSON body is nested too deeply (at most 127 levels): {text}"
        ));
    }
    let lossy = String::from_utf8_lossy(body);
    if ["NaN", "Infinity"].iter().any(|t| lossy.contains(t)) {
        ApiError::bad_request(
            "features must be finite numbers: NaN and infinities are not accepted",
        )
    } else if text.contains("number out of range") {
        ApiError::bad_request(format!("a number is out of range: {text}"))
    } else {
        ApiError::bad_request(format!("body is not valid JSON: {text}"))
    }
}

/// Builds a `serde_json::Value` like its own `Deserialize` does, counting values and
/// refusing a repeated key.
#[derive(Clone, Copy)]
struct Strict<'a> {
    values_left: &'a Cell<usize>,
    /// The value limit, for the message.
    limit: usize,
}

impl Strict<'_> {
    fn count<E: de::Error>(self) -> Result<(), E> {
        match self.values_left.get().checked_sub(1) {
            Some(left) => {
                self.values_left.set(left);
                Ok(())
            }
            None => Err(E::custom(format_args!(
                "the JSON body holds more values (numbers, strings, lists, objects) than \
                 a request may: at most {}, {VALUES_PER_ROW} per row of max_batch_rows \
                 plus {VALUES_AROUND_ROWS}",
                self.limit
            ))),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.count()?;
        // JSON text has no non-finite numbers: serde_json refuses them before here.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.count()?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.count()?;
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.count()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.count()?;
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match fields.entry(key) {
                Entry::Occupied(taken) => {
                    return Err(de::Error::custom(format!(
                        "duplicate key {:?} in a JSON object: each field may appear once",
                        taken.key()
                    )))
                }
                Entry::Vacant(slot) => {
                    slot.insert(map.next_value_seed(self)?);
                }
            }
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> String {
        parse(body.as_bytes(), 1000).unwrap_err().message
    }

    #[test]
    fn same_tree_as_serde_json() {
        let body = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        let ours = parse(body.as_bytes(), 10).unwrap();
        assert_eq!(ours, serde_json::from_str::<Value>(body).unwrap());
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        let m = message(r#"{"sepal_length": 1, "sepal_length": 2}"#);
        assert!(m.contains("duplicate key \"sepal_length\""), "{m}");
        let m = message(r#"{"instances": [{"a": 1, "b": 2, "a": 3}]}"#);
        assert!(m.contains("duplicate key \"a\""), "{m}");
        // The same key in two objects is fine.
        assert!(parse(br#"[{"a": 1}, {"a": 2}]"#, 10).is_ok());
    }

    #[test]
    fn the_number_of_values_is_bounded_by_the_rows() {
        assert_eq!(value_limit(1000), 11_024);
        let at_limit = format!("[{}]", vec!["0"; value_limit(1) - 1].join(","));
        assert!(parse(at_limit.as_bytes(), 1).is_ok());
        let over = format!("[{}]", vec!["0"; value_limit(1)].join(","));
        let e = parse(over.as_bytes(), 1).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("more values"), "{}", e.message);
        assert!(
            e.message.contains("at most 1034, 10 per row"),
            "{}",
            e.message
        );
        assert_eq!(value_limit(usize::MAX), usize::MAX);
    }

    #[test]
    fn malformed_bodies_are_explained() {
        assert!(message(r#"{"features": [[NaN, 1, 2, 3]]}"#).contains("NaN"));
        assert!(message("{").contains("not valid JSON"));
        assert!(message("  ").contains("empty"));
        assert!(message("{} {}").contains("not valid JSON"));
        assert!(message("[1e999]").contains("out of range"));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(message(&deep).contains("nested too deeply"));
    }
}
