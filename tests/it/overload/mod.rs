//! Overload and limits (`src/overload.rs`, `src/deadline.rs`, `src/auth/rate_limit.rs`): abandoned
//! calls take their statements with them, calls beyond a cap are shed with a retry pushback, and
//! streams, message sizes and deadlines end calls with a status naming the limit.

pub mod abandonment;
mod limits;
mod shedding;
