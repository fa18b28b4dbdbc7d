//! The call's deadline, from where the RPC layer learns it (the caller's `grpc-timeout`, dbosd's
//! default deadline) down to the repository, which derives each statement's `statement_timeout`
//! from it. It rides in a task-local set around the call's future, so no function between the
//! handler and the SQL needs a parameter for it. Work spawned onto other tasks (a stream's body,
//! the enqueue slots that run statements shared by several callers) runs outside it, without a
//! deadline of any one caller.

use std::{future::Future, time::Duration};

use http::HeaderMap;
use tokio::{task::futures::TaskLocalFuture, time::Instant};

tokio::task_local! {
    static DEADLINE: Option<Instant>;
}

/// Most of a caller's deadline dbosd keeps for answering: the answer must reach the caller before
/// its own timer fires, else it learns only that time ran out (tonic clients report CANCELLED), not
/// why. A tenth of the time, at most this much.
const MAX_REPLY_MARGIN: Duration = Duration::from_millis(100);

/// Runs `call` with `deadline` as the deadline of the statements it runs.
pub fn scope<F: Future>(deadline: Option<Instant>, call: F) -> TaskLocalFuture<Option<Instant>, F> {
    DEADLINE.scope(deadline, call)
}

/// The deadline of the call the current task serves, if it has one.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok().flatten()
}

/// When dbosd must have answered a call whose request carries `headers`, arriving at `now`: the
/// caller's `grpc-timeout` less a reply margin. `None` when the caller set no (valid) timeout.
pub fn from_grpc_timeout(headers: &HeaderMap, now: Instant) -> Option<Instant> {
    let timeout = parse_grpc_timeout(headers.get("grpc-timeout")?.to_str().ok()?)?;
    let margin = (timeout / 10).min(MAX_REPLY_MARGIN);
    // A deadline past what an Instant can hold (the format allows ~11,000 years) is none.
    now.checked_add(timeout - margin)
}

/// A `grpc-timeout` value (gRPC over HTTP/2: at most 8 digits and a unit).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_per_the_spec_and_keep_a_reply_margin() {
        assert_eq!(parse_grpc_timeout("300m"), Some(Duration::from_millis(300)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("5u"), Some(Duration::from_micros(5)));
        for bad in ["", "m", "300", "3x", "-1m", "123456789m", "1.5S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
        let now = Instant::now();
        let mut headers = HeaderMap::new();
        headers.insert("grpc-timeout", "300m".parse().unwrap());
        let at = from_grpc_timeout(&headers, now).unwrap();
        assert_eq!(at - now, Duration::from_millis(270));
        headers.insert("grpc-timeout", "10S".parse().unwrap());
        let at = from_grpc_timeout(&headers, now).unwrap();
        assert_eq!(at - now, Duration::from_millis(9900));
        headers.insert("grpc-timeout", "99999999H".parse().unwrap());
        let _ = from_grpc_timeout(&headers, now);
        headers.insert("grpc-timeout", "soon".parse().unwrap());
        assert_eq!(from_grpc_timeout(&headers, now), None);
    }

    #[tokio::test]
    async fn the_deadline_is_seen_inside_its_scope_only() {
        let at = Instant::now() + Duration::from_secs(1);
        assert_eq!(scope(Some(at), async { current() }).await, Some(at));
        assert_eq!(current(), None);
    }
}
