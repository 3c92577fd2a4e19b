//! The executor against the simulated Azure (`polaris-sim`, HTTPS on loopback): a whole
//! enhanced-mode deployment, its health check with key release, and its teardown; then a
//! redeploy over a soft-deleted vault (B01). The clients are built exactly as for Azure,
//! with only the endpoints, the trusted CA and the credential swapped.

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use polaris_azure::{ArmExecutor, AzureSetup};
use polaris_core::action::{Action, Outcome};
use polaris_core::plan::model::{
    ArmResource, HealthCheckSpec, KeyResource, OutputSelector, Ownership, VaultResource,
    VerifyCheck, VerifyResource,
};
use polaris_sim::{
    DeletedVaultSeed, LatencyProfile, ManualClock, SimConfig, SimHandle, Simulator,
};
use serde_json::{Value, json};
use support::{MemorySecrets, OWNER, ctx, our_tags, owner};
use url::Url;

const SUB: &str = "00000000-0000-0000-0000-0000000000aa";
const TENANT: &str = "11111111-2222-3333-4444-555555555555";
const RELEASE_ROLE: &str = "08bbd89e-9f13-488c-ac41-acfcb10c90ab";
const ACI: &str = "Microsoft.ContainerInstance/containerGroups";
const CCE_ALLOW_ALL: &str =
    "eyJhbGxvd19hbGwiOiB0cnVlLCAiY29udGFpbmVycyI6IHsibGVuZ3RoIjogMCwgImVsZW1lbnRzIjogbnVsbH19";
const POLICY: &str = concat!(
    r#"{"version":"1.0.0","anyOf":[{"authority":"https://sharedweu.weu.attest.azure.net","#,
    r#""allOf":[{"claim":"x-ms-attestation-type","equals":"sevsnpvm"}]}]}"#
);

struct World {
    sim: SimHandle,
    clock: Arc<ManualClock>,
    exec: ArmExecutor,
}

async fn start() -> World {
    let start = time::macros::datetime!(2026-01-01 00:00 UTC);
    let clock = Arc::new(ManualClock::new(start));
    let config = SimConfig {
        latency: LatencyProfile::realistic(),
        clock: clock.clone(),
        tenant_id: TENANT.into(),
        ..SimConfig::default()
    };
    let sim = Simulator::start(config).await.expect("simulator starts");

    // The production wiring, pointed at loopback.
    let endpoint = Url::parse(&sim.arm_endpoint()).expect("endpoint");
    let setup = AzureSetup::simulator(endpoint, sim.ca_certificate_pem());
    let secrets = MemorySecrets::with(OWNER, "registry-password", "hunter2");
    let exec = setup.build(secrets).expect("executor");

    World { sim, clock, exec }
}

impl World {
    /// Executes `action`, then polls while it is in progress, moving the simulator's clock
    /// by the advised delay each time.
    async fn drive(&self, step: &str, action: Action, outputs: &[OutputSelector]) -> Outcome {
        let mut outcome = self.exec.execute(&action, &ctx(step)).await;
        for _ in 0..60 {
            let Outcome::InProgress { operation, retry_after_secs, .. } = &outcome else {
                return outcome;
            };
            let wait = retry_after_secs.unwrap_or(5).max(1);
            self.clock.advance(Duration::from_secs(wait));
            self.sim.settle().await;
            let poll = Action::Poll { operation: operation.clone(), outputs: outputs.to_vec() };
            outcome = self.exec.execute(&poll, &ctx(step)).await;
        }
        panic!("{step} never finished: {outcome:?}");
    }

    async fn done(&self, step: &str, action: Action, outputs: &[OutputSelector]) -> Outcome {
        let outcome = self.drive(step, action, outputs).await;
        assert!(matches!(outcome, Outcome::Done { .. }), "{step}: {outcome:?}");
        outcome
    }
}

fn outputs_of(outcome: &Outcome) -> std::collections::BTreeMap<String, String> {
    match outcome {
        Outcome::Done { outputs, .. } => outputs.clone(),
        other => panic!("expected Done, got {other:?}"),
    }
}

fn sel(name: &str, pointer: &str) -> OutputSelector {
    OutputSelector { name: name.into(), pointer: pointer.into() }
}

fn arm(
    id: &str,
    api: &str,
    body: Value,
    ownership: Ownership,
    outputs: &[OutputSelector],
) -> ArmResource {
    ArmResource {
        id: id.into(),
        api_version: api.into(),
        body,
        ownership,
        outputs: outputs.to_vec(),
    }
}

fn ensure(resource: ArmResource) -> Action {
    Action::Ensure { owner: owner(), resource }
}

fn resource_group() -> ArmResource {
    let body = json!({"location": "westeurope", "tags": our_tags()});
    arm(&rg_id(), "2024-03-01", body, Ownership::Tag, &[])
}

fn rg_id() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg-sim")
}

