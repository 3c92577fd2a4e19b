//! The Azure Functions custom-handler protocol, as pure parsing and formatting.
//!
//! The Functions host starts our binary and calls it over loopback HTTP: `POST /{Function}`
//! with a `{"Data":{...},"Metadata":{...}}` envelope for Service Bus, timer and Event Grid
//! triggers, and the original request for the forwarded HTTP API. This crate turns those
//! envelopes into typed triggers and builds the response envelope; the warp routes that
//! receive the requests live in the `polaris` crate. Nothing here performs I/O.
//!
//! The host encodes most values twice (a JSON string holding JSON), timestamps come in
//! several shapes, and metadata can be missing, so every parser here is lenient about
//! metadata and strict only about the message body. See `functions/README.md` for the app
//! layout and `shared/reference/functions-protocol.md` for the contract.
//!
//! ```
//! use polaris_host::{BodyPayload, HostError, InvocationRequest, InvocationResponse};
//! use polaris_host::ServiceBusTrigger;
//!
//! // What the host POSTs to /SagaWorker: the body is JSON-encoded twice.
//! let body = serde_json::json!({
//!     "Data": {"message": "\"{\\\"step\\\":1}\""},
//!     "Metadata": {"MessageId": "\"m-1\"", "DeliveryCount": "2"}
//! });
//!
//! let request = InvocationRequest::from_slice(body.to_string().as_bytes())?;
//! let message = ServiceBusTrigger::from_invocation(&request, "message")?;
//! assert_eq!(message.body, BodyPayload::Json(serde_json::json!({"step": 1})));
//! assert_eq!(message.message_id.as_deref(), Some("m-1"));
//! assert_eq!(message.delivery_count, 2);
//!
//! // Answer 200 with this body and `Content-Type: application/json`.
//! let reply = InvocationResponse::new().with_log("step 1 done").to_json();
//! assert!(reply.starts_with("{\"Outputs\":{}"));
//! # Ok::<(), HostError>(())
//! ```

mod app;
mod decode;
mod envelope;
mod error;
mod eventgrid;
mod http;
mod response;
mod servicebus;
mod timer;
mod timestamp;
mod webhook;

pub use app::{FUNCTION_NAMES, FUNCTIONS, FunctionDef, TriggerKind};
pub use decode::{decode_layers, metadata_text};
pub use envelope::{InvocationRequest, RetryContext};
pub use error::HostError;
pub use eventgrid::{EventGridTrigger, EventSchema, IncomingEvent};
pub use http::HttpRequestData;
pub use response::{HttpOutput, InvocationResponse, RESPONSE_CONTENT_TYPE};
pub use servicebus::{BodyPayload, ServiceBusTrigger};
pub use timer::{ScheduleStatus, TimerTrigger};
pub use timestamp::parse_timestamp;
pub use webhook::{
    AbuseProtectionGrant, DEFAULT_ALLOWED_ORIGINS, SUBSCRIPTION_VALIDATION_EVENT,
    abuse_protection_response, validation_response,
};
