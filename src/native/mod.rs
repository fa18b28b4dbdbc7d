//! The language-native encodings DBOS uses where it has no serialization column: a schedule's
//! `context`, and the inputs of schedule-fired workflows. Python writes base64 pickles, TypeScript
//! marked superjson. dbosd writes them only for values it can express exactly (JSON values, a UTC
//! datetime, and a stored context embedded unchanged) and decodes only plain JSON out of them.

pub mod pickle;
pub mod superjson;

/// A DBOS worker language, as far as its native format goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    TypeScript,
}

/// The language whose native format `text` is in, if either.
pub fn detect(text: &str) -> Option<Language> {
    if superjson::is_superjson(text) {
        Some(Language::TypeScript)
    } else if pickle::from_base64(text).is_some() {
        Some(Language::Python)
    } else {
        None
    }
}
