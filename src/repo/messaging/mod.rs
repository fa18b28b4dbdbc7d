//! Messages sent to workflows, the events they set and the streams they write; `inbox` lists a
//! workflow's messages and stream keys.

pub mod inbox;
pub mod messages;
pub mod streams;
