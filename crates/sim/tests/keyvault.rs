//! Key Vault: soft delete, recover, purge, global names, SKR key rules, data plane.

mod common;

use common::{SUB, Sim, exportable_key_body, release_policy_b64, rg_path, start, with_version};
use polaris_sim::DeletedVaultSeed;
use reqwest::StatusCode;
use serde_json::{Value, json};

const KV: &str = "2023-07-01";

fn deleted_path(name: &str) -> String {
    with_version(
        &format!(
            "/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/westeurope\
             /deletedVaults/{name}"
        ),
        KV,
    )
}

fn vault_body(extra: Value) -> Value {
    let mut props =
        json!({ "tenantId": common::TENANT, "sku": { "family": "A", "name": "premium" } });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        props[k] = v;
    }
    json!({ "location": "westeurope", "properties": props })
}

async fn poll_location(sim: &Sim, url: &str) -> StatusCode {
    for _ in 0..100 {
        let status = sim.get(url).await.status;
        if status != StatusCode::ACCEPTED {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    StatusCode::ACCEPTED
}

#[tokio::test]
async fn vault_put_registers_dns_then_succeeds_with_the_real_vault_uri() {
    let sim = start().await;
    sim.create_group("kv").await;
    let path = with_version(
        &format!("{}/providers/Microsoft.KeyVault/vaults/Polaris-KV", rg_path("kv")),
        KV,
    );

    let created = sim.put(&path, vault_body(json!({}))).await;
    let read = sim.get(&path).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["properties"]["provisioningState"], "RegisteringDns");
    assert!(created.headers.get("azure-asyncoperation").is_none());
    assert_eq!(read.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(read.body["properties"]["vaultUri"], "https://polaris-kv.vault.azure.net/");
    assert_eq!(read.body["properties"]["enableSoftDelete"], true);
}

#[tokio::test]
async fn purge_protection_cannot_be_set_to_false() {
    let sim = start().await;
    sim.create_group("kv").await;
    let path =
        with_version(&format!("{}/providers/Microsoft.KeyVault/vaults/kv-b01", rg_path("kv")), KV);

    let refused = sim.put(&path, vault_body(json!({ "enablePurgeProtection": false }))).await;

    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("enablePurgeProtection"));
}

#[tokio::test]
async fn deleted_vault_blocks_its_name_until_recovered_with_its_keys() {
    let sim = start().await;
    sim.create_group("kv").await;
    let vault = sim.create_vault("kv", "kv-soft", "premium", json!({})).await;
    sim.put(&with_version(&format!("{vault}/keys/k1"), KV), exportable_key_body()).await;
    let ra = format!(
        "{vault}/providers/Microsoft.Authorization/roleAssignments/{}",
        uuid::Uuid::new_v4()
    );
    sim.put(
        &with_version(&ra, "2022-04-01"),
        json!({ "properties": {
        "roleDefinitionId": common::release_role_id(), "principalId": "p1" } }),
    )
    .await;

    let deleted = sim.delete(&with_version(&vault, KV)).await;
    let listed = sim.get(&deleted_path("kv-soft")).await;
    let conflict = sim.put(&with_version(&vault, KV), vault_body(json!({}))).await;
    let elsewhere = sim
        .put(
            &with_version(
                &format!("{}/providers/Microsoft.KeyVault/vaults/kv-soft", rg_path("other")),
                KV,
            ),
            vault_body(json!({})),
        )
        .await;
    let recovered =
        sim.put(&with_version(&vault, KV), vault_body(json!({ "createMode": "recover" }))).await;
    let key = sim.get(&with_version(&format!("{vault}/keys/k1"), KV)).await;
    let role = sim.get(&with_version(&ra, "2022-04-01")).await;

    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["properties"]["vaultId"], vault);
    assert!(listed.body["properties"]["scheduledPurgeDate"].is_string());
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.body["error"]["code"], "ConflictError");
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND, "group 'other' does not exist");
    assert!(recovered.status.is_success(), "{:?}", recovered.body);
    assert_eq!(key.status, StatusCode::OK);
    assert_eq!(key.body["properties"]["attributes"]["exportable"], true);
    assert_eq!(role.status, StatusCode::NOT_FOUND, "vault deletion removes its role assignments");
    assert!(sim.handle.soft_deleted_vaults().is_empty());
}

#[tokio::test]
async fn vault_names_are_global_across_groups() {
    let sim = start().await;
    sim.create_group("a").await;
    sim.create_group("b").await;
    sim.create_vault("a", "kv-global", "standard", json!({})).await;

    let taken = sim
        .put(
            &with_version(
                &format!("{}/providers/Microsoft.KeyVault/vaults/KV-GLOBAL", rg_path("b")),
                KV,
            ),
            vault_body(json!({})),
        )
        .await;

    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.body["error"]["code"], "VaultAlreadyExists");
}

