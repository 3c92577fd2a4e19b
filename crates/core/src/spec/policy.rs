//! Key release and key rotation policies, as two types that cannot stand in for each other.
//!
//! A rotation policy passed where the release policy goes is rejected by Key Vault with
//! `AKV.SKR.1005` (field report B04), so the release-policy parser refuses anything that
//! looks like a rotation policy, and the two are separate Rust types.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The only release-policy grammar version Key Vault knows.
pub const RELEASE_POLICY_VERSION: &str = "1.0.0";

/// `contentType` of the key's `release_policy`.
pub const RELEASE_POLICY_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Why a policy cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "this is a key rotation policy (it has `{0}`), not a release policy; Key Vault \
         rejects it with AKV.SKR.1005"
    )]
    RotationPolicyGiven(&'static str),
    #[error("release policy JSON is malformed: {0}")]
    Malformed(String),
    #[error("rotation policy JSON is malformed: {0}")]
    MalformedRotation(String),
    #[error("cce_policy is not valid base64: {0}")]
    CcePolicyNotBase64(String),
    #[error("cce_policy is empty")]
    CcePolicyEmpty,
    #[error("{0}")]
    Unsafe(String),
}

/// A secure key release policy: the key is released to a caller holding an attestation
/// token from one of the authorities whose claims all match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasePolicy {
    pub version: String,
    #[serde(rename = "anyOf")]
    pub any_of: Vec<AuthorityRule>,
}

/// One attestation authority (an MAA endpoint URL) and the claims its token must carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorityRule {
    pub authority: String,
    #[serde(rename = "allOf")]
    pub all_of: Vec<Condition>,
}

/// A claim test, or a nested `anyOf`/`allOf` group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    Claim(ClaimCondition),
    AnyOf(AnyOfCondition),
    AllOf(AllOfCondition),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimCondition {
    pub claim: String,
    /// Only `equals` is guaranteed by the grammar, so it is the only operator we write or
    /// accept.
    pub equals: ClaimValue,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnyOfCondition {
    #[serde(rename = "anyOf")]
    pub any_of: Vec<Condition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllOfCondition {
    #[serde(rename = "allOf")]
    pub all_of: Vec<Condition>,
}

/// A claim value with its JSON type: MAA tokens carry `x-ms-sevsnpvm-vmpl` as a number and
/// `x-ms-sevsnpvm-is-debuggable` as a boolean, and we compare like with like.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClaimValue {
    Bool(bool),
    Int(i64),
    Text(String),
}

/// Which attestation token will ask for the key; the claim names differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Confidential ACI: SEV-SNP claims at the top level, compliance `azure-compliant-uvm`.
    ConfidentialAci,
    /// Confidential VM guest attestation: the same claims nested under `x-ms-isolation-tee`,
    /// compliance `azure-compliant-cvm`.
    ConfidentialVm,
}

impl Platform {
    fn claim(self, name: &str) -> String {
        match self {
            Self::ConfidentialAci => name.to_owned(),
            Self::ConfidentialVm => format!("x-ms-isolation-tee.{name}"),
        }
    }

    fn compliance(self) -> &'static str {
        match self {
            Self::ConfidentialAci => "azure-compliant-uvm",
            Self::ConfidentialVm => "azure-compliant-cvm",
        }
    }
}

const ATTESTATION_TYPE: &str = "x-ms-attestation-type";
const COMPLIANCE_STATUS: &str = "x-ms-compliance-status";
const IS_DEBUGGABLE: &str = "x-ms-sevsnpvm-is-debuggable";
const VMPL: &str = "x-ms-sevsnpvm-vmpl";
const HOSTDATA: &str = "x-ms-sevsnpvm-hostdata";

fn claim(name: String, equals: ClaimValue) -> Condition {
    Condition::Claim(ClaimCondition { claim: name, equals })
}

