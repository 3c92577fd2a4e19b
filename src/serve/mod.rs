//! `polaris serve`: the Azure Functions custom handler.
//!
//! The Functions host starts the binary, polls `GET /` until anything answers, then POSTs one
//! envelope per invocation to `/{FunctionName}` and forwards the HTTP API with its original
//! `/api/...` path. The server binds its port before anything else and builds the Azure
//! clients on the first invocation, so the host sees it ready at once (B20).
//!
//! Every answer is a JSON object: an empty body can leave an invocation hanging until the
//! function timeout.

mod context;
mod dead_letter;
mod enqueue;
mod problem;
mod routes;
mod saga_worker;
mod server;
mod timers;

pub use context::{ApiFilter, AppFactory, ServeContext, Warmup};
pub use dead_letter::{DEAD_LETTER_PREFIX, DeadLetterRecord};
pub use enqueue::{EnqueueError, deploy_message, enqueue_spec, run_enqueue};
pub use routes::routes;
pub use saga_worker::SAGA_WORKER_BINDING;
pub use server::{ServeError, bind_loopback, run_serve, serve_on};
