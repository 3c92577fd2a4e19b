//! One seed's world: virtual clock, simulated Azure, in-memory store, queue and a worker
//! whose crash hook is seeded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use polaris_azure::{CredentialConfig, RetryPolicy};
use polaris_core::ports::{SecretStore, StateStore};
use polaris_core::saga::{SagaConfig, WorkItem};
use polaris_sim::{FaultPlan, LatencyProfile, SimConfig, SimHandle, Simulator};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::inject::InjectingExecutor;
use crate::app::App;
use crate::clock::{Clock, VirtualClock};
use crate::queue::EmbeddedQueue;
use crate::runtime::{AzureSettings, RuntimeError, SimClockAdapter, build_azure_executor};
use crate::secrets::MemorySecretStore;
use crate::store::MemoryStore;
use crate::worker::{CrashHook, CrashPoint, Worker, WorkerMetrics};

/// Tenant of every vault the harness creates.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Crashes a handler at a seeded fraction of crash points.
pub struct SeededCrashes {
    rng: Mutex<StdRng>,
    probability: f64,
    crashes: Mutex<u64>,
}

impl SeededCrashes {
    pub fn new(seed: u64, probability: f64) -> Self {
        let rng = Mutex::new(StdRng::seed_from_u64(seed ^ 0xc4a5_4c4a));
        Self { rng, probability, crashes: Mutex::new(0) }
    }

    pub fn count(&self) -> u64 {
        *self.crashes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CrashHook for SeededCrashes {
    fn crash_at(&self, _item: &WorkItem, _point: CrashPoint) -> bool {
        let crash =
            self.rng.lock().unwrap_or_else(|e| e.into_inner()).random_bool(self.probability);
        if crash {
            *self.crashes.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        }
        crash
    }
}

/// Everything one seed runs against.
pub struct World {
    pub clock: Arc<VirtualClock>,
    pub sim: SimHandle,
    pub store: Arc<MemoryStore>,
    pub secrets: Arc<MemorySecretStore>,
    pub queue: Arc<EmbeddedQueue>,
    pub app: Arc<App>,
    pub metrics: Arc<WorkerMetrics>,
}

/// What varies between worlds.
pub struct WorldOptions {
    pub seed: u64,
    pub latency: LatencyProfile,
    pub faults: FaultPlan,
    pub saga: SagaConfig,
    pub crash: Option<Arc<dyn CrashHook>>,
    /// Wraps the Azure executor (the saga tests inject failures and doubled actions here).
    pub injection: Option<super::inject::Injection>,
}

impl World {
    pub async fn start(opts: WorldOptions) -> Result<Self, RuntimeError> {
        let clock = Arc::new(VirtualClock::new());
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let sim = Simulator::start(SimConfig {
            latency: opts.latency,
            faults: opts.faults,
            tenant_id: TENANT.to_owned(),
            seed: opts.seed,
            clock: Arc::new(SimClockAdapter(dyn_clock.clone())),
            ..SimConfig::default()
        })
        .await?;

        let store = Arc::new(MemoryStore::new(dyn_clock.clone()));
        let secrets = Arc::new(MemorySecretStore::new());
        // In simulated time every wait must be a scheduled continuation, never a sleep.
        let azure = AzureSettings {
            arm_endpoint: sim.arm_endpoint(),
            keyvault_base: Some(sim.arm_endpoint()),
            root_ca_pem: Some(sim.ca_certificate_pem()),
            credential: CredentialConfig::Local,
            retry: RetryPolicy { max_attempts: 1, ..RetryPolicy::default() },
        };
        let executor = build_azure_executor(&azure, secrets.clone() as Arc<dyn SecretStore>)?;

        let queue = Arc::new(EmbeddedQueue::new(dyn_clock.clone()));
        let metrics = Arc::new(WorkerMetrics::default());
        let worker = Arc::new(Worker {
            store: store.clone() as Arc<dyn StateStore>,
            secrets: secrets.clone(),
            sender: queue.clone(),
            executor: match opts.injection {
                Some(injection) => Arc::new(InjectingExecutor::new(Arc::new(executor), injection)),
                None => Arc::new(executor),
            },
            clock: dyn_clock,
            saga: opts.saga,
            lease_secs: 30,
            action_timeout: Duration::from_secs(50),
            metrics: metrics.clone(),
            crash: opts.crash,
        });
        let app = Arc::new(App::new(worker, TENANT.to_owned()));
        Ok(Self { clock, sim, store, secrets, queue, app, metrics })
    }
}
