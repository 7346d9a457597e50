//! Reading a parsed JSON answer (`serde_json::Value`) into a typed `mlflow-wire`
//! struct.
//!
//! serde_json's own deserializers compile its whole parsing path (both the map and the
//! array form of a struct, position tracking...) once per struct type; this one walks
//! the already-parsed value and only ever calls `visit_map` for a struct, so each type
//! costs little code. That matters in iris-api's component, whose size is watched.

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, Expected, MapAccess, SeqAccess,
    Unexpected, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::Value;
use std::fmt;

/// `T` from a parsed JSON value; unknown fields are ignored.
pub(crate) fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, DecodeError> {
    T::deserialize(ValueRef(value))
}

/// Why a value does not have the expected shape.
#[derive(Debug)]
pub(crate) struct DecodeError(String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        Self(message.to_string())
    }
}

struct ValueRef<'v>(&'v Value);

impl ValueRef<'_> {
    fn unexpected(&self) -> Unexpected<'_> {
        match self.0 {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(_) => Unexpected::Other("a number"),
            Value::String(s) => Unexpected::Str(s),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
        }
    }

    /// Not generic over the visitor: one copy for every type read.
    fn wrong_type(&self, expected: &dyn Expected) -> DecodeError {
        de::Error::invalid_type(self.unexpected(), expected)
    }
}

impl<'de> Deserializer<'de> for ValueRef<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (_, Some(i), _) => visitor.visit_i64(i),
                (_, _, f) => visitor.visit_f64(f.unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            Value::Object(map) => visitor.visit_map(Entries {
                entries: map.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Entries {
                entries: map.iter(),
                value: None,
            }),
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::String(s) => visitor.visit_str(s),
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Bool(b) => visitor.visit_bool(*b),
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct tuple tuple_struct enum
    }
}

struct Items<'v>(std::slice::Iter<'v, Value>);

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        self.0
            .next()
            .map(|item| seed.deserialize(ValueRef(item)))
            .transpose()
    }
}

struct Entries<'v> {
    entries: serde_json::map::Iter<'v>,
    value: Option<&'v Value>,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(KeyRef(key)).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, DecodeError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value without a key"))?;
        seed.deserialize(ValueRef(value))
    }
}

/// An object's key: a field name.
struct KeyRef<'k>(&'k str);

impl<'de> Deserializer<'de> for KeyRef<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_str(self.0)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlflow_wire::registry::ModelVersionResponse;
    use mlflow_wire::tracking::{ListArtifactsResponse, RunResponse};

    fn value(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn wire_structs_read_from_values() {
        let v: ModelVersionResponse = from_value(&value(
            r#"{"model_version":{"name":"iris","version":"3","creation_timestamp":"12","tags":[{"key":"k","value":"v"}],"extra":{"x":[1]}}}"#,
        ))
        .unwrap();
        assert_eq!(v.model_version.version, "3");
        assert_eq!(v.model_version.creation_timestamp, Some(12));
        assert_eq!(v.model_version.tags[0].value.as_deref(), Some("v"));
        let l: ListArtifactsResponse = from_value(&value(
            r#"{"files":[{"path":"a","is_dir":true},{"path":"b","file_size":5}]}"#,
        ))
        .unwrap();
        assert_eq!((l.files[0].is_dir, l.files[1].file_size), (true, Some(5)));
        let r: RunResponse = from_value(&value(
            r#"{"run":{"info":{"run_id":"r","run_uuid":"r","run_name":"n","experiment_id":"1","status":"FINISHED","artifact_uri":"a","lifecycle_stage":"active","start_time":1},"data":{"metrics":[{"key":"m","value":"NaN","timestamp":1,"step":0}]}}}"#,
        ))
        .unwrap();
        assert!(r.run.data.metrics[0].value.is_nan());
    }

    #[test]
    fn wrong_shapes_are_errors() {
        assert!(from_value::<ModelVersionResponse>(&value(r#"{"model_version":[]}"#)).is_err());
        assert!(from_value::<ModelVersionResponse>(&value(r#"{}"#)).is_err());
        assert!(from_value::<ListArtifactsResponse>(&value(r#"{"files":{"path":1}}"#)).is_err());
    }
}
