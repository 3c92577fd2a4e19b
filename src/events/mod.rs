//! Event Grid teardown (`TeardownOnEvent`).
//!
//! Two kinds of event tear a deployment down: our custom event naming a deployment (or a
//! resource group it created), and `Microsoft.Resources.ResourceDeleteSuccess` for a
//! resource this orchestrator created, after which the rest is removed. Ownership is read
//! from saga state (the plan's resource ids), never from the event, so an event naming a
//! resource group we did not create finds no deployment and deletes nothing. Anything else
//! is ignored and recorded. Event Grid delivers at least once, so each event id is recorded
//! in the state store and a second delivery is acknowledged without acting again.

mod owner;
mod record;
mod webhook;

use polaris_core::ids::DeploymentId;
use polaris_core::saga::DeploymentStatus;
use polaris_host::IncomingEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::app::App;
use crate::error::WorkerError;

pub use owner::{find_owner, owned_resource_ids};
pub use record::EventRecords;
pub use webhook::{WEBHOOK_PATH, webhook};

/// Custom event type that asks for a teardown. `data`: `{"deploymentId": "..."}` or
/// `{"resourceGroupId": "/subscriptions/.../resourceGroups/..."}`.
pub const TEARDOWN_REQUESTED: &str = "Polaris.Deployments.TeardownRequested";
/// ARM's system event after a successful delete.
pub const RESOURCE_DELETE_SUCCESS: &str = "Microsoft.Resources.ResourceDeleteSuccess";

/// What was done with one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "disposition", rename_all = "snake_case")]
pub enum EventDisposition {
    /// A teardown (or a cancel of a running deployment) was requested.
    TeardownRequested { deployment_id: String },
    /// The deployment is already being torn down or gone; nothing more to do.
    AlreadyTornDown { deployment_id: String },
    /// This event id was handled before (a duplicate delivery).
    Duplicate { event_id: String },
    /// Not for us; recorded.
    Ignored { reason: String },
    /// A failure redelivery may fix (state store unavailable): the host should fail the
    /// invocation so Event Grid retries.
    Retry { reason: String },
}

impl EventDisposition {
    pub fn is_retry(&self) -> bool {
        matches!(self, Self::Retry { .. })
    }
}

/// Handles one event; idempotent on the event id.
pub async fn handle_event(app: &App, event: &IncomingEvent) -> EventDisposition {
    let span = tracing::info_span!(
        "teardown_event",
        event_id = %event.id,
        event_type = %event.event_type,
        deployment_id = tracing::field::Empty,
        step = "-",
    );
    async move {
        let records = EventRecords::new(app);
        match records.seen(&event.id).await {
            Ok(true) => return EventDisposition::Duplicate { event_id: event.id.clone() },
            Ok(false) => {}
            Err(e) => return EventDisposition::Retry { reason: e.to_string() },
        }

        let disposition = match decide(app, event).await {
            Ok(d) => d,
            Err(e) => return EventDisposition::Retry { reason: e.to_string() },
        };
        if let EventDisposition::Ignored { reason } = &disposition {
            tracing::info!(%reason, "event ignored");
        }
        if let Err(e) = records.remember(event, &disposition).await {
            // The action is idempotent, so a lost record only costs a repeated no-op.
            tracing::warn!(error = %e, "could not record the handled event");
        }
        disposition
    }
    .instrument(span)
    .await
}

/// Handles a delivery's events in order.
pub async fn handle_batch(app: &App, events: &[IncomingEvent]) -> Vec<EventDisposition> {
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        out.push(handle_event(app, event).await);
    }
    out
}

async fn decide(app: &App, event: &IncomingEvent) -> Result<EventDisposition, WorkerError> {
    match event.event_type.as_str() {
        TEARDOWN_REQUESTED => {
            if let Some(id) = text(&event.data, &["deploymentId", "deployment_id"]) {
                let Ok(id) = DeploymentId::new(id) else {
                    return Ok(ignored("the deployment id is malformed"));
                };
                return teardown(app, &id).await;
            }
            match text(&event.data, &["resourceGroupId", "resource_group_id", "resourceId"]) {
                Some(resource) => teardown_owner_of(app, resource, event).await,
                None => Ok(ignored("the teardown event names no deployment or resource group")),
            }
        }
        RESOURCE_DELETE_SUCCESS => {
            let resource = text(&event.data, &["resourceUri"]).or(event.subject.as_deref());
            match resource {
                Some(resource) => teardown_owner_of(app, resource, event).await,
                None => Ok(ignored("the delete event names no resource")),
            }
        }
        other => Ok(ignored(&format!("event type `{other}` is not handled"))),
    }
}

async fn teardown_owner_of(
    app: &App,
    resource: &str,
    event: &IncomingEvent,
) -> Result<EventDisposition, WorkerError> {
    match find_owner(app, resource, event.time).await? {
        Some(id) => teardown(app, &id).await,
        None => Ok(ignored("no deployment of this orchestrator created that resource")),
    }
}

async fn teardown(app: &App, id: &DeploymentId) -> Result<EventDisposition, WorkerError> {
    tracing::Span::current().record("deployment_id", tracing::field::display(id));
    let before = match app.deployments.get(id).await {
        Ok(state) => state,
        Err(WorkerError::UnknownDeployment { .. }) => return Ok(ignored("unknown deployment")),
        Err(e) => return Err(e),
    };
    use DeploymentStatus as S;
    if matches!(before.status, S::TearingDown | S::TornDown | S::Cancelled | S::Compensated) {
        return Ok(EventDisposition::AlreadyTornDown { deployment_id: id.to_string() });
    }
    match app.deployments.teardown(id).await {
        Ok(_) => {
            tracing::info!("teardown requested by event");
            Ok(EventDisposition::TeardownRequested { deployment_id: id.to_string() })
        }
        Err(WorkerError::Saga(e)) => Ok(ignored(&format!("teardown not possible: {e}"))),
        Err(e) => Err(e),
    }
}

fn ignored(reason: &str) -> EventDisposition {
    EventDisposition::Ignored { reason: reason.to_owned() }
}

fn text<'a>(data: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| data.get(*k).and_then(Value::as_str)).filter(|s| !s.is_empty())
}
