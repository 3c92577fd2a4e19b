//! The saga against a model of Azure: a map of resources with owners, LROs that need a poll,
//! and scripted faults. Every message goes through `admit` and `decide` exactly as the worker
//! drives them, in simulated time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use polaris_core::action::{
    Action, FailureClass, OperationKind, Outcome, PendingOperation, StepFailure,
};
use polaris_core::ids::{DeploymentId, StepName};
use polaris_core::plan::model::*;
use polaris_core::saga::*;
use proptest::prelude::*;
use serde_json::json;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = time::macros::datetime!(2026-12-04 12:00 UTC);

fn dep() -> DeploymentId {
    DeploymentId::new("demo-00000001").unwrap()
}

fn arm_step(name: &str, deps: &[&str]) -> PlannedStep {
    PlannedStep {
        name: StepName::new(name),
        depends_on: deps.iter().map(|d| StepName::new(*d)).collect(),
        kind: StepKind::Arm(ArmResource {
            id: format!("/subscriptions/s/resourceGroups/rg/providers/X/{name}"),
            api_version: "2024-01-01".into(),
            body: json!({"properties": {"owner": "${identity.principal_id}"}}),
            ownership: Ownership::Tag,
            outputs: vec![OutputSelector { name: "principal_id".into(), pointer: "/p".into() }],
        }),
        deadline_secs: 600,
    }
}

fn health_step(deps: &[&str]) -> PlannedStep {
    PlannedStep {
        name: StepName::new("health_check"),
        depends_on: deps.iter().map(|d| StepName::new(*d)).collect(),
        kind: StepKind::HealthCheck(HealthCheckSpec {
            host: "${container_group.principal_id}".into(),
            port: 3000,
            health_path: "/polaris-container/health".into(),
            key_release_path: None,
        }),
        deadline_secs: 600,
    }
}

/// resource_group -> {vnet -> subnet, identity -> vault -> key} -> container_group -> health.
fn plan() -> Plan {
    let mut steps = vec![
        arm_step("resource_group", &[]),
        arm_step("vnet", &["resource_group"]),
        arm_step("subnet", &["vnet"]),
        arm_step("identity", &["resource_group"]),
        arm_step("vault", &["identity"]),
        arm_step("key", &["vault"]),
        arm_step("container_group", &["subnet", "key"]),
        health_step(&["container_group"]),
    ];
    // Only steps downstream of the identity may refer to its outputs.
    for i in [0, 1, 2, 3] {
        if let StepKind::Arm(r) = &mut steps[i].kind {
            r.body = json!({"properties": {}});
        }
    }
    Plan {
        deployment_id: dep(),
        subscription_id: "s".into(),
        location: "westeurope".into(),
        mode: Mode::Enhanced,
        compute: ComputeKind::ContainerGroup,
        steps,
        outputs: vec![
            OutputBinding {
                name: "resource_group_name".into(),
                source: OutputSource::Literal { value: "rg".into() },
            },
            OutputBinding {
                name: "container_group_ip".into(),
                source: OutputSource::Step {
                    step: StepName::new("container_group"),
                    output: "principal_id".into(),
                },
            },
            OutputBinding { name: "key_name".into(), source: OutputSource::Null },
        ],
        warnings: vec![],
    }
}

#[derive(Clone, Debug)]
enum Fault {
    Fail(FailureClass, Option<u64>),
}

#[derive(Default)]
struct World {
    /// id -> owner
    resources: BTreeMap<String, String>,
    /// (step, phase) -> faults to return, consumed front first
    faults: BTreeMap<(String, Phase), Vec<Fault>>,
    puts: BTreeMap<String, u32>,
    calls: Vec<(String, Phase, OffsetDateTime)>,
}