#[tokio::test]
async fn purge_is_refused_with_purge_protection_and_frees_the_name_without() {
    let sim = start().await;
    sim.create_group("kv").await;
    let protected = sim
        .create_vault("kv", "kv-protected", "premium", json!({ "enablePurgeProtection": true }))
        .await;
    let plain = sim.create_vault("kv", "kv-plain", "premium", json!({})).await;
    sim.delete(&with_version(&protected, KV)).await;
    sim.delete(&with_version(&plain, KV)).await;
    let purge = |name: &str| {
        with_version(
            &format!(
                "/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/westeurope\
                 /deletedVaults/{name}/purge"
            ),
            KV,
        )
    };

    let refused = sim.post(&purge("kv-protected"), None).await;
    let accepted = sim.post(&purge("kv-plain"), None).await;
    let final_status = poll_location(&sim, &accepted.header("location").unwrap()).await;
    let after = sim.get(&deleted_path("kv-plain")).await;
    let reused = sim.put(&with_version(&plain, KV), vault_body(json!({}))).await;

    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.body["error"]["code"], "MethodNotAllowed");
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    assert_eq!(final_status, StatusCode::OK);
    assert_eq!(after.status, StatusCode::NOT_FOUND);
    assert_eq!(reused.status, StatusCode::CREATED);
    let soft = sim.handle.soft_deleted_vaults();
    assert_eq!(soft.len(), 1);
    assert!(soft[0].purge_protection_enabled);
}

#[tokio::test]
async fn seeded_soft_deleted_vault_is_visible_and_conflicts() {
    let sim = start().await;
    sim.create_group("kv").await;
    sim.handle.seed_deleted_vault(DeletedVaultSeed {
        subscription: SUB.into(),
        resource_group: "kv".into(),
        name: "kv-leftover".into(),
        location: "westeurope".into(),
        purge_protection: true,
        tags: json!({ "polaris-deployment": "d1" }),
        premium: true,
    });

    let listed = sim.get(&deleted_path("kv-leftover")).await;
    let conflict = sim
        .put(
            &with_version(
                &format!("{}/providers/Microsoft.KeyVault/vaults/kv-leftover", rg_path("kv")),
                KV,
            ),
            vault_body(json!({})),
        )
        .await;

    assert_eq!(listed.body["properties"]["tags"]["polaris-deployment"], "d1");
    assert_eq!(conflict.body["error"]["code"], "ConflictError");
}

#[tokio::test]
async fn arm_key_rules_follow_secure_key_release() {
    let sim = start().await;
    sim.create_group("kv").await;
    let premium = sim.create_vault("kv", "kv-premium", "premium", json!({})).await;
    let standard = sim.create_vault("kv", "kv-standard", "standard", json!({})).await;
    let key = |vault: &str, name: &str| with_version(&format!("{vault}/keys/{name}"), KV);
    let mut no_policy = exportable_key_body();
    no_policy["properties"].as_object_mut().unwrap().remove("release_policy");
    let mut empty_policy = exportable_key_body();
    empty_policy["properties"]["release_policy"]["data"] = json!("");
    let mut not_exportable = exportable_key_body();
    not_exportable["properties"]["attributes"]["exportable"] = json!(false);

    let missing = sim.put(&key(&premium, "a"), no_policy).await;
    let empty = sim.put(&key(&premium, "b"), empty_policy).await;
    let forbidden_policy = sim.put(&key(&premium, "c"), not_exportable).await;
    let wrong_sku = sim.put(&key(&standard, "d"), exportable_key_body()).await;

    for (resp, code) in [
        (&missing, "AKV.SKR.1004"),
        (&empty, "AKV.SKR.1004"),
        (&forbidden_policy, "AKV.SKR.1005"),
        (&wrong_sku, "AKV.SKR.1001"),
    ] {
        assert_eq!(resp.status, StatusCode::BAD_REQUEST);
        assert_eq!(resp.body["error"]["code"], "BadParameter");
        assert!(
            resp.body["error"]["message"].as_str().unwrap().starts_with(code),
            "{:?}",
            resp.body
        );
    }
}

#[tokio::test]
async fn arm_key_put_is_create_if_not_exist() {
    let sim = start().await;
    sim.create_group("kv").await;
    let vault = sim.create_vault("kv", "kv-keys", "premium", json!({})).await;
    let path = with_version(&format!("{vault}/keys/proxy-key"), KV);

    let first = sim.put(&path, exportable_key_body()).await;
    let second = sim.put(&path, json!({ "properties": { "kty": "EC" } })).await;
    let read = sim.get(&path).await;

    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["type"], "Microsoft.KeyVault/vaults/keys");
    assert_eq!(first.body["properties"]["kty"], "RSA-HSM");
    assert_eq!(first.body["properties"]["release_policy"]["data"], release_policy_b64());
    assert_eq!(
        second.body["properties"]["keyUriWithVersion"],
        first.body["properties"]["keyUriWithVersion"]
    );
    assert_eq!(read.body["properties"]["kty"], "RSA-HSM");
    assert_eq!(
        first.body["properties"]["keyUri"],
        "https://kv-keys.vault.azure.net/keys/proxy-key"
    );
}

