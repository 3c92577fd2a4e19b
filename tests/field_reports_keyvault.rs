//! Field reports B01, B03, B04 and B05 (`../shared/cases/field-reports.md`) through the whole
//! saga on simulated Azure: vault names held by soft-deleted vaults, the exportable key's
//! release policy as sent and as read back, rotation policies kept out of the release policy
//! slot, and a release policy bound to VMPL 0 and the CCE policy's hash.

mod support;

use polaris::error::WorkerError;
use polaris_core::plan::model::StepKind;
use polaris_core::saga::{DeploymentStatus, SagaState};
use polaris_sim::DeletedVaultSeed;
use serde_json::{Value, json};
use support::{Harness, Setup, b64, example, last_segment, log, resource_id, with};

const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";

fn vault_puts(h: &Harness, state: &SagaState) -> Vec<polaris_sim::LoggedRequest> {
    let vault = resource_id(&h.plan(state), "vault").expect("a vault");
    log::on(&h.sim().request_log(), "PUT", &vault).into_iter().cloned().collect()
}

/// No vault body ever asks for `enablePurgeProtection: false` (Azure refuses it, B01 c).
fn assert_purge_protection_never_false(h: &Harness) {
    for put in log::containing(&h.sim().request_log(), "PUT", "/Microsoft.KeyVault/vaults/") {
        let flag = put.body.as_ref().and_then(|b| b.pointer("/properties/enablePurgeProtection"));
        assert_ne!(flag, Some(&json!(false)), "{}", put.path);
    }
}

async fn teardown(h: &Harness, state: &SagaState) -> SagaState {
    h.rt.app.deployments.teardown(&state.deployment_id).await.expect("teardown accepted");
    h.run().await;
    h.state(&state.deployment_id).await
}

#[tokio::test]
async fn b01_deploy_teardown_then_deploy_the_same_spec_again_succeeds() {
    let h = support::start(Setup::default()).await;
    let spec = example("enhanced.json");

    let first = h.deploy(&spec, "b01-first").await;
    assert_eq!(first.status, DeploymentStatus::Succeeded, "{}", support::history(&first));
    let first = teardown(&h, &first).await;
    assert_eq!(first.status, DeploymentStatus::TornDown, "{}", support::history(&first));
    assert_eq!(h.tagged(&first.deployment_id), vec![]);
    assert_eq!(h.sim().soft_deleted_vaults(), vec![], "the vault was deleted and purged");

    let second = h.deploy(&spec, "b01-second").await;

    assert_eq!(second.status, DeploymentStatus::Succeeded, "{}", support::history(&second));
    let names = [&first, &second].map(|s| s.outputs["key_vault_name"].clone());
    assert_ne!(names[0], names[1], "vault names carry a per-deployment suffix");
    assert_purge_protection_never_false(&h);
}

#[tokio::test]
async fn b01_redeploy_after_teardown_succeeds_while_a_protected_vault_is_retained() {
    let h = support::start(Setup::default()).await;
    let spec = with(example("enhanced.json"), json!({ "key_vault_purge_protection": true }));

    let first = h.deploy(&spec, "b01-protected-first").await;
    let first = teardown(&h, &first).await;
    assert_eq!(first.status, DeploymentStatus::TornDown, "{}", support::history(&first));
    let retained = h.sim().soft_deleted_vaults();
    assert_eq!(retained.len(), 1, "purge protection keeps the vault soft-deleted");
    assert!(retained[0].purge_protection_enabled);

    let second = h.deploy(&spec, "b01-protected-second").await;

    assert_eq!(second.status, DeploymentStatus::Succeeded, "{}", support::history(&second));
    let flags: Vec<Option<Value>> = vault_puts(&h, &second)
        .iter()
        .map(|p| p.body.as_ref().and_then(|b| b.pointer("/properties/enablePurgeProtection")))
        .map(|v| v.cloned())
        .collect();
    assert_eq!(flags, [Some(json!(true))]);
}

/// Seeds a soft-deleted vault with the name the deployment's vault step will use.
fn seed_deleted_vault(h: &Harness, state: &SagaState, subscription: &str, owner: &str) {
    let plan = h.plan(state);
    let rg = last_segment(&resource_id(&plan, "resource_group").expect("rg")).to_owned();
    let name = last_segment(&resource_id(&plan, "vault").expect("vault")).to_owned();
    h.sim().seed_deleted_vault(DeletedVaultSeed {
        subscription: subscription.to_owned(),
        resource_group: rg,
        name,
        location: "westeurope".to_owned(),
        purge_protection: false,
        tags: json!({ "polaris-deployment": owner }),
        premium: true,
    });
}

