//! What the kernel's scheduler says a set of processes spent: time on a CPU, time runnable but
//! waiting for one, and context switches, summed over their threads (`/proc/PID/task/*/schedstat`
//! and `status`). Read before and after a measured stretch of calls, it splits a call's latency by
//! process without changing what runs: on this machine the client, dbosd and PostgreSQL take turns
//! on two cores, so a call costs about the CPU each of them spends on it, plus the wake-ups.

use std::ops::Sub;

/// Totals of one or more processes at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sched {
    /// Nanoseconds on a CPU.
    pub cpu_ns: u64,
    /// Nanoseconds runnable but waiting for a CPU (another process held it).
    pub wait_ns: u64,
    /// Voluntary (went to sleep) plus involuntary (preempted) context switches.
    pub switches: u64,
}

impl Sched {
    /// The totals of every thread of every process in `pids` (a process gone counts nothing).
    pub fn of(pids: &[u32]) -> Sched {
        pids.iter()
            .map(|&pid| process(pid))
            .fold(Sched::default(), |a, b| Sched {
                cpu_ns: a.cpu_ns + b.cpu_ns,
                wait_ns: a.wait_ns + b.wait_ns,
                switches: a.switches + b.switches,
            })
    }

    /// Microseconds on a CPU per call, over `calls`.
    pub fn cpu_us(&self, calls: usize) -> f64 {
        self.cpu_ns as f64 / 1e3 / calls as f64
    }

    /// Microseconds waiting for a CPU per call, over `calls`.
    pub fn wait_us(&self, calls: usize) -> f64 {
        self.wait_ns as f64 / 1e3 / calls as f64
    }

    /// Context switches per call, over `calls`.
    pub fn switches_per(&self, calls: usize) -> f64 {
        self.switches as f64 / calls as f64
    }
}

impl Sub for Sched {
    type Output = Sched;

    fn sub(self, before: Sched) -> Sched {
        Sched {
            cpu_ns: self.cpu_ns.saturating_sub(before.cpu_ns),
            wait_ns: self.wait_ns.saturating_sub(before.wait_ns),
            switches: self.switches.saturating_sub(before.switches),
        }
    }
}

fn process(pid: u32) -> Sched {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Sched::default();
    };
    let mut total = Sched::default();
    for task in tasks.flatten() {
        let dir = task.path();
        let schedstat = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
        let mut fields = schedstat
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        total.cpu_ns += fields.next().unwrap_or(0);
        total.wait_ns += fields.next().unwrap_or(0);
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        total.switches += status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    total
}
