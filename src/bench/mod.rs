//! `polaris bench`: the figures of issue 5, each printed as `name: value`.
//!
//! Figures come from simulated Azure: latencies are `LatencyProfile::realistic()` (Azure's
//! order of magnitude per operation kind) in virtual time, so the wall/critical-path ratio
//! measures only what the orchestrator adds; throughput runs with zero latency so it
//! measures the orchestrator's own cost per step.

mod baseline;
mod critical;
mod serve;
mod throughput;

use std::process::ExitCode;

use polaris_sim::LatencyProfile;

pub use baseline::{BaselineRun, run_python_baseline};
pub use critical::{CriticalPathRun, critical_path, early_polls, type_path};
pub use serve::{ServeRun, run as run_serve_bench};
pub use throughput::{ThroughputRun, rss_bytes, run as run_throughput};

use crate::chaos::specs::spec;

fn line(name: &str, value: impl std::fmt::Display) {
    println!("{name}: {value}");
}

/// Runs every benchmark (or those whose name contains `only`) and prints the figures.
pub async fn run_cli(only: Option<String>, deployments: usize) -> Result<ExitCode, String> {
    let wants = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    let planned = spec(true, true, true, "bench", 1);

    if wants("critical") || wants("python") {
        let run = critical::run(&planned, LatencyProfile::realistic(), false).await;
        let ratio = run.wall.as_secs_f64() / run.critical_path.as_secs_f64().max(f64::EPSILON);
        line("deploy_status", &run.status);
        line("deploy_wall_time_s", format!("{:.1}", run.wall.as_secs_f64()));
        line("critical_path_s", format!("{:.1}", run.critical_path.as_secs_f64()));
        line("wall_over_critical_path", format!("{ratio:.3}"));
        line("arm_requests_per_deployment", run.arm_requests);
        line("polls_earlier_than_retry_after", run.early_polls);

        let throttled = critical::run(&planned, LatencyProfile::realistic(), true).await;
        line("arm_requests_per_deployment_with_429", throttled.arm_requests);
        line("polls_earlier_than_retry_after_with_429", throttled.early_polls);

        if wants("python") {
            match run_python_baseline(&planned).await {
                Ok(base) => {
                    let (py, rs) =
                        (base.python_wall.as_secs_f64(), base.polaris_wall.as_secs_f64());
                    line("real_time_polaris_status", &base.polaris_status);
                    line("real_time_polaris_wall_time_s", format!("{rs:.1}"));
                    let critical = run.critical_path.as_secs_f64().max(f64::EPSILON);
                    line("real_time_wall_over_critical_path", format!("{:.3}", rs / critical));
                    line("python_sdk_wall_time_s", format!("{py:.1}"));
                    line("python_sdk_arm_requests", base.python_arm_requests);
                    line("python_sdk_over_polaris", format!("{:.3}", py / rs.max(1e-9)));
                }
                Err(e) => line("python_sdk_baseline", format!("skipped ({e})")),
            }
        }
    }

    if wants("throughput") {
        let run = throughput::run(deployments, 8).await;
        let steps = run.metrics.steps.max(1) as f64;
        line("concurrent_deployments", run.deployments);
        line("concurrent_deployments_succeeded", run.succeeded);
        line("saga_steps", run.metrics.steps);
        line("steps_per_second", format!("{:.0}", steps / run.elapsed.as_secs_f64()));
        line("state_bytes_per_deployment", run.state_bytes);
        let n = run.deployments.max(1) as u64;
        line("rss_bytes_per_inflight_deployment", run.rss_submitted_bytes / n);
        line("rss_peak_bytes_per_deployment_with_simulator", run.rss_delta_bytes / n);
        // The start message reads state twice (kick, then the start event) and writes once;
        // every step message after it is counted on its own.
        let n = run.deployments as f64;
        let per_step = |total: u64, start: f64| format!("{:.3}", (total as f64 - start) / steps);
        line("blob_reads_per_step", per_step(run.metrics.reads, 2.0 * n));
        line("blob_writes_per_step", per_step(run.metrics.writes, n));
        line("messages_per_step", per_step(run.metrics.sent, 0.0));
        line("start_message_reads_writes", "2/1");
        line("stale_or_busy_deliveries", run.metrics.stale + run.metrics.busy);
    }

    if wants("serve") {
        match tokio::task::spawn_blocking(serve::run).await {
            Ok(Ok(run)) => {
                let ms = run.start_to_ready.as_secs_f64() * 1000.0;
                line("serve_start_to_ready_ms", format!("{ms:.1}"));
                line("serve_idle_rss_bytes", run.idle_rss_bytes);
            }
            Ok(Err(e)) => line("serve_start_to_ready_ms", format!("failed ({e})")),
            Err(e) => return Err(format!("the serve benchmark ended abnormally: {e}")),
        }
    }
    Ok(ExitCode::SUCCESS)
}
