//! How big each section runs: the full run (the README's figures) or `--quick`, which runs every
//! section and prints every ratio in under three minutes, for a change's before/after.

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub quick: bool,
    /// How long each throughput measurement runs.
    pub window: Duration,
    /// Workflows in the table the read section lists and gets from.
    pub list_rows: i32,
    /// Idle AwaitWorkflow streams held open at once.
    pub idle_streams: usize,
    /// WatchWorkflows watchers held open at once.
    pub watchers: usize,
    /// Wake-up samples through dbosd and through the Python client.
    pub latency_samples: usize,
    pub python_samples: usize,
    /// Sequential single-caller calls per stage of the breakdown.
    pub breakdown_calls: usize,
}

impl Scale {
    /// `BENCH_IDLE_STREAMS` / `BENCH_WATCHERS` override the idle and watchers sizes (e.g. the full
    /// run's 100,000 streams inside a quick run, for a profiler).
    pub fn with_env_overrides(mut self) -> Scale {
        let get = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
        };
        if let Some(n) = get("BENCH_IDLE_STREAMS") {
            self.idle_streams = n;
        }
        if let Some(n) = get("BENCH_WATCHERS") {
            self.watchers = n;
        }
        self
    }

    pub fn full() -> Scale {
        Scale {
            quick: false,
            window: Duration::from_secs(5),
            list_rows: 1_000_000,
            idle_streams: 100_000,
            watchers: 1_000,
            latency_samples: 200,
            python_samples: 20,
            breakdown_calls: 3_000,
        }
    }

    pub fn quick() -> Scale {
        Scale {
            quick: true,
            window: Duration::from_millis(1500),
            list_rows: 100_000,
            idle_streams: 10_000,
            watchers: 200,
            latency_samples: 60,
            python_samples: 5,
            breakdown_calls: 600,
        }
    }
}
