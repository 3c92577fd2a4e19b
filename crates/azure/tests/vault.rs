//! Key Vault lifecycle: soft-deleted name conflicts on create (B01) and purge refused by
//! purge protection on teardown (B27).

mod support;

use polaris_core::action::{Action, FailureClass, OperationKind, Outcome};
use polaris_core::plan::model::{Ownership, VaultResource};
use serde_json::{Value, json};
use support::{FakeAzure, OWNER, Reply, SUB, ctx, executor, our_tags, owner, resource, rid};

const NAME: &str = "kv-a";

fn vault(purge_protection: bool, body: Value) -> VaultResource {
    let id = rid(&format!("Microsoft.KeyVault/vaults/{NAME}"));
    VaultResource {
        arm: resource(&id, body, Ownership::Tag, &[("uri", "/properties/vaultUri")]),
        name: NAME.to_owned(),
        location: "westeurope".to_owned(),
        subscription_id: SUB.to_owned(),
        purge_protection,
    }
}

fn vault_body() -> Value {
    json!({"location": "westeurope", "tags": our_tags(), "properties": {
        "tenantId": "t", "sku": {"family": "A", "name": "premium"},
        "enablePurgeProtection": false, "enableSoftDelete": true}})
}

fn deleted_path() -> String {
    format!("{}/deletedVaults/{NAME}", kv_location())
}

/// `/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/westeurope`.
fn kv_location() -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/westeurope")
}

fn conflict() -> Reply {
    Reply::error(
        409,
        "ConflictError",
        &format!(
            "A vault with the same name already exists in deleted state. You need to either \
             recover or purge existing key vault. Vault name: {NAME}"
        ),
    )
}

fn live_vault(id: &str) -> Value {
    json!({"id": id, "name": NAME, "tags": our_tags(), "properties": {
        "provisioningState": "Succeeded", "vaultUri": format!("https://{NAME}.vault.azure.net/")}})
}

fn no_purge_protection_false(bodies: &[Value]) {
    for body in bodies {
        let flag = body.pointer("/properties/enablePurgeProtection");
        assert_ne!(flag, Some(&Value::Bool(false)), "sent enablePurgeProtection: false: {body}");
    }
}

#[tokio::test]
async fn b01a_our_soft_deleted_vault_is_recovered_with_exactly_one_more_put() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let v = vault(false, vault_body());
    let id = v.arm.id.clone();
    fake.on("PUT", &id, vec![conflict(), Reply::json(200, live_vault(&id))]);
    fake.on(
        "GET",
        &deleted_path(),
        vec![Reply::json(
            200,
            json!({"name": NAME,
        "properties": {"tags": our_tags(), "scheduledPurgeDate": "2027-03-04T00:00:00Z"}}),
        )],
    );

    let outcome =
        exec.execute(&Action::EnsureVault { owner: owner(), vault: v }, &ctx("vault")).await;

    let Outcome::Done { outputs, note, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(outputs["uri"], format!("https://{NAME}.vault.azure.net/"));
    assert!(note.expect("note").contains("recovered"));
    let puts = fake.bodies("PUT", &id);
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[0].pointer("/properties/createMode"), None);
    assert_eq!(puts[1]["properties"]["createMode"], "recover");
    no_purge_protection_false(&puts);
}

#[tokio::test]
async fn b01b_name_held_elsewhere_fails_for_good_without_further_puts() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let v = vault(false, vault_body());
    let id = v.arm.id.clone();
    fake.on("PUT", &id, vec![conflict()]);
    // deletedVaults GET is unscripted: 404.

    let outcome =
        exec.execute(&Action::EnsureVault { owner: owner(), vault: v }, &ctx("vault")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Permanent, "VaultNameUnavailable")
    );
    assert_eq!(fake.count("PUT", &id), 1);
    assert_eq!(fake.count("GET", &deleted_path()), 1);
}

#[tokio::test]
async fn b01_soft_deleted_vault_of_another_owner_is_not_recovered() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let v = vault(false, vault_body());
    let id = v.arm.id.clone();
    fake.on("PUT", &id, vec![conflict()]);
    let theirs = json!({"properties": {"tags": {"polaris-deployment": "other-dep"}}});
    fake.on("GET", &deleted_path(), vec![Reply::json(200, theirs)]);

    let outcome =
        exec.execute(&Action::EnsureVault { owner: owner(), vault: v }, &ctx("vault")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(failure.code, "VaultNameUnavailable");
    assert_eq!(fake.count("PUT", &id), 1);
}

