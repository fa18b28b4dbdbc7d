//! Checking and reading marked superjson (TypeScript DBOS's native format). superjson rebuilds
//! values from the `meta` annotations; the built-in ones (`Date`, `bigint`, `number`, `undefined`,
//! `set`, `map`, `regexp`, `Error`, `URL`, `["typed-array", <standard typed array>]`) and DBOS's own
//! `["custom", "Buffer"]` only build data, but `["class", ..]`, `["symbol", ..]` and other custom
//! types run application code, and a path through `__proto__`/`constructor`/`prototype` reaches
//! object prototypes. Those are refused, as is any annotation whose value has the wrong shape (a
//! typed array of a number would allocate that many elements). Size and counts are bounded.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

use super::{
    pickle_vm::{Refusal, MAX_BYTES},
    typed::{Typed, MAX_DEPTH},
};

const MARKER_KEY: &str = "__dbos_serializer";
const MAX_ANNOTATIONS: usize = 10_000;
const TYPED_ARRAYS: &[&str] = &[
    "Int8Array",
    "Uint8Array",
    "Int16Array",
    "Uint16Array",
    "Int32Array",
    "Uint32Array",
    "Float32Array",
    "Float64Array",
    "Uint8ClampedArray",
];

/// One allowed `meta.values` annotation.
#[derive(Debug, Clone, PartialEq)]
pub enum Annotation {
    Undefined,
    BigInt,
    Date,
    Error,
    RegExp,
    Set,
    Map,
    Number,
    Url,
    TypedArray(String),
    /// DBOS's registered `Buffer` recipe.
    Buffer,
}

/// Checked superjson: its plain `json` and the annotations by path.
#[derive(Debug)]
pub struct Checked {
    pub json: Json,
    pub annotations: Vec<(Vec<String>, Annotation)>,
    /// Whether `meta.referentialEqualities` makes some paths the same object.
    pub shared: bool,
}

fn refuse(why: impl std::fmt::Display) -> Refusal {
    Refusal(format!("superjson {why}"))
}

/// Checks marked superjson `text`.
pub fn check(text: &str) -> Result<Checked, Refusal> {
    if text.len() > MAX_BYTES {
        return Err(refuse(format!(
            "exceeds dbosd's limit of {MAX_BYTES} bytes"
        )));
    }
    // serde_json stops at 128 levels of nesting with an error.
    let Json::Object(mut top) = serde_json::from_str::<Json>(text)
        .map_err(|_| refuse("is not valid JSON (or nests past 128 levels)"))?
    else {
        return Err(refuse("is not a JSON object"));
    };
    if top.get(MARKER_KEY).and_then(Json::as_str) != Some("superjson") {
        return Err(refuse(
            "lacks the \"__dbos_serializer\":\"superjson\" marker",
        ));
    }
    if let Some(key) = top
        .keys()
        .find(|k| !matches!(k.as_str(), "json" | "meta" | MARKER_KEY))
    {
        return Err(refuse(format!("has an unknown top-level key {key:?}")));
    }
    let json = top
        .remove("json")
        .ok_or_else(|| refuse("has no \"json\""))?;
    let mut checked = Checked {
        json,
        annotations: Vec::new(),
        shared: false,
    };
    let Some(meta) = top.remove("meta") else {
        return Ok(checked);
    };
    let Json::Object(meta) = meta else {
        return Err(refuse("meta is not an object"));
    };
    for (key, value) in meta {
        match key.as_str() {
            "values" => values(&value, &[], &mut checked.annotations, 0)?,
            "referentialEqualities" => {
                checked.shared = true;
                equalities(&value)?
            }
            "v" if value.is_number() => {}
            other => return Err(refuse(format!("meta has an unknown key {other:?}"))),
        }
    }
    // superjson skips an annotation whose path is not in the value (its own serialize writes
    // such paths for nested keys holding dots), so only present values are shape-checked.
    for (path, annotation) in &checked.annotations {
        if let Some(value) = at(&checked.json, path) {
            fits(annotation, value)?;
        }
    }
    Ok(checked)
}

