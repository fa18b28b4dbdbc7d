//! The one retry policy: exponential backoff, doubling from a floor to a ceiling, reset after a
//! success. Every retry loop (the hub's LISTEN connection and poller, a wait's re-read, waiting for
//! the database at startup, a local cluster coming up) takes its pauses from here.

use std::time::Duration;

/// Pauses of a retry loop: `min`, `2 * min`, ... up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Pauses from `min` doubling to at most `max`.
    pub const fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The pause before the next attempt; the one after it is twice as long (up to `max`).
    pub fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }

    /// The pause the next [`Backoff::pause`] returns, without taking it.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// After a success: the next failure is retried quickly again.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_ceiling_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(50), ms(300));
        let pauses: Vec<_> = (0..5).map(|_| b.pause()).collect();
        assert_eq!(pauses, [ms(50), ms(100), ms(200), ms(300), ms(300)]);
        b.reset();
        assert_eq!(b.pause(), ms(50));
    }
}
