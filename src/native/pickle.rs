//! Python DBOS's native format: base64 of a pickle. dbosd writes pickles of JSON values and of a
//! schedule firing's inputs `{"args": (datetime, context), "kwargs": {}}` (the stored context pickle
//! spliced in unchanged), and reads back only pickles of plain JSON values.
//!
//! The opcodes are Python's `pickletools` ones; dbosd's own pickles use protocol 4 without memo.

use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::{Map, Number, Value as Json};

const PROTO: u8 = 0x80;
const STOP: u8 = b'.';
const MARK: u8 = b'(';
const FRAME: u8 = 0x95;
const TUPLE2: u8 = 0x86;

/// The pickle bytes of base64 `text`, if it decodes to a pickle (protocol 2 or later, as Python 3 writes).
pub fn from_base64(text: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(text.trim()).ok()?;
    (bytes.len() >= 3 && bytes[0] == PROTO && bytes.last() == Some(&STOP)).then_some(bytes)
}

/// Base64 of a pickle of a JSON value (dict, list, str, int, float, bool, None); None when an
/// integer does not fit 64 bits.
pub fn encode_json(value: &Json) -> Option<String> {
    let mut out = vec![PROTO, 4];
    write_json(&mut out, value)?;
    out.push(STOP);
    Some(STANDARD.encode(out))
}

/// Base64 of the pickle of `{"args": (datetime(UTC), <context>), "kwargs": {}}`, the inputs DBOS's
/// Python scheduler writes, with the stored `context` pickle embedded unchanged. `utc_micros` is
/// the scheduled time in microseconds since the epoch; the datetime's tzinfo is `timezone.utc`.
pub fn firing_inputs(utc_micros: i64, context_b64: &str) -> Option<String> {
    let context = splice_body(&from_base64(context_b64)?)?;
    let mut out = vec![PROTO, 4, b'}', MARK];
    write_str(&mut out, "args");
    write_utc_datetime(&mut out, utc_micros)?;
    out.extend_from_slice(&context);
    out.push(TUPLE2);
    write_str(&mut out, "kwargs");
    out.extend_from_slice(b"}u.");
    Some(STANDARD.encode(out))
}

/// The JSON value a pickle of plain JSON-like values holds; None for anything else.
pub fn decode_json(b64: &str) -> Option<Json> {
    Vm::default().run(&from_base64(b64)?)
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'X');
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn write_int(out: &mut Vec<u8>, n: i128) {
    if let Ok(small) = i32::try_from(n) {
        out.push(b'J');
        out.extend_from_slice(&small.to_le_bytes());
        return;
    }
    // LONG1: minimal little-endian two's complement.
    let bytes = n.to_le_bytes();
    let mut len = bytes.len();
    while len > 1 {
        let (top, next) = (bytes[len - 1], bytes[len - 2]);
        if (top == 0 && next & 0x80 == 0) || (top == 0xff && next & 0x80 != 0) {
            len -= 1;
        } else {
            break;
        }
    }
    out.push(0x8a);
    out.push(len as u8);
    out.extend_from_slice(&bytes[..len]);
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

/// `datetime.datetime(<10-byte state>, datetime.timezone.utc)`, as `datetime.__reduce_ex__` pickles it.
fn write_utc_datetime(out: &mut Vec<u8>, utc_micros: i64) -> Option<()> {
    let t = chrono::DateTime::from_timestamp_micros(utc_micros)?;
    use chrono::{Datelike, Timelike};
    let year = u16::try_from(t.year()).ok()?;
    let us = t.nanosecond() / 1000;
    out.extend_from_slice(b"cdatetime\ndatetime\n");
    out.extend_from_slice(&[b'C', 10]);
    out.extend_from_slice(&year.to_be_bytes());
    out.extend_from_slice(&[
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
        (us >> 16) as u8,
        (us >> 8) as u8,
        us as u8,
    ]);
    // timezone(timedelta(0, 0, 0)), which Python unpickles as the timezone.utc singleton.
    out.extend_from_slice(b"cdatetime\ntimezone\ncdatetime\ntimedelta\nK\x00K\x00K\x00\x87R\x85R");
    out.extend_from_slice(&[TUPLE2, b'R']);
    Some(())
}

/// How many argument bytes follow an opcode: fixed, length-prefixed, or newline-terminated.
enum Arg {
    Fixed(usize),
    /// A little-endian length of this many bytes, then that many bytes.
    Counted(usize),
    /// This many newline-terminated lines.
    Lines(usize),
}

fn arg(op: u8) -> Option<Arg> {
    use Arg::*;
    Some(match op {
        b'(' | b'.' | b'0' | b'1' | b'2' | b'N' | b'Q' | b'R' | b'a' | b'b' | b'd' | b'}'
        | b'e' | b'l' | b']' | b'o' | b's' | b't' | b')' | b'u' => Fixed(0),
        0x81 | 0x85..=0x89 | 0x8f..=0x94 | 0x97 | 0x98 => Fixed(0),
        b'K' | b'h' | b'q' | 0x80 | 0x82 => Fixed(1),
        b'M' | 0x83 => Fixed(2),
        b'J' | b'j' | b'r' | 0x84 => Fixed(4),
        b'G' | FRAME => Fixed(8),
        b'U' | b'C' | 0x8a | 0x8c => Counted(1),
        b'T' | b'X' | b'B' | 0x8b => Counted(4),
        0x8d | 0x8e | 0x96 => Counted(8),
        b'F' | b'I' | b'L' | b'P' | b'S' | b'V' | b'g' | b'p' => Lines(1),
        b'c' | b'i' => Lines(2),
        _ => return None,
    })
}

/// Walks a pickle: each opcode with its argument bytes, in order.
fn ops(bytes: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let op = bytes[i];
        i += 1;
        let start = i;
        match arg(op)? {
            Arg::Fixed(n) => i += n,
            Arg::Counted(width) => {
                let len_bytes = bytes.get(i..i + width)?;
                let mut len = [0u8; 8];
                len[..width].copy_from_slice(len_bytes);
                i += width + usize::try_from(u64::from_le_bytes(len)).ok()?;
            }
            Arg::Lines(n) => {
                for _ in 0..n {
                    i += bytes.get(i..)?.iter().position(|b| *b == b'\n')? + 1;
                }
            }
        }
        out.push((op, bytes.get(start..i)?));
        if op == STOP {
            return (i == bytes.len()).then_some(out);
        }
    }
    None
}