/// superjson's path syntax: segments split at unescaped dots (`\.` is a dot in a key).
fn parse_path(text: &str) -> Result<Vec<String>, Refusal> {
    let mut out = Vec::new();
    let mut segment = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                segment.push('.');
                chars.next();
            }
            '.' => out.push(std::mem::take(&mut segment)),
            c => segment.push(c),
        }
    }
    out.push(segment);
    if let Some(bad) = out
        .iter()
        .find(|s| matches!(s.as_str(), "__proto__" | "constructor" | "prototype"))
    {
        return Err(refuse(format!("path segment {bad:?} is not allowed")));
    }
    Ok(out)
}

/// Walks a `meta.values` tree (superjson's `traverse`).
fn values(
    tree: &Json,
    origin: &[String],
    out: &mut Vec<(Vec<String>, Annotation)>,
    depth: usize,
) -> Result<(), Refusal> {
    if depth > 128 {
        return Err(refuse("meta nests too deep"));
    }
    let child = |key: &str| -> Result<Vec<String>, Refusal> {
        let mut path = origin.to_vec();
        path.extend(parse_path(key)?);
        Ok(path)
    };
    match tree {
        Json::Object(children) => {
            for (key, sub) in children {
                values(sub, &child(key)?, out, depth + 1)?;
            }
        }
        Json::Array(node) if !node.is_empty() && node.len() <= 2 => {
            if let Some(children) = node.get(1) {
                let Json::Object(children) = children else {
                    return Err(refuse("meta.values has a malformed node"));
                };
                for (key, sub) in children {
                    values(sub, &child(key)?, out, depth + 1)?;
                }
            }
            if out.len() >= MAX_ANNOTATIONS {
                return Err(refuse(format!(
                    "exceeds dbosd's limit of {MAX_ANNOTATIONS} annotations"
                )));
            }
            out.push((origin.to_vec(), annotation(&node[0])?));
        }
        _ => return Err(refuse("meta.values has a malformed node")),
    }
    Ok(())
}

fn annotation(node: &Json) -> Result<Annotation, Refusal> {
    Ok(match node {
        Json::String(s) => match s.as_str() {
            "undefined" => Annotation::Undefined,
            "bigint" => Annotation::BigInt,
            "Date" => Annotation::Date,
            "Error" => Annotation::Error,
            "regexp" => Annotation::RegExp,
            "set" => Annotation::Set,
            "map" => Annotation::Map,
            "number" => Annotation::Number,
            "URL" => Annotation::Url,
            other => return Err(refuse(format!("type {other:?} is not allowed"))),
        },
        Json::Array(parts) => match (
            parts.first().and_then(Json::as_str),
            parts.get(1).and_then(Json::as_str),
            parts.len(),
        ) {
            (Some("typed-array"), Some(ctor), 2) if TYPED_ARRAYS.contains(&ctor) => {
                Annotation::TypedArray(ctor.to_owned())
            }
            (Some("custom"), Some("Buffer"), 2) => Annotation::Buffer,
            _ => {
                return Err(refuse(format!(
                "type {node} is not allowed (only superjson's built-in types and DBOS's Buffer; \
                     classes, symbols and custom types run application code)"
            )))
            }
        },
        other => return Err(refuse(format!("type {other} is not allowed"))),
    })
}

fn equalities(value: &Json) -> Result<(), Refusal> {
    let malformed = || refuse("meta.referentialEqualities is malformed");
    let mut count = 0usize;
    let mut paths = |list: &Json| -> Result<(), Refusal> {
        for p in list.as_array().ok_or_else(malformed)? {
            count += 1;
            if count > MAX_ANNOTATIONS {
                return Err(refuse("has too many referential equalities"));
            }
            parse_path(p.as_str().ok_or_else(malformed)?)?;
        }
        Ok(())
    };
    let (root, others): (Option<&Json>, Option<&Map<String, Json>>) = match value {
        Json::Object(map) => (None, Some(map)),
        Json::Array(parts) if !parts.is_empty() && parts.len() <= 2 => {
            let others = match parts.get(1) {
                Some(Json::Object(map)) => Some(map),
                Some(_) => return Err(malformed()),
                None => None,
            };
            (Some(&parts[0]), others)
        }
        _ => return Err(malformed()),
    };
    if let Some(root) = root {
        paths(root)?;
    }
    for (key, list) in others.into_iter().flatten() {
        parse_path(key)?;
        paths(list)?;
    }
    Ok(())
}

