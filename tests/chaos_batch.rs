//! The CI batch of the deterministic simulation: every seed must hold every invariant.

use polaris::chaos::{ChaosConfig, SeedReport, run_batch};

/// Seeds in the CI batch; sized so the batch takes a few minutes on two cores.
const CI_SEEDS: u64 = 300;

fn describe(failed: &[&SeedReport]) -> String {
    let mut text = String::new();
    for report in failed {
        for v in &report.violations {
            text.push_str(&format!("seed {}: {v}\n", report.seed));
        }
    }
    text
}

#[test]
fn chaos_batch_holds_every_invariant() {
    let count = std::env::var("POLARIS_CHAOS_SEEDS").ok().and_then(|s| s.parse().ok());
    let reports = run_batch(1, count.unwrap_or(CI_SEEDS), 2, &ChaosConfig::default());
    let failed: Vec<&SeedReport> = reports.iter().filter(|r| !r.passed()).collect();
    let handled: usize = reports.iter().map(|r| r.stats.handled).sum();
    let crashes: u64 = reports.iter().map(|r| r.crashes).sum();
    for r in &reports {
        eprintln!(
            "seed {}: {:?} {:?} sim {:?} real {:?}",
            r.seed, r.statuses, r.stats, r.simulated, r.elapsed
        );
    }
    eprintln!("{} seeds, {handled} messages, {crashes} crashes", reports.len());
    let logged: usize = reports.iter().map(|r| r.log_bytes).sum();
    assert!(logged > 0, "the canary check read no log output");
    assert!(failed.is_empty(), "{} failing seed(s):\n{}", failed.len(), describe(&failed));
}
