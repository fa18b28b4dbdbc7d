//! JSON between protobuf (`google.protobuf.Value`/`Struct`, what grpcurl users type) and serde_json
//! (what is stored as `portable_json` text).

use prost_types::{value::Kind, ListValue, Struct, Value};
use serde::Deserialize;
use serde_json::{Map, Number, Value as Json};

use crate::error::{Error, Result};

/// Integral doubles up to this magnitude are written as integers (`2`, not `2.0`), as JavaScript does;
/// beyond it a double cannot hold every integer, so exact big numbers must come as JSON text.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The deepest nesting accepted in a JSON payload, so hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// The deepest JSON rendered as a `google.protobuf.Value` in responses. Each JSON level is two
/// protobuf messages (Value, then ListValue or Struct), and protobuf decoders stop at 100 nested
/// messages (prost, C++, Java), so deeper JSON is given as text only or clients could not decode it.
pub const MAX_VALUE_DEPTH: usize = 40;

/// Converts a protobuf Value to JSON; `field` names the request field in errors.
pub fn to_json(value: &Value, field: &str) -> Result<Json> {
    to_json_at(value, field, 0)
}

fn to_json_at(value: &Value, field: &str, depth: usize) -> Result<Json> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid(
            field,
            format!("JSON nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    Ok(match &value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::NumberValue(n)) => Json::Number(number(*n, field)?),
        Some(Kind::ListValue(list)) => Json::Array(
            list.values
                .iter()
                .map(|v| to_json_at(v, field, depth + 1))
                .collect::<Result<_>>()?,
        ),
        Some(Kind::StructValue(s)) => Json::Object(struct_to_map_at(s, field, depth + 1)?),
    })
}

/// Converts a protobuf Struct to a JSON object.
pub fn struct_to_map(s: &Struct, field: &str) -> Result<Map<String, Json>> {
    struct_to_map_at(s, field, 0)
}

fn struct_to_map_at(s: &Struct, field: &str, depth: usize) -> Result<Map<String, Json>> {
    // Sorted keys: protobuf maps have no order, so make the stored text deterministic.
    let mut keys: Vec<&String> = s.fields.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| Ok((k.clone(), to_json_at(&s.fields[k], field, depth)?)))
        .collect()
}

fn number(n: f64, field: &str) -> Result<Number> {
    if n.is_finite() && n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        return Ok(Number::from(n as i64));
    }
    Number::from_f64(n)
        .ok_or_else(|| Error::invalid(field, "NaN and infinite numbers are not JSON"))
}

/// Converts JSON to a protobuf Value (numbers become doubles; the exact text travels alongside).
pub fn from_json(json: &Json) -> Value {
    let kind = match json {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(
            n.as_f64()
                .unwrap_or_else(|| n.to_string().parse::<f64>().unwrap_or(f64::NAN)),
        ),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(from_json).collect(),
        }),
        Json::Object(map) => Kind::StructValue(map_to_struct(map)),
    };
    Value { kind: Some(kind) }
}

/// Converts a JSON object to a protobuf Struct.
pub fn map_to_struct(map: &Map<String, Json>) -> Struct {
    Struct {
        fields: map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect(),
    }
}

/// Parses JSON text from a request field, with the depth limit.
pub fn parse_text(text: &str, field: &str) -> Result<Json> {
    let mut de = serde_json::Deserializer::from_str(text);
    // serde_json's own recursion limit (128) guards the stack while parsing.
    let value = Json::deserialize(&mut de)
        .map_err(|e| Error::invalid(field, format!("not valid JSON: {e}")))?;
    de.end()
        .map_err(|e| Error::invalid(field, format!("not valid JSON: {e}")))?;
    if depth(&value) > MAX_DEPTH {
        return Err(Error::invalid(
            field,
            format!("JSON nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    Ok(value)
}

/// How deeply arrays and objects nest in `value` (0 for a scalar).
pub fn depth(value: &Json) -> usize {
    match value {
        Json::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Json::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_doubles_become_integers() {
        let v = Value {
            kind: Some(Kind::NumberValue(2.0)),
        };
        assert_eq!(to_json(&v, "f").unwrap().to_string(), "2");
        let v = Value {
            kind: Some(Kind::NumberValue(2.5)),
        };
        assert_eq!(to_json(&v, "f").unwrap().to_string(), "2.5");
        let v = Value {
            kind: Some(Kind::NumberValue(f64::NAN)),
        };
        assert!(to_json(&v, "f").is_err());
    }

    #[test]
    fn big_integers_in_text_stay_exact() {
        let json = parse_text("[12345678901234567890123]", "f").unwrap();
        assert_eq!(json.to_string(), "[12345678901234567890123]");
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let text = "[".repeat(200) + &"]".repeat(200);
        assert!(parse_text(&text, "f").is_err());
    }
}
