//! Python DBOS's native format: base64 of a pickle. dbosd writes pickles of JSON values, of typed
//! values (built as CPython's protocol 4 builds them: `datetime.datetime` with a fixed-offset
//! `datetime.timezone`, `datetime.date`, `decimal.Decimal`, `uuid.UUID`, `bytes`) and of a schedule
//! firing's inputs `{"args": (datetime, context), "kwargs": {}}` (the stored context pickle spliced
//! in after `pickle_vm` checked it). Reading goes through `pickle_vm` (checks, limits) and
//! `pickle_read` (typed values).
//!
//! dbosd's own pickles use protocol 4 without memo, so a spliced context keeps its memo indices.

use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{Datelike, Timelike};
use serde_json::Value as Json;

use super::{
    pickle_ops::{self, FRAME, MARK, PROTO, STOP},
    pickle_read,
    pickle_vm::{self, Pickle, Refusal},
    policy::Allowlist,
    typed::Typed,
};

const TUPLE1: u8 = 0x85;
const TUPLE2: u8 = 0x86;
const TUPLE3: u8 = 0x87;
const REDUCE: u8 = b'R';

/// The pickle bytes of base64 `text`, if it decodes to a pickle (protocol 2 or later, as Python 3
/// writes) of at most `pickle_vm::MAX_BYTES`.
pub fn from_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() > pickle_vm::MAX_BYTES / 3 * 4 + 8 {
        return None;
    }
    let bytes = STANDARD.decode(text).ok()?;
    (bytes.len() >= 3 && bytes[0] == PROTO && bytes.last() == Some(&STOP)).then_some(bytes)
}

/// Checks base64 pickle `text` opcode by opcode (see `pickle_vm`).
pub fn check(text: &str, allow: &Allowlist) -> Result<Pickle, Refusal> {
    let text = text.trim();
    if text.len() > pickle_vm::MAX_BYTES / 3 * 4 + 8 {
        return Err(Refusal(format!(
            "pickle exceeds dbosd's limit of {} bytes",
            pickle_vm::MAX_BYTES
        )));
    }
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| Refusal("is not base64".to_owned()))?;
    pickle_vm::check(&bytes, allow)
}

/// Base64 of a pickle of a JSON value (dict, list, str, int, float, bool, None); None when an
/// integer does not fit 64 bits.
pub fn encode_json(value: &Json) -> Option<String> {
    let mut out = vec![PROTO, 4];
    write_json(&mut out, value)?;
    out.push(STOP);
    Some(STANDARD.encode(out))
}

/// Base64 of a pickle of a typed value (every typed value has a Python form).
pub fn encode_typed(value: &Typed) -> String {
    let mut out = vec![PROTO, 4];
    write_typed(&mut out, value);
    out.push(STOP);
    STANDARD.encode(out)
}

/// Base64 of the pickle of `{"args": (datetime(UTC), <context>), "kwargs": {}}`, the inputs DBOS's
/// Python scheduler writes, with the stored `context` pickle embedded unchanged once `allow` let it
/// through. `utc_micros` is the scheduled time in microseconds since the epoch; the datetime's
/// tzinfo is `timezone.utc`.
pub fn firing_inputs(
    utc_micros: i64,
    context_b64: &str,
    allow: &Allowlist,
) -> Result<String, Refusal> {
    check(context_b64, allow)?;
    let bytes = STANDARD
        .decode(context_b64.trim())
        .map_err(|_| Refusal("is not base64".to_owned()))?;
    let context = splice_body(&bytes)?;
    let mut out = vec![PROTO, 4, b'}', MARK];
    write_str(&mut out, "args");
    write_typed(
        &mut out,
        &Typed::Timestamp {
            micros: utc_micros,
            offset_seconds: 0,
        },
    );
    out.extend_from_slice(&context);
    out.push(TUPLE2);
    write_str(&mut out, "kwargs");
    out.extend_from_slice(b"}u.");
    Ok(STANDARD.encode(out))
}

