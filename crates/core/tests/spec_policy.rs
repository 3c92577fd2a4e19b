//! Release and rotation policies (B03, B04, B05).

mod plan_support;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use plan_support::*;
use polaris_core::spec::policy::{
    ClaimValue, Condition, PolicyError, cce_policy_hostdata, decode_cce_policy,
};
use polaris_core::spec::{Platform, ReleasePolicy, RotationPolicy};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const MAA: &str = "sharedweu.weu.attest.azure.net";

fn claims(policy: &ReleasePolicy) -> Vec<(String, ClaimValue)> {
    policy.any_of[0]
        .all_of
        .iter()
        .map(|c| match c {
            Condition::Claim(c) => (c.claim.clone(), c.equals.clone()),
            other => panic!("unexpected condition {other:?}"),
        })
        .collect()
}

fn text(value: &str) -> ClaimValue {
    ClaimValue::Text(value.into())
}

#[test]
fn aci_policy_pins_snp_compliance_debug_vmpl_and_hostdata_b05() {
    let hostdata = cce_policy_hostdata(ALLOW_ALL_CCE).unwrap();
    let policy = ReleasePolicy::generate(MAA, Platform::ConfidentialAci, Some(&hostdata));
    assert_eq!(policy.version, "1.0.0");
    assert_eq!(policy.any_of[0].authority, "https://sharedweu.weu.attest.azure.net");
    assert_eq!(
        claims(&policy),
        [
            ("x-ms-attestation-type".to_owned(), text("sevsnpvm")),
            ("x-ms-compliance-status".to_owned(), text("azure-compliant-uvm")),
            ("x-ms-sevsnpvm-is-debuggable".to_owned(), ClaimValue::Bool(false)),
            ("x-ms-sevsnpvm-vmpl".to_owned(), ClaimValue::Int(0)),
            ("x-ms-sevsnpvm-hostdata".to_owned(), text(&hostdata)),
        ]
    );
}

