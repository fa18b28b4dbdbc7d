//! The one codec of the opaque tokens dbosd hands out to resume a read: ListWorkflows and
//! ListQueuedWorkflows page tokens, ListWorkflowSteps and ListWorkflowMessages page tokens and
//! WatchWorkflows cursors.
//!
//! A token is URL-safe base64 of a small JSON object with a fixed set of keys. Tokens come back
//! from callers, so decoding is hostile input: a token longer than [`MAX_TOKEN_BYTES`] is refused
//! before any work, serde_json bounds nesting, unknown or repeated keys and wrong types are refused,
//! and every refusal is INVALID_ARGUMENT naming the field. No decoder panics (see the tests).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest token accepted. dbosd's own are under 200 bytes plus a workflow id; ids longer than
/// about 48 KiB (which dbosd cannot page past) are not worth unbounded decoding of every token.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// A list page: after the row (`c` created_at ms, `i` workflow id), for the query fingerprinted `f`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListPage {
    pub c: i64,
    pub i: String,
    pub f: String,
}

/// A steps page: after step `f` of workflow `w`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepsPage {
    pub w: String,
    pub f: i32,
}

/// A messages page: after message `i` (sent at `c` ms) of workflow `w`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesPage {
    pub w: String,
    pub c: i64,
    pub i: String,
}

/// A WatchWorkflows cursor: the last transition sent (`u` updated_at ms, `i` workflow id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchCursor {
    pub u: i64,
    pub i: String,
}

/// The token of `body`.
pub fn encode<T: Serialize>(body: &T) -> String {
    // Serializing these plain structs cannot fail.
    let json = serde_json::to_vec(body).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a token of type `T` from request field `field`; `not_ours` says what a bad one is not
/// (e.g. "is not a token returned by ListWorkflows").
pub fn decode<T: DeserializeOwned>(field: &str, token: &str, not_ours: &str) -> Result<T> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Error::invalid(
            field,
            format!(
                "is {} bytes; {not_ours} (those are at most {MAX_TOKEN_BYTES})",
                token.len()
            ),
        ));
    }
    let bad = || Error::invalid(field, not_ours);
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NOT_OURS: &str = "is not a token returned by this RPC";

    fn refused<T: DeserializeOwned + std::fmt::Debug>(token: &str) -> bool {
        matches!(
            decode::<T>("page_token", token, NOT_OURS),
            Err(Error::InvalidArgument { ref field, .. }) if field == "page_token"
        )
    }

    /// The checked-in corpus: every line is refused by every decoder.
    #[test]
    fn the_adversarial_corpus_is_refused_by_every_decoder() {
        let corpus = include_str!("corpus/page_tokens.txt");
        let tokens: Vec<&str> = corpus
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert!(tokens.len() > 20);
        for token in tokens {
            assert!(refused::<StepsPage>(token), "steps accepted {token:?}");
            assert!(refused::<WatchCursor>(token), "watch accepted {token:?}");
            assert!(
                refused::<MessagesPage>(token),
                "messages accepted {token:?}"
            );
            // A list token may be well-formed yet belong to no query; `list` checks the fingerprint.
            if let Ok(page) = decode::<ListPage>("page_token", token, NOT_OURS) {
                assert_eq!(page.f, "0", "{token:?}");
            }
        }
    }

    #[test]
    fn an_oversized_token_is_refused_before_decoding() {
        let huge = "A".repeat(MAX_TOKEN_BYTES + 1);
        match decode::<ListPage>("page_token", &huge, NOT_OURS) {
            Err(Error::InvalidArgument { reason, .. }) => {
                assert!(reason.contains(&MAX_TOKEN_BYTES.to_string()), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_text_decodes_or_is_invalid(token in any::<String>()) {
            // No panic, and nothing but INVALID_ARGUMENT.
            for ok in [
                decode::<ListPage>("t", &token, NOT_OURS).is_ok() || refused_as::<ListPage>(&token),
                decode::<StepsPage>("t", &token, NOT_OURS).is_ok() || refused_as::<StepsPage>(&token),
                decode::<WatchCursor>("t", &token, NOT_OURS).is_ok() || refused_as::<WatchCursor>(&token),
            ] {
                prop_assert!(ok);
            }
        }

        #[test]
        fn any_base64_bytes_decode_or_are_invalid(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let token = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert!(decode::<ListPage>("t", &token, NOT_OURS).is_ok() || refused_as::<ListPage>(&token));
            prop_assert!(decode::<StepsPage>("t", &token, NOT_OURS).is_ok() || refused_as::<StepsPage>(&token));
        }

        #[test]
        fn tokens_round_trip(c in any::<i64>(), i in any::<String>(), f in any::<i32>()) {
            let list = ListPage { c, i: i.clone(), f: format!("{f:016x}") };
            prop_assert_eq!(decode::<ListPage>("t", &encode(&list), NOT_OURS).unwrap(), list);
            let steps = StepsPage { w: i.clone(), f };
            prop_assert_eq!(decode::<StepsPage>("t", &encode(&steps), NOT_OURS).unwrap(), steps);
            let messages = MessagesPage { w: i.clone(), c, i: format!("{f}") };
            prop_assert_eq!(decode::<MessagesPage>("t", &encode(&messages), NOT_OURS).unwrap(), messages);
            let watch = WatchCursor { u: c, i };
            prop_assert_eq!(decode::<WatchCursor>("t", &encode(&watch), NOT_OURS).unwrap(), watch);
        }
    }

    fn refused_as<T: DeserializeOwned + std::fmt::Debug>(token: &str) -> bool {
        matches!(
            decode::<T>("t", token, NOT_OURS),
            Err(Error::InvalidArgument { ref field, .. }) if field == "t"
        )
    }
}
