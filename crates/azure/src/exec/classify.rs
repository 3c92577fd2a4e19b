//! One place that decides how a failure is handled: retried, compensated, re-observed, or
//! retried later because the region is full.
//!
//! Decisions, in order:
//! 1. No HTTP answer: a connection that never opened or broke is `Transient`; a *write* that
//!    timed out after it was sent is `UnknownOutcome` (the saga observes before acting again).
//! 2. Confidential-container policy failures are `Permanent` whatever the status: retrying
//!    the same spec cannot pass the same policy. `invalid env list: X` becomes
//!    `CcePolicyDenied` naming `X` (B06); `InvalidCcePolicy` stays as is (B08);
//!    `deviceHash not found` becomes `CcePolicyLayerMismatch` (B07).
//! 3. Capacity (`InsufficientCapacity`, VM allocation failures, 409 `ServiceUnavailable`,
//!    "requested resource is not available") is `Capacity` (B11). `SkuNotAvailable` is
//!    **not** capacity: it means the size is not offered to this subscription in this
//!    region, which waiting does not change, so it is `Permanent` (change size or region).
//! 4. Codes that mean "busy, try again": another operation in progress, a subnet still in
//!    use, a principal not yet replicated, a resource group still being deleted.
//! 5. 429, 408 and 5xx are `Transient`; every other status is `Permanent`.
//!
//! The failure keeps Azure's code, except where a detail's code is more specific (an LRO
//! `ResourceDeploymentFailure` wrapping `InsufficientCapacity` reports the latter).

use polaris_core::action::{FailureClass, StepFailure};

use crate::error::{ArmError, ErrorDetail, ErrorParts, TransportFailure};

/// How many error details are appended to the message.
const MAX_DETAILS_IN_MESSAGE: usize = 3;

const CAPACITY_CODES: &[&str] = &[
    "InsufficientCapacity",
    "AllocationFailed",
    "ZonalAllocationFailed",
    "OverconstrainedAllocationRequest",
    "OverconstrainedZonalAllocationRequest",
];

const CAPACITY_TEXT: &[&str] =
    &["requested resource is not available", "insufficient capacity", "insufficientcapacity"];

const BUSY_CODES: &[&str] = &[
    "RetryableErrorDueToAnotherOperation",
    "AnotherOperationInProgress",
    "InUseSubnetCannotBeDeleted",
    "PrincipalNotFound",
    "ResourceGroupBeingDeleted",
];

/// Codes that, reported inside an LRO status body (no HTTP status), mean a server fault.
const SERVER_FAULT_CODES: &[&str] = &[
    "InternalServerError",
    "ServerTimeout",
    "GatewayTimeout",
    "RequestTimeout",
    "TooManyRequests",
];

/// Everything known about one failure, whatever reported it (an HTTP error, an LRO status
/// body, a failed resource).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureFacts {
    /// `None` when the failure was reported inside a 200 body (LRO status, resource state).
    pub status: Option<u16>,
    pub code: String,
    pub message: String,
    pub details: Vec<ErrorDetail>,
    pub transport: Option<TransportFailure>,
    /// The request was a write (PUT/POST/DELETE/PATCH).
    pub write: bool,
    pub retry_after_secs: Option<u64>,
    pub request_id: Option<String>,
}

impl FailureFacts {
    /// Facts from an LRO `error` object or a resource's error field.
    pub fn from_error_object(error: Option<&serde_json::Value>, fallback_code: &str) -> Self {
        let parts = error.map(ErrorParts::of).unwrap_or_default();
        Self {
            code: parts.code.unwrap_or_else(|| fallback_code.to_owned()),
            message: parts.message.unwrap_or_default(),
            details: parts.details,
            ..Self::default()
        }
    }

