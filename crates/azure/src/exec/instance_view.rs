//! Container groups that will never start: while an ACI create is still "in progress", its
//! containers' instance views already show image pull failures, crash loops and policy
//! denials. Reading them on every poll turns a 30-minute timeout into a prompt, classified
//! failure (field report B12).

use polaris_core::action::{FailureClass, StepFailure};
use serde_json::Value;

use super::classify::{FailureFacts, classify};

/// Text that means the image cannot be pulled (lower case).
const PULL_FAILURES: &[&str] = &[
    "failed to pull image",
    "errimagepull",
    "imagepullbackoff",
    "inaccessibleimage",
    "pull access denied",
];

/// Whether `resource_id` names an ACI container group.
pub(crate) fn is_container_group(resource_id: &str) -> bool {
    resource_id
        .to_ascii_lowercase()
        .contains("/providers/microsoft.containerinstance/containergroups/")
}

/// A failure the instance views of `group` already prove, if any.
pub(crate) fn failure(group: &Value, max_restarts: u32) -> Option<StepFailure> {
    let containers = group.pointer("/properties/containers").and_then(Value::as_array);

    for container in containers.into_iter().flatten() {
        let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
        let Some(view) = container.pointer("/properties/instanceView") else { continue };
        if let Some(failure) = container_failure(name, view, max_restarts) {
            return Some(failure);
        }
    }

    let group_events = group.pointer("/properties/instanceView/events");
    events_failure("container group", group_events)
}

fn container_failure(name: &str, view: &Value, max_restarts: u32) -> Option<StepFailure> {
    let who = format!("container `{name}`");

    for state in ["currentState", "previousState"] {
        let detail = view.pointer(&format!("/{state}/detailStatus")).and_then(Value::as_str);
        if let Some(detail) = detail.filter(|d| is_pull_failure(d)) {
            return Some(pull_failed(&who, detail));
        }
    }

    if let Some(failure) = events_failure(&who, view.get("events")) {
        return Some(failure);
    }

    let restarts = view.get("restartCount").and_then(Value::as_u64).unwrap_or(0);
    let crash_loop = view
        .pointer("/currentState/detailStatus")
        .and_then(Value::as_str)
        .is_some_and(|d| d.eq_ignore_ascii_case("CrashLoopBackOff"));
    if crash_loop || restarts >= u64::from(max_restarts) {
        let message = format!("{who} restarted {restarts} time(s) before the group was ready");
        return Some(StepFailure::new(FailureClass::Permanent, "ContainerRestartLoop", message));
    }
    None
}

fn events_failure(who: &str, events: Option<&Value>) -> Option<StepFailure> {
    for event in events.and_then(Value::as_array).into_iter().flatten() {
        let text = |f: &str| event.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
        let (name, message) = (text("name"), text("message"));
        let joined = format!("{name} {message}");

        if is_pull_failure(&joined) {
            return Some(pull_failed(who, &joined));
        }

        // A policy denial shows up as an event before the operation fails (B06, B07).
        let facts = FailureFacts { code: name, message, ..FailureFacts::default() };
        let classified = classify(&facts);
        if classified.code.starts_with("CcePolicy") {
            let message = format!("{who}: {}", classified.message);
            return Some(StepFailure { message, ..classified });
        }
    }
    None
}

fn is_pull_failure(text: &str) -> bool {
    let lower = text.to_lowercase();
    PULL_FAILURES.iter().any(|p| lower.contains(p))
}

fn pull_failed(who: &str, evidence: &str) -> StepFailure {
    let message = format!("{who} cannot pull its image: {}", evidence.trim());
    StepFailure::new(FailureClass::Permanent, "ImagePullFailed", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn group(view: Value) -> Value {
        json!({"properties": {"provisioningState": "Pending",
            "containers": [{"name": "proxy", "properties": {"instanceView": view}}]}})
    }

    #[test]
    fn pull_failure_event_fails_fast() {
        let view = json!({"restartCount": 0, "currentState": {"state": "Waiting"},
            "events": [{"name": "Failed", "count": 3, "type": "Warning",
                "message": "Failed to pull image \"ghcr.io/Owner/img:1\": not found"}]});
        let failure = failure(&group(view), 3).expect("pull failure");
        assert_eq!(failure.code, "ImagePullFailed");
        assert!(failure.message.contains("container `proxy`"));
        assert!(failure.message.contains("ghcr.io/Owner/img"));
    }

    #[test]
    fn err_image_pull_state_fails_fast() {
        let view = json!({"currentState": {"state": "Waiting", "detailStatus": "ErrImagePull"}});
        assert_eq!(failure(&group(view), 3).expect("pull").code, "ImagePullFailed");
    }

    #[test]
    fn restarts_at_the_threshold_fail() {
        let view = json!({"restartCount": 3, "currentState": {"state": "Running"}});
        assert_eq!(failure(&group(view), 3).expect("restarts").code, "ContainerRestartLoop");
        let view = json!({"restartCount": 1, "currentState": {"state": "Running"}});
        assert!(failure(&group(view), 3).is_none());
    }

    #[test]
    fn policy_denial_event_fails_fast() {
        let view = json!({"events": [{"name": "Failed",
            "message": "container creation denied: invalid env list: IDENTITY_ENDPOINT"}]});
        let failure = failure(&group(view), 3).expect("denied");
        assert_eq!(failure.code, "CcePolicyDenied");
        assert!(failure.message.contains("`IDENTITY_ENDPOINT`"));
    }

    #[test]
    fn quiet_instance_view_is_no_failure() {
        let view = json!({
            "currentState": {"state": "Waiting", "detailStatus": "ContainerCreating"},
            "events": [{"name": "Pulling", "message": "pulling image \"x\""}]});
        assert!(failure(&group(view), 3).is_none());
        assert!(is_container_group(
            "/subscriptions/s/resourceGroups/r/providers/\
             Microsoft.ContainerInstance/containerGroups/g"
        ));
    }
}
