//! Per-token rate limits, like Temporal's per-namespace ones: a token whose entry in the tokens
//! file has `"rate_limit": {"requests_per_second": 50, "burst": 100}` gets a token bucket that
//! holds `burst` requests and refills at `requests_per_second`. A call that finds it empty is
//! answered RESOURCE_EXHAUSTED with a retry pushback of when the bucket next holds a request; other
//! tokens are unaffected. A bucket is a few numbers behind a mutex held for a few instructions, so
//! this needs no crate of its own.

use std::{sync::Mutex, time::Duration};

use serde::Deserialize;
use tokio::time::Instant;

/// A token's limit, as the tokens file gives it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub requests_per_second: f64,
    /// Requests allowed at once after a quiet spell (default: one second's worth, at least 1).
    pub burst: Option<u32>,
}

/// One token's bucket.
#[derive(Debug)]
pub struct Bucket {
    per_second: f64,
    burst: f64,
    state: Mutex<Fill>,
}

#[derive(Debug)]
struct Fill {
    requests: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket for `limit`, or why the limit is unusable.
    pub fn new(limit: RateLimit) -> Result<Bucket, String> {
        let per_second = limit.requests_per_second;
        if !per_second.is_finite() || per_second <= 0.0 {
            return Err("requests_per_second must be a positive number".to_owned());
        }
        let burst = match limit.burst {
            Some(0) => return Err("burst must be at least 1".to_owned()),
            Some(b) => f64::from(b),
            None => per_second.ceil().max(1.0),
        };
        Ok(Bucket {
            per_second,
            burst,
            state: Mutex::new(Fill {
                requests: burst,
                at: Instant::now(),
            }),
        })
    }

    /// Takes one request's worth, or says how long until there is one.
    pub fn take(&self) -> Result<(), Duration> {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> Result<(), Duration> {
        let mut fill = crate::sync::lock_unpoisoned(&self.state);
        let refill = now.saturating_duration_since(fill.at).as_secs_f64() * self.per_second;
        fill.requests = (fill.requests + refill).min(self.burst);
        fill.at = now;
        if fill.requests >= 1.0 {
            fill.requests -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64(
            (1.0 - fill.requests) / self.per_second,
        ))
    }

    /// The limit, for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} requests/s, burst {}",
            self.per_second, self.burst as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate_and_says_when() {
        let bucket = Bucket::new(RateLimit {
            requests_per_second: 10.0,
            burst: Some(3),
        })
        .unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(bucket.take_at(start).is_ok());
        }
        let wait = |taken: Result<(), Duration>| taken.unwrap_err().as_secs_f64();
        assert!((wait(bucket.take_at(start)) - 0.1).abs() < 1e-6);
        let later = start + Duration::from_millis(40);
        assert!((wait(bucket.take_at(later)) - 0.06).abs() < 1e-6);
        assert!(bucket.take_at(start + Duration::from_millis(100)).is_ok());
        // A long quiet spell refills to the burst, no further.
        let quiet = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(bucket.take_at(quiet).is_ok());
        }
        assert!(bucket.take_at(quiet).is_err());
    }

    #[test]
    fn unusable_limits_are_refused() {
        let limit = |requests_per_second, burst| RateLimit {
            requests_per_second,
            burst,
        };
        assert!(Bucket::new(limit(0.0, None)).is_err());
        assert!(Bucket::new(limit(f64::NAN, None)).is_err());
        assert!(Bucket::new(limit(5.0, Some(0))).is_err());
        assert_eq!(Bucket::new(limit(0.5, None)).unwrap().burst, 1.0);
    }
}
