//! Bearer-token authentication and the scopes tokens grant. Tokens come from a JSON file (a mounted
//! Secret); each names the applications (and optionally queues) whose workflows it may touch. Only
//! SHA-256 digests of tokens are kept in memory, and no token is ever logged.

pub mod layer;
pub mod policy;
pub mod rate_limit;

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::Arc,
};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tonic::{Code, Status};

use self::rate_limit::{Bucket, RateLimit};
use crate::model::Scope;

/// The caller a valid token identifies.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's name from the file (safe to log; the token itself never is).
    pub name: String,
    pub scope: Scope,
    /// Whether it may store raw native payloads (schedule `context_native_text`) when the operator
    /// switch `--allow-native-payloads` is on; from the token file's `native_payloads`.
    pub native_payloads: bool,
    /// The databases it may use (`databases` in the file); within each, `scope` applies.
    pub databases: DatabaseGrant,
}

/// Which of the served databases a token may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseGrant {
    /// `databases` absent: the default database only, so a token file written before dbosd served
    /// several databases grants exactly what it did.
    DefaultOnly,
    /// `["*"]`: every database, including ones added later.
    All,
    /// These names.
    Named(Vec<String>),
}

impl DatabaseGrant {
    /// Whether the database `name` (the default one when `is_default`) may be used.
    pub fn allows(&self, name: &str, is_default: bool) -> bool {
        match self {
            DatabaseGrant::DefaultOnly => is_default,
            DatabaseGrant::All => true,
            DatabaseGrant::Named(names) => names.iter().any(|n| n == name),
        }
    }
}

/// The tokens loaded from the file.
pub struct Tokens {
    entries: Vec<(/* SHA-256 of the token */ [u8; 32], Arc<Principal>)>,
    /// The rate limits of the tokens that have one, by token name.
    rate_limits: HashMap<String, Bucket>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    /// The token itself...
    token: Option<String>,
    /// ...or its SHA-256 in hex, so the file need not hold the secret.
    token_sha256: Option<String>,
    /// Application names, or `["*"]` for all.
    applications: Vec<String>,
    /// Queue names; absent for all.
    queues: Option<Vec<String>>,
    /// May store raw native payloads (pickles, superjson) when the server allows them; default false.
    #[serde(default)]
    native_payloads: bool,
    /// Requests per second (with a burst) this token may make; absent for no limit.
    rate_limit: Option<RateLimit>,
    /// Database names, or `["*"]` for all; absent for the default database only.
    databases: Option<Vec<String>>,
}

impl Tokens {
    /// Reads and checks a token file; errors name the entry, never its token.
    pub fn load(path: &Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read tokens file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("tokens file {}: {e}", path.display()))
    }

    /// Parses the JSON text of a token file.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let file: TokenFile = serde_json::from_str(text).map_err(|e| {
            // serde's message may quote a value; keep only where it went wrong.
            format!(
                "not a valid token file (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        let mut names = HashSet::new();
        let mut entries = Vec::with_capacity(file.tokens.len());
        let mut rate_limits = HashMap::new();
        for entry in file.tokens {
            let name = entry.name.clone();
            if !names.insert(name.clone()) {
                return Err(format!("token name {name:?} appears twice"));
            }
            let digest = match (&entry.token, &entry.token_sha256) {
                (Some(token), None) if !token.is_empty() => sha256(token),
                (None, Some(hex)) => parse_digest(hex)
                    .ok_or(format!("token {name:?}: token_sha256 is not 64 hex digits"))?,
                _ => {
                    return Err(format!(
                        "token {name:?}: give exactly one of token and token_sha256"
                    ))
                }
            };
            if entry.applications.is_empty() {
                return Err(format!(
                    "token {name:?}: applications must name at least one (or \"*\")"
                ));
            }
            if let Some(limit) = entry.rate_limit {
                let bucket =
                    Bucket::new(limit).map_err(|e| format!("token {name:?}: rate_limit: {e}"))?;
                rate_limits.insert(name.clone(), bucket);
            }
            let databases = match entry.databases {
                None => DatabaseGrant::DefaultOnly,
                Some(names) if names.is_empty() => {
                    return Err(format!(
                        "token {name:?}: databases must name at least one (or \"*\"), or be left out for the default database"
                    ))
                }
                Some(names) if names.iter().any(|n| n == "*") => DatabaseGrant::All,
                Some(names) => DatabaseGrant::Named(names),
            };
            let all_apps = entry.applications.iter().any(|a| a == "*");
            let scope = Scope {
                applications: (!all_apps).then_some(entry.applications),
                queues: entry.queues,
            };
            entries.push((
                digest,
                Arc::new(Principal {
                    name,
                    scope,
                    native_payloads: entry.native_payloads,
                    databases,
                }),
            ));
        }
        if entries.is_empty() {
            return Err("no tokens".to_owned());
        }
        Ok(Tokens {
            entries,
            rate_limits,
        })
    }

    /// Admits one call of `principal` under its token's rate limit, or answers RESOURCE_EXHAUSTED
    /// with the time until the token may call again as the retry pushback.
    pub fn admit(&self, principal: &Principal) -> Result<(), Status> {
        let Some(bucket) = self.rate_limits.get(&principal.name) else {
            return Ok(());
        };
        bucket.take().map_err(|wait| {
            // Rounded up: a client that waits the pushback finds a request in the bucket.
            let wait = wait + std::time::Duration::from_micros(999);
            let message = format!(
                "token {:?} is over its rate limit ({}); retry in {} ms",
                principal.name,
                bucket.describe(),
                wait.as_millis()
            );
            crate::error::status_with_pushback(Code::ResourceExhausted, message, wait)
        })
    }

    /// The principal of a presented token, if it is one of ours.
    pub fn authenticate(&self, token: &str) -> Option<Arc<Principal>> {
        let presented = sha256(token);
        // Compare every digest in full, so timing says nothing about which (or how much) matched.
        let mut found = None;
        for (digest, principal) in &self.entries {
            if constant_time_eq(digest, &presented) {
                found = Some(Arc::clone(principal));
            }
        }
        found
    }
}

fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_scopes_and_bad_files_say_why_without_the_secret() {
        let digest = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"; // "secret"
        let tokens = Tokens::parse(&format!(
            r#"{{"tokens": [
                {{"name": "billing", "token": "b-tok", "applications": ["billing"], "queues": ["invoices"]}},
                {{"name": "ops", "token_sha256": "{digest}", "applications": ["*"]}}
            ]}}"#
        ))
        .unwrap();
        let billing = tokens.authenticate("b-tok").unwrap();
        assert_eq!(billing.name, "billing");
        assert!(billing.scope.allows(Some("billing"), Some("invoices")));
        assert!(!billing.scope.allows(Some("billing"), Some("other")));
        assert!(!billing.scope.allows(Some("shipping"), Some("invoices")));
        assert!(!billing.scope.allows(None, Some("invoices")));
        let ops = tokens.authenticate("secret").unwrap();
        assert!(!ops.scope.is_restricted());
        assert!(!ops.native_payloads, "off unless the file grants it");
        assert!(tokens.authenticate("b-tok ").is_none());
        // Without `databases`, the default database only (what a token file always meant).
        assert!(billing.databases.allows("default", true));
        assert!(!billing.databases.allows("orders", false));
        let bound = Tokens::parse(
            r#"{"tokens": [{"name": "a", "token": "t", "applications": ["*"], "databases": ["orders"]},
                           {"name": "b", "token": "u", "applications": ["*"], "databases": ["*"]}]}"#,
        )
        .unwrap();
        let a = bound.authenticate("t").unwrap();
        assert!(a.databases.allows("orders", false) && !a.databases.allows("default", true));
        assert!(bound
            .authenticate("u")
            .unwrap()
            .databases
            .allows("any", false));
        let none = r#"{"tokens": [{"name": "a", "token": "leaked", "applications": ["x"], "databases": []}]}"#;
        let err = Tokens::parse(none).err().unwrap();
        assert!(
            err.contains("databases") && !err.contains("leaked"),
            "{err}"
        );

        let twice = r#"{"tokens": [{"name": "a", "token": "leaked-1", "applications": ["x"]},
                                   {"name": "a", "token": "leaked-2", "applications": ["x"]}]}"#;
        let err = Tokens::parse(twice).err().unwrap();
        assert!(
            err.contains("appears twice") && !err.contains("leaked"),
            "{err}"
        );
        let both = r#"{"tokens": [{"name": "a", "token": "leaked", "token_sha256": "00", "applications": ["x"]}]}"#;
        let err = Tokens::parse(both).err().unwrap();
        assert!(
            err.contains("exactly one") && !err.contains("leaked"),
            "{err}"
        );
        let typo = r#"{"tokens": [{"name": "a", "tokn": "leaked", "applications": ["x"]}]}"#;
        let err = Tokens::parse(typo).err().unwrap();
        assert!(!err.contains("leaked"), "{err}");
    }
}
