//! Issue 2: both modes, public and private, deploy to `Succeeded` through the whole saga on
//! simulated Azure; every planned resource exists, is ours and provisioned; the outputs are
//! the module's; and the health check really reached the simulated proxy.

mod support;

use polaris_core::plan::Plan;
use polaris_core::plan::model::{OWNER_TAG, StepKind};
use polaris_core::saga::{DeploymentStatus, SagaState};
use polaris_sim::{Fault, FaultPlan, FaultRule, SimResource};
use serde_json::{Value, json};
use support::{Harness, Setup, events_of, example, last_segment, resource_id, with};

/// What the module README promises for a mode.
struct Expected {
    enhanced: bool,
    public: bool,
    dns_label: Option<&'static str>,
}

/// The first health probe of any group answers 503, so a deployment can only succeed if
/// the saga probed the listener, saw it, and probed again.
fn first_probe_fails() -> Setup {
    let rule = FaultRule::on("/polaris-container/health", Fault::HealthCheck503).times(1);
    Setup { faults: FaultPlan::default().with(rule), ..Setup::default() }
}

async fn deploy_and_check(spec: Value, key: &str, expected: Expected) {
    let h = support::start(first_probe_fails()).await;

    let state = h.deploy(&spec, key).await;

    assert_eq!(state.status, DeploymentStatus::Succeeded, "{:#?}", state.history);
    let plan = h.plan(&state);
    check_resources(&h, &plan, &state);
    check_outputs(&h, &plan, &state, &expected);
    check_health_probe(&h, &state, expected.enhanced);
}

/// Every planned ARM resource (vault and key included) is live, ours and provisioned.
fn check_resources(h: &Harness, plan: &Plan, state: &SagaState) {
    let inventory = h.sim().inventory();
    for step in &plan.steps {
        let untaggable = match &step.kind {
            StepKind::Arm(r) => {
                r.id.contains("/subnets/") || r.id.contains("Microsoft.Authorization/roleAssign")
            }
            StepKind::Vault(_) | StepKind::Key(_) => false,
            StepKind::Verify(_) | StepKind::HealthCheck(_) => continue,
        };
        let id = resource_id(plan, step.name.as_str()).expect("ARM step has an id");
        let found = find(&inventory, &id).unwrap_or_else(|| panic!("{id} is not in the sim"));

        // Keys, identities and role assignments have no provisioningState (as in Azure);
        // ARM reads a missing one as succeeded.
        let stateless = matches!(step.kind, StepKind::Key(_))
            || id.contains("/userAssigned")
            || id.contains("/roleAssignments/");
        let state_ok = match stateless {
            true => found.provisioning_state.is_none(),
            false => found.provisioning_state.as_deref() == Some("Succeeded"),
        };
        assert!(state_ok, "{id}: provisioningState {:?}", found.provisioning_state);
        if !untaggable {
            let tag = found.tags.get(OWNER_TAG).map(String::as_str);
            assert_eq!(tag, Some(state.deployment_id.as_str()), "{id} carries our tag");
        }
    }
}

fn find<'a>(inventory: &'a [SimResource], id: &str) -> Option<&'a SimResource> {
    inventory.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}

fn check_outputs(h: &Harness, plan: &Plan, state: &SagaState, expected: &Expected) {
    let group_id = resource_id(plan, "container_group").expect("a container group");
    let listener = h.sim().proxy_addresses(&group_id);
    assert!(!listener.is_empty(), "the running group has a loopback listener");
    let listener_ip = listener[0].ip().to_string();
    assert!(listener[0].ip().is_loopback());

    let rg = resource_id(plan, "resource_group").expect("a resource group");
    let mut want: Vec<(&str, Option<String>)> = vec![
        ("resource_group_name", Some(last_segment(&rg).to_owned())),
        ("container_group_name", Some(last_segment(&group_id).to_owned())),
        ("container_group_ip", expected.public.then(|| listener_ip.clone())),
    ];
    let group = find(&h.sim().inventory(), &group_id).cloned().expect("group is live");
    let fqdn = group.body.pointer("/properties/ipAddress/fqdn").and_then(Value::as_str);
    let want_fqdn = match (expected.public, expected.dns_label) {
        (true, Some(label)) => {
            let fqdn = fqdn.expect("a labelled public group has an fqdn").to_owned();
            assert!(fqdn.starts_with(&format!("{label}.")), "{fqdn}");
            assert!(fqdn.ends_with(".azurecontainer.io"), "{fqdn}");
            Some(fqdn)
        }
        _ => None,
    };
    want.push(("container_group_fqdn", want_fqdn));

    if expected.enhanced {
        let vault = last_segment(&resource_id(plan, "vault").expect("a vault")).to_owned();
        let key = last_segment(&resource_id(plan, "key").expect("a key")).to_owned();
        want.push(("key_vault_uri", Some(format!("https://{vault}.vault.azure.net/"))));
        want.push(("key_vault_name", Some(vault)));
        want.push(("key_name", Some(key)));
    } else {
        want.extend([("key_vault_name", None), ("key_vault_uri", None), ("key_name", None)]);
    }

    let want: std::collections::BTreeMap<String, Option<String>> =
        want.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    assert_eq!(state.outputs, want);
}

/// The 503 rule was consumed, so the listener served a probe; the saga waited for it and
/// succeeded on a later probe. In enhanced mode the key-release endpoint answered a key.
fn check_health_probe(h: &Harness, state: &SagaState, enhanced: bool) {
    assert!(h.sim().faults().plan().rules.is_empty(), "the listener saw the health probe");
    assert_eq!(events_of(state, "health_check"), ["started", "in_progress", "succeeded"]);

    let done = state
        .history
        .iter()
        .find(|e| {
            e.event == "succeeded" && e.step.as_ref().is_some_and(|s| s.as_str() == "health_check")
        })
        .expect("health check succeeded");
    if enhanced {
        assert_eq!(done.detail, "key released", "the key-release endpoint answered a key");
    } else {
        assert_eq!(done.detail, "", "standard mode probes liveness only");
    }
}

#[tokio::test]
async fn standard_public_deploys_to_succeeded_with_module_outputs() {
    let expected =
        Expected { enhanced: false, public: true, dns_label: Some("polaris-standard-app") };
    deploy_and_check(example("standard.json"), "std-public", expected).await;
}

#[tokio::test]
async fn standard_public_without_dns_label_has_no_fqdn() {
    let spec = with(example("standard.json"), json!({ "dns_name_label": "" }));
    let expected = Expected { enhanced: false, public: true, dns_label: None };
    deploy_and_check(spec, "std-public-nolabel", expected).await;
}

#[tokio::test]
async fn standard_private_deploys_to_succeeded_with_module_outputs() {
    let spec = with(example("private.json"), json!({ "enable_key_vault": false }));
    let expected = Expected { enhanced: false, public: false, dns_label: None };
    deploy_and_check(spec, "std-private", expected).await;
}

#[tokio::test]
async fn enhanced_public_deploys_to_succeeded_with_module_outputs() {
    let expected =
        Expected { enhanced: true, public: true, dns_label: Some("polaris-example-app") };
    deploy_and_check(example("enhanced.json"), "enh-public", expected).await;
}

#[tokio::test]
async fn enhanced_private_deploys_to_succeeded_with_module_outputs() {
    let expected = Expected { enhanced: true, public: false, dns_label: None };
    deploy_and_check(example("private.json"), "enh-private", expected).await;
}