    /// All codes, the top level first.
    fn codes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.code.as_str()).chain(self.details.iter().map(|d| d.code.as_str()))
    }

    fn has_code(&self, wanted: &[&str]) -> Option<String> {
        self.codes().find(|c| wanted.iter().any(|w| w.eq_ignore_ascii_case(c))).map(str::to_owned)
    }

    fn text(&self) -> String {
        let mut text = format!("{} {}", self.code, self.message);
        for d in &self.details {
            text.push_str(&format!(" {} {}", d.code, d.message));
        }
        text
    }
}

impl From<&ArmError> for FailureFacts {
    fn from(err: &ArmError) -> Self {
        match err {
            ArmError::Throttled(e) | ArmError::Service(e) => Self {
                status: Some(e.status),
                code: e.code.clone(),
                message: e.message.clone(),
                details: e.details.clone(),
                retry_after_secs: e.retry_after_secs,
                request_id: e.request_id.clone(),
                ..Self::default()
            },
            ArmError::Transport { failure, write, .. } => Self {
                code: transport_code(*failure).to_owned(),
                message: error_chain(err),
                transport: Some(*failure),
                write: *write,
                ..Self::default()
            },
            ArmError::Credential(_) => Self {
                code: "CredentialUnavailable".to_owned(),
                message: error_chain(err),
                // A token endpoint that fails now (IMDS busy) usually answers later.
                transport: Some(TransportFailure::Io),
                ..Self::default()
            },
            ArmError::InvalidBody { status, request_id, .. } => Self {
                status: Some(*status),
                code: "InvalidResponseBody".to_owned(),
                message: error_chain(err),
                request_id: request_id.clone(),
                transport: Some(TransportFailure::Other),
                ..Self::default()
            },
            ArmError::ForeignUrl { .. } | ArmError::InvalidUrl { .. } => Self {
                code: "InvalidRequestUrl".to_owned(),
                message: error_chain(err),
                transport: Some(TransportFailure::Other),
                ..Self::default()
            },
        }
    }
}

impl From<ArmError> for StepFailure {
    fn from(err: ArmError) -> Self {
        classify(&FailureFacts::from(&err))
    }
}

fn transport_code(failure: TransportFailure) -> &'static str {
    match failure {
        TransportFailure::Connect => "ConnectionFailed",
        TransportFailure::Timeout => "Timeout",
        TransportFailure::Io => "ConnectionReset",
        TransportFailure::Other => "RequestFailed",
    }
}

/// `error: cause: cause` on one line.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Classifies a failure; see the module docs for the rules.
pub fn classify(facts: &FailureFacts) -> StepFailure {
    let (class, code, message) = decide(facts);
    StepFailure {
        class,
        code,
        message,
        retry_after_secs: facts.retry_after_secs,
        request_id: facts.request_id.clone(),
    }
}

fn decide(facts: &FailureFacts) -> (FailureClass, String, String) {
    use FailureClass::{Capacity, Permanent, Transient, UnknownOutcome};

    let message = message_with_details(facts);

    if let Some(failure) = facts.transport {
        let class = match failure {
            TransportFailure::Connect | TransportFailure::Io => Transient,
            TransportFailure::Timeout if facts.write => UnknownOutcome,
            TransportFailure::Timeout => Transient,
            TransportFailure::Other => Permanent,
        };
        return (class, facts.code.clone(), message);
    }

    if let Some(policy) = cce_policy_failure(facts) {
        return (Permanent, policy.0, policy.1);
    }

    if let Some(code) = facts.has_code(CAPACITY_CODES) {
        return (Capacity, code, message);
    }
    let lower = facts.text().to_lowercase();
    let capacity_409 = facts.status == Some(409) && facts.code == "ServiceUnavailable";
    if capacity_409 || CAPACITY_TEXT.iter().any(|t| lower.contains(t)) {
        return (Capacity, facts.code.clone(), message);
    }

    if let Some(code) = facts.has_code(BUSY_CODES) {
        return (Transient, code, message);
    }

    match facts.status {
        Some(429 | 408) => (Transient, facts.code.clone(), message),
        Some(s) if s >= 500 => (Transient, facts.code.clone(), message),
        Some(_) => (Permanent, facts.code.clone(), message),
        None => match facts.has_code(SERVER_FAULT_CODES) {
            Some(code) => (Transient, code, message),
            None => (Permanent, facts.code.clone(), message),
        },
    }
}