#[test]
fn hostdata_is_the_sha256_of_the_decoded_policy() {
    let decoded = STANDARD.decode(ALLOW_ALL_CCE).unwrap();
    assert!(decoded.starts_with(br#"{"allow_all": true"#));
    let expected: String = Sha256::digest(&decoded).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(cce_policy_hostdata(ALLOW_ALL_CCE).unwrap(), expected);
    assert_eq!(expected.len(), 64);
    assert!(expected.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
}

#[test]
fn empty_or_undecodable_cce_policies_are_refused_b08() {
    assert_eq!(decode_cce_policy(""), Err(PolicyError::CcePolicyEmpty));
    assert!(matches!(decode_cce_policy("%%%"), Err(PolicyError::CcePolicyNotBase64(_))));
}

#[test]
fn cvm_policy_nests_claims_and_uses_the_cvm_compliance_value() {
    let policy =
        ReleasePolicy::generate("sharedeus2.eus2.attest.azure.net", Platform::ConfidentialVm, None);
    let names: Vec<String> = claims(&policy).into_iter().map(|(n, _)| n).collect();
    assert!(names.iter().all(|n| n.starts_with("x-ms-isolation-tee.")), "{names:?}");
    assert!(claims(&policy).contains(&(
        "x-ms-isolation-tee.x-ms-compliance-status".to_owned(),
        text("azure-compliant-cvm")
    )));
    assert!(
        claims(&policy)
            .contains(&("x-ms-isolation-tee.x-ms-sevsnpvm-vmpl".to_owned(), ClaimValue::Int(0)))
    );
}

#[test]
fn serialization_is_deterministic_and_carried_as_base64url_without_padding() {
    let a = ReleasePolicy::generate(MAA, Platform::ConfidentialAci, Some("ab"));
    let b = ReleasePolicy::generate(MAA, Platform::ConfidentialAci, Some("ab"));
    assert_eq!(a.to_json(), b.to_json());
    assert!(a.to_json().starts_with(r#"{"version":"1.0.0","anyOf":[{"authority":"https://"#));

    let data = a.to_base64url();
    assert!(!data.contains('=') && !data.contains('+') && !data.contains('/'));
    assert_eq!(URL_SAFE_NO_PAD.decode(&data).unwrap(), a.to_json().into_bytes());
}

#[test]
fn the_release_policy_parser_refuses_a_rotation_policy_b04() {
    let rotation = r#"{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P90D"},
        "action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P1Y"}}"#;
    let err = ReleasePolicy::parse(rotation).unwrap_err();
    assert_eq!(err, PolicyError::RotationPolicyGiven("lifetimeActions"));
    assert!(err.to_string().contains("AKV.SKR.1005"));
}

#[test]
fn the_rotation_policy_parser_refuses_a_release_policy() {
    let release = ReleasePolicy::generate(MAA, Platform::ConfidentialAci, None).to_json();
    assert!(matches!(RotationPolicy::parse(&release), Err(PolicyError::MalformedRotation(_))));
}

#[test]
fn rotation_policy_rotates_then_expires_later() {
    let policy = RotationPolicy::every(90);
    let value = serde_json::to_value(&policy).unwrap();
    assert_eq!(
        value,
        json!({
            "lifetimeActions": [{
                "trigger": { "timeAfterCreate": "P90D" },
                "action": { "type": "rotate" }
            }],
            "attributes": { "expiryTime": "P120D" }
        })
    );
    assert_eq!(RotationPolicy::parse(&value.to_string()).unwrap(), policy);
}

fn user_policy(all_of: Value) -> ReleasePolicy {
    let policy = json!({
        "version": "1.0.0",
        "anyOf": [{ "authority": "https://sharedweu.weu.attest.azure.net", "allOf": all_of }]
    });
    ReleasePolicy::from_value(&policy).unwrap()
}

#[test]
fn a_user_policy_without_vmpl_is_unsafe() {
    let policy = user_policy(json!([
        { "claim": "x-ms-attestation-type", "equals": "sevsnpvm" },
        { "claim": "x-ms-compliance-status", "equals": "azure-compliant-uvm" },
        { "claim": "x-ms-sevsnpvm-hostdata", "equals": "ab" }
    ]));
    let err = policy.check_safe(Platform::ConfidentialAci, None).unwrap_err();
    assert!(err.to_string().contains("x-ms-sevsnpvm-vmpl"), "{err}");
}

#[test]
fn a_user_aci_policy_without_hostdata_is_unsafe() {
    let policy = user_policy(json!([
        { "claim": "x-ms-compliance-status", "equals": "azure-compliant-uvm" },
        { "claim": "x-ms-sevsnpvm-vmpl", "equals": "0" }
    ]));
    let err = policy.check_safe(Platform::ConfidentialAci, None).unwrap_err();
    assert!(err.to_string().contains("x-ms-sevsnpvm-hostdata"), "{err}");
    // The CVM path has no CCE policy, so host data is not required there.
    let cvm = user_policy(json!([
        { "claim": "x-ms-isolation-tee.x-ms-sevsnpvm-vmpl", "equals": 0 }
    ]));
    cvm.check_safe(Platform::ConfidentialVm, None).unwrap();
}

#[test]
fn vmpl_inside_a_nested_any_of_does_not_count() {
    let policy = user_policy(json!([
        { "anyOf": [
            { "claim": "x-ms-sevsnpvm-vmpl", "equals": 0 },
            { "claim": "x-ms-sevsnpvm-vmpl", "equals": 2 }
        ] },
        { "claim": "x-ms-sevsnpvm-hostdata", "equals": "ab" }
    ]));
    assert!(policy.check_safe(Platform::ConfidentialAci, None).is_err());
}

#[test]
fn spec_release_policy_must_match_the_cce_policy_hash() {
    let hostdata = cce_policy_hostdata(ALLOW_ALL_CCE).unwrap();
    let pinned = json!({
        "cce_policy": ALLOW_ALL_CCE,
        "workload_image": format!("myreg.azurecr.io/app@{DIGEST}"),
        "polaris_proxy_image_version": DIGEST,
        "skr_sidecar_image": format!("mcr.microsoft.com/aci/skr:2.7@{DIGEST}")
    });
    let policy = |hostdata: &str| {
        json!({ "version": "1.0.0", "anyOf": [{
            "authority": "https://sharedweu.weu.attest.azure.net",
            "allOf": [
                { "claim": "x-ms-sevsnpvm-vmpl", "equals": 0 },
                { "claim": "x-ms-sevsnpvm-hostdata", "equals": hostdata }
            ]
        }] })
    };

    let mut good = pinned.clone();
    good["release_policy"] = policy(&hostdata);
    parse(&with(good));

    let mut wrong = pinned;
    wrong["release_policy"] = policy(&"0".repeat(64));
    let errors = errors(&with(wrong));
    let text = errors.for_field("release_policy").next().expect("reported").to_string();
    assert!(text.contains("could never be released"), "{text}");
}

#[test]
fn spec_release_policy_refuses_a_rotation_policy_b04() {
    let spec = with(json!({
        "release_policy": { "lifetimeActions": [], "attributes": { "expiryTime": "P1Y" } }
    }));
    let errors = errors(&spec);
    let text = errors.for_field("release_policy").next().expect("reported").to_string();
    assert!(text.contains("rotation policy"), "{text}");
}