impl ReleasePolicy {
    /// The policy we generate (field report B05): SEV-SNP, Azure-compliant, not debuggable,
    /// VMPL 0, and, when the container group has a CCE policy, its hash as host data, so
    /// the key is released only to exactly those containers.
    pub fn generate(maa_host: &str, platform: Platform, hostdata: Option<&str>) -> Self {
        let mut all_of = vec![
            claim(platform.claim(ATTESTATION_TYPE), ClaimValue::Text("sevsnpvm".into())),
            claim(
                platform.claim(COMPLIANCE_STATUS),
                ClaimValue::Text(platform.compliance().into()),
            ),
            claim(platform.claim(IS_DEBUGGABLE), ClaimValue::Bool(false)),
            claim(platform.claim(VMPL), ClaimValue::Int(0)),
        ];
        if let Some(hostdata) = hostdata {
            all_of.push(claim(platform.claim(HOSTDATA), ClaimValue::Text(hostdata.to_owned())));
        }

        let authority = AuthorityRule { authority: format!("https://{maa_host}"), all_of };
        Self { version: RELEASE_POLICY_VERSION.to_owned(), any_of: vec![authority] }
    }

    /// Parses a user-supplied release policy, refusing a rotation policy (B04).
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| PolicyError::Malformed(e.to_string()))?;
        Self::from_value(&value)
    }

    pub fn from_value(value: &serde_json::Value) -> Result<Self, PolicyError> {
        if let Some(object) = value.as_object() {
            let rotation_keys = ["lifetimeActions", "attributes"];
            if let Some(marker) = rotation_keys.into_iter().find(|k| object.contains_key(*k)) {
                return Err(PolicyError::RotationPolicyGiven(marker));
            }
        }
        serde_json::from_value(value.clone()).map_err(|e| PolicyError::Malformed(e.to_string()))
    }

    /// The exact bytes sent to Key Vault and kept for the read-back comparison (B03).
    /// Struct field order makes this deterministic.
    pub fn to_json(&self) -> String {
        // Serializing strings, numbers and booleans into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// base64url without padding of [`Self::to_json`], as the key body's `data` carries it.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.to_json().as_bytes())
    }

    /// Checks a user-supplied policy: every authority must pin VMPL 0, and for ACI the host
    /// data claim (the CCE policy hash) must be present and, when we know the CCE policy,
    /// equal to its hash. One authority without these would release the key to any UVM.
    pub fn check_safe(
        &self,
        platform: Platform,
        expected_hostdata: Option<&str>,
    ) -> Result<(), PolicyError> {
        if self.version != RELEASE_POLICY_VERSION {
            let message = format!("version must be `{RELEASE_POLICY_VERSION}`");
            return Err(PolicyError::Unsafe(message));
        }
        if self.any_of.is_empty() {
            return Err(PolicyError::Unsafe("anyOf must list at least one authority".into()));
        }

        for rule in &self.any_of {
            if !rule.authority.starts_with("https://") {
                let message = format!("authority `{}` must be an https:// URL", rule.authority);
                return Err(PolicyError::Unsafe(message));
            }

            let vmpl = rule.top_claim(&platform.claim(VMPL));
            let vmpl_zero = matches!(vmpl, Some(ClaimValue::Int(0)))
                || vmpl == Some(&ClaimValue::Text("0".into()));
            if !vmpl_zero {
                let message = format!(
                    "authority `{}` does not require `{}` equals 0 in its allOf",
                    rule.authority,
                    platform.claim(VMPL)
                );
                return Err(PolicyError::Unsafe(message));
            }

            if platform == Platform::ConfidentialAci {
                rule.check_hostdata(expected_hostdata)?;
            }
        }
        Ok(())
    }
}

impl AuthorityRule {
    /// A claim tested directly in this rule's `allOf`; nested `anyOf` groups do not count,
    /// because another branch could satisfy them.
    fn top_claim(&self, name: &str) -> Option<&ClaimValue> {
        self.all_of.iter().find_map(|c| match c {
            Condition::Claim(c) if c.claim == name => Some(&c.equals),
            _ => None,
        })
    }

