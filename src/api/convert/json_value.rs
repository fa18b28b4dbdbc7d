//! Stored JSON text straight to a `google.protobuf.Value`, in one pass: the decoded copy a
//! `Payload` carries beside its text (and a row's attributes).
//!
//! Parsing into `serde_json::Value`, walking it for its depth, converting it and measuring the
//! result was four passes and two trees per payload, on every row of a list page. Here a serde
//! visitor builds the protobuf tree as serde_json parses, and keeps each node's encoded length as it
//! goes, so the depth and size limits cost no extra walk.
//!
//! The result is exactly what that path gave, including its corners (checked against it by the
//! property test in `json_value_equiv.rs`): numbers as the nearest double (`-0` stays negative, out
//! of range becomes infinite), the last of duplicate keys wins, and since serde_json is built with
//! `arbitrary_precision` and `raw_value`, an object whose first key is one of its private tokens is
//! read as that number or that embedded JSON, as `serde_json::Value` reads it. A limit counts for
//! what the finished tree holds: a too-deep or too-big value that a later duplicate key replaces
//! does not make the whole too deep or too big. Such a value is dropped as soon as it is known to
//! be over (only the fact is kept), so a hostile payload costs no more memory than the old path.

use std::collections::{btree_map::Entry, BTreeMap};
use std::fmt;

use prost::encoding::encoded_len_varint;
use prost_types::{value::Kind, ListValue, Struct, Value};
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

/// serde_json's private map keys under which its deserializer hands over an arbitrary-precision
/// number or a raw value; `serde_json::Value` reads an object starting with them as such.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// What a decoded value may not exceed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of arrays and objects (a scalar is 0, `[]` is 1).
    pub depth: usize,
    /// Largest encoded `google.protobuf.Value`, in bytes.
    pub bytes: usize,
}

/// `text` as a `google.protobuf.Value`; `None` when it is not one JSON value, nests deeper than
/// `limits.depth` or would encode to more than `limits.bytes`.
pub fn decode(text: &str, limits: Limits) -> Option<Value> {
    decode_sized(text, 0, limits).ok()?.map(|node| node.value)
}

/// A decoded value and its encoded length (`prost::Message::encoded_len`).
#[derive(Debug)]
pub(crate) struct Sized {
    pub value: Value,
    pub len: usize,
}

/// `None`: the value is over a limit, which makes whatever finally holds it over too.
type Node = Option<Sized>;

/// Decodes `text` as the value at nesting `depth` (a raw value's embedded JSON continues the
/// nesting of the object it replaces). `Err` when it is not JSON.
pub(crate) fn decode_sized(text: &str, depth: usize, limits: Limits) -> serde_json::Result<Node> {
    let mut de = serde_json::Deserializer::from_str(text);
    let node = At { depth, limits }.deserialize(&mut de)?;
    de.end()?;
    Ok(node)
}

/// A value at `depth` enclosing arrays and objects.
#[derive(Clone, Copy)]
struct At {
    depth: usize,
    limits: Limits,
}

impl At {
    fn node(self, kind: Kind, len: usize) -> Node {
        (len <= self.limits.bytes).then_some(Sized {
            value: Value { kind: Some(kind) },
            len,
        })
    }

    fn number(self, n: f64) -> Node {
        // Field tag and the 8-byte double.
        self.node(Kind::NumberValue(n), 9)
    }

    fn string(self, s: String) -> Node {
        let len = 1 + encoded_len_varint(s.len() as u64) + s.len();
        self.node(Kind::StringValue(s), len)
    }

    /// A container opened here nests one level deeper than this value's depth.
    fn inner(self) -> Option<At> {
        (self.depth < self.limits.depth).then_some(At {
            depth: self.depth + 1,
            limits: self.limits,
        })
    }
}

/// A length-delimited field's bytes (tag of a field number below 16, length, body).
fn field_len(body: usize) -> usize {
    1 + encoded_len_varint(body as u64) + body
}

/// A `Struct.fields` map entry's bytes: its key (left out when empty, as prost does) and value.
fn entry_len(key: &str, value_len: usize) -> usize {
    let key_len = if key.is_empty() {
        0
    } else {
        field_len(key.len())
    };
    field_len(key_len + field_len(value_len))
}