/// The typed value of a base64 pickle that passes `allow`; None for anything else.
pub fn decode_typed(b64: &str, allow: &Allowlist) -> Option<Typed> {
    pickle_read::typed(&check(b64, allow).ok()?)
}

/// The JSON value a pickle of plain JSON-like values holds; None for anything else.
pub fn decode_json(b64: &str) -> Option<Json> {
    decode_typed(b64, &Allowlist::default())?.to_json()
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.len() < 256 {
        out.extend_from_slice(&[0x8c, s.len() as u8]);
    } else {
        out.push(b'X');
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// An int as CPython writes it: BININT1, BININT2, BININT, else LONG1.
fn write_int(out: &mut Vec<u8>, n: i128) {
    match n {
        0..=0xff => out.extend_from_slice(&[b'K', n as u8]),
        0x100..=0xffff => {
            out.push(b'M');
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        _ => match i32::try_from(n) {
            Ok(small) => {
                out.push(b'J');
                out.extend_from_slice(&small.to_le_bytes());
            }
            Err(_) => write_long1(out, &n.to_le_bytes(), n < 0),
        },
    }
}

/// LONG1 of little-endian two's complement `bytes`, trimmed to the minimal length.
fn write_long1(out: &mut Vec<u8>, bytes: &[u8], negative: bool) {
    let mut bytes = bytes.to_vec();
    // A positive value whose top bit is set needs a zero byte to stay positive.
    if !negative && bytes.last().is_some_and(|b| b & 0x80 != 0) {
        bytes.push(0);
    }
    let mut len = bytes.len();
    while len > 1 {
        let (top, next) = (bytes[len - 1], bytes[len - 2]);
        if (top == 0 && next & 0x80 == 0) || (top == 0xff && next & 0x80 != 0) {
            len -= 1;
        } else {
            break;
        }
    }
    out.extend_from_slice(&[0x8a, len as u8]);
    out.extend_from_slice(&bytes[..len]);
}

/// `module.name` as protocol 4 names it: two strings and STACK_GLOBAL.
fn write_global(out: &mut Vec<u8>, module: &str, name: &str) {
    write_str(out, module);
    write_str(out, name);
    out.push(0x93);
}

fn write_typed(out: &mut Vec<u8>, value: &Typed) {
    match value {
        Typed::Null => out.push(b'N'),
        Typed::Bool(b) => out.push(if *b { 0x88 } else { 0x89 }),
        Typed::Int(i) => write_int(out, i128::from(*i)),
        Typed::Float(f) => {
            out.push(b'G');
            out.extend_from_slice(&f.to_be_bytes());
        }
        Typed::Str(s) => write_str(out, s),
        Typed::Bytes(b) => {
            if b.len() < 256 {
                out.extend_from_slice(&[b'C', b.len() as u8]);
            } else {
                out.push(b'B');
                out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            }
            out.extend_from_slice(b);
        }
        Typed::Timestamp {
            micros,
            offset_seconds,
        } => {
            // The state holds the wall time at the offset; Typed::from_pb checked its range.
            let local = chrono::DateTime::from_timestamp_micros(
                micros + i64::from(*offset_seconds) * 1_000_000,
            )
            .unwrap_or_default();
            let us = local.nanosecond() / 1000;
            write_global(out, "datetime", "datetime");
            out.extend_from_slice(&[b'C', 10]);
            out.extend_from_slice(&(local.year() as u16).to_be_bytes());
            out.extend_from_slice(&[
                local.month() as u8,
                local.day() as u8,
                local.hour() as u8,
                local.minute() as u8,
                local.second() as u8,
                (us >> 16) as u8,
                (us >> 8) as u8,
                us as u8,
            ]);
            // timezone(timedelta(days, seconds, 0)); offset 0 unpickles as timezone.utc.
            write_global(out, "datetime", "timezone");
            write_global(out, "datetime", "timedelta");
            let offset = i128::from(*offset_seconds);
            write_int(out, offset.div_euclid(86_400));
            write_int(out, offset.rem_euclid(86_400));
            write_int(out, 0);
            out.extend_from_slice(&[TUPLE3, REDUCE, TUPLE1, REDUCE, TUPLE2, REDUCE]);
        }
        Typed::Date(d) => {
            write_global(out, "datetime", "date");
            out.extend_from_slice(&[b'C', 4]);
            out.extend_from_slice(&(d.year() as u16).to_be_bytes());
            out.extend_from_slice(&[d.month() as u8, d.day() as u8, TUPLE1, REDUCE]);
        }
        Typed::Decimal(text) => {
            write_global(out, "decimal", "Decimal");
            write_str(out, text);
            out.extend_from_slice(&[TUPLE1, REDUCE]);
        }
        Typed::Uuid(u) => {
            // UUID.__reduce_ex__: NEWOBJ on an empty tuple, then BUILD with {"int": <128-bit int>}.
            write_global(out, "uuid", "UUID");
            out.extend_from_slice(&[b')', 0x81, b'}']);
            write_str(out, "int");
            write_long1(out, &u.as_u128().to_le_bytes(), false);
            out.extend_from_slice(b"sb");
        }
        Typed::List(items) => {
            out.push(b']');
            if !items.is_empty() {
                out.push(MARK);
                for item in items {
                    write_typed(out, item);
                }
                out.push(b'e');
            }
        }
        Typed::Map(entries) => {
            out.push(b'}');
            if !entries.is_empty() {
                out.push(MARK);
                for (k, v) in entries {
                    write_str(out, k);
                    write_typed(out, v);
                }
                out.push(b'u');
            }
        }
    }
}

fn write_json(out: &mut Vec<u8>, value: &Json) -> Option<()> {
    match value {
        Json::Null => out.push(b'N'),
        Json::Bool(true) => out.push(0x88),
        Json::Bool(false) => out.push(0x89),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                write_int(out, i128::from(i));
            } else if let Some(u) = n.as_u64() {
                write_int(out, i128::from(u));
            } else if n
                .to_string()
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'-')
            {
                return None; // an integer beyond 64 bits
            } else {
                out.push(b'G');
                out.extend_from_slice(&n.as_f64()?.to_be_bytes());
            }
        }
        Json::String(s) => write_str(out, s),
        Json::Array(items) => {
            out.push(b']');
            if !items.is_empty() {
                out.push(MARK);
                for item in items {
                    write_json(out, item)?;
                }
                out.push(b'e');
            }
        }
        Json::Object(map) => {
            out.push(b'}');
            if !map.is_empty() {
                out.push(MARK);
                for (k, v) in map {
                    write_str(out, k);
                    write_json(out, v)?;
                }
                out.push(b'u');
            }
        }
    }
    Some(())
}

