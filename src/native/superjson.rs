//! TypeScript DBOS's native format: `superjson.serialize(value)` as JSON, plus the marker
//! `"__dbos_serializer":"superjson"` (DBOS 5.x refuses unmarked text). superjson keeps plain JSON in
//! `json` and adds `meta` only for values JSON lacks (dates, maps, undefined, shared references).
//! dbosd writes plain JSON and typed values (`Date`, `bigint`, NaN/Infinity/-0, `Uint8Array`);
//! reading goes through `superjson_check`.

use serde_json::{json, Map, Number, Value as Json};

use super::{pickle_vm::Refusal, superjson_check, typed::Typed};
use crate::error::{Error, Result};

/// The largest integer a JavaScript number holds exactly; beyond it dbosd writes a bigint.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

const MARKER_KEY: &str = "__dbos_serializer";
const MARKER: &str = "superjson";

/// Whether `text` is marked superjson.
pub fn is_superjson(text: &str) -> bool {
    parse(text).is_some()
}

/// The top-level object of marked superjson of at most `pickle_vm::MAX_BYTES` (the checkers'
/// size limit), if `text` is one.
fn parse(text: &str) -> Option<Map<String, Json>> {
    if text.len() > super::pickle_vm::MAX_BYTES {
        return None;
    }
    match serde_json::from_str::<Json>(text).ok()? {
        Json::Object(map)
            if map.get(MARKER_KEY).and_then(Json::as_str) == Some(MARKER)
                && map.contains_key("json") =>
        {
            Some(map)
        }
        _ => None,
    }
}

/// A plain JSON value as TypeScript DBOS writes it.
pub fn encode(value: &Json) -> String {
    json!({ "json": value, MARKER_KEY: MARKER }).to_string()
}

/// The JSON value of marked superjson without `meta` (so nothing JSON cannot express).
pub fn decode_plain(text: &str) -> Option<Json> {
    let mut map = parse(text)?;
    if map.contains_key("meta") {
        return None;
    }
    map.remove("json")
}

/// The typed value of marked superjson that passes `superjson_check`; None for anything else.
pub fn decode_typed(text: &str) -> Option<Typed> {
    superjson_check::typed(&superjson_check::check(text).ok()?)
}

/// Marked superjson of a typed value, as `superjson.serialize` writes it; a value TypeScript cannot
/// hold is INVALID_ARGUMENT naming its path under `field`.
pub fn encode_typed(value: &Typed, field: &str) -> Result<String> {
    let mut values = Annotations::default();
    let mut path = Vec::new();
    let json = to_json(value, field, &mut path, &mut values)?;
    let mut out = Map::new();
    out.insert("json".to_owned(), json);
    if let Some(root) = values.root {
        out.insert("meta".to_owned(), json!({ "values": root }));
    } else if !values.paths.is_empty() {
        let values = values.paths;
        out.insert("meta".to_owned(), json!({ "values": values }));
    }
    out.insert(MARKER_KEY.to_owned(), Json::from(MARKER));
    Ok(Json::Object(out).to_string())
}

/// superjson's `meta.values`: the root's annotation, or the annotations by path.
#[derive(Default)]
struct Annotations {
    root: Option<Json>,
    paths: Map<String, Json>,
}

