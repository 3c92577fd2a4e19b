//! `polaris enqueue <spec>`: validate a spec and send a `deploy` work message straight to
//! the queue, for pipelines that do not go through the HTTP API.
//!
//! The message id is derived from the redacted spec and the idempotency key, so a client
//! that re-sends the same request inside the broker's duplicate-detection window is
//! absorbed (B18). The same value becomes the message's idempotency key when the caller
//! gives none, so a redelivered deploy message finds the deployment its first delivery
//! created instead of starting a second one.

use std::path::Path;
use std::process::ExitCode;

use polaris_core::ports::{MessageSender, OutboundMessage, SendError};
use polaris_core::saga::{WORK_SCHEMA, WorkMessage};
use polaris_core::spec::{SpecErrors, parse_spec_value};
use sha2::{Digest, Sha256};

use crate::settings::{SenderSettings, build_sender};

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("the spec is invalid:\n{0}")]
    InvalidSpec(SpecErrors),
    #[error("the idempotency key must not be empty")]
    EmptyKey,
    #[error("cannot send to the queue: {0}")]
    Send(#[from] SendError),
}

/// The `deploy` message for `spec`. The body carries the spec as given, secrets included:
/// the handler moves them into the secret store on arrival and never logs the body.
pub fn deploy_message(
    spec: &serde_json::Value,
    idempotency_key: Option<&str>,
) -> Result<OutboundMessage, EnqueueError> {
    if idempotency_key.is_some_and(|k| k.trim().is_empty()) {
        return Err(EnqueueError::EmptyKey);
    }
    let parsed = parse_spec_value(spec).map_err(EnqueueError::InvalidSpec)?;

    // The redacted form, so the id (visible to anyone who can peek the queue) says nothing
    // about secret values.
    let redacted = serde_json::to_value(&parsed).expect("specs serialize");
    let digest = Sha256::digest(format!("{redacted}\n{}", idempotency_key.unwrap_or("")));
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let message_id = format!("deploy:{hex}");

    let key = idempotency_key.map_or_else(|| message_id.clone(), str::to_owned);
    let message = WorkMessage::Deploy {
        schema: WORK_SCHEMA.to_owned(),
        deployment_id: None,
        idempotency_key: Some(key),
        spec: spec.clone(),
    };
    Ok(OutboundMessage {
        message_id,
        body: serde_json::to_vec(&message).expect("work messages serialize"),
        scheduled_enqueue_time: None,
        correlation_id: None,
    })
}

/// Validates and sends; returns the message id.
pub async fn enqueue_spec(
    sender: &dyn MessageSender,
    spec: &serde_json::Value,
    idempotency_key: Option<&str>,
) -> Result<String, EnqueueError> {
    let message = deploy_message(spec, idempotency_key)?;
    let id = message.message_id.clone();
    sender.send(message).await?;
    Ok(id)
}

/// The CLI command.
pub async fn run_enqueue(spec: &Path, idempotency_key: Option<&str>) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(spec)
        .map_err(|e| format!("cannot read spec `{}`: {e}", spec.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("spec `{}` is not valid JSON: {e}", spec.display()))?;
    // Validate before asking for any credential.
    deploy_message(&value, idempotency_key).map_err(|e| e.to_string())?;

    let settings = SenderSettings::from_env().map_err(|e| e.to_string())?;
    let sender = build_sender(&settings).map_err(|e| e.to_string())?;
    let id = enqueue_spec(&sender, &value, idempotency_key).await.map_err(|e| e.to_string())?;
    crate::outln!("{id}");
    Ok(ExitCode::SUCCESS)
}
