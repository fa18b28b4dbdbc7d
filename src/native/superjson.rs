//! TypeScript DBOS's native format: `superjson.serialize(value)` as JSON, plus the marker
//! `"__dbos_serializer":"superjson"` (DBOS 5.x refuses unmarked text). superjson keeps plain JSON in
//! `json` and adds `meta` only for values JSON lacks (dates, maps, undefined, shared references).

use serde_json::{json, Map, Value as Json};

const MARKER_KEY: &str = "__dbos_serializer";
const MARKER: &str = "superjson";

/// Whether `text` is marked superjson.
pub fn is_superjson(text: &str) -> bool {
    parse(text).is_some()
}

fn parse(text: &str) -> Option<Map<String, Json>> {
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

/// The superjson of the array `[Date(iso), context]` (a schedule firing's arguments), built from the
/// stored superjson of `context`: its `meta` paths move under index 1. None if `context` is not
/// marked superjson or its meta has a shape superjson 1.x does not write.
pub fn firing_args(iso: &str, context: &str) -> Option<String> {
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
    }
}