#[tokio::test]
async fn data_plane_requires_a_bearer_token_with_a_challenge() {
    let sim = start().await;
    let url = format!("{}/keys/k?api-version=7.5", sim.handle.keyvault_endpoint_for("any"));

    let response = sim.client.get(url).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(challenge.contains(&format!(
        "authorization=\"https://login.microsoftonline.com/{}\"",
        common::TENANT
    )));
    assert!(challenge.contains("resource=\"https://vault.azure.net\""));
}

#[tokio::test]
async fn data_plane_keys_share_the_arm_store_and_version_on_create() {
    let sim = start().await;
    sim.create_group("kv").await;
    let vault = sim.create_vault("kv", "kv-dp", "premium", json!({})).await;
    sim.put(
        &with_version(&format!("{vault}/keys/shared"), KV),
        json!({ "properties": { "kty": "RSA" } }),
    )
    .await;
    let kv = sim.handle.keyvault_endpoint_for("kv-dp");

    let via_dp = sim.get(&format!("{kv}/keys/shared?api-version=7.5")).await;
    let new_version = sim
        .post(
            &format!("{kv}/keys/shared/create?api-version=7.5"),
            Some(json!({ "kty": "RSA", "key_size": 2048 })),
        )
        .await;
    let rotated = sim.post(&format!("{kv}/keys/shared/rotate?api-version=7.5"), None).await;
    let versions = sim.get(&format!("{kv}/keys/shared/versions?api-version=7.5")).await;
    let via_arm = sim.get(&with_version(&format!("{vault}/keys/shared"), KV)).await;

    assert_eq!(via_dp.status, StatusCode::OK);
    assert!(
        via_dp.body["key"]["kid"]
            .as_str()
            .unwrap()
            .starts_with("https://kv-dp.vault.azure.net/keys/shared/")
    );
    assert_eq!(via_dp.body["key"]["e"], "AQAB");
    assert_ne!(new_version.body["key"]["kid"], via_dp.body["key"]["kid"]);
    assert_eq!(versions.body["value"].as_array().unwrap().len(), 3);
    assert_eq!(via_arm.body["properties"]["keyUriWithVersion"], rotated.body["key"]["kid"]);
}

#[tokio::test]
async fn data_plane_release_needs_an_exportable_key_and_api_version_7_3() {
    let sim = start().await;
    sim.create_group("kv").await;
    sim.create_vault("kv", "kv-skr", "premium", json!({})).await;
    let kv = sim.handle.keyvault_endpoint_for("kv-skr");
    let exportable = json!({ "kty": "RSA-HSM", "key_size": 4096,
        "attributes": { "exportable": true },
        "release_policy": { "contentType": "application/json; \
            charset=utf-8", "data": release_policy_b64() } });

    let old_api =
        sim.post(&format!("{kv}/keys/skr/create?api-version=7.2"), Some(exportable.clone())).await;
    let created =
        sim.post(&format!("{kv}/keys/skr/create?api-version=7.5"), Some(exportable)).await;
    let plain = sim
        .post(&format!("{kv}/keys/plain/create?api-version=7.5"), Some(json!({ "kty": "RSA" })))
        .await;
    let released = sim
        .post(
            &format!("{kv}/keys/skr/release?api-version=7.5"),
            Some(json!({ "target": "attestation-jwt" })),
        )
        .await;
    let refused = sim
        .post(
            &format!("{kv}/keys/plain/release?api-version=7.5"),
            Some(json!({ "target": "attestation-jwt" })),
        )
        .await;
    let missing = sim
        .post(
            &format!("{kv}/keys/nope/release?api-version=7.5"),
            Some(json!({ "target": "attestation-jwt" })),
        )
        .await;

    assert_eq!(old_api.status, StatusCode::BAD_REQUEST);
    assert!(old_api.body["error"]["message"].as_str().unwrap().starts_with("AKV.SKR.1001"));
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.body["attributes"]["exportable"], true);
    assert!(created.body["release_policy"]["data"].is_string());
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(released.status, StatusCode::OK);
    assert_eq!(released.body["value"].as_str().unwrap().split('.').count(), 3);
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["code"], "KeyNotFound");
}

#[tokio::test]
async fn data_plane_patch_updates_release_policy_only_on_exportable_keys() {
    let sim = start().await;
    sim.create_group("kv").await;
    sim.create_vault("kv", "kv-patch", "premium", json!({})).await;
    let kv = sim.handle.keyvault_endpoint_for("kv-patch");
    sim.post(&format!("{kv}/keys/plain/create?api-version=7.5"), Some(json!({ "kty": "RSA" })))
        .await;
    let policy = json!({ "release_policy": { "contentType": "application/json; \
        charset=utf-8", "data": release_policy_b64() } });

    let refused = sim
        .send(reqwest::Method::PATCH, &format!("{kv}/keys/plain/?api-version=7.5"), Some(policy))
        .await;
    let disabled = sim
        .send(
            reqwest::Method::PATCH,
            &format!("{kv}/keys/plain?api-version=7.5"),
            Some(json!({ "attributes": { "enabled": false } })),
        )
        .await;

    assert!(refused.body["error"]["message"].as_str().unwrap().starts_with("AKV.SKR.1005"));
    assert_eq!(disabled.status, StatusCode::OK);
    assert_eq!(disabled.body["attributes"]["enabled"], false);
}
