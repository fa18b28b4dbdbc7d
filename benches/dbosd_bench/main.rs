//! dbosd benchmark: starts its own PostgreSQL and the dbosd release binary and prints one table of
//! figures measured in the same run, each next to its baseline, and writes them to
//! `target/bench-results.json`. Run with `cargo bench --bench dbosd_bench` (see README).
//!
//! Sections can be picked: `cargo bench --bench dbosd_bench -- latency enqueue reads idle fleet`.

mod fleet;
mod idle;
mod latency;
mod reads;
mod setup;
mod stats;
mod throughput;

use serde_json::json;

use setup::BenchResult;

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    let env = setup::Env::start().await?;
    let mut rows = Vec::new();
    if wants("latency") {
        rows.extend(latency::run(&env, 200, 20).await?);
    }
    // Not part of the full run: load for a profiler (`-- profile-enqueue`).
    if args.iter().any(|a| a == "profile-enqueue") {
        throughput::load_only(&env).await?;
        env.stop().await;
        return Ok(());
    }
    if wants("enqueue") {
        rows.extend(throughput::run(&env).await?);
    }
    if wants("reads") {
        rows.extend(reads::run(&env, 1_000_000).await?);
    }
    if wants("idle") {
        rows.extend(idle::run(&env, 10_000).await?);
    }
    if wants("fleet") {
        rows.extend(fleet::run(&env).await?);
    }
    stats::print(&rows);
    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::env::consts::ARCH
    );
    let results = json!({
        "machine": machine,
        "results": rows.iter().map(|r| json!({"section": r.section, "metric": r.metric, "values": r.json})).collect::<Vec<_>>(),
    });
    let path = setup::root().join("target/bench-results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    println!("\nwrote {}", path.display());
    env.stop().await;
    Ok(())
}