/// The opcodes of a whole (checked) pickle without PROTO, FRAME and STOP, to embed as one value of
/// another pickle (which uses no memo of its own, so the embedded memo indices stay valid).
fn splice_body(bytes: &[u8]) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::with_capacity(bytes.len());
    for op in pickle_ops::ops(bytes) {
        let (op, arg) = op.map_err(|_| Refusal("is not a well-formed pickle".to_owned()))?;
        if !matches!(op, PROTO | FRAME | STOP) {
            out.push(op);
            out.extend_from_slice(arg);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn python_pickles_of_json_decode() {
        // pickle.dumps(None) and pickle.dumps({"a": {"a": [1, 2.5, "x", True, None, 2**40]}}), protocol 4.
        assert_eq!(decode_json("gAROLg=="), Some(Json::Null));
        let text = "gASVKgAAAAAAAAB9lIwBYZR9lGgBXZQoSwFHQAQAAAAAAACMAXiUiE6KBgAAAAAAAWVzcy4=";
        assert_eq!(
            decode_json(text),
            Some(json!({"a": {"a": [1, 2.5, "x", true, null, 1_099_511_627_776_i64]}}))
        );
    }

    #[test]
    fn json_round_trips_through_our_pickles() {
        let v = json!({"k": [1, -2, 3_000_000_000_i64, -3_000_000_000_i64, 0.5, "é", false, null, {}, []]});
        assert_eq!(decode_json(&encode_json(&v).unwrap()), Some(v));
        let big: Json = serde_json::from_str("123456789012345678901234567890").unwrap();
        assert_eq!(encode_json(&big), None);
    }

    #[test]
    fn contexts_are_spliced_whole() {
        let allow = Allowlist::default();
        let ctx = encode_json(&json!({"a": 1})).unwrap();
        let inputs = firing_inputs(0, &ctx, &allow).unwrap();
        assert!(check(&inputs, &allow).is_ok(), "a well-formed pickle");
        assert!(firing_inputs(0, "not base64 pickle", &allow).is_err());
    }

    #[test]
    fn typed_values_round_trip_through_our_pickles() {
        let allow = Allowlist::default();
        let value = Typed::Map(vec![
            (
                "at".into(),
                Typed::Timestamp {
                    micros: 1_767_323_045_678_901,
                    offset_seconds: 19_800,
                },
            ),
            (
                "west".into(),
                Typed::Timestamp {
                    micros: -1,
                    offset_seconds: -18_000,
                },
            ),
            (
                "day".into(),
                Typed::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()),
            ),
            ("amount".into(), Typed::Decimal("-12.3450".into())),
            (
                "id".into(),
                Typed::Uuid(uuid::Uuid::parse_str("f2345678-1234-5678-1234-567812345678").unwrap()),
            ),
            ("raw".into(), Typed::Bytes(vec![0, 0xff, b'a'])),
            (
                "n".into(),
                Typed::List(vec![Typed::Int(-1), Typed::Int(300), Typed::Int(1 << 40)]),
            ),
        ]);
        let text = encode_typed(&value);
        let checked = check(&text, &allow).unwrap();
        assert_eq!(
            checked.globals,
            [
                "datetime.datetime",
                "datetime.timezone",
                "datetime.timedelta",
                "datetime.date",
                "decimal.Decimal",
                "uuid.UUID"
            ]
        );
        assert_eq!(pickle_read::typed(&checked), Some(value));
    }

    #[test]
    fn cpython_pickles_of_typed_values_decode() {
        let allow = Allowlist::default();
        // pickle.dumps([datetime(2026,1,2,3,4,5,678901,tzinfo=timezone(timedelta(hours=5,minutes=30))),
        //   date(2026,1,2), Decimal("-12.3450"), UUID("12345678-1234-5678-1234-567812345678"),
        //   datetime(2026,1,2,tzinfo=timezone.utc)]) with CPython 3.11, protocol 4 (memo, BINGET).
        let text = "gASV6wAAAAAAAABdlCiMCGRhdGV0aW1llIwIZGF0ZXRpbWWUk5RDCgfqAQIDBAUKW/WUaAGMCHRpbWV6b25llJOUaAGMCXRpbWVkZWx0YZSTlEsATVhNSwCHlFKUhZRSlIaUUpRoAYwEZGF0ZZSTlEMEB+oBApSFlFKUjAdkZWNpbWFslIwHRGVjaW1hbJSTlIwILTEyLjM0NTCUhZRSlIwEdXVpZJSMBFVVSUSUk5QpgZR9lIwDaW50lIoQeFY0EnhWNBJ4VjQSeFY0EnNiaANDCgfqAQIAAAAAAACUaAZoCEsASwBLAIeUUpSFlFKUhpRSlGUu";
        let got = pickle_read::typed(&check(text, &allow).unwrap()).unwrap();
        let Typed::List(items) = got else {
            panic!("{got:?}")
        };
        assert_eq!(
            items[0],
            Typed::Timestamp {
                micros: 1_767_303_245_678_901,
                offset_seconds: 19_800
            }
        );
        assert_eq!(
            items[1],
            Typed::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap())
        );
        assert_eq!(items[2], Typed::Decimal("-12.3450".into()));
        assert_eq!(
            items[3],
            Typed::Uuid(uuid::Uuid::parse_str("12345678-1234-5678-1234-567812345678").unwrap())
        );
        assert_eq!(
            items[4],
            Typed::Timestamp {
                micros: 1_767_312_000_000_000,
                offset_seconds: 0
            }
        );
    }
}
