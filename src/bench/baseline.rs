//! The baseline a user would write instead: the same plan deployed by a plain sequential
//! Python script using Microsoft's SDK, against its own simulator with the same latencies,
//! compared with Polaris deploying the spec in real time on the embedded runtime.
//!
//! The interpreter is `$POLARIS_PYTHON` (default `python3`, which needs `azure-mgmt-resource`
//! and `azure-core`), the script `$POLARIS_BASELINE_SCRIPT` (default
//! `scripts/baseline_python.py`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use polaris_core::plan::model::{ArmResource, StepKind};
use polaris_core::saga::topological_order;
use polaris_core::spec::parse_spec_value;
use polaris_sim::{LatencyProfile, SimConfig, Simulator};
use serde_json::{Value, json};

use crate::chaos::specs::PlannedDeployment;
use crate::runtime::{EmbeddedRuntime, RuntimeOptions, StateBackend, TimeMode};

#[derive(Clone, Debug)]
pub struct BaselineRun {
    /// Polaris, real time, same latencies.
    pub polaris_wall: Duration,
    pub polaris_status: String,
    /// The Python script's own measurement (interpreter start-up excluded).
    pub python_wall: Duration,
    pub python_arm_requests: usize,
}

fn arm_step(name: &str, arm: &ArmResource) -> Value {
    json!({
        "name": name, "kind": "arm", "id": arm.id, "api_version": arm.api_version,
        "body": arm.body, "outputs": arm.outputs,
    })
}

/// Deploys `planned` with Polaris and with the Python script, both in real time.
pub async fn run_python_baseline(planned: &PlannedDeployment) -> Result<BaselineRun, String> {
    let latency = LatencyProfile::realistic();
    let (polaris_wall, polaris_status) = polaris_real_time(planned, latency.clone()).await?;

    let sim = Simulator::start(SimConfig { latency: latency.clone(), ..SimConfig::default() })
        .await
        .map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("polaris-baseline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let ca_path = dir.join("sim-ca.pem");
    std::fs::write(&ca_path, sim.ca_certificate_pem()).map_err(|e| e.to_string())?;

    let spec = parse_spec_value(&planned.spec).map_err(|e| e.to_string())?;
    let secrets: serde_json::Map<String, Value> = spec
        .secrets()
        .into_iter()
        .filter_map(|(k, s)| s.expose().map(|v| (k, Value::from(v))))
        .collect();
    let runtime =
        EmbeddedRuntime::start(RuntimeOptions::default()).await.map_err(|e| e.to_string())?;
    let (_, plan) = runtime.app.deployments.plan(&planned.spec).map_err(|e| e.to_string())?;
    let mut steps = Vec::new();
    for name in topological_order(&plan).map_err(|e| e.to_string())? {
        let step = plan.step(&name).expect("ordered steps exist");
        let name = name.as_str();
        steps.push(match &step.kind {
            StepKind::Arm(arm) => arm_step(name, arm),
            StepKind::Vault(v) => arm_step(name, &v.arm),
            StepKind::Key(k) => arm_step(name, &k.arm),
            StepKind::HealthCheck(h) => json!({
                "name": name, "kind": "health_check", "host": h.host, "port": h.port,
                "health_path": h.health_path,
            }),
            StepKind::Verify(_) => continue,
        });
    }
    let input = json!({
        "endpoint": sim.arm_endpoint(),
        "ca_path": ca_path,
        "subscription_id": plan.subscription_id,
        "poll_interval_secs": latency.poll_retry_after.unwrap_or(1),
        "secrets": secrets,
        "steps": steps,
    });
    let input_path = dir.join("input.json");
    std::fs::write(&input_path, input.to_string()).map_err(|e| e.to_string())?;

    let python = std::env::var("POLARIS_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = std::env::var("POLARIS_BASELINE_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("scripts/baseline_python.py"));
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(&input_path)
        .output()
        .await
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or_default().to_owned();
        return Err(format!("the Python baseline failed: {last}"));
    }
    let answer: Value = serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let secs = answer["wall_secs"].as_f64().ok_or("the baseline printed no wall time")?;
    Ok(BaselineRun {
        polaris_wall,
        polaris_status,
        python_wall: Duration::from_secs_f64(secs),
        python_arm_requests: sim.request_log().len(),
    })
}

/// Polaris on the embedded runtime in real time with the same latencies.
async fn polaris_real_time(
    planned: &PlannedDeployment,
    latency: LatencyProfile,
) -> Result<(Duration, String), String> {
    let opts = RuntimeOptions {
        state: StateBackend::Memory,
        time: TimeMode::Real,
        latency,
        ..RuntimeOptions::default()
    };
    let runtime = EmbeddedRuntime::start(opts).await.map_err(|e| e.to_string())?;
    let workers = runtime.spawn_workers();
    let started = Instant::now();
    let state =
        runtime.app.deployments.submit(&planned.spec, None).await.map_err(|e| e.to_string())?;
    let id = state.deployment_id;
    let limit = Duration::from_secs(600);
    let status = loop {
        let state = runtime.app.deployments.get(&id).await.map_err(|e| e.to_string())?;
        if state.status.is_terminal() || started.elapsed() > limit {
            break state.status.as_str().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let wall = started.elapsed();
    for worker in workers {
        worker.abort();
    }
    Ok((wall, status))
}