/// The JSON of `v`, recording each annotation in `values` under its superjson path (dots in keys
/// escaped).
fn to_json(
    v: &Typed,
    field: &str,
    path: &mut Vec<String>,
    values: &mut Annotations,
) -> Result<Json> {
    let mut note = |annotation: Json, path: &[String]| {
        if path.is_empty() {
            values.root = Some(json!([annotation]));
            return;
        }
        let key = path
            .iter()
            .map(|s| s.replace('.', "\\."))
            .collect::<Vec<_>>()
            .join(".");
        values.paths.insert(key, json!([annotation]));
    };
    let at = |path: &[String]| {
        let mut s = field.to_owned();
        for seg in path {
            s.push_str(&format!("[{seg:?}]"));
        }
        s
    };
    Ok(match v {
        Typed::Null => Json::Null,
        Typed::Bool(b) => Json::Bool(*b),
        Typed::Int(i) if i.abs() <= MAX_SAFE_INTEGER => Json::from(*i),
        Typed::Int(i) => {
            note(json!("bigint"), path);
            Json::from(i.to_string())
        }
        Typed::Float(f) => {
            let special = if f.is_nan() {
                Some("NaN")
            } else if f.is_infinite() {
                Some(if *f > 0.0 { "Infinity" } else { "-Infinity" })
            } else if *f == 0.0 && f.is_sign_negative() {
                Some("-0")
            } else {
                None
            };
            match special {
                Some(text) => {
                    note(json!("number"), path);
                    Json::from(text)
                }
                None => Json::Number(Number::from_f64(*f).expect("finite")),
            }
        }
        Typed::Str(s) => Json::from(s.as_str()),
        Typed::Bytes(b) => {
            note(json!(["typed-array", "Uint8Array"]), path);
            Json::Array(b.iter().map(|x| Json::from(*x)).collect())
        }
        Typed::Timestamp {
            micros,
            offset_seconds,
        } => {
            if *offset_seconds != 0 {
                return Err(Error::invalid(
                    at(path),
                    "a TypeScript Date has no UTC offset: give utc_offset_seconds 0",
                ));
            }
            if micros % 1000 != 0 {
                return Err(Error::invalid(
                    at(path),
                    "a TypeScript Date holds milliseconds: the time has microseconds",
                ));
            }
            let t = chrono::DateTime::from_timestamp_micros(*micros)
                .ok_or_else(|| Error::invalid(at(path), "is out of range"))?;
            note(json!("Date"), path);
            Json::from(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        }
        Typed::Date(_) | Typed::Decimal(_) | Typed::Uuid(_) => {
            let what = match v {
                Typed::Date(_) => "a date (give a timestamp)",
                Typed::Decimal(_) => "a decimal (give a string or a float)",
                _ => "a UUID (give a string)",
            };
            return Err(Error::invalid(
                at(path),
                format!("TypeScript (superjson) cannot hold {what}"),
            ));
        }
        Typed::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(to_json(item, field, path, values)?);
                path.pop();
            }
            Json::Array(out)
        }
        Typed::Map(entries) => {
            let mut out = Map::new();
            for (k, item) in entries {
                path.push(k.clone());
                out.insert(k.clone(), to_json(item, field, path, values)?);
                path.pop();
            }
            Json::Object(out)
        }
    })
}

/// The superjson of the array `[Date(iso), context]` (a schedule firing's arguments), built from the
/// stored superjson of `context` (once `superjson_check` let it through): its `meta` paths move
/// under index 1.
pub fn firing_args(iso: &str, context: &str) -> std::result::Result<String, Refusal> {
    superjson_check::check(context)?;
    splice(iso, context)
        .ok_or_else(|| Refusal("superjson meta has a shape dbosd cannot move".to_owned()))
}

