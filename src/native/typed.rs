//! Typed schedule-context values: what `context_typed` gives and what the decoders read back. The
//! conversion from the protobuf message validates every field (naming its path on error); the
//! writers in `pickle` and `superjson` take only this type, so dbosd writes nothing else.

use chrono::{DateTime, NaiveDate, Utc};
use prost_types::Timestamp;

use crate::{
    error::{Error, Result},
    pb,
};

/// Deepest nesting a typed value may have (the protobuf decoder stops near 100 levels anyway).
pub const MAX_DEPTH: usize = 64;

/// A typed value (see `pb::TypedValue`).
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// An instant (`micros` since the epoch, UTC) shown at a fixed UTC offset.
    Timestamp {
        micros: i64,
        offset_seconds: i32,
    },
    Date(NaiveDate),
    /// `decimal.Decimal`'s text.
    Decimal(String),
    Uuid(uuid::Uuid),
    List(Vec<Typed>),
    /// String keys, unique, in order.
    Map(Vec<(String, Typed)>),
}

impl Typed {
    /// The value a request gives at `path` (`context_typed`), validated.
    pub fn from_pb(v: &pb::TypedValue, path: &str) -> Result<Typed> {
        from_pb(v, path, 0)
    }

    /// The plain JSON form, when the value is only null, bools, ints, finite floats, strings,
    /// lists and maps.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        use serde_json::Value as Json;
        Some(match self {
            Typed::Null => Json::Null,
            Typed::Bool(b) => Json::Bool(*b),
            Typed::Int(i) => Json::from(*i),
            Typed::Float(f) => Json::Number(serde_json::Number::from_f64(*f)?),
            Typed::Str(s) => Json::String(s.clone()),
            Typed::List(items) => {
                Json::Array(items.iter().map(Typed::to_json).collect::<Option<_>>()?)
            }
            Typed::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        })
    }

    /// The protobuf form; `None` past [`MAX_DEPTH`].
    pub fn to_pb(&self) -> Option<pb::TypedValue> {
        to_pb(self, 0)
    }
}

