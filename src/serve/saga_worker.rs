//! `POST /SagaWorker`: one Service Bus message, one saga step.
//!
//! Complete answers 2xx (the host completes the message). A message that can never succeed
//! is recorded under `deadletters/` and also answered 2xx, so it is not redelivered for
//! ever. A retryable failure answers 500: the host abandons the message, the broker
//! redelivers it with a higher delivery count and dead-letters it past `MaxDeliveryCount`.

use bytes::Bytes;
use polaris_host::{HostError, InvocationRequest, InvocationResponse, ServiceBusTrigger};
use tracing::{Instrument, field};
use warp::http::StatusCode;

use super::context::ServeContext;
use super::dead_letter::DeadLetterRecord;
use super::problem::{JsonReply, invocation_ok, problem};
use crate::worker::Disposition;

/// The trigger binding's name in `functions/SagaWorker/function.json`.
pub const SAGA_WORKER_BINDING: &str = "message";

/// What the invocation learned about the message before handling it.
struct Delivery {
    body: Vec<u8>,
    message_id: Option<String>,
    delivery_count: u32,
}

pub async fn handle(ctx: &ServeContext, invocation_id: Option<String>, raw: Bytes) -> JsonReply {
    let span = tracing::info_span!(
        "invocation",
        function = "SagaWorker",
        invocation_id = invocation_id.as_deref().unwrap_or("-"),
        message_id = field::Empty,
        deployment_id = field::Empty,
        step = field::Empty,
        delivery_count = field::Empty,
    );
    handle_in_span(ctx, invocation_id, raw).instrument(span).await
}

async fn handle_in_span(
    ctx: &ServeContext,
    invocation_id: Option<String>,
    raw: Bytes,
) -> JsonReply {
    let delivery = match read_delivery(&raw) {
        Ok(delivery) => delivery,
        Err(e) => {
            let reason = match e {
                HostError::UnsupportedEncoding { .. } => "UnsupportedEncoding",
                _ => "MalformedInvocation",
            };
            let record = DeadLetterRecord {
                invocation_id,
                ..DeadLetterRecord::new(reason, &e.to_string(), &raw, now())
            };
            return dead_letter(ctx, record).await;
        }
    };
    record_message_fields(&delivery);

    let app = match ctx.app().await {
        Ok(app) => app,
        Err(why) => {
            tracing::error!(error = %why, "the handler is not ready; abandoning the message");
            return problem(StatusCode::INTERNAL_SERVER_ERROR, "handler not ready", &why);
        }
    };

    let handled = app.handle_message(&delivery.body, delivery.delivery_count);
    let disposition = match tokio::time::timeout(ctx.invocation_budget, handled).await {
        Ok(disposition) => disposition,
        Err(_) => Disposition::Retry {
            reason: format!("the step did not finish within {:?}", ctx.invocation_budget),
        },
    };

    match disposition {
        Disposition::Complete => {
            tracing::info!("message completed");
            invocation_ok(&InvocationResponse::new().with_log("polaris: message completed"))
        }
        Disposition::Retry { reason } => {
            tracing::warn!(%reason, "step failed; the host abandons the message for redelivery");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "step will be retried", &reason)
        }
        Disposition::DeadLetter { reason, description } => {
            let record = DeadLetterRecord {
                message_id: delivery.message_id,
                invocation_id,
                delivery_count: delivery.delivery_count,
                ..DeadLetterRecord::new(&reason, &description, &delivery.body, app_now(&app))
            };
            dead_letter(ctx, record).await
        }
    }
}

/// Unwraps the host's envelope; only the body can make this fail.
fn read_delivery(raw: &[u8]) -> Result<Delivery, HostError> {
    let request = InvocationRequest::from_slice(raw)?;
    let trigger = ServiceBusTrigger::from_invocation(&request, SAGA_WORKER_BINDING)?;
    let body = match &trigger.body {
        polaris_host::BodyPayload::Json(value) => {
            serde_json::to_vec(value).expect("JSON values serialize")
        }
        polaris_host::BodyPayload::Text(text) => text.as_bytes().to_vec(),
    };
    Ok(Delivery { body, message_id: trigger.message_id, delivery_count: trigger.delivery_count })
}

/// Fills the span's message fields from the body, without parsing it as a work message:
/// that decision belongs to the app.
fn record_message_fields(delivery: &Delivery) {
    let span = tracing::Span::current();
    span.record("delivery_count", delivery.delivery_count);
    if let Some(id) = &delivery.message_id {
        span.record("message_id", id.as_str());
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&delivery.body) else { return };
    if let Some(id) = body.get("deployment_id").and_then(|v| v.as_str()) {
        span.record("deployment_id", id);
    }
    let step = body.get("step").and_then(|v| v.as_str()).unwrap_or("-");
    span.record("step", step);
}

/// Records why the message is dropped, then acknowledges it. If the record cannot be
/// written the message is abandoned instead, so it is not lost without a trace: the broker
/// dead-letters it after `MaxDeliveryCount`.
async fn dead_letter(ctx: &ServeContext, record: DeadLetterRecord) -> JsonReply {
    tracing::warn!(
        reason = %record.reason,
        description = %record.description,
        "message can never succeed; acknowledging it and recording why"
    );
    let app = match ctx.app().await {
        Ok(app) => app,
        Err(why) => {
            return problem(StatusCode::INTERNAL_SERVER_ERROR, "handler not ready", &why);
        }
    };

    match record.store(app.worker.store.as_ref()).await {
        Ok(key) => {
            let line = format!("polaris: dead-lettered ({}), recorded at {key}", record.reason);
            invocation_ok(&InvocationResponse::new().with_log(line))
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot record the dead letter; abandoning instead");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "cannot record dead letter", &e.to_string())
        }
    }
}

fn app_now(app: &crate::app::App) -> time::OffsetDateTime {
    app.worker.clock.now()
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