/// The code and message for a confidential-container policy failure, if this is one.
fn cce_policy_failure(facts: &FailureFacts) -> Option<(String, String)> {
    let text = facts.text();
    let lower = text.to_lowercase();

    if let Some(at) = lower.find("invalid env list") {
        let names = env_names(&text[at + "invalid env list".len()..]);
        let message = format!(
            "the confidential computing policy denied environment variable(s) {names}: {}",
            facts.message
        );
        return Some(("CcePolicyDenied".to_owned(), message));
    }

    if facts.has_code(&["InvalidCcePolicy"]).is_some() {
        return Some(("InvalidCcePolicy".to_owned(), message_with_details(facts)));
    }

    if lower.contains("devicehash not found") {
        let message = format!(
            "an image layer is not in the confidential computing policy (deviceHash not \
             found); regenerate the policy from digest-pinned images: {}",
            facts.message
        );
        return Some(("CcePolicyLayerMismatch".to_owned(), message));
    }

    if lower.contains("denied by policy") || lower.contains("policy denied") {
        return Some(("CcePolicyDenied".to_owned(), message_with_details(facts)));
    }
    None
}

/// Variable names after "invalid env list": `: A, B` -> "`A`, `B`".
fn env_names(rest: &str) -> String {
    let rest: String = rest.chars().take(300).collect();
    let names: Vec<String> = rest
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_'))
        .take_while(|t| {
            t.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(|t| format!("`{t}`"))
        .collect();
    if names.is_empty() { "(unnamed)".to_owned() } else { names.join(", ") }
}

fn message_with_details(facts: &FailureFacts) -> String {
    let mut message = facts.message.clone();
    for d in facts.details.iter().take(MAX_DETAILS_IN_MESSAGE) {
        if d.message.is_empty() || message.contains(&d.message) {
            continue;
        }
        message.push_str(&format!(" ({}: {})", d.code, d.message));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureClass::{Capacity, Permanent, Transient, UnknownOutcome};

    fn http(status: u16, code: &str, message: &str) -> FailureFacts {
        FailureFacts {
            status: Some(status),
            code: code.into(),
            message: message.into(),
            ..FailureFacts::default()
        }
    }

    fn lro(code: &str, message: &str) -> FailureFacts {
        FailureFacts { status: None, ..http(0, code, message) }
    }

    fn wire(failure: TransportFailure, write: bool) -> FailureFacts {
        FailureFacts { transport: Some(failure), write, ..http(0, "x", "") }
    }

    #[test]
    fn classification_table() {
        let capacity_msg = "The requested resource is not available in the location 'westeurope' \
                            at this moment. Please retry with a different resource request.";
        let table: Vec<(&str, FailureFacts, FailureClass, &str)> = vec![
            ("429", http(429, "TooManyRequests", ""), Transient, "TooManyRequests"),
            ("408", http(408, "RequestTimeout", ""), Transient, "RequestTimeout"),
            ("500", http(500, "InternalServerError", ""), Transient, "InternalServerError"),
            ("503", http(503, "ServiceUnavailable", "down"), Transient, "ServiceUnavailable"),
            ("connect", wire(TransportFailure::Connect, true), Transient, "x"),
            ("reset", wire(TransportFailure::Io, false), Transient, "x"),
            ("read timeout", wire(TransportFailure::Timeout, false), Transient, "x"),
            ("write timeout", wire(TransportFailure::Timeout, true), UnknownOutcome, "x"),
            (
                "locked by another operation",
                http(429, "RetryableErrorDueToAnotherOperation", "locked"),
                Transient,
                "RetryableErrorDueToAnotherOperation",
            ),
            (
                "another op",
                http(409, "AnotherOperationInProgress", ""),
                Transient,
                "AnotherOperationInProgress",
            ),
            (
                "subnet in use",
                http(400, "InUseSubnetCannotBeDeleted", ""),
                Transient,
                "InUseSubnetCannotBeDeleted",
            ),
            ("B11 LRO", lro("InsufficientCapacity", "no cpu"), Capacity, "InsufficientCapacity"),
            (
                "B11 409",
                http(409, "ServiceUnavailable", capacity_msg),
                Capacity,
                "ServiceUnavailable",
            ),
            ("B11 text", lro("Failed", capacity_msg), Capacity, "Failed"),
            ("VM alloc", lro("AllocationFailed", ""), Capacity, "AllocationFailed"),
            (
                "sku",
                http(409, "SkuNotAvailable", "not for subscription"),
                Permanent,
                "SkuNotAvailable",
            ),
            ("B08", http(400, "InvalidCcePolicy", "empty"), Permanent, "InvalidCcePolicy"),
            (
                "B06",
                lro("ContainerGroupDeploymentFailed", "invalid env list: APP_IDENTITY_ENDPOINT"),
                Permanent,
                "CcePolicyDenied",
            ),
            (
                "B07",
                lro("Failed", "mount denied by policy: deviceHash not found"),
                Permanent,
                "CcePolicyLayerMismatch",
            ),
            ("bad request", http(400, "InvalidParameter", "bad"), Permanent, "InvalidParameter"),
            ("forbidden", http(403, "AuthorizationFailed", ""), Permanent, "AuthorizationFailed"),
            ("lro other", lro("Conflict", "nope"), Permanent, "Conflict"),
            ("lro server fault", lro("InternalServerError", ""), Transient, "InternalServerError"),
        ];

        for (name, facts, class, code) in table {
            let failure = classify(&facts);
            assert_eq!((failure.class, failure.code.as_str()), (class, code), "case {name}");
        }
    }

    #[test]
    fn b06_names_the_denied_variable() {
        let facts = lro("Failed", "policy decision: invalid env list: APP_IDENTITY_ENDPOINT");
        let failure = classify(&facts);
        assert_eq!(failure.code, "CcePolicyDenied");
        assert!(failure.message.contains("`APP_IDENTITY_ENDPOINT`"), "{}", failure.message);
    }

    #[test]
    fn detail_codes_are_seen_through_a_wrapper() {
        let mut facts = lro("ResourceDeploymentFailure", "terminal provisioning state 'Failed'");
        facts.details.push(ErrorDetail {
            code: "InsufficientCapacity".into(),
            message: "not enough cores".into(),
            target: None,
        });
        let failure = classify(&facts);
        assert_eq!((failure.class, failure.code.as_str()), (Capacity, "InsufficientCapacity"));
        assert!(failure.message.contains("not enough cores"));
    }

    #[test]
    fn retry_after_and_request_id_are_kept() {
        let mut facts = http(429, "TooManyRequests", "");
        facts.retry_after_secs = Some(900);
        facts.request_id = Some("req-9".into());
        let failure = classify(&facts);
        assert_eq!(failure.retry_after_secs, Some(900));
        assert_eq!(failure.request_id.as_deref(), Some("req-9"));
    }

    #[test]
    fn lro_error_object_is_read() {
        let error = serde_json::json!({"code": "InsufficientCapacity", "message": "full"});
        let facts = FailureFacts::from_error_object(Some(&error), "Failed");
        assert_eq!(
            (facts.code.as_str(), facts.message.as_str()),
            ("InsufficientCapacity", "full")
        );

        let facts = FailureFacts::from_error_object(None, "Canceled");
        assert_eq!(facts.code, "Canceled");
    }
}
