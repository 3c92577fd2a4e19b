//! A quiet harness for scripted scenarios (the saga tests, field reports, benchmarks): the
//! same world and invariants as a seed, without random mischief unless asked for.

use polaris_core::ids::DeploymentId;
use polaris_core::saga::{SagaConfig, SagaState};
use polaris_sim::{FaultPlan, LatencyProfile};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::driver::{DriveStats, Driver, Mischief};
use super::inject::Injection;
use super::invariants::Violation;
use super::logs::LogBuffer;
use super::observe::Observer;
use super::seed::{ChaosConfig, check_final, seed_foreign};
use super::specs::PlannedDeployment;
use super::world::{World, WorldOptions};
use crate::clock::Clock;

pub struct Harness {
    pub world: World,
    observer: Observer,
    foreign: Vec<String>,
    rng: StdRng,
}

impl Harness {
    pub async fn start(
        latency: LatencyProfile,
        faults: FaultPlan,
        injection: Option<Injection>,
    ) -> Self {
        let saga = SagaConfig { default_poll_secs: 5, ..SagaConfig::default() };
        Self::start_with(latency, faults, injection, saga).await
    }

    /// As [`Self::start`] with a saga configuration of the caller's.
    pub async fn start_with(
        latency: LatencyProfile,
        faults: FaultPlan,
        injection: Option<Injection>,
        saga: SagaConfig,
    ) -> Self {
        let opts = WorldOptions { seed: 7, latency, faults, saga, crash: None, injection };
        let world = World::start(opts).await.expect("the simulated world starts");
        let foreign = seed_foreign(&world).await;
        let observer = Observer::default();
        Self { world, observer, foreign, rng: StdRng::seed_from_u64(7) }
    }

    /// Submits a deployment and watches it.
    pub async fn submit(&mut self, planned: &PlannedDeployment) -> DeploymentId {
        let state = self
            .world
            .app
            .deployments
            .submit(&planned.spec, None)
            .await
            .expect("the spec is accepted");
        self.observer.ids.push(state.deployment_id.clone());
        self.observer.canaries.extend(planned.canaries.iter().cloned());
        self.observer.observe(&self.world).await;
        state.deployment_id
    }

    /// Handles messages in order until the queue is idle.
    pub async fn drive(&mut self) -> DriveStats {
        let deadline = self.world.clock.now() + time::Duration::days(2);
        let mischief = Mischief { delay: 0.0, race: 0.0, duplicate: 0.0 };
        let mut driver = Driver {
            world: &self.world,
            rng: &mut self.rng,
            mischief,
            max_messages: 20_000,
            deadline,
            teardowns: Vec::new(),
            observer: &mut self.observer,
        };
        driver.run().await
    }

    pub async fn teardown(&mut self, id: &DeploymentId) -> SagaState {
        let state = self.world.app.deployments.teardown(id).await.expect("teardown accepted");
        self.observer.observe(&self.world).await;
        state
    }

    pub async fn retry(&mut self, id: &DeploymentId) -> SagaState {
        let state = self.world.app.deployments.retry(id).await.expect("retry accepted");
        self.observer.observe(&self.world).await;
        state
    }

    pub async fn state(&self, id: &DeploymentId) -> SagaState {
        self.world.app.deployments.get(id).await.expect("the deployment exists")
    }

    /// Every invariant of a chaos seed, checked now.
    pub async fn violations(&mut self, logs: Option<&LogBuffer>) -> Vec<Violation> {
        let mut out = std::mem::take(&mut self.observer.violations);
        let cfg = ChaosConfig::default();
        check_final(&self.world, &self.observer, &cfg, &self.foreign, &mut out).await;
        if let Some(logs) = logs {
            let text = logs.text();
            super::invariants::no_canary(
                "no_secret_in_logs",
                "the logs",
                &text,
                &self.observer.canaries,
                &mut out,
            );
        }
        out
    }
}
