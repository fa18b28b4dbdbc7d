//! The language-native encodings DBOS uses where it has no serialization column: a schedule's
//! `context`, and the inputs of schedule-fired workflows. Python writes base64 pickles, TypeScript
//! marked superjson. dbosd writes them itself from JSON and typed values (`typed`), and reads them
//! only through checkers that refuse anything able to run code in a worker (`pickle_vm`,
//! `superjson_check`) within hard limits. Raw native text from callers is off unless the operator
//! and the caller's token allow it (`policy`).

pub mod pickle;
mod pickle_graph;
mod pickle_ops;
mod pickle_read;
pub mod pickle_vm;
pub mod policy;
pub mod superjson;
pub mod superjson_check;
pub mod typed;

#[cfg(test)]
mod fuzz;

pub use self::{
    pickle_vm::Refusal,
    policy::{Allowlist, NativePolicy},
    typed::Typed,
};

/// A DBOS worker language, as far as its native format goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    TypeScript,
}

/// The language whose native format `text` is in, if either (by its framing only: the content is
/// checked by [`check`]).
pub fn detect(text: &str) -> Option<Language> {
    if superjson::is_superjson(text) {
        Some(Language::TypeScript)
    } else if pickle::from_base64(text).is_some() {
        Some(Language::Python)
    } else {
        None
    }
}

/// What a checked native text contains that the audit records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// The pickle globals (`module.name`) it names; empty for superjson.
    pub globals: Vec<String>,
}

/// Checks native `text` in `language`'s format against the limits and `allow`.
pub fn check(language: Language, text: &str, allow: &Allowlist) -> Result<Checked, Refusal> {
    match language {
        Language::Python => pickle::check(text, allow).map(|p| Checked { globals: p.globals }),
        Language::TypeScript => superjson_check::check(text).map(|_| Checked::default()),
    }
}

/// The typed value of stored native text, when it passes the checks and has one.
pub fn decode_typed(language: Language, text: &str, allow: &Allowlist) -> Option<Typed> {
    match language {
        Language::Python => pickle::decode_typed(text, allow),
        Language::TypeScript => superjson::decode_typed(text),
    }
}
