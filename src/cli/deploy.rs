//! `deploy`, `plan`, `status` and `sim` on the embedded default.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use polaris_core::ids::DeploymentId;
use polaris_core::ports::StateStore;
use polaris_core::saga::{DeploymentStatus, SagaState, StepStatus};
use polaris_sim::{FaultPlan, LatencyProfile, OpTiming, SimConfig};

use super::output::{history_line, summary};
use crate::clock::SystemClock;
use crate::error::WorkerError;
use crate::runtime::{EmbeddedRuntime, RuntimeOptions, StateBackend, TimeMode};
use crate::worker::state_key;

/// Latencies for the CLI demo: Azure's order of magnitude, shortened so a run takes seconds.
fn demo_latency() -> LatencyProfile {
    let secs = |s: u64| OpTiming::lro(Duration::from_secs(s));
    LatencyProfile::realistic()
        .with("Microsoft.ContainerInstance/containerGroups:PUT", secs(6))
        .with("Microsoft.ContainerInstance/containerGroups:DELETE", secs(3))
        .with("Microsoft.Resources/resourceGroups:DELETE", secs(3))
}

fn read_spec(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read spec `{}`: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "spec `{}` is not valid JSON (line {}, column {}): {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

fn spec_error(path: &Path, err: WorkerError) -> String {
    match err {
        WorkerError::InvalidSpec(errors) => format!("spec `{}`: {errors}", path.display()),
        other => other.to_string(),
    }
}

pub async fn deploy(
    spec_path: &Path,
    state_dir: &Path,
    faults: Option<&Path>,
    json: bool,
    teardown: bool,
) -> Result<ExitCode, String> {
    let spec = read_spec(spec_path)?;
    let faults = match faults {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read fault plan `{}`: {e}", path.display()))?;
            FaultPlan::from_json(&text)
                .map_err(|e| format!("fault plan `{}`: {e}", path.display()))?
        }
        None => FaultPlan::default(),
    };

    let opts = RuntimeOptions {
        state: StateBackend::Disk(state_dir.to_path_buf()),
        time: TimeMode::Real,
        latency: demo_latency(),
        faults,
        // Shortened like the latencies: a capacity retry waits seconds here, minutes in Azure.
        saga: polaris_core::saga::SagaConfig {
            default_poll_secs: 1,
            capacity_retry_delay_secs: 10,
            ..Default::default()
        },
        ..RuntimeOptions::default()
    };
    let runtime = EmbeddedRuntime::start(opts).await.map_err(|e| e.to_string())?;
    let _workers = runtime.spawn_workers();
    // Re-kicks a deployment whose continuation was lost; harmless when nothing stalled.
    let _sweeper =
        runtime.spawn_sweeper(crate::sweeper::SweeperConfig::default(), Duration::from_secs(60));
    eprintln!("simulated Azure at {} (HTTPS, loopback)", runtime.sim.arm_endpoint());

    let accepted =
        runtime.app.deployments.submit(&spec, None).await.map_err(|e| spec_error(spec_path, e))?;
    let id = accepted.deployment_id.clone();
    eprintln!("deployment {id} accepted");
    let mut state = watch(&runtime, &id, !json).await?;

    if teardown && state.status == DeploymentStatus::Succeeded {
        eprintln!("tearing down {id}");
        runtime.app.deployments.teardown(&id).await.map_err(|e| e.to_string())?;
        state = watch(&runtime, &id, !json).await?;
    }

    if json {
        let text = serde_json::to_string_pretty(&state).map_err(|e| e.to_string())?;
        crate::outln!("{text}");
    } else {
        crate::out!("{}", summary(&state));
    }

    let ok = match state.status {
        DeploymentStatus::Succeeded => !teardown,
        DeploymentStatus::TornDown => teardown,
        _ => false,
    };
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Shows progress until the deployment is terminal.
async fn watch(
    runtime: &EmbeddedRuntime,
    id: &DeploymentId,
    show: bool,
) -> Result<SagaState, String> {
    let bar = if show { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("template"));
    bar.enable_steady_tick(Duration::from_millis(120));

    let mut shown = 0;
    loop {
        let state = runtime.app.deployments.get(id).await.map_err(|e| e.to_string())?;
        for entry in state.history.iter().skip(shown) {
            // indicatif draws nothing when stderr is not a terminal; print plainly then.
            if !show {
            } else if bar.is_hidden() {
                eprintln!("{}", history_line(entry));
            } else {
                bar.println(history_line(entry));
            }
        }
        shown = state.history.len();

        let running: BTreeSet<String> = state
            .steps
            .iter()
            .filter(|(_, s)| matches!(s.status, StepStatus::Running | StepStatus::Undoing))
            .map(|(n, _)| n.to_string())
            .collect();
        let done = state.steps.values().filter(|s| s.status == StepStatus::Succeeded).count();
        bar.set_message(format!(
            "{} - {done}/{} steps done - in flight: {}",
            state.status.as_str(),
            state.steps.len(),
            running.into_iter().collect::<Vec<_>>().join(", ")
        ));

        if state.status.is_terminal() {
            bar.finish_and_clear();
            return Ok(state);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn plan(spec_path: &Path, json: bool) -> Result<ExitCode, String> {
    let spec = read_spec(spec_path)?;
    let worker = offline_worker();
    let deployments = crate::deployments::Deployments {
        worker,
        tenant_id: "00000000-0000-0000-0000-000000000000".into(),
    };
    let (_, plan) = deployments.plan(&spec).map_err(|e| spec_error(spec_path, e))?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())?);
    } else {
        crate::out!("{}", polaris_core::plan::render::render_text(&plan));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn status(id: &DeploymentId, state_dir: &Path, json: bool) -> Result<ExitCode, String> {
    let store = crate::store::LocalDiskStore::new(state_dir.join("state"), Arc::new(SystemClock))
        .map_err(|e| e.to_string())?;
    let doc = store.get(&state_key(id)).await.map_err(|e| match e {
        polaris_core::ports::StoreError::NotFound { .. } => {
            format!("no deployment `{id}` in `{}`", state_dir.display())
        }
        other => other.to_string(),
    })?;
    let state: SagaState = serde_json::from_slice(&doc.body).map_err(|e| e.to_string())?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&state).map_err(|e| e.to_string())?);
    } else {
        for entry in &state.history {
            crate::outln!("{}", history_line(entry));
        }
        crate::outln!();
        crate::out!("{}", summary(&state));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn sim(ca_out: &Path) -> Result<ExitCode, String> {
    if let Some(dir) = ca_out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let config = SimConfig { latency: demo_latency(), ..SimConfig::default() };
    polaris_sim::run_forever(config, ca_out).await.map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// A worker that is never asked to do I/O: `plan` only validates and plans.
fn offline_worker() -> Arc<crate::worker::Worker> {
    use crate::queue::EmbeddedQueue;
    use crate::secrets::MemorySecretStore;
    use crate::store::MemoryStore;

    struct NoExecutor;
    #[async_trait::async_trait]
    impl polaris_core::ports::Executor for NoExecutor {
        async fn execute(
            &self,
            _: &polaris_core::action::Action,
            _: &polaris_core::action::ExecContext,
        ) -> polaris_core::action::Outcome {
            polaris_core::action::Outcome::Failed(polaris_core::action::StepFailure::new(
                polaris_core::action::FailureClass::Permanent,
                "Offline",
                "planning never executes actions",
            ))
        }
    }

    let clock: Arc<dyn crate::clock::Clock> = Arc::new(SystemClock);
    Arc::new(crate::worker::Worker {
        store: Arc::new(MemoryStore::new(clock.clone())),
        secrets: Arc::new(MemorySecretStore::new()),
        sender: Arc::new(EmbeddedQueue::new(clock.clone())),
        executor: Arc::new(NoExecutor),
        clock,
        saga: Default::default(),
        lease_secs: 30,
        action_timeout: Duration::from_secs(1),
        metrics: Default::default(),
        crash: None,
    })
}
