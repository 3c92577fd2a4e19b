//! Starts and drives the embedded runtime.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use polaris_azure::{CredentialConfig, RetryPolicy};
use polaris_core::ports::{SecretStore, StateStore};
use polaris_core::saga::{SagaConfig, SagaState};
use polaris_sim::{FaultPlan, LatencyProfile, SimConfig, SimHandle, Simulator};
use tokio::task::JoinHandle;

use super::clocks::SimClockAdapter;
use super::executor::{AzureSettings, build_azure_executor};
use crate::app::App;
use crate::clock::{Clock, SystemClock, VirtualClock};
use crate::queue::{Delivery, EmbeddedQueue};
use crate::secrets::{LocalSecretStore, MemorySecretStore};
use crate::store::{LocalDiskStore, MemoryStore};
use crate::worker::{Disposition, Worker, WorkerMetrics};

/// How long a delivered message stays locked; a handler never takes this long.
const LOCK: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot set up the embedded runtime: {0}")]
    Setup(String),
    #[error("simulated Azure did not start: {0}")]
    Simulator(#[from] polaris_sim::SimError),
}

#[derive(Clone, Debug)]
pub enum StateBackend {
    /// `state/` and `secrets/` under this directory.
    Disk(PathBuf),
    Memory,
}

#[derive(Clone, Debug)]
pub enum TimeMode {
    /// Wall-clock time; waits are real.
    Real,
    /// Simulated time shared by the queue, the saga and the simulator; the driver jumps it
    /// to the next scheduled message whenever nothing is due.
    Virtual(Arc<VirtualClock>),
}

#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    pub state: StateBackend,
    pub time: TimeMode,
    /// Concurrent message handlers (real time only; virtual time runs one at a time so a
    /// seed replays exactly).
    pub workers: usize,
    pub latency: LatencyProfile,
    pub faults: FaultPlan,
    pub saga: SagaConfig,
    pub tenant_id: String,
    pub seed: u64,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            state: StateBackend::Memory,
            time: TimeMode::Real,
            workers: 4,
            latency: LatencyProfile::default(),
            faults: FaultPlan::default(),
            saga: SagaConfig { default_poll_secs: 1, ..SagaConfig::default() },
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned(),
            seed: 0x5eed,
        }
    }
}

/// A running embedded runtime: simulated Azure, queue, store and the app that handles
/// messages.
pub struct EmbeddedRuntime {
    pub app: Arc<App>,
    pub queue: Arc<EmbeddedQueue>,
    pub sim: SimHandle,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<WorkerMetrics>,
    virtual_clock: Option<Arc<VirtualClock>>,
    workers: usize,
}