#[tokio::test]
async fn b01c_purge_protection_false_is_never_sent() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let v = vault(false, vault_body());
    let id = v.arm.id.clone();
    fake.on("PUT", &id, vec![Reply::json(200, live_vault(&id))]);

    let outcome =
        exec.execute(&Action::EnsureVault { owner: owner(), vault: v }, &ctx("vault")).await;

    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    let puts = fake.bodies("PUT", &id);
    assert_eq!(puts.len(), 1);
    no_purge_protection_false(&puts);
    assert_eq!(puts[0]["properties"]["sku"]["name"], "premium");
}

#[tokio::test]
async fn b27_purge_refused_by_purge_protection_ends_teardown_with_the_retention_date() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    // The plan says purge protection is off, so the purge is tried and refused.
    let v = vault(false, vault_body());
    let id = v.arm.id.clone();
    fake.on("GET", &id, vec![Reply::json(200, live_vault(&id))]);
    fake.on("DELETE", &id, vec![Reply::empty(200)]);
    let purge = format!("{}/purge", deleted_path());
    fake.on(
        "POST",
        &purge,
        vec![Reply::error(
            405,
            "MethodNotAllowed",
            "Operation 'DeletedVaultPurge' is not allowed.",
        )],
    );
    fake.on(
        "GET",
        &deleted_path(),
        vec![Reply::json(
            200,
            json!({"properties": {
        "tags": our_tags(), "scheduledPurgeDate": "2027-03-04T00:00:00Z",
        "purgeProtectionEnabled": true}}),
        )],
    );

    let outcome =
        exec.execute(&Action::DeleteVault { owner: owner(), vault: v }, &ctx("vault")).await;

    let Outcome::Done { outputs, note, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(outputs["retained_until"], "2027-03-04T00:00:00Z");
    assert_eq!(
        note.as_deref(),
        Some("soft-deleted; purge protection keeps it until 2027-03-04T00:00:00Z")
    );
    assert_eq!(fake.count("DELETE", &id), 1);
    assert_eq!(fake.count("POST", &purge), 1, "the purge is not retried");
}

#[tokio::test]
async fn purge_protected_vault_is_not_even_asked_to_purge() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let v = vault(true, vault_body());
    let id = v.arm.id.clone();
    fake.on("GET", &id, vec![Reply::json(200, live_vault(&id))]);
    fake.on("DELETE", &id, vec![Reply::empty(200)]);

    let outcome =
        exec.execute(&Action::DeleteVault { owner: owner(), vault: v }, &ctx("vault")).await;

    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(fake.count_method("POST"), 0);
}

#[tokio::test]
async fn vault_delete_then_purge_is_followed_to_completion() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let v = vault(false, vault_body());
    let id = v.arm.id.clone();
    let purge = format!("{}/purge", deleted_path());
    let result = format!("{}/operationResults/p1", kv_location());
    fake.on("GET", &id, vec![Reply::json(200, live_vault(&id))]);
    fake.on("DELETE", &id, vec![Reply::empty(200)]);
    fake.on("POST", &purge, vec![Reply::empty(202).header("Location", &fake.url(&result))]);
    fake.on("GET", &result, vec![Reply::empty(202), Reply::empty(200)]);

    let started = exec
        .execute(&Action::DeleteVault { owner: owner(), vault: v.clone() }, &ctx("vault"))
        .await;
    let Outcome::InProgress { operation, .. } = started else { panic!("{started:?}") };
    assert_eq!(operation.kind, OperationKind::Location);
    assert!(operation.removing);

    let poll = Action::Poll { operation, outputs: vec![] };
    assert!(matches!(exec.execute(&poll, &ctx("vault")).await, Outcome::InProgress { .. }));
    assert!(matches!(exec.execute(&poll, &ctx("vault")).await, Outcome::Done { .. }));
}

#[tokio::test]
async fn vault_already_gone_and_not_soft_deleted_is_done() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);

    let outcome = exec
        .execute(
            &Action::DeleteVault { owner: owner(), vault: vault(false, vault_body()) },
            &ctx("vault"),
        )
        .await;

    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(fake.count_method("DELETE") + fake.count_method("POST"), 0);
}

#[tokio::test]
async fn someone_elses_vault_is_not_deleted() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let v = vault(false, vault_body());
    let id = v.arm.id.clone();
    fake.on(
        "GET",
        &id,
        vec![Reply::json(200, json!({"id": id, "tags": {"polaris-deployment": "x"}}))],
    );

    let outcome =
        exec.execute(&Action::DeleteVault { owner: owner(), vault: v }, &ctx("vault")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(failure.code, "NotOwned");
    assert!(failure.message.contains(OWNER));
    assert_eq!(fake.count_method("DELETE") + fake.count_method("POST"), 0);
}