/// The opcodes of a whole pickle without PROTO, FRAME and STOP, to embed as one value of another
/// pickle (which uses no memo of its own, so the embedded memo indices stay valid).
fn splice_body(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    for (op, arg) in ops(bytes)? {
        if !matches!(op, PROTO | FRAME | STOP) {
            out.push(op);
            out.extend_from_slice(arg);
        }
    }
    Some(out)
}

/// A pickle machine for the opcodes plain JSON-like values use.
#[derive(Default)]
struct Vm {
    stack: Vec<Json>,
    marks: Vec<usize>,
    memo: Vec<Option<Json>>,
}

impl Vm {
    fn run(mut self, bytes: &[u8]) -> Option<Json> {
        for (op, arg) in ops(bytes)? {
            self.step(op, arg)?;
        }
        (self.stack.len() == 1).then(|| self.stack.pop()).flatten()
    }

    fn pop_mark(&mut self) -> Option<Vec<Json>> {
        let at = self.marks.pop()?;
        (at <= self.stack.len()).then(|| self.stack.split_off(at))
    }

    fn step(&mut self, op: u8, arg: &[u8]) -> Option<()> {
        let le = |arg: &[u8]| {
            let mut b = [0u8; 8];
            b[..arg.len()].copy_from_slice(arg);
            u64::from_le_bytes(b)
        };
        let counted = |width: usize| arg.get(width..);
        match op {
            PROTO | FRAME | STOP => {}
            b'N' => self.stack.push(Json::Null),
            0x88 => self.stack.push(Json::Bool(true)),
            0x89 => self.stack.push(Json::Bool(false)),
            b'K' | b'M' => self.stack.push(Json::from(le(arg))),
            b'J' => self
                .stack
                .push(Json::from(i32::from_le_bytes(arg.try_into().ok()?))),
            0x8a => {
                let digits = counted(1)?;
                if digits.len() > 8 {
                    return None;
                }
                let mut b = [if digits.last().is_some_and(|d| d & 0x80 != 0) {
                    0xff
                } else {
                    0
                }; 8];
                b[..digits.len()].copy_from_slice(digits);
                self.stack.push(Json::from(i64::from_le_bytes(b)));
            }
            b'G' => self
                .stack
                .push(Json::Number(Number::from_f64(f64::from_be_bytes(
                    arg.try_into().ok()?,
                ))?)),
            b'X' | 0x8c | 0x8d => {
                let width = match op {
                    0x8c => 1,
                    b'X' => 4,
                    _ => 8,
                };
                let text = std::str::from_utf8(counted(width)?).ok()?;
                self.stack.push(Json::String(text.to_owned()));
            }
            b']' | b')' => self.stack.push(Json::Array(Vec::new())),
            b'}' => self.stack.push(Json::Object(Map::new())),
            MARK => self.marks.push(self.stack.len()),
            b'a' => {
                let item = self.stack.pop()?;
                self.stack.last_mut()?.as_array_mut()?.push(item);
            }
            b'e' => {
                let items = self.pop_mark()?;
                self.stack.last_mut()?.as_array_mut()?.extend(items);
            }
            b's' => {
                let v = self.stack.pop()?;
                let Json::String(k) = self.stack.pop()? else {
                    return None;
                };
                self.stack.last_mut()?.as_object_mut()?.insert(k, v);
            }
            b'u' => {
                let items = self.pop_mark()?;
                let map = self.stack.last_mut()?.as_object_mut()?;
                let mut it = items.into_iter();
                while let Some(k) = it.next() {
                    let Json::String(k) = k else { return None };
                    map.insert(k, it.next()?);
                }
            }
            b't' => {
                let items = self.pop_mark()?;
                self.stack.push(Json::Array(items));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let at = self.stack.len().checked_sub(n)?;
                let items = self.stack.split_off(at);
                self.stack.push(Json::Array(items));
            }
            // Memo: only immutable values (strings, numbers) are reused; a reused container may have
            // changed since it was memoized, so it ends decoding.
            0x94 | b'q' | b'r' => {
                let index = if op == 0x94 {
                    self.memo.len()
                } else {
                    usize::try_from(le(arg)).ok()?
                };
                let top = self.stack.last()?;
                let keep = (!top.is_array() && !top.is_object()).then(|| top.clone());
                if self.memo.len() <= index {
                    self.memo.resize(index + 1, None);
                }
                self.memo[index] = keep;
            }
            b'h' | b'j' => {
                let value = self.memo.get(usize::try_from(le(arg)).ok()?)?.clone()?;
                self.stack.push(value);
            }
            _ => return None,
        }
        Some(())
    }
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
        let ctx = encode_json(&json!({"a": 1})).unwrap();
        let inputs = from_base64(&firing_inputs(0, &ctx).unwrap()).unwrap();
        assert!(ops(&inputs).is_some(), "a well-formed pickle");
        assert!(firing_inputs(0, "not base64 pickle").is_none());
    }
}