/// The value at `path` in the raw JSON (superjson applies inner annotations first, so every path
/// is into the JSON as written).
fn at<'a>(json: &'a Json, path: &[String]) -> Option<&'a Json> {
    path.iter().try_fold(json, |v, seg| match v {
        Json::Object(map) => map.get(seg),
        Json::Array(items) => items.get(seg.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Fails when an annotation's value has a shape superjson would misuse.
fn fits(a: &Annotation, v: &Json) -> Result<(), Refusal> {
    let bytes_like = |max: f64| {
        v.as_array().is_some_and(|items| {
            items
                .iter()
                .all(|i| i.as_f64().is_some_and(|n| n.abs() <= max))
        })
    };
    let ok = match a {
        Annotation::Undefined => true,
        Annotation::BigInt => v.as_str().is_some_and(|s| {
            let digits = s.strip_prefix('-').unwrap_or(s);
            !digits.is_empty() && digits.len() <= 4300 && digits.bytes().all(|b| b.is_ascii_digit())
        }),
        Annotation::Date | Annotation::RegExp | Annotation::Url => v.is_string(),
        Annotation::Number => matches!(v.as_str(), Some("NaN" | "Infinity" | "-Infinity" | "-0")),
        Annotation::Error => v.is_object(),
        Annotation::Set => v.is_array(),
        Annotation::Map => v.as_array().is_some_and(|entries| {
            entries
                .iter()
                .all(|e| e.as_array().is_some_and(|kv| kv.len() == 2))
        }),
        Annotation::TypedArray(_) => bytes_like(f64::MAX),
        Annotation::Buffer => bytes_like(255.0),
    };
    if ok {
        Ok(())
    } else {
        Err(refuse(format!("annotation {a:?} does not fit its value")))
    }
}

/// The typed value of checked superjson, when every annotation has a typed form.
pub fn typed(c: &Checked) -> Option<Typed> {
    let by_path: HashMap<&[String], &Annotation> = c
        .annotations
        .iter()
        .map(|(p, a)| (p.as_slice(), a))
        .collect();
    let mut path = Vec::new();
    read(&c.json, &mut path, &by_path, 0)
}

fn read(
    v: &Json,
    path: &mut Vec<String>,
    ann: &HashMap<&[String], &Annotation>,
    depth: usize,
) -> Option<Typed> {
    if depth > MAX_DEPTH {
        return None;
    }
    if let Some(a) = ann.get(path.as_slice()) {
        return annotated(a, v);
    }
    Some(match v {
        Json::Null => Typed::Null,
        Json::Bool(b) => Typed::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Typed::Int(i),
            None => Typed::Float(n.as_f64()?),
        },
        Json::String(s) => Typed::Str(s.clone()),
        Json::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(read(item, path, ann, depth + 1));
                path.pop();
            }
            Typed::List(out.into_iter().collect::<Option<_>>()?)
        }
        Json::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, item) in map {
                path.push(k.clone());
                let value = read(item, path, ann, depth + 1);
                path.pop();
                out.push((k.clone(), value?));
            }
            Typed::Map(out)
        }
    })
}

fn annotated(a: &Annotation, v: &Json) -> Option<Typed> {
    match a {
        Annotation::Date => {
            let t = chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok()?;
            Some(Typed::Timestamp {
                micros: t.timestamp_micros(),
                offset_seconds: 0,
            })
        }
        Annotation::BigInt => v.as_str()?.parse::<i64>().ok().map(Typed::Int),
        Annotation::Number => Some(Typed::Float(match v.as_str()? {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            "-0" => -0.0,
            _ => return None,
        })),
        Annotation::TypedArray(ctor) if ctor == "Uint8Array" => bytes(v),
        Annotation::Buffer => bytes(v),
        _ => None,
    }
}

fn bytes(v: &Json) -> Option<Typed> {
    v.as_array()?
        .iter()
        .map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
        .collect::<Option<Vec<u8>>>()
        .map(Typed::Bytes)
}
