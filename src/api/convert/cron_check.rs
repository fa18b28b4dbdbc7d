//! Guards for schedule cron expressions and time zones, which arrive from callers and are parsed
//! and searched by `croner`/`chrono-tz`: bounded length, printable ASCII, DBOS's field count, and
//! a next firing that croner finds within its own search limit (an expression that can never fire,
//! such as February 30th, is refused instead of being searched on every tick). Tested below with
//! proptest and a checked-in corpus of adversarial expressions; no input panics or hangs.

use std::str::FromStr;

use chrono::Datelike;

use crate::error::{Error, Result};

/// Longest cron expression accepted: DBOS's longest sensible one (six fields of lists and ranges)
/// is well under this.
pub const MAX_CRON_CHARS: usize = 256;
/// Longest IANA time zone name accepted (the longest real one is about 30 characters).
pub const MAX_TIMEZONE_CHARS: usize = 64;

/// Checks a cron expression as DBOS reads it (5 fields, or 6 with seconds first) before anything
/// parses or searches it.
pub fn validate_cron(field: &str, cron: &str) -> Result<croner::Cron> {
    if cron.len() > MAX_CRON_CHARS {
        return Err(Error::invalid(
            field,
            format!(
                "is {} characters; the limit is {MAX_CRON_CHARS}",
                cron.len()
            ),
        ));
    }
    if let Some(c) = cron.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        return Err(Error::invalid(
            field,
            format!(
                "has the character {c:?}; cron expressions are printable ASCII separated by spaces"
            ),
        ));
    }
    let fields = cron.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(Error::invalid(
            field,
            format!("needs 5 fields, or 6 with seconds first (got {fields})"),
        ));
    }
    let parsed = croner::Cron::new(cron)
        .with_seconds_optional()
        .parse()
        .map_err(|e| Error::invalid(field, format!("is not a valid cron expression: {e}")))?;
    if !fires(&parsed) {
        return Err(Error::invalid(field, "never fires (no time matches it)"));
    }
    Ok(parsed)
}

/// Whether the pattern matches any time. croner's own search for the next firing walks up to year
/// 5000 and takes minutes on an empty field (`,,,, * * * *` parses to no minutes), so this checks
/// each field's bits instead, and the days over 28 years: the Gregorian calendar's day-of-week and
/// leap-year cycle, within which every month/day/weekday combination that ever occurs does.
fn fires(cron: &croner::Cron) -> bool {
    let p = &cron.pattern;
    let any =
        |range: std::ops::Range<u32>, matches: &dyn Fn(u32) -> bool| range.into_iter().any(matches);
    let clock = any(0..60, &|s| p.second_match(s).unwrap_or(false))
        && any(0..60, &|m| p.minute_match(m).unwrap_or(false))
        && any(0..24, &|h| p.hour_match(h).unwrap_or(false));
    clock && {
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        start
            .iter_days()
            .take(28 * 366)
            .filter(|d| p.month_match(d.month()).unwrap_or(false))
            .any(|d| p.day_match(d.year(), d.month(), d.day()).unwrap_or(false))
    }
}

/// Checks an IANA time zone name.
pub fn validate_timezone(field: &str, name: &str) -> Result<chrono_tz::Tz> {
    if name.chars().count() > MAX_TIMEZONE_CHARS {
        return Err(Error::invalid(
            field,
            format!("is longer than {MAX_TIMEZONE_CHARS} characters; no IANA time zone is"),
        ));
    }
    chrono_tz::Tz::from_str(name)
        .map_err(|_| Error::invalid(field, format!("{name:?} is not an IANA time zone")))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use proptest::prelude::*;

    use super::*;

    /// Longest a single check may take: croner's search is bounded, and so must be ours.
    const BUDGET: Duration = Duration::from_secs(2);

    fn checked(cron: &str) -> Result<croner::Cron> {
        let started = Instant::now();
        let result = validate_cron("cron", cron);
        assert!(
            started.elapsed() < BUDGET,
            "{cron:?} took {:?}",
            started.elapsed()
        );
        match &result {
            // What is accepted, croner can search (the schedule firing path does) in time.
            Ok(parsed) => {
                let from = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
                let started = Instant::now();
                assert!(
                    parsed.find_next_occurrence(&from, false).is_ok(),
                    "{cron:?}"
                );
                assert!(
                    started.elapsed() < BUDGET,
                    "{cron:?} search took {:?}",
                    started.elapsed()
                );
            }
            Err(Error::InvalidArgument { field, .. }) => assert_eq!(field, "cron"),
            Err(other) => panic!("{cron:?}: {other:?}"),
        }
        result
    }

    /// The checked-in corpus: `ok <expr>` lines must be accepted, `bad <expr>` lines refused.
    #[test]
    fn the_adversarial_corpus_is_refused_quickly() {
        let corpus = include_str!("corpus/cron.txt");
        let mut seen = 0;
        for line in corpus
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (verdict, cron) = line.split_once(' ').unwrap_or((line, ""));
            let cron = cron.replace("\\t", "\t").replace("\\0", "\0");
            match verdict {
                "ok" => assert!(checked(&cron).is_ok(), "{cron:?} refused"),
                "bad" => assert!(checked(&cron).is_err(), "{cron:?} accepted"),
                other => panic!("bad verdict {other:?}"),
            }
            seen += 1;
        }
        assert!(seen > 20);
        let long = "1,".repeat(MAX_CRON_CHARS) + "2 * * * *";
        assert!(checked(&long).is_err());
    }

    #[test]
    fn time_zones_are_bounded() {
        assert!(validate_timezone("cron_timezone", "America/New_York").is_ok());
        for bad in ["", "Mars/Olympus", "UTC\0", &"A/".repeat(1000)] {
            assert!(matches!(
                validate_timezone("cron_timezone", bad),
                Err(Error::InvalidArgument { .. })
            ));
        }
    }

    fn cron_field() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("*".to_owned()),
            "[0-9]{1,3}",
            "[0-9]{1,2}-[0-9]{1,2}",
            "\\*/[0-9]{1,3}",
            "[0-9]{1,2}(,[0-9]{1,2}){0,5}",
            "[A-Za-z]{3}",
            "[0-9L#W?/,*-]{1,6}",
            any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn cron_like_expressions_check_quickly_without_panicking(
            fields in prop::collection::vec(cron_field(), 4..8)
        ) {
            let _ = checked(&fields.join(" "));
        }

        #[test]
        fn any_text_checks_quickly_without_panicking(cron in any::<String>()) {
            let _ = checked(&cron);
        }

        #[test]
        fn any_time_zone_text_is_a_zone_or_invalid(name in any::<String>()) {
            let _ = validate_timezone("cron_timezone", &name);
        }
    }
}