    fn check_hostdata(&self, expected: Option<&str>) -> Result<(), PolicyError> {
        let found = match self.top_claim(HOSTDATA) {
            Some(ClaimValue::Text(value)) => value.to_ascii_lowercase(),
            _ => {
                let message = format!(
                    "authority `{}` does not require `{HOSTDATA}` (the CCE policy hash), so any \
                     confidential container group could release the key",
                    self.authority
                );
                return Err(PolicyError::Unsafe(message));
            }
        };
        if let Some(expected) = expected.filter(|e| *e != found) {
            let message = format!(
                "authority `{}` requires host data `{found}` but the cce_policy hashes to \
                 `{expected}`; the key could never be released",
                self.authority
            );
            return Err(PolicyError::Unsafe(message));
        }
        Ok(())
    }
}

/// Lower-case hex SHA-256 of the base64-DECODED CCE policy: the value the host puts into the
/// SEV-SNP `HOST_DATA` field, which MAA reports as `x-ms-sevsnpvm-hostdata`.
pub fn cce_policy_hostdata(cce_policy_base64: &str) -> Result<String, PolicyError> {
    let bytes = decode_cce_policy(cce_policy_base64)?;
    let digest = Sha256::digest(&bytes);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Decodes a CCE policy (standard base64, as `az confcom acipolicygen` prints it) and refuses
/// an empty one (field report B08: ARM answers `InvalidCcePolicy`).
pub fn decode_cce_policy(cce_policy_base64: &str) -> Result<Vec<u8>, PolicyError> {
    let trimmed = cce_policy_base64.trim();
    if trimmed.is_empty() {
        return Err(PolicyError::CcePolicyEmpty);
    }
    let bytes =
        STANDARD.decode(trimmed).map_err(|e| PolicyError::CcePolicyNotBase64(e.to_string()))?;
    if bytes.is_empty() { Err(PolicyError::CcePolicyEmpty) } else { Ok(bytes) }
}

/// A key rotation policy: when to rotate and how long each version lives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationPolicy {
    #[serde(rename = "lifetimeActions")]
    pub lifetime_actions: Vec<LifetimeAction>,
    pub attributes: RotationAttributes,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimeAction {
    pub trigger: RotationTrigger,
    pub action: RotationAction,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationTrigger {
    #[serde(rename = "timeAfterCreate", skip_serializing_if = "Option::is_none", default)]
    pub time_after_create: Option<String>,
    #[serde(rename = "timeBeforeExpiry", skip_serializing_if = "Option::is_none", default)]
    pub time_before_expiry: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationAction {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationAttributes {
    /// ISO 8601 duration each new version lives, e.g. `P120D`.
    #[serde(rename = "expiryTime")]
    pub expiry_time: String,
}

/// Days a key version outlives its scheduled rotation, so a proxy that released the old
/// version keeps a usable key while the new one rolls out.
pub const ROTATION_GRACE_DAYS: u32 = 30;

impl RotationPolicy {
    /// Rotate `days` after creation; versions expire [`ROTATION_GRACE_DAYS`] later.
    pub fn every(days: u32) -> Self {
        let rotate = LifetimeAction {
            trigger: RotationTrigger {
                time_after_create: Some(format!("P{days}D")),
                time_before_expiry: None,
            },
            action: RotationAction { kind: "rotate".into() },
        };
        let expiry = format!("P{}D", days + ROTATION_GRACE_DAYS);
        Self {
            lifetime_actions: vec![rotate],
            attributes: RotationAttributes { expiry_time: expiry },
        }
    }

    /// Parses a rotation policy; a release policy (`anyOf`) is refused by the strict shape.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        serde_json::from_str(json).map_err(|e| PolicyError::MalformedRotation(e.to_string()))
    }
}
