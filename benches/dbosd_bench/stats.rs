//! Percentiles and the result table (printed, and written as JSON for machines).

use serde_json::{json, Value};

/// A named figure for the table and the JSON file.
pub struct Row {
    pub section: &'static str,
    pub metric: String,
    pub dbosd: String,
    pub baseline: String,
    pub json: Value,
}

/// p-th percentile (0..=100) of unsorted samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// "p50 / p95 / p99" in milliseconds.
pub fn pcts(samples: &[f64]) -> (String, Value) {
    let (p50, p95, p99) = (
        percentile(samples, 50.0),
        percentile(samples, 95.0),
        percentile(samples, 99.0),
    );
    (
        format!("{p50:.2} / {p95:.2} / {p99:.2} ms"),
        json!({"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "samples": samples.len()}),
    )
}

/// Prints the table.
pub fn print(rows: &[Row]) {
    let w0 = rows
        .iter()
        .map(|r| r.section.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let w1 = rows
        .iter()
        .map(|r| r.metric.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let w2 = rows.iter().map(|r| r.dbosd.len()).max().unwrap_or(0).max(5);
    println!(
        "| {:w0$} | {:w1$} | {:w2$} | baseline |",
        "section", "metric", "dbosd"
    );
    println!(
        "|{}|{}|{}|---|",
        "-".repeat(w0 + 2),
        "-".repeat(w1 + 2),
        "-".repeat(w2 + 2)
    );
    for r in rows {
        println!(
            "| {:w0$} | {:w1$} | {:w2$} | {} |",
            r.section, r.metric, r.dbosd, r.baseline
        );
    }
}