#[tokio::test]
async fn b01_soft_deleted_vault_of_our_own_with_the_same_name_is_recovered() {
    let h = support::start(Setup::default()).await;
    let accepted = h.submit(&example("enhanced.json"), "b01-recover").await;
    seed_deleted_vault(&h, &accepted, SUBSCRIPTION, accepted.deployment_id.as_str());

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    assert_eq!(state.status, DeploymentStatus::Succeeded, "{}", support::history(&state));
    let puts = vault_puts(&h, &state);
    let statuses: Vec<u16> = puts.iter().map(|p| p.status).collect();
    assert_eq!(statuses.len(), 2, "one conflict, then exactly one recovering PUT");
    assert!(statuses[0] == 409 && (200..300).contains(&statuses[1]), "{statuses:?}");
    let mode = puts[1].body.as_ref().and_then(|b| b.pointer("/properties/createMode"));
    assert_eq!(mode, Some(&json!("recover")));
    assert_eq!(h.sim().soft_deleted_vaults(), vec![]);
    assert_purge_protection_never_false(&h);
}

#[tokio::test]
async fn b01_vault_name_held_by_someone_else_fails_fast_without_retrying_and_compensates() {
    let h = support::start(Setup::default()).await;
    let accepted = h.submit(&example("enhanced.json"), "b01-taken").await;
    // Vault names are global: another subscription's soft-deleted vault holds ours.
    let other = "99999999-0000-0000-0000-000000000009";
    seed_deleted_vault(&h, &accepted, other, "someone-else");

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    assert_eq!(state.status, DeploymentStatus::Compensated, "{}", support::history(&state));
    let failure = state.failure.as_ref().expect("failure");
    assert_eq!((failure.step.as_str(), failure.code.as_str()), ("vault", "VaultNameUnavailable"));
    assert_eq!(vault_puts(&h, &state).len(), 1, "no further PUT after the conflict");
    assert_eq!(h.tagged(&state.deployment_id), vec![]);
    assert_eq!(h.sim().soft_deleted_vaults().len(), 1, "someone else's vault is left alone");
}

fn key_puts(h: &Harness, state: &SagaState) -> Vec<polaris_sim::LoggedRequest> {
    let key = resource_id(&h.plan(state), "key").expect("a key");
    log::on(&h.sim().request_log(), "PUT", &key).into_iter().cloned().collect()
}

#[tokio::test]
async fn b03_key_create_request_carries_a_release_policy_that_decodes_to_json() {
    let h = support::start(Setup::default()).await;

    let state = h.deploy(&example("enhanced.json"), "b03").await;

    assert_eq!(state.status, DeploymentStatus::Succeeded, "{}", support::history(&state));
    let puts = key_puts(&h, &state);
    assert_eq!(puts.len(), 1);
    let body = puts[0].body.clone().expect("a body");
    assert_eq!(body.pointer("/properties/kty"), Some(&json!("RSA-HSM")));
    assert_eq!(body.pointer("/properties/attributes/exportable"), Some(&json!(true)));
    let policy = support::release_policy_of(&body).expect("base64url of UTF-8 JSON");
    assert_eq!(policy["version"], json!("1.0.0"));
    let any_of = policy["anyOf"].as_array().expect("anyOf");
    assert!(!any_of.is_empty() && any_of.iter().all(|a| a["allOf"].as_array().is_some()));

    // The vault is premium (HSM keys need it) and the key Key Vault holds has that policy.
    let vault_put = &vault_puts(&h, &state)[0];
    let sku = vault_put.body.as_ref().and_then(|b| b.pointer("/properties/sku/name"));
    assert_eq!(sku, Some(&json!("premium")));
    let key_id = resource_id(&h.plan(&state), "key").expect("key");
    let live = h.sim().inventory().into_iter().find(|r| r.id.eq_ignore_ascii_case(&key_id));
    let live = live.expect("the key is live");
    assert_eq!(support::release_policy_of(&live.body), Some(policy));
}