impl World {
    fn exec(
        &mut self,
        step: &StepName,
        phase: Phase,
        action: &Action,
        now: OffsetDateTime,
    ) -> Outcome {
        self.calls.push((step.to_string(), phase, now));
        if let Some(list) = self.faults.get_mut(&(step.to_string(), phase))
            && !list.is_empty()
        {
            {
                let Fault::Fail(class, retry_after) = list.remove(0);
                if class == FailureClass::UnknownOutcome {
                    // The write took effect before the answer was lost.
                    if let Action::Ensure { owner, resource } = action {
                        self.resources.insert(resource.id.clone(), owner.to_string());
                    }
                }
                let mut f = StepFailure::new(class, "Injected", format!("{class:?} at {step}"));
                f.retry_after_secs = retry_after;
                f.request_id = Some("req-1".into());
                return Outcome::Failed(f);
            }
        }

        match action {
            Action::Ensure { owner, resource } => {
                assert!(
                    !resource.body.to_string().contains("${identity"),
                    "placeholders must be resolved before execution"
                );
                match self.resources.get(&resource.id) {
                    Some(o) if o == owner.as_str() => done(true),
                    Some(_) => Outcome::Failed(StepFailure::new(
                        FailureClass::Permanent,
                        "NotOwned",
                        "exists without our tag",
                    )),
                    None => {
                        self.resources.insert(resource.id.clone(), owner.to_string());
                        *self.puts.entry(resource.id.clone()).or_default() += 1;
                        Outcome::InProgress {
                            operation: PendingOperation {
                                kind: OperationKind::AsyncOperation,
                                url: format!("https://arm/ops/{}", resource.id),
                                resource_id: resource.id.clone(),
                                api_version: resource.api_version.clone(),
                                removing: false,
                            },
                            retry_after_secs: Some(10),
                            request_id: Some("req-put".into()),
                        }
                    }
                }
            }
            Action::Poll { operation, .. } => {
                if operation.removing {
                    done(false)
                } else {
                    assert!(self.resources.contains_key(&operation.resource_id));
                    done(false)
                }
            }
            Action::Delete { owner, id, .. } => match self.resources.get(id) {
                None => done(false),
                Some(o) if o == owner.as_str() => {
                    self.resources.remove(id);
                    Outcome::InProgress {
                        operation: PendingOperation {
                            kind: OperationKind::Location,
                            url: format!("https://arm/results/{id}"),
                            resource_id: id.clone(),
                            api_version: "x".into(),
                            removing: true,
                        },
                        retry_after_secs: Some(15),
                        request_id: None,
                    }
                }
                Some(_) => Outcome::Failed(StepFailure::new(
                    FailureClass::Permanent,
                    "NotOwned",
                    "refusing to delete",
                )),
            },
            Action::HealthCheck { check } => {
                assert_eq!(check.host, "10.0.0.4");
                done(false)
            }
            other => panic!("unexpected action {other:?}"),
        }
    }
}

fn done(adopted: bool) -> Outcome {
    let mut outputs = BTreeMap::new();
    outputs.insert("principal_id".to_owned(), "10.0.0.4".to_owned());
    Outcome::Done { outputs, adopted, request_id: Some("req-done".into()), note: None }
}

struct Run {
    state: SagaState,
    world: World,
    /// How many times each item was executed.
    executions: usize,
    end: OffsetDateTime,
}

