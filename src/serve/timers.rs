//! The timer and Event Grid functions: `RecoverySweeper`, `RotateKeys` (rotation logic in
//! [`crate::rotation`]) and `TeardownOnEvent` (event logic in [`crate::events`]).

use bytes::Bytes;
use polaris_host::{EventGridTrigger, InvocationRequest, InvocationResponse};
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
                return problem(StatusCode::INTERNAL_SERVER_ERROR, "handler not ready", &why);
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

/// `RotateKeys`: rotates every due key. Any failed deployment fails the run (500) so the
/// function's retry policy runs it again; the slot makes that harmless for the others.
pub async fn rotate_keys(
    ctx: &ServeContext,
    invocation_id: Option<String>,
    raw: Bytes,
) -> JsonReply {
    let span = invocation_span("RotateKeys", invocation_id.as_deref());
    async move {
        if let Err(e) = InvocationRequest::from_slice(&raw) {
            tracing::debug!(error = %e, "timer envelope unreadable; rotating anyway");
        }
        let Some(rotation) = &ctx.rotation else {
            tracing::warn!("RotateKeys invoked, but no rotation clients are configured");
            return not_available("RotateKeys (key rotation is not configured)");
        };
        let app = match ctx.app().await {
            Ok(app) => app,
            Err(why) => {
                return problem(StatusCode::INTERNAL_SERVER_ERROR, "handler not ready", &why);
            }
        };

        let run = crate::rotation::RotationRun::scheduled(app.worker.clock.now());
        let report = crate::rotation::rotate_due(&app, rotation, &run).await;
        let line = format!(
            "polaris: rotation slot {}: {} rotated, {} failed",
            report.slot,
            report.rotated(),
            report.failed()
        );
        tracing::info!(rotated = report.rotated(), failed = report.failed(), "rotation run");
        if report.failed() > 0 {
            return problem(StatusCode::INTERNAL_SERVER_ERROR, "rotation failed", &line);
        }
        let outputs = serde_json::to_value(&report).unwrap_or_default();
        invocation_ok(&InvocationResponse::new().with_log(line).with_output("report", outputs))
    }
    .instrument(span)
    .await
}

/// `TeardownOnEvent`: one Event Grid event per invocation. A retryable failure answers 500
/// so Event Grid redelivers; everything else (ignored, duplicate, unparseable) is 2xx.
pub async fn teardown_on_event(
    ctx: &ServeContext,
    invocation_id: Option<String>,
    raw: Bytes,
) -> JsonReply {
    let span = invocation_span("TeardownOnEvent", invocation_id.as_deref());
    async move {
        let event = InvocationRequest::from_slice(&raw)
            .and_then(|req| EventGridTrigger::from_invocation(&req, EVENT_BINDING));
        let event = match event {
            Ok(trigger) => trigger.event,
            Err(e) => {
                // Redelivery sends the same bytes: acknowledge and say why.
                tracing::warn!(error = %e, "event cannot be read; ignoring it");
                let line = format!("polaris: event ignored ({})", e.label());
                return invocation_ok(&InvocationResponse::new().with_log(line));
            }
        };
        let app = match ctx.app().await {
            Ok(app) => app,
            Err(why) => {
                return problem(StatusCode::INTERNAL_SERVER_ERROR, "handler not ready", &why);
            }
        };

        let disposition = crate::events::handle_event(&app, &event).await;
        if disposition.is_retry() {
            let detail = serde_json::to_string(&disposition).unwrap_or_default();
            return problem(StatusCode::INTERNAL_SERVER_ERROR, "event will be retried", &detail);
        }
        let value = serde_json::to_value(&disposition).unwrap_or_default();
        let line = format!("polaris: event {} handled", event.id);
        invocation_ok(&InvocationResponse::new().with_log(line).with_output("disposition", value))
    }
    .instrument(span)
    .await
}

/// The binding name in `functions/TeardownOnEvent/function.json`.
const EVENT_BINDING: &str = "event";

fn invocation_span(function: &'static str, invocation_id: Option<&str>) -> tracing::Span {
    tracing::info_span!(
        "invocation",
        function,
        invocation_id = invocation_id.unwrap_or("-"),
        deployment_id = "-",
        step = "-",
        delivery_count = 1,
    )
}