/// Parses a value and keeps nothing of it. Not serde's `IgnoredAny`: serde_json skips that without
/// its recursion limit, and text nested past the limit must fail here as it did before.
#[derive(Clone, Copy)]
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        skip_seq(seq).map(|_| ())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Even dropped, a private-token object must be what serde_json accepts, as before.
        let Some(first) = map.next_key::<String>()? else {
            return Ok(());
        };
        if first == NUMBER_TOKEN {
            return number_token(&mut map).map(|_| ());
        }
        if first == RAW_VALUE_TOKEN {
            let text: String = map.next_value()?;
            let mut de = serde_json::Deserializer::from_str(&text);
            return Skip
                .deserialize(&mut de)
                .and_then(|()| de.end())
                .map_err(A::Error::custom);
        }
        map.next_value_seed(Skip)?;
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

/// The number of an object whose first key is [`NUMBER_TOKEN`], as `serde_json::Value` reads it
/// (the rest of such an object is left to the parser, which rejects it).
fn number_token<'de, A: MapAccess<'de>>(map: &mut A) -> Result<f64, A::Error> {
    let text: String = map.next_value()?;
    let n: serde_json::Number = text.parse().map_err(A::Error::custom)?;
    Ok(n.as_f64()
        .unwrap_or_else(|| n.to_string().parse::<f64>().unwrap_or(f64::NAN)))
}

/// Parses the rest of an array over a limit.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Node, A::Error> {
    while seq.next_element_seed(Skip)?.is_some() {}
    Ok(None)
}

impl<'de> DeserializeSeed<'de> for At {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for At {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(self.node(Kind::NullValue(0), 2))
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
        Ok(self.node(Kind::BoolValue(b), 2))
    }

    // Integers within 64 bits come as integers, to the nearest double as their text would parse.
    fn visit_u64<E>(self, n: u64) -> Result<Node, E> {
        Ok(self.number(n as f64))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Node, E> {
        Ok(self.number(n as f64))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Node, E> {
        Ok(self.number(n))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node, E> {
        Ok(self.string(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Node, E> {
        Ok(self.string(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let Some(inner) = self.inner() else {
            return skip_seq(seq);
        };
        let mut values = Vec::new();
        let mut body = 0;
        while let Some(item) = seq.next_element_seed(inner)? {
            // An array keeps every element: one over a limit, or a body past the size limit,
            // settles it, and the rest is only parsed.
            let Some(item) = item else {
                return skip_seq(seq);
            };
            body += field_len(item.len);
            if body > self.limits.bytes {
                return skip_seq(seq);
            }
            values.push(item.value);
        }
        Ok(self.node(Kind::ListValue(ListValue { values }), field_len(body)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Ok(self
                .inner()
                .and_then(|_| self.node(Kind::StructValue(Struct::default()), field_len(0))));
        };
        // As `serde_json::Value` reads its private tokens.
        if first == NUMBER_TOKEN {
            return number_token(&mut map).map(|n| self.number(n));
        }
        if first == RAW_VALUE_TOKEN {
            let text: String = map.next_value()?;
            return decode_sized(&text, self.depth, self.limits).map_err(A::Error::custom);
        }
        let Some(inner) = self.inner() else {
            map.next_value_seed(Skip)?;
            while map.next_key_seed(Skip)?.is_some() {
                map.next_value_seed(Skip)?;
            }
            return Ok(None);
        };
        let mut fields = Fields::default();
        let value = map.next_value_seed(inner)?;
        fields.insert(first, value);
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(inner)?;
            fields.insert(key, value);
        }
        Ok(fields.finish().and_then(|(fields, body)| {
            self.node(Kind::StructValue(Struct { fields }), field_len(body))
        }))
    }
}

/// An object's members as they are read: the last of duplicate keys wins, so a member over a limit
/// only settles the object once no later duplicate can replace it (at its end).
#[derive(Default)]
struct Fields {
    fields: BTreeMap<String, Value>,
    /// The encoded bytes of `fields` as a Struct.
    body: usize,
    /// Keys whose last value so far is over a limit.
    over: Vec<String>,
}

impl Fields {
    fn insert(&mut self, key: String, value: Node) {
        if !self.over.is_empty() {
            self.over.retain(|k| *k != key);
        }
        match value {
            Some(Sized { value, len }) => {
                self.body += entry_len(&key, len);
                match self.fields.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(value);
                    }
                    // Duplicates are rare: the replaced value is measured again.
                    Entry::Occupied(mut slot) => {
                        let old = slot.insert(value);
                        self.body -= entry_len(slot.key(), prost::Message::encoded_len(&old));
                    }
                }
            }
            None => {
                if let Some(old) = self.fields.remove(&key) {
                    self.body -= entry_len(&key, prost::Message::encoded_len(&old));
                }
                self.over.push(key);
            }
        }
    }

    fn finish(self) -> Option<(BTreeMap<String, Value>, usize)> {
        self.over.is_empty().then_some((self.fields, self.body))
    }
}