/// Drives the saga to a terminal state. `duplicate` delivers every message twice.
fn run_with(world: World, duplicate: bool, extra: Option<(usize, Event)>) -> Run {
    let plan = plan();
    let cfg = SagaConfig::default();
    let mut world = world;
    let mut state = new_deployment(&plan, json!({"name": "demo"}), "tenant", None, T0);
    let start = decide(&plan, &state, Event::Start, &cfg, T0).unwrap();
    state = start.state;

    let mut queue: BinaryHeap<Reverse<(OffsetDateTime, u64, String)>> = BinaryHeap::new();
    let mut items: BTreeMap<String, WorkItem> = BTreeMap::new();
    let mut seq = 0u64;
    let mut push =
        |queue: &mut BinaryHeap<_>, items: &mut BTreeMap<String, WorkItem>, it: WorkItem, now| {
            seq += 1;
            let at = it.not_before.unwrap_or(now);
            let id = it.message_id();
            items.insert(id.clone(), it);
            queue.push(Reverse((at, seq, id)));
        };
    for it in start.dispatch {
        push(&mut queue, &mut items, it, T0);
    }

    let mut now = T0;
    let mut executions = 0;
    let mut delivered = 0usize;
    while let Some(Reverse((at, _, id))) = queue.pop() {
        now = now.max(at);
        let item = items[&id].clone();
        if let Some(nb) = item.not_before {
            assert!(now >= nb, "delivered before not_before");
        }
        delivered += 1;
        if let Some((n, ev)) = &extra
            && *n == delivered
        {
            {
                let d = decide(&plan, &state, ev.clone(), &cfg, now).unwrap();
                state = d.state;
                for it in d.dispatch {
                    push(&mut queue, &mut items, it, now);
                }
            }
        }

        let deliveries = if duplicate { 2 } else { 1 };
        for _ in 0..deliveries {
            match admit(&plan, &state, &item).unwrap() {
                Admission::Execute(action) => {
                    let action = *action;
                    executions += 1;
                    let outcome = world.exec(&item.step, item.phase, &action, now);
                    let event = Event::StepOutcome {
                        step: item.step.clone(),
                        phase: item.phase,
                        attempt: item.attempt,
                        tick: item.tick,
                        outcome,
                    };
                    let d = decide(&plan, &state, event, &cfg, now).unwrap();
                    assert!(d.changed);
                    state = d.state;
                    for it in d.dispatch {
                        push(&mut queue, &mut items, it, now);
                    }
                }
                Admission::Stale { redispatch } => {
                    // Re-sent items carry ids already queued; a broker would drop them.
                    for it in redispatch {
                        assert!(items.contains_key(&it.message_id()));
                    }
                }
                Admission::Finished => {}
            }
        }
        assert!(delivered < 10_000, "saga did not converge");
    }
    assert!(state.status.is_terminal(), "ended in {:?}", state.status);
    Run { state, world, executions, end: now }
}

fn run(world: World) -> Run {
    run_with(world, false, None)
}

fn with_fault(step: &str, phase: Phase, faults: Vec<Fault>) -> World {
    let mut w = World::default();
    w.faults.insert((step.to_owned(), phase), faults);
    w
}

#[test]
fn the_model_plan_is_well_formed() {
    check_plan(&plan()).unwrap();
    let mut bad = plan();
    if let StepKind::Arm(r) = &mut bad.steps[2].kind {
        r.body = json!({"x": "${identity.principal_id}"});
    }
    let err = check_plan(&bad).unwrap_err();
    assert!(matches!(err, SagaError::PlaceholderNotADependency { .. }), "{err:?}");
}

#[test]
fn deploys_to_succeeded_with_outputs() {
    let r = run(World::default());
    assert_eq!(r.state.status, DeploymentStatus::Succeeded);
    assert_eq!(r.world.resources.len(), 7, "every arm step created one resource");
    assert!(r.world.puts.values().all(|n| *n == 1));
    assert_eq!(r.state.outputs["resource_group_name"].as_deref(), Some("rg"));
    assert_eq!(r.state.outputs["container_group_ip"].as_deref(), Some("10.0.0.4"));
    assert_eq!(r.state.outputs["key_name"], None);
    assert!(r.state.history.iter().any(|h| h.event == "deployment_succeeded"));
}

#[test]
fn independent_branches_are_in_flight_together() {
    let plan = plan();
    let cfg = SagaConfig::default();
    let s = new_deployment(&plan, json!({}), "t", None, T0);
    let d = decide(&plan, &s, Event::Start, &cfg, T0).unwrap();
    assert_eq!(d.dispatch.len(), 1);
    assert_eq!(d.dispatch[0].step.as_str(), "resource_group");

    let it = d.dispatch[0].clone();
    let ev = Event::StepOutcome {
        step: it.step,
        phase: Phase::Do,
        attempt: 1,
        tick: it.tick,
        outcome: done(false),
    };
    let d = decide(&plan, &d.state, ev, &cfg, T0).unwrap();
    let mut names: Vec<_> = d.dispatch.iter().map(|i| i.step.to_string()).collect();
    names.sort();
    assert_eq!(names, ["identity", "vnet"]);
}