fn from_pb(v: &pb::TypedValue, path: &str, depth: usize) -> Result<Typed> {
    use pb::typed_value::Kind;
    if depth > MAX_DEPTH {
        return Err(Error::invalid(
            path,
            format!("nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    let kind = v
        .kind
        .as_ref()
        .ok_or_else(|| Error::invalid(path, "has no value set (give one of its kinds)"))?;
    Ok(match kind {
        Kind::NullValue(_) => Typed::Null,
        Kind::BoolValue(b) => Typed::Bool(*b),
        Kind::IntValue(i) => Typed::Int(*i),
        Kind::FloatValue(f) => Typed::Float(*f),
        Kind::StringValue(s) => {
            if s.contains('\0') {
                return Err(Error::invalid(path, "contains a NUL character"));
            }
            Typed::Str(s.clone())
        }
        Kind::BytesValue(b) => Typed::Bytes(b.clone()),
        Kind::TimestampValue(t) => {
            let time = t
                .time
                .as_ref()
                .ok_or_else(|| Error::invalid(format!("{path}.time"), "is required"))?;
            let micros = timestamp_micros(time)
                .ok_or_else(|| Error::invalid(format!("{path}.time"), "is out of range"))?;
            let offset = t.utc_offset_seconds;
            if offset.abs() >= 86_400 {
                return Err(Error::invalid(
                    format!("{path}.utc_offset_seconds"),
                    "must be strictly between -86400 and 86400",
                ));
            }
            let local = micros
                .checked_add(i64::from(offset) * 1_000_000)
                .and_then(DateTime::<Utc>::from_timestamp_micros);
            if !local.is_some_and(|l| (1..=9999).contains(&chrono::Datelike::year(&l))) {
                return Err(Error::invalid(
                    format!("{path}.time"),
                    "falls outside years 1 to 9999 at its offset",
                ));
            }
            Typed::Timestamp {
                micros,
                offset_seconds: offset,
            }
        }
        Kind::DateValue(d) => {
            let date = u32::try_from(d.month)
                .ok()
                .zip(u32::try_from(d.day).ok())
                .filter(|_| (1..=9999).contains(&d.year))
                .and_then(|(m, day)| NaiveDate::from_ymd_opt(d.year, m, day))
                .ok_or_else(|| {
                    Error::invalid(
                        path,
                        format!(
                            "{}-{}-{} is not a date of years 1 to 9999",
                            d.year, d.month, d.day
                        ),
                    )
                })?;
            Typed::Date(date)
        }
        Kind::DecimalValue(s) => {
            if !is_decimal(s) {
                return Err(Error::invalid(
                    path,
                    format!(
                        "{s:?} is not a decimal number (digits, an optional point and exponent)"
                    ),
                ));
            }
            Typed::Decimal(s.clone())
        }
        Kind::UuidValue(s) => Typed::Uuid(
            uuid::Uuid::parse_str(s)
                .map_err(|_| Error::invalid(path, format!("{s:?} is not a UUID")))?,
        ),
        Kind::ListValue(l) => Typed::List(
            l.values
                .iter()
                .enumerate()
                .map(|(i, v)| from_pb(v, &format!("{path}[{i}]"), depth + 1))
                .collect::<Result<_>>()?,
        ),
        Kind::MapValue(m) => {
            let mut seen = std::collections::HashSet::new();
            let mut entries = Vec::with_capacity(m.entries.len());
            for e in &m.entries {
                let at = format!("{path}[{:?}]", e.key);
                if !seen.insert(e.key.as_str()) {
                    return Err(Error::invalid(at, "repeats a key"));
                }
                if e.key.contains('\0') {
                    return Err(Error::invalid(at, "key contains a NUL character"));
                }
                let value = e
                    .value
                    .as_ref()
                    .ok_or_else(|| Error::invalid(&at, "has no value"))?;
                entries.push((e.key.clone(), from_pb(value, &at, depth + 1)?));
            }
            Typed::Map(entries)
        }
    })
}

fn to_pb(v: &Typed, depth: usize) -> Option<pb::TypedValue> {
    use pb::typed_value::Kind;
    if depth > MAX_DEPTH {
        return None;
    }
    let kind = match v {
        Typed::Null => Kind::NullValue(0),
        Typed::Bool(b) => Kind::BoolValue(*b),
        Typed::Int(i) => Kind::IntValue(*i),
        Typed::Float(f) => Kind::FloatValue(*f),
        Typed::Str(s) => Kind::StringValue(s.clone()),
        Typed::Bytes(b) => Kind::BytesValue(b.clone()),
        Typed::Timestamp {
            micros,
            offset_seconds,
        } => Kind::TimestampValue(pb::TypedTimestamp {
            time: Some(Timestamp {
                seconds: micros.div_euclid(1_000_000),
                nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
            }),
            utc_offset_seconds: *offset_seconds,
        }),
        Typed::Date(d) => {
            use chrono::Datelike;
            Kind::DateValue(pb::TypedDate {
                year: d.year(),
                month: d.month() as i32,
                day: d.day() as i32,
            })
        }
        Typed::Decimal(s) => Kind::DecimalValue(s.clone()),
        Typed::Uuid(u) => Kind::UuidValue(u.hyphenated().to_string()),
        Typed::List(items) => Kind::ListValue(pb::TypedList {
            values: items
                .iter()
                .map(|v| to_pb(v, depth + 1))
                .collect::<Option<_>>()?,
        }),
        Typed::Map(entries) => Kind::MapValue(pb::TypedMap {
            entries: entries
                .iter()
                .map(|(k, v)| {
                    Some(pb::TypedMapEntry {
                        key: k.clone(),
                        value: Some(to_pb(v, depth + 1)?),
                    })
                })
                .collect::<Option<_>>()?,
        }),
    };
    Some(pb::TypedValue { kind: Some(kind) })
}

/// Microseconds since the epoch; None when nanos are invalid or it overflows.
fn timestamp_micros(t: &Timestamp) -> Option<i64> {
    if !(0..1_000_000_000).contains(&t.nanos) || t.nanos % 1000 != 0 {
        return None;
    }
    t.seconds
        .checked_mul(1_000_000)?
        .checked_add(i64::from(t.nanos / 1000))
}

/// `[+-]digits[.digits][e[+-]digits]` (at least one digit), as `decimal.Decimal` reads it.
pub fn is_decimal(s: &str) -> bool {
    if s.len() > 200 {
        return false;
    }
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.len() <= 9 && digits(e)
    });
    digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()) && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_checked() {
        for ok in ["1", "-12.3450", ".5", "5.", "1E+3", "+2e-7"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", ".", "1e", "NaN", "1.2.3", "0x10", "1e99999999999", " 1"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn typed_values_round_trip_and_name_bad_fields() {
        use pb::typed_value::Kind;
        let ts = pb::TypedValue {
            kind: Some(Kind::TimestampValue(pb::TypedTimestamp {
                time: Some(Timestamp {
                    seconds: 1_767_225_600,
                    nanos: 123_456_000,
                }),
                utc_offset_seconds: 19_800,
            })),
        };
        let t = Typed::from_pb(&ts, "context_typed").unwrap();
        assert_eq!(t.to_pb(), Some(ts));
        let bad = pb::TypedValue {
            kind: Some(Kind::MapValue(pb::TypedMap {
                entries: vec![pb::TypedMapEntry {
                    key: "when".into(),
                    value: Some(pb::TypedValue {
                        kind: Some(Kind::UuidValue("nope".into())),
                    }),
                }],
            })),
        };
        let err = Typed::from_pb(&bad, "context_typed")
            .unwrap_err()
            .to_string();
        assert!(err.contains("context_typed[\"when\"]"), "{err}");
    }
}
