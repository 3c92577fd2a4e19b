//! `EnsureKey` (B03): ARM create-if-not-exist, then read back and compare the release policy.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use polaris_core::action::{Action, FailureClass, Outcome};
use polaris_core::plan::model::{KeyResource, Ownership};
use serde_json::{Value, json};
use support::{FakeAzure, Reply, ctx, executor, owner, resource, rid};

/// The exact UTF-8 the plan holds (compact, as generated).
const POLICY: &str = concat!(
    r#"{"version":"1.0.0","anyOf":[{"authority":"https://sharedweu.weu.attest.azure.net","#,
    r#""allOf":[{"claim":"x-ms-attestation-type","equals":"sevsnpvm"},"#,
    r#"{"claim":"x-ms-sevsnpvm-vmpl","equals":"0"}]}]}"#
);

fn key_id() -> String {
    rid("Microsoft.KeyVault/vaults/kv-a/keys/polaris-key")
}

fn key() -> KeyResource {
    let body = json!({"properties": {"kty": "RSA-HSM", "keySize": 4096,
        "attributes": {"exportable": true},
        "release_policy": {"contentType": "application/json; charset=utf-8",
            "data": STANDARD.encode(POLICY)}}});
    KeyResource {
        arm: resource(
            &key_id(),
            body,
            Ownership::Parent("vault".into()),
            &[("kid", "/properties/keyUri")],
        ),
        name: "polaris-key".to_owned(),
        release_policy_json: POLICY.to_owned(),
    }
}

fn arm_key(exportable: bool, policy_data: &str) -> Value {
    json!({"id": key_id(), "properties": {
        "keyUri": "https://kv-a.vault.azure.net/keys/polaris-key",
        "attributes": {"enabled": true, "exportable": exportable},
        "release_policy": {
            "contentType": "application/json; charset=utf-8",
            "data": policy_data}}})
}

#[tokio::test]
async fn matching_read_back_in_base64url_is_done() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = key_id();
    fake.on("PUT", &id, vec![Reply::json(200, arm_key(true, &STANDARD.encode(POLICY)))]);
    // The service may answer in base64url without padding and with keys reordered.
    let reordered: Value = serde_json::from_str(POLICY).expect("json");
    let data = URL_SAFE_NO_PAD.encode(serde_json::to_vec_pretty(&reordered).expect("bytes"));
    fake.on("GET", &id, vec![Reply::json(200, arm_key(true, &data))]);

    let outcome =
        exec.execute(&Action::EnsureKey { owner: owner(), key: key() }, &ctx("key")).await;

    let Outcome::Done { outputs, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(outputs["kid"], "https://kv-a.vault.azure.net/keys/polaris-key");
    assert_eq!(fake.count("PUT", &id), 1);
    assert_eq!(fake.count("GET", &id), 1);
}

#[tokio::test]
async fn b03_read_back_with_another_policy_fails_the_step() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = key_id();
    // A key left by an earlier run: ARM's PUT returns it unchanged.
    let old = STANDARD
        .encode(r#"{"version":"1.0.0","anyOf":[{"authority":"https://other","allOf":[]}]}"#);
    fake.on("PUT", &id, vec![Reply::json(200, arm_key(true, &old))]);
    fake.on("GET", &id, vec![Reply::json(200, arm_key(true, &old))]);

    let outcome =
        exec.execute(&Action::EnsureKey { owner: owner(), key: key() }, &ctx("key")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Permanent, "ReleasePolicyMismatch")
    );
    assert!(failure.request_id.is_some());
}

#[tokio::test]
async fn b03_non_exportable_key_fails_the_step() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = key_id();
    fake.on("PUT", &id, vec![Reply::json(200, arm_key(false, &STANDARD.encode(POLICY)))]);
    fake.on("GET", &id, vec![Reply::json(200, arm_key(false, &STANDARD.encode(POLICY)))]);

    let outcome =
        exec.execute(&Action::EnsureKey { owner: owner(), key: key() }, &ctx("key")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(failure.code, "ReleasePolicyMismatch");
    assert!(failure.message.contains("exportable"));
}

#[tokio::test]
async fn policy_missing_from_arm_is_read_from_the_data_plane_at_7_4() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = key_id();
    let without_policy = json!({"id": id, "properties": {
        "keyUri": "https://kv-a.vault.azure.net/keys/polaris-key",
        "attributes": {"exportable": true}}});
    fake.on("PUT", &id, vec![Reply::json(200, without_policy.clone())]);
    fake.on("GET", &id, vec![Reply::json(200, without_policy)]);
    let bundle = json!({"key": {"kid": "https://kv-a.vault.azure.net/keys/polaris-key/v1"},
        "attributes": {"enabled": true, "exportable": true},
        "release_policy": {"data": URL_SAFE_NO_PAD.encode(POLICY), "immutable": false}});
    fake.on("GET", "/kv/kv-a/keys/polaris-key", vec![Reply::json(200, bundle)]);

    let outcome =
        exec.execute(&Action::EnsureKey { owner: owner(), key: key() }, &ctx("key")).await;

    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    let data_plane =
        fake.requests().into_iter().find(|r| r.path.starts_with("/kv/")).expect("kv call");
    assert_eq!(data_plane.query, "api-version=7.4");
}
