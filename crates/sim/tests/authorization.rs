//! Role assignments and managed identities.

mod common;

use common::{SUB, rg_path, start, with_version};
use reqwest::StatusCode;
use serde_json::json;

const RA: &str = "2022-04-01";

fn assignment(scope: &str, name: &str) -> String {
    with_version(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"), RA)
}

fn body(principal: &str) -> serde_json::Value {
    json!({ "properties": {
        "roleDefinitionId": common::release_role_id(),
        "principalId": principal, "principalType": "ServicePrincipal" } })
}

#[tokio::test]
async fn same_triple_under_another_name_is_409_and_same_name_is_idempotent() {
    let sim = start().await;
    sim.create_group("ra").await;
    let scope = rg_path("ra");
    let (first_name, second_name) =
        ("0b6c8a1e-0000-4000-8000-000000000001", "0b6c8a1e-0000-4000-8000-000000000002");

    let created = sim.put(&assignment(&scope, first_name), body("p1")).await;
    let repeated = sim.put(&assignment(&scope, first_name), body("p1")).await;
    let duplicate = sim.put(&assignment(&scope, second_name), body("p1")).await;
    let changed = sim.put(&assignment(&scope, first_name), body("p2")).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["type"], "Microsoft.Authorization/roleAssignments");
    assert_eq!(created.body["properties"]["scope"], scope);
    assert!(created.body.get("tags").is_none());
    assert_eq!(repeated.status, StatusCode::OK);
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.body["error"]["code"], "RoleAssignmentExists");
    assert_eq!(changed.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn scope_must_exist_and_delete_returns_the_assignment_then_204() {
    let sim = start().await;
    let missing_scope = sim.put(&assignment(&rg_path("absent"), "n1"), body("p1")).await;
    sim.create_group("ra").await;
    let subscription =
        sim.put(&assignment(&format!("/subscriptions/{SUB}"), "n2"), body("p1")).await;
    let path = assignment(&rg_path("ra"), "n3");
    sim.put(&path, body("p1")).await;

    let read = sim.get(&path).await;
    let deleted = sim.delete(&path).await;
    let again = sim.delete(&path).await;

    assert_eq!(missing_scope.status, StatusCode::NOT_FOUND);
    assert_eq!(subscription.status, StatusCode::CREATED);
    assert_eq!(read.body["properties"]["principalId"], "p1");
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body["name"], "n3");
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn identities_keep_their_principal_across_updates_and_delete_synchronously() {
    let sim = start().await;
    sim.create_group("ra").await;
    let (id, principal) = sim.create_identity("ra", "uami").await;

    let updated = sim
        .put(
            &with_version(&id, "2023-01-31"),
            json!({ "location": "westeurope", "tags": { "k": "v" } }),
        )
        .await;
    let deleted = sim.delete(&with_version(&id, "2023-01-31")).await;
    let again = sim.delete(&with_version(&id, "2023-01-31")).await;

    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["properties"]["principalId"], principal);
    assert_eq!(updated.body["tags"]["k"], "v");
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn inventory_lists_live_resources_with_tags_and_state() {
    let sim = start().await;
    sim.create_group("inv").await;
    let path = with_version(
        &format!(
            "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/tagged",
            rg_path("inv")
        ),
        "2023-01-31",
    );
    sim.put(&path, json!({ "location": "westeurope", "tags": { "polaris-deployment": "d42" } }))
        .await;

    let inventory = sim.handle.inventory();

    let identity = inventory
        .iter()
        .find(|r| r.resource_type == "Microsoft.ManagedIdentity/userAssignedIdentities")
        .unwrap();
    assert_eq!(identity.tags.get("polaris-deployment").map(String::as_str), Some("d42"));
    let group =
        inventory.iter().find(|r| r.resource_type == "Microsoft.Resources/resourceGroups").unwrap();
    assert_eq!(group.provisioning_state.as_deref(), Some("Succeeded"));
    assert_eq!(inventory.len(), 2);
}