#[test]
fn permanent_failure_at_each_step_compensates_to_a_clean_slate() {
    for step in [
        "resource_group",
        "vnet",
        "subnet",
        "identity",
        "vault",
        "key",
        "container_group",
        "health_check",
    ] {
        let w = with_fault(step, Phase::Do, vec![Fault::Fail(FailureClass::Permanent, None)]);
        let r = run(w);
        assert_eq!(r.state.status, DeploymentStatus::Compensated, "failing {step}");
        assert!(r.world.resources.is_empty(), "failing {step} left {:?}", r.world.resources);
        let failure = r.state.failure.as_ref().unwrap();
        assert_eq!(failure.step.as_str(), step);
        assert_eq!(failure.request_id.as_deref(), Some("req-1"));
    }
}

#[test]
fn failed_undo_ends_stuck_with_reason() {
    let mut w =
        with_fault("container_group", Phase::Do, vec![Fault::Fail(FailureClass::Permanent, None)]);
    w.faults
        .insert(("vault".into(), Phase::Undo), vec![Fault::Fail(FailureClass::Permanent, None)]);
    let r = run(w);
    assert_eq!(r.state.status, DeploymentStatus::Stuck);
    let last = r.state.history.last().unwrap();
    assert_eq!(last.event, "deployment_stuck");
    assert!(last.detail.contains("`vault`"), "{}", last.detail);
    // The vault could not go, so its parents stay; the other branch is gone.
    assert!(r.world.resources.keys().any(|k| k.ends_with("/vault")));
    assert!(!r.world.resources.keys().any(|k| k.ends_with("/vnet")));
    assert_eq!(r.state.steps[&StepName::new("vault")].status, StepStatus::UndoFailed);
}

#[test]
fn retry_after_is_honoured_in_simulated_time() {
    let w = with_fault("vnet", Phase::Do, vec![Fault::Fail(FailureClass::Transient, Some(17))]);
    let r = run(w);
    assert_eq!(r.state.status, DeploymentStatus::Succeeded);
    let vnet: Vec<_> = r.world.calls.iter().filter(|c| c.0 == "vnet").collect();
    assert!(vnet[1].2 - vnet[0].2 >= Duration::seconds(17), "{vnet:?}");
}

#[test]
fn retries_exhausted_compensate() {
    let faults = vec![Fault::Fail(FailureClass::Transient, Some(1)); 10];
    let r = run(with_fault("key", Phase::Do, faults));
    assert_eq!(r.state.status, DeploymentStatus::Compensated);
    assert!(r.state.failure.as_ref().unwrap().message.contains("gave up after 6 attempts"));
    assert!(r.world.resources.is_empty());
}

#[test]
fn unknown_outcome_is_observed_not_duplicated() {
    let w = with_fault("vault", Phase::Do, vec![Fault::Fail(FailureClass::UnknownOutcome, None)]);
    let r = run(w);
    assert_eq!(r.state.status, DeploymentStatus::Succeeded);
    assert!(r.world.puts.values().all(|n| *n <= 1));
    let adopted = r.state.history.iter().any(|h| h.detail.contains("adopted"));
    assert!(adopted, "the second attempt adopts what the first wrote");
}

#[test]
fn capacity_failure_removes_partial_group_and_retries_later() {
    let w =
        with_fault("container_group", Phase::Do, vec![Fault::Fail(FailureClass::Capacity, None)]);
    let r = run(w);
    assert_eq!(r.state.status, DeploymentStatus::Succeeded);
    let cg = &r.state.steps[&StepName::new("container_group")];
    assert_eq!(cg.capacity_retries, 1);
    let undo = r.world.calls.iter().find(|c| c.0 == "container_group" && c.1 == Phase::Undo);
    let redo = r.world.calls.iter().rev().find(|c| c.0 == "container_group" && c.1 == Phase::Do);
    let gap = redo.unwrap().2 - undo.unwrap().2;
    assert!(gap >= Duration::seconds(300), "retry waited {gap}");
}