fn splice(iso: &str, context: &str) -> Option<String> {
    let mut ctx = parse(context)?;
    let mut values = Map::new();
    values.insert("0".to_owned(), json!(["Date"]));
    let mut meta = Map::new();
    if let Some(ctx_meta) = ctx.remove("meta") {
        let Json::Object(ctx_meta) = ctx_meta else {
            return None;
        };
        for (key, val) in ctx_meta {
            match (key.as_str(), val) {
                // A root annotation (`["undefined"]`, `["map", {...}]`) becomes index 1's.
                ("values", Json::Array(root)) => {
                    values.insert("1".to_owned(), Json::Array(root));
                }
                ("values", Json::Object(paths)) => {
                    values.extend(paths.into_iter().map(|(p, v)| (format!("1.{p}"), v)));
                }
                ("referentialEqualities", Json::Object(refs)) => {
                    let prefixed: Map<String, Json> = refs
                        .into_iter()
                        .map(|(p, v)| {
                            let v = match v {
                                Json::Array(paths) => Json::Array(
                                    paths
                                        .into_iter()
                                        .map(|p| match p {
                                            Json::String(p) => Json::String(format!("1.{p}")),
                                            other => other,
                                        })
                                        .collect(),
                                ),
                                other => other,
                            };
                            (format!("1.{p}"), v)
                        })
                        .collect();
                    meta.insert("referentialEqualities".to_owned(), Json::Object(prefixed));
                }
                ("v", v) => {
                    meta.insert("v".to_owned(), v);
                }
                _ => return None,
            }
        }
    }
    meta.insert("values".to_owned(), Json::Object(values));
    let inner = ctx.remove("json")?;
    Some(
        json!({
            "json": [iso, inner],
            "meta": meta,
            MARKER_KEY: MARKER,
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plain_values_round_trip() {
        let text = encode(&json!({"a": [1, "x"]}));
        assert_eq!(decode_plain(&text), Some(json!({"a": [1, "x"]})));
        assert_eq!(decode_plain("{\"json\":1}"), None, "unmarked");
    }

    #[test]
    fn firing_args_match_superjson() {
        // What superjson 1.13 writes for [new Date(0), {a: new Date(5)}] (checked with node).
        let ctx = r#"{"json":{"a":"1970-01-01T00:00:00.005Z"},"meta":{"values":{"a":["Date"]}},"__dbos_serializer":"superjson"}"#;
        let got: Json =
            serde_json::from_str(&firing_args("1970-01-01T00:00:00.000Z", ctx).unwrap()).unwrap();
        assert_eq!(
            got,
            json!({"json":["1970-01-01T00:00:00.000Z",{"a":"1970-01-01T00:00:00.005Z"}],
                   "meta":{"values":{"0":["Date"],"1.a":["Date"]}},"__dbos_serializer":"superjson"})
        );
        let null_ctx = encode(&Json::Null);
        let got: Json = serde_json::from_str(&firing_args("T", &null_ctx).unwrap()).unwrap();
        assert_eq!(got["json"], json!(["T", null]));
        assert_eq!(got["meta"], json!({"values": {"0": ["Date"]}}));
        let hostile = r#"{"json":{"a":1},"meta":{"values":{"a":[["class","Evil"]]}},"__dbos_serializer":"superjson"}"#;
        assert!(firing_args("T", hostile).unwrap_err().0.contains("class"));
    }

    #[test]
    fn typed_values_match_superjson() {
        let v = Typed::Map(vec![
            (
                "a.b".into(),
                Typed::Timestamp {
                    micros: 5_000,
                    offset_seconds: 0,
                },
            ),
            ("big".into(), Typed::Int(1 << 60)),
            ("small".into(), Typed::Int(-7)),
            (
                "nan".into(),
                Typed::List(vec![Typed::Float(f64::NAN), Typed::Float(-0.0)]),
            ),
            ("raw".into(), Typed::Bytes(vec![1, 2])),
        ]);
        let text = encode_typed(&v, "context_typed").unwrap();
        let got: Json = serde_json::from_str(&text).unwrap();
        // What superjson 1.13 serialize() writes for the same JavaScript value (checked with node),
        // except that dbosd escapes the dot in a key (`a\\.b`) as superjson's parsePath reads it;
        // superjson's own serialize leaves it, and its deserialize then misses the Date.
        assert_eq!(
            got["meta"],
            json!({"values": {
            "a\\.b": ["Date"], "big": ["bigint"], "nan.0": ["number"], "nan.1": ["number"],
            "raw": [["typed-array", "Uint8Array"]]}})
        );
        assert_eq!(got["json"]["a.b"], json!("1970-01-01T00:00:00.005Z"));
        let back = decode_typed(&text).unwrap();
        let Typed::Map(entries) = back else { panic!() };
        assert_eq!(
            entries[0].1,
            Typed::Timestamp {
                micros: 5_000,
                offset_seconds: 0
            }
        );
        assert_eq!(entries[1].1, Typed::Int(1 << 60));
        assert_eq!(entries[4].1, Typed::Bytes(vec![1, 2]));
        let root = encode_typed(
            &Typed::Timestamp {
                micros: 7_000,
                offset_seconds: 0,
            },
            "c",
        )
        .unwrap();
        assert_eq!(
            serde_json::from_str::<Json>(&root).unwrap(),
            json!({"json": "1970-01-01T00:00:00.007Z", "meta": {"values": ["Date"]}, MARKER_KEY: MARKER})
        );
        let err = encode_typed(
            &Typed::List(vec![Typed::Date(chrono::NaiveDate::MIN)]),
            "context_typed",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("context_typed[\"0\"]: TypeScript (superjson) cannot hold a date"),
            "{err}"
        );
    }
}
