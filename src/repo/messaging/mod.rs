//! Messages sent to workflows, the events they set and the streams they write.

pub mod messages;
pub mod streams;