impl EmbeddedRuntime {
    pub async fn start(opts: RuntimeOptions) -> Result<Self, RuntimeError> {
        let (clock, virtual_clock): (Arc<dyn Clock>, _) = match &opts.time {
            TimeMode::Real => (Arc::new(SystemClock), None),
            TimeMode::Virtual(v) => (v.clone() as Arc<dyn Clock>, Some(v.clone())),
        };

        let sim = Simulator::start(SimConfig {
            latency: opts.latency.clone(),
            faults: opts.faults.clone(),
            tenant_id: opts.tenant_id.clone(),
            seed: opts.seed,
            clock: Arc::new(SimClockAdapter(clock.clone())),
            ..SimConfig::default()
        })
        .await?;

        let (store, secrets): (Arc<dyn StateStore>, Arc<dyn SecretStore>) = match &opts.state {
            StateBackend::Disk(dir) => {
                let store = LocalDiskStore::new(dir.join("state"), clock.clone())
                    .map_err(|e| RuntimeError::Setup(format!("state directory: {e}")))?;
                let secrets = LocalSecretStore::new(dir.join("secrets"))
                    .map_err(|e| RuntimeError::Setup(format!("secrets directory: {e}")))?;
                (Arc::new(store), Arc::new(secrets))
            }
            StateBackend::Memory => {
                (Arc::new(MemoryStore::new(clock.clone())), Arc::new(MemorySecretStore::new()))
            }
        };

        let retry = match opts.time {
            TimeMode::Real => RetryPolicy::default(),
            // In simulated time every wait must be a scheduled continuation.
            TimeMode::Virtual(_) => RetryPolicy { max_attempts: 1, ..RetryPolicy::default() },
        };
        let azure = AzureSettings {
            arm_endpoint: sim.arm_endpoint(),
            keyvault_base: Some(sim.arm_endpoint()),
            root_ca_pem: Some(sim.ca_certificate_pem()),
            credential: CredentialConfig::Local,
            retry,
        };
        let executor = build_azure_executor(&azure, secrets.clone())?;

        let queue = Arc::new(EmbeddedQueue::new(clock.clone()));
        let metrics = Arc::new(WorkerMetrics::default());
        let worker = Arc::new(Worker {
            store,
            secrets,
            sender: queue.clone(),
            executor: Arc::new(executor),
            clock: clock.clone(),
            saga: opts.saga.clone(),
            lease_secs: 30,
            action_timeout: Duration::from_secs(50),
            metrics: metrics.clone(),
            crash: None,
        });
        let app = Arc::new(App::new(worker, opts.tenant_id.clone()));
        let workers = opts.workers.max(1);
        Ok(Self { app, queue, sim, clock, metrics, virtual_clock, workers })
    }

    /// Spawns the message handlers (real time). They run until the runtime is dropped.
    pub fn spawn_workers(&self) -> Vec<JoinHandle<()>> {
        (0..self.workers)
            .map(|_| {
                let app = self.app.clone();
                let queue = self.queue.clone();
                tokio::spawn(async move {
                    loop {
                        let delivery = queue.recv_wait(LOCK).await;
                        handle_one(&app, &queue, delivery).await;
                    }
                })
            })
            .collect()
    }

    /// Handles every due message, jumping virtual time forward when nothing is due, until
    /// the queue is empty or `max_messages` were handled. Deterministic for a given seed.
    pub async fn drive_virtual(&self, max_messages: usize) -> usize {
        let Some(clock) = &self.virtual_clock else { return 0 };
        let mut handled = 0;
        while handled < max_messages {
            if let Some(delivery) = self.queue.try_receive(LOCK) {
                handle_one(&self.app, &self.queue, delivery).await;
                handled += 1;
                continue;
            }
            match self.queue.next_due_time() {
                Some(at) => {
                    clock.advance_to(at);
                }
                None => break,
            }
        }
        handled
    }

    /// Spawns the recovery sweeper loop (real time), re-kicking stalled deployments.
    pub fn spawn_sweeper(
        &self,
        config: crate::sweeper::SweeperConfig,
        period: Duration,
    ) -> JoinHandle<()> {
        crate::sweeper::spawn_loop(self.app.worker.clone(), config, period)
    }

    /// Reads a deployment's state.
    pub async fn state(&self, id: &polaris_core::ids::DeploymentId) -> Option<SagaState> {
        self.app.deployments.get(id).await.ok()
    }
}

async fn handle_one(app: &App, queue: &EmbeddedQueue, delivery: Delivery) {
    let disposition = app.handle_message(&delivery.body, delivery.delivery_count).await;
    let settled = match disposition {
        Disposition::Complete => queue.complete(delivery.lock_token),
        Disposition::Retry { reason } => {
            tracing::debug!(message_id = %delivery.message_id, %reason, "abandoning message");
            queue.abandon(delivery.lock_token)
        }
        Disposition::DeadLetter { reason, description } => {
            queue.dead_letter(delivery.lock_token, &reason, Some(&description))
        }
    };
    if let Err(e) = settled {
        tracing::warn!(error = %e, "could not settle a message; its lock will expire");
    }
}
