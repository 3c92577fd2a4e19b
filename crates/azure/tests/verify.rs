//! `Verify`: subnets we reference but do not own (B09).

mod support;

use polaris_core::action::{Action, FailureClass, Outcome};
use polaris_core::plan::model::{OutputSelector, VerifyCheck, VerifyResource};
use serde_json::json;
use support::{FakeAzure, Reply, ctx, executor, rid};

const ACI: &str = "Microsoft.ContainerInstance/containerGroups";

fn subnet_id() -> String {
    rid("Microsoft.Network/virtualNetworks/existing/subnets/aci")
}

fn verify(check: VerifyCheck) -> Action {
    Action::Verify {
        resource: VerifyResource {
            id: subnet_id(),
            api_version: "2024-01-01".into(),
            check,
            outputs: vec![OutputSelector { name: "id".into(), pointer: "/id".into() }],
        },
    }
}

fn subnet(delegations: serde_json::Value) -> Reply {
    Reply::json(200, json!({"id": subnet_id(), "properties": {"delegations": delegations}}))
}

fn delegated_to_aci() -> serde_json::Value {
    json!([{"name": "aci", "properties": {"serviceName": ACI}}])
}

#[tokio::test]
async fn delegated_subnet_passes_for_aci_and_fails_for_vms() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    fake.on("GET", &subnet_id(), vec![subnet(delegated_to_aci())]);

    let aci = exec
        .execute(&verify(VerifyCheck::SubnetDelegatedTo { service: ACI.into() }), &ctx("subnet"))
        .await;
    let vm = exec.execute(&verify(VerifyCheck::SubnetUndelegated), &ctx("subnet")).await;

    let Outcome::Done { outputs, .. } = aci else { panic!("{aci:?}") };
    assert_eq!(outputs["id"], subnet_id());
    let Outcome::Failed(failure) = vm else { panic!("{vm:?}") };
    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Permanent, "SubnetDelegated")
    );
}

#[tokio::test]
async fn undelegated_subnet_fails_for_aci() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    fake.on("GET", &subnet_id(), vec![subnet(json!([]))]);

    let outcome = exec
        .execute(&verify(VerifyCheck::SubnetDelegatedTo { service: ACI.into() }), &ctx("subnet"))
        .await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(failure.code, "SubnetMissingRequiredDelegation");
    assert!(failure.message.contains(ACI));
}

#[tokio::test]
async fn missing_subnet_is_reported_as_such() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);

    let outcome = exec.execute(&verify(VerifyCheck::SubnetUndelegated), &ctx("subnet")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Permanent, "SubnetNotFound")
    );
    assert_eq!(fake.count_method("PUT"), 0);
}