fn vault_resource(name: &str, purge_protection: bool) -> VaultResource {
    let id = format!("{}/providers/Microsoft.KeyVault/vaults/{name}", rg_id());
    let body = json!({"location": "westeurope", "tags": our_tags(), "properties": {
        "tenantId": TENANT, "sku": {"family": "A", "name": "premium"},
        "enableRbacAuthorization": true, "enablePurgeProtection": purge_protection}});
    VaultResource {
        arm: arm(&id, "2023-07-01", body, Ownership::Tag, &[sel("uri", "/properties/vaultUri")]),
        name: name.into(),
        location: "westeurope".into(),
        subscription_id: SUB.into(),
        purge_protection,
    }
}

fn container_group(identity: &str, vault: &str) -> Value {
    let env = json!([
        {"name": "POLARIS_CONTAINER_KEY_TYPE", "value": "azure-skr"},
        {"name": "POLARIS_CONTAINER_WORKLOAD_BASE_URL", "value": "http://localhost:8000"},
        {"name": "POLARIS_CONTAINER_AZURE_SKR_MAA_ENDPOINT",
            "value": "sharedweu.weu.attest.azure.net"},
        {"name": "POLARIS_CONTAINER_AZURE_SKR_AKV_ENDPOINT",
            "value": format!("{vault}.vault.azure.net")},
        {"name": "POLARIS_CONTAINER_AZURE_SKR_KID", "value": "proxy-key"},
    ]);
    let resources = json!({"requests": {"cpu": 1, "memoryInGB": 1}});
    json!({
        "location": "westeurope",
        "tags": our_tags(),
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
        "properties": {
            "sku": "Confidential",
            "osType": "Linux",
            "confidentialComputeProperties": {"ccePolicy": CCE_ALLOW_ALL},
            "containers": [
                {"name": "skr-sidecar-container", "properties": {
                    "image": "mcr.microsoft.com/aci/skr:2.7", "command": ["/skr.sh"],
                    "resources": resources}},
                {"name": "polaris-secure-proxy", "properties": {
                    "image": "fr0ntierxpublic.azurecr.io/polaris-proxy@sha256:abc",
                    "ports": [{"port": 3000, "protocol": "TCP"}],
                    "environmentVariables": env, "resources": resources}},
            ],
            "imageRegistryCredentials": [{"server": "registry.example", "username": "puller",
                "password": "${secret:registry-password}"}],
            "ipAddress": {"type": "Public", "ports": [{"port": 3000, "protocol": "TCP"}]},
        },
    })
}

