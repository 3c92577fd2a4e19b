//! Turning app-setting strings into [`Settings`].

use std::time::Duration;

use polaris_azure::CredentialConfig;
use url::Url;

use super::{SenderSettings, Settings, SettingsError};
use crate::sweeper::SweeperConfig;

/// Reads one setting; empty values count as missing.
pub type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// The process environment, where the Functions host puts app settings.
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn get(lookup: &Lookup<'_>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn required(
    lookup: &Lookup<'_>,
    name: &'static str,
    fix: &'static str,
) -> Result<String, SettingsError> {
    get(lookup, name).ok_or(SettingsError::Missing { name, fix })
}

fn https_url(name: &'static str, value: &str, example: &str) -> Result<Url, SettingsError> {
    let invalid = |why: &str| SettingsError::Invalid {
        name,
        value: value.to_owned(),
        fix: format!("{why}; expected an https URL such as {example}"),
    };
    let url = Url::parse(value.trim_end_matches('/')).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "https" {
        return Err(invalid("the scheme must be https (tokens are only sent over TLS)"));
    }
    Ok(url)
}

fn seconds(lookup: &Lookup<'_>, name: &'static str, default: u64) -> Result<u64, SettingsError> {
    match get(lookup, name) {
        None => Ok(default),
        Some(v) => v.parse::<u64>().ok().filter(|s| *s > 0).ok_or(SettingsError::Invalid {
            name,
            value: v,
            fix: "a positive number of seconds".to_owned(),
        }),
    }
}

fn credential(lookup: &Lookup<'_>, default: &str) -> Result<CredentialConfig, SettingsError> {
    let value = get(lookup, "POLARIS_CREDENTIAL").unwrap_or_else(|| default.into());
    match value.as_str() {
        "managed-identity" => {
            Ok(CredentialConfig::ManagedIdentity { client_id: get(lookup, "AZURE_CLIENT_ID") })
        }
        "developer-tools" => Ok(CredentialConfig::DeveloperTools),
        "local" => Ok(CredentialConfig::Local),
        _ => Err(SettingsError::Invalid {
            name: "POLARIS_CREDENTIAL",
            value,
            fix: "one of `managed-identity` (in Azure; with AZURE_CLIENT_ID for a user-assigned \
                  identity), `developer-tools` (az login) or `local` (emulators only)"
                .to_owned(),
        }),
    }
}

/// `POLARIS_EXTRA_CA_PEM` holds PEM text or the path of a PEM file.
fn extra_ca(lookup: &Lookup<'_>) -> Result<Option<String>, SettingsError> {
    let Some(value) = get(lookup, "POLARIS_EXTRA_CA_PEM") else { return Ok(None) };
    if value.starts_with("-----BEGIN") {
        return Ok(Some(value));
    }
    std::fs::read_to_string(&value).map(Some).map_err(|e| SettingsError::Invalid {
        name: "POLARIS_EXTRA_CA_PEM",
        value: value.clone(),
        fix: format!("PEM text or a readable PEM file path ({e})"),
    })
}

fn container(lookup: &Lookup<'_>) -> Result<String, SettingsError> {
    let name = get(lookup, "POLARIS_STATE_CONTAINER").unwrap_or_else(|| "polaris-state".into());
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if (3..=63).contains(&name.len()) && ok_chars && !name.starts_with('-') {
        return Ok(name);
    }
    Err(SettingsError::Invalid {
        name: "POLARIS_STATE_CONTAINER",
        value: name,
        fix: "3-63 lower-case letters, digits and dashes, starting with a letter or digit".into(),
    })
}

/// What `polaris enqueue` needs: the queue only. An operator's shell defaults to the
/// developer-tools credential (`az login`).
pub fn sender_settings(lookup: &Lookup<'_>) -> Result<SenderSettings, SettingsError> {
    let servicebus = required(
        lookup,
        "POLARIS_SERVICEBUS_ENDPOINT",
        "set it to https://<namespace>.servicebus.windows.net",
    )?;
    Ok(SenderSettings {
        endpoint: https_url(
            "POLARIS_SERVICEBUS_ENDPOINT",
            &servicebus,
            "https://<namespace>.servicebus.windows.net",
        )?,
        queue_name: get(lookup, "POLARIS_QUEUE_NAME").unwrap_or_else(|| "deployments".into()),
        credential: credential(lookup, "developer-tools")?,
        extra_ca_pem: extra_ca(lookup)?,
    })
}

