//! dbosd benchmark: starts its own PostgreSQL and the dbosd release binary and prints one table of
//! figures measured in the same run, each next to its baseline, and writes them to
//! `target/bench-results.json`. Run with `cargo bench --profile dist --bench dbosd_bench` (the
//! shipped build; see README).
//!
//! Sections can be picked: `cargo bench --bench dbosd_bench -- latency enqueue breakdown large
//! durable reads idle watchers replicas fleet`. `-- --quick` runs every section smaller (under three minutes)
//! and still prints every ratio: the before/after of a change. The full run gives the README's table.

mod breakdown;
mod durable;
mod fleet;
mod idle;
mod large;
mod latency;
mod polltime;
mod reads;
mod replicas;
mod scale;
mod sched;
mod setup;
mod stats;
mod throughput;

use serde_json::json;

use scale::Scale;
use setup::{BenchResult, Disk};

#[tokio::main]
async fn main() -> BenchResult<()> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let scale = match all.iter().any(|a| a == "--quick") {
        true => Scale::quick(),
        false => Scale::full(),
    }
    .with_env_overrides();
    let args: Vec<String> = all.into_iter().filter(|a| !a.starts_with('-')).collect();
    let wants = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    let started = std::time::Instant::now();
    let env = setup::Env::start(Disk::Fast).await?;
    let mut rows = Vec::new();
    if wants("latency") {
        rows.extend(latency::run(&env, scale.latency_samples, scale.python_samples).await?);
    }
    // Not part of the full run: load for a profiler (`-- profile-enqueue`, 16 callers, or
    // `-- profile-enqueue-1`, one).
    if let Some(a) = args.iter().find(|a| a.starts_with("profile-enqueue")) {
        let clients = if a.ends_with("-1") { 1 } else { 16 };
        throughput::load_only(&env, clients).await?;
        env.stop().await;
        return Ok(());
    }
    if wants("enqueue") {
        rows.extend(throughput::run(&env, scale.window).await?);
    }
    if wants("breakdown") {
        rows.extend(breakdown::run(&env, scale).await?);
    }
    if wants("large") {
        rows.extend(large::run(&env, scale.window).await?);
    }
    if wants("durable") {
        rows.extend(durable::run(scale.window).await?);
    }
    if wants("reads") {
        rows.extend(reads::run(&env, scale.list_rows, scale.window).await?);
    }
    if wants("replicas") {
        rows.extend(replicas::run(&env, scale.window, scale.latency_samples / 2).await?);
    }
    if wants("idle") {
        rows.extend(idle::streams(&env, scale.idle_streams).await?);
    }
    if wants("watchers") {
        rows.extend(idle::watchers(&env, scale.watchers).await?);
    }
    if wants("fleet") {
        rows.extend(fleet::run(&env).await?);
    }
    stats::print(&rows);
    println!(
        "\n{} run in {:.0} s",
        if scale.quick { "quick" } else { "full" },
        started.elapsed().as_secs_f64()
    );
    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::env::consts::ARCH
    );
    let results = json!({
        "machine": machine,
        "quick": scale.quick,
        "results": rows.iter().map(|r| json!({"section": r.section, "metric": r.metric, "values": r.json})).collect::<Vec<_>>(),
    });
    let path = setup::root().join("target/bench-results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    println!("\nwrote {}", path.display());
    env.stop().await;
    Ok(())
}