#[tokio::test]
async fn full_enhanced_deployment_health_and_teardown() {
    let w = start().await;
    let rg = rg_id();

    // Resource group (synchronous).
    w.done("resource_group", ensure(resource_group()), &[]).await;

    // VNet with a delegated subnet (LRO through Azure-AsyncOperation), then verify it.
    let vnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet-sim");
    let vnet_body = json!({"location": "westeurope", "tags": our_tags(), "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "aci", "properties": {"addressPrefix": "10.0.1.0/24",
            "delegations": [{"name": "aci", "properties": {"serviceName": ACI}}]}}]}});
    let vnet_out = [sel("subnet", "/properties/subnets/0/id")];
    let vnet_res = arm(&vnet, "2024-01-01", vnet_body, Ownership::Tag, &vnet_out);
    let first = w.exec.execute(&ensure(vnet_res.clone()), &ctx("vnet")).await;
    assert!(matches!(first, Outcome::InProgress { .. }), "network PUTs are LROs: {first:?}");
    let subnet = outputs_of(&w.done("vnet", ensure(vnet_res), &vnet_out).await)["subnet"].clone();
    let verify = VerifyResource {
        id: subnet.clone(),
        api_version: "2024-01-01".into(),
        check: VerifyCheck::SubnetDelegatedTo { service: ACI.into() },
        outputs: vec![],
    };
    w.done("subnet", Action::Verify { resource: verify }, &[]).await;

    // Identity, vault, key, release role.
    let identity =
        format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-sim");
    let id_out = [sel("principal", "/properties/principalId")];
    let id_body = json!({"location": "westeurope", "tags": our_tags()});
    let id_res = arm(&identity, "2023-01-31", id_body, Ownership::Tag, &id_out);
    let principal =
        outputs_of(&w.done("identity", ensure(id_res), &id_out).await)["principal"].clone();

    let vault = vault_resource("kv-sim-a", false);
    let vault_id = vault.arm.id.clone();
    let vault_action = Action::EnsureVault { owner: owner(), vault: vault.clone() };
    let uri = outputs_of(&w.done("vault", vault_action, &vault.arm.outputs).await)["uri"].clone();
    assert_eq!(uri, "https://kv-sim-a.vault.azure.net/");

    let key_body = json!({"properties": {"kty": "RSA-HSM", "keySize": 4096,
        "keyOps": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
        "attributes": {"exportable": true},
        "release_policy": {"contentType": "application/json; charset=utf-8",
            "data": STANDARD.encode(POLICY)}}});
    let key_id = format!("{vault_id}/keys/proxy-key");
    let key_out = [sel("kid", "/properties/keyUri")];
    let key = KeyResource {
        arm: arm(&key_id, "2023-07-01", key_body, Ownership::Parent("vault".into()), &key_out),
        name: "proxy-key".into(),
        release_policy_json: POLICY.into(),
    };
    w.done("key", Action::EnsureKey { owner: owner(), key }, &[]).await;

    let authorization = "providers/Microsoft.Authorization";
    let assignment =
        format!("{vault_id}/{authorization}/roleAssignments/6f1d1a3e-0000-5000-8000-00000000a001");
    let role = format!("/subscriptions/{SUB}/{authorization}/roleDefinitions/{RELEASE_ROLE}");
    let role_body = json!({"properties": {
        "roleDefinitionId": role, "principalId": principal, "principalType": "ServicePrincipal"}});
    let role_res = arm(&assignment, "2022-04-01", role_body, Ownership::DeterministicName, &[]);
    w.done("release_role", ensure(role_res), &[]).await;

    // Container group (30 s LRO on the simulator's clock), with a secret in its body.
    let group = format!("{rg}/providers/Microsoft.ContainerInstance/containerGroups/cg-sim");
    let cg_body = container_group(&identity, "kv-sim-a");
    let cg_out = [sel("ip", "/properties/ipAddress/ip")];
    let cg_res = arm(&group, "2023-05-01", cg_body, Ownership::Tag, &cg_out);
    let ip = outputs_of(&w.done("container_group", ensure(cg_res), &cg_out).await)["ip"].clone();
    assert!(ip.starts_with("127."), "{ip}");

    // Health: liveness and key release through the simulated proxy and SKR.
    let check = HealthCheckSpec {
        host: ip,
        port: 3000,
        health_path: "/polaris-container/health".into(),
        key_release_path: Some("/polaris-container/publicKey".into()),
    };
    w.done("health", Action::HealthCheck { check }, &[]).await;

    // Teardown in reverse order.
    let delete = |id: &str, api: &str, ownership: Ownership| Action::Delete {
        owner: owner(),
        id: id.into(),
        api_version: api.into(),
        ownership,
    };
    w.done("container_group", delete(&group, "2023-05-01", Ownership::Tag), &[]).await;
    let role_delete = delete(&assignment, "2022-04-01", Ownership::DeterministicName);
    w.done("release_role", role_delete, &[]).await;
    w.done("vault", Action::DeleteVault { owner: owner(), vault }, &[]).await;
    w.done("identity", delete(&identity, "2023-01-31", Ownership::Tag), &[]).await;
    w.done("vnet", delete(&vnet, "2024-01-01", Ownership::Tag), &[]).await;
    w.done("resource_group", delete(&rg, "2024-03-01", Ownership::Tag), &[]).await;

    let left: Vec<_> = w.sim.inventory().into_iter().map(|r| format!("{r:?}")).collect();
    assert!(left.is_empty(), "resources left behind: {left:#?}");
    assert!(w.sim.soft_deleted_vaults().is_empty(), "the vault was purged");
}

#[tokio::test]
async fn b01_redeploy_recovers_our_soft_deleted_vault() {
    let w = start().await;
    w.done("resource_group", ensure(resource_group()), &[]).await;
    w.sim.seed_deleted_vault(DeletedVaultSeed {
        subscription: SUB.into(),
        resource_group: "rg-sim".into(),
        name: "kv-sim-b".into(),
        location: "westeurope".into(),
        purge_protection: true,
        tags: our_tags(),
        premium: true,
    });

    let vault = vault_resource("kv-sim-b", true);
    let action = Action::EnsureVault { owner: owner(), vault: vault.clone() };
    let outcome = w.done("vault", action, &vault.arm.outputs).await;

    let Outcome::Done { outputs, .. } = outcome else { unreachable!() };
    assert_eq!(outputs["uri"], "https://kv-sim-b.vault.azure.net/");
    assert!(w.sim.soft_deleted_vaults().is_empty());
    let puts: Vec<_> = w
        .sim
        .request_log()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/vaults/kv-sim-b"))
        .collect();
    assert_eq!(puts.len(), 2, "one PUT, then exactly one recover PUT: {puts:#?}");
    assert_eq!(puts[0].status, 409);
    let recover = puts[1].body.as_ref().expect("body");
    assert_eq!(recover["properties"]["createMode"], "recover");
}

#[tokio::test]
async fn b27_teardown_of_a_purge_protected_vault_keeps_it_soft_deleted() {
    let w = start().await;
    w.done("resource_group", ensure(resource_group()), &[]).await;
    let vault = vault_resource("kv-sim-c", true);
    let action = Action::EnsureVault { owner: owner(), vault: vault.clone() };
    w.done("vault", action, &vault.arm.outputs).await;

    let outcome = w.done("vault", Action::DeleteVault { owner: owner(), vault }, &[]).await;

    let Outcome::Done { outputs, note, .. } = outcome else { unreachable!() };
    assert!(outputs.contains_key("retained_until"), "{outputs:?}");
    assert!(note.unwrap_or_default().starts_with("soft-deleted; purge protection keeps it until"));
    assert_eq!(w.sim.soft_deleted_vaults().len(), 1);
}
