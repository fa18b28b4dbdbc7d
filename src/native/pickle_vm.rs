//! The pickle checker: runs a pickle's opcodes on a symbolic machine that builds a graph of what
//! Python would build, without calling or importing anything. It refuses every opcode that can
//! run code unless it names an allowlisted `module.name` (GLOBAL / STACK_GLOBAL), applies an
//! allowlisted callable to a tuple (REDUCE, NEWOBJ, NEWOBJ_EX) or sets the state of what one built
//! (BUILD); INST, OBJ, EXT1/2/4, PERSID, BINPERSID and out-of-band buffers never pass. Size,
//! stack, marks, memo entries, nodes and nesting are all bounded, and no declared length or memo
//! index sizes an allocation. `pickle_read` turns the graph into typed values.

use std::collections::HashMap;

pub use super::pickle_graph::{Id, Node, Pickle};
use super::{
    pickle_graph::depth,
    pickle_ops::{self, counted, le, line, Malformed, FRAME, MARK, PROTO, STOP},
    policy::Allowlist,
};

/// Largest pickle (decoded bytes) dbosd reads.
pub const MAX_BYTES: usize = 1 << 20;
const MAX_STACK: usize = 10_000;
const MAX_MARKS: usize = 1_000;
const MAX_MEMO: usize = 10_000;
const MAX_NODES: usize = 100_000;
/// Deepest nesting of containers and objects.
pub const MAX_DEPTH: usize = 100;
/// Python refuses int text past 4300 digits; so does dbosd.
const MAX_INT_DIGITS: usize = 4300;

/// Why a pickle is refused; the text says it in the caller's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn malformed(why: impl std::fmt::Display) -> Refusal {
    Refusal(format!("is not a well-formed pickle: {why}"))
}

pub(super) fn limit(what: &str, max: usize) -> Refusal {
    Refusal(format!("pickle exceeds dbosd's limit of {max} {what}"))
}

fn forbidden(op: u8) -> Refusal {
    Refusal(format!(
        "pickle opcode {} is not allowed (it can run code in the worker)",
        pickle_ops::name(op)
    ))
}

/// Checks `bytes` against `allow`: the graph it builds, or why it is refused.
pub fn check(bytes: &[u8], allow: &Allowlist) -> Result<Pickle, Refusal> {
    if bytes.len() > MAX_BYTES {
        return Err(limit("bytes", MAX_BYTES));
    }
    if bytes.first() != Some(&PROTO) {
        return Err(malformed(
            "it does not start with PROTO (protocol 2 or later)",
        ));
    }
    let mut vm = Vm {
        allow,
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        globals: Vec::new(),
    };
    for op in pickle_ops::ops(bytes) {
        let (op, arg) = op.map_err(|e| match e {
            Malformed::UnknownOpcode(op) => malformed(format!("unknown opcode 0x{op:02x}")),
            Malformed::Truncated => malformed("an argument runs past the end"),
            Malformed::NoStop => malformed("it does not end with STOP"),
        })?;
        vm.step(op, arg)?;
    }
    if !vm.marks.is_empty() || vm.stack.len() != 1 {
        return Err(malformed("it does not leave exactly one value"));
    }
    let root = vm.stack[0];
    depth(&vm.nodes, root)?;
    Ok(Pickle {
        nodes: vm.nodes,
        root,
        globals: vm.globals,
    })
}

struct Vm<'a> {
    allow: &'a Allowlist,
    nodes: Vec<Node>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
    globals: Vec<String>,
}