#[test]
fn capacity_retries_are_bounded() {
    let faults = vec![Fault::Fail(FailureClass::Capacity, None); 5];
    let r = run(with_fault("container_group", Phase::Do, faults));
    assert_eq!(r.state.status, DeploymentStatus::Compensated);
    assert!(r.world.resources.is_empty());
    let cg = &r.state.steps[&StepName::new("container_group")];
    assert_eq!(cg.capacity_retries, 3);
}

#[test]
fn every_message_delivered_twice_gives_the_same_end_state() {
    let once = run(World::default());
    let twice = run_with(World::default(), true, None);
    assert_eq!(twice.state.status, once.state.status);
    assert_eq!(twice.world.resources, once.world.resources);
    assert_eq!(twice.executions, once.executions, "duplicates never execute");
    assert_eq!(twice.state.outputs, once.state.outputs);

    let w = || with_fault("key", Phase::Do, vec![Fault::Fail(FailureClass::Permanent, None)]);
    let once = run(w());
    let twice = run_with(w(), true, None);
    assert_eq!(twice.state.status, DeploymentStatus::Compensated);
    assert_eq!(twice.world.resources, once.world.resources);
}

#[test]
fn cancel_stops_at_a_step_boundary_and_unwinds() {
    let r = run_with(World::default(), false, Some((4, Event::Teardown)));
    assert_eq!(r.state.status, DeploymentStatus::Cancelled);
    assert!(r.world.resources.is_empty());
    assert!(r.state.history.iter().any(|h| h.event == "cancel_requested"));
}

#[test]
fn teardown_after_success_removes_everything() {
    let r = run(World::default());
    let plan = plan();
    let cfg = SagaConfig::default();
    let d = decide(&plan, &r.state, Event::Teardown, &cfg, r.end).unwrap();
    assert_eq!(d.state.status, DeploymentStatus::TearingDown);
    let first: Vec<_> = d.dispatch.iter().map(|i| i.step.to_string()).collect();
    assert_eq!(first, ["container_group"], "dependents go first");

    let again = decide(&plan, &d.state, Event::Teardown, &cfg, r.end).unwrap();
    assert!(!again.changed, "a repeated teardown changes nothing");
    assert!(!d.state.outputs.is_empty(), "outputs stay: they name what was torn down");
}

#[test]
fn illegal_transitions_are_errors() {
    let plan = plan();
    let cfg = SagaConfig::default();
    let s = new_deployment(&plan, json!({}), "t", None, T0);
    let err = decide(&plan, &s, Event::Retry, &cfg, T0).unwrap_err();
    assert!(matches!(err, SagaError::IllegalTransition { event: "retry", .. }));
    let err = decide(&plan, &s, Event::Abandon { reason: "x".into() }, &cfg, T0).unwrap_err();
    assert!(matches!(err, SagaError::IllegalTransition { event: "abandon", .. }));
}

#[test]
fn stuck_can_be_redriven_or_abandoned() {
    let mut w =
        with_fault("container_group", Phase::Do, vec![Fault::Fail(FailureClass::Permanent, None)]);
    w.faults
        .insert(("vault".into(), Phase::Undo), vec![Fault::Fail(FailureClass::Permanent, None)]);
    let r = run(w);
    let plan = plan();
    let cfg = SagaConfig::default();

    let abandoned =
        decide(&plan, &r.state, Event::Abandon { reason: "ops".into() }, &cfg, r.end).unwrap();
    assert_eq!(abandoned.state.status, DeploymentStatus::Abandoned);
    let last = abandoned.state.history.last().unwrap();
    assert!(last.detail.contains("/vault"), "{}", last.detail);

    let redrive = decide(&plan, &r.state, Event::Retry, &cfg, r.end).unwrap();
    assert_eq!(redrive.state.status, DeploymentStatus::Compensating);
    assert_eq!(redrive.dispatch.len(), 1);
    assert_eq!(redrive.dispatch[0].step.as_str(), "vault");
}