/// A key left by an earlier run with another release policy: ARM's key PUT never updates an
/// existing key, so only the read-back can notice.
#[tokio::test]
async fn b03_release_policy_read_back_mismatch_fails_the_key_step_and_compensates() {
    let h = support::start(Setup::default()).await;
    let accepted = h.submit(&example("enhanced.json"), "b03-mismatch").await;
    let plan = h.plan(&accepted);
    for step in ["resource_group", "vault"] {
        let planned = plan.steps.iter().find(|s| s.name.as_str() == step).expect(step);
        let (id, body) = match &planned.kind {
            StepKind::Arm(r) => (r.id.clone(), r.body.clone()),
            StepKind::Vault(v) => (v.arm.id.clone(), v.arm.body.clone()),
            _ => unreachable!("resource group and vault are ARM steps"),
        };
        h.sim().seed_request("PUT", &id, body).await.expect("seeded");
    }
    let other = json!({"version": "1.0.0", "anyOf": [{"authority": "https://other.attest.example",
        "allOf": [{"claim": "x-ms-sevsnpvm-vmpl", "equals": 0}]}]});
    let data = b64::encode_url(other.to_string().as_bytes());
    let key_id = resource_id(&plan, "key").expect("key");
    let key_body = json!({"properties": {"kty": "RSA-HSM", "keySize": 4096,
        "attributes": {"enabled": true, "exportable": true},
        "release_policy": {"contentType": "application/json; charset=utf-8", "data": data}}});
    h.sim().seed_request("PUT", &key_id, key_body).await.expect("seeded key");

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    assert_eq!(state.status, DeploymentStatus::Compensated, "{}", support::history(&state));
    let failure = state.failure.as_ref().expect("failure");
    assert_eq!((failure.step.as_str(), failure.code.as_str()), ("key", "ReleasePolicyMismatch"));
    assert!(log::containing(&h.sim().request_log(), "PUT", "/containerGroups/").is_empty());
    assert_eq!(h.tagged(&state.deployment_id), vec![]);
    assert_eq!(h.sim().soft_deleted_vaults(), vec![]);
}

#[tokio::test]
async fn b04_release_policy_holding_a_rotation_policy_is_refused_before_any_request() {
    let h = support::start(Setup::default()).await;
    let rotation = json!({
        "lifetimeActions": [
            {"trigger": {"timeAfterCreate": "P365D"}, "action": {"type": "rotate"}}
        ],
        "attributes": {"expiryTime": "P400D"}
    });
    let spec = with(example("enhanced.json"), json!({ "release_policy": rotation }));

    let result = h.rt.app.deployments.submit(&spec, Some("b04")).await;

    let Err(WorkerError::InvalidSpec(errors)) = result else { panic!("accepted: {result:?}") };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["release_policy"]);
    let message = &errors.0[0].message;
    assert!(message.contains("rotation policy") && message.contains("AKV.SKR.1005"), "{message}");
    assert!(h.sim().request_log().is_empty());
    assert_eq!(h.rt.queue.stats().sent, 0);
}

#[tokio::test]
async fn b04_standard_mode_sends_no_key_and_enhanced_keys_with_a_policy_are_exportable() {
    let h = support::start(Setup::default()).await;

    let standard = h.deploy(&example("standard.json"), "b04-standard").await;

    assert_eq!(standard.status, DeploymentStatus::Succeeded);
    let requests = h.sim().request_log();
    let key_vault: Vec<&str> = requests
        .iter()
        .filter(|r| r.path.contains("Microsoft.KeyVault") || r.path.starts_with("/kv/"))
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(key_vault, Vec::<&str>::new(), "standard mode creates no key at all");

    let enhanced = h.deploy(&example("enhanced.json"), "b04-enhanced").await;

    assert_eq!(enhanced.status, DeploymentStatus::Succeeded);
    let requests = h.sim().request_log();
    let keys = log::containing(&requests, "PUT", "/keys/");
    // Key creates only, not the role assignment scoped under the key.
    let keys = keys.into_iter().filter(|r| !r.path.contains("/providers/Microsoft.Author"));
    for put in keys {
        let body = put.body.clone().expect("a body");
        let exportable = body.pointer("/properties/attributes/exportable") == Some(&json!(true));
        let policy = support::release_policy_of(&body);
        assert!(policy.is_none() || exportable, "non-exportable key with a release policy");
        let policy = policy.expect("exportable keys carry a policy");
        assert!(policy.get("lifetimeActions").is_none(), "rotation kept out of the policy");
        let rotation = body.pointer("/properties/rotationPolicy/lifetimeActions");
        assert!(rotation.is_some(), "rotation has its own property");
    }
}