pub fn settings(lookup: &Lookup<'_>) -> Result<Settings, SettingsError> {
    let arm = get(lookup, "POLARIS_ARM_ENDPOINT")
        .unwrap_or_else(|| polaris_azure::ARM_PUBLIC_ENDPOINT.to_owned());
    let account = required(
        lookup,
        "POLARIS_STATE_ACCOUNT_URL",
        "set it to the state storage account's blob endpoint, \
         e.g. https://<account>.blob.core.windows.net",
    )?;
    let servicebus = required(
        lookup,
        "POLARIS_SERVICEBUS_ENDPOINT",
        "set it to https://<namespace>.servicebus.windows.net",
    )?;
    let vault = required(
        lookup,
        "POLARIS_SECRETS_VAULT_URL",
        "set it to the orchestrator's own Key Vault, e.g. https://<vault>.vault.azure.net",
    )?;
    let tenant_id = required(
        lookup,
        "POLARIS_TENANT_ID",
        "set it to the Entra tenant id (GUID) the deployed Key Vaults trust",
    )?;
    let lease = seconds(lookup, "POLARIS_SWEEPER_STALL_SECS", 0)?;

    Ok(Settings {
        arm_endpoint: https_url("POLARIS_ARM_ENDPOINT", &arm, "https://management.azure.com")?,
        state_account_url: https_url(
            "POLARIS_STATE_ACCOUNT_URL",
            &account,
            "https://<account>.blob.core.windows.net",
        )?,
        state_container: container(lookup)?,
        servicebus_endpoint: https_url(
            "POLARIS_SERVICEBUS_ENDPOINT",
            &servicebus,
            "https://<namespace>.servicebus.windows.net",
        )?,
        queue_name: get(lookup, "POLARIS_QUEUE_NAME").unwrap_or_else(|| "deployments".into()),
        tenant_id,
        credential: credential(lookup, "managed-identity")?,
        secrets_vault_url: https_url(
            "POLARIS_SECRETS_VAULT_URL",
            &vault,
            "https://<vault>.vault.azure.net",
        )?,
        extra_ca_pem: extra_ca(lookup)?,
        invocation_budget: Duration::from_secs(seconds(lookup, "POLARIS_INVOCATION_SECS", 120)?),
        action_timeout: Duration::from_secs(seconds(lookup, "POLARIS_ACTION_TIMEOUT_SECS", 50)?),
        sweeper: match lease {
            0 => SweeperConfig::default(),
            secs => SweeperConfig { stall_after: Duration::from_secs(secs) },
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("POLARIS_STATE_ACCOUNT_URL", "https://acct.blob.core.windows.net/"),
        ("POLARIS_SERVICEBUS_ENDPOINT", "https://ns.servicebus.windows.net"),
        ("POLARIS_SECRETS_VAULT_URL", "https://kv.vault.azure.net/"),
        ("POLARIS_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
    ];

    #[test]
    fn defaults_are_azure_with_managed_identity() {
        let s = settings(&lookup(BASE)).expect("valid");
        assert_eq!(s.arm_endpoint.as_str(), "https://management.azure.com/");
        assert_eq!(s.state_account_url.as_str(), "https://acct.blob.core.windows.net/");
        assert_eq!(s.queue_name, "deployments");
        assert_eq!(s.credential, CredentialConfig::ManagedIdentity { client_id: None });
    }

    #[test]
    fn missing_setting_is_named_with_its_fix() {
        let err = settings(&lookup(&BASE[1..])).expect_err("missing account");
        let text = err.to_string();
        assert!(text.contains("POLARIS_STATE_ACCOUNT_URL"), "{text}");
        assert!(text.contains("blob.core.windows.net"), "{text}");
    }

    #[test]
    fn http_endpoints_and_unknown_credentials_are_refused() {
        let mut pairs = BASE.to_vec();
        pairs.push(("POLARIS_SERVICEBUS_ENDPOINT", "http://127.0.0.1:1"));
        let err = settings(&lookup(&pairs)).expect_err("http");
        assert!(err.to_string().contains("POLARIS_SERVICEBUS_ENDPOINT"));

        let mut pairs = BASE.to_vec();
        pairs.push(("POLARIS_CREDENTIAL", "magic"));
        let err = settings(&lookup(&pairs)).expect_err("credential");
        assert!(err.to_string().contains("managed-identity"));
    }
}