#[test]
fn continuation_ids_are_unique() {
    let w = with_fault("vnet", Phase::Do, vec![Fault::Fail(FailureClass::Transient, Some(1)); 3]);
    let r = run(w);
    let vnet = &r.state.steps[&StepName::new("vnet")];
    assert!(vnet.tick >= 5, "each poll and retry bumps the tick");
}

#[test]
fn state_serializes_without_growing_past_budget() {
    let r = run(World::default());
    let json = serde_json::to_vec(&r.state).unwrap();
    assert!(json.len() < 16 * 1024, "state is {} bytes", json.len());
    let back: SagaState = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, r.state);
}

fn class_strategy() -> impl Strategy<Value = FailureClass> {
    prop_oneof![
        Just(FailureClass::Transient),
        Just(FailureClass::Permanent),
        Just(FailureClass::UnknownOutcome),
        Just(FailureClass::Capacity),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever fails, the saga ends terminal, and only a stuck undo leaves resources behind.
    #[test]
    fn any_fault_pattern_ends_terminal_and_clean(
        faults in proptest::collection::vec(
            (0usize..8, any::<bool>(), class_strategy(), proptest::option::of(1u64..120)),
            0..6,
        ),
        duplicate in any::<bool>(),
    ) {
        let names = [
            "resource_group", "vnet", "subnet", "identity", "vault", "key", "container_group",
            "health_check",
        ];
        let mut w = World::default();
        for (i, undo, class, ra) in faults {
            let phase = if undo { Phase::Undo } else { Phase::Do };
            w.faults.entry((names[i].to_owned(), phase)).or_default().push(Fault::Fail(class, ra));
        }
        let r = run_with(w, duplicate, None);
        match r.state.status {
            DeploymentStatus::Succeeded => prop_assert_eq!(r.world.resources.len(), 7),
            DeploymentStatus::Compensated => prop_assert!(r.world.resources.is_empty()),
            DeploymentStatus::Stuck => prop_assert!(r.state.failure.is_some()),
            other => prop_assert!(false, "unexpected end state {:?}", other),
        }
        prop_assert!(r.world.puts.values().all(|n| *n == 1), "no resource created twice");
    }
}

/// A key has no undo of its own (it goes with its vault), so the vault must still wait for
/// everything that depends on the key: reverse order holds through steps without an undo.
#[test]
fn undo_order_passes_through_steps_without_undo() {
    let mut plan = plan();
    let key = plan.steps.iter_mut().find(|s| s.name.as_str() == "key").unwrap();
    let StepKind::Arm(arm) = key.kind.clone() else { panic!("model key is an arm step") };
    key.kind =
        StepKind::Key(KeyResource { arm, name: "k".into(), release_policy_json: "{}".into() });
    let cfg = SagaConfig::default();
    let mut s = new_deployment(&plan, json!({}), "t", None, T0);
    for st in s.steps.values_mut() {
        st.status = StepStatus::Succeeded;
        st.touched = true;
    }
    s.status = DeploymentStatus::Succeeded;

    let d = decide(&plan, &s, Event::Teardown, &cfg, T0).unwrap();
    let first: Vec<_> = d.dispatch.iter().map(|i| i.step.to_string()).collect();
    assert_eq!(first, ["container_group"], "the vault waits for the key's dependents");
}

/// A resource that exists without our tag is never adopted and never deleted: the forward
/// step fails, and its undo leaves it in place instead of declaring the deployment stuck.
#[test]
fn a_foreign_resource_is_left_alone_and_the_saga_still_compensates() {
    let mut w = World::default();
    w.resources
        .insert("/subscriptions/s/resourceGroups/rg/providers/X/vnet".into(), "someone".into());
    let r = run(w);
    assert_eq!(r.state.status, DeploymentStatus::Compensated);
    assert_eq!(r.state.failure.as_ref().unwrap().code, "NotOwned");
    assert_eq!(r.world.resources.len(), 1, "only the foreign vnet remains");
    assert_eq!(r.world.resources.values().next().unwrap(), "someone");
    let vnet = r.state.steps.get(&StepName::new("vnet")).unwrap();
    assert_eq!(vnet.status, StepStatus::Undone);
}
