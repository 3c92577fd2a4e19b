//! The invariant checks themselves catch what they name: a clean run passing proves nothing
//! unless a broken one fails. Each check gets a fabricated violation; the harness gets a
//! run whose canaries really travel to Azure.

use polaris::chaos::Harness;
use polaris::chaos::invariants::{foreign_untouched, no_canary, no_duplicate_create};
use polaris::chaos::specs::spec;
use polaris_sim::{FaultPlan, LatencyProfile, LoggedRequest};
use time::macros::datetime;

fn request(method: &str, path: &str, status: u16) -> LoggedRequest {
    LoggedRequest {
        method: method.into(),
        path: path.into(),
        query: "api-version=2024-03-01".into(),
        body: None,
        status,
        connection_reset: false,
        time: datetime!(2025-01-01 00:00:00 UTC),
    }
}

#[test]
fn a_write_under_a_foreign_resource_is_flagged() {
    let foreign = vec!["/subscriptions/s/resourceGroups/theirs".to_owned()];
    let log = vec![
        request("GET", "/subscriptions/s/resourceGroups/theirs", 200),
        request("PUT", "/subscriptions/s/resourceGroups/ours", 201),
        request("DELETE", "/subscriptions/s/resourcegroups/THEIRS", 202),
    ];
    let mut out = Vec::new();
    foreign_untouched(&log, &foreign, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].invariant, "foreign_untouched");
}

#[test]
fn a_second_create_without_a_delete_is_flagged() {
    let rg = "/subscriptions/s/resourceGroups/ours";
    let vnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/v");
    let mut out = Vec::new();
    let recreated =
        vec![request("PUT", &vnet, 201), request("DELETE", rg, 202), request("PUT", &vnet, 201)];
    no_duplicate_create(&recreated, &mut out);
    assert!(out.is_empty(), "a delete of the group in between makes it a new resource");

    let twice = vec![request("PUT", &vnet, 201), request("PUT", &vnet, 201)];
    no_duplicate_create(&twice, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].invariant, "no_duplicate_create");
}

#[test]
fn a_canary_anywhere_in_the_text_is_flagged() {
    let canaries = vec!["canary-1".to_owned(), "canary-2".to_owned()];
    let mut out = Vec::new();
    no_canary("no_secret_in_logs", "the logs", "password=canary-2 ok", &canaries, &mut out);
    assert_eq!(out.len(), 1);
    assert!(out[0].detail.contains("canary-2"));
}

/// The canaries are live: they reach Azure in the container group PUT (where they belong)
/// while state, logs and answers stay clean.
#[tokio::test]
async fn canaries_reach_azure_and_nowhere_else() {
    let mut h = Harness::start(LatencyProfile::realistic(), FaultPlan::default(), None).await;
    let planned = spec(true, false, true, "live-canary", 4);
    h.submit(&planned).await;
    h.drive().await;

    let log = h.world.sim.request_log();
    let sent = serde_json::to_string(&log).expect("serializes");
    for canary in &planned.canaries {
        assert!(sent.contains(canary.as_str()), "{canary} never reached Azure");
    }
    let violations = h.violations(None).await;
    assert!(violations.is_empty(), "{violations:#?}");
}
