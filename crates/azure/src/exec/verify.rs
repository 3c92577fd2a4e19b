//! `Verify`: check a subnet we reference but do not own before anything is placed in it
//! (field report B09): it must exist, and be delegated (ACI) or not (VM NICs).

use polaris_core::action::{FailureClass, Outcome, StepFailure};
use polaris_core::plan::model::{VerifyCheck, VerifyResource};
use serde_json::Value;

use super::{Invocation, failure};

impl Invocation<'_> {
    pub(super) async fn verify(&mut self, v: &VerifyResource) -> Result<Outcome, StepFailure> {
        let found = match self.arm.get(&v.id, &v.api_version).await {
            Ok(found) => found,
            Err(e) if e.is_not_found() => {
                let message = format!("subnet {} does not exist", v.id);
                let request_id = e.request_id().map(str::to_owned);
                return Err(failure(
                    FailureClass::Permanent,
                    "SubnetNotFound",
                    message,
                    request_id,
                ));
            }
            Err(e) => return Err(e.into()),
        };

        let services = delegations(found.body.as_ref());
        let problem = match &v.check {
            VerifyCheck::SubnetDelegatedTo { service } => {
                let delegated = services.iter().any(|s| s.eq_ignore_ascii_case(service));
                (!delegated).then(|| {
                    let message = format!(
                        "subnet {} must be delegated to {service}; its delegations: {services:?}",
                        v.id
                    );
                    ("SubnetMissingRequiredDelegation", message)
                })
            }
            VerifyCheck::SubnetUndelegated => (!services.is_empty()).then(|| {
                let message = format!(
                    "subnet {} is delegated to {services:?}; it must have no delegation",
                    v.id
                );
                ("SubnetDelegated", message)
            }),
        };

        if let Some((code, message)) = problem {
            return Err(failure(FailureClass::Permanent, code, message, found.request_id));
        }
        self.finish(&v.outputs, &v.id, &v.api_version, found, true, false).await
    }
}

/// `properties.delegations[].properties.serviceName`.
fn delegations(body: Option<&Value>) -> Vec<String> {
    body.and_then(|b| b.pointer("/properties/delegations"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.pointer("/properties/serviceName").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delegations_are_listed() {
        let service = "Microsoft.ContainerInstance/containerGroups";
        let body = json!({"properties": {"delegations": [
            {"name": "d", "properties": {"serviceName": service}}
        ]}});
        assert_eq!(delegations(Some(&body)), vec!["Microsoft.ContainerInstance/containerGroups"]);
        assert!(delegations(Some(&json!({"properties": {}}))).is_empty());
    }
}
