//! `POST /RecoverySweeper`, and the functions whose logic lives elsewhere.

use bytes::Bytes;
use polaris_host::{InvocationRequest, InvocationResponse};
use tracing::Instrument;
use warp::http::StatusCode;

use super::context::ServeContext;
use super::problem::{JsonReply, invocation_ok, not_available, problem};
use crate::sweeper;

/// Runs one sweep. A failure answers 500 so the host logs a failed run; the next timer
/// tick sweeps again, which is harmless because re-kicks are idempotent.
pub async fn recovery_sweeper(
    ctx: &ServeContext,
    invocation_id: Option<String>,
    raw: Bytes,
) -> JsonReply {
    let span = tracing::info_span!(
        "invocation",
        function = "RecoverySweeper",
        invocation_id = invocation_id.as_deref().unwrap_or("-"),
        deployment_id = "-",
        step = "-",
        delivery_count = 1,
    );
    async move {
        // The timer payload carries nothing we need; a malformed one is still a tick.
        if let Err(e) = InvocationRequest::from_slice(&raw) {
            tracing::debug!(error = %e, "timer envelope unreadable; sweeping anyway");
        }
        let app = match ctx.app().await {
            Ok(app) => app,
            Err(why) => {
                return problem(StatusCode::INTERNAL_SERVER_ERROR, "handler not configured", &why);
            }
        };

        match sweeper::sweep(&app.worker, &ctx.sweeper).await {
            Ok(report) => {
                let line = format!(
                    "polaris: swept {} deployment(s), re-kicked {}",
                    report.scanned,
                    report.kicked.len()
                );
                tracing::info!(scanned = report.scanned, kicked = report.kicked.len(), "swept");
                let kicked: Vec<String> = report.kicked.iter().map(|id| id.to_string()).collect();
                let response = InvocationResponse::new()
                    .with_log(line)
                    .with_output("kicked", serde_json::json!(kicked));
                invocation_ok(&response)
            }
            Err(e) => {
                tracing::warn!(error = %e, "sweep failed");
                problem(StatusCode::INTERNAL_SERVER_ERROR, "sweep failed", &e.to_string())
            }
        }
    }
    .instrument(span)
    .await
}

/// Key rotation is implemented by another module that this build does not contain.
pub fn rotate_keys() -> JsonReply {
    tracing::warn!(function = "RotateKeys", "invoked, but key rotation is not in this build");
    not_available("RotateKeys (key rotation)")
}

/// Event-driven teardown is implemented by another module that this build does not contain.
pub fn teardown_on_event() -> JsonReply {
    tracing::warn!(
        function = "TeardownOnEvent",
        "invoked, but event teardown is not in this build"
    );
    not_available("TeardownOnEvent (Event Grid teardown)")
}