impl Vm<'_> {
    fn node(&mut self, node: Node) -> Result<Id, Refusal> {
        if self.nodes.len() >= MAX_NODES {
            return Err(limit("values", MAX_NODES));
        }
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    fn push_id(&mut self, id: Id) -> Result<(), Refusal> {
        if self.stack.len() >= MAX_STACK {
            return Err(limit("stack entries", MAX_STACK));
        }
        self.stack.push(id);
        Ok(())
    }

    fn push(&mut self, node: Node) -> Result<(), Refusal> {
        let id = self.node(node)?;
        self.push_id(id)
    }

    /// The stack floor: values below the innermost mark belong to the caller.
    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<Id, Refusal> {
        if self.stack.len() <= self.floor() {
            return Err(malformed("an opcode pops an empty stack"));
        }
        Ok(self.stack.pop().expect("checked above"))
    }

    fn top(&self) -> Result<Id, Refusal> {
        if self.stack.len() <= self.floor() {
            return Err(malformed("an opcode reads an empty stack"));
        }
        Ok(*self.stack.last().expect("checked above"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>, Refusal> {
        let at = self
            .marks
            .pop()
            .ok_or_else(|| malformed("an opcode needs a MARK that is not there"))?;
        Ok(self.stack.split_off(at.min(self.stack.len())))
    }

    fn pairs(items: Vec<Id>) -> Result<Vec<(Id, Id)>, Refusal> {
        if !items.len().is_multiple_of(2) {
            return Err(malformed("a dict gets an odd number of keys and values"));
        }
        Ok(items.chunks(2).map(|kv| (kv[0], kv[1])).collect())
    }

    fn memo_put(&mut self, index: u64) -> Result<(), Refusal> {
        let top = self.top()?;
        // Python's writer numbers memo entries 0, 1, 2, ...; a far index only makes unpicklers
        // size their memo by it (CPython grows its memo array to twice the index).
        if index >= MAX_MEMO as u64 {
            return Err(Refusal(format!(
                "pickle memo index {index} exceeds dbosd's limit of {MAX_MEMO}"
            )));
        }
        if !self.memo.contains_key(&index) && self.memo.len() >= MAX_MEMO {
            return Err(limit("memo entries", MAX_MEMO));
        }
        self.memo.insert(index, top);
        Ok(())
    }

    fn memo_get(&mut self, index: u64) -> Result<(), Refusal> {
        let id = *self
            .memo
            .get(&index)
            .ok_or_else(|| malformed(format!("memo index {index} is read before it is set")))?;
        self.push_id(id)
    }

    fn global(&mut self, module: &str, name: &str) -> Result<(), Refusal> {
        let full = format!("{module}.{name}");
        if !self.allow.allows(module, name) {
            return Err(Refusal(format!("pickle global {full} is not allowed")));
        }
        if !self.globals.contains(&full) {
            self.globals.push(full);
        }
        self.push(Node::Global {
            module: module.to_owned(),
            name: name.to_owned(),
        })
    }

    /// REDUCE / NEWOBJ / NEWOBJ_EX: `callable` must be an allowlisted global, `args` a tuple.
    fn call(&mut self, op: u8, kwargs: Option<Id>) -> Result<(), Refusal> {
        let args = self.pop()?;
        let callable = self.pop()?;
        if !matches!(self.nodes[callable], Node::Global { .. }) {
            return Err(Refusal(format!(
                "pickle opcode {} applies something other than an allowed global",
                pickle_ops::name(op)
            )));
        }
        let Node::Tuple(args) = self.nodes[args].clone() else {
            return Err(malformed(format!(
                "{} needs a tuple of arguments",
                pickle_ops::name(op)
            )));
        };
        if let Some(kw) = kwargs {
            if !matches!(self.nodes[kw], Node::Dict(_)) {
                return Err(malformed("NEWOBJ_EX needs a dict of keyword arguments"));
            }
        }
        self.push(Node::Call {
            callable,
            args,
            kwargs,
            state: None,
            newobj: op != b'R',
            added: Vec::new(),
        })
    }

    fn text(arg: &[u8]) -> Result<&str, Refusal> {
        std::str::from_utf8(arg).map_err(|_| malformed("text is not UTF-8"))
    }

    fn step(&mut self, op: u8, arg: &[u8]) -> Result<(), Refusal> {
        match op {
            PROTO => {
                if arg.first().is_none_or(|p| *p > 5) {
                    return Err(malformed("unknown protocol"));
                }
            }
            FRAME | STOP => {}
            b'N' => self.push(Node::None)?,
            0x88 => self.push(Node::Bool(true))?,
            0x89 => self.push(Node::Bool(false))?,
            b'I' | b'L' => {
                let text = Self::text(line(arg))?;
                let text = text.strip_suffix('L').unwrap_or(text);
                let node = match text {
                    "00" if op == b'I' => Node::Bool(false),
                    "01" if op == b'I' => Node::Bool(true),
                    _ => match text.parse::<i64>() {
                        Ok(i) => Node::Int(i),
                        Err(_) => {
                            let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
                            if digits.is_empty()
                                || digits.len() > MAX_INT_DIGITS
                                || !digits.bytes().all(|b| b.is_ascii_digit())
                            {
                                return Err(malformed("an int is not digits (or too long)"));
                            }
                            Node::Opaque
                        }
                    },
                };
                self.push(node)?
            }
            b'K' | b'M' => self.push(Node::Int(le(arg) as i64))?,
            b'J' => self.push(Node::Int(i64::from(le(arg) as u32 as i32)))?,
            0x8a | 0x8b => {
                let digits = counted(op, arg);
                let node = if digits.len() <= 8 {
                    let negative = digits.last().is_some_and(|d| d & 0x80 != 0);
                    let mut b = [if negative { 0xff } else { 0 }; 8];
                    b[..digits.len()].copy_from_slice(digits);
                    Node::Int(i64::from_le_bytes(b))
                } else {
                    Node::Long(digits.to_vec())
                };
                self.push(node)?
            }
            b'F' => {
                let f = Self::text(line(arg))?
                    .parse::<f64>()
                    .map_err(|_| malformed("a FLOAT is not a number"))?;
                self.push(Node::Float(f))?
            }
            b'G' => {
                let b: [u8; 8] = arg.try_into().map_err(|_| malformed("BINFLOAT"))?;
                self.push(Node::Float(f64::from_be_bytes(b)))?
            }
            // Protocol 0 quoted text: kept, never decoded (nor usable as a global's name).
            b'S' | b'V' => self.push(Node::Opaque)?,
            // BINSTRING: Python 3 reads it as ASCII text (DBOS unpickles with the defaults).
            b'T' | b'U' => {
                let node = match std::str::from_utf8(counted(op, arg)) {
                    Ok(s) if s.is_ascii() => Node::Str(s.to_owned()),
                    _ => Node::Opaque,
                };
                self.push(node)?
            }
            b'X' | 0x8c | 0x8d => {
                let s = Self::text(counted(op, arg))?.to_owned();
                self.push(Node::Str(s))?
            }
            b'B' | b'C' | 0x8e => self.push(Node::Bytes(counted(op, arg).to_vec()))?,
            0x96 => self.push(Node::Opaque)?,
            b']' => self.push(Node::List(Vec::new()))?,
            b')' => self.push(Node::Tuple(Vec::new()))?,
            b'}' => self.push(Node::Dict(Vec::new()))?,
            0x8f => self.push(Node::Set(Vec::new()))?,
            MARK => {
                if self.marks.len() >= MAX_MARKS {
                    return Err(limit("open MARKs", MAX_MARKS));
                }
                self.marks.push(self.stack.len());
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![self.pop()?]
                } else {
                    self.pop_mark()?
                };
                let target = self.top()?;
                match &mut self.nodes[target] {
                    Node::List(list) => list.extend(items),
                    Node::Call { added, .. } => added.extend(items),
                    _ => return Err(not_a(op, "list")),
                }
            }
            b's' | b'u' => {
                let pairs = if op == b's' {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    vec![(k, v)]
                } else {
                    Self::pairs(self.pop_mark()?)?
                };
                let target = self.top()?;
                match &mut self.nodes[target] {
                    Node::Dict(dict) => dict.extend(pairs),
                    Node::Call { added, .. } => {
                        added.extend(pairs.iter().flat_map(|(k, v)| [*k, *v]))
                    }
                    _ => return Err(not_a(op, "dict")),
                }
            }
            0x90 => {
                let items = self.pop_mark()?;
                let target = self.top()?;
                match &mut self.nodes[target] {
                    Node::Set(set) => set.extend(items),
                    Node::Call { added, .. } => added.extend(items),
                    _ => return Err(not_a(op, "set")),
                }
            }
            b'l' => {
                let items = self.pop_mark()?;
                self.push(Node::List(items))?
            }
            b't' => {
                let items = self.pop_mark()?;
                self.push(Node::Tuple(items))?
            }
            b'd' => {
                let pairs = Self::pairs(self.pop_mark()?)?;
                self.push(Node::Dict(pairs))?
            }
            0x91 => {
                let items = self.pop_mark()?;
                self.push(Node::FrozenSet(items))?
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < self.floor() + n {
                    return Err(malformed("a TUPLE opcode pops an empty stack"));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push(Node::Tuple(items))?
            }
            b'0' => {
                if self.stack.len() > self.floor() {
                    self.stack.pop();
                } else {
                    self.pop_mark()?;
                }
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let top = self.top()?;
                self.push_id(top)?
            }
            b'p' | b'g' => {
                let index = Self::text(line(arg))?
                    .parse::<u64>()
                    .map_err(|_| malformed("a memo index is not a number"))?;
                if op == b'p' {
                    self.memo_put(index)?
                } else {
                    self.memo_get(index)?
                }
            }
            b'q' | b'r' => self.memo_put(le(arg))?,
            0x94 => self.memo_put(self.memo.len() as u64)?,
            b'h' | b'j' => self.memo_get(le(arg))?,
            b'c' => {
                let text = Self::text(arg)?;
                let mut lines = text.split('\n');
                let (module, name) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
                self.global(module, name)?
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Node::Str(module), Node::Str(name)) =
                    (self.nodes[module].clone(), self.nodes[name].clone())
                else {
                    return Err(Refusal(
                        "pickle opcode STACK_GLOBAL names its global with something other than two strings"
                            .to_owned(),
                    ));
                };
                self.global(&module, &name)?
            }
            b'R' | 0x81 => self.call(op, None)?,
            0x92 => {
                let kwargs = self.pop()?;
                self.call(op, Some(kwargs))?
            }
            b'b' => {
                let state = self.pop()?;
                let target = self.top()?;
                match &mut self.nodes[target] {
                    Node::Call { state: slot @ None, .. } => *slot = Some(state),
                    _ => {
                        return Err(Refusal(
                            "pickle opcode BUILD sets the state of something other than an object of an allowed class"
                                .to_owned(),
                        ))
                    }
                }
            }
            b'i' | b'o' | 0x82..=0x84 | b'P' | b'Q' | 0x97 | 0x98 => return Err(forbidden(op)),
            other => return Err(malformed(format!("unknown opcode 0x{other:02x}"))),
        }
        Ok(())
    }
}

fn not_a(op: u8, what: &str) -> Refusal {
    Refusal(format!(
        "pickle opcode {} adds to something that is not a {what} or an object of an allowed class (it would call a method)",
        pickle_ops::name(op)
    ))
}
