//! `Delete`: ownership first, then DELETE and follow it until the resource is gone.

mod support;

use polaris_core::action::{Action, FailureClass, OperationKind, Outcome};
use polaris_core::plan::model::Ownership;
use serde_json::json;
use support::{FakeAzure, Reply, SUB, ctx, executor, our_tags, owner, rid};

fn delete(id: &str, ownership: Ownership) -> Action {
    Action::Delete {
        owner: owner(),
        id: id.to_owned(),
        api_version: "2024-01-01".into(),
        ownership,
    }
}

#[tokio::test]
async fn delete_202_location_is_followed_until_200() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = rid("Microsoft.Network/publicIPAddresses/pip-a");
    let result = format!(
        "/subscriptions/{SUB}/providers/Microsoft.Network/locations/westeurope/operationResults/d1"
    );
    fake.on("GET", &id, vec![Reply::json(200, json!({"id": id, "tags": our_tags()}))]);
    fake.on(
        "DELETE",
        &id,
        vec![Reply::empty(202).header("Location", &fake.url(&result)).header("Retry-After", "10")],
    );
    fake.on("GET", &result, vec![Reply::empty(202), Reply::empty(204)]);

    let started = exec.execute(&delete(&id, Ownership::Tag), &ctx("pip")).await;
    let Outcome::InProgress { operation, retry_after_secs, .. } = started else {
        panic!("{started:?}")
    };
    assert_eq!((operation.kind, operation.removing), (OperationKind::Location, true));
    assert_eq!(retry_after_secs, Some(10));

    let poll = Action::Poll { operation, outputs: vec![] };
    assert!(matches!(exec.execute(&poll, &ctx("pip")).await, Outcome::InProgress { .. }));
    assert!(matches!(exec.execute(&poll, &ctx("pip")).await, Outcome::Done { .. }));
    assert_eq!(fake.count("DELETE", &id), 1);
}

#[tokio::test]
async fn aci_delete_with_lower_case_async_operation_header_is_followed() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = rid("Microsoft.ContainerInstance/containerGroups/cg-a");
    let op = format!("/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/operations/x");
    fake.on("GET", &id, vec![Reply::json(200, json!({"id": id, "tags": our_tags()}))]);
    fake.on("DELETE", &id, vec![Reply::empty(202).header("azure-asyncoperation", &fake.url(&op))]);
    fake.on("GET", &op, vec![Reply::json(200, json!({"status": "Succeeded"}))]);

    let started = exec.execute(&delete(&id, Ownership::Tag), &ctx("cg")).await;
    let Outcome::InProgress { operation, .. } = started else { panic!("{started:?}") };
    assert_eq!(operation.kind, OperationKind::AsyncOperation);

    let done = exec.execute(&Action::Poll { operation, outputs: vec![] }, &ctx("cg")).await;
    assert!(matches!(done, Outcome::Done { .. }), "{done:?}");
}

#[tokio::test]
async fn already_gone_is_done_without_a_delete() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = rid("Microsoft.Network/networkSecurityGroups/nsg-a");

    let outcome = exec.execute(&delete(&id, Ownership::Tag), &ctx("nsg")).await;

    let Outcome::Done { note, request_id, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(note.as_deref(), Some("already gone"));
    assert!(request_id.is_some());
    assert_eq!(fake.count_method("DELETE"), 0);
}

#[tokio::test]
async fn a_resource_without_our_tag_is_never_deleted() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = rid("Microsoft.Network/networkSecurityGroups/nsg-a");
    fake.on("GET", &id, vec![Reply::json(200, json!({"id": id, "tags": {"env": "prod"}}))]);

    let outcome = exec.execute(&delete(&id, Ownership::Tag), &ctx("nsg")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!((failure.class, failure.code.as_str()), (FailureClass::Permanent, "NotOwned"));
    assert_eq!(fake.count_method("DELETE"), 0);
}

#[tokio::test]
async fn child_resources_are_deleted_on_the_parent_s_word() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = rid("Microsoft.Network/virtualNetworks/vnet-a/subnets/aci");
    fake.on("GET", &id, vec![Reply::json(200, json!({"id": id, "properties": {}}))]);
    fake.on("DELETE", &id, vec![Reply::empty(200)]);

    let outcome =
        exec.execute(&delete(&id, Ownership::Parent("vnet".into())), &ctx("subnet")).await;

    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(fake.count("DELETE", &id), 1);
}

#[tokio::test]
async fn subnet_in_use_is_transient() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = rid("Microsoft.Network/virtualNetworks/vnet-a/subnets/aci");
    fake.on("GET", &id, vec![Reply::json(200, json!({"id": id}))]);
    fake.on(
        "DELETE",
        &id,
        vec![Reply::error(
            400,
            "InUseSubnetCannotBeDeleted",
            "Subnet aci is in use by .../serviceAssociationLinks/acisal and cannot be deleted.",
        )],
    );

    let outcome =
        exec.execute(&delete(&id, Ownership::Parent("vnet".into())), &ctx("subnet")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Transient, "InUseSubnetCannotBeDeleted")
    );
    assert_eq!(fake.count("DELETE", &id), 1, "client errors are not retried in process");
}
