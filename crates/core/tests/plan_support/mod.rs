//! Helpers shared by the spec and plan tests.
#![allow(dead_code)]

use std::path::PathBuf;

use polaris_core::ids::DeploymentId;
use polaris_core::plan::build::PlanContext;
use polaris_core::plan::{Plan, PlannedStep, StepKind, build_plan};
use polaris_core::spec::{DeploymentSpec, SpecErrors, parse_spec_value};
use serde_json::{Value, json};

pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";
pub const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// base64 of `{"allow_all": true, "containers": {"length": 0, "elements": null}}`, the
/// allow-all policy of Microsoft's API samples.
pub const ALLOW_ALL_CCE: &str =
    "eyJhbGxvd19hbGwiOiB0cnVlLCAiY29udGFpbmVycyI6IHsibGVuZ3RoIjogMCwgImVsZW1lbnRzIjogbnVsbH19";

/// The smallest valid spec: required fields only (enhanced, Public, by default).
pub fn minimal() -> Value {
    json!({
        "name": "polaris-test",
        "location": "westeurope",
        "subscription_id": SUBSCRIPTION,
        "workload_image": "myreg.azurecr.io/app:1.0"
    })
}

/// `minimal()` with `changes` merged in at the top level.
pub fn with(changes: Value) -> Value {
    let mut base = minimal();
    for (k, v) in changes.as_object().expect("changes are an object") {
        base[k] = v.clone();
    }
    base
}

pub fn parse(value: &Value) -> DeploymentSpec {
    parse_spec_value(value).unwrap_or_else(|e| panic!("spec should be valid:\n{e}"))
}

pub fn errors(value: &Value) -> SpecErrors {
    match parse_spec_value(value) {
        Ok(_) => panic!("spec should be invalid: {value}"),
        Err(e) => e,
    }
}

/// The fields the errors name, in order.
pub fn fields(errors: &SpecErrors) -> Vec<String> {
    errors.iter().map(|e| e.field.clone()).collect()
}

pub fn ctx() -> PlanContext {
    PlanContext {
        deployment_id: DeploymentId::new("polaris-test-0a1b2c3d").unwrap(),
        tenant_id: TENANT.into(),
    }
}

pub fn plan(value: &Value) -> Plan {
    build_plan(&parse(value), &ctx()).unwrap_or_else(|e| panic!("plan failed: {e}"))
}

pub fn step<'a>(plan: &'a Plan, name: &str) -> &'a PlannedStep {
    plan.step(&name.into()).unwrap_or_else(|| panic!("no step `{name}` in {:?}", names(plan)))
}

pub fn names(plan: &Plan) -> Vec<String> {
    plan.steps.iter().map(|s| s.name.to_string()).collect()
}

pub fn deps(plan: &Plan, name: &str) -> Vec<String> {
    step(plan, name).depends_on.iter().map(|d| d.to_string()).collect()
}

/// The PUT body of a step, whatever its kind.
pub fn body<'a>(plan: &'a Plan, name: &str) -> &'a Value {
    match &step(plan, name).kind {
        StepKind::Arm(r) => &r.body,
        StepKind::Vault(v) => &v.arm.body,
        StepKind::Key(k) => &k.arm.body,
        other => panic!("step `{name}` has no body: {other:?}"),
    }
}

pub fn id<'a>(plan: &'a Plan, name: &str) -> &'a str {
    match &step(plan, name).kind {
        StepKind::Arm(r) => &r.id,
        StepKind::Vault(v) => &v.arm.id,
        StepKind::Key(k) => &k.arm.id,
        StepKind::Verify(v) => &v.id,
        other => panic!("step `{name}` has no id: {other:?}"),
    }
}

/// True when `to` is reachable from `from` by following dependencies.
pub fn depends_transitively(plan: &Plan, from: &str, to: &str) -> bool {
    let mut stack = vec![from.to_owned()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(next) = stack.pop() {
        if !seen.insert(next.clone()) {
            continue;
        }
        if let Some(s) = plan.step(&next.as_str().into()) {
            for d in &s.depends_on {
                if d.as_str() == to {
                    return true;
                }
                stack.push(d.to_string());
            }
        }
    }
    false
}

/// Every dependency names a step that comes earlier: ordered, hence acyclic.
pub fn assert_topological(plan: &Plan) {
    for (i, s) in plan.steps.iter().enumerate() {
        for d in &s.depends_on {
            let pos = plan.steps.iter().position(|x| &x.name == d);
            let pos = pos.unwrap_or_else(|| panic!("`{}` depends on missing `{d}`", s.name));
            assert!(pos < i, "`{}` comes before its dependency `{d}`", s.name);
        }
    }
    let mut unique = names(plan);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), plan.steps.len(), "duplicate step names");
}

/// The repository root's `examples/` directory.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// `shared/fixtures/arm`: `$POLARIS_SHARED_DIR/fixtures/arm`, else the first `shared/` found
/// beside the repository or one of its ancestors (CI puts it beside the clone).
pub fn fixtures_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("POLARIS_SHARED_DIR") {
        return PathBuf::from(dir).join("fixtures/arm");
    }
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in start.ancestors() {
        let candidate = dir.join("shared/fixtures/arm");
        if candidate.is_dir() {
            return candidate;
        }
    }
    panic!("shared/fixtures/arm not found above {}; set POLARIS_SHARED_DIR", start.display());
}
