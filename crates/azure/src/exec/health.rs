//! `HealthCheck`: probe the deployed proxy over plain HTTP. Liveness alone is not enough in
//! enhanced mode: the proxy answers 200 while the SKR sidecar cannot release the key, so the
//! key-release path is probed too (field report B30).
//!
//! Anything that can still change (connection refused, timeout, 5xx on liveness, a
//! key-release call still blocking) is `InProgress`: the saga re-polls until its deadline.
//! A key-release answer that is not a public key is `Permanent` with the proxy's error text.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use polaris_core::action::{FailureClass, OperationKind, Outcome, PendingOperation, StepFailure};
use polaris_core::plan::model::HealthCheckSpec;
use serde_json::Value;
use tracing::debug;

use super::{Invocation, done, failure};

/// Longest proxy error text kept in a failure.
const MAX_ERROR_TEXT: usize = 500;

impl Invocation<'_> {
    pub(super) async fn health_check(
        &mut self,
        check: &HealthCheckSpec,
    ) -> Result<Outcome, StepFailure> {
        let health = probe_url(check, &check.health_path)?;
        let key_release = match &check.key_release_path {
            Some(path) => Some(probe_url(check, path)?),
            None => None,
        };
        Ok(self.probe(&health, key_release.as_deref()).await)
    }

    /// One probe of liveness and, when given, key release.
    pub(super) async fn probe(&self, health_url: &str, key_release_url: Option<&str>) -> Outcome {
        let pending = Outcome::InProgress {
            operation: PendingOperation {
                kind: OperationKind::Health,
                url: health_url.to_owned(),
                resource_id: key_release_url.unwrap_or_default().to_owned(),
                api_version: String::new(),
                removing: false,
            },
            retry_after_secs: None,
            request_id: None,
        };
        let config = &self.exec.config;

        let live = self.exec.http.get(health_url).timeout(config.health_timeout).send().await;
        match live {
            Ok(answer) if answer.status().as_u16() == 200 => {}
            Ok(answer) => {
                debug!(status = answer.status().as_u16(), "proxy not live yet");
                return pending;
            }
            Err(e) => {
                debug!(error = %e, "proxy not reachable yet");
                return pending;
            }
        }

        let Some(key_release_url) = key_release_url else {
            return done(BTreeMap::new(), false, None, None);
        };

        let released =
            self.exec.http.get(key_release_url).timeout(config.key_release_timeout).send().await;
        let answer = match released {
            Ok(answer) => answer,
            Err(e) => {
                debug!(error = %e, "key release still pending");
                return pending;
            }
        };

        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap_or_default();
        match public_key(status, &text) {
            Ok(()) => done(BTreeMap::new(), false, None, Some("key released".to_owned())),
            Err(reason) => {
                let message =
                    format!("the proxy could not obtain its key (HTTP {status}): {reason}");
                Outcome::Failed(failure(
                    FailureClass::Permanent,
                    "KeyReleaseFailed",
                    message,
                    None,
                ))
            }
        }
    }
}

/// Ok when the answer is 200 with a non-empty `publicKey`; else the proxy's error text.
fn public_key(status: u16, text: &str) -> Result<(), String> {
    let json: Option<Value> = serde_json::from_str(text).ok();
    let key = json.as_ref().and_then(|j| j.get("publicKey")).and_then(Value::as_str);
    if status == 200 && key.is_some_and(|k| !k.trim().is_empty()) {
        return Ok(());
    }

    let error = json.as_ref().and_then(|j| j.get("error")).map(|e| match e {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let reason = error.unwrap_or_else(|| text.trim().to_owned());
    let reason: String = reason.chars().take(MAX_ERROR_TEXT).collect();
    Err(if reason.is_empty() { "no public key in the answer".to_owned() } else { reason })
}

/// `http://{host}:{port}{path}`, with IPv6 hosts bracketed.
fn probe_url(check: &HealthCheckSpec, path: &str) -> Result<String, StepFailure> {
    let host = check.host.trim();
    if host.is_empty() || host.contains("${") {
        let message = format!("health check host `{host}` is not resolved");
        return Err(failure(FailureClass::Permanent, "InvalidHealthCheck", message, None));
    }

    let host = match host.parse::<Ipv6Addr>() {
        Ok(_) => format!("[{host}]"),
        Err(_) => host.to_owned(),
    };
    let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
    let url = format!("http://{host}:{}{path}", check.port);

    match url::Url::parse(&url) {
        Ok(_) => Ok(url),
        Err(e) => {
            let message = format!("health check URL `{url}` is invalid: {e}");
            Err(failure(FailureClass::Permanent, "InvalidHealthCheck", message, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(host: &str) -> HealthCheckSpec {
        HealthCheckSpec {
            host: host.into(),
            port: 3000,
            health_path: "/polaris-container/health".into(),
            key_release_path: None,
        }
    }

    #[test]
    fn probe_urls_bracket_ipv6_and_refuse_placeholders() {
        let path = "/polaris-container/health";
        assert_eq!(
            probe_url(&spec("10.0.0.4"), path).expect("v4"),
            "http://10.0.0.4:3000/polaris-container/health"
        );
        assert_eq!(
            probe_url(&spec("::1"), path).expect("v6"),
            "http://[::1]:3000/polaris-container/health"
        );
        let err = probe_url(&spec("${container_group.ip}"), path).expect_err("placeholder");
        assert_eq!(err.code, "InvalidHealthCheck");
    }

    #[test]
    fn key_release_answers() {
        assert!(public_key(200, r#"{"publicKey":"-----BEGIN PUBLIC KEY-----"}"#).is_ok());
        let err = public_key(400, r#"{"error":"attestation failed: x509 unknown authority"}"#);
        assert_eq!(err, Err("attestation failed: x509 unknown authority".to_owned()));
        assert_eq!(public_key(200, "{}"), Err("{}".to_owned()));
        assert_eq!(public_key(500, ""), Err("no public key in the answer".to_owned()));
    }
}
