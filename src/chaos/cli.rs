//! `polaris chaos`: runs a range of seeds and prints every broken invariant with its seed.

use std::process::ExitCode;
use std::time::Instant;

use super::seed::{ChaosConfig, run_batch};

/// Runs seeds `from..from + seeds` and prints one line per violation, then a summary.
pub async fn run_cli(
    seeds: u64,
    from: u64,
    threads: usize,
    verbose: bool,
) -> Result<ExitCode, String> {
    let started = Instant::now();
    let cfg = match std::env::var("POLARIS_CHAOS_PROFILE").as_deref() {
        Ok("hostile") => ChaosConfig::hostile(),
        _ => ChaosConfig::default(),
    };
    let reports = tokio::task::spawn_blocking(move || run_batch(from, seeds, threads, &cfg))
        .await
        .map_err(|e| format!("the chaos run ended abnormally: {e}"))?;

    let mut failed = 0;
    for report in &reports {
        if verbose {
            println!(
                "seed {}: {} | handled {} delayed {} lock-losses {} races {} duplicates {} \
                 reordered {} crashes {} | simulated {:?}",
                report.seed,
                report.statuses.join(","),
                report.stats.handled,
                report.stats.delayed,
                report.stats.lock_losses,
                report.stats.races,
                report.stats.duplicates,
                report.stats.reordered,
                report.crashes,
                report.simulated,
            );
        }
        if !report.passed() {
            failed += 1;
        }
        for violation in &report.violations {
            println!("FAIL seed {}: {violation}", report.seed);
        }
    }

    let handled: usize = reports.iter().map(|r| r.stats.handled).sum();
    println!(
        "{} seeds from {from}: {} passed, {failed} failed; {handled} messages in {:.1?}",
        reports.len(),
        reports.len() - failed,
        started.elapsed()
    );
    if failed > 0 {
        println!("reproduce one with: polaris chaos --seeds 1 --from <seed> --verbose");
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