/// The release policy of the key the saga created for `spec`.
async fn deployed_release_policy(spec: &Value, key: &str) -> (SagaState, Value) {
    let h = support::start(Setup::default()).await;
    let state = h.deploy(spec, key).await;
    assert_eq!(state.status, DeploymentStatus::Succeeded, "{}", support::history(&state));

    let group = log::containing(&h.sim().request_log(), "PUT", "/containerGroups/")[0].clone();
    let group = group.body.expect("a body");
    assert_eq!(group.pointer("/properties/sku"), Some(&json!("Confidential")));
    let cce = group.pointer("/properties/confidentialComputeProperties/ccePolicy");
    assert_eq!(cce, state.spec.get("cce_policy"), "the group enforces the spec's policy");

    let body = key_puts(&h, &state)[0].body.clone().expect("a body");
    (state, support::release_policy_of(&body).expect("a release policy"))
}

/// The value a top-level claim of the policy's first authority must equal.
fn claim<'a>(policy: &'a Value, name: &str) -> Option<&'a Value> {
    let all_of = policy.pointer("/anyOf/0/allOf")?.as_array()?;
    all_of.iter().find(|c| c["claim"] == json!(name)).map(|c| &c["equals"])
}

/// sha256 of the decoded CCE policy stored (redacted spec) in saga state.
fn hostdata_of(state: &SagaState) -> String {
    let recorded = state.spec["cce_policy"].as_str().expect("cce_policy in state");
    support::sha256_hex(&b64::decode(recorded).expect("base64"))
}

#[tokio::test]
async fn b05_key_release_policy_pins_vmpl_0_and_the_hash_of_the_cce_policy() {
    let first = b64::encode(br#"{"allow_all": false, "containers": {"length": 3}}"#);
    let second = b64::encode(br#"{"allow_all": false, "containers": {"length": 4}}"#);

    let (state, policy) = deployed_release_policy(&support::cce_spec(&first), "b05-a").await;

    assert_eq!(claim(&policy, "x-ms-sevsnpvm-vmpl"), Some(&json!(0)));
    let hostdata = hostdata_of(&state);
    assert_eq!(claim(&policy, "x-ms-sevsnpvm-hostdata"), Some(&json!(hostdata)));
    assert_eq!(claim(&policy, "x-ms-compliance-status"), Some(&json!("azure-compliant-uvm")));

    let (changed, changed_policy) =
        deployed_release_policy(&support::cce_spec(&second), "b05-b").await;

    let changed_hostdata = hostdata_of(&changed);
    assert_ne!(changed_hostdata, hostdata, "a new CCE policy has a new hash");
    assert_eq!(claim(&changed_policy, "x-ms-sevsnpvm-hostdata"), Some(&json!(changed_hostdata)));
}

#[tokio::test]
async fn b05_user_release_policy_without_vmpl_0_or_the_cce_hash_is_refused() {
    let h = support::start(Setup::default()).await;
    let cce = b64::encode(br#"{"allow_all": false}"#);
    let authority = "https://sharedweu.weu.attest.azure.net";
    let compliant = json!({"claim": "x-ms-compliance-status", "equals": "azure-compliant-uvm"});
    let vmpl = json!({"claim": "x-ms-sevsnpvm-vmpl", "equals": 0});
    let unsafe_policies = [
        // No VMPL claim: a report from another VMPL would get the key.
        json!({"version": "1.0.0", "anyOf": [{"authority": authority, "allOf": [compliant]}]}),
        // VMPL 0, but not bound to the containers' CCE policy.
        json!({"version": "1.0.0", "anyOf": [{"authority": authority,
            "allOf": [compliant, vmpl]}]}),
    ];

    for policy in unsafe_policies {
        let spec = with(support::cce_spec(&cce), json!({ "release_policy": policy }));
        let result = h.rt.app.deployments.submit(&spec, None).await;

        let Err(WorkerError::InvalidSpec(errors)) = result else { panic!("accepted: {result:?}") };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["release_policy"], "{errors}");
    }
    assert!(h.sim().request_log().is_empty());
    assert_eq!(h.rt.queue.stats().sent, 0);
}
