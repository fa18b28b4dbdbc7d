//! Rules that hold across the whole tree: the layering of `src/` (ARCHITECTURE.md), the proto style,
//! and every request enum refusing unknown values.

mod enums;
mod layout;
mod proto_lint;
