//! Reading a checked pickle's graph as typed values: plain data, and the shapes CPython's protocol-4
//! pickles of `datetime` (with a fixed-offset timezone), `date`, `Decimal` and `UUID` have. Anything
//! else (sets, naive datetimes, other classes, shared mutable values) has no typed form: `None`.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::{
    pickle_vm::{Id, Node, Pickle},
    typed::{is_decimal, Typed, MAX_DEPTH},
};

/// Most typed values one read produces (shared nodes count at each use).
const MAX_VALUES: usize = 100_000;

/// The typed value of a checked pickle, if it has one.
pub fn typed(p: &Pickle) -> Option<Typed> {
    let mut budget = MAX_VALUES;
    Reader {
        nodes: &p.nodes,
        budget: &mut budget,
    }
    .value(p.root, 0)
}

struct Reader<'a> {
    nodes: &'a [Node],
    budget: &'a mut usize,
}

impl Reader<'_> {
    fn value(&mut self, id: Id, depth: usize) -> Option<Typed> {
        if depth > MAX_DEPTH || *self.budget == 0 {
            return None;
        }
        *self.budget -= 1;
        Some(match self.nodes.get(id)? {
            Node::None => Typed::Null,
            Node::Bool(b) => Typed::Bool(*b),
            Node::Int(i) => Typed::Int(*i),
            Node::Float(f) => Typed::Float(*f),
            Node::Str(s) => Typed::Str(s.clone()),
            Node::Bytes(b) => Typed::Bytes(b.clone()),
            Node::List(items) | Node::Tuple(items) => Typed::List(
                items
                    .iter()
                    .map(|i| self.value(*i, depth + 1))
                    .collect::<Option<_>>()?,
            ),
            Node::Dict(pairs) => {
                let mut entries: Vec<(String, Typed)> = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    let Node::Str(key) = self.nodes.get(*k)? else {
                        return None;
                    };
                    let value = self.value(*v, depth + 1)?;
                    // A later SETITEM of the same key replaces the value, as in Python.
                    match entries.iter_mut().find(|(existing, _)| existing == key) {
                        Some(slot) => slot.1 = value,
                        None => entries.push((key.clone(), value)),
                    }
                }
                Typed::Map(entries)
            }
            Node::Call {
                callable,
                args,
                kwargs: None,
                state,
                newobj,
                added,
            } if added.is_empty() => {
                let Node::Global { module, name } = self.nodes.get(*callable)? else {
                    return None;
                };
                return self.object(module, name, args, state.as_ref(), *newobj);
            }
            _ => return None,
        })
    }

    fn node(&self, id: &Id) -> Option<&Node> {
        self.nodes.get(*id)
    }

    /// An allowlisted class applied to `args` (and given `state`), when it is one dbosd reads.
    fn object(
        &mut self,
        module: &str,
        name: &str,
        args: &[Id],
        state: Option<&Id>,
        newobj: bool,
    ) -> Option<Typed> {
        match (module, name, args, state, newobj) {
            ("datetime", "datetime", [bytes, tz], None, false) => {
                let Node::Bytes(b) = self.node(bytes)? else {
                    return None;
                };
                let offset = self.timezone(tz)?;
                let local = datetime_state(b)?;
                let utc = local - chrono::Duration::seconds(i64::from(offset));
                Some(Typed::Timestamp {
                    micros: utc.and_utc().timestamp_micros(),
                    offset_seconds: offset,
                })
            }
            ("datetime", "date", [bytes], None, false) => {
                let Node::Bytes(b) = self.node(bytes)? else {
                    return None;
                };
                let [hi, lo, month, day] = b[..] else {
                    return None;
                };
                let year = i32::from(u16::from_be_bytes([hi, lo]));
                Some(Typed::Date(NaiveDate::from_ymd_opt(
                    year,
                    u32::from(month),
                    u32::from(day),
                )?))
            }
            ("decimal", "Decimal", [text], None, false) => match self.node(text)? {
                Node::Str(s) if is_decimal(s) => Some(Typed::Decimal(s.clone())),
                _ => None,
            },
            ("uuid", "UUID", [], Some(state), true) => {
                let Node::Dict(pairs) = self.node(state)? else {
                    return None;
                };
                let [(k, v)] = pairs[..] else {
                    return None;
                };
                if self.node(&k)? != &Node::Str("int".to_owned()) {
                    return None;
                }
                let value = match self.node(&v)? {
                    Node::Int(i) => u128::try_from(*i).ok()?,
                    Node::Long(bytes) => {
                        let trimmed = match bytes.len() {
                            17 if bytes[16] == 0 => &bytes[..16],
                            n if n <= 16 && bytes.last().is_some_and(|b| b & 0x80 == 0) => {
                                &bytes[..]
                            }
                            _ => return None,
                        };
                        let mut le = [0u8; 16];
                        le[..trimmed.len()].copy_from_slice(trimmed);
                        u128::from_le_bytes(le)
                    }
                    _ => return None,
                };
                Some(Typed::Uuid(uuid::Uuid::from_u128(value)))
            }
            _ => None,
        }
    }

    /// `timezone(timedelta(days, seconds, 0)[, name])`: its offset in seconds.
    fn timezone(&self, id: &Id) -> Option<i32> {
        let Node::Call {
            callable,
            args,
            kwargs: None,
            state: None,
            newobj: false,
            ..
        } = self.node(id)?
        else {
            return None;
        };
        let Node::Global { module, name } = self.node(callable)? else {
            return None;
        };
        if (module.as_str(), name.as_str()) != ("datetime", "timezone") || args.is_empty() {
            return None;
        }
        let Node::Call {
            callable,
            args: delta,
            kwargs: None,
            state: None,
            newobj: false,
            ..
        } = self.node(&args[0])?
        else {
            return None;
        };
        let Node::Global { module, name } = self.node(callable)? else {
            return None;
        };
        if (module.as_str(), name.as_str()) != ("datetime", "timedelta") {
            return None;
        }
        let ints = delta
            .iter()
            .map(|i| match self.node(i)? {
                Node::Int(v) => Some(*v),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        let [days, seconds, 0] = ints[..] else {
            return None;
        };
        let offset = days.checked_mul(86_400)?.checked_add(seconds)?;
        (offset.abs() < 86_400).then_some(offset as i32)
    }
}

/// The wall time in `datetime`'s 10-byte pickle state (the fold bit ignored).
fn datetime_state(b: &[u8]) -> Option<NaiveDateTime> {
    let [hi, lo, month, day, hour, minute, second, u0, u1, u2] = b[..] else {
        return None;
    };
    let date = NaiveDate::from_ymd_opt(
        i32::from(u16::from_be_bytes([hi, lo])),
        u32::from(month & 0x7f),
        u32::from(day),
    )?;
    let micros = u32::from_be_bytes([0, u0, u1, u2]);
    let time = NaiveTime::from_hms_micro_opt(
        u32::from(hour),
        u32::from(minute),
        u32::from(second),
        micros,
    )?;
    Some(date.and_time(time))
}
