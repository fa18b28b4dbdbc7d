//! A database's own retention over the fleet-wide policy of the `--retention-*` flags: the
//! `retention`, `retention_max_age` and `retention_max_rows` keys of its `[databases.NAME]` table
//! in the config file. A bound given replaces the flags' bound of that kind and a bound not given
//! keeps the flags'; `retention = false` turns retention off for that database whatever the flags
//! say. Its runner keeps the flags' pace (`--retention-interval`, `--retention-batch-size`,
//! `--retention-dry-run`), also when only the database gives a bound.

use std::time::Duration;

use super::{parse_duration, RetentionPolicy};

/// What one database's table says about its retention; the default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionOverride {
    /// `retention = false`: this database's rows are never deleted by dbosd.
    pub off: bool,
    pub max_age: Option<Duration>,
    pub max_rows: Option<i64>,
}

impl RetentionOverride {
    /// Reads and checks the keys of database `name`'s table, in the file's terms.
    pub fn parse(
        name: &str,
        retention: Option<bool>,
        max_age: Option<&str>,
        max_rows: Option<i64>,
    ) -> Result<RetentionOverride, String> {
        let bad = |why: String| format!("database {name:?}: {why}");
        let max_age = max_age
            .map(|a| parse_duration(a).map_err(|e| bad(format!("retention_max_age: {e}"))))
            .transpose()?;
        if max_age.is_some_and(|a| a.is_zero()) {
            return Err(bad("retention_max_age must be more than zero".to_owned()));
        }
        if max_rows.is_some_and(|n| n < 1) {
            return Err(bad("retention_max_rows must be at least 1".to_owned()));
        }
        let off = retention == Some(false);
        if off && (max_age.is_some() || max_rows.is_some()) {
            return Err(bad(
                "retention = false turns retention off; it takes no retention_max_age or retention_max_rows"
                    .to_owned(),
            ));
        }
        Ok(RetentionOverride {
            off,
            max_age,
            max_rows,
        })
    }

    /// The policy of a database with this table: over the flags' policy (`fleet`, `None` when the
    /// flags give no bound), at the flags' pace (`pace`) when only the table gives bounds.
    pub fn apply(
        &self,
        fleet: Option<&RetentionPolicy>,
        pace: &RetentionPolicy,
    ) -> Option<RetentionPolicy> {
        if self.off {
            return None;
        }
        let mut policy = fleet.unwrap_or(pace).clone();
        policy.max_age = self.max_age.or(policy.max_age);
        policy.max_rows = self.max_rows.or(policy.max_rows);
        policy.is_on().then_some(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> RetentionPolicy {
        RetentionPolicy {
            max_age: Some(Duration::from_secs(86_400)),
            interval: Duration::from_secs(60),
            ..RetentionPolicy::default()
        }
    }

    #[test]
    fn a_tables_bounds_replace_the_flags_and_false_turns_it_off() {
        let none = RetentionOverride::default();
        assert_eq!(none.apply(Some(&fleet()), &fleet()), Some(fleet()));
        assert_eq!(none.apply(None, &RetentionPolicy::default()), None);

        let rows = RetentionOverride::parse("b", None, None, Some(10)).unwrap();
        let mine = rows.apply(Some(&fleet()), &fleet()).unwrap();
        assert_eq!((mine.max_age, mine.max_rows), (fleet().max_age, Some(10)));
        // On for this database only, at the flags' pace.
        let pace = RetentionPolicy {
            interval: Duration::from_secs(7),
            ..RetentionPolicy::default()
        };
        let alone = rows.apply(None, &pace).unwrap();
        assert_eq!((alone.max_rows, alone.interval), (Some(10), pace.interval));

        let age = RetentionOverride::parse("b", Some(true), Some("2h"), None).unwrap();
        let shorter = age.apply(Some(&fleet()), &fleet()).unwrap();
        assert_eq!(shorter.max_age, Some(Duration::from_secs(7_200)));

        let off = RetentionOverride::parse("b", Some(false), None, None).unwrap();
        assert_eq!(off.apply(Some(&fleet()), &fleet()), None);

        for (retention, age, rows, says) in [
            (None, Some("soon"), None, "retention_max_age"),
            (None, Some("0s"), None, "more than zero"),
            (None, None, Some(0), "at least 1"),
            (Some(false), None, Some(5), "takes no"),
        ] {
            let err = RetentionOverride::parse("b", retention, age, rows).unwrap_err();
            assert!(err.contains(says) && err.contains("\"b\""), "{err}");
        }
    }
}
