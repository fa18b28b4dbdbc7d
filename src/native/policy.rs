//! Who may store raw native payloads and what they may contain: the operator switch
//! (`--allow-native-payloads`), the pickle global allowlist (`--native-allow-global`), and the
//! audit record of every raw native write.

use std::collections::HashSet;

/// The pickle globals dbosd lets through by default: the constructors protocol-4 pickles of the
/// values DBOS users pass in contexts name (checked against what CPython 3.11 emits: a datetime
/// names `datetime.datetime`, `datetime.timezone` and `datetime.timedelta`; a UUID `uuid.UUID`
/// with NEWOBJ and BUILD; a Decimal `decimal.Decimal`). Protocol 4 needs neither
/// `copyreg._reconstructor` nor `_codecs.encode` (protocols 0-2 do; add them with the flag if a
/// worker writes such pickles).
pub const DEFAULT_GLOBALS: &[&str] = &[
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
    "decimal.Decimal",
    "uuid.UUID",
];

/// The `module.name` pairs a pickle may name (split at the last dot, compared exactly: Python
/// resolves dotted names attribute by attribute, so `datetime` + `datetime.x` is not
/// `datetime.datetime`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist(HashSet<(String, String)>);

impl Default for Allowlist {
    fn default() -> Self {
        Self::with_extra(&[]).expect("the defaults are well-formed")
    }
}

impl Allowlist {
    /// The defaults plus `extra` (`module.name` each); an error names a malformed entry.
    pub fn with_extra(extra: &[String]) -> Result<Allowlist, String> {
        let mut set = HashSet::new();
        let defaults = DEFAULT_GLOBALS.iter().map(|s| s.to_string());
        for entry in defaults.chain(extra.iter().cloned()) {
            let pair = entry
                .rsplit_once('.')
                .filter(|(m, n)| {
                    let ident = |s: &str| {
                        !s.is_empty()
                            && s.split('.').all(|part| {
                                !part.is_empty()
                                    && !part.starts_with(|c: char| c.is_ascii_digit())
                                    && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                            })
                    };
                    ident(m) && ident(n)
                })
                .ok_or_else(|| {
                    format!("--native-allow-global {entry:?} is not of the form module.name")
                })?;
            set.insert((pair.0.to_owned(), pair.1.to_owned()));
        }
        Ok(Allowlist(set))
    }

    pub fn allows(&self, module: &str, name: &str) -> bool {
        self.0.contains(&(module.to_owned(), name.to_owned()))
    }
}

/// The operator's native-payload settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NativePolicy {
    /// `--allow-native-payloads`: callers may store raw native text (with a permitted token when
    /// tokens are on).
    pub allow_raw: bool,
    /// What pickles may name, written or read.
    pub allowlist: Allowlist,
}

/// How an operator turns raw native payloads on, and why they are off.
pub const HOW_TO_ENABLE: &str = "DBOS workers execute what they unpickle (Python) or deserialize \
    (TypeScript), so raw native text lets a caller run code on every worker that fires the \
    schedule. Give the context as context_typed or context_json instead (dbosd writes the native \
    format itself). An operator who accepts the risk starts dbosd with --allow-native-payloads \
    (DBOSD_ALLOW_NATIVE_PAYLOADS=true) and, with tokens on, grants the token \"native_payloads\": true";

/// A raw native write: who, through which RPC, to which schedule, and what the pickle names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeWrite {
    /// The token's name; `None` when tokens are off.
    pub principal: Option<String>,
    pub rpc: String,
    pub schedule: String,
    /// `python` or `typescript`.
    pub language: &'static str,
    /// The pickle globals (`module.name`) it names.
    pub globals: Vec<String>,
}

impl NativeWrite {
    /// The audit record of this write (tracing target `dbosd::audit`): `outcome` is `stored` once
    /// the row is written, or why it was refused.
    pub fn audit(&self, outcome: &str) {
        tracing::info!(
            target: crate::audit::TARGET,
            principal = self.principal.as_deref().unwrap_or(crate::audit::ANONYMOUS),
            rpc = self.rpc.as_str(),
            schedule = self.schedule.as_str(),
            language = self.language,
            native_globals = self.globals.join(",").as_str(),
            outcome,
            "raw native payload"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn native_writes_are_audited_on_the_audit_target() {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_target(true)
            .with_ansi(false)
            .finish();
        let write = NativeWrite {
            principal: Some("ops".to_owned()),
            rpc: "CreateSchedule".to_owned(),
            schedule: "nightly".to_owned(),
            language: "python",
            globals: vec![
                "datetime.datetime".to_owned(),
                "datetime.timezone".to_owned(),
            ],
        };
        tracing::subscriber::with_default(subscriber, || write.audit("stored"));
        let line = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        for needle in [
            "dbosd::audit",
            "principal=\"ops\"",
            "rpc=\"CreateSchedule\"",
            "schedule=\"nightly\"",
            "native_globals=\"datetime.datetime,datetime.timezone\"",
            "outcome=\"stored\"",
        ] {
            assert!(line.contains(needle), "{line} lacks {needle}");
        }
    }

    #[test]
    fn allowlist_matches_exact_pairs() {
        let allow = Allowlist::with_extra(&["myapp.models.Money".to_owned()]).unwrap();
        assert!(allow.allows("datetime", "datetime"));
        assert!(allow.allows("myapp.models", "Money"));
        assert!(!allow.allows("myapp", "models.Money"));
        assert!(!allow.allows("datetime", "datetime.fromisoformat"));
        assert!(!allow.allows("os", "system"));
        for bad in ["os", "os.", ".system", "a..b", "a.b c", "1x.y"] {
            assert!(Allowlist::with_extra(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
