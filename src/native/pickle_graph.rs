//! The graph a checked pickle builds (`pickle_vm`): what each opcode made, how the values refer to
//! each other, and the nesting/cycle check over it.

use std::collections::HashMap;

use super::pickle_vm::{limit, Refusal, MAX_DEPTH};

pub type Id = usize;

/// What one opcode (or a group) built.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    None,
    Bool(bool),
    Int(i64),
    /// An int past 64 bits: little-endian two's complement (LONG1/LONG4).
    Long(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// Data dbosd does not decode (protocol 0 text, bytearray, int text past 64 bits).
    Opaque,
    List(Vec<Id>),
    Tuple(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    FrozenSet(Vec<Id>),
    /// An allowlisted global (a class or function, not called).
    Global {
        module: String,
        name: String,
    },
    /// An allowlisted global applied to arguments (REDUCE, NEWOBJ, NEWOBJ_EX), BUILD's state, and
    /// what APPEND(S)/SETITEM(S)/ADDITEMS added to it (Python calls the allowlisted class's
    /// `append`/`extend`/`__setitem__`/`add` for those).
    Call {
        callable: Id,
        args: Vec<Id>,
        kwargs: Option<Id>,
        state: Option<Id>,
        newobj: bool,
        added: Vec<Id>,
    },
}

/// A checked pickle: the node graph and its root.
#[derive(Debug)]
pub struct Pickle {
    pub nodes: Vec<Node>,
    pub root: Id,
    /// Every global it names, `module.name`, first use first.
    pub globals: Vec<String>,
}

/// Fails if the graph from `root` nests past [`MAX_DEPTH`] or refers to itself.
pub(super) fn depth(nodes: &[Node], root: Id) -> Result<(), Refusal> {
    const ON_PATH: usize = usize::MAX;
    // The height of each node seen (a shared node is measured once), or ON_PATH while inside it.
    let mut height: HashMap<Id, usize> = HashMap::new();
    fn visit(
        nodes: &[Node],
        height: &mut HashMap<Id, usize>,
        id: Id,
        level: usize,
    ) -> Result<usize, Refusal> {
        if level > MAX_DEPTH {
            return Err(limit("levels of nesting", MAX_DEPTH));
        }
        match height.get(&id) {
            Some(&ON_PATH) => return Err(Refusal("pickle refers to itself (a cycle)".to_owned())),
            Some(&h) => return Ok(h),
            None => {}
        }
        height.insert(id, ON_PATH);
        let mut h = 0;
        for child in children(&nodes[id]) {
            h = h.max(1 + visit(nodes, height, child, level + 1)?);
        }
        height.insert(id, h);
        Ok(h)
    }
    if visit(nodes, &mut height, root, 0)? > MAX_DEPTH {
        return Err(limit("levels of nesting", MAX_DEPTH));
    }
    Ok(())
}

/// The nodes a node refers to.
pub fn children(node: &Node) -> Vec<Id> {
    match node {
        Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => v.clone(),
        Node::Dict(pairs) => pairs.iter().flat_map(|(k, v)| [*k, *v]).collect(),
        Node::Call {
            callable,
            args,
            kwargs,
            state,
            added,
            ..
        } => std::iter::once(*callable)
            .chain(args.iter().copied())
            .chain(*kwargs)
            .chain(*state)
            .chain(added.iter().copied())
            .collect(),
        _ => Vec::new(),
    }
}
