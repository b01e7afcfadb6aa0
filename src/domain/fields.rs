//! What every request field must be before any field is looked at: never `null`
//! (a client leaves out what it does not send), and never holding text PostgreSQL cannot store
//! (U+0000, anywhere inside the value). Both HTTP bodies and WebSocket frames go through
//! `check`, so a NUL byte is a field error naming the field, never a database error.
//!
//! The fields are the request type's own, read from its `Deserialize` impl (`fields_of`):
//! fields the type does not have are ignored, as serde ignores them.

use serde::Deserialize;
use serde::de::{self, Visitor};
use serde_json::{Map, Value};

use super::FieldErrors;

/// Why a field value is refused, in the words the client sees.
pub const NULL: &str = "must not be null (leave the field out instead)";
pub const NUL_CHAR: &str = "must not contain NUL characters";

/// Checks the fields of a JSON object that `T` will be built from.
pub fn check<'de, T: Deserialize<'de>>(object: &Map<String, Value>) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    for name in fields_of::<T>() {
        match object.get(*name) {
            Some(Value::Null) => {
                errors.insert(name, NULL.into());
            }
            Some(value) if holds_nul(value) => {
                errors.insert(name, NUL_CHAR.into());
            }
            _ => {}
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// The field names of a struct that derives `Deserialize` (as serde names them, renames
/// included); empty for anything that is not a plain struct.
pub fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut capture = FieldCapture(&[]);
    let _ = T::deserialize(&mut capture);
    capture.0
}

/// A deserializer that only records the field list a struct asks for, then stops.
struct FieldCapture(&'static [&'static str]);

impl<'de> de::Deserializer<'de> for &mut FieldCapture {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("fields captured"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Body {
        username: Option<String>,
        #[serde(rename = "chatroomId")]
        room: Option<i64>,
        tags: Option<Vec<String>>,
    }

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_fields_are_the_structs_own_with_renames() {
        assert_eq!(fields_of::<Body>(), ["username", "chatroomId", "tags"]);
        assert!(fields_of::<String>().is_empty());
    }

    #[test]
    fn null_and_nul_are_refused_naming_the_field() {
        let errors = check::<Body>(&object(json!({
            "username": "a\u{0}b", "chatroomId": null, "tags": ["ok", "x\u{0}"]
        })))
        .unwrap_err();
        assert_eq!(errors.get("username").map(String::as_str), Some(NUL_CHAR));
        assert_eq!(errors.get("chatroomId").map(String::as_str), Some(NULL));
        assert_eq!(errors.get("tags").map(String::as_str), Some(NUL_CHAR));
    }

    #[test]
    fn absent_fields_and_fields_the_struct_does_not_have_are_left_alone() {
        assert!(check::<Body>(&object(json!({"other": null, "x": "\u{0}"}))).is_ok());
        assert!(check::<Body>(&object(json!({"username": "alice", "chatroomId": 3}))).is_ok());
    }
}
